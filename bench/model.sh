#!/usr/bin/env bash
# Fine-tuning step throughput and peak RSS of the benchmark model, newt next to the PyTorch
# baseline (../shared/bench/mini_mistral4.py) measured in the same run:
#   bench/model.sh            RUNS=3 STEPS=3 WARMUP=2 EXTRA=1 by default (environment)
# Runs alternate newt / PyTorch (lora, then full) RUNS times; each run prints the median of
# its STEPS timed steps (after WARMUP); this script prints the median over runs, every run's
# value (the spread is the noise), and the ratio newt / PyTorch. Peak RSS is each process's
# getrusage ru_maxrss (both sides report it themselves). What each side measures:
#   newt   zero gradients + forward (loss) + backward. full: every parameter trainable
#          (all weight gradients). lora: base frozen, r=16 adapters (alpha 32) on the same
#          five MLA projections as the PyTorch side (q_a, q_b, kv_a, kv_b, o; m4_step
#          --lora-r 16): every dX, the adapters' dA/dB, no base weight gradient. No optimizer.
#   torch  forward + zero_grad + backward + optimizer.step(). full: AdamW over all 62.3M
#          parameters. lora: r=16 adapters on q_a, q_b, kv_a, kv_b, o (0.24M trainable,
#          AdamW over those), base frozen. Logits materialized (newt: chunked).
# EXTRA=1 adds one newt lora run (same adapters) per compact base storage (bf16, nf4, nf4 + double quant).
# OMP_WAIT_POLICY defaults to passive for BOTH sides (see docs/model.md "Throughput").
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3} STEPS=${STEPS:-3} WARMUP=${WARMUP:-2} EXTRA=${EXTRA:-1}
LORA_R=16 # the PyTorch baseline's rank
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
PY=/usr/bin/python3
BASELINE=../shared/bench/mini_mistral4.py
MODEL=build/bench-model
STEP=build/release/bench/m4_step

make -j2 all bench >/dev/null
[ -f "$MODEL/model.safetensors" ] || build/release/newt init-model --preset bench --out "$MODEL" >/dev/null
torch=1
if [ ! -f "$BASELINE" ]; then
    echo "note: $BASELINE is absent (no ../shared): newt's figures only"; torch=0
elif ! LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp "$PY" -c 'import torch' 2>/dev/null; then
    echo "note: $PY cannot import torch (apt-get install python3-torch): newt's figures only"; torch=0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

field() { sed -nE "s|.* $1=([0-9.]+).*|\1|p" | tail -n 1; } # value of key=NUMBER on the result line
record() { # side mode line
    local line=$3
    echo "  [$1 $2] $line"
    field tokens/s <<<"$line" >>"$tmp/$1.$2.tps"
    field maxrss <<<"$line" >>"$tmp/$1.$2.rss"
}
run_newt() { # mode [storage]
    local out
    local lora=()
    [ "$1" != lora ] || lora=(--lora-r "$LORA_R")
    out=$("$STEP" "$MODEL" --mode "$1" --storage "${2:-f32}" "${lora[@]}" --steps "$STEPS" --warmup "$WARMUP")
    record newt "$1${2:+-$2}" "$(grep '^newt ' <<<"$out")"
    [ -z "${2:-}" ] || echo "    $(grep '^params:' <<<"$out")"
}
run_torch() { # mode
    local out
    out=$(LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp "$PY" "$BASELINE" --mode "$1" \
          --steps "$STEPS" --warmup "$WARMUP")
    record torch "$1" "$(grep '^mode=' <<<"$out")"
}
median() { sort -g "$1" | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
runs() { paste -sd' ' "$1"; }

echo "OMP_WAIT_POLICY=$OMP_WAIT_POLICY, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$RUNS"); do
    echo "round $r/$RUNS"
    for mode in lora full; do
        run_newt "$mode"
        [ "$torch" = 0 ] || run_torch "$mode"
    done
done
if [ "$EXTRA" = 1 ]; then
    echo "compact base storage (newt lora, one run each)"
    for s in bf16 nf4 nf4dq; do run_newt lora "$s"; done
fi

echo
printf '%-12s %22s %22s %7s %11s %11s\n' mode "newt tokens/s" "PyTorch tokens/s" ratio "newt RSS" "torch RSS"
for mode in lora full; do
    nt=$(median "$tmp/newt.$mode.tps") nr=$(median "$tmp/newt.$mode.rss")
    if [ "$torch" = 1 ]; then
        pt=$(median "$tmp/torch.$mode.tps") pr=$(median "$tmp/torch.$mode.rss")
        ratio=$(awk -v a="$nt" -v b="$pt" 'BEGIN {printf "%.2f", a / b}')
    else
        pt=- pr=- ratio=-
    fi
    printf '%-12s %22s %22s %7s %7s MiB %7s MiB\n' "$mode" "$nt" "$pt" "$ratio" "$nr" "$pr"
    printf '%-12s %22s %22s\n' "  runs" "$(runs "$tmp/newt.$mode.tps")" "$( [ "$torch" = 1 ] && runs "$tmp/torch.$mode.tps" || echo -)"
done
if [ "$EXTRA" = 1 ]; then
    for s in bf16 nf4 nf4dq; do
        printf '%-12s %22s %22s %7s %7s MiB\n' "lora-$s" "$(median "$tmp/newt.lora-$s.tps")" - - "$(median "$tmp/newt.lora-$s.rss")"
    done
fi
echo "(medians over runs of per-run step medians; T=512, batch 1; see the header of bench/model.sh for what each side measures)"
