#!/usr/bin/env bash
# What each pass of the graph compiler buys: the natural phrasings of W1-W3 rendered with
# the passes switched on one after another (`waves render --passes`), on one thread so that
# a pass's gain is not mixed with how the graph splits across two. Whole processes,
# median wall-clock milliseconds of RUNS runs (default 5).
# Usage: [RUNS=5] scripts/bench/passes.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
default_runs=5
# shellcheck source=scripts/bench/common.sh
source scripts/bench/common.sh
failed=0
passes=(none shared shared,sums shared,sums,lanes all)
printf '%-12s' script; printf ' %18s' "${passes[@]}"; echo
for w in w1_natural w2_natural w3_natural; do
  printf '%-12s' "$w"
  for p in "${passes[@]}"; do
    if secs=$(median "$tmp/out.wav" "$waves" render "scripts/bench/$w.rhai" --passes "$p" --threads 1 -o "$tmp/out.wav"); then
      printf ' %16.0f ms' "$(echo "$secs * 1000" | bc -l)"
    else
      failed=1
      printf ' %19s' failed
    fi
  done
  echo
done
if [ "$failed" = 1 ]; then
  echo "passes.sh: some renders failed (see above); they hold no times" >&2
  exit 1
fi
