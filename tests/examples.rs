//! Every example script and benchmark workload compiles and renders to real, finite sound
//! (at most its first 4 s), and every shared patch is used by at least one of them.

use std::path::{Path, PathBuf};
use std::process::Command;
use waves::engine::Renderer;
use waves::graph;
use waves::script::compile_file;

const SR: f64 = 48_000.0;
/// Longest stretch rendered per script.
const MAX_SECS: f64 = 4.0;

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

/// `*.rhai` directly inside `dir`, sorted.
fn rhai_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    v.sort();
    v
}

/// The examples in scripts/ and the benchmark workloads in scripts/bench/ (the benchmark
/// scripts render them for 60 s and would only report a broken one as failed).
fn examples() -> Vec<PathBuf> {
    let mut v = rhai_files(&scripts_dir());
    assert!(v.len() >= 3, "too few examples: {v:?}");
    let bench = rhai_files(&scripts_dir().join("bench"));
    assert!(bench.len() >= 3, "too few benchmark workloads: {bench:?}");
    v.extend(bench);
    v
}

#[test]
fn every_example_compiles_and_renders_finite_non_silent_audio() {
    for path in examples() {
        let name = path.display().to_string();
        let c = compile_file(&path, SR).unwrap_or_else(|d| panic!("{}", d.render(None)));
        let secs = c.spec.duration.unwrap_or(MAX_SECS).min(MAX_SECS);
        assert!(secs > 0.0, "{name}: duration {secs}");
        let frames = (secs * SR).round() as usize;
        let g = graph::compile(&c.spec, SR as f32).0;
        let mut r = Renderer::new(g, SR as f32, 1.0);
        let mut out = vec![0.0f32; frames * 2];
        for chunk in out.chunks_mut(2 * 512) {
            r.process(chunk);
        }
        if let Some(i) = out.iter().position(|s| !s.is_finite()) {
            panic!("{name}: sample {i} (frame {}) is {}", i / 2, out[i]);
        }
        for (ch, side) in ["left", "right"].iter().enumerate() {
            let s: Vec<f32> = out.iter().skip(ch).step_by(2).copied().collect();
            let rms = (s.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / s.len() as f64).sqrt();
            assert!(rms > 1e-3, "{name}: {side} channel RMS {rms} over {secs} s");
        }
        let peak = out.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(peak < 8.0, "{name}: peak {peak}, far above full scale");
    }
}

#[test]
fn every_example_passes_waves_check() {
    let files = examples();
    let out = Command::new(env!("CARGO_BIN_EXE_waves"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("check")
        .args(&files)
        .output()
        .expect("run waves");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok: ")).count(),
        files.len(),
        "{stdout}"
    );
}

#[test]
fn every_patch_is_imported_by_some_example() {
    let patches = rhai_files(&scripts_dir().join("patches"));
    assert!(!patches.is_empty(), "no patches in scripts/patches");
    let mut imported = Vec::new();
    for path in examples() {
        let c = compile_file(&path, SR).unwrap_or_else(|d| panic!("{}", d.render(None)));
        for f in &c.files[1..] {
            imported.push(f.canonicalize().unwrap());
        }
    }
    for p in patches {
        let canon = p.canonicalize().unwrap();
        assert!(
            imported.contains(&canon),
            "{} is not imported by any script in scripts/",
            p.display()
        );
    }
}
