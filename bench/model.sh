#!/usr/bin/env bash
# Kept for old habits: the newt / PyTorch training-step comparison of the benchmark model in
# lora and full modes is now bench/train (which also runs the optimizer step on newt's side,
# QLoRA, sequence sweeps and the loss-memory check; see bench/README.md). This runs
#   RUNS=${RUNS:-3} STEPS=${STEPS:-3} bench/train --modes lora,full [more bench/train options]
# Unlike the former model.sh it no longer forces OMP_WAIT_POLICY=passive: set it yourself.
set -euo pipefail
RUNS=${RUNS:-3} STEPS=${STEPS:-3} exec "$(dirname "$0")/train" --modes lora,full "$@"
