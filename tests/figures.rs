//! Coarse regression checks of the performance figures README.md gives (Performance): a
//! short run of each benchmark (`benches/callback.rs`, `benches/reload.rs`) with a bound
//! of 3–5 times the figure. A regression that makes one of them 3 times worse fails here;
//! a busy machine does not, because work is measured in CPU time of the thread doing it
//! (only the save-to-swap latency, which includes the watcher's quiet period, is wall
//! time, and its bound is on the median of 20 edits).
//!
//! The tests take turns: each measures alone, not beside the other.

mod common;
use common::edits::script;
use common::{TempDir, thread_cpu};

use ringbuf::traits::{Consumer, Producer};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use waves::engine::Renderer;
use waves::engine::callback::{Callback, PlayStats};
use waves::engine::commands::{self, Command, Swap};
use waves::graph;
use waves::record::tap::recorder;
use waves::script::compile_file;
use waves::watch::{DEBOUNCE, Watcher};

const SR: u32 = 48_000;
const BUFFER: usize = 512;

/// Mean callback load of W2 (README: 0.54 %, 0.48–0.63 %, of the time budget).
const CALLBACK_LOAD_MAX: f64 = 2.0;
/// What the recorder tap may add to the mean callback load, in points of the budget
/// (README: below the spread between runs; the goal is under 1 %).
const TAP_COST_MAX: f64 = 0.25;
/// Median compile (script + graph) of the 200-line script (README: p50
/// 3.2–3.7 ms).
const COMPILE_P50_MAX: Duration = Duration::from_millis(12);
/// Median save-to-swap latency, the watcher's 10 ms quiet period included (README: p50
/// 16.5–17.7 ms).
const SAVE_TO_SWAP_P50_MAX: Duration = Duration::from_millis(60);

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[(v.len() - 1) / 2]
}

/// W2 through the device callback (48 kHz, 512 frames) for `seconds` of audio, with or
/// without the recorder tap: the mean callback load, in % of the time budget, from this
/// thread's CPU time.
fn callback_load(record: bool, seconds: usize) -> f64 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench/w2.rhai");
    let c = compile_file(&path, SR as f64).expect("w2 compiles");
    let renderer = Renderer::new(graph::compile(&c.spec, SR as f32).0, SR as f32, 0.8);
    let (tap, handle) = if record {
        let (t, s) = recorder(2 * SR as usize, 2);
        (Some(t), Some(s.spawn()))
    } else {
        (None, None)
    };
    let mut cb = Callback::new(renderer, tap, None, Arc::new(PlayStats::default()));
    let mut buf = vec![0.0f32; BUFFER * 2];
    let calls = seconds * SR as usize / BUFFER;
    // One second to warm up (caches, the first notes), not measured.
    for _ in 0..SR as usize / BUFFER {
        cb.fill(&mut buf, 2);
    }
    let start = thread_cpu();
    for _ in 0..calls {
        cb.fill(&mut buf, 2);
    }
    let cpu = thread_cpu() - start;
    drop(cb);
    if let Some(h) = handle {
        assert_eq!(h.stop().dropped, 0, "the recorder dropped frames");
    }
    let budget = calls as f64 * BUFFER as f64 / SR as f64;
    cpu.as_secs_f64() / budget * 100.0
}

/// The callback load and the recorder tap's share of it: three rounds of 10 s of audio
/// without and with the tap, alternating; the least of each (the least disturbed).
#[test]
fn callback_load_and_recorder_cost_stay_near_the_figures() {
    let _turn = turn();
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        without.push(callback_load(false, 10));
        with.push(callback_load(true, 10));
    }
    let least = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (bare, tapped) = (least(&without), least(&with));
    eprintln!(
        "W2 callback load: {bare:.3} % without the tap, {tapped:.3} % with it \
         (rounds: {without:.3?} and {with:.3?})"
    );
    assert!(
        bare < CALLBACK_LOAD_MAX,
        "W2's callback load is {bare:.2} % of the time budget, over {CALLBACK_LOAD_MAX} % \
         (README: 0.54 %)"
    );
    assert!(
        tapped - bare < TAP_COST_MAX,
        "the recorder tap adds {:.2} points to the callback load ({bare:.3} % → \
         {tapped:.3} %), over {TAP_COST_MAX}",
        tapped - bare
    );
}

/// 20 edits of the 200-line script, each written to disk, picked up by the watcher,
/// compiled and swapped at a block boundary (as `benches/reload.rs` does 100): the median
/// compile in CPU time and the median save-to-swap latency.
#[test]
fn reload_compile_and_save_to_swap_stay_near_the_figures() {
    let _turn = turn();
    let dir = TempDir::new("figures", "reload");
    let file = dir.write("live.rhai", &script(1));
    let c = compile_file(&file, SR as f64).unwrap();
    let (g, meta) = graph::compile(&c.spec, SR as f32);
    let mut keys = (c.spec, meta.nodes);
    let mut renderer = Renderer::new(g, SR as f32, 0.8);
    let (mut control, ends) = commands::channel();
    renderer.attach(ends);
    let mut watcher = Watcher::new(std::slice::from_ref(&file)).unwrap();
    let mut out = vec![0.0f32; 128];
    let (mut compile_cpu, mut latency) = (Vec::new(), Vec::new());
    for v in 2..22 {
        // Let the previous edit's events go quiet.
        std::thread::sleep(DEBOUNCE * 3);
        let saved = Instant::now();
        std::fs::write(&file, script(v)).unwrap();
        while watcher.poll().is_empty() {
            assert!(
                saved.elapsed() < Duration::from_secs(10),
                "edit {v} never seen"
            );
            // The audio thread keeps running meanwhile.
            renderer.process(&mut out);
            std::thread::sleep(Duration::from_millis(1));
        }
        let start = thread_cpu();
        let c = compile_file(&file, SR as f64).unwrap();
        let (g, meta) = graph::compile(&c.spec, SR as f32);
        compile_cpu.push(thread_cpu() - start);
        let plan = meta.carry_plan(&c.spec, &keys.0, &keys.1);
        keys = (c.spec, meta.nodes);
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
        while control.stats.applied().0 != v as u64 {
            renderer.process(&mut out);
        }
        latency.push(saved.elapsed());
        while control.garbage.try_pop().is_some() {}
    }
    let (compile, swap) = (median(compile_cpu.clone()), median(latency.clone()));
    eprintln!(
        "reload of the 200-line script: compile p50 {compile:.1?} (CPU), save-to-swap p50 \
         {swap:.1?} (wall)"
    );
    assert!(
        compile < COMPILE_P50_MAX,
        "the median compile took {compile:.1?} of CPU time, over {COMPILE_P50_MAX:?} \
         (README: 3.2–3.7 ms): {compile_cpu:.1?}"
    );
    assert!(
        swap < SAVE_TO_SWAP_P50_MAX,
        "the median save-to-swap latency is {swap:.1?}, over {SAVE_TO_SWAP_P50_MAX:?} \
         (README: 16.5–17.7 ms): {latency:.1?}"
    );
}
