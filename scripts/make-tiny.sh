#!/bin/sh
# Makes the tiny demo model folder (default build/tiny-model) with newt alone, no download:
# a byte-level Tekken tokenizer (256 single bytes + 38 Tekken specials: ids < 294) and a
# randomly initialized Mistral 4 text model from the `tiny` preset (vocab 512 covers the
# tokenizer's ids; the rows above 293 are never used), plus the demo's chat template.
set -eu
NEWT=${NEWT:-build/release/newt}
OUT=${1:-build/tiny-model}
"$NEWT" init-model --preset tiny --out "$OUT" --seed 0
"$NEWT" tokenizer-convert --byte-level --num-special 38 --out "$OUT"
cp examples/tiny/chat_template.jinja "$OUT/chat_template.jinja"
echo "tiny model and tokenizer in $OUT"
