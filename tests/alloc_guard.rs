//! The debug-build allocation guard (`engine::no_alloc`) with the allocator the `waves`
//! binary installs in debug builds: inside the guard an allocation or free is counted and
//! reported once, outside it (or on another thread) it is not; in release builds the guard
//! costs nothing and counts nothing.
//!
//! The count is process-wide, so this binary holds a single test and checks differences.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use waves::engine::Renderer;
use waves::engine::callback::{Callback, PlayStats};
use waves::engine::no_alloc::{GuardedAlloc, no_alloc, report, violations};
use waves::graph;
use waves::script::compile_source;

#[global_allocator]
static A: GuardedAlloc = GuardedAlloc;

#[test]
fn allocations_inside_the_guard_are_caught_and_outside_are_not() {
    let on = cfg!(debug_assertions);
    let start = violations();

    // Outside the guard: allocating and freeing is fine.
    let v: Vec<u64> = black_box(Vec::with_capacity(32));
    drop(v);
    assert_eq!(violations(), start);
    assert_eq!(report(), None);

    // Inside: one allocation and one free.
    no_alloc(|| drop(black_box(Box::new(7u64))));
    let expected = start + if on { 2 } else { 0 };
    assert_eq!(violations(), expected);

    // Growing a vector inside the guard is a reallocation.
    let mut grow: Vec<u8> = Vec::with_capacity(1);
    grow.push(1);
    no_alloc(|| grow.extend_from_slice(black_box(&[2u8; 64])));
    let expected = expected + if on { 1 } else { 0 };
    assert_eq!(violations(), expected);
    drop(grow);

    // Reported once, naming the first offence, then never again.
    if on {
        let line = report().expect("a report in a debug build");
        assert!(line.contains("audio thread"), "{line}");
        assert!(line.contains("3 time(s)"), "{line}");
        assert!(line.contains("an allocation of 8 bytes"), "{line}");
        assert_eq!(report(), None);
    } else {
        assert_eq!(report(), None);
    }

    // Nested guards stay armed until the outermost ends; after it, allocating is fine.
    no_alloc(|| {
        no_alloc(|| {});
        drop(black_box(vec![1u8; 16]));
    });
    let expected = expected + if on { 2 } else { 0 };
    assert_eq!(violations(), expected);
    drop(black_box(vec![1u8; 16]));
    assert_eq!(violations(), expected);

    // A guard on one thread does not catch another thread's allocations (the other thread
    // allocates while this one waits inside its guard), but that thread's own guard does.
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let other = {
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            barrier.wait();
            drop(black_box(vec![0u32; 100]));
            barrier.wait();
            no_alloc(|| drop(black_box(Box::new(1u8))));
        })
    };
    no_alloc(|| {
        barrier.wait();
        barrier.wait();
    });
    other.join().unwrap();
    let expected = expected + if on { 2 } else { 0 };
    assert_eq!(violations(), expected);

    // The real callback body runs inside the guard and stays clean.
    let c = compile_source(
        "pattern(\"a3 [c4 e4] ~ g3\").play(|v| saw(v.freq).lpf(900, 0.7) * perc(v.gate, 0.01, 0.2)).delay(0.1, 0.4)",
        "t.rhai",
        Path::new("."),
        48000.0,
    )
    .unwrap();
    let r = Renderer::new(graph::compile(&c.spec, 48000.0).0, 48000.0, 1.0);
    let mut cb = Callback::new(r, None, None, Arc::new(PlayStats::default()));
    let mut out = vec![0.0f32; 2 * 4096];
    let before = violations();
    for frames in [1usize, 17, 64, 511, 4096] {
        cb.fill(&mut out[..2 * frames], 2);
    }
    assert_eq!(violations(), before);
    assert!(out.iter().any(|s| *s != 0.0), "the callback rendered sound");
}
