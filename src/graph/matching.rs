//! Hot reload's node matching: which node of the graph being replaced each node of a new
//! graph takes its running state from, found by content as a tree diff does rather than by
//! position; runs on the control thread, before the swap is sent.
//!
//! Phases, each only between nodes still unmatched, so the result is one-to-one:
//! 1. explicit `.id`s;
//! 2. identical subtrees (equal Merkle hashes), tallest first, with their insides;
//! 3. bottom-up: a node whose inputs are the partners of an old node's inputs, of the same
//!    kind (numbers may differ), is that node wherever it now sits;
//! 4. top-down: the inputs of matched nodes (and the outputs, tracks and monitors) pair up
//!    with the old inputs of the same kind, which keeps both neighbours of an inserted or
//!    removed node;
//! 5. the same two again, now taking the first of several candidates;
//! 6. a kind that is left once on each side.
//!
//! Every phase is a pass over the nodes with hash lookups: near-linear in the graph's size.

use super::keys::{Content, content};
use super::{Carried, GraphSpec, Input, NodeKind, OpOrigin};
use std::collections::{HashMap, VecDeque};

const NONE: u32 = u32::MAX;

struct Side<'a> {
    spec: &'a GraphSpec,
    c: Content,
    /// Position of each node in `c.order` (`NONE` when unreachable).
    pos: Vec<u32>,
    partner: Vec<u32>,
}

impl<'a> Side<'a> {
    fn new(spec: &'a GraphSpec) -> Self {
        let c = content(spec);
        let mut pos = vec![NONE; spec.nodes.len()];
        for (k, &i) in c.order.iter().enumerate() {
            pos[i as usize] = k as u32;
        }
        Side {
            spec,
            c,
            pos,
            partner: vec![NONE; spec.nodes.len()],
        }
    }

    fn free(&self, i: usize) -> bool {
        self.pos[i] != NONE && self.partner[i] == NONE
    }

    /// The inputs the matcher follows: a feedback node's source too (read a block late,
    /// but still what the node is made from).
    fn ports(&self, i: usize) -> impl Iterator<Item = (usize, usize, u8)> + '_ {
        self.spec.nodes[i]
            .inputs
            .iter()
            .enumerate()
            .filter_map(|(k, inp)| match inp {
                Input::Port(p) => Some((k, p.node as usize, p.out)),
                Input::Const(_) => None,
            })
    }
}

struct Matcher<'a> {
    old: Side<'a>,
    new: Side<'a>,
}

impl Matcher<'_> {
    fn pair(&mut self, n: usize, o: usize) {
        self.new.partner[n] = o as u32;
        self.old.partner[o] = n as u32;
    }

    /// Only nodes of one kind can hand state over (an `lpf` is not an `hpf`); numbers,
    /// lanes and payloads (a pattern's notes) may differ.
    fn same_kind(&self, n: usize, o: usize) -> bool {
        self.new.spec.nodes[n].kind.name() == self.old.spec.nodes[o].kind.name()
    }

    fn ids(&mut self) {
        let old: HashMap<&str, usize> = self
            .old
            .c
            .order
            .iter()
            .filter_map(|&i| {
                self.old.spec.nodes[i as usize]
                    .id
                    .as_deref()
                    .map(|d| (d, i as usize))
            })
            .collect();
        for k in 0..self.new.c.order.len() {
            let n = self.new.c.order[k] as usize;
            if let Some(id) = self.new.spec.nodes[n].id.as_deref()
                && let Some(&o) = old.get(id)
                && self.old.free(o)
                && self.same_kind(n, o)
            {
                self.pair(n, o);
            }
        }
    }

    fn exact(&mut self) {
        let mut buckets: HashMap<u64, VecDeque<usize>> = HashMap::new();
        for &i in &self.old.c.order {
            if self.old.free(i as usize) {
                buckets
                    .entry(self.old.c.exact[i as usize])
                    .or_default()
                    .push_back(i as usize);
            }
        }
        let mut todo: Vec<usize> = self.new.c.order.iter().map(|&i| i as usize).collect();
        todo.sort_by_key(|&i| (std::cmp::Reverse(self.new.c.height[i]), self.new.pos[i]));
        let mut stack = Vec::new();
        for n in todo {
            if !self.new.free(n) {
                continue;
            }
            let Some(bucket) = buckets.get_mut(&self.new.c.exact[n]) else {
                continue;
            };
            while bucket.front().is_some_and(|&o| !self.old.free(o)) {
                bucket.pop_front();
            }
            let Some(o) = bucket.pop_front() else {
                continue;
            };
            if !self.same_kind(n, o) {
                continue;
            }
            self.pair(n, o);
            // Inside two identical subtrees, the nodes pair up by position, so duplicates
            // (two plain `noise()`) keep their own partners.
            stack.push((n, o));
            while let Some((a, b)) = stack.pop() {
                let ins: Vec<_> = self.new.ports(a).collect();
                for (k, x, xo) in ins {
                    if let Some(Input::Port(q)) = self.old.spec.nodes[b].inputs.get(k)
                        && q.out == xo
                        && self.new.free(x)
                        && self.old.free(q.node as usize)
                        && self.new.c.exact[x] == self.old.c.exact[q.node as usize]
                    {
                        self.pair(x, q.node as usize);
                        stack.push((x, q.node as usize));
                    }
                }
            }
        }
    }

    /// A node's kind with its inputs as partners' indices (old side: its own inputs), or
    /// None when an input has no partner yet.
    fn signature(side: &Side, i: usize, map: impl Fn(usize) -> u32) -> Option<u64> {
        let node = &side.spec.nodes[i];
        let mut ins = Vec::with_capacity(node.inputs.len());
        for inp in &node.inputs {
            ins.push(match inp {
                Input::Const(_) => [0, 0],
                Input::Port(p) => {
                    let m = map(p.node as usize);
                    if m == NONE {
                        return None;
                    }
                    [u64::from(m) + 1, u64::from(p.out)]
                }
            });
        }
        if node.kind == NodeKind::Sum {
            ins.sort_unstable();
        }
        let name = node.kind.name().bytes().map(u64::from);
        Some(super::fnv1a(name.chain(ins.into_iter().flatten())))
    }

    fn bottom_up(&mut self, loose: bool) {
        // Candidates by signature, and by signature with equal numbers (preferred); each
        // list in walk order, consumed from the front, so a pass stays linear.
        let mut by_sig: HashMap<u64, (VecDeque<usize>, usize)> = HashMap::new();
        let mut by_own: HashMap<(u64, u64), VecDeque<usize>> = HashMap::new();
        let mut sig_of = vec![0u64; self.old.spec.nodes.len()];
        for &i in &self.old.c.order {
            let i = i as usize;
            if self.old.free(i)
                && let Some(s) = Self::signature(&self.old, i, |x| x as u32)
            {
                sig_of[i] = s;
                let e = by_sig.entry(s).or_default();
                e.0.push_back(i);
                e.1 += 1;
                by_own
                    .entry((s, self.old.c.own[i]))
                    .or_default()
                    .push_back(i);
            }
        }
        for k in 0..self.new.c.order.len() {
            let n = self.new.c.order[k] as usize;
            if !self.new.free(n) {
                continue;
            }
            let Some(s) = Self::signature(&self.new, n, |x| self.new.partner[x]) else {
                continue;
            };
            let old = &self.old;
            let first_free = |q: &mut VecDeque<usize>| {
                while q.front().is_some_and(|&o| !old.free(o)) {
                    q.pop_front();
                }
                q.front().copied()
            };
            let mut pick = by_own
                .get_mut(&(s, self.new.c.own[n]))
                .and_then(&first_free);
            if pick.is_none()
                && let Some((q, free)) = by_sig.get_mut(&s)
                && (loose || *free == 1)
            {
                pick = first_free(q);
            }
            if let Some(o) = pick
                && self.same_kind(n, o)
            {
                self.pair(n, o);
                if let Some(e) = by_sig.get_mut(&sig_of[o]) {
                    e.1 -= 1;
                }
            }
        }
    }

    fn top_down(&mut self) {
        let mut stack: Vec<(usize, usize)> = Vec::new();
        // The places things are heard from pair up by name and side.
        let (ns, os) = (self.new.spec, self.old.spec);
        let mut roots: Vec<(Input, Input)> = ns.out.iter().copied().zip(os.out).collect();
        for (name, ins) in &ns.tracks {
            if let Some((_, old)) = os.tracks.iter().find(|(m, _)| m == name) {
                roots.extend(ins.iter().copied().zip(old.iter().copied()));
            }
        }
        for (a, b) in roots {
            if let (Input::Port(p), Input::Port(q)) = (a, b) {
                self.try_pair(p.node as usize, q.node as usize, &mut stack);
            }
        }
        let monitors = |s: &GraphSpec| -> HashMap<String, usize> {
            s.nodes
                .iter()
                .enumerate()
                .filter_map(|(i, n)| match &n.kind {
                    NodeKind::Monitor(m) => Some((m.name.to_string(), i)),
                    _ => None,
                })
                .collect()
        };
        let old_monitors = monitors(os);
        for (i, n) in ns.nodes.iter().enumerate() {
            if let NodeKind::Monitor(m) = &n.kind
                && let Some(&o) = old_monitors.get(m.name.as_ref())
            {
                self.try_pair(i, o, &mut stack);
            }
        }
        // Every matched node is a place to go down from, consumers first.
        for k in (0..self.new.c.order.len()).rev() {
            let n = self.new.c.order[k] as usize;
            if self.new.partner[n] != NONE {
                stack.push((n, self.new.partner[n] as usize));
            }
        }
        stack.reverse();
        while let Some((n, o)) = stack.pop() {
            let ins: Vec<(usize, usize, u8)> = self.new.ports(n).collect();
            let old_inputs = &self.old.spec.nodes[o].inputs;
            // Same place first, then any old input of the same kind, in order (a mix's
            // members may have moved).
            for &(k, x, _) in &ins {
                if let Some(Input::Port(q)) = old_inputs.get(k) {
                    self.try_pair(x, q.node as usize, &mut stack);
                }
            }
            if ins.iter().all(|&(_, x, _)| !self.new.free(x)) {
                continue;
            }
            let mut by_kind: HashMap<&'static str, VecDeque<usize>> = HashMap::new();
            for (_, y, _) in self.old.ports(o) {
                if self.old.free(y) {
                    let name = self.old.spec.nodes[y].kind.name();
                    by_kind.entry(name).or_default().push_back(y);
                }
            }
            for &(_, x, _) in &ins {
                if !self.new.free(x) {
                    continue;
                }
                let Some(q) = by_kind.get_mut(self.new.spec.nodes[x].kind.name()) else {
                    continue;
                };
                while let Some(y) = q.pop_front() {
                    if self.old.free(y) {
                        self.try_pair(x, y, &mut stack);
                        break;
                    }
                }
            }
        }
    }

    fn try_pair(&mut self, n: usize, o: usize, stack: &mut Vec<(usize, usize)>) {
        if self.new.free(n) && self.old.free(o) && self.same_kind(n, o) {
            self.pair(n, o);
            stack.push((n, o));
        }
    }

    fn leftovers(&mut self) {
        let count = |side: &Side| {
            let mut m: HashMap<&'static str, (u32, usize)> = HashMap::new();
            for &i in &side.c.order {
                let i = i as usize;
                if side.free(i) {
                    let e = m.entry(side.spec.nodes[i].kind.name()).or_insert((0, i));
                    e.0 += 1;
                }
            }
            m
        };
        let (new, old) = (count(&self.new), count(&self.old));
        let mut pairs: Vec<(usize, usize)> = new
            .iter()
            .filter_map(|(name, &(c, n))| match old.get(name) {
                Some(&(1, o)) if c == 1 => Some((n, o)),
                _ => None,
            })
            .collect();
        pairs.sort_unstable();
        for (n, o) in pairs {
            if self.same_kind(n, o) {
                self.pair(n, o);
            }
        }
    }
}

/// For each node of `new`, the node of `old` it takes its running state from, if any.
/// Deterministic, one-to-one, and only between nodes reachable from the outputs.
pub fn match_nodes(old: &GraphSpec, new: &GraphSpec) -> Vec<Option<u32>> {
    let mut m = Matcher {
        old: Side::new(old),
        new: Side::new(new),
    };
    m.ids();
    m.exact();
    m.bottom_up(false);
    m.top_down();
    m.bottom_up(true);
    m.top_down();
    m.leftovers();
    m.new
        .partner
        .iter()
        .map(|&o| (o != NONE).then_some(o))
        .collect()
}

/// The carry plan of a swap: which op of the new graph takes state from which op of the
/// old one, from the script nodes each op runs (`GraphMeta::nodes`) and `match_nodes`.
/// Where the compiler merged copies into lanes, each lane carries from wherever its own
/// node ran before (a lane of another merged op, or an op of its own), in runs of lanes.
pub fn carry_plan(
    old: &GraphSpec,
    old_nodes: &[OpOrigin],
    new: &GraphSpec,
    new_nodes: &[OpOrigin],
) -> Vec<Carried> {
    let matched = match_nodes(old, new);
    // Script node of the old graph → (op, lane when the op runs merged copies).
    let mut old_at: HashMap<u32, (u32, Option<u32>)> = HashMap::new();
    for (op, o) in old_nodes.iter().enumerate() {
        if o.lanes.is_empty() {
            old_at.insert(o.node, (op as u32, None));
        }
        for (lane, &n) in o.lanes.iter().enumerate() {
            old_at.insert(n, (op as u32, Some(lane as u32)));
        }
    }
    let was = |n: u32| -> Option<(u32, Option<u32>)> {
        let o = (*matched.get(n as usize)?)?;
        old_at.get(&o).copied()
    };
    let mut plan = Vec::new();
    for (op, o) in new_nodes.iter().enumerate() {
        let op = op as u32;
        if o.lanes.is_empty() {
            match was(o.node) {
                Some((i, None)) => plan.push(Carried {
                    new: op,
                    old: i,
                    lanes: None,
                }),
                Some((i, Some(lane))) => plan.push(Carried {
                    new: op,
                    old: i,
                    lanes: Some((0, lane, 1)),
                }),
                None => {}
            }
            continue;
        }
        // Runs of lanes that come from consecutive lanes of one old op.
        let mut run: Option<Carried> = None;
        for (lane, &n) in o.lanes.iter().enumerate() {
            let lane = lane as u32;
            let from = was(n).map(|(i, l)| (i, l.unwrap_or(0), l.is_some()));
            let extends = match (&run, from) {
                (
                    Some(Carried {
                        old,
                        lanes: Some((to, at, len)),
                        ..
                    }),
                    Some((i, l, true)),
                ) => *old == i && to + len == lane && at + len == l,
                _ => false,
            };
            if extends {
                if let Some(Carried {
                    lanes: Some((_, _, len)),
                    ..
                }) = run.as_mut()
                {
                    *len += 1;
                }
                continue;
            }
            plan.extend(run.take());
            run = from.map(|(i, l, _)| Carried {
                new: op,
                old: i,
                lanes: Some((lane, l, 1)),
            });
        }
        plan.extend(run);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn spec(src: &str) -> GraphSpec {
        crate::script::compile_source(src, "t.rhai", Path::new("."), 48_000.0)
            .unwrap_or_else(|d| panic!("{}", d.render(Some(src))))
            .spec
    }

    /// The reachable nodes of kind `name`, in script order.
    fn all(s: &GraphSpec, name: &str) -> Vec<usize> {
        (0..s.nodes.len())
            .filter(|&i| s.nodes[i].kind.name() == name && !s.nodes[i].key.is_empty())
            .collect()
    }

    fn one(s: &GraphSpec, name: &str) -> usize {
        let v = all(s, name);
        assert_eq!(v.len(), 1, "{name}: {v:?}");
        v[0]
    }

    /// Asserts that the `k`-th `name` of `new` takes its state from the `j`-th of `old`.
    #[track_caller]
    fn kept(m: &[Option<u32>], old: &GraphSpec, new: &GraphSpec, name: &str, k: usize, j: usize) {
        let (n, o) = (all(new, name)[k], all(old, name)[j]);
        assert_eq!(
            m[n],
            Some(o as u32),
            "{name} #{k} of the new graph should keep the state of {name} #{j}; matches {m:?}"
        );
    }

    fn check_one_to_one(m: &[Option<u32>], old: &GraphSpec, new: &GraphSpec) {
        let mut seen = vec![false; old.nodes.len()];
        for (n, o) in m.iter().enumerate() {
            if let Some(o) = o {
                assert!(!seen[*o as usize], "old node {o} matched twice: {m:?}");
                seen[*o as usize] = true;
                assert_eq!(new.nodes[n].kind.name(), old.nodes[*o as usize].kind.name());
            }
        }
    }

    fn diff(a: &str, b: &str) -> (GraphSpec, GraphSpec, Vec<Option<u32>>) {
        let (old, new) = (spec(a), spec(b));
        let m = match_nodes(&old, &new);
        check_one_to_one(&m, &old, &new);
        (old, new, m)
    }

    #[test]
    fn an_inserted_node_keeps_both_neighbours() {
        for wrap in [".lpf(5000)", ".drive(1.5)", ".gain(1)"] {
            let (old, new, m) = diff("sine(220) * 0.5", &format!("sine(220){wrap} * 0.5"));
            kept(&m, &old, &new, "sine", 0, 0);
            kept(&m, &old, &new, "mul", 0, 0);
            // The new node has nothing to take over, except a gain (a mul) which may not
            // take the outer mul's place.
            let added = new.nodes.len() - old.nodes.len();
            assert_eq!(m.iter().filter(|x| x.is_none()).count(), added, "{wrap}");
        }
    }

    #[test]
    fn a_removed_node_keeps_both_neighbours() {
        let (old, new, m) = diff(
            "saw(110).lpf(900).drive(2) * 0.5",
            "saw(110).drive(2) * 0.5",
        );
        kept(&m, &old, &new, "saw", 0, 0);
        kept(&m, &old, &new, "drive", 0, 0);
        kept(&m, &old, &new, "mul", 0, 0);
    }

    #[test]
    fn a_node_appended_after_an_effect_keeps_the_effect() {
        for fx in [".reverb(0.5, 3)", ".delay(0.3, 0.5)"] {
            let hit = format!("(saw(110) * perc(metro(1), 0.001, 0.1)){fx}");
            let (old, new, m) = diff(&hit, &format!("{hit}.gain(1)"));
            let name = if fx.starts_with(".reverb") {
                "reverb"
            } else {
                "delay"
            };
            kept(&m, &old, &new, name, 0, 0);
            kept(&m, &old, &new, "perc", 0, 0);
            kept(&m, &old, &new, "metro", 0, 0);
        }
    }

    #[test]
    fn reordered_and_inserted_mix_members_keep_their_state() {
        let a = "mix([sine(220) * 0.3, saw(110).lpf(800) * 0.2, tri(55) * 0.1])";
        let b = "mix([tri(55) * 0.1, sine(220) * 0.3, saw(110).lpf(800) * 0.2])";
        let (old, new, m) = diff(a, b);
        for name in ["sine", "saw", "lpf", "tri", "mix"] {
            kept(&m, &old, &new, name, 0, 0);
        }
        // A member inserted at the front, with numbers of the others edited too.
        let c = "mix([square(80) * 0.1, sine(221) * 0.3, saw(111).lpf(800) * 0.2, tri(55) * 0.1])";
        let (old, new, m) = diff(a, c);
        for name in ["sine", "saw", "lpf", "tri", "mix"] {
            kept(&m, &old, &new, name, 0, 0);
        }
        assert_eq!(m[one(&new, "square")], None);
    }

    #[test]
    fn edited_numbers_of_lookalike_branches_pair_by_place() {
        let a = "mix([sine(220).lpf(800) * 0.2, sine(330).lpf(800) * 0.2])";
        let b = "mix([sine(221).lpf(800) * 0.2, sine(331).lpf(800) * 0.2, noise() * 0.1])";
        let (old, new, m) = diff(a, b);
        kept(&m, &old, &new, "sine", 0, 0);
        kept(&m, &old, &new, "sine", 1, 1);
        kept(&m, &old, &new, "lpf", 0, 0);
        kept(&m, &old, &new, "lpf", 1, 1);
    }

    #[test]
    fn a_node_that_gains_or_loses_an_id_keeps_its_state() {
        let (old, new, m) = diff(
            "saw(110).lpf(900) * 0.5",
            "saw(110).lpf(900).id(\"f\") * 0.5",
        );
        kept(&m, &old, &new, "lpf", 0, 0);
        kept(&m, &old, &new, "saw", 0, 0);
        let (old, new, m) = diff(
            "saw(110).lpf(900).id(\"f\") * 0.5",
            "saw(110).lpf(1200) * 0.5",
        );
        kept(&m, &old, &new, "lpf", 0, 0);
        // An id wins over content: the node named "f" keeps f's state wherever it goes.
        let (old, new, m) = diff(
            "mix([sine(220).id(\"a\"), sine(220)]) * 0.5",
            "mix([sine(220), sine(220).id(\"a\")]) * 0.5",
        );
        let named = |s: &GraphSpec| {
            (0..s.nodes.len())
                .find(|&i| s.nodes[i].id.as_deref() == Some("a"))
                .unwrap()
        };
        assert_eq!(m[named(&new)], Some(named(&old) as u32));
    }

    #[test]
    fn duplicates_keep_their_own_partners_and_keys() {
        let a = "noise() * 0.1 + noise() * 0.2";
        let b = "noise() * 0.1 + noise().lpf(3000) * 0.2";
        let (old, new, m) = diff(a, b);
        let keys: Vec<&str> = all(&old, "noise")
            .iter()
            .map(|&i| old.nodes[i].key.as_str())
            .collect();
        assert_eq!(keys.len(), 2);
        assert_ne!(keys[0], keys[1], "two noise() need two seeds");
        // Each noise keeps its own state: the one under 0.1 and the one under 0.2.
        let under = |s: &GraphSpec, i: usize| {
            s.nodes
                .iter()
                .find(|n| {
                    n.kind.name() == "mul"
                        && n.inputs
                            .iter()
                            .any(|x| matches!(x, Input::Port(p) if p.node as usize == i))
                })
                .and_then(|n| {
                    n.inputs.iter().find_map(|x| match x {
                        Input::Const(v) => Some(*v),
                        _ => None,
                    })
                })
        };
        let filtered = |s: &GraphSpec| {
            let f = one(s, "lpf");
            match s.nodes[f].inputs[0] {
                Input::Port(p) => p.node as usize,
                _ => unreachable!(),
            }
        };
        let plain = all(&new, "noise")
            .into_iter()
            .find(|&i| under(&new, i) == Some(0.1))
            .unwrap();
        let o = m[plain].unwrap() as usize;
        assert_eq!(under(&old, o), Some(0.1));
        let o = m[filtered(&new)].unwrap() as usize;
        assert_eq!(under(&old, o), Some(0.2));
    }

    #[test]
    fn matching_and_keys_are_deterministic_and_keys_unique() {
        let a = "let n = noise(); mix([n.lpf(400), n.hpf(4000), noise() * 0.1, noise() * 0.1, sine(3) * sine(3)])";
        let b = "let n = noise(); mix([noise() * 0.1, n.lpf(450), n.hpf(4000).gain(2), sine(3) * sine(3), noise() * 0.1])";
        let (old, new, m) = diff(a, b);
        for _ in 0..3 {
            let (old2, new2, m2) = diff(a, b);
            assert_eq!(m, m2);
            assert_eq!(old, old2, "keys differ between two compiles");
            assert_eq!(new, new2, "keys differ between two compiles");
        }
        for s in [&old, &new] {
            let mut keys: Vec<&str> = s
                .nodes
                .iter()
                .map(|n| n.key.as_str())
                .filter(|k| !k.is_empty())
                .collect();
            let n = keys.len();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(keys.len(), n, "duplicate keys");
        }
        kept(&m, &old, &new, "hpf", 0, 0);
        kept(&m, &old, &new, "lpf", 0, 0);
    }

    #[test]
    fn an_instrument_keeps_its_voices_through_a_voice_count_and_a_wrap() {
        let play = "play(|v| sine(v.freq) * adsr(v.gate, 0.01, 0.1, 0.8, 0.2) * 0.3)";
        let a = format!("midi_notes().voices(8).{play}");
        for b in [
            format!("midi_notes().voices(3).{play}"),
            format!("midi_notes().voices(8).{play} * 0.5"),
            format!("midi_notes().voices(12).{play}.lpf(3000)"),
        ] {
            let (old, new, m) = diff(&a, &b);
            for name in ["midi_notes", "sine", "adsr", "poly"] {
                kept(&m, &old, &new, name, 0, 0);
            }
        }
        let pat = "pattern(\"c3 e3 g3\").voices(4).play(|v| saw(v.freq).lpf(900) * v.gate)";
        let (old, new, m) = diff(
            pat,
            &pat.replace("voices(4)", "voices(2)").replace("e3", "f3"),
        );
        for name in ["seq", "saw", "lpf"] {
            kept(&m, &old, &new, name, 0, 0);
        }
    }

    #[test]
    fn a_feedback_loop_is_matched_without_looping() {
        let a = "let fb = feedback(); let y = (saw(110) * 0.2 + fb * 0.5).delay(0.25, 0.3); fb.feed(y); y";
        let b = "let fb = feedback(); let y = (saw(110) * 0.2 + fb.lpf(2000) * 0.5).delay(0.25, 0.3); fb.feed(y); y * 0.8";
        let (old, new, m) = diff(a, b);
        kept(&m, &old, &new, "delay", 0, 0);
        kept(&m, &old, &new, "saw", 0, 0);
    }

    /// CPU time of the calling thread, in seconds.
    fn thread_cpu_secs() -> f64 {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid timespec to write into; the clock id is a constant.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
        t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
    }

    /// Near-linear: four times the graph takes well under sixteen times (quadratic) as long.
    #[test]
    fn the_cost_grows_near_linearly() {
        let script = |n: usize, shift: usize| {
            let members: Vec<String> = (0..n)
                .map(|i| format!("sine({}).lpf({}) * 0.001", 100 + (i + shift) % n, 500 + i))
                .collect();
            format!("mix([{}])", members.join(",\n"))
        };
        let time = |n: usize| {
            let (old, new) = (spec(&script(n, 0)), spec(&script(n, 1)));
            // The fastest of five, in this thread's CPU time: the machine may be busy with
            // other work.
            (0..5)
                .map(|_| {
                    let t = thread_cpu_secs();
                    let m = match_nodes(&old, &new);
                    assert!(m.iter().filter(|x| x.is_some()).count() > 3 * n);
                    thread_cpu_secs() - t
                })
                .fold(f64::INFINITY, f64::min)
        };
        let (small, big) = (time(1000), time(4000));
        assert!(
            big < small * 12.0,
            "matching 4000 members took {big:.4} s, 1000 took {small:.4} s"
        );
    }
}
