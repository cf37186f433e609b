#!/bin/sh
# Regenerates tests/fixtures/oracle/<case>/{config.json,model.safetensors,ref_float64.safetensors}
# with the real transformers Mistral4 code (../shared/oracles/numerics/run_ref.py, see its README).
# Run from the repository root:
#   NEWT_TRANSFORMERS_MIRROR=/path/to/transformers.git tests/oracle/gen_cases.sh
# (a git dir of transformers holding the commit the oracle pins; --mirror is passed from it).
set -eu
PY=/usr/bin/python3
HERE=tests/oracle
REF=${NEWT_RUN_REF:-../shared/oracles/numerics/run_ref.py}
MIRROR=${NEWT_TRANSFORMERS_MIRROR:?set NEWT_TRANSFORMERS_MIRROR to the transformers git dir}
OUT=tests/fixtures/oracle
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ref() { # case, extra run_ref args...
    c=$1; shift
    rm -rf "$OUT/$c"; mkdir -p "$OUT/$c"
    $PY "$REF" --mirror "$MIRROR" --dtypes float64 --out "$TMP/$c" "$@"
    cp "$TMP/$c/config.json" "$TMP/$c/model.safetensors" "$TMP/$c/ref_float64.safetensors" "$OUT/$c/"
}

ref right_padding --config-json $HERE/small.config.json --inputs-json $HERE/right_padding.inputs.json
ref group_routing --config-json $HERE/group_routing.config.json
ref long_yarn --config-json $HERE/long_yarn.config.json --inputs-json $HERE/long_yarn.inputs.json

# packed: position_ids restart inside a row; run_ref.py does not pass position_ids, make_case.py does
c=packed
rm -rf "$OUT/$c"; mkdir -p "$OUT/$c"
$PY $HERE/make_case.py packed "$REF" --mirror "$MIRROR" --dtypes float64 --out "$TMP/$c" \
    --config-json $HERE/small.config.json --inputs-json $HERE/packed.inputs.json
cp "$TMP/$c/config.json" "$TMP/$c/model.safetensors" "$TMP/$c/ref_float64.safetensors" "$OUT/$c/"
# isolation check: the middle sample of row 0 run alone (positions 0..9, no packing) must give
# the same logits as its slice of the packed row
$PY "$REF" --mirror "$MIRROR" --dtypes float64 --out "$TMP/packed_check" \
    --config-json $HERE/small.config.json --inputs-json $HERE/packed.check.inputs.json
$PY $HERE/make_case.py check_packed "$OUT/packed/ref_float64.safetensors" \
    "$TMP/packed_check/ref_float64.safetensors" 8 18

# stored dtypes: default weights -> BF16 / FP8 checkpoint; the reference runs on what it decodes to
$PY "$REF" --mirror "$MIRROR" --dtypes float64 --out "$TMP/base" --config-json $HERE/small.config.json
for mode in bf16 fp8; do
    c=${mode}_weights
    $PY $HERE/make_case.py store $mode "$TMP/base/model.safetensors" "$TMP/$c.stored.safetensors" \
        "$TMP/$c.f32.safetensors"
    ref $c --config-json $HERE/small.config.json --weights "$TMP/$c.f32.safetensors"
    cp "$TMP/$c.stored.safetensors" "$OUT/$c/model.safetensors"
done
ls -l $OUT/*; du -sh $OUT
