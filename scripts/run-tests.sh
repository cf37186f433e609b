#!/usr/bin/env bash
# Runs every unit-test binary of the release and sanitizer builds, then the fuzzers for
# FUZZ_SECONDS each (default 30 in CI, 5 otherwise), and prints the closing line
# "N passed, N failed, N skipped" summed over all of them. Exit status 1 on any failure.
set -u
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:abort_on_error=1}
fuzz_seconds=${FUZZ_SECONDS:-$([ "${CI:-}" = true ] && echo 30 || echo 5)}
# CI replays one fixed seed so that its verdict does not depend on the clock; elsewhere each
# run picks a new one (printed first) and explores new inputs.
if [ "${CI:-}" = true ]; then export FUZZ_SEED=${FUZZ_SEED:-20261128}; fi
passed=0; failed=0; skipped=0
log=$(mktemp)
run_one() { # name, command...
    local name=$1; shift
    if "$@" >"$log" 2>&1; then rc=0; else rc=$?; fi
    line=$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "$name: crashed or printed no summary (exit $rc)"
        if [ "$(wc -l <"$log")" -gt 41 ]; then sed 's/^/  | /' "$log" | head -n 1; echo "  | ..."; fi
        sed 's/^/  | /' "$log" | tail -n 40
        failed=$((failed + 1)); return
    fi
    p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
    s=$(sed -E 's/.* ([0-9]+) skipped$/\1/' <<<"$line")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ "$f" -ne 0 ] || [ "$s" -ne 0 ]; then grep -E '^(  |FAILED|skipped)' "$log" | head -n 60; fi
    echo "[$name] $line"
}
for build in build/release build/asan; do
    [ -d "$build/tests" ] || { echo "missing $build/tests: run make check"; failed=$((failed + 1)); continue; }
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        run_one "${build#build/}" "$t"
    done
done
for f in build/asan/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    run_one fuzz "$f" "$fuzz_seconds"
done
rm -f "$log"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
