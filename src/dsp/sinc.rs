//! Band-limiting kernels: Kaiser-windowed sinc and the step (BLEP) and corner (BLAMP)
//! residual tables derived from it. Built once on the control thread (`tables()` is forced
//! when an oscillator is created); the audio thread only reads them.
//!
//! An ideal band-limited jump is the kernel's running integral; the residual is that minus
//! the naive jump. Adding it, scaled, at every discontinuity of a naive waveform gives the
//! waveform the kernel's spectrum: flat to about 20 kHz and more than 90 dB down from about
//! 28 kHz at 48 kHz, so what folds back below 20 kHz is inaudible.
//!
//! The kernel is made minimum-phase: the same magnitude, all of it after the discontinuity.
//! A residual then starts where its jump is found, so an oscillator needs neither lookahead
//! nor added latency, and exactness does not depend on the pitch staying put.

use rustfft::{FftPlanner, num_complex::Complex};
use std::sync::LazyLock;

/// Half the linear-phase kernel's width in samples.
pub const HALF: usize = 16;
/// Samples after a discontinuity that its residual reaches.
pub const TAPS: usize = 2 * HALF;
/// Sub-sample positions tabulated; a position between two is interpolated linearly.
pub const PHASES: usize = 128;

/// Kaiser window shape. 9.5 puts the sidelobes near −95 dB; the transition it leaves
/// (about 0.155 of the sample rate for 32 taps) is centred on Nyquist.
const BETA: f64 = 9.5;
/// Cutoff in cycles per sample: Nyquist, so the transition band, 20.3–27.7 kHz at 48 kHz,
/// folds onto itself above 20 kHz.
const CUTOFF: f64 = 0.5;

/// Modified Bessel function of the first kind, order 0 (the Kaiser window's shape).
pub fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > sum * 1e-17 {
        term *= q / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

/// Kaiser window over `[-half, half]`, 0 outside.
pub fn kaiser(x: f64, half: f64, beta: f64) -> f64 {
    let r = x / half;
    if r.abs() >= 1.0 {
        return 0.0;
    }
    bessel_i0(beta * (1.0 - r * r).sqrt()) / bessel_i0(beta)
}

/// A low-pass kernel: `2·cutoff·sinc(2·cutoff·x)` under a Kaiser window of half-width
/// `half` samples; `cutoff` in cycles per sample. Its integral is close to 1 (normalise
/// numerically where it matters).
pub fn windowed_sinc(x: f64, cutoff: f64, half: f64, beta: f64) -> f64 {
    let a = 2.0 * cutoff * x;
    let sinc = if a.abs() < 1e-12 {
        1.0
    } else {
        (std::f64::consts::PI * a).sin() / (std::f64::consts::PI * a)
    };
    2.0 * cutoff * sinc * kaiser(x, half, beta)
}

/// The residual tables, row-major: row `p` (0..=PHASES) holds the residual at `m + p/PHASES`
/// samples after the discontinuity, `m` from 0 to `TAPS - 1`.
pub struct Residuals {
    /// Of a unit upward jump: the band-limited step minus the naive one.
    pub step: Vec<f32>,
    /// Of a unit rise in slope (per sample), against a naive corner whose later slope is
    /// read `delay` samples early (see `delay`), so that it, too, ends at 0.
    pub corner: Vec<f32>,
    /// The kernel's delay at low frequencies, in samples (its centre of mass). Every
    /// band-limited waveform lags its naive form by this much; a waveform with slope `s`
    /// per sample is matched by subtracting `delay · s` from the naive value.
    pub delay: f32,
}

/// The shared residual tables, built on first use.
pub fn tables() -> &'static Residuals {
    static T: LazyLock<Residuals> = LazyLock::new(build);
    &T
}

/// The minimum-phase form of `h` (same magnitude response), by folding its real cepstrum;
/// `size` is the FFT length, many times `h.len()` so the cepstrum does not wrap.
fn minimum_phase(h: &[f64], size: usize) -> Vec<f64> {
    let mut planner = FftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(size);
    let inv = planner.plan_fft_inverse(size);
    let mut x: Vec<Complex<f64>> = (0..size)
        .map(|i| Complex::new(h.get(i).copied().unwrap_or(0.0), 0.0))
        .collect();
    fwd.process(&mut x);
    // The stopband's zeros would be −∞; 1e-12 is 240 dB down, far below anything heard.
    for v in &mut x {
        *v = Complex::new(v.norm().max(1e-12).ln(), 0.0);
    }
    inv.process(&mut x);
    let half = size / 2;
    for (k, v) in x.iter_mut().enumerate() {
        let c = v.re / size as f64;
        let w = match k {
            0 => 1.0,
            k if k < half => 2.0,
            k if k == half => 1.0,
            _ => 0.0,
        };
        *v = Complex::new(c * w, 0.0);
    }
    fwd.process(&mut x);
    for v in &mut x {
        *v = v.exp();
    }
    inv.process(&mut x);
    x[..h.len()].iter().map(|v| v.re / size as f64).collect()
}

/// Designs the kernel on a fine grid, makes it minimum-phase, integrates it, and samples
/// the step and corner residuals.
fn build() -> Residuals {
    // PHASES grid points per sample.
    let fine = PHASES;
    let h = HALF as f64;
    let n = TAPS * fine;
    let dx = 1.0 / fine as f64;
    let lin: Vec<f64> = (0..n)
        .map(|i| windowed_sinc(-h + (i as f64 + 0.5) * dx, CUTOFF, h, BETA))
        .collect();
    let min = minimum_phase(&lin, 16 * n);
    let total: f64 = min.iter().sum();
    // s[i]: the band-limited step at i·dx; r[i]: its integral (the band-limited ramp).
    let mut s = vec![0.0; n + 1];
    let mut r = vec![0.0; n + 1];
    for i in 0..n {
        s[i + 1] = s[i] + min[i] / total;
        r[i + 1] = r[i] + 0.5 * (s[i] + s[i + 1]) * dx;
    }
    // The ramp's lag behind max(x, 0) once the step has settled: the kernel's delay.
    let delay = n as f64 * dx - r[n];
    let mut step = Vec::with_capacity((PHASES + 1) * TAPS);
    let mut corner = Vec::with_capacity((PHASES + 1) * TAPS);
    for p in 0..=PHASES {
        for m in 0..TAPS {
            let i = m * fine + p;
            let x = i as f64 * dx;
            step.push((s[i] - 1.0) as f32);
            corner.push((r[i] - x + delay) as f32);
        }
    }
    // The last row's last tap lies on the grid's end, where both residuals are settled.
    Residuals {
        step,
        corner,
        delay: delay as f32,
    }
}

/// Adds `amp` times the residual `table` of a discontinuity at `tau` (in frames from the
/// block's first, within `(-1, frames - TAPS]`) through `put(frame, value)`, and returns the
/// end of the frames it reached (0 when nothing was added).
#[inline]
pub fn add_residual(
    table: &[f32],
    tau: f32,
    amp: f32,
    frames: usize,
    mut put: impl FnMut(usize, f32),
) -> usize {
    if !tau.is_finite() || !amp.is_finite() || tau <= -1.0 {
        return 0;
    }
    let first = tau.ceil();
    let start = first as usize;
    // `start` saturates for a huge `tau`, so no sum here may wrap.
    if frames < TAPS || start > frames - TAPS {
        return 0;
    }
    let pos = (first - tau) * PHASES as f32;
    let row = (pos as usize).min(PHASES - 1);
    let a = pos - row as f32;
    let lo = &table[row * TAPS..(row + 1) * TAPS];
    let hi = &table[(row + 1) * TAPS..(row + 2) * TAPS];
    for (k, (&l, &h)) in lo.iter().zip(hi).enumerate() {
        put(start + k, amp * (l + a * (h - l)));
    }
    start + TAPS
}

// ------------------------------------------------------------------------------------------
// Interpolation and half-band kernels: built on the control thread for the sample player and
// the oversampled drive.

/// A polyphase table of the Nyquist low-pass (`cutoff` 0.5) for reading a signal between its
/// samples: row `r` (0..=`phases`) holds the weights of the `2·half` samples around a read
/// position whose fraction is `r / phases`, the earliest sample first; tap `j` of row `r`
/// is the kernel at `r / phases + half - 1 - j`. Rows 0 and `phases` are exactly 1 at the
/// sample itself and 0 elsewhere, so reading at a whole position returns the sample
/// untouched. Between two rows, interpolate linearly.
pub fn interpolation_table(half: usize, phases: usize, beta: f64) -> Vec<f32> {
    let taps = 2 * half;
    let mut t = Vec::with_capacity((phases + 1) * taps);
    for r in 0..=phases {
        for j in 0..taps {
            let x = r as f64 / phases as f64 + half as f64 - 1.0 - j as f64;
            let v = if x.fract() == 0.0 {
                // The sinc's zeros, exactly (its formula gives about 1e-17 there).
                if x == 0.0 { 1.0 } else { 0.0 }
            } else {
                windowed_sinc(x, 0.5, half as f64, beta)
            };
            t.push(v as f32);
        }
    }
    t
}

/// The `taps` weights (an even number) that interpolate a signal halfway between its
/// samples: weight `j` applies to the sample `j - (taps - 1) / 2` samples from the midpoint
/// (a Kaiser-windowed Nyquist low-pass read at half-sample offsets), summing to exactly 1.
/// The odd phase of a half-band filter: what a 2× up- or down-sampler computes.
pub fn half_sample_taps(taps: usize, beta: f64) -> Vec<f32> {
    let half = taps as f64 / 2.0;
    let w: Vec<f64> = (0..taps)
        .map(|j| windowed_sinc(j as f64 - (taps as f64 - 1.0) / 2.0, 0.5, half, beta))
        .collect();
    let sum: f64 = w.iter().sum();
    w.iter().map(|v| (v / sum) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bessel_i0_matches_known_values() {
        assert!((bessel_i0(0.0) - 1.0).abs() < 1e-15);
        assert!((bessel_i0(1.0) - 1.266_065_877_752_008_4).abs() < 1e-14);
        assert!((bessel_i0(9.5) / 1_753.0 - 1.0).abs() < 0.01);
    }

    #[test]
    fn residuals_start_at_the_jump_and_settle() {
        let t = tables();
        println!("kernel delay: {:.2} samples", t.delay);
        assert!(t.delay > 0.5 && t.delay < HALF as f32, "delay {}", t.delay);
        // The band-limited step has not risen at the jump itself, and has settled by the end.
        assert!((t.step[0] + 1.0).abs() < 1e-6, "{}", t.step[0]);
        for p in 0..=PHASES {
            let row = &t.step[p * TAPS..(p + 1) * TAPS];
            assert!(
                row[TAPS - 1].abs() < 1e-3,
                "step row {p} ends at {}",
                row[TAPS - 1]
            );
            let c = &t.corner[p * TAPS..(p + 1) * TAPS];
            assert!(
                c[TAPS - 1].abs() < 1e-3,
                "corner row {p} ends at {}",
                c[TAPS - 1]
            );
        }
        // Each row continues the one before it: row PHASES at tap m is row 0 at tap m + 1.
        for m in 0..TAPS - 1 {
            let (a, b) = (t.step[PHASES * TAPS + m], t.step[m + 1]);
            assert!((a - b).abs() < 1e-6, "tap {m}: {a} vs {b}");
        }
    }

    #[test]
    fn minimum_phase_keeps_the_magnitude() {
        let h: Vec<f64> = (0..64)
            .map(|i| windowed_sinc(i as f64 - 31.5, 0.25, 32.0, 8.0))
            .collect();
        let m = minimum_phase(&h, 4096);
        let mag = |x: &[f64], f: f64| {
            let (re, im) = x.iter().enumerate().fold((0.0, 0.0), |(re, im), (i, &v)| {
                let a = std::f64::consts::TAU * f * i as f64;
                (re + v * a.cos(), im - v * a.sin())
            });
            (re * re + im * im).sqrt()
        };
        for f in [0.0, 0.1, 0.2, 0.3, 0.45] {
            let (a, b) = (mag(&h, f), mag(&m, f));
            assert!((a - b).abs() < 1e-4 * a.max(1e-3), "at {f}: {a} vs {b}");
        }
        // Minimum phase: its energy comes first.
        let early: f64 = m[..16].iter().map(|v| v * v).sum();
        let all: f64 = m.iter().map(|v| v * v).sum();
        assert!(early > 0.9 * all);
    }

    #[test]
    fn residual_lands_only_in_range() {
        let t = tables();
        let mut corr = vec![0.0; 64 + TAPS];
        let frames = corr.len();
        let mut add = |tau| add_residual(&t.step, tau, 1.0, frames, |n, v| corr[n] += v);
        assert_eq!(add(10.5), 11 + TAPS);
        for bad in [f32::NAN, 1e30, -1e30, -1.0, 64.5] {
            assert_eq!(add(bad), 0, "{bad}");
        }
        assert!(corr[..11].iter().all(|&v| v == 0.0));
        assert!(corr[11..11 + TAPS].iter().all(|&v| v != 0.0));
    }

    #[test]
    fn interpolation_rows_are_exact_at_whole_positions_and_sum_to_one() {
        let (half, phases) = (16, 256);
        let t = interpolation_table(half, phases, 9.5);
        assert_eq!(t.len(), (phases + 1) * 2 * half);
        let row = |r: usize| &t[r * 2 * half..(r + 1) * 2 * half];
        for (j, &v) in row(0).iter().enumerate() {
            assert_eq!(v, if j == half - 1 { 1.0 } else { 0.0 });
        }
        for (j, &v) in row(phases).iter().enumerate() {
            assert_eq!(v, if j == half { 1.0 } else { 0.0 });
        }
        for r in 0..=phases {
            let sum: f32 = row(r).iter().sum();
            assert!((sum - 1.0).abs() < 1e-4, "row {r} sums to {sum}");
        }
        // Halfway, the weights are symmetric about the midpoint.
        let mid = row(phases / 2);
        for j in 0..half {
            assert!((mid[j] - mid[2 * half - 1 - j]).abs() < 1e-6);
        }
    }

    #[test]
    fn half_sample_taps_are_symmetric_and_pass_low_tones() {
        let g = half_sample_taps(24, 7.0);
        assert!((g.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        for j in 0..12 {
            assert_eq!(g[j], g[23 - j]);
        }
        // A tone at 0.1 cycles per sample read at the midpoint of samples 11 and 12.
        let f = 0.1;
        let got: f64 = (0..24)
            .map(|j| g[j] as f64 * (std::f64::consts::TAU * f * j as f64).cos())
            .sum();
        let want = (std::f64::consts::TAU * f * 11.5).cos();
        assert!((got - want).abs() < 1e-4, "{got} vs {want}");
    }
}
