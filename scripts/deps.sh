#!/usr/bin/env bash
# Makes sure the build and test dependencies (all from Debian's archive) are present.
# As root it installs what is missing; otherwise it prints the exact apt-get line and fails.
set -euo pipefail
pkgs=(gcc make pkg-config libc6-dev libopenblas-openmp-dev libyaml-dev libpcre2-dev
      python3 python3-yaml python3-jinja2)
missing=()
for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || missing+=("$p")
done
# node and npm run the tokenizer tests' npm packages (scripts/npm-deps.sh). Optional: without
# them those tests SKIP. A node from elsewhere (e.g. NodeSource, which bundles npm) counts.
optional=()
command -v node >/dev/null 2>&1 || optional+=(nodejs)
command -v npm >/dev/null 2>&1 || optional+=(npm)
if [ ${#optional[@]} -ne 0 ] && [ "$(id -u)" -eq 0 ]; then
    missing+=("${optional[@]}")
elif [ ${#optional[@]} -ne 0 ]; then
    echo "deps: optional ${optional[*]} missing (tokenizer parity tests will skip); as root:" >&2
    echo "  apt-get install -y --no-install-recommends ${optional[*]}" >&2
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
    echo "deps: missing packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
