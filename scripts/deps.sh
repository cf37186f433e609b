#!/usr/bin/env bash
# Makes sure the build and test dependencies (all from Debian's archive) are present.
# As root it installs what is missing; otherwise it prints the exact apt-get line and fails.
set -euo pipefail
pkgs=(gcc make pkg-config libc6-dev libopenblas-openmp-dev libyaml-dev libpcre2-dev
      python3 python3-yaml python3-jinja2 nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || missing+=("$p")
done
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
