//! Diagnostics point at the right file, line and column, say what is wrong, and reach the
//! user of the `waves` binary as `error: file:line:col: message`, a source line and a `^`.

mod common;
use common::TempDir;

use std::path::Path;
use std::process::{Command, Output};
use waves::script::{Diagnostic, compile_file, compile_source};

const SR: f64 = 48_000.0;

/// Compiles `src`, which must fail; returns the diagnostic.
fn error_of(src: &str) -> Diagnostic {
    match compile_source(src, "test.rhai", Path::new("."), SR) {
        Ok(_) => panic!("expected an error from:\n{src}"),
        Err(d) => d,
    }
}

fn at(d: &Diagnostic) -> (usize, usize) {
    (d.line, d.col)
}

fn waves(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_waves"))
        .current_dir(dir)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run waves")
}

fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked"),
        "a panic reached the user:\n{stderr}"
    );
    assert!(
        !stderr.contains("RUST_BACKTRACE"),
        "a panic reached the user:\n{stderr}"
    );
}

#[test]
fn unclosed_paren_points_where_the_paren_is_missing() {
    let src = "let a = sine(440;\na";
    let d = error_of(src);
    assert_eq!(d.file, "test.rhai");
    assert_eq!(at(&d), (1, 17), "{d}");
    assert!(d.message.contains("sine"), "{d}");
    let r = d.render(Some(src));
    assert!(r.starts_with("error: test.rhai:1:17: "), "{r}");
    assert!(r.contains("1 | let a = sine(440;\n"), "{r}");
    assert!(r.contains(&format!("  | {}^\n", " ".repeat(16))), "{r}");
}

#[test]
fn other_parse_errors_point_at_the_offending_token() {
    let d = error_of("let a = 1 +;\nsine(1)");
    assert_eq!(at(&d), (1, 12), "{d}");
    let d = error_of("let x = 2;\nlet a = \"abc;\nsine(1)");
    assert_eq!(at(&d), (2, 9), "{d}");
    assert!(d.message.to_lowercase().contains("string"), "{d}");
}

#[test]

fn missing_semicolon_points_at_the_line_that_lacks_it() {
    let src = "let a = sine(440)\nlet b = 2;\na";
    let d = error_of(src);
    assert!(d.message.contains(';'), "{d}");
    assert_eq!(d.line, 1, "the `;` is missing on line 1: {d}");
    assert!((17..=18).contains(&d.col), "{d}");
}

#[test]

fn unclosed_call_at_end_of_file_points_inside_the_file() {
    let src = "let a = 1;\nsine(440\n";
    let d = error_of(src);
    assert!(d.message.contains(')'), "{d}");
    assert_eq!(d.line, 2, "the open call is on line 2: {d}");
    let r = d.render(Some(src));
    assert!(r.contains("2 | sine(440\n"), "no source line shown:\n{r}");
}

#[test]
fn unknown_function_has_a_did_you_mean_hint() {
    let src = "// a comment\nlet x = 1;\nlet a = sinee(440);\na";
    let d = error_of(src);
    assert_eq!(at(&d), (3, 9), "{d}");
    assert!(d.message.contains("unknown function"), "{d}");
    assert!(d.message.contains("sinee"), "{d}");
    let hint = d.hint.clone().expect("a hint");
    assert!(hint.contains("sine"), "hint: {hint}");
    let r = d.render(Some(src));
    assert!(r.contains("3 | let a = sinee(440);\n"), "{r}");
    assert!(r.contains("  |         ^\n"), "{r}");
    assert!(r.contains("hint: "), "{r}");
}

#[test]
fn bad_argument_type_names_the_parameter() {
    let d = error_of("let x = 1;\n\nlet y = sine(\"x\");\ny");
    assert_eq!(at(&d), (3, 9), "{d}");
    assert!(d.message.contains("freq"), "{d}");
    assert!(d.message.contains("string"), "{d}");

    let d = error_of("let s = saw(110);\ns.lpf(\"high\", 0.7)");
    assert_eq!(d.line, 2, "{d}");
    assert!(d.message.contains("cut"), "{d}");

    // A wrong type by number of arguments names the function and its forms.
    let d = error_of("let s = saw(110);\nlet t = s.lpf();\nt");
    assert_eq!(d.line, 2, "{d}");
    assert!(d.message.contains("lpf"), "{d}");
}

#[test]
fn lpf_cutoff_at_or_below_zero_is_reported_at_the_call() {
    let d = error_of("let s = saw(110);\ns.lpf(0, 0.7)");
    assert_eq!(at(&d), (2, 3), "{d}");
    assert!(d.message.contains("cutoff"), "{d}");
    assert!(d.message.contains("lpf"), "{d}");

    let d = error_of("let s = saw(110);\n\n   s.lpf(-200)");
    assert_eq!(at(&d), (3, 6), "{d}");
    assert!(d.message.contains("cutoff"), "{d}");

    let d = error_of("let s = saw(110);\nlpf(s, -5)");
    assert_eq!(at(&d), (2, 1), "{d}");
    assert!(d.message.contains("-5"), "{d}");
}

#[test]
fn feedback_loop_without_delay_is_reported_at_the_feedback_call() {
    let src =
        "let x = saw(110);\nlet fb = feedback();\nlet y = (x + fb * 0.5).lpf(800);\nfb.feed(y);\ny";
    let d = error_of(src);
    assert_eq!(at(&d), (2, 10), "{d}");
    assert!(d.message.contains("without a delay"), "{d}");
    assert!(d.hint.as_deref().unwrap_or("").contains("delay"), "{d:?}");

    // An unfed feedback() is an error too, at the feedback() call.
    let d = error_of("let x = saw(110);\n\nlet fb = feedback();\nx + fb");
    assert_eq!(at(&d), (3, 10), "{d}");
    assert!(d.message.contains("never fed"), "{d}");
}

#[test]
fn a_runaway_loop_stops_at_the_node_limit() {
    let src = "let x = sine(1);\nfor i in 0..60000 {\n  x = sine(i);\n}\nx";
    let d = error_of(src);
    assert!(d.message.contains("too many nodes"), "{d}");
    assert_eq!(at(&d), (3, 7), "{d}");
}

#[test]
fn output_must_be_a_signal() {
    let d = error_of("let a = sine(1);\nlet b = 2;\n");
    assert_eq!(d.line, 2, "{d}");
    assert!(d.message.contains("must end with the signal"), "{d}");
    let d = error_of("sine(1);\n\"text\"");
    assert!(d.message.contains("string"), "{d}");
}

#[test]
fn error_at_the_top_of_an_imported_file_names_that_file() {
    let dir = TempDir::new("diagnostics", "import_top");
    dir.write("patches/bad.rhai", "// a broken patch\nsinee(440)\n");
    let main = dir.write(
        "main.rhai",
        "// main\n\nimport \"patches/bad\" as bad;\nsine(1)\n",
    );
    let d = compile_file(&main, SR).expect_err("the import is broken");
    assert!(
        Path::new(&d.file).ends_with("patches/bad.rhai"),
        "file: {}",
        d.file
    );
    assert_eq!(at(&d), (2, 1), "{d}");
    assert!(d.message.contains("unknown function"), "{d}");
    let note = d.notes.join("\n");
    assert!(note.contains("main.rhai:3:8"), "notes: {note}");
    // The snippet comes from the imported file.
    let r = d.render(None);
    assert!(r.contains("2 | sinee(440)\n"), "{r}");
    assert!(r.contains("note: imported at "), "{r}");
}

#[test]
fn error_inside_an_imported_function_names_that_file_and_the_call() {
    let dir = TempDir::new("diagnostics", "import_fn");
    dir.write(
        "patches/bad.rhai",
        "// a patch\nfn make() {\n    sine(440).lpf(-1)\n}\n",
    );
    let main = dir.write(
        "main.rhai",
        "// main\nimport \"patches/bad\" as bad;\n\nlet x = bad::make();\nx\n",
    );
    let d = compile_file(&main, SR).expect_err("the patch is broken");
    assert!(
        Path::new(&d.file).ends_with("patches/bad.rhai"),
        "file: {}",
        d.file
    );
    assert_eq!(at(&d), (3, 15), "{d}");
    assert!(d.message.contains("cutoff"), "{d}");
    let note = d.notes.join("\n");
    assert!(note.contains("make"), "notes: {note}");
    assert!(note.contains("main.rhai:4:"), "notes: {note}");
    let r = d.render(None);
    assert!(r.contains("3 |     sine(440).lpf(-1)\n"), "{r}");
}

#[test]
fn parse_error_in_an_imported_file_names_that_file() {
    let dir = TempDir::new("diagnostics", "import_parse");
    dir.write("patches/bad.rhai", "fn make() {\n    sine(440;\n}\n");
    let main = dir.write("main.rhai", "import \"patches/bad\" as bad;\nbad::make()\n");
    let d = compile_file(&main, SR).expect_err("the patch does not parse");
    assert!(Path::new(&d.file).ends_with("patches/bad.rhai"), "{d}");
    assert_eq!(at(&d), (2, 13), "{d}");
    assert!(
        d.notes.join("\n").contains("main.rhai:1:8"),
        "{:?}",
        d.notes
    );
}

#[test]
fn binary_check_reports_file_line_col_snippet_and_marker() {
    let dir = TempDir::new("diagnostics", "bin_check");
    dir.write("bad.rhai", "// bad\nlet x = 1;\nlet a = sinee(440);\na\n");
    let out = waves(&dir.0, &["check", "bad.rhai"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(stderr.contains("error: bad.rhai:3:9: "), "{stderr}");
    assert!(stderr.contains("let a = sinee(440);"), "{stderr}");
    assert!(stderr.contains("\n  |         ^\n"), "{stderr}");
    assert!(stderr.contains("hint: did you mean `sine`?"), "{stderr}");
    assert_no_panic(&stderr);
}

#[test]
fn binary_check_of_a_good_and_a_bad_file_reports_only_the_bad_one() {
    let dir = TempDir::new("diagnostics", "bin_mixed");
    dir.write("good.rhai", "sine(440) * 0.2\n");
    dir.write("bad.rhai", "let s = saw(110);\ns.lpf(0, 0.7)\n");
    let out = waves(&dir.0, &["check", "good.rhai", "bad.rhai"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(stderr.contains("bad.rhai:2:3"), "{stderr}");
    assert!(
        !stderr.contains("good.rhai"),
        "good file reported:\n{stderr}"
    );
    assert!(stdout.contains("ok: good.rhai"), "stdout:\n{stdout}");
    assert!(stderr.contains("1 of 2"), "{stderr}");
    assert_no_panic(&stderr);

    let out = waves(&dir.0, &["check", "good.rhai"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn binary_render_of_a_missing_file_exits_1_with_a_clear_message() {
    let dir = TempDir::new("diagnostics", "bin_missing");
    let out = waves(&dir.0, &["render", "nope.rhai", "-o", "out.wav"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(stderr.contains("nope.rhai"), "{stderr}");
    assert!(stderr.contains("cannot read"), "{stderr}");
    assert!(!dir.0.join("out.wav").exists());
    assert_no_panic(&stderr);

    let out = waves(&dir.0, &["check", "nope.rhai"]);
    assert_eq!(out.status.code(), Some(1));
    assert_no_panic(&String::from_utf8_lossy(&out.stderr));
}

#[test]
fn binary_render_of_a_bad_script_exits_1_and_writes_nothing() {
    let dir = TempDir::new("diagnostics", "bin_render_bad");
    dir.write("bad.rhai", "let fb = feedback();\nfb.feed(fb * 0.5)\n");
    let out = waves(&dir.0, &["render", "bad.rhai", "-o", "out.wav"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(stderr.contains("bad.rhai:1:10"), "{stderr}");
    assert!(!dir.0.join("out.wav").exists());
    assert_no_panic(&stderr);
}

#[test]
fn binary_never_panics_on_hostile_scripts() {
    let dir = TempDir::new("diagnostics", "bin_hostile");
    let scripts = [
        "loop {}",
        "fn f(x) { f(x) } f(1)",
        "let s = \"x\"; loop { s += s; }",
        "eval(\"1\")",
        "import \"../x\" as x; sine(1)",
        "sine(440",
        "",
        "42",
        "sine(440).delay(1e9, 2)",
        "poly(100000, |v| sine(1))",
        "stereo(sine(1), stereo(sine(1), sine(2)))",
        "let fb = feedback(); fb.feed(1); fb.feed(2); sine(1)",
    ];
    for (i, s) in scripts.iter().enumerate() {
        let name = format!("h{i}.rhai");
        dir.write(&name, s);
        let out = waves(&dir.0, &["check", &name]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "`{s}`:\n{stderr}");
        assert!(
            stderr.contains(&format!("error: {name}")),
            "`{s}`:\n{stderr}"
        );
        assert_no_panic(&stderr);
    }
}

// "Errors that teach": one test per mistake a newcomer made, with what waves now says.

fn hint_of(d: &Diagnostic) -> String {
    d.hint.clone().unwrap_or_default()
}

#[test]
fn another_tools_name_gets_the_waves_name_before_a_near_spelling() {
    let d = error_of("sin(440) * 0.2");
    assert_eq!(at(&d), (1, 1), "{d}");
    assert_eq!(d.message, "unknown function `sin`");
    assert!(hint_of(&d).contains("waves calls it `sine`"), "{d:?}");
    assert!(!hint_of(&d).contains("min"), "{d:?}");

    // The same as a variable, the way another tool writes it.
    let d = error_of("SinOsc.ar(440)");
    assert_eq!(at(&d), (1, 1), "{d}");
    assert!(hint_of(&d).contains("`sine`"), "{d:?}");

    for (src, want) in [
        ("saw(110).echo(0.3)", "`delay`"),
        ("white_noise() * 0.1", "`noise`"),
        ("saw(110).volume(0.5)", "`gain`"),
        ("sawtooth(110)", "`saw`"),
        ("saw(110).freeverb(0.3)", "`reverb`"),
        ("noise().highpass(3000)", "`hpf`"),
        ("noise().bandpass(3000)", "`bpf`"),
        ("sequencer(\"x x\")", "`pattern`"),
    ] {
        let d = error_of(src);
        assert!(hint_of(&d).contains(want), "`{src}`: {d:?}");
    }
}

#[test]
fn a_method_from_another_tool_gets_the_waves_method() {
    let d = error_of("let s = saw(110);\ns.lowpass(800)");
    assert_eq!(at(&d), (2, 3), "{d}");
    assert_eq!(d.message, "unknown function `lowpass`");
    assert!(hint_of(&d).contains("`lpf`"), "{d:?}");
    assert!(hint_of(&d).contains(".lpf(800)"), "an example: {d:?}");
}

#[test]
fn an_assignment_without_let_says_to_declare_it() {
    let d = error_of("tempo(120);\nbass = saw(55);\nbass");
    assert_eq!(at(&d), (2, 1), "{d}");
    assert_eq!(d.message, "`bass` is not declared: write `let bass = …`");
    assert!(hint_of(&d).contains("`let` makes a variable"), "{d:?}");
    // Reading an unknown name is still a spelling question.
    let d = error_of("let bass = saw(55);\nbas");
    assert!(hint_of(&d).contains("did you mean `bass`"), "{d:?}");
}

#[test]
fn a_literal_integer_division_is_a_warning_at_the_slash() {
    let c = compile_source("sine(440) * (1/4)", "test.rhai", Path::new("."), SR)
        .expect("it still compiles");
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    let w = &c.warnings[0];
    assert_eq!(
        (w.file.as_str(), w.line, w.col),
        ("test.rhai", 1, 15),
        "{w}"
    );
    assert!(w.message.contains("integer division"), "{w}");
    assert!(hint_of(w).contains("integer division gives 0"), "{w:?}");
    assert!(hint_of(w).contains("write 1.0/4"), "{w:?}");
    let r = w.render_warning(Some("sine(440) * (1/4)"));
    assert!(r.starts_with("warning: test.rhai:1:15: "), "{r}");

    // A fraction written as one, or a division that is exact, says nothing.
    for src in ["sine(440) * (1.0/4)", "sine(440) * (8/4)", "saw(55) * 1/4"] {
        let c = compile_source(src, "test.rhai", Path::new("."), SR).unwrap();
        assert!(c.warnings.is_empty(), "`{src}`: {:?}", c.warnings);
    }
}

#[test]
fn a_zero_from_integer_division_gets_the_same_hint() {
    let d = error_of("noise() * perc(metro(1/4), 0.001, 0.1)");
    assert_eq!(at(&d), (1, 16), "{d}");
    assert!(d.message.contains("must be above 0 (got 0)"), "{d}");
    assert!(hint_of(&d).contains("integer division gives 0"), "{d:?}");
    assert!(hint_of(&d).contains("write 1.0/4"), "{d:?}");
    assert!(
        hint_of(&d).contains("`1/4` at 1:23"),
        "points at the `/`: {d:?}"
    );
}

#[test]
fn an_unknown_function_of_a_patch_lists_what_the_patch_offers() {
    let dir = TempDir::new("diagnostics", "patch_list");
    dir.write(
        "patches/drums.rhai",
        "fn kick() { sine(50) }\nfn snare(level) { noise() * level }\nprivate fn helper() { 1 }\n",
    );
    let main = dir.write(
        "main.rhai",
        "import \"patches/drums\" as drums;\n\ndrums::kik()\n",
    );
    let d = compile_file(&main, SR).expect_err("no such function");
    assert_eq!(at(&d), (3, 8), "{d}");
    assert_eq!(d.message, "`drums` has no function `kik`");
    let hint = hint_of(&d);
    assert!(hint.contains("did you mean `drums::kick`?"), "{hint}");
    assert!(
        hint.contains("drums::kick(), drums::snare(level)"),
        "{hint}"
    );
    assert!(!hint.contains("helper"), "a private fn is listed: {hint}");

    // A known function with the wrong arguments shows its forms.
    dir.write(
        "main.rhai",
        "import \"patches/drums\" as drums;\ndrums::snare(1, 2)\n",
    );
    let d = compile_file(&main, SR).expect_err("wrong arguments");
    assert!(d.message.contains("no form of `drums::snare`"), "{d}");
    assert!(d.message.contains("(integer, integer)"), "{d}");
}

#[test]
fn a_missing_paren_also_points_where_it_was_opened() {
    let src = "let a = 1;\nlet b = sine(440 * a\nlet c = 2;\nb";
    let d = error_of(src);
    assert_eq!(at(&d), (2, 21), "{d}");
    let notes = d.notes.join("\n");
    assert!(
        notes.contains("the `(` opened at test.rhai:2:13 is not closed"),
        "{notes}"
    );
    assert_eq!(hint_of(&d), "add the `)` that closes it");
    let r = d.render(Some(src));
    assert!(r.contains("note: the `(` opened at test.rhai:2:13"), "{r}");

    // Nested calls: the innermost open one.
    let d = error_of("let x = saw(sine(1).range(100, 200);\nx");
    assert!(
        d.notes.join("\n").contains("opened at test.rhai:1:12"),
        "{d:?}"
    );
}

#[test]
fn types_are_named_in_words() {
    let d = error_of("saw(110).lpf(800, 0.7, 1, 2)");
    assert!(
        d.message
            .contains("no form of `lpf` takes (signal, integer, number, integer, integer)"),
        "{d}"
    );
    let d = error_of("let a = sine(1);\n42");
    assert!(d.message.ends_with("ends with an integer"), "{d}");
    let d = error_of("sine(0.0 / 0.0)");
    assert!(d.message.contains("`freq` is not a number (NaN)"), "{d}");
    let d = error_of("sine(1) * \"a\"");
    assert_eq!(d.message, "`*` cannot combine (signal, string)");
    let d = error_of("mix(1)");
    assert!(d.message.ends_with("got an integer"), "{d}");
}

/// Broken scripts of every kind: no diagnostic may name a Rust type.
#[test]
fn no_diagnostic_names_a_rust_type() {
    let scripts = [
        "saw(110).lpf(800, 0.7, 1, 2)",
        "sine(1) * \"a\"",
        "sine(1) * [1, 2]",
        "let a = sine(1);\n42",
        "let a = sine(1);\n4.5",
        "let a = sine(1);\n\"s\"",
        "let a = sine(1);\n[1]",
        "let a = sine(1);\n#{a: 1}",
        "let a = sine(1);\ntrue",
        "let a = sine(1);\n|x| x",
        "sine(0.0 / 0.0)",
        "sine(1.0 / 0.0)",
        "sine(\"440\")",
        "sine(true)",
        "sine([1])",
        "sine(|x| x)",
        "saw(1).lpf(\"x\")",
        "mix(1)",
        "mix([1, \"a\"])",
        "stereo(1, 2, 3)",
        "let x = 1; x.freq",
        "let x = sine(1); x[0]",
        "let x = 1; for i in x { }",
        "let x = \"a\" - 1; sine(1)",
        "let x = 1; x.lpf(200)",
        "poly(\"a\", |v| sine(1))",
        "pattern(1)",
        "pattern(\"x\").play(1)",
        "param(1, 2)",
        "param(\"a\", \"b\")",
        "sine(1).track(2)",
        "tempo(\"fast\")",
        "sine(1).pan(sine(1), 2)",
        "1.0 / \"a\"",
        "let x = sine(1); x.count",
        "note(1)",
        "reload_at(1)",
        "sine(1).id(2)",
    ];
    for src in scripts {
        let shown = match compile_source(src, "test.rhai", Path::new("."), SR) {
            Ok(c) => c
                .warnings
                .iter()
                .map(|w| w.render_warning(Some(src)))
                .collect::<String>(),
            Err(d) => d.render(Some(src)),
        };
        for rust in [
            "i64",
            "f64",
            "Signal",
            "ImmutableString",
            "rhai::",
            "Dynamic",
        ] {
            assert!(!shown.contains(rust), "`{src}` names {rust}:\n{shown}");
        }
    }
}

#[test]
fn binary_check_and_render_print_the_warning_and_still_succeed() {
    let dir = TempDir::new("diagnostics", "bin_warn");
    dir.write("w.rhai", "duration(0.1);\nsine(440) * (1/4)\n");
    let out = waves(&dir.0, &["check", "w.rhai"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(stderr.contains("warning: w.rhai:2:15: "), "{stderr}");
    assert!(stderr.contains("sine(440) * (1/4)"), "{stderr}");
    assert!(
        stderr.contains("hint: integer division gives 0; write 1.0/4"),
        "{stderr}"
    );
    assert_no_panic(&stderr);

    let out = waves(&dir.0, &["render", "w.rhai", "-o", "w.wav"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(stderr.contains("warning: w.rhai:2:15: "), "{stderr}");
    assert!(dir.0.join("w.wav").exists());
}

#[test]
fn a_function_left_open_names_its_brace() {
    let src = "fn pad(f) {\n  let x = saw(f);\n  x.lpf(800)\n\npad(220)\n";
    let d = error_of(src);
    assert!(
        d.notes
            .iter()
            .any(|n| n == "the `{` opened at test.rhai:1:11 is never closed"),
        "{:?}",
        d.notes
    );
    assert_eq!(d.hint.as_deref(), Some("add the `}` that closes it"));
    // A missing `;` with every brace closed is just that.
    let d = error_of("let a = 1\nlet b = 2;\na");
    assert!(d.notes.is_empty(), "{:?}", d.notes);
}

#[test]
fn warnings_are_shown_with_the_error_that_stops_the_script() {
    let dir = TempDir::new("diagnostics", "warn_and_error");
    dir.write(
        "w.rhai",
        "let a = sine(440) * (1/4);\nlet b = sine(440) +;\na\n",
    );
    let o = waves(&dir.0, &["check", "w.rhai"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    let warn = err
        .find("warning: w.rhai:1:23: `1/4` is integer division")
        .expect(&err);
    let error = err.find("error: w.rhai:2:20:").expect(&err);
    assert!(warn < error, "{err}");
}
