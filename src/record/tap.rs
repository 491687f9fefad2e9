//! The recorder tap: the audio thread's side of the recording ring; lock-free, allocation-free.
//!
//! [`recorder`] (control thread) allocates a single-producer/single-consumer ring of
//! interleaved `f32` samples and splits it into a [`Tap`], which moves into the audio
//! callback, and a [`Spooler`], which drains the ring on its own thread.
//!
//! The tap only ever moves whole frames. When the ring lacks room for a whole chunk, the
//! tap pushes the leading whole frames that fit and drops the rest of that chunk; the
//! dropped frames are counted in [`RecStats::dropped`]. A push never blocks, locks,
//! allocates or prints.
//!
//! Sizing: the ring holds `capacity_frames * channels` samples of 4 bytes. It must cover
//! the longest stall of the spooler thread (scheduling, a large `Vec` reallocation); two
//! seconds is generous: `recorder(2 * 48_000, 2)` = 96 000 frames = 768 KB at 48 kHz stereo.

pub use super::RecStats;
use super::spool::Spooler;
use ringbuf::HeapRb;
use ringbuf::traits::{Observer, Producer, Split};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The audio thread's end of the recording ring.
pub struct Tap {
    prod: ringbuf::HeapProd<f32>,
    channels: usize,
    stats: Arc<RecStats>,
}

/// Creates the recording ring (allocates; call on the control thread) and returns its two
/// ends: the [`Tap`] for the audio callback and the [`Spooler`] to [`Spooler::spawn`].
///
/// `capacity_frames` is clamped to at least 1. Panics if `channels` is 0 (a caller bug:
/// a device never has zero channels).
pub fn recorder(capacity_frames: usize, channels: usize) -> (Tap, Spooler) {
    assert!(channels > 0, "recorder: channels must be at least 1");
    let samples = capacity_frames
        .max(1)
        .checked_mul(channels)
        .expect("recorder: ring size overflows usize");
    let (prod, cons) = HeapRb::<f32>::new(samples).split();
    let stats = Arc::new(RecStats::default());
    let tap = Tap {
        prod,
        channels,
        stats: stats.clone(),
    };
    (tap, Spooler::new(cons, channels, stats))
}

impl Tap {
    /// Audio thread: records `interleaved` (whole frames of `channels()` samples).
    ///
    /// Pushes as many leading whole frames as the ring has room for and counts the rest of
    /// the chunk as dropped. Samples after the last whole frame (a caller bug) are never
    /// pushed, so the ring stays frame-aligned; they count as one dropped frame.
    /// Never blocks, locks, allocates or prints.
    pub fn push(&mut self, interleaved: &[f32]) {
        let ch = self.channels;
        let frames = interleaved.len() / ch;
        let partial = u64::from(!interleaved.len().is_multiple_of(ch));
        let fit = frames.min(self.prod.vacant_len() / ch);
        if fit > 0 {
            let pushed = self.prod.push_slice(&interleaved[..fit * ch]);
            // Only this thread adds to the ring, so the room seen above cannot shrink.
            debug_assert_eq!(pushed, fit * ch);
            self.stats
                .frames_written
                .fetch_add(fit as u64, Ordering::Relaxed);
        }
        let dropped = (frames - fit) as u64 + partial;
        if dropped > 0 {
            self.stats.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
    }

    /// Samples per frame.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Whole frames the ring can take right now (a lower bound: the spooler may free more).
    pub fn vacant_frames(&self) -> usize {
        self.prod.vacant_len() / self.channels
    }

    /// The shared counters (clone the `Arc` on the control thread, not in the callback).
    pub fn stats(&self) -> &Arc<RecStats> {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Interleaved frames whose samples count up from `start`: sample k = start + k.
    fn ramp(start: usize, frames: usize, ch: usize) -> Vec<f32> {
        (start..start + frames * ch).map(|v| v as f32).collect()
    }

    #[test]
    fn round_trip_in_order_with_concurrent_spooler() {
        let ch = 3;
        let (mut tap, spooler) = recorder(4096, ch);
        let handle = spooler.spawn();
        let mut next = 0usize;
        let mut sizes = 0usize;
        for i in 0..3000usize {
            // Odd sizes, 1..=699 frames, wrapping the ring many times.
            let frames = (1 + (i * 7919 + 13) % 699) | 1;
            let chunk = ramp(next, frames, ch);
            let t0 = Instant::now();
            while tap.vacant_frames() < frames {
                assert!(t0.elapsed() < Duration::from_secs(10), "spooler stalled");
                std::thread::sleep(Duration::from_micros(200));
            }
            tap.push(&chunk);
            next += chunk.len();
            sizes += frames;
        }
        let stats = handle.stats();
        let take = handle.stop();
        assert_eq!(take.dropped, 0);
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 0);
        assert_eq!(stats.frames_written.load(Ordering::Relaxed), sizes as u64);
        assert_eq!(take.channels, ch);
        assert_eq!(take.samples.len(), next);
        for (k, &s) in take.samples.iter().enumerate() {
            assert_eq!(s, k as f32, "sample {k} out of order");
        }
    }

    #[test]
    fn full_ring_counts_drops_and_returns_at_once() {
        let (mut tap, spooler) = recorder(64, 2);
        let input = ramp(0, 1000, 2);
        let t0 = Instant::now();
        // One big chunk, then odd-sized ones on the already full ring.
        tap.push(&input[..600 * 2]);
        let mut at = 600 * 2;
        for frames in [1usize, 3, 37, 99, 260] {
            tap.push(&input[at..at + frames * 2]);
            at += frames * 2;
        }
        assert_eq!(at, input.len());
        assert!(t0.elapsed() < Duration::from_millis(100), "push blocked");
        let stats = tap.stats().clone();
        assert_eq!(stats.frames_written.load(Ordering::Relaxed), 64);
        assert!(stats.dropped.load(Ordering::Relaxed) >= 936);
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 936);
        let take = spooler.spawn().stop();
        assert_eq!(take.dropped, 936);
        assert_eq!(take.samples, input[..64 * 2]);
    }

    #[test]
    fn partial_frame_is_not_pushed_and_counts_as_dropped() {
        let (mut tap, spooler) = recorder(16, 2);
        tap.push(&[1.0, 2.0, 3.0]);
        tap.push(&[4.0, 5.0]);
        let take = spooler.spawn().stop();
        assert_eq!(take.samples, vec![1.0, 2.0, 4.0, 5.0]);
        assert_eq!(take.dropped, 1);
        assert_eq!(tap.stats().frames_written.load(Ordering::Relaxed), 2);
    }
}
