//! The band-limited waveforms with jumps and corners (saw, pulse, tri): running phase, the
//! naive shape, and the residual of every discontinuity; run on the audio thread.
//!
//! A naive waveform's jumps and corners fold every harmonic above Nyquist back into the
//! audible band. Each one found between two frames gets the minimum-phase residual of
//! `sinc::Residuals` from that point on; the residuals' tails run on into the next block,
//! kept per lane. Discontinuities are found from the frames' positions (or, at a steady
//! pitch, counted out from the first), so a pitch that moves is as clean as one that
//! stands still.

use super::super::sinc::{self, TAPS};
use super::super::{BLOCK, Ctx, In};
use super::{fires, phase_inc, restart, run_phase, shape};

/// What a family of discontinuities does to the waveform.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    /// Jumps by this much when the phase passes the point forwards (the opposite backwards).
    Jump(f32),
    /// The slope, in output units per cycle, rises by this much either way.
    Corner(f32),
}

/// Where in the cycle a family sits.
#[derive(Clone, Copy)]
pub(super) enum At {
    Zero,
    Half,
    /// At the pulse's width input.
    Width,
}

/// A waveform: its discontinuities, and its naive value and slope (per cycle) at a cycle
/// position `t` in `[0, 1)` for a width `w`.
pub(super) struct Wave<N, S> {
    pub families: &'static [(At, Kind)],
    pub naive: N,
    pub slope: S,
}

/// A pulse's width as the waveform uses it.
#[inline(always)]
pub(super) fn clamp_width(w: f32) -> f32 {
    #[expect(
        clippy::manual_clamp,
        reason = "max/min turn a NaN width into 0.01; clamp would pass NaN through"
    )]
    w.max(0.01).min(0.99)
}

/// A cycle position as the waveforms read it: `cycle_pos` may round up to exactly 1.0,
/// which is the start of the next cycle.
#[inline(always)]
pub(super) fn cycle(t: f32) -> f32 {
    if t >= 1.0 { 0.0 } else { t }
}

/// Per lane: the running phase, the last frame's position and width (to find a
/// discontinuity between blocks), and the residual tails still to be added.
pub(super) struct Limited {
    pub phase: Vec<f64>,
    last_t: Vec<f32>,
    last_w: Vec<f32>,
    /// The last frame's phase step: a change of step turns a sloped waveform (a corner).
    last_d: Vec<f32>,
    /// Lane-major, `BLOCK + TAPS` frames per lane: this block's residuals, then the tails
    /// that reach into the next.
    corr: Vec<f32>,
    /// Per lane, the frames of `corr` that may be nonzero (the rest are zero).
    used: Vec<usize>,
}

const SPAN: usize = BLOCK + TAPS;

/// Above this step (0.45 cycles per frame, 21.6 kHz at 48 kHz) wraps cannot be told from
/// moves reliably, and the fundamental is out of hearing: the naive waveform plays alone.
const LIMIT: f32 = 0.45;

/// The step the band-limiting follows: the phase step, or 0 above `LIMIT`.
#[inline(always)]
fn limited_step(d: f32) -> f32 {
    if d.abs() <= LIMIT { d } else { 0.0 }
}

impl Limited {
    pub fn new(lanes: usize) -> Self {
        // Built here, on the control thread, so the audio thread only reads it.
        let _ = sinc::tables();
        Limited {
            phase: vec![0.0; lanes],
            last_t: vec![0.0; lanes],
            last_w: vec![0.5; lanes],
            last_d: vec![0.0; lanes],
            corr: vec![0.0; SPAN * lanes],
            used: vec![0; lanes],
        }
    }

    /// Runs one block of `wave` at `freq` (and `width` for a pulse), restarting on `reset`.
    #[allow(clippy::too_many_arguments)]
    pub fn process<N, S>(
        &mut self,
        ctx: &Ctx,
        freq: &In,
        width: Option<&In>,
        reset: &In,
        out: &mut [f32],
        lanes: usize,
        wave: &Wave<N, S>,
    ) where
        N: Fn(f32, f32) -> f32 + Copy,
        S: Fn(f32) -> f32 + Copy,
    {
        let lanes = lanes.min(self.used.len());
        let inv_sr = 1.0 / f64::from(ctx.sample_rate);
        run_phase(out, lanes, freq, &mut self.phase, inv_sr);
        let fired = fires(reset);
        if fired {
            restart(out, lanes, reset, freq, &mut self.phase, inv_sr);
        }
        for lane in 0..lanes {
            self.find(out, lanes, lane, freq, width, reset, fired, inv_sr, wave);
        }
        // The naive waveform, matched to the kernel's delay (see `sinc::Residuals::delay`).
        let delay = sinc::tables().delay as f64;
        let (naive, slope) = (wave.naive, wave.slope);
        let w = width.unwrap_or(&In::ZERO);
        shape(
            out,
            lanes,
            freq,
            w,
            |f| delay as f32 * limited_step(phase_inc(f, inv_sr) as f32),
            |t, lag, w| {
                let t = cycle(t);
                naive(t, w) - lag * slope(t)
            },
        );
        for lane in 0..lanes {
            let used = self.used[lane];
            if used == 0 {
                continue;
            }
            let corr = &mut self.corr[lane * SPAN..(lane + 1) * SPAN];
            for (n, c) in corr[..used.min(BLOCK)].iter().enumerate() {
                out[n * lanes + lane] += *c;
            }
            // The tails move to the front for the next block.
            let rest = used.saturating_sub(BLOCK);
            corr.copy_within(BLOCK..BLOCK + rest, 0);
            corr[rest..used].fill(0.0);
            self.used[lane] = rest;
        }
    }

    /// Finds one lane's discontinuities in this block (each between two frames, the first
    /// pair being the last block's last frame and this one's first) and adds their
    /// residuals to its `corr`.
    #[allow(clippy::too_many_arguments)]
    fn find<N, S>(
        &mut self,
        pos: &[f32],
        lanes: usize,
        lane: usize,
        freq: &In,
        width: Option<&In>,
        reset: &In,
        fired: bool,
        inv_sr: f64,
        wave: &Wave<N, S>,
    ) where
        N: Fn(f32, f32) -> f32,
        S: Fn(f32) -> f32,
    {
        let tables = sinc::tables();
        let t = |n: usize| cycle(pos[n * lanes + lane]);
        let d = |n: usize| limited_step(phase_inc(freq.at(n, lane), inv_sr) as f32);
        let w = |n: usize| width.map_or(0.5, |w| clamp_width(w.at(n, lane)));
        let restarts = |n: usize| fired && reset.at(n, lane) > 0.0;
        // A steady pitch and width and no restart: the discontinuities are evenly spaced.
        let even = freq.steady && !fired && width.is_none_or(|w| w.steady);
        let corr = &mut self.corr[lane * SPAN..(lane + 1) * SPAN];
        let mut used = self.used[lane];
        let (t_before, w_before) = (self.last_t[lane], self.last_w[lane]);
        for &(at, kind) in wave.families {
            let table = match kind {
                Kind::Jump(_) => &tables.step[..],
                Kind::Corner(_) => &tables.corner[..],
            };
            let place = |t: f32, w: f32| {
                let off = match at {
                    At::Zero => 0.0,
                    At::Half => 0.5,
                    At::Width => w,
                };
                let x = t - off;
                if x < 0.0 { x + 1.0 } else { x }
            };
            let u = |n: usize| place(t(n), w(n));
            // `forward`: which way the phase passed the point; `step`: how far it moved that
            // frame.
            let mut add = |(tau, forward): (f32, bool), step: f32| {
                let amp = match kind {
                    Kind::Jump(a) if forward => a,
                    Kind::Jump(a) => -a,
                    Kind::Corner(c) => c * step.abs(),
                };
                used = used.max(sinc::add_residual(table, tau, amp, corr));
            };
            // Between frames n - 1 (at `a`) and n (at `b`): the position moves less than
            // half a cycle per frame, so a change of more than half is a wrap. It happened
            // where the move, taken as uniform over the frame, crossed the point; a
            // backward wrap found exactly on frame n - 1 is just after it (there the
            // position 0 is still the cycle's start).
            let crossing = |n: usize, a: f32, b: f32| -> Option<(f32, bool)> {
                if b < a - 0.5 {
                    Some((n as f32 - b / (b + 1.0 - a), true))
                } else if b > a + 0.5 {
                    let tau = n as f32 - (1.0 - b) / (a + 1.0 - b);
                    Some((tau.max(n as f32 - 1.0 + 1e-4), false))
                } else {
                    None
                }
            };
            if !restarts(0)
                && self.last_d[lane] != 0.0
                && let Some(at) = crossing(0, place(t_before, w_before), u(0))
            {
                add(at, self.last_d[lane]);
            }
            if even {
                // Count the wraps out from frame 0, then take each from the positions of
                // the frames around it, exactly as the scan below would (a wrap predicted
                // on a frame can be found on either side of it by rounding).
                let d0 = d(0);
                if d0 != 0.0 && d0.is_finite() {
                    let period = 1.0 / f64::from(d0.abs());
                    let u0 = f64::from(u(0));
                    let ahead = if d0 > 0.0 { 1.0 - u0 } else { u0 };
                    let mut tau = ahead * period;
                    let mut done = 0;
                    while tau < BLOCK as f64 {
                        let k = tau.ceil() as usize;
                        for n in k.saturating_sub(1).max(done + 1)..(k + 2).min(BLOCK) {
                            if let Some(at) = crossing(n, u(n - 1), u(n)) {
                                add(at, d0);
                                done = n;
                                break;
                            }
                        }
                        tau += period;
                    }
                }
                continue;
            }
            for n in 1..BLOCK {
                if !restarts(n)
                    && d(n - 1) != 0.0
                    && let Some(at) = crossing(n, u(n - 1), u(n))
                {
                    add(at, d(n - 1));
                }
            }
        }
        // A change of pitch turns a sloped waveform (the naive value is continuous, its
        // slope is not). Changes too small to matter (below 1e-6 per sample, as in a slow
        // vibrato) are left to the delay term alone.
        let frames = if even { 1 } else { BLOCK };
        let mut d_before = self.last_d[lane];
        for n in 0..frames {
            let dn = d(n);
            if !restarts(n) {
                let turn = (wave.slope)(t(n)) * (dn - d_before);
                if turn.abs() > 1e-6 {
                    used = used.max(sinc::add_residual(&tables.corner, n as f32, turn, corr));
                }
            }
            d_before = dn;
        }
        // A restart jumps, and may turn, from where the waveform was going to its start.
        if fired {
            for n in 0..BLOCK {
                if !restarts(n) {
                    continue;
                }
                let (before, d_before) = if n == 0 {
                    (t_before, self.last_d[lane])
                } else {
                    (t(n - 1), d(n - 1))
                };
                let was = before + d_before;
                let was = cycle(was - was.floor());
                let jump = (wave.naive)(t(n), w(n)) - (wave.naive)(was, w(n));
                used = used.max(sinc::add_residual(&tables.step, n as f32, jump, corr));
                let turn = (wave.slope)(t(n)) * d(n) - (wave.slope)(was) * d_before;
                used = used.max(sinc::add_residual(&tables.corner, n as f32, turn, corr));
            }
        }
        self.used[lane] = used;
        self.last_t[lane] = t(BLOCK - 1);
        self.last_w[lane] = w(BLOCK - 1);
        self.last_d[lane] = d(BLOCK - 1);
    }

    /// Takes over `old`'s phases, positions and residual tails, lane for lane.
    pub fn carry_from(&mut self, old: &Self) -> bool {
        let n = self.used.len().min(old.used.len());
        self.carry_lanes(old, 0, 0, n)
    }

    /// Takes over lanes `from..from + n` of `old` as lanes `to..to + n`.
    pub fn carry_lanes(&mut self, old: &Self, to: usize, from: usize, n: usize) -> bool {
        use super::super::copy_range;
        let ok = copy_range(&mut self.phase, &old.phase, to, from, n)
            && copy_range(&mut self.last_t, &old.last_t, to, from, n)
            && copy_range(&mut self.last_w, &old.last_w, to, from, n)
            && copy_range(&mut self.last_d, &old.last_d, to, from, n)
            && copy_range(&mut self.used, &old.used, to, from, n);
        ok && copy_range(&mut self.corr, &old.corr, to * SPAN, from * SPAN, n * SPAN)
    }
}
