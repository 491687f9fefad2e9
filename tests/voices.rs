//! How a voice lives and ends, through whole scripts rendered offline: voices without a
//! note are silent, a note lasts as long as its pattern says (plus its release), the
//! oscillators of an instrument start at their phase on each note, and resting
//! instruments are skipped.

mod common;

use common::{SR, mono, zero_cross_hz};
use std::path::Path;
use waves::dsp::{BLOCK, Ctx};
use waves::graph;
use waves::script::compile_source;

const BEAT: usize = 24_000; // frames per beat at 120 BPM, 48 kHz
const BAR: usize = 4 * BEAT;

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

/// First frame at or after `from` whose value is not exactly 0.
fn first_sound(x: &[f32], from: usize) -> Option<usize> {
    (from..x.len()).find(|&i| x[i] != 0.0)
}

#[test]
fn a_rest_before_a_hit_is_silent_and_the_hit_does_not_clip() {
    // All eight voices used to sound from the start, before any note: +16 dBFS.
    let y = mono(
        "tempo(120); duration(2); pattern(\"~ x\").play(|v| sine(440) * line(1, 0, 0.1))",
        2 * BAR,
    );
    // A sine starts at 0 on its note's frame; the next frame sounds.
    assert_eq!(
        first_sound(&y, 0),
        Some(BAR / 2 + 1),
        "sound only from the note"
    );
    assert!(peak(&y) <= 1.0, "peak {}", peak(&y));
    // One voice, one note: the line's decay, then silence until the next bar's note.
    assert!(peak(&y[BAR / 2..BAR / 2 + 480]) > 0.9);
    assert_eq!(peak(&y[BAR / 2 + 4800..BAR + BAR / 2]), 0.0);
    assert_eq!(first_sound(&y, BAR / 2 + 4800), Some(BAR + BAR / 2 + 1));
}

#[test]
fn a_first_melody_plays_one_note_at_a_time() {
    let y = mono(
        "pattern(\"c3 e3 g3 c4\").play(|v| sine(v.freq) * 0.2)",
        2 * BAR,
    );
    assert!(
        peak(&y) <= 0.2 + 1e-4,
        "no drone of every voice: {}",
        peak(&y)
    );
    let want = [130.81, 164.81, 196.0, 261.63];
    for (k, f) in want.iter().enumerate() {
        // The middle of each step holds its note alone, at full level.
        let mid = &y[k * BEAT + 2400..(k + 1) * BEAT - 2400];
        let hz = zero_cross_hz(mid, SR);
        assert!((hz - f).abs() < 0.5, "step {k}: {hz} Hz, want {f}");
        assert!((rms(mid) - 0.2 / 2f32.sqrt()).abs() < 0.002, "{}", rms(mid));
    }
}

#[test]
fn voices_that_never_had_a_note_are_silent() {
    for src in [
        "pattern(\"~ ~ ~ ~\").play(|v| saw(220) + 0.5)",
        "pattern(\"~ ~ ~ ~\").play(|v| saw(v.freq) * adsr(v.gate, 0.01, 0.1, 0.5, 0.2) + 0.1)",
        "midi_notes().play(|v| sine(440))",
        "midi_notes().play(|v| sine(v.freq) * adsr(v.gate, 0.01, 0.1, 0.5, 0.2) + 0.5)",
    ] {
        let y = mono(src, BAR);
        assert_eq!(peak(&y), 0.0, "{src}");
    }
}

#[test]
fn a_note_without_gate_lasts_as_long_as_its_step_and_legato_scales_it() {
    for (legato, len) in [
        ("", BAR / 2),
        (".legato(0.5)", BAR / 4),
        (".legato(1.5)", 3 * BAR / 4),
    ] {
        let y = mono(
            &format!("pattern(\"x ~\"){legato}.play(|v| sine(1000) + 1.0)"),
            BAR,
        );
        assert!(
            y[0] > 0.0 && y[0] < 0.1,
            "{legato}: fades in from its first frame"
        );
        // Fully in after 2 ms, fully out by the note's end (5 ms before it, it starts
        // closing), silent after.
        assert!(
            y[200..len - 300]
                .iter()
                .all(|v| *v > -1e-5 && *v < 2.0 + 1e-5)
        );
        assert!(
            rms(&y[200..len - 300]) > 1.1,
            "{legato}: {}",
            rms(&y[200..len - 300])
        );
        assert!(rms(&y[len - 240..len]) < 1.0, "{legato}: closing");
        assert_eq!(peak(&y[len..BAR]), 0.0, "{legato}: over at {len}");
    }
}

#[test]
fn an_instrument_that_reads_its_gate_sounds_through_its_release() {
    // The gate closes after one beat; the envelope releases over 0.2 s.
    let y = mono(
        "pattern(\"x ~ ~ ~\").play(|v| sine(1000) * adsr(v.gate, 0.001, 0.01, 1.0, 0.2))",
        BAR,
    );
    let ms = |t: f64| (t * SR / 1000.0) as usize;
    assert!(rms(&y[ms(100.0)..ms(400.0)]) > 0.6);
    // Still sounding 50–100 ms into the release, at about its level there.
    let r = rms(&y[BEAT + ms(50.0)..BEAT + ms(100.0)]);
    assert!(r > 0.3 && r < 0.65, "release rms {r}");
    assert_eq!(
        peak(&y[BEAT + ms(210.0)..]),
        0.0,
        "silent after the release"
    );
}

/// `sin(2π f k / SR)`: a sine started at phase 0 on frame 0.
fn sine_from_zero(f: f64, k: usize) -> f32 {
    (std::f64::consts::TAU * f * k as f64 / SR).sin() as f32
}

#[test]
fn oscillators_start_at_their_phase_on_each_note_unless_free() {
    // 440.3 Hz does not fit a whole number of cycles in half a bar, so a free-running
    // oscillator is elsewhere in its cycle at the second note.
    let y = mono(
        "pattern(\"x x\").voices(1).play(|v| sine(440.3) * v.gate)",
        BAR,
    );
    for on in [0, BAR / 2] {
        for k in 0..2000 {
            let want = sine_from_zero(440.3, k);
            assert!((y[on + k] - want).abs() < 1e-3, "note at {on}, frame {k}");
        }
    }
    // With a phase: sine(f, 0.25) starts at its peak on each note.
    let y = mono(
        "pattern(\"x x\").voices(1).play(|v| sine(440.3, 0.25) * v.gate)",
        BAR,
    );
    assert!((y[0] - 1.0).abs() < 1e-4 && (y[BAR / 2] - 1.0).abs() < 1e-4);
    // Every oscillator restarts: two notes of one voice begin with the same samples.
    for osc in [
        "saw(440.3)",
        "square(440.3)",
        "pulse(440.3, 0.3)",
        "tri(440.3)",
        "sine(v.freq)",
    ] {
        let y = mono(
            &format!("pattern(\"c4 c4\").voices(1).play(|v| {osc} * v.gate)"),
            BAR,
        );
        // A band-limited oscillator smooths the jump from where it was to its start over
        // the 32 frames after it (a sine has no jump), then runs as it did on the first note.
        let settle = if osc.starts_with("sine") { 0 } else { 40 };
        let a = &y[settle..1000];
        let b = &y[BAR / 2 + settle..BAR / 2 + 1000];
        let diff = a
            .iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f32::max);
        assert!(
            diff < 1e-3,
            "{osc}: the second note starts like the first ({diff})"
        );
    }
    // `.free()` keeps it running across notes.
    let y = mono(
        "pattern(\"x x\").voices(1).play(|v| sine(440.3).free() * v.gate)",
        BAR,
    );
    let mut restarted = 0.0f32;
    for j in 0..200 {
        let k = BAR / 2 + j;
        assert!((y[k] - sine_from_zero(440.3, k)).abs() < 1e-3, "continues");
        restarted = restarted.max((y[k] - sine_from_zero(440.3, j)).abs());
    }
    assert!(restarted > 0.5, "not restarted ({restarted})");
}

#[test]
fn free_is_for_oscillators() {
    let src = "pattern(\"x\").play(|v| noise().free())";
    let e = compile_source(src, "t.rhai", Path::new("."), SR).expect_err("an error");
    let msg = e.render(Some(src));
    assert!(msg.contains("oscillator"), "{msg}");
}

#[test]
fn a_resting_instrument_is_skipped_until_its_next_note() {
    // One short hit per bar: the instrument sounds for 50 ms of each 2 s bar.
    let src = "tempo(120); pattern(\"x ~ ~ ~\").play(|v| saw(v.freq) * perc(v.gate, 0.001, 0.05))";
    let c = compile_source(src, "t.rhai", Path::new("."), SR).unwrap();
    let (mut g, _) = graph::compile(&c.spec, SR as f32);
    let mut ctx = Ctx::new(SR as f32, 120.0);
    let (mut l, mut r) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
    let blocks = 4 * BAR / BLOCK;
    let mut heard = 0;
    for _ in 0..blocks {
        g.process_block(&ctx, &mut l, &mut r);
        heard += usize::from(l.iter().any(|v| *v != 0.0));
        ctx.frame += BLOCK as u64;
    }
    let slept = g.slept_blocks() as usize;
    // It sounds in a few percent of the blocks and is skipped in nearly all the others.
    assert!(
        heard > 0 && heard < blocks / 10,
        "heard in {heard} of {blocks}"
    );
    assert!(
        slept > blocks * 8 / 10,
        "slept {slept}, heard {heard} of {blocks}"
    );
    // An instrument that always sounds is never skipped.
    let c = compile_source(
        "pattern(\"x\").play(|v| saw(v.freq) * 0.1)",
        "t.rhai",
        Path::new("."),
        SR,
    )
    .unwrap();
    let (mut g, _) = graph::compile(&c.spec, SR as f32);
    let mut ctx = Ctx::new(SR as f32, 120.0);
    for _ in 0..blocks / 8 {
        g.process_block(&ctx, &mut l, &mut r);
        ctx.frame += BLOCK as u64;
    }
    assert_eq!(g.slept_blocks(), 0);
}
