//! Filters: state-variable low/high/band-pass and notch, and a ladder low-pass; run on the audio thread.
//!
//! Both filters are zero-delay-feedback designs discretised with the trapezoidal rule
//! (topology-preserving transform), so their cutoff can be modulated every sample without the
//! blow-ups of direct-form biquads, whose coefficients are only stable as a set.
//!
//! Parameter rules shared by both filters (applied per sample, per lane):
//! - cutoff is clamped to `[5 Hz, 0.49 * sample_rate]`; NaN and -inf read as 5 Hz, +inf as the top;
//! - SVF Q is clamped to `[0.05, 100]`, ladder resonance to `[0, 1]`; NaN reads as the lower bound;
//! - a non-finite audio input sample is read as 0, so it cannot poison the filter state.
//!
//! When cutoff and Q/resonance are both constant for a block the coefficients are computed once
//! with an exact `tan`; otherwise they are computed per lane and sample with [`fast_tan`], whose
//! cutoff error is below 6e-5 relative (< 0.1 cent; < 1e-6 below 1 kHz at 48 kHz).

use super::{BLOCK, Ctx, In, clamp_nan_lo, finite_or_zero};
use std::f32::consts::PI;

const MIN_CUTOFF: f32 = 5.0;
const MAX_CUTOFF_RATIO: f32 = 0.49;
const MIN_Q: f32 = 0.05;
const MAX_Q: f32 = 100.0;

// tan(x) = x * R(x^2) / (pi^2/4 - x^2): dividing out the pole at pi/2 leaves R smooth (its next
// singularity is at 3pi/2), so a quadratic in x^2 is enough. R(0) is pinned to pi^2/4, making
// the error vanish towards low cutoffs where most musical settings live (< 1e-6 below 1 kHz at
// 48 kHz); the other two terms minimise the maximum relative error, 5.6e-5 at the top of the
// range. Fitted by iteratively reweighted least squares (Lawson) in f64. A cubic reaches 1.5e-6
// everywhere but costs two more vector operations in the hottest loop (~7% of the SVF) for a
// cutoff error already below 0.1 cent.
const TAN_C0: f64 = PI_SQ_4;
const TAN_C1: f64 = -0.176_968_702_664_458_8;
const TAN_C2: f64 = -0.005_032_216_018_795_698_5;
const PI_SQ_4: f64 = std::f64::consts::FRAC_PI_2 * std::f64::consts::FRAC_PI_2;

/// The fast tan with the Hz-to-radians scale `r = pi/fs` folded into its constants, so the
/// per-sample path starts straight from the cutoff in Hz. Numerator and denominator are both
/// divided by `r^2`, which leaves their ratio `tan(r*f)` unchanged.
#[derive(Clone, Copy)]
struct TanScale {
    c0: f32,
    c1: f32,
    c2: f32,
    pole: f32,
}

impl TanScale {
    const UNIT: TanScale = TanScale {
        c0: TAN_C0 as f32,
        c1: TAN_C1 as f32,
        c2: TAN_C2 as f32,
        pole: PI_SQ_4 as f32,
    };

    fn per_hz(sample_rate: f32) -> Self {
        let r = std::f64::consts::PI / sample_rate as f64;
        TanScale {
            c0: (TAN_C0 / r) as f32,
            c1: (TAN_C1 * r) as f32,
            c2: (TAN_C2 * r * r * r) as f32,
            pole: (PI_SQ_4 / (r * r)) as f32,
        }
    }

    /// `tan(r*f)` as numerator and denominator, so callers can fold the division into the one
    /// they need anyway for the filter coefficients.
    #[inline(always)]
    fn ratio(self, f: f32) -> (f32, f32) {
        let y = f * f;
        (f * (self.c0 + y * (self.c1 + y * self.c2)), self.pole - y)
    }
}

/// Rational approximation of `tan(x)` for `|x| <= 0.49 * pi`, relative error below 6e-5.
/// Branch-free, so it vectorises; outside that range it degrades and has a pole at `pi/2`.
#[inline(always)]
pub fn fast_tan(x: f32) -> f32 {
    let (n, d) = TanScale::UNIT.ratio(x);
    n / d
}

/// Exact prewarped integrator gain for block-constant coefficients.
fn exact_g(cutoff: f32, sample_rate: f32) -> f32 {
    let fc = clamp_nan_lo(cutoff, MIN_CUTOFF, MAX_CUTOFF_RATIO * sample_rate);
    (PI as f64 * fc as f64 / sample_rate as f64).tan() as f32
}

/// One lane's value of an input at one frame: either shared by all lanes (`f32`) or a row of
/// per-lane values. Generic so each layout gets its own branch-free lane loop.
trait Row: Copy {
    fn at(self, l: usize) -> f32;
}

impl Row for f32 {
    #[inline(always)]
    fn at(self, _l: usize) -> f32 {
        self
    }
}

impl Row for &[f32] {
    #[inline(always)]
    fn at(self, l: usize) -> f32 {
        self[l]
    }
}

/// Value of a shared (one-lane) input at frame `s`; the constant wins so that a `konst` input
/// never depends on its backing buffer.
#[inline(always)]
fn shared_at(inp: &In, s: usize) -> f32 {
    match inp.konst {
        Some(v) => v,
        None => inp.data[s],
    }
}

/// Frame `s` of a per-lane input (`inp.lanes == lanes`).
#[inline(always)]
fn row_at<'a>(inp: &In<'a>, s: usize, lanes: usize) -> &'a [f32] {
    &inp.data[s * lanes..][..lanes]
}

/// Run `$body` with `$x` bound to a per-frame accessor of `$inp`, specialised on its layout:
/// one monomorphised loop for a shared input and one for a per-lane input.
macro_rules! with_rows {
    ($inp:expr, $lanes:expr, |$x:ident| $body:expr) => {{
        let inp = $inp;
        let lanes = $lanes;
        if inp.lanes == 1 || inp.konst.is_some() {
            let $x = move |s: usize| shared_at(&inp, s);
            $body
        } else {
            debug_assert_eq!(
                inp.lanes, lanes,
                "input lanes must be 1 or the node's lanes"
            );
            debug_assert!(inp.data.len() >= BLOCK * lanes);
            let $x = move |s: usize| row_at(&inp, s, lanes);
            $body
        }
    }};
}

// ---------------------------------------------------------------------------------------------
// State-variable filter
// ---------------------------------------------------------------------------------------------

/// Which response the state-variable filter outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SvfMode {
    Low,
    High,
    /// Band-pass normalised to unity gain at the centre (`k * v1`, not the raw `v1` whose peak
    /// gain is Q), so raising Q narrows the band without making it louder.
    Band,
    Notch,
}

// Modes as const-generic parameters so the per-sample output mix is resolved at compile time.
const LOW: u8 = 0;
const HIGH: u8 = 1;
const BAND: u8 = 2;
const NOTCH: u8 = 3;

/// Coefficients of Simper's trapezoidal SVF, `g = tan(pi*fc/fs)`, damping `k = 1/Q`.
///
/// Simper's update is `v1 = a1*ic1 + a2*v3`, `v2 = ic2 + a2*ic1 + a3*v3` with
/// `a1 = 1/(1+g(g+k))`, `a2 = g*a1`, `a3 = g*a2`. Writing `g = p/d` (the fast tan's own ratio)
/// and `D = d^2 + p(p + k*d)`, both share the factor `t = d*ic1 + p*v3`:
/// `v1 = (d/D)*t`, `v2 = ic2 + (p/D)*t`. That needs one division and three fewer operations
/// per lane-sample than forming `a1..a3`.
#[derive(Clone, Copy, Default)]
struct SvfCoef {
    d: f32,
    p: f32,
    e1: f32,
    e2: f32,
    k: f32,
}

impl SvfCoef {
    #[inline(always)]
    fn from_ratio(p: f32, d: f32, k: f32) -> Self {
        let inv = 1.0 / (d * d + p * (p + k * d));
        SvfCoef {
            d,
            p,
            e1: d * inv,
            e2: p * inv,
            k,
        }
    }

    fn exact(cutoff: f32, q: f32, sample_rate: f32) -> Self {
        let g = exact_g(cutoff, sample_rate);
        SvfCoef::from_ratio(g, 1.0, 1.0 / clamp_nan_lo(q, MIN_Q, MAX_Q))
    }
}

/// Per-lane coefficient source for one frame.
trait SvfCoefs: Copy {
    fn at(self, l: usize) -> SvfCoef;
}

impl SvfCoefs for SvfCoef {
    #[inline(always)]
    fn at(self, _l: usize) -> SvfCoef {
        self
    }
}

/// Coefficients recomputed from modulated cutoff/Q. When a field is a shared `f32`, its part of
/// the computation is loop-invariant and the compiler hoists it out of the lane loop.
#[derive(Clone, Copy)]
struct SvfModulated<F, Q> {
    cutoff: F,
    q: Q,
    tan: TanScale,
    max_cutoff: f32,
}

impl<F: Row, Q: Row> SvfCoefs for SvfModulated<F, Q> {
    #[inline(always)]
    fn at(self, l: usize) -> SvfCoef {
        let fc = clamp_nan_lo(self.cutoff.at(l), MIN_CUTOFF, self.max_cutoff);
        let k = 1.0 / clamp_nan_lo(self.q.at(l), MIN_Q, MAX_Q);
        let (p, d) = self.tan.ratio(fc);
        SvfCoef::from_ratio(p, d, k)
    }
}

/// Coefficients worked out per lane once per block.
impl SvfCoefs for &[SvfCoef] {
    #[inline(always)]
    fn at(self, l: usize) -> SvfCoef {
        self[l]
    }
}

/// Zero-delay-feedback state-variable filter (Andrew Simper, Cytomic "SvfLinearTrapOptimised2"),
/// `lanes` independent copies with their state stored structure-of-arrays.
pub struct Svf {
    mode: SvfMode,
    ic1eq: Vec<f32>,
    ic2eq: Vec<f32>,
    /// Per-lane coefficients, for cutoffs and Qs that differ per lane but hold still.
    coefs: Vec<SvfCoef>,
}

impl Svf {
    pub fn new(mode: SvfMode, lanes: usize) -> Self {
        Svf {
            mode,
            ic1eq: vec![0.0; lanes],
            ic2eq: vec![0.0; lanes],
            coefs: vec![SvfCoef::default(); lanes],
        }
    }

    /// Clear the state of every lane (e.g. when a voice is re-used).
    pub fn reset(&mut self) {
        self.ic1eq.fill(0.0);
        self.ic2eq.fill(0.0);
    }

    /// Filter one block. `lanes` must equal the count given to `new`; `out.len()` must be
    /// `BLOCK * lanes`; each input has 1 lane (shared) or `lanes` lanes. `q` is the quality
    /// factor (0.707 = Butterworth for low/high-pass).
    pub fn process(
        &mut self,
        ctx: &Ctx,
        input: In,
        cutoff: In,
        q: In,
        out: &mut [f32],
        lanes: usize,
    ) {
        match self.mode {
            SvfMode::Low => self.run::<LOW>(ctx, input, cutoff, q, out, lanes),
            SvfMode::High => self.run::<HIGH>(ctx, input, cutoff, q, out, lanes),
            SvfMode::Band => self.run::<BAND>(ctx, input, cutoff, q, out, lanes),
            SvfMode::Notch => self.run::<NOTCH>(ctx, input, cutoff, q, out, lanes),
        }
    }

    fn run<const M: u8>(
        &mut self,
        ctx: &Ctx,
        input: In,
        cutoff: In,
        q: In,
        out: &mut [f32],
        lanes: usize,
    ) {
        debug_assert!(lanes <= self.ic1eq.len(), "more lanes than Svf::new made");
        debug_assert_eq!(out.len(), BLOCK * lanes);
        if lanes == 0 {
            return;
        }
        let ic1 = &mut self.ic1eq[..lanes];
        let ic2 = &mut self.ic2eq[..lanes];
        let out = &mut out[..BLOCK * lanes];
        let sr = ctx.sample_rate;
        let steady = cutoff.steady && q.steady;

        if let (Some(fc), Some(qv), 1) = (cutoff.konst, q.konst, lanes) {
            // One voice, fixed coefficients: the state stays in registers for the block.
            let SvfCoef { d, p, e1, e2, k } = SvfCoef::exact(fc, qv, sr);
            let (mut s1, mut s2) = (ic1[0], ic2[0]);
            for (f, o) in out.iter_mut().enumerate() {
                let v0 = finite_or_zero(input.at(f, 0));
                let v3 = v0 - s2;
                let t = d * s1 + p * v3;
                let v1 = e1 * t;
                let v2 = s2 + e2 * t;
                s1 = 2.0 * v1 - s1;
                s2 = 2.0 * v2 - s2;
                *o = match M {
                    LOW => v2,
                    HIGH => v0 - k * v1 - v2,
                    BAND => k * v1,
                    _ => v0 - k * v1,
                };
            }
            ic1[0] = s1;
            ic2[0] = s2;
        } else if let (Some(fc), Some(qv)) = (cutoff.konst, q.konst) {
            let c = SvfCoef::exact(fc, qv, sr);
            with_rows!(input, lanes, |x| svf_frames::<M, _, _>(
                ic1,
                ic2,
                out,
                x,
                |_| c
            ));
        } else if steady {
            // Each voice holds its own cutoff: the same exact coefficients a voice alone
            // would get, once per lane and block.
            let coefs = &mut self.coefs[..lanes];
            for (l, c) in coefs.iter_mut().enumerate() {
                *c = SvfCoef::exact(cutoff.at(0, l), q.at(0, l), sr);
            }
            let c: &[SvfCoef] = coefs;
            with_rows!(input, lanes, |x| svf_frames::<M, _, _>(
                ic1,
                ic2,
                out,
                x,
                |_| c
            ));
        } else {
            let tan = TanScale::per_hz(sr);
            let max_cutoff = MAX_CUTOFF_RATIO * sr;
            with_rows!(cutoff, lanes, |f| with_rows!(q, lanes, |qq| with_rows!(
                input,
                lanes,
                |x| svf_frames::<M, _, _>(ic1, ic2, out, x, |s| SvfModulated {
                    cutoff: f(s),
                    q: qq(s),
                    tan,
                    max_cutoff,
                })
            )));
        }

        // Inputs are sanitised and coefficients bounded, so only an overflow from absurdly large
        // (finite) input can get here; checked per block because it is not worth a per-sample cost.
        for (a, b) in ic1.iter_mut().zip(ic2.iter_mut()) {
            if !(a.is_finite() && b.is_finite()) {
                *a = 0.0;
                *b = 0.0;
            }
        }
    }
}

/// The hot loop: frames outer, lanes inner over equal-length slices, no branches, so the lane
/// loop vectorises across voices.
#[inline(always)]
fn svf_frames<const M: u8, X: Row, C: SvfCoefs>(
    ic1: &mut [f32],
    ic2: &mut [f32],
    out: &mut [f32],
    x_at: impl Fn(usize) -> X,
    c_at: impl Fn(usize) -> C,
) {
    let n = ic1.len();
    let ic2 = &mut ic2[..n];
    for (s, o) in out.chunks_exact_mut(n).enumerate() {
        let x = x_at(s);
        let c = c_at(s);
        for l in 0..n {
            let SvfCoef { d, p, e1, e2, k } = c.at(l);
            let v0 = finite_or_zero(x.at(l));
            let s1 = ic1[l];
            let s2 = ic2[l];
            let v3 = v0 - s2;
            let t = d * s1 + p * v3;
            let v1 = e1 * t;
            let v2 = s2 + e2 * t;
            ic1[l] = 2.0 * v1 - s1;
            ic2[l] = 2.0 * v2 - s2;
            o[l] = match M {
                LOW => v2,
                HIGH => v0 - k * v1 - v2,
                BAND => k * v1,
                _ => v0 - k * v1,
            };
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Ladder
// ---------------------------------------------------------------------------------------------

/// Coefficients of the TPT ladder: one-pole gain `G = g/(1+g)`, state weight `h = 1/(1+g)`,
/// feedback `k`, and `m = 1/(1 + k*G^4)` which solves the zero-delay feedback loop.
#[derive(Clone, Copy, Default)]
struct LadderCoef {
    big_g: f32,
    h: f32,
    k: f32,
    m: f32,
}

impl LadderCoef {
    fn exact(cutoff: f32, res: f32, sample_rate: f32) -> Self {
        let g = exact_g(cutoff, sample_rate);
        let k = 4.0 * clamp_nan_lo(res, 0.0, 1.0);
        let h = 1.0 / (1.0 + g);
        let big_g = g * h;
        let g2 = big_g * big_g;
        LadderCoef {
            big_g,
            h,
            k,
            m: 1.0 / (1.0 + k * g2 * g2),
        }
    }
}

trait LadderCoefs: Copy {
    fn at(self, l: usize) -> LadderCoef;
}

/// Coefficients worked out per lane once per block.
impl LadderCoefs for &[LadderCoef] {
    #[inline(always)]
    fn at(self, l: usize) -> LadderCoef {
        self[l]
    }
}

impl LadderCoefs for LadderCoef {
    #[inline(always)]
    fn at(self, _l: usize) -> LadderCoef {
        self
    }
}

#[derive(Clone, Copy)]
struct LadderModulated<F, R> {
    cutoff: F,
    res: R,
    rad_per_hz: f32,
    max_cutoff: f32,
}

impl<F: Row, R: Row> LadderCoefs for LadderModulated<F, R> {
    #[inline(always)]
    fn at(self, l: usize) -> LadderCoef {
        let fc = clamp_nan_lo(self.cutoff.at(l), MIN_CUTOFF, self.max_cutoff);
        let k = 4.0 * clamp_nan_lo(self.res.at(l), 0.0, 1.0);
        // g = p/d; with e = p + d and E = e^4 + k p^4: G = p/e, h = d/e, m = e^4/E.
        // Both 1/e and 1/E come out of the single division 1/(e*E).
        // Unit scale here: the per-Hz one would overflow e^4 * E below.
        let (p, d) = TanScale::UNIT.ratio(fc * self.rad_per_hz);
        let e = p + d;
        let e2 = e * e;
        let e4 = e2 * e2;
        let p2 = p * p;
        let big_e = e4 + k * p2 * p2;
        let r = 1.0 / (e * big_e);
        let inv_e = big_e * r;
        LadderCoef {
            big_g: p * inv_e,
            h: d * inv_e,
            k,
            m: e4 * e * r,
        }
    }
}

/// Soft clip shaped like tanh (Padé-style `x(27+x^2)/(27+9x^2)`, exactly +-1 at +-3 with zero
/// slope there). Bounds the ladder's drive, and hence its state, even while self-oscillating.
#[inline(always)]
fn soft_clip(x: f32) -> f32 {
    let x = clamp_nan_lo(x, -3.0, 3.0);
    let x2 = x * x;
    x * (27.0 + x2) / (27.0 + 9.0 * x2)
}

/// 4-pole Moog-style ladder low-pass: four TPT one-poles (Zavalishin) with the global feedback
/// loop solved linearly, then the resulting first-stage drive soft-clipped.
///
/// `res` 0..1 maps to loop gain `k = 4*res`; it self-oscillates as `res` approaches 1. There is
/// no passband gain compensation: like the analogue original, the low end drops to `1/(1+4*res)`
/// (about -14 dB at res 1) as resonance rises. The saturation keeps the output bounded whatever
/// the input level (around +-1; cutoffs above fs/4 can overshoot that somewhat), and input levels
/// above about 0.5 start to colour the sound.
pub struct Ladder {
    s1: Vec<f32>,
    s2: Vec<f32>,
    s3: Vec<f32>,
    s4: Vec<f32>,
    /// Per-lane coefficients, for cutoffs and resonances that differ per lane but hold still.
    coefs: Vec<LadderCoef>,
}

impl Ladder {
    pub fn new(lanes: usize) -> Self {
        Ladder {
            s1: vec![0.0; lanes],
            s2: vec![0.0; lanes],
            s3: vec![0.0; lanes],
            s4: vec![0.0; lanes],
            coefs: vec![LadderCoef::default(); lanes],
        }
    }

    /// Clear the state of every lane.
    pub fn reset(&mut self) {
        for s in [&mut self.s1, &mut self.s2, &mut self.s3, &mut self.s4] {
            s.fill(0.0);
        }
    }

    /// Filter one block; same layout contract as [`Svf::process`]. `res` is 0..1.
    pub fn process(
        &mut self,
        ctx: &Ctx,
        input: In,
        cutoff: In,
        res: In,
        out: &mut [f32],
        lanes: usize,
    ) {
        debug_assert!(lanes <= self.s1.len(), "more lanes than Ladder::new made");
        debug_assert_eq!(out.len(), BLOCK * lanes);
        if lanes == 0 {
            return;
        }
        let st = [
            &mut self.s1[..lanes],
            &mut self.s2[..lanes],
            &mut self.s3[..lanes],
            &mut self.s4[..lanes],
        ];
        let out = &mut out[..BLOCK * lanes];
        let sr = ctx.sample_rate;

        // No non-finite-state reset needed here, unlike the SVF: the drive is clipped to +-1 and
        // each trapezoidal one-pole maps bounded input to bounded state, so it cannot overflow.
        if let (Some(fc), Some(r)) = (cutoff.konst, res.konst) {
            let c = LadderCoef::exact(fc, r, sr);
            with_rows!(input, lanes, |x| ladder_frames(st, out, x, |_| c));
        } else if cutoff.steady && res.steady {
            // Per-voice but still: each lane gets the coefficients it would get alone.
            let coefs = &mut self.coefs[..lanes];
            for (l, c) in coefs.iter_mut().enumerate() {
                *c = LadderCoef::exact(cutoff.at(0, l), res.at(0, l), sr);
            }
            let c: &[LadderCoef] = coefs;
            with_rows!(input, lanes, |x| ladder_frames(st, out, x, |_| c));
        } else {
            let rad_per_hz = PI / sr;
            let max_cutoff = MAX_CUTOFF_RATIO * sr;
            with_rows!(cutoff, lanes, |f| with_rows!(res, lanes, |rr| with_rows!(
                input,
                lanes,
                |x| ladder_frames(st, out, x, |s| LadderModulated {
                    cutoff: f(s),
                    res: rr(s),
                    rad_per_hz,
                    max_cutoff,
                })
            )));
        }
    }
}

#[inline(always)]
fn ladder_frames<X: Row, C: LadderCoefs>(
    st: [&mut [f32]; 4],
    out: &mut [f32],
    x_at: impl Fn(usize) -> X,
    c_at: impl Fn(usize) -> C,
) {
    let [s1, s2, s3, s4] = st;
    let n = s1.len();
    let (s2, s3, s4) = (&mut s2[..n], &mut s3[..n], &mut s4[..n]);
    for (s, o) in out.chunks_exact_mut(n).enumerate() {
        let x = x_at(s);
        let c = c_at(s);
        for l in 0..n {
            let LadderCoef { big_g, h, k, m } = c.at(l);
            let xin = finite_or_zero(x.at(l));
            // Output of the cascade is y4 = G^4 u + sigma; sigma is the states' contribution.
            let sigma = h * (big_g * (big_g * (big_g * s1[l] + s2[l]) + s3[l]) + s4[l]);
            let u = soft_clip((xin - k * sigma) * m);
            let v = (u - s1[l]) * big_g;
            let y1 = v + s1[l];
            s1[l] = y1 + v;
            let v = (y1 - s2[l]) * big_g;
            let y2 = v + s2[l];
            s2[l] = y2 + v;
            let v = (y2 - s3[l]) * big_g;
            let y3 = v + s3[l];
            s3[l] = y3 + v;
            let v = (y3 - s4[l]) * big_g;
            let y4 = v + s4[l];
            s4[l] = y4 + v;
            o[l] = y4;
        }
    }
}

impl super::Carry for Svf {
    fn carry_from(&mut self, old: &Self) -> bool {
        super::copy_lanes(&mut self.ic1eq, &old.ic1eq)
            && super::copy_lanes(&mut self.ic2eq, &old.ic2eq)
    }

    fn carry_lanes(&mut self, old: &Self, to: usize, from: usize, n: usize) -> bool {
        super::copy_range(&mut self.ic1eq, &old.ic1eq, to, from, n)
            && super::copy_range(&mut self.ic2eq, &old.ic2eq, to, from, n)
    }
}

impl super::Carry for Ladder {
    fn carry_from(&mut self, old: &Self) -> bool {
        super::copy_lanes(&mut self.s1, &old.s1)
            && super::copy_lanes(&mut self.s2, &old.s2)
            && super::copy_lanes(&mut self.s3, &old.s3)
            && super::copy_lanes(&mut self.s4, &old.s4)
    }

    fn carry_lanes(&mut self, old: &Self, to: usize, from: usize, n: usize) -> bool {
        [
            (&mut self.s1, &old.s1),
            (&mut self.s2, &old.s2),
            (&mut self.s3, &old.s3),
            (&mut self.s4, &old.s4),
        ]
        .into_iter()
        .all(|(d, s)| super::copy_range(d, s, to, from, n))
    }
}

crate::node_inputs! {
    /// The signal, the cutoff in Hz and the resonance (q, or 0..1 for the ladder).
    pub struct FilterIn { x, cut, q }
}

impl super::Node for Svf {
    type Inputs<'a> = FilterIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: FilterIn, out: &mut [f32], lanes: usize) {
        Svf::process(self, ctx, ins.x, ins.cut, ins.q, out, lanes)
    }
}

impl super::Node for Ladder {
    type Inputs<'a> = FilterIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: FilterIn, out: &mut [f32], lanes: usize) {
        Ladder::process(self, ctx, ins.x, ins.cut, ins.q, out, lanes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: f32 = 48_000.0;

    fn ctx() -> Ctx {
        Ctx::new(SR, 120.0)
    }

    fn sine(freq: f32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (2.0 * std::f64::consts::PI * freq as f64 * i as f64 / SR as f64).sin() as f32)
            .collect()
    }

    /// Hand-written LCG so the tests need no dependencies; uniform in [-1, 1).
    fn noise(len: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt() as f32
    }

    enum Filt {
        Svf(Svf),
        Ladder(Ladder),
    }

    impl Filt {
        fn block(&mut self, input: In, cutoff: In, p: In, out: &mut [f32], lanes: usize) {
            match self {
                Filt::Svf(f) => f.process(&ctx(), input, cutoff, p, out, lanes),
                Filt::Ladder(f) => f.process(&ctx(), input, cutoff, p, out, lanes),
            }
        }
    }

    /// Run one lane over a whole signal; `None` in a parameter slot means "use this constant"
    /// (konst path), `Some(signal)` a per-sample signal.
    fn run_mono(
        filt: &mut Filt,
        input: &[f32],
        cutoff: (f32, Option<&[f32]>),
        param: (f32, Option<&[f32]>),
    ) -> Vec<f32> {
        assert_eq!(input.len() % BLOCK, 0);
        let cbuf = [cutoff.0; BLOCK];
        let pbuf = [param.0; BLOCK];
        let mut out = vec![0.0; input.len()];
        for (b, (x, o)) in input
            .chunks_exact(BLOCK)
            .zip(out.chunks_exact_mut(BLOCK))
            .enumerate()
        {
            let range = b * BLOCK..(b + 1) * BLOCK;
            let c = match cutoff.1 {
                Some(sig) => In::signal(&sig[range.clone()], 1),
                None => In::constant(&cbuf, cutoff.0),
            };
            let p = match param.1 {
                Some(sig) => In::signal(&sig[range], 1),
                None => In::constant(&pbuf, param.0),
            };
            filt.block(In::signal(x, 1), c, p, o, 1);
        }
        out
    }

    /// Steady-state gain in dB of a filter at `freq` with constant parameters.
    fn gain_db(mut filt: Filt, freq: f32, cutoff: f32, param: f32) -> f32 {
        let len = BLOCK * 1500; // 2 s
        // Low level keeps the ladder's soft clip out of the measurement.
        let x: Vec<f32> = sine(freq, len).iter().map(|v| v * 0.1).collect();
        let y = run_mono(&mut filt, &x, (cutoff, None), (param, None));
        let tail = len / 2;
        20.0 * (rms(&y[tail..]) / rms(&x[tail..])).log10()
    }

    fn svf(mode: SvfMode) -> Filt {
        Filt::Svf(Svf::new(mode, 1))
    }

    fn ladder() -> Filt {
        Filt::Ladder(Ladder::new(1))
    }

    #[test]
    fn fast_tan_relative_error_below_1e_4() {
        let n = 200_000;
        let mut worst = 0.0f64;
        for i in 0..=n {
            let x = 0.49 * PI * i as f32 / n as f32;
            let exact = (x as f64).tan();
            let err = if exact == 0.0 {
                fast_tan(x) as f64
            } else {
                (fast_tan(x) as f64 / exact - 1.0).abs()
            };
            worst = worst.max(err);
        }
        assert!(worst < 1e-4, "worst relative error {worst}");
    }

    #[test]
    fn lowpass_attenuates_8k_and_passes_100hz() {
        let stop = gain_db(svf(SvfMode::Low), 8000.0, 1000.0, 0.707);
        let pass = gain_db(svf(SvfMode::Low), 100.0, 1000.0, 0.707);
        assert!(stop <= -30.0, "8 kHz gain {stop} dB");
        assert!(pass.abs() <= 0.5, "100 Hz gain {pass} dB");
    }

    #[test]
    fn highpass_attenuates_125hz_and_passes_10k() {
        // Mirror image of the low-pass about 1 kHz: 1000/8 = 125 Hz, 1000*10 = 10 kHz.
        let stop = gain_db(svf(SvfMode::High), 125.0, 1000.0, 0.707);
        let pass = gain_db(svf(SvfMode::High), 10_000.0, 1000.0, 0.707);
        assert!(stop <= -30.0, "125 Hz gain {stop} dB");
        assert!(pass.abs() <= 0.5, "10 kHz gain {pass} dB");
    }

    #[test]
    fn bandpass_unity_at_centre_and_rejects_sides() {
        let centre = gain_db(svf(SvfMode::Band), 1000.0, 1000.0, 2.0);
        let low = gain_db(svf(SvfMode::Band), 100.0, 1000.0, 2.0);
        let high = gain_db(svf(SvfMode::Band), 10_000.0, 1000.0, 2.0);
        assert!(centre.abs() <= 1.0, "1 kHz gain {centre} dB");
        assert!(low <= -15.0, "100 Hz gain {low} dB");
        assert!(high <= -15.0, "10 kHz gain {high} dB");
    }

    #[test]
    fn notch_rejects_centre_and_passes_100hz() {
        let centre = gain_db(svf(SvfMode::Notch), 1000.0, 1000.0, 0.707);
        let pass = gain_db(svf(SvfMode::Notch), 100.0, 1000.0, 0.707);
        assert!(centre <= -30.0, "1 kHz gain {centre} dB");
        assert!(pass.abs() <= 1.0, "100 Hz gain {pass} dB");
    }

    /// 10 s of noise with the cutoff swept 20 Hz..20 kHz (exponentially) at 200 Hz.
    fn torture(filt: &mut Filt, param: f32) -> f32 {
        let len = BLOCK * 7500;
        let x = noise(len, 12345);
        let cutoff: Vec<f32> = sine(200.0, len)
            .iter()
            .map(|v| 20.0 * 1000f32.powf(0.5 + 0.5 * v))
            .collect();
        let y = run_mono(filt, &x, (0.0, Some(&cutoff)), (param, None));
        let mut peak = 0.0f32;
        for v in &y {
            assert!(v.is_finite());
            peak = peak.max(v.abs());
        }
        // A filter that outputs silence would pass the bound trivially.
        assert!(rms(&y) > 0.01, "output rms {}", rms(&y));
        peak
    }

    #[test]
    fn svf_stays_bounded_under_fast_sweep_at_q50() {
        for mode in [SvfMode::Low, SvfMode::High, SvfMode::Band, SvfMode::Notch] {
            let peak = torture(&mut svf(mode), 50.0);
            assert!(peak < 100.0, "{mode:?} peak {peak}");
        }
    }

    #[test]
    fn ladder_stays_bounded_under_fast_sweep_at_res_099() {
        let peak = torture(&mut ladder(), 0.99);
        assert!(peak < 100.0, "peak {peak}");
    }

    #[test]
    fn degenerate_parameters_give_finite_output() {
        let x = noise(BLOCK * 50, 7);
        let bad = [
            0.0,
            -100.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e30,
        ];
        for &fc in &bad {
            for &q in &[f32::INFINITY, f32::NAN, 0.0, -1.0, 0.707] {
                // Both the per-block (konst) and per-sample paths.
                let fc_sig = vec![fc; x.len()];
                let q_sig = vec![q; x.len()];
                for modulated in [false, true] {
                    let (c, p) = if modulated {
                        ((fc, Some(&fc_sig[..])), (q, Some(&q_sig[..])))
                    } else {
                        ((fc, None), (q, None))
                    };
                    let mut filts = vec![
                        svf(SvfMode::Low),
                        svf(SvfMode::High),
                        svf(SvfMode::Band),
                        svf(SvfMode::Notch),
                        ladder(),
                    ];
                    for f in &mut filts {
                        let y = run_mono(f, &x, c, p);
                        assert!(
                            y.iter().all(|v| v.is_finite()),
                            "fc {fc} q {q} modulated {modulated}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn nonfinite_input_is_read_as_silence() {
        let mut x = sine(500.0, BLOCK * 10);
        x[100] = f32::NAN;
        x[200] = f32::INFINITY;
        x[300] = f32::NEG_INFINITY;
        for mut f in [svf(SvfMode::Low), svf(SvfMode::Notch), ladder()] {
            let y = run_mono(&mut f, &x, (1000.0, None), (0.9, None));
            assert!(y.iter().all(|v| v.is_finite()));
            assert!(rms(&y[BLOCK * 6..]) > 0.1, "filter went silent");
        }
    }

    #[test]
    fn overflowed_state_recovers_next_block() {
        let mut x = sine(500.0, BLOCK * 20);
        // Finite but huge: overflows the state to inf/NaN inside the block.
        for (i, v) in x[BLOCK * 2..BLOCK * 2 + 8].iter_mut().enumerate() {
            *v = if i % 2 == 0 { f32::MAX } else { -f32::MAX };
        }
        let mut f = svf(SvfMode::Low);
        let y = run_mono(&mut f, &x, (1000.0, None), (100.0, None));
        assert!(y[BLOCK * 2..BLOCK * 3].iter().any(|v| !v.is_finite()));
        let tail = &y[BLOCK * 3..];
        assert!(tail.iter().all(|v| v.is_finite()));
        let level = rms(&tail[BLOCK * 10..]);
        assert!(level > 0.1 && level < 10.0, "level after recovery {level}");
    }

    #[test]
    fn ladder_attenuates_8k_by_40db() {
        let g = gain_db(ladder(), 8000.0, 1000.0, 0.0);
        assert!(g <= -40.0, "8 kHz gain {g} dB");
        let pass = gain_db(ladder(), 100.0, 1000.0, 0.0);
        assert!(pass.abs() <= 0.5, "100 Hz gain {pass} dB");
    }

    #[test]
    fn ladder_rolls_off_at_24_db_per_octave() {
        // Two octaves well above a 500 Hz cutoff, low enough that frequency warping is small:
        // an analogue 4-pole gives 23.3 dB between them, a 3-pole only 17.5 dB.
        let g2k = gain_db(ladder(), 2000.0, 500.0, 0.0);
        let g4k = gain_db(ladder(), 4000.0, 500.0, 0.0);
        let drop = g2k - g4k;
        assert!((21.0..27.0).contains(&drop), "2k->4k drop {drop} dB");
    }

    #[test]
    fn ladder_resonance_peaks_at_cutoff() {
        let at_cutoff = gain_db(ladder(), 1000.0, 1000.0, 0.95);
        let low = gain_db(ladder(), 100.0, 1000.0, 0.95);
        assert!(
            at_cutoff > low + 6.0,
            "cutoff {at_cutoff} dB vs 100 Hz {low} dB"
        );
    }

    /// Per-lane modulated cutoffs (and optionally per-lane Q/res, shared input) must give every
    /// lane exactly what it gets when run alone.
    fn lanes_match(
        make: impl Fn(usize) -> Filt,
        param: f32,
        per_lane_param: bool,
        shared_x: bool,
        nl: usize,
    ) {
        let blocks = 40;
        let len = BLOCK * blocks;
        let xs: Vec<Vec<f32>> = (0..nl).map(|l| noise(len, 99 + l as u32)).collect();
        let fcs: Vec<Vec<f32>> = (0..nl)
            .map(|l| {
                sine(3.0 + l as f32, len)
                    .iter()
                    .map(|v| 300.0 * (l + 1) as f32 * (1.0 + 0.8 * v))
                    .collect()
            })
            .collect();
        let ps: Vec<Vec<f32>> = (0..nl)
            .map(|l| vec![param * (1.0 - 0.1 * l as f32); len])
            .collect();
        let lane_x = |l: usize| if shared_x { &xs[0] } else { &xs[l] };

        let interleave = |v: &[Vec<f32>], b: usize| -> Vec<f32> {
            (0..BLOCK)
                .flat_map(|s| (0..nl).map(move |l| v[l][b * BLOCK + s]))
                .collect()
        };
        let mut multi = make(nl);
        let mut got = vec![vec![0.0f32; len]; nl];
        let pbuf = [param; BLOCK];
        for b in 0..blocks {
            let x = interleave(&xs, b);
            let fc = interleave(&fcs, b);
            let p = interleave(&ps, b);
            let mut out = vec![0.0; BLOCK * nl];
            let input = if shared_x {
                In::signal(&xs[0][b * BLOCK..(b + 1) * BLOCK], 1)
            } else {
                In::signal(&x, nl)
            };
            let p_in = if per_lane_param {
                In::signal(&p, nl)
            } else {
                In::constant(&pbuf, param)
            };
            multi.block(input, In::signal(&fc, nl), p_in, &mut out, nl);
            for s in 0..BLOCK {
                for l in 0..nl {
                    got[l][b * BLOCK + s] = out[s * nl + l];
                }
            }
        }
        for l in 0..nl {
            let p = if per_lane_param {
                (ps[l][0], Some(&ps[l][..]))
            } else {
                (param, None)
            };
            let alone = run_mono(&mut make(1), lane_x(l), (0.0, Some(&fcs[l])), p);
            assert!(rms(&alone) > 0.01, "lane {l} is silent");
            for (i, (a, b)) in alone.iter().zip(&got[l]).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "lane {l} sample {i}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn lanes_match_single_lane_processing() {
        for nl in [4, 7] {
            for (per_lane_p, shared_x) in [(false, false), (true, false), (true, true)] {
                for mode in [SvfMode::Low, SvfMode::High, SvfMode::Band, SvfMode::Notch] {
                    let make = |n| Filt::Svf(Svf::new(mode, n));
                    lanes_match(make, 3.0, per_lane_p, shared_x, nl);
                }
                let make = |n| Filt::Ladder(Ladder::new(n));
                lanes_match(make, 0.9, per_lane_p, shared_x, nl);
            }
        }
    }

    #[test]
    fn constant_and_per_sample_paths_agree() {
        let len = BLOCK * 200;
        let x = noise(len, 3);
        let fc_sig = vec![1234.0f32; len];
        let cases: Vec<(Box<dyn Fn() -> Filt>, f32)> = vec![
            (Box::new(|| svf(SvfMode::Low)), 5.0),
            (Box::new(|| svf(SvfMode::High)), 5.0),
            (Box::new(|| svf(SvfMode::Band)), 5.0),
            (Box::new(|| svf(SvfMode::Notch)), 5.0),
            (Box::new(ladder), 0.8),
        ];
        for (make, p) in cases {
            let konst = run_mono(&mut make(), &x, (1234.0, None), (p, None));
            let per_sample = run_mono(&mut make(), &x, (0.0, Some(&fc_sig)), (p, None));
            let worst = konst
                .iter()
                .zip(&per_sample)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "max difference {worst}");
            assert!(rms(&konst) > 0.01);
        }
    }
}
