#!/usr/bin/env bash
# Runs one test file (or a test name in it) N times in a row, optionally beside a CPU hog on every core,
# and prints how many runs passed. The reliability tests' large counts, and the check that a test is not
# flaky under load.
#
#   bash bench/reliability/repeat.sh 30 test/reliability/kill-runner.test.ts
#   bash bench/reliability/repeat.sh 30 test/local-run.test.ts -t Ctrl-C --hog
set -uo pipefail
cd "$(dirname "$0")/../.."
runs=${1:?usage: repeat.sh RUNS FILE [vitest args] [--hog]}
shift
args=()
hog=false
for a in "$@"; do if [ "$a" = --hog ]; then hog=true; else args+=("$a"); fi; done
hogs=()
if $hog; then
  for _ in $(seq "$(nproc)"); do (end=$((SECONDS + 3600)); while [ $SECONDS -lt $end ]; do :; done) & hogs+=($!); done
fi
trap '[ ${#hogs[@]} -gt 0 ] && kill "${hogs[@]}" 2>/dev/null' EXIT
log=$(mktemp -d)
passed=0
failed=0
started=$SECONDS
for i in $(seq "$runs"); do
  if npx vitest run "${args[@]}" >"$log/run-$i.log" 2>&1; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "run $i failed: $log/run-$i.log"; fi
done
echo "${args[*]}: $passed passed, $failed failed in $((SECONDS - started)) s$($hog && echo ' beside a CPU hog on every core'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$failed" -eq 0 ]
