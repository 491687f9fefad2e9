//! Benchmark (not a test): what each oscillator costs per voice and sample, 32 voices at
//! W2's pitches (MIDI 36-67) run as one 32-lane node, steady and with the pitch moving.
//! Run: `cargo bench --bench oscillators`.

use std::path::Path;
use std::time::Instant;
use waves::dsp::{BLOCK, Ctx};
use waves::graph;
use waves::script::compile_source;

const SR: f32 = 48_000.0;
const VOICES: usize = 32;
const SECONDS: usize = 20;
const ROUNDS: usize = 5;

/// Nanoseconds per voice-sample of the whole graph for `voice` (an expression of `f`), the
/// median of `ROUNDS` renders: the mix is included, so read rows against the `sine` row.
fn cost(voice: &str) -> f64 {
    let src = format!(
        "let v = []; for i in 0..{VOICES} {{ let f = midi(36 + i); v.push({voice}); }} mix(v) * 0.01"
    );
    let c = compile_source(&src, "bench.rhai", Path::new("."), f64::from(SR)).expect("compiles");
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let mut g = graph::compile(&c.spec, SR).0;
        let mut ctx = Ctx::new(SR, 120.0);
        let (mut l, mut r) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
        let blocks = SECONDS * SR as usize / BLOCK;
        let t = Instant::now();
        for _ in 0..blocks {
            g.process_block(&ctx, &mut l, &mut r);
            ctx.frame += BLOCK as u64;
        }
        std::hint::black_box(&l);
        times.push(t.elapsed().as_secs_f64() * 1e9 / (blocks * BLOCK * VOICES) as f64);
    }
    times.sort_by(f64::total_cmp);
    times[ROUNDS / 2]
}

fn main() {
    println!("ns per voice-sample, 32 voices (MIDI 36-67) in one node, mixed; median of {ROUNDS}");
    for (name, voice) in [
        ("sine", "sine(f)"),
        ("saw", "saw(f)"),
        ("square", "square(f)"),
        ("pulse 0.3", "pulse(f, 0.3)"),
        ("tri", "tri(f)"),
        ("saw, vibrato", "saw(f * (1 + sine(5) * 0.01))"),
        ("pulse, moving width", "pulse(f, 0.5 + sine(0.3) * 0.4)"),
    ] {
        println!("{name:<22} {:6.2}", cost(voice));
    }
}
