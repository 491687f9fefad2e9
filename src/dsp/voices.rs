//! A pool of voices (lanes) shared by the pattern sequencer and MIDI notes: gives each note
//! the longest-free voice, steals the oldest with a short fade when all are busy, and writes
//! the per-voice control signals; audio thread.

use super::{BLOCK, Carry, copy_same};

/// Outputs, in the order of the node's ports.
pub const OUT_FREQ: usize = 0;
pub const OUT_GATE: usize = 1;
pub const OUT_VEL: usize = 2;
pub const OUT_NOTE: usize = 3;
pub const OUT_TRIG: usize = 4;
pub const OUT_AMP: usize = 5;
pub const OUTPUTS: usize = 6;

/// The key of a note no MIDI key plays (a pattern's).
pub const NO_KEY: u16 = u16::MAX;

/// A MIDI note's key: its channel and note number.
pub fn key(ch: u8, note: u8) -> u16 {
    (ch as u16 & 0x0F) << 7 | (note as u16 & 0x7F)
}

pub fn mtof(note: f32) -> f32 {
    super::math::midi_to_hz(note as f64) as f32
}

/// How long a stolen voice takes to fade out before its new note starts.
pub const STEAL_FADE_SECS: f32 = 0.003;

/// The fades that give a note its length when the instrument does not shape itself (it
/// never reads `v.gate`): in at the note's start, out by the note's end (a pattern's note,
/// whose length is known) or after its key is released (a held MIDI note).
pub const NOTE_FADE_IN_SECS: f32 = 0.002;
pub const NOTE_FADE_OUT_SECS: f32 = 0.005;

/// A note waiting for its voice to finish fading.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pending {
    pub on: u64,
    /// Gate length; `u64::MAX` holds it until `release` (a MIDI key held down).
    pub gate_frames: u64,
    pub freq: f32,
    pub note: f32,
    pub vel: f32,
    /// Which key plays it (`key(ch, note)` for MIDI), so a note-off finds its voice.
    pub key: u16,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Lane {
    /// Frame the current note started (its trigger frame); `u64::MAX` before any note.
    on: u64,
    /// First frame after the gate.
    gate_end: u64,
    freq: f32,
    note: f32,
    vel: f32,
    key: u16,
    /// The voice level falls from `fade_from` at `fade_start` to 0 at `fade_end`.
    fade_start: u64,
    fade_end: u64,
    fade_from: f32,
    /// The note's own window (for instruments that do not read the gate) rises from here:
    /// a note that follows one still fading out on this voice starts where that one is.
    rise_from: f32,
    /// The note is held until its key is released, so its window closes after the release
    /// rather than before its end.
    held: bool,
    pending: Option<Pending>,
    /// When its note (sounding or pending) was given the voice, counted in notes: among
    /// notes of one frame, the one given a voice first is the oldest.
    given: u64,
}

impl Default for Lane {
    fn default() -> Self {
        Lane {
            on: u64::MAX,
            gate_end: 0,
            freq: mtof(60.0),
            note: 60.0,
            vel: 0.0,
            key: NO_KEY,
            fade_start: 0,
            fade_end: 0,
            fade_from: 1.0,
            rise_from: 0.0,
            held: false,
            pending: None,
            given: 0,
        }
    }
}

/// Fade lengths in frames of a note window; `None` when the instrument shapes its notes
/// itself (it reads the gate), and then a voice sounds at full level from its first note.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Window {
    pub rise: u64,
    pub fall: u64,
}

impl Window {
    pub fn new(sample_rate: f32) -> Self {
        Window {
            rise: ((NOTE_FADE_IN_SECS * sample_rate) as u64).max(1),
            fall: ((NOTE_FADE_OUT_SECS * sample_rate) as u64).max(1),
        }
    }
}

impl Lane {
    fn start(&mut self, p: Pending, window: Option<Window>) {
        // A stolen voice has faded to silence already; a free one may still be closing.
        self.rise_from = match window {
            Some(w) if self.on != u64::MAX && self.pending.is_none() => self.window(p.on, w),
            _ => 0.0,
        };
        self.held = p.gate_frames == u64::MAX;
        self.on = p.on;
        self.gate_end = p.on.saturating_add(p.gate_frames);
        self.freq = p.freq;
        self.note = p.note;
        self.vel = p.vel;
        self.key = p.key;
        self.pending = None;
    }

    /// The note window at frame `t`: rising over `w.rise` from the note's start, falling
    /// over `w.fall` to reach 0 at the gate's end (or starting there for a held note).
    fn window(&self, t: u64, w: Window) -> f32 {
        if self.on == u64::MAX || t < self.on {
            return 0.0;
        }
        // The note's first frame already sounds, so an onset is on its own frame.
        let up = (t - self.on + 1) as f32 / w.rise as f32;
        let rise = self.rise_from + (1.0 - self.rise_from) * up.min(1.0);
        let end = if self.held {
            self.gate_end.saturating_add(w.fall)
        } else {
            self.gate_end
        };
        let fall = end.saturating_sub(t) as f32 / w.fall as f32;
        rise.min(fall).clamp(0.0, 1.0)
    }

    /// Frames `t0..t1` hold a ramp of the note window (or cross where it ends).
    fn window_moves(&self, t0: u64, t1: u64, w: Window) -> bool {
        if self.on == u64::MAX {
            return false;
        }
        let end = if self.held {
            self.gate_end.saturating_add(w.fall)
        } else {
            self.gate_end
        };
        let overlaps = |a: u64, b: u64| a < t1 && b > t0;
        overlaps(self.on, self.on.saturating_add(w.rise))
            || overlaps(end.saturating_sub(w.fall), end.saturating_add(1))
    }

    /// The voice's level at `t`: its note window (when the instrument does not shape
    /// itself) times the fade of a steal; 0 before its first note.
    fn level(&self, t: u64, window: Option<Window>) -> f32 {
        if self.on == u64::MAX && self.pending.is_none() {
            return 0.0;
        }
        let steal = self.steal_level(t);
        match window {
            Some(w) if steal > 0.0 => steal * self.window(t, w),
            _ => steal,
        }
    }

    fn steal_level(&self, t: u64) -> f32 {
        if t >= self.fade_end {
            // A voice whose fade ended is silent until its next note starts.
            if self.pending.is_some() { 0.0 } else { 1.0 }
        } else if t < self.fade_start {
            1.0
        } else {
            let span = (self.fade_end - self.fade_start) as f32;
            self.fade_from * (self.fade_end - t) as f32 / span
        }
    }
}

/// The voices of one instrument and what they play.
pub struct Voices {
    lanes: Vec<Lane>,
    /// The lane's outputs already hold its unchanging values for a whole block, so a quiet
    /// block needs no writes. Not carried by a reload: the new graph's buffers are fresh.
    written: Vec<bool>,
    /// The note window of an instrument that does not read the gate (see `Window`).
    window: Option<Window>,
    /// Lanes (bit per lane, the first 64) whose sound had ended at the last block: the
    /// graph runs only the lowest lanes that sound, so a new note takes the lowest of these.
    silent: u64,
    /// Lanes whose outputs were written since `take_touched` (bit per lane, the first 64;
    /// any lane beyond sets bit 63).
    touched: u64,
    /// Notes given a voice so far (see `Lane::given`).
    given: u64,
}

impl Voices {
    pub fn new(lanes: usize) -> Self {
        Voices {
            lanes: vec![Lane::default(); lanes.max(1)],
            written: vec![false; lanes.max(1)],
            window: None,
            silent: 0,
            touched: 0,
            given: 0,
        }
    }

    /// The lanes whose outputs changed since the last call: the graph repacks the
    /// outputs of an instrument running fewer lanes only when they did.
    pub fn take_touched(&mut self) -> u64 {
        std::mem::take(&mut self.touched)
    }

    /// Tells which lanes were silent for the whole last block (set by the graph before each
    /// block, see `graph::compile`).
    pub fn set_silent(&mut self, lanes: u64) {
        self.silent = lanes;
    }

    /// Sets whether notes get a window of their own (the instrument ignores the gate).
    pub fn set_window(&mut self, window: Option<Window>) {
        self.window = window;
    }

    pub fn len(&self) -> usize {
        self.lanes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// Releases, at frame `t`, every held note of `key` (and one still waiting to start).
    pub fn release(&mut self, key: u16, t: u64) {
        for (lane, written) in self.lanes.iter_mut().zip(self.written.iter_mut()) {
            if let Some(p) = lane.pending.as_mut()
                && p.key == key
                && p.gate_frames == u64::MAX
            {
                p.gate_frames = t.saturating_sub(p.on).max(1);
            }
            if lane.key == key && lane.on != u64::MAX && lane.gate_end == u64::MAX {
                lane.gate_end = t.max(lane.on + 1);
                *written = false;
            }
        }
    }

    /// Whether a note of `key` is held (gate open with no end set).
    pub fn held(&self, key: u16) -> bool {
        self.lanes.iter().any(|l| {
            (l.key == key && l.on != u64::MAX && l.gate_end == u64::MAX)
                || l.pending
                    .is_some_and(|p| p.key == key && p.gate_frames == u64::MAX)
        })
    }

    /// Retunes every voice whose key passes `on_channel`, from its note plus `bend`
    /// semitones (a pitch-bend wheel).
    pub fn bend(&mut self, on_channel: impl Fn(u16) -> bool, bend: f32) {
        for (lane, written) in self.lanes.iter_mut().zip(self.written.iter_mut()) {
            if lane.key != NO_KEY && on_channel(lane.key) {
                lane.freq = mtof(lane.note + bend);
                // Its outputs no longer hold the values they were left with.
                *written = false;
            }
            if let Some(p) = lane.pending.as_mut()
                && p.key != NO_KEY
                && on_channel(p.key)
            {
                p.freq = mtof(p.note + bend);
            }
        }
    }

    /// Whether any voice's gate rises or falls, or a voice fades, during frames `t0..t1`:
    /// while none does, every voice signal is constant, and an instrument whose output has
    /// gone silent may sleep (a held gate under a finished envelope changes nothing).
    pub fn busy(&self, t0: u64, t1: u64) -> bool {
        self.lanes.iter().any(|l| self.lane_busy(l, t0, t1))
    }

    /// `busy` lane by lane: bit `l` for lane `l` (the first 64 lanes; any lane beyond
    /// sets bit 63).
    pub fn busy_lanes(&self, t0: u64, t1: u64) -> u64 {
        self.lanes
            .iter()
            .enumerate()
            .filter(|(_, l)| self.lane_busy(l, t0, t1))
            .fold(0, |m, (i, _)| m | 1 << i.min(63))
    }

    fn lane_busy(&self, l: &Lane, t0: u64, t1: u64) -> bool {
        let within = |t: u64| t >= t0 && t < t1;
        l.pending.is_some()
            || l.fade_end > t0
            || (l.on != u64::MAX && (within(l.on) || within(l.gate_end)))
            || self.window.is_some_and(|w| l.window_moves(t0, t1, w))
    }

    /// Gives a note a voice: the lowest free voice that is silent, else the free voice
    /// whose gate ended longest ago (its tail has had the longest to fade), else the oldest
    /// note's voice (stolen): the earliest to start, and of notes that start together the
    /// first given its voice, so a chord or burst larger than the voices keeps its last
    /// notes. Keeping the sounding voices low lets the graph run only those.
    pub fn assign(&mut self, p: Pending, sample_rate: f32, lanes: usize, fade_steals: bool) {
        let t = p.on;
        let given = self.given;
        self.given += 1;
        let mut free: Option<(usize, u64)> = None;
        let mut oldest: Option<(usize, (u64, u64))> = None;
        for (l, lane) in self.lanes[..lanes].iter().enumerate() {
            let busy = lane.pending.is_some() || (lane.on != u64::MAX && lane.gate_end > t);
            if !busy && l < 64 && self.silent & (1 << l) != 0 {
                free = Some((l, 0));
                break;
            }
            if !busy {
                let ended = if lane.on == u64::MAX {
                    0
                } else {
                    lane.gate_end
                };
                if free.is_none_or(|(_, e)| ended < e) {
                    free = Some((l, ended));
                }
            } else {
                let began = (lane.pending.map_or(lane.on, |q| q.on), lane.given);
                if oldest.is_none_or(|(_, b)| began < b) {
                    oldest = Some((l, began));
                }
            }
        }
        let window = self.window;
        if let Some((l, _)) = free {
            self.lanes[l].start(p, window);
            self.lanes[l].given = given;
            return;
        }
        let Some((l, _)) = oldest else { return };
        let lane = &mut self.lanes[l];
        lane.given = given;
        if !fade_steals {
            lane.start(p, window);
            return;
        }
        let fade = ((STEAL_FADE_SECS * sample_rate) as u64).max(1);
        if lane.pending.is_none() {
            lane.fade_from = lane.level(t, window);
            lane.fade_start = t;
            lane.fade_end = t + fade;
            lane.gate_end = lane.gate_end.min(t);
        }
        lane.pending = Some(Pending {
            on: lane.fade_end.max(t),
            ..p
        });
    }

    /// Writes frames `from..to` of every output from the voices' current state.
    pub fn render(&mut self, start: u64, from: usize, to: usize, out: &mut [f32], lanes: usize) {
        if from >= to {
            return;
        }
        let n = BLOCK * lanes;
        let (t0, t1) = (start + from as u64, start + to as u64);
        let window = self.window;
        for (l, lane) in self.lanes[..lanes].iter_mut().enumerate() {
            let changes = lane.pending.is_some_and(|p| p.on < t1)
                || (lane.fade_end > t0 && lane.fade_start < t1)
                || window.is_some_and(|w| lane.window_moves(t0, t1, w));
            let edge = |t: u64| t >= t0 && t < t1;
            let gate_edge = lane.on != u64::MAX && (edge(lane.on) || edge(lane.gate_end));
            let still = !(changes || gate_edge);
            if still && from == 0 && to == BLOCK && self.written[l] {
                continue;
            }
            self.written[l] = still && from == 0 && to == BLOCK;
            self.touched |= 1 << l.min(63);
            // Usually the voice holds still for the whole span but for its gate ending and
            // its trigger frame; only a note starting or a fade needs work per frame.
            let still_level = lane.level(t0, window);
            for f in from..to {
                let t = start + f as u64;
                if changes
                    && let Some(p) = lane.pending
                    && t >= p.on
                {
                    lane.start(p, window);
                }
                let i = f * lanes + l;
                let gated = lane.on != u64::MAX && t >= lane.on && t < lane.gate_end;
                out[OUT_FREQ * n + i] = lane.freq;
                out[OUT_GATE * n + i] = if gated { 1.0 } else { 0.0 };
                out[OUT_VEL * n + i] = lane.vel;
                out[OUT_NOTE * n + i] = lane.note;
                out[OUT_TRIG * n + i] = if t == lane.on { 1.0 } else { 0.0 };
                out[OUT_AMP * n + i] = if changes {
                    lane.level(t, window)
                } else {
                    still_level
                };
            }
        }
    }
}

impl Lane {
    /// How much a voice is worth keeping when an edit leaves fewer voices: a held or
    /// waiting note first, then the one whose gate ends (or ended) latest, then the
    /// latest started; a voice that never played is worth nothing.
    fn worth(&self) -> (u8, u64, u64) {
        let class = if self.pending.is_some() || (self.on != u64::MAX && self.gate_end == u64::MAX)
        {
            2
        } else if self.on != u64::MAX {
            1
        } else {
            0
        };
        (class, self.gate_end, self.on.wrapping_add(1))
    }
}

impl Carry for Voices {
    /// Every voice keeps its lane when it still exists, so the instrument's per-lane state
    /// (envelopes, oscillators) stays with its note; with fewer voices than before, a
    /// sounding voice beyond the new count takes the lane of the least worth keeping.
    fn carry_from(&mut self, old: &Self) -> bool {
        self.given = old.given;
        if copy_same(&mut self.lanes, &old.lanes) {
            return true;
        }
        let n = self.lanes.len().min(old.lanes.len());
        self.lanes[..n].copy_from_slice(&old.lanes[..n]);
        for lane in &old.lanes[n..] {
            let Some((l, least)) = self.lanes.iter().enumerate().min_by_key(|(_, l)| l.worth())
            else {
                break;
            };
            if least.worth() < lane.worth() {
                self.lanes[l] = *lane;
            }
        }
        true
    }
}

/// Test helper: runs a voice source for `blocks` blocks at 120 BPM, 48 kHz, letting
/// `setup` fill each block's context first; returns each output as lanes of frames.
#[cfg(test)]
pub(crate) fn run_blocks(
    lanes: usize,
    blocks: usize,
    mut block: impl FnMut(usize, &mut super::Ctx, &mut [f32]),
) -> Vec<Vec<Vec<f32>>> {
    let mut ctx = super::Ctx::new(48000.0, 120.0);
    let mut outs = vec![vec![Vec::new(); lanes]; OUTPUTS];
    let mut buf = vec![0.0; OUTPUTS * BLOCK * lanes];
    for b in 0..blocks {
        block(b, &mut ctx, &mut buf);
        for (o, lanes_out) in outs.iter_mut().enumerate() {
            for f in 0..BLOCK {
                for (l, v) in lanes_out.iter_mut().enumerate() {
                    v.push(buf[o * BLOCK * lanes + f * lanes + l]);
                }
            }
        }
        ctx.frame += BLOCK as u64;
    }
    outs
}
