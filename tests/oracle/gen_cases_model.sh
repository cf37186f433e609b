#!/bin/sh
# Extra oracle cases for the model paths the other cases do not reach (same tools and
# conventions as gen_cases.sh; run from the repository root):
#   NEWT_TRANSFORMERS_MIRROR=/path/to/transformers.git tests/oracle/gen_cases_model.sh
# q_proj: q_lora_rank null (q_proj instead of q_a/q_b), 2 shared experts (width 2 x 16), YaRN
#         without mscale/mscale_all_dim (cos/sin scaled by 1 + 0.1 ln 4, softmax scale without mscale²).
set -eu
PY=/usr/bin/python3
REF=${NEWT_RUN_REF:-../shared/oracles/numerics/run_ref.py}
MIRROR=${NEWT_TRANSFORMERS_MIRROR:?set NEWT_TRANSFORMERS_MIRROR to the transformers git dir}
OUT=tests/fixtures/oracle
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
c=q_proj
rm -rf "$OUT/$c"; mkdir -p "$OUT/$c"
$PY "$REF" --mirror "$MIRROR" --dtypes float64 --out "$TMP/$c" --config-json tests/oracle/q_proj.config.json
cp "$TMP/$c/config.json" "$TMP/$c/model.safetensors" "$TMP/$c/ref_float64.safetensors" "$OUT/$c/"
