//! Sample playback: triggering, resampling to the output rate (band-limited interpolation),
//! looping; run on the audio thread. Decoding lives in `script::samples` (control thread).
//!
//! Reading between a file's frames is done with a Kaiser-windowed sinc (32 taps, from a
//! polyphase table built once): flat to about 0.42 of the file's rate and about 95 dB down
//! from 0.58, so a 44.1 kHz file played at 48 kHz keeps its top octave and leaves no
//! audible images. Played faster than the output rate (a step over 1 source frame per
//! output frame), the kernel is stretched by the step, lowering its cutoff to the output's
//! Nyquist so what the pitch-up pushes past it is removed instead of folding back; the
//! stretch stops at `MAX_STRETCH` (two octaves above the output rate), beyond which such
//! content aliases.

use super::{BLOCK, Ctx, sinc};
use std::sync::LazyLock;

/// Source frames each side of the read position the kernel reaches (unstretched).
const HALF: usize = 16;
const TAPS: usize = 2 * HALF;
/// Fractional positions tabulated; between two, the weights are interpolated linearly
/// (worst error about −99 dB for a tone at a quarter of the file's rate).
const PHASES: usize = 256;
/// Kaiser shape: sidelobes near −95 dB.
const BETA: f64 = 9.5;
/// Longest stretch of the kernel: a step of 4 frames per output frame.
const MAX_STRETCH: f64 = 4.0;
/// Taps of the longest stretched kernel.
const MAX_TAPS: usize = 2 * HALF * MAX_STRETCH as usize + 2;

/// The kernel, tabulated twice over, built on first use.
struct Kernel {
    /// Polyphase rows (see `sinc::interpolation_table`): the unstretched weights for one
    /// fraction are contiguous.
    rows: Vec<f32>,
    /// The same values in order of position: `fine[k]` is the kernel at
    /// `k / PHASES - HALF`, for `k` up to `TAPS * PHASES` (where it is 0), which a
    /// stretched kernel reads at evenly spaced points.
    fine: Vec<f32>,
}

static KERNEL: LazyLock<Kernel> = LazyLock::new(|| {
    let rows = sinc::interpolation_table(HALF, PHASES, BETA);
    // Row r, tap t holds the kernel at r / PHASES + HALF - 1 - t.
    let mut fine: Vec<f32> = (0..TAPS * PHASES)
        .map(|k| rows[(k % PHASES) * TAPS + TAPS - 1 - k / PHASES])
        .collect();
    fine.push(0.0);
    Kernel { rows, fine }
});

/// A decoded sample, shared read-only with the audio thread.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SampleData {
    /// Interleaved frames: channel `c` of frame `i` is at `i * channels + c`.
    pub frames: Vec<f32>,
    /// 1 or 2.
    pub channels: usize,
    /// The file's sample rate in Hz.
    pub rate: f32,
}

impl SampleData {
    /// Length in frames.
    pub fn len(&self) -> usize {
        self.frames.len().checked_div(self.channels).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Length in seconds at the file's own rate.
    pub fn seconds(&self) -> f64 {
        if self.rate > 0.0 {
            self.len() as f64 / self.rate as f64
        } else {
            0.0
        }
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum State {
    Idle,
    /// Started with the piece (no trigger), position not yet placed.
    Pending,
    Playing,
}

/// Plays a `SampleData` once per rising trigger, per lane.
pub struct Sampler {
    state: Vec<State>,
    /// Read position in source frames.
    pos: Vec<f64>,
    trig_on: Vec<bool>,
    /// `KERNEL`, resolved when built so that the audio thread never initialises it.
    kernel: &'static Kernel,
}

impl Sampler {
    /// `start_now`: with no trigger connected the sample starts at frame 0 of the piece
    /// (outside an instrument); with a trigger it waits for one.
    ///
    /// A looped sampler created after the piece began (a node added by a reload) with
    /// `start_now` is placed where it would be had it started at frame 0 at its current
    /// speed, so a loop comes in on the transport's grid; a one-shot added by an edit plays
    /// from its start, as a newly added `line` does.
    pub fn new(lanes: usize, start_now: bool) -> Self {
        let s = if start_now {
            State::Pending
        } else {
            State::Idle
        };
        Sampler {
            state: vec![s; lanes],
            pos: vec![0.0; lanes],
            trig_on: vec![false; lanes],
            kernel: LazyLock::force(&KERNEL),
        }
    }

    /// Writes `data.channels` outputs (mono: one output; stereo: two, L then R).
    ///
    /// - `trig`: a rising edge (> 0 after <= 0) restarts the lane from the beginning, at that
    ///   exact frame.
    /// - `speed`: playback rate multiplier (1 = original pitch; negative plays backwards from
    ///   the end when started; 0 holds). A non-finite speed holds too.
    /// - The source rate is converted to `ctx.sample_rate`: the step per output frame is
    ///   `data.rate / ctx.sample_rate * speed`.
    /// - `looped`: wrap around instead of stopping at the end.
    ///
    /// A retrigger while playing jumps straight back to the start (a click is possible; the
    /// voice allocator fades stolen voices).
    ///
    /// Forward playback covers source positions `[0, len)` and backward playback `(-1, len-1]`,
    /// so both last `len / |step|` frames (rounded up); afterwards the lane outputs exact
    /// zeros until the next trigger.
    pub fn process(
        &mut self,
        ctx: &Ctx,
        data: &SampleData,
        ins: SampleIn,
        looped: bool,
        out: &mut [f32],
        lanes: usize,
    ) {
        let SampleIn { trig, speed, .. } = ins;
        let n = BLOCK * lanes;
        // A caller passing a short `out` or more lanes than `new` was given gets fewer outputs
        // or lanes written, not a panic on the audio thread.
        let chans = data.channels.min(out.len().checked_div(n).unwrap_or(0));
        let active = lanes.min(self.state.len());
        let len = data.len();
        let ratio = data.rate as f64 / ctx.sample_rate as f64;
        if len == 0 || !ratio.is_finite() || ratio <= 0.0 {
            out[..chans * n].fill(0.0);
            for l in 0..active {
                self.trig_on[l] = trig.at(BLOCK - 1, l) > 0.0;
            }
            return;
        }
        let end = len as f64;
        let frames = &data.frames[..len * data.channels];
        let mut w = [0.0f32; MAX_TAPS];
        for f in 0..BLOCK {
            for l in 0..active {
                let sp = speed.at(f, l) as f64;
                let step = if sp.is_finite() { sp * ratio } else { 0.0 };
                let start = if step < 0.0 { end - 1.0 } else { 0.0 };
                let on = trig.at(f, l) > 0.0;
                if on && !self.trig_on[l] {
                    self.state[l] = State::Playing;
                    self.pos[l] = start;
                }
                self.trig_on[l] = on;
                if self.state[l] == State::Pending {
                    self.state[l] = State::Playing;
                    self.pos[l] = if looped {
                        start + step * (ctx.frame + f as u64) as f64
                    } else {
                        start
                    };
                }
                let mut p = self.pos[l];
                if self.state[l] == State::Playing {
                    if looped && !(0.0..end).contains(&p) {
                        p = p.rem_euclid(end);
                        // rem_euclid can round up to `end` for tiny negative inputs.
                        if !(0.0..end).contains(&p) {
                            p = 0.0;
                        }
                    } else if !(p > -1.0 && p < end) {
                        self.state[l] = State::Idle;
                    }
                }
                let at = f * lanes + l;
                if self.state[l] != State::Playing {
                    for c in 0..chans {
                        out[c * n + at] = 0.0;
                    }
                    continue;
                }
                let (first, taps) = weights(self.kernel, p, step.abs(), &mut w);
                let w = &w[..taps];
                let ch = data.channels;
                let inside = first >= 0 && first as usize + taps <= len;
                for c in 0..chans {
                    out[c * n + at] = if inside {
                        let from = first as usize * ch;
                        dot(w, &frames[from..from + taps * ch], ch, c)
                    } else {
                        // At an edge: a loop reads across its seam, a one-shot reads
                        // silence outside the file.
                        let mut acc = 0.0;
                        for (j, &wj) in w.iter().enumerate() {
                            let k = first + j as isize;
                            let k = if looped {
                                k.rem_euclid(len as isize) as usize
                            } else if (0..len as isize).contains(&k) {
                                k as usize
                            } else {
                                continue;
                            };
                            acc += wj * frames[k * ch + c];
                        }
                        acc
                    };
                }
                self.pos[l] = p + step;
            }
        }
    }
}

/// Writes into `w` the kernel's weights for reading at source position `p` with `step`
/// source frames per output frame; returns the source frame the first weight applies to
/// and how many weights there are.
#[inline]
fn weights(kernel: &Kernel, p: f64, step: f64, w: &mut [f32; MAX_TAPS]) -> (isize, usize) {
    let i = p.floor();
    if step <= 1.0 {
        // Every tap shares the fraction: one pair of rows, blended.
        let at = (p - i) * PHASES as f64;
        let row = (at as usize).min(PHASES - 1);
        let a = (at - row as f64) as f32;
        let lo = &kernel.rows[row * TAPS..][..TAPS];
        let hi = &kernel.rows[(row + 1) * TAPS..][..TAPS];
        for ((w, &lo), &hi) in w.iter_mut().zip(lo).zip(hi) {
            *w = lo + a * (hi - lo);
        }
        return (i as isize + 1 - HALF as isize, TAPS);
    }
    // Stretched by `s`: the kernel at (p - k) / s, scaled by 1 / s, for every source frame
    // k within HALF * s of p. In `fine`, frame `first + j` sits at `c0 - j * dc`.
    let s = step.min(MAX_STRETCH);
    let reach = HALF as f64 * s;
    let first = (p - reach).floor() + 1.0;
    let taps = (((p + reach).ceil() - first) as usize).min(MAX_TAPS);
    let c0 = (((p - first) / s + HALF as f64) * PHASES as f64) as f32;
    let dc = (PHASES as f64 / s) as f32;
    let inv = (1.0 / s) as f32;
    let last = (TAPS * PHASES - 1) as f32;
    let fine = &kernel.fine[..TAPS * PHASES + 1];
    for (j, w) in w[..taps].iter_mut().enumerate() {
        // Clamped so that rounding at the ends reads the kernel's zero ends.
        let c = (c0 - j as f32 * dc).clamp(0.0, last);
        // (The `min` lets the compiler drop the bounds checks.)
        let k = (c as usize).min(TAPS * PHASES - 1);
        let a = c - k as f32;
        *w = (fine[k] + a * (fine[k + 1] - fine[k])) * inv;
    }
    (first as isize, taps)
}

/// Channel `c` of `frames` (interleaved, `ch` channels) weighted by `w`, one weight per
/// frame. Eight running sums: a strict left-to-right f32 sum cannot be vectorised.
#[inline(always)]
fn dot(w: &[f32], frames: &[f32], ch: usize, c: usize) -> f32 {
    let mut acc = [0.0f32; 8];
    let ws = w.chunks_exact(8);
    let tail: f32 = if ch == 1 {
        let xs = frames.chunks_exact(8);
        let tail = ws
            .remainder()
            .iter()
            .zip(xs.remainder())
            .map(|(w, x)| w * x)
            .sum();
        for (w8, x8) in ws.zip(xs) {
            for i in 0..8 {
                acc[i] += w8[i] * x8[i];
            }
        }
        tail
    } else {
        let xs = frames.chunks_exact(8 * ch);
        let tail = (ws.remainder().iter())
            .zip(xs.remainder().chunks_exact(ch))
            .map(|(w, x)| w * x[c])
            .sum();
        for (w8, x8) in ws.zip(xs) {
            for i in 0..8 {
                acc[i] += w8[i] * x8[i * ch + c];
            }
        }
        tail
    };
    acc.iter().sum::<f32>() + tail
}

impl super::Carry for Sampler {
    fn carry_from(&mut self, old: &Self) -> bool {
        super::copy_lanes(&mut self.state, &old.state)
            && super::copy_lanes(&mut self.pos, &old.pos)
            && super::copy_lanes(&mut self.trig_on, &old.trig_on)
    }
}

crate::node_inputs! {
    /// The restart trigger, the speed, and whether it loops (a constant 0 or 1, read when
    /// the graph is built).
    pub struct SampleIn { trig, speed, looped }
}

/// A sample player as a graph node: the playheads, the sound they play, and whether it
/// loops.
pub struct SampleNode {
    pub player: Sampler,
    pub data: std::sync::Arc<SampleData>,
    pub looped: bool,
}

impl super::Node for SampleNode {
    type Inputs<'a> = SampleIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: SampleIn, out: &mut [f32], lanes: usize) {
        self.player
            .process(ctx, &self.data, ins, self.looped, out, lanes)
    }
}

impl super::Carry for SampleNode {
    fn carry_from(&mut self, old: &Self) -> bool {
        self.player.carry_from(&old.player)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::Carry;
    use crate::dsp::In;
    use std::f64::consts::TAU;

    fn sine(freq: f64, rate: f64, frames: usize) -> SampleData {
        SampleData {
            frames: (0..frames)
                .map(|i| (TAU * freq * i as f64 / rate).sin() as f32)
                .collect(),
            channels: 1,
            rate: rate as f32,
        }
    }

    /// Runs `blocks` blocks from transport frame 0 and returns, per output channel, the
    /// sample-major output of every lane. `trig(frame, lane)` gives the trigger value.
    /// `play` is the speed and whether the sample loops.
    fn run(
        s: &mut Sampler,
        sr: f32,
        data: &SampleData,
        trig: impl Fn(u64, usize) -> f32,
        (speed, looped): (f32, bool),
        lanes: usize,
        blocks: usize,
    ) -> Vec<Vec<f32>> {
        let mut ctx = Ctx::new(sr, 120.0);
        let speed_buf = [speed; BLOCK];
        let mut out = vec![0.0; data.channels * BLOCK * lanes];
        let mut res = vec![Vec::new(); data.channels];
        let mut tb = vec![0.0; BLOCK * lanes];
        for _ in 0..blocks {
            for f in 0..BLOCK {
                for l in 0..lanes {
                    tb[f * lanes + l] = trig(ctx.frame + f as u64, l);
                }
            }
            // Garbage in the output buffer must be overwritten.
            out.fill(f32::NAN);
            let ins = SampleIn {
                trig: In::signal(&tb, lanes),
                speed: In::constant(&speed_buf, speed),
                looped: In::ZERO,
            };
            s.process(&ctx, data, ins, looped, &mut out, lanes);
            for (c, r) in res.iter_mut().enumerate() {
                r.extend_from_slice(&out[c * BLOCK * lanes..][..BLOCK * lanes]);
            }
            ctx.frame += BLOCK as u64;
        }
        res
    }

    fn no_trig(_: u64, _: usize) -> f32 {
        0.0
    }

    /// Frequency from rising zero crossings (linearly interpolated) over `y[from..to]`.
    fn measured_freq(y: &[f32], sr: f64, from: usize, to: usize) -> f64 {
        let mut first = None;
        let mut last = 0.0;
        let mut count = 0;
        for i in from..to - 1 {
            let (a, b) = (y[i] as f64, y[i + 1] as f64);
            if a < 0.0 && b >= 0.0 {
                let t = i as f64 + a / (a - b);
                first.get_or_insert(t);
                last = t;
                count += 1;
            }
        }
        assert!(count > 10);
        (count - 1) as f64 / (last - first.unwrap()) * sr
    }

    /// Index one past the last nonzero sample, checking everything after it is exactly 0.
    fn sounding_len(y: &[f32]) -> usize {
        let n = y.iter().rposition(|&v| v != 0.0).map_or(0, |i| i + 1);
        assert!(y[n..].iter().all(|v| v.to_bits() == 0));
        n
    }

    /// A 2 s 1 kHz sine at 44.1 kHz played at 48 kHz: returns (frequency, length).
    fn play_sine_at(speed: f32) -> (f64, usize) {
        let data = sine(1000.0, 44100.0, 88200);
        let mut s = Sampler::new(1, true);
        let blocks = (48000.0 * 2.0 / speed.abs() as f64 / BLOCK as f64) as usize + 20;
        let y = &run(&mut s, 48000.0, &data, no_trig, (speed, false), 1, blocks)[0];
        let len = sounding_len(y);
        // Measure over all but the first and last 1000 frames (>= 1 s in every case here).
        let f = measured_freq(y, 48000.0, 1000, len - 1000);
        (f, len)
    }

    #[test]
    fn resampling_keeps_pitch_and_length() {
        let (f, len) = play_sine_at(1.0);
        assert!((f - 1000.0).abs() < 1.0, "frequency {f}");
        assert!(len.abs_diff(96000) <= 2, "length {len}");
    }

    #[test]
    fn speed_scales_pitch_and_length() {
        let (f, len) = play_sine_at(2.0);
        assert!((f - 2000.0).abs() < 2.0, "frequency {f}");
        assert!(len.abs_diff(48000) <= 2, "length {len}");
        let (f, len) = play_sine_at(0.5);
        assert!((f - 500.0).abs() < 0.5, "frequency {f}");
        assert!(len.abs_diff(192000) <= 2, "length {len}");
    }

    /// 1000 frames starting at 1.0, at the output rate so positions are whole frames.
    fn ramp(channels: usize) -> SampleData {
        SampleData {
            frames: (0..1000 * channels)
                .map(|i| {
                    let (frame, c) = (i / channels, i % channels);
                    let v = 1.0 - frame as f32 / 1000.0;
                    if c == 0 { v } else { -v }
                })
                .collect(),
            channels,
            rate: 48000.0,
        }
    }

    fn first_nonzero(y: &[f32], lanes: usize, lane: usize) -> Option<usize> {
        (0..y.len() / lanes).find(|&f| y[f * lanes + lane] != 0.0)
    }

    #[test]
    fn trigger_starts_at_its_frame_in_its_lane() {
        let data = ramp(1);
        // Lane 0 at frame 100 (36 into the second block), lane 1 at 37 into the fourth.
        let t1 = 3 * BLOCK as u64 + 37;
        let trig = |f: u64, l: usize| {
            let at = if l == 0 { 100 } else { t1 };
            // Two-frame pulses: only the rising edge counts.
            if f == at || f == at + 1 { 1.0 } else { 0.0 }
        };
        let mut s = Sampler::new(2, false);
        let y = &run(&mut s, 48000.0, &data, trig, (1.0, false), 2, 30)[0];
        assert_eq!(first_nonzero(y, 2, 0), Some(100));
        assert_eq!(first_nonzero(y, 2, 1), Some(t1 as usize));
        assert_eq!(y[100 * 2], 1.0);
        assert_eq!(y[t1 as usize * 2 + 1], 1.0);
        // Each plays exactly the sample, then exact zeros.
        for (lane, at) in [(0, 100), (1, t1 as usize)] {
            for k in 0..1000 {
                assert_eq!(y[(at + k) * 2 + lane], data.frames[k]);
            }
            assert!((at + 1000..y.len() / 2).all(|f| y[f * 2 + lane].to_bits() == 0));
        }
    }

    #[test]
    fn retrigger_restarts_immediately() {
        let data = ramp(1);
        let trig = |f: u64, _| if f == 10 || f == 300 { 1.0 } else { 0.0 };
        let mut s = Sampler::new(1, false);
        let y = &run(&mut s, 48000.0, &data, trig, (1.0, false), 1, 10)[0];
        assert_eq!(y[299], data.frames[289]);
        assert_eq!(y[300], data.frames[0]);
        assert_eq!(y[301], data.frames[1]);
    }

    #[test]
    fn start_now_starts_at_frame_zero_without_trigger() {
        let data = ramp(1);
        let mut s = Sampler::new(3, true);
        let y = &run(&mut s, 48000.0, &data, no_trig, (1.0, false), 3, 20)[0];
        for l in 0..3 {
            let lane: Vec<f32> = y.iter().skip(l).step_by(3).copied().collect();
            assert_eq!(lane[0], 1.0);
            assert_eq!(sounding_len(&lane), 1000);
        }
        // Without start_now and without a trigger: silence.
        let mut s = Sampler::new(1, false);
        let y = &run(&mut s, 48000.0, &data, no_trig, (1.0, false), 1, 20)[0];
        assert!(y.iter().all(|v| v.to_bits() == 0));
    }

    #[test]
    fn created_mid_piece_a_loop_follows_the_transport_and_a_one_shot_starts() {
        let data = ramp(1);
        let ctx = Ctx {
            frame: 640,
            ..Ctx::new(48000.0, 120.0)
        };
        let speed = [1.0; BLOCK];
        for (looped, first) in [(true, 640), (false, 0)] {
            let mut s = Sampler::new(1, true);
            let mut out = [0.0; BLOCK];
            let ins = SampleIn {
                trig: In::ZERO,
                speed: In::constant(&speed, 1.0),
                looped: In::ZERO,
            };
            s.process(&ctx, &data, ins, looped, &mut out, 1);
            assert_eq!(out[0], data.frames[first], "looped {looped}");
            assert_eq!(out[5], data.frames[first + 5], "looped {looped}");
        }
    }

    #[test]
    fn stereo_outputs_left_then_right() {
        let data = ramp(2);
        let mut s = Sampler::new(1, true);
        let y = run(&mut s, 48000.0, &data, no_trig, (1.0, false), 1, 20);
        assert_eq!(y.len(), 2);
        for (k, frame) in data.frames.chunks(2).enumerate() {
            assert_eq!(y[0][k], frame[0]);
            assert_eq!(y[1][k], frame[1]);
            assert!(y[1][k] < 0.0);
        }
        assert!(y[0][1000..].iter().all(|v| v.to_bits() == 0));
        assert!(y[1][1000..].iter().all(|v| v.to_bits() == 0));
    }

    #[test]
    fn looped_wraps_seamlessly() {
        // Five whole cycles of a 200-frame sine, resampled so positions straddle the seam.
        let period = 200.0;
        let data = SampleData {
            frames: (0..1000)
                .map(|i| (TAU * i as f64 / period).sin() as f32)
                .collect(),
            channels: 1,
            rate: 44100.0,
        };
        let step = 44100.0 / 48000.0;
        let mut s = Sampler::new(1, true);
        let blocks = 60; // 3840 frames: past the end (~1088) three times
        let y = &run(&mut s, 48000.0, &data, no_trig, (1.0, true), 1, blocks)[0];
        let mut worst = 0.0f64;
        for (k, &v) in y.iter().enumerate() {
            let ideal = (TAU * (k as f64 * step) / period).sin();
            worst = worst.max((v as f64 - ideal).abs());
        }
        assert!(worst < 1e-4, "deviation from the ideal sine {worst}");
        let max_jump = y
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max);
        let slope = (TAU / period * step) as f32;
        assert!(max_jump <= slope * 1.01, "jump {max_jump} vs slope {slope}");
    }

    /// Worst difference from the ideal tone over the middle of a 44.1 kHz sine at `hz`
    /// played at 48 kHz and `speed` (away from the file's ends, where it starts and stops).
    fn tone_error(hz: f64, speed: f32) -> f64 {
        let data = sine(hz, 44100.0, 44100);
        let step = 44100.0 / 48000.0 * speed as f64;
        let (from, to) = ((200.0 / step) as usize, (40000.0 / step) as usize);
        let mut s = Sampler::new(1, true);
        let y = &run(
            &mut s,
            48000.0,
            &data,
            no_trig,
            (speed, false),
            1,
            to / BLOCK + 1,
        )[0];
        (from..to)
            .map(|k| (y[k] as f64 - (TAU * hz / 44100.0 * k as f64 * step).sin()).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn interpolation_is_band_limited() {
        // Between the frames the kernel recreates the tone the frames were sampled from, up
        // to the top of the band (a cubic is off by 1e-2 at 10 kHz and 0.3 at 17.6 kHz).
        for (hz, bound) in [(1000.0, 1e-5), (10_000.0, 2e-5), (17_640.0, 1e-3)] {
            let e = tone_error(hz, 1.0);
            assert!(e < bound, "{hz} Hz: deviation {e:e}");
        }
        // Played faster than the output rate, a tone the pitch keeps below 20 kHz too.
        let e = tone_error(5000.0, 3.0);
        assert!(e < 1e-4, "5 kHz at speed 3: deviation {e:e}");
    }

    #[test]
    fn pitching_up_removes_what_would_fold_back() {
        // A 44.1 kHz file holding 20 kHz, played two octaves up: 80 kHz, far above the
        // output's Nyquist. The stretched kernel removes it; a plain interpolator folds it
        // down to 16 kHz.
        let data = sine(20_000.0, 44100.0, 44100);
        let mut s = Sampler::new(1, true);
        let y = &run(&mut s, 48000.0, &data, no_trig, (4.0, false), 1, 100)[0];
        let peak = y[200..5000].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak < 3e-4, "folded tone at {peak}");
    }

    #[test]
    fn a_modulated_speed_follows_the_ideal_tone() {
        // The speed swept between 0.5 and 2 within 20 ms, across the point where the
        // kernel starts to stretch, frame by frame: the output is the file's tone read at
        // each frame's position, to within 1e-4.
        let hz = 3000.0;
        let data = sine(hz, 44100.0, 44100);
        let ratio = 44100.0 / 48000.0;
        let mut s = Sampler::new(1, true);
        let mut ctx = Ctx::new(48000.0, 120.0);
        let (mut out, mut speed) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
        let (mut pos, mut worst) = (0.0f64, 0.0f64);
        for _ in 0..200 {
            for (f, v) in speed.iter_mut().enumerate() {
                let t = (ctx.frame + f as u64) as f64 / 48000.0;
                *v = (1.25 + 0.75 * (TAU * 50.0 * t).sin()) as f32;
            }
            let ins = SampleIn {
                trig: In::ZERO,
                speed: In::signal(&speed, 1),
                looped: In::ZERO,
            };
            s.process(&ctx, &data, ins, false, &mut out, 1);
            for f in 0..BLOCK {
                if pos > 100.0 && pos < 44000.0 {
                    let ideal = (TAU * hz / 44100.0 * pos).sin();
                    worst = worst.max((out[f] as f64 - ideal).abs());
                }
                pos += speed[f] as f64 * ratio;
            }
            ctx.frame += BLOCK as u64;
        }
        assert!(worst < 1e-4, "deviation from the ideal tone {worst:e}");
    }

    #[test]
    fn looped_backwards_wraps_too() {
        let data = ramp(1);
        let mut s = Sampler::new(1, true);
        let y = &run(&mut s, 48000.0, &data, no_trig, (-1.0, true), 1, 40)[0];
        for (k, &v) in y.iter().enumerate().take(2500) {
            assert_eq!(v, data.frames[999 - k % 1000]);
        }
    }

    #[test]
    fn negative_speed_plays_backwards_from_the_end() {
        let data = ramp(1);
        let trig = |f: u64, _| if f == 5 { 1.0 } else { 0.0 };
        let mut s = Sampler::new(1, false);
        let y = &run(&mut s, 48000.0, &data, trig, (-1.0, false), 1, 20)[0];
        assert!(y[..5].iter().all(|v| v.to_bits() == 0));
        for k in 0..1000 {
            assert_eq!(y[5 + k], data.frames[999 - k]);
        }
        assert_eq!(sounding_len(y), 1005);
    }

    #[test]
    fn zero_speed_holds() {
        let data = ramp(1);
        let mut s = Sampler::new(1, true);
        let y = &run(&mut s, 48000.0, &data, no_trig, (0.0, false), 1, 4)[0];
        assert!(y.iter().all(|&v| v == 1.0));
        let y = &run(&mut s, 48000.0, &data, no_trig, (f32::NAN, false), 1, 1)[0];
        assert!(y.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn stopped_sample_outputs_exact_zeros() {
        let data = sine(1000.0, 44100.0, 500);
        let trig = |f: u64, _| if f == 3 { 1.0 } else { 0.0 };
        let mut s = Sampler::new(1, false);
        let y = &run(&mut s, 48000.0, &data, trig, (1.0, false), 1, 40)[0];
        assert!(y[..3].iter().all(|v| v.to_bits() == 0));
        let len = sounding_len(y);
        // 500 source frames at a step of 0.91875 make 545 output frames.
        assert_eq!(len, 3 + 545);
        assert!(y[len..].iter().all(|v| v.to_bits() == 0));
    }

    #[test]
    fn empty_or_odd_inputs_do_not_panic() {
        let mut s = Sampler::new(2, true);
        let empty = SampleData {
            frames: vec![],
            channels: 1,
            rate: 44100.0,
        };
        let y = &run(&mut s, 48000.0, &empty, no_trig, (1.0, true), 2, 2)[0];
        assert!(y.iter().all(|v| v.to_bits() == 0));
        let data = ramp(1);
        for speed in [f32::INFINITY, -f32::INFINITY, 1e30, -1e30] {
            for looped in [false, true] {
                let mut s = Sampler::new(2, true);
                let y = &run(&mut s, 48000.0, &data, no_trig, (speed, looped), 2, 3)[0];
                assert!(y.iter().all(|v| v.is_finite()));
            }
        }
    }

    #[test]
    fn carry_keeps_the_position() {
        let data = ramp(1);
        let mut old = Sampler::new(1, true);
        run(&mut old, 48000.0, &data, no_trig, (1.0, false), 1, 2);
        let mut new = Sampler::new(1, false);
        assert!(new.carry_from(&old));
        assert_eq!(new.pos[0], 128.0);
        assert_eq!(new.state[0], State::Playing);
        // Another lane count (a `.voices(n)` edit) carries the lanes both have.
        let mut wider = Sampler::new(2, false);
        let fresh = wider.state[1];
        assert!(wider.carry_from(&old));
        assert_eq!((wider.pos[0], wider.state[0]), (128.0, State::Playing));
        assert_eq!((wider.pos[1], wider.state[1]), (0.0, fresh));
    }
}
