//! State kept by what a node is, not where it sits, measured through the real process:
//! `waves play SCRIPT --record` on a PulseAudio null sink (`.ci/with-audio`), the script
//! edited on disk while recording, and the recording read back at the cue frame of each
//! swap. A sine kept across structural edits runs on in phase, its level does not dip, and
//! a reverb's tail rings on when a node is appended after it.
//!
//! Run with `.ci/with-audio env WAVES_REQUIRE_AUDIO=1 cargo test --release --test identity`.

mod common;
use common::audio_or_skip;
use common::process::{Running, Work, read_wav};
use std::time::Duration;
use waves::record::cue::read_cues;

const SR: f64 = 48_000.0;
/// The crossfade set in config.rhai.
const FADE: f64 = 0.030;

fn work(test: &str) -> Work {
    Work::new(
        "identity",
        test,
        &format!(
            "let output_dir = \"output\";\nlet master_gain = 1.0;\nlet release_tail = 0.0;\n\
             let crossfade_ms = {};\n",
            (FADE * 1000.0).round()
        ),
    )
}

fn frame(secs: f64) -> usize {
    (secs * SR).round().max(0.0) as usize
}

/// Plays `versions[0]`, saves each next version `gap` seconds after the previous, stops;
/// returns the recording's channels and the frame of each swap (one cue per edit).
fn take(test: &str, versions: &[String], gap: f64) -> (Work, Vec<f32>, Vec<f32>, Vec<usize>) {
    let w = work(test);
    w.dir.write("live.rhai", &versions[0]);
    let run: Running = w.play("live.rhai", &[]);
    for v in &versions[1..] {
        std::thread::sleep(Duration::from_secs_f64(gap));
        w.write_by_rename("live.rhai", v);
    }
    std::thread::sleep(Duration::from_secs_f64(gap));
    run.interrupt();
    let out = run.finish(Duration::from_secs(20));
    assert!(out.status.success(), "{}", out.describe());
    assert!(!out.stderr.contains("dropped"), "{}", out.describe());
    let path = w.path("output/realtime_recording.wav");
    let (ch, s) = read_wav(&path);
    assert_eq!(ch, 2);
    let cues: Vec<usize> = read_cues(&path)
        .expect("cue markers")
        .iter()
        .map(|c| c.frame as usize)
        .collect();
    assert_eq!(
        cues.len(),
        versions.len() - 1,
        "one swap per edit: cues at {cues:?}\n{}",
        out.describe()
    );
    let l = s.iter().step_by(2).copied().collect();
    let r = s.iter().skip(1).step_by(2).copied().collect();
    (w, l, r, cues)
}

/// Amplitude and phase of the `hz` component of `x[a..b]`, phase taken at frame `at`
/// (least squares against sin/cos; windows of whole periods reject other harmonics).
fn fit(x: &[f32], hz: f64, a: usize, b: usize, at: usize) -> (f64, f64) {
    let w = 2.0 * std::f64::consts::PI * hz / SR;
    let (mut s, mut c) = (0.0, 0.0);
    for (n, v) in x.iter().enumerate().take(b).skip(a) {
        let th = w * (n as f64 - at as f64);
        s += *v as f64 * th.sin();
        c += *v as f64 * th.cos();
    }
    let k = 2.0 / (b - a) as f64;
    ((s * k).hypot(c * k), c.atan2(s))
}

fn wrap(d: f64) -> f64 {
    let tau = 2.0 * std::f64::consts::PI;
    let d = d.rem_euclid(tau);
    if d > std::f64::consts::PI { d - tau } else { d }
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// The lowest level (RMS over one period of `hz`, in dB) from `a` to `b`, against `reference`.
fn worst_dip_db(x: &[f32], hz: f64, a: usize, b: usize, reference: f64) -> (f64, usize) {
    let period = (SR / hz).round() as usize;
    (a..b.saturating_sub(period))
        .step_by(8)
        .map(|i| (20.0 * (rms(&x[i..i + period]) / reference).log10(), i))
        .fold((f64::INFINITY, 0), |m, v| if v.0 < m.0 { v } else { m })
}

/// A 220 Hz sine goes through structural edits around it — a filter inserted and removed,
/// a gain appended, `* 1.0`, a mix member inserted at the front — and each time keeps its
/// phase (within 1°, after taking out the phase the edit itself adds: the filter's, measured
/// on offline renders of the two versions) and its level (no dip beyond 1 dB).
#[test]
fn a_kept_sine_runs_on_through_structural_edits() {
    if !audio_or_skip() {
        return;
    }
    let versions: Vec<String> = [
        "sine(220) * 0.5",
        "sine(220).lpf(5000) * 0.5",
        "sine(220) * 0.5",
        "sine(220).gain(1) * 0.5",
        "sine(220).gain(1) * 0.5 * 1.0",
        "sine(220).drive(0.5) * 0.5",
        "mix([sine(880) * 0.1, sine(220).drive(0.5) * 0.5])",
        "mix([sine(880) * 0.1, sine(220) * 0.5])",
    ]
    .iter()
    .map(|s| format!("{s}\n"))
    .collect();
    let (w, left, _, cues) = take("sine", &versions, 0.6);
    // Windows of whole periods of 220 Hz (and so of 880 Hz): 40 periods.
    let span = frame(40.0 / 220.0);
    let mut worst_phase: f64 = 0.0;
    let mut worst_dip = f64::INFINITY;
    for (i, &cue) in cues.iter().enumerate() {
        let (b0, b1) = (cue - span - 96, cue - 96);
        let a0 = cue + frame(FADE + 0.02);
        let a1 = a0 + span;
        assert!(
            a1 < cues.get(i + 1).copied().unwrap_or(left.len()),
            "edit {i}: edits too close together to measure (cues {cues:?})"
        );
        let (amp_b, before) = fit(&left, 220.0, b0, b1, cue);
        let (amp_a, after) = fit(&left, 220.0, a0, a1, cue);
        // What the edit itself does to the 220 Hz component (a filter's phase shift, the
        // drive's level): the same windows of offline renders of both versions from t = 0.
        w.dir.write("a.rhai", &versions[i]);
        w.dir.write("b.rhai", &versions[i + 1]);
        let n = a1 + 64;
        let (ra, rb) = (w.offline_left("a.rhai", n), w.offline_left("b.rhai", n));
        let (_, pa) = fit(&ra, 220.0, b0, b1, cue);
        let (_, pb) = fit(&rb, 220.0, a0, a1, cue);
        let jump = wrap((after - before) - (pb - pa)).to_degrees();
        eprintln!(
            "edit {i} ({:?} → {:?}) at frame {cue}: phase jump {jump:.4}°, 220 Hz amplitude \
             {amp_b:.4} → {amp_a:.4}",
            versions[i].trim(),
            versions[i + 1].trim()
        );
        worst_phase = worst_phase.max(jump.abs());
        assert!(
            jump.abs() <= 1.0,
            "edit {i}: the kept sine's phase jumps by {jump:.3}° at the swap"
        );
        // Level through the swap and its crossfade, against the lower of the steady levels
        // before and after.
        let steady = rms(&left[b0..b1]).min(rms(&left[a0..a1]));
        let (dip, at) = worst_dip_db(&left, 220.0, cue - frame(0.02), a0, steady);
        worst_dip = worst_dip.min(dip);
        assert!(
            dip >= -1.0,
            "edit {i}: the level dips by {dip:.2} dB at frame {at} (swap at {cue})"
        );
    }
    eprintln!(
        "figures: {} edits, worst phase jump {worst_phase:.4}°, worst level dip {worst_dip:.3} dB",
        cues.len()
    );
}

/// A decaying hit rings through a reverb; `.gain(1)` is appended after the reverb while it
/// rings. The reverb is matched and keeps its lines: over the 200 ms after the swap the
/// tail's RMS is within 1 dB of an offline render of the unedited script (the same take
/// without the edit), and so is a delay's echo.
#[test]
fn a_reverb_or_delay_tail_rings_on_when_a_node_is_appended_after_it() {
    if !audio_or_skip() {
        return;
    }
    for (name, fx) in [("reverb", ".reverb(1.0, 3)"), ("delay", ".delay(0.1, 0.7)")] {
        // One hit at 0 s (tempo 30: the next would come 8 s later).
        let hit = format!("tempo(30);\n(saw(220) * perc(metro(4), 0.001, 0.05)){fx}");
        let versions = vec![format!("{hit}\n"), format!("{hit}.gain(1)\n")];
        let (w, left, right, cues) = take(name, &versions, 0.5);
        let cue = cues[0];
        let n = cue + frame(0.25);
        w.dir.write("plain.rhai", &versions[0]);
        let whole = w.offline_render("plain.rhai", n);
        let (ol, or): (Vec<f32>, Vec<f32>) = (
            whole.iter().step_by(2).copied().collect(),
            whole.iter().skip(1).step_by(2).copied().collect(),
        );
        let (a, b) = (cue, cue + frame(0.2));
        for (side, got, want) in [("left", &left, &ol), ("right", &right, &or)] {
            let (g, e) = (rms(&got[a..b]), rms(&want[a..b]));
            let db = 20.0 * (g / e).log10();
            eprintln!(
                "figures: {name} tail ({side}) over 200 ms after the swap at frame {cue}: RMS \
                 {g:.5} vs {e:.5} unedited, {db:+.3} dB"
            );
            assert!(
                e > 1e-3,
                "{name}: the unedited take has no tail to compare ({e})"
            );
            assert!(
                db.abs() <= 1.0,
                "{name} ({side}): the tail after the swap is {db:+.2} dB from the unedited take"
            );
        }
    }
}
