//! Patterns, instruments and voices, samples and stems, through whole scripts rendered
//! offline: where notes land (to the sample), what voices do, and what files come out.

mod common;

use common::{SR, TempDir, amplitude, mono, note_hz, render};
use std::path::Path;
use std::process::Command;
use waves::script::compile_source;

/// Frames where `x` rises from (near) zero: note starts of a gate-like signal.
fn rises(x: &[f32]) -> Vec<usize> {
    (0..x.len())
        .filter(|&i| x[i] > 0.5 && (i == 0 || x[i - 1] <= 0.5))
        .collect()
}

const BEAT: usize = 24_000; // frames per beat at 120 BPM, 48 kHz
const BAR: usize = 4 * BEAT;

#[test]
fn a_step_at_beat_one_of_bar_three_starts_on_its_exact_sample() {
    // `<~ ~ x>`: nothing in bars 1 and 2, a note in bar 3.
    let y = mono(
        "tempo(120); pattern(\"<~ ~ x>\").play(|v| v.gate)",
        3 * BAR + 100,
    );
    assert_eq!(rises(&y), vec![4 * 2 * BEAT]);
    assert_eq!(y[4 * 2 * BEAT - 1], 0.0);
}

#[test]
fn steps_subdivisions_and_repeats_land_on_exact_samples() {
    let y = mono(
        "tempo(120); pattern(\"x ~ [x x] x*2\").voices(1).play(|v| v.gate)",
        BAR,
    );
    let q = BAR / 4;
    assert_eq!(
        rises(&y),
        vec![0, 2 * q, 2 * q + q / 2, 3 * q, 3 * q + q / 2]
    );
}

#[test]
fn onsets_off_the_block_grid_are_not_moved() {
    // Seven steps a bar at 97 BPM: no onset falls on a 64-frame block boundary.
    let y = mono(
        "tempo(97); pattern(\"x x x x x x x\").play(|v| v.gate)",
        2 * 118_763,
    );
    let bar = 4.0 * 60.0 / 97.0 * SR;
    let want: Vec<usize> = (0..14)
        .map(|k| (k as f64 * bar / 7.0).round() as usize)
        .filter(|&f| f < y.len())
        .collect();
    assert_eq!(rises(&y), want);
    assert!(want.iter().skip(1).any(|f| f % 64 != 0));
}

#[test]
fn euclid_3_8_is_x_dot_dot_x_dot_dot_x_dot() {
    let y = mono("tempo(120); pattern(\"x(3,8)\").play(|v| v.gate)", BAR);
    let e = BAR / 8;
    assert_eq!(rises(&y), vec![0, 3 * e, 6 * e]);
}

#[test]
fn alternation_chords_and_notes_give_the_right_pitches() {
    // One voice per note; v.freq is held per voice, so the sum of gates times freq over
    // voices is the sum of the chord's frequencies.
    let y = mono(
        "tempo(120); pattern(\"<[c3,e3,g3] a4>\").play(|v| v.freq * v.gate)",
        2 * BAR,
    );
    let chord: f32 = [48.0f32, 52.0, 55.0]
        .iter()
        .map(|m| 440.0 * ((m - 69.0) / 12.0).exp2())
        .sum();
    assert!((y[1000] - chord).abs() < 0.05, "{} vs {chord}", y[1000]);
    assert!((y[BAR + 1000] - 440.0).abs() < 0.01, "{}", y[BAR + 1000]);
}

#[test]
fn fast_and_slow_scale_the_cycle() {
    let y = mono("tempo(120); pattern(\"x x\").fast(2).play(|v| v.gate)", BAR);
    assert_eq!(rises(&y), vec![0, BAR / 4, BAR / 2, 3 * BAR / 4]);
    let y = mono(
        "tempo(120); pattern(\"x x\").slow(2).play(|v| v.gate)",
        2 * BAR,
    );
    assert_eq!(rises(&y), vec![0, BAR]);
}

#[test]
fn legato_sets_how_long_the_gate_stays_up() {
    let y = mono(
        "tempo(120); pattern(\"x ~\").legato(0.25).play(|v| v.gate)",
        BAR,
    );
    let up = y.iter().filter(|&&g| g > 0.5).count();
    // A quarter of a half bar, less the frame that marks the end of a note.
    assert_eq!(up, BAR / 8 - 1);
}

fn hz(note: &str) -> f64 {
    let n = match note {
        "c3" => 48,
        "d3" => 50,
        "e3" => 52,
        "f3" => 53,
        "g3" => 55,
        "a3" => 57,
        "b3" => 59,
        "c4" => 60,
        _ => unreachable!(),
    };
    note_hz(n)
}

/// Which of `notes` sound in `x` (amplitude above 0.5) and which are absent (below 0.01);
/// panics on anything in between.
fn sounding(x: &[f32], notes: &[&'static str]) -> Vec<&'static str> {
    notes
        .iter()
        .copied()
        .filter(|n| {
            let a = amplitude(x, hz(n), SR);
            assert!(!(0.01..=0.5).contains(&a), "{n} at amplitude {a}");
            a > 0.5
        })
        .collect()
}

#[test]
fn more_notes_than_voices_steal_the_oldest_without_blowing_up() {
    let q = BAR / 4;
    let ms = 48;
    // Two voices, three notes that overlap: when g3 comes, c3 and e3 both still hold. It
    // takes c3's voice (the oldest note); e3 plays on.
    let y = mono(
        "tempo(120); pattern(\"c3 e3 g3 ~\").legato(2.5).voices(2).play(|v| sine(v.freq) * v.gate)",
        BAR,
    );
    let all = ["c3", "e3", "g3"];
    assert_eq!(sounding(&y[q + 10 * ms..2 * q], &all), ["c3", "e3"]);
    // After the stolen voice's fade (3 ms).
    assert_eq!(sounding(&y[2 * q + 10 * ms..5 * q / 2], &all), ["e3", "g3"]);
    // Eight notes on one frame: each note past the second steals the voice of the oldest
    // before it (of notes that start together, the first given a voice), so the last two
    // of the chord are heard, and the level never exceeds two voices' worth.
    let y = mono(
        "tempo(120); pattern(\"[c3,d3,e3,f3,g3,a3,b3,c4]*4\").voices(2).play(|v| sine(v.freq) * v.gate)",
        BAR,
    );
    assert!(y.iter().all(|v| v.is_finite()));
    let chord = ["c3", "d3", "e3", "f3", "g3", "a3", "b3", "c4"];
    for k in 0..4 {
        let step = &y[k * q + 10 * ms..(k + 1) * q - 10 * ms];
        assert_eq!(sounding(step, &chord), ["b3", "c4"], "step {k}");
    }
    let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(peak <= 2.0 + 1e-3, "peak {peak}");
}

#[test]
fn chance_steps_repeat_exactly_and_play_about_half_the_time() {
    let src = "tempo(120); pattern(\"x*16?\").play(|v| v.gate)";
    let a = mono(src, 8 * BAR);
    let b = mono(src, 8 * BAR);
    assert_eq!(a, b, "a `?` pattern must render the same every time");
    let n = rises(&a).len();
    assert!((40..=88).contains(&n), "{n} of 128 steps played");
    // Another pattern text rolls other dice.
    let c = mono(
        "tempo(120); pattern(\"x*16?0.5\").play(|v| v.gate)",
        8 * BAR,
    );
    assert_ne!(rises(&a), rises(&c));
}

#[test]
fn time_shaped_nodes_restart_at_each_note_inside_an_instrument() {
    // line(0, 1, 1) inside the instrument restarts on each quarter note.
    let y = mono(
        "tempo(120); pattern(\"x x x x\").voices(1).play(|v| line(0, 1, 1))",
        BAR,
    );
    for k in 0..4 {
        let at = k * BEAT + 4800;
        assert!((y[at] - 0.1).abs() < 1e-3, "note {k}: {}", y[at]);
    }
    // Outside an instrument it runs once from the start of the piece.
    let z = mono("line(0, 1, 1)", BAR);
    assert!((z[BEAT + 4800] - 0.6).abs() < 1e-3);
}

#[test]
fn freq_and_gate_give_stepped_control_lines() {
    let y = mono("tempo(120); pattern(\"a2 ~ c3 e3\").freq()", BAR);
    let q = BAR / 4;
    assert!((y[10] - 110.0).abs() < 0.01);
    assert!((y[q + 10] - 110.0).abs() < 0.01, "held through the rest");
    assert!((y[2 * q + 10] - 130.81).abs() < 0.01);
    let g = mono("tempo(120); pattern(\"a2 ~ c3 e3\").gate()", BAR);
    assert_eq!(rises(&g), vec![0, 2 * q, 3 * q]);
}

#[test]
fn the_design_example_runs_with_its_drum_patch() {
    let dir = TempDir::new("seq", "design");
    dir.write(
        "patches/drums.rhai",
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/patches/drums.rhai"),
        )
        .unwrap(),
    );
    let script = r#"tempo(120);
duration(bars(8));

import "patches/drums" as drums;

let bass = |v| saw(v.freq).lpf(v.freq * 4, 0.8) * perc(v.gate, 0.005, 0.25) * v.vel;

let beat = pattern("x ~ x ~ x ~ x [~ x]").play(drums::kick())
         + pattern("~ x").play(drums::snare()) * 0.7
         + pattern("x*8").play(drums::hat()) * 0.3;

let line = pattern("a1 ~ a1 [c2 e2] ~ e2 a1 g1").play(bass);
let pad  = (saw(220) + saw(220.7)).lpf(sine(0.1).range(500, 2500), 0.3) * 0.1;

mix([beat, line.pan(-0.2), pad.pan(0.3).delay(beats(0.75), 0.35).reverb(0.5)])
"#;
    let path = dir.write("seq.rhai", script);
    let c = waves::script::compile_file(&path, SR).unwrap_or_else(|d| panic!("{}", d.render(None)));
    assert_eq!(c.spec.duration, Some(16.0));
    let g = waves::graph::compile(&c.spec, SR as f32).0;
    let mut r = waves::engine::Renderer::new(g, SR as f32, 1.0);
    let mut out = vec![0.0f32; 2 * BAR * 2];
    r.process(&mut out);
    assert!(out.iter().all(|v| v.is_finite()));
    let left: Vec<f32> = out.iter().step_by(2).copied().collect();
    let rms = |a: &[f32]| (a.iter().map(|v| v * v).sum::<f32>() / a.len() as f32).sqrt();
    assert!(rms(&left[..BAR]) > 0.05, "the example is nearly silent");

    // The kick from the patch on its own, in the example's rhythm: its pitch sweep and its
    // envelope restart on each hit, so the first 5 ms of every hit are the first 5 ms of
    // the first hit, frame for frame (one frame early or late differs by about 0.02).
    let path = dir.write(
        "kick.rhai",
        "tempo(120);\nimport \"patches/drums\" as drums;\npattern(\"x ~ x ~ x ~ x [~ x]\").play(drums::kick())\n",
    );
    let c = waves::script::compile_file(&path, SR).unwrap_or_else(|d| panic!("{}", d.render(None)));
    let kick = render_compiled(&c, BAR);
    let hits = [0, BAR / 4, BAR / 2, 3 * BAR / 4, 15 * BAR / 16];
    let first = &kick[..240];
    assert!(rms(first) > 0.1, "the first hit is nearly silent");
    for &h in &hits[1..] {
        // The hit before has died away (its envelope lasts 0.35 s)...
        assert!(
            kick[h - 1].abs() < 1e-4,
            "hit at {h}: {} before it",
            kick[h - 1]
        );
        // ...and this one starts over.
        let worst = kick[h..h + 240]
            .iter()
            .zip(first)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 1e-4,
            "hit at frame {h} differs from the first by {worst}"
        );
    }
}

#[test]
fn a_pattern_error_points_inside_the_string() {
    let src = "tempo(120);\nlet p = pattern(\"x ~ [x x\");\np.play(|v| sine(440))\n";
    let e = compile_source(src, "song.rhai", Path::new("."), SR).unwrap_err();
    assert_eq!((e.line, e.col), (2, 22), "{}", e.render(Some(src)));
    assert!(e.message.contains("pattern"), "{}", e.message);
    let src = "pattern(\"x q3\").play(|v| sine(v.freq))";
    let e = compile_source(src, "song.rhai", Path::new("."), SR).unwrap_err();
    assert_eq!((e.line, e.col), (1, 12), "{}", e.render(Some(src)));
}

#[test]
fn a_closure_from_an_imported_patch_is_an_instrument() {
    let dir = TempDir::new("seq", "patch");
    dir.write(
        "patches/p.rhai",
        "fn beep(f) { |v| sine(f) * v.gate }\nfn two() { |v| helper(v) }\nfn helper(v) { v.gate * 2 }\n",
    );
    let path = dir.write(
        "s.rhai",
        "import \"patches/p\" as p;\ntempo(120);\nmix([pattern(\"x ~\").play(p::beep(440)), pattern(\"~ x\").play(p::two())])",
    );
    let c = waves::script::compile_file(&path, SR).unwrap_or_else(|d| panic!("{}", d.render(None)));
    let g = waves::graph::compile(&c.spec, SR as f32).0;
    let mut r = waves::engine::Renderer::new(g, SR as f32, 1.0);
    let mut out = vec![0.0f32; BAR * 2];
    r.process(&mut out);
    assert!(out[2 * 100].abs() > 0.0);
    assert!((out[2 * (BAR / 2 + 10)] - 2.0).abs() < 1e-6);
}

#[test]
fn v_freq_outside_a_pattern_instrument_is_a_clear_error() {
    let e = compile_source("poly(2, |v| sine(v.freq))", "t.rhai", Path::new("."), SR).unwrap_err();
    assert!(e.message.contains("v.freq"), "{}", e.message);
    let e = compile_source("pattern(\"x\").play(42)", "t.rhai", Path::new("."), SR).unwrap_err();
    assert!(e.message.contains("instrument"), "{}", e.message);
    let e = compile_source(
        "pattern(\"x\").play(|v| v.gate.reverb(0.3))",
        "t.rhai",
        Path::new("."),
        SR,
    )
    .unwrap_err();
    assert!(e.message.contains("after .play"), "{}", e.message);
}

/// A mono 16-bit WAV of a sine.
fn write_tone(path: &Path, freq: f64, rate: u32, secs: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(secs * rate as f64) as usize {
        let v = (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin();
        w.write_sample((v * 20000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// Frequency from rising zero crossings, interpolated.
fn measured_freq(x: &[f32]) -> f64 {
    let mut first = None;
    let mut last = 0.0;
    let mut n = 0;
    for i in 1..x.len() {
        if x[i - 1] < 0.0 && x[i] >= 0.0 {
            let t = (i - 1) as f64 + (-x[i - 1] / (x[i] - x[i - 1])) as f64;
            if first.is_none() {
                first = Some(t);
            } else {
                n += 1;
            }
            last = t;
        }
    }
    n as f64 / ((last - first.unwrap()) / SR)
}

fn compile_in(dir: &TempDir, name: &str, src: &str) -> Result<waves::script::Compiled, String> {
    let path = dir.write(name, src);
    waves::script::compile_file(&path, SR).map_err(|d| d.render(None))
}

fn render_compiled(c: &waves::script::Compiled, frames: usize) -> Vec<f32> {
    let g = waves::graph::compile(&c.spec, SR as f32).0;
    let mut r = waves::engine::Renderer::new(g, SR as f32, 1.0);
    let mut out = vec![0.0f32; frames * 2];
    r.process(&mut out);
    out.iter().step_by(2).copied().collect()
}

#[test]
fn a_1khz_sample_at_44k1_plays_at_1khz_at_48k() {
    let dir = TempDir::new("seq", "sample");
    write_tone(&dir.0.join("tone.wav"), 1000.0, 44_100, 1.0);
    let c = compile_in(&dir, "s.rhai", "sample(\"tone.wav\")").unwrap();
    let y = render_compiled(&c, 48_000);
    let f = measured_freq(&y[100..47_000]);
    assert!((f - 1000.0).abs() < 1.0, "{f} Hz");
    // .speed(2) an octave up; looped it goes on past the end.
    let c = compile_in(&dir, "s2.rhai", "sample(\"tone.wav\").speed(2)").unwrap();
    let y = render_compiled(&c, 48_000);
    let f = measured_freq(&y[100..23_000]);
    assert!((f - 2000.0).abs() < 2.0, "{f} Hz");
    assert!(
        y[25_000..].iter().all(|v| *v == 0.0),
        "a one-shot stops at its end"
    );
    let c = compile_in(&dir, "s3.rhai", "sample(\"tone.wav\").looped()").unwrap();
    let y = render_compiled(&c, 96_000 + 5000);
    assert!(y[96_000..].iter().any(|v| v.abs() > 0.3));
}

#[test]
fn samples_restart_per_note_inside_an_instrument() {
    let dir = TempDir::new("seq", "sample_voice");
    write_tone(&dir.0.join("tone.wav"), 1000.0, 48_000, 0.1);
    let c = compile_in(
        &dir,
        "s.rhai",
        "tempo(120); pattern(\"x ~ x ~\").play(|v| sample(\"tone.wav\"))",
    )
    .unwrap();
    let y = render_compiled(&c, BAR);
    let onsets: Vec<usize> = (1..y.len())
        .filter(|&i| y[i] != 0.0 && y[i - 1] == 0.0 && (i < 2 || y[i - 2] == 0.0))
        .collect();
    // The tone starts with sin(0) = 0, so its first nonzero sample is one frame in.
    assert_eq!(onsets, vec![1, BAR / 2 + 1]);
}

#[test]
fn sample_paths_stay_inside_the_script_folder_and_errors_point_at_the_call() {
    let dir = TempDir::new("seq", "sample_bad");
    std::fs::write(dir.0.join("text.wav"), "not a wav").unwrap();
    let e = compile_in(
        &dir,
        "a.rhai",
        "tempo(120);\nlet s = sample(\"../x.wav\");\ns",
    )
    .unwrap_err();
    assert!(e.contains("a.rhai:2:9"), "{e}");
    assert!(e.contains("leaves the script's folder"), "{e}");
    let e = compile_in(&dir, "b.rhai", "sample(\"missing.wav\")").unwrap_err();
    assert!(e.contains("b.rhai:1:1") && e.contains("not found"), "{e}");
    let e = compile_in(&dir, "c.rhai", "sample(\"text.wav\")").unwrap_err();
    assert!(e.contains("c.rhai:1:1") && e.contains("WAV"), "{e}");
    let e = compile_in(&dir, "d.rhai", "sample(\"/etc/passwd\")").unwrap_err();
    assert!(e.contains("absolute"), "{e}");
    let e = compile_in(&dir, "e.rhai", "sine(1).looped()").unwrap_err();
    assert!(e.contains("sample"), "{e}");
}

#[test]
fn stems_are_written_beside_the_mix_and_sum_to_it() {
    let dir = TempDir::new("seq", "stems");
    let script = dir.write(
        "song.rhai",
        "tempo(120);\nduration(1.5);\n\
         let drums = pattern(\"x*4\").play(|v| sine(line(150, 45, 0.08)) * perc(v.gate, 0.001, 0.3)).track(\"drums\");\n\
         let bass = pattern(\"a1 c2\").play(|v| saw(v.freq).lpf(400) * 0.3).pan(-0.3).track(\"bass\");\n\
         let more = (sine(880) * 0.05).track(\"bass\");\n\
         mix([drums, bass, more])",
    );
    let out = dir.0.join("song.wav");
    let run = Command::new(env!("CARGO_BIN_EXE_waves"))
        .current_dir(&dir.0)
        .args([
            "render",
            script.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("song__drums.wav") && stdout.contains("song__bass.wav"),
        "{stdout}"
    );
    let read = |p: &Path| -> Vec<f32> {
        hound::WavReader::open(p)
            .unwrap()
            .into_samples::<f32>()
            .map(|s| s.unwrap())
            .collect()
    };
    let mix = read(&out);
    let drums = read(&dir.0.join("song__drums.wav"));
    let bass = read(&dir.0.join("song__bass.wav"));
    assert_eq!(mix.len(), (1.5 * SR) as usize * 2);
    assert_eq!(drums.len(), mix.len());
    assert_eq!(bass.len(), mix.len());
    let mut worst = 0.0f32;
    for i in 0..mix.len() {
        worst = worst.max((mix[i] - (drums[i] + bass[i])).abs());
    }
    assert!(worst < 1e-5, "stems differ from the mix by {worst}");
    assert!(drums.iter().any(|v| v.abs() > 0.1) && bass.iter().any(|v| v.abs() > 0.05));
}

#[test]
fn track_names_cannot_leave_the_folder() {
    let e = compile_source("sine(1).track(\"../x\")", "t.rhai", Path::new("."), SR).unwrap_err();
    assert!(e.message.contains("track name"), "{}", e.message);
}

#[test]
fn stereo_effects_make_stereo_from_mono() {
    let (l, r) = render(
        "(noise() * perc(metro(1), 0.001, 0.05)).reverb(0.5)",
        48_000,
    );
    assert!(l.iter().all(|v| v.is_finite()) && r.iter().all(|v| v.is_finite()));
    assert_ne!(l[20_000], r[20_000], "the reverb's sides differ");
    let (l, _) = render("sine(110).crush(2)", 4800);
    let mut levels: Vec<i32> = l.iter().map(|v| (v * 1000.0).round() as i32).collect();
    levels.sort();
    levels.dedup();
    // 2 bits: steps of 1/2 between -1 and 1.
    assert_eq!(levels, vec![-1000, -500, 0, 500, 1000]);
}

#[test]
fn resting_voices_sleep_and_wake_on_the_exact_frame() {
    // A short hit every beat: the instrument is silent for most of each beat, so it sleeps
    // between hits; each hit must still start on its frame and sound in full.
    let src =
        "tempo(120); pattern(\"x x x x\").voices(1).play(|v| (noise() + 0.5) * line(1, 0, 0.05))";
    let c = compile_source(src, "t.rhai", Path::new("."), SR).unwrap();
    let mut r =
        waves::engine::Renderer::new(waves::graph::compile(&c.spec, SR as f32).0, SR as f32, 1.0);
    let mut out = vec![0.0f32; 2 * BAR * 2];
    r.process(&mut out);
    let y: Vec<f32> = out.iter().step_by(2).copied().collect();
    // Each hit sounds for 50 ms of its 500 ms beat. The instrument may run while it
    // sounds, in the block after (which finds it silent), and over the 5 ms fade-out its
    // voice gets at the note's end (it does not shape its notes itself), which is where
    // the next note starts; every other block of the beat is skipped.
    let blocks = y.len() / 64;
    let awake_most = 8 * (2400usize.div_ceil(64) + 1 + 240usize.div_ceil(64) + 1);
    let slept = r.graph().slept_blocks() as usize;
    assert!(
        slept >= blocks - awake_most,
        "skipped {slept} of {blocks} blocks; it runs in at most {awake_most}"
    );
    let starts: Vec<usize> = (0..y.len())
        .filter(|&i| y[i] != 0.0 && (i == 0 || y[i - 1] == 0.0))
        .collect();
    let want: Vec<usize> = (0..8).map(|k| k * BEAT).collect();
    assert_eq!(starts, want);
    let energy = |k: usize| {
        y[k * BEAT..k * BEAT + 2400]
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
    };
    for k in 1..8 {
        let ratio = energy(k) / energy(0);
        assert!((0.7..1.4).contains(&ratio), "hit {k}: energy ratio {ratio}");
    }
    // Between hits: exact silence.
    assert!(y[BEAT / 2..BEAT].iter().all(|v| *v == 0.0));
}

#[test]
fn a_pattern_error_inside_an_imported_patch_points_into_the_patch() {
    let dir = TempDir::new("seq", "patch_error");
    dir.write(
        "patches/p.rhai",
        "fn beat() {\n    pattern(\"x ~ [x x\")\n}\n",
    );
    let e = compile_in(
        &dir,
        "s.rhai",
        "import \"patches/p\" as p;\np::beat().play(|v| sine(440) * v.gate)\n",
    )
    .unwrap_err();
    assert!(e.contains("patches/p.rhai:2:18"), "{e}");
    assert!(e.contains("unclosed `[`"), "{e}");
    assert!(e.contains("s.rhai:2:4"), "the call site is named: {e}");
}
