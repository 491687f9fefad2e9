//! The audio thread's code: the device callback body (`callback`), the renderer
//! (`Renderer::process`, its single entry into the graph), commands and the transport clock;
//! audio thread (objects are built and dropped on the control thread).
//!
//! Everything in this folder is reachable from the audio callback, so none of it may
//! allocate, free, lock, block or print. The renderer renders fixed 64-frame blocks into a
//! carry buffer and hands out as many frames as the caller asks for, so a device callback
//! of 1, 17 or 4096 frames hears exactly the same samples.
//!
//! The callback also reaches code that lives beside its control-thread half, under the same
//! rules: the node DSP (`dsp/`) and `CompiledGraph::process_block` (`graph/`), the recorder's
//! `Tap::push` (`record/tap.rs`, made with its spooler), `MidiInbox::drain`
//! (`io/midi_in.rs`, made with the ports), `ScopeRing::push_wide` (`io/scope.rs`, read by
//! the screen) and `CcShared::store` (`midi/persist.rs`, saved by the control thread).

pub mod callback;
pub mod commands;
pub mod no_alloc;
pub mod transport;

use crate::dsp::{BLOCK, Ctx, MIDI_PER_BLOCK, cc_slot};
use crate::graph::RuntimeGraph;
use crate::midi::Msg;
use crate::midi::persist::CcShared;
use commands::{AudioEnds, Command, Swap};
use ringbuf::traits::{Consumer, Producer};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use transport::Clock;

/// The outgoing graph of a swap, still sounding while the new one fades in.
struct Fade {
    swap: Box<Swap>,
    pos: u32,
    len: u32,
    /// Equal-power when nothing carried over (uncorrelated signals), equal-amplitude when
    /// state carried (the two graphs are nearly the same signal).
    equal_power: bool,
}

/// Swaps that could not be handed back yet because the garbage queue was full.
const PARKED: usize = 8;
/// MIDI messages waiting for their block; a burst beyond this is dropped and counted.
pub const MIDI_PENDING: usize = 1024;

/// Where a quantized swap lands: the first multiple of its quantum at or after the beat it
/// arrived on, on the transport as it plays (tempo edits, an external clock).
struct Landing {
    beat: f64,
    /// `Ctx::jumps` when `beat` was chosen: after a jump (a MIDI Start) it is chosen again.
    jumps: u32,
}

impl Landing {
    fn after(ctx: &Ctx, quantum: f64) -> Self {
        let now = ctx.beat_at(ctx.frame);
        let beat = if quantum > 0.0 {
            // A hair of tolerance: a bar line that falls on this block's first frame counts.
            (now / quantum - 1e-9).ceil() * quantum
        } else {
            now
        };
        Landing {
            beat,
            jumps: ctx.jumps,
        }
    }

    /// Whether the swap lands at this block: the block start nearest the landing beat (at
    /// most half a block early or late). A stopped transport has no beat to wait for.
    fn due(&mut self, ctx: &Ctx, quantum: f64) -> bool {
        if quantum <= 0.0 || !ctx.running {
            return true;
        }
        if ctx.jumps != self.jumps {
            *self = Landing::after(ctx, quantum);
        }
        let half_block = BLOCK as f64 / 2.0 / ctx.frames_per_beat;
        ctx.beat_at(ctx.frame) + half_block >= self.beat
    }
}

pub struct Renderer {
    graph: Box<RuntimeGraph>,
    ends: Option<AudioEnds>,
    fade: Option<Fade>,
    /// A swap waiting for its beat or bar.
    pending: Option<(Box<Swap>, Landing)>,
    parked: [Option<Box<Swap>>; PARKED],
    ctx: Ctx,
    master_gain: f32,
    /// Where a `master_gain` edit glides to, and by how much per frame (0 when there).
    gain_target: f32,
    gain_step: f32,
    /// The current block, interleaved stereo, already scaled by the master gain.
    block: [f32; 2 * BLOCK],
    /// Next frame of `block` to hand out; `BLOCK` means a new block is needed.
    pos: usize,
    /// The current block of every stem (`.track`), stem-major, each interleaved stereo and
    /// scaled like the mix. Sized for the first graph's stems.
    stems: Vec<f32>,
    /// MIDI messages and the frames they are due at, in arrival order.
    midi: Vec<(u64, Msg)>,
    midi_dropped: u64,
    clock: Clock,
    /// `midi_clock = true`: follow an external clock whatever the script says.
    clock_always: bool,
    /// Where controller values are published for the control thread (persistence).
    cc_shared: Option<Arc<CcShared>>,
}

/// How long a `master_gain` edit glides (a step would click).
pub const GAIN_GLIDE_SECS: f32 = 0.020;

impl Renderer {
    pub fn new(graph: RuntimeGraph, sample_rate: f32, master_gain: f32) -> Self {
        let ctx = Ctx::new(sample_rate, graph.tempo_bpm);
        let stems = vec![0.0; graph.track_count() * 2 * BLOCK];
        Renderer {
            stems,
            graph: Box::new(graph),
            ends: None,
            fade: None,
            pending: None,
            parked: Default::default(),
            ctx,
            master_gain,
            gain_target: master_gain,
            gain_step: 0.0,
            block: [0.0; 2 * BLOCK],
            pos: BLOCK,
            midi: Vec::with_capacity(MIDI_PENDING),
            midi_dropped: 0,
            clock: Clock::default(),
            clock_always: false,
            cc_shared: None,
        }
    }

    /// The graph it renders: offline, a two-stage render hands the second stage its
    /// inputs here between blocks.
    pub fn graph_mut(&mut self) -> &mut RuntimeGraph {
        &mut self.graph
    }

    /// The context the next block will be rendered with.
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// Queues a MIDI message for the block holding `frame` (a frame already rendered
    /// means the next block). Audio thread; never allocates: a full queue drops the
    /// message and counts it.
    pub fn push_midi(&mut self, frame: u64, msg: Msg) -> bool {
        if self.midi.len() >= MIDI_PENDING {
            self.midi_dropped += 1;
            return false;
        }
        self.midi.push((frame, msg));
        true
    }

    /// MIDI messages dropped because too many arrived at once.
    pub fn midi_dropped(&self) -> u64 {
        self.midi_dropped
    }

    /// Follows an external MIDI clock even when the script does not ask to.
    pub fn set_clock_always(&mut self, on: bool) {
        self.clock_always = on;
    }

    fn follows_clock(&self) -> bool {
        self.clock_always || self.graph.follow_clock
    }

    /// Publishes controller values to `shared` from now on, starting from the values it
    /// already holds (knob positions saved by an earlier run). Control thread, before playing.
    pub fn share_cc(&mut self, shared: Arc<CcShared>) {
        for (c, v) in self.ctx.cc.iter_mut().zip(shared.snapshot()) {
            if v.is_finite() {
                *c = v;
            }
        }
        self.cc_shared = Some(shared);
    }

    /// Moves this block's MIDI messages into `ctx.midi` (ordered by frame, ties in arrival
    /// order), sets controller values and drives the clock.
    fn take_midi(&mut self) {
        let start = self.ctx.frame;
        let end = start + BLOCK as u64;
        let ctx = &mut self.ctx;
        let mut n = 0;
        self.midi.retain(|&(frame, msg)| {
            if frame >= end || n >= MIDI_PER_BLOCK {
                return true;
            }
            ctx.midi.events[n] = (frame.saturating_sub(start) as u16, msg);
            n += 1;
            false
        });
        ctx.midi.len = n;
        // Insertion sort: stable, in place, and n is small.
        let ev = &mut ctx.midi.events[..n];
        for i in 1..n {
            let mut j = i;
            while j > 0 && ev[j - 1].0 > ev[j].0 {
                ev.swap(j - 1, j);
                j -= 1;
            }
        }
        for i in 0..n {
            let (offset, msg) = self.ctx.midi.events[i];
            match msg {
                Msg::Cc { ch, num, value } => {
                    let v = value as f32 / 127.0;
                    for slot in [cc_slot(Some(ch), num), cc_slot(None, num)] {
                        self.ctx.cc[slot] = v;
                        if let Some(s) = &self.cc_shared {
                            s.store(slot, v);
                        }
                    }
                }
                Msg::Clock | Msg::Start | Msg::Stop | Msg::Continue if self.follows_clock() => {
                    self.clock.event(&mut self.ctx, msg, start + offset as u64);
                }
                _ => {}
            }
        }
    }

    /// Fills `out` (interleaved stereo) with the next `out.len() / 2` frames. Not clipped:
    /// the device layer clips, the recorder keeps the full value.
    pub fn process(&mut self, out: &mut [f32]) {
        let frames = out.len() / 2;
        let mut done = 0;
        while done < frames {
            if self.pos == BLOCK {
                self.render_block();
            }
            let n = (BLOCK - self.pos).min(frames - done);
            out[done * 2..(done + n) * 2]
                .copy_from_slice(&self.block[self.pos * 2..(self.pos + n) * 2]);
            self.pos += n;
            done += n;
        }
    }

    /// Sets how many stem slots are rendered (control thread, before playing): a live
    /// recording keeps room for tracks that edits add.
    pub fn set_stem_slots(&mut self, slots: usize) {
        self.stems = vec![0.0; slots * 2 * BLOCK];
    }

    /// Like `process`, but writes frames `width` channels wide: the mix (left, right), then
    /// each stem slot's left and right while they fit. Slots without a track are silent.
    pub fn process_wide(&mut self, out: &mut [f32], width: usize) {
        let width = width.max(2);
        let frames = out.len() / width;
        let slots = (self.stems.len() / (2 * BLOCK)).min((width - 2) / 2);
        let mut done = 0;
        while done < frames {
            if self.pos == BLOCK {
                self.render_block();
            }
            let n = (BLOCK - self.pos).min(frames - done);
            for k in 0..n {
                let f = self.pos + k;
                let row = &mut out[(done + k) * width..(done + k + 1) * width];
                row[0] = self.block[f * 2];
                row[1] = self.block[f * 2 + 1];
                for s in 0..slots {
                    let at = s * 2 * BLOCK + f * 2;
                    row[2 + 2 * s] = self.stems[at];
                    row[3 + 2 * s] = self.stems[at + 1];
                }
                row[2 + 2 * slots..].fill(0.0);
            }
            self.pos += n;
            done += n;
        }
    }

    /// Connects the command and garbage queues (hot reload).
    pub fn attach(&mut self, ends: AudioEnds) {
        self.ends = Some(ends);
    }

    /// Block boundary: take commands, start a due swap, hand back finished ones.
    fn commands(&mut self) {
        let Some(ends) = self.ends.as_mut() else {
            return;
        };
        // Hand back what the garbage queue could not take before.
        for slot in self.parked.iter_mut() {
            if let Some(s) = slot.take()
                && let Err(s) = ends.garbage.try_push(s)
            {
                *slot = Some(s);
            }
        }
        while let Some(cmd) = ends.commands.try_pop() {
            match cmd {
                Command::MasterGain(g) => {
                    // A step in gain is a click: glide over GAIN_GLIDE_SECS instead.
                    self.gain_target = g;
                    let frames = (GAIN_GLIDE_SECS * self.ctx.sample_rate).max(1.0);
                    self.gain_step = (g - self.master_gain) / frames;
                }
                Command::Param {
                    slot,
                    value,
                    frames,
                } => self.graph.set_param(slot, value, frames),
                Command::Mark(id) => {
                    ends.stats.applied_frame.store(self.ctx.frame, Relaxed);
                    ends.stats.applied_id.store(id, Relaxed);
                }
                Command::Swap(s) => {
                    // A newer edit replaces one still waiting for its beat.
                    if let Some((old, _)) = self.pending.take() {
                        park(&mut self.parked, ends, old);
                    }
                    let landing = Landing::after(&self.ctx, s.quantum_beats);
                    self.pending = Some((s, landing));
                }
            }
        }
        let due = match &mut self.pending {
            Some((s, landing)) => landing.due(&self.ctx, s.quantum_beats),
            None => false,
        };
        if due
            && self.fade.is_none()
            && let Some((mut swap, _)) = self.pending.take()
            && let Some(mut incoming) = swap.graph.take()
        {
            let carried = incoming.carry_from(&self.graph, &swap.plan);
            std::mem::swap(&mut self.graph, &mut incoming);
            swap.graph = Some(incoming);
            let follow = self.clock_always || self.graph.follow_clock;
            retempo(&mut self.ctx, &self.graph, &self.clock, follow);
            ends.stats.carried.store(carried as u64, Relaxed);
            ends.stats.applied_frame.store(self.ctx.frame, Relaxed);
            ends.stats.applied_id.store(swap.id, Relaxed);
            let len = swap.fade_frames;
            if len == 0 {
                park(&mut self.parked, ends, swap);
            } else {
                self.fade = Some(Fade {
                    swap,
                    pos: 0,
                    len,
                    equal_power: carried == 0,
                });
            }
        }
    }

    fn render_block(&mut self) {
        self.commands();
        self.take_midi();
        let mut l = [0.0f32; BLOCK];
        let mut r = [0.0f32; BLOCK];
        self.graph.process_block(&self.ctx, &mut l, &mut r);
        if let Some(f) = self.fade.as_mut() {
            let mut ol = [0.0f32; BLOCK];
            let mut or = [0.0f32; BLOCK];
            if let Some(old) = f.swap.graph.as_mut() {
                old.process_block(&self.ctx, &mut ol, &mut or);
            }
            for i in 0..BLOCK {
                let t = ((f.pos as usize + i) as f32 / f.len as f32).min(1.0);
                let (gn, go) = if f.equal_power {
                    let a = t * std::f32::consts::FRAC_PI_2;
                    (a.sin(), a.cos())
                } else {
                    (t, 1.0 - t)
                };
                l[i] = l[i] * gn + ol[i] * go;
                r[i] = r[i] * gn + or[i] * go;
            }
            f.pos = f.pos.saturating_add(BLOCK as u32);
            if f.pos >= f.len
                && let (Some(f), Some(ends)) = (self.fade.take(), self.ends.as_mut())
            {
                park(&mut self.parked, ends, f.swap);
            }
        }
        let mut gains = [self.master_gain; BLOCK];
        if self.gain_step != 0.0 {
            let mut g = self.master_gain;
            for slot in gains.iter_mut() {
                g += self.gain_step;
                if (self.gain_step > 0.0 && g >= self.gain_target)
                    || (self.gain_step < 0.0 && g <= self.gain_target)
                {
                    g = self.gain_target;
                    self.gain_step = 0.0;
                }
                *slot = g;
            }
            self.master_gain = g;
        }
        for (i, frame) in self.block.chunks_exact_mut(2).enumerate() {
            frame[0] = l[i] * gains[i];
            frame[1] = r[i] * gains[i];
        }
        if !self.stems.is_empty() {
            self.stems.fill(0.0);
            for (t, &slot) in self.graph.track_slots.iter().enumerate() {
                let (Some(stem), Some((sl, sr))) = (
                    self.stems.chunks_exact_mut(2 * BLOCK).nth(slot as usize),
                    self.graph.track(t),
                ) else {
                    continue;
                };
                for (i, frame) in stem.chunks_exact_mut(2).enumerate() {
                    frame[0] = sl[i] * gains[i];
                    frame[1] = sr[i] * gains[i];
                }
            }
        }
        self.ctx.frame += BLOCK as u64;
        self.pos = 0;
    }

    pub fn sample_rate(&self) -> f32 {
        self.ctx.sample_rate
    }

    pub fn set_master_gain(&mut self, g: f32) {
        self.master_gain = g;
        self.gain_target = g;
        self.gain_step = 0.0;
    }

    /// Frames handed out so far.
    pub fn position(&self) -> u64 {
        self.ctx.frame - (BLOCK - self.pos) as u64
    }

    /// The graph playing now: its counters (blocks and voices slept) say what work was
    /// skipped.
    pub fn graph(&self) -> &RuntimeGraph {
        &self.graph
    }
}

/// Sends a finished swap back to be freed, or parks it if the queue is full; with every
/// slot taken it is leaked rather than freed here (the control thread drains far faster
/// than edits arrive, so this does not happen in practice).
fn park(parked: &mut [Option<Box<Swap>>; PARKED], ends: &mut AudioEnds, swap: Box<Swap>) {
    let Err(swap) = ends.garbage.try_push(swap) else {
        return;
    };
    match parked.iter_mut().find(|s| s.is_none()) {
        Some(slot) => *slot = Some(swap),
        None => std::mem::forget(swap),
    }
}

/// After a swap: the new script's tempo, from the current beat on (unless a MIDI clock
/// it follows already sets the tempo).
fn retempo(ctx: &mut Ctx, graph: &RuntimeGraph, clock: &Clock, follow: bool) {
    if follow && clock.seen() {
        return;
    }
    if !follow && !ctx.running {
        // A script that no longer follows the clock does not stay stopped by it.
        ctx.origin_frame = ctx.frame;
        ctx.running = true;
    }
    let fpb = ctx.sample_rate as f64 * 60.0 / graph.tempo_bpm;
    if fpb != ctx.frames_per_beat {
        ctx.retempo(ctx.frame, fpb);
    }
}

#[cfg(test)]
mod gain_tests {
    use super::*;
    use std::path::Path;

    /// A `master_gain` edit glides over 20 ms: no step larger than one frame's share.
    #[test]
    fn a_master_gain_edit_glides_without_a_step() {
        let c = crate::script::compile_source("sine(0) + 1", "t.rhai", Path::new("."), 48_000.0)
            .unwrap();
        let (graph, _) = crate::graph::compile(&c.spec, 48_000.0);
        let mut r = Renderer::new(graph, 48_000.0, 1.0);
        let (mut control, ends) = commands::channel();
        r.attach(ends);
        let mut out = vec![0.0f32; 2 * 4096];
        r.process(&mut out[..2 * BLOCK]);
        assert!((out[0] - 1.0).abs() < 1e-6, "{}", out[0]);
        assert!(control.commands.try_push(Command::MasterGain(0.0)).is_ok());
        r.process(&mut out);
        let left: Vec<f32> = out.iter().step_by(2).copied().collect();
        let glide = (GAIN_GLIDE_SECS * 48_000.0) as usize;
        let step = left
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max);
        assert!(step <= 1.5 / glide as f32, "largest step {step}");
        assert!(
            left[glide / 2] > 0.3 && left[glide / 2] < 0.7,
            "{}",
            left[glide / 2]
        );
        assert!(left[glide + 2 * BLOCK..].iter().all(|&v| v.abs() < 1e-6));
    }
}
