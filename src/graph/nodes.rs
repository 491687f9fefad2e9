//! Every node kind, defined once: the table at the bottom of this file. Read on the control
//! thread (names, outputs, sleep and folding properties, defaults) and, through the `Dsp`
//! enum it generates, on the audio thread (construction happens on the control thread,
//! `Dsp::run` and `Dsp::carry_from` on the audio thread).
//!
//! An entry names its kind (and the data a kind carries, as `Bin(op: BinOp)`), then:
//! - `name`: the short name in stable keys and messages;
//! - `outputs`: how many channels it writes;
//! - `state`: the DSP type (which implements `dsp::Node`, whose `Inputs` struct names the
//!   inputs in order) and how to build it from a `Build`;
//! - `carry`: the kinds whose running state it takes over on a reload (its own kind, and
//!   any kind with the same state type); empty for stateless nodes;
//! - `flags`: `free` (its output depends only on its inputs and its own running: no event,
//!   no envelope), `holds` (it may sound after a silent block: echoes, tails, a metronome),
//!   `per_voice` (inside `poly` every voice needs its own copy even with equal inputs),
//!   `restarts` (inside an instrument it starts again at each note, through a last `reset`
//!   input);
//! - `fold`: for pure arithmetic, its value from its inputs' values, so that nodes fed by
//!   constants are computed once when compiling instead of every sample;
//! - `defaults`: values for inputs a short script form leaves out.
//!
//! Dispatch is a plain `match` over the generated enum: no trait objects on the audio thread.

use super::{Input, MonitorSpec, SampleRef};
use crate::dsp::chorus::Chorus;
use crate::dsp::delay::Delay;
use crate::dsp::dynamics::{Comp, Crush};
use crate::dsp::env::{Adsr, Line, Metro, Perc, Smooth};
use crate::dsp::filter::{Ladder, Svf, SvfMode};
use crate::dsp::math::{self, BinOp, UnOp};
use crate::dsp::midi::{CcIn, CcNode, CcSpec, MidiNotes, NotesNode, NotesSpec};
use crate::dsp::monitor::{MonitorNode, MonitorTable};
use crate::dsp::noise::{Pink, White};
use crate::dsp::osc::{Pulse, Saw, Sine, Tri};
use crate::dsp::reverb::Reverb;
use crate::dsp::sampler::{SampleNode, Sampler};
use crate::dsp::seq::{self, Score, Seq, SeqNode};
use crate::dsp::{Carry, Ctx, FromIns, Ins, Node};
use std::sync::Arc;

/// Longest echo a delay with a modulated time can reach.
pub const MAX_MODULATED_DELAY_SECS: f32 = 4.0;

/// What a node's DSP state is built from (control thread).
pub struct Build<'a> {
    pub lanes: usize,
    pub sample_rate: f32,
    /// Seed for nodes that make noise, from the node's identity: renders repeat.
    pub seed: u64,
    pub inputs: &'a [Input],
    /// The graph's monitor table and this node's slot in it (monitors only).
    pub monitors: &'a Arc<MonitorTable>,
    pub monitor_slot: u32,
}

impl Build<'_> {
    /// Input `i` when it is a number in the script.
    pub fn konst(&self, i: usize) -> Option<f32> {
        match self.inputs.get(i) {
            Some(Input::Const(v)) => Some(*v),
            _ => None,
        }
    }

    /// Input `i` is a signal.
    pub fn connected(&self, i: usize) -> bool {
        matches!(self.inputs.get(i), Some(Input::Port(_)))
    }
}

fn construct<T>(b: &Build, f: impl FnOnce(&Build) -> T) -> T {
    f(b)
}

fn fold_with(
    f: impl Fn(&dyn Fn(usize) -> f32, usize, usize) -> f32,
    at: &dyn Fn(usize) -> f32,
    n: usize,
    lane: usize,
) -> f32 {
    f(at, n, lane)
}

macro_rules! fold_arm {
    ($at:ident, $n:ident, $lane:ident;) => {
        None
    };
    ($at:ident, $n:ident, $lane:ident; $f:expr) => {
        Some(fold_with($f, $at, $n, $lane))
    };
}

macro_rules! define_nodes {
    ($(
        $(#[doc = $doc:literal])*
        $kind:ident $(($pb:ident: $pt:ty))? {
            name: $name:expr,
            outputs: $outs:expr,
            state: $state:ty = $new:expr,
            carry: [$($carry:ident),*],
            flags: [$($flag:ident),*],
            fold: [$($fold:expr)?],
            defaults: [$($dname:ident = $dval:expr),*],
        }
    )*) => {
        /// What a node is: one variant per entry of the table.
        #[derive(Clone, Debug, PartialEq)]
        pub enum NodeKind {
            $($(#[doc = $doc])* $kind $(($pt))?,)*
        }

        #[allow(unused_variables)]
        impl NodeKind {
            /// Short name used in stable keys and messages.
            pub fn name(&self) -> &'static str {
                match self {
                    $(NodeKind::$kind $(($pb))? => $name,)*
                }
            }

            /// Number of output channels.
            pub fn outputs(&self) -> usize {
                match self {
                    $(NodeKind::$kind $(($pb))? => $outs,)*
                }
            }

            /// The names of its inputs, in order.
            pub fn input_names(&self) -> &'static [&'static str] {
                match self {
                    $(NodeKind::$kind { .. } => <<$state as Node>::Inputs<'static> as FromIns>::NAMES,)*
                }
            }

            /// Values for inputs a short script form leaves out, by input name.
            pub fn defaults(&self) -> &'static [(&'static str, f32)] {
                match self {
                    $(NodeKind::$kind { .. } => &[$((stringify!($dname), $dval)),*],)*
                }
            }

            /// Its output depends only on constants, its inputs and its own running.
            pub fn runs_free(&self) -> bool {
                match self {
                    $(NodeKind::$kind { .. } => [$(stringify!($flag)),*].contains(&"free"),)*
                }
            }

            /// It may still sound after a silent block (echoes, tails, a metronome).
            pub fn holds_sound(&self) -> bool {
                match self {
                    $(NodeKind::$kind { .. } => [$(stringify!($flag)),*].contains(&"holds"),)*
                }
            }

            /// Inside an instrument it starts again at each note: its last input is a
            /// `reset` trigger (the voices' note trigger, or 0 once `.free()`).
            pub fn restarts(&self) -> bool {
                match self {
                    $(NodeKind::$kind { .. } => [$(stringify!($flag)),*].contains(&"restarts"),)*
                }
            }

            /// Inside `poly`, each voice needs its own copy even when the inputs are equal.
            pub fn per_voice(&self) -> bool {
                match self {
                    $(NodeKind::$kind { .. } => [$(stringify!($flag)),*].contains(&"per_voice"),)*
                }
            }

            /// Pure arithmetic: constant inputs give a constant output.
            pub fn is_pure(&self) -> bool {
                self.fold(&|_| 0.0, 0, 0).is_some()
            }

            /// The value of a pure node for one lane, `at(i)` being input `i`'s value there
            /// and `n` the number of inputs; `None` for any other node.
            pub fn fold(&self, at: &dyn Fn(usize) -> f32, n: usize, lane: usize) -> Option<f32> {
                match self {
                    $(NodeKind::$kind $(($pb))? => fold_arm!(at, n, lane; $($fold)?),)*
                }
            }
        }

        /// A node's DSP state: one variant per kind.
        pub(crate) enum Dsp {
            $($kind($state),)*
        }

        impl Dsp {
            /// Builds the state of a node of `kind` (control thread).
            #[allow(unused_variables)]
            pub(crate) fn new(kind: &NodeKind, b: &Build) -> Dsp {
                match kind {
                    $(NodeKind::$kind $(($pb))? => Dsp::$kind(construct(b, $new)),)*
                }
            }

            /// Renders one block (audio thread).
            #[inline]
            pub(crate) fn run(&mut self, ctx: &Ctx, ins: &Ins, out: &mut [f32], lanes: usize) {
                match self {
                    $(Dsp::$kind(s) => Node::process(s, ctx, FromIns::from_ins(ins), out, lanes),)*
                }
            }

            /// Takes over the running state of `old` when the kinds allow it (audio
            /// thread: copies into buffers that exist, allocates nothing).
            #[allow(unused_variables, clippy::match_single_binding)]
            pub(crate) fn carry_from(&mut self, old: &Dsp) -> bool {
                match self {
                    $(Dsp::$kind(a) => match old {
                        $(Dsp::$carry(b) => Carry::carry_from(a, b),)*
                        _ => false,
                    },)*
                }
            }

            /// Takes over `n` lanes of `old` (from lane `from`) into lanes from `to`
            /// (audio thread, copies only).
            #[allow(unused_variables, clippy::match_single_binding)]
            pub(crate) fn carry_lanes(&mut self, old: &Dsp, to: usize, from: usize, n: usize) -> bool {
                match self {
                    $(Dsp::$kind(a) => match old {
                        $(Dsp::$carry(b) => Carry::carry_lanes(a, b, to, from, n),)*
                        _ => false,
                    },)*
                }
            }
        }
    };
}

define_nodes! {
    Sine {
        name: "sine",
        outputs: 1,
        state: Sine = |b| Sine::new(b.lanes),
        carry: [Sine],
        flags: [free, restarts],
        fold: [],
        defaults: [phase = 0.0],
    }
    Saw {
        name: "saw",
        outputs: 1,
        state: Saw = |b| Saw::new(b.lanes),
        carry: [Saw],
        flags: [free, restarts],
        fold: [],
        defaults: [],
    }
    /// A pulse of width 0.5.
    Square {
        name: "square",
        outputs: 1,
        state: Pulse = |b| Pulse::new(b.lanes),
        carry: [Square, Pulse],
        flags: [free, restarts],
        fold: [],
        defaults: [width = 0.5],
    }
    Pulse {
        name: "pulse",
        outputs: 1,
        state: Pulse = |b| Pulse::new(b.lanes),
        carry: [Square, Pulse],
        flags: [free, restarts],
        fold: [],
        defaults: [],
    }
    Tri {
        name: "tri",
        outputs: 1,
        state: Tri = |b| Tri::new(b.lanes),
        carry: [Tri],
        flags: [free, restarts],
        fold: [],
        defaults: [],
    }
    Noise {
        name: "noise",
        outputs: 1,
        state: White = |b| White::new(b.lanes, b.seed),
        carry: [Noise],
        flags: [free, per_voice],
        fold: [],
        defaults: [],
    }
    Pink {
        name: "pink",
        outputs: 1,
        state: Pink = |b| Pink::new(b.lanes, b.seed),
        carry: [Pink],
        flags: [free, per_voice],
        fold: [],
        defaults: [],
    }
    Line {
        name: "line",
        outputs: 1,
        state: Line = |b| Line::new(b.lanes),
        carry: [Line],
        flags: [],
        fold: [],
        defaults: [],
    }
    Adsr {
        name: "adsr",
        outputs: 1,
        state: Adsr = |b| Adsr::new(b.lanes),
        carry: [Adsr],
        flags: [],
        fold: [],
        defaults: [],
    }
    Perc {
        name: "perc",
        outputs: 1,
        state: Perc = |b| Perc::new(b.lanes),
        carry: [Perc],
        flags: [],
        fold: [],
        defaults: [],
    }
    Metro {
        name: "metro",
        outputs: 1,
        state: Metro = |b| Metro::new(b.lanes),
        carry: [Metro],
        flags: [holds],
        fold: [],
        defaults: [],
    }
    Smooth {
        name: "smooth",
        outputs: 1,
        state: Smooth = |b| Smooth::new(b.lanes),
        carry: [Smooth],
        flags: [free],
        fold: [],
        defaults: [],
    }
    Lpf {
        name: "lpf",
        outputs: 1,
        state: Svf = |b| Svf::new(SvfMode::Low, b.lanes),
        carry: [Lpf, Hpf, Bpf, Notch],
        flags: [free],
        fold: [],
        defaults: [q = 0.707],
    }
    Hpf {
        name: "hpf",
        outputs: 1,
        state: Svf = |b| Svf::new(SvfMode::High, b.lanes),
        carry: [Lpf, Hpf, Bpf, Notch],
        flags: [free],
        fold: [],
        defaults: [q = 0.707],
    }
    Bpf {
        name: "bpf",
        outputs: 1,
        state: Svf = |b| Svf::new(SvfMode::Band, b.lanes),
        carry: [Lpf, Hpf, Bpf, Notch],
        flags: [free],
        fold: [],
        defaults: [q = 1.0],
    }
    Notch {
        name: "notch",
        outputs: 1,
        state: Svf = |b| Svf::new(SvfMode::Notch, b.lanes),
        carry: [Lpf, Hpf, Bpf, Notch],
        flags: [free],
        fold: [],
        defaults: [q = 1.0],
    }
    Ladder {
        name: "ladder",
        outputs: 1,
        state: Ladder = |b| Ladder::new(b.lanes),
        carry: [Ladder],
        flags: [free],
        fold: [],
        defaults: [q = 0.0],
    }
    /// The line is sized for a constant time, else for the longest modulated one.
    Delay {
        name: "delay",
        outputs: 1,
        state: Delay = |b| Delay::new(
            b.lanes,
            b.sample_rate,
            b.konst(1).unwrap_or(MAX_MODULATED_DELAY_SECS),
        ),
        carry: [Delay],
        flags: [free, holds],
        fold: [],
        defaults: [feedback = 0.0, wet = 1.0],
    }
    Drive {
        name: "drive",
        outputs: 1,
        state: math::Drive = |b| math::Drive::new(b.lanes),
        carry: [Drive],
        flags: [free],
        fold: [|at, _, _| (at(0) * at(1)).tanh()],
        defaults: [],
    }
    /// Equal-power pan: outputs left, right.
    Pan {
        name: "pan",
        outputs: 2,
        state: math::Pan = |_| math::Pan,
        carry: [],
        flags: [free],
        fold: [],
        defaults: [],
    }
    Bin(op: BinOp) {
        name: op.name(),
        outputs: 1,
        state: BinOp = |_| *op,
        carry: [],
        flags: [free],
        fold: [|at, _, _| op.apply(at(0), at(1))],
        defaults: [],
    }
    Un(op: UnOp) {
        name: op.name(),
        outputs: 1,
        state: UnOp = |_| *op,
        carry: [],
        flags: [free],
        fold: [|at, _, _| op.apply(at(0))],
        defaults: [],
    }
    Clip {
        name: "clip",
        outputs: 1,
        state: math::Clip = |_| math::Clip,
        carry: [],
        flags: [free],
        fold: [|at, _, _| at(0).max(at(1)).min(at(2))],
        defaults: [],
    }
    Range {
        name: "range",
        outputs: 1,
        state: math::Range = |_| math::Range,
        carry: [],
        flags: [free],
        fold: [|at, _, _| {
            let (a, b) = (at(1), at(2));
            a + (at(0) + 1.0) * 0.5 * (b - a)
        }],
        defaults: [],
    }
    /// Sum of any number of inputs (`mix`).
    Sum {
        name: "mix",
        outputs: 1,
        state: math::Sum = |_| math::Sum,
        carry: [],
        flags: [free],
        fold: [|at, n, _| (0..n).map(at).sum()],
        defaults: [],
    }
    /// Mixes the lanes (voices) of its input down to one, weighted by a second input (the
    /// voices' levels) when there is one.
    LaneSum {
        name: "poly",
        outputs: 1,
        state: math::LaneSum = |_| math::LaneSum,
        carry: [],
        flags: [],
        fold: [],
        defaults: [],
    }
    /// Each lane's index: the voice number inside a `poly` instrument.
    LaneIndex {
        name: "index",
        outputs: 1,
        state: math::LaneIndex = |_| math::LaneIndex,
        carry: [],
        flags: [free, per_voice],
        fold: [|_, _, lane| lane as f32],
        defaults: [],
    }
    /// Numbers that differ per lane: what the compiler makes of the numbers of parallel
    /// copies merged into lanes. Never runs: its values are computed once when compiling.
    LaneConst(values: Arc<[f32]>) {
        name: "lanes",
        outputs: 1,
        state: math::Silent = |_| math::Silent,
        carry: [],
        flags: [free],
        fold: [|_, _, lane| values.get(lane).copied().unwrap_or(0.0)],
        defaults: [],
    }
    /// Reads its source one block late, which is what lets a loop exist at all. It is a
    /// copy between blocks, not an op: its state is never built.
    Feedback {
        name: "feedback",
        outputs: 1,
        state: math::Silent = |_| math::Silent,
        carry: [],
        flags: [holds],
        fold: [],
        defaults: [],
    }
    /// A pattern's sequencer: per-voice freq, gate, vel, note, trigger and voice level.
    Seq(score: Arc<Score>) {
        name: "seq",
        outputs: seq::OUTPUTS,
        state: SeqNode = |b| SeqNode {
            seq: Seq::new(b.lanes),
            score: score.clone(),
        },
        carry: [Seq],
        flags: [],
        fold: [],
        defaults: [],
    }
    /// `midi_notes()`: per-voice freq, gate, vel, note, trigger and voice level, like `Seq`,
    /// played from MIDI.
    MidiNotes(spec: NotesSpec) {
        name: "midi_notes",
        outputs: seq::OUTPUTS,
        state: Box<NotesNode> = |b| Box::new(NotesNode {
            notes: MidiNotes::new(b.lanes),
            spec: *spec,
        }),
        carry: [MidiNotes],
        flags: [],
        fold: [],
        defaults: [],
    }
    /// `cc(num)`: a smoothed controller; inputs lo, hi.
    Cc(spec: CcSpec) {
        name: "cc",
        outputs: 1,
        state: CcNode = |_| CcNode {
            knob: CcIn::new(),
            spec: *spec,
        },
        carry: [Cc],
        flags: [],
        fold: [],
        defaults: [lo = 0.0, hi = 1.0],
    }
    /// Stereo effects: inputs left, right, then their parameters; outputs left, right.
    Reverb {
        name: "reverb",
        outputs: 2,
        state: Box<Reverb> = |b| Box::new(Reverb::new(b.sample_rate)),
        carry: [Reverb],
        flags: [free, holds],
        fold: [],
        defaults: [secs = 2.0, damp = 0.4],
    }
    Chorus {
        name: "chorus",
        outputs: 2,
        state: Box<Chorus> = |b| Box::new(Chorus::new(b.sample_rate)),
        carry: [Chorus],
        flags: [free, holds],
        fold: [],
        defaults: [],
    }
    Comp {
        name: "comp",
        outputs: 2,
        state: Box<Comp> = |b| Box::new(Comp::new(b.sample_rate)),
        carry: [Comp],
        flags: [free, holds],
        fold: [],
        defaults: [attack = 0.01, release = 0.1],
    }
    Crush {
        name: "crush",
        outputs: 1,
        state: Crush = |_| Crush,
        carry: [],
        flags: [free],
        fold: [],
        defaults: [],
    }
    /// Plays a WAV file: inputs trigger, speed, loop (a constant 0/1); one output per
    /// channel. Without a trigger it starts with the piece.
    Sample(sample: SampleRef) {
        name: "sample",
        outputs: sample.data.channels.clamp(1, 2),
        state: SampleNode = |b| SampleNode {
            player: Sampler::new(b.lanes, !b.connected(0)),
            data: sample.data.clone(),
            looped: b.konst(2).is_some_and(|v| v != 0.0),
        },
        carry: [Sample],
        flags: [],
        fold: [],
        defaults: [],
    }
    /// `.monitor("name")`: reads one channel, or left and right, for the terminal display;
    /// no output (it runs because every monitor is scheduled like an output).
    Monitor(spec: MonitorSpec) {
        name: "monitor",
        outputs: 0,
        state: MonitorNode = |b| MonitorNode {
            table: b.monitors.clone(),
            slot: b.monitor_slot,
            last: 0.0,
        },
        carry: [],
        flags: [],
        fold: [],
        defaults: [],
    }
}

impl Dsp {
    /// The voices of a sequencer or MIDI instrument, which the graph runs lane by lane.
    pub(crate) fn voices_mut(&mut self) -> Option<&mut crate::dsp::voices::Voices> {
        match self {
            Dsp::Seq(s) => Some(s.seq.voices_mut()),
            Dsp::MidiNotes(m) => Some(m.notes.voices_mut()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_name_declared_inputs() {
        let kinds = [
            NodeKind::Sine,
            NodeKind::Square,
            NodeKind::Lpf,
            NodeKind::Hpf,
            NodeKind::Bpf,
            NodeKind::Notch,
            NodeKind::Ladder,
            NodeKind::Delay,
            NodeKind::Reverb,
            NodeKind::Comp,
            NodeKind::Cc(CcSpec {
                num: 1,
                channel: None,
                init: 0.0,
            }),
        ];
        for k in kinds {
            for (name, _) in k.defaults() {
                assert!(
                    k.input_names().contains(name),
                    "{}: default for unknown input {name}",
                    k.name()
                );
            }
        }
    }
}
