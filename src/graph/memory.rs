//! What a graph's buffers will cost in memory, known from the spec before anything is
//! allocated, and the budget a graph must fit (`memory_limit`); control thread only.

use super::{Input, NodeKind, NodeSpec};
use crate::dsp::BLOCK;
use crate::script::files::bytes_text;
use std::collections::HashSet;

/// The default `memory_limit`: 1 GiB, far above any piece (the examples need at most a few
/// MiB) and below what would make a laptop swap.
pub const DEFAULT_MEMORY_LIMIT: u64 = 1 << 30;

const F32: u64 = 4;
/// Per-lane state of a node without buffers of its own (phases, filter memory, envelope
/// stages): a generous bound for every such kind.
const LANE_STATE: u64 = 128;
/// Per-lane state of a sequencer or MIDI voice allocator (voices, windows, held notes).
const VOICE_STATE: u64 = 512;

/// Bytes node `kind` holds on its own with `lanes` lanes: its output buffers, a buffer per
/// constant input, and its state (a delay's line, a reverb's rings). Data it shares with
/// other nodes (a sample's frames, a pattern's table) is in [`shared_bytes`].
pub fn node_bytes(kind: &NodeKind, inputs: &[Input], lanes: u32, sample_rate: f64) -> u64 {
    let lanes = u64::from(lanes.max(1));
    let block = BLOCK as u64 * F32;
    let outputs = block * lanes * kind.outputs() as u64;
    let consts = block
        * inputs
            .iter()
            .filter(|i| matches!(i, Input::Const(_)))
            .count() as u64;
    let sr = sample_rate.max(1.0);
    let state = match kind {
        NodeKind::Delay => {
            // As `Delay::new` sizes its line.
            let secs = match inputs.get(1) {
                Some(Input::Const(v)) => f64::from(*v).max(0.0),
                _ => f64::from(super::MAX_MODULATED_DELAY_SECS),
            };
            let len = ((secs * sr).ceil() as u64 + 2).max(BLOCK as u64 + 2);
            len * lanes * F32
        }
        NodeKind::Reverb => crate::dsp::reverb::Reverb::heap_bytes(sr as f32) as u64,
        NodeKind::Chorus => crate::dsp::chorus::Chorus::HEAP_BYTES as u64,
        NodeKind::Seq(_) | NodeKind::MidiNotes(_) => VOICE_STATE * lanes,
        _ => LANE_STATE * lanes,
    };
    outputs + consts + state
}

/// Data a node shares with every node that holds the same: an identity (so it is counted
/// once) and its size.
pub fn shared_bytes(kind: &NodeKind) -> Option<(usize, u64)> {
    match kind {
        NodeKind::Sample(s) => Some((
            std::sync::Arc::as_ptr(&s.data) as usize,
            s.data.frames.len() as u64 * F32,
        )),
        NodeKind::Seq(score) => Some((
            std::sync::Arc::as_ptr(score) as *const u8 as usize,
            (score.notes.len() * std::mem::size_of::<crate::dsp::seq::Note>()
                + score.offsets.len() * std::mem::size_of::<u32>()) as u64,
        )),
        _ => None,
    }
}

/// The memory a graph under construction needs so far, checked against its budget as each
/// node is added (so a runaway script stops at the node that crosses it, before anything
/// is allocated for the sound).
#[derive(Debug)]
pub struct Budget {
    pub limit: u64,
    pub used: u64,
    shared: HashSet<usize>,
}

impl Budget {
    pub fn new(limit: u64) -> Self {
        Budget {
            limit,
            used: 0,
            shared: HashSet::new(),
        }
    }

    /// What adding `kind` costs, shared data counted only the first time it is seen.
    pub fn cost(&self, kind: &NodeKind, inputs: &[Input], lanes: u32, sample_rate: f64) -> u64 {
        let own = node_bytes(kind, inputs, lanes, sample_rate);
        match shared_bytes(kind) {
            Some((id, bytes)) if !self.shared.contains(&id) => own + bytes,
            _ => own,
        }
    }

    /// Takes `cost` for `kind`; `Err` (the message) when the graph would go over the limit.
    pub fn take(
        &mut self,
        kind: &NodeKind,
        cost: u64,
        nodes: &[NodeSpec],
        new: &NodeSpec,
        sample_rate: f64,
    ) -> Result<(), String> {
        let total = self.used.saturating_add(cost);
        if total > self.limit {
            return Err(self.over(total, nodes, new, sample_rate));
        }
        self.used = total;
        if let Some((id, _)) = shared_bytes(kind) {
            self.shared.insert(id);
        }
        Ok(())
    }

    /// Bytes still free under the limit.
    pub fn left(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    fn over(&self, total: u64, nodes: &[NodeSpec], new: &NodeSpec, sample_rate: f64) -> String {
        // The largest nodes, shared data counted with its first holder, so the list names
        // what to shrink.
        let mut seen = HashSet::new();
        let mut sizes: Vec<(u64, &NodeSpec)> = nodes
            .iter()
            .chain(std::iter::once(new))
            .map(|n| {
                let mut b = node_bytes(&n.kind, &n.inputs, n.lanes, sample_rate);
                if let Some((id, bytes)) = shared_bytes(&n.kind)
                    && seen.insert(id)
                {
                    b += bytes;
                }
                (b, n)
            })
            .collect();
        sizes.sort_by_key(|(b, _)| std::cmp::Reverse(*b));
        let largest: Vec<String> = sizes
            .iter()
            .take(3)
            .map(|(b, n)| {
                let voices = if n.lanes > 1 {
                    format!(", {} voices", n.lanes)
                } else {
                    String::new()
                };
                format!(
                    "{} at {}:{}:{} ({}{voices})",
                    n.kind.name(),
                    n.pos.file,
                    n.pos.line,
                    n.pos.col,
                    bytes_text(*b)
                )
            })
            .collect();
        format!(
            "the sound needs more memory than allowed: at least {} for its buffers, over the limit of {}; the largest: {}\nhint: shorten delays, use fewer voices or smaller samples, or raise `memory_limit` in config.rhai (in MiB)",
            bytes_text(total),
            bytes_text(self.limit),
            largest.join(", ")
        )
    }
}
