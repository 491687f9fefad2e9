//! Oscillators: sine, band-limited saw/square/pulse, triangle; run on the audio thread.
//!
//! Every oscillator keeps its running phase per lane in `f64` cycles, wrapped to `[0, 1)`:
//! in `f32` a slow LFO's increment would be quantised to a few ulps of the phase and run
//! audibly off-tempo, and hours of rendering would drift.

use super::{BLOCK, Ctx, In};
use limited::{At, Kind, Limited, Wave};

mod limited;

/// 1.5 × 2^52: adding and subtracting it rounds an `f64` below 2^51 to the nearest integer
/// with two adds, which vectorises where `round()` on baseline x86-64 is a libm call.
const ROUND_F64: f64 = 6_755_399_441_055_744.0;
/// The `f32` counterpart (1.5 * 2^23), valid below 2^22.
const ROUND_F32: f32 = 12_582_912.0;

/// `x` minus the nearest integer, in `[-0.5, 0.5]`; 0 when `x` is too large to have a
/// fractional part, NaN stays NaN.
#[inline(always)]
fn frac_round_f64(x: f64) -> f64 {
    if x.abs() < 2_251_799_813_685_248.0 {
        x - ((x + ROUND_F64) - ROUND_F64)
    } else {
        0.0
    }
}

#[inline(always)]
fn frac_round_f32(x: f32) -> f32 {
    // Every f32 at or above 2^22 is a multiple of 0.5, where sin(2πx) is exactly 0.
    if x.abs() < 4_194_304.0 {
        x - ((x + ROUND_F32) - ROUND_F32)
    } else {
        0.0
    }
}

/// Phase increment in cycles per sample, folded into `[-0.5, 0.5]`: frequencies beyond
/// Nyquist alias to the same sampled phase sequence, and a bounded step keeps a block's
/// unwrapped phase within ±32 cycles, where `f64` still resolves 1e-14 of a cycle.
#[inline(always)]
fn phase_inc(freq: f32, inv_sr: f64) -> f64 {
    frac_round_f64(f64::from(freq) * inv_sr)
}

/// The position within the cycle, in `[0, 1]`, of an unwrapped phase below 2^51.
///
/// Oscillators accumulate phase unwrapped through a block, so the only loop-carried work
/// per sample is one add; wrapping every sample chained a handful of compares and selects
/// onto it, which made a mono saw about three times slower. This wrap is off that chain. The result can round to exactly 1.0, which every waveform treats like 0.
#[inline(always)]
fn cycle_pos(acc: f64) -> f32 {
    let r = frac_round_f64(acc);
    (if r < 0.0 { r + 1.0 } else { r }) as f32
}

/// Wraps any phase into `[0, 1)`, once per block.
#[inline]
fn wrap(p: f64) -> f64 {
    let q = p - p.floor();
    // A tiny negative phase gives exactly 1.0; NaN must not stick in the state.
    if q < 1.0 { q } else { 0.0 }
}

// Odd-polynomial coefficients for sin(2πy), y in [0, 1/4].
#[expect(
    clippy::approx_constant,
    reason = "a fitted coefficient: 2π nudged to trade error at the quarter-cycle end"
)]
const SIN_C1: f32 = 6.283185;
const SIN_C3: f32 = -41.341656;
const SIN_C5: f32 = 81.601006;
const SIN_C7: f32 = -76.54977;
const SIN_C9: f32 = 39.536617;

/// sin(2πx) for any `x` in cycles, error below 3e-7.
///
/// Folds to a quarter cycle so a degree-9 odd polynomial (a near-minimax fit, 3e-9 in exact
/// arithmetic; the rest is `f32` rounding) covers it. Branch-free, so loops over it vectorise.
#[inline(always)]
pub fn fast_sin_cycles(x: f32) -> f32 {
    let r = frac_round_f32(x);
    let a = r.abs();
    // sin(2πa) is symmetric about a quarter cycle.
    let y = a.min(0.5 - a);
    let y2 = y * y;
    let p = y * (SIN_C1 + y2 * (SIN_C3 + y2 * (SIN_C5 + y2 * (SIN_C7 + y2 * SIN_C9))));
    p.copysign(r)
}

/// One frame of an input: a value shared by all lanes, or one value per lane.
#[derive(Clone, Copy)]
enum Row<'a, P> {
    Same(P),
    Each(&'a [f32]),
}

/// 0, 1, 2, … as `f64`: a table load vectorises where converting a `usize` counter does not.
const RAMP: [f64; BLOCK] = {
    let mut r = [0.0; BLOCK];
    let mut k = 0;
    while k < BLOCK {
        r[k] = k as f64;
        k += 1;
    }
    r
};

/// First pass of every oscillator: writes each sample's cycle position (see `cycle_pos`)
/// into `out` and advances the per-lane phases by one block.
///
/// Splitting the block into this pass and a stateless `shape` pass leaves only a single
/// add carried from sample to sample here, and lets the waveform maths vectorise.
fn run_phase(out: &mut [f32], lanes: usize, freq: &In, phase: &mut [f64], inv_sr: f64) {
    debug_assert_eq!(out.len(), BLOCK * lanes);
    debug_assert!(freq.lanes == 1 || freq.lanes == lanes);
    let phase = &mut phase[..lanes];
    if let Some(f) = freq.konst {
        // A constant step needs no running sum at all: every sample is independent.
        let inc = phase_inc(f, inv_sr);
        if let [p0] = phase {
            for (o, &k) in out.iter_mut().zip(&RAMP) {
                *o = cycle_pos(*p0 + k * inc);
            }
        } else {
            for (row, &k) in out.chunks_exact_mut(lanes).zip(&RAMP) {
                let d = k * inc;
                for (o, &p) in row.iter_mut().zip(&*phase) {
                    *o = cycle_pos(p + d);
                }
            }
        }
        for p in phase.iter_mut() {
            *p = wrap(*p + BLOCK as f64 * inc);
        }
        return;
    }
    if freq.steady && freq.lanes == lanes && lanes > 1 {
        // Each voice holds its own fixed pitch: like the constant case, but per lane, so the
        // samples of a frame are independent and the loop over lanes vectorises. The
        // arithmetic is the constant case's own (f64), so a voice sounds exactly as it
        // would alone: at a saw's jump a phase error is magnified by 1/step.
        // Start phases and steps are gathered per chunk of lanes first, so the loop over
        // frames runs at full vector width.
        const CHUNK: usize = 16;
        let mut c0 = 0;
        while c0 < lanes {
            let n = CHUNK.min(lanes - c0);
            let i = |j: usize| c0 + j.min(n - 1);
            let base: [f64; CHUNK] = std::array::from_fn(|j| phase[i(j)]);
            let inc: [f64; CHUNK] = std::array::from_fn(|j| phase_inc(freq.data[i(j)], inv_sr));
            for (row, &k) in out.chunks_exact_mut(lanes).zip(&RAMP) {
                for ((o, &p), &d) in row[c0..c0 + n].iter_mut().zip(&base).zip(&inc) {
                    *o = cycle_pos(p + k * d);
                }
            }
            c0 += n;
        }
        for (p, &f) in phase.iter_mut().zip(&freq.data[..lanes]) {
            *p = wrap(*p + BLOCK as f64 * phase_inc(f, inv_sr));
        }
        return;
    }
    if let [p] = phase {
        for (o, &f) in out.iter_mut().zip(freq.data) {
            *o = cycle_pos(*p);
            *p += phase_inc(f, inv_sr);
        }
    } else if freq.lanes == 1 {
        for (row, &f) in out.chunks_exact_mut(lanes).zip(freq.data) {
            let inc = phase_inc(f, inv_sr);
            for (o, p) in row.iter_mut().zip(phase.iter_mut()) {
                *o = cycle_pos(*p);
                *p += inc;
            }
        }
    } else {
        for (row, fs) in out
            .chunks_exact_mut(lanes)
            .zip(freq.data.chunks_exact(lanes))
        {
            for ((o, p), &f) in row.iter_mut().zip(phase.iter_mut()).zip(fs) {
                *o = cycle_pos(*p);
                *p += phase_inc(f, inv_sr);
            }
        }
    }
    for p in phase.iter_mut() {
        *p = wrap(*p);
    }
}

/// Whether a `reset` input fires anywhere in this block.
#[inline]
fn fires(reset: &In) -> bool {
    match reset.konst {
        Some(v) => v > 0.0,
        None => reset.data.iter().any(|&v| v > 0.0),
    }
}

/// Restarts each lane at phase 0 on the frames where `reset` fires, rewriting its cycle
/// positions from that frame on, so a note's oscillator starts at its phase on the note's
/// own frame rather than at the block's start. Runs between `run_phase` and `shape`.
fn restart(out: &mut [f32], lanes: usize, reset: &In, freq: &In, phase: &mut [f64], inv_sr: f64) {
    let at = |x: &In, f: usize, l: usize| {
        if x.lanes == 1 {
            x.data[f]
        } else {
            x.data[f * lanes + l]
        }
    };
    for f in 0..BLOCK {
        for l in 0..lanes {
            if at(reset, f, l) <= 0.0 {
                continue;
            }
            let mut acc = 0.0f64;
            for g in f..BLOCK {
                out[g * lanes + l] = cycle_pos(acc);
                acc += phase_inc(at(freq, g, l), inv_sr);
            }
            phase[l] = wrap(acc);
        }
    }
}

/// Second pass: replaces each cycle position `t` in `out` with `f(t, prep(a), b)`.
///
/// `prep` turns an input into what the waveform needs per sample (for a frequency: the
/// BLEP width and its reciprocal); with a constant input it runs once per block. Inputs
/// are dispatched once per block for mono nodes and once per frame otherwise, so the inner
/// loops are plain zips.
#[inline(always)]
fn shape<P: Copy>(
    out: &mut [f32],
    lanes: usize,
    a: &In,
    b: &In,
    prep: impl Fn(f32) -> P,
    f: impl Fn(f32, P, f32) -> f32,
) {
    debug_assert_eq!(out.len(), BLOCK * lanes);
    debug_assert!(a.lanes == 1 || a.lanes == lanes);
    debug_assert!(b.lanes == 1 || b.lanes == lanes);
    let ka = a.konst.map(&prep);
    if lanes == 1 {
        match (ka, b.konst) {
            (Some(x), Some(y)) => out.iter_mut().for_each(|o| *o = f(*o, x, y)),
            (Some(x), None) => {
                for (o, &y) in out.iter_mut().zip(b.data) {
                    *o = f(*o, x, y);
                }
            }
            (None, Some(y)) => {
                for (o, &x) in out.iter_mut().zip(a.data) {
                    *o = f(*o, prep(x), y);
                }
            }
            (None, None) => {
                for ((o, &x), &y) in out.iter_mut().zip(a.data).zip(b.data) {
                    *o = f(*o, prep(x), y);
                }
            }
        }
        return;
    }
    if ka.is_none() && a.steady && a.lanes == lanes && b.konst.is_some() {
        // Per-voice fixed pitch: prepare each lane's step once per block, not per sample
        // (the step holds a division), a chunk of lanes at a time to stay on the stack.
        const CHUNK: usize = 16;
        let y = b.konst.unwrap_or(0.0);
        let mut c0 = 0;
        while c0 < lanes {
            let n = CHUNK.min(lanes - c0);
            let preps: [P; CHUNK] = std::array::from_fn(|i| prep(a.data[c0 + i.min(n - 1)]));
            for row in out.chunks_exact_mut(lanes) {
                for (o, p) in row[c0..c0 + n].iter_mut().zip(&preps) {
                    *o = f(*o, *p, y);
                }
            }
            c0 += n;
        }
        return;
    }
    let row_a = |s: usize| match ka {
        Some(p) => Row::Same(p),
        None if a.lanes == 1 => Row::Same(prep(a.data[s])),
        None => Row::Each(&a.data[s * lanes..(s + 1) * lanes]),
    };
    let row_b = |s: usize| match b.konst {
        Some(v) => Row::Same(v),
        None if b.lanes == 1 => Row::Same(b.data[s]),
        None => Row::Each(&b.data[s * lanes..(s + 1) * lanes]),
    };
    for (s, row) in out.chunks_exact_mut(lanes).enumerate() {
        match (row_a(s), row_b(s)) {
            (Row::Same(x), Row::Same(y)) => row.iter_mut().for_each(|o| *o = f(*o, x, y)),
            (Row::Each(xs), Row::Same(y)) => {
                for (o, &x) in row.iter_mut().zip(xs) {
                    *o = f(*o, prep(x), y);
                }
            }
            (Row::Same(x), Row::Each(ys)) => {
                for (o, &y) in row.iter_mut().zip(ys) {
                    *o = f(*o, x, y);
                }
            }
            (Row::Each(xs), Row::Each(ys)) => {
                for ((o, &x), &y) in row.iter_mut().zip(xs).zip(ys) {
                    *o = f(*o, prep(x), y);
                }
            }
        }
    }
}

/// Sine oscillator with a phase-offset input (in cycles).
pub struct Sine {
    phase: Vec<f64>,
    /// Per-lane sin/cos of the block's start phase, scratch for the constant path.
    start_sin: Vec<f32>,
    start_cos: Vec<f32>,
    /// Boxed so the graph's node enum, sized by its largest variant, does not carry half a
    /// kilobyte inline for every node.
    tables: Box<Tables>,
    table_inc: f64,
}

/// cos/sin(2π·k·inc) for k in 0..BLOCK at the sine's `table_inc`.
#[derive(Clone, Copy)]
struct Tables {
    cos_k: [f32; BLOCK],
    sin_k: [f32; BLOCK],
}

impl Sine {
    pub fn new(lanes: usize) -> Self {
        Sine {
            phase: vec![0.0; lanes],
            start_sin: vec![0.0; lanes],
            start_cos: vec![0.0; lanes],
            tables: Box::new(Tables {
                cos_k: [0.0; BLOCK],
                sin_k: [0.0; BLOCK],
            }),
            // NaN never compares equal, so the first constant block fills the tables.
            table_inc: f64::NAN,
        }
    }

    /// `freq` in Hz (negative runs backwards); `phase` is an offset in cycles added to the
    /// running phase; `reset` restarts it (see `restart`).
    pub fn process(
        &mut self,
        ctx: &Ctx,
        freq: In,
        phase: In,
        reset: In,
        out: &mut [f32],
        lanes: usize,
    ) {
        let inv_sr = 1.0 / f64::from(ctx.sample_rate);
        let fired = fires(&reset);
        if let (Some(f), true, false) = (freq.konst, phase.steady, fired) {
            self.process_const(phase_inc(f, inv_sr), &phase, out, lanes);
            return;
        }
        run_phase(out, lanes, &freq, &mut self.phase, inv_sr);
        if fired {
            restart(out, lanes, &reset, &freq, &mut self.phase, inv_sr);
        }
        shape(
            out,
            lanes,
            &phase,
            &In::ZERO,
            |off| off,
            |t, off, _| fast_sin_cycles(t + off),
        );
    }

    /// Constant frequency and offset: sin(a + kw) = sin a·cos kw + cos a·sin kw turns the
    /// block into two multiply-adds per sample against tables that only change with the
    /// frequency, which is what lets hundreds of partials run many times faster than real
    /// time.
    /// `off` holds one offset per lane (or one for all) that does not change.
    fn process_const(&mut self, inc: f64, off: &In, out: &mut [f32], lanes: usize) {
        debug_assert_eq!(out.len(), BLOCK * lanes);
        if inc != self.table_inc {
            self.table_inc = inc;
            let t = &mut *self.tables;
            for (k, (c, s)) in t.cos_k.iter_mut().zip(&mut t.sin_k).enumerate() {
                // Reduce in f64 first so the angle is small and exact to f64 precision.
                let (sn, cs) = (std::f64::consts::TAU * wrap(k as f64 * inc)).sin_cos();
                *c = cs as f32;
                *s = sn as f32;
            }
        }
        let Tables { cos_k, sin_k } = &*self.tables;
        let phase = &mut self.phase[..lanes];
        let start_sin = &mut self.start_sin[..lanes];
        let start_cos = &mut self.start_cos[..lanes];
        let step = inc * BLOCK as f64;
        for (l, ((p, s0), c0)) in phase
            .iter_mut()
            .zip(start_sin.iter_mut())
            .zip(start_cos.iter_mut())
            .enumerate()
        {
            // The phase is in [0, 1), so f32 keeps it to 6e-8 of a cycle.
            let start = *p as f32 + off.konst.unwrap_or_else(|| off.at(0, l));
            *s0 = fast_sin_cycles(start);
            *c0 = fast_sin_cycles(start + 0.25);
            *p = wrap(*p + step);
        }
        if lanes == 1 {
            let (s0, c0) = (start_sin[0], start_cos[0]);
            for ((o, &c), &s) in out.iter_mut().zip(cos_k).zip(sin_k) {
                *o = s0 * c + c0 * s;
            }
        } else {
            for ((row, &c), &s) in out.chunks_exact_mut(lanes).zip(cos_k).zip(sin_k) {
                for ((o, &s0), &c0) in row.iter_mut().zip(&*start_sin).zip(&*start_cos) {
                    *o = s0 * c + c0 * s;
                }
            }
        }
    }
}

/// Band-limited rising sawtooth, ±1.
pub struct Saw(Limited);

impl Saw {
    pub fn new(lanes: usize) -> Self {
        Saw(Limited::new(lanes))
    }

    pub fn process(&mut self, ctx: &Ctx, freq: In, reset: In, out: &mut [f32], lanes: usize) {
        let saw = Wave {
            families: &[(At::Zero, Kind::Jump(-2.0))],
            naive: |t, _| t + t - 1.0,
            slope: |_| 2.0,
            steepest: 2.0,
        };
        self.0.process(ctx, &freq, None, &reset, out, lanes, &saw);
    }
}

/// Band-limited pulse, ±1, high for the first `width` of each cycle; square at width 0.5.
pub struct Pulse(Limited);

impl Pulse {
    pub fn new(lanes: usize) -> Self {
        Pulse(Limited::new(lanes))
    }

    /// `width` is the high fraction of the cycle, clamped to `[0.01, 0.99]`.
    pub fn process(
        &mut self,
        ctx: &Ctx,
        freq: In,
        width: In,
        reset: In,
        out: &mut [f32],
        lanes: usize,
    ) {
        self.0.process(
            ctx,
            &freq,
            Some(&width),
            &reset,
            out,
            lanes,
            &Wave {
                families: &[(At::Zero, Kind::Jump(2.0)), (At::Width, Kind::Jump(-2.0))],
                naive: |t, w| {
                    if t < limited::clamp_width(w) {
                        1.0
                    } else {
                        -1.0
                    }
                },
                slope: |_| 0.0,
                steepest: 0.0,
            },
        );
    }
}

/// Triangle, ±1, rising from −1 at phase 0 to +1 at phase 0.5, its corners band-limited.
pub struct Tri(Limited);

impl Tri {
    pub fn new(lanes: usize) -> Self {
        Tri(Limited::new(lanes))
    }

    pub fn process(&mut self, ctx: &Ctx, freq: In, reset: In, out: &mut [f32], lanes: usize) {
        let tri = Wave {
            // The slope is ±4 per cycle, so each corner turns it by 8.
            families: &[
                (At::Zero, Kind::Corner(8.0)),
                (At::Half, Kind::Corner(-8.0)),
            ],
            naive: |t: f32, _| 1.0 - 4.0 * (t - 0.5).abs(),
            slope: |t: f32| if t < 0.5 { 4.0 } else { -4.0 },
            steepest: 4.0,
        };
        self.0.process(ctx, &freq, None, &reset, out, lanes, &tri);
    }
}

impl super::Carry for Sine {
    fn carry_from(&mut self, old: &Self) -> bool {
        super::copy_lanes(&mut self.phase, &old.phase);
        *self.tables = *old.tables;
        self.table_inc = old.table_inc;
        true
    }

    fn carry_lanes(&mut self, old: &Self, to: usize, from: usize, n: usize) -> bool {
        super::copy_range(&mut self.phase, &old.phase, to, from, n)
    }
}

/// The band-limited oscillators carry their phase and their residuals in flight.
macro_rules! carry_phase {
    ($($t:ty),*) => {$(
        impl super::Carry for $t {
            fn carry_from(&mut self, old: &Self) -> bool {
                self.0.carry_from(&old.0)
            }

            fn carry_lanes(&mut self, old: &Self, to: usize, from: usize, n: usize) -> bool {
                self.0.carry_lanes(&old.0, to, from, n)
            }
        }
    )*};
}
carry_phase!(Saw, Pulse, Tri);

crate::node_inputs! {
    /// Frequency in Hz, a phase offset in cycles, and a trigger that restarts it.
    pub struct SineIn { freq, phase, reset }
}

crate::node_inputs! {
    /// Frequency in Hz and a trigger that restarts it.
    pub struct FreqIn { freq, reset }
}

crate::node_inputs! {
    /// Frequency in Hz, the part of each cycle that is high (0..1), and a trigger that
    /// restarts it.
    pub struct PulseIn { freq, width, reset }
}

impl super::Node for Sine {
    type Inputs<'a> = SineIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: SineIn, out: &mut [f32], lanes: usize) {
        Sine::process(self, ctx, ins.freq, ins.phase, ins.reset, out, lanes)
    }
}

impl super::Node for Saw {
    type Inputs<'a> = FreqIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: FreqIn, out: &mut [f32], lanes: usize) {
        Saw::process(self, ctx, ins.freq, ins.reset, out, lanes)
    }
}

impl super::Node for Pulse {
    type Inputs<'a> = PulseIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: PulseIn, out: &mut [f32], lanes: usize) {
        Pulse::process(self, ctx, ins.freq, ins.width, ins.reset, out, lanes)
    }
}

impl super::Node for Tri {
    type Inputs<'a> = FreqIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: FreqIn, out: &mut [f32], lanes: usize) {
        Tri::process(self, ctx, ins.freq, ins.reset, out, lanes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustfft::{FftPlanner, num_complex::Complex};

    const SR: usize = 48_000;
    /// Blocks in one second at 48 kHz.
    const SECOND: usize = SR / BLOCK;

    fn ctx() -> Ctx {
        Ctx::new(SR as f32, 120.0)
    }

    /// Renders `blocks` blocks; `f` gets the block index and the output block.
    fn render(blocks: usize, lanes: usize, mut f: impl FnMut(usize, &Ctx, &mut [f32])) -> Vec<f32> {
        let mut c = ctx();
        let mut out = vec![0.0; blocks * BLOCK * lanes];
        for (i, chunk) in out.chunks_exact_mut(BLOCK * lanes).enumerate() {
            f(i, &c, chunk);
            c.frame += BLOCK as u64;
        }
        out
    }

    fn sine_const(freq: impl Fn(usize) -> f32, off: f32, blocks: usize) -> Vec<f32> {
        let mut osc = Sine::new(1);
        render(blocks, 1, |i, c, o| {
            let (fb, pb) = ([freq(i); BLOCK], [off; BLOCK]);
            osc.process(
                c,
                In::constant(&fb, freq(i)),
                In::constant(&pb, off),
                In::ZERO,
                o,
                1,
            );
        })
    }

    /// Same, through the per-sample path: signal inputs that happen to hold constants.
    fn sine_signal(freq: impl Fn(usize) -> f32, off: f32, blocks: usize) -> Vec<f32> {
        let mut osc = Sine::new(1);
        render(blocks, 1, |i, c, o| {
            let (fb, pb) = ([freq(i); BLOCK], [off; BLOCK]);
            osc.process(c, In::signal(&fb, 1), In::signal(&pb, 1), In::ZERO, o, 1);
        })
    }

    fn zero_crossings(x: &[f32]) -> usize {
        x.windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count()
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// Exact samples of sin(2π(φ0 + Σ f/SR)) for per-block frequencies, accumulated in f64.
    fn sine_reference(freq: impl Fn(usize) -> f32, off: f64, blocks: usize) -> Vec<f32> {
        let mut phase = 0.0f64;
        let mut out = Vec::with_capacity(blocks * BLOCK);
        for i in 0..blocks {
            let inc = f64::from(freq(i)) / SR as f64;
            for _ in 0..BLOCK {
                out.push((std::f64::consts::TAU * (phase + off)).sin() as f32);
                phase = (phase + inc).rem_euclid(1.0);
            }
        }
        out
    }

    #[test]
    fn sine_440_crosses_zero_880_times_per_second() {
        for x in [
            sine_const(|_| 440.0, 0.0, SECOND),
            sine_signal(|_| 440.0, 0.0, SECOND),
        ] {
            assert_eq!(x.len(), SR);
            let n = zero_crossings(&x);
            assert!(n.abs_diff(880) <= 1, "{n} crossings");
        }
    }

    #[test]
    fn sine_fast_and_general_paths_agree() {
        let a = sine_const(|_| 440.0, 0.0, SECOND);
        let b = sine_signal(|_| 440.0, 0.0, SECOND);
        let d = max_diff(&a, &b);
        assert!(d < 1e-4, "paths differ by {d}");
        let a = sine_const(|_| 1234.5, 0.3, SECOND);
        let b = sine_signal(|_| 1234.5, 0.3, SECOND);
        assert!(max_diff(&a, &b) < 1e-4);
    }

    #[test]
    fn sine_is_phase_continuous_across_blocks() {
        // Matching an f64 reference over a whole second rules out any per-block phase slip.
        let reference = sine_reference(|_| 440.0, 0.0, SECOND);
        for x in [
            sine_const(|_| 440.0, 0.0, SECOND),
            sine_signal(|_| 440.0, 0.0, SECOND),
        ] {
            let d = max_diff(&x, &reference);
            assert!(d < 2e-6, "off the reference by {d}");
            let max_step = x
                .windows(2)
                .map(|w| (w[1] - w[0]).abs())
                .fold(0.0, f32::max);
            let bound = std::f32::consts::TAU * 440.0 / SR as f32;
            assert!(max_step <= bound * 1.001, "jump {max_step} > {bound}");
        }
    }

    #[test]
    fn sine_frequency_changes_keep_phase_continuous() {
        let freq = |i: usize| [440.0, 660.0, 97.3, -220.0, 5000.0][(i / 37) % 5];
        let blocks = 400;
        let reference = sine_reference(freq, 0.0, blocks);
        let fast = sine_const(freq, 0.0, blocks);
        let general = sine_signal(freq, 0.0, blocks);
        assert!(max_diff(&fast, &reference) < 1e-5);
        assert!(max_diff(&general, &reference) < 1e-5);

        // Alternate the two paths block by block on one oscillator.
        let mut osc = Sine::new(1);
        let mixed = render(blocks, 1, |i, c, o| {
            let (fb, pb) = ([freq(i); BLOCK], [0.0; BLOCK]);
            let f = if i % 3 == 0 {
                In::signal(&fb, 1)
            } else {
                In::constant(&fb, freq(i))
            };
            osc.process(c, f, In::constant(&pb, 0.0), In::ZERO, o, 1);
        });
        let d = max_diff(&mixed, &reference);
        assert!(d < 1e-5, "mixed paths off by {d}");
    }

    #[test]
    fn sine_negative_frequency_runs_backwards_and_offset_shifts_phase() {
        let fwd = sine_const(|_| 300.0, 0.0, 50);
        for back in [
            sine_const(|_| -300.0, 0.0, 50),
            sine_signal(|_| -300.0, 0.0, 50),
        ] {
            let neg: Vec<f32> = fwd.iter().map(|v| -v).collect();
            assert!(max_diff(&back, &neg) < 1e-5);
        }
        // A quarter-cycle offset turns sine into cosine, on both paths.
        let reference = sine_reference(|_| 300.0, 0.25, 50);
        assert!(max_diff(&sine_const(|_| 300.0, 0.25, 50), &reference) < 2e-6);
        assert!(max_diff(&sine_signal(|_| 300.0, 0.25, 50), &reference) < 2e-6);
        assert!((reference[0] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn fast_sin_cycles_error_below_2e6() {
        let mut worst = 0.0f64;
        let n = 6_000_000;
        for i in 0..=n {
            let x = -3.0 + 6.0 * i as f64 / n as f64;
            let xf = x as f32;
            let exact = (std::f64::consts::TAU * f64::from(xf)).sin();
            worst = worst.max((f64::from(fast_sin_cycles(xf)) - exact).abs());
        }
        println!("fast_sin_cycles max error on [-3, 3]: {worst:e}");
        assert!(worst < 2e-6, "max error {worst}");
        assert_eq!(fast_sin_cycles(1e9), 0.0);
        assert!((fast_sin_cycles(1000.25) - 1.0).abs() < 1e-6);
    }

    /// Level in dB of the strongest bin between 20 Hz and 0.9·f0, relative to the peak bin
    /// at the fundamental, from one Hann-windowed second.
    fn alias_level_db(x: &[f32], f0: f64) -> f64 {
        assert_eq!(x.len(), SR);
        let fft = FftPlanner::<f64>::new().plan_fft_forward(SR);
        let mut buf: Vec<Complex<f64>> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / SR as f64).cos();
                Complex::new(f64::from(v) * w, 0.0)
            })
            .collect();
        fft.process(&mut buf);
        let mag: Vec<f64> = buf[..SR / 2].iter().map(|c| c.norm()).collect();
        // One bin is 1 Hz.
        let k0 = f0 as usize;
        let peak = mag[k0 - 2..=k0 + 3].iter().copied().fold(0.0, f64::max);
        let alias = mag[20..(0.9 * f0) as usize]
            .iter()
            .copied()
            .fold(0.0, f64::max);
        20.0 * (alias / peak).log10()
    }

    const F0: f32 = 1234.5;

    /// One second after a short warm-up.
    fn steady(mut block: impl FnMut(&Ctx, &mut [f32])) -> Vec<f32> {
        let x = render(SECOND + 10, 1, |_, c, o| block(c, o));
        x[10 * BLOCK..].to_vec()
    }

    fn naive(f0: f32, shape: impl Fn(f64) -> f32) -> Vec<f32> {
        let inc = f64::from(f0) / SR as f64;
        (0..SR).map(|n| shape((n as f64 * inc).fract())).collect()
    }

    #[test]
    fn saw_aliasing_below_fundamental_is_under_60db() {
        let mut saw = Saw::new(1);
        let fb = [F0; BLOCK];
        let x = steady(|c, o| saw.process(c, In::constant(&fb, F0), In::ZERO, o, 1));
        let db = alias_level_db(&x, f64::from(F0));
        println!("saw alias level: {db:.1} dB");
        assert!(db < -60.0, "saw aliasing at {db:.1} dB");
    }

    #[test]
    fn naive_saw_fails_the_alias_check() {
        let x = naive(F0, |p| (2.0 * p - 1.0) as f32);
        let db = alias_level_db(&x, f64::from(F0));
        println!("naive saw alias level: {db:.1} dB");
        assert!(db > -60.0, "naive saw passed at {db:.1} dB");
    }

    #[test]
    fn square_aliasing_below_fundamental_is_under_60db() {
        let mut sq = Pulse::new(1);
        let (fb, wb) = ([F0; BLOCK], [0.5; BLOCK]);
        let x = steady(|c, o| {
            sq.process(
                c,
                In::constant(&fb, F0),
                In::constant(&wb, 0.5),
                In::ZERO,
                o,
                1,
            )
        });
        let db = alias_level_db(&x, f64::from(F0));
        println!("square alias level: {db:.1} dB");
        assert!(db < -60.0, "square aliasing at {db:.1} dB");
    }

    #[test]
    fn naive_square_fails_the_alias_check() {
        let x = naive(F0, |p| if p < 0.5 { 1.0 } else { -1.0 });
        let db = alias_level_db(&x, f64::from(F0));
        println!("naive square alias level: {db:.1} dB");
        assert!(db > -60.0, "naive square passed at {db:.1} dB");
    }

    fn mean(x: &[f32]) -> f64 {
        x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64
    }

    #[test]
    fn pulse_mean_follows_width() {
        for w in [0.05, 0.1, 0.25, 0.5, 0.7, 0.9, 0.99] {
            let mut p = Pulse::new(1);
            let (fb, wb) = ([441.0; BLOCK], [w; BLOCK]);
            let x = render(SECOND, 1, |_, c, o| {
                p.process(
                    c,
                    In::constant(&fb, 441.0),
                    In::signal(&wb, 1),
                    In::ZERO,
                    o,
                    1,
                )
            });
            let m = mean(&x);
            let want = 2.0 * f64::from(w) - 1.0;
            assert!((m - want).abs() < 0.01, "width {w}: mean {m}, want {want}");
        }
        // Out-of-range widths are clamped rather than silencing the oscillator.
        let mut p = Pulse::new(1);
        let (fb, wb) = ([441.0; BLOCK], [0.0; BLOCK]);
        let x = render(SECOND, 1, |_, c, o| {
            p.process(
                c,
                In::constant(&fb, 441.0),
                In::constant(&wb, 0.0),
                In::ZERO,
                o,
                1,
            )
        });
        assert!((mean(&x) + 0.98).abs() < 0.01);
    }

    #[test]
    fn saw_rises_between_its_jumps_and_tri_is_a_triangle() {
        let mut saw = Saw::new(1);
        let fb = [100.0; BLOCK];
        let x = render(75, 1, |_, c, o| {
            saw.process(c, In::constant(&fb, 100.0), In::ZERO, o, 1)
        });
        // 480 frames a cycle: away from the ringing after each jump it rises at the naive
        // rate, 2/480 per frame, and it spans ±1 with the ringing's overshoot.
        let steady = x
            .windows(2)
            .enumerate()
            .filter(|&(i, _)| i % 480 >= super::super::sinc::TAPS + 8)
            .all(|(_, w)| ((w[1] - w[0]) - 2.0 / 480.0).abs() < 1e-4);
        assert!(steady);
        let (lo, hi) = x
            .iter()
            .fold((0.0f32, 0.0f32), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(
            (-1.45..-0.98).contains(&lo) && (0.98..1.45).contains(&hi),
            "{lo} {hi}"
        );
        // Ten cycles hold nine jumps: the missing one's residual leaves 2·delay/4800.
        assert!(mean(&x).abs() < 2e-3);

        let mut tri = Tri::new(1);
        let x = render(75, 1, |_, c, o| {
            tri.process(c, In::constant(&fb, 100.0), In::ZERO, o, 1)
        });
        // The band-limited triangle is the naive one a fraction of a frame later (the
        // kernel's delay) but for the few frames after each corner; 75 blocks is 10 cycles.
        let lag = f64::from(super::super::sinc::tables().delay) * 100.0 / SR as f64;
        let want = naive(100.0, |p| {
            let p = (p - lag).rem_euclid(1.0);
            (1.0 - 4.0 * (p - 0.5).abs()) as f32
        });
        // From the second block: it starts from rest, a corner the running form lacks.
        assert!(max_diff(&x[BLOCK..], &want[BLOCK..x.len()]) < 0.01);
        assert!(mean(&x).abs() < 1e-3);
    }

    /// Every oscillator through one signal input, for frequency sweeps and edge cases.
    fn render_all(freqs: &[f32], width: f32) -> [Vec<f32>; 4] {
        let blocks = freqs.len() / BLOCK;
        let (mut s, mut w, mut p, mut t) = (Sine::new(1), Saw::new(1), Pulse::new(1), Tri::new(1));
        let wb = [width; BLOCK];
        let off = [0.0; BLOCK];
        let f = |i: usize| In::signal(&freqs[i * BLOCK..(i + 1) * BLOCK], 1);
        [
            render(blocks, 1, |i, c, o| {
                s.process(c, f(i), In::signal(&off, 1), In::ZERO, o, 1)
            }),
            render(blocks, 1, |i, c, o| w.process(c, f(i), In::ZERO, o, 1)),
            render(blocks, 1, |i, c, o| {
                p.process(c, f(i), In::constant(&wb, width), In::ZERO, o, 1)
            }),
            render(blocks, 1, |i, c, o| t.process(c, f(i), In::ZERO, o, 1)),
        ]
    }

    #[test]
    fn oscillators_stay_bounded_beyond_nyquist() {
        let edge = [
            0.0, 1.0, 12_000.0, 16_000.0, 23_999.0, 24_000.0, 24_001.0, 30_000.0, 47_999.0,
            48_000.0, 50_000.0, 1e6, 3.3e9, -5.0, -23_999.0, -30_000.0, -1e7,
        ];
        let mut freqs: Vec<f32> = edge.iter().flat_map(|&f| [f; 8 * BLOCK]).collect();
        // An exponential sweep from 20 Hz to 200 kHz, changing every sample.
        freqs.extend((0..SR).map(|n| 20.0 * 10f32.powf(4.0 * n as f32 / SR as f32)));
        freqs.truncate(freqs.len() / BLOCK * BLOCK);
        for width in [0.01, 0.3, 0.5, 0.99] {
            for (name, x) in ["sine", "saw", "pulse", "tri"]
                .iter()
                .zip(render_all(&freqs, width))
            {
                let worst = x.iter().fold(0.0f32, |m, &v| {
                    if v.is_finite() {
                        m.max(v.abs())
                    } else {
                        f32::INFINITY
                    }
                });
                // Band-limited jumps ring: a saw or square peaks near 1.45, and a pulse a few
                // frames wide, whose two jumps ring together, near 1.7.
                // A leap past 0.45 of the sample rate, where band-limiting stops, meets the
                // residuals still in flight: up to about 2.4 here.
                assert!(worst <= 3.0, "{name} (width {width}) reached {worst}");
            }
        }
        // Constant-path edge cases for the sine.
        for f in edge {
            let x = sine_const(|_| f, 0.0, 8);
            assert!(x.iter().all(|v| v.abs() <= 1.0 + 1e-5), "sine at {f}");
        }
    }

    #[test]
    fn lanes_match_single_lane_renders() {
        const LANES: usize = 4;
        let lane_freq = [110.0, 220.5, 3000.0, -500.0];
        let lane_width = [0.1, 0.5, 0.73, 0.99];
        let lane_off = [0.0, 0.25, 0.6, 0.9];
        // Per-lane signals in sample-major order, with a little vibrato so they move.
        let interleave = |v: &[f32; LANES], depth: f32| -> Vec<f32> {
            (0..BLOCK * LANES)
                .map(|k| v[k % LANES] * (1.0 + depth * ((k / LANES) as f32 * 0.1).sin()))
                .collect()
        };
        let fb = interleave(&lane_freq, 0.01);
        let wb = interleave(&lane_width, 0.0);
        let ob = interleave(&lane_off, 0.0);
        let lane = |buf: &[f32], l: usize| -> Vec<f32> {
            buf.iter().skip(l).step_by(LANES).copied().collect()
        };

        type Runner = Box<dyn FnMut(&Ctx, In, In, In, &mut [f32], usize)>;
        type Maker = fn(usize) -> Runner;
        let makers: [(&str, Maker); 4] = [
            ("sine", |n| {
                let mut o = Sine::new(n);
                Box::new(move |c, f, _, ph, out, l| o.process(c, f, ph, In::ZERO, out, l))
            }),
            ("saw", |n| {
                let mut o = Saw::new(n);
                Box::new(move |c, f, _, _, out, l| o.process(c, f, In::ZERO, out, l))
            }),
            ("pulse", |n| {
                let mut o = Pulse::new(n);
                Box::new(move |c, f, w, _, out, l| o.process(c, f, w, In::ZERO, out, l))
            }),
            ("tri", |n| {
                let mut o = Tri::new(n);
                Box::new(move |c, f, _, _, out, l| o.process(c, f, In::ZERO, out, l))
            }),
        ];
        for (name, make) in makers {
            let mut multi = make(LANES);
            let wide = render(40, LANES, |_, c, o| {
                multi(
                    c,
                    In::signal(&fb, LANES),
                    In::signal(&wb, LANES),
                    In::signal(&ob, LANES),
                    o,
                    LANES,
                )
            });
            for l in 0..LANES {
                let (f1, w1, o1) = (lane(&fb, l), lane(&wb, l), lane(&ob, l));
                let mut single = make(1);
                let alone = render(40, 1, |_, c, o| {
                    single(
                        c,
                        In::signal(&f1, 1),
                        In::signal(&w1, 1),
                        In::signal(&o1, 1),
                        o,
                        1,
                    )
                });
                assert_eq!(lane(&wide, l), alone, "{name} lane {l}");
            }
        }
        // Shared constant inputs on a multi-lane node give every lane the mono render.
        let mut s4 = Sine::new(LANES);
        let (cb, zb) = ([440.0; BLOCK], [0.0; BLOCK]);
        let wide = render(20, LANES, |_, c, o| {
            s4.process(
                c,
                In::constant(&cb, 440.0),
                In::constant(&zb, 0.0),
                In::ZERO,
                o,
                LANES,
            )
        });
        let mono = sine_const(|_| 440.0, 0.0, 20);
        for l in 0..LANES {
            assert_eq!(lane(&wide, l), mono);
        }
    }
}
