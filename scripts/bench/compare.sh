#!/usr/bin/env bash
# Side-by-side benchmark: waves and scsynth render the same workloads on this machine, in one
# run. Whole processes, median of 3 wall-clock times; real-time factor = 60 s / median.
# Usage: scripts/bench/compare.sh [PEERS_DIR] (default ../shared/peers); needs
# `apt-get install supercollider-server` for the scsynth column.
set -euo pipefail
cd "$(dirname "$0")/../.."
peers=${1:-../shared/peers}
cargo build --release -q
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median3() { # command... → median wall seconds of 3 runs
  local t=()
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
    t+=("$(echo "$e - $s" | bc -l)")
  done
  printf '%s\n' "${t[@]}" | sort -g | sed -n 2p
}

printf '%-4s %12s %12s %8s\n' load waves_rtf scsynth_rtf ratio
for w in w1 w2 w3; do
  [ -f "scripts/bench/$w.rhai" ] || continue
  wv=$(median3 ./target/release/waves render "scripts/bench/$w.rhai" -o "$tmp/waves_$w.wav")
  sc="-"
  if command -v scsynth >/dev/null && [ -f "$peers/$w.osc" ]; then
    sc=$(median3 scsynth -D 0 -R 0 -i 2 -o 2 -N "$peers/$w.osc" _ "$tmp/sc_$w.wav" 48000 WAV float)
  fi
  wr=$(echo "60 / $wv" | bc -l)
  if [ "$sc" != "-" ]; then
    sr=$(echo "60 / $sc" | bc -l)
    printf '%-4s %11.1fx %11.1fx %7.2fx\n' "$w" "$wr" "$sr" "$(echo "$wr / $sr" | bc -l)"
  else
    printf '%-4s %11.1fx %12s %8s\n' "$w" "$wr" - -
  fi
done
