//! Hot reload end to end, as a user: `waves play SCRIPT --record` runs through the real audio
//! path (a PulseAudio null sink from `.ci/with-audio`), the test edits the script on disk
//! (in place and by write-then-rename, as editors do), stops it with SIGINT, and checks what
//! it printed and the recording it left: pitch before and after each edit, the cue markers
//! against the `✓ reloaded … (at T s)` lines, save-to-swap time, clicks, carried state,
//! quantized swaps, a storm of saves, and `--no-watch`.
//!
//! Run with `.ci/with-audio env WAVES_REQUIRE_AUDIO=1 cargo test --release --test reload`.
//! Without a server the tests are skipped, unless `WAVES_REQUIRE_AUDIO` is set, when they
//! fail. Each test works in its own temporary folder, so they run in parallel.
//!
//! Timing: the transport (frames played) runs at the sink's pace, so a wall-clock instant
//! maps to transport time by one offset, measured at the end: the recording holds every
//! frame played until SIGINT, so `origin = (wall time of SIGINT) − (recording length)`.

mod common;
use common::audio_or_skip;
use common::process::{Outcome, Running, TIMEOUT, Work, read_wav};

use std::time::{Duration, Instant};
use waves::record::cue::{Cue, read_cues};

const SR: u32 = 48_000;
const SRF: f64 = SR as f64;
/// Frames per block: swaps land on block boundaries.
const BLOCK: i64 = 64;
/// The crossfade (and parameter glide) length set in config.rhai, in seconds.
const FADE: f64 = 0.030;
/// Save-to-swap budget on the transport: 100 ms, plus 30 ms of slack for the measurement
/// (SIGINT is seen by a 5 ms poll; the device hands out frames in buffers).
/// Most edits of a test (the median) must be within it; see `SWAP_LIMIT` for each one.
const SWAP_BUDGET: f64 = 0.100 + 0.030;
/// What any single edit may take on a busy machine, where other work on the same cores can
/// hold up the watcher, the compile or the control thread's poll for a while.
const SWAP_LIMIT: f64 = 0.400;
/// The device buffer asked for (512 frames), in seconds.
const DEVICE_BUFFER: f64 = 512.0 / SRF;
/// How early a swap may seem to come before its save: the transport's origin on the wall
/// clock is estimated, and wobbles by the device's buffering, more on a busy machine.
const EARLY: f64 = 3.0 * DEVICE_BUFFER;
/// Relative pitch tolerance.
const PITCH_TOL: f64 = 0.03;
/// The jump bound is the signal's own largest slope times this.
const SLOPE_MARGIN: f64 = 1.05;

/// A working folder with the base settings (unity master gain, no release tail, a 30 ms
/// crossfade) and `extra_config`.
fn work(test: &str, extra_config: &str) -> Work {
    Work::new(
        "reload",
        test,
        &format!(
            "let output_dir = \"output\";\nlet master_gain = 1.0;\nlet release_tail = 0.0;\n\
             let crossfade_ms = {};\n{extra_config}\n",
            (FADE * 1000.0).round()
        ),
    )
}

// ---------------------------------------------------------------------------------------
// The audio server

// ---------------------------------------------------------------------------------------
// Running the binary

// ---------------------------------------------------------------------------------------
// What a take left

/// A finished take: what was printed, the recording (left channel: every script here is
/// mono) and its cue markers, and the transport origin on the wall clock.
struct Take {
    out: Outcome,
    left: Vec<f32>,
    cues: Vec<Cue>,
    /// Wall time (seconds since spawn) at which the transport was at 0.
    origin: f64,
    /// Wall time (seconds since spawn) each `✓ reloaded` line was read at.
    logged: Vec<f64>,
}

impl Take {
    /// Stops `run` with SIGINT, waits for it, and checks the common things: exit 0, the
    /// `Played` and `Recording saved` lines, nothing dropped, the recording's format and
    /// that its length matches the time played (±0.05 s).
    fn stop(run: Running, w: &Work) -> Take {
        let sent = run.interrupt();
        let lines = run.lines.clone();
        let out = run.finish(TIMEOUT);
        let lines = lines.lock().unwrap().clone();
        assert_eq!(
            out.status.code(),
            Some(0),
            "SIGINT must end playback with exit code 0\n{}",
            out.describe()
        );
        assert!(
            !out.stderr.to_lowercase().contains("panic"),
            "something panicked\n{}",
            out.describe()
        );
        assert!(
            !out.stderr.to_lowercase().contains("dropped"),
            "the recorder dropped frames\n{}",
            out.describe()
        );
        let played = played(&out);
        let saved = out
            .line("Recording saved: ")
            .unwrap_or_else(|| panic!("no `Recording saved: ...` line\n{}", out.describe()));
        assert!(
            saved.starts_with("Recording saved: output/realtime_recording.wav ("),
            "{saved:?}\n{}",
            out.describe()
        );
        let path = w.path("output/realtime_recording.wav");
        let (channels, samples) = read_wav(&path);
        assert_eq!(channels, 2, "the recording is stereo");
        let left: Vec<f32> = samples.iter().step_by(2).copied().collect();
        let right: Vec<f32> = samples.iter().skip(1).step_by(2).copied().collect();
        assert!(
            left == right,
            "a mono script must give L = R in the recording"
        );
        let secs = left.len() as f64 / SRF;
        assert!(
            (secs - played).abs() <= 0.05,
            "the recording is {secs:.3} s long but {played} s were played\n{}",
            out.describe()
        );
        let cues = read_cues(&path).unwrap_or_else(|e| panic!("cannot read the cue markers: {e}"));
        // The transport origin on the wall clock. Each `✓ reloaded … (at T s)` line is read
        // a little after its swap happened at transport T, so `read − T` is the origin plus
        // that delay (the control thread's 5 ms poll, the pipe): the smallest is the best
        // estimate, and errs on the side of longer save-to-swap times. Without reloads:
        // SIGINT minus the length of the take (which counts the frames played while the
        // signal was being handled, so it errs on the other side).
        let from_lines = lines
            .iter()
            .filter(|(_, l)| l.starts_with("✓ reloaded "))
            .map(|(t, l)| t - reload_lines(l)[0].1)
            .reduce(f64::min);
        let origin = from_lines.unwrap_or(sent - secs);
        eprintln!(
            "origin: {origin:.4} s after spawn (from the reload lines: {from_lines:.4?}; from \
             SIGINT: {:.4})",
            sent - secs
        );
        let logged = lines
            .iter()
            .filter(|(_, l)| l.starts_with("✓ reloaded "))
            .map(|(t, _)| *t)
            .collect();
        Take {
            origin,
            out,
            left,
            cues,
            logged,
        }
    }

    fn secs(&self) -> f64 {
        self.left.len() as f64 / SRF
    }

    /// Transport time (s) of a wall-clock instant (seconds since spawn).
    fn transport(&self, wall: f64) -> f64 {
        wall - self.origin
    }

    fn cue_secs(&self) -> Vec<f64> {
        self.cues.iter().map(|c| c.frame as f64 / SRF).collect()
    }

    /// Exactly `n` cues, each labelled `reload NAME…`, in order; their times in seconds.
    fn expect_cues(&self, n: usize, name: &str) -> Vec<f64> {
        assert_eq!(
            self.cues.len(),
            n,
            "expected {n} cue markers, found {:?}\n{}",
            self.cues,
            self.out.describe()
        );
        for c in &self.cues {
            assert!(
                c.label.starts_with(&format!("reload {name}")),
                "cue label {:?} should be `reload {name}`",
                c.label
            );
        }
        assert!(
            self.cues.windows(2).all(|p| p[0].frame < p[1].frame),
            "cues out of order: {:?}",
            self.cues
        );
        self.cue_secs()
    }

    /// The `✓ reloaded … in X ms (at T s)` lines: (X, T).
    fn reloads(&self) -> Vec<(f64, f64)> {
        reload_lines(&self.out.stderr)
    }

    /// Each cue matches its `(at T s)` line within a block (plus the print's rounding).
    fn expect_cues_match_log(&self) {
        let log = self.reloads();
        assert_eq!(
            log.len(),
            self.cues.len(),
            "{} `✓ reloaded` lines for {} cues\n{}",
            log.len(),
            self.cues.len(),
            self.out.describe()
        );
        for ((_, at), cue) in log.iter().zip(&self.cues) {
            let diff = cue.frame as i64 - (at * SRF).round() as i64;
            assert!(
                diff.abs() <= BLOCK,
                "cue at frame {} but the log says {at} s ({} frames)\n{}",
                cue.frame,
                (at * SRF).round(),
                self.out.describe()
            );
        }
    }

    /// Pitch (Hz) of the recording between two transport times (seconds).
    fn pitch(&self, from: f64, to: f64) -> f64 {
        pitch(&self.left, from, to)
    }

    /// Asserts the pitch between `from` and `to` is `hz` ± 3 %.
    fn expect_pitch(&self, from: f64, to: f64, hz: f64, what: &str) {
        assert!(
            to - from >= 0.05,
            "{what}: window {from:.3}..{to:.3} s is too short to measure (the take is {:.3} s)",
            self.secs()
        );
        let got = self.pitch(from, to);
        assert!(
            (got / hz - 1.0).abs() <= PITCH_TOL,
            "{what}: pitch {got:.1} Hz between {from:.3} s and {to:.3} s, expected {hz} Hz ± 3 %\n{}",
            self.out.describe()
        );
    }

    /// No sample-to-sample jump anywhere larger than `bound`.
    fn expect_no_click(&self, bound: f64) {
        let (jump, at) = max_jump(&self.left);
        assert!(
            jump as f64 <= bound,
            "a click: a jump of {jump:.5} at frame {at} ({:.4} s), more than the signal's own \
             largest step {bound:.5}; cues at {:?}",
            at as f64 / SRF,
            self.cues
        );
    }

    /// Reported latencies, for the figures (printed; `--nocapture` shows them).
    fn log_latencies(&self, test: &str) {
        let ms: Vec<String> = self
            .reloads()
            .iter()
            .map(|(ms, _)| format!("{ms:.1}"))
            .collect();
        eprintln!("latency-reported[{test}]: {}", ms.join(" "));
    }
}

/// Parses `Played X.XX s of audio in Y.YY s`: the audio seconds.
fn played(out: &Outcome) -> f64 {
    let line = out.line("Played ").unwrap_or_else(|| {
        panic!(
            "no `Played ... s of audio in ... s` line\n{}",
            out.describe()
        )
    });
    let w: Vec<&str> = line.split_whitespace().collect();
    match w.as_slice() {
        ["Played", x, "s", "of", "audio", "in", _, "s", ..] => x.parse().ok(),
        _ => None,
    }
    .unwrap_or_else(|| panic!("cannot parse {line:?}\n{}", out.describe()))
}

/// `✓ reloaded NAME in X ms (at T s)` lines of `stderr`: (X, T).
fn reload_lines(stderr: &str) -> Vec<(f64, f64)> {
    stderr
        .lines()
        .filter(|l| l.starts_with("✓ reloaded "))
        .map(|l| {
            let parsed = (|| {
                let (head, at) = l.rsplit_once(" (at ")?;
                let at: f64 = at.strip_suffix(" s)")?.parse().ok()?;
                let (_, ms) = head.rsplit_once(" in ")?;
                let ms: f64 = ms.strip_suffix(" ms")?.parse().ok()?;
                Some((ms, at))
            })();
            parsed.unwrap_or_else(|| panic!("cannot parse the reload line {l:?}"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Measuring the signal

fn frame(secs: f64) -> usize {
    (secs * SRF).round().max(0.0) as usize
}

/// Pitch by rising zero crossings (interpolated) between `from` and `to` seconds: the
/// number of whole periods between the first and the last crossing over their distance.
fn pitch(x: &[f32], from: f64, to: f64) -> f64 {
    let (a, b) = (frame(from), frame(to).min(x.len()));
    common::zero_cross_hz(&x[a.min(b)..b], SRF)
}

/// Largest |x[n+1] − x[n]| and where.
fn max_jump(x: &[f32]) -> (f32, usize) {
    x.windows(2)
        .enumerate()
        .map(|(i, w)| ((w[1] - w[0]).abs(), i + 1))
        .fold((0.0, 0), |m, j| if j.0 > m.0 { j } else { m })
}

/// The largest step a sine of `hz` and amplitude `amp` takes between samples (its largest
/// slope), times the margin.
fn slope_bound(hz: f64, amp: f64) -> f64 {
    2.0 * std::f64::consts::PI * hz * amp / SRF * SLOPE_MARGIN
}

/// Phase φ (radians) of `x ≈ A·sin(2π·hz·(t − at) + φ)`, fitted between `from` and `to`
/// seconds: the phase the sine in that window has, extrapolated to time `at`.
fn phase_at(x: &[f32], hz: f64, from: f64, to: f64, at: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz;
    let (mut s, mut c) = (0.0, 0.0);
    for (n, v) in x.iter().enumerate().take(frame(to)).skip(frame(from)) {
        let th = w * (n as f64 / SRF - at);
        s += *v as f64 * th.sin();
        c += *v as f64 * th.cos();
    }
    c.atan2(s)
}

/// `a − b` wrapped into (−π, π].
fn phase_diff(a: f64, b: f64) -> f64 {
    let tau = 2.0 * std::f64::consts::PI;
    let d = (a - b).rem_euclid(tau);
    if d > std::f64::consts::PI { d - tau } else { d }
}

fn sleep(secs: f64) {
    std::thread::sleep(Duration::from_secs_f64(secs));
}

/// Median and 95th percentile.
fn p50_p95(v: &[f64]) -> (f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

/// The lower median: of two values, the smaller (at least half are at most it).
fn lower_median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[(s.len() - 1) / 2]
}

/// Save-to-swap times of saves matched one to one with the cues and reload lines. On the
/// transport: from each save to its cue. On the wall clock: from each save to its
/// `✓ reloaded` line being read (which comes a few ms after the swap). Each must be within
/// (0, `SWAP_LIMIT`), and the median of each within `SWAP_BUDGET`. Returns (transport,
/// wall) times in seconds.
fn expect_swaps_follow_saves(take: &Take, saves: &[f64], cues: &[f64]) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(
        take.logged.len(),
        cues.len(),
        "one `✓ reloaded` line per cue\n{}",
        take.out.describe()
    );
    let lat: Vec<f64> = saves
        .iter()
        .zip(cues)
        .map(|(s, c)| c - take.transport(*s))
        .collect();
    let wall: Vec<f64> = saves.iter().zip(&take.logged).map(|(s, t)| t - s).collect();
    for (i, (l, w)) in lat.iter().zip(&wall).enumerate() {
        // The transport runs ahead of the wall clock by however much the device has
        // buffered, which wobbles by a buffer or more on a busy machine: a swap can seem
        // to come up to that long before its save.
        assert!(
            *l > -EARLY && *l < SWAP_LIMIT,
            "edit {i}: saved at {:.3} s of transport, swapped at {:.3} s: {:.1} ms, not within \
             (-{:.0}, {:.0}) ms\n{}",
            take.transport(saves[i]),
            cues[i],
            l * 1000.0,
            EARLY * 1000.0,
            SWAP_LIMIT * 1000.0,
            take.out.describe()
        );
        assert!(
            *w > 0.0 && *w < SWAP_LIMIT,
            "edit {i}: saved at {:.3} s (wall, since spawn), reload logged at {:.3} s: {:.1} ms, \
             not within (0, {:.0}) ms\n{}",
            saves[i],
            take.logged[i],
            w * 1000.0,
            SWAP_LIMIT * 1000.0,
            take.out.describe()
        );
    }
    for (what, v) in [("on the transport", &lat), ("to the log line", &wall)] {
        let median = lower_median(v);
        assert!(
            median < SWAP_BUDGET,
            "save-to-swap {what}: median {:.1} ms, not within {:.0} ms ({v:?} s)\n{}",
            median * 1000.0,
            SWAP_BUDGET * 1000.0,
            take.out.describe()
        );
    }
    let ms = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{:.1}", x * 1000.0))
            .collect::<Vec<_>>()
            .join(" ")
    };
    eprintln!(
        "latency-measured: save → cue (transport) {} ms; save → log line (wall) {} ms",
        ms(&lat),
        ms(&wall)
    );
    (lat, wall)
}

// ---------------------------------------------------------------------------------------
// The tests

/// `sine(HZ) * 0.5`.
fn tone(hz: f64) -> String {
    format!("sine({hz}) * 0.5\n")
}

/// 220 Hz → 330 Hz (saved by rename) → 440 Hz (saved in place).
#[test]
fn pitch_follows_edits_by_rename_and_in_place() {
    if !audio_or_skip() {
        return;
    }
    let w = work("pitch", "");
    w.dir.write("tone.rhai", &tone(220.0));
    let run = w.play("tone.rhai", &[]);
    sleep(1.0);
    w.write_by_rename("tone.rhai", &tone(330.0));
    let s1 = run.now();
    sleep(0.8);
    w.write_in_place("tone.rhai", &tone(440.0));
    let s2 = run.now();
    sleep(0.8);
    let take = Take::stop(run, &w);
    take.log_latencies("pitch");

    let c = take.expect_cues(2, "tone.rhai");
    take.expect_cues_match_log();
    expect_swaps_follow_saves(&take, &[s1, s2], &c);

    take.expect_pitch(0.05, c[0] - 0.005, 220.0, "before the first edit");
    take.expect_pitch(c[0] + FADE + 0.02, c[1] - 0.005, 330.0, "after the rename");
    take.expect_pitch(
        c[1] + FADE + 0.02,
        take.secs(),
        440.0,
        "after the in-place write",
    );
    // Straight from the audio: once an edit's time is up (and its crossfade done), the new
    // pitch is what plays.
    let (t1, t2) = (take.transport(s1), take.transport(s2));
    let after = SWAP_LIMIT + FADE;
    take.expect_pitch(t1 - 0.3, t1, 220.0, "just before the rename");
    take.expect_pitch(t1 + after, t1 + after + 0.2, 330.0, "after the rename");
    take.expect_pitch(t2 - 0.3, t2, 330.0, "just before the in-place write");
    take.expect_pitch(
        t2 + after,
        t2 + after + 0.2,
        440.0,
        "after the in-place write",
    );
    take.expect_no_click(slope_bound(440.0, 0.5));
}

/// A syntax error on line 2: the error is printed at 2:COL with the source line and a
/// caret, the old pitch plays on, and the fix applies.
#[test]
fn a_syntax_error_keeps_the_old_sound_until_fixed() {
    if !audio_or_skip() {
        return;
    }
    let w = work("syntax", "");
    let good = |hz: u32| format!("let f = {hz};\nlet x = sine(f) * 0.5;\nx\n");
    let broken_line = "let x = sine(f) * * 0.5;";
    // 1-based column of the second `*`, the token that cannot start an operand.
    let col = broken_line.find("* *").unwrap() + 3;
    w.dir.write("err.rhai", &good(220));
    let run = w.play("err.rhai", &[]);
    sleep(1.0);
    w.write_in_place("err.rhai", &format!("let f = 330;\n{broken_line}\nx\n"));
    let s_err = run.now();
    sleep(0.8);
    w.write_by_rename("err.rhai", &good(330));
    let s_fix = run.now();
    sleep(0.7);
    let take = Take::stop(run, &w);
    take.log_latencies("syntax");
    let stderr = &take.out.stderr;

    let at = format!("error: err.rhai:2:{col}:");
    let lines: Vec<&str> = stderr.lines().collect();
    let e = lines
        .iter()
        .position(|l| l.starts_with(&at))
        .unwrap_or_else(|| panic!("no `{at} …` line\n{}", take.out.describe()));
    // The source line, then a caret under the column.
    let src = lines[e..]
        .iter()
        .position(|l| l.contains(broken_line))
        .map(|i| e + i)
        .unwrap_or_else(|| panic!("the source line is not shown\n{}", take.out.describe()));
    let caret = lines[src + 1];
    let bar = caret.find('|').expect("a `|` before the caret");
    let src_bar = lines[src].find('|').expect("a `|` before the source");
    assert_eq!(bar, src_bar, "caret and source lines are not aligned");
    let caret_col = caret.find('^').expect("a caret") - (src_bar + 2) + 1;
    assert_eq!(
        caret_col, col,
        "the caret points at column {caret_col}, not {col}\n{stderr}"
    );
    let keeps = lines
        .iter()
        .position(|l| l.contains("the previous version keeps playing"))
        .unwrap_or_else(|| {
            panic!(
                "no `the previous version keeps playing`\n{}",
                take.out.describe()
            )
        });
    assert!(
        keeps > e,
        "`keeps playing` comes before the error\n{stderr}"
    );
    let ok = lines
        .iter()
        .position(|l| l.starts_with("✓ reloaded "))
        .unwrap_or_else(|| panic!("the fix was not applied\n{}", take.out.describe()));
    assert!(
        ok > keeps,
        "the reload is logged before the error\n{stderr}"
    );

    let c = take.expect_cues(1, "err.rhai");
    take.expect_cues_match_log();
    assert!(
        c[0] > take.transport(s_fix),
        "the only swap ({:.3} s) came before the fix was saved ({:.3} s): the broken edit was \
         half-applied?\n{}",
        c[0],
        take.transport(s_fix),
        take.out.describe()
    );
    expect_swaps_follow_saves(&take, &[s_fix], &c);
    let t_err = take.transport(s_err);
    take.expect_pitch(0.05, t_err, 220.0, "before the broken edit");
    take.expect_pitch(
        t_err + 0.05,
        c[0] - 0.005,
        220.0,
        "while the file is broken",
    );
    take.expect_pitch(c[0] + FADE + 0.02, take.secs(), 330.0, "after the fix");
    take.expect_no_click(slope_bound(330.0, 0.5));
}

/// `.id("osc")`: 220 → 221 Hz (only a number changes), then 221 → 222 Hz inside a new
/// `mix` (the graph is rebuilt; the oscillator carries over by its id). At each edit the
/// phase runs on: the sine fitted after the change, extrapolated back to the swap, meets
/// the sine fitted before it.
#[test]
fn an_oscillator_keeps_its_phase_across_edits() {
    if !audio_or_skip() {
        return;
    }
    let w = work("phase", "");
    w.dir.write("osc.rhai", "sine(220).id(\"osc\") * 0.5\n");
    let run = w.play("osc.rhai", &[]);
    sleep(1.0);
    w.write_by_rename("osc.rhai", "sine(221).id(\"osc\") * 0.5\n");
    let s1 = run.now();
    sleep(0.8);
    w.write_by_rename("osc.rhai", "mix([sine(222).id(\"osc\") * 0.5])\n");
    let s2 = run.now();
    sleep(0.8);
    let take = Take::stop(run, &w);
    take.log_latencies("phase");
    let c = take.expect_cues(2, "osc.rhai");
    take.expect_cues_match_log();
    expect_swaps_follow_saves(&take, &[s1, s2], &c);
    take.expect_no_click(slope_bound(222.0, 0.5));

    let bounds = [0.05, c[0], c[1], take.secs()];
    let hz = [220.0, 221.0, 222.0];
    for (i, &at) in c.iter().enumerate() {
        // Before: up to just before the swap. After: once the crossfade or glide is over.
        let (b0, b1) = ((bounds[i] + FADE + 0.02).max(at - 0.4), at - 0.002);
        let (a0, a1) = (at + FADE + 0.02, (at + 0.45).min(bounds[i + 2]));
        let f_before = take.pitch(b0, b1);
        let f_after = take.pitch(a0, a1);
        assert!(
            (f_before - hz[i]).abs() < 0.3 && (f_after - hz[i + 1]).abs() < 0.3,
            "edit {i}: {f_before:.2} Hz before and {f_after:.2} Hz after, expected {} and {}",
            hz[i],
            hz[i + 1]
        );
        let before = phase_at(&take.left, hz[i], b0, b1, at);
        let after = phase_at(&take.left, hz[i + 1], a0, a1, at);
        let d = phase_diff(after, before);
        // A glide of the frequency over the fade loses up to 2π·0.5 Hz·30 ms ≈ 0.09 rad
        // against the extrapolation; a reset oscillator is off by anything.
        assert!(
            d.abs() < 0.3,
            "edit {i} (swap at {at:.4} s): the phase jumps by {d:.3} rad ({before:.3} → {after:.3})"
        );
    }
}

/// Two branches; an edit adds a filter to the second only. The first (`saw → lpf`, with
/// state in both nodes) must run on untouched: the recording minus an offline render of
/// the first branch alone is the second branch only — a clean 440 Hz sine with no click.
#[test]
fn an_unrelated_chain_keeps_its_state() {
    if !audio_or_skip() {
        return;
    }
    let w = work("chain", "");
    let first = "saw(110).lpf(800).id(\"a\") * 0.2";
    let before = format!("mix([{first}, sine(440) * 0.2])\n");
    let after = format!("mix([{first}, sine(440).lpf(5000) * 0.2])\n");
    w.dir.write("two.rhai", &before);
    w.dir.write("first.rhai", &format!("{first}\n"));
    w.dir.write("before.rhai", &before);
    let run = w.play("two.rhai", &[]);
    sleep(1.0);
    w.write_in_place("two.rhai", &after);
    let s1 = run.now();
    sleep(0.8);
    let take = Take::stop(run, &w);
    take.log_latencies("chain");
    let c = take.expect_cues(1, "two.rhai");
    take.expect_cues_match_log();
    expect_swaps_follow_saves(&take, &[s1], &c);

    let n = take.left.len();
    let cue = take.cues[0].frame as usize;
    // Until the swap the recording is the first version, sample for sample.
    let whole = w.offline_left("before.rhai", n);
    if let Some(i) = (0..cue).find(|&i| take.left[i].to_bits() != whole[i].to_bits()) {
        panic!(
            "before the swap (frame {cue}) the recording differs from an offline render, first \
             at frame {i}: {} vs {}",
            take.left[i], whole[i]
        );
    }
    // The second branch alone: what is left when the first is taken out.
    let a = w.offline_left("first.rhai", n);
    let rest: Vec<f32> = take.left.iter().zip(&a).map(|(x, y)| x - y).collect();
    let (jump, at) = max_jump(&rest[cue.saturating_sub(4800)..]);
    let bound = slope_bound(440.0, 0.2) + 1e-5;
    assert!(
        (jump as f64) <= bound,
        "the recording minus the first branch jumps by {jump:.5} at frame {} ({:.4} s; swap \
         at frame {cue}), more than a 440 Hz sine at 0.2 can ({bound:.5}): the first branch \
         lost its state",
        cue.saturating_sub(4800) + at,
        (cue.saturating_sub(4800) + at) as f64 / SRF
    );
    let tail = &rest[frame(c[0] + FADE + 0.02)..];
    let peak = tail.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(
        (0.17..=0.205).contains(&peak),
        "after the swap the second branch peaks at {peak:.4}, expected a 440 Hz sine at ≈ 0.2 \
         (anything else is the first branch changing)"
    );
    let f = pitch(&rest, c[0] + FADE + 0.02, take.secs());
    assert!(
        (f / 440.0 - 1.0).abs() < 0.01,
        "the second branch is at {f:.1} Hz after the swap"
    );
    take.expect_no_click(
        // The first branch's own largest step (measured offline) plus the sine's.
        max_jump(&a).0 as f64 * SLOPE_MARGIN + slope_bound(440.0, 0.2),
    );
}

/// Plays `script_v1`, saves `script_v2` ~0.5 s in, stops after 2.4 s: the swap must land
/// on the bar at 2 s (tempo 120: 4 beats = 96 000 frames), to the block.
fn lands_on_the_bar(test: &str, config: &str, v1: &str, v2: &str) {
    if !audio_or_skip() {
        return;
    }
    let w = work(test, config);
    w.dir.write("bar.rhai", v1);
    let run = w.play("bar.rhai", &[]);
    sleep(0.5);
    w.write_in_place("bar.rhai", v2);
    let s1 = run.now();
    sleep(1.9);
    let take = Take::stop(run, &w);
    take.log_latencies(test);
    assert!(
        take.secs() > 2.2,
        "the take ended at {:.3} s, before the bar at 2 s could be heard",
        take.secs()
    );
    assert!(
        take.transport(s1) < 1.9,
        "the edit was saved at {:.3} s of transport, too late to test the bar at 2 s",
        take.transport(s1)
    );
    take.expect_cues(1, "bar.rhai");
    take.expect_cues_match_log();
    let frame = take.cues[0].frame as i64;
    assert!(
        (frame - 96_000).abs() <= BLOCK,
        "the edit saved at {:.3} s landed at frame {frame} ({:.3} s), not on the bar at frame \
         96000 (2 s)\n{}",
        take.transport(s1),
        frame as f64 / SRF,
        take.out.describe()
    );
    take.expect_pitch(0.05, 1.995, 220.0, "until the bar");
    take.expect_pitch(2.0 + FADE + 0.02, take.secs(), 330.0, "after the bar");
}

#[test]
fn reload_at_bar_in_the_script_lands_on_the_bar() {
    let v = |hz| format!("tempo(120);\nreload_at(\"bar\");\nsine({hz}) * 0.5\n");
    lands_on_the_bar("reload-at", "", &v(220), &v(330));
}

/// `reload_quantize = "bar"` in config.rhai, an edit of a number only.
#[test]
fn quantize_from_config_lands_a_number_edit_on_the_bar() {
    let v = |hz| format!("tempo(120);\nsine({hz}) * 0.5\n");
    lands_on_the_bar(
        "quantize-number",
        "let reload_quantize = \"bar\";",
        &v(220),
        &v(330),
    );
}

/// `reload_quantize = "bar"` in config.rhai, an edit that rebuilds the graph.
#[test]
fn quantize_from_config_lands_a_rebuild_on_the_bar() {
    lands_on_the_bar(
        "quantize-rebuild",
        "let reload_quantize = \"bar\";",
        "tempo(120);\nsine(220) * 0.5\n",
        "tempo(120);\nsine(330).lpf(20000) * 0.5\n",
    );
}

/// 100 saves in 2 s, alternating 300 Hz and 500 Hz (numbers only, and rebuilds), by rename
/// and in place, the last one 700 Hz: it survives, 700 Hz plays at the end, and its
/// resident memory grows by less than 20 MB.
#[test]
fn a_storm_of_saves_ends_with_the_last_version() {
    if !audio_or_skip() {
        return;
    }
    let w = work("storm", "");
    w.dir.write("storm.rhai", &tone(300.0));
    let run = w.play("storm.rhai", &[]);
    sleep(0.6);
    let rss_before = run.rss();
    let t0 = Instant::now();
    let mut s_last = 0.0;
    for i in 0..100u32 {
        let source = match i {
            99 => tone(700.0),
            _ if i % 2 == 0 => tone(300.0),
            _ if i % 4 == 1 => tone(500.0),
            _ => "sine(500).lpf(12000) * 0.5\n".to_string(),
        };
        if i % 2 == 0 {
            w.write_by_rename("storm.rhai", &source);
        } else {
            w.write_in_place("storm.rhai", &source);
        }
        s_last = run.now();
        // 100 saves spread over 2 s.
        let next = Duration::from_millis(20 * (i as u64 + 1));
        if let Some(wait) = next.checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    sleep(0.8);
    let rss_after = run.rss();
    let take = Take::stop(run, &w);
    take.log_latencies("storm");
    let grew = rss_after as f64 - rss_before as f64;
    eprintln!(
        "storm: RSS {:.1} MB → {:.1} MB, {} reloads applied",
        rss_before as f64 / 1e6,
        rss_after as f64 / 1e6,
        take.cues.len()
    );
    assert!(
        grew < 20e6,
        "RSS grew by {:.1} MB over the storm ({:.1} → {:.1} MB)",
        grew / 1e6,
        rss_before as f64 / 1e6,
        rss_after as f64 / 1e6
    );
    assert!(
        !take.cues.is_empty(),
        "no reload was applied at all\n{}",
        take.out.describe()
    );
    take.expect_cues_match_log();
    let last = *take.cue_secs().last().unwrap();
    assert!(
        last > take.transport(s_last) && last - take.transport(s_last) < SWAP_LIMIT,
        "the last swap ({last:.3} s) does not follow the last save ({:.3} s) within {} ms",
        take.transport(s_last),
        SWAP_LIMIT * 1000.0
    );
    let logged = *take.logged.last().unwrap();
    assert!(
        logged > s_last && logged - s_last < SWAP_LIMIT,
        "the last reload was logged at {logged:.3} s, not within {} ms after the last save \
         ({s_last:.3} s, wall)",
        SWAP_LIMIT * 1000.0
    );
    take.expect_pitch(take.secs() - 0.3, take.secs(), 700.0, "the last 0.3 s");
    take.expect_no_click(slope_bound(700.0, 0.5));
}

/// `--no-watch`: edits by rename and in place change nothing.
#[test]
fn no_watch_ignores_edits() {
    if !audio_or_skip() {
        return;
    }
    let w = work("no-watch", "");
    w.dir.write("still.rhai", &tone(220.0));
    let run = w.play("still.rhai", &["--no-watch"]);
    sleep(0.6);
    w.write_by_rename("still.rhai", &tone(330.0));
    let s1 = run.now();
    sleep(0.6);
    w.write_in_place("still.rhai", &tone(440.0));
    sleep(0.6);
    let take = Take::stop(run, &w);
    assert!(
        take.cues.is_empty() && take.reloads().is_empty(),
        "--no-watch, yet reloads happened: cues {:?}\n{}",
        take.cues,
        take.out.describe()
    );
    take.expect_pitch(0.05, take.transport(s1), 220.0, "before the edits");
    take.expect_pitch(
        take.transport(s1) + 0.1,
        take.secs(),
        220.0,
        "after the edits",
    );
    take.expect_pitch(take.secs() - 0.3, take.secs(), 220.0, "the last 0.3 s");
    take.expect_no_click(slope_bound(220.0, 0.5));
}

/// 20 edits 250 ms apart (numbers only and rebuilds, by rename and in place): every one is
/// applied, each within the budget of its save on the transport. Prints p50/p95 of both
/// the measured save-to-cue time and the `in X ms` the log reports.
#[test]
fn every_edit_swaps_soon_after_its_save() {
    if !audio_or_skip() {
        return;
    }
    let w = work("latency", "");
    w.dir.write("lat.rhai", &tone(200.0));
    let run = w.play("lat.rhai", &[]);
    sleep(0.5);
    let mut saves = Vec::new();
    let mut hz = Vec::new();
    for i in 0..20u32 {
        let f = 250.0 + 10.0 * i as f64;
        let source = if i % 3 == 2 {
            format!("sine({f}).lpf(15000) * 0.5\n")
        } else {
            tone(f)
        };
        if i % 2 == 0 {
            w.write_by_rename("lat.rhai", &source);
        } else {
            w.write_in_place("lat.rhai", &source);
        }
        saves.push(run.now());
        hz.push(f);
        sleep(0.25);
    }
    sleep(0.2);
    let take = Take::stop(run, &w);
    take.log_latencies("latency");
    let c = take.expect_cues(20, "lat.rhai");
    take.expect_cues_match_log();
    let (lat, wall) = expect_swaps_follow_saves(&take, &saves, &c);
    let ms = |v: &[f64]| v.iter().map(|l| l * 1000.0).collect::<Vec<f64>>();
    let (p50, p95) = p50_p95(&ms(&lat));
    let (w50, w95) = p50_p95(&ms(&wall));
    let reported: Vec<f64> = take.reloads().iter().map(|(ms, _)| *ms).collect();
    let (r50, r95) = p50_p95(&reported);
    eprintln!(
        "latency over 20 edits: save → cue on the transport p50 {p50:.1} ms, p95 {p95:.1} ms; \
         save → log line p50 {w50:.1} ms, p95 {w95:.1} ms; reported `in X ms` p50 {r50:.1} ms, \
         p95 {r95:.1} ms"
    );
    for i in 0..20 {
        let end = if i + 1 < 20 { c[i + 1] } else { take.secs() };
        take.expect_pitch(
            c[i] + FADE + 0.02,
            end - 0.005,
            hz[i],
            &format!("after edit {i}"),
        );
    }
}

/// Live stems: a recording of a script with `.track`s writes one stem per track beside the
/// mix, as long as the mix and summing to it; a track added by an edit is silent before
/// the edit lands and recorded from then on.
#[test]
fn live_stems_follow_the_tracks_through_an_edit() {
    if !audio_or_skip() {
        return;
    }
    let w = work("stems", "");
    let v1 = "mix([(sine(220) * 0.3).track(\"low\")])\n";
    let v2 = "mix([(sine(220) * 0.3).track(\"low\"), (sine(330) * 0.2).track(\"high\")])\n";
    w.dir.write("song.rhai", v1);
    let run = w.play("song.rhai", &[]);
    sleep(0.8);
    w.write_by_rename("song.rhai", v2);
    sleep(0.8);
    let take = Take::stop(run, &w);
    let c = take.expect_cues(1, "song.rhai");
    for name in ["low", "high"] {
        let line = format!("Stem saved: output/realtime_recording__{name}.wav (");
        assert!(
            take.out.stdout.contains(&line),
            "no `{line}…` line\n{}",
            take.out.describe()
        );
    }
    let (ch_low, low) = read_wav(&w.path("output/realtime_recording__low.wav"));
    let (ch_high, high) = read_wav(&w.path("output/realtime_recording__high.wav"));
    assert_eq!((ch_low, ch_high), (2, 2));
    let n = take.left.len();
    assert_eq!(low.len(), 2 * n, "the stem is as long as the mix");
    assert_eq!(high.len(), 2 * n, "the stem is as long as the mix");
    let swap = frame(c[0]);
    // Before the edit the new track is silence; after it, it plays.
    assert!(
        high[..2 * swap].iter().all(|v| *v == 0.0),
        "sound before the track existed"
    );
    assert!(high[2 * (swap + 100)..].iter().any(|v| v.abs() > 0.1));
    // Outside the crossfade the stems sum to the mix (the mix fades the new track in, the
    // stems take it from the swap).
    let fade_end = swap + frame(FADE) + 64;
    for i in (0..n).filter(|&i| i < swap || i > fade_end) {
        let sum = low[2 * i] + high[2 * i];
        assert!(
            (sum - take.left[i]).abs() < 1e-5,
            "frame {i}: stems sum to {sum}, the mix is {}",
            take.left[i]
        );
    }
}
