//! Dynamics: compressor and bit crusher; run on the audio thread.
//!
//! [`Comp`] is a feed-forward, stereo-linked compressor. Per sample:
//! 1. level: the peak of the two channels, `max(|L|, |R|)`, in dB;
//! 2. static curve (hard knee): above the threshold the output level is
//!    `threshold + (level - threshold) / ratio`, so the wanted gain change is
//!    `(threshold - level)·(1 - 1/ratio)` dB, and 0 dB below it;
//! 3. smoothing: that gain change is followed by a one-pole filter in dB whose coefficient
//!    is the attack one while the wanted change is deeper than the current one and the
//!    release one otherwise (a "smooth branching" peak detector placed after the gain
//!    computer, in the log domain; Giannoulis, Massberg & Reiss, JAES 2012);
//! 4. both channels are multiplied by the same linear gain.
//!
//! Smoothing the gain in dB, rather than the linear level before the curve, is what makes the
//! time constants mean what they say: a step into compression moves the gain 63 % of the way
//! (in dB) to its final value in exactly `attack` seconds, a step out in `release` seconds,
//! whatever the ratio, threshold and step size.
//!
//! No `log`/`exp` libm calls per sample: the level goes to dB with `fast_log2` and the gain
//! back with `fast_exp2`, branch-free polynomials computed for the whole block in loops that
//! vectorise; only the one-pole smoothing runs sample by sample. `exp` runs only when an
//! attack or release time changes.
//!
//! [`crush`] reduces the bit depth of any lane count.

use super::math::fast_exp2;
use super::{BLOCK, Ctx, In, clamp_nan_lo, finite_or_zero, lane0};

const LOG2_10: f32 = std::f32::consts::LOG2_10;
/// dB to log2 units: 10^(x/20) = 2^(x·DB_TO_LOG2).
const DB_TO_LOG2: f32 = LOG2_10 / 20.0;
/// log2 units to dB: 20·log10(2)·log2(x).
const LOG2_TO_DB: f32 = 20.0 / LOG2_10;

const MIN_THRESHOLD_DB: f32 = -120.0;
const MAX_THRESHOLD_DB: f32 = 24.0;
const MIN_TIME: f32 = 0.0001;
const MAX_TIME: f32 = 60.0;

/// log2(x) for finite normal `x > 0`; absolute error below 2e-6 (1.2e-5 dB) over the whole
/// range, most of it the rounding of the `f32` result itself (whose ulp is 2e-6 near ±32).
///
/// Splits off the exponent, folds the mantissa into [√½, √2) and uses
/// `log2(m) = (2/ln 2)·atanh(t)`, `t = (m-1)/(m+1)`, |t| <= 0.172, where four terms of the
/// odd atanh series leave an error of about t⁹/9·2.9 < 5e-8 before `f32` rounding.
#[inline(always)]
fn fast_log2(x: f32) -> f32 {
    let bits = x.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let (m, e) = if m > std::f32::consts::SQRT_2 {
        (m * 0.5, e + 1)
    } else {
        (m, e)
    };
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    const K: f32 = 2.0 / std::f32::consts::LN_2;
    e as f32 + K * t * (1.0 + t2 * (1.0 / 3.0 + t2 * (1.0 / 5.0 + t2 * (1.0 / 7.0))))
}

/// One-pole coefficient `1 - e^(-1/(t·sr))` (reaches 63 % of a step in `t` seconds),
/// recomputed only when the time or the rate changes.
struct Coef {
    key: [f32; 2],
    c: f32,
}

impl Coef {
    const NEW: Coef = Coef {
        key: [f32::NAN; 2],
        c: 1.0,
    };

    #[inline(always)]
    fn get(&mut self, secs: f32, sr: f32) -> f32 {
        let secs = clamp_nan_lo(secs, MIN_TIME, MAX_TIME);
        if self.key != [secs, sr] {
            self.key = [secs, sr];
            self.c = 1.0 - (-1.0 / (secs as f64 * sr as f64)).exp() as f32;
        }
        self.c
    }
}

/// Feed-forward stereo-linked compressor; see the module notes.
pub struct Comp {
    /// Used when the block's `ctx.sample_rate` is unusable.
    sample_rate: f32,
    /// Current gain change in dB (<= 0).
    gr: f32,
    attack: Coef,
    release: Coef,
}

impl Comp {
    pub fn new(sample_rate: f32) -> Self {
        // Coefficients follow the running rate (`ctx.sample_rate`) and are computed on use.
        Comp {
            sample_rate: if sample_rate.is_finite() && sample_rate > 0.0 {
                sample_rate
            } else {
                48_000.0
            },
            gr: 0.0,
            attack: Coef::NEW,
            release: Coef::NEW,
        }
    }

    /// One block. `threshold_db` is clamped to -120..24 dB (NaN reads as 0 dB), `ratio` to at
    /// least 1 (NaN reads as 1, +inf is a limiter), `attack`/`release` (seconds) to
    /// 0.0001..60. `out` is left in `out[..BLOCK]`, right in `out[BLOCK..2 * BLOCK]`.
    /// Non-finite input samples are read as 0.
    pub fn process(&mut self, ctx: &Ctx, ins: CompIn, out: &mut [f32]) {
        let CompIn {
            left,
            right,
            threshold_db,
            ratio,
            attack,
            release,
        } = ins;
        let sr = if ctx.sample_rate.is_finite() && ctx.sample_rate > 0.0 {
            ctx.sample_rate
        } else {
            self.sample_rate
        };
        let xl = lane0(&left).map(finite_or_zero);
        let xr = lane0(&right).map(finite_or_zero);

        // Wanted gain change per frame, `min(0, (threshold - level)·(1 - 1/ratio))` in dB:
        // exactly 0 at or below the threshold (the product is >= 0 there), with no branch.
        let thr = lane0(&threshold_db);
        let ratio = lane0(&ratio);
        let mut target = [0.0f32; BLOCK];
        for f in 0..BLOCK {
            let t = if thr[f].is_nan() {
                0.0
            } else {
                thr[f].clamp(MIN_THRESHOLD_DB, MAX_THRESHOLD_DB)
            };
            let r = if ratio[f] > 1.0 { ratio[f] } else { 1.0 };
            // Silence reads as -600 dB rather than -inf, keeping the product finite.
            let level = xl[f].abs().max(xr[f].abs()).max(1e-30);
            let over = (t - fast_log2(level) * LOG2_TO_DB) * (1.0 - 1.0 / r);
            target[f] = over.min(0.0);
        }

        let mut att = [0.0f32; BLOCK];
        let mut rel = [0.0f32; BLOCK];
        for (inp, coef, dst) in [
            (&attack, &mut self.attack, &mut att),
            (&release, &mut self.release, &mut rel),
        ] {
            match inp.konst {
                Some(t) => *dst = [coef.get(t, sr); BLOCK],
                None => {
                    for (f, d) in dst.iter_mut().enumerate() {
                        *d = coef.get(inp.at(f, 0), sr);
                    }
                }
            }
        }

        // The smoothing, the only recurrence: attack while the wanted change is deeper than
        // the current one, release otherwise.
        let mut gains = [0.0f32; BLOCK];
        let mut gr = self.gr;
        for f in 0..BLOCK {
            let c = if target[f] < gr { att[f] } else { rel[f] };
            gr += (target[f] - gr) * c;
            gains[f] = gr;
        }
        // The release tail approaches 0 dB forever; snap it there (exact unity gain from the
        // next block on, and no denormals) once it is far below anything audible.
        self.gr = if gr.is_finite() && gr < -1e-6 {
            gr
        } else {
            0.0
        };

        let (out_l, out_r) = out[..2 * BLOCK].split_at_mut(BLOCK);
        for f in 0..BLOCK {
            let gain = fast_exp2(gains[f] * DB_TO_LOG2);
            out_l[f] = xl[f] * gain;
            out_r[f] = xr[f] * gain;
        }
    }
}

impl super::Carry for Comp {
    fn carry_from(&mut self, old: &Self) -> bool {
        self.gr = old.gr;
        true
    }
}

/// `round` with ties to even for any finite `v`: adding 2^23 to a magnitude below 2^23
/// leaves no fractional bits (branch-free, so the lane loops vectorise, unlike a libm
/// `roundf`); from 2^23 up every `f32` is already an integer.
#[inline(always)]
fn round_even(v: f32) -> f32 {
    const TWO_23: f32 = 8_388_608.0;
    let a = v.abs();
    let r = if a < TWO_23 { (a + TWO_23) - TWO_23 } else { a };
    r.copysign(v)
}

/// Step sizes for `bits`: (2^(bits-1), 2^(1-bits)), exact powers of two for whole bits.
#[inline(always)]
fn crush_scale(bits: f32) -> (f32, f32) {
    // NaN reads as 24 bits: a broken control leaves the signal alone.
    let b = if bits.is_nan() {
        24.0
    } else {
        bits.clamp(1.0, 24.0)
    };
    (fast_exp2(b - 1.0), fast_exp2(1.0 - b))
}

/// Bit-depth reduction: `y = round(x·2^(bits-1)) / 2^(bits-1)` (ties to even), `bits`
/// clamped to 1..=24 and may be fractional (a continuous step size `2^(1-bits)`). Full scale
/// ±1 maps to ±1, so `bits = 3` gives the nine levels -1, -0.75, …, 1. Lane-aware:
/// `out[f * lanes + l]`; each input has one lane (shared) or `lanes` lanes. Non-finite
/// input samples become 0.
pub fn crush(x: In, bits: In, out: &mut [f32], lanes: usize) {
    if let Some(b) = bits.konst {
        let (q, inv) = crush_scale(b);
        for f in 0..BLOCK {
            for l in 0..lanes {
                out[f * lanes + l] = round_even(finite_or_zero(x.at(f, l)) * q) * inv;
            }
        }
    } else {
        for f in 0..BLOCK {
            for l in 0..lanes {
                let (q, inv) = crush_scale(bits.at(f, l));
                out[f * lanes + l] = round_even(finite_or_zero(x.at(f, l)) * q) * inv;
            }
        }
    }
}

crate::node_inputs! {
    /// Left and right in, then the threshold (dB), ratio, attack and release (seconds).
    pub struct CompIn { left, right, threshold_db, ratio, attack, release }
}

impl super::Node for Comp {
    type Inputs<'a> = CompIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: CompIn, out: &mut [f32], _lanes: usize) {
        Comp::process(self, ctx, ins, out)
    }
}

crate::node_inputs! {
    pub struct CrushIn { x, bits }
}

/// The bit crusher as a node: no state.
#[derive(Clone, Copy, Debug, Default)]
pub struct Crush;

impl super::Node for Crush {
    type Inputs<'a> = CrushIn<'a>;
    fn process(&mut self, _ctx: &Ctx, ins: CrushIn, out: &mut [f32], lanes: usize) {
        crush(ins.x, ins.bits, out, lanes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::Carry;

    const SR: f32 = 48_000.0;

    fn ctx() -> Ctx {
        Ctx::new(SR, 120.0)
    }

    fn db(x: f32) -> f32 {
        20.0 * x.log10()
    }

    /// Square wave of per-sample amplitude `amp(n)`, period 96 samples (|x| = amp exactly).
    fn square(len: usize, amp: impl Fn(usize) -> f32) -> Vec<f32> {
        (0..len)
            .map(|n| if (n / 48) % 2 == 0 { amp(n) } else { -amp(n) })
            .collect()
    }

    /// Runs `left`/`right` through a fresh compressor with constant parameters.
    fn comp(
        left: &[f32],
        right: &[f32],
        thr: f32,
        ratio: f32,
        att: f32,
        rel: f32,
    ) -> (Vec<f32>, Vec<f32>) {
        let mut c = Comp::new(SR);
        let bufs = ([thr; BLOCK], [ratio; BLOCK], [att; BLOCK], [rel; BLOCK]);
        let (mut ol, mut or) = (Vec::new(), Vec::new());
        for (l, r) in left.chunks_exact(BLOCK).zip(right.chunks_exact(BLOCK)) {
            let mut out = [0.0f32; 2 * BLOCK];
            c.process(
                &ctx(),
                CompIn {
                    left: In::signal(l, 1),
                    right: In::signal(r, 1),
                    threshold_db: In::constant(&bufs.0, thr),
                    ratio: In::constant(&bufs.1, ratio),
                    attack: In::constant(&bufs.2, att),
                    release: In::constant(&bufs.3, rel),
                },
                &mut out,
            );
            ol.extend_from_slice(&out[..BLOCK]);
            or.extend_from_slice(&out[BLOCK..]);
        }
        (ol, or)
    }

    #[test]
    fn fast_log2_is_accurate() {
        let mut worst = 0.0f64;
        let mut x = 1e-7f32;
        while x < 1e7 {
            let err = (fast_log2(x) as f64 - (x as f64).log2()).abs();
            worst = worst.max(err);
            x *= 1.000_37;
        }
        assert!(worst < 2e-6, "worst error {worst}");
    }

    #[test]
    fn static_curve_above_threshold() {
        // Threshold -20 dB, ratio 4: a 0 dB input comes out at -20 + 20/4 = -15 dB, a -6.02 dB
        // one at -20 + 13.98/4 = -16.505 dB.
        for (amp, expect_db) in [(1.0f32, -15.0f32), (0.5, -20.0 + (db(0.5) + 20.0) / 4.0)] {
            let x = square(BLOCK * 400, |_| amp);
            let (l, r) = comp(&x, &x, -20.0, 4.0, 0.005, 0.05);
            for y in [&l, &r] {
                let tail = &y[y.len() - 1000..];
                for v in tail {
                    let got = db(v.abs());
                    assert!(
                        (got - expect_db).abs() < 0.2,
                        "amp {amp}: {got} dB, expected {expect_db}"
                    );
                }
            }
        }
    }

    #[test]
    fn below_threshold_gain_is_exactly_one() {
        // A -26 dB square and noise peaking at -21 dB, threshold -20 dB.
        let sq = square(BLOCK * 100, |_| 0.05);
        let noise: Vec<f32> = (0..BLOCK * 100)
            .map(|n| ((n * 7919) % 1001) as f32 / 1000.0 * 0.178 - 0.089)
            .collect();
        let (l, r) = comp(&sq, &noise, -20.0, 8.0, 0.001, 0.05);
        assert_eq!(l, sq);
        assert_eq!(r, noise);
    }

    /// Time (s) from `start` until the output's gain in dB has covered 63.2 % of the way from
    /// `from_db` to `to_db`.
    fn time_to_63(x: &[f32], y: &[f32], start: usize, from_db: f32, to_db: f32) -> f32 {
        let goal = from_db + (1.0 - (-1.0f32).exp()) * (to_db - from_db);
        let n = (start..x.len())
            .find(|&n| {
                let g = db(y[n].abs() / x[n].abs());
                if to_db < from_db {
                    g <= goal
                } else {
                    g >= goal
                }
            })
            .expect("reaches 63 %");
        (n - start + 1) as f32 / SR
    }

    #[test]
    fn attack_and_release_times() {
        let (att, rel) = (0.010f32, 0.100f32);
        let up = BLOCK * 100;
        let down = BLOCK * 400;
        // 0.01 (-40 dB, below the threshold) up to 1.0 (gain -15 dB), then back to 0.01.
        let x = square(BLOCK * 800, |n| {
            if (up..down).contains(&n) { 1.0 } else { 0.01 }
        });
        let (l, _) = comp(&x, &x, -20.0, 4.0, att, rel);
        assert!(
            (db(l[down - 1].abs()) - -15.0).abs() < 0.01,
            "settled before the release"
        );
        let t_att = time_to_63(&x, &l, up, 0.0, -15.0);
        let t_rel = time_to_63(&x, &l, down, -15.0, 0.0);
        eprintln!("attack {t_att} s (set {att}), release {t_rel} s (set {rel})");
        // The one-pole smoother covers 63.2 % of a step in dB in exactly `time · SR` steps;
        // the reading is a whole number of samples, and rounding in the gain (about 1e-5 dB)
        // can move the crossing by one. Two samples (0.04 ms) allow for both; a coefficient
        // off by 1 % moves the attack by 5 samples and the release by 48.
        assert!((t_att - att).abs() * SR <= 2.0, "attack {t_att} s");
        assert!((t_rel - rel).abs() * SR <= 2.0, "release {t_rel} s");
    }

    #[test]
    fn channels_are_linked_on_the_louder_one() {
        // Only the left is loud; the right gets the same gain.
        let loud = square(BLOCK * 200, |_| 1.0);
        let quiet = square(BLOCK * 200, |_| 0.01);
        let (l, r) = comp(&loud, &quiet, -20.0, 4.0, 0.001, 0.05);
        let n = l.len() - 1;
        assert!((db(l[n].abs()) - -15.0).abs() < 0.01);
        assert!((db(r[n].abs()) - (-15.0 + db(0.01))).abs() < 0.01);
    }

    #[test]
    fn ratio_one_and_bad_parameters() {
        let x = square(BLOCK * 50, |_| 1.0);
        // Ratio 1 (and ratios below it) never compress.
        for ratio in [1.0, 0.5, f32::NAN] {
            let (l, _) = comp(&x, &x, -20.0, ratio, 0.001, 0.05);
            assert_eq!(l, x, "ratio {ratio}");
        }
        // Infinite ratio limits at the threshold.
        let (l, _) = comp(&x, &x, -20.0, f32::INFINITY, 0.001, 0.05);
        assert!((db(l[l.len() - 1].abs()) - -20.0).abs() < 0.01);
        let mut bad = x.clone();
        bad[100] = f32::NAN;
        bad[300] = f32::INFINITY;
        for (thr, att) in [(f32::NAN, f32::NAN), (-1e30, 0.0), (1e30, f32::INFINITY)] {
            let (l, r) = comp(&bad, &bad, thr, 4.0, att, att);
            assert!(l.iter().chain(&r).all(|v| v.is_finite() && v.abs() <= 1.0));
        }
    }

    #[test]
    fn carry_keeps_the_gain_state() {
        let x = square(BLOCK * 20, |_| 1.0);
        let mut old = Comp::new(SR);
        let b = [0.01f32; BLOCK];
        let (t, r) = ([-20.0f32; BLOCK], [4.0f32; BLOCK]);
        let mut out = [0.0f32; 2 * BLOCK];
        for xs in x.chunks_exact(BLOCK) {
            old.process(
                &ctx(),
                CompIn {
                    left: In::signal(xs, 1),
                    right: In::signal(xs, 1),
                    threshold_db: In::constant(&t, -20.0),
                    ratio: In::constant(&r, 4.0),
                    attack: In::constant(&b, 0.01),
                    release: In::constant(&b, 0.01),
                },
                &mut out,
            );
        }
        let mut new = Comp::new(SR);
        assert!(new.carry_from(&old));
        assert_eq!(new.gr, old.gr);
        assert!(new.gr < -1.0);
    }

    fn crush_block(x: &[f32], bits: f32) -> Vec<f32> {
        let bb = [bits; BLOCK];
        let mut y = Vec::new();
        for xs in x.chunks_exact(BLOCK) {
            let mut out = [0.0f32; BLOCK];
            crush(In::signal(xs, 1), In::constant(&bb, bits), &mut out, 1);
            y.extend_from_slice(&out);
        }
        y
    }

    #[test]
    fn three_bit_ramp_gives_nine_levels() {
        let len = BLOCK * 100;
        let ramp: Vec<f32> = (0..len)
            .map(|n| -1.0 + 2.0 * n as f32 / (len - 1) as f32)
            .collect();
        let mut levels = crush_block(&ramp, 3.0);
        levels.sort_by(f32::total_cmp);
        levels.dedup_by(|a, b| a == b);
        let expect: Vec<f32> = (-4..=4).map(|k| k as f32 * 0.25).collect();
        assert_eq!(levels, expect);
    }

    #[test]
    fn twenty_four_bits_is_transparent() {
        let x: Vec<f32> = (0..BLOCK * 100)
            .map(|n| ((n * 7919) % 100_003) as f32 / 50_001.5 - 1.0)
            .collect();
        let y = crush_block(&x, 24.0);
        let worst = x
            .iter()
            .zip(&y)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-6, "worst {worst}");
        // And over-range settings clamp to 24 bits.
        assert_eq!(crush_block(&x, 40.0), y);
    }

    #[test]
    fn fractional_bits_use_a_continuous_step() {
        let step = 2f32.powf(1.0 - 2.5);
        let x: Vec<f32> = (0..BLOCK * 10).map(|n| (n as f32 * 0.37).sin()).collect();
        let y = crush_block(&x, 2.5);
        for (a, b) in x.iter().zip(&y) {
            let k = b / step;
            assert!(
                (k - k.round()).abs() < 1e-4,
                "{b} is not a multiple of {step}"
            );
            assert!((a - b).abs() <= 0.5 * step + 1e-6, "{a} -> {b}");
        }
    }

    #[test]
    fn crush_is_lane_aware() {
        let lanes = 3;
        // Shared input, per-lane bits 1, 2, 3.
        let x: Vec<f32> = (0..BLOCK).map(|f| f as f32 / 32.0 - 1.0).collect();
        let bits: Vec<f32> = (0..BLOCK * lanes)
            .map(|i| (i % lanes) as f32 + 1.0)
            .collect();
        let mut out = vec![0.0f32; BLOCK * lanes];
        crush(In::signal(&x, 1), In::signal(&bits, lanes), &mut out, lanes);
        for f in 0..BLOCK {
            for l in 0..lanes {
                let q = 2f32.powi(l as i32);
                let expect = (x[f] * q).round_ties_even() / q;
                assert_eq!(out[f * lanes + l], expect, "frame {f} lane {l}");
            }
        }
        // Non-finite input reads as silence.
        let bad = [f32::NAN; BLOCK];
        let b = [8.0f32; BLOCK];
        let mut out = [1.0f32; BLOCK];
        crush(In::signal(&bad, 1), In::constant(&b, 8.0), &mut out, 1);
        assert!(out.iter().all(|v| *v == 0.0));
    }
}
