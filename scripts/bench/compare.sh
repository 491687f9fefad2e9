#!/usr/bin/env bash
# Side-by-side benchmark: waves and scsynth render the same workloads on this machine, in one
# run. Every workload in every phrasing: the tuned scripts/bench/wN.rhai and each
# scripts/bench/wN_*.rhai (the same sound as a user might write it); scsynth once per
# workload. Whole processes, median of RUNS wall-clock times (default 3);
# real-time factor = 60 s / median.
# Columns: waves and scsynth real-time factors, ratio = scsynth time / waves time (above 1:
# waves is faster), vs_tuned = this phrasing's time / the tuned form's time (above 1: slower).
# waves renders on two threads where the machine has two cores (see README, Performance);
# WAVES_ARGS="--threads 1" measures it on one.
# Usage: [RUNS=5] [WAVES_ARGS=...] scripts/bench/compare.sh [PEERS_DIR] (default ../shared/peers); needs
# `apt-get install supercollider-server` for the scsynth column (without it: -).
set -euo pipefail
cd "$(dirname "$0")/../.."
peers=${1:-../shared/peers}
runs=${RUNS:-3}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a whole number >= 1, not '$runs'" >&2; exit 2; }
cargo build --release -q
waves=${CARGO_TARGET_DIR:-target}/release/waves
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# median command... → median wall seconds of $runs runs; fails when a run fails.
median() {
  local t=()
  for _ in $(seq "$runs"); do
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || return 1
    e=$(date +%s.%N)
    t+=("$(echo "$e - $s" | bc -l)")
  done
  printf '%s\n' "${t[@]}" | sort -g | sed -n "$(((runs + 1) / 2))p"
}

x() { printf "%.${2:-2}f" "$(echo "$1" | bc -l)"; } # expression [decimals] → rounded

have_sc=0
command -v scsynth >/dev/null && have_sc=1

printf '%-16s %10s %12s %7s %9s\n' script waves_rtf scsynth_rtf ratio vs_tuned
for w in w1 w2 w3; do
  tuned="scripts/bench/$w.rhai"
  [ -f "$tuned" ] || continue
  sc="-"
  if [ "$have_sc" = 1 ] && [ -f "$peers/$w.osc" ]; then
    sc=$(median scsynth -D 0 -R 0 -i 2 -o 2 -N "$peers/$w.osc" _ "$tmp/sc_$w.wav" 48000 WAV float) || sc="-"
  fi
  base=""
  for f in "$tuned" scripts/bench/"$w"_*.rhai; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .rhai)
    # shellcheck disable=SC2086 # WAVES_ARGS is a list of flags
    if ! wv=$(median "$waves" render "$f" -o "$tmp/waves_$name.wav" ${WAVES_ARGS:-}); then
      printf '%-16s %10s %12s %7s %9s\n' "$name" failed - - -
      continue
    fi
    [ "$f" = "$tuned" ] && base=$wv
    wr="$(x "60 / $wv" 1)x"
    rel="-"
    [ -n "$base" ] && rel=$(x "$wv / $base")
    if [ "$sc" != "-" ]; then
      printf '%-16s %10s %12s %7s %9s\n' "$name" "$wr" "$(x "60 / $sc" 1)x" "$(x "$sc / $wv")x" "$rel"
    else
      printf '%-16s %10s %12s %7s %9s\n' "$name" "$wr" - - "$rel"
    fi
  done
done
