//! DSP nodes checked against analytic expectations (frequency, level, timing), through
//! scripts, at 48 kHz.

mod common;
use common::{mono, render};

const SRU: usize = 48_000;

fn rms(v: &[f32]) -> f64 {
    (v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
}

fn db(ratio: f64) -> f64 {
    20.0 * ratio.log10()
}

/// Frames where the signal is non-zero.
fn nonzero(v: &[f32]) -> Vec<usize> {
    (0..v.len()).filter(|&i| v[i] != 0.0).collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn sine_440_crosses_zero_880_times_a_second() {
    let v = mono("sine(440)", SRU);
    let crossings = (1..v.len())
        .filter(|&i| (v[i - 1] < 0.0) != (v[i] < 0.0))
        .count();
    assert!(
        (879..=881).contains(&crossings),
        "{crossings} zero crossings in 1 s"
    );
    // Full scale: peaks at ±1.
    let peak = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!((peak - 1.0).abs() < 1e-3, "peak {peak}");
    assert!((rms(&v) - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-3);
}

#[test]
fn other_oscillators_run_at_their_frequency() {
    // One rising zero crossing per cycle, whatever the shape.
    for (src, f) in [
        ("saw(110)", 110usize),
        ("saw(1000)", 1000),
        ("square(220)", 220),
        ("tri(330)", 330),
        ("pulse(100, 0.25)", 100),
        ("sine(0.5, 0.25) * 0 + sine(50)", 50),
    ] {
        let v = mono(src, SRU);
        let ups = (1..v.len())
            .filter(|&i| v[i - 1] < 0.0 && v[i] >= 0.0)
            .count();
        assert!(ups.abs_diff(f) <= 1, "{src}: {ups} rising crossings in 1 s");
    }
    // Pulse width: a quarter of each cycle is high.
    let v = mono("pulse(100, 0.25)", SRU);
    let high = v.iter().filter(|x| **x > 0.0).count() as f64 / SRU as f64;
    assert!((high - 0.25).abs() < 0.01, "duty {high}");
}

#[test]
fn lpf_at_1k_takes_8k_down_by_30_db() {
    let settle = SRU / 10;
    let dry = mono("sine(8000)", SRU);
    let wet = mono("sine(8000).lpf(1000, 0.707)", SRU);
    let (d, w) = (rms(&dry[settle..]), rms(&wet[settle..]));
    let drop = db(d / w);
    assert!(drop >= 30.0, "8 kHz is only {drop:.1} dB down");
    // And the pass band passes: 100 Hz through the same filter keeps its level.
    let low = rms(&mono("sine(100)", SRU)[settle..]);
    let low_wet = rms(&mono("sine(100).lpf(1000, 0.707)", SRU)[settle..]);
    assert!(db(low / low_wet).abs() < 0.5, "{:.2} dB", db(low / low_wet));
}

#[test]
fn hpf_takes_lows_down_and_passes_highs() {
    let settle = SRU / 10;
    let low = rms(&mono("sine(100)", SRU)[settle..]);
    let low_wet = rms(&mono("sine(100).hpf(2000, 0.707)", SRU)[settle..]);
    assert!(db(low / low_wet) >= 40.0, "{:.1} dB", db(low / low_wet));
    let hi = rms(&mono("sine(10000)", SRU)[settle..]);
    let hi_wet = rms(&mono("sine(10000).hpf(2000, 0.707)", SRU)[settle..]);
    assert!(db(hi / hi_wet).abs() < 0.5, "{:.2} dB", db(hi / hi_wet));
}

#[test]
fn adsr_follows_its_gate_stage_by_stage() {
    // The gate is high for the first second of every two.
    let (gate, env) = render(
        "let g = pulse(0.5, 0.5);\nstereo(g, adsr(g, 0.1, 0.2, 0.5, 0.3))",
        2 * SRU,
    );
    // The real shape of the gate: on from the start, off at 1.0 s.
    let on = gate
        .iter()
        .position(|g| *g > 0.0)
        .expect("gate never opens");
    let off = on
        + gate[on..]
            .iter()
            .position(|g| *g <= 0.0)
            .expect("gate never closes");
    assert!(on <= 2, "gate opens at frame {on}");
    // A band-limited pulse crosses zero a few frames after its jump (the kernel's delay).
    assert!(off.abs_diff(SRU) <= 6, "gate closes at frame {off}");

    let tol = 64;
    let first = |from: usize, pred: &dyn Fn(f32) -> bool| {
        (from..env.len())
            .find(|&i| pred(env[i]))
            .unwrap_or(usize::MAX)
    };
    let peak = first(0, &|v| v >= 1.0 - 1e-6);
    assert!(
        peak.abs_diff(SRU / 10) <= tol,
        "reaches 1.0 at frame {peak}"
    );
    let sustain = first(peak, &|v| v <= 0.5 + 1e-6);
    assert!(
        sustain.abs_diff(3 * SRU / 10) <= tol,
        "reaches 0.5 at frame {sustain}"
    );
    // Holds the sustain level until the gate closes.
    for (i, v) in env.iter().enumerate().take(off).skip(sustain + tol) {
        assert!((v - 0.5).abs() < 1e-6, "frame {i}: {v}");
    }
    let zero = first(off, &|v| v <= 0.0);
    assert!(
        zero.abs_diff(13 * SRU / 10) <= tol,
        "reaches 0 at frame {zero}"
    );
    // Stays silent afterwards, until the next gate.
    assert!(env[zero..2 * SRU - tol].iter().all(|v| *v == 0.0));
    // The stages are linear: halfway through each, the level is halfway.
    let near = |i: usize, want: f32| {
        assert!(
            (env[i] - want).abs() < 0.02,
            "frame {i}: {} (expected about {want})",
            env[i]
        )
    };
    near(SRU / 20, 0.5); // attack
    near(SRU / 5, 0.75); // decay
    near(SRU + 3 * SRU / 20, 0.25); // release
    assert!(env.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn delay_echo_lands_exactly_480_samples_later() {
    // metro(1) is a one-sample trigger at frames 0 and 24000 (120 BPM).
    let v = mono("metro(1).delay(0.01, 0.5)", SRU);
    let hits = nonzero(&v[..20_000]);
    let want: Vec<usize> = (0..hits.len()).map(|k| k * 480).collect();
    assert_eq!(hits, want, "echoes every 480 frames");
    assert!(hits.len() >= 5, "{hits:?}");
    assert_eq!(v[0], 1.0);
    assert_eq!(v[480], 1.0);
    assert_eq!(v[960], 0.5);
    assert_eq!(v[1440], 0.25);
    // The second trigger echoes the same way.
    assert_eq!(v[24_000], 1.0);
    assert_eq!(v[24_480], 1.0);
    assert_eq!(v[24_960], 0.5);

    // A trigger that is not on a block boundary.
    let (dry, wet) = render(
        "tempo(97);\nlet t = metro(0.5);\nstereo(t, t.delay(0.01))",
        SRU,
    );
    let t = nonzero(&dry);
    assert!(t.len() >= 2, "{t:?}");
    let second = t[1];
    assert!(
        !second.is_multiple_of(64),
        "trigger at {second} is block-aligned"
    );
    assert_eq!(wet[second], 1.0);
    assert_eq!(wet[second + 480], 1.0);
    assert_eq!(wet[second + 479], 0.0);
    assert_eq!(wet[second + 481], 0.0);
}

#[test]

fn feedback_loop_reads_one_block_late_and_echoes_at_the_asked_time() {
    // The documented pattern: `let fb = feedback(); let y = (x + fb * 0.5).delay(0.3); fb.feed(y)`.
    // feedback() reads its source one 64-frame block late (like SuperCollider's LocalIn), so
    // the loop's own recirculation lands at 64, 128, ... and the delay's echo at 480.
    let v = mono(
        "let fb = feedback();\nlet y = (metro(1) + fb * 0.5).delay(0.01);\nfb.feed(y);\ny",
        4 * 480,
    );
    assert_eq!(v[0], 1.0);
    assert_eq!(
        nonzero(&v[1..64]),
        Vec::<usize>::new(),
        "sound inside the first block"
    );
    assert_eq!(v[64], 0.5, "the loop adds exactly one block");
    assert_eq!(v[128], 0.25);
    // At 480 the echo of the trigger (1.0) adds to the loop's own decaying recirculation.
    let recirculated = 0.5f32.powi(480 / 64);
    assert!(v[480] >= 1.0, "no echo at 480: {}", v[480]);
    assert!(
        v[479].abs() <= recirculated + 1e-6,
        "early sound at 479: {}",
        v[479]
    );
}

#[test]
fn metro_triggers_on_the_beat_grid() {
    let secs = 10;
    let v = mono("tempo(120);\nmetro(1)", secs * SRU);
    let hits = nonzero(&v);
    let want: Vec<usize> = (0..secs * 2).map(|k| k * 24_000).collect();
    assert_eq!(hits, want);
    assert!(hits.iter().all(|&i| v[i] == 1.0));

    let v = mono("tempo(90);\nmetro(1)", secs * SRU);
    let want: Vec<usize> = (0..)
        .map(|k| k * 32_000)
        .take_while(|&f| f < secs * SRU)
        .collect();
    assert_eq!(nonzero(&v), want);

    let v = mono("tempo(120);\nmetro(0.25)", SRU);
    let want: Vec<usize> = (0..8).map(|k| k * 6_000).collect();
    assert_eq!(nonzero(&v), want);

    // A period given as a signal lands on the same frames as the constant one.
    let (a, b) = render(
        "tempo(120);\nstereo(metro(1), metro(line(1, 1, 0)))",
        secs * SRU,
    );
    assert_eq!(nonzero(&a), nonzero(&b));
}

#[test]
fn noise_repeats_from_render_to_render_and_differs_between_nodes() {
    let a = mono("noise()", SRU);
    let b = mono("noise()", SRU);
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    // White noise within ±1, centred, with the RMS of a uniform distribution (1/√3).
    assert!(a.iter().all(|x| (-1.0..=1.0).contains(x)));
    let mean = a.iter().map(|x| *x as f64).sum::<f64>() / a.len() as f64;
    assert!(mean.abs() < 0.02, "mean {mean}");
    assert!(
        (rms(&a) - 1.0 / 3f64.sqrt()).abs() < 0.02,
        "rms {}",
        rms(&a)
    );

    let (l, r) = render("stereo(noise(), noise())", SRU);
    assert!(rms(&l) > 0.3 && rms(&r) > 0.3);
    let same = l.iter().zip(&r).filter(|(x, y)| x == y).count();
    assert!(same < 10, "{same} equal samples in the two channels");
    let corr = l
        .iter()
        .zip(&r)
        .map(|(x, y)| (*x as f64) * (*y as f64))
        .sum::<f64>()
        / (rms(&l) * rms(&r) * l.len() as f64);
    assert!(corr.abs() < 0.05, "correlation {corr}");

    let (l, r) = render("stereo(pink(), pink())", SRU);
    assert!(rms(&l) > 0.01 && rms(&r) > 0.01);
    assert!(max_abs_diff(&l, &r) > 0.1);
}

#[test]
fn each_poly_voice_gets_its_own_noise() {
    // Voice 0 adds its noise, voice 1 subtracts its own: equal noises would cancel.
    let v = mono("poly(2, |v| noise() * (v.index * 2 - 1))", SRU);
    assert!(rms(&v) > 0.3, "rms {}", rms(&v));
}

#[test]

fn poly_output_is_a_single_voice_for_what_follows() {
    let frames = 4800;
    let voices = "poly(2, |v| sine(440 * (v.index + 1)))";
    let summed = "(sine(440) + sine(880))";
    for (a, b) in [
        (format!("{voices}.lpf(1000)"), format!("{summed}.lpf(1000)")),
        (
            format!("mix([{voices}, saw(110)])"),
            format!("{summed} + saw(110)"),
        ),
        (
            format!("{voices}.delay(0.001)"),
            format!("{summed}.delay(0.001)"),
        ),
    ] {
        let d = max_abs_diff(&mono(&a, frames), &mono(&b, frames));
        assert!(d < 1e-4, "`{a}` vs `{b}`: max diff {d}");
    }
}
