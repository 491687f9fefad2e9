//! DSP node families: pure per-block processing code run by the audio thread (no I/O, no allocation).
//!
//! Every node processes one block of `BLOCK` frames for `lanes` side-by-side copies of itself
//! (the voices of a `poly` instrument). Buffers are laid out sample-major: the value of lane
//! `l` at frame `s` sits at `s * lanes + l`, so a loop over lanes at one frame touches
//! contiguous memory and vectorises, which is what makes 32 filters cost little more than 4.

pub mod chorus;
pub mod delay;
pub mod dynamics;
pub mod env;
pub mod filter;
pub mod math;
pub mod midi;
pub mod monitor;
pub mod noise;
pub mod osc;
pub mod reverb;
pub mod sampler;
pub mod seq;
pub mod sinc;
pub mod voices;

use crate::midi::Msg;

/// Frames in one internal block. Commands and swaps land on block boundaries.
pub const BLOCK: usize = 64;

/// MIDI messages one block can carry; more wait for the next block.
pub const MIDI_PER_BLOCK: usize = 128;
/// Controller values: 16 channels and one row for "any channel" (the last value received on
/// any), 128 controllers each.
pub const CC_ROWS: usize = 17;
pub const CC_SLOTS: usize = CC_ROWS * 128;

/// The slot of controller `num` on channel `ch` (0..16), or on any channel (`None`).
pub fn cc_slot(ch: Option<u8>, num: u8) -> usize {
    ch.map_or(16, |c| (c & 0x0F) as usize) * 128 + (num & 0x7F) as usize
}

/// The MIDI messages of the current block, each with its frame offset, in order.
#[derive(Clone, Copy, Debug)]
pub struct MidiBlock {
    pub events: [(u16, Msg); MIDI_PER_BLOCK],
    pub len: usize,
}

impl MidiBlock {
    pub fn iter(&self) -> impl Iterator<Item = &(u16, Msg)> {
        self.events[..self.len.min(MIDI_PER_BLOCK)].iter()
    }
}

impl Default for MidiBlock {
    fn default() -> Self {
        MidiBlock {
            events: [(0, Msg::Clock); MIDI_PER_BLOCK],
            len: 0,
        }
    }
}

/// Per-block context shared by every node.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub sample_rate: f32,
    /// Transport position of the first frame of this block (frames since the piece began).
    pub frame: u64,
    /// Frames per beat at the current tempo.
    pub frames_per_beat: f64,
    /// The musical position: beat `origin_beat` fell on frame `origin_frame`, and beats move
    /// on at `frames_per_beat` while `running`. A fixed tempo has origin (0, 0), so a beat
    /// is exactly `frame / frames_per_beat`; a tempo change or an external clock moves the
    /// origin, so patterns stay where they were instead of jumping.
    pub origin_frame: u64,
    pub origin_beat: f64,
    pub running: bool,
    /// Counts moves of the transport to a new place (a MIDI Start), after which a pattern
    /// forgets what it played.
    pub jumps: u32,
    pub midi: MidiBlock,
    /// Controller values 0..1 (see `cc_slot`); NaN where none has arrived.
    pub cc: [f32; CC_SLOTS],
}

impl Ctx {
    pub fn new(sample_rate: f32, bpm: f64) -> Self {
        Ctx {
            sample_rate,
            frame: 0,
            frames_per_beat: sample_rate as f64 * 60.0 / bpm,
            origin_frame: 0,
            origin_beat: 0.0,
            running: true,
            jumps: 0,
            midi: MidiBlock::default(),
            cc: [f32::NAN; CC_SLOTS],
        }
    }

    /// Frame minus this; a position in "frames of beats" (beat × frames per beat) that
    /// patterns and metronomes count cycles in. Exactly 0.0 at a fixed tempo.
    pub fn shift(&self) -> f64 {
        self.origin_frame as f64 - self.origin_beat * self.frames_per_beat
    }

    /// The beat at `frame` (held while stopped).
    pub fn beat_at(&self, frame: u64) -> f64 {
        if self.running {
            self.origin_beat + (frame as f64 - self.origin_frame as f64) / self.frames_per_beat
        } else {
            self.origin_beat
        }
    }

    /// Moves the origin to `frame`, keeping the beat there, then sets the tempo: how a tempo
    /// change keeps every pattern in place.
    pub fn retempo(&mut self, frame: u64, frames_per_beat: f64) {
        self.origin_beat = self.beat_at(frame);
        self.origin_frame = frame;
        self.frames_per_beat = frames_per_beat;
    }
}

static ZEROS: [f32; BLOCK] = [0.0; BLOCK];

/// One input of a node for one block.
///
/// `lanes` is 1 when the input is shared by all lanes of the node (a constant, or a signal
/// built outside a `poly` instrument), else the node's own lane count.
#[derive(Clone, Copy, Debug)]
pub struct In<'a> {
    pub data: &'a [f32],
    pub lanes: usize,
    /// Set when the input is a constant for this block (lets nodes hoist coefficient math).
    pub konst: Option<f32>,
    /// Every frame holds the same per-lane values (a constant, or a voice's fixed pitch):
    /// nodes may read frame 0 and treat the input as a per-lane constant.
    pub steady: bool,
}

impl<'a> In<'a> {
    pub const ZERO: In<'static> = In {
        data: &ZEROS,
        lanes: 1,
        konst: Some(0.0),
        steady: true,
    };

    /// A constant input backed by a caller-provided buffer of `BLOCK` copies of `value`.
    pub fn constant(buf: &'a [f32], value: f32) -> Self {
        In {
            data: buf,
            lanes: 1,
            konst: Some(value),
            steady: true,
        }
    }

    /// A signal input; `data.len()` must be `BLOCK * lanes`.
    pub fn signal(data: &'a [f32], lanes: usize) -> Self {
        In {
            data,
            lanes,
            konst: None,
            steady: false,
        }
    }

    /// This input, marked `steady` when this block's frames all repeat the first: a
    /// sequencer's pitch holds for most blocks of a note, and a node that knows it may take
    /// its fixed-pitch path. Costs one comparison per sample.
    pub fn held(self) -> Self {
        if self.steady {
            return self;
        }
        let lanes = self.lanes.max(1);
        let Some((first, rest)) = self.data.split_at_checked(lanes) else {
            return self;
        };
        let steady = rest.chunks_exact(lanes).all(|row| row == first);
        In { steady, ..self }
    }

    /// Value at frame `s` for lane `l`.
    #[inline(always)]
    pub fn at(&self, s: usize, l: usize) -> f32 {
        if self.lanes == 1 {
            self.data[s]
        } else {
            self.data[s * self.lanes + l]
        }
    }
}

/// Where a node finds one input: a region of one of the graph's buffers, and what is
/// known about it when the graph was compiled.
#[derive(Clone, Copy, Debug)]
pub struct InRef {
    pub buf: u32,
    pub offset: u32,
    pub lanes: u32,
    pub konst: Option<f32>,
    pub steady: bool,
}

impl InRef {
    /// This input for the current block.
    #[inline(always)]
    pub fn read<'a>(&self, bufs: &'a [Vec<f32>]) -> In<'a> {
        let start = self.offset as usize;
        In {
            data: &bufs[self.buf as usize][start..start + BLOCK * self.lanes as usize],
            lanes: self.lanes as usize,
            konst: self.konst,
            steady: self.steady,
        }
    }
}

/// Every input of one node for the current block, in the order the node declares them.
/// An input the graph does not connect reads as a constant 0.
#[derive(Clone, Copy)]
pub struct Ins<'a> {
    bufs: &'a [Vec<f32>],
    refs: &'a [InRef],
}

impl<'a> Ins<'a> {
    pub fn new(bufs: &'a [Vec<f32>], refs: &'a [InRef]) -> Self {
        Ins { bufs, refs }
    }

    /// Inputs the graph connects.
    pub fn len(&self) -> usize {
        self.refs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    #[inline(always)]
    pub fn get(&self, k: usize) -> In<'a> {
        match self.refs.get(k) {
            Some(r) => r.read(self.bufs),
            None => In::ZERO,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = In<'a>> + '_ {
        self.refs.iter().map(|r| r.read(self.bufs))
    }
}

/// A node's inputs as the DSP names them, built from the graph's inputs in declared order.
pub trait FromIns<'a>: Sized {
    /// The inputs' names, in order: what scripts' defaults and error messages refer to.
    const NAMES: &'static [&'static str];
    fn from_ins(ins: &Ins<'a>) -> Self;
}

/// A variable number of inputs (a mix), or inputs whose count matters to the node.
impl<'a> FromIns<'a> for Ins<'a> {
    const NAMES: &'static [&'static str] = &[];
    #[inline(always)]
    fn from_ins(ins: &Ins<'a>) -> Self {
        *ins
    }
}

/// The inputs of a node that reads none (a source).
#[derive(Clone, Copy, Debug)]
pub struct NoInputs<'a>(std::marker::PhantomData<&'a ()>);

impl<'a> FromIns<'a> for NoInputs<'a> {
    const NAMES: &'static [&'static str] = &[];
    fn from_ins(_: &Ins<'a>) -> Self {
        NoInputs(std::marker::PhantomData)
    }
}

/// Declares a node's named inputs: a struct of `In` fields, filled in declared order.
#[macro_export]
macro_rules! node_inputs {
    ($(#[$m:meta])* $vis:vis struct $name:ident { $($field:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug)]
        $vis struct $name<'a> {
            $(pub $field: $crate::dsp::In<'a>,)*
        }

        impl<'a> $crate::dsp::FromIns<'a> for $name<'a> {
            const NAMES: &'static [&'static str] = &[$(stringify!($field)),*];
            // Inlined into the dispatch so the field-by-field lookups fold to fixed offsets.
            #[inline(always)]
            #[allow(unused_variables, unused_mut)]
            fn from_ins(ins: &$crate::dsp::Ins<'a>) -> Self {
                let mut k = 0usize..;
                $name {
                    $($field: ins.get(k.next().unwrap_or(0)),)*
                }
            }
        }
    };
}

/// One node kind's DSP as the graph runs it: one block of its named inputs in, one block
/// of every output out (outputs one after another, each `BLOCK * lanes` long).
pub trait Node {
    type Inputs<'a>: FromIns<'a>;
    fn process(&mut self, ctx: &Ctx, ins: Self::Inputs<'_>, out: &mut [f32], lanes: usize);
}

/// Large states are boxed to keep the graph's node enum small.
impl<T: Node> Node for Box<T> {
    type Inputs<'a> = T::Inputs<'a>;
    #[inline]
    fn process(&mut self, ctx: &Ctx, ins: Self::Inputs<'_>, out: &mut [f32], lanes: usize) {
        (**self).process(ctx, ins, out, lanes)
    }
}

impl<T: Carry> Carry for Box<T> {
    fn carry_from(&mut self, old: &Self) -> bool {
        (**self).carry_from(old)
    }

    fn carry_lanes(&mut self, old: &Self, to: usize, from: usize, n: usize) -> bool {
        (**self).carry_lanes(old, to, from, n)
    }
}

/// Hot reload: a node of a new graph takes over the running state of the old node it was
/// matched with (oscillators keep their phase, filters their memory, delays their lines,
/// envelopes their stage). Runs on the audio thread at the swap, so it only copies into
/// buffers that already exist. Per-lane state carries the lanes both have (a `.voices(n)`
/// edit); it returns false, copying nothing, when the shapes cannot line up (another delay
/// length).
pub trait Carry {
    fn carry_from(&mut self, old: &Self) -> bool;

    /// Takes over `n` lanes of `old`'s state, lanes `from..` of `old` into lanes `to..`:
    /// how copies the compiler merged into lanes (or split apart again) keep the state each
    /// copy had. False, copying nothing, for a node without per-lane state to move.
    fn carry_lanes(&mut self, _old: &Self, _to: usize, _from: usize, _n: usize) -> bool {
        false
    }
}

/// Copies `n` lanes of `src` from lane `from` into `dst` from lane `to`, as far as both
/// reach.
pub fn copy_range<T: Copy>(dst: &mut [T], src: &[T], to: usize, from: usize, n: usize) -> bool {
    if to >= dst.len() || from >= src.len() {
        return false;
    }
    let n = n.min(dst.len() - to).min(src.len() - from);
    dst[to..to + n].copy_from_slice(&src[from..from + n]);
    true
}

/// Copies `src` into `dst` when their lengths match.
pub fn copy_same<T: Copy>(dst: &mut [T], src: &[T]) -> bool {
    if dst.len() != src.len() {
        return false;
    }
    dst.copy_from_slice(src);
    true
}

/// Copies the lanes `dst` and `src` both have; the rest of `dst` keeps its fresh state.
pub fn copy_lanes<T: Copy>(dst: &mut [T], src: &[T]) -> bool {
    let n = dst.len().min(src.len());
    dst[..n].copy_from_slice(&src[..n]);
    true
}

/// Clamp written as two compare-selects so that NaN lands on `lo` (a plain `f32::clamp` would
/// pass NaN through) and so that lane loops compile to min/max vector instructions.
#[inline(always)]
pub(crate) fn clamp_nan_lo(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x > lo { x } else { lo };
    if x < hi { x } else { hi }
}

#[inline(always)]
pub(crate) fn finite_or_zero(x: f32) -> f32 {
    if x.is_finite() { x } else { 0.0 }
}

/// Lane 0 of an input for the whole block (for nodes that run with one lane), as a plain
/// array so that loops over it vectorise; a constant wins over its backing buffer.
pub(crate) fn lane0(inp: &In) -> [f32; BLOCK] {
    let mut v = [0.0f32; BLOCK];
    match inp.konst {
        Some(k) => v = [k; BLOCK],
        None if inp.lanes == 1 => v.copy_from_slice(&inp.data[..BLOCK]),
        None => {
            for (f, o) in v.iter_mut().enumerate() {
                *o = inp.at(f, 0);
            }
        }
    }
    v
}

/// Rates outside this range are not audio; delay lengths are computed for the clamped rate.
pub(crate) fn sane_rate(sr: f32) -> f32 {
    if sr.is_finite() {
        sr.clamp(1000.0, 768_000.0)
    } else {
        48_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::{BLOCK, In};

    #[test]
    fn held_marks_only_blocks_whose_frames_repeat() {
        let lanes = 3;
        let mut data: Vec<f32> = (0..BLOCK * lanes).map(|i| (i % lanes) as f32).collect();
        assert!(In::signal(&data, lanes).held().steady);
        data[BLOCK * lanes - 1] = 7.0;
        assert!(!In::signal(&data, lanes).held().steady);
        data[BLOCK * lanes - 1] = 2.0;
        data[0] = f32::NAN;
        assert!(!In::signal(&data, lanes).held().steady, "NaN never repeats");
        let shared = [0.25f32; BLOCK];
        assert!(In::signal(&shared, 1).held().steady);
    }
}
