//! MIDI end to end, as a player would use it: `waves play SCRIPT --record` runs with its
//! virtual MIDI port on a JACK server (the dummy driver, started by `.ci/with-audio`) and
//! sound through PulseAudio; the test plays a midir output into that port, stops waves with
//! SIGINT, and reads the recording: pitches, note starts against when they were sent,
//! silence after releases, sustain, pitch bend, a knob moving a filter, a clock setting the
//! tempo, bursts and malformed bytes.
//!
//! Needs `--features jack` (midir's JACK backend; the machines have no ALSA sequencer). A
//! test skips when there is no JACK or PulseAudio server, unless `WAVES_REQUIRE_AUDIO` is
//! set, when it fails.

mod common;
use common::audio_or_skip;
use common::process::{Running, Work, read_wav};
use std::time::Duration;

const SR: f64 = 48_000.0;

fn work(test: &str, extra: &str) -> Work {
    Work::new(
        "midi",
        test,
        &format!(
            "let output_dir = \"output\";\nlet master_gain = 1.0;\nlet release_tail = 0.0;\n{extra}\n"
        ),
    )
}

/// The recording's left and right channels.
fn take(w: &Work) -> (Vec<f32>, Vec<f32>) {
    let (ch, s) = read_wav(&w.path("output/realtime_recording.wav"));
    assert_eq!(ch, 2);
    (
        s.iter().step_by(2).copied().collect(),
        s.iter().skip(1).step_by(2).copied().collect(),
    )
}

fn stop(run: Running) -> String {
    run.interrupt();
    let out = run.finish(Duration::from_secs(20));
    assert!(out.status.success(), "{}", out.describe());
    assert!(out.stdout.contains("Recording saved"), "{}", out.describe());
    assert!(!out.stderr.contains("dropped"), "{}", out.describe());
    out.stderr
}

fn at(secs: f64) -> usize {
    (secs * SR).round().max(0.0) as usize
}

fn peak(x: &[f32], from: f64, to: f64) -> f32 {
    x[at(from).min(x.len())..at(to).min(x.len())]
        .iter()
        .fold(0.0, |m, v| m.max(v.abs()))
}

/// Frames where the signal starts after at least 20 ms below the threshold.
#[cfg(feature = "jack")]
fn onsets(x: &[f32], threshold: f32) -> Vec<usize> {
    let mut quiet = 0usize;
    let mut out = Vec::new();
    for (i, v) in x.iter().enumerate() {
        if v.abs() > threshold {
            if quiet >= at(0.02) {
                out.push(i);
            }
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    out
}

#[test]
fn without_midi_it_warns_once_and_plays_on() {
    if !audio_or_skip() {
        return;
    }
    let w = work("none", "");
    w.dir.write("t.rhai", "sine(220) * 0.2");
    let mut c = w.command(&["play", "t.rhai", "--record"]);
    // A JACK server that does not exist (with the jack feature), no ALSA sequencer here.
    c.env("JACK_DEFAULT_SERVER", "waves-no-such-server");
    let mut run = Running::watch(c.spawn().expect("spawn waves"));
    run.wait_for("Playing ");
    std::thread::sleep(Duration::from_millis(500));
    let err = stop(run);
    let midi: Vec<&str> = err.lines().filter(|l| l.contains("MIDI")).collect();
    assert_eq!(midi.len(), 1, "{err}");
    assert!(
        midi[0].contains("unavailable") || midi[0].contains("listening to virtual port"),
        "{err}"
    );
    let (l, _) = take(&w);
    assert!(peak(&l, 0.1, 0.4) > 0.19);
}

#[cfg(feature = "jack")]
mod jack {
    use super::*;
    use midir::{MidiOutput, MidiOutputConnection};
    use std::time::Instant;

    /// Every waves in these tests opens a virtual port named `waves` on the one JACK
    /// server; JACK renames a second one, so the tests take turns.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn turn() -> std::sync::MutexGuard<'static, ()> {
        ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when a JACK server answers as `$JACK_DEFAULT_SERVER` (and PulseAudio plays).
    fn servers_or_skip() -> bool {
        if !audio_or_skip() {
            return false;
        }
        if common::jack_answers() {
            return true;
        }
        if std::env::var_os("WAVES_REQUIRE_AUDIO").is_some() {
            panic!(
                "WAVES_REQUIRE_AUDIO is set but no JACK server answers (run through .ci/with-audio)"
            );
        }
        eprintln!("skipped: no JACK server");
        false
    }

    /// A MIDI keyboard: a midir output connected to waves' virtual port, and the clock it
    /// plays by.
    struct Keys {
        out: MidiOutputConnection,
        t0: Instant,
    }

    impl Keys {
        fn connect() -> Keys {
            let started = Instant::now();
            loop {
                let out = MidiOutput::new("waves-test-keys").expect("a JACK MIDI client");
                let port = out.ports().into_iter().find(|p| {
                    out.port_name(p)
                        .is_ok_and(|n| n.ends_with(":waves") && n.starts_with("waves"))
                });
                if let Some(p) = port {
                    let mut out = out.connect(&p, "out").expect("connect to waves:waves");
                    // Give JACK a few periods to settle the connection, keeping the new
                    // path busy with active sensing (which waves ignores): on a busy
                    // machine the first messages after a connection can come late.
                    for _ in 0..30 {
                        out.send(&[0xFE]).expect("send MIDI");
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    return Keys {
                        out,
                        t0: Instant::now(),
                    };
                }
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "waves' virtual port never appeared"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }

        /// Sends `bytes` at `secs` after t0; returns when it was sent.
        fn at(&mut self, secs: f64, bytes: &[u8]) -> f64 {
            let due = self.t0 + Duration::from_secs_f64(secs);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            self.out.send(bytes).expect("send MIDI");
            self.t0.elapsed().as_secs_f64()
        }
    }

    const JACK_PERIOD: usize = 1024;
    /// How far a note may start from when it was sent, relative to the others: a JACK
    /// period when the machine is idle; the server (dummy driver) and waves run without
    /// real-time scheduling here, so a busy machine moves notes by up to a few periods.
    const NOTE_TOLERANCE: usize = 4 * JACK_PERIOD;

    #[test]
    fn notes_sustain_bend_and_a_knob_are_played_and_recorded() {
        let _turn = turn();
        if !servers_or_skip() {
            return;
        }
        let w = work("notes", "");
        w.dir.write(
            "keys.rhai",
            "let keys = midi_notes().play(|v| sine(v.freq) * adsr(v.gate, 0.003, 0.01, 1.0, 0.005) * v.vel * 0.5);\n\
             let bright = saw(110).lpf(cc(74).range(200, 8000), 0.7) * 0.3;\n\
             stereo(keys, bright)\n",
        );
        let run = w.play("keys.rhai", &[]);
        let mut k = Keys::connect();
        let mut sent = Vec::new();
        sent.push(k.at(0.0, &[0x90, 69, 127]));
        k.at(0.5, &[0x80, 69, 0]);
        sent.push(k.at(0.8, &[0x90, 76, 127]));
        k.at(1.3, &[0x80, 76, 0]);
        let cc = k.at(1.6, &[0xB0, 74, 127]);
        sent.push(k.at(1.9, &[0x90, 60, 127]));
        let bend = k.at(2.3, &[0xE0, 0x7F, 0x7F]);
        k.at(2.7, &[0xE0, 0x00, 0x40]);
        k.at(2.7, &[0x80, 60, 0]);
        k.at(3.0, &[0xB0, 64, 127]);
        sent.push(k.at(3.1, &[0x90, 64, 127]));
        k.at(3.3, &[0x80, 64, 0]);
        let pedal_up = k.at(3.8, &[0xB0, 64, 0]);
        k.at(4.2, &[]);
        let _ = stop(run);
        let (l, r) = take(&w);
        let found = onsets(&l, 0.02);
        assert_eq!(found.len(), 4, "note starts at frames {found:?}");
        // Each note starts where it was sent, relative to the others (the median of their
        // offsets is the reference), within `NOTE_TOLERANCE` (MIDI crosses JACK once per
        // period).
        let offsets: Vec<i64> = found
            .iter()
            .zip(&sent)
            .map(|(f, s)| *f as i64 - (s * SR).round() as i64)
            .collect();
        let mut sorted = offsets.clone();
        sorted.sort_unstable();
        let reference = sorted[(sorted.len() - 1) / 2];
        let mut worst = 0i64;
        for off in offsets.iter().map(|o| o - reference) {
            worst = worst.max(off.abs());
            assert!(
                off.unsigned_abs() as usize <= NOTE_TOLERANCE,
                "a note started {off} frames from when it was sent (onsets {found:?}, sent {sent:?})"
            );
        }
        eprintln!("note starts within {worst} frames of their sending");
        // Recording time of a sending time.
        let rec = |t: f64| reference as f64 / SR + t;
        let pitch = |from: f64, to: f64| {
            let (a, b) = (at(rec(from)), at(rec(to)).min(l.len()));
            common::zero_cross_hz(&l[a..b], SR)
        };
        for (from, to, hz, what) in [
            (0.05, 0.45, 440.0, "a4"),
            (0.85, 1.25, 659.255, "e5"),
            (1.95, 2.25, 261.626, "c4"),
            (bend + 0.05, bend + 0.35, 293.665, "c4 bent up 2 semitones"),
            (
                3.15,
                3.75,
                329.628,
                "e4, held by the pedal after its note-off",
            ),
        ] {
            let got = pitch(from, to);
            assert!(
                (got - hz).abs() < hz * 0.01,
                "{what}: {got:.2} Hz, expected {hz} Hz"
            );
        }
        // Silent after each release (5 ms), and after the pedal lifts.
        for (from, to) in [(0.55, 0.75), (1.35, 1.85), (pedal_up + 0.05, 4.1)] {
            let p = peak(&l, rec(from), rec(to));
            assert!(p < 1e-3, "sound between {from} and {to} s: peak {p}");
        }
        // The knob opens the filter: many more fast wiggles after it moved.
        let wiggle = |from: f64, to: f64| {
            let x = &r[at(rec(from))..at(rec(to))];
            let d: f64 = x.windows(2).map(|w| ((w[1] - w[0]) as f64).powi(2)).sum();
            let e: f64 = x.iter().map(|v| (*v as f64).powi(2)).sum();
            (d / e.max(1e-12)).sqrt()
        };
        let (before, after) = (wiggle(cc - 0.5, cc - 0.1), wiggle(cc + 0.1, cc + 0.5));
        assert!(
            after > 4.0 * before,
            "cc 74 moved the cutoff: {before} -> {after}"
        );
    }

    #[test]
    fn a_clock_at_100_bpm_sets_the_tempo() {
        let _turn = turn();
        if !servers_or_skip() {
            return;
        }
        let w = work("clock", "");
        w.dir.write(
            "clock.rhai",
            "tempo(\"midi\", 120);\npattern(\"x x x x\").play(|v| sine(1000) * perc(v.gate, 0.001, 0.05)) * 0.5\n",
        );
        let run = w.play("clock.rhai", &[]);
        let mut k = Keys::connect();
        k.at(0.0, &[0xFA]);
        let tick = 60.0 / 100.0 / 24.0;
        for n in 0..(6.0 / tick) as usize {
            k.at(n as f64 * tick, &[0xF8]);
        }
        let _ = stop(run);
        let (l, _) = take(&w);
        let found = onsets(&l, 0.05);
        let secs: Vec<f64> = found.iter().map(|f| *f as f64 / SR).collect();
        let gaps: Vec<f64> = secs.windows(2).map(|w| w[1] - w[0]).collect();
        // The last six beats (after the first two, while the tempo is measured).
        let last = &gaps[gaps.len().saturating_sub(6)..];
        assert!(last.len() >= 6, "beats at {secs:?}");
        for g in last {
            assert!(
                (g - 0.6).abs() < 0.6 * 0.02,
                "a beat lasted {g:.4} s: {gaps:?}"
            );
        }
        eprintln!("beats at 100 BPM lasted {last:?} s");
    }

    #[test]
    fn a_burst_of_64_notes_and_malformed_bytes_are_survived() {
        let _turn = turn();
        if !servers_or_skip() {
            return;
        }
        let w = work("burst", "");
        w.dir.write(
            "burst.rhai",
            "midi_notes().voices(8).play(|v| sine(v.freq) * adsr(v.gate, 0.003, 0.01, 1.0, 0.005) * 0.05)\n",
        );
        let run = w.play("burst.rhai", &[]);
        let mut k = Keys::connect();
        for n in 0..64u8 {
            k.at(0.0, &[0x90, 30 + n, 100]);
        }
        for n in 0..64u8 {
            k.at(0.5, &[0x80, 30 + n, 0]);
        }
        // SysEx, a truncated note-on, stray data bytes, an undefined status, then running
        // status: note-ons 69 and 72 in one message, and their note-offs in another.
        k.at(0.8, &[0xF0, 0x7E, 0x01, 0x02, 0xF7]);
        k.at(0.8, &[0x90, 60]);
        k.at(0.8, &[0x12, 0x34]);
        k.at(0.8, &[0xF4, 0x01]);
        k.at(1.0, &[0x90, 69, 100, 72, 100]);
        k.at(1.5, &[0x80, 69, 0, 72, 0]);
        k.at(1.8, &[0x90, 76, 100]);
        k.at(2.2, &[0x80, 76, 0]);
        k.at(2.5, &[]);
        let _ = stop(run);
        let (l, _) = take(&w);
        let found = onsets(&l, 0.01);
        assert_eq!(found.len(), 3, "sound starts at {found:?}");
        let t = |f: usize| f as f64 / SR;
        // Which notes sound, each at the instrument's level 0.05 (within 20 %, as the
        // window can hold a few milliseconds of a fade), or not at all.
        let heard = |from: usize, notes: std::ops::Range<u8>| -> Vec<u8> {
            let x = &l[from + at(0.05)..from + at(0.45)];
            notes
                .filter(|&n| {
                    let a = common::amplitude(x, common::note_hz(n), SR);
                    assert!(
                        a < 0.002 || (a - 0.05).abs() < 0.01,
                        "note {n} at amplitude {a:.4} (sound starts at {found:?})"
                    );
                    a > 0.025
                })
                .collect()
        };
        // Eight voices: during the burst the newest eight notes sound, the 56 before them
        // were stolen.
        assert_eq!(heard(found[0], 30..94), (86..94).collect::<Vec<u8>>());
        let burst = peak(&l, t(found[0]) + 0.05, t(found[0]) + 0.45);
        assert!(burst <= 8.0 * 0.05 + 1e-3, "burst peak {burst}");
        // The truncated note-on played nothing (no sound starts between the burst and the
        // pair); the running-status pair played both its notes, and its running-status
        // note-offs ended both.
        assert_eq!(heard(found[1], 30..94), [69, 72]);
        let gap = peak(&l, t(found[1]) + 0.55, t(found[2]) - 0.02);
        assert!(gap < 1e-3, "sound after the pair's note-offs: {gap}");
        // The note after all of it plays at its pitch.
        let e5 = common::zero_cross_hz(&l[found[2] + at(0.05)..found[2] + at(0.35)], SR);
        assert!((e5 - 659.255).abs() < 6.6, "{e5}");
    }

    #[test]
    fn knob_positions_persist_across_runs_when_asked() {
        let _turn = turn();
        if !servers_or_skip() {
            return;
        }
        let w = work("persist", "let midi_persist_cc = true;");
        w.dir.write("knob.rhai", "sine(220) * cc(74)\n");
        let run = w.play("knob.rhai", &[]);
        let mut k = Keys::connect();
        k.at(0.0, &[0xB0, 74, 100]);
        k.at(0.5, &[]);
        let _ = stop(run);
        let saved = std::fs::read_to_string(w.path("output/.midi_cc.json")).expect("saved knobs");
        assert!(saved.contains("\"any/74\": 0.787402"), "{saved}");
        assert!(saved.contains("\"1/74\": 0.787402"), "{saved}");
        // The next run starts with the knob where it was left, before any MIDI arrives.
        std::fs::remove_file(w.path("output/realtime_recording.wav")).unwrap();
        let run = w.play("knob.rhai", &[]);
        std::thread::sleep(Duration::from_millis(400));
        let _ = stop(run);
        let (l, _) = take(&w);
        let p = peak(&l, 0.0, 0.3);
        assert!((p - 100.0 / 127.0).abs() < 0.01, "the knob started at {p}");
    }

    #[test]
    fn plays_through_the_jack_audio_host_too() {
        let _turn = turn();
        if !servers_or_skip() {
            return;
        }
        let w = work("jack-audio", "");
        w.dir.write(
            "keys.rhai",
            "midi_notes().play(|v| sine(v.freq) * v.gate * 0.5)\n",
        );
        let run = w.play("keys.rhai", &["--host", "jack"]);
        let mut k = Keys::connect();
        k.at(0.0, &[0x90, 69, 127]);
        k.at(0.6, &[0x80, 69, 0]);
        k.at(0.8, &[]);
        let err = stop(run);
        assert!(
            err.lines()
                .any(|l| l.starts_with("Playing ") && l.contains("JACK host")),
            "{err}"
        );
        let (l, _) = take(&w);
        let found = onsets(&l, 0.02);
        assert_eq!(found.len(), 1, "{found:?}");
        let a = found[0] + at(0.05);
        let hz = common::zero_cross_hz(&l[a..a + at(0.4)], SR);
        assert!((hz - 440.0).abs() < 4.4, "{hz}");
    }

    /// Held notes survive edits that keep their instrument: fewer voices (down to the two
    /// sounding, which sit on voices beyond the new count), the instrument wrapped
    /// (`* 0.5`), more voices again. Each note is measured between the swaps (the cue
    /// frames) as the amplitude of its pitch: present at its level after every edit, and
    /// silent after its note-off (which still finds its voice).
    #[test]
    fn held_notes_survive_voice_count_edits_and_a_wrapped_instrument() {
        let _turn = turn();
        if !servers_or_skip() {
            return;
        }
        let w = work("held", "let crossfade_ms = 30;");
        let play = "play(|v| sine(v.freq) * adsr(v.gate, 0.003, 0.01, 1.0, 0.005) * 0.2)";
        let versions = [
            format!("midi_notes().voices(8).{play}\n"),
            format!("midi_notes().voices(2).{play}\n"),
            format!("midi_notes().voices(2).{play} * 0.5\n"),
            format!("midi_notes().voices(6).{play} * 0.5\n"),
        ];
        w.dir.write("held.rhai", &versions[0]);
        let run = w.play("held.rhai", &[]);
        let mut k = Keys::connect();
        // Four short notes first, so the held ones land on voices 5 and 6 of 8.
        for (i, n) in [48u8, 50, 52, 53].iter().enumerate() {
            k.at(0.05 * i as f64, &[0x90, *n, 100]);
            k.at(0.05 * i as f64 + 0.03, &[0x80, *n, 0]);
        }
        k.at(0.3, &[0x90, 69, 127]);
        k.at(0.3, &[0x90, 76, 127]);
        for (i, v) in versions.iter().enumerate().skip(1) {
            k.at(0.3 + 0.6 * i as f64, &[]);
            w.write_by_rename("held.rhai", v);
        }
        k.at(0.3 + 0.6 * versions.len() as f64, &[0x80, 69, 0]);
        k.at(0.3 + 0.6 * versions.len() as f64, &[0x80, 76, 0]);
        let off = k.at(0.6 + 0.6 * versions.len() as f64, &[]);
        let _ = stop(run);
        let path = w.path("output/realtime_recording.wav");
        let cues: Vec<usize> = waves::record::cue::read_cues(&path)
            .expect("cue markers")
            .iter()
            .map(|c| c.frame as usize)
            .collect();
        assert_eq!(cues.len(), 3, "one swap per edit: {cues:?}");
        let (l, _) = take(&w);
        // The amplitude of `hz` over frames a..b (least squares against sin and cos).
        let amp = |hz: f64, a: usize, b: usize| {
            let wv = 2.0 * std::f64::consts::PI * hz / SR;
            let (mut s, mut c) = (0.0, 0.0);
            for (n, v) in l.iter().enumerate().take(b).skip(a) {
                s += *v as f64 * (wv * n as f64).sin();
                c += *v as f64 * (wv * n as f64).cos();
            }
            let k = 2.0 / (b - a) as f64;
            (s * k).hypot(c * k)
        };
        let span = at(0.2);
        let mut windows = vec![(cues[0] - span - 960, cues[0] - 960, 0.2)];
        for (i, &c) in cues.iter().enumerate() {
            let level = if i == 0 { 0.2 } else { 0.1 };
            windows.push((c + at(0.05), c + at(0.05) + span, level));
        }
        for (i, &(a, b, level)) in windows.iter().enumerate() {
            for hz in [440.0, 659.255] {
                let got = amp(hz, a, b);
                let db = 20.0 * (got / level).log10();
                eprintln!("figures: window {i}, {hz} Hz: amplitude {got:.4} ({db:+.2} dB)");
                assert!(
                    db.abs() < 1.0,
                    "after edit {i}: the held {hz} Hz note is at {got:.4}, expected {level} \
                     (cues {cues:?})"
                );
            }
        }
        // The note-offs found the voices the notes moved to.
        let tail = peak(
            &l,
            (cues[2] as f64 / SR) + 0.6 + 0.1,
            l.len() as f64 / SR - 0.02,
        );
        assert!(
            tail < 1e-3,
            "sound after the note-offs: peak {tail} (sent {off:.2} s after the keys connected)"
        );
    }
}
