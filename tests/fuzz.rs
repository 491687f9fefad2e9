//! Fuzzing in bounded time: the script compiler (and rendering what compiles), the pattern
//! mini-notation, config.rhai and WAV sample loading, each fed arbitrary and
//! structure-aware input through proptest.
//!
//! Properties: no panic; every input finishes well under a second; every error is a
//! diagnostic (a non-empty message; for scripts a position on a real line).
//!
//! `cargo test --release --test fuzz` runs a small number of cases per target (well under
//! a minute on a 2-core machine); `WAVES_FUZZ_CASES=N` runs N cases per target instead.
//! Each target prints its number of executions. Inputs that once failed live in
//! `tests/fuzz_regressions/` (one file per case; the file name's prefix says which target)
//! and are replayed on every run.

mod common;
use common::{TempDir, thread_cpu};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use waves::engine::Renderer;
use waves::graph;
use waves::pattern::Pattern;
use waves::script::{Diagnostic, compile_source, dsl, samples};

const SR: f64 = 48_000.0;
/// Blocks rendered from every graph that compiles.
const BLOCKS: usize = 4;
const BLOCK: usize = 256;

/// CPU time allowed for one input (compile and render). Debug builds are several times
/// slower, so they get more; CI tests in release.
fn case_limit() -> Duration {
    if cfg!(debug_assertions) {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(1)
    }
}

/// An input that has not finished after this long is reported as a hang.
const HANG: Duration = Duration::from_secs(30);

/// Cases per target: `default`, or `WAVES_FUZZ_CASES` when set.
fn cases(default: u32) -> u32 {
    match std::env::var("WAVES_FUZZ_CASES") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("WAVES_FUZZ_CASES={s:?} is not a whole number")),
        Err(_) => default,
    }
}

/// Runs `check` on `input` in its own thread, so a hang is reported (with the input)
/// instead of stalling the run, and fails when it panics or takes longer than the limit.
fn bounded<T, F>(what: &str, input: T, check: F) -> Result<bool, String>
where
    T: std::fmt::Debug + Clone + Send + 'static,
    F: FnOnce(T) -> Result<bool, String> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let shown = input.clone();
    let start = Instant::now();
    std::thread::Builder::new()
        .name(format!("fuzz-{what}"))
        .stack_size(8 << 20)
        .spawn(move || {
            let before = thread_cpu();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(input)));
            let _ = tx.send(r.map(|r| r.map(|ok| (ok, thread_cpu().saturating_sub(before)))));
        })
        .expect("spawn a fuzz thread");
    match rx.recv_timeout(HANG) {
        Ok(Ok(Ok((accepted, cpu)))) => {
            // The limit is on the input's own CPU time: on a loaded machine the wall clock
            // also counts other programs' turns (1.32 s of wall for one input at load 3).
            if cpu > case_limit() {
                Err(format!(
                    "{what}: took {cpu:?} of CPU ({:?} of wall) for {shown:?}",
                    start.elapsed()
                ))
            } else {
                Ok(accepted)
            }
        }
        Ok(Ok(Err(why))) => Err(format!("{what}: {why}\ninput: {shown:?}")),
        Ok(Err(panic)) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("{what}: panicked: {msg}\ninput: {shown:?}"))
        }
        Err(_) => Err(format!("{what}: still running after {HANG:?}: {shown:?}")),
    }
}

/// Runs `cases` inputs from `strategy` through `check` (which says whether the input was
/// accepted, e.g. compiled), prints the number of executions and panics with the smallest
/// failing input.
fn fuzz<S>(
    target: &str,
    default_cases: u32,
    strategy: S,
    check: impl Fn(S::Value) -> Result<bool, String>,
) where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases: cases(default_cases),
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let runs = AtomicU64::new(0);
    let accepted = AtomicU64::new(0);
    let start = Instant::now();
    let result = runner.run(&strategy, |v| {
        runs.fetch_add(1, Ordering::Relaxed);
        let ok = check(v).map_err(TestCaseError::fail)?;
        accepted.fetch_add(u64::from(ok), Ordering::Relaxed);
        Ok(())
    });
    eprintln!(
        "fuzz {target}: {} executions ({} accepted) in {:.1} s",
        runs.load(Ordering::Relaxed),
        accepted.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64()
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, input)) => {
            panic!("fuzz {target} failed: {why}\nsmallest input: {input:?}")
        }
        Err(e) => panic!("fuzz {target}: {e}"),
    }
}

// ---------------------------------------------------------------------------------------
// Checks, shared by the fuzz targets and the regression replay.

/// A script error must be a diagnostic: a message, and a position on one of the script's
/// lines when it names the script.
fn check_diagnostic(d: &Diagnostic, src: &str) -> Result<(), String> {
    if d.message.trim().is_empty() {
        return Err(format!("empty message: {d:?}"));
    }
    if d.file.is_empty() {
        return Err(format!("no file name: {d:?}"));
    }
    if d.file == "fuzz.rhai" {
        let lines = src.split('\n').count();
        if d.line == 0 || d.line > lines {
            return Err(format!("line {} outside 1..={lines}: {d:?}", d.line));
        }
        if d.col == 0 {
            return Err(format!("column 0: {d:?}"));
        }
    }
    // Rendering the report must not panic either (it slices the source line).
    let shown = d.render(Some(src));
    // Warnings about the same script may come first; the error is always there.
    let is_error = shown.starts_with("error: ") || shown.contains("\nerror: ");
    if !(shown.starts_with("error: ") || shown.starts_with("warning: ")) || !is_error {
        return Err(format!("odd report {shown:?}"));
    }
    Ok(())
}

/// Compiles `src` with imports and samples under `root`; renders what compiles.
fn check_script(src: &str, root: &Path) -> Result<bool, String> {
    match compile_source(src, "fuzz.rhai", root, SR) {
        Ok(c) => {
            // The optimized graph must sound as the script does run as written (the bound
            // of tests/optimize.rs: 1e-5 of max(peak, 1)).
            let run = |passes| {
                let g = graph::compile_with(&c.spec, SR as f32, passes).0;
                let mut r = Renderer::new(g, SR as f32, 1.0);
                let mut buf = vec![0.0f32; BLOCK * 2];
                let mut all = Vec::with_capacity(BLOCKS * BLOCK * 2);
                for _ in 0..BLOCKS {
                    r.process(&mut buf);
                    all.extend_from_slice(&buf);
                }
                all
            };
            let as_written = graph::Passes {
                voices: true,
                ..graph::Passes::NONE
            };
            let (plain, optimized) = (run(as_written), run(graph::Passes::ALL));
            let peak = plain.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            if let Some((i, (a, b))) = plain
                .iter()
                .zip(&optimized)
                .enumerate()
                .find(|(_, (a, b))| !((*a - *b).abs() <= 1e-5 * peak || a.to_bits() == b.to_bits()))
            {
                return Err(format!(
                    "optimized graph differs at sample {i}: {b} instead of {a}"
                ));
            }
            Ok(true)
        }
        Err(d) => check_diagnostic(&d, src).map(|()| false),
    }
}

fn check_pattern(src: &str) -> Result<bool, String> {
    match Pattern::parse(src) {
        Ok(p) => {
            if p.period() == 0 {
                return Err("period 0".into());
            }
            for c in [0, 1, 2, 3, 7, 1023, u64::MAX / 3, u64::MAX] {
                for e in p.events(c) {
                    if !(e.start.is_finite() && e.dur.is_finite()) {
                        return Err(format!("cycle {c}: event {e:?}"));
                    }
                    if !(0.0..=1.0).contains(&e.start) || e.dur < 0.0 {
                        return Err(format!("cycle {c}: event outside the cycle {e:?}"));
                    }
                }
            }
            let _ = p.max_polyphony();
            Ok(true)
        }
        Err(e) => {
            if e.message.trim().is_empty() {
                return Err(format!("empty message: {e:?}"));
            }
            if e.offset > src.chars().count() {
                return Err(format!("offset past the end: {e:?}"));
            }
            Ok(false)
        }
    }
}

fn check_config(src: &str) -> Result<bool, String> {
    match waves::config::parse(src, "config.rhai") {
        Ok(loaded) => {
            let c = &loaded.config;
            if waves::config::check_file_name(&c.recording_filename).is_err() {
                return Err(format!(
                    "accepted recording_filename {:?}",
                    c.recording_filename
                ));
            }
            Ok(true)
        }
        Err(d) => {
            if d.message.trim().is_empty() {
                return Err(format!("empty message: {d:?}"));
            }
            if d.line > src.split('\n').count() {
                return Err(format!("line past the end: {d:?}"));
            }
            let _ = d.render(Some(src));
            Ok(false)
        }
    }
}

/// Loads `bytes` as `dir/x.wav`; when they load, plays them through a script.
fn check_wav(bytes: &[u8], dir: &Path) -> Result<bool, String> {
    let path = dir.join("x.wav");
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write {path:?}: {e}"))?;
    match samples::load_wav(&path) {
        Ok(d) => {
            if !(1..=2).contains(&d.channels) {
                return Err(format!("{} channels", d.channels));
            }
            if d.frames.len() % d.channels != 0 || d.frames.is_empty() {
                return Err(format!(
                    "{} values, {} channels",
                    d.frames.len(),
                    d.channels
                ));
            }
            if !(d.rate > 0.0 && d.rate.is_finite()) {
                return Err(format!("rate {}", d.rate));
            }
            for src in [
                "sample(\"x.wav\")",
                "sample(\"x.wav\").speed(-3.5).looped()",
                "pattern(\"x*8\").play(|v| sample(\"x.wav\").speed(v.vel * 7.0))",
            ] {
                if !check_script(src, dir).map_err(|e| format!("{src}: {e}"))? {
                    return Err(format!("loaded, but `{src}` does not compile"));
                }
            }
            Ok(true)
        }
        Err(e) if e.trim().is_empty() => Err("empty error".into()),
        Err(_) => {
            // Through a script the error is a diagnostic pointing at the call.
            match compile_source("sample(\"x.wav\")", "fuzz.rhai", dir, SR) {
                Ok(_) => Err("load_wav failed but sample() compiled".into()),
                Err(d) => check_diagnostic(&d, "sample(\"x.wav\")").map(|()| false),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Generators.

fn names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = dsl::functions().iter().map(|f| f.name).collect();
    v.sort();
    v.dedup();
    v
}

/// Number literals, including ones Rhai cannot hold and words that look like numbers.
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "-0.0",
            "1",
            "-1",
            "0.5",
            "440",
            "-440",
            "1e308",
            "-1e308",
            "1e999",
            "1e-320",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "99999999999999999999999",
            "0x7fffffff",
            "0xffffffffffffffff",
            "0b101",
            "1_000_000",
            "NaN",
            "inf",
            "-inf",
            "1.",
            ".5",
            "1e",
            "(0.0/0.0)",
            "(1.0/0.0)",
            "(-1.0/0.0)",
            "(1/0)",
            "(0 - 9223372036854775807 - 1)",
        ])
        .prop_map(str::to_string),
        any::<f64>().prop_map(|x| format!("{x:?}")),
        any::<i64>().prop_map(|x| x.to_string()),
        (-100_000i64..100_000).prop_map(|x| x.to_string()),
        (-10.0..10.0f64).prop_map(|x| format!("{x:.3}")),
    ]
}

/// Mostly ordinary numbers, sometimes hostile ones.
fn num() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => (1..20_000u32).prop_map(|n| format!("{}", f64::from(n) / 10.0)),
        1 => number_text(),
    ]
}

/// Mini-notation fragments: atoms, brackets, modifiers and near misses.
fn notation_token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "x",
            "~",
            "_",
            "c3",
            "eb4",
            "fs2",
            "g#-1",
            "b9",
            "a",
            "60",
            "127",
            "128",
            "60.5",
            "-1",
            "[",
            "]",
            "<",
            ">",
            ",",
            "*",
            "*2",
            "*128",
            "*129",
            "*0",
            "(3,8)",
            "(3,8,2)",
            "(65,64)",
            "(3,8,-9223372036854775808)",
            "?",
            "?0.3",
            "?2",
            "@",
            "@3",
            "@1024.5",
            "@0.0001",
            "!",
            ".",
            " ",
            "  ",
            "\t",
            "\n",
            "é",
            "\u{0}",
        ])
        .prop_map(str::to_string),
        (1..200u32).prop_map(|n| format!("*{n}")),
        (0..70u32, 0..70u32, any::<i32>()).prop_map(|(k, n, r)| format!("({k},{n},{r})")),
        (any::<u8>(), any::<u16>()).prop_map(|(a, b)| format!("{a}.{b}")),
    ]
}

fn notation_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(notation_token(), 0..40).prop_map(|t| t.concat())
}

/// Well-formed patterns from the grammar, nested deeply and wide, so evaluation limits
/// (period, events, work) are reached.
fn notation_tree() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec!["x", "~", "c3", "eb4", "60", "g#2", "a"])
        .prop_map(str::to_string);
    leaf.prop_recursive(8, 96, 6, |inner| {
        let steps = prop::collection::vec(inner.clone(), 1..6);
        prop_oneof![
            steps.clone().prop_map(|s| format!("[{}]", s.join(" "))),
            steps.clone().prop_map(|s| format!("<{}>", s.join(" "))),
            (steps.clone(), steps.clone()).prop_map(|(a, b)| format!(
                "[{}, {}]",
                a.join(" "),
                b.join(" ")
            )),
            (steps.clone(), steps).prop_map(|(a, b)| format!("<{}, {}>", a.join(" "), b.join(" "))),
            (inner.clone(), 1..130u32).prop_map(|(s, n)| format!("{s}*{n}")),
            (inner.clone(), 0..66u32, 0..66u32, any::<i16>())
                .prop_map(|(s, k, n, r)| format!("{s}({k},{n},{r})")),
            (inner.clone(), 0..12u32).prop_map(|(s, p)| format!("{s}?{}", f64::from(p) / 10.0)),
            (inner.clone(), 1..2000u32).prop_map(|(s, w)| format!("[{s}@{} x _]", w / 2)),
            inner.prop_map(|s| format!("{s} {s}")),
        ]
    })
}

/// A pattern text as a Rhai string literal (quotes and backslashes escaped).
fn rhai_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Tokens of the script language: the vocabulary, literals, operators, brackets, closures
/// and patterns, joined with or without spaces.
fn script_token() -> impl Strategy<Value = String> {
    let fns = prop::sample::select(names());
    prop_oneof![
        3 => fns.clone().prop_map(|f| format!("{f}(")),
        2 => fns.prop_map(|f| format!(".{f}(")),
        3 => number_text(),
        1 => prop::sample::select(vec![
            "\"x.wav\"", "\"kick.wav\"", "\"../x.wav\"", "\"/etc/passwd\"", "\"\"", "\"c#3\"",
            "\"midi\"", "\"bar\"", "\"beat\"", "\"lfo\"", "\"freq\"", "\"kick\"", "\"\\u{0}\"",
            "\"x\"", "'a'", "`t${1}`", "\"unterminated",
        ]).prop_map(str::to_string),
        1 => notation_soup().prop_map(|s| format!("pattern({})", rhai_string(&s))),
        3 => prop::sample::select(vec![
            "+", "-", "*", "/", "%", "**", "==", "!=", "<", ">", "<=", ">=", "&&", "||", "!",
            "=", "+=", "-=", "*=", "..", "..=", ".", ",", ";", ":", "::", "?", "??", "|", "&",
            "^", "<<", ">>",
        ]).prop_map(str::to_string),
        3 => prop::sample::select(vec!["(", ")", "[", "]", "{", "}", "#{", "(", ")", ")"])
            .prop_map(str::to_string),
        2 => prop::sample::select(vec![
            "|v| ", "|v, w| ", "|| ", "v", "v.freq", "v.gate", "v.vel", "v.note", "v.index",
            "v.nope", "x", "y", "fb", "let ", "const ", "fn ", "if ", "else ", "for ", "in ",
            "while ", "loop ", "break", "return ", "import ", "as ", "true", "false", "()",
            "Fn(\"sine\")", "call", ".call(", "this", "private ", "switch ", "=>", "try ",
            "catch ", "throw ", "type_of(", "print(", "debug(", "timestamp()", "sleep(", "exit(",
            "\n", " ",
        ]).prop_map(str::to_string),
    ]
}

fn script_soup() -> impl Strategy<Value = String> {
    (prop::collection::vec(script_token(), 0..48), any::<bool>())
        .prop_map(|(t, spaced)| if spaced { t.join(" ") } else { t.concat() })
}

/// Expressions of the vocabulary with the right number of arguments: these get past the
/// parser into the graph builder, the graph compiler and the renderer. `voice` names the
/// fields `v` has where the expression is an instrument's body (none at the top level);
/// instruments nest only at the top level.
fn script_expr() -> BoxedStrategy<String> {
    expr(&[], true)
}

fn expr(voice: &'static [&'static str], instruments: bool) -> BoxedStrategy<String> {
    let mut leaves: Vec<BoxedStrategy<String>> = vec![
        num().boxed(),
        num().boxed(),
        num().boxed(),
        Just("noise()".to_string()).boxed(),
        Just("sample(\"kick.wav\")".to_string()).boxed(),
        Just("cc(74)".to_string()).boxed(),
    ];
    if !voice.is_empty() {
        let fields = prop::sample::select(voice.to_vec()).prop_map(|f| format!("v.{f}"));
        leaves.push(fields.clone().boxed());
        leaves.push(fields.boxed());
    }
    if instruments {
        leaves.push(Just("midi_notes()".to_string()).boxed());
        leaves.push(Just("feedback()".to_string()).boxed());
    }
    let leaf = prop::strategy::Union::new(leaves);
    let forms: Vec<(&'static str, usize, bool)> = dsl::functions()
        .iter()
        .map(|f| (f.name, f.params.len(), f.params.first() == Some(&"x")))
        .collect();
    leaf.prop_recursive(5, 48, 5, move |inner| {
        let forms = forms.clone();
        let mut arms: Vec<(u32, BoxedStrategy<String>)> = vec![
            (
                5,
                (
                    prop::sample::select(forms),
                    prop::collection::vec(inner.clone(), 0..6),
                )
                    .prop_map(|((name, arity, method), args)| {
                        let mut args = args;
                        args.resize(arity, "1".to_string());
                        if method && !args.is_empty() {
                            let x = args.remove(0);
                            format!("({x}).{name}({})", args.join(", "))
                        } else {
                            format!("{name}({})", args.join(", "))
                        }
                    })
                    .boxed(),
            ),
            (
                3,
                (
                    inner.clone(),
                    prop::sample::select(vec!["+", "-", "*", "/"]),
                    inner.clone(),
                )
                    .prop_map(|(a, op, b)| format!("({a} {op} {b})"))
                    .boxed(),
            ),
            (
                1,
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("mix([{}])", v.join(", ")))
                    .boxed(),
            ),
            (
                1,
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| format!("{{ let s = {a}; s * {b} + s }}"))
                    .boxed(),
            ),
        ];
        if instruments {
            let body = || expr(&["freq", "gate", "vel", "note", "index"], false);
            arms.push((
                2,
                (notation_tree(), body())
                    .prop_map(|(p, b)| format!("pattern({}).play(|v| {b})", rhai_string(&p)))
                    .boxed(),
            ));
            arms.push((
                1,
                (
                    notation_soup(),
                    prop::sample::select(vec!["fast", "slow", "voices", "legato"]),
                    num(),
                    body(),
                )
                    .prop_map(|(p, m, n, b)| {
                        format!("pattern({}).{m}({n}).play(|v| {b})", rhai_string(&p))
                    })
                    .boxed(),
            ));
            arms.push((
                1,
                (1..40u32, expr(&["index", "count"], false))
                    .prop_map(|(n, b)| format!("poly({n}, |v| {b})"))
                    .boxed(),
            ));
            arms.push((
                1,
                body()
                    .prop_map(|b| format!("midi_notes().play(|v| {b})"))
                    .boxed(),
            ));
            arms.push((
                1,
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| {
                        format!("{{ let fb = feedback(); fb.feed(({a} + fb) * {b}) }}")
                    })
                    .boxed(),
            ));
        }
        prop::strategy::Union::new_weighted(arms)
    })
    .boxed()
}

/// Whole scripts: settings, bindings and an output expression.
fn script_program() -> impl Strategy<Value = String> {
    let setting = prop_oneof![
        prop_oneof![3 => (1..999u32).prop_map(|n| n.to_string()), 1 => number_text()]
            .prop_map(|n| format!("tempo({n});")),
        num().prop_map(|n| format!("duration({n});")),
        prop::sample::select(vec![
            "\"bar\"", "\"beat\"", "\"now\"", "\"1.5\"", "\"nope\""
        ])
        .prop_map(|w| format!("reload_at({w});")),
        prop_oneof![
            3 => (0..2000u32).prop_map(|a| format!("let p = param(\"p\", {a}, 0, 2000);")),
            1 => (num(), num(), num())
                .prop_map(|(a, b, c)| format!("let p = param(\"p\", {a}, {b}, {c});")),
        ],
    ];
    (
        prop::collection::vec(setting, 0..3),
        prop::collection::vec(script_expr(), 1..3),
    )
        .prop_map(|(settings, exprs)| {
            let mut s = settings.join("\n");
            s.push('\n');
            for (i, e) in exprs.iter().enumerate().skip(1) {
                s.push_str(&format!("let e{i} = {e};\n"));
            }
            s.push_str(&exprs[0]);
            s.push('\n');
            s
        })
}

/// Character-level edits of a text: insert, replace, delete, duplicate a slice.
fn mutate(base: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        prop::sample::select(vec![
            '(',
            ')',
            '[',
            ']',
            '{',
            '}',
            '"',
            '|',
            '.',
            ',',
            ';',
            '-',
            '9',
            'e',
            'x',
            ' ',
            '\n',
            '\\',
            '/',
            '*',
            '<',
            '>',
            '@',
            '?',
            '~',
            '_',
            '#',
            '\u{0}',
            'é',
            '\u{1F3B5}',
        ]),
        any::<char>(),
    ];
    (
        base,
        prop::collection::vec((any::<prop::sample::Index>(), chars, 0..4u8), 1..6),
    )
        .prop_map(|(src, edits)| {
            let mut cs: Vec<char> = src.chars().collect();
            for (at, c, op) in edits {
                let i = at.index(cs.len() + 1);
                match op {
                    0 => cs.insert(i, c),
                    1 if i < cs.len() => cs[i] = c,
                    2 if i < cs.len() => {
                        cs.remove(i);
                    }
                    3 if i < cs.len() => {
                        let end = (i + 8).min(cs.len());
                        let dup: Vec<char> = cs[i..end].to_vec();
                        cs.splice(i..i, dup);
                    }
                    _ => cs.push(c),
                }
            }
            cs.into_iter().collect()
        })
}

/// The vocabulary's own examples: valid scripts to mutate.
fn example() -> impl Strategy<Value = String> {
    let examples: Vec<String> = dsl::functions()
        .iter()
        .map(|f| {
            // Some examples use names they do not define, and settings end with `;`.
            let ex = f.example;
            let mut src = String::new();
            for (name, def) in [
                ("pad", "let pad = saw(110);"),
                ("x", "let x = sine(3);"),
                ("fb", "let fb = feedback();"),
                ("y", "let y = (x + fb * 0.5).delay(0.3);"),
            ] {
                let used = ex
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .any(|w| w == name);
                let defined = ex.contains(&format!("let {name} "));
                let needs_x = name == "x" && (ex.contains("fb") || ex.contains('y'));
                if (used || needs_x) && !defined {
                    src.push_str(def);
                    src.push('\n');
                }
            }
            if ex.contains("fb.feed") && !src.contains("let y") && !ex.contains("let y") {
                src.push_str("let y = (x + fb * 0.5).delay(0.3);\n");
            }
            src.push_str(ex);
            if ex.trim_end().ends_with(';') {
                src.push_str("\nsine(110)");
            }
            src
        })
        .collect();
    prop::sample::select(examples)
}

/// An example with its numbers replaced by extreme ones: valid scripts with hostile values.
fn example_with_numbers() -> impl Strategy<Value = String> {
    (example(), prop::collection::vec(number_text(), 1..8)).prop_map(|(src, nums)| {
        let mut out = String::new();
        let mut k = 0;
        let mut chars = src.chars().peekable();
        let mut in_string = false;
        let mut prev_word = false;
        while let Some(c) = chars.next() {
            if c == '"' {
                in_string = !in_string;
            }
            if !in_string && !prev_word && c.is_ascii_digit() {
                while chars
                    .peek()
                    .is_some_and(|d| d.is_ascii_digit() || *d == '.')
                {
                    chars.next();
                }
                out.push_str(&format!("({})", nums[k % nums.len()]));
                k += 1;
                prev_word = false;
                continue;
            }
            prev_word = c.is_alphanumeric() || c == '_';
            out.push(c);
        }
        out
    })
}

const CONFIG_KEYS: &[&str] = &[
    "sample_rate",
    "buffer_size",
    "master_gain",
    "output_dir",
    "play_in_real_time",
    "record_real_time",
    "recording_filename",
    "default_duration",
    "hot_reload",
    "crossfade_ms",
    "audio_device",
    "audio_host",
    "midi_input",
    "release_tail",
    "reload_quantize",
    "show_scope",
    "midi_persist_cc",
    "midi_clock",
    "sample_rat",
];

fn config_value() -> impl Strategy<Value = String> {
    prop_oneof![
        number_text(),
        prop::sample::select(vec![
            "true",
            "false",
            "\"\"",
            "\".\"",
            "\"..\"",
            "\"../x.wav\"",
            "\"..x\"",
            "\"a/b\"",
            "\"a\\\\b\"",
            "\"/tmp/x\"",
            "\"take\\u{0}.wav\"",
            "\"take.wav\"",
            "\"bar\"",
            "\"beat\"",
            "\"now\"",
            "\"2.5\"",
            "\"-1\"",
            "\"1e309\"",
            "()",
            "[]",
            "#{}",
            "[1, 2]",
            "|x| x",
            "\"x\" * 3",
            "loop {}",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,12}".prop_map(|s| rhai_string(&s)),
    ]
}

fn config_program() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(CONFIG_KEYS.to_vec()),
            config_value(),
            prop::sample::select(vec!["let", "const", ""]),
        ),
        0..8,
    )
    .prop_map(|lines| {
        lines
            .into_iter()
            .map(|(k, v, kw)| format!("{kw} {k} = {v};\n"))
            .collect()
    })
}

/// A small valid WAV written by hound.
fn valid_wav() -> impl Strategy<Value = Vec<u8>> {
    (
        1..4u16,
        prop::sample::select(vec![
            (8u16, false),
            (16, false),
            (24, false),
            (32, false),
            (32, true),
        ]),
        prop::sample::select(vec![1u32, 8000, 44100, 48000, 192_000]),
        0..64usize,
    )
        .prop_map(|(channels, (bits, float), rate, frames)| {
            wav_bytes(channels, bits, float, rate, frames)
        })
}

fn wav_bytes(channels: u16, bits: u16, float: bool, rate: u32, frames: usize) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for i in 0..frames * channels as usize {
            let t = i as f64 * 0.37;
            if float {
                w.write_sample((t.sin() * 1.5) as f32).unwrap();
            } else {
                let max = ((1i64 << (bits - 1)) - 1) as f64;
                w.write_sample((t.sin() * max) as i32).unwrap();
            }
        }
        w.finalize().unwrap();
    }
    cursor.into_inner()
}

#[derive(Clone, Debug)]
enum WavEdit {
    Flip(prop::sample::Index, u8),
    Truncate(prop::sample::Index),
    /// A 32-bit field of the canonical header (RIFF size, fmt size, rate, byte rate, data
    /// size) or anywhere.
    U32(usize, u32),
    /// A 16-bit field: format tag, channels, block align, bits per sample.
    U16(usize, u16),
    Insert(prop::sample::Index, Vec<u8>),
}

fn wav_edit() -> impl Strategy<Value = WavEdit> {
    let u32s = prop_oneof![
        prop::sample::select(vec![
            0u32,
            1,
            2,
            3,
            16,
            18,
            40,
            0x7fff_ffff,
            0x8000_0000,
            u32::MAX,
            u32::MAX - 7
        ]),
        any::<u32>(),
    ];
    let u16s = prop_oneof![
        prop::sample::select(vec![
            0u16, 1, 2, 3, 4, 7, 9, 12, 17, 20, 25, 33, 48, 64, 0xfffe, 0xffff
        ]),
        any::<u16>(),
    ];
    prop_oneof![
        3 => (any::<prop::sample::Index>(), 0..8u8).prop_map(|(i, b)| WavEdit::Flip(i, b)),
        2 => any::<prop::sample::Index>().prop_map(WavEdit::Truncate),
        3 => (prop_oneof![prop::sample::select(vec![4usize, 16, 24, 28, 40]), 0..64usize], u32s)
            .prop_map(|(at, v)| WavEdit::U32(at, v)),
        3 => (prop_oneof![prop::sample::select(vec![20usize, 22, 32, 34]), 0..64usize], u16s)
            .prop_map(|(at, v)| WavEdit::U16(at, v)),
        1 => (any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| WavEdit::Insert(i, b)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[WavEdit]) -> Vec<u8> {
    for e in edits {
        match e {
            WavEdit::Flip(i, b) if !bytes.is_empty() => {
                let i = i.index(bytes.len());
                bytes[i] ^= 1 << b;
            }
            WavEdit::Truncate(i) => {
                let n = i.index(bytes.len() + 1);
                bytes.truncate(n);
            }
            WavEdit::U32(at, v) if at + 4 <= bytes.len() => {
                bytes[*at..at + 4].copy_from_slice(&v.to_le_bytes())
            }
            WavEdit::U16(at, v) if at + 2 <= bytes.len() => {
                bytes[*at..at + 2].copy_from_slice(&v.to_le_bytes())
            }
            WavEdit::Insert(i, b) => {
                let i = i.index(bytes.len() + 1);
                bytes.splice(i..i, b.iter().copied());
            }
            _ => {}
        }
    }
    bytes
}

fn mutated_wav() -> impl Strategy<Value = Vec<u8>> {
    (valid_wav(), prop::collection::vec(wav_edit(), 1..5)).prop_map(|(b, e)| apply(b, &e))
}

// ---------------------------------------------------------------------------------------
// Targets.

/// A folder for one target: `kick.wav` (a valid sample) and `x.wav` for fuzzed bytes.
fn fuzz_root(target: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new("fuzz", target);
    std::fs::write(dir.0.join("kick.wav"), wav_bytes(1, 16, false, 44100, 2000)).unwrap();
    std::fs::write(dir.0.join("x.wav"), wav_bytes(2, 24, false, 8000, 300)).unwrap();
    std::fs::create_dir_all(dir.0.join("samples")).unwrap();
    std::fs::write(
        dir.0.join("samples/rim.wav"),
        wav_bytes(2, 16, false, 48000, 500),
    )
    .unwrap();
    dir.write("patches/p.rhai", "fn f(x) { sine(x) }\n");
    let root = dir.0.clone();
    (dir, root)
}

fn script_target(target: &str, default_cases: u32, strategy: impl Strategy<Value = String>) {
    let (_dir, root) = fuzz_root(target);
    fuzz(target, default_cases, strategy, |src| {
        let root = root.clone();
        bounded("script", src, move |s| check_script(&s, &root))
    });
}

#[test]
fn script_arbitrary_text() {
    script_target("script_arbitrary", 2000, "\\PC{0,120}");
}

#[test]
fn script_token_soup() {
    script_target("script_tokens", 6000, script_soup());
}

#[test]
fn script_structured_programs() {
    script_target("script_programs", 3000, script_program());
}

#[test]
fn script_examples_with_hostile_numbers() {
    script_target("script_numbers", 4000, example_with_numbers());
}

#[test]
fn script_mutated_examples() {
    script_target("script_mutated", 4000, mutate(example()));
}

#[test]
fn pattern_arbitrary_text() {
    fuzz("pattern_arbitrary", 10000, "\\PC{0,80}", |src| {
        bounded("pattern", src, |s| check_pattern(&s))
    });
}

#[test]
fn pattern_structured() {
    fuzz(
        "pattern_structured",
        10000,
        prop_oneof![notation_soup(), notation_tree(), mutate(notation_tree())],
        |src| bounded("pattern", src, |s| check_pattern(&s)),
    );
}

#[test]
fn config_text() {
    fuzz(
        "config",
        6000,
        prop_oneof![config_program(), mutate(config_program()), "\\PC{0,80}"],
        |src| bounded("config", src, |s| check_config(&s)),
    );
}

#[test]
fn wav_bytes_arbitrary_and_mutated() {
    let dir = TempDir::new("fuzz", "wav");
    let root = dir.0.clone();
    fuzz(
        "wav",
        5000,
        prop_oneof![
            1 => prop::collection::vec(any::<u8>(), 0..200),
            // A RIFF/WAVE opening followed by noise reaches the chunk parser.
            1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(|mut b| {
                let mut v = b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00".to_vec();
                v.append(&mut b);
                v
            }),
            4 => mutated_wav(),
        ],
        |bytes| {
            let root = root.clone();
            bounded("wav", bytes, move |b| check_wav(&b, &root))
        },
    );
}

/// Every saved input that once failed: `script-*`, `pattern-*`, `config-*`, `wav-*`.
#[test]
fn regressions_replay() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let (_root_dir, root) = fuzz_root("regressions");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut replayed = 0;
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&path).unwrap();
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        let r = if name.starts_with("script-") {
            let root = root.clone();
            bounded("script", text(), move |s| check_script(&s, &root))
        } else if name.starts_with("pattern-") {
            bounded("pattern", text(), |s| check_pattern(&s))
        } else if name.starts_with("config-") {
            bounded("config", text(), |s| check_config(&s))
        } else if name.starts_with("wav-") {
            let root = root.clone();
            bounded("wav", bytes.clone(), move |b| check_wav(&b, &root))
        } else {
            continue;
        };
        if let Err(e) = r {
            panic!("{name}: {e}");
        }
        replayed += 1;
    }
    eprintln!("fuzz regressions: {replayed} inputs replayed");
}
