//! The same script renders to the same samples every time, in another process, and whatever
//! the caller's chunk size.

mod common;
use common::TempDir;

use std::path::Path;
use std::process::Command;
use waves::engine::Renderer;
use waves::graph;
use waves::script::compile_source;

const SR: f64 = 48_000.0;

/// Noise, pink noise, a poly instrument with per-voice noise, delays with feedback and
/// modulated time, a feedback loop, patterns with chance steps and stolen voices, reverb,
/// chorus and compressor, stereo: everything with state or randomness.
const SCRIPT: &str = r#"
tempo(132);
let hiss = noise().hpf(3000, 0.7) * perc(metro(0.5), 0.001, 0.08) * 0.3;
let rumble = pink().lpf(400, 1.5) * 0.4;
let chord = poly(4, |v| {
    let f = midi(v.index * 4 + 48);
    (saw(f) + noise() * 0.05).lpf(sine(0.3).range(600, 2400), 2)
        * adsr(pulse(1, 0.6), 0.01, 0.1, 0.5, 0.2) * 0.1
});
let fb = feedback();
let wet = (hiss + fb * 0.3).delay(beats(0.75), 0.4);
fb.feed(wet);
let beat = pattern("x [~ x] x?0.6 x(3,8)").voices(2)
    .play(|v| (noise().hpf(5000) + sine(line(120, 50, 0.1))) * perc(v.gate, 0.001, 0.1)) * 0.3;
let keys = pattern("<[c3,e3,g3] [a2,c3,e3,g3,b3]>*2").voices(3)
    .play(|v| tri(v.freq) * adsr(v.gate, 0.01, 0.1, 0.5, 0.2) * 0.1)
    .chorus(0.5, 0.5).reverb(0.3, 1.5).comp(-18, 3);
let left = mix([chord, rumble, wet, beat]);
let right = (hiss + rumble.delay(sine(0.2).range(0.01, 0.03), 0.5)).drive(1.5) + chord;
stereo(left, right) * 0.5 + keys
"#;

fn render_with_binary(dir: &Path, out: &str) -> Vec<u8> {
    let o = Command::new(env!("CARGO_BIN_EXE_waves"))
        .current_dir(dir)
        .args(["render", "piece.rhai", "-o", out, "--duration", "2"])
        .output()
        .expect("run waves");
    assert!(
        o.status.success(),
        "waves render failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(dir.join(out)).expect("the WAV file")
}

/// Renders `frames` frames through `Renderer::process`, asking for `chunks` frames at a
/// time in turn.
fn render_in_chunks(src: &str, frames: usize, chunks: &[usize]) -> Vec<f32> {
    let c = compile_source(src, "piece.rhai", Path::new("."), SR)
        .unwrap_or_else(|d| panic!("{}", d.render(Some(src))));
    let g = graph::compile(&c.spec, SR as f32).0;
    let mut r = Renderer::new(g, SR as f32, 0.8);
    let mut out = vec![0.0f32; frames * 2];
    let mut done = 0;
    let mut k = 0;
    while done < frames {
        let n = chunks[k % chunks.len()].min(frames - done);
        r.process(&mut out[done * 2..(done + n) * 2]);
        done += n;
        k += 1;
    }
    assert_eq!(r.position(), frames as u64);
    out
}

fn rms(v: &[f32]) -> f64 {
    (v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
}

#[test]
fn two_renders_by_the_binary_are_byte_identical() {
    let dir = TempDir::new("determinism", "binary");
    std::fs::write(dir.0.join("piece.rhai"), SCRIPT).unwrap();
    let a = render_with_binary(&dir.0, "a.wav");
    let b = render_with_binary(&dir.0, "b.wav");
    // 2 s of 48 kHz stereo f32 plus a header.
    assert!(a.len() >= 2 * 48_000 * 2 * 4, "{} bytes", a.len());
    assert_eq!(a.len(), b.len());
    if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
        panic!("the renders differ first at byte {i} of {}", a.len());
    }
    // And they are not silence.
    let reader = hound::WavReader::open(dir.0.join("a.wav")).unwrap();
    assert_eq!(reader.spec().channels, 2);
    assert_eq!(reader.spec().sample_rate, 48_000);
    let samples: Vec<f32> = reader.into_samples::<f32>().map(|s| s.unwrap()).collect();
    assert_eq!(samples.len(), 2 * 96_000);
    assert!(samples.iter().all(|s| s.is_finite()));
    assert!(rms(&samples) > 1e-3, "rms {}", rms(&samples));
}

#[test]
fn chunk_size_never_changes_the_samples() {
    let frames = 2 * 48_000 + 77;
    let reference = render_in_chunks(SCRIPT, frames, &[4096]);
    assert!(reference.iter().all(|s| s.is_finite()));
    assert!(rms(&reference) > 1e-3, "rms {}", rms(&reference));
    // Left and right differ (the script is stereo), so the interleaving is checked too.
    assert!(
        reference
            .chunks_exact(2)
            .any(|f| (f[0] - f[1]).abs() > 1e-3)
    );
    for chunks in [
        &[1usize][..],
        &[17],
        &[64],
        &[1, 17, 64, 333, 4096, 5, 63, 65],
    ] {
        let got = render_in_chunks(SCRIPT, frames, chunks);
        if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != reference[i].to_bits()) {
            panic!(
                "chunks {chunks:?}: sample {i} (frame {}) is {} but {} with 4096-frame chunks",
                i / 2,
                got[i],
                reference[i]
            );
        }
    }
}

#[test]
fn compiling_twice_gives_the_same_graph() {
    let a = compile_source(SCRIPT, "piece.rhai", Path::new("."), SR).unwrap();
    let b = compile_source(SCRIPT, "piece.rhai", Path::new("."), SR).unwrap();
    assert_eq!(a.spec, b.spec);
    let keys: Vec<&str> = a.spec.nodes.iter().map(|n| n.key.as_str()).collect();
    // Every node that reaches the output has a key, and keys are unique.
    let mut live: Vec<&str> = keys.iter().copied().filter(|k| !k.is_empty()).collect();
    let n = live.len();
    assert!(n > 20, "{n} keyed nodes");
    live.sort();
    live.dedup();
    assert_eq!(live.len(), n, "duplicate node keys");
}
