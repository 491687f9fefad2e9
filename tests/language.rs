//! The script language as a musician meets it: operator precedence, numbers and signals
//! on either side of an operator, method and function forms, channels, and the note and
//! time helpers. Every check renders real samples (or reads the compiled spec).

mod common;
use common::{mono, render};

use std::path::Path;
use waves::script::{Compiled, compile_source};

const SR: f64 = 48_000.0;

fn compile(src: &str) -> Compiled {
    match compile_source(src, "test.rhai", Path::new("."), SR) {
        Ok(c) => c,
        Err(d) => panic!("script failed to compile:\n{src}\n{}", d.render(Some(src))),
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn assert_bit_identical(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    if let Some(i) = (0..a.len()).find(|&i| a[i].to_bits() != b[i].to_bits()) {
        panic!(
            "{what}: first difference at frame {i}: {} vs {}",
            a[i], b[i]
        );
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Asserts every sample equals `want` exactly.
fn assert_all(v: &[f32], want: f32, what: &str) {
    assert!(!v.is_empty());
    if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| **x != want) {
        panic!("{what}: frame {i} is {x}, expected {want}");
    }
}

/// The value of `duration(expr)` as the compiled spec records it.
fn duration_of(prelude: &str, expr: &str) -> f64 {
    let src = format!("{prelude}\nduration({expr});\nsine(1)");
    compile(&src)
        .spec
        .duration
        .unwrap_or_else(|| panic!("no duration recorded for `{expr}`"))
}

const FRAMES: usize = 4800;

#[test]
fn multiplication_binds_tighter_than_addition() {
    let n = 48_000;
    let plain = mono("saw(110) + saw(220) * 0.5", n);
    let mixed = mono("mix([saw(110), saw(220) * 0.5])", n);
    let grouped = mono("(saw(110) + saw(220)) * 0.5", n);
    assert_bit_identical(&plain, &mixed, "a + b * 0.5 vs mix([a, b * 0.5])");
    let d = max_abs_diff(&plain, &grouped);
    assert!(
        d > 0.1,
        "a + b * 0.5 must differ from (a + b) * 0.5 (max diff {d})"
    );
}

#[test]
fn precedence_and_associativity_on_constant_signals() {
    let c = |v: i32| format!("line({v}, {v}, 0)");
    let cases = [
        // * and / before + and -
        (format!("{} + {} * {}", c(1), c(2), c(3)), 7.0f32),
        (format!("{} - {} / {}", c(8), c(2), c(2)), 7.0),
        (format!("{} * {} + {}", c(2), c(3), c(1)), 7.0),
        // left associative
        (format!("{} - {} - {}", c(8), c(2), c(1)), 5.0),
        (format!("{} / {} * {}", c(8), c(2), c(4)), 16.0),
        (format!("{} / {} / {}", c(8), c(2), c(2)), 2.0),
        // parentheses win
        (format!("({} + {}) * {}", c(1), c(2), c(3)), 9.0),
        (format!("{} - ({} - {})", c(8), c(2), c(1)), 7.0),
    ];
    for (src, want) in cases {
        assert_all(&mono(&src, 256), want, &src);
    }
}

#[test]
fn unary_minus_binds_tightest() {
    let n = 48_000;
    let a = mono("-sine(3) * 2 + 1", n);
    let b = mono("1 - sine(3) * 2", n);
    assert_bit_identical(&a, &b, "-sine(3) * 2 + 1 vs 1 - sine(3) * 2");
    // It really is a 3 Hz sine scaled by 2 around 1: the range is about -1..3.
    let (lo, hi) = a
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), x| (l.min(*x), h.max(*x)));
    assert!(
        (lo + 1.0).abs() < 1e-3 && (hi - 3.0).abs() < 1e-3,
        "{lo}..{hi}"
    );
    // Negation of a signal, and of a parenthesised signal expression.
    assert_all(&mono("-line(2, 2, 0) * 3 + 1", 256), -5.0, "-c*3+1");
    assert_all(&mono("-(line(2, 2, 0) + 1)", 256), -3.0, "-(c+1)");
    assert_all(&mono("1 - -line(2, 2, 0)", 256), 3.0, "1 - -c");
}

#[test]
fn every_mix_of_int_float_and_signal_works_with_every_operator() {
    // Left value 6, right value 2, each written as an int, a float or a constant signal.
    let lhs = [("int", "6"), ("float", "6.0"), ("signal", "line(6, 6, 0)")];
    let rhs = [
        ("int", "2"),
        ("float", "2.0"),
        ("signal", "line(2, 2.0, 0)"),
    ];
    let ops = [("+", 8.0f32), ("-", 4.0), ("*", 12.0), ("/", 3.0)];
    let mut checked = 0;
    for (lt, l) in lhs {
        for (rt, r) in rhs {
            for (op, want) in ops {
                let expr = format!("{l} {op} {r}");
                // Two numbers fold to a number: add it to a silent signal to render it.
                let src = if lt != "signal" && rt != "signal" {
                    format!("line(0, 0, 0) + ({expr})")
                } else {
                    expr.clone()
                };
                let v = mono(&src, 128);
                assert_all(&v, want, &format!("{lt} {op} {rt}: `{src}`"));
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 36);
}

#[test]
fn constants_against_signals_give_the_expected_values() {
    let cases = [
        ("line(2, 2, 0) * 3", 6.0f32),
        ("line(2, 2, 0) * 3.0", 6.0),
        ("3 * line(2, 2, 0)", 6.0),
        ("3.0 * line(2, 2, 0)", 6.0),
        ("3 - line(2, 2, 0)", 1.0),
        ("3.0 - line(2, 2, 0)", 1.0),
        ("line(2, 2, 0) - 3", -1.0),
        ("line(2, 2, 0) - 3.0", -1.0),
        ("line(2, 2, 0) / 4", 0.5),
        ("line(2, 2, 0) / 4.0", 0.5),
        ("8 / line(2, 2, 0)", 4.0),
        ("8.0 / line(2, 2, 0)", 4.0),
        ("line(2, 2, 0) + 1", 3.0),
        ("1.5 + line(2, 2, 0)", 3.5),
        ("line(2, 2, 0) * line(2.5, 2.5, 0)", 5.0),
    ];
    for (src, want) in cases {
        assert_all(&mono(src, 128), want, src);
    }
}

#[test]
fn method_and_function_forms_are_the_same() {
    let pairs = [
        ("lpf(saw(110), 800, 0.7)", "saw(110).lpf(800, 0.7)"),
        ("hpf(saw(110), 800)", "saw(110).hpf(800)"),
        ("ladder(saw(55), 600, 0.5)", "saw(55).ladder(600, 0.5)"),
        ("delay(saw(110), 0.01, 0.3)", "saw(110).delay(0.01, 0.3)"),
        ("drive(saw(110), 3)", "saw(110).drive(3)"),
        ("range(sine(2), 100, 300)", "sine(2).range(100, 300)"),
        ("clip(saw(110) * 3, -1, 1)", "(saw(110) * 3).clip(-1, 1)"),
        ("min(saw(110), 0.5)", "saw(110).min(0.5)"),
        ("gain(saw(110), 0.25)", "saw(110).gain(0.25)"),
        ("pan(saw(110), 0.3)", "saw(110).pan(0.3)"),
    ];
    for (f, m) in pairs {
        let (fl, fr) = render(f, FRAMES);
        let (ml, mr) = render(m, FRAMES);
        assert!(
            fl.iter().any(|x| x.abs() > 1e-3),
            "`{f}` rendered silence, the comparison would be empty"
        );
        assert_bit_identical(&fl, &ml, &format!("{f} vs {m} (left)"));
        assert_bit_identical(&fr, &mr, &format!("{f} vs {m} (right)"));
    }
}

#[test]
fn mono_output_goes_to_both_channels_identically() {
    let (l, r) = render("saw(110) * 0.5 + sine(3)", 48_000);
    assert!(l.iter().any(|x| x.abs() > 0.1));
    assert_eq!(bits(&l), bits(&r));
}

#[test]
fn stereo_puts_the_first_signal_left_and_the_second_right() {
    let (l, r) = render("stereo(line(1, 1, 0), line(2, 2, 0))", 256);
    assert_all(&l, 1.0, "left");
    assert_all(&r, 2.0, "right");

    let (l, r) = render("stereo(saw(110), sine(3))", FRAMES);
    assert_bit_identical(&l, &mono("saw(110)", FRAMES), "stereo left = saw");
    assert_bit_identical(&r, &mono("sine(3)", FRAMES), "stereo right = sine");
}

#[test]
fn mix_sums_and_spreads_mono_over_stereo() {
    let (l, r) = render("mix([line(1, 1, 0), line(2, 2, 0), line(4, 4, 0)])", 256);
    assert_all(&l, 7.0, "mono mix left");
    assert_all(&r, 7.0, "mono mix right");

    let (l, r) = render(
        "mix([stereo(line(1, 1, 0), line(2, 2, 0)), line(10, 10, 0), 100])",
        256,
    );
    assert_all(&l, 111.0, "stereo mix left");
    assert_all(&r, 112.0, "stereo mix right");

    // A single-item mix is the item itself.
    let (l, _) = render("mix([saw(110)])", FRAMES);
    assert_bit_identical(&l, &mono("saw(110)", FRAMES), "mix([x]) = x");
}

#[test]
fn pan_places_a_mono_signal() {
    let dry = mono("saw(110)", FRAMES);
    assert!(dry.iter().any(|x| x.abs() > 0.5));

    let (l, r) = render("saw(110).pan(-1)", FRAMES);
    assert_all(&r, 0.0, "pan(-1): right must be silent");
    // Equal-power gains may come from a polynomial: allow a few parts per million.
    assert!(
        max_abs_diff(&l, &dry) < 1e-5,
        "pan(-1): left is the dry signal"
    );

    let (l, r) = render("saw(110).pan(1)", FRAMES);
    let left_peak = l.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!(left_peak < 1e-6, "pan(1): left peak {left_peak}");
    assert!(
        max_abs_diff(&r, &dry) < 1e-5,
        "pan(1): right is the dry signal"
    );

    // Centre: equal power, both sides at cos(45°) of the input.
    let (l, r) = render("saw(110).pan(0)", FRAMES);
    let g = std::f32::consts::FRAC_1_SQRT_2;
    for i in 0..FRAMES {
        assert!((l[i] - dry[i] * g).abs() < 1e-5, "pan(0) left at {i}");
        assert!((r[i] - dry[i] * g).abs() < 1e-5, "pan(0) right at {i}");
    }

    // A stereo signal is balanced: pan(-1) keeps the left side and silences the right.
    let (l, r) = render("stereo(saw(110), sine(3)).pan(-1)", FRAMES);
    assert_bit_identical(&l, &dry, "balance(-1) keeps the left side");
    assert_all(&r, 0.0, "balance(-1): right must be silent");
}

#[test]
fn note_names_give_equal_tempered_frequencies() {
    let hz = |m: f64| 440.0 * 2f64.powf((m - 69.0) / 12.0);
    let cases = [
        ("a4", 440.0),
        ("A4", 440.0),
        ("c#3", hz(49.0)),
        ("db3", hz(49.0)),
        ("eb4", hz(63.0)),
        ("d#4", hz(63.0)),
        ("c4", hz(60.0)),
        ("a0", 27.5),
        ("b3", hz(59.0)),
        ("bb3", hz(58.0)),
    ];
    for (name, want) in cases {
        let got = duration_of("", &format!("note(\"{name}\")"));
        assert!(
            (got - want).abs() < 1e-9 * want,
            "note(\"{name}\") = {got}, expected {want}"
        );
    }
    assert_eq!(duration_of("", "note(\"a4\")"), 440.0);
    assert!((duration_of("", "note(\"c#3\")") - 138.591_315_488_436_1).abs() < 1e-9);
    assert!((duration_of("", "note(\"eb4\")") - 311.126_983_722_080_9).abs() < 1e-9);
}

#[test]
fn note_accepts_every_spelling_a_pattern_does() {
    // One parser behind both: each name gives the pattern's note number and note()'s
    // frequency of that number.
    for name in [
        "c4", "C4", "c#3", "cs3", "Cs3", "db4", "df4", "eb4", "ef4", "EF4", "fs2", "FS2", "bf3",
        "Bb", "bb", "c", "b#3", "cb4", "c##4", "c-1", "g9",
    ] {
        let pattern = waves::pattern::Pattern::parse(name).unwrap();
        let midi = pattern.events(0)[0].note.unwrap();
        let hz = 440.0 * 2f64.powf((f64::from(midi) - 69.0) / 12.0);
        let got = duration_of("", &format!("note(\"{name}\")"));
        assert!(
            (got - hz).abs() < 1e-9 * hz,
            "note(\"{name}\") = {got}, the pattern's {name} is MIDI {midi} = {hz} Hz"
        );
    }
}

#[test]
fn a_bad_note_name_lists_the_spellings() {
    for (name, says) in [
        ("h4", "not a note name; write a letter a-g"),
        ("c4x", "not a note name"),
        ("c10", "octave 10 is out of range; octaves are -1..9"),
        ("g#9", "MIDI note 128, outside 0..127"),
    ] {
        let src = format!("sine(note(\"{name}\"))");
        let Err(d) = compile_source(&src, "test.rhai", Path::new("."), SR) else {
            panic!("note(\"{name}\") compiled");
        };
        let text = d.render(Some(&src));
        assert!(text.contains(says), "note(\"{name}\"): {text}");
        if says.starts_with("not a note") {
            for s in ["# or s", "b or f", "-1..9", "3 if left out", "ef4"] {
                assert!(
                    text.contains(s),
                    "note(\"{name}\") does not list {s}: {text}"
                );
            }
        }
    }
}

#[test]
fn midi_numbers_give_frequencies() {
    assert_eq!(duration_of("", "midi(69)"), 440.0);
    assert_eq!(duration_of("", "midi(57)"), 220.0);
    assert_eq!(duration_of("", "midi(81.0)"), 880.0);
    assert!((duration_of("", "midi(60)") - 261.625_565_300_598_6).abs() < 1e-9);
    // A signal in gives a signal out.
    let v = mono("midi(line(69, 69, 0))", 128);
    for x in &v {
        assert!((x - 440.0).abs() < 1e-3, "midi(signal 69) = {x}");
    }
}

#[test]
fn time_helpers_follow_the_tempo() {
    assert_eq!(duration_of("tempo(120);", "beats(1)"), 0.5);
    assert_eq!(duration_of("tempo(120);", "bars(2)"), 4.0);
    assert_eq!(duration_of("", "ms(250)"), 0.25);
    // 120 BPM is the default.
    assert_eq!(duration_of("", "beats(1)"), 0.5);
    assert_eq!(duration_of("", "bars(1)"), 2.0);
    // Other tempos, and ints and floats alike.
    assert_eq!(duration_of("tempo(90);", "beats(3)"), 2.0);
    assert_eq!(duration_of("tempo(60.0);", "beats(1.5)"), 1.5);
    assert_eq!(duration_of("tempo(60);", "bars(0.5)"), 2.0);
    assert_eq!(duration_of("", "ms(1500.0)"), 1.5);
    // The helpers are plain numbers: they combine with arithmetic.
    assert_eq!(
        duration_of("tempo(120);", "bars(2) + beats(1) + ms(250)"),
        4.75
    );
}

#[test]
fn a_script_without_duration_has_none() {
    assert_eq!(compile("sine(1)").spec.duration, None);
    assert_eq!(compile("tempo(100);\nsine(1)").spec.tempo_bpm, 100.0);
    assert_eq!(compile("sine(1)").spec.tempo_bpm, 120.0);
}
