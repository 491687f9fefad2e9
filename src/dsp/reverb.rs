//! Algorithmic stereo reverb (8-line feedback delay network); run on the audio thread.
//!
//! Signal flow: the two inputs are summed to mono, delayed by a short fixed pre-delay and
//! smeared by two Schroeder allpass diffusers, then injected (with a ±1 sign pattern) into
//! eight delay lines. Each line ends in a one-pole low-pass carrying that line's loss; the
//! filtered line outputs are mixed by a Householder matrix `I - (2/8)·11ᵀ` (orthogonal, so
//! the mixing itself neither adds nor removes energy) and written back. Left and right are
//! two other, mutually orthogonal sign patterns of the filtered line outputs, so the two
//! channels share no common path and come out decorrelated.
//!
//! Decay: line `i` of `len_i` samples gets the loop gain `g_i = 10^(-3·len_i / (sr·rt60))`,
//! i.e. every line loses exactly 60 dB per `rt60` seconds at DC whatever its length, so the
//! whole (lossless-prototype) network decays at that rate too (Jot). `damp` sets the decay
//! time at Nyquist to `rt60 · (1 - 0.9·damp)` the same way, which fixes each line's pole.
//!
//! Every line is at least one block long, so a block's line outputs were all written in
//! earlier blocks: a block reads them as contiguous runs and everything vectorises over the
//! block except the one-pole filters' recurrence, which is stepped 8 samples at a time.
//! Coefficients are recomputed only when `rt60` or `damp` change; with a modulated (signal)
//! `rt60` or `damp` they follow frame by frame through a plain per-sample loop.
//!
//! The stereo input is summed to mono before the network: the stereo image of the tail comes
//! from the decorrelated output taps, not from the input's placement.

use super::math::fast_exp2;
use super::{BLOCK, Ctx, clamp_nan_lo, finite_or_zero, lane0, sane_rate};

const LINES: usize = 8;
/// Samples per step of the block-parallel damping filter; divides `BLOCK`.
const CHUNK: usize = 8;

/// Nominal line lengths at any rate, in ms. Each is scaled to the sample rate and moved up to
/// the next prime (and past the previous line), so the lengths are mutually prime and the
/// lines' echoes never pile up on a common period, which would ring as a pitched buzz. The
/// spread (ratio ~1.15 between neighbours) keeps the echo density even.
const LINE_MS: [f32; LINES] = [31.7, 37.3, 43.1, 49.9, 56.9, 65.3, 74.9, 87.1];

const PREDELAY_MS: f32 = 10.0;
/// Input diffusers: the longer one first, so the shorter one fills the gaps of its echoes.
/// Like every ring here they are at least a block long (below 40 kHz the short one grows).
const DIFFUSER_MS: [f32; 2] = [4.3, 1.6];
const DIFFUSER_GAIN: [f32; 2] = [0.7, 0.6];

// Rows of an 8x8 Hadamard matrix: mutually orthogonal, and all orthogonal to the all-ones
// vector the Householder matrix reflects.
const IN_SIGNS: [f32; LINES] = [1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0];
const L_SIGNS: [f32; LINES] = [1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0];
const R_SIGNS: [f32; LINES] = [1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0];

const MIN_RT60: f32 = 0.1;
const MAX_RT60: f32 = 30.0;
/// At `damp = 1` the decay time at Nyquist is this fraction of the low-frequency RT60.
const HF_RT_AT_FULL_DAMP: f32 = 0.1;

const LOG2_10: f32 = std::f32::consts::LOG2_10;

fn is_prime(n: usize) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

fn next_prime(n: usize) -> usize {
    (n..).find(|&k| is_prime(k)).unwrap_or(n)
}

fn samples(ms: f32, sr: f32) -> usize {
    (ms * 0.001 * sr).round().max(1.0) as usize
}

/// A power-of-two ring read at a fixed delay of at least one block behind the write position,
/// which is shared by every ring and advances a block at a time. So a block's reads were all
/// written by earlier blocks and each ring is read and written as contiguous runs: the write
/// run starts at a multiple of `BLOCK` and never wraps, the read run wraps at most once.
struct Ring {
    buf: Vec<f32>,
    mask: usize,
    delay: usize,
}

impl Ring {
    fn new(delay: usize) -> Self {
        let delay = delay.max(BLOCK);
        // Room for the delay plus the block being written over the oldest samples.
        let size = (delay + BLOCK).next_power_of_two();
        Ring {
            buf: vec![0.0; size],
            mask: size - 1,
            delay,
        }
    }

    /// The `BLOCK` samples written `delay` frames before the block at `pos`.
    #[inline(always)]
    fn read(&self, pos: usize, out: &mut [f32; BLOCK]) {
        let start = pos.wrapping_sub(self.delay) & self.mask;
        let first = (self.buf.len() - start).min(BLOCK);
        out[..first].copy_from_slice(&self.buf[start..start + first]);
        out[first..].copy_from_slice(&self.buf[..BLOCK - first]);
    }

    /// Writes the block at `pos` (a multiple of `BLOCK`).
    #[inline(always)]
    fn write(&mut self, pos: usize, v: &[f32; BLOCK]) {
        let start = pos & self.mask;
        self.buf[start..start + BLOCK].copy_from_slice(v);
    }

    /// Runs a block through the Schroeder allpass `(z^-M - g) / (1 - g z^-M)`: flat
    /// magnitude, so the diffusers smear the input in time without colouring it or changing
    /// its energy.
    #[inline(always)]
    fn allpass(&mut self, pos: usize, x: &mut [f32; BLOCK], g: f32) {
        let mut delayed = [0.0f32; BLOCK];
        self.read(pos, &mut delayed);
        let mut v = [0.0f32; BLOCK];
        for f in 0..BLOCK {
            v[f] = x[f] + g * delayed[f];
            x[f] = delayed[f] - g * v[f];
        }
        self.write(pos, &v);
    }

    fn same_shape(&self, other: &Ring) -> bool {
        self.buf.len() == other.buf.len() && self.delay == other.delay
    }
}

/// Stereo reverb; see the module notes for the structure.
pub struct Reverb {
    lenf: [f32; LINES],
    lines: [Ring; LINES],
    pre: Ring,
    diff: [Ring; 2],
    /// Write position shared by every ring, a multiple of `BLOCK`.
    pos: usize,
    /// Damping filter states (the last filtered output of each line).
    z: [f32; LINES],
    /// Per-line filter `z = b·y + a·z`: pole `a`, and `b = g·(1 - a)` for a DC gain of `g`.
    a: [f32; LINES],
    b: [f32; LINES],
    /// The same filters stepped `CHUNK` samples at a time (see `damp_chunked`); rebuilt from
    /// `a` and `b` before use when `chunk_stale`.
    chunk_pow: [[f32; CHUNK]; LINES],
    chunk_col: [[[f32; CHUNK]; CHUNK]; LINES],
    chunk_stale: bool,
    /// Injection gain normalising the wet level (see `set_decay`).
    in_gain: f32,
    /// (sample rate, rt60, damp) the coefficients were computed for; NaN forces the first.
    key: [f32; 3],
}

impl Reverb {
    /// Bytes of the rings `new(sample_rate)` allocates, computed the same way without
    /// allocating (the graph's memory budget is checked before it is built).
    pub fn heap_bytes(sample_rate: f32) -> usize {
        let sr = sane_rate(sample_rate);
        let ring = |delay: usize| (delay.max(BLOCK) + BLOCK).next_power_of_two();
        let mut prev = BLOCK - 1;
        let mut total = 0;
        for ms in LINE_MS {
            let l = next_prime(samples(ms, sr).max(prev + 1));
            prev = l;
            total += ring(l);
        }
        total += ring(samples(PREDELAY_MS, sr));
        total += DIFFUSER_MS
            .iter()
            .map(|&ms| ring(samples(ms, sr)))
            .sum::<usize>();
        total * std::mem::size_of::<f32>()
    }

    pub fn new(sample_rate: f32) -> Self {
        let sr = sane_rate(sample_rate);
        let mut len = [0usize; LINES];
        // Every line at least a block long (see `Ring`) and longer than the one before.
        let mut prev = BLOCK - 1;
        for (l, ms) in len.iter_mut().zip(LINE_MS) {
            *l = next_prime(samples(ms, sr).max(prev + 1));
            prev = *l;
        }
        Reverb {
            lenf: len.map(|l| l as f32),
            lines: len.map(Ring::new),
            pre: Ring::new(samples(PREDELAY_MS, sr)),
            diff: DIFFUSER_MS.map(|ms| Ring::new(samples(ms, sr))),
            pos: 0,
            z: [0.0; LINES],
            a: [0.0; LINES],
            b: [0.0; LINES],
            chunk_pow: [[0.0; CHUNK]; LINES],
            chunk_col: [[[0.0; CHUNK]; CHUNK]; LINES],
            chunk_stale: true,
            in_gain: 0.0,
            key: [f32::NAN; 3],
        }
    }

    /// Recompute the loop gains, damping poles and injection gain if the parameters moved.
    /// No `powf`/`exp`: the gains are powers of two of a product, via `fast_exp2`.
    #[inline]
    fn set_decay(&mut self, sr: f32, rt60: f32, damp: f32) {
        let rt60 = clamp_nan_lo(rt60, MIN_RT60, MAX_RT60);
        let damp = clamp_nan_lo(damp, 0.0, 1.0);
        if self.key == [sr, rt60, damp] {
            return;
        }
        self.key = [sr, rt60, damp];
        self.chunk_stale = true;
        // log2 of the per-sample amplitude decay 10^(-3 / (sr·rt60)), at DC and at Nyquist.
        let k = -3.0 * LOG2_10 / (sr * rt60);
        let k_hf = k / (1.0 - (1.0 - HF_RT_AT_FULL_DAMP) * damp);
        // Sums of g² and 1 - g² (the latter formed as (1 - g)(1 + g), without cancellation).
        let (mut kept, mut lost) = (0.0f32, 0.0f32);
        for i in 0..LINES {
            let g = fast_exp2(k * self.lenf[i]);
            // One-pole gain at Nyquist relative to DC: (1 - a) / (1 + a) = r.
            let r = fast_exp2((k_hf - k) * self.lenf[i]);
            let a = (1.0 - r) / (1.0 + r);
            self.a[i] = a;
            self.b[i] = g * (1.0 - a);
            kept += g * g;
            lost += (1.0 - g) * (1.0 + g);
        }
        // Wet normalisation, for white input of power σ². Say every line carries power W
        // (the matrix spreads energy evenly). The matrix is orthogonal, so the power written
        // per sample, 8W, is what comes back, Σg²·W, plus the injection 8c²σ²: W = 8c²σ² /
        // Σ(1 - g²). A ±1 output tap sums the 8 roughly uncorrelated filtered lines, Σg²·W.
        // Making that σ² gives c² = Σ(1 - g²) / (8·Σg²): the wet power equals the mono input
        // power, i.e. the impulse response carries the energy of the impulse, whatever the
        // decay time. (Damping only removes energy, so damped tails come out a little quieter.)
        self.in_gain = (lost / (LINES as f32 * kept)).sqrt();
    }

    /// Unrolls each line's filter `z[n] = b·y[n] + a·z[n-1]` over `CHUNK` samples:
    /// `z[n+k] = a^(k+1)·z[n-1] + Σ_{j<=k} b·a^(k-j)·y[n+j]`. Each chunk is then a few vector
    /// multiply-adds with a single value (`z[n-1]`) carried between chunks, instead of a chain
    /// of `CHUNK` dependent scalar steps.
    fn damp_chunked(&mut self, seg: &mut [[f32; BLOCK]; LINES]) {
        if self.chunk_stale {
            self.chunk_stale = false;
            for i in 0..LINES {
                let mut pow = [1.0f32; CHUNK + 1];
                for k in 1..=CHUNK {
                    pow[k] = pow[k - 1] * self.a[i];
                }
                for k in 0..CHUNK {
                    self.chunk_pow[i][k] = pow[k + 1];
                    for j in 0..CHUNK {
                        self.chunk_col[i][j][k] = if k >= j { self.b[i] * pow[k - j] } else { 0.0 };
                    }
                }
            }
        }
        for (i, s) in seg.iter_mut().enumerate() {
            let (pw, col) = (&self.chunk_pow[i], &self.chunk_col[i]);
            let mut zp = self.z[i];
            for y in s.chunks_exact_mut(CHUNK) {
                let mut acc = [0.0f32; CHUNK];
                for k in 0..CHUNK {
                    acc[k] = pw[k] * zp;
                }
                for (c, yj) in col.iter().zip(y.iter()) {
                    for k in 0..CHUNK {
                        acc[k] += c[k] * yj;
                    }
                }
                y.copy_from_slice(&acc);
                zp = acc[CHUNK - 1];
            }
            self.z[i] = zp;
        }
    }

    fn reset(&mut self) {
        for r in self.lines.iter_mut().chain(&mut self.diff) {
            r.buf.fill(0.0);
        }
        self.pre.buf.fill(0.0);
        self.z = [0.0; LINES];
    }

    /// One block. `mix` crossfades dry to wet (`dry·(1-mix) + wet·mix`, clamped to 0..1),
    /// `rt60` is in seconds (0.1..30), `damp` 0..1 shortens the high-frequency decay (see the
    /// module notes). `out` is left in `out[..BLOCK]`, right in `out[BLOCK..2 * BLOCK]`.
    /// Non-finite input samples are read as 0.
    pub fn process(&mut self, ctx: &Ctx, ins: ReverbIn, out: &mut [f32]) {
        let ReverbIn {
            left,
            right,
            mix,
            secs: rt60,
            damp,
        } = ins;
        let sr = sane_rate(ctx.sample_rate);
        let pos = self.pos;

        // Input path: mono sum, pre-delay, diffusers.
        let dry_l = lane0(&left).map(finite_or_zero);
        let dry_r = lane0(&right).map(finite_or_zero);
        let mut mono = [0.0f32; BLOCK];
        for f in 0..BLOCK {
            mono[f] = 0.5 * (dry_l[f] + dry_r[f]);
        }
        let mut x = [0.0f32; BLOCK];
        self.pre.read(pos, &mut x);
        self.pre.write(pos, &mono);
        for (d, g) in self.diff.iter_mut().zip(DIFFUSER_GAIN) {
            d.allpass(pos, &mut x, g);
        }

        let mut seg = [[0.0f32; BLOCK]; LINES];
        for (s, line) in seg.iter_mut().zip(&self.lines) {
            line.read(pos, s);
        }

        // Loss filters (the only per-sample recurrence) and the injection gain.
        match (rt60.konst, damp.konst) {
            (Some(rt), Some(d)) => {
                self.set_decay(sr, rt, d);
                let g = self.in_gain;
                for v in &mut x {
                    *v *= g;
                }
                if self.a == [0.0; LINES] {
                    // No damping: the filters are plain gains.
                    for ((s, b), z) in seg.iter_mut().zip(self.b).zip(&mut self.z) {
                        for v in s.iter_mut() {
                            *v *= b;
                        }
                        *z = s[BLOCK - 1];
                    }
                } else {
                    self.damp_chunked(&mut seg);
                }
            }
            _ => {
                // Modulated decay: coefficients follow the inputs frame by frame (recomputed
                // only when a value changes).
                for f in 0..BLOCK {
                    self.set_decay(sr, rt60.at(f, 0), damp.at(f, 0));
                    x[f] *= self.in_gain;
                    for (i, s) in seg.iter_mut().enumerate() {
                        self.z[i] = self.b[i] * s[f] + self.a[i] * self.z[i];
                        s[f] = self.z[i];
                    }
                }
            }
        }

        // Output taps and the Householder sum, over the block.
        let mut sum = [0.0f32; BLOCK];
        let mut wet_l = [0.0f32; BLOCK];
        let mut wet_r = [0.0f32; BLOCK];
        for (i, s) in seg.iter().enumerate() {
            let (sl, sr) = (L_SIGNS[i], R_SIGNS[i]);
            for f in 0..BLOCK {
                sum[f] += s[f];
                wet_l[f] += sl * s[f];
                wet_r[f] += sr * s[f];
            }
        }
        // Feedback: Householder(filtered outputs) + injection.
        for ((s, line), inj) in seg.iter_mut().zip(&mut self.lines).zip(IN_SIGNS) {
            for f in 0..BLOCK {
                s[f] += inj * x[f] - (2.0 / LINES as f32) * sum[f];
            }
            line.write(pos, s);
        }
        self.pos = pos.wrapping_add(BLOCK);

        // An overflow (absurd but finite input) anywhere in the network reaches the taps
        // within one line length, and each tap sums every line: clear everything then instead
        // of ringing NaN forever. Checked once per block, not per line and sample.
        let bad = wet_l
            .iter()
            .chain(&wet_r)
            .fold(false, |bad, v| bad | !v.is_finite());
        if bad {
            self.reset();
            wet_l = [0.0; BLOCK];
            wet_r = [0.0; BLOCK];
        }
        let (out_l, out_r) = out[..2 * BLOCK].split_at_mut(BLOCK);
        let mix = lane0(&mix);
        for f in 0..BLOCK {
            let m = clamp_nan_lo(mix[f], 0.0, 1.0);
            out_l[f] = dry_l[f] * (1.0 - m) + wet_l[f] * m;
            out_r[f] = dry_r[f] * (1.0 - m) + wet_r[f] * m;
        }
    }
}

impl super::Carry for Reverb {
    fn carry_from(&mut self, old: &Self) -> bool {
        let same = self.pre.same_shape(&old.pre)
            && self
                .lines
                .iter()
                .zip(&old.lines)
                .all(|(a, b)| a.same_shape(b))
            && self
                .diff
                .iter()
                .zip(&old.diff)
                .all(|(a, b)| a.same_shape(b));
        if !same {
            return false;
        }
        let new_rings = self.lines.iter_mut().chain(&mut self.diff);
        let old_rings = old.lines.iter().chain(&old.diff);
        for (a, b) in new_rings
            .chain([&mut self.pre])
            .zip(old_rings.chain([&old.pre]))
        {
            a.buf.copy_from_slice(&b.buf);
        }
        self.pos = old.pos;
        self.z = old.z;
        true
    }
}

crate::node_inputs! {
    /// Left and right in, then mix, RT60 in seconds and damping.
    pub struct ReverbIn { left, right, mix, secs, damp }
}

impl super::Node for Reverb {
    type Inputs<'a> = ReverbIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: ReverbIn, out: &mut [f32], _lanes: usize) {
        Reverb::process(self, ctx, ins, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::Carry;
    use crate::dsp::In;

    const SR: f32 = 48_000.0;

    fn ctx() -> Ctx {
        Ctx::new(SR, 120.0)
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

    fn blocks_for(secs: f32) -> usize {
        (secs * SR / BLOCK as f32).ceil() as usize
    }

    /// Runs whole blocks of `left`/`right` (zero-padded) with constant parameters.
    fn run(
        rv: &mut Reverb,
        left: &[f32],
        right: &[f32],
        mix: f32,
        rt60: f32,
        damp: f32,
    ) -> (Vec<f32>, Vec<f32>) {
        let blocks = left.len().max(right.len()).div_ceil(BLOCK);
        let (mb, tb, db) = ([mix; BLOCK], [rt60; BLOCK], [damp; BLOCK]);
        let (mut ol, mut or) = (Vec::new(), Vec::new());
        for b in 0..blocks {
            let chunk = |x: &[f32]| {
                let mut c = [0.0f32; BLOCK];
                for (f, v) in c.iter_mut().enumerate() {
                    *v = x.get(b * BLOCK + f).copied().unwrap_or(0.0);
                }
                c
            };
            let (l, r) = (chunk(left), chunk(right));
            let mut out = [0.0f32; 2 * BLOCK];
            rv.process(
                &ctx(),
                ReverbIn {
                    left: In::signal(&l, 1),
                    right: In::signal(&r, 1),
                    mix: In::constant(&mb, mix),
                    secs: In::constant(&tb, rt60),
                    damp: In::constant(&db, damp),
                },
                &mut out,
            );
            ol.extend_from_slice(&out[..BLOCK]);
            or.extend_from_slice(&out[BLOCK..]);
        }
        (ol, or)
    }

    fn impulse(len: usize) -> Vec<f32> {
        let mut x = vec![0.0; len];
        x[0] = 1.0;
        x
    }

    fn energy(x: &[f32]) -> f64 {
        x.iter().map(|v| (*v as f64).powi(2)).sum()
    }

    fn rms(x: &[f32]) -> f64 {
        (energy(x) / x.len() as f64).sqrt()
    }

    /// RT60 from the Schroeder backward-integrated energy decay curve of `L² + R²`:
    /// least-squares slope between -5 and -25 dB (T20), extrapolated to 60 dB.
    fn schroeder_rt60(l: &[f32], r: &[f32]) -> f64 {
        let e: Vec<f64> = l
            .iter()
            .zip(r)
            .map(|(a, b)| (*a as f64).powi(2) + (*b as f64).powi(2))
            .collect();
        let mut edc = vec![0.0f64; e.len()];
        let mut acc = 0.0;
        for i in (0..e.len()).rev() {
            acc += e[i];
            edc[i] = acc;
        }
        let db: Vec<f64> = edc.iter().map(|v| 10.0 * (v / edc[0]).log10()).collect();
        let i5 = db.iter().position(|d| *d <= -5.0).expect("reaches -5 dB");
        let i25 = db.iter().position(|d| *d <= -25.0).expect("reaches -25 dB");
        let n = (i25 - i5 + 1) as f64;
        let ts: Vec<f64> = (i5..=i25).map(|i| i as f64 / SR as f64).collect();
        let mt = ts.iter().sum::<f64>() / n;
        let md = db[i5..=i25].iter().sum::<f64>() / n;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (t, d) in ts.iter().zip(&db[i5..=i25]) {
            sxy += (t - mt) * (d - md);
            sxx += (t - mt) * (t - mt);
        }
        -60.0 / (sxy / sxx)
    }

    #[test]
    fn impulse_decays_at_the_stated_rt60() {
        for rt in [1.0f32, 2.0] {
            let mut rv = Reverb::new(SR);
            // Twice the RT60: the truncated energy is 120 dB down and cannot bias the curve.
            let x = impulse(blocks_for(2.0 * rt) * BLOCK);
            let (l, r) = run(&mut rv, &x, &x, 1.0, rt, 0.0);
            let measured = schroeder_rt60(&l, &r);
            eprintln!("rt60 {rt} s: measured {measured:.4} s");
            // The loop gains make every line lose 60 dB per `rt` exactly; a fit to one
            // impulse response reads the echoes' scatter around that exponential too (about
            // 1 % here). 2 % leaves room for it, is under the 5 % a listener can tell apart
            // (ISO 3382-1), and catches a gain built from the wrong length or rate.
            assert!(
                (measured / rt as f64 - 1.0).abs() < 0.02,
                "stated {rt} s, measured {measured} s"
            );
        }
    }

    #[test]
    fn left_and_right_tails_are_decorrelated() {
        let mut rv = Reverb::new(SR);
        let x = impulse(blocks_for(1.0) * BLOCK);
        let (l, r) = run(&mut rv, &x, &x, 1.0, 2.0, 0.3);
        let tail = (0.05 * SR) as usize..l.len();
        let (l, r) = (&l[tail.clone()], &r[tail]);
        let cross: f64 = l.iter().zip(r).map(|(a, b)| *a as f64 * *b as f64).sum();
        let corr = cross / (energy(l) * energy(r)).sqrt();
        eprintln!("L/R tail correlation {corr:.4}");
        assert!(energy(l) > 1e-3, "no tail");
        // Orthogonal output signs over uncorrelated lines correlate at 0; over a finite tail
        // chance agreement leaves about 0.01-0.02. One sign wrong in either pattern gives
        // about 0.2, the same pattern 1.
        assert!(corr.abs() < 0.1, "correlation {corr}");
    }

    #[test]
    fn mix_zero_passes_dry_input_exactly() {
        let mut rv = Reverb::new(SR);
        let (xl, xr) = (noise(BLOCK * 100, 1), noise(BLOCK * 100, 2));
        let (l, r) = run(&mut rv, &xl, &xr, 0.0, 3.0, 0.5);
        assert_eq!(l, xl);
        assert_eq!(r, xr);
    }

    #[test]
    fn long_noise_run_stays_finite_and_bounded() {
        let mut rv = Reverb::new(SR);
        // The longest decay, undamped, fully wet: the most energy the network can hold.
        let x = noise(blocks_for(20.0) * BLOCK, 3);
        let (l, r) = run(&mut rv, &x, &x, 1.0, 30.0, 0.0);
        let peak = l.iter().chain(&r).fold(0.0f32, |m, v| {
            assert!(v.is_finite());
            m.max(v.abs())
        });
        let level = rms(&l[l.len() / 2..]);
        assert!(peak < 8.0, "peak {peak}");
        assert!(level > 0.1, "wet rms {level}");
    }

    #[test]
    fn wet_level_matches_dry_level_for_sustained_noise() {
        for rt in [0.1f32, 0.3, 1.0, 4.0, 10.0] {
            let mut rv = Reverb::new(SR);
            let x = noise(blocks_for(3.0 * rt + 1.0) * BLOCK, 4);
            let (l, r) = run(&mut rv, &x, &x, 1.0, rt, 0.0);
            let settled = (3.0 * rt * SR) as usize..x.len();
            let dry = rms(&x[settled.clone()]);
            for wet in [&l, &r] {
                let ratio_db = 20.0 * (rms(&wet[settled.clone()]) / dry).log10();
                eprintln!("rt60 {rt}: wet/dry {ratio_db:.2} dB");
                assert!(ratio_db.abs() < 1.5, "rt60 {rt}: wet/dry {ratio_db} dB");
            }
        }
    }

    /// Share of the energy in the first difference: a crude brightness measure (4 for a
    /// Nyquist tone, 0 for DC, 2 for white noise).
    fn brightness(x: &[f32]) -> f64 {
        let d: f64 = x.windows(2).map(|w| ((w[1] - w[0]) as f64).powi(2)).sum();
        d / energy(x)
    }

    #[test]
    fn damping_darkens_the_tail() {
        let x = impulse(blocks_for(1.5) * BLOCK);
        let tail = (0.5 * SR) as usize..(1.5 * SR) as usize;
        let (l0, _) = run(&mut Reverb::new(SR), &x, &x, 1.0, 2.0, 0.0);
        let (l1, _) = run(&mut Reverb::new(SR), &x, &x, 1.0, 2.0, 1.0);
        let (b0, b1) = (brightness(&l0[tail.clone()]), brightness(&l1[tail]));
        assert!(b0 > 1.0, "undamped tail brightness {b0}");
        assert!(b1 < 0.1 * b0, "damped {b1} vs undamped {b0}");
    }

    #[test]
    fn damping_shortens_only_the_high_frequency_decay() {
        // damp = 1 sets the decay time at Nyquist to a tenth of the RT60; a low band (a 2-pole
        // low-pass at 80 Hz) must still decay at the RT60, a high band (a 2-pole high-pass
        // at 8 kHz) much faster.
        let rt = 1.5;
        let x = impulse(blocks_for(2.0 * rt) * BLOCK);
        let (l, r) = run(&mut Reverb::new(SR), &x, &x, 1.0, rt, 1.0);
        let lp = |x: &[f32], fc: f32| {
            let c = 1.0 - (-2.0 * std::f32::consts::PI * fc / SR).exp();
            let (mut s1, mut s2) = (0.0f32, 0.0f32);
            x.iter()
                .map(|v| {
                    s1 += c * (v - s1);
                    s2 += c * (s1 - s2);
                    s2
                })
                .collect::<Vec<f32>>()
        };
        let hp = |x: &[f32]| {
            let low = lp(x, 8000.0);
            x.iter().zip(low).map(|(a, b)| a - b).collect::<Vec<f32>>()
        };
        let low = schroeder_rt60(&lp(&l, 80.0), &lp(&r, 80.0));
        let high = schroeder_rt60(&hp(&l), &hp(&r));
        eprintln!("damp 1, rt60 {rt} s: low band {low:.3} s, high band {high:.3} s");
        assert!((low / rt as f64 - 1.0).abs() < 0.2, "low band {low} s");
        assert!(high < 0.4 * rt as f64, "high band {high} s");
    }

    #[test]
    fn modulated_parameters_match_constant_ones() {
        // Per-frame signal inputs holding constant values take the per-frame path; it must
        // give the same output as the block-constant path.
        let x = noise(BLOCK * 300, 5);
        let (l0, r0) = run(&mut Reverb::new(SR), &x, &x, 0.7, 1.3, 0.4);
        let mut rv = Reverb::new(SR);
        let (mb, tb, db) = ([0.7f32; BLOCK], [1.3f32; BLOCK], [0.4f32; BLOCK]);
        for b in 0..300 {
            let xs = &x[b * BLOCK..(b + 1) * BLOCK];
            let mut out = [0.0f32; 2 * BLOCK];
            rv.process(
                &ctx(),
                ReverbIn {
                    left: In::signal(xs, 1),
                    right: In::signal(xs, 1),
                    mix: In::signal(&mb, 1),
                    secs: In::signal(&tb, 1),
                    damp: In::signal(&db, 1),
                },
                &mut out,
            );
            let worst = out[..BLOCK]
                .iter()
                .zip(&l0[b * BLOCK..])
                .chain(out[BLOCK..].iter().zip(&r0[b * BLOCK..]))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "block {b}: difference {worst}");
        }
    }

    #[test]
    fn nonfinite_input_and_overflow_recover() {
        let mut rv = Reverb::new(SR);
        let mut x = noise(BLOCK * 400, 6);
        x[1000] = f32::NAN;
        x[2000] = f32::INFINITY;
        // Finite but huge: overflows the network.
        for v in &mut x[5000..5010] {
            *v = f32::MAX;
        }
        let (l, r) = run(&mut rv, &x, &x, 0.5, 10.0, 0.0);
        assert!(l.iter().chain(&r).all(|v| v.is_finite()));
        // Still reverberating afterwards.
        let level = rms(&l[BLOCK * 300..]);
        assert!(level > 0.1 && level < 2.0, "level after recovery {level}");
    }

    #[test]
    fn carry_continues_the_tail() {
        let x = impulse(BLOCK * 100);
        let mut old = Reverb::new(SR);
        let _ = run(&mut old, &x[..BLOCK * 20], &x[..BLOCK * 20], 1.0, 2.0, 0.2);
        let mut new = Reverb::new(SR);
        assert!(new.carry_from(&old));
        let silence = vec![0.0f32; BLOCK * 50];
        let (a, _) = run(&mut old, &silence, &silence, 1.0, 2.0, 0.2);
        let (b, _) = run(&mut new, &silence, &silence, 1.0, 2.0, 0.2);
        assert!(energy(&a) > 1e-3);
        assert_eq!(a, b);
        assert!(!Reverb::new(44_100.0).carry_from(&old));
    }

    #[test]
    fn line_lengths_are_distinct_primes_in_range() {
        for sr in [8_000.0f32, 44_100.0, 48_000.0, 96_000.0, 192_000.0] {
            let rv = Reverb::new(sr);
            for (i, l) in rv.lines.iter().map(|r| r.delay).enumerate() {
                assert!(is_prime(l) && l > BLOCK, "{sr}: line {i} length {l}");
                let ms = l as f32 / sr * 1000.0;
                assert!((30.0..92.0).contains(&ms), "{sr}: line {i} {ms} ms");
                if i > 0 {
                    assert!(l > rv.lines[i - 1].delay);
                }
            }
        }
    }
}
