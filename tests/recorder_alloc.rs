//! `Tap::push` never allocates or frees, with the spooler draining concurrently and with
//! the ring full. A counting global allocator counts only on the pushing thread (a
//! thread-local flag) while armed (a global flag): the spooler allocates on its own thread.
//! One #[test] only, so no other test thread runs while it is armed. It also drives the
//! whole device callback body (render, tap, clip, meters) through odd buffer sizes, two
//! sample formats and a full ring.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use waves::engine::Renderer;
use waves::engine::callback::{Callback, PlayStats};
use waves::graph;
use waves::record::tap::recorder;
use waves::script::compile_source;
use waves::tui::scope::ScopeRing;

struct Counting;

static ARMED: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static FREES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static WATCHED: Cell<bool> = const { Cell::new(false) };
}

fn counting() -> bool {
    ARMED.load(Ordering::Relaxed) && WATCHED.try_with(Cell::get).unwrap_or(false)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            FREES.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counting() {
            FREES.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn arm(on: bool) {
    WATCHED.with(|w| w.set(on));
    ARMED.store(on, Ordering::SeqCst);
}

#[test]
fn tap_push_never_allocates() {
    let ch = 2;
    // Everything the pushing loop touches is allocated before arming.
    let source: Vec<f32> = (0..2 * 4096).map(|i| (i as f32 * 0.01).sin()).collect();
    let sizes: Vec<usize> = (0..10_000usize)
        .map(|i| (1 + (i * 7919) % 1023) | 1)
        .collect();

    // The self-check: the counter does see an allocation on this thread.
    arm(true);
    let probe = std::hint::black_box(vec![0u8; 16]);
    drop(probe);
    arm(false);
    assert!(ALLOCS.load(Ordering::SeqCst) >= 1 && FREES.load(Ordering::SeqCst) >= 1);
    ALLOCS.store(0, Ordering::SeqCst);
    FREES.store(0, Ordering::SeqCst);

    // 1. The spooler drains concurrently (and allocates, on its own thread).
    let (mut tap, spooler) = recorder(8192, ch);
    let stats = spooler.stats();
    let handle = spooler.spawn();
    let mut pushed = 0u64;
    arm(true);
    for (i, &frames) in sizes.iter().enumerate() {
        tap.push(&source[..frames * ch]);
        pushed += frames as u64;
        if i % 500 == 499 {
            // Let the spooler drain part of the time (sleeping does not allocate).
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    // Two whole frames and a partial one (counted as one dropped frame).
    tap.push(&source[..5]);
    pushed += 2;
    arm(false);
    let take = handle.stop();
    let written = stats.frames_written.load(Ordering::SeqCst);
    assert_eq!(written + take.dropped, pushed + 1);
    assert_eq!(take.samples.len() as u64, written * ch as u64);
    assert!(written > 8192, "the spooler never drained while pushing");
    assert_eq!(
        ALLOCS.load(Ordering::SeqCst),
        0,
        "push allocated (draining)"
    );
    assert_eq!(FREES.load(Ordering::SeqCst), 0, "push freed (draining)");

    // 2. A full ring: nobody drains, nearly every push drops.
    let (mut tap, spooler) = recorder(64, ch);
    let stats = spooler.stats();
    arm(true);
    for &frames in &sizes {
        tap.push(&source[..frames * ch]);
    }
    arm(false);
    assert_eq!(stats.frames_written.load(Ordering::SeqCst), 64);
    let total: u64 = sizes.iter().map(|&f| f as u64).sum();
    assert_eq!(stats.dropped.load(Ordering::SeqCst), total - 64);
    assert_eq!(
        ALLOCS.load(Ordering::SeqCst),
        0,
        "push allocated (full ring)"
    );
    assert_eq!(FREES.load(Ordering::SeqCst), 0, "push freed (full ring)");
    // The ring holds the leading whole frames of the first chunks, in order.
    let mut want = Vec::new();
    for &frames in &sizes {
        let fit = frames.min(64 - want.len() / ch);
        want.extend_from_slice(&source[..fit * ch]);
    }
    let take = spooler.spawn().stop();
    assert_eq!(take.samples, want);

    // 3. The device callback with the tap and the terminal scope on, monitors in the graph
    // and live stems (two tracks recorded in wide frames beside the mix): odd device buffers
    // (one larger than the callback's internal step), f32 and i16 devices, stereo and 3
    // channels, and a ring that fills up halfway through.
    let src = "tempo(130);\nlet v = poly(4, |v| saw(midi(v.index * 7 + 48)).lpf(900, 2) * perc(metro(0.5), 0.001, 0.2)).monitor(\"v\").track(\"voices\");\n(v + (noise().hpf(5000) * 0.1).track(\"hiss\")).delay(0.1, 0.4).pan(sine(0.3).monitor(\"pan\")).monitor(\"out\") * 1.5";
    let c = compile_source(src, "cb.rhai", Path::new("."), 48000.0).unwrap();
    let (mut g, meta) = graph::compile(&c.spec, 48000.0);
    let mut slots = waves::record::stems::StemSlots::for_recording(2, true);
    assert!(slots.assign(&meta.track_names, &mut g).is_empty());
    let mut renderer = Renderer::new(g, 48000.0, 0.8);
    renderer.set_stem_slots(slots.capacity());
    let (tap, spooler) = recorder(48_000, slots.channels());
    let rec = spooler.stats();
    let stats = Arc::new(PlayStats::default());
    let scope = Arc::new(ScopeRing::new());
    let mut cb =
        Callback::new(renderer, Some(tap), None, stats.clone()).with_scope(Some(scope.clone()));
    let mut f32_buf = vec![0.0f32; 3 * 5000];
    let mut i16_buf = vec![0i16; 2 * 5000];
    let buffers = [1usize, 17, 64, 333, 512, 4096, 5000];
    // The loudest sample a float device was handed.
    let mut device_peak = 0.0f32;
    arm(true);
    for i in 0..400 {
        let n = buffers[i % buffers.len()];
        if i % 2 == 0 {
            cb.fill(&mut f32_buf[..n * 3], 3);
            device_peak = f32_buf[..n * 3]
                .iter()
                .fold(device_peak, |m, v| m.max(v.abs()));
        } else {
            cb.fill(&mut i16_buf[..n * 2], 2);
        }
    }
    arm(false);
    let played = stats.frames.load(Ordering::SeqCst);
    assert!(played > 48_000, "played {played}");
    assert_eq!(
        rec.frames_written.load(Ordering::SeqCst) + rec.dropped.load(Ordering::SeqCst),
        played
    );
    assert!(
        rec.dropped.load(Ordering::SeqCst) > 0,
        "the ring never filled"
    );
    // The script is driven past full scale (`* 1.5` after the delay's feedback), so the
    // clipping path runs armed too: the meters see the peak above 1, the device only ±1.
    let peak = stats.take_peak(0).max(stats.take_peak(1));
    assert!(
        peak > 1.0,
        "the signal never passed full scale: peak {peak}"
    );
    assert!(
        stats.clipped.load(Ordering::SeqCst) > 0,
        "peak {peak} but nothing counted as clipped"
    );
    assert!(device_peak <= 1.0, "the device got {device_peak}");
    assert_eq!(ALLOCS.load(Ordering::SeqCst), 0, "the callback allocated");
    assert_eq!(FREES.load(Ordering::SeqCst), 0, "the callback freed");
    let mut seen = Vec::new();
    scope.latest(1000, &mut seen);
    assert_eq!(seen.len(), 1000);
    assert!(seen.iter().any(|v| *v != 0.0), "the scope saw nothing");
    drop(cb);
    drop(spooler);

    // 4. Hot reload: 100 swaps (with crossfades, state carried, some quantized to a beat)
    // and master-gain changes, while odd-sized callbacks run. Graphs are built and freed on
    // this thread only while disarmed, as the control thread would.
    use ringbuf::traits::{Consumer, Producer};
    use waves::engine::commands::{self, Command, Swap};
    let versions: Vec<String> = (0..100)
        .map(|i| {
            format!(
                "tempo(120);\nlet v = poly(3, |v| saw(midi(v.index * 5 + {})).lpf(700 + {i} * 10, 2) * perc(metro(0.5), 0.001, 0.2));\n(v + sine({}).id(\"lfo\") * 0.1).delay(0.05, 0.3) * 0.5",
                40 + i % 12,
                200 + i
            )
        })
        .collect();
    let compile = |src: &str| {
        let c = compile_source(src, "v.rhai", Path::new("."), 48000.0).unwrap();
        let (g, meta) = graph::compile(&c.spec, 48000.0);
        (c.spec, g, meta)
    };
    let (spec, first, meta) = compile(&versions[0]);
    // What the next version is matched against, as the control thread keeps it.
    let mut keys = (spec, meta.nodes);
    let mut renderer = Renderer::new(first, 48000.0, 0.8);
    let (mut control, ends) = commands::channel();
    renderer.attach(ends);
    let mut out = vec![0.0f32; 2 * 5000];
    let mut freed = 0;
    for (i, src) in versions.iter().enumerate().skip(1) {
        let (spec, g, meta) = compile(src);
        let plan = meta.carry_plan(&spec, &keys.0, &keys.1);
        keys = (spec, meta.nodes);
        let param = meta.params.values().next().copied();
        let swap = Swap {
            graph: Some(Box::new(g)),
            plan,
            fade_frames: if i % 3 == 0 { 0 } else { 1440 },
            quantum_beats: if i % 10 == 0 { 1.0 } else { 0.0 },
            id: i as u64,
        };
        assert!(
            control
                .commands
                .try_push(Command::Swap(Box::new(swap)))
                .is_ok()
        );
        assert!(
            control
                .commands
                .try_push(Command::MasterGain(0.5 + (i % 5) as f32 * 0.1))
                .is_ok()
        );
        // And a parameter glide on the incoming graph's first number, as a number-only edit
        // would send after it landed.
        if let Some(slot) = param {
            assert!(
                control
                    .commands
                    .try_push(Command::Param {
                        slot,
                        value: 0.3,
                        frames: 700
                    })
                    .is_ok()
            );
        }
        arm(true);
        for k in 0..8 {
            let n = buffers[(i + k) % buffers.len()];
            renderer.process(&mut out[..n * 2]);
        }
        arm(false);
        while let Some(done) = control.garbage.try_pop() {
            drop(done);
            freed += 1;
        }
    }
    assert!(out.iter().all(|v| v.is_finite()));
    assert!(
        control.stats.applied().0 >= 90,
        "swaps applied: {:?}",
        control.stats.applied()
    );
    assert!(freed >= 80, "old graphs handed back: {freed}");
    assert_eq!(
        ALLOCS.load(Ordering::SeqCst),
        0,
        "swapping allocated on the audio thread"
    );
    assert_eq!(
        FREES.load(Ordering::SeqCst),
        0,
        "swapping freed on the audio thread"
    );
}
