//! MIDI as signals: `midi_notes()` voices played from the block's note messages (with
//! sustain pedal and pitch bend) and `cc()` knobs smoothed from the controller table;
//! audio thread.

use super::voices::{Pending, Voices, Window, key, mtof};
use super::{BLOCK, Carry, Ctx, cc_slot};
use crate::midi::Msg;

/// What a `midi_notes(..)` node listens to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NotesSpec {
    /// 0..16, or every channel.
    pub channel: Option<u8>,
    /// Semitones at full pitch-bend.
    pub bend_range: f32,
    /// The instrument never reads its gate: each note gets a window of its own (see
    /// `voices::Window`), closing after its key is released.
    pub note_window: bool,
}

/// A `cc(..)` knob: controller `num` on `channel` (or any), at `init` (0..1) until the
/// controller moves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CcSpec {
    pub num: u8,
    pub channel: Option<u8>,
    pub init: f32,
}

/// Sustain pedal (CC 64) and the two "all notes off" controllers.
const SUSTAIN: u8 = 64;
const ALL_SOUND_OFF: u8 = 120;
const ALL_NOTES_OFF: u8 = 123;

/// The voices of a MIDI instrument.
pub struct MidiNotes {
    voices: Voices,
    pedal: [bool; 16],
    /// Keys released while the pedal was down, one bit per `key(ch, note)`.
    sustained: [u64; 32],
    /// Current bend per channel, in semitones.
    bend: [f32; 16],
}

fn channel_of(m: &Msg) -> Option<u8> {
    match *m {
        Msg::NoteOn { ch, .. }
        | Msg::NoteOff { ch, .. }
        | Msg::Cc { ch, .. }
        | Msg::Bend { ch, .. } => Some(ch),
        _ => None,
    }
}

impl MidiNotes {
    pub fn new(lanes: usize) -> Self {
        MidiNotes {
            voices: Voices::new(lanes),
            pedal: [false; 16],
            sustained: [0; 32],
            bend: [0.0; 16],
        }
    }

    /// Its voices: what the graph asks which are busy and tells which were silent.
    pub fn voices_mut(&mut self) -> &mut Voices {
        &mut self.voices
    }

    fn release_sustained(&mut self, ch: u8, t: u64) {
        for note in 0..128u8 {
            let k = key(ch, note) as usize;
            if self.sustained[k / 64] & (1 << (k % 64)) != 0 {
                self.sustained[k / 64] &= !(1 << (k % 64));
                self.voices.release(k as u16, t);
            }
        }
    }

    fn release_all(&mut self, ch: u8, t: u64) {
        for note in 0..128u8 {
            self.voices.release(key(ch, note), t);
        }
        // This channel's keys, ch*128 .. ch*128+128, are words 2ch and 2ch+1.
        let w = 2 * (ch as usize & 0x0F);
        self.sustained[w] = 0;
        self.sustained[w + 1] = 0;
    }

    /// Writes the voices' outputs (see `voices::OUT_*`), applying each of the block's
    /// messages at its frame.
    pub fn process(&mut self, ctx: &Ctx, spec: &NotesSpec, out: &mut [f32], lanes: usize) {
        let lanes = lanes.min(self.voices.len());
        self.voices
            .set_window(spec.note_window.then(|| Window::new(ctx.sample_rate)));
        let start = ctx.frame;
        let mut pos = 0usize;
        for &(offset, msg) in ctx.midi.iter() {
            let Some(ch) = channel_of(&msg) else { continue };
            if spec.channel.is_some_and(|c| c != ch) {
                continue;
            }
            let at = (offset as usize).min(BLOCK - 1);
            if at > pos {
                self.voices.render(start, pos, at, out, lanes);
                pos = at;
            }
            let t = start + at as u64;
            let c = ch as usize & 0x0F;
            match msg {
                Msg::NoteOn { note, vel, .. } => {
                    let k = key(ch, note);
                    // The same key again restarts its note rather than stacking a copy.
                    self.voices.release(k, t);
                    self.sustained[k as usize / 64] &= !(1 << (k as usize % 64));
                    let p = Pending {
                        on: t,
                        gate_frames: u64::MAX,
                        freq: mtof(note as f32 + self.bend[c]),
                        note: note as f32,
                        vel: vel as f32 / 127.0,
                        key: k,
                    };
                    self.voices.assign(p, ctx.sample_rate, lanes, true);
                }
                Msg::NoteOff { note, .. } => {
                    let k = key(ch, note);
                    if self.pedal[c] {
                        if self.voices.held(k) {
                            self.sustained[k as usize / 64] |= 1 << (k as usize % 64);
                        }
                    } else {
                        self.voices.release(k, t);
                    }
                }
                Msg::Cc {
                    num: SUSTAIN,
                    value,
                    ..
                } => {
                    let down = value >= 64;
                    if self.pedal[c] && !down {
                        self.release_sustained(ch, t);
                    }
                    self.pedal[c] = down;
                }
                Msg::Cc {
                    num: ALL_SOUND_OFF | ALL_NOTES_OFF,
                    ..
                } => self.release_all(ch, t),
                Msg::Bend { value, .. } => {
                    self.bend[c] = value as f32 / 8192.0 * spec.bend_range;
                    let b = self.bend[c];
                    self.voices.bend(|k| (k >> 7) as u8 == ch, b);
                }
                _ => {}
            }
        }
        self.voices.render(start, pos, BLOCK, out, lanes);
    }
}

impl Carry for MidiNotes {
    fn carry_from(&mut self, old: &Self) -> bool {
        self.pedal = old.pedal;
        self.sustained = old.sustained;
        self.bend = old.bend;
        self.voices.carry_from(&old.voices)
    }
}

/// How quickly a knob's value follows the controller: 7-bit steps would click otherwise.
pub const CC_SMOOTH_SECS: f32 = 0.015;

/// A smoothed controller value mapped onto lo..hi.
pub struct CcIn {
    y: f32,
    primed: bool,
}

impl Default for CcIn {
    fn default() -> Self {
        Self::new()
    }
}

impl CcIn {
    pub fn new() -> Self {
        CcIn {
            y: 0.0,
            primed: false,
        }
    }

    pub fn process(
        &mut self,
        ctx: &Ctx,
        spec: &CcSpec,
        lo: super::In,
        hi: super::In,
        out: &mut [f32],
        lanes: usize,
    ) {
        let v = ctx.cc[cc_slot(spec.channel, spec.num)];
        let target = if v.is_finite() { v } else { spec.init };
        if !self.primed {
            // A knob made by an edit starts where the controller is, not from zero.
            self.y = target;
            self.primed = true;
        }
        let a = 1.0 - (-1.0 / (CC_SMOOTH_SECS * ctx.sample_rate)).exp();
        for f in 0..BLOCK {
            self.y += a * (target - self.y);
            for l in 0..lanes {
                let (lo, hi) = (lo.at(f, l), hi.at(f, l));
                out[f * lanes + l] = lo + self.y * (hi - lo);
            }
        }
    }
}

impl Carry for CcIn {
    fn carry_from(&mut self, old: &Self) -> bool {
        self.y = old.y;
        self.primed = old.primed;
        true
    }
}

/// `midi_notes(..)` as a graph node: the voices and what they listen to.
pub struct NotesNode {
    pub notes: MidiNotes,
    pub spec: NotesSpec,
}

impl super::Node for NotesNode {
    type Inputs<'a> = super::NoInputs<'a>;
    fn process(&mut self, ctx: &Ctx, _ins: super::NoInputs, out: &mut [f32], lanes: usize) {
        self.notes.process(ctx, &self.spec, out, lanes)
    }
}

impl Carry for NotesNode {
    fn carry_from(&mut self, old: &Self) -> bool {
        self.notes.carry_from(&old.notes)
    }
}

crate::node_inputs! {
    /// What the knob's 0..1 is mapped onto.
    pub struct CcRange { lo, hi }
}

/// `cc(..)` as a graph node: the smoothed value and which controller it follows.
pub struct CcNode {
    pub knob: CcIn,
    pub spec: CcSpec,
}

impl super::Node for CcNode {
    type Inputs<'a> = CcRange<'a>;
    fn process(&mut self, ctx: &Ctx, ins: CcRange, out: &mut [f32], lanes: usize) {
        self.knob
            .process(ctx, &self.spec, ins.lo, ins.hi, out, lanes)
    }
}

impl Carry for CcNode {
    fn carry_from(&mut self, old: &Self) -> bool {
        self.knob.carry_from(&old.knob)
    }
}

#[cfg(test)]
mod tests {
    use super::super::In;
    use super::super::voices::{OUT_FREQ, OUT_GATE, OUT_NOTE, OUT_TRIG, OUT_VEL};
    use super::*;

    const ALL: NotesSpec = NotesSpec {
        channel: None,
        bend_range: 2.0,
        note_window: false,
    };

    /// Runs blocks; `events(block)` gives that block's messages. Returns outputs as
    /// [output][lane][frame].
    fn run(
        notes: &mut MidiNotes,
        spec: &NotesSpec,
        lanes: usize,
        blocks: usize,
        events: impl Fn(usize) -> Vec<(u16, Msg)>,
    ) -> Vec<Vec<Vec<f32>>> {
        super::super::voices::run_blocks(lanes, blocks, |b, ctx, buf| {
            let ev = events(b);
            ctx.midi.len = ev.len();
            ctx.midi.events[..ev.len()].copy_from_slice(&ev);
            notes.process(ctx, spec, buf, lanes);
        })
    }

    fn on(note: u8) -> Msg {
        Msg::NoteOn {
            ch: 0,
            note,
            vel: 127,
        }
    }

    fn off(note: u8) -> Msg {
        Msg::NoteOff { ch: 0, note }
    }

    #[test]
    fn a_note_sounds_from_its_frame_until_its_release() {
        let mut n = MidiNotes::new(2);
        let out = run(&mut n, &ALL, 2, 10, |b| match b {
            1 => vec![(10, on(69))],
            5 => vec![(3, off(69))],
            _ => vec![],
        });
        let gate = &out[OUT_GATE][0];
        assert_eq!(gate[64 + 9], 0.0);
        assert_eq!(gate[64 + 10], 1.0);
        assert_eq!(out[OUT_TRIG][0][64 + 10], 1.0);
        assert!((out[OUT_FREQ][0][64 + 10] - 440.0).abs() < 0.01);
        assert_eq!(out[OUT_VEL][0][64 + 10], 1.0);
        assert_eq!(gate[5 * 64 + 2], 1.0);
        assert_eq!(gate[5 * 64 + 3], 0.0);
        assert!(out[OUT_GATE][1].iter().all(|g| *g == 0.0));
    }

    #[test]
    fn a_note_of_an_instrument_without_gate_fades_in_and_closes_after_its_release() {
        use super::super::voices::{NOTE_FADE_IN_SECS, NOTE_FADE_OUT_SECS, OUT_AMP};
        let mut n = MidiNotes::new(2);
        let spec = NotesSpec {
            note_window: true,
            ..ALL
        };
        let out = run(&mut n, &spec, 2, 20, |b| match b {
            1 => vec![(10, on(69))],
            5 => vec![(3, off(69))],
            _ => vec![],
        });
        let amp = &out[OUT_AMP][0];
        let (rise, fall) = (
            (NOTE_FADE_IN_SECS * 48000.0) as usize,
            (NOTE_FADE_OUT_SECS * 48000.0) as usize,
        );
        let (on_at, off_at) = (64 + 10, 5 * 64 + 3);
        assert!(amp[..on_at].iter().all(|a| *a == 0.0), "silent before");
        assert!(amp[on_at] > 0.0 && amp[on_at] < 0.05, "{}", amp[on_at]);
        assert!((amp[on_at + rise / 2] - 0.5).abs() < 0.02);
        assert_eq!(amp[on_at + rise], 1.0);
        assert_eq!(amp[off_at - 1], 1.0, "held until the key is released");
        assert!((amp[off_at + fall / 2] - 0.5).abs() < 0.02);
        assert!(
            amp[off_at + fall..].iter().all(|a| *a == 0.0),
            "silent after"
        );
        // The idle voice never sounds.
        assert!(out[OUT_AMP][1].iter().all(|a| *a == 0.0));
    }

    #[test]
    fn the_sustain_pedal_holds_releases_until_it_lifts() {
        let mut n = MidiNotes::new(2);
        let pedal = |v| Msg::Cc {
            ch: 0,
            num: 64,
            value: v,
        };
        let out = run(&mut n, &ALL, 2, 10, |b| match b {
            0 => vec![(0, pedal(127)), (1, on(60))],
            2 => vec![(0, off(60))],
            6 => vec![(7, pedal(0))],
            _ => vec![],
        });
        let gate = &out[OUT_GATE][0];
        assert_eq!(gate[4 * 64], 1.0, "held by the pedal");
        assert_eq!(gate[6 * 64 + 6], 1.0);
        assert_eq!(gate[6 * 64 + 7], 0.0, "released when the pedal lifts");
    }

    #[test]
    fn pitch_bend_moves_held_notes_by_its_range() {
        let mut n = MidiNotes::new(1);
        let spec = NotesSpec {
            channel: None,
            bend_range: 12.0,
            note_window: false,
        };
        let out = run(&mut n, &spec, 1, 4, |b| match b {
            0 => vec![(0, on(57))],
            2 => vec![(0, Msg::Bend { ch: 0, value: 8191 })],
            _ => vec![],
        });
        assert!((out[OUT_FREQ][0][64] - 220.0).abs() < 0.01);
        // Full bend up is one octave less one 8192th of it.
        assert!((out[OUT_FREQ][0][2 * 64] - 440.0).abs() < 0.1);
        assert!((out[OUT_FREQ][0][3 * 64 + 5] - 440.0).abs() < 0.1);
    }

    #[test]
    fn a_channel_filter_and_64_notes_on_8_voices() {
        let mut n = MidiNotes::new(8);
        let spec = NotesSpec {
            channel: Some(1),
            bend_range: 2.0,
            note_window: false,
        };
        let out = run(&mut n, &spec, 8, 40, |b| {
            if b == 0 {
                (0..64)
                    .map(|k| {
                        (
                            k as u16,
                            Msg::NoteOn {
                                ch: if k == 63 { 0 } else { 1 },
                                note: k,
                                vel: 100,
                            },
                        )
                    })
                    .collect()
            } else {
                vec![]
            }
        });
        let mut playing: Vec<f32> = (0..8).map(|l| out[OUT_NOTE][l][2000]).collect();
        playing.sort_by(f32::total_cmp);
        // Channel 0's note is not ours; the newest notes of channel 1 hold the voices.
        assert!(!playing.contains(&63.0));
        assert!(playing.contains(&62.0), "{playing:?}");
        assert!((0..8).all(|l| out[OUT_GATE][l][2000] == 1.0));
    }

    #[test]
    fn a_knob_starts_at_its_default_and_glides_to_the_controller() {
        let spec = CcSpec {
            num: 74,
            channel: None,
            init: 0.5,
        };
        let mut k = CcIn::new();
        let mut ctx = Ctx::new(48000.0, 120.0);
        let lo = [100.0; BLOCK];
        let hi = [1100.0; BLOCK];
        let (lo, hi) = (In::constant(&lo, 100.0), In::constant(&hi, 1100.0));
        let mut out = [0.0; BLOCK];
        k.process(&ctx, &spec, lo, hi, &mut out, 1);
        assert_eq!(out[0], 600.0);
        ctx.cc[cc_slot(None, 74)] = 1.0;
        let mut last = 0.0;
        for _ in 0..(48000 / 10 / BLOCK) {
            k.process(&ctx, &spec, lo, hi, &mut out, 1);
            assert!(out[BLOCK - 1] >= last);
            last = out[BLOCK - 1];
        }
        assert!((last - 1100.0).abs() < 1.0, "{last}");
    }
}
