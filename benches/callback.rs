//! Benchmark (not a test): the device callback's CPU load for W2 at 48 kHz / 512 frames,
//! with and without the recorder tap, and the recording memory per minute.
//! Run: `cargo bench --bench callback`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use waves::engine::Renderer;
use waves::engine::callback::{Callback, PlayStats};
use waves::graph;
use waves::record::tap::recorder;
use waves::script::compile_file;

const SR: u32 = 48_000;
const BUFFER: usize = 512;
const SECONDS: usize = 60;

/// Mean and worst callback time as a share of the buffer's duration.
fn run(record: bool) -> (f64, f64, usize) {
    let c = compile_file(Path::new("scripts/bench/w2.rhai"), SR as f64).expect("w2 compiles");
    let renderer = Renderer::new(graph::compile(&c.spec, SR as f32).0, SR as f32, 0.8);
    let stats = Arc::new(PlayStats::default());
    let (tap, handle) = if record {
        let (t, s) = recorder(2 * SR as usize, 2);
        (Some(t), Some(s.spawn()))
    } else {
        (None, None)
    };
    let mut cb = Callback::new(renderer, tap, None, stats);
    let mut buf = vec![0.0f32; BUFFER * 2];
    let budget = BUFFER as f64 / SR as f64;
    let calls = SECONDS * SR as usize / BUFFER;
    let (mut total, mut worst) = (0.0f64, 0.0f64);
    for _ in 0..calls {
        let t = Instant::now();
        cb.fill(&mut buf, 2);
        let dt = t.elapsed().as_secs_f64();
        total += dt;
        worst = worst.max(dt);
    }
    drop(cb);
    let bytes = handle.map(|h| h.stop().samples.capacity() * 4).unwrap_or(0);
    (
        total / calls as f64 / budget * 100.0,
        worst / budget * 100.0,
        bytes,
    )
}

fn main() {
    // Warm up caches and the CPU clock once, then measure each variant twice, alternating.
    run(false);
    let mut rows = Vec::new();
    for _ in 0..2 {
        rows.push(("without tap", run(false)));
        rows.push(("with tap", run(true)));
    }
    println!("W2 callback load at {SR} Hz / {BUFFER} frames over {SECONDS} s of audio:");
    for (name, (mean, worst, bytes)) in &rows {
        print!("  {name:12} mean {mean:5.2} %  worst {worst:6.2} %");
        if *bytes > 0 {
            print!(
                "  recording memory {:.1} MB for {SECONDS} s",
                *bytes as f64 / 1e6
            );
        }
        println!();
    }
}
