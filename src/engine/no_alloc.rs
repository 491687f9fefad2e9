//! The debug-build allocation guard: `no_alloc` marks the audio callback's body on the audio
//! thread, and `GuardedAlloc` (the `waves` binary's global allocator in debug builds, on
//! every thread) counts any allocation or free made inside it; the control thread reports
//! the first one (`report`). In release builds `no_alloc` is a plain call.
//!
//! Why count and report instead of aborting: an abort ends a live take without saving the
//! recording, and the std handler it goes through calls itself "memory allocation failed",
//! which reads like running out of memory. Why not print where it happens: printing locks
//! stderr on the audio thread, the very thing being caught, and once per callback. So the
//! allocator only bumps atomics (it never allocates, locks or prints), and the control loop
//! prints one loud line naming the first offence; `tests/alloc.rs` then finds the culprit
//! with its counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

#[cfg(debug_assertions)]
thread_local! {
    /// How many `no_alloc` calls this thread is inside (const-initialised and without a
    /// destructor, so reading it from the allocator never allocates).
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Allocator calls (alloc, realloc, free) made inside `no_alloc`, on any thread.
static VIOLATIONS: AtomicU64 = AtomicU64::new(0);
/// The first one: its size in bytes and what it was (`KIND_*`).
static FIRST_SIZE: AtomicU64 = AtomicU64::new(0);
static FIRST_KIND: AtomicU64 = AtomicU64::new(0);
static REPORTED: AtomicBool = AtomicBool::new(false);

const KIND_ALLOC: u64 = 1;
const KIND_REALLOC: u64 = 2;
const KIND_FREE: u64 = 3;

/// Runs `f`; in debug builds, any allocation or free it makes on this thread is counted.
#[inline(always)]
pub fn no_alloc<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(debug_assertions)]
    {
        struct Depth;
        impl Drop for Depth {
            fn drop(&mut self) {
                let _ = DEPTH.try_with(|d| d.set(d.get() - 1));
            }
        }
        let _ = DEPTH.try_with(|d| d.set(d.get() + 1));
        let _depth = Depth;
        f()
    }
    #[cfg(not(debug_assertions))]
    f()
}

/// Allocator calls made inside `no_alloc` so far (always 0 in release builds).
pub fn violations() -> u64 {
    VIOLATIONS.load(Relaxed)
}

/// The first time allocator calls were seen inside `no_alloc`: a line for the user, once
/// per process. Control thread.
pub fn report() -> Option<String> {
    let n = violations();
    if n == 0 || REPORTED.swap(true, Relaxed) {
        return None;
    }
    let what = match FIRST_KIND.load(Relaxed) {
        KIND_ALLOC => "an allocation",
        KIND_REALLOC => "a reallocation",
        _ => "a free",
    };
    Some(format!(
        "error (debug build): the audio thread called the allocator {n} time(s) so far, first \
         {what} of {} bytes; code reachable from the audio callback must never allocate or \
         free (cargo test --test alloc finds where)",
        FIRST_SIZE.load(Relaxed)
    ))
}

#[inline(always)]
fn check(kind: u64, size: usize) {
    #[cfg(debug_assertions)]
    if DEPTH.try_with(|d| d.get() > 0).unwrap_or(false) && VIOLATIONS.fetch_add(1, Relaxed) == 0 {
        FIRST_SIZE.store(size as u64, Relaxed);
        FIRST_KIND.store(kind, Relaxed);
    }
    #[cfg(not(debug_assertions))]
    let _ = (kind, size);
}

/// The system allocator, counting calls made inside `no_alloc` (debug builds). Installed
/// as the global allocator by the `waves` binary in debug builds only; test binaries that
/// count allocations their own way keep their own.
pub struct GuardedAlloc;

// SAFETY: every call is forwarded unchanged to `System`; `check` only reads a thread-local
// and bumps atomics, so it neither allocates nor re-enters the allocator.
unsafe impl GlobalAlloc for GuardedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(KIND_ALLOC, layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(KIND_ALLOC, layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(KIND_REALLOC, new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        check(KIND_FREE, layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
}
