//! The sequencer: turns a pattern's notes into per-voice control signals (freq, gate,
//! velocity, note, trigger, voice level), allocating and stealing voices; audio thread.
//!
//! Positions come from the transport frame alone (`Ctx::frame`), never from a counter of
//! its own, so a step lands on the exact sample its beat falls on however long the piece
//! has run, and a sequencer built by a hot reload is in time from its first block.

use super::monitor::MonitorTable;
use super::voices::{NO_KEY, Pending, Voices, Window, mtof};
use super::{BLOCK, Carry, Ctx};
use std::sync::Arc;

/// One note of one cycle, as the sequencer reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Note {
    /// Position in the cycle, 0..1.
    pub start: f64,
    /// Length in cycles.
    pub len: f64,
    /// MIDI note number (fractional allowed).
    pub note: f32,
    pub vel: f32,
    /// Chance to play, rolled per cycle from the score's seed.
    pub prob: f32,
}

/// Everything a sequencer plays: the notes of each cycle of one period, and its timing.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    pub notes: Vec<Note>,
    /// Notes of cycle `c` are `notes[offsets[c]..offsets[c + 1]]`.
    pub offsets: Vec<u32>,
    pub seed: u64,
    /// Beats one cycle lasts (4 = a bar; `.fast(2)` halves it).
    pub cycle_beats: f64,
    /// Gate length as a fraction of each note's length.
    pub legato: f64,
    /// Fade a stolen voice before its new note (instruments); off for stepped control lines.
    pub steal_fade: bool,
    /// The instrument never reads its gate: each note gets a window of its own (see
    /// `voices::Window`), so it lasts as long as the pattern says.
    pub note_window: bool,
}

impl Score {
    pub fn period(&self) -> u64 {
        (self.offsets.len().max(2) - 1) as u64
    }

    fn cycle(&self, c: u64) -> &[Note] {
        let p = self.period();
        let i = (c % p) as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => self.notes.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// Steps per cycle for a monitor's display: the coarsest grid (at most 64 steps) that every
/// note's start and end lie on, so `"x ~ x x"` has 4 steps and `"x ~"` 2; 16 when no such
/// grid exists (triplets against 1/32 notes), as a plain position display.
pub fn grid_steps(score: &Score) -> u32 {
    let on_grid = |n: u32| {
        score.notes.iter().all(|note| {
            [note.start, note.start + note.len].iter().all(|&t| {
                let x = t * n as f64;
                (x - x.round()).abs() < 1e-6 * n as f64
            })
        })
    };
    (1..=64).find(|&n| on_grid(n)).unwrap_or(16)
}

/// A value in 0..1 from (seed, cycle, note index): the `?` roll. A hash, not a generator,
/// so a note's fate depends only on where it is, and renders and live takes agree.
pub fn chance(seed: u64, cycle: u64, index: u32) -> f32 {
    let mut x = seed ^ cycle.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((index as u64) << 32);
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 40) as f32 / (1u64 << 24) as f32
}

pub use super::voices::{
    OUT_AMP, OUT_FREQ, OUT_GATE, OUT_NOTE, OUT_TRIG, OUT_VEL, OUTPUTS, STEAL_FADE_SECS,
};

/// Where a monitored sequencer reports its step: monitor slots of its graph's table.
pub struct Probe {
    pub table: Arc<MonitorTable>,
    pub slots: Vec<u32>,
    pub steps: u32,
}

/// Voices (lanes) of one pattern, and the notes they play.
pub struct Seq {
    voices: Voices,
    /// The latest beat whose notes were played (or rolled out); `None` before the first
    /// block, when only notes from this block on may play.
    passed: Option<f64>,
    /// The transport's jump count `passed` belongs to.
    jumps: u32,
    /// Set when a monitor shows this pattern's step.
    pub probe: Option<Probe>,
}

impl Seq {
    pub fn new(lanes: usize) -> Self {
        Seq {
            voices: Voices::new(lanes),
            passed: None,
            jumps: 0,
            probe: None,
        }
    }

    /// Writes `OUTPUTS` outputs of `lanes` lanes each into `out`.
    pub fn process(&mut self, ctx: &Ctx, score: &Score, out: &mut [f32], lanes: usize) {
        let lanes = lanes.min(self.voices.len());
        self.voices
            .set_window(score.note_window.then(|| Window::new(ctx.sample_rate)));
        let cycle_frames = (score.cycle_beats * ctx.frames_per_beat).max(1.0);
        let start = ctx.frame;
        let end = start + BLOCK as u64;
        let mut pos = 0usize;
        // Cycles are counted on the transport's beat line (`shift` is 0 at a fixed tempo,
        // so positions are then exact frame arithmetic).
        let shift = ctx.shift();
        let (vs, ve) = (start as f64 - shift, end as f64 - shift);
        if self.jumps != ctx.jumps {
            // The transport was moved (a clock's Start): nothing before it was played.
            self.jumps = ctx.jumps;
            self.passed = None;
        }
        let passed = self.passed;
        let mut newest = passed;
        // Cycles that can hold an onset in this block. A cycle shorter than a block is
        // clamped by validation; the bound keeps a pathological score from stalling.
        let c0 = ((vs - 2.0).max(0.0) / cycle_frames).floor() as u64;
        let c1 = ((ve - 1.0).max(0.0) / cycle_frames).floor() as u64;
        // A stopped transport (or one not yet at beat 0) plays nothing.
        let playing = ctx.running && ve > 0.0;
        for c in c0..=c1.min(c0 + 64) {
            if !playing {
                break;
            }
            let notes = score.cycle(c);
            // Notes are sorted by start: only those near this block are looked at. The
            // margin covers rounding; the exact test is on the frame below.
            let lo = (vs - 2.0) / cycle_frames - c as f64;
            let hi = (ve + 1.0) / cycle_frames - c as f64;
            let first = notes.partition_point(|n| n.start < lo);
            for (i, n) in notes.iter().enumerate().skip(first) {
                if n.start > hi {
                    break;
                }
                let on = ((c as f64 + n.start) * cycle_frames + shift).round();
                let beat = (c as f64 + n.start) * score.cycle_beats;
                // A note belongs to the block its frame rounds into. When the tempo moved
                // since the last block, one that rounded just before this block may not
                // have been played yet: it plays now, and none plays twice.
                let due = match passed {
                    None => on >= start as f64,
                    Some(p) => on >= start as f64 - 1.0 && beat > p,
                };
                if on >= end as f64 || !due {
                    continue;
                }
                newest = Some(newest.map_or(beat, |p: f64| p.max(beat)));
                let on = (on as u64).max(start);
                if n.prob < 1.0 && chance(score.seed, c, i as u32) >= n.prob {
                    continue;
                }
                let at = (on - start) as usize;
                self.voices.render(start, pos, at, out, lanes);
                pos = at;
                let gate = (n.len * score.legato * cycle_frames).round() as u64;
                // One frame short, so back-to-back notes on one voice still show a falling
                // and a rising gate (a new attack), unless legato asks them to overlap.
                let gate_frames = if score.legato <= 1.0 {
                    gate.saturating_sub(1).max(1)
                } else {
                    gate.max(1)
                };
                let p = Pending {
                    on,
                    gate_frames,
                    freq: mtof(n.note),
                    note: n.note,
                    vel: n.vel,
                    key: NO_KEY,
                };
                self.voices
                    .assign(p, ctx.sample_rate, lanes, score.steal_fade);
            }
        }
        self.voices.render(start, pos, BLOCK, out, lanes);
        self.passed = newest.or(Some(f64::NEG_INFINITY));
        if let Some(p) = &self.probe {
            let cycle = vs.max(0.0) / cycle_frames;
            let step = ((cycle - cycle.floor()) * p.steps as f64) as u32;
            for &slot in &p.slots {
                p.table
                    .set_step(slot as usize, step.min(p.steps.saturating_sub(1)), p.steps);
            }
        }
    }

    /// Its voices: what the graph asks which are busy and tells which were silent.
    pub fn voices_mut(&mut self) -> &mut Voices {
        &mut self.voices
    }
}

impl Carry for Seq {
    fn carry_from(&mut self, old: &Self) -> bool {
        self.passed = old.passed;
        self.jumps = old.jumps;
        self.voices.carry_from(&old.voices)
    }
}

/// A pattern's sequencer as a graph node: its voices and the notes they play.
pub struct SeqNode {
    pub seq: Seq,
    pub score: Arc<Score>,
}

impl super::Node for SeqNode {
    type Inputs<'a> = super::NoInputs<'a>;
    fn process(&mut self, ctx: &Ctx, _ins: super::NoInputs, out: &mut [f32], lanes: usize) {
        self.seq.process(ctx, &self.score, out, lanes)
    }
}

impl Carry for SeqNode {
    fn carry_from(&mut self, old: &Self) -> bool {
        self.seq.carry_from(&old.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(notes: &[(f64, f64, f32)], legato: f64) -> Score {
        Score {
            notes: notes
                .iter()
                .map(|&(start, len, note)| Note {
                    start,
                    len,
                    note,
                    vel: 1.0,
                    prob: 1.0,
                })
                .collect(),
            offsets: vec![0, notes.len() as u32],
            seed: 1,
            cycle_beats: 4.0,
            legato,
            steal_fade: true,
            note_window: false,
        }
    }

    /// Runs `blocks` blocks at 120 BPM, 48 kHz; returns each output as lanes of frames.
    fn run(seq: &mut Seq, s: &Score, lanes: usize, blocks: usize) -> Vec<Vec<Vec<f32>>> {
        super::super::voices::run_blocks(lanes, blocks, |_, ctx, buf| {
            seq.process(ctx, s, buf, lanes)
        })
    }

    fn onsets(trig: &[f32]) -> Vec<usize> {
        (0..trig.len()).filter(|&i| trig[i] > 0.0).collect()
    }

    #[test]
    fn steps_of_a_pattern_are_its_coarsest_grid() {
        let s = |notes: &[(f64, f64, f32)]| grid_steps(&score(notes, 1.0));
        // "x ~ x x", "x ~", "x ~ ~", "x*4", a chord, rests only.
        assert_eq!(
            s(&[(0.0, 0.25, 60.0), (0.5, 0.25, 60.0), (0.75, 0.25, 60.0)]),
            4
        );
        assert_eq!(s(&[(0.0, 0.5, 60.0)]), 2);
        assert_eq!(s(&[(0.0, 1.0 / 3.0, 60.0)]), 3);
        assert_eq!(s(&[(0.0, 1.0, 60.0), (0.0, 1.0, 64.0)]), 1);
        assert_eq!(s(&[]), 1);
        // No grid up to 64: a plain 16-step position display.
        assert_eq!(
            s(&[(0.0, 1.0 / 3.0, 60.0), (1.0 / 3.0, 1.0 / 32.0, 60.0)]),
            16
        );
    }

    #[test]
    fn onsets_land_on_exact_samples_across_cycles() {
        // Four quarter notes per bar; at 120 BPM, 48 kHz a beat is 24000 frames.
        let s = score(
            &[
                (0.0, 0.25, 60.0),
                (0.25, 0.25, 62.0),
                (0.5, 0.25, 64.0),
                (0.75, 0.25, 65.0),
            ],
            1.0,
        );
        let mut seq = Seq::new(1);
        let out = run(&mut seq, &s, 1, 3 * 96000 / BLOCK + 1);
        let trig = onsets(&out[OUT_TRIG][0]);
        let want: Vec<usize> = (0..12).map(|k| k * 24000).collect();
        assert_eq!(&trig[..12], &want[..]);
        // Bar 3, beat 1 is frame 4 * 2 * 24000.
        assert!(trig.contains(&(4 * 2 * 24000)));
        // Gate falls one frame before the next note and rises on it.
        assert_eq!(out[OUT_GATE][0][23998], 1.0);
        assert_eq!(out[OUT_GATE][0][23999], 0.0);
        assert_eq!(out[OUT_GATE][0][24000], 1.0);
        assert!((out[OUT_FREQ][0][24000] - 293.66).abs() < 0.01);
        assert!((out[OUT_FREQ][0][23999] - 261.63).abs() < 0.01);
    }

    #[test]
    fn onset_inside_a_block_is_not_moved_to_its_start() {
        // 1/7 of a bar is not a multiple of the block.
        let s = score(&[(1.0 / 7.0, 0.1, 60.0)], 1.0);
        let mut seq = Seq::new(2);
        let out = run(&mut seq, &s, 2, 400);
        let want = (96000.0f64 / 7.0).round() as usize;
        assert_eq!(onsets(&out[OUT_TRIG][0]), vec![want]);
        assert_eq!(out[OUT_GATE][0][want - 1], 0.0);
        assert_eq!(out[OUT_GATE][0][want], 1.0);
    }

    #[test]
    fn voices_rotate_and_the_oldest_is_stolen_with_a_fade() {
        // Eight overlapping long notes on 3 voices.
        let notes: Vec<(f64, f64, f32)> = (0..8)
            .map(|k| (k as f64 / 8.0, 0.9, 60.0 + k as f32))
            .collect();
        let s = score(&notes, 1.0);
        let mut seq = Seq::new(3);
        let out = run(&mut seq, &s, 3, 1500);
        // The first three notes take voices 0, 1, 2 on time.
        assert_eq!(onsets(&out[OUT_TRIG][0])[0], 0);
        assert_eq!(onsets(&out[OUT_TRIG][1])[0], 12000);
        assert_eq!(onsets(&out[OUT_TRIG][2])[0], 24000);
        // The fourth steals voice 0 (the oldest): it fades over 3 ms, then starts.
        let fade = (STEAL_FADE_SECS * 48000.0) as usize;
        assert_eq!(onsets(&out[OUT_TRIG][0])[1], 36000 + fade);
        let amp = &out[OUT_AMP][0];
        assert_eq!(amp[35999], 1.0);
        assert!(amp[36000 + fade / 2] > 0.4 && amp[36000 + fade / 2] < 0.6);
        assert_eq!(amp[36000 + fade], 1.0);
        assert_eq!(out[OUT_GATE][0][36000], 0.0, "the stolen note is released");
        assert_eq!(out[OUT_NOTE][0][36000 + fade], 63.0);
        // Every note was played by some voice.
        let total: usize = (0..3).map(|l| onsets(&out[OUT_TRIG][l]).len()).sum();
        assert!(total >= 8);
    }

    #[test]
    fn a_burst_of_64_notes_on_8_voices_keeps_the_newest() {
        let notes: Vec<(f64, f64, f32)> = (0..64).map(|k| (0.0, 0.5, k as f32)).collect();
        let s = score(&notes, 1.0);
        let mut seq = Seq::new(8);
        let out = run(&mut seq, &s, 8, 40);
        let mut playing: Vec<f32> = (0..8).map(|l| out[OUT_NOTE][l][1000]).collect();
        playing.sort_by(f32::total_cmp);
        // The first 8 got voices at once; each later one stole the voice of the oldest note
        // (all start on one frame: the first given a voice), replacing notes that were
        // still waiting, so the newest eight sound.
        let newest: Vec<f32> = (56..64).map(|n| n as f32).collect();
        assert_eq!(playing, newest);
    }

    #[test]
    fn probability_is_seeded_and_near_its_rate() {
        let a: Vec<bool> = (0..4000).map(|c| chance(7, c, 0) < 0.5).collect();
        let b: Vec<bool> = (0..4000).map(|c| chance(7, c, 0) < 0.5).collect();
        let other: Vec<bool> = (0..4000).map(|c| chance(8, c, 0) < 0.5).collect();
        assert_eq!(a, b);
        assert_ne!(a, other);
        let n = a.iter().filter(|&&x| x).count();
        assert!((1800..2200).contains(&n), "{n}");
    }

    #[test]
    fn legato_sets_the_gate_length() {
        let s = score(&[(0.0, 0.25, 60.0)], 0.5);
        let mut seq = Seq::new(1);
        let out = run(&mut seq, &s, 1, 400);
        let gate = &out[OUT_GATE][0];
        let len = gate.iter().take(24000).filter(|&&g| g > 0.0).count();
        assert_eq!(len, 12000 - 1);
    }
}
