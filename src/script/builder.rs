//! The graph under construction while a script runs, and the `Signal` values scripts hold;
//! control thread only.

pub use super::dsl::args::{Arg, Sig, src_pos};
use crate::graph::memory::{Budget, DEFAULT_MEMORY_LIMIT};
use crate::graph::{GraphSpec, Input, MAX_NODES, NodeKind, NodeSpec, PortRef, SampleRef, SrcPos};
use std::collections::HashMap;
use std::path::PathBuf;

/// The voice handle an instrument receives: `poly` sets index and count; a pattern or MIDI
/// instrument also gives each voice's note signals.
#[derive(Clone, Debug)]
pub struct Voice {
    pub index: Sig,
    pub count: i64,
    pub notes: Option<NoteSigs>,
}

/// A voice's note as signals, one lane per voice.
#[derive(Clone, Debug)]
pub struct NoteSigs {
    pub freq: Sig,
    pub gate: Sig,
    pub vel: Sig,
    pub note: Sig,
}

pub struct Builder {
    pub nodes: Vec<NodeSpec>,
    pub tempo_bpm: f64,
    /// `tempo("midi")`: follow an external MIDI clock.
    pub follow_clock: bool,
    pub duration: Option<f64>,
    pub reload_beats: Option<f64>,
    /// Lanes of the `poly` instrument being built, if any.
    pub poly_lanes: Option<u32>,
    /// Inside a pattern instrument: the per-voice note trigger that restarts time-shaped
    /// nodes (`line`, `sample`) at each note.
    pub voice_trig: Option<PortRef>,
    /// Named stems, in the order first named.
    pub tracks: Vec<(String, [Input; 2])>,
    pub sample_rate: f64,
    /// The script's folder: sample paths resolve inside it.
    pub root: PathBuf,
    /// Samples read so far, by resolved path: the files the watcher follows.
    pub samples: HashMap<PathBuf, SampleRef>,
    /// The same samples by file identity, so a file reached by several names (hard links)
    /// is read and held once.
    pub sample_ids: HashMap<(u64, u64), SampleRef>,
    /// The memory the graph needs so far, against its limit.
    pub memory: Budget,
}

impl Builder {
    pub fn new(sample_rate: f64) -> Self {
        Builder {
            nodes: Vec::new(),
            tempo_bpm: 120.0,
            follow_clock: false,
            duration: None,
            reload_beats: None,
            poly_lanes: None,
            voice_trig: None,
            tracks: Vec::new(),
            sample_rate,
            root: PathBuf::from("."),
            samples: HashMap::new(),
            sample_ids: HashMap::new(),
            memory: Budget::new(DEFAULT_MEMORY_LIMIT),
        }
    }

    /// Adds a node; its lane count is the widest of its inputs and the enclosing `poly`.
    pub fn add(&mut self, kind: NodeKind, inputs: &[Input], pos: &SrcPos) -> Result<u32, String> {
        // Inside a poly instrument only nodes that differ per voice even with equal inputs
        // (noise, the voice index) need a copy per voice; the rest follow their inputs, so a
        // shared LFO or gate runs once, not once per voice, and sounds the same.
        let per_voice = kind.per_voice();
        if kind == NodeKind::LaneSum {
            // The voice mixdown is one lane wide whatever its input.
            return self.push(kind, inputs, 1, pos);
        }
        let mut lanes = if per_voice {
            self.poly_lanes.unwrap_or(1)
        } else {
            1
        };
        for i in inputs {
            if let Input::Port(p) = i {
                let l = self.nodes[p.node as usize].lanes;
                if l != 1 && lanes != 1 && l != lanes {
                    return Err(format!(
                        "cannot combine signals of {l} and {lanes} voices; mix the voices down first"
                    ));
                }
                lanes = lanes.max(l);
            }
        }
        self.push(kind, inputs, lanes, pos)
    }

    /// Adds a node with an explicit lane count (a sequencer sets its voices itself).
    pub fn push(
        &mut self,
        kind: NodeKind,
        inputs: &[Input],
        lanes: u32,
        pos: &SrcPos,
    ) -> Result<u32, String> {
        if self.nodes.len() >= MAX_NODES {
            return Err(format!(
                "too many nodes: a graph may hold {MAX_NODES}; this script builds more"
            ));
        }
        let node = NodeSpec {
            kind,
            inputs: inputs.to_vec(),
            lanes,
            id: None,
            key: String::new(),
            pos: pos.clone(),
        };
        let cost = self
            .memory
            .cost(&node.kind, &node.inputs, lanes, self.sample_rate);
        self.memory
            .take(&node.kind, cost, &self.nodes, &node, self.sample_rate)?;
        self.nodes.push(node);
        Ok(self.nodes.len() as u32 - 1)
    }

    /// One node per channel of `x`: `make(channel)` gives the inputs for that channel.
    pub fn per_channel(
        &mut self,
        kind: NodeKind,
        x: &Sig,
        params: &[Input],
        pos: &SrcPos,
    ) -> Result<Sig, String> {
        let mut ports = [x.ch[0]; 2];
        let mut lanes = 1;
        for (i, ch) in x.channels().iter().enumerate() {
            let mut ins = vec![Input::Port(*ch)];
            ins.extend_from_slice(params);
            let n = self.add(kind.clone(), &ins, pos)?;
            lanes = self.nodes[n as usize].lanes;
            ports[i] = PortRef { node: n, out: 0 };
        }
        if !x.stereo {
            ports[1] = ports[0];
        }
        Ok(Sig {
            ch: ports,
            stereo: x.stereo,
            lanes,
        })
    }

    /// A mono source node.
    pub fn source(&mut self, kind: NodeKind, ins: &[Input], pos: &SrcPos) -> Result<Sig, String> {
        let n = self.add(kind, ins, pos)?;
        Ok(Sig::mono(
            PortRef { node: n, out: 0 },
            self.nodes[n as usize].lanes,
        ))
    }

    pub fn finish(self, out: &Sig) -> GraphSpec {
        GraphSpec {
            nodes: self.nodes,
            out: [Input::Port(out.ch[0]), Input::Port(out.ch[1])],
            tempo_bpm: self.tempo_bpm,
            follow_clock: self.follow_clock,
            duration: self.duration,
            reload_beats: self.reload_beats,
            tracks: self.tracks,
        }
    }

    pub fn seconds_per_beat(&self) -> f64 {
        60.0 / self.tempo_bpm
    }
}
