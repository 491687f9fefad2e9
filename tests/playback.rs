//! End to end, as a user: the `waves` binary plays through the real audio path (cpal's
//! default ALSA host → ALSA's pulse plugin → a PulseAudio null sink, paced in real time),
//! is stopped by SIGINT, SIGTERM, SIGHUP or by the end of the piece, and leaves a recording
//! that equals an offline render of the same script sample for sample.
//!
//! The server comes from `.ci/with-audio` (CI runs
//! `.ci/with-audio env WAVES_REQUIRE_AUDIO=1 cargo test --release --test playback`).
//! Without a server the tests that need one are skipped, unless `WAVES_REQUIRE_AUDIO` is
//! set, when they fail. Each test works in its own temporary folder, so they run in
//! parallel (the null sink mixes their streams; each is still paced by the sink's clock).

mod common;
use common::audio_or_skip;
use common::process::{Outcome, Running, Work, read_wav};

use std::time::Duration;

const SR: u32 = 48_000;
/// Whole-process time allowed on top of the audio for compiling, opening the device and
/// saving (generous: CI machines are shared and noisy; a few hundred ms when idle).
const STARTUP: f64 = 4.0;
/// Audio seconds per wall second while playing: at most 15 % fast (a device that does not
/// pace cannot pass), and down to 25 % slow, for a busy machine where the server's clock
/// runs on while the stream is held up (and a stream at half speed still fails).
const PACE: std::ops::RangeInclusive<f64> = 0.75..=1.15;

// ---------------------------------------------------------------------------------------
// The audio server

/// A working folder with the base settings (output_dir, master_gain 0.8) and `extra_config`.
fn work(test: &str, extra_config: &str) -> Work {
    Work::new(
        "playback",
        test,
        &format!("let output_dir = \"output\";\nlet master_gain = 0.8;\n{extra_config}\n"),
    )
}

// ---------------------------------------------------------------------------------------
// Reading what it printed and wrote

/// Parses `Played X.XX s of audio in Y.YY s`: (audio seconds, wall seconds).
fn played(out: &Outcome) -> (f64, f64) {
    let line = out.line("Played ").unwrap_or_else(|| {
        panic!(
            "no `Played ... s of audio in ... s` line\n{}",
            out.describe()
        )
    });
    let w: Vec<&str> = line.split_whitespace().collect();
    let parsed = match w.as_slice() {
        ["Played", x, "s", "of", "audio", "in", y, "s", ..] => x.parse().ok().zip(y.parse().ok()),
        _ => None,
    };
    parsed.unwrap_or_else(|| panic!("cannot parse {line:?}\n{}", out.describe()))
}

/// Parses `Recording saved: PATH (S.SS seconds)`: (path as printed, seconds).
fn recording_saved(out: &Outcome) -> (String, f64) {
    let line = out
        .line("Recording saved: ")
        .unwrap_or_else(|| panic!("no `Recording saved: ...` line\n{}", out.describe()));
    let rest = &line["Recording saved: ".len()..];
    let parsed = rest.rsplit_once(" (").and_then(|(path, tail)| {
        let secs = tail.strip_suffix(" seconds)")?.parse().ok()?;
        Some((path.to_string(), secs))
    });
    parsed.unwrap_or_else(|| panic!("cannot parse {line:?}\n{}", out.describe()))
}

/// A take must be whole: waves says loudly when the recorder dropped frames.
fn assert_nothing_dropped(out: &Outcome) {
    assert!(
        !out.stderr.to_lowercase().contains("dropped"),
        "the recorder dropped frames\n{}",
        out.describe()
    );
}

/// Asserts that `rec` (interleaved stereo) equals the start of `reference` sample for
/// sample. On a mismatch it says where, and whether the take is the render shifted.
fn assert_same_samples(rec: &[f32], reference: &[f32]) {
    let n = rec.len();
    let reference = &reference[..n];
    let Some(first) = (0..n).find(|&i| rec[i].to_bits() != reference[i].to_bits()) else {
        return;
    };
    let differing = (0..n)
        .filter(|&i| rec[i].to_bits() != reference[i].to_bits())
        .count();
    // Is the recording the render moved by a whole number of frames (a late or early tap)?
    let probe = 4096.min(n / 2) & !1;
    let shift = (1..=24_000usize).find_map(|lag| {
        let l = lag * 2;
        if l + probe <= n && rec[l..l + probe] == reference[..probe] {
            Some(format!(
                "the recording is the render delayed by {lag} frames"
            ))
        } else if l + probe <= n && rec[..probe] == reference[l..l + probe] {
            Some(format!("the recording starts {lag} frames into the render"))
        } else {
            None
        }
    });
    panic!(
        "the recording differs from the offline render: {differing} of {n} samples; first at \
         frame {} (channel {}): recorded {} vs rendered {}{}",
        first / 2,
        first % 2,
        rec[first],
        reference[first],
        shift.map(|s| format!("; {s}")).unwrap_or_default()
    );
}

// ---------------------------------------------------------------------------------------
// The tests

/// Peaks at 1.5 after master gain 0.8, so the recording must keep values above full scale.
const LOUD: &str = "sine(220) * 1.875\n";

/// A 3 s piece is played at the device's pace: 48 000 frames per wall second (`PACE`).
#[test]
fn pacing_matches_the_wall_clock() {
    if !audio_or_skip() {
        return;
    }
    let w = work("pacing", "let release_tail = 0.0;");
    w.dir.write("pace.rhai", "duration(3);\nsine(440) * 0.1\n");
    let out = w.run(&["play", "pace.rhai"], Duration::from_secs(30));
    assert!(out.status.success(), "{}", out.describe());
    let (audio, wall) = played(&out);
    assert!(
        (audio - 3.0).abs() < 0.05,
        "played {audio} s of a 3 s piece with no tail\n{}",
        out.describe()
    );
    let ratio = audio / wall;
    assert!(
        PACE.contains(&ratio),
        "{audio} s of audio in {wall} s of wall time: {:.0} frames per second, not 48000 \
         within {PACE:?}\n{}",
        ratio * SR as f64,
        out.describe()
    );
    assert!(
        out.wall >= 3.0 / PACE.end() && out.wall <= 3.0 / PACE.start() + STARTUP,
        "the whole process took {:.2} s for a 3 s piece\n{}",
        out.wall,
        out.describe()
    );
}

/// Plays a piece with no duration, recording, stops it with `signal` after about 2 s, and
/// checks the exit, the recording's length and its samples against an offline render.
fn stopped_by(signal: &str) {
    if !audio_or_skip() {
        return;
    }
    let test = format!("signal-{}", signal.to_lowercase());
    let w = work(&test, "let release_tail = 0.0;");
    w.dir.write("loud.rhai", LOUD);
    let run = w.spawn(&["play", "loud.rhai", "--record"]);
    std::thread::sleep(Duration::from_secs(2));
    run.signal(signal);
    let out = run.finish(Duration::from_secs(20));
    assert_eq!(
        out.status.code(),
        Some(0),
        "SIG{signal} must end playback with exit code 0\n{}",
        out.describe()
    );
    let (audio, wall) = played(&out);
    let (printed, secs) = recording_saved(&out);
    assert_eq!(
        printed,
        "output/realtime_recording.wav",
        "{}",
        out.describe()
    );
    let (channels, rec) = read_wav(&w.path("output/realtime_recording.wav"));
    assert_eq!(channels, 2);
    let frames = rec.len() / 2;
    let rec_secs = frames as f64 / SR as f64;
    assert!(
        frames > SR as usize,
        "only {frames} frames recorded in about 2 s\n{}",
        out.describe()
    );
    assert!(
        (rec_secs - secs).abs() <= 0.01,
        "the file holds {rec_secs:.3} s but waves said {secs} s"
    );
    assert!(
        (rec_secs - audio).abs() <= 0.05,
        "the recording is {rec_secs:.3} s long but {audio} s were played\n{}",
        out.describe()
    );
    assert!(
        PACE.contains(&(rec_secs / wall)),
        "the recording is {rec_secs:.3} s long but playback lasted {wall} s of wall time \
         (not within {PACE:?})\n{}",
        out.describe()
    );
    let peak = rec.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(
        peak > 1.4 && peak <= 1.5 + 1e-4,
        "the recording peaks at {peak}, expected 1.5 (unclipped: the tap is before clipping)"
    );
    assert_nothing_dropped(&out);
    let reference = w.offline_render("loud.rhai", frames);
    assert_same_samples(&rec, &reference);
}

#[test]
fn sigint_stops_and_saves_the_recording() {
    stopped_by("INT");
}

#[test]
fn sigterm_stops_and_saves_the_recording() {
    stopped_by("TERM");
}

#[test]
fn sighup_stops_and_saves_the_recording() {
    stopped_by("HUP");
}

/// The piece ends by itself: duration 2 s plus a 0.5 s release tail, then it stops.
#[test]
fn the_end_of_the_duration_stops_and_saves() {
    if !audio_or_skip() {
        return;
    }
    let w = work("duration-end", "let release_tail = 0.5;");
    w.dir.write("two.rhai", &format!("duration(2);\n{LOUD}"));
    let out = w.run(&["two.rhai", "--record"], Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", out.describe());
    let (audio, _) = played(&out);
    assert!(
        (audio - 2.5).abs() <= 0.05,
        "played {audio} s of a 2 s piece with a 0.5 s tail\n{}",
        out.describe()
    );
    let (printed, _) = recording_saved(&out);
    assert_eq!(printed, "output/realtime_recording.wav");
    let (channels, rec) = read_wav(&w.path("output/realtime_recording.wav"));
    assert_eq!(channels, 2);
    let frames = rec.len() / 2;
    let rec_secs = frames as f64 / SR as f64;
    assert!(
        (rec_secs - 2.5).abs() <= 0.05,
        "the recording is {rec_secs:.3} s long, expected 2.5 s (2 s + 0.5 s tail)\n{}",
        out.describe()
    );
    assert!(
        out.wall >= 2.5 / PACE.end() && out.wall <= 2.5 / PACE.start() + STARTUP,
        "the whole process took {:.2} s for 2.5 s of audio\n{}",
        out.wall,
        out.describe()
    );
    assert_nothing_dropped(&out);
    let reference = w.offline_render("two.rhai", frames);
    assert_same_samples(&rec, &reference);
}

/// A sequenced piece in four tracks, with the shared drum, bass and pad patches, a WAV
/// sample, noise with seeded chance, a compressor, a chorus, a delay and two reverbs.
const SONG: &str = r#"tempo(150);
duration(3);
import "patches/drums" as drums;
import "patches/basses" as basses;
import "patches/pads" as pads;
let kit = mix([
    pattern("x ~ x [~ x]").play(drums::kick()),
    pattern("~ x").play(drums::clap()) * 0.5,
    pattern("x*8?0.5").play(drums::hat()) * 0.3,
    pattern("x(3,8)").play(|v| sample("samples/rim.wav")).pan(0.3) * 0.4,
]).comp(-12, 3);
let bass = pattern("<[a1 a2 e2 g2] [f1 f2 c2 eb2]>").legato(0.6).play(basses::acid(1600)) * 0.5;
let chords = pattern("<[a3,c4,e4] [f3,a3,c4]>").play(pads::warm()).chorus(0.2, 0.5).reverb(0.4, 2) * 0.5;
let lead = pattern("[e5 ~ d5 c5]*2").play(pads::lead()).delay(beats(0.75), 0.4, 0.5).reverb(0.3, 2) * 0.5;
mix([kit.track("drums"), bass.pan(-0.1).track("bass"), chords.track("chords"), lead.pan(0.2).track("lead")])
"#;

/// Copies `scripts/<sub>/*` into the working folder's `<sub>/`.
fn copy_scripts(w: &Work, sub: &str) {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(sub);
    std::fs::create_dir_all(w.path(sub)).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), w.path(sub).join(entry.file_name())).unwrap();
    }
}

/// A whole piece (patches, a sample, four tracks, effects with long tails) played through
/// the device and recorded, mix and stems, equals its offline render sample for sample.
#[test]
fn a_sequenced_song_with_samples_and_effects_records_as_it_renders() {
    if !audio_or_skip() {
        return;
    }
    let w = work("song", "let release_tail = 0.5;");
    copy_scripts(&w, "patches");
    copy_scripts(&w, "samples");
    w.dir.write("song.rhai", SONG);
    let out = w.run(&["song.rhai", "--record"], Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", out.describe());
    assert_nothing_dropped(&out);
    let (printed, _) = recording_saved(&out);
    assert_eq!(printed, "output/realtime_recording.wav");
    let (channels, rec) = read_wav(&w.path("output/realtime_recording.wav"));
    assert_eq!(channels, 2);
    let frames = rec.len() / 2;
    assert_eq!(
        frames,
        (3.5 * SR as f64) as usize,
        "3 s of piece and a 0.5 s tail\n{}",
        out.describe()
    );
    let peak = rec.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(peak > 0.1, "the take is nearly silent (peak {peak})");
    let reference = w.offline_render("song.rhai", frames);
    assert_same_samples(&rec, &reference);
    for track in ["drums", "bass", "chords", "lead"] {
        let (ch, live) = read_wav(&w.path(&format!("output/realtime_recording__{track}.wav")));
        let (_, rendered) = read_wav(&w.path(&format!("reference__{track}.wav")));
        assert_eq!(ch, 2);
        assert_eq!(
            live.len(),
            rec.len(),
            "the {track} stem is as long as the mix"
        );
        let stem_peak = live.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(stem_peak > 0.01, "the {track} stem is silent");
        assert_same_samples(&live, &rendered);
    }
}

/// A second take never overwrites the first; `--output` names a take.
#[test]
fn recordings_are_never_overwritten() {
    if !audio_or_skip() {
        return;
    }
    let w = work("naming", "let release_tail = 0.0;");
    w.dir
        .write("short.rhai", "duration(0.3);\nsine(330) * 0.2\n");
    for expected in [
        "output/realtime_recording.wav",
        "output/realtime_recording_2.wav",
    ] {
        let out = w.run(&["short.rhai", "--record"], Duration::from_secs(20));
        assert_eq!(out.status.code(), Some(0), "{}", out.describe());
        let (printed, secs) = recording_saved(&out);
        assert_eq!(printed, expected, "{}", out.describe());
        assert!((secs - 0.3).abs() <= 0.05, "{}", out.describe());
    }
    let out = w.run(
        &["play", "short.rhai", "--record", "--output", "take.wav"],
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(0), "{}", out.describe());
    assert_eq!(recording_saved(&out).0, "output/take.wav");
    for f in [
        "realtime_recording.wav",
        "realtime_recording_2.wav",
        "take.wav",
    ] {
        let (_, samples) = read_wav(&w.path(&format!("output/{f}")));
        let secs = samples.len() as f64 / 2.0 / SR as f64;
        assert!((secs - 0.3).abs() <= 0.05, "output/{f} holds {secs} s");
    }
}

/// With no audio server (and so no ALSA device), `waves FILE` says why in one line, renders
/// offline into output/ instead, says where, and exits 0. Needs no server.
#[test]
fn no_device_falls_back_to_an_offline_render() {
    let w = work("no-device", "let release_tail = 0.0;");
    w.dir
        .write("nodev.rhai", "duration(0.5);\nsine(440) * 0.2\n");
    let mut cmd = w.command(&["nodev.rhai"]);
    cmd.env("PULSE_SERVER", "unix:/nonexistent/socket");
    if has_sound_card() {
        // A real card would make ALSA's default device work; an ALSA configuration that
        // defines no device keeps this test about the no-device path on any machine.
        w.dir.write("alsa-empty.conf", "# no devices\n");
        cmd.env("ALSA_CONFIG_PATH", w.path("alsa-empty.conf"));
    }
    let out = Running::watch(cmd.spawn().expect("spawn waves")).finish(Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", out.describe());
    let why: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.to_lowercase().contains("audio"))
        .collect();
    assert_eq!(
        why.len(),
        1,
        "expected one stderr line that says why audio is unavailable\n{}",
        out.describe()
    );
    assert!(
        why[0].len() > 40,
        "the line should carry the device error: {:?}",
        why[0]
    );
    assert!(
        !out.stderr.lines().any(|l| l.starts_with("ALSA lib ")),
        "libasound's own chatter reached stderr (the reason should be one line)\n{}",
        out.describe()
    );
    assert!(
        out.line("Played ").is_none(),
        "nothing can have been played\n{}",
        out.describe()
    );
    let line = out
        .line("Rendered output/")
        .unwrap_or_else(|| panic!("no `Rendered output/...` line\n{}", out.describe()));
    let path = line["Rendered ".len()..]
        .split(": ")
        .next()
        .unwrap_or_default();
    let (channels, samples) = read_wav(&w.path(path));
    assert_eq!(channels, 2);
    assert_eq!(
        samples.len(),
        2 * SR as usize / 2,
        "{path}: 0.5 s of stereo"
    );
}

/// Whether ALSA sees a sound card here (CI containers have none).
fn has_sound_card() -> bool {
    std::fs::read_to_string("/proc/asound/cards")
        .map(|s| {
            s.lines()
                .any(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        })
        .unwrap_or(false)
}

/// `waves devices` lists the outputs (the server's at least) and a MIDI section.
#[test]
fn devices_lists_outputs_and_midi() {
    if !audio_or_skip() {
        return;
    }
    let w = work("devices", "");
    let out = w.run(&["devices"], Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", out.describe());
    let lines: Vec<&str> = out.stdout.lines().collect();
    let midi = lines
        .iter()
        .position(|l| l.contains("MIDI"))
        .unwrap_or_else(|| panic!("no MIDI section\n{}", out.describe()));
    let outputs: Vec<&&str> = lines[..midi]
        .iter()
        .filter(|l| {
            l.starts_with(char::is_whitespace)
                && !l.trim().is_empty()
                && !l.contains("(none)")
                && !l.contains("cannot")
        })
        .collect();
    assert!(
        !outputs.is_empty(),
        "no output device listed before the MIDI section\n{}",
        out.describe()
    );
    assert!(
        outputs
            .iter()
            .any(|l| l.trim_start().starts_with('*') || l.to_lowercase().contains("(default)")),
        "no output is marked as the default (`* NAME` or `NAME (default)`)\n{}",
        out.describe()
    );
    assert!(
        lines.len() > midi + 1,
        "the MIDI section is empty (it should list ports or say MIDI is unavailable)\n{}",
        out.describe()
    );
}
