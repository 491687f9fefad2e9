#!/usr/bin/env bash
# Side-by-side benchmark: waves and scsynth render the same workloads on this machine, in one
# run. Every workload in every phrasing: the tuned scripts/bench/wN.rhai and each
# scripts/bench/wN_*.rhai (the same sound as a user might write it); scsynth once per
# workload. Whole processes, median of RUNS wall-clock times (default 3);
# real-time factor = 60 s / median.
# Columns: waves and scsynth real-time factors, ratio = scsynth time / waves time (above 1:
# waves is faster), vs_tuned = this phrasing's time / the tuned form's time (above 1: slower).
# waves renders on two threads where the machine has a second core free (see docs/PERFORMANCE.md,
# "Rendering on two threads"); WAVES_ARGS="--threads 1" measures it on one.
# Usage: [RUNS=5] [WAVES_ARGS=...] scripts/bench/compare.sh [PEERS_DIR] (default ../shared/peers); needs
# `apt-get install supercollider-server` for the scsynth column (without it: -). A render
# that fails or writes less than 60 s is shown as `failed`, never timed, and the script
# then exits with status 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
peers=${1:-../shared/peers}
default_runs=3
# shellcheck source=scripts/bench/common.sh
source scripts/bench/common.sh

x() { printf "%.${2:-2}f" "$(echo "$1" | bc -l)"; } # expression [decimals] → rounded

have_sc=0
command -v scsynth >/dev/null && have_sc=1
failed=0

printf '%-16s %10s %12s %7s %9s\n' script waves_rtf scsynth_rtf ratio vs_tuned
for w in w1 w2 w3; do
  tuned="scripts/bench/$w.rhai"
  [ -f "$tuned" ] || continue
  sc="-"
  if [ "$have_sc" = 1 ] && [ -f "$peers/$w.osc" ]; then
    sc=$(median "$tmp/sc_$w.wav" scsynth -D 0 -R 0 -i 2 -o 2 -N "$peers/$w.osc" _ "$tmp/sc_$w.wav" 48000 WAV float) ||
      { sc=failed; failed=1; }
  fi
  base=""
  for f in "$tuned" scripts/bench/"$w"_*.rhai; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .rhai)
    # shellcheck disable=SC2086 # WAVES_ARGS is a list of flags
    if ! wv=$(median "$tmp/waves_$name.wav" "$waves" render "$f" -o "$tmp/waves_$name.wav" ${WAVES_ARGS:-}); then
      printf '%-16s %10s %12s %7s %9s\n' "$name" failed "$sc" - -
      failed=1
      continue
    fi
    [ "$f" = "$tuned" ] && base=$wv
    wr="$(x "60 / $wv" 1)x"
    rel="-"
    [ -n "$base" ] && rel=$(x "$wv / $base")
    case "$sc" in
      -|failed) printf '%-16s %10s %12s %7s %9s\n' "$name" "$wr" "$sc" - "$rel" ;;
      *) printf '%-16s %10s %12s %7s %9s\n' "$name" "$wr" "$(x "60 / $sc" 1)x" "$(x "$sc / $wv")x" "$rel" ;;
    esac
  done
done
if [ "$failed" = 1 ]; then
  echo "compare.sh: some renders failed (see above); their rows hold no times" >&2
  exit 1
fi
