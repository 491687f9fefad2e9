//! The graph compiler's rewriting passes: a `GraphSpec` as the script phrased it in, one that
//! sounds the same and does less work out. Runs on the control thread, inside `compile`.
//!
//! How a script is written should not decide how fast it runs. Three passes, in order:
//! - **shared**: identical subgraphs are computed once (32 copies of `sine(0.5)` become one);
//! - **sums**: chains of `+` and nested mixes become one n-ary sum;
//! - **lanes**: parallel chains of the same shape summed together (a `for` loop of voices)
//!   become one chain that runs them side by side as lanes, an automatic `poly`; numbers that
//!   differ between the copies become per-lane constants.
//!
//! A fourth, **voices** (an instrument runs only the voices that sound), is a property of
//! the compiled graph rather than a rewrite: see `compile.rs`.
//!
//! Every rewritten node remembers which node of the script it stands for, so hot reload
//! still matches state and glides numbers by the script's own nodes.

use super::keys::{kind_hash, post_order};
use super::{GraphSpec, Input, NodeKind, NodeSpec, PortRef};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Which passes run (all of them, except when measuring what each one buys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Passes {
    pub shared: bool,
    pub sums: bool,
    pub lanes: bool,
    /// An instrument runs only its sounding voices (see `compile::Sleep`); applied when
    /// compiling, not a rewrite of the spec.
    pub voices: bool,
}

impl Passes {
    pub const ALL: Passes = Passes {
        shared: true,
        sums: true,
        lanes: true,
        voices: true,
    };
    pub const NONE: Passes = Passes {
        shared: false,
        sums: false,
        lanes: false,
        voices: false,
    };

    /// Parses a comma-separated list of pass names (`shared,sums,lanes,voices`), `all` or
    /// `none`.
    pub fn parse(text: &str) -> Result<Passes, String> {
        let mut p = Passes::NONE;
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "all" => p = Passes::ALL,
                "none" => p = Passes::NONE,
                "shared" => p.shared = true,
                "sums" => p.sums = true,
                "lanes" => p.lanes = true,
                "voices" => p.voices = true,
                other => {
                    return Err(format!(
                        "unknown pass `{other}`; the passes are shared, sums, lanes and voices (or all, none)"
                    ));
                }
            }
        }
        Ok(p)
    }
}

/// One group of parallel chains run as lanes.
#[derive(Clone, Debug, PartialEq)]
pub struct LaneGroup {
    /// How many copies became lanes.
    pub copies: usize,
    /// Nodes in each copy.
    pub nodes: usize,
    /// Where the first copy's last node was made, as `line:col`.
    pub at: String,
}

/// What the passes did, for `waves check --graph`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Nodes reachable from the outputs before and after.
    pub before: usize,
    pub after: usize,
    /// Nodes that were duplicates of another.
    pub shared: usize,
    /// Binary additions and mixes folded into a larger sum.
    pub sums: usize,
    pub lanes: Vec<LaneGroup>,
}

/// The rewritten spec and how it relates to the script's.
pub struct Optimized {
    pub spec: GraphSpec,
    /// For each node of `spec`, the node of the script it stands for: the one whose state it
    /// carries across reloads (the first of a merged set). `u32::MAX` for a node the passes
    /// made that holds no state of its own.
    pub origin: Vec<u32>,
    /// For a node that runs merged copies as lanes, the script's node of each lane, in
    /// lane order (empty for every other node).
    pub lanes: Vec<Vec<u32>>,
    /// Numbers of the script that still belong to exactly one input of one node: (script
    /// node, input) → (node here, input). A number shared by merged copies is not here, so
    /// editing it rebuilds instead of gliding every copy.
    pub numbers: HashMap<(u32, u32), (u32, u32)>,
    pub report: Report,
}

/// Most lanes one merged chain gets; a larger group is merged in pieces of this size.
const MAX_LANES: usize = 1024;

/// Rewrites `spec` (keys assigned) with `passes`.
pub fn optimize(spec: &GraphSpec, passes: Passes) -> Optimized {
    let mut g = Work::new(spec);
    let before = post_order(&g.spec);
    g.report.before = before.len();
    if passes.shared {
        g.share();
    }
    if passes.sums {
        g.sums();
    }
    if passes.lanes {
        for _ in 0..8 {
            if !g.lanes() {
                break;
            }
        }
    }
    let after = post_order(&g.spec);
    g.report.after = after.len();
    // A node the passes replaced still names its inputs; later analyses (which voices of an
    // instrument may sleep) would count it as their reader. It reads nothing now.
    let mut live = vec![false; g.spec.nodes.len()];
    for &n in &after {
        live[n] = true;
    }
    for &n in &before {
        if !live[n] {
            g.spec.nodes[n].inputs.clear();
            g.from[n].clear();
        }
    }
    let mut numbers = HashMap::new();
    for (n, ins) in g.from.iter().enumerate() {
        for (k, at) in ins.iter().enumerate() {
            if let (Some(at), Some(Input::Const(_))) = (at, g.spec.nodes[n].inputs.get(k)) {
                numbers.insert(*at, (n as u32, k as u32));
            }
        }
    }
    Optimized {
        spec: g.spec,
        origin: g.origin,
        lanes: g.lanes,
        numbers,
        report: g.report,
    }
}

struct Work {
    spec: GraphSpec,
    /// `kind_hash` of each node, made once (it formats the kind).
    kinds: Vec<u64>,
    origin: Vec<u32>,
    lanes: Vec<Vec<u32>>,
    /// Per node and input: the script's (node, input) this number came from, alone.
    from: Vec<Vec<Option<(u32, u32)>>>,
    report: Report,
}

/// The kinds whose output is fixed by their inputs and the numbers they were built with:
/// two with equal inputs sound the same. Noise is seeded per node, a monitor and MIDI
/// inputs have effects of their own, a pattern is what a monitor follows, and a feedback point is a place in a loop.
fn deterministic(kind: &NodeKind) -> bool {
    !matches!(
        kind,
        NodeKind::Noise
            | NodeKind::Pink
            | NodeKind::Monitor(_)
            | NodeKind::MidiNotes(_)
            | NodeKind::Cc(_)
            | NodeKind::Feedback
            | NodeKind::Sample(_)
            | NodeKind::Seq(_)
    )
}

/// The kinds that can run as lanes of one node, each lane exactly as one copy alone.
fn lane_ready(kind: &NodeKind) -> bool {
    matches!(
        kind,
        NodeKind::Sine
            | NodeKind::Saw
            | NodeKind::Square
            | NodeKind::Pulse
            | NodeKind::Tri
            | NodeKind::Line
            | NodeKind::Adsr
            | NodeKind::Perc
            | NodeKind::Smooth
            | NodeKind::Lpf
            | NodeKind::Hpf
            | NodeKind::Bpf
            | NodeKind::Notch
            | NodeKind::Ladder
            | NodeKind::Delay
            | NodeKind::Drive
            | NodeKind::Pan
            | NodeKind::Bin(_)
            | NodeKind::Un(_)
            | NodeKind::Clip
            | NodeKind::Range
            | NodeKind::Sum
            | NodeKind::Crush
    )
}

/// An input a node reads once when it is built (a delay line's length): copies merged into
/// lanes must agree on it.
fn built_from(kind: &NodeKind, input: usize) -> bool {
    matches!((kind, input), (NodeKind::Delay, 1))
}

/// `kind_hash` for the kinds the passes compare (the others may carry a whole score).
fn compared_hash(kind: &NodeKind) -> u64 {
    if deterministic(kind) || lane_ready(kind) {
        kind_hash(kind)
    } else {
        0
    }
}

fn is_sum(kind: &NodeKind) -> bool {
    matches!(
        kind,
        NodeKind::Sum | NodeKind::Bin(crate::dsp::math::BinOp::Add)
    )
}

/// A node as `share` compares it: kind hash, lanes, and each input as (representative node,
/// output), or (`u32::MAX`, bits) for a number.
type NodeShape = (u64, u32, Vec<(u32, u32)>);

/// Who reads each node: (reader, input index), and whether an output or track does.
struct Readers {
    of: Vec<Vec<(u32, u32)>>,
    heard: Vec<bool>,
}

impl Work {
    fn new(spec: &GraphSpec) -> Work {
        let from = spec
            .nodes
            .iter()
            .enumerate()
            .map(|(n, node)| {
                node.inputs
                    .iter()
                    .enumerate()
                    .map(|(k, i)| matches!(i, Input::Const(_)).then_some((n as u32, k as u32)))
                    .collect()
            })
            .collect();
        Work {
            kinds: spec.nodes.iter().map(|n| compared_hash(&n.kind)).collect(),
            spec: spec.clone(),
            origin: (0..spec.nodes.len() as u32).collect(),
            lanes: vec![Vec::new(); spec.nodes.len()],
            from,
            report: Report::default(),
        }
    }

    fn push(&mut self, node: NodeSpec, origin: u32) -> u32 {
        self.from.push(vec![None; node.inputs.len()]);
        self.kinds.push(compared_hash(&node.kind));
        self.spec.nodes.push(node);
        self.origin.push(origin);
        self.lanes.push(Vec::new());
        (self.spec.nodes.len() - 1) as u32
    }

    fn readers(&self, order: &[usize]) -> Readers {
        let n = self.spec.nodes.len();
        let mut r = Readers {
            of: vec![Vec::new(); n],
            heard: vec![false; n],
        };
        for &i in order {
            for (k, inp) in self.spec.nodes[i].inputs.iter().enumerate() {
                if let Input::Port(p) = inp {
                    r.of[p.node as usize].push((i as u32, k as u32));
                }
            }
        }
        let outs = self.spec.out.iter();
        for inp in outs.chain(self.spec.tracks.iter().flat_map(|(_, i)| i.iter())) {
            if let Input::Port(p) = inp {
                r.heard[p.node as usize] = true;
            }
        }
        r
    }

    /// Points every input, output and track at each node's representative.
    fn redirect(&mut self, rep: &[u32]) {
        let map = |i: &mut Input| {
            if let Input::Port(p) = i {
                p.node = rep[p.node as usize];
            }
        };
        for node in &mut self.spec.nodes {
            node.inputs.iter_mut().for_each(map);
        }
        self.spec.out.iter_mut().for_each(map);
        for (_, ins) in &mut self.spec.tracks {
            ins.iter_mut().for_each(map);
        }
    }

    /// Identical subgraphs computed once: a node equal in kind, lanes and inputs (after its
    /// inputs were themselves shared) to an earlier one is replaced by it.
    fn share(&mut self) {
        let order = post_order(&self.spec);
        let mut rep: Vec<u32> = (0..self.spec.nodes.len() as u32).collect();
        let mut seen: HashMap<NodeShape, u32> = HashMap::new();
        let mut merged = vec![false; self.spec.nodes.len()];
        for &n in &order {
            let node = &self.spec.nodes[n];
            if !deterministic(&node.kind) || node.id.is_some() {
                continue;
            }
            let ins: Vec<(u32, u32)> = node
                .inputs
                .iter()
                .map(|i| match *i {
                    Input::Const(v) => (u32::MAX, v.to_bits()),
                    Input::Port(p) => (rep[p.node as usize], u32::from(p.out)),
                })
                .collect();
            let key = (self.kinds[n], node.lanes, ins);
            match seen.get(&key) {
                Some(&first) if self.spec.nodes[first as usize].kind == node.kind => {
                    rep[n] = first;
                    merged[first as usize] = true;
                    self.report.shared += 1;
                }
                Some(_) => {}
                None => {
                    seen.insert(key, n as u32);
                }
            }
        }
        // A number that now stands for several copies cannot glide one copy alone.
        for (n, m) in merged.iter().enumerate() {
            if *m {
                self.from[n].iter_mut().for_each(|f| *f = None);
            }
        }
        self.redirect(&rep);
    }

    /// Chains of `+` and mixes of mixes become one sum, in the order they were written:
    /// exactly the same arithmetic, one node.
    fn sums(&mut self) {
        let order = post_order(&self.spec);
        let readers = self.readers(&order);
        let uses = |n: usize| readers.of[n].len() + usize::from(readers.heard[n]);
        // Producers come first in `order`, so an inner sum is already flat when its reader
        // takes its terms.
        for &n in &order {
            if !is_sum(&self.spec.nodes[n].kind) {
                continue;
            }
            let lanes = self.spec.nodes[n].lanes;
            let mut terms = Vec::new();
            let mut from = Vec::new();
            let mut spliced = 0;
            for (k, inp) in self.spec.nodes[n].inputs.iter().enumerate() {
                if let Input::Port(p) = inp {
                    let m = p.node as usize;
                    let inner = &self.spec.nodes[m];
                    // Only a first term is spliced: ((a + b) + c) sums in the order a
                    // sum does, while a + (b + c) would round differently.
                    if p.out == 0
                        && k == 0
                        && m != n
                        && is_sum(&inner.kind)
                        && uses(m) == 1
                        && (inner.lanes == lanes || inner.lanes == 1)
                        && inner.id.is_none()
                    {
                        terms.extend(inner.inputs.iter().copied());
                        from.extend(self.from[m].iter().copied());
                        spliced += 1;
                        continue;
                    }
                }
                terms.push(*inp);
                from.push(self.from[n][k]);
            }
            if spliced > 0 {
                self.report.sums += spliced;
                self.kinds[n] = kind_hash(&NodeKind::Sum);
                let node = &mut self.spec.nodes[n];
                node.kind = NodeKind::Sum;
                node.inputs = terms;
                self.from[n] = from;
            }
        }
    }

    /// One sweep of lane merging over every sum, outermost first. Returns whether anything
    /// was merged (a merge changes what later sums see, so the caller sweeps again).
    fn lanes(&mut self) -> bool {
        let order = post_order(&self.spec);
        let readers = self.readers(&order);
        let shape = self.shapes(&order);
        let mut touched = vec![false; self.spec.nodes.len()];
        let mut any = false;
        for &s in order.iter().rev() {
            if self.spec.nodes[s].kind != NodeKind::Sum || touched[s] {
                continue;
            }
            // Terms of one shape, in the order written.
            let mut groups: Vec<(u64, Vec<PortRef>)> = Vec::new();
            for inp in &self.spec.nodes[s].inputs {
                let Input::Port(p) = *inp else { continue };
                let node = &self.spec.nodes[p.node as usize];
                if node.lanes != 1 || !lane_ready(&node.kind) {
                    continue;
                }
                let h = shape[p.node as usize];
                match groups.iter_mut().find(|(k, _)| *k == h) {
                    Some((_, v)) => v.push(p),
                    None => groups.push((h, vec![p])),
                }
            }
            for (_, roots) in groups {
                for part in roots.chunks(MAX_LANES) {
                    if part.len() < 2 || part.iter().any(|p| touched[p.node as usize]) {
                        continue;
                    }
                    let nodes: Vec<u32> = part.iter().map(|p| p.node).collect();
                    let Some(plan) = self.walk(&nodes, &readers, &touched) else {
                        continue;
                    };
                    self.merge(&plan, &nodes, &readers, &mut touched);
                    any = true;
                }
            }
        }
        any
    }

    /// A hash of each node's shape: kind, lanes and the shapes of its inputs, with numbers
    /// left out. Parallel copies that differ only in numbers hash alike.
    fn shapes(&self, order: &[usize]) -> Vec<u64> {
        let mut shape = vec![0u64; self.spec.nodes.len()];
        for &n in order {
            let node = &self.spec.nodes[n];
            shape[n] = if lane_ready(&node.kind) && node.id.is_none() {
                let mut words = vec![self.kinds[n], u64::from(node.lanes)];
                for (k, i) in node.inputs.iter().enumerate() {
                    match *i {
                        Input::Const(v) if built_from(&node.kind, k) => {
                            words.push(u64::from(v.to_bits()))
                        }
                        Input::Const(_) => words.push(0xC0),
                        Input::Port(p) => {
                            words.push(shape[p.node as usize]);
                            words.push(u64::from(p.out));
                        }
                    }
                }
                super::fnv1a(words)
            } else {
                // Anything else is itself: copies can share it, never split it into lanes.
                super::fnv1a([0x5EED, n as u64])
            };
        }
        shape
    }

    /// Walks the copies rooted at `roots` side by side. Returns the tuples of nodes that
    /// become one node each (lane i from copy i), or `None` when the copies differ in more
    /// than numbers, or when something outside reads the middle of a copy.
    fn walk(&self, roots: &[u32], readers: &Readers, touched: &[bool]) -> Option<Vec<Vec<u32>>> {
        let k = roots.len();
        let mut distinct = roots.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        if k < 2 || distinct.len() != k {
            // The same node summed twice is one node, not copies.
            return None;
        }
        let root_set: HashSet<u32> = distinct.iter().copied().collect();
        let mut tuples: Vec<Vec<u32>> = Vec::new();
        let mut lane_of: HashMap<u32, (usize, usize)> = HashMap::new();
        let mut shared: Vec<u32> = Vec::new();
        let mut stack = vec![roots.to_vec()];
        while let Some(t) = stack.pop() {
            if t.iter().all(|&x| x == t[0]) {
                shared.push(t[0]);
                continue;
            }
            if let Some(&(g, _)) = lane_of.get(&t[0]) {
                if t.iter()
                    .enumerate()
                    .all(|(i, x)| lane_of.get(x) == Some(&(g, i)))
                {
                    continue;
                }
                return None;
            }
            let mut distinct = t.clone();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() != t.len() {
                return None;
            }
            let first = &self.spec.nodes[t[0] as usize];
            for &x in &t {
                let node = &self.spec.nodes[x as usize];
                if lane_of.contains_key(&x)
                    || touched[x as usize]
                    || readers.heard[x as usize]
                    || node.kind != first.kind
                    || node.lanes != 1
                    || node.id.is_some()
                    || node.inputs.len() != first.inputs.len()
                    || !lane_ready(&node.kind)
                {
                    return None;
                }
            }
            let g = tuples.len();
            for (i, &x) in t.iter().enumerate() {
                lane_of.insert(x, (g, i));
            }
            for j in 0..first.inputs.len() {
                let col: Vec<Input> = t
                    .iter()
                    .map(|&x| self.spec.nodes[x as usize].inputs[j])
                    .collect();
                match col[0] {
                    Input::Const(v) => {
                        let all_const = col.iter().all(|i| matches!(i, Input::Const(_)));
                        let same = col.iter().all(|i| *i == Input::Const(v));
                        if !all_const || (built_from(&first.kind, j) && !same) {
                            return None;
                        }
                    }
                    Input::Port(p) => {
                        let mut src = Vec::with_capacity(k);
                        for i in &col {
                            match i {
                                Input::Port(q) if q.out == p.out => src.push(q.node),
                                _ => return None,
                            }
                        }
                        stack.push(src);
                    }
                }
            }
            tuples.push(t);
        }
        if shared.iter().any(|s| lane_of.contains_key(s)) {
            return None;
        }
        // Inside a copy only its own nodes read it; the roots are read by sums only, each
        // of which takes every copy's root on the same output exactly once.
        for (&x, _) in lane_of.iter() {
            let is_root = root_set.contains(&x);
            for &(r, _) in &readers.of[x as usize] {
                if lane_of.contains_key(&r) {
                    continue;
                }
                if !is_root || self.spec.nodes[r as usize].kind != NodeKind::Sum {
                    return None;
                }
            }
        }
        let mut sums: Vec<u32> = roots
            .iter()
            .flat_map(|&x| readers.of[x as usize].iter().map(|&(r, _)| r))
            .filter(|r| !lane_of.contains_key(r))
            .collect();
        sums.sort_unstable();
        sums.dedup();
        let mut want = roots.to_vec();
        want.sort_unstable();
        for r in sums {
            let ins = &self.spec.nodes[r as usize].inputs;
            let mut per_out: HashMap<u8, Vec<u32>> = HashMap::new();
            for i in ins {
                if let Input::Port(p) = i
                    && root_set.contains(&p.node)
                {
                    per_out.entry(p.out).or_default().push(p.node);
                }
            }
            for v in per_out.values_mut() {
                v.sort_unstable();
                if *v != want {
                    return None;
                }
            }
        }
        Some(tuples)
    }

    /// Builds one node per tuple, `k` lanes wide, and has every sum that read the copies
    /// read their lanes mixed down instead.
    fn merge(
        &mut self,
        tuples: &[Vec<u32>],
        roots: &[u32],
        readers: &Readers,
        touched: &mut Vec<bool>,
    ) {
        let k = roots.len();
        let base = self.spec.nodes.len() as u32;
        let index: HashMap<u32, u32> = tuples
            .iter()
            .enumerate()
            .map(|(g, t)| (t[0], base + g as u32))
            .collect();
        let mut lane_consts = Vec::new();
        let mut made = Vec::with_capacity(tuples.len());
        for t in tuples {
            let first = &self.spec.nodes[t[0] as usize];
            let mut inputs = Vec::with_capacity(first.inputs.len());
            for j in 0..first.inputs.len() {
                let col: Vec<Input> = t
                    .iter()
                    .map(|&x| self.spec.nodes[x as usize].inputs[j])
                    .collect();
                inputs.push(match col[0] {
                    Input::Const(v) if col.iter().all(|i| *i == Input::Const(v)) => col[0],
                    Input::Const(_) => {
                        let values: Arc<[f32]> = col
                            .iter()
                            .map(|i| match i {
                                Input::Const(v) => *v,
                                Input::Port(_) => 0.0,
                            })
                            .collect();
                        lane_consts.push((made.len(), j, values));
                        Input::Const(0.0)
                    }
                    Input::Port(p) if col.iter().all(|i| *i == col[0]) => Input::Port(p),
                    Input::Port(p) => Input::Port(PortRef {
                        node: index[&p.node],
                        out: p.out,
                    }),
                });
            }
            made.push(NodeSpec {
                kind: first.kind.clone(),
                inputs,
                lanes: k as u32,
                id: None,
                key: first.key.clone(),
                pos: first.pos.clone(),
            });
        }
        for (t, node) in tuples.iter().zip(made) {
            let n = self.push(node, self.origin[t[0] as usize]);
            self.lanes[n as usize] = t.iter().map(|&x| self.origin[x as usize]).collect();
        }
        for (g, j, values) in lane_consts {
            let node = NodeSpec {
                kind: NodeKind::LaneConst(values),
                inputs: Vec::new(),
                lanes: k as u32,
                id: None,
                key: format!("{}.lanes{j}", self.spec.nodes[base as usize + g].key),
                pos: self.spec.nodes[base as usize + g].pos.clone(),
            };
            let c = self.push(node, u32::MAX);
            self.spec.nodes[base as usize + g].inputs[j] = Input::Port(PortRef { node: c, out: 0 });
        }
        let root = index[&roots[0]];
        let root_set: HashSet<u32> = roots.iter().copied().collect();
        let members: HashSet<u32> = tuples.iter().flatten().copied().collect();
        // The sums reading the copies, each once.
        let mut sums: Vec<u32> = roots
            .iter()
            .flat_map(|&x| readers.of[x as usize].iter().map(|&(r, _)| r))
            .filter(|r| !members.contains(r))
            .collect();
        sums.sort_unstable();
        sums.dedup();
        let mut mixdown: HashMap<u8, u32> = HashMap::new();
        for s in sums {
            let node = &self.spec.nodes[s as usize];
            let covers_all = node
                .inputs
                .iter()
                .all(|i| matches!(i, Input::Port(p) if root_set.contains(&p.node)));
            let outs: Vec<u8> = node
                .inputs
                .iter()
                .filter_map(|i| match i {
                    Input::Port(p) if root_set.contains(&p.node) => Some(p.out),
                    _ => None,
                })
                .collect();
            if covers_all && outs.iter().all(|&o| o == outs[0]) {
                // The sum was only these copies: it becomes their mixdown.
                self.kinds[s as usize] = kind_hash(&NodeKind::LaneSum);
                let node = &mut self.spec.nodes[s as usize];
                node.kind = NodeKind::LaneSum;
                node.inputs = vec![Input::Port(PortRef {
                    node: root,
                    out: outs[0],
                })];
                node.lanes = 1;
                self.from[s as usize] = vec![None];
                touched[s as usize] = true;
                continue;
            }
            let mut inputs = Vec::new();
            let mut from = Vec::new();
            let old = self.spec.nodes[s as usize].inputs.clone();
            for (i, inp) in old.iter().enumerate() {
                match inp {
                    Input::Port(p) if root_set.contains(&p.node) => {
                        if p.node != roots[0] {
                            continue;
                        }
                        let m = match mixdown.get(&p.out) {
                            Some(&m) => m,
                            None => {
                                let node = NodeSpec {
                                    kind: NodeKind::LaneSum,
                                    inputs: vec![Input::Port(PortRef {
                                        node: root,
                                        out: p.out,
                                    })],
                                    lanes: 1,
                                    id: None,
                                    key: format!(
                                        "{}.mix{}",
                                        self.spec.nodes[root as usize].key, p.out
                                    ),
                                    pos: self.spec.nodes[root as usize].pos.clone(),
                                };
                                let m = self.push(node, u32::MAX);
                                mixdown.insert(p.out, m);
                                m
                            }
                        };
                        inputs.push(Input::Port(PortRef { node: m, out: 0 }));
                        from.push(None);
                    }
                    _ => {
                        inputs.push(*inp);
                        from.push(self.from[s as usize][i]);
                    }
                }
            }
            self.spec.nodes[s as usize].inputs = inputs;
            self.from[s as usize] = from;
            touched[s as usize] = true;
        }
        touched.resize(self.spec.nodes.len(), true);
        for t in tuples {
            for &x in t {
                touched[x as usize] = true;
            }
        }
        let first = &self.spec.nodes[roots[0] as usize];
        self.report.lanes.push(LaneGroup {
            copies: k,
            nodes: tuples.len(),
            at: format!("{}:{}", first.pos.line, first.pos.col),
        });
    }
}
