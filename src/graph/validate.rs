//! Graph validation: limits, duplicate ids and feedback loops; runs on the control thread.

use super::{GraphSpec, Input, NodeKind, SrcPos};
use std::collections::HashMap;

/// Most nodes a graph may hold. A script that builds more is almost surely a runaway loop,
/// and the bound keeps memory and compile time small.
pub const MAX_NODES: usize = 50_000;

#[derive(Clone, Debug, PartialEq)]
pub struct GraphError {
    pub message: String,
    pub pos: SrcPos,
    pub hint: Option<String>,
}

pub fn validate(spec: &GraphSpec) -> Result<(), GraphError> {
    if spec.nodes.len() > MAX_NODES {
        let pos = spec.nodes.last().map(|n| n.pos.clone()).unwrap_or_default();
        return Err(GraphError {
            message: format!(
                "the graph has {} nodes; the limit is {MAX_NODES}",
                spec.nodes.len()
            ),
            pos,
            hint: Some("a loop probably builds far more oscillators than intended".into()),
        });
    }
    let mut ids: HashMap<&str, &SrcPos> = HashMap::new();
    for n in &spec.nodes {
        if let Some(id) = &n.id
            && let Some(first) = ids.insert(id, &n.pos)
        {
            return Err(GraphError {
                message: format!("the id \"{id}\" is used twice"),
                pos: n.pos.clone(),
                hint: Some(format!(
                    "ids name one node each; the first is at line {}",
                    first.line
                )),
            });
        }
    }
    for (i, n) in spec.nodes.iter().enumerate() {
        if n.kind != NodeKind::Feedback {
            continue;
        }
        let Some(Input::Port(src)) = n.inputs.first() else {
            return Err(GraphError {
                message: "this feedback() is never fed".into(),
                pos: n.pos.clone(),
                hint: Some("close the loop with `fb.feed(signal)`".into()),
            });
        };
        if reaches_without_delay(spec, src.node as usize, i) {
            return Err(GraphError {
                message: "a feedback loop without a delay".into(),
                pos: n.pos.clone(),
                hint: Some(
                    "put a `.delay(secs, feedback)` inside the loop, between this feedback() and its .feed()"
                        .into(),
                ),
            });
        }
    }
    Ok(())
}

/// Whether `to` is an input (transitively) of `from` along a path with no delay node.
fn reaches_without_delay(spec: &GraphSpec, from: usize, to: usize) -> bool {
    path_to(spec, from, to, |k| *k == NodeKind::Delay).is_some()
}

/// Finds a node path from `from` back through inputs to `to`, not entering nodes for which
/// `blocked` holds; returns the path (excluding `to`).
fn path_to(
    spec: &GraphSpec,
    from: usize,
    to: usize,
    blocked: impl Fn(&NodeKind) -> bool,
) -> Option<Vec<usize>> {
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut stack = vec![from];
    parent.insert(from, usize::MAX);
    while let Some(n) = stack.pop() {
        if n == to {
            let mut path = Vec::new();
            let mut c = parent[&n];
            while c != usize::MAX {
                path.push(c);
                c = parent[&c];
            }
            return Some(path);
        }
        if blocked(&spec.nodes[n].kind) {
            continue;
        }
        for inp in &spec.nodes[n].inputs {
            if let Input::Port(p) = inp {
                let m = p.node as usize;
                if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(m) {
                    e.insert(n);
                    stack.push(m);
                }
            }
        }
    }
    None
}
