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

impl Kind {
    /// The residual a discontinuity of this kind adds.
    fn table(self, tables: &sinc::Residuals) -> &[f32] {
        match self {
            Kind::Jump(_) => &tables.step,
            Kind::Corner(_) => &tables.corner,
        }
    }
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
    /// The largest magnitude `slope` takes.
    pub steepest: f32,
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
    ring: Ring,
    /// For a block whose pitch or width moves, frame-major as the output: each frame's step,
    /// and one family's positions relative to its point.
    steps: Vec<f32>,
    places: Vec<f32>,
}

/// How far a residual may reach: this block and the tail into the next.
const SPAN: usize = BLOCK + TAPS;
/// The ring's length in frames: a power of two of at least `SPAN`.
const RING: usize = SPAN.next_power_of_two();

/// The residuals still to be added: a ring of `RING` frames, each frame holding every lane
/// side by side as the output does, so a block's residuals are added with whole rows rather
/// than one lane at a time.
struct Ring {
    corr: Vec<f32>,
    /// Lanes per frame.
    width: usize,
    /// The ring frame of this block's first frame.
    head: usize,
    /// Frames from `head` on that may be nonzero, for any lane (the rest are zero).
    pending: usize,
}

impl Ring {
    /// Adds `amp` times the residual `table` of a discontinuity at `tau` (frames from this
    /// block's first) to `lane`.
    #[inline]
    fn add(&mut self, lane: usize, table: &[f32], tau: f32, amp: f32) {
        let (head, width, corr) = (self.head, self.width, &mut self.corr);
        let end = sinc::add_residual(table, tau, amp, SPAN, |n, v| {
            corr[((head + n) % RING) * width + lane] += v;
        });
        self.pending = self.pending.max(end);
    }

    /// Adds this block's frames to `out` (`lanes` wide) and clears them; a lane not run this
    /// block (a silent voice) loses its tails with them.
    fn flush(&mut self, out: &mut [f32], lanes: usize) {
        let width = self.width;
        for (n, row) in out.chunks_exact_mut(lanes).take(self.pending).enumerate() {
            let at = ((self.head + n) % RING) * width;
            let frame = &mut self.corr[at..at + width];
            for (o, c) in row.iter_mut().zip(&*frame) {
                *o += *c;
            }
            frame.fill(0.0);
        }
        self.pending = self.pending.saturating_sub(BLOCK);
        self.head = (self.head + BLOCK) % RING;
    }
}

/// Above this step (0.45 cycles per frame, 21.6 kHz at 48 kHz) wraps cannot be told from
/// moves reliably, and the fundamental is out of hearing: the naive waveform plays alone.
const LIMIT: f32 = 0.45;

/// The step the band-limiting follows: the phase step, or 0 above `LIMIT`.
#[inline(always)]
fn limited_step(d: f32) -> f32 {
    if d.abs() <= LIMIT { d } else { 0.0 }
}

/// A cycle position `t` relative to the point of family `at`, in `[0, 1)`.
#[inline(always)]
fn place(at: At, t: f32, w: f32) -> f32 {
    let off = match at {
        At::Zero => 0.0,
        At::Half => 0.5,
        At::Width => w,
    };
    let x = t - off;
    if x < 0.0 { x + 1.0 } else { x }
}

/// Between frames n - 1 (at relative position `a`) and n (at `b`): the position moves less
/// than half a cycle per frame, so a change of more than half is a wrap past the point. It
/// happened where the move, taken as uniform over the frame, crossed the point; a backward
/// wrap found exactly on frame n - 1 is just after it (there the position 0 is still the
/// cycle's start). Returns the time in frames and whether the phase went forwards.
#[inline(always)]
fn crossing(n: usize, a: f32, b: f32) -> Option<(f32, bool)> {
    if b < a - 0.5 {
        Some((n as f32 - b / (b + 1.0 - a), true))
    } else if b > a + 0.5 {
        let tau = n as f32 - (1.0 - b) / (a + 1.0 - b);
        Some((tau.max(n as f32 - 1.0 + 1e-4), false))
    } else {
        None
    }
}

/// The residual table and amplitude of a family's discontinuity passed with `step`.
#[inline(always)]
fn strength(kind: Kind, forward: bool, step: f32) -> f32 {
    match kind {
        Kind::Jump(a) if forward => a,
        Kind::Jump(a) => -a,
        Kind::Corner(c) => c * step.abs(),
    }
}

/// Whether any lane of a frame differs from the frame before by more than `by`: one
/// comparison per lane without branches, so that quiet frames are passed at vector speed.
#[inline(always)]
fn any_apart(row: &[f32], before: &[f32], by: f32) -> bool {
    row.iter()
        .zip(before)
        .fold(false, |hit, (&b, &a)| hit | ((b - a).abs() > by))
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
            ring: Ring {
                corr: vec![0.0; RING * lanes],
                width: lanes,
                head: 0,
                pending: 0,
            },
            steps: vec![0.0; BLOCK * lanes],
            places: vec![0.0; BLOCK * lanes],
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
        let lanes = lanes.min(self.phase.len());
        let inv_sr = 1.0 / f64::from(ctx.sample_rate);
        // An instrument's pitch is a signal, but it holds between notes.
        let (freq, width) = (&freq.held(), width.map(|w| w.held()));
        let width = width.as_ref();
        run_phase(out, lanes, freq, &mut self.phase, inv_sr);
        let fired = fires(reset);
        if fired {
            restart(out, lanes, reset, freq, &mut self.phase, inv_sr);
        }
        let blk = Block {
            pos: &*out,
            lanes,
            freq,
            width,
            reset,
            fired,
            inv_sr,
            // A steady pitch and width and no restart: the discontinuities are evenly spaced.
            even: freq.steady && !fired && width.is_none_or(|w| w.steady),
        };
        for lane in 0..lanes {
            self.edges(&blk, lane, wave);
        }
        if !blk.even {
            self.moving(&blk, wave);
        }
        for lane in 0..lanes {
            self.last_t[lane] = blk.t(BLOCK - 1, lane);
            self.last_w[lane] = blk.w(BLOCK - 1, lane);
            self.last_d[lane] = blk.d(BLOCK - 1, lane);
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
        self.ring.flush(out, lanes);
    }

    /// One lane's discontinuities that are found lane by lane: between the last block's
    /// last frame and this one's first, all of them at a steady pitch (counted out from the
    /// first), and the restarts.
    fn edges<N, S>(&mut self, blk: &Block, lane: usize, wave: &Wave<N, S>)
    where
        N: Fn(f32, f32) -> f32,
        S: Fn(f32) -> f32,
    {
        let tables = sinc::tables();
        let (t_before, w_before, d_before) =
            (self.last_t[lane], self.last_w[lane], self.last_d[lane]);
        let ring = &mut self.ring;
        for &(at, kind) in wave.families {
            let table = kind.table(tables);
            let u = |n: usize| place(at, blk.t(n, lane), blk.w(n, lane));
            let mut add = |(tau, forward): (f32, bool), step: f32| {
                ring.add(lane, table, tau, strength(kind, forward, step));
            };
            if !blk.restarts(0, lane)
                && d_before != 0.0
                && let Some(hit) = crossing(0, place(at, t_before, w_before), u(0))
            {
                add(hit, d_before);
            }
            if !blk.even {
                continue;
            }
            // Count the wraps out from frame 0, then take each from the positions of the
            // frames around it, exactly as the frame-by-frame scan would (a wrap predicted
            // on a frame can be found on either side of it by rounding).
            let d0 = blk.d(0, lane);
            let u0 = f64::from(u(0));
            let ahead = if d0 > 0.0 { 1.0 - u0 } else { u0 };
            // Most blocks of a low note hold no wrap: tell without dividing.
            if d0 != 0.0 && d0.is_finite() && ahead < BLOCK as f64 * f64::from(d0.abs()) {
                let period = 1.0 / f64::from(d0.abs());
                let mut tau = ahead * period;
                let mut done = 0;
                while tau < BLOCK as f64 {
                    let k = tau.ceil() as usize;
                    for n in k.saturating_sub(1).max(done + 1)..(k + 2).min(BLOCK) {
                        if let Some(hit) = crossing(n, u(n - 1), u(n)) {
                            add(hit, d0);
                            done = n;
                            break;
                        }
                    }
                    tau += period;
                }
            }
        }
        // A change of step at the first frame (the later ones are in `moving`; at a steady
        // pitch there are none).
        if !blk.restarts(0, lane) {
            let turn = (wave.slope)(blk.t(0, lane)) * (blk.d(0, lane) - d_before);
            if turn.abs() > 1e-6 {
                ring.add(lane, &tables.corner, 0.0, turn);
            }
        }
        if !blk.fired {
            return;
        }
        // A restart jumps, and may turn, from where the waveform was going to its start.
        for n in 0..BLOCK {
            if !blk.restarts(n, lane) {
                continue;
            }
            let (before, d_before) = if n == 0 {
                (t_before, d_before)
            } else {
                (blk.t(n - 1, lane), blk.d(n - 1, lane))
            };
            let was = before + d_before;
            let was = cycle(was - was.floor());
            let (t, w, d) = (blk.t(n, lane), blk.w(n, lane), blk.d(n, lane));
            let jump = (wave.naive)(t, w) - (wave.naive)(was, w);
            ring.add(lane, &tables.step, n as f32, jump);
            let turn = (wave.slope)(t) * d - (wave.slope)(was) * d_before;
            ring.add(lane, &tables.corner, n as f32, turn);
        }
    }

    /// The discontinuities inside a block whose pitch or width moves, or that restarts:
    /// every frame is compared with the one before, all lanes at once, and a lane is looked
    /// at alone only on a frame where something happened.
    fn moving<N, S>(&mut self, blk: &Block, wave: &Wave<N, S>)
    where
        N: Fn(f32, f32) -> f32,
        S: Fn(f32) -> f32,
    {
        let tables = sinc::tables();
        let lanes = blk.lanes;
        let steps = &mut self.steps[..BLOCK * lanes];
        for (n, row) in steps.chunks_exact_mut(lanes).enumerate() {
            for (lane, d) in row.iter_mut().enumerate() {
                *d = blk.d(n, lane);
            }
        }
        let places = &mut self.places[..BLOCK * lanes];
        let ring = &mut self.ring;
        for &(at, kind) in wave.families {
            let table = kind.table(tables);
            for (n, row) in places.chunks_exact_mut(lanes).enumerate() {
                for (lane, u) in row.iter_mut().enumerate() {
                    *u = place(at, blk.t(n, lane), blk.w(n, lane));
                }
            }
            for n in 1..BLOCK {
                let (before, row) = places[(n - 1) * lanes..(n + 1) * lanes].split_at(lanes);
                if !any_apart(row, before, 0.5) {
                    continue;
                }
                for lane in 0..lanes {
                    let d = steps[(n - 1) * lanes + lane];
                    if !blk.restarts(n, lane)
                        && d != 0.0
                        && let Some((tau, forward)) = crossing(n, before[lane], row[lane])
                    {
                        ring.add(lane, table, tau, strength(kind, forward, d));
                    }
                }
            }
        }
        // A change of pitch turns a sloped waveform (the naive value is continuous, its
        // slope is not). Changes too small to matter (below 1e-6 per sample, as in a slow
        // vibrato) are left to the delay term alone. The first frame's is in `edges`.
        if wave.steepest == 0.0 {
            return;
        }
        for n in 1..BLOCK {
            let (before, row) = steps[(n - 1) * lanes..(n + 1) * lanes].split_at(lanes);
            if !any_apart(row, before, 1e-6 / wave.steepest) {
                continue;
            }
            for lane in 0..lanes {
                if blk.restarts(n, lane) {
                    continue;
                }
                let turn = (wave.slope)(blk.t(n, lane)) * (row[lane] - before[lane]);
                if turn.abs() > 1e-6 {
                    ring.add(lane, &tables.corner, n as f32, turn);
                }
            }
        }
    }

    /// Takes over `old`'s phases, positions and residual tails, lane for lane.
    pub fn carry_from(&mut self, old: &Self) -> bool {
        let n = self.phase.len().min(old.phase.len());
        self.carry_lanes(old, 0, 0, n)
    }

    /// Takes over lanes `from..from + n` of `old` as lanes `to..to + n`.
    pub fn carry_lanes(&mut self, old: &Self, to: usize, from: usize, n: usize) -> bool {
        use super::super::copy_range;
        let ok = copy_range(&mut self.phase, &old.phase, to, from, n)
            && copy_range(&mut self.last_t, &old.last_t, to, from, n)
            && copy_range(&mut self.last_w, &old.last_w, to, from, n)
            && copy_range(&mut self.last_d, &old.last_d, to, from, n);
        if !ok {
            return false;
        }
        self.ring.carry_lanes(&old.ring, to, from, n);
        true
    }
}

impl Ring {
    /// Takes over lanes `from..from + n` of `old`'s tails as lanes `to..to + n`; the tails
    /// line up by their distance from each ring's own head.
    fn carry_lanes(&mut self, old: &Ring, to: usize, from: usize, n: usize) {
        use super::super::copy_range;
        for k in 0..old.pending {
            let at = ((self.head + k) % RING) * self.width;
            let old_at = ((old.head + k) % RING) * old.width;
            copy_range(
                &mut self.corr[at..at + self.width],
                &old.corr[old_at..old_at + old.width],
                to,
                from,
                n,
            );
        }
        self.pending = self.pending.max(old.pending);
    }
}

/// What a block's discontinuities are found from: the cycle positions (frame-major, `lanes`
/// wide) and the inputs.
struct Block<'a> {
    pos: &'a [f32],
    lanes: usize,
    freq: &'a In<'a>,
    width: Option<&'a In<'a>>,
    reset: &'a In<'a>,
    fired: bool,
    inv_sr: f64,
    even: bool,
}

impl Block<'_> {
    /// The cycle position of frame `n`.
    #[inline(always)]
    fn t(&self, n: usize, lane: usize) -> f32 {
        cycle(self.pos[n * self.lanes + lane])
    }

    /// The phase step of frame `n`, as the band-limiting follows it.
    #[inline(always)]
    fn d(&self, n: usize, lane: usize) -> f32 {
        limited_step(phase_inc(self.freq.at(n, lane), self.inv_sr) as f32)
    }

    /// The pulse width of frame `n` (0.5 for a waveform without one).
    #[inline(always)]
    fn w(&self, n: usize, lane: usize) -> f32 {
        self.width.map_or(0.5, |w| clamp_width(w.at(n, lane)))
    }

    /// Whether frame `n` restarts the phase.
    #[inline(always)]
    fn restarts(&self, n: usize, lane: usize) -> bool {
        self.fired && self.reset.at(n, lane) > 0.0
    }
}
