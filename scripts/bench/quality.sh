#!/usr/bin/env bash
# Aliasing of every oscillator, in dB below the signal (lower is cleaner), for waves and, when
# it is installed (`apt-get install supercollider-server`), for scsynth's counterpart on the
# same notes. Each is rendered for 2.4 s at 48 kHz by its own program (`waves render`;
# `scsynth -N` with a score from scripts/bench/sc_score.py) and measured by one program
# (examples/alias.rs: Blackman spectrum of 2 s after the first 0.1 s, energy within 12 Hz of
# a harmonic is signal, the rest from 20 Hz to 20 kHz aliasing).
# Then the other places where aliasing enters, for waves alone: resampling a 10 kHz tone from
# a 44.1 kHz file (goal -70 dB) and drive (goal -60 dB); crush aliases by design.
# Usage: scripts/bench/quality.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet
cargo build --release --quiet --example alias
waves=target/release/waves
alias=target/release/examples/alias
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
have_sc=0
command -v scsynth >/dev/null && have_sc=1

# name | waves expression (F = frequency) | scsynth UGen [width]
rows=(
  "saw|saw(F)|Saw"
  "square|square(F)|Pulse 0.5"
  "pulse 0.3|pulse(F, 0.3)|Pulse 0.3"
  "tri|tri(F)|LFTri"
  "sine|sine(F)|SinOsc"
)

measure_waves() { # expression f0
  echo "duration(2.4); ($1) * 0.5" >"$tmp/w.rhai"
  "$waves" render "$tmp/w.rhai" -o "$tmp/w.wav" >/dev/null 2>&1 || { echo failed; return; }
  "$alias" "$tmp/w.wav" "$2"
}

measure_sc() { # ugen width f0
  [ "$have_sc" = 1 ] || { echo -; return; }
  python3 scripts/bench/sc_score.py "$1" "$3" "$2" >"$tmp/s.osc"
  (cd "$tmp" && scsynth -N s.osc _ s.wav 48000 WAV float >/dev/null 2>&1) || { echo failed; return; }
  "$alias" "$tmp/s.wav" "$3"
}

printf '%-10s %13s %13s %15s %15s\n' oscillator "waves 1234.5" "waves 4987" "scsynth 1234.5" "scsynth 4987"
for row in "${rows[@]}"; do
  IFS='|' read -r name expr sc <<<"$row"
  read -r ugen width <<<"$sc"
  cells=()
  for f in 1234.5 4987; do cells+=("$(measure_waves "${expr//F/$f}" "$f")"); done
  for f in 1234.5 4987; do cells+=("$(measure_sc "$ugen" "${width:-0.5}" "$f")"); done
  printf '%-10s %13s %13s %15s %15s\n' "$name" "${cells[@]}"
done

# A 10 kHz tone in a 44.1 kHz file, made by waves itself so no other tool is needed.
echo 'duration(3); sine(10000) * 0.5' >"$tmp/t.rhai"
"$waves" render "$tmp/t.rhai" -o "$tmp/tone.wav" --sample-rate 44100 >/dev/null 2>&1
echo
printf '%-44s %8s %6s\n' "waves, other sources of aliasing" dB goal
while IFS='|' read -r expr f0 goal; do
  printf '%-44s %8s %6s\n' "$expr" "$(measure_waves "$expr" "$f0")" "$goal"
done <<'ROWS'
sample("tone.wav")|10000|-70
sample("tone.wav").speed(1.5)|15000|-70
sample("tone.wav").speed(1 + 0.0004 * sine(0.5))|10000|-70
(sine(3187) * 0.9).drive(6)|3187|-60
ROWS
