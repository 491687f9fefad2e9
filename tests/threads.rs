//! Offline render on two threads (`waves render --threads 2`) splits the graph into two
//! stages run one chunk apart. How it is split decides only the speed: every split of every
//! script in scripts/ and scripts/bench/ renders the same samples as the whole graph on one
//! thread, bit for bit. The splits are every cut of the processing order and the balanced
//! ones grown for several made-up costs per op. Checked block by block in one thread for
//! every split, and through the real two-thread render into a WAV for a few.

use std::path::{Path, PathBuf};
use waves::dsp::{BLOCK, Ctx};
use waves::graph::{self, GraphSpec, Passes, RuntimeGraph, Stages};
use waves::record::wav::Format;
use waves::render::{RenderOptions, render};
use waves::script::compile_file;

const SR: f32 = 48_000.0;
/// Seconds of each script checked at every cut.
const SECS: f64 = 3.0;

fn scripts() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let mut v = Vec::new();
    for dir in [root.clone(), root.join("bench")] {
        for e in std::fs::read_dir(&dir).expect("scripts folder") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "rhai") {
                v.push(p);
            }
        }
    }
    v.sort();
    assert!(
        v.len() >= 20,
        "expected the examples and benchmarks, found {v:?}"
    );
    v
}

fn spec(path: &Path) -> GraphSpec {
    match compile_file(path, SR as f64) {
        Ok(c) => c.spec,
        Err(d) => panic!("{} does not compile: {}", path.display(), d.render(None)),
    }
}

fn compiled(spec: &GraphSpec) -> RuntimeGraph {
    graph::compile_with(spec, SR, Passes::ALL).0
}

/// `blocks` blocks of left and right, one after the other.
fn whole(mut g: RuntimeGraph, blocks: usize) -> Vec<f32> {
    let mut ctx = Ctx::new(SR, g.tempo_bpm);
    let mut out = Vec::with_capacity(blocks * 2 * BLOCK);
    let (mut l, mut r) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
    for _ in 0..blocks {
        g.process_block(&ctx, &mut l, &mut r);
        out.extend_from_slice(&l);
        out.extend_from_slice(&r);
        ctx.frame += BLOCK as u64;
    }
    out
}

/// The same, split as `first` says: the first stage's block, handed over, then the second's.
fn staged(g: RuntimeGraph, first: &[bool], blocks: usize) -> Vec<f32> {
    let mut ctx = Ctx::new(SR, g.tempo_bpm);
    let (mut first, mut second, carried) = g.split(first).into_parts();
    let mut hand = vec![0.0f32; Stages::handed(&second, &carried)];
    let mut out = Vec::with_capacity(blocks * 2 * BLOCK);
    let (mut l, mut r) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
    for _ in 0..blocks {
        first.process_block(&ctx, &mut l, &mut r);
        Stages::hand(&first, &carried, &mut hand);
        Stages::take(&mut second, &carried, &hand);
        second.process_block(&ctx, &mut l, &mut r);
        out.extend_from_slice(&l);
        out.extend_from_slice(&r);
        ctx.frame += BLOCK as u64;
    }
    out
}

/// Every split: the cuts, and the stages grown for a few made-up costs per op (a cheap
/// random number generator, so each run checks the same ones).
fn all_splits(g: &RuntimeGraph) -> Vec<Vec<bool>> {
    let mut out = g.splits(None);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for tail in [0.0, 1.0, 5.0] {
        let costs: Vec<f64> = (0..g.len())
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % 1000) as f64 / 100.0
            })
            .collect();
        for s in g.splits(Some((&costs, tail))) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn every_split_of_every_script_renders_the_same_samples() {
    let blocks = (SECS * SR as f64 / BLOCK as f64) as usize;
    let mut checked = 0;
    for path in scripts() {
        let spec = spec(&path);
        let reference = whole(compiled(&spec), blocks);
        assert!(
            reference.iter().any(|v| *v != 0.0),
            "{} is silent: nothing to compare",
            path.display()
        );
        for first in all_splits(&compiled(&spec)) {
            let got = staged(compiled(&spec), &first, blocks);
            assert!(
                same_bits(&got, &reference),
                "{} split {first:?} renders other samples",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 100, "only {checked} splits checked");
}

#[test]
fn cuts_keep_instruments_and_feedback_whole() {
    // An instrument with voices, a feedback loop through a delay, and plain effects after.
    let src = r#"
        tempo(120);
        let lead = pattern("60 64 67 72").play(|v| saw(v.freq).lpf(1200, 2) * perc(v.gate, 0.001, 0.2));
        let fb = feedback();
        let echo = (lead + fb * 0.5).delay(0.25).lpf(3000);
        fb.feed(echo);
        echo.reverb(0.2) * 0.5
    "#;
    let spec = match waves::script::compile_source(src, "cuts.rhai", Path::new("."), SR as f64) {
        Ok(c) => c.spec,
        Err(d) => panic!("{}", d.render(Some(src))),
    };
    let g = compiled(&spec);
    let ops = g.len();
    let cuts = g.splits(None);
    assert!(
        !cuts.is_empty(),
        "the effects after the loop can be cut from it"
    );
    assert!(
        cuts.len() < ops - 1,
        "some places must be refused: {cuts:?} of {ops} ops"
    );
    let blocks = (SECS * SR as f64 / BLOCK as f64) as usize;
    let reference = whole(compiled(&spec), blocks);
    for first in all_splits(&g) {
        assert!(same_bits(
            &staged(compiled(&spec), &first, blocks),
            &reference
        ));
    }
}

/// Through the real thing: two threads, chunks handed across, written to a WAV.
#[test]
fn two_threads_write_the_same_file_as_one() {
    let dir = tempdir();
    for name in ["bench/w3_natural.rhai", "bench/w2_natural.rhai", "seq.rhai"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts")
            .join(name);
        let spec = spec(&path);
        let splits = all_splits(&compiled(&spec));
        assert!(splits.len() >= 3, "{name} has too few splits");
        let one = render_to(&spec, &dir.join("one.wav"), 1, None);
        assert_eq!(one.0, None);
        for first in [
            &splits[0],
            &splits[splits.len() / 2],
            &splits[splits.len() - 1],
        ] {
            let two = render_to(&spec, &dir.join("two.wav"), 2, Some(first.clone()));
            let ops = first.iter().filter(|&&f| f).count();
            assert_eq!(two.0, Some((ops, first.len())), "{name} was not split");
            assert!(two.1 == one.1, "{name} split {first:?}: the files differ");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn render_to(
    spec: &GraphSpec,
    dest: &Path,
    threads: usize,
    split: Option<Vec<bool>>,
) -> (Option<(usize, usize)>, Vec<u8>) {
    let opts = RenderOptions {
        sample_rate: SR as u32,
        master_gain: 0.8,
        // Not a whole number of chunks or blocks, so the last ones are partial.
        seconds: 4.321,
        format: Format::F32,
        progress: false,
        threads,
        split,
        part_frames: None,
        stop: None,
    };
    let report = render(compiled(spec), None, &[], dest, &opts).expect("render");
    (report.stages, std::fs::read(dest).expect("wav"))
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("waves-threads-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
