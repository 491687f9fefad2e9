//! Noise sources: seeded white and pink noise; run on the audio thread.
//!
//! Renders must repeat exactly, so every lane owns a hand-written PRNG seeded only from the
//! node's seed and the lane index.

/// SplitMix64 finaliser: turns nearby seeds (0, 1, 2, … or seed + lane) into unrelated states.
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Mixing the seed before adding the lane keeps lane 1 of seed 0 from replaying lane 0 of
/// seed 1, which two nodes with adjacent seeds would otherwise share.
fn lane_state(seed: u64, lane: usize) -> u64 {
    let s = mix64(mix64(seed).wrapping_add(lane as u64));
    // xorshift's one forbidden state.
    if s == 0 { 0x2545_f491_4f6c_dd1d } else { s }
}

/// xorshift64*: a few shifts and one multiply per sample, period 2^64 − 1, and its high
/// bits (the only ones used) pass the usual statistical batteries.
#[inline(always)]
fn next_uniform(s: &mut u64) -> f32 {
    let mut x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    let bits = x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40;
    // 24 bits fit an f32 mantissa exactly, so the result is exactly uniform on a grid in [-1, 1).
    bits as f32 * (2.0 / 16_777_216.0) - 1.0
}

/// Uniform white noise in `[-1, 1)`, RMS ≈ 0.577.
pub struct White {
    state: Vec<u64>,
}

impl White {
    pub fn new(lanes: usize, seed: u64) -> Self {
        White {
            state: (0..lanes).map(|l| lane_state(seed, l)).collect(),
        }
    }

    pub fn process(&mut self, out: &mut [f32], lanes: usize) {
        let state = &mut self.state[..lanes];
        if let [s] = state {
            // One-lane rows would cost more in loop setup than the generator itself.
            for o in out.iter_mut() {
                *o = next_uniform(s);
            }
            return;
        }
        for row in out.chunks_exact_mut(lanes) {
            for (o, s) in row.iter_mut().zip(state.iter_mut()) {
                *o = next_uniform(s);
            }
        }
    }
}

/// Brings the refined filter's RMS gain for white input (√9.318 ≈ 3.05, from the sum of its
/// squared impulse response) back to 1, so pink comes out at white's RMS of ≈0.577: swapping
/// one noise colour for the other in a patch then keeps the level. Summing many filtered
/// copies makes pink near-Gaussian rather than bounded, so at equal RMS about 8% of samples
/// exceed ±1 and a minute peaks near ±2.8; matching loudness matters more than the peak.
const PINK_GAIN: f32 = 0.327_597_4;

/// Pink (−3 dB/octave) noise: Paul Kellet's refined filter on uniform white noise, accurate
/// to ±0.05 dB above about 9 Hz at 44.1 kHz.
pub struct Pink {
    white: White,
    /// b0..b6 of Kellet's filter, per lane.
    state: Vec<[f32; 7]>,
}

impl Pink {
    pub fn new(lanes: usize, seed: u64) -> Self {
        Pink {
            white: White::new(lanes, seed),
            state: vec![[0.0; 7]; lanes],
        }
    }

    pub fn process(&mut self, out: &mut [f32], lanes: usize) {
        self.white.process(out, lanes);
        let state = &mut self.state[..lanes];
        if let [b] = state {
            for o in out.iter_mut() {
                *o = kellet(b, *o);
            }
            return;
        }
        for row in out.chunks_exact_mut(lanes) {
            for (o, b) in row.iter_mut().zip(state.iter_mut()) {
                *o = kellet(b, *o);
            }
        }
    }
}

/// One step of Paul Kellet's refined pink filter on white sample `w`, scaled by `PINK_GAIN`.
#[inline(always)]
fn kellet(b: &mut [f32; 7], w: f32) -> f32 {
    b[0] = 0.99886 * b[0] + w * 0.055_517_9;
    b[1] = 0.99332 * b[1] + w * 0.075_075_9;
    b[2] = 0.969 * b[2] + w * 0.153_852;
    b[3] = 0.8665 * b[3] + w * 0.310_485_6;
    b[4] = 0.55 * b[4] + w * 0.532_952_2;
    b[5] = -0.7616 * b[5] - w * 0.016_898;
    let pink = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
    b[6] = w * 0.115_926;
    pink * PINK_GAIN
}

impl super::Carry for White {
    fn carry_from(&mut self, old: &Self) -> bool {
        super::copy_lanes(&mut self.state, &old.state)
    }
}

impl super::Carry for Pink {
    fn carry_from(&mut self, old: &Self) -> bool {
        super::Carry::carry_from(&mut self.white, &old.white)
            && super::copy_lanes(&mut self.state, &old.state)
    }
}

impl super::Node for White {
    type Inputs<'a> = super::NoInputs<'a>;
    fn process(&mut self, _ctx: &super::Ctx, _ins: super::NoInputs, out: &mut [f32], lanes: usize) {
        White::process(self, out, lanes)
    }
}

impl super::Node for Pink {
    type Inputs<'a> = super::NoInputs<'a>;
    fn process(&mut self, _ctx: &super::Ctx, _ins: super::NoInputs, out: &mut [f32], lanes: usize) {
        Pink::process(self, out, lanes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::BLOCK;
    use rustfft::{FftPlanner, num_complex::Complex};

    fn render_white(seed: u64, lanes: usize, blocks: usize) -> Vec<f32> {
        let mut n = White::new(lanes, seed);
        let mut out = vec![0.0; BLOCK * lanes * blocks];
        for chunk in out.chunks_exact_mut(BLOCK * lanes) {
            n.process(chunk, lanes);
        }
        out
    }

    fn render_pink(seed: u64, lanes: usize, blocks: usize) -> Vec<f32> {
        let mut n = Pink::new(lanes, seed);
        let mut out = vec![0.0; BLOCK * lanes * blocks];
        for chunk in out.chunks_exact_mut(BLOCK * lanes) {
            n.process(chunk, lanes);
        }
        out
    }

    fn mean(x: &[f32]) -> f64 {
        x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn same_seed_repeats_different_seed_differs() {
        assert_eq!(render_white(7, 3, 100), render_white(7, 3, 100));
        assert_ne!(render_white(7, 3, 100), render_white(8, 3, 100));
        assert_eq!(render_pink(7, 3, 100), render_pink(7, 3, 100));
        assert_ne!(render_pink(7, 3, 100), render_pink(8, 3, 100));
    }

    #[test]
    fn lanes_are_distinct_and_seed_plus_lane_does_not_collide() {
        let a = render_white(0, 2, 10);
        let lane0: Vec<f32> = a.iter().step_by(2).copied().collect();
        let lane1: Vec<f32> = a.iter().skip(1).step_by(2).copied().collect();
        assert_ne!(lane0, lane1);
        assert_ne!(lane1, render_white(1, 1, 10));
    }

    #[test]
    fn white_is_bounded_centred_and_uniform() {
        let x = render_white(42, 1, 16_000);
        assert!(x.iter().all(|&v| (-1.0..1.0).contains(&v)));
        assert!(mean(&x).abs() < 0.005, "mean {}", mean(&x));
        assert!(
            (rms(&x) - 1.0 / 3f64.sqrt()).abs() < 0.005,
            "rms {}",
            rms(&x)
        );
        // Each tenth of the range should hold a tenth of the samples.
        let mut hist = [0usize; 10];
        for &v in &x {
            hist[((v + 1.0) * 5.0) as usize] += 1;
        }
        for h in hist {
            assert!((h as f64 / x.len() as f64 - 0.1).abs() < 0.003, "{hist:?}");
        }
    }

    #[test]
    fn pink_is_centred_with_white_rms() {
        let x = render_pink(42, 1, 16_000);
        assert!(x.iter().all(|v| v.is_finite()));
        assert!(mean(&x).abs() < 0.05, "mean {}", mean(&x));
        let r = rms(&x);
        assert!((r - 0.577).abs() < 0.05, "rms {r}");
        let peak = x.iter().fold(0.0f32, |m, &v| m.max(v.abs()));
        assert!(peak < 3.5, "peak {peak}");
    }

    /// Mean power per Hz in [lo, hi) over 1-second Hann-windowed frames.
    fn band_density(x: &[f32], sr: usize, bands: &[(f64, f64)]) -> Vec<f64> {
        let fft = FftPlanner::new().plan_fft_forward(sr);
        let win: Vec<f32> = (0..sr)
            .map(|i| (0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / sr as f64).cos()) as f32)
            .collect();
        let mut acc = vec![0.0; bands.len()];
        for frame in x.chunks_exact(sr) {
            let mut buf: Vec<Complex<f32>> = frame
                .iter()
                .zip(&win)
                .map(|(&v, &w)| Complex::new(v * w, 0.0))
                .collect();
            fft.process(&mut buf);
            for (a, &(lo, hi)) in acc.iter_mut().zip(bands) {
                let bins = &buf[lo as usize..hi as usize];
                *a += bins.iter().map(|c| f64::from(c.norm_sqr())).sum::<f64>() / bins.len() as f64;
            }
        }
        acc
    }

    #[test]
    fn pink_tilts_down_and_white_does_not() {
        let sr = 48_000;
        let bands = [(20.0, 500.0), (5_000.0, 20_000.0)];
        let p = band_density(&render_pink(3, 1, 4 * sr / BLOCK), sr, &bands);
        let w = band_density(&render_white(3, 1, 4 * sr / BLOCK), sr, &bands);
        // Pink at −10 dB/decade: ~160 Hz vs ~10 kHz average gives a ratio well above 20.
        assert!(p[0] > 10.0 * p[1], "pink low/high {}", p[0] / p[1]);
        let wr = w[0] / w[1];
        assert!((0.7..1.4).contains(&wr), "white low/high {wr}");
    }
}
