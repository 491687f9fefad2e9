//! Monitors (`.monitor("name")`): the audio thread measures each monitored signal once per
//! block and publishes the figures through atomics; the control thread reads and resets
//! them. Nothing here allocates, locks or blocks on the audio side.
//!
//! A graph owns one `MonitorTable` (behind an `Arc`, so the control thread can keep reading
//! the table of the graph it last sent while the audio thread plays it). A table holds one
//! slot per monitor, in script order, and its names.

use super::{BLOCK, In};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

/// What a monitor line shows besides its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shows {
    /// A signal's level or value.
    Signal,
    /// A pattern's step (`pattern(..).monitor(..)`): the signal read is its gate.
    Pattern,
    /// Both: an instrument's output (`pattern(..).play(..).monitor(..)`).
    PatternAndSignal,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MonitorInfo {
    pub name: String,
    pub shows: Shows,
}

/// One monitor's figures since the control thread last read them.
#[derive(Debug, Default)]
struct Slot {
    /// Highest |x| (f32 bits; non-negative floats order like their bits).
    peak: AtomicU32,
    /// Lowest and highest x, as `order_key`s.
    lo: AtomicU32,
    hi: AtomicU32,
    /// The most recent value (f32 bits).
    last: AtomicU32,
    /// Sign changes of the first channel and lane: how fast the signal swings.
    crossings: AtomicU32,
    /// Frames measured.
    frames: AtomicU32,
    /// Current step of the pattern (0-based) and steps per cycle (0 = not a pattern).
    step: AtomicU32,
    steps: AtomicU32,
}

/// What the control thread reads from one slot.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Reading {
    /// Highest |x| since the last read (0 when nothing was measured).
    pub peak: f32,
    /// Lowest and highest value since the last read (`None` when nothing was measured).
    pub range: Option<(f32, f32)>,
    pub last: f32,
    pub crossings: u32,
    pub frames: u32,
    /// (step, steps per cycle) of a pattern.
    pub step: Option<(u32, u32)>,
}

/// The monitors of one compiled graph.
#[derive(Debug, Default)]
pub struct MonitorTable {
    pub info: Vec<MonitorInfo>,
    slots: Box<[Slot]>,
    /// Set by the first block the graph renders: the control thread shows the newest table
    /// that is live, so the monitor lines change when the swap is heard, not when sent.
    live: AtomicBool,
}

/// Maps f32 to u32 so that the integers order like the floats (negative ones included).
fn order_key(v: f32) -> u32 {
    let b = v.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

fn from_order_key(k: u32) -> f32 {
    if k & 0x8000_0000 != 0 {
        f32::from_bits(k & 0x7fff_ffff)
    } else {
        f32::from_bits(!k)
    }
}

impl MonitorTable {
    pub fn new(info: Vec<MonitorInfo>) -> Self {
        let slots: Box<[Slot]> = info.iter().map(|_| Slot::default()).collect();
        for s in slots.iter() {
            s.lo.store(u32::MAX, Relaxed);
        }
        MonitorTable {
            info,
            slots,
            live: AtomicBool::new(false),
        }
    }

    pub fn len(&self) -> usize {
        self.info.len()
    }

    pub fn is_empty(&self) -> bool {
        self.info.is_empty()
    }

    /// Audio thread, once per block.
    #[inline]
    pub fn mark_live(&self) {
        if !self.live.load(Relaxed) {
            self.live.store(true, Relaxed);
        }
    }

    pub fn is_live(&self) -> bool {
        self.live.load(Relaxed)
    }

    /// Audio thread: measures one block of the monitored channels (one input, or two for a
    /// stereo signal). `prev` carries the last value from block to block.
    pub fn measure(&self, i: usize, chans: &[In], prev: &mut f32) {
        let Some(slot) = self.slots.get(i) else {
            return;
        };
        let (mut peak, mut lo, mut hi) = (0.0f32, f32::INFINITY, f32::NEG_INFINITY);
        let mut crossings = 0u32;
        let mut last = *prev;
        for (c, inp) in chans.iter().enumerate() {
            let n = BLOCK * inp.lanes;
            for (k, &v) in inp.data[..n.min(inp.data.len())].iter().enumerate() {
                if v.is_finite() {
                    peak = peak.max(v.abs());
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
                // The swing and the value are read from the first channel's first lane.
                if c == 0 && k % inp.lanes == 0 {
                    if (v < 0.0) != (last < 0.0) {
                        crossings += 1;
                    }
                    last = v;
                }
            }
        }
        *prev = last;
        slot.peak.fetch_max(peak.to_bits(), Relaxed);
        if lo <= hi {
            slot.lo.fetch_min(order_key(lo), Relaxed);
            slot.hi.fetch_max(order_key(hi), Relaxed);
        }
        slot.last.store(last.to_bits(), Relaxed);
        if crossings > 0 {
            slot.crossings.fetch_add(crossings, Relaxed);
        }
        slot.frames.fetch_add(BLOCK as u32, Relaxed);
    }

    /// Audio thread: a sequencer reports where its pattern is.
    #[inline]
    pub fn set_step(&self, i: usize, step: u32, steps: u32) {
        if let Some(slot) = self.slots.get(i) {
            slot.step.store(step, Relaxed);
            slot.steps.store(steps, Relaxed);
        }
    }

    /// Control thread: the figures of monitor `i` since the last call, which resets them.
    pub fn take(&self, i: usize) -> Reading {
        let Some(slot) = self.slots.get(i) else {
            return Reading::default();
        };
        let lo = slot.lo.swap(u32::MAX, Relaxed);
        let hi = slot.hi.swap(0, Relaxed);
        let steps = slot.steps.load(Relaxed);
        Reading {
            peak: f32::from_bits(slot.peak.swap(0, Relaxed)),
            range: (lo != u32::MAX && hi != 0).then(|| (from_order_key(lo), from_order_key(hi))),
            last: f32::from_bits(slot.last.load(Relaxed)),
            crossings: slot.crossings.swap(0, Relaxed),
            frames: slot.frames.swap(0, Relaxed),
            step: (steps > 0).then(|| (slot.step.load(Relaxed), steps)),
        }
    }
}

/// `.monitor(..)` as a graph node: its table, its slot there, and the last value it read.
/// It reads one input, or two for a stereo signal.
pub struct MonitorNode {
    pub table: std::sync::Arc<MonitorTable>,
    pub slot: u32,
    pub last: f32,
}

impl super::Node for MonitorNode {
    type Inputs<'a> = super::Ins<'a>;
    fn process(&mut self, _ctx: &super::Ctx, ins: super::Ins, _out: &mut [f32], _lanes: usize) {
        let chans = [ins.get(0), ins.get(1)];
        self.table.measure(
            self.slot as usize,
            &chans[..ins.len().min(2)],
            &mut self.last,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> MonitorTable {
        MonitorTable::new(vec![MonitorInfo {
            name: "x".into(),
            shows: Shows::Signal,
        }])
    }

    #[test]
    fn order_keys_order_like_floats() {
        let vals = [-1e9f32, -2.5, -1.0, -0.0, 0.0, 1e-9, 0.5, 3.0, 1e9];
        for w in vals.windows(2) {
            assert!(order_key(w[0]) <= order_key(w[1]), "{w:?}");
        }
        for v in vals {
            assert_eq!(from_order_key(order_key(v)), v);
        }
    }

    #[test]
    fn measures_peak_range_swing_and_last_value() {
        let t = table();
        let data: Vec<f32> = (0..BLOCK)
            .map(|i| if i % 8 < 4 { 0.5 } else { -0.25 })
            .collect();
        let mut prev = 0.0;
        t.measure(0, &[In::signal(&data, 1)], &mut prev);
        t.measure(0, &[In::signal(&data, 1)], &mut prev);
        let r = t.take(0);
        assert_eq!(r.peak, 0.5);
        assert_eq!(r.range, Some((-0.25, 0.5)));
        assert_eq!(r.last, -0.25);
        assert_eq!(r.frames, 2 * BLOCK as u32);
        // 8 swings down and 8 up per block; the second block starts with one more.
        assert_eq!(r.crossings, 31);
        assert_eq!(r.step, None);
        // Reading resets everything but the value.
        let r = t.take(0);
        assert_eq!((r.peak, r.range, r.frames, r.crossings), (0.0, None, 0, 0));
        assert_eq!(r.last, -0.25);
    }

    #[test]
    fn every_lane_and_channel_counts_for_the_level() {
        let t = table();
        // Two lanes: lane 1 is louder; the value follows lane 0.
        let data: Vec<f32> = (0..BLOCK * 2)
            .map(|k| if k % 2 == 0 { 0.1 } else { -0.9 })
            .collect();
        let right = vec![0.95f32; BLOCK];
        let mut prev = 0.0;
        t.measure(0, &[In::signal(&data, 2), In::signal(&right, 1)], &mut prev);
        let r = t.take(0);
        assert_eq!(r.peak, 0.95);
        assert_eq!(r.range, Some((-0.9, 0.95)));
        assert_eq!(r.last, 0.1);
        assert_eq!(r.crossings, 0);
    }

    #[test]
    fn steps_and_liveness() {
        let t = table();
        assert!(!t.is_live());
        t.mark_live();
        assert!(t.is_live());
        t.set_step(0, 2, 4);
        assert_eq!(t.take(0).step, Some((2, 4)));
        // Out of range slots are ignored.
        t.set_step(5, 1, 1);
        assert_eq!(t.take(5), Reading::default());
    }
}
