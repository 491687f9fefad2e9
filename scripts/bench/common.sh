# Shared by compare.sh and passes.sh (sourced after `cd` to the repository): checks RUNS
# (default: the caller's $default_runs), builds waves, and times renders.
runs=${RUNS:-$default_runs}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a whole number >= 1, not '$runs'" >&2; exit 2; }
cargo build --release -q
waves=${CARGO_TARGET_DIR:-target}/release/waves
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Bytes of a whole workload's WAV: 60 s of 48 kHz stereo 32-bit float, without the header.
full_wav=$((60 * 48000 * 2 * 4))

# median WAV command... → median wall seconds of $runs runs of a command that renders WAV.
# Fails, printing nothing and telling why on stderr, when a run exits with an error or
# leaves WAV missing or short: a render that stopped early is not a fast one.
median() {
  local wav=$1 t=()
  shift
  for _ in $(seq "$runs"); do
    local s e rc=0
    rm -f "$wav"
    s=$(date +%s.%N)
    "$@" >"$tmp/log" 2>&1 || rc=$?
    e=$(date +%s.%N)
    if [ "$rc" -ne 0 ]; then
      echo "failed: $* (exit $rc):" >&2
      tail -n 5 "$tmp/log" >&2
      return 1
    fi
    if [ ! -f "$wav" ] || [ "$(stat -c %s "$wav")" -lt "$full_wav" ]; then
      echo "failed: $* wrote $(stat -c %s "$wav" 2>/dev/null || echo no) bytes to $wav," \
        "not a whole workload (at least $full_wav)" >&2
      return 1
    fi
    t+=("$(echo "$e - $s" | bc -l)")
  done
  printf '%s\n' "${t[@]}" | sort -g | sed -n "$(((runs + 1) / 2))p"
}
