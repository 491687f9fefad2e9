//! Benchmark (not a test): hot reload of a 200-line script. Save-to-swap latency (file
//! written → watcher → compile → swap applied at a block boundary) over 100 edits, compile
//! time, and memory after 1 and after 1000 reloads. Run: `cargo bench --bench reload`.

#[path = "../tests/common/edits.rs"]
mod edits;

use edits::script;
use ringbuf::traits::{Consumer, Producer};
use std::time::{Duration, Instant};
use waves::engine::Renderer;
use waves::engine::commands::{self, Command, Swap};
use waves::graph;
use waves::script::compile_file;
use waves::watch::Watcher;

const SR: f32 = 48_000.0;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("waves-bench-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("live.rhai");
    std::fs::write(&file, script(1)).unwrap();
    let c = compile_file(&file, SR as f64).unwrap();
    let (g, meta) = graph::compile(&c.spec, SR);
    // What the next graph is matched against: the spec and the node each op runs.
    let mut keys = (c.spec, meta.nodes);
    let mut renderer = Renderer::new(g, SR, 0.8);
    let (mut control, ends) = commands::channel();
    renderer.attach(ends);
    let mut watcher = Watcher::new(std::slice::from_ref(&file)).unwrap();
    let mut out = vec![0.0f32; 128];

    let mut reload = |v: usize,
                      keys: &mut (graph::GraphSpec, Vec<graph::OpOrigin>),
                      compile_ms: &mut Vec<f64>| {
        let t = Instant::now();
        let c = compile_file(&file, SR as f64).unwrap();
        let (g, meta) = graph::compile(&c.spec, SR);
        compile_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let plan = meta.carry_plan(&c.spec, &keys.0, &keys.1);
        *keys = (c.spec, meta.nodes);
        let swap = Swap {
            graph: Some(Box::new(g)),
            plan,
            fade_frames: 0,
            quantum_beats: 0.0,
            id: v as u64,
        };
        assert!(
            control
                .commands
                .try_push(Command::Swap(Box::new(swap)))
                .is_ok()
        );
    };

    let mut latency = Vec::new();
    let mut compile_ms = Vec::new();
    for v in 2..102 {
        std::thread::sleep(Duration::from_millis(30));
        let saved = Instant::now();
        std::fs::write(&file, script(v)).unwrap();
        loop {
            if !watcher.poll().is_empty() {
                break;
            }
            // The audio thread keeps running meanwhile.
            renderer.process(&mut out);
            std::thread::sleep(Duration::from_millis(1));
        }
        reload(v, &mut keys, &mut compile_ms);
        while control.stats.applied().0 != v as u64 {
            renderer.process(&mut out);
        }
        latency.push(saved.elapsed().as_secs_f64() * 1e3);
        while control.garbage.try_pop().is_some() {}
    }
    let rss_1 = rss_kb();
    for v in 102..1102 {
        std::fs::write(&file, script(v)).unwrap();
        reload(v, &mut keys, &mut compile_ms);
        while control.stats.applied().0 != v as u64 {
            renderer.process(&mut out);
        }
        while control.garbage.try_pop().is_some() {}
    }
    let rss_1000 = rss_kb();
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[((v.len() - 1) as f64 * p).round() as usize]
    };
    println!("hot reload of a 200-line script (196 voices of sine·perc), 100 edits:");
    println!(
        "  save-to-swap latency  p50 {:.1} ms  p95 {:.1} ms  (watcher debounce {} ms included)",
        pct(&mut latency, 0.5),
        pct(&mut latency, 0.95),
        waves::watch::DEBOUNCE.as_millis()
    );
    println!(
        "  compile (script + graph)  p50 {:.1} ms  p95 {:.1} ms",
        pct(&mut compile_ms, 0.5),
        pct(&mut compile_ms, 0.95)
    );
    println!("  RSS after the first 100 reloads {rss_1} kB, after 1000 more {rss_1000} kB");
    let _ = std::fs::remove_dir_all(&dir);
}
