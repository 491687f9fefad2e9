//! Script parameters: `param(..)` declarations, values from the command line
//! (`waves FILE name=VALUE`, `--set name=VALUE`), their errors, `waves check --params`, and
//! values that survive hot reloads.

mod common;
use common::{SR, TempDir};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;
use waves::config::Config;
use waves::engine::Renderer;
use waves::engine::commands;
use waves::graph;
use waves::live::Live;
use waves::script::{
    Compiled, Diagnostic, Overrides, ParamInfo, compile_file_with, compile_source,
    compile_source_with,
};

fn kick() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kick.rhai")
}

fn ov(args: &[&str]) -> Overrides {
    Overrides::parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn compile_with(src: &str, o: &[&str]) -> Result<Compiled, Diagnostic> {
    compile_source_with(src, "test.rhai", Path::new("."), SR, &ov(o))
}

fn compile_err(src: &str, o: &[&str]) -> Diagnostic {
    match compile_with(src, o) {
        Ok(_) => panic!("compiled, but should fail:\n{src}\nwith {o:?}"),
        Err(d) => d,
    }
}

/// The left channel of `secs` seconds of a compiled script, unity gain.
fn render(c: &Compiled, secs: f64) -> Vec<f32> {
    let g = graph::compile(&c.spec, SR as f32).0;
    let mut r = Renderer::new(g, SR as f32, 1.0);
    let frames = (secs * SR).round() as usize;
    let mut out = vec![0.0f32; frames * 2];
    for chunk in out.chunks_mut(2 * 512) {
        r.process(chunk);
    }
    out.iter().step_by(2).copied().collect()
}

/// Frequency from the rising zero crossings of `x[from..to]`: cycles between the first and
/// the last crossing over the time they span.
fn pitch(x: &[f32], from: f64, to: f64) -> f64 {
    let (a, b) = ((from * SR) as usize, (to * SR) as usize);
    let ups: Vec<f64> = (a.max(1)..b.min(x.len()))
        .filter(|&i| x[i - 1] < 0.0 && x[i] >= 0.0)
        .map(|i| {
            // Interpolated crossing time.
            let (p, q) = (x[i - 1] as f64, x[i] as f64);
            (i - 1) as f64 + p / (p - q)
        })
        .collect();
    assert!(
        ups.len() >= 3,
        "too few cycles in {from}..{to} s to measure a pitch"
    );
    (ups.len() - 1) as f64 * SR / (ups[ups.len() - 1] - ups[0])
}

fn near(got: f64, want: f64) -> bool {
    (got - want).abs() <= want * 0.01
}

// ---------------------------------------------------------------------------------------
// Declaring and reading

#[test]
fn the_default_is_used_without_an_override() {
    let src = "let f = param(\"f\", 440);\nsine(f) * 0.5";
    let c = compile_source(src, "test.rhai", Path::new("."), SR).unwrap();
    assert_eq!(
        c.params,
        vec![ParamInfo {
            name: "f".into(),
            default: 440.0,
            range: None,
            value: 440.0
        }]
    );
    let p = pitch(&render(&c, 0.2), 0.0, 0.2);
    assert!(near(p, 440.0), "pitch {p}");
}

#[test]
fn an_override_sets_the_value() {
    let src = "let f = param(\"f\", 440, 20, 2000);\nsine(f) * 0.5";
    let c = compile_with(src, &["f=220"]).unwrap();
    assert_eq!(c.params[0].value, 220.0);
    assert_eq!(c.params[0].default, 440.0);
    assert_eq!(c.params[0].range, Some((20.0, 2000.0)));
    let p = pitch(&render(&c, 0.2), 0.0, 0.2);
    assert!(near(p, 220.0), "pitch {p}");
}

#[test]
fn the_value_is_a_float_even_from_an_integer_default() {
    // With an integer, 3 / 2 would be 1 and the pitch 440.
    let src = "let n = param(\"n\", 3);\nsine(440 * (n / 2)) * 0.5";
    let p = pitch(&render(&compile_with(src, &[]).unwrap(), 0.2), 0.0, 0.2);
    assert!(near(p, 660.0), "pitch {p}");
    let p = pitch(
        &render(&compile_with(src, &["n=1"]).unwrap(), 0.2),
        0.0,
        0.2,
    );
    assert!(near(p, 220.0), "pitch {p}");
}

#[test]
fn parameters_are_listed_in_declaration_order_including_imported_ones() {
    let dir = TempDir::new("params", "imports");
    dir.write(
        "patches/bass.rhai",
        "fn bass(f) { saw(f * param(\"octave\", 1, 0.25, 4)) }\n",
    );
    let main = dir.write(
        "main.rhai",
        "import \"patches/bass\" as b;\nlet g = param(\"gain\", 0.2);\nb::bass(55) * g\n",
    );
    let c = compile_file_with(&main, SR, &ov(&["octave=2"])).unwrap();
    let names: Vec<(&str, f64)> = c
        .params
        .iter()
        .map(|p| (p.name.as_str(), p.value))
        .collect();
    assert_eq!(names, [("gain", 0.2), ("octave", 2.0)]);
}

#[test]
fn the_same_declaration_twice_is_one_parameter() {
    let src = "let a = param(\"t\", 5, 0, 10);\nlet b = param(\"t\", 5, 0, 10);\nsine(a * 100 + b * 100) * 0.5";
    let c = compile_with(src, &["t=2"]).unwrap();
    assert_eq!(c.params.len(), 1);
    let p = pitch(&render(&c, 0.2), 0.0, 0.2);
    assert!(near(p, 400.0), "pitch {p}");
}

#[test]
fn a_different_declaration_of_the_same_name_is_an_error_at_the_second() {
    let src = "let a = param(\"t\", 5, 0, 10);\nlet b = param(\"t\", 6);\nsine(a) * b";
    let d = compile_err(src, &[]);
    assert_eq!((d.line, d.col), (2, 9), "{d}");
    assert!(
        d.message.contains("already declared") && d.message.contains("test.rhai:1:9"),
        "{d}"
    );
}

// ---------------------------------------------------------------------------------------
// Errors in declarations

#[test]
fn a_default_outside_its_range_is_an_error_at_the_call() {
    let d = compile_err("let t = param(\"tune\", 10, 20, 200);\nsine(t)", &[]);
    assert_eq!((d.file.as_str(), d.line, d.col), ("test.rhai", 1, 9), "{d}");
    assert!(
        d.message.starts_with("param: ") && d.message.contains("20..200"),
        "{d}"
    );
    // lo above hi cannot hold a default either.
    let d = compile_err("let t = param(\"tune\", 50, 200, 20);\nsine(t)", &[]);
    assert!(d.message.contains("200..20"), "{d}");
}

#[test]
fn names_defaults_and_bounds_are_checked() {
    for (src, needle) in [
        ("param(\"2x\", 1)", "not a parameter name"),
        ("param(\"a-b\", 1)", "not a parameter name"),
        ("param(\"\", 1)", "needs a name"),
        (
            "param(5, 1)",
            "in quotes, like param(\"tune\", 50) (got a number)",
        ),
        (
            "param(\"a\", \"b\")",
            "`default` must be a number, got a string",
        ),
        (
            "param(\"a\", sine(1))",
            "`default` must be a number, got a signal",
        ),
        ("param(\"a\", 1, \"0\", 2)", "`lo` must be a number"),
        ("param(\"a\", 1, 0, ())", "`hi` must be a number"),
    ] {
        let full = format!("let v = {src};\nsine(220)");
        let d = compile_err(&full, &[]);
        assert_eq!((d.line, d.col), (1, 9), "{src}: {d}");
        assert!(d.message.contains(needle), "{src}: {d}");
    }
    // Three arguments is no form of param.
    let d = compile_err("let v = param(\"a\", 1, 2);\nsine(v)", &[]);
    assert!(
        d.hint
            .as_deref()
            .unwrap_or("")
            .contains("param(name, default, lo, hi)"),
        "{d:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Errors in overrides

#[test]
fn an_override_outside_the_range_names_the_range() {
    let src = "let t = param(\"tune\", 50, 20, 200);\nsine(t)";
    let d = compile_err(src, &["tune=300"]);
    assert_eq!((d.line, d.col), (1, 9), "{d}");
    assert!(
        d.message.contains("tune=300") && d.message.contains("20..200"),
        "{d}"
    );
    // The bounds themselves are inside.
    assert!(compile_with(src, &["tune=20"]).is_ok());
    assert!(compile_with(src, &["tune=200"]).is_ok());
}

#[test]
fn an_unknown_name_lists_the_parameters_and_suggests_the_nearest() {
    let c = compile_file_with(&kick(), SR, &ov(&["tun=100"]));
    let d = c.expect_err("tun is not declared");
    assert_eq!(
        d.message,
        "unknown parameter \"tun\"; kick.rhai has: tune (default 50, 20..200), decay (default 0.3, 0.05..2)"
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean tune?"));
    // A script without parameters says so.
    let d = compile_err("sine(220)", &["tune=1"]);
    assert!(
        d.message.contains("unknown parameter \"tune\"")
            && d.message.contains("declares no parameters"),
        "{d}"
    );
}

#[test]
fn a_script_error_wins_over_an_unknown_override() {
    // The script's own error wins over the unknown-override check.
    let d = compile_err(
        "let x = nope(1);\nlet t = param(\"t\", 1);\nsine(t)",
        &["t=2"],
    );
    assert!(d.message.contains("nope"), "{d}");
}

#[test]
fn bad_values_name_the_parameter() {
    for bad in ["tune=abc", "tune=", "tune=1,5", "tune=nan", "tune=inf"] {
        let e = Overrides::parse(&[bad]).expect_err(bad);
        assert!(e.contains("tune"), "{bad}: {e}");
    }
    for (arg, want) in [
        ("tune=100", 100.0),
        ("tune=0.5", 0.5),
        ("tune=-3", -3.0),
        ("tune=1e3", 1000.0),
    ] {
        assert_eq!(
            Overrides::parse(&[arg]).unwrap().get("tune"),
            Some(want),
            "{arg}"
        );
    }
    let e = Overrides::parse(&["tune"]).unwrap_err();
    assert!(e.contains("NAME=VALUE"), "{e}");
}

// ---------------------------------------------------------------------------------------
// The command line

fn waves(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_waves"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run waves")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn check_params_lists_each_script() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = waves(
        root,
        &[
            "check",
            "--params",
            "scripts/kick.rhai",
            "scripts/tone.rhai",
        ],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert_eq!(
        out,
        "scripts/kick.rhai: tune = 50 (20..200)\n\
         scripts/kick.rhai: decay = 0.3 (0.05..2)\n\
         scripts/tone.rhai: no parameters\n"
    );
    let o = waves(
        root,
        &["check", "--params", "--set", "tune=80", "scripts/kick.rhai"],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert_eq!(
        out,
        "scripts/kick.rhai: tune = 80 (default 50, 20..200)\n\
         scripts/kick.rhai: decay = 0.3 (0.05..2)\n"
    );
}

#[test]
fn check_rejects_bad_overrides() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (args, needle) in [
        (
            &["check", "--set", "tun=80", "scripts/kick.rhai"][..],
            "unknown parameter \"tun\"",
        ),
        (
            &["check", "--set", "tune=300", "scripts/kick.rhai"][..],
            "20..200",
        ),
        (
            &["check", "--set", "tune=abc", "scripts/kick.rhai"][..],
            "parameter tune: \"abc\" is not a number",
        ),
        (
            &["check", "scripts/kick.rhai", "tune=80"][..],
            "--set tune=80",
        ),
    ] {
        let o = waves(root, args);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}\n{out}{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// The samples of a float WAV file.
fn read_wav(p: &Path) -> Vec<f32> {
    let mut r = hound::WavReader::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let ch = r.spec().channels as usize;
    let s: Vec<f32> = r.samples::<f32>().map(|s| s.unwrap()).collect();
    s.iter().step_by(ch).copied().collect()
}

#[test]
fn render_takes_values_after_the_file_and_from_set() {
    let dir = TempDir::new("params", "render");
    let k = kick();
    let k = k.to_str().unwrap();
    for (out, extra) in [
        ("default.wav", &[][..]),
        ("after.wav", &["tune=80"][..]),
        ("set.wav", &["--set", "tune=80"][..]),
    ] {
        let mut args = vec!["render", k, "--duration", "1", "-o", out];
        args.extend_from_slice(extra);
        let o = waves(&dir.0, &args);
        let (so, se) = text(&o);
        assert!(o.status.success(), "{args:?}\n{so}{se}");
    }
    let (default, after, set) = (
        read_wav(&dir.0.join("default.wav")),
        read_wav(&dir.0.join("after.wav")),
        read_wav(&dir.0.join("set.wav")),
    );
    assert!(after == set, "tune=80 and --set tune=80 render differently");
    // After the 80 ms sweep the kick sits at `tune` Hz until the next hit at 0.5 s.
    let (p50, p80) = (pitch(&default, 0.1, 0.45), pitch(&after, 0.1, 0.45));
    assert!(near(p50, 50.0), "default pitch {p50}");
    assert!(near(p80, 80.0), "tune=80 pitch {p80}");
}

#[test]
fn play_takes_values_after_the_file() {
    // Offline (play_in_real_time = false) so no audio device is needed: the play path's
    // own fallback renders to output_dir.
    let dir = TempDir::new("params", "play");
    dir.write(
        "c.rhai",
        "let play_in_real_time = false;\nlet output_dir = \"out\";\n",
    );
    let k = kick();
    let k = k.to_str().unwrap();
    for args in [
        vec![k, "tune=80"],
        vec!["play", k, "tune=80"],
        vec![k, "--set", "tune=80"],
    ] {
        let _ = std::fs::remove_file(dir.0.join("out/kick.wav"));
        let mut full = args.clone();
        full.extend(["--config", "c.rhai", "--duration", "1"]);
        let o = waves(&dir.0, &full);
        let (so, se) = text(&o);
        assert!(o.status.success(), "{full:?}\n{so}{se}");
        let p = pitch(&read_wav(&dir.0.join("out/kick.wav")), 0.1, 0.45);
        assert!(near(p, 80.0), "{args:?}: pitch {p}");
    }
}

#[test]
fn play_stops_before_any_audio_on_a_bad_override() {
    let dir = TempDir::new("params", "play-bad");
    let k = kick();
    let k = k.to_str().unwrap();
    for (args, needle) in [
        (vec![k, "tun=80"], "unknown parameter \"tun\""),
        (vec!["play", k, "tune=1000"], "20..200"),
        (vec![k, "tune=loud"], "parameter tune"),
        (vec![k, "--set", "decay=0"], "0.05..2"),
    ] {
        let mut full = args.clone();
        full.extend(["--duration", "1", "--no-record"]);
        let o = waves(&dir.0, &full);
        let (so, se) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}\n{so}{se}");
        assert!(se.contains(needle), "{args:?}: {se}");
        assert!(
            !se.contains("Playing") && !so.contains("Rendered") && !dir.0.join("output").exists(),
            "{args:?} made sound:\n{so}{se}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Hot reload

#[test]
fn overrides_survive_reloads() {
    let dir = TempDir::new("params", "reload");
    let file = dir.write(
        "live.rhai",
        "let f = param(\"f\", 440, 20, 2000);\nsine(f) * 0.5\n",
    );
    let o = ov(&["f=220"]);
    let c = compile_file_with(&file, SR, &o).unwrap();
    let (g, meta) = graph::compile(&c.spec, SR as f32);
    let (control, ends) = commands::channel();
    let mut live = Live::new(
        &file,
        SR as u32,
        control,
        (&c.spec, &meta),
        c.files.clone(),
        Default::default(),
    )
    .with_overrides(o);
    let mut r = Renderer::new(g, SR as f32, 1.0);
    r.attach(ends);
    let cfg = Config::default();
    let mut play = |secs: f64| {
        let mut out = vec![0.0f32; (secs * SR) as usize * 2];
        for chunk in out.chunks_mut(2 * 256) {
            r.process(chunk);
        }
        out.iter().step_by(2).copied().collect::<Vec<f32>>()
    };
    let p = pitch(&play(0.2), 0.0, 0.2);
    assert!(near(p, 220.0), "before any edit: {p}");

    // A new shape: rebuilt and swapped in, compiled with f=220 again.
    std::fs::write(
        &file,
        "let f = param(\"f\", 440, 20, 2000);\n(sine(f) * 0.5).lpf(9000)\n",
    )
    .unwrap();
    let log = live.reload(std::slice::from_ref(&file), &cfg, Instant::now());
    assert!(log.is_empty(), "{log:?}");
    let heard = play(0.3);
    let log = live.tick();
    assert!(log.iter().any(|l| l.contains("reloaded")), "{log:?}");
    let p = pitch(&heard, 0.1, 0.3);
    assert!(near(p, 220.0), "after a rebuild: {p}");

    // Only a number changes: glided in place, still at 220.
    std::fs::write(
        &file,
        "let f = param(\"f\", 440, 20, 2000);\n(sine(f) * 0.4).lpf(9000)\n",
    )
    .unwrap();
    let log = live.reload(std::slice::from_ref(&file), &cfg, Instant::now());
    assert!(log.is_empty(), "{log:?}");
    let heard = play(0.3);
    let log = live.tick();
    assert!(log.iter().any(|l| l.contains("(1 number)")), "{log:?}");
    let p = pitch(&heard, 0.1, 0.3);
    assert!(near(p, 220.0), "after a glide: {p}");

    // The edit drops the parameter the override names: an error, the old sound plays on.
    std::fs::write(&file, "sine(660) * 0.5\n").unwrap();
    let log = live.reload(std::slice::from_ref(&file), &cfg, Instant::now());
    let all = log.join("\n");
    assert!(
        all.contains("unknown parameter \"f\"") && all.contains("keeps playing"),
        "{all}"
    );
    let p = pitch(&play(0.3), 0.0, 0.3);
    assert!(near(p, 220.0), "after the failed reload: {p}");

    // Declared again: back to the override.
    std::fs::write(&file, "let f = param(\"f\", 440);\ntri(f) * 0.5\n").unwrap();
    let log = live.reload(std::slice::from_ref(&file), &cfg, Instant::now());
    assert!(log.is_empty(), "{log:?}");
    let heard = play(0.3);
    let p = pitch(&heard, 0.1, 0.3);
    assert!(near(p, 220.0), "after it was declared again: {p}");
}
