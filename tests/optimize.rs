//! The graph compiler's passes (`src/graph/optimize.rs`) change how much work a script
//! costs, never what it sounds like: the optimized graph renders the same audio as the
//! script run as written (`AS_WRITTEN`), bit for bit where no copies were merged into
//! lanes, and within `BOUND` where they were.
//!
//! Checked on every script in scripts/ (and whatever of the fuzz corpus compiles), on
//! generated loops of parallel chains, and on each kind that can run as lanes.
//! `cargo test --release --test optimize -- --nocapture` prints the tables of differences;
//! `WAVES_OPTIMIZE_CASES=N` runs N generated scripts instead of 200.
//!
//! The bound, 1e-5 of max(peak, 1) (−100 dBFS; 84 ULP at full scale, a third of a 16-bit
//! step): copies merged into lanes are summed by `LaneSum` (eight partial sums, another
//! grouping of the same additions), and a sine whose pitch differs per lane takes the
//! per-lane path (its waveform computed per sample instead of from a per-frequency
//! table), which rounds differently from one copy run alone. Every other per-lane path
//! runs a copy's own arithmetic (f64 phase, exact filter coefficients per lane). Measured,
//! the rounding stays below 7e-7 of the peak on scripts/ (W1's 256 sines); the bound
//! leaves room for that and no more. A difference above it is not rounding: it means a
//! lane runs other arithmetic than the copy it stands for.

use std::path::{Path, PathBuf};
use waves::engine::Renderer;
use waves::graph::{self, GraphMeta, GraphSpec, Input, NodeKind, Passes};
use waves::script::{compile_file, compile_source};

const SR: f64 = 48_000.0;
/// Longest stretch rendered per script of scripts/.
const MAX_SECS: f64 = 10.0;
/// Largest |optimized − unoptimized| allowed, as a fraction of max(peak, 1).
const BOUND: f64 = 1e-5;

/// The script run as written: no rewriting pass. Resting voices sleep in both renders
/// compared (the `voices` pass is how the graph is run, not a rewrite; it has its own
/// test below, since a sleeping voice's state waits instead of running on unheard).
const AS_WRITTEN: Passes = Passes {
    voices: true,
    ..Passes::NONE
};

/// Passes that only share and flatten, never regroup into lanes.
const SHARED_SUMS: Passes = Passes {
    shared: true,
    sums: true,
    lanes: false,
    voices: true,
};

// ---------------------------------------------------------------------------------------
// Rendering and comparing.

/// An offline render: interleaved frames of the mix and of every stem.
struct Render {
    out: Vec<f32>,
    ops: usize,
    meta: GraphMeta,
}

fn render(spec: &GraphSpec, passes: Passes, secs: f64) -> Render {
    let (g, meta) = graph::compile_with(spec, SR as f32, passes);
    let ops = g.len();
    let width = 2 + 2 * g.track_count();
    let frames = (secs * SR).round() as usize;
    let mut r = Renderer::new(g, SR as f32, 1.0);
    let mut out = vec![0.0f32; frames * width];
    for chunk in out.chunks_mut(width * 512) {
        r.process_wide(chunk, width);
    }
    Render { out, ops, meta }
}

fn compile(src: &str) -> GraphSpec {
    match compile_source(src, "optimize.rhai", Path::new("."), SR) {
        Ok(c) => c.spec,
        Err(d) => panic!("does not compile:\n{src}\n{}", d.render(Some(src))),
    }
}

/// How far apart two renders are.
#[derive(Clone, Copy, Debug, Default)]
struct Diff {
    /// Samples whose bits differ.
    differing: usize,
    /// Largest |a − b| (infinite where one is NaN or infinite and the other is not).
    max_abs: f64,
    /// Largest finite |a| of the reference.
    peak: f64,
    /// Frame of the largest difference.
    at: usize,
}

impl Diff {
    fn allowed(&self) -> f64 {
        BOUND * self.peak.max(1.0)
    }

    fn within_bound(&self) -> bool {
        self.max_abs <= self.allowed()
    }

    fn identical(&self) -> bool {
        self.differing == 0
    }

    fn rel(&self) -> f64 {
        self.max_abs / self.peak.max(1.0)
    }
}

fn diff(reference: &Render, other: &Render) -> Diff {
    let (a, b) = (&reference.out, &other.out);
    assert_eq!(a.len(), b.len());
    let width = 2 + 2 * reference.meta.track_names.len();
    let mut d = Diff::default();
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        if x.is_finite() {
            d.peak = d.peak.max(f64::from(x.abs()));
        }
        if x.to_bits() == y.to_bits() {
            continue;
        }
        d.differing += 1;
        let delta = if x.is_finite() && y.is_finite() {
            (f64::from(x) - f64::from(y)).abs()
        } else if (x.is_nan() && y.is_nan()) || x == y {
            0.0
        } else {
            f64::INFINITY
        };
        if delta > d.max_abs {
            d.max_abs = delta;
            d.at = i / width;
        }
    }
    d
}

/// Renders `spec` unoptimized and optimized for `secs`: (unoptimized, optimized, diff).
fn both(spec: &GraphSpec, secs: f64) -> (Render, Render, Diff) {
    let plain = render(spec, AS_WRITTEN, secs);
    let all = render(spec, Passes::ALL, secs);
    let d = diff(&plain, &all);
    (plain, all, d)
}

fn lane_copies(meta: &GraphMeta) -> Vec<usize> {
    meta.report.lanes.iter().map(|l| l.copies).collect()
}

// ---------------------------------------------------------------------------------------
// Every script in scripts/ and the fuzz corpus.

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `*.rhai` under `dir`, recursively, sorted.
fn rhai_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rhai_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rhai") {
            out.push(p);
        }
    }
}

/// A script to check: its name and spec.
struct Case {
    name: String,
    spec: GraphSpec,
}

/// Every script under scripts/ that compiles on its own (the patches are modules, which
/// make no sound alone and do not compile as scripts), then every script of the fuzz
/// corpus that compiles.
fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut files = Vec::new();
    rhai_files(&root().join("scripts"), &mut files);
    let mut skipped = Vec::new();
    for path in files {
        let name = path
            .strip_prefix(root().join("scripts"))
            .unwrap()
            .display()
            .to_string();
        match compile_file(&path, SR) {
            Ok(c) => cases.push(Case { name, spec: c.spec }),
            Err(_) => skipped.push(name),
        }
    }
    assert!(
        skipped.iter().all(|s| s.starts_with("patches/")),
        "scripts that do not compile: {skipped:?}"
    );
    let dir = root().join("tests/fuzz_regressions");
    let mut fuzz = Vec::new();
    rhai_files(&dir, &mut fuzz);
    let mut fuzz_compiled = 0;
    for path in &fuzz {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        if !file.starts_with("script-") {
            continue;
        }
        let src = std::fs::read_to_string(path).unwrap();
        if let Ok(c) = compile_source(&src, "fuzz.rhai", &dir, SR) {
            fuzz_compiled += 1;
            cases.push(Case {
                name: format!("fuzz/{file}"),
                spec: c.spec,
            });
        }
    }
    eprintln!(
        "{} scripts; skipped as modules: {}; fuzz corpus: {fuzz_compiled} of {} compile",
        cases.len(),
        skipped.join(" "),
        fuzz.len()
    );
    assert!(cases.len() >= 10, "too few scripts: {}", cases.len());
    cases
}

#[test]
fn every_script_renders_the_same_optimized_and_unoptimized() {
    eprintln!(
        "{:<26} {:>9} {:>9} {:>6} {:>4} {:>5} {:>10} {:>9} {:>9} {:>9}",
        "script", "nodes", "ops", "shared", "sums", "lanes", "bits≠", "max|Δ|", "peak", "|Δ|/pk"
    );
    let mut failures = Vec::new();
    for case in corpus() {
        let secs = case.spec.duration.unwrap_or(MAX_SECS).clamp(0.0, MAX_SECS);
        let (plain, all, d) = both(&case.spec, secs);
        let flat = render(&case.spec, SHARED_SUMS, secs);
        let ss = diff(&plain, &flat);
        let r = &all.meta.report;
        eprintln!(
            "{:<26} {:>4}→{:<4} {:>4}→{:<4} {:>6} {:>4} {:>5} {:>10} {:>9.2e} {:>9.3} {:>9.2e}",
            case.name,
            r.before,
            r.after,
            plain.ops,
            all.ops,
            r.shared,
            r.sums,
            r.lanes.iter().map(|l| l.copies).sum::<usize>(),
            d.differing,
            d.max_abs,
            d.peak,
            d.max_abs / d.peak.max(f64::MIN_POSITIVE)
        );
        if !ss.identical() {
            failures.push(format!(
                "{}: shared+sums alone changed {} samples (max |Δ| {:.3e} at frame {})",
                case.name, ss.differing, ss.max_abs, ss.at
            ));
        }
        if r.lanes.is_empty() && !d.identical() {
            failures.push(format!(
                "{}: no copies were merged into lanes, yet {} samples differ (max |Δ| {:.3e} at frame {})",
                case.name, d.differing, d.max_abs, d.at
            ));
        }
        if !d.within_bound() {
            failures.push(format!(
                "{}: max |Δ| {:.3e} at frame {} (peak {:.3}) is above the bound {:.1e}; lane groups {:?}",
                case.name,
                d.max_abs,
                d.at,
                d.peak,
                d.allowed(),
                r.lanes
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// What the passes do to the shapes a newcomer writes.

#[test]
fn a_loop_of_32_sines_summed_with_plus_becomes_a_few_ops() {
    let src = "duration(1);
        let out = sine(100.0) * 0.03;
        for i in 1..32 {
            out = out + sine(100.0 + 7.3 * i) * 0.03;
        }
        out";
    let (plain, all, d) = both(&compile(src), 1.0);
    assert!(plain.ops >= 64, "unoptimized: {} ops", plain.ops);
    // The per-lane frequencies (a constant), the 32-lane sine, its gain, the mixdown.
    assert!(all.ops <= 4, "optimized: {} ops, want at most 4", all.ops);
    assert_eq!(lane_copies(&all.meta), [32], "{:?}", all.meta.report);
    assert_eq!(all.meta.report.sums, 30, "{:?}", all.meta.report);
    assert!(d.within_bound(), "{d:?}, allowed {:.1e}", d.allowed());
    assert!(d.peak > 0.5, "the sum is there: {d:?}");
}

#[test]
fn copies_of_one_expression_are_computed_once() {
    let src = "duration(1);
        let v = [];
        for i in 0..32 {
            v.push(sine(0.5) * 0.01);
        }
        mix(v)";
    let spec = compile(src);
    let (plain, all, d) = both(&spec, 1.0);
    assert_eq!(all.meta.report.shared, 62, "{:?}", all.meta.report);
    assert!(all.meta.report.lanes.is_empty(), "{:?}", all.meta.report);
    assert!(all.ops <= 3, "optimized: {} ops", all.ops);
    assert!(plain.ops >= 64, "unoptimized: {} ops", plain.ops);
    // One sine and one gain read 32 times by the sum: the same additions as before.
    assert!(d.identical(), "{d:?}");
    // Sharing alone: 31 sines and 31 gains are duplicates.
    let shared = Passes {
        shared: true,
        sums: false,
        lanes: false,
        voices: true,
    };
    let s = render(&spec, shared, 1.0);
    assert_eq!(s.meta.report.shared, 62);
    assert!(diff(&plain, &s).identical());
}

#[test]
fn a_sum_that_reads_one_signal_several_times_compiles() {
    // After sharing (or as written) a sum whose terms are all the same node: nothing to
    // merge into lanes, and nothing to fail on.
    for src in [
        "duration(1); let s = sine(110); mix([s, s]) * 0.3",
        "duration(1); let s = sine(110); (s + s + s) * 0.3",
        "duration(1); (sine(110) + sine(110) + sine(110)) * 0.3",
        "duration(1); let s = saw(55).lpf(400); mix([s, s, s, s]) * 0.2",
    ] {
        let spec = compile(src);
        let (_, _, d) = both(&spec, 1.0);
        assert!(d.within_bound(), "{src}: {d:?}");
    }
}

#[test]
fn a_shared_modulator_inside_merged_copies_is_computed_once() {
    // 32 copies of `sine(0.5)` as each voice's tremolo: one sine, read by every lane.
    let src = "duration(1);
        let v = [];
        for i in 0..32 {
            v.push(sine(200.0 + 10.0 * i) * sine(0.5) * 0.02);
        }
        mix(v)";
    let (_, all, d) = both(&compile(src), 1.0);
    assert_eq!(all.meta.report.shared, 31, "{:?}", all.meta.report);
    assert_eq!(lane_copies(&all.meta), [32], "{:?}", all.meta.report);
    assert!(d.within_bound(), "{d:?}");
}

#[test]
fn a_stereo_loop_of_voices_becomes_one_lane_group() {
    let src = "duration(2);
        let voices = [];
        for i in 0..32 {
            let f = midi(i + 36);
            let osc = (sine(f) + tri(f * 1.007)) * 0.5;
            let env = adsr(pulse(4, 0.8), 0.005, 0.1, 0.6, 0.05);
            voices.push((osc.lpf(1200 + 20 * i, 4) * env * (0.5 / 32)).pan(i / 31.0 * 2 - 1));
        }
        mix(voices)";
    let (plain, all, d) = both(&compile(src), 2.0);
    let r = &all.meta.report;
    assert_eq!(r.lanes.len(), 1, "{r:?}");
    assert_eq!(r.lanes[0].copies, 32, "{r:?}");
    // The gate is one pulse for every voice.
    assert!(r.shared >= 31, "{r:?}");
    assert!(all.ops * 4 < plain.ops, "{} ops → {}", plain.ops, all.ops);
    assert!(d.within_bound(), "{d:?}, allowed {:.1e}", d.allowed());
    // Both sides carry sound, and differ (the voices are panned apart).
    let left: f64 = all.out.iter().step_by(2).map(|x| f64::from(x.abs())).sum();
    let right: f64 = all
        .out
        .iter()
        .skip(1)
        .step_by(2)
        .map(|x| f64::from(x.abs()))
        .sum();
    assert!(left > 1.0 && right > 1.0 && (left - right).abs() > 1e-3 * left);
}

#[test]
fn noises_are_never_merged() {
    for src in [
        "duration(1); noise() + noise()",
        "duration(1); mix([noise(), noise(), noise()]) * 0.3",
        "duration(1);
         let v = [];
         for i in 0..8 { v.push(noise().lpf(500 + 100 * i) * 0.2); }
         mix(v)",
        "duration(1); pink() * 0.5 + pink() * 0.5",
    ] {
        let (_, all, d) = both(&compile(src), 1.0);
        let r = &all.meta.report;
        assert_eq!(r.shared, 0, "{src}: {r:?}");
        assert!(r.lanes.is_empty(), "{src}: {r:?}");
        assert!(d.identical(), "{src}: {d:?}");
    }
    // Two noises are two sounds: their sum is not one noise doubled.
    let two = render(&compile("duration(1); noise() + noise()"), Passes::ALL, 1.0);
    let one = render(&compile("duration(1); noise() * 2"), Passes::ALL, 1.0);
    assert!(!diff(&one, &two).within_bound());
}

/// The first node of `kind` whose input `k` is the number `v`, in script order.
fn node_with(spec: &GraphSpec, kind: &NodeKind, k: usize, v: f32) -> (u32, u32) {
    let n = spec
        .nodes
        .iter()
        .position(|n| n.kind == *kind && n.inputs.get(k) == Some(&Input::Const(v)))
        .unwrap_or_else(|| panic!("no {kind:?} with input {k} = {v}"));
    (n as u32, k as u32)
}

#[test]
fn only_numbers_that_belong_to_one_node_glide_in_place() {
    // Eight copies merged into lanes (their frequencies and gains become per-lane
    // constants) and a triangle of its own (a sine would join the copies as a ninth lane).
    let src = "duration(1);
        let v = [];
        for i in 0..8 {
            v.push(sine(100.0 + 10.0 * i) * 0.05);
        }
        mix(v) + tri(3.0) * 0.25";
    let spec = compile(src);
    let plain = graph::compile_with(&spec, SR as f32, Passes::NONE).1;
    let all = graph::compile_with(&spec, SR as f32, Passes::ALL).1;
    assert_eq!(lane_copies(&all), [8], "{:?}", all.report);

    let lone_freq = node_with(&spec, &NodeKind::Tri, 0, 3.0);
    let merged_freq = node_with(&spec, &NodeKind::Sine, 0, 100.0);
    let lone_gain = node_with(&spec, &NodeKind::Bin(waves::dsp::math::BinOp::Mul), 1, 0.25);
    let merged_gain = node_with(&spec, &NodeKind::Bin(waves::dsp::math::BinOp::Mul), 1, 0.05);
    // Unoptimized, every number has a slot.
    for at in [lone_freq, merged_freq, lone_gain, merged_gain] {
        assert!(plain.params.contains_key(&at), "{at:?} unoptimized");
    }
    // Optimized, a number of a node left alone still glides in place ...
    assert!(all.params.contains_key(&lone_freq), "{:?}", all.params);
    assert!(all.params.contains_key(&lone_gain), "{:?}", all.params);
    // ... and one that became a lane of a merged node does not: editing it rebuilds.
    assert!(!all.params.contains_key(&merged_freq), "{:?}", all.params);
    assert!(!all.params.contains_key(&merged_gain), "{:?}", all.params);

    // An edit of one copy's number is a parameter change of the script's spec, which the
    // optimized graph has no slot for (so it rebuilds rather than gliding every lane).
    let edited = compile(&src.replace("100.0 + 10.0 * i", "101.0 + 10.0 * i"));
    let changes = graph::param_changes(&spec, &edited).expect("only numbers changed");
    assert!(!changes.is_empty());
    assert!(changes.iter().all(|(at, _)| !all.params.contains_key(at)));
    let edited = compile(&src.replace("tri(3.0)", "tri(3.5)"));
    let changes = graph::param_changes(&spec, &edited).expect("only numbers changed");
    assert_eq!(changes, [(lone_freq, 3.5)]);
    assert!(all.params.contains_key(&changes[0].0));
}

#[test]
fn a_number_of_shared_copies_is_not_a_param() {
    let src = "duration(1); sine(0.5) * 0.2 + sine(0.5) * 0.3";
    let spec = compile(src);
    let all = graph::compile_with(&spec, SR as f32, Passes::ALL).1;
    assert_eq!(all.report.shared, 1, "{:?}", all.report);
    // The one sine left stands for both copies: editing either copy's 0.5 must rebuild.
    for (n, node) in spec.nodes.iter().enumerate() {
        if node.kind == NodeKind::Sine {
            assert!(!all.params.contains_key(&(n as u32, 0)), "sine #{n}");
        }
    }
    let gain = node_with(&spec, &NodeKind::Bin(waves::dsp::math::BinOp::Mul), 1, 0.3);
    assert!(all.params.contains_key(&gain));
}

#[test]
fn sums_are_flattened_only_where_the_order_of_additions_stays() {
    let sums = Passes {
        shared: false,
        sums: true,
        lanes: false,
        voices: true,
    };
    // Written left to right, a chain adds in the order one sum does: flattened, same bits.
    for src in [
        "duration(1); ((sine(100) + sine(201)) + sine(302)) + sine(403)",
        "duration(1); mix([mix([sine(100), sine(201)]), sine(302)])",
    ] {
        let spec = compile(src);
        let flat = render(&spec, sums, 1.0);
        assert!(flat.meta.report.sums >= 1, "{src}: {:?}", flat.meta.report);
        assert!(
            diff(&render(&spec, AS_WRITTEN, 1.0), &flat).identical(),
            "{src}"
        );
    }
    // a + (b + c) would round differently as one sum: it stays as written.
    for src in [
        "duration(1); sine(100) + (sine(201) + sine(302))",
        "duration(1); mix([sine(100), mix([sine(201), sine(302)])])",
    ] {
        let spec = compile(src);
        let flat = render(&spec, sums, 1.0);
        assert_eq!(flat.meta.report.sums, 0, "{src}");
        assert!(
            diff(&render(&spec, AS_WRITTEN, 1.0), &flat).identical(),
            "{src}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Each kind that can run as lanes, merged.

#[test]
fn every_lane_ready_kind_renders_its_copies_within_the_bound() {
    // Three copies differing in a number, summed: the lanes pass merges them into one
    // three-lane node whose numbers are per-lane constants.
    let mut cases: Vec<String> = Vec::new();
    for f in [1.0, 5.0, 55.0, 440.0, 4000.0] {
        for osc in ["sine(F)", "tri(F)", "saw(F)", "square(F)", "pulse(F, 0.3)"] {
            let copy = |m: f64| osc.replace('F', &format!("{:?}", f * m));
            cases.push(format!("{} + {} + {}", copy(1.0), copy(1.01), copy(1.02)));
        }
    }
    let per_copy = [
        "sine(220, P)",
        "line(0, P, 0.3)",
        "line(0, 1, P * 0.001)",
        "sine(3) * line(0, 1, 1.3 * P)",
        "adsr(g, 0.01 * P, 0.1, 0.6, 0.3)",
        "perc(g, 0.01 * P, 0.3)",
        "n.smooth(0.01 * P)",
        "n.lpf(500 * P, 4)",
        "s.lpf(5000 * P, 10)",
        "n.hpf(500 * P, 4)",
        "n.bpf(500 * P, 4)",
        "n.notch(500 * P, 4)",
        "n.ladder(500 * P, 0.5)",
        "s.ladder(3000 * P, 0.9)",
        "n.delay(0.01, 0.5 * P)",
        "n.drive(2 * P)",
        "n.pan(P - 2)",
        "(n * P).clip(-0.5, 0.5)",
        "n.range(-P, P)",
        "n.crush(3 * P)",
        "pow(n.abs(), P)",
        "n * P",
        "min(n, 0.2 * P)",
    ];
    for c in per_copy {
        let copy = |p: &str| c.replace('P', p);
        cases.push(format!(
            "let g = pulse(3, 0.5); let n = noise(); let s = saw(110); {} + {} + {}",
            copy("1.0"),
            copy("1.3"),
            copy("1.7")
        ));
    }
    let mut failures = Vec::new();
    eprintln!(
        "{:<78} {:>5} {:>9} {:>9}",
        "copies", "lanes", "max|Δ|", "|Δ|/pk"
    );
    for body in &cases {
        let src = format!("duration(3); {body}");
        let (_, all, d) = both(&compile(&src), 3.0);
        let lanes = lane_copies(&all.meta);
        eprintln!(
            "{body:<78} {:>5?} {:>9.2e} {:>9.2e}",
            lanes,
            d.max_abs,
            d.rel()
        );
        if lanes != [3] {
            failures.push(format!("{body}: lane groups {lanes:?}, want [3]"));
        }
        if !d.within_bound() {
            failures.push(format!(
                "{body}: max |Δ| {:.3e} at frame {} (peak {:.3}), bound {:.1e}",
                d.max_abs,
                d.at,
                d.peak,
                d.allowed()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Generated loops of parallel chains.

/// A small deterministic generator (xorshift), so a failure names a case that repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }

    /// A number in lo..hi (for every copy of up to 16), the same in every copy or varying
    /// with the loop's `i`.
    fn num(&mut self, lo: f64, hi: f64) -> String {
        let x = lo + 0.75 * (hi - lo) * (self.below(1000) as f64 / 1000.0);
        let d = (hi - lo) / 64.0;
        match self.below(6) {
            0 | 1 => format!("{x:.3}"),
            2..=4 => format!("({x:.3} + {d:.5} * i)"),
            // Copies i, i + 3, i + 6 … agree here: partly shared, partly not.
            _ => format!("({x:.3} + {:.5} * (i % 3))", 4.0 * d),
        }
    }
}

/// One copy's chain, built from the loop's `i`. Frequencies of saw, square and pulse and
/// the numbers of `line` are the same in every copy here: merged with per-lane values those
/// take paths that `every_lane_ready_kind_renders_its_copies_within_the_bound` checks.
fn chain(rng: &mut Rng) -> String {
    let mut x = match rng.below(7) {
        0 => format!("sine({})", rng.num(50.0, 2000.0)),
        1 => format!("tri({})", rng.num(50.0, 2000.0)),
        2 => format!("sine({}, {})", rng.num(50.0, 2000.0), rng.num(0.0, 1.0)),
        3 => format!("(lfo * {})", rng.num(0.1, 1.0)),
        4 => "saw(110)".to_string(),
        5 => "noise()".to_string(),
        _ => "(square(55) * line(1, 0, 0.7))".to_string(),
    };
    for _ in 0..1 + rng.below(4) {
        x = match rng.below(16) {
            0 => format!("{x}.lpf({}, {})", rng.num(200.0, 4000.0), rng.num(0.5, 4.0)),
            1 => format!("{x}.hpf({}, {})", rng.num(200.0, 4000.0), rng.num(0.5, 4.0)),
            2 => format!("{x}.bpf({}, {})", rng.num(200.0, 4000.0), rng.num(0.5, 4.0)),
            3 => format!("{x}.notch({})", rng.num(200.0, 4000.0)),
            4 => format!(
                "{x}.ladder({}, {})",
                rng.num(200.0, 4000.0),
                rng.num(0.0, 0.9)
            ),
            5 => format!("{x}.drive({})", rng.num(0.5, 6.0)),
            6 => format!("{x}.smooth({})", rng.num(0.001, 0.05)),
            7 => format!("{x}.clip(-{a}, {a})", a = rng.num(0.2, 1.0)),
            8 => format!("{x}.range({}, {})", rng.num(-1.0, 0.0), rng.num(0.0, 1.0)),
            9 => format!("({x} * {})", rng.num(0.1, 2.0)),
            10 => format!("({x} + {})", rng.num(-0.5, 0.5)),
            11 => format!(
                "({x} * adsr(gate, {}, {}, {}, {}))",
                rng.num(0.001, 0.05),
                rng.num(0.01, 0.2),
                rng.num(0.0, 1.0),
                rng.num(0.01, 0.2)
            ),
            12 => format!(
                "({x} * perc(gate, {}, {}))",
                rng.num(0.001, 0.02),
                rng.num(0.05, 0.3)
            ),
            13 => format!("({x} * (lfo * {} + 1.0))", rng.num(0.0, 0.5)),
            14 => format!("{x}.delay(0.01, {})", rng.num(0.0, 0.8)),
            _ => format!("min({x}, {})", rng.num(0.0, 1.0)),
        };
    }
    x
}

/// A whole script: a loop of copies of one chain, scaled and maybe panned (last, as a
/// stereo signal's sides are separate nodes after it), collected for mix or summed with `+`.
fn program(rng: &mut Rng) -> String {
    let copies = 2 + rng.below(15);
    let mut body = format!("{} * {:.4}", chain(rng), 1.0 / copies as f64);
    if rng.below(3) == 0 {
        let at = rng.pick(&["(i / 15.0 * 2 - 1)", "0.3", "-0.5"]);
        body = format!("({body}).pan({at})");
    }
    let gate = rng.pick(&["pulse(4, 0.6)", "pulse(3.3, 0.25)", "square(2)"]);
    let head = format!("duration(0.5);\nlet gate = {gate};\nlet lfo = sine(2.5);\n");
    match rng.below(3) {
        0 => format!("{head}let v = [];\nfor i in 0..{copies} {{\n    v.push({body});\n}}\nmix(v)"),
        1 => format!(
            "{head}let out = 0.0;\nfor i in 0..{copies} {{\n    out = out + {body};\n}}\nout"
        ),
        _ => format!(
            "{head}let v = [];\nfor i in 0..{copies} {{\n    v.push({body});\n}}\nmix(v) + saw(82.4) * 0.1"
        ),
    }
}

#[test]
fn generated_loops_render_the_same_optimized_and_unoptimized() {
    let cases = std::env::var("WAVES_OPTIMIZE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut merged = 0;
    let mut panicked = 0;
    let mut worst = (0.0f64, String::new());
    let mut failures = Vec::new();
    for case in 0..cases {
        let src = program(&mut rng);
        let spec = match compile_source(&src, "gen.rhai", Path::new("."), SR) {
            Ok(c) => c.spec,
            Err(d) => panic!(
                "case {case} does not compile:\n{src}\n{}",
                d.render(Some(&src))
            ),
        };
        let run = std::panic::catch_unwind(|| both(&spec, 0.5));
        let Ok((_, all, d)) = run else {
            panicked += 1;
            failures.push(format!("case {case}: the compiler panicked\n{src}"));
            continue;
        };
        let r = &all.meta.report;
        merged += usize::from(!r.lanes.is_empty());
        if d.rel() > worst.0 {
            worst = (d.rel(), src.clone());
        }
        let bits = r.lanes.is_empty() && r.sums == 0;
        if (bits && !d.identical()) || !d.within_bound() {
            failures.push(format!(
                "case {case}: max |Δ| {:.3e} at frame {} (peak {:.3}, bound {:.1e}), {} samples differ, report {r:?}\n{src}",
                d.max_abs,
                d.at,
                d.peak,
                d.allowed(),
                d.differing
            ));
        }
    }
    eprintln!(
        "{cases} generated scripts, {merged} with copies merged into lanes, {panicked} panicked; largest |Δ|/max(peak, 1) {:.2e} for\n{}",
        worst.0, worst.1
    );
    assert!(merged * 2 > cases, "too few merges: {merged} of {cases}");
    assert!(
        failures.is_empty(),
        "{} of {cases} fail ({panicked} panicked; the first ten):\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------
// Resting voices sleep.

/// An instrument whose every state restarts with each note (an oscillator reset by the
/// note, a ramp, a percussive envelope) sounds the same whether its resting voices run or
/// sleep; the sleeping skips most of the work.
#[test]
fn resting_voices_sleep_without_changing_a_restarting_instrument() {
    let src = "tempo(120); duration(4);
        pattern(\"x*4 [x x]\").play(|v| sine(line(150, 50, 0.08)) * perc(v.gate, 0.001, 0.3) * 0.8)";
    let spec = compile(src);
    let off = Passes {
        voices: false,
        ..Passes::ALL
    };
    let (a, b) = (render(&spec, off, 4.0), render(&spec, Passes::ALL, 4.0));
    let d = diff(&a, &b);
    assert!(d.within_bound(), "{d:?}");
    // Eight voices, at most two sounding at once: most voice-blocks are skipped.
    let (mut g, _) = graph::compile(&spec, SR as f32);
    let mut ctx = waves::dsp::Ctx::new(SR as f32, 120.0);
    let (mut l, mut r) = (vec![0.0; 64], vec![0.0; 64]);
    let blocks = (4.0 * SR / 64.0) as u64;
    for _ in 0..blocks {
        g.process_block(&ctx, &mut l, &mut r);
        ctx.frame += 64;
    }
    let possible = blocks * 8;
    // Blocks the whole instrument sleeps through count all eight of their voices here.
    let skipped = g.lanes_slept();
    assert!(
        skipped * 4 > possible * 3,
        "skipped {skipped} of {possible} voice-blocks"
    );
    // Without the pass nothing is skipped lane by lane.
    let (mut g, _) = graph::compile_with(&spec, SR as f32, off);
    let mut ctx = waves::dsp::Ctx::new(SR as f32, 120.0);
    for _ in 0..blocks {
        g.process_block(&ctx, &mut l, &mut r);
        ctx.frame += 64;
    }
    assert_eq!(g.lanes_slept(), 0);
}

/// A voice whose filter or noise runs on unheard while its envelope is closed holds other
/// state when it sleeps instead: its next note starts from the state it fell asleep with.
/// The sound is the same in level; the samples differ in the first milliseconds of such a
/// note.
#[test]
fn resting_voices_sleep_with_the_same_level_when_their_state_runs_on() {
    let src = "tempo(120); duration(4);
        let hat = |v| noise().hpf(7000) * perc(v.gate, 0.001, 0.05) * 0.25;
        let bass = |v| saw(v.freq).lpf(900, 3) * adsr(v.gate, 0.003, 0.117, 0, 0.001) * 0.4;
        pattern(\"x*8\").play(hat) + pattern(\"36 36 48 36 39 36 43 36\").play(bass)";
    let spec = compile(src);
    let off = Passes {
        voices: false,
        ..Passes::ALL
    };
    let (a, b) = (render(&spec, off, 4.0), render(&spec, Passes::ALL, 4.0));
    let rms = |x: &Render| {
        (x.out.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.out.len() as f64).sqrt()
    };
    let (ra, rb) = (rms(&a), rms(&b));
    assert!((ra / rb - 1.0).abs() < 0.01, "rms {ra} vs {rb}");
}
