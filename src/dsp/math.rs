//! Signal arithmetic, shaping and panning (stateless, except drive's anti-aliasing memory);
//! run on the audio thread.

use super::{BLOCK, Ctx, In, Ins, sinc};
use std::sync::LazyLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Pow,
}

impl BinOp {
    /// The node's name in stable keys and messages.
    pub fn name(self) -> &'static str {
        match self {
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::Mul => "mul",
            BinOp::Div => "div",
            BinOp::Min => "min",
            BinOp::Max => "max",
            BinOp::Pow => "pow",
        }
    }

    #[inline(always)]
    pub fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            BinOp::Min => a.min(b),
            BinOp::Max => a.max(b),
            BinOp::Pow => a.powf(b),
        }
    }
}

/// 2^x to about 1e-6 relative error, branch-free so loops over it vectorise.
#[inline(always)]
pub fn fast_exp2(x: f32) -> f32 {
    let x = x.clamp(-126.0, 126.0);
    // Rounding (not flooring) keeps |f| <= 0.5, where this Taylor series is exact to f32.
    // The magic-number round avoids a libm call, so loops over this function vectorise.
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    let t = x + MAGIC;
    let xi = t - MAGIC;
    let f = x - xi;
    // The integer part also sits in t's low mantissa bits; reading it there keeps the
    // exponent build in vector integer ops (an `as i32` cast is a scalar saturating convert).
    let n = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let p = 1.0
        + f * (std::f32::consts::LN_2
            + f * (0.240_226_5
                + f * (0.055_504_11
                    + f * (0.009_618_129 + f * (0.001_333_355 + f * 0.000_154_035_3)))));
    f32::from_bits(((n + 127) as u32) << 23) * p
}

/// Elementwise `a op b`, broadcasting a shared (1-lane) input over the node's lanes.
pub fn binary(op: BinOp, a: In, b: In, out: &mut [f32], lanes: usize) {
    // The op is matched once per block so each loop body is a single vectorisable operation.
    macro_rules! run {
        ($f:expr) => {{
            let f = $f;
            match (a.lanes == lanes, b.lanes == lanes, a.konst, b.konst) {
                (_, _, _, Some(k)) if a.lanes == lanes => {
                    for (o, x) in out.iter_mut().zip(a.data) {
                        *o = f(*x, k);
                    }
                }
                (_, _, Some(k), _) if b.lanes == lanes => {
                    for (o, y) in out.iter_mut().zip(b.data) {
                        *o = f(k, *y);
                    }
                }
                (true, true, _, _) => {
                    for ((o, x), y) in out.iter_mut().zip(a.data).zip(b.data) {
                        *o = f(*x, *y);
                    }
                }
                // Per-voice signal against a shared one (an envelope, an LFO): one value per
                // frame, applied across the contiguous lanes.
                (true, false, _, _) if b.lanes == 1 => {
                    for ((o, x), y) in out
                        .chunks_exact_mut(lanes)
                        .zip(a.data.chunks_exact(lanes))
                        .zip(b.data)
                    {
                        for (o, x) in o.iter_mut().zip(x) {
                            *o = f(*x, *y);
                        }
                    }
                }
                (false, true, _, _) if a.lanes == 1 => {
                    for ((o, y), x) in out
                        .chunks_exact_mut(lanes)
                        .zip(b.data.chunks_exact(lanes))
                        .zip(a.data)
                    {
                        for (o, y) in o.iter_mut().zip(y) {
                            *o = f(*x, *y);
                        }
                    }
                }
                _ => {
                    for s in 0..BLOCK {
                        for l in 0..lanes {
                            out[s * lanes + l] = f(a.at(s, l), b.at(s, l));
                        }
                    }
                }
            }
        }};
    }
    // A constant positive base (`pow(2, lfo)`, exponential sweeps) is an exp2, far cheaper
    // than powf per sample.
    if let (BinOp::Pow, Some(base)) = (op, a.konst)
        && base > 0.0
    {
        let l2 = base.log2();
        return run!(move |_: f32, y: f32| fast_exp2(y * l2));
    }
    match op {
        BinOp::Add => run!(|x: f32, y: f32| x + y),
        BinOp::Sub => run!(|x: f32, y: f32| x - y),
        BinOp::Mul => run!(|x: f32, y: f32| x * y),
        BinOp::Div => run!(|x: f32, y: f32| x / y),
        other => run!(|x: f32, y: f32| other.apply(x, y)),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Abs,
    /// MIDI note number to Hz.
    Mtof,
}

impl UnOp {
    /// The node's name in stable keys and messages.
    pub fn name(self) -> &'static str {
        match self {
            UnOp::Neg => "neg",
            UnOp::Abs => "abs",
            UnOp::Mtof => "midi",
        }
    }

    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            UnOp::Neg => -x,
            UnOp::Abs => x.abs(),
            UnOp::Mtof => 440.0 * fast_exp2((x - 69.0) / 12.0),
        }
    }
}

pub fn unary(op: UnOp, a: In, out: &mut [f32], lanes: usize) {
    for s in 0..BLOCK {
        for l in 0..lanes {
            out[s * lanes + l] = op.apply(a.at(s, l));
        }
    }
}

/// Hard limit between `lo` and `hi` (NaN stays NaN so the device stage can count it).
pub fn clip(x: In, lo: In, hi: In, out: &mut [f32], lanes: usize) {
    for s in 0..BLOCK {
        for l in 0..lanes {
            out[s * lanes + l] = x.at(s, l).max(lo.at(s, l)).min(hi.at(s, l));
        }
    }
}

/// Maps a bipolar signal (-1..1) onto `lo..hi`.
pub fn range(x: In, lo: In, hi: In, out: &mut [f32], lanes: usize) {
    for s in 0..BLOCK {
        for l in 0..lanes {
            let (a, b) = (lo.at(s, l), hi.at(s, l));
            out[s * lanes + l] = a + (x.at(s, l) + 1.0) * 0.5 * (b - a);
        }
    }
}

/// Taps of drive's half-sample interpolator (the odd phase of a 47-tap half-band filter at
/// twice the rate): flat to about 19 kHz, about 70 dB down from 29 kHz at 48 kHz.
const DRIVE_TAPS: usize = 24;
/// Kaiser shape of those taps.
const DRIVE_BETA: f64 = 7.0;
/// Inputs (amount × x) are limited to this: tanh is 1 long before, and the antiderivative
/// stays exact in f64.
const DRIVE_LIMIT: f32 = 1.0e4;
/// Below this step between two samples the antiderivative's difference quotient loses
/// precision; tanh of the midpoint is then exact to about 1e-11.
const ADAA_MIN_STEP: f64 = 1.0e-5;

static HALF_SAMPLE: LazyLock<[f32; DRIVE_TAPS]> = LazyLock::new(|| {
    let mut t = [0.0; DRIVE_TAPS];
    t.copy_from_slice(&sinc::half_sample_taps(DRIVE_TAPS, DRIVE_BETA));
    t
});

/// One lane of drive's state: short histories, each stored twice over so that the last
/// `DRIVE_TAPS` values are one contiguous slice ending at `at + DRIVE_TAPS`.
#[derive(Clone, Copy, Debug)]
struct DriveLane {
    /// Inputs (amount × x) at the base rate.
    ins: [f32; 2 * DRIVE_TAPS],
    /// Saturated samples at twice the rate: those on the base rate's frames, and those
    /// halfway between.
    even: [f32; 2 * DRIVE_TAPS],
    odd: [f32; 2 * DRIVE_TAPS],
    at: usize,
    /// The previous sample at twice the rate, and ln cosh of it.
    prev: f64,
    prev_f: f64,
}

impl DriveLane {
    const NEW: DriveLane = DriveLane {
        ins: [0.0; 2 * DRIVE_TAPS],
        even: [0.0; 2 * DRIVE_TAPS],
        odd: [0.0; 2 * DRIVE_TAPS],
        at: 0,
        prev: 0.0,
        prev_f: 0.0,
    };

    /// One output sample for input `u` (amount × x): `u` is interpolated to twice the
    /// rate, each sample saturated by `tanh_adaa`, and the result low-passed back down.
    /// Delay: 23¼ frames (12 to interpolate, 11 to decimate, ¼ from the antiderivative).
    #[inline]
    fn run(&mut self, u: f32, g: &[f32; DRIVE_TAPS]) -> f32 {
        const T: usize = DRIVE_TAPS;
        // NaN becomes silence and infinities full scale, so neither stays in the state.
        let u = if u.is_nan() {
            0.0
        } else {
            u.clamp(-DRIVE_LIMIT, DRIVE_LIMIT)
        };
        let at = (self.at + 1) % T;
        self.at = at;
        self.ins[at] = u;
        self.ins[at + T] = u;
        let win: &[f32; T] = self.ins[at + 1..at + 1 + T].try_into().unwrap();
        // The frame T/2 back and the point halfway to the next: twice the rate.
        let on = win[T / 2 - 1];
        let mid = dot24(g, win);
        let (se, so) = (self.tanh_adaa(on), self.tanh_adaa(mid));
        self.even[at] = se;
        self.even[at + T] = se;
        self.odd[at] = so;
        self.odd[at + T] = so;
        // Half-band low-pass at the frames: half the sample there, plus half the odd
        // samples interpolated to it (the midpoint of the window's two middle ones).
        let odd: &[f32; T] = self.odd[at + 1..at + 1 + T].try_into().unwrap();
        0.5 * (self.even[at + 1 + T / 2] + dot24(g, odd))
    }

    /// First-order antiderivative anti-aliasing of tanh: the mean of tanh over the straight
    /// line from the previous sample to `z`, (F(z) − F(prev)) / (z − prev) with F = ln cosh.
    /// Where the two are too close for that quotient, tanh of their midpoint (the same
    /// mean to second order). In f64: the quotient divides a small difference of values
    /// near |z|.
    #[inline]
    fn tanh_adaa(&mut self, z: f32) -> f32 {
        let z = f64::from(z);
        let f = ln_cosh(z);
        let d = z - self.prev;
        let y = if d.abs() > ADAA_MIN_STEP {
            (f - self.prev_f) / d
        } else {
            (0.5 * (z + self.prev)).tanh()
        };
        self.prev = z;
        self.prev_f = f;
        y as f32
    }
}

/// ln cosh(u), the antiderivative of tanh, without overflow: |u| + ln(1 + e^(−2|u|)) − ln 2.
#[inline(always)]
fn ln_cosh(u: f64) -> f64 {
    let a = u.abs();
    a + (-2.0 * a).exp().ln_1p() - std::f64::consts::LN_2
}

/// The 24-tap weighted sum, in eight running sums so that it vectorises.
#[inline(always)]
fn dot24(g: &[f32; DRIVE_TAPS], x: &[f32; DRIVE_TAPS]) -> f32 {
    let mut acc = [0.0f32; 8];
    for (g8, x8) in g.chunks_exact(8).zip(x.chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += g8[i] * x8[i];
        }
    }
    acc.iter().sum()
}

/// Soft saturation, `tanh(amount · x)`, without the aliasing a plain tanh makes: it runs at
/// twice the rate (half-band interpolation and decimation) with first-order antiderivative
/// anti-aliasing, per lane.
pub struct Drive {
    lanes: Vec<DriveLane>,
    taps: &'static [f32; DRIVE_TAPS],
}

impl Drive {
    pub fn new(lanes: usize) -> Self {
        Drive {
            lanes: vec![DriveLane::NEW; lanes],
            taps: LazyLock::force(&HALF_SAMPLE),
        }
    }

    pub fn process(&mut self, x: In, amount: In, out: &mut [f32], lanes: usize) {
        let g = self.taps;
        let active = lanes.min(self.lanes.len());
        for (l, st) in self.lanes[..active].iter_mut().enumerate() {
            for s in 0..BLOCK {
                out[s * lanes + l] = st.run(x.at(s, l) * amount.at(s, l), g);
            }
        }
        // Lanes beyond those built (never, from the graph) are silent rather than a panic.
        for s in 0..BLOCK {
            out[s * lanes + active..(s + 1) * lanes].fill(0.0);
        }
    }
}

impl super::Carry for Drive {
    fn carry_from(&mut self, old: &Self) -> bool {
        super::copy_lanes(&mut self.lanes, &old.lanes)
    }

    fn carry_lanes(&mut self, old: &Self, to: usize, from: usize, n: usize) -> bool {
        super::copy_range(&mut self.lanes, &old.lanes, to, from, n)
    }
}

/// sin(x) for x in [0, π/2], to about 4e-6: a polynomial, so per-sample panning vectorises.
#[inline(always)]
fn sin_quarter(x: f32) -> f32 {
    let x2 = x * x;
    x * (1.0
        + x2 * (-1.0 / 6.0 + x2 * (1.0 / 120.0 + x2 * (-1.0 / 5040.0 + x2 * (1.0 / 362_880.0)))))
}

/// Equal-power pan of a mono input, `pos` in -1 (left) ..1 (right); writes the left block
/// then the right block into `out` (two outputs).
pub fn pan(x: In, pos: In, out: &mut [f32], lanes: usize) {
    let (left, right) = out.split_at_mut(BLOCK * lanes);
    #[inline(always)]
    fn gains(p: f32) -> (f32, f32) {
        let angle = (p.clamp(-1.0, 1.0) + 1.0) * std::f32::consts::FRAC_PI_4;
        (
            sin_quarter(std::f32::consts::FRAC_PI_2 - angle),
            sin_quarter(angle),
        )
    }
    if x.lanes == lanes && pos.lanes == lanes {
        for (((l, r), v), p) in left
            .iter_mut()
            .zip(right.iter_mut())
            .zip(x.data)
            .zip(pos.data)
        {
            let (gl, gr) = gains(*p);
            *l = v * gl;
            *r = v * gr;
        }
        return;
    }
    for s in 0..BLOCK {
        for l in 0..lanes {
            let (gl, gr) = gains(pos.at(s, l));
            let v = x.at(s, l);
            left[s * lanes + l] = v * gl;
            right[s * lanes + l] = v * gr;
        }
    }
}

/// Adds one more input into an accumulating sum (`first` overwrites instead).
pub fn accumulate(x: In, out: &mut [f32], lanes: usize, first: bool) {
    if x.lanes == lanes {
        if first {
            out.copy_from_slice(&x.data[..BLOCK * lanes]);
        } else {
            for (o, v) in out.iter_mut().zip(x.data) {
                *o += *v;
            }
        }
        return;
    }
    for s in 0..BLOCK {
        for l in 0..lanes {
            let v = x.at(s, l);
            let o = &mut out[s * lanes + l];
            *o = if first { v } else { *o + v };
        }
    }
}

/// Sums the lanes of a `lanes`-wide input into one lane (a voice mixdown).
pub fn lane_sum(x: In, out: &mut [f32], lanes: usize) {
    for (o, row) in out.iter_mut().zip(x.data.chunks_exact(lanes)) {
        // Eight running sums instead of one: a strict left-to-right f32 sum cannot be
        // vectorised. The order is fixed, so renders still repeat exactly.
        let mut acc = [0.0f32; 8];
        let mut chunks = row.chunks_exact(8);
        for c in &mut chunks {
            for (a, v) in acc.iter_mut().zip(c) {
                *a += v;
            }
        }
        let tail: f32 = chunks.remainder().iter().sum();
        *o = acc.iter().sum::<f32>() + tail;
    }
}

/// MIDI note number to Hz (a4 = 69 = 440 Hz), exactly; for notes known before they play.
pub fn midi_to_hz(m: f64) -> f64 {
    440.0 * ((m - 69.0) / 12.0).exp2()
}

/// Mixes the voices of `x`, each scaled by its level in `w` (a stolen voice fading out).
/// `x` may be one lane wide (the same sound in every voice); `w` sets the voice count.
pub fn lane_sum_weighted(x: In, w: In, out: &mut [f32]) {
    let lanes = w.lanes.max(x.lanes);
    if lanes == 1 {
        for (f, o) in out.iter_mut().enumerate().take(BLOCK) {
            *o = x.data[f] * w.data[f];
        }
        return;
    }
    for (f, o) in out.iter_mut().enumerate().take(BLOCK) {
        let mut acc = [0.0f32; 8];
        for l in 0..lanes {
            acc[l & 7] += x.at(f, l) * w.at(f, l);
        }
        *o = acc.iter().sum();
    }
}

/// The lane number of each lane (a voice's index), as a signal.
pub fn lane_index(out: &mut [f32], lanes: usize) {
    for s in 0..BLOCK {
        for l in 0..lanes {
            out[s * lanes + l] = l as f32;
        }
    }
}

crate::node_inputs! {
    pub struct BinIn { a, b }
}

crate::node_inputs! {
    pub struct UnIn { x }
}

crate::node_inputs! {
    /// A signal and the bounds it is limited to or mapped onto.
    pub struct BoundsIn { x, lo, hi }
}

crate::node_inputs! {
    pub struct DriveIn { x, amount }
}

crate::node_inputs! {
    pub struct PanIn { x, pos }
}

impl super::Node for BinOp {
    type Inputs<'a> = BinIn<'a>;
    fn process(&mut self, _ctx: &Ctx, ins: BinIn, out: &mut [f32], lanes: usize) {
        binary(*self, ins.a, ins.b, out, lanes)
    }
}

impl super::Node for UnOp {
    type Inputs<'a> = UnIn<'a>;
    fn process(&mut self, _ctx: &Ctx, ins: UnIn, out: &mut [f32], lanes: usize) {
        unary(*self, ins.x, out, lanes)
    }
}

/// Stateless nodes: the unit structs the graph holds for them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clip;
#[derive(Clone, Copy, Debug, Default)]
pub struct Range;
#[derive(Clone, Copy, Debug, Default)]
pub struct Pan;
/// Sum of any number of inputs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sum;
/// The lanes of its first input mixed down to one, weighted by its second when given.
#[derive(Clone, Copy, Debug, Default)]
pub struct LaneSum;
#[derive(Clone, Copy, Debug, Default)]
pub struct LaneIndex;
/// Writes silence: for a kind the graph runs without a DSP of its own (a feedback point
/// is a buffer copy between blocks, never an op).
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl super::Node for Clip {
    type Inputs<'a> = BoundsIn<'a>;
    fn process(&mut self, _ctx: &Ctx, ins: BoundsIn, out: &mut [f32], lanes: usize) {
        clip(ins.x, ins.lo, ins.hi, out, lanes)
    }
}

impl super::Node for Range {
    type Inputs<'a> = BoundsIn<'a>;
    fn process(&mut self, _ctx: &Ctx, ins: BoundsIn, out: &mut [f32], lanes: usize) {
        range(ins.x, ins.lo, ins.hi, out, lanes)
    }
}

impl super::Node for Drive {
    type Inputs<'a> = DriveIn<'a>;
    fn process(&mut self, _ctx: &Ctx, ins: DriveIn, out: &mut [f32], lanes: usize) {
        Drive::process(self, ins.x, ins.amount, out, lanes)
    }
}

impl super::Node for Pan {
    type Inputs<'a> = PanIn<'a>;
    fn process(&mut self, _ctx: &Ctx, ins: PanIn, out: &mut [f32], lanes: usize) {
        pan(ins.x, ins.pos, out, lanes)
    }
}

impl super::Node for Sum {
    type Inputs<'a> = Ins<'a>;
    fn process(&mut self, _ctx: &Ctx, ins: Ins, out: &mut [f32], lanes: usize) {
        for (k, x) in ins.iter().enumerate() {
            accumulate(x, out, lanes, k == 0);
        }
        if ins.is_empty() {
            out.fill(0.0);
        }
    }
}

impl super::Node for LaneSum {
    type Inputs<'a> = Ins<'a>;
    fn process(&mut self, _ctx: &Ctx, ins: Ins, out: &mut [f32], _lanes: usize) {
        let x = ins.get(0);
        if ins.len() > 1 {
            lane_sum_weighted(x, ins.get(1), out)
        } else {
            lane_sum(x, out, x.lanes)
        }
    }
}

impl super::Node for LaneIndex {
    type Inputs<'a> = super::NoInputs<'a>;
    fn process(&mut self, _ctx: &Ctx, _ins: super::NoInputs, out: &mut [f32], lanes: usize) {
        lane_index(out, lanes)
    }
}

impl super::Node for Silent {
    type Inputs<'a> = super::NoInputs<'a>;
    fn process(&mut self, _ctx: &Ctx, _ins: super::NoInputs, out: &mut [f32], _lanes: usize) {
        out.fill(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::Carry;

    #[test]
    fn pan_is_equal_power() {
        let x = [1.0f32; BLOCK];
        for p in [-1.0f32, -0.3, 0.0, 0.5, 1.0] {
            let pos = [p; BLOCK];
            let mut out = [0.0f32; BLOCK * 2];
            pan(In::signal(&x, 1), In::constant(&pos, p), &mut out, 1);
            let (l, r) = (out[0], out[BLOCK]);
            assert!((l * l + r * r - 1.0).abs() < 1e-5, "p={p}");
        }
    }

    #[test]
    fn binary_broadcasts_shared_inputs() {
        let a: Vec<f32> = (0..BLOCK * 3).map(|i| i as f32).collect();
        let b = [2.0f32; BLOCK];
        let mut out = vec![0.0; BLOCK * 3];
        binary(
            BinOp::Mul,
            In::signal(&a, 3),
            In::signal(&b, 1),
            &mut out,
            3,
        );
        assert_eq!(out[7], 14.0);
        binary(
            BinOp::Sub,
            In::signal(&b, 1),
            In::signal(&a, 3),
            &mut out,
            3,
        );
        assert_eq!(out[7], -5.0);
    }

    #[test]
    fn fast_exp2_is_accurate() {
        let mut x = -20.0f32;
        while x < 20.0 {
            let (a, b) = (fast_exp2(x), x.exp2());
            assert!(((a - b) / b).abs() < 1e-6, "x={x} {a} {b}");
            x += 0.001;
        }
    }

    #[test]
    fn mtof_maps_a4() {
        let n = [69.0f32; BLOCK];
        let mut out = [0.0; BLOCK];
        unary(UnOp::Mtof, In::signal(&n, 1), &mut out, 1);
        assert!((out[0] - 440.0).abs() < 1e-3);
    }

    /// Drive over `x` with a constant amount, one lane.
    fn drive_run(d: &mut Drive, x: &[f32], amount: f32) -> Vec<f32> {
        let a = [amount; BLOCK];
        let mut y = Vec::new();
        for xs in x.chunks_exact(BLOCK) {
            let mut out = [0.0f32; BLOCK];
            d.process(In::signal(xs, 1), In::constant(&a, amount), &mut out, 1);
            y.extend_from_slice(&out);
        }
        y
    }

    fn tone(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (0.9 * (i as f64 * 0.07).sin()) as f32)
            .collect()
    }

    #[test]
    fn drive_forgets_nan_and_infinities() {
        let clean = tone(4 * BLOCK);
        let mut bad = clean.clone();
        bad[100] = f32::NAN;
        bad[101] = f32::INFINITY;
        bad[102] = f32::NEG_INFINITY;
        let y = drive_run(&mut Drive::new(1), &bad, 6.0);
        let want = drive_run(&mut Drive::new(1), &clean, 6.0);
        // Finite and bounded: an infinity is a full-scale click, band-limited (so it
        // overshoots full scale, briefly).
        let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            y.iter().all(|v| v.is_finite()) && peak <= 2.0,
            "peak {peak}"
        );
        // Once the bad frames have left the filters' histories, nothing of them is left.
        let after = 103 + 2 * DRIVE_TAPS;
        for i in after..y.len() {
            assert!(
                (y[i] - want[i]).abs() < 1e-6,
                "frame {i}: {} vs {}",
                y[i],
                want[i]
            );
        }
    }

    #[test]
    fn drive_carries_its_history() {
        let x = tone(4 * BLOCK);
        let mut whole = Drive::new(1);
        let want = drive_run(&mut whole, &x, 3.0);
        let mut old = Drive::new(1);
        let mut y = drive_run(&mut old, &x[..2 * BLOCK], 3.0);
        let mut new = Drive::new(2);
        assert!(new.carry_from(&old));
        y.extend(drive_run(&mut new, &x[2 * BLOCK..], 3.0));
        assert_eq!(y, want);
    }
}
