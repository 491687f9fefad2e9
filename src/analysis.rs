//! Spectral measurements of rendered sound, for the quality checks (tests, the quality
//! script); run on the calling thread, never on the audio thread.

use rustfft::{FftPlanner, num_complex::Complex};

/// Aliasing of a periodic tone at `f0` Hz: the energy between 20 Hz and 20 kHz that lies
/// more than 12 Hz from every harmonic of `f0`, relative to the energy within 12 Hz of the
/// harmonics, in dB (lower is cleaner). Taken from one Blackman-windowed spectrum of all of
/// `x` (a mono signal at `sample_rate`); −88 dB is about the floor of 32-bit float.
pub fn alias_ratio_db(x: &[f32], sample_rate: f64, f0: f64) -> f64 {
    let n = x.len();
    if n < 16 || f0 <= 0.0 || !f0.is_finite() {
        return f64::NAN;
    }
    let tau = std::f64::consts::TAU;
    let mut buf: Vec<Complex<f64>> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let p = tau * i as f64 / (n - 1) as f64;
            let w = 0.42 - 0.5 * p.cos() + 0.08 * (2.0 * p).cos();
            Complex::new(f64::from(v) * w, 0.0)
        })
        .collect();
    FftPlanner::<f64>::new()
        .plan_fft_forward(n)
        .process(&mut buf);
    let bin_hz = sample_rate / n as f64;
    let (mut signal, mut alias) = (0.0, 0.0);
    for (k, c) in buf.iter().enumerate().take(n / 2 + 1) {
        let hz = k as f64 * bin_hz;
        if !(20.0..=20_000.0).contains(&hz) {
            continue;
        }
        let harmonic = (hz / f0).round().max(1.0) * f0;
        let e = c.norm_sqr();
        if (hz - harmonic).abs() <= 12.0 {
            signal += e;
        } else {
            alias += e;
        }
    }
    10.0 * (alias / signal).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: f64 = 48_000.0;

    fn tone(parts: &[(f64, f64)]) -> Vec<f32> {
        (0..96_000)
            .map(|i| {
                let t = i as f64 / SR;
                parts
                    .iter()
                    .map(|&(hz, a)| a * (std::f64::consts::TAU * hz * t).sin())
                    .sum::<f64>() as f32
            })
            .collect()
    }

    #[test]
    fn a_pure_tone_is_at_the_floor_and_a_known_alias_is_measured() {
        let clean = alias_ratio_db(&tone(&[(997.0, 0.5)]), SR, 997.0);
        assert!(clean < -85.0, "pure tone at {clean:.1} dB");
        // One component at −40 dB (amplitude 0.01 of 1), away from every harmonic.
        let with = alias_ratio_db(&tone(&[(997.0, 1.0), (1500.0, 0.01)]), SR, 997.0);
        assert!(
            (with + 40.0).abs() < 0.1,
            "−40 dB alias measured as {with:.2} dB"
        );
        // A harmonic is signal, not aliasing.
        let harm = alias_ratio_db(&tone(&[(997.0, 1.0), (1994.0, 0.3)]), SR, 997.0);
        assert!(harm < -85.0, "harmonic counted as aliasing: {harm:.1} dB");
    }
}
