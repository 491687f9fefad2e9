//! The signal graph as plain data (`GraphSpec`), built by the script layer on the control thread.
//!
//! A spec is what a script means, with no DSP state in it: node kinds, their inputs, a
//! stable key per node (what hot reload matches old and new nodes by) and the script
//! position that made the node (what graph errors point at).

mod compile;
mod keys;
mod validate;

pub use compile::{CompiledGraph, ParamSlot, compile};
pub use keys::assign_keys;
pub use validate::{GraphError, MAX_NODES, validate};

use crate::dsp::math::{BinOp, UnOp};
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

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Sine,
    Saw,
    Square,
    Pulse,
    Tri,
    Noise,
    Pink,
    Line,
    Adsr,
    Perc,
    Metro,
    Smooth,
    Lpf,
    Hpf,
    Bpf,
    Notch,
    Ladder,
    Delay,
    Drive,
    Pan,
    Bin(BinOp),
    Un(UnOp),
    Clip,
    Range,
    /// Sum of any number of inputs (`mix`).
    Sum,
    /// Mixes the lanes (voices) of its input down to one.
    LaneSum,
    /// Each lane's index: the voice number inside a `poly` instrument.
    LaneIndex,
    /// Reads its source one block late, which is what lets a loop exist at all.
    Feedback,
}

impl NodeKind {
    /// Short name used in stable keys and messages.
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Sine => "sine",
            NodeKind::Saw => "saw",
            NodeKind::Square => "square",
            NodeKind::Pulse => "pulse",
            NodeKind::Tri => "tri",
            NodeKind::Noise => "noise",
            NodeKind::Pink => "pink",
            NodeKind::Line => "line",
            NodeKind::Adsr => "adsr",
            NodeKind::Perc => "perc",
            NodeKind::Metro => "metro",
            NodeKind::Smooth => "smooth",
            NodeKind::Lpf => "lpf",
            NodeKind::Hpf => "hpf",
            NodeKind::Bpf => "bpf",
            NodeKind::Notch => "notch",
            NodeKind::Ladder => "ladder",
            NodeKind::Delay => "delay",
            NodeKind::Drive => "drive",
            NodeKind::Pan => "pan",
            NodeKind::Bin(op) => match op {
                BinOp::Add => "add",
                BinOp::Sub => "sub",
                BinOp::Mul => "mul",
                BinOp::Div => "div",
                BinOp::Min => "min",
                BinOp::Max => "max",
                BinOp::Pow => "pow",
            },
            NodeKind::Un(op) => match op {
                UnOp::Neg => "neg",
                UnOp::Abs => "abs",
                UnOp::Mtof => "midi",
            },
            NodeKind::Clip => "clip",
            NodeKind::Range => "range",
            NodeKind::Sum => "mix",
            NodeKind::LaneSum => "poly",
            NodeKind::LaneIndex => "index",
            NodeKind::Feedback => "feedback",
        }
    }

    /// Number of output channels.
    pub fn outputs(&self) -> usize {
        match self {
            NodeKind::Pan => 2,
            _ => 1,
        }
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
}

/// The numbers that differ between two specs of the same shape, as ((node, input), new
/// value); `None` when anything but numbers changed (then the graph must be rebuilt).
pub fn param_changes(old: &GraphSpec, new: &GraphSpec) -> Option<Vec<((u32, u32), f32)>> {
    if old.nodes.len() != new.nodes.len()
        || old.out != new.out
        || old.tempo_bpm != new.tempo_bpm
        || old.duration != new.duration
        || old.reload_beats != new.reload_beats
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
