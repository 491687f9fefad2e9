//! The signal graph as plain data (`GraphSpec`), built by the script layer on the control thread.
//!
//! A spec is what a script means, with no DSP state in it: node kinds, their inputs, a
//! stable key per node (what hot reload matches old and new nodes by) and the script
//! position that made the node (what graph errors point at).

mod compile;
mod keys;
mod listing;
mod matching;
pub mod memory;
mod nodes;
mod optimize;
mod sleep;
mod validate;

pub use compile::{
    Carried, GraphMeta, OpOrigin, ParamSlot, RuntimeGraph, Stages, best_split, compile,
    compile_with,
};
pub use keys::{assign_keys, fnv1a};
pub use listing::listing;
pub use matching::match_nodes;
pub use nodes::{Build, MAX_MODULATED_DELAY_SECS, NodeKind};
pub use optimize::{LaneGroup, Optimized, Passes, Report, optimize};
pub use validate::{GraphError, MAX_NODES, validate};

use crate::dsp::monitor::Shows;
use crate::dsp::sampler::SampleData;
use std::sync::Arc;

/// Where in which file a node was made.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SrcPos {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRef {
    pub node: u32,
    pub out: u8,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Input {
    Const(f32),
    Port(PortRef),
}

/// What a monitor node shows and where its pattern's step comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorSpec {
    pub name: Arc<str>,
    pub shows: Shows,
    /// The sequencer node whose step is shown.
    pub seq: Option<u32>,
}

/// A loaded sample as a node holds it. Two refer to the same sound when their contents
/// hash alike, so re-reading an unchanged file on reload still allows an in-place edit.
#[derive(Clone)]
pub struct SampleRef {
    pub data: Arc<SampleData>,
    pub hash: u64,
}

impl SampleRef {
    pub fn new(data: SampleData) -> Self {
        let mut h = fnv1a(data.frames.iter().map(|v| v.to_bits() as u64));
        h ^= data.rate.to_bits() as u64 ^ ((data.channels as u64) << 40);
        SampleRef {
            data: Arc::new(data),
            hash: h,
        }
    }
}

impl PartialEq for SampleRef {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.data.len() == other.data.len()
    }
}

impl std::fmt::Debug for SampleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Sample({} frames, {} ch, {} Hz)",
            self.data.len(),
            self.data.channels,
            self.data.rate
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NodeSpec {
    pub kind: NodeKind,
    pub inputs: Vec<Input>,
    /// Side-by-side copies (voices) this node runs; 1 outside `poly`.
    pub lanes: u32,
    /// Set by `.id("name")`: pins the key across edits.
    pub id: Option<String>,
    /// Stable key, filled by `assign_keys`.
    pub key: String,
    pub pos: SrcPos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GraphSpec {
    pub nodes: Vec<NodeSpec>,
    /// Left and right outputs (the same port twice for a mono script).
    pub out: [Input; 2],
    pub tempo_bpm: f64,
    /// Seconds, when the script sets one.
    pub duration: Option<f64>,
    /// Beats an edit waits for before it is heard (`reload_at`): 1 = next beat, 4 = next bar.
    pub reload_beats: Option<f64>,
    /// Named buses (`.track("name")`), left and right, in the order first named.
    pub tracks: Vec<(String, [Input; 2])>,
    /// `tempo("midi")`: the transport follows an external MIDI clock (`tempo_bpm` until
    /// one arrives).
    pub follow_clock: bool,
}

/// The numbers that differ between two specs of the same shape, as ((node, input), new
/// value); `None` when anything but numbers changed (then the graph must be rebuilt).
pub fn param_changes(old: &GraphSpec, new: &GraphSpec) -> Option<Vec<((u32, u32), f32)>> {
    if old.nodes.len() != new.nodes.len()
        || old.out != new.out
        || old.tempo_bpm != new.tempo_bpm
        || old.follow_clock != new.follow_clock
        || old.duration != new.duration
        || old.reload_beats != new.reload_beats
        || old.tracks != new.tracks
    {
        return None;
    }
    let mut changes = Vec::new();
    for (n, (a, b)) in old.nodes.iter().zip(&new.nodes).enumerate() {
        if a.kind != b.kind
            || a.lanes != b.lanes
            || a.id != b.id
            || a.inputs.len() != b.inputs.len()
        {
            return None;
        }
        for (k, (x, y)) in a.inputs.iter().zip(&b.inputs).enumerate() {
            match (x, y) {
                (Input::Const(u), Input::Const(v)) if u != v => {
                    changes.push(((n as u32, k as u32), *v))
                }
                (Input::Const(_), Input::Const(_)) => {}
                (Input::Port(p), Input::Port(q)) if p == q => {}
                _ => return None,
            }
        }
    }
    Some(changes)
}
