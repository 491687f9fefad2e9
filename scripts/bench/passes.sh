#!/usr/bin/env bash
# What each pass of the graph compiler buys: the natural phrasings of W1-W3 rendered with
# the passes switched on one after another (`waves render --passes`). Whole processes,
# median wall-clock milliseconds of RUNS runs (default 5).
# Usage: [RUNS=5] scripts/bench/passes.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-5}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a whole number >= 1, not '$runs'" >&2; exit 2; }
cargo build --release -q
waves=${CARGO_TARGET_DIR:-target}/release/waves
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median_ms() {
  for _ in $(seq "$runs"); do
    local s e
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1 || { echo failed; return; }
    e=$(date +%s%N)
    echo $(((e - s) / 1000000))
  done | sort -n | sed -n "$(((runs + 1) / 2))p"
}
passes=(none shared shared,sums shared,sums,lanes all)
printf '%-12s' script; printf ' %18s' "${passes[@]}"; echo
for w in w1_natural w2_natural w3_natural; do
  printf '%-12s' "$w"
  for p in "${passes[@]}"; do
    printf ' %16s ms' "$(median_ms "$waves" render "scripts/bench/$w.rhai" --passes "$p" -o "$tmp/out.wav")"
  done
  echo
done
