#!/usr/bin/env bash
# What each pass of the graph compiler buys: the natural phrasings of W1-W3 rendered with
# the passes switched on one after another (`waves render --passes`), on one thread so that
# a pass's gain is not mixed with how the graph splits across two. Whole processes,
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
# Bytes of a whole workload's WAV: 60 s of 48 kHz stereo 32-bit float, without the header.
full_wav=$((60 * 48000 * 2 * 4))
failed=0
# median_ms WAV command... → median wall milliseconds of $runs runs of a command that
# renders WAV, or `failed` (and why on stderr) when a run exits with an error or leaves
# WAV missing or short: a render that stopped early is not a fast one.
median_ms() {
  local wav=$1 t=()
  shift
  for _ in $(seq "$runs"); do
    local s e rc=0
    rm -f "$wav"
    s=$(date +%s%N)
    "$@" >"$tmp/log" 2>&1 || rc=$?
    e=$(date +%s%N)
    if [ "$rc" -ne 0 ]; then
      echo "failed: $* (exit $rc):" >&2
      tail -n 5 "$tmp/log" >&2
      echo failed
      return
    fi
    if [ ! -f "$wav" ] || [ "$(stat -c %s "$wav")" -lt "$full_wav" ]; then
      echo "failed: $* wrote less than a whole workload to $wav" >&2
      echo failed
      return
    fi
    t+=($(((e - s) / 1000000)))
  done
  printf '%s\n' "${t[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p"
}
passes=(none shared shared,sums shared,sums,lanes all)
printf '%-12s' script; printf ' %18s' "${passes[@]}"; echo
for w in w1_natural w2_natural w3_natural; do
  printf '%-12s' "$w"
  for p in "${passes[@]}"; do
    ms=$(median_ms "$tmp/out.wav" "$waves" render "scripts/bench/$w.rhai" --passes "$p" --threads 1 -o "$tmp/out.wav")
    if [ "$ms" = failed ]; then
      failed=1
      printf ' %19s' failed
    else
      printf ' %16s ms' "$ms"
    fi
  done
  echo
done
if [ "$failed" = 1 ]; then
  echo "passes.sh: some renders failed (see above); they hold no times" >&2
  exit 1
fi
