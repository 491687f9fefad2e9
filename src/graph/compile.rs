//! Compilation of a `GraphSpec` into a `CompiledGraph`: built on the control thread,
//! processed block by block on the audio thread.

use super::{GraphSpec, Input, NodeKind, PortRef};
use crate::dsp::chorus::Chorus;
use crate::dsp::dynamics::{self, Comp};
use crate::dsp::filter::{Ladder, Svf, SvfMode};
use crate::dsp::math::{self, BinOp, UnOp};
use crate::dsp::midi::{CcIn, CcSpec, MidiNotes, NotesSpec};
use crate::dsp::monitor::{MonitorInfo, MonitorTable};
use crate::dsp::reverb::Reverb;
use crate::dsp::sampler::{SampleData, Sampler};
use crate::dsp::seq::{self, Probe, Score, Seq};
use crate::dsp::{BLOCK, Ctx, In, delay::Delay, env, noise, osc};
use std::collections::HashMap;
use std::sync::Arc;

/// Longest echo a delay with a modulated time can reach.
pub const MAX_MODULATED_DELAY_SECS: f32 = 4.0;
/// Inputs a node reads through the fixed-size array (only `mix` has more).
const MAX_FIXED_INPUTS: usize = 6;

/// Where a node finds one input: a region of one buffer.
#[derive(Clone, Copy, Debug)]
struct InRef {
    buf: u32,
    offset: u32,
    lanes: u32,
    konst: Option<f32>,
    steady: bool,
}

/// A node's DSP state.
enum Dsp {
    Sine(osc::Sine),
    Saw(osc::Saw),
    Pulse(osc::Pulse),
    Tri(osc::Tri),
    White(noise::White),
    Pink(noise::Pink),
    Line(env::Line),
    Adsr(env::Adsr),
    Perc(env::Perc),
    Metro(env::Metro),
    Smooth(env::Smooth),
    Svf(Svf),
    Ladder(Ladder),
    Delay(Delay),
    Drive,
    Pan,
    Bin(BinOp),
    Un(UnOp),
    Clip,
    Range,
    Sum,
    LaneSum,
    LaneIndex,
    Seq(Seq, Arc<Score>),
    MidiNotes(Box<MidiNotes>, NotesSpec),
    Cc(CcIn, CcSpec),
    // Boxed: their delay lines and state are large next to the other variants.
    Reverb(Box<Reverb>),
    Chorus(Box<Chorus>),
    Comp(Box<Comp>),
    Crush,
    Sample(Sampler, Arc<SampleData>, bool),
    /// A monitor: its graph's table, its slot, and the last value it read.
    Monitor(Arc<MonitorTable>, u32, f32),
}

/// What an op does for a sleeping instrument (see `sleep.rs`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Plain,
    /// The sequencer of sleep group `g`: decides each block whether the group sleeps.
    Seq(u16),
    /// A node of group `g`'s voice template: skipped while the group sleeps.
    Member(u16),
    /// Mixes group `g`'s voices down: silent while it sleeps, and tells whether it was.
    Closer(u16),
}

/// A sleeping instrument's state, per block.
#[derive(Clone, Copy, Debug, Default)]
struct Sleep {
    asleep: bool,
    /// Every mixdown of the group was silent in the last block.
    quiet: bool,
    /// The same, gathered during this block.
    quiet_now: bool,
}

/// Below this a mixdown counts as silent (−120 dBFS).
const SILENT: f32 = 1e-6;

struct Op {
    dsp: Dsp,
    lanes: usize,
    ins: Vec<InRef>,
    out: usize,
    role: Role,
}

/// Where a number in the script lives in a compiled graph, so an edit that only changes
/// numbers can update it in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamSlot {
    pub op: u32,
    pub input: u32,
    pub buf: u32,
}

/// A parameter gliding to a new value over a few blocks (no zipper noise, no click).
#[derive(Clone, Copy, Debug)]
struct Ramp {
    slot: ParamSlot,
    from: f32,
    to: f32,
    pos: u32,
    len: u32,
}

/// Parameter glides that can run at once; more start without a glide.
const MAX_RAMPS: usize = 64;

/// A graph ready to run: nodes in dependency order, every buffer allocated up front.
pub struct CompiledGraph {
    /// Numbers of the script by (node, input) of the spec, for parameter-only edits.
    pub params: HashMap<(u32, u32), ParamSlot>,
    ramps: [Option<Ramp>; MAX_RAMPS],
    sleep: Vec<Sleep>,
    bufs: Vec<Vec<f32>>,
    ops: Vec<Op>,
    /// (source, buffer of the feedback node): copied after each block so the loop reads
    /// this block's values during the next.
    feedback: Vec<(InRef, usize)>,
    out: [InRef; 2],
    /// Named stems, left and right.
    tracks: Vec<[InRef; 2]>,
    pub track_names: Vec<String>,
    /// The stem slot each track is rendered into (`record::stems`); the track's own index
    /// unless a live recording assigned others.
    pub track_slots: Vec<u8>,
    pub tempo_bpm: f64,
    /// Follows an external MIDI clock (`tempo("midi")`).
    pub follow_clock: bool,
    pub duration: Option<f64>,
    /// Stable key of each op, in processing order.
    pub keys: Vec<String>,
    /// The spec node each op runs, in processing order (what a carry plan maps from).
    pub nodes: Vec<u32>,
    /// What the monitors of this graph measure (`.monitor("name")`), for the terminal.
    pub monitors: Arc<MonitorTable>,
}

fn seed_of(key: &str) -> u64 {
    super::fnv1a(key.bytes().map(u64::from))
}

/// Builds the runnable graph. The spec must have passed `validate` and `assign_keys`.
pub fn compile(spec: &GraphSpec, sample_rate: f32) -> CompiledGraph {
    let order = schedule(spec);
    let statics = fold_statics(spec, &order);
    let mut roles: HashMap<usize, Role> = HashMap::new();
    let mut groups = 0u16;
    for g in super::sleep::sleep_groups(spec) {
        // A node can belong to one group only; a later claim makes that group stay awake.
        if g.members.iter().any(|m| roles.contains_key(m)) || groups == u16::MAX {
            continue;
        }
        roles.insert(g.seq, Role::Seq(groups));
        for m in g.members {
            roles.insert(m, Role::Member(groups));
        }
        for c in g.closers {
            roles.insert(c, Role::Closer(groups));
        }
        groups += 1;
    }

    let mut bufs: Vec<Vec<f32>> = Vec::new();
    let mut node_buf: HashMap<usize, usize> = HashMap::new();
    for &n in &order {
        let node = &spec.nodes[n];
        node_buf.insert(n, bufs.len());
        let lanes = node.lanes as usize;
        let mut buf = vec![0.0; BLOCK * lanes * node.kind.outputs()];
        if let Some(values) = statics.get(&n) {
            for frame in buf.chunks_exact_mut(lanes) {
                frame.copy_from_slice(values);
            }
        }
        bufs.push(buf);
    }
    let const_buf = |bufs: &mut Vec<Vec<f32>>, v: f32| {
        bufs.push(vec![v; BLOCK]);
        bufs.len() - 1
    };
    let port_ref = |p: PortRef, node_buf: &HashMap<usize, usize>| {
        let src = &spec.nodes[p.node as usize];
        let konst = match statics.get(&(p.node as usize)) {
            Some(v) if v.len() == 1 => Some(v[0]),
            _ => None,
        };
        InRef {
            buf: node_buf[&(p.node as usize)] as u32,
            offset: p.out as u32 * (BLOCK as u32 * src.lanes),
            lanes: src.lanes,
            konst,
            steady: statics.contains_key(&(p.node as usize)),
        }
    };
    let in_ref = |bufs: &mut Vec<Vec<f32>>, inp: &Input| match *inp {
        Input::Const(v) => InRef {
            buf: const_buf(bufs, v) as u32,
            offset: 0,
            lanes: 1,
            konst: Some(v),
            steady: true,
        },
        Input::Port(p) => port_ref(p, &node_buf),
    };

    // Monitors in script order: the order of their lines on the terminal.
    let mut monitor_slot: HashMap<usize, u32> = HashMap::new();
    let mut info = Vec::new();
    for (n, node) in spec.nodes.iter().enumerate() {
        if let NodeKind::Monitor(m) = &node.kind {
            monitor_slot.insert(n, info.len() as u32);
            info.push(MonitorInfo {
                name: m.name.to_string(),
                shows: m.shows,
            });
        }
    }
    let monitors = Arc::new(MonitorTable::new(info));
    let mut op_of: HashMap<usize, usize> = HashMap::new();

    let mut ops: Vec<Op> = Vec::new();
    let mut params = HashMap::new();
    let mut feedback = Vec::new();
    let mut keys = Vec::new();
    let mut nodes = Vec::new();
    for &n in &order {
        let node = &spec.nodes[n];
        let lanes = node.lanes as usize;
        if statics.contains_key(&n) {
            continue;
        }
        if node.kind == NodeKind::Feedback {
            if let Some(inp) = node.inputs.first() {
                let r = in_ref(&mut bufs, inp);
                feedback.push((r, node_buf[&n]));
            }
            continue;
        }
        let ins: Vec<InRef> = node.inputs.iter().map(|i| in_ref(&mut bufs, i)).collect();
        for (k, (inp, r)) in node.inputs.iter().zip(&ins).enumerate() {
            if let Input::Const(_) = inp {
                params.insert(
                    (n as u32, k as u32),
                    ParamSlot {
                        op: ops.len() as u32,
                        input: k as u32,
                        buf: r.buf,
                    },
                );
            }
        }
        let konst = |i: usize| match node.inputs.get(i) {
            Some(Input::Const(v)) => Some(*v),
            _ => None,
        };
        let dsp = match &node.kind {
            NodeKind::Sine => Dsp::Sine(osc::Sine::new(lanes)),
            NodeKind::Saw => Dsp::Saw(osc::Saw::new(lanes)),
            NodeKind::Square | NodeKind::Pulse => Dsp::Pulse(osc::Pulse::new(lanes)),
            NodeKind::Tri => Dsp::Tri(osc::Tri::new(lanes)),
            NodeKind::Noise => Dsp::White(noise::White::new(lanes, seed_of(&node.key))),
            NodeKind::Pink => Dsp::Pink(noise::Pink::new(lanes, seed_of(&node.key))),
            NodeKind::Line => Dsp::Line(env::Line::new(lanes)),
            NodeKind::Adsr => Dsp::Adsr(env::Adsr::new(lanes)),
            NodeKind::Perc => Dsp::Perc(env::Perc::new(lanes)),
            NodeKind::Metro => Dsp::Metro(env::Metro::new(lanes)),
            NodeKind::Smooth => Dsp::Smooth(env::Smooth::new(lanes)),
            NodeKind::Lpf => Dsp::Svf(Svf::new(SvfMode::Low, lanes)),
            NodeKind::Hpf => Dsp::Svf(Svf::new(SvfMode::High, lanes)),
            NodeKind::Bpf => Dsp::Svf(Svf::new(SvfMode::Band, lanes)),
            NodeKind::Notch => Dsp::Svf(Svf::new(SvfMode::Notch, lanes)),
            NodeKind::Ladder => Dsp::Ladder(Ladder::new(lanes)),
            NodeKind::Delay => {
                let max = konst(1).unwrap_or(MAX_MODULATED_DELAY_SECS);
                Dsp::Delay(Delay::new(lanes, sample_rate, max))
            }
            NodeKind::Drive => Dsp::Drive,
            NodeKind::Pan => Dsp::Pan,
            NodeKind::Bin(op) => Dsp::Bin(*op),
            NodeKind::Un(op) => Dsp::Un(*op),
            NodeKind::Clip => Dsp::Clip,
            NodeKind::Range => Dsp::Range,
            NodeKind::Sum => Dsp::Sum,
            NodeKind::LaneSum => Dsp::LaneSum,
            NodeKind::LaneIndex => Dsp::LaneIndex,
            NodeKind::Seq(score) => Dsp::Seq(Seq::new(lanes), score.clone()),
            NodeKind::MidiNotes(spec) => Dsp::MidiNotes(Box::new(MidiNotes::new(lanes)), *spec),
            NodeKind::Cc(spec) => Dsp::Cc(CcIn::new(), *spec),
            NodeKind::Reverb => Dsp::Reverb(Box::new(Reverb::new(sample_rate))),
            NodeKind::Chorus => Dsp::Chorus(Box::new(Chorus::new(sample_rate))),
            NodeKind::Comp => Dsp::Comp(Box::new(Comp::new(sample_rate))),
            NodeKind::Crush => Dsp::Crush,
            NodeKind::Sample(r) => {
                let triggered = matches!(node.inputs.first(), Some(Input::Port(_)));
                let looped = konst(2).is_some_and(|v| v != 0.0);
                Dsp::Sample(Sampler::new(lanes, !triggered), r.data.clone(), looped)
            }
            NodeKind::Monitor(m) => {
                let slot = monitor_slot[&n];
                // The sequencer it follows reports its step into the same slot.
                if let Some(&k) = m.seq.and_then(|s| op_of.get(&(s as usize)))
                    && let Dsp::Seq(sq, score) = &mut ops[k].dsp
                {
                    sq.probe
                        .get_or_insert_with(|| Probe {
                            table: monitors.clone(),
                            slots: Vec::new(),
                            steps: seq::grid_steps(score.as_ref()),
                        })
                        .slots
                        .push(slot);
                }
                Dsp::Monitor(monitors.clone(), slot, 0.0)
            }
            NodeKind::Feedback => unreachable!("handled above"),
        };
        op_of.insert(n, ops.len());
        ops.push(Op {
            dsp,
            lanes,
            ins,
            out: node_buf[&n],
            role: roles.get(&n).copied().unwrap_or(Role::Plain),
        });
        keys.push(node.key.clone());
        nodes.push(n as u32);
    }
    let out = spec.out.map(|o| in_ref(&mut bufs, &o));
    let tracks = spec
        .tracks
        .iter()
        .map(|(_, ins)| ins.map(|o| in_ref(&mut bufs, &o)))
        .collect();
    CompiledGraph {
        params,
        ramps: [None; MAX_RAMPS],
        sleep: vec![Sleep::default(); groups as usize],
        bufs,
        ops,
        feedback,
        out,
        tracks,
        track_names: spec.tracks.iter().map(|(n, _)| n.clone()).collect(),
        track_slots: (0..spec.tracks.len())
            .map(|i| u8::try_from(i).unwrap_or(u8::MAX))
            .collect(),
        tempo_bpm: spec.tempo_bpm,
        follow_clock: spec.follow_clock,
        duration: spec.duration,
        keys,
        nodes,
        monitors,
    }
}

/// Per-lane values of the nodes that never change: pure arithmetic on constants and on the
/// voice index (a voice's pitch, pan position, gain). They are computed once here instead
/// of every sample.
fn fold_statics(spec: &GraphSpec, order: &[usize]) -> HashMap<usize, Vec<f32>> {
    let mut statics: HashMap<usize, Vec<f32>> = HashMap::new();
    for &n in order {
        let node = &spec.nodes[n];
        let lanes = node.lanes as usize;
        let pure = matches!(
            node.kind,
            NodeKind::Bin(_)
                | NodeKind::Un(_)
                | NodeKind::Clip
                | NodeKind::Range
                | NodeKind::Sum
                | NodeKind::Drive
                | NodeKind::LaneIndex
        );
        if !pure {
            continue;
        }
        let mut args: Vec<Vec<f32>> = Vec::with_capacity(node.inputs.len());
        for inp in &node.inputs {
            match inp {
                Input::Const(v) => args.push(vec![*v]),
                Input::Port(p) if p.out == 0 => match statics.get(&(p.node as usize)) {
                    Some(v) => args.push(v.clone()),
                    None => break,
                },
                Input::Port(_) => break,
            }
        }
        if args.len() != node.inputs.len() {
            continue;
        }
        let at = |i: usize, l: usize| {
            let v = &args[i];
            if v.len() == 1 { v[0] } else { v[l] }
        };
        let values: Vec<f32> = (0..lanes)
            .map(|l| match &node.kind {
                NodeKind::Bin(op) => op.apply(at(0, l), at(1, l)),
                NodeKind::Un(op) => op.apply(at(0, l)),
                NodeKind::Clip => at(0, l).max(at(1, l)).min(at(2, l)),
                NodeKind::Range => {
                    let (a, b) = (at(1, l), at(2, l));
                    a + (at(0, l) + 1.0) * 0.5 * (b - a)
                }
                NodeKind::Sum => (0..args.len()).map(|i| at(i, l)).sum(),
                NodeKind::Drive => (at(0, l) * at(1, l)).tanh(),
                _ => l as f32, // LaneIndex
            })
            .collect();
        statics.insert(n, values);
    }
    statics
}

/// Dependency order of the nodes reachable from the outputs. A feedback node's source is
/// not a dependency (it is read a block late) but is scheduled like another output.
fn schedule(spec: &GraphSpec) -> Vec<usize> {
    let mut roots: Vec<usize> = spec
        .out
        .iter()
        .chain(spec.tracks.iter().flat_map(|(_, ins)| ins.iter()))
        .filter_map(|i| match i {
            Input::Port(p) => Some(p.node as usize),
            Input::Const(_) => None,
        })
        .collect();
    // Monitors are heard by no one but run all the same.
    roots.extend(
        spec.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.kind, NodeKind::Monitor(_)))
            .map(|(i, _)| i),
    );
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
            let deps: &[Input] = if node.kind == NodeKind::Feedback {
                if let Some(Input::Port(p)) = node.inputs.first() {
                    roots.push(p.node as usize);
                }
                &[]
            } else {
                &node.inputs
            };
            let pending = deps[next..].iter().position(|i| match i {
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

impl CompiledGraph {
    /// Starts gliding a parameter to `value` over `frames` (audio thread, no allocation).
    pub fn set_param(&mut self, slot: ParamSlot, value: f32, frames: u32) {
        let Some(r) = self
            .ops
            .get_mut(slot.op as usize)
            .and_then(|op| op.ins.get_mut(slot.input as usize))
        else {
            return;
        };
        if r.buf != slot.buf {
            return;
        }
        let from = r.konst.unwrap_or(self.bufs[slot.buf as usize][BLOCK - 1]);
        // A glide already running on this slot is replaced, starting where it is.
        let free = self
            .ramps
            .iter()
            .position(|x| x.is_some_and(|x| x.slot == slot))
            .or_else(|| self.ramps.iter().position(Option::is_none));
        match free {
            Some(i) if frames > 0 => {
                self.ramps[i] = Some(Ramp {
                    slot,
                    from,
                    to: value,
                    pos: 0,
                    len: frames,
                })
            }
            _ => {
                self.bufs[slot.buf as usize].fill(value);
                r.konst = Some(value);
            }
        }
    }

    /// Writes this block's values of every gliding parameter.
    fn advance_ramps(&mut self) {
        for slot in self.ramps.iter_mut() {
            let Some(ramp) = slot.as_mut() else {
                continue;
            };
            let buf = &mut self.bufs[ramp.slot.buf as usize];
            let r = &mut self.ops[ramp.slot.op as usize].ins[ramp.slot.input as usize];
            if ramp.pos >= ramp.len {
                buf.fill(ramp.to);
                r.konst = Some(ramp.to);
                *slot = None;
                continue;
            }
            for (i, v) in buf.iter_mut().enumerate() {
                let t = ((ramp.pos as usize + i) as f32 / ramp.len as f32).min(1.0);
                *v = ramp.from + (ramp.to - ramp.from) * t;
            }
            r.konst = None;
            ramp.pos = ramp.pos.saturating_add(BLOCK as u32);
        }
    }

    /// Renders one block into `left` and `right`. Never allocates: every buffer exists.
    pub fn process_block(&mut self, ctx: &Ctx, left: &mut [f32], right: &mut [f32]) {
        self.advance_ramps();
        self.monitors.mark_live();
        let bufs = &mut self.bufs;
        let sleep = &mut self.sleep;
        for op in &mut self.ops {
            match op.role {
                Role::Member(g) if sleep[g as usize].asleep => continue,
                Role::Closer(g) if sleep[g as usize].asleep => {
                    bufs[op.out].fill(0.0);
                    continue;
                }
                _ => {}
            }
            // Taking the output buffer out lets every input be borrowed from `bufs` while
            // the node writes; `take` leaves an empty Vec, which does not allocate.
            let mut out = std::mem::take(&mut bufs[op.out]);
            run_op(op, ctx, bufs, &mut out);
            match (op.role, &op.dsp) {
                (Role::Seq(g), Dsp::Seq(_, _) | Dsp::MidiNotes(_, _)) => {
                    let (t0, t1) = (ctx.frame, ctx.frame + BLOCK as u64);
                    let busy = match &op.dsp {
                        Dsp::Seq(seq, _) => seq.busy(t0, t1),
                        Dsp::MidiNotes(m, _) => m.busy(t0, t1),
                        _ => true,
                    };
                    let s = &mut sleep[g as usize];
                    s.quiet = s.quiet_now;
                    s.quiet_now = true;
                    s.asleep = s.quiet && !busy;
                }
                (Role::Closer(g), _) => {
                    let silent = out.iter().all(|v| v.abs() < SILENT);
                    sleep[g as usize].quiet_now &= silent;
                }
                _ => {}
            }
            bufs[op.out] = out;
        }
        for (src, dst) in &self.feedback {
            let n = BLOCK * src.lanes as usize;
            let mut d = std::mem::take(&mut bufs[*dst]);
            d[..n].copy_from_slice(&input(bufs, src).data[..n]);
            bufs[*dst] = d;
        }
        left.copy_from_slice(&input(bufs, &self.out[0]).data[..BLOCK]);
        right.copy_from_slice(&input(bufs, &self.out[1]).data[..BLOCK]);
    }

    /// Left and right of stem `i` for the block just processed.
    pub fn track(&self, i: usize) -> Option<(&[f32], &[f32])> {
        let t = self.tracks.get(i)?;
        Some((
            &input(&self.bufs, &t[0]).data[..BLOCK],
            &input(&self.bufs, &t[1]).data[..BLOCK],
        ))
    }

    /// Which running ops each op of this graph (compiled from `spec`) takes its state
    /// from: pairs of (op here, op of the graph compiled from `old` whose ops run
    /// `old_nodes`), matched by content (`matching.rs`). Computed on the control thread.
    pub fn carry_plan(
        &self,
        spec: &GraphSpec,
        old: &GraphSpec,
        old_nodes: &[u32],
    ) -> Vec<(u32, u32)> {
        super::matching::carry_plan(old, old_nodes, spec, &self.nodes)
    }

    /// Copies running state from `old` along `plan`; returns how many nodes carried.
    /// Audio thread: only copies into existing buffers.
    pub fn carry_from(&mut self, old: &CompiledGraph, plan: &[(u32, u32)]) -> usize {
        use crate::dsp::Carry;
        let mut carried = 0;
        for &(j, i) in plan {
            let (Some(new), Some(old)) = (self.ops.get_mut(j as usize), old.ops.get(i as usize))
            else {
                continue;
            };
            let ok = match (&mut new.dsp, &old.dsp) {
                (Dsp::Sine(a), Dsp::Sine(b)) => a.carry_from(b),
                (Dsp::Saw(a), Dsp::Saw(b)) => a.carry_from(b),
                (Dsp::Pulse(a), Dsp::Pulse(b)) => a.carry_from(b),
                (Dsp::Tri(a), Dsp::Tri(b)) => a.carry_from(b),
                (Dsp::White(a), Dsp::White(b)) => a.carry_from(b),
                (Dsp::Pink(a), Dsp::Pink(b)) => a.carry_from(b),
                (Dsp::Line(a), Dsp::Line(b)) => a.carry_from(b),
                (Dsp::Adsr(a), Dsp::Adsr(b)) => a.carry_from(b),
                (Dsp::Perc(a), Dsp::Perc(b)) => a.carry_from(b),
                (Dsp::Metro(a), Dsp::Metro(b)) => a.carry_from(b),
                (Dsp::Smooth(a), Dsp::Smooth(b)) => a.carry_from(b),
                (Dsp::Svf(a), Dsp::Svf(b)) => a.carry_from(b),
                (Dsp::Ladder(a), Dsp::Ladder(b)) => a.carry_from(b),
                (Dsp::Delay(a), Dsp::Delay(b)) => a.carry_from(b),
                (Dsp::Seq(a, _), Dsp::Seq(b, _)) => a.carry_from(b),
                (Dsp::MidiNotes(a, _), Dsp::MidiNotes(b, _)) => a.carry_from(b),
                (Dsp::Cc(a, _), Dsp::Cc(b, _)) => a.carry_from(b),
                (Dsp::Reverb(a), Dsp::Reverb(b)) => a.carry_from(b),
                (Dsp::Chorus(a), Dsp::Chorus(b)) => a.carry_from(b),
                (Dsp::Comp(a), Dsp::Comp(b)) => a.carry_from(b),
                (Dsp::Sample(a, _, _), Dsp::Sample(b, _, _)) => a.carry_from(b),
                _ => false,
            };
            carried += usize::from(ok);
        }
        carried
    }

    /// Number of DSP operations per block (for stats and tests).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

#[inline]
fn input<'a>(bufs: &'a [Vec<f32>], r: &InRef) -> In<'a> {
    let start = r.offset as usize;
    In {
        data: &bufs[r.buf as usize][start..start + BLOCK * r.lanes as usize],
        lanes: r.lanes as usize,
        konst: r.konst,
        steady: r.steady,
    }
}

fn run_op(op: &mut Op, ctx: &Ctx, bufs: &[Vec<f32>], out: &mut [f32]) {
    let lanes = op.lanes;
    if let Dsp::Sum = op.dsp {
        for (k, r) in op.ins.iter().enumerate() {
            math::accumulate(input(bufs, r), out, lanes, k == 0);
        }
        if op.ins.is_empty() {
            out.fill(0.0);
        }
        return;
    }
    let mut i = [In::ZERO; MAX_FIXED_INPUTS];
    for (slot, r) in i.iter_mut().zip(&op.ins) {
        *slot = input(bufs, r);
    }
    match &mut op.dsp {
        Dsp::Sine(s) => s.process(ctx, i[0], i[1], out, lanes),
        Dsp::Saw(s) => s.process(ctx, i[0], out, lanes),
        Dsp::Pulse(s) => s.process(ctx, i[0], i[1], out, lanes),
        Dsp::Tri(s) => s.process(ctx, i[0], out, lanes),
        Dsp::White(s) => s.process(out, lanes),
        Dsp::Pink(s) => s.process(out, lanes),
        Dsp::Line(s) => s.process(ctx, i[0], i[1], i[2], i[3], out, lanes),
        Dsp::Adsr(s) => s.process(ctx, i[0], i[1], i[2], i[3], i[4], out, lanes),
        Dsp::Perc(s) => s.process(ctx, i[0], i[1], i[2], out, lanes),
        Dsp::Metro(s) => s.process(ctx, i[0], out, lanes),
        Dsp::Smooth(s) => s.process(ctx, i[0], i[1], out, lanes),
        Dsp::Svf(s) => s.process(ctx, i[0], i[1], i[2], out, lanes),
        Dsp::Ladder(s) => s.process(ctx, i[0], i[1], i[2], out, lanes),
        Dsp::Delay(s) => s.process(ctx, i[0], i[1], i[2], i[3], out, lanes),
        Dsp::Drive => math::drive(i[0], i[1], out, lanes),
        Dsp::Pan => math::pan(i[0], i[1], out, lanes),
        Dsp::Bin(op) => math::binary(*op, i[0], i[1], out, lanes),
        Dsp::Un(op) => math::unary(*op, i[0], out, lanes),
        Dsp::Clip => math::clip(i[0], i[1], i[2], out, lanes),
        Dsp::Range => math::range(i[0], i[1], i[2], out, lanes),
        Dsp::LaneSum if op.ins.len() > 1 => math::lane_sum_weighted(i[0], i[1], out),
        Dsp::LaneSum => math::lane_sum(i[0], out, i[0].lanes),
        Dsp::Seq(s, score) => s.process(ctx, score, out, lanes),
        Dsp::MidiNotes(m, spec) => m.process(ctx, spec, out, lanes),
        Dsp::Cc(c, spec) => c.process(ctx, spec, i[0], i[1], out, lanes),
        Dsp::Reverb(s) => s.process(ctx, i[0], i[1], i[2], i[3], i[4], out),
        Dsp::Chorus(s) => s.process(ctx, i[0], i[1], i[2], i[3], out),
        Dsp::Comp(s) => s.process(ctx, i[0], i[1], i[2], i[3], i[4], i[5], out),
        Dsp::Crush => dynamics::crush(i[0], i[1], out, lanes),
        Dsp::Sample(s, data, looped) => s.process(ctx, data, i[0], i[1], *looped, out, lanes),
        Dsp::LaneIndex => math::lane_index(out, lanes),
        Dsp::Monitor(table, slot, last) => {
            table.measure(*slot as usize, &i[..op.ins.len().min(2)], last)
        }
        Dsp::Sum => unreachable!("handled above"),
    }
}
