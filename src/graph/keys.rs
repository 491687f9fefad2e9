//! Stable node keys: the identity hot reload matches nodes by; computed on the control thread.

use super::{GraphSpec, Input, NodeKind};
use std::collections::VecDeque;

/// Gives every node reachable from the outputs a key: its explicit `.id`, else the path
/// from the output (or from the nearest node with an id) plus its kind, e.g.
/// `L/0:lpf/0:saw`. Editing one branch of a mix leaves the keys of the others as they were.
/// Unreachable nodes keep an empty key (they are dropped when compiling).
pub fn assign_keys(spec: &mut GraphSpec) {
    for n in &mut spec.nodes {
        n.key.clear();
    }
    let mut queue = VecDeque::new();
    for (side, inp) in ["L", "R"].iter().zip(spec.out) {
        if let Input::Port(p) = inp {
            queue.push_back((p.node as usize, format!("{side}.{}", p.out)));
        }
    }
    // A stem that is also in the mix keeps the key the mix gives it.
    for (name, ins) in &spec.tracks {
        for (side, inp) in ["L", "R"].iter().zip(ins) {
            if let Input::Port(p) = inp {
                queue.push_back((p.node as usize, format!("T{name}{side}.{}", p.out)));
            }
        }
    }
    // A monitor is a sink of its own: what only it reads is keyed from its name.
    for (i, n) in spec.nodes.iter().enumerate() {
        if let NodeKind::Monitor(m) = &n.kind {
            queue.push_back((i, format!("M{}", m.name)));
        }
    }
    while let Some((idx, path)) = queue.pop_front() {
        if !spec.nodes[idx].key.is_empty() {
            continue;
        }
        let node = &mut spec.nodes[idx];
        node.key = match &node.id {
            Some(id) => format!("#{id}"),
            None => format!("{path}:{}", node.kind.name()),
        };
        let key = node.key.clone();
        let inputs = node.inputs.clone();
        for (i, inp) in inputs.iter().enumerate() {
            if let Input::Port(p) = inp
                && spec.nodes[p.node as usize].key.is_empty()
            {
                queue.push_back((p.node as usize, format!("{key}/{i}.{}", p.out)));
            }
        }
    }
}

/// FNV-1a over `words`: stable across runs and platforms, unlike std's randomised hasher,
/// so seeds and content hashes made from it repeat from one run to the next.
pub fn fnv1a(words: impl IntoIterator<Item = u64>) -> u64 {
    words.into_iter().fold(0xcbf2_9ce4_8422_2325u64, |h, w| {
        (h ^ w).wrapping_mul(0x0100_0000_01b3)
    })
}
