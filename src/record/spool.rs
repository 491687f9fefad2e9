//! The spooler: drains the recording ring into memory on its own thread (`waves-spooler`),
//! and hands a copy to the journal thread when the take has a crash journal; it never
//! touches the disk, so the disk's speed cannot cost the take a frame.
//!
//! [`Spooler::spawn`] starts a thread named `waves-spooler` that moves everything the
//! [`Tap`](super::tap::Tap) pushed into one growing `Vec<f32>`, then sleeps ~5 ms when the
//! ring is empty. [`SpoolHandle::stop`] signals it, joins it, drains what is left and
//! returns the [`Take`]; writing it to disk is [`save`](super::save)'s job.
//!
//! Stop the audio stream (or drop the `Tap`) before calling `stop`: frames pushed after the
//! final drain are not in the take.
//!
//! With a journal attached ([`Spooler::with_journal`]), every drain is also queued for the
//! journal thread, which writes it at the disk's pace (see `journal::write`).
//!
//! Memory: 4 bytes per sample, i.e. 8 bytes per stereo frame (23 MB per minute at 48 kHz
//! stereo), plus at most one unused growth chunk ([`SPOOL_CHUNK_FRAMES`] frames, 23 MB in
//! stereo) plus the ring. The `Vec` grows by whole chunks with `reserve_exact`, so its
//! overhead stays under one chunk; on Linux, glibc grows such large blocks with `mremap`
//! (no copy), elsewhere a grow may copy the take once per chunk, on this thread, which the
//! ring absorbs (size it for a couple of seconds).

use super::RecStats;
pub use super::Take;
use super::journal::write::JournalFeed;
use ringbuf::HeapCons;
use ringbuf::traits::Consumer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Frames the in-memory take grows by at a time: one minute at 48 kHz.
pub const SPOOL_CHUNK_FRAMES: usize = 48_000 * 60;

/// How long the spooler sleeps when the ring is empty.
const POLL: Duration = Duration::from_millis(5);

/// The draining end of the recording ring, not yet running; see [`Spooler::spawn`].
pub struct Spooler {
    cons: HeapCons<f32>,
    channels: usize,
    stats: Arc<RecStats>,
    samples: Vec<f32>,
    journal: Option<JournalFeed>,
}

/// A running spooler thread.
pub struct SpoolHandle {
    stats: Arc<RecStats>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The spooler state; the thread holds it while running and puts it back when done,
    /// so the take survives even if the thread could not be started.
    slot: Arc<Mutex<Option<Spooler>>>,
}

impl Spooler {
    pub(super) fn new(cons: HeapCons<f32>, channels: usize, stats: Arc<RecStats>) -> Spooler {
        Spooler {
            cons,
            channels,
            stats,
            samples: Vec::new(),
            journal: None,
        }
    }

    /// Samples per frame.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Also queues everything drained for the journal thread (before [`spawn`](Self::spawn)).
    pub fn with_journal(mut self, journal: JournalFeed) -> Spooler {
        self.journal = Some(journal);
        self
    }

    /// The counters shared with the tap.
    pub fn stats(&self) -> Arc<RecStats> {
        self.stats.clone()
    }

    /// Starts draining on a new thread (control thread).
    ///
    /// If the OS refuses a thread, nothing is lost up front: `stop` still drains what the
    /// ring holds, and the tap counts whatever did not fit as dropped.
    pub fn spawn(self) -> SpoolHandle {
        let stats = self.stats.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let slot = Arc::new(Mutex::new(Some(self)));
        let thread = {
            let stop = stop.clone();
            let slot = slot.clone();
            std::thread::Builder::new()
                .name("waves-spooler".into())
                .spawn(move || {
                    let taken = lock(&slot).take();
                    if let Some(mut spooler) = taken {
                        spooler.run(&stop);
                        *lock(&slot) = Some(spooler);
                    }
                })
                .ok()
        };
        SpoolHandle {
            stats,
            stop,
            thread,
            slot,
        }
    }

    fn run(&mut self, stop: &AtomicBool) {
        loop {
            // Read the flag before draining: everything pushed before `stop` was set is
            // then visible to this drain.
            let stopping = stop.load(Ordering::Acquire);
            let n = self.drain();
            if stopping {
                while self.drain() > 0 {}
                return;
            }
            if n == 0 {
                std::thread::park_timeout(POLL);
            }
        }
    }

    /// Moves everything in the ring into `samples`; returns the number of samples moved.
    fn drain(&mut self) -> usize {
        let (a, b) = self.cons.as_slices();
        let n = a.len() + b.len();
        if n == 0 {
            return 0;
        }
        // The journal gets every frame, even one the take below has no memory for.
        if let Some(j) = self.journal.as_mut() {
            j.feed(a, b);
        }
        if self.samples.capacity() - self.samples.len() < n {
            let chunk = SPOOL_CHUNK_FRAMES * self.channels;
            if self.samples.try_reserve_exact(chunk.max(n)).is_err()
                && self.samples.try_reserve_exact(n).is_err()
            {
                // Out of memory: keep the take so far, count these frames as lost.
                let frames = (n / self.channels) as u64;
                self.stats
                    .frames_written
                    .fetch_sub(frames, Ordering::Relaxed);
                self.stats.dropped.fetch_add(frames, Ordering::Relaxed);
                self.cons.skip(n);
                return n;
            }
        }
        self.samples.extend_from_slice(a);
        self.samples.extend_from_slice(b);
        self.cons.skip(n);
        n
    }
}

impl SpoolHandle {
    /// The counters shared with the tap (for a status line: `stats.seconds(rate)`).
    pub fn stats(&self) -> Arc<RecStats> {
        self.stats.clone()
    }

    /// Signals the thread, joins it, drains the rest and returns the take (control thread).
    /// Stop the audio stream first.
    pub fn stop(mut self) -> Take {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
        let taken = lock(&self.slot).take();
        let Some(mut spooler) = taken else {
            // The thread panicked holding the take (not expected: it only copies floats).
            return Take {
                samples: Vec::new(),
                channels: 0,
                dropped: self.stats.frames_written.load(Ordering::Relaxed)
                    + self.stats.dropped.load(Ordering::Relaxed),
            };
        };
        while spooler.drain() > 0 {}
        // Dropping the feed tells the journal thread that nothing more comes.
        spooler.journal = None;
        Take {
            samples: std::mem::take(&mut spooler.samples),
            channels: spooler.channels,
            dropped: self.stats.dropped.load(Ordering::Relaxed),
        }
    }
}

impl Drop for SpoolHandle {
    /// Dropped without `stop`: end the thread instead of leaking it.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::super::tap::recorder;
    use super::*;

    #[test]
    fn stop_drains_the_rest() {
        // Pushed before the thread starts: only the final drain can collect these.
        let (mut tap, spooler) = recorder(10_000, 2);
        let a: Vec<f32> = (0..2 * 3001).map(|v| v as f32).collect();
        tap.push(&a);
        let handle = spooler.spawn();
        // Pushed while it runs, then stopped at once without waiting.
        let b: Vec<f32> = (2 * 3001..2 * 5002).map(|v| v as f32).collect();
        tap.push(&b);
        let take = handle.stop();
        assert_eq!(take.dropped, 0);
        assert_eq!(take.channels, 2);
        assert_eq!(take.frames(), 5002);
        let want: Vec<f32> = (0..2 * 5002).map(|v| v as f32).collect();
        assert_eq!(take.samples, want);
    }

    #[test]
    fn stop_returns_promptly_and_take_seconds() {
        let (mut tap, spooler) = recorder(48_000, 2);
        let handle = spooler.spawn();
        tap.push(&vec![0.25; 2 * 24_000]);
        std::thread::sleep(Duration::from_millis(20));
        let stats = handle.stats();
        assert_eq!(stats.seconds(48_000), 0.5);
        let t0 = std::time::Instant::now();
        let take = handle.stop();
        assert!(t0.elapsed() < Duration::from_secs(1));
        assert_eq!(take.seconds(48_000), 0.5);
        assert_eq!(take.seconds(24_000), 1.0);
        assert!(take.samples.iter().all(|&s| s == 0.25));
    }

    #[test]
    fn take_grows_in_whole_chunks() {
        let (mut tap, spooler) = recorder(1024, 1);
        tap.push(&[1.0; 1000]);
        let take = spooler.spawn().stop();
        assert_eq!(take.samples.len(), 1000);
        assert_eq!(take.samples.capacity(), SPOOL_CHUNK_FRAMES);
    }

    #[test]
    fn dropping_the_handle_ends_the_thread() {
        let (_tap, spooler) = recorder(64, 2);
        let handle = spooler.spawn();
        let t0 = std::time::Instant::now();
        drop(handle);
        assert!(t0.elapsed() < Duration::from_secs(1));
    }
}
