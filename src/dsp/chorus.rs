//! Stereo chorus (modulated short delays); run on the audio thread.
//!
//! Each side has its own delay line read by three taps swinging around a 15 ms centre, driven
//! by one sine LFO at three phases a third of a cycle apart. The right side uses the same
//! three phases plus half a cycle, i.e. the mirrored swing `centre - swing·sin`, the classic
//! inverted-LFO stereo chorus: whenever a left tap is pitched up, its right twin is pitched
//! down, which is what widens the image. (It also means one sine per tap serves both sides.)
//!
//! Output per side: `0.5·dry + 0.5·(tap1 + tap2 + tap3)/3`, an equal-level mix of the dry
//! signal and the average of the taps, so a constant-delay (`depth = 0`) chorus of an impulse
//! is two half-height impulses, and the output peak stays at about the input's.
//!
//! Taps are read with 4-point Catmull-Rom interpolation: it passes through the samples (an
//! integer delay is exact) and loses far less treble than linear interpolation, whose
//! moving fractional delay would audibly dull and flutter the wet signal.

use super::osc::fast_sin_cycles;
use super::{BLOCK, Ctx, In, clamp_nan_lo, finite_or_zero, lane0, sane_rate};

const TAPS: usize = 3;
/// Centre delay and the swing at `depth = 1`, in seconds.
const CENTRE_SECS: f64 = 0.015;
const SWING_SECS: f64 = 0.005;
const MIN_RATE: f32 = 0.01;
const MAX_RATE: f32 = 20.0;

/// Ring length per side: the longest delay (20 ms) plus the interpolator's reach and a block
/// up to 192 kHz. A fixed power of two lets the masked indices below compile without bounds
/// checks, so the tap loops vectorise. At higher rates the delays are clamped to fit.
const RING: usize = 4096;
const MASK: usize = RING - 1;
/// Longest delay that keeps all four interpolation points behind the frame being read and
/// clear of the block written ahead of the reads.
const MAX_DELAY: f32 = (RING - BLOCK - 4) as f32;

/// Catmull-Rom read `d` samples behind position `w` (the frame's own input sample). `d` is
/// clamped to `2..=MAX_DELAY`, so the four points straddling the fractional position are
/// all in the past and were written before this block or earlier in it.
#[inline(always)]
fn read_cubic(line: &[f32; RING], w: u32, d: f32) -> f32 {
    let d = clamp_nan_lo(d, 2.0, MAX_DELAY);
    // 32-bit index arithmetic: it vectorises twice as wide as `usize`, and the ring is small.
    let i = d as i32;
    let t = d - i as f32;
    // s1 is `i` samples back (t = 0), s2 one further (t = 1); s0 and s3 flank them.
    let s1_at = w.wrapping_sub(i as u32);
    let at = |pos: u32| line[(pos & MASK as u32) as usize];
    let s0 = at(s1_at.wrapping_add(1));
    let s1 = at(s1_at);
    let s2 = at(s1_at.wrapping_sub(1));
    let s3 = at(s1_at.wrapping_sub(2));
    let c1 = 0.5 * (s2 - s0);
    let c2 = s0 - 2.5 * s1 + 2.0 * s2 - 0.5 * s3;
    let c3 = 0.5 * (s3 - s0) + 1.5 * (s1 - s2);
    s1 + t * (c1 + t * (c2 + t * c3))
}

/// Stereo chorus; see the module notes.
pub struct Chorus {
    /// One ring per side.
    lines: [Box<[f32; RING]>; 2],
    /// Where the next block goes: a multiple of `BLOCK`, so a block's run never wraps.
    write: usize,
    /// LFO phase in cycles, wrapped to [0, 1) once per block; `f64` so a 0.01 Hz LFO's
    /// increment is not rounded away.
    phase: f64,
}

impl Chorus {
    /// Bytes of its two rings (the graph's memory budget).
    pub const HEAP_BYTES: usize = 2 * RING * std::mem::size_of::<f32>();

    /// The rings have a fixed size (see `RING`), so the rate only matters per block.
    pub fn new(sample_rate: f32) -> Self {
        let _ = sample_rate;
        Chorus {
            lines: [Box::new([0.0; RING]), Box::new([0.0; RING])],
            write: 0,
            phase: 0.0,
        }
    }

    /// One block. `rate` is the LFO rate in Hz (clamped to 0.01..20), `depth` 0..1 scales the
    /// delay swing up to ±5 ms around the 15 ms centre (clamped; NaN reads as the lower
    /// bound). `out` is left in `out[..BLOCK]`, right in `out[BLOCK..2 * BLOCK]`. Non-finite
    /// input samples are read as 0, so the lines only ever hold finite values.
    pub fn process(
        &mut self,
        ctx: &Ctx,
        left: In,
        right: In,
        rate: In,
        depth: In,
        out: &mut [f32],
    ) {
        let sr = sane_rate(ctx.sample_rate);
        // Above 192 kHz the centre and swing shrink to fit the rings.
        let centre = ((CENTRE_SECS * sr as f64) as f32).min(0.75 * MAX_DELAY);
        let swing_max = ((SWING_SECS * sr as f64) as f32).min(MAX_DELAY - centre);

        let xl = lane0(&left).map(finite_or_zero);
        let xr = lane0(&right).map(finite_or_zero);
        let mut swing = lane0(&depth);
        for s in &mut swing {
            *s = clamp_nan_lo(*s, 0.0, 1.0) * swing_max;
        }
        // LFO phase at each frame, accumulated in f64.
        let inv_sr = 1.0 / sr as f64;
        let rate = lane0(&rate);
        let mut ph = [0.0f32; BLOCK];
        let mut phase = self.phase;
        for (p, r) in ph.iter_mut().zip(rate) {
            *p = phase as f32;
            phase += clamp_nan_lo(r, MIN_RATE, MAX_RATE) as f64 * inv_sr;
        }
        phase -= phase.floor();
        self.phase = if phase.is_finite() { phase } else { 0.0 };

        // The whole block goes in first: every read is at least 2 samples behind its own
        // frame, so no frame reads a sample written after it.
        let w0 = self.write & MASK;
        let [line_l, line_r] = &mut self.lines;
        line_l[w0..w0 + BLOCK].copy_from_slice(&xl);
        line_r[w0..w0 + BLOCK].copy_from_slice(&xr);
        self.write = (w0 + BLOCK) & MASK;

        let mut wet_l = [0.0f32; BLOCK];
        let mut wet_r = [0.0f32; BLOCK];
        for k in 0..TAPS {
            let offset = k as f32 / TAPS as f32;
            for f in 0..BLOCK {
                let s = swing[f] * fast_sin_cycles(ph[f] + offset);
                let w = (w0 + f) as u32;
                wet_l[f] += read_cubic(line_l, w, centre + s);
                wet_r[f] += read_cubic(line_r, w, centre - s);
            }
        }
        let (out_l, out_r) = out[..2 * BLOCK].split_at_mut(BLOCK);
        for f in 0..BLOCK {
            out_l[f] = 0.5 * xl[f] + (0.5 / TAPS as f32) * wet_l[f];
            out_r[f] = 0.5 * xr[f] + (0.5 / TAPS as f32) * wet_r[f];
        }
    }
}

impl super::Carry for Chorus {
    fn carry_from(&mut self, old: &Self) -> bool {
        for (a, b) in self.lines.iter_mut().zip(&old.lines) {
            a.copy_from_slice(&b[..]);
        }
        self.write = old.write;
        self.phase = old.phase;
        true
    }
}

crate::node_inputs! {
    pub struct ChorusIn { left, right, rate, depth }
}

impl super::Node for Chorus {
    type Inputs<'a> = ChorusIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: ChorusIn, out: &mut [f32], _lanes: usize) {
        Chorus::process(self, ctx, ins.left, ins.right, ins.rate, ins.depth, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::Carry;
    use rustfft::{FftPlanner, num_complex::Complex};

    const SR: f32 = 48_000.0;
    /// 15 ms at 48 kHz.
    const CENTRE: usize = 720;

    fn ctx() -> Ctx {
        Ctx::new(SR, 120.0)
    }

    /// Runs whole blocks of `left`/`right` with constant rate and depth.
    fn run(
        ch: &mut Chorus,
        left: &[f32],
        right: &[f32],
        rate: f32,
        depth: f32,
    ) -> (Vec<f32>, Vec<f32>) {
        assert_eq!(left.len() % BLOCK, 0);
        let (rb, db) = ([rate; BLOCK], [depth; BLOCK]);
        let (mut ol, mut or) = (Vec::new(), Vec::new());
        for (l, r) in left.chunks_exact(BLOCK).zip(right.chunks_exact(BLOCK)) {
            let mut out = [0.0f32; 2 * BLOCK];
            ch.process(
                &ctx(),
                In::signal(l, 1),
                In::signal(r, 1),
                In::constant(&rb, rate),
                In::constant(&db, depth),
                &mut out,
            );
            ol.extend_from_slice(&out[..BLOCK]);
            or.extend_from_slice(&out[BLOCK..]);
        }
        (ol, or)
    }

    #[test]
    fn depth_zero_delays_an_impulse_by_exactly_the_centre() {
        let mut x = vec![0.0f32; BLOCK * 30];
        x[5] = 1.0;
        let (l, r) = run(&mut Chorus::new(SR), &x, &x, 3.0, 0.0);
        for y in [&l, &r] {
            for (n, v) in y.iter().enumerate() {
                let expect = if n == 5 || n == 5 + CENTRE { 0.5 } else { 0.0 };
                assert!(
                    (v - expect).abs() < 1e-6,
                    "sample {n}: {v}, expected {expect}"
                );
            }
        }
    }

    /// Delays, relative to the impulse, of the taps that can be told apart in the wet
    /// response to each impulse of a train: the centroid of every run of non-zero samples
    /// that carries exactly one tap's weight (1/3 of the wet sum). Catmull-Rom reproduces
    /// straight lines, so a tap's kernel has its centroid exactly at the tap's delay.
    fn tap_delays(wet: &[f32], impulses: &[usize], window: (usize, usize)) -> Vec<Vec<f64>> {
        impulses
            .iter()
            .map(|&t0| {
                let seg = &wet[t0 + window.0..t0 + window.1];
                let mut found = Vec::new();
                let mut n = 0;
                while n < seg.len() {
                    if seg[n].abs() < 1e-7 {
                        n += 1;
                        continue;
                    }
                    let (mut w, mut m) = (0.0f64, 0.0f64);
                    while n < seg.len() && seg[n].abs() >= 1e-7 {
                        w += seg[n] as f64;
                        m += seg[n] as f64 * (window.0 + n) as f64;
                        n += 1;
                    }
                    if (w - 1.0 / 3.0).abs() < 0.01 {
                        found.push(m / w);
                    }
                }
                found
            })
            .collect()
    }

    #[test]
    fn tap_delays_swing_within_centre_plus_minus_depth() {
        // Depth 0.8: ±4 ms = ±192 samples. The LFO runs at 0.05 Hz, slow enough that a tap's
        // delay moves by under 0.5 samples while one impulse's echoes (up to 2·192 samples
        // apart) come out; an impulse every 2400 samples samples each tap 400 times a cycle.
        let (depth, period, rate) = (0.8f32, 2400, 0.05);
        let swing = depth as f64 * 240.0;
        let len = BLOCK * 15_000; // 20 s: one LFO cycle
        let mut x = vec![0.0f32; len];
        let impulses: Vec<usize> = (0..len - 2 * CENTRE).step_by(period).collect();
        for &t in &impulses {
            x[t] = 1.0;
        }
        let (l, r) = run(&mut Chorus::new(SR), &x, &x, rate, depth);
        // Wet only: out = 0.5·dry + 0.5·(mean of taps), so 2·(out - 0.5·dry) sums the taps
        // with weight 1/3 each.
        let wet = |y: &[f32]| -> Vec<f32> {
            y.iter().zip(&x).map(|(o, d)| 2.0 * (o - 0.5 * d)).collect()
        };
        let (wl, wr) = (wet(&l), wet(&r));
        // Nothing at all outside centre ± swing (plus the interpolator's reach).
        let window = (CENTRE - swing as usize - 3, CENTRE + swing as usize + 4);
        for w in [&wl, &wr] {
            for (i, &t0) in impulses.iter().enumerate() {
                let next = impulses.get(i + 1).copied().unwrap_or(len).min(len);
                let total: f32 = w[t0..next].iter().map(|v| v.abs()).sum();
                let inside: f32 = w[t0 + window.0..t0 + window.1]
                    .iter()
                    .map(|v| v.abs())
                    .sum();
                assert!(
                    total - inside < 1e-5,
                    "impulse at {t0}: energy outside the swing"
                );
            }
        }
        let dl = tap_delays(&wl, &impulses, window);
        let dr = tap_delays(&wr, &impulses, window);
        let all: Vec<f64> = dl.iter().flatten().copied().collect();
        assert!(
            all.len() > impulses.len(),
            "too few separable taps: {}",
            all.len()
        );
        let c = CENTRE as f64;
        let (lo, hi) = all
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        eprintln!("left tap delays {lo:.2}..{hi:.2} samples (centre {c}, swing {swing})");
        assert!(
            lo >= c - swing - 0.5 && hi <= c + swing + 0.5,
            "range {lo}..{hi}"
        );
        // It really moves, over (nearly) the whole swing.
        assert!(
            lo < c - 0.95 * swing && hi > c + 0.95 * swing,
            "range {lo}..{hi}"
        );
        // The right side swings the other way: where both sides show all three taps, the
        // right ones mirror the left ones about the centre.
        let mut compared = 0;
        for (a, b) in dl.iter().zip(&dr) {
            if a.len() < TAPS || b.len() < TAPS {
                continue;
            }
            let mut mirrored: Vec<f64> = b.iter().map(|d| 2.0 * c - d).collect();
            mirrored.sort_by(f64::total_cmp);
            let mut a = a.clone();
            a.sort_by(f64::total_cmp);
            for (p, q) in a.iter().zip(&mirrored) {
                assert!((p - q).abs() < 0.6, "left {p} vs mirrored right {q}");
            }
            compared += 1;
        }
        assert!(
            compared > impulses.len() / 2,
            "only {compared} impulses compared"
        );
    }

    #[test]
    fn sine_keeps_its_frequency_and_level_bounds() {
        let len = 1 << 16;
        let freq = 1000.0f32;
        let x: Vec<f32> = (0..len)
            .map(|n| (std::f64::consts::TAU * freq as f64 * n as f64 / SR as f64).sin() as f32)
            .collect();
        let (l, r) = run(&mut Chorus::new(SR), &x, &x, 1.0, 0.5);
        let skip = 2048; // past the lines' fill-up
        for y in [&l, &r] {
            let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(peak <= 1.01, "peak {peak}");
            let tail = &y[skip..];
            let rms = (tail.iter().map(|v| v * v).sum::<f32>() / tail.len() as f32).sqrt();
            assert!(rms > 0.3, "rms {rms}");
            // Spectrum of the (Hann-windowed) output: the Doppler shift of a ±2.5 ms swing at
            // 1 Hz is at most 1000·2π·120/48000 ≈ 16 Hz, so all the energy sits within
            // ±50 Hz of 1 kHz.
            let n = 1 << 15;
            let mut buf: Vec<Complex<f32>> = tail[..n]
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let w = 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / n as f32).cos();
                    Complex::new(v * w, 0.0)
                })
                .collect();
            FftPlanner::new().plan_fft_forward(n).process(&mut buf);
            let bin_hz = SR / n as f32;
            let (mut near, mut total) = (0.0f64, 0.0f64);
            for (k, c) in buf[..n / 2].iter().enumerate() {
                let e = c.norm_sqr() as f64;
                total += e;
                if (k as f32 * bin_hz - freq).abs() <= 50.0 {
                    near += e;
                }
            }
            assert!(near / total > 0.999, "share near 1 kHz {}", near / total);
        }
    }

    #[test]
    fn modulated_inputs_match_constant_ones() {
        let mut x = vec![0.0f32; BLOCK * 200];
        for (n, v) in x.iter_mut().enumerate() {
            *v = ((n * 7919) % 101) as f32 / 50.0 - 1.0;
        }
        let (l0, r0) = run(&mut Chorus::new(SR), &x, &x, 2.5, 0.6);
        let mut ch = Chorus::new(SR);
        let (rb, db) = ([2.5f32; BLOCK], [0.6f32; BLOCK]);
        for (b, xs) in x.chunks_exact(BLOCK).enumerate() {
            let mut out = [0.0f32; 2 * BLOCK];
            ch.process(
                &ctx(),
                In::signal(xs, 1),
                In::signal(xs, 1),
                In::signal(&rb, 1),
                In::signal(&db, 1),
                &mut out,
            );
            assert_eq!(&out[..BLOCK], &l0[b * BLOCK..(b + 1) * BLOCK]);
            assert_eq!(&out[BLOCK..], &r0[b * BLOCK..(b + 1) * BLOCK]);
        }
    }

    #[test]
    fn extreme_parameters_and_bad_input_stay_finite() {
        let mut x = vec![0.5f32; BLOCK * 50];
        x[100] = f32::NAN;
        x[200] = f32::INFINITY;
        for (rate, depth) in [
            (f32::NAN, f32::NAN),
            (1e9, 1e9),
            (-5.0, -5.0),
            (f32::INFINITY, 1.0),
        ] {
            let (l, r) = run(&mut Chorus::new(SR), &x, &x, rate, depth);
            assert!(
                l.iter().chain(&r).all(|v| v.is_finite() && v.abs() <= 0.51),
                "{rate} {depth}"
            );
        }
        // A sample rate far above the one the lines were sized for only shortens the delays.
        let mut ch = Chorus::new(8000.0);
        let (rb, db) = ([20.0f32; BLOCK], [1.0f32; BLOCK]);
        let mut out = [0.0f32; 2 * BLOCK];
        for xs in x.chunks_exact(BLOCK) {
            ch.process(
                &Ctx::new(192_000.0, 120.0),
                In::signal(xs, 1),
                In::signal(xs, 1),
                In::constant(&rb, 20.0),
                In::constant(&db, 1.0),
                &mut out,
            );
            assert!(out.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn carry_keeps_lines_and_phase() {
        let x: Vec<f32> = (0..BLOCK * 40)
            .map(|n| ((n * 31) % 17) as f32 / 8.0 - 1.0)
            .collect();
        let mut old = Chorus::new(SR);
        let _ = run(&mut old, &x[..BLOCK * 20], &x[..BLOCK * 20], 1.5, 0.7);
        let mut new = Chorus::new(SR);
        assert!(new.carry_from(&old));
        let (a, _) = run(&mut old, &x[BLOCK * 20..], &x[BLOCK * 20..], 1.5, 0.7);
        let (b, _) = run(&mut new, &x[BLOCK * 20..], &x[BLOCK * 20..], 1.5, 0.7);
        assert_eq!(a, b);
    }
}
