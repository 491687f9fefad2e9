//! Band-limiting kernels: Kaiser-windowed sinc and the step (BLEP) and corner (BLAMP)
//! residual tables derived from it. Built once on the control thread (`tables()` is forced
//! when an oscillator is created); the audio thread only reads them.
//!
//! An ideal band-limited jump is the kernel's running integral; the residual is that minus
//! the naive jump, nonzero only within `HALF` samples of the jump. Adding it, scaled, around
//! every discontinuity of a naive waveform gives the waveform the kernel's spectrum: flat to
//! about 20 kHz and more than 90 dB down from about 28 kHz at 48 kHz, so what folds back
//! below 20 kHz is inaudible. The kernel is linear phase; the oscillators place each
//! residual around its jump (predicting the next jumps from the current frequency), so the
//! output has no delay.

use std::sync::LazyLock;

/// Samples each side of a discontinuity that its residual reaches.
pub const HALF: usize = 16;
/// Taps per table row: the samples from `-HALF` to `HALF - 1` relative to the first sample
/// at or after the discontinuity.
pub const TAPS: usize = 2 * HALF;
/// Sub-sample positions tabulated; a position between two is interpolated linearly.
pub const PHASES: usize = 256;

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

/// The residual tables, row-major: row `p` (0..=PHASES) holds the residual at distances
/// `m + p/PHASES` samples from the discontinuity, `m` from `-HALF` to `HALF - 1`.
pub struct Residuals {
    /// Of a unit upward jump.
    pub step: Vec<f32>,
    /// Of a unit increase in slope (per sample).
    pub corner: Vec<f32>,
}

/// The shared residual tables, built on first use.
pub fn tables() -> &'static Residuals {
    static T: LazyLock<Residuals> = LazyLock::new(build);
    &T
}

/// Integrates the kernel on a fine grid, then samples the step and corner residuals.
fn build() -> Residuals {
    // Fine grid: `FINE` points per sample over [-HALF, HALF].
    const FINE: usize = 4 * PHASES;
    let h = HALF as f64;
    let n = 2 * HALF * FINE;
    let dx = 1.0 / FINE as f64;
    let k: Vec<f64> = (0..=n)
        .map(|i| windowed_sinc(-h + i as f64 * dx, CUTOFF, h, BETA))
        .collect();
    // Running integrals by the trapezoid rule: s = ∫k (the band-limited step), r = ∫s.
    let mut s = vec![0.0; n + 1];
    let mut r = vec![0.0; n + 1];
    for i in 1..=n {
        s[i] = s[i - 1] + 0.5 * (k[i - 1] + k[i]) * dx;
    }
    let total = s[n];
    for v in &mut s {
        *v /= total;
    }
    for i in 1..=n {
        r[i] = r[i - 1] + 0.5 * (s[i - 1] + s[i]) * dx;
    }
    // The ramp's ideal is max(x, 0); its band-limited form must meet it at +HALF. The
    // kernel is symmetric, so ∫s over the span is HALF in exact arithmetic; pin the small
    // numerical error to the far end so the residual ends at exactly 0.
    let r_end = r[n] - h;
    let grid = |x: f64| ((x + h) * FINE as f64).round() as usize;
    let mut step = Vec::with_capacity((PHASES + 1) * TAPS);
    let mut corner = Vec::with_capacity((PHASES + 1) * TAPS);
    for p in 0..=PHASES {
        for j in 0..TAPS {
            let m = j as isize - HALF as isize;
            let x = m as f64 + p as f64 / PHASES as f64;
            let i = grid(x).min(n);
            // A tap before the jump (m < 0) keeps the value of the left side even at
            // x = 0 (the last row), where the naive step has not risen yet.
            let naive_step = if m >= 0 { 1.0 } else { 0.0 };
            step.push((s[i] - naive_step) as f32);
            let frac = (x + h) / (2.0 * h);
            corner.push((r[i] - r_end * frac - x.max(0.0)) as f32);
        }
    }
    Residuals { step, corner }
}

/// Adds `amp` times the residual `table` of a discontinuity at `tau` (in samples from the
/// block's first frame) to the samples of one lane in `corr` (frame-major, `lanes` wide).
#[inline]
pub fn add_residual(
    table: &[f32],
    tau: f32,
    amp: f32,
    corr: &mut [f32],
    lanes: usize,
    lane: usize,
) {
    if !tau.is_finite() || !amp.is_finite() {
        return;
    }
    let frames = corr.len() / lanes;
    let first = tau.ceil();
    let pos = (first - tau) * PHASES as f32;
    // `pos` is in [0, PHASES]; a `tau` far outside the block reaches no frame below.
    let row = (pos as usize).min(PHASES - 1);
    let a = pos - row as f32;
    let lo = &table[row * TAPS..(row + 1) * TAPS];
    let hi = &table[(row + 1) * TAPS..(row + 2) * TAPS];
    let start = first as isize - HALF as isize;
    let j0 = (-start).clamp(0, TAPS as isize) as usize;
    let j1 = (frames as isize - start).clamp(0, TAPS as isize) as usize;
    for j in j0..j1 {
        let v = lo[j] + a * (hi[j] - lo[j]);
        corr[(start + j as isize) as usize * lanes + lane] += amp * v;
    }
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
    fn residuals_vanish_at_the_ends_and_jump_by_one() {
        let t = tables();
        for p in 0..=PHASES {
            let row = &t.step[p * TAPS..(p + 1) * TAPS];
            assert!(row[0].abs() < 1e-4, "row {p} starts at {}", row[0]);
            assert!(
                row[TAPS - 1].abs() < 1e-4,
                "row {p} ends at {}",
                row[TAPS - 1]
            );
            let c = &t.corner[p * TAPS..(p + 1) * TAPS];
            assert!(
                c[0].abs() < 1e-4 && c[TAPS - 1].abs() < 1e-4,
                "corner row {p}"
            );
        }
        // At the jump itself the band-limited step is halfway: -0.5 after, +0.5 before.
        assert!((t.step[HALF] + 0.5).abs() < 1e-3);
        assert!((t.step[PHASES * TAPS + HALF - 1] - 0.5).abs() < 1e-3);
        // The corner's residual is even and largest at the corner.
        let at0 = t.corner[HALF];
        assert!(at0 > 0.0 && t.corner.iter().all(|&v| v <= at0 + 1e-6));
    }

    #[test]
    fn residual_lands_only_in_range() {
        let t = tables();
        let mut corr = vec![0.0; 64 * 2];
        add_residual(&t.step, 70.5, 1.0, &mut corr, 2, 1);
        // Only frames 55..64 of lane 1 are reached by a jump at 70.5.
        for (i, &v) in corr.iter().enumerate() {
            let (f, l) = (i / 2, i % 2);
            if l == 0 || f < 55 {
                assert_eq!(v, 0.0, "frame {f} lane {l}");
            }
        }
        assert!(corr.iter().any(|&v| v != 0.0));
        add_residual(&t.step, f32::NAN, 1.0, &mut corr, 2, 0);
        add_residual(&t.step, 1e30, 1.0, &mut corr, 2, 0);
        add_residual(&t.step, -1e30, 1.0, &mut corr, 2, 0);
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
