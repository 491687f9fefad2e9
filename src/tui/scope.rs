//! The terminal oscilloscope: a lock-free ring of the most recent output, written by the
//! audio thread, and the pure drawing of a stretch of it as lines of braille text, done by
//! the control thread.
//!
//! The ring holds f32 bits in `AtomicU32`s and a count of frames written. The reader copies
//! the newest frames while the writer may be overwriting the oldest of them: a torn read
//! shows a few wrong samples for one frame of the display, never a lock on the audio thread.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Frames the ring holds (a power of two): 170 ms at 48 kHz.
pub const RING_FRAMES: usize = 8192;
/// Rows the scope takes on the terminal when there is room.
pub const ROWS: usize = 8;

/// The last `RING_FRAMES` frames of the output, mixed to mono. One writer (the audio
/// thread), any number of readers.
pub struct ScopeRing {
    buf: Box<[AtomicU32]>,
    /// Frames written since the start.
    written: AtomicUsize,
}

impl Default for ScopeRing {
    fn default() -> Self {
        Self::new()
    }
}

impl ScopeRing {
    pub fn new() -> Self {
        ScopeRing {
            buf: (0..RING_FRAMES).map(|_| AtomicU32::new(0)).collect(),
            written: AtomicUsize::new(0),
        }
    }

    /// Audio thread: appends interleaved stereo frames as their mono mix. No allocation,
    /// no lock: relaxed stores, then the count is published with `Release`.
    pub fn push(&self, stereo: &[f32]) {
        self.push_wide(stereo, 2);
    }

    /// Like `push`, for frames `width` channels wide whose first two are the mix (a
    /// recording with live stems renders such frames).
    pub fn push_wide(&self, frames: &[f32], width: usize) {
        let start = self.written.load(Ordering::Relaxed);
        let mut w = start;
        for lr in frames.chunks_exact(width.max(2)) {
            let v = (lr[0] + lr[1]) * 0.5;
            self.buf[w & (RING_FRAMES - 1)].store(v.to_bits(), Ordering::Relaxed);
            w = w.wrapping_add(1);
        }
        self.written.store(w, Ordering::Release);
    }

    /// Control thread: the newest `n` frames (at most the ring's length, fewer before that
    /// many were written), oldest first, into `out`.
    pub fn latest(&self, n: usize, out: &mut Vec<f32>) {
        out.clear();
        let w = self.written.load(Ordering::Acquire);
        let n = n.min(RING_FRAMES).min(w);
        let first = w.wrapping_sub(n);
        out.extend((0..n).map(|i| {
            let bits = self.buf[first.wrapping_add(i) & (RING_FRAMES - 1)].load(Ordering::Relaxed);
            f32::from_bits(bits)
        }));
    }
}

/// The stretch of `samples` to show: `window` samples starting at the latest rising zero
/// crossing that leaves room for them, so a steady tone stands still on the screen instead
/// of sliding; the newest `window` samples when there is no crossing (noise, silence).
pub fn triggered(samples: &[f32], window: usize) -> &[f32] {
    if samples.len() <= window {
        return samples;
    }
    let last_start = samples.len() - window;
    (1..=last_start)
        .rev()
        .find(|&i| samples[i - 1] < 0.0 && samples[i] >= 0.0)
        .map_or(&samples[last_start..], |i| &samples[i..i + window])
}

/// Bit of the braille dot at column `dx` (0..2) and row `dy` (0..4) of a cell.
fn dot(dx: usize, dy: usize) -> u32 {
    const LEFT: [u32; 4] = [0x01, 0x02, 0x04, 0x40];
    const RIGHT: [u32; 4] = [0x08, 0x10, 0x20, 0x80];
    if dx == 0 { LEFT[dy] } else { RIGHT[dy] }
}

/// Draws `samples` across `width` character cells and `rows` lines, ±1 spanning the height.
/// Each cell is a braille character of 2×4 dots, so the trace has `2 * width` columns and
/// `4 * rows` levels; a column covering several samples shows their span, joined to the
/// column before, so the trace has no gaps. A cell where the signal goes beyond +1 is a `!`
/// on the top line, beyond −1 a `!` on the bottom line. Every line is exactly `width`
/// characters (an empty cell is a space).
pub fn draw(samples: &[f32], width: usize, rows: usize) -> Vec<String> {
    if rows == 0 {
        return Vec::new();
    }
    let cols = width * 2;
    let levels = rows * 4;
    let mut cells = vec![0u32; width * rows];
    let mut over = vec![false; width];
    let mut under = vec![false; width];
    let level = |v: f32| {
        let y = (1.0 - v.clamp(-1.0, 1.0)) * 0.5 * (levels - 1) as f32;
        y.round() as usize
    };
    let mut prev: Option<f32> = None;
    if !samples.is_empty() {
        for x in 0..cols {
            let a = x * samples.len() / cols;
            let b = ((x + 1) * samples.len() / cols).max(a + 1);
            let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
            for &v in &samples[a..b.min(samples.len())] {
                if v.is_nan() {
                    continue;
                }
                lo = lo.min(v);
                hi = hi.max(v);
            }
            if lo > hi {
                prev = None;
                continue;
            }
            let last = samples[..b.min(samples.len())]
                .iter()
                .rev()
                .find(|v| !v.is_nan())
                .copied()
                .unwrap_or(hi);
            let (span_lo, span_hi) = match prev {
                Some(p) => (lo.min(p), hi.max(p)),
                None => (lo, hi),
            };
            prev = Some(last);
            if hi > 1.0 {
                over[x / 2] = true;
            }
            if lo < -1.0 {
                under[x / 2] = true;
            }
            for y in level(span_hi)..=level(span_lo) {
                cells[(y / 4) * width + x / 2] |= dot(x % 2, y % 4);
            }
        }
    }
    (0..rows)
        .map(|r| {
            (0..width)
                .map(|c| {
                    let bits = cells[r * width + c];
                    if (r == 0 && over[c]) || (r == rows - 1 && under[c]) {
                        '!'
                    } else if bits == 0 {
                        ' '
                    } else {
                        char::from_u32(0x2800 + bits).unwrap_or('?')
                    }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widths(lines: &[String]) -> Vec<usize> {
        lines.iter().map(|l| l.chars().count()).collect()
    }

    fn sine(n: usize, period: f32, amp: f32) -> Vec<f32> {
        (0..n)
            .map(|i| amp * (std::f32::consts::TAU * i as f32 / period).sin())
            .collect()
    }

    #[test]
    fn every_line_is_exactly_the_width() {
        let s = sine(1000, 100.0, 0.9);
        for (w, r) in [(80, 8), (60, 8), (1, 1), (7, 3), (200, 2), (0, 4)] {
            let lines = draw(&s, w, r);
            assert_eq!(lines.len(), r);
            assert!(widths(&lines).iter().all(|&n| n == w), "{w}x{r}");
        }
        // Fewer samples than dot columns, and none at all.
        assert!(widths(&draw(&s[..5], 60, 8)).iter().all(|&n| n == 60));
        let empty = draw(&[], 60, 8);
        assert!(empty.iter().all(|l| l == &" ".repeat(60)));
        assert!(draw(&s, 60, 0).is_empty());
    }

    #[test]
    fn a_resize_redraws_at_the_new_size() {
        let s = sine(2000, 400.0, 0.5);
        let wide = draw(&s, 100, 8);
        let narrow = draw(&s, 40, 4);
        assert_eq!(widths(&wide), vec![100; 8]);
        assert_eq!(widths(&narrow), vec![40; 4]);
        // The same five cycles fill either width.
        let marks = |lines: &[String]| {
            (0..lines[0].chars().count())
                .filter(|&c| lines.iter().any(|l| l.chars().nth(c) != Some(' ')))
                .count()
        };
        assert_eq!(marks(&wide), 100);
        assert_eq!(marks(&narrow), 40);
    }

    #[test]
    fn silence_is_a_line_across_the_middle() {
        let lines = draw(&vec![0.0; 500], 20, 4);
        // 16 levels: 0 lands on level 8 (rounded from 7.5), the top dot row of line 2.
        assert_eq!(lines[2], "⠉".repeat(20));
        for r in [0, 1, 3] {
            assert_eq!(lines[r], " ".repeat(20));
        }
    }

    #[test]
    fn full_scale_reaches_the_top_and_bottom_dots() {
        let lines = draw(&[1.0, 1.0, -1.0, -1.0], 2, 2);
        // Column 0 at +1: top dot of the left half of cell (0, 0); column 2 at -1: the
        // bottom dot of cell (1, 1); columns 1 and 3 join the levels in between.
        let top: Vec<char> = lines[0].chars().collect();
        let bottom: Vec<char> = lines[1].chars().collect();
        assert_eq!((top[0] as u32 - 0x2800) & 0x01, 0x01);
        assert_eq!((bottom[1] as u32 - 0x2800) & 0x40, 0x40);
        assert!(!lines.concat().contains('!'));
    }

    #[test]
    fn beyond_full_scale_is_marked_top_and_bottom() {
        // Cells 0 and 1 hold +1.5, cell 2 −2, cell 3 is within range.
        let mut s = vec![1.5; 4];
        s.extend([-2.0, -2.0, 0.2, 0.2]);
        let lines = draw(&s, 4, 3);
        let top: Vec<char> = lines[0].chars().collect();
        let bottom: Vec<char> = lines[2].chars().collect();
        assert_eq!((top[0], top[1]), ('!', '!'));
        assert!(top[2] != '!' && top[3] != '!');
        assert_eq!(bottom[2], '!');
        assert_ne!(bottom[0], '!');
        assert_ne!(bottom[3], '!');
        assert!(!lines[1].contains('!'));
        // The widths hold with the markers.
        assert_eq!(widths(&lines), vec![4; 3]);
        // NaN draws nothing; infinity is beyond full scale.
        let lines = draw(&[f32::NAN, f32::INFINITY], 1, 2);
        assert_eq!(lines, vec!["!".to_string(), " ".to_string()]);
    }

    #[test]
    fn the_trigger_steadies_a_tone() {
        // A tone with a period of 100 samples: whatever the newest sample, the window
        // starts at a rising zero crossing.
        for offset in [0usize, 13, 50, 77] {
            let s: Vec<f32> = sine(3000 + offset, 100.0, 0.5);
            let w = triggered(&s, 1000);
            assert_eq!(w.len(), 1000);
            assert!(w[0] >= 0.0 && w[0] < 0.05, "{}", w[0]);
            assert!(w[1] > w[0]);
        }
        // Noise-free DC has no crossing: the newest samples.
        let dc = vec![0.3; 3000];
        assert_eq!(triggered(&dc, 1000).len(), 1000);
        assert_eq!(triggered(&dc[..10], 1000).len(), 10);
    }

    #[test]
    fn the_ring_keeps_the_newest_frames_in_order() {
        let ring = ScopeRing::new();
        let mut out = Vec::new();
        ring.latest(100, &mut out);
        assert!(out.is_empty());
        let frames: Vec<f32> = (0..RING_FRAMES + 500)
            .flat_map(|i| [i as f32, i as f32 + 1.0])
            .collect();
        for chunk in frames.chunks(2 * 333) {
            ring.push(chunk);
        }
        ring.latest(4, &mut out);
        let last = (RING_FRAMES + 499) as f32;
        assert_eq!(out, vec![last - 2.5, last - 1.5, last - 0.5, last + 0.5]);
        ring.latest(usize::MAX, &mut out);
        assert_eq!(out.len(), RING_FRAMES);
        assert_eq!(out[0], 500.5);
    }
}
