//! The transport's external clock: follows MIDI clock (24 pulses per beat, Start, Stop,
//! Continue) by moving the transport's origin and tempo in `Ctx`; audio thread.
//!
//! Pulses arrive with the jitter of whatever carried them (a JACK period, a USB frame), so
//! the tempo is the mean pulse spacing over the last two beats, and the position is pulled
//! towards the pulses gently (half the error per beat) instead of jumping to each one.

use crate::dsp::Ctx;
use crate::midi::Msg;

/// MIDI clock pulses per beat.
pub const PPQN: u64 = 24;
/// Pulses the tempo is measured over.
const WINDOW: usize = 48;
/// Tempo bounds a clock can set, in beats per minute.
const MIN_BPM: f64 = 20.0;
const MAX_BPM: f64 = 999.0;

pub struct Clock {
    /// Frames of the last `len` pulses, a ring ending at `head - 1`.
    ticks: [u64; WINDOW],
    head: usize,
    len: usize,
    /// Pulses since the last Start; `None` until a Start is seen (tempo only, no phase).
    count: Option<u64>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            ticks: [0; WINDOW],
            head: 0,
            len: 0,
            count: None,
        }
    }
}

impl Clock {
    /// Whether a clock has set the tempo (an edit then keeps it rather than the script's).
    pub fn seen(&self) -> bool {
        self.len >= 3
    }

    /// Applies one clock message that arrived at `frame`, at the start of the block at
    /// `ctx.frame` (nothing of it was rendered yet, so the origin may move there).
    pub fn event(&mut self, ctx: &mut Ctx, msg: Msg, frame: u64) {
        match msg {
            Msg::Start => {
                ctx.origin_frame = frame;
                ctx.origin_beat = 0.0;
                ctx.running = true;
                ctx.jumps = ctx.jumps.wrapping_add(1);
                self.count = Some(0);
            }
            Msg::Stop => {
                ctx.origin_beat = ctx.beat_at(frame);
                ctx.origin_frame = frame;
                ctx.running = false;
            }
            Msg::Continue if !ctx.running => {
                ctx.origin_frame = frame;
                ctx.running = true;
            }
            Msg::Clock => self.tick(ctx, frame),
            _ => {}
        }
    }

    fn tick(&mut self, ctx: &mut Ctx, frame: u64) {
        let sr = ctx.sample_rate as f64;
        let last = self.ticks[(self.head + WINDOW - 1) % WINDOW];
        if self.len > 0 && (frame < last || (frame - last) as f64 > 0.5 * sr) {
            // A pause in the pulses (or time running backwards): measure afresh.
            self.len = 0;
        }
        self.ticks[self.head] = frame;
        self.head = (self.head + 1) % WINDOW;
        self.len = (self.len + 1).min(WINDOW);
        if let Some(c) = self.count.as_mut() {
            *c += 1;
        }
        if !self.seen() {
            return;
        }
        let oldest = self.ticks[(self.head + WINDOW - self.len) % WINDOW];
        let per_tick = (frame - oldest) as f64 / (self.len - 1) as f64;
        if per_tick <= 0.0 {
            return;
        }
        let fpb = (per_tick * PPQN as f64).clamp(sr * 60.0 / MAX_BPM, sr * 60.0 / MIN_BPM);
        let mut rate = 1.0;
        if let Some(c) = self.count
            && ctx.running
        {
            // Pulse `c` (from 1) falls on beat (c - 1) / 24.
            let target = (c - 1) as f64 / PPQN as f64;
            let err = target - ctx.beat_at(frame);
            if err.abs() > 1.0 {
                // Far off (a first pulse long after Start): go there.
                ctx.origin_frame = frame;
                ctx.origin_beat = target;
                ctx.jumps = ctx.jumps.wrapping_add(1);
            } else {
                rate = (1.0 + 0.5 * err).clamp(0.5, 1.5);
            }
        }
        let at = ctx.frame.max(ctx.origin_frame);
        ctx.retempo(at, fpb / rate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::BLOCK;

    /// Feeds pulses at `bpm`, each `jitter` frames early or late in turn, block by block;
    /// returns the frames at which the transport crossed each whole beat.
    fn follow(bpm: f64, jitter: u64, seconds: f64) -> Vec<f64> {
        let sr = 48000.0;
        let mut ctx = Ctx::new(sr as f32, 120.0);
        let mut clock = Clock::default();
        let per_tick = sr * 60.0 / bpm / PPQN as f64;
        let mut next = 0.0f64;
        let mut k = 0u64;
        let mut crossings = Vec::new();
        clock.event(&mut ctx, Msg::Start, 0);
        while (ctx.frame as f64) < seconds * sr {
            let end = ctx.frame + BLOCK as u64;
            while next < end as f64 {
                let wobble = if k.is_multiple_of(2) {
                    jitter as f64
                } else {
                    -(jitter as f64)
                };
                let f = ((next + wobble).max(0.0) as u64).max(ctx.frame);
                clock.event(&mut ctx, Msg::Clock, f);
                k += 1;
                next = k as f64 * per_tick;
            }
            let (b0, b1) = (ctx.beat_at(ctx.frame), ctx.beat_at(end));
            if b1.floor() > b0.floor() {
                // Where inside the block the beat fell.
                let beat = b1.floor();
                crossings.push(ctx.frame as f64 + (beat - b0) * ctx.frames_per_beat);
            }
            ctx.frame = end;
        }
        crossings
    }

    #[test]
    fn follows_a_clock_at_100_bpm_with_jitter() {
        let beats = follow(100.0, 500, 12.0);
        let want = 48000.0 * 0.6;
        // After two beats of settling every beat lasts 0.6 s within 1 %.
        for w in beats[3..].windows(2) {
            let d = w[1] - w[0];
            assert!((d - want).abs() < want * 0.01, "{d} {beats:?}");
        }
        // And beat n sits where pulse 24n was sent, within a few milliseconds.
        for (n, f) in beats.iter().enumerate().skip(4) {
            let sent = (n as f64 + 1.0) * want;
            assert!(
                (f - sent).abs() < 0.005 * 48000.0,
                "beat {n}: {f} vs {sent}"
            );
        }
    }

    #[test]
    fn stop_holds_the_position_and_continue_resumes_it() {
        let mut ctx = Ctx::new(48000.0, 120.0);
        let mut clock = Clock::default();
        ctx.frame = 48000;
        clock.event(&mut ctx, Msg::Stop, 48000);
        assert!((ctx.beat_at(96000) - 2.0).abs() < 1e-9);
        assert!(!ctx.running);
        ctx.frame = 96000;
        clock.event(&mut ctx, Msg::Continue, 96000);
        assert!((ctx.beat_at(120000) - 3.0).abs() < 1e-9);
        clock.event(&mut ctx, Msg::Start, 120000);
        assert_eq!(ctx.beat_at(120000), 0.0);
    }

    #[test]
    fn garbage_timing_never_breaks_the_transport() {
        let mut ctx = Ctx::new(48000.0, 120.0);
        let mut clock = Clock::default();
        for f in [5u64, 5, 5, 3, 1_000_000, 1_000_000, 2, u64::MAX / 2, 0] {
            clock.event(&mut ctx, Msg::Clock, f);
            assert!(ctx.frames_per_beat.is_finite() && ctx.frames_per_beat > 0.0);
            assert!(ctx.beat_at(ctx.frame).is_finite());
        }
    }
}
