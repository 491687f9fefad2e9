//! The `waves` command: parses arguments and hands over to `cli`; main thread.

/// Debug builds: allocations and frees on the audio thread are counted and reported.
#[cfg(debug_assertions)]
#[global_allocator]
static ALLOC: waves::engine::no_alloc::GuardedAlloc = waves::engine::no_alloc::GuardedAlloc;

fn main() {
    if std::env::var_os("JACK_NO_START_SERVER").is_none() {
        // Opening MIDI or audio through JACK must never launch a JACK server as a side
        // effect (libjack does unless told not to).
        // SAFETY: first thing in main, before any other thread exists.
        unsafe { std::env::set_var("JACK_NO_START_SERVER", "1") };
    }
    #[cfg(unix)]
    // A file-size limit must make a write fail (and the take go to the rescue folder), not
    // kill the process with SIGXFSZ.
    // SAFETY: setting a signal's disposition to "ignore" before any thread exists.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    std::process::exit(waves::cli::main());
}
