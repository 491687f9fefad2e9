//! Stable node keys and content hashes: what a node is, independent of where it sits;
//! computed on the control thread.

use super::{GraphSpec, Input, NodeKind, NodeSpec};
use std::collections::HashMap;

/// What each node of a spec is made of, for the nodes reachable from the outputs.
pub(crate) struct Content {
    /// Reachable nodes, inputs before the nodes reading them (a feedback node counts as a
    /// source, which is what breaks loops), in a deterministic walk from the outputs.
    pub order: Vec<u32>,
    /// Merkle hash: kind (with its payload), lanes, constants and the hashes of the inputs.
    /// 0 for unreachable nodes.
    pub exact: Vec<u64>,
    /// Kind (with its payload), lanes and constants, without the inputs' hashes.
    pub own: Vec<u64>,
    /// Longest input chain below a node (a source is 1).
    pub height: Vec<u32>,
    /// Hash of the kind and its payload only.
    pub kind: Vec<u64>,
}

/// Hash of a node's kind and what it carries (score, sample, controller...). The debug
/// text covers every payload; a monitor's sequencer is a node index, which would change
/// with unrelated edits, so a monitor is hashed by what it shows.
pub(crate) fn kind_hash(kind: &NodeKind) -> u64 {
    let text = match kind {
        NodeKind::Monitor(m) => format!("monitor {} {:?}", m.name, m.shows),
        NodeKind::Sample(r) => format!("sample {:x} {}", r.hash, r.data.len()),
        k => format!("{k:?}"),
    };
    fnv1a(text.bytes().map(u64::from))
}

/// The nodes that are heard (outputs, tracks, monitors) in a fixed order.
pub(crate) fn roots(spec: &GraphSpec) -> Vec<usize> {
    let mut roots: Vec<usize> = spec
        .out
        .iter()
        .chain(spec.tracks.iter().flat_map(|(_, ins)| ins.iter()))
        .filter_map(|i| match i {
            Input::Port(p) => Some(p.node as usize),
            Input::Const(_) => None,
        })
        .collect();
    roots.extend(
        spec.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.kind, NodeKind::Monitor(_)))
            .map(|(i, _)| i),
    );
    roots
}

/// The inputs a node waits for: none for a feedback node, whose source is read a block late.
fn dependencies(node: &NodeSpec) -> &[Input] {
    if node.kind == NodeKind::Feedback {
        &[]
    } else {
        &node.inputs
    }
}

/// The nodes reachable from the outputs, tracks and monitors, each after its inputs. A
/// feedback node's source is not a dependency but is visited like another root.
pub(crate) fn post_order(spec: &GraphSpec) -> Vec<usize> {
    let mut roots = roots(spec);
    let mut state = vec![0u8; spec.nodes.len()]; // 0 new, 1 open, 2 done
    let mut order = Vec::new();
    let mut r = 0;
    while r < roots.len() {
        let root = roots[r];
        r += 1;
        if state[root] != 0 {
            continue;
        }
        // Iterative post-order: deep chains must not overflow the stack.
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        while let Some((n, next)) = stack.pop() {
            let node = &spec.nodes[n];
            if node.kind == NodeKind::Feedback
                && let Some(Input::Port(p)) = node.inputs.first()
            {
                roots.push(p.node as usize);
            }
            let deps = dependencies(node);
            let pending = deps[next..].iter().position(|d| match d {
                Input::Port(p) => state[p.node as usize] == 0,
                Input::Const(_) => false,
            });
            match pending {
                Some(k) => {
                    let Input::Port(p) = deps[next + k] else {
                        unreachable!()
                    };
                    stack.push((n, next + k + 1));
                    state[p.node as usize] = 1;
                    stack.push((p.node as usize, 0));
                }
                None => {
                    state[n] = 2;
                    order.push(n);
                }
            }
        }
    }
    order
}

/// Hashes every reachable node. Linear in nodes plus inputs.
pub(crate) fn content(spec: &GraphSpec) -> Content {
    let n = spec.nodes.len();
    let mut c = Content {
        order: Vec::with_capacity(n),
        exact: vec![0; n],
        own: vec![0; n],
        height: vec![0; n],
        kind: vec![0; n],
    };
    for i in post_order(spec) {
        let node = &spec.nodes[i];
        let deps = dependencies(node);
        c.order.push(i as u32);
        let kh = kind_hash(&node.kind);
        c.kind[i] = kh;
        let mut own = vec![kh, u64::from(node.lanes), deps.len() as u64];
        let mut exact = own.clone();
        let mut height = 0;
        let mut ins: Vec<[u64; 3]> = Vec::with_capacity(deps.len());
        for d in deps {
            match d {
                Input::Const(v) => {
                    own.push(u64::from(v.to_bits()));
                    ins.push([0, u64::from(v.to_bits()), 0]);
                }
                Input::Port(p) => {
                    own.push(u64::MAX);
                    let s = p.node as usize;
                    ins.push([1, c.exact[s], u64::from(p.out)]);
                    height = height.max(c.height[s]);
                }
            }
        }
        // A mix sums its members in any order: reordering them changes nothing heard.
        if node.kind == NodeKind::Sum {
            ins.sort_unstable();
            own[3..].sort_unstable();
        }
        exact.extend(ins.iter().flatten());
        c.own[i] = fnv1a(own);
        c.exact[i] = fnv1a(exact);
        c.height[i] = height + 1;
    }
    c
}

/// Gives every node reachable from the outputs a key: `#id` for an explicit `.id`, else its
/// kind and content hash (kind, numbers, lanes and, recursively, its inputs), e.g.
/// `lpf:3f09a1c2e4b7`, so a node keeps its key wherever an edit moves it. Identical
/// subtrees (two plain `noise()`) are told apart by their order of appearance (`.1`, `.2`).
/// Unreachable nodes keep an empty key (they are dropped when compiling).
pub fn assign_keys(spec: &mut GraphSpec) {
    let c = content(spec);
    for n in &mut spec.nodes {
        n.key.clear();
    }
    let mut seen: HashMap<String, u32> = HashMap::new();
    for &i in &c.order {
        let node = &spec.nodes[i as usize];
        let base = match &node.id {
            Some(id) => format!("#{id}"),
            None => format!("{}:{:012x}", node.kind.name(), c.exact[i as usize] >> 16),
        };
        let count = seen.entry(base.clone()).or_insert(0);
        let key = if *count == 0 {
            base
        } else {
            format!("{base}.{count}")
        };
        *count += 1;
        spec.nodes[i as usize].key = key;
    }
}

/// FNV-1a over `words`: stable across runs and platforms, unlike std's randomised hasher,
/// so seeds and content hashes made from it repeat from one run to the next.
pub fn fnv1a(words: impl IntoIterator<Item = u64>) -> u64 {
    words.into_iter().fold(0xcbf2_9ce4_8422_2325u64, |h, w| {
        (h ^ w).wrapping_mul(0x0100_0000_01b3)
    })
}
