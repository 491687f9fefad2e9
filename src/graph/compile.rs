//! Compilation of a `GraphSpec` into a `RuntimeGraph` and its `GraphMeta`: both built on
//! the control thread. The runtime graph (ops, buffers, ramps) is processed block by block
//! on the audio thread; the metadata (keys, parameter slots, track names, monitor names)
//! stays with the control thread.

use super::nodes::{Build, Dsp};
use super::optimize::{Passes, Report};
use super::{GraphSpec, Input, NodeKind, PortRef};
use crate::dsp::monitor::{MonitorInfo, MonitorTable};
use crate::dsp::seq::{self, Probe};
use crate::dsp::{BLOCK, Ctx, In, InRef, Ins};
use std::collections::HashMap;
use std::sync::Arc;

mod pipeline;
pub use pipeline::{Stages, best_split};

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
///
/// Its voices sleep one by one too: a voice whose sound has ended and whose note does not
/// change does no work. The voice allocator keeps the sounding voices low (see
/// `Voices::assign`), so only the lowest `active` lanes run: members run `active` lanes
/// wide, reading the sequencer's outputs repacked to that width (`view`), and per-lane
/// constants from copies repacked likewise.
#[derive(Clone, Debug, Default)]
struct Sleep {
    asleep: bool,
    /// Lanes (bit per lane) whose mixdown was silent in the last block; with more than 64
    /// lanes, all bits say the same of the whole group.
    quiet: u64,
    /// The same, gathered during this block.
    quiet_now: u64,
    /// The voices the instrument has (the sequencer's lanes).
    full: usize,
    /// Lanes that ran this block (0 while asleep).
    active: usize,
    /// Whether lanes sleep one by one (every per-voice input of a member can be repacked).
    dynamic: bool,
    /// How many outputs the sequencer has, and the buffer holding them repacked `active`
    /// lanes wide.
    seq_outputs: usize,
    /// The sequencer's outputs the members read (bit per output): the ones repacked.
    ports: u64,
    view: usize,
    /// (per-lane constant, its repacked copy), refreshed when `active` changes.
    copies: Vec<(usize, usize)>,
}

/// Every lane (of the first 64).
const ALL_LANES: u64 = u64::MAX;

/// A per-voice input of an instrument's member, read `active` lanes wide.
#[derive(Clone, Copy, Debug)]
struct DynIn {
    input: usize,
    port: u32,
    buf: u32,
}

/// Below this a mixdown counts as silent (−120 dBFS).
const SILENT: f32 = 1e-6;

struct Op {
    dsp: Dsp,
    lanes: usize,
    outputs: usize,
    ins: Vec<InRef>,
    /// Inputs that follow the group's active lanes (see `Sleep`).
    dynamic: Vec<DynIn>,
    out: usize,
    role: Role,
}

/// One step of a carry plan: op `new` of the incoming graph takes over state from op `old`
/// of the playing one: all of it, or (`lanes`) `n` lanes from lane `from` into lanes from
/// `to`, when the compiler merged copies into lanes on one side and not the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Carried {
    pub new: u32,
    pub old: u32,
    pub lanes: Option<(u32, u32, u32)>,
}

/// The script's node(s) an op runs: what a carry plan maps from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpOrigin {
    /// The node it runs (for merged copies, the first).
    pub node: u32,
    /// For merged copies, each lane's node, in lane order; else empty.
    pub lanes: Vec<u32>,
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

/// A graph ready to run: nodes in dependency order, every buffer allocated up front. This
/// is all the audio thread gets.
pub struct RuntimeGraph {
    ramps: [Option<Ramp>; MAX_RAMPS],
    sleep: Vec<Sleep>,
    /// Blocks for which an instrument was skipped, summed over instruments.
    slept: u64,
    /// Voice-blocks skipped in instruments whose voices sleep one by one: lanes above
    /// `active`, so every lane of a block the instrument sleeps through.
    lanes_slept: u64,
    bufs: Vec<Vec<f32>>,
    ops: Vec<Op>,
    /// (source, buffer of the feedback node): copied after each block so the loop reads
    /// this block's values during the next.
    feedback: Vec<(InRef, usize)>,
    out: [InRef; 2],
    /// Named stems, left and right.
    tracks: Vec<[InRef; 2]>,
    /// The stem slot each track is rendered into (`record::stems`); the track's own index
    /// unless a live recording assigned others.
    pub track_slots: Vec<u8>,
    pub tempo_bpm: f64,
    /// Follows an external MIDI clock (`tempo("midi")`).
    pub follow_clock: bool,
    pub duration: Option<f64>,
    /// Where the monitors publish what they measure (the control thread reads it through
    /// `GraphMeta::monitors`).
    monitors: Arc<MonitorTable>,
}

/// What the control thread keeps about a graph it sent: how to address its nodes and
/// numbers, and the names of its stems and monitors.
pub struct GraphMeta {
    /// Numbers of the script by (node, input) of the spec, for parameter-only edits.
    pub params: HashMap<(u32, u32), ParamSlot>,
    /// Stable key of each op, in processing order.
    pub keys: Vec<String>,
    /// Names of the stems (`.track("name")`), in track order.
    pub track_names: Vec<String>,
    /// The script's node(s) each op runs, in processing order (what a carry plan maps from).
    pub nodes: Vec<OpOrigin>,
    /// What the optimizing passes did.
    pub report: Report,
    /// What the monitors of this graph measure (`.monitor("name")`), for the terminal.
    pub monitors: Arc<MonitorTable>,
}

fn seed_of(key: &str) -> u64 {
    super::fnv1a(key.bytes().map(u64::from))
}

/// Builds the runnable graph, with every optimizing pass. The spec must have passed
/// `validate` and `assign_keys`.
pub fn compile(spec: &GraphSpec, sample_rate: f32) -> (RuntimeGraph, GraphMeta) {
    compile_with(spec, sample_rate, Passes::ALL)
}

/// Builds the runnable graph with the chosen passes (`Passes::NONE` runs the script as
/// written: what the optimized graph is checked against).
pub fn compile_with(
    script: &GraphSpec,
    sample_rate: f32,
    passes: Passes,
) -> (RuntimeGraph, GraphMeta) {
    let opt = super::optimize(script, passes);
    let spec = &opt.spec;
    let order = super::keys::post_order(spec);
    let statics = fold_statics(spec, &order);
    let mut roles: HashMap<usize, Role> = HashMap::new();
    let mut groups = 0u16;
    let mut group_seq: Vec<usize> = Vec::new();
    for g in super::sleep::sleep_groups(spec) {
        // A node can belong to one group only; a later claim makes that group stay awake.
        if g.members.iter().any(|m| roles.contains_key(m)) || groups == u16::MAX {
            continue;
        }
        roles.insert(g.seq, Role::Seq(groups));
        group_seq.push(g.seq);
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
    let mut sleep: Vec<Sleep> = group_seq
        .iter()
        .map(|&q| {
            let full = spec.nodes[q].lanes as usize;
            let outputs = spec.nodes[q].kind.outputs();
            bufs.push(vec![0.0; BLOCK * full * outputs]);
            Sleep {
                full,
                active: full,
                dynamic: passes.voices && full > 1 && full <= 64,
                seq_outputs: outputs,
                view: bufs.len() - 1,
                ..Sleep::default()
            }
        })
        .collect();

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
        let role = roles.get(&n).copied().unwrap_or(Role::Plain);
        let mut dynamic = Vec::new();
        if let Role::Member(g) | Role::Closer(g) = role {
            let grp = &mut sleep[g as usize];
            for (k, (inp, r)) in node.inputs.iter().zip(&ins).enumerate() {
                let Input::Port(p) = inp else { continue };
                if r.lanes as usize != grp.full || grp.full < 2 {
                    continue;
                }
                let src = p.node as usize;
                let buf = if src == group_seq[g as usize] {
                    grp.ports |= 1 << p.out.min(63);
                    grp.view
                } else if roles.get(&src) == Some(&Role::Member(g)) {
                    r.buf as usize
                } else if statics.contains_key(&src) {
                    bufs.push(vec![0.0; BLOCK * grp.full]);
                    grp.copies.push((r.buf as usize, bufs.len() - 1));
                    bufs.len() - 1
                } else {
                    // Read from elsewhere, lane by lane: the whole instrument runs.
                    grp.dynamic = false;
                    continue;
                };
                dynamic.push(DynIn {
                    input: k,
                    port: u32::from(p.out),
                    buf: buf as u32,
                });
            }
        }
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
        let build = Build {
            lanes,
            sample_rate,
            seed: seed_of(&node.key),
            inputs: &node.inputs,
            monitors: &monitors,
            monitor_slot: monitor_slot.get(&n).copied().unwrap_or(0),
        };
        let dsp = Dsp::new(&node.kind, &build);
        // The sequencer a monitor follows reports its step into the monitor's slot.
        if let NodeKind::Monitor(m) = &node.kind
            && let Some(&k) = m.seq.and_then(|s| op_of.get(&(s as usize)))
            && let Dsp::Seq(sq) = &mut ops[k].dsp
        {
            let steps = seq::grid_steps(sq.score.as_ref());
            sq.seq
                .probe
                .get_or_insert_with(|| Probe {
                    table: monitors.clone(),
                    slots: Vec::new(),
                    steps,
                })
                .slots
                .push(build.monitor_slot);
        }
        op_of.insert(n, ops.len());
        ops.push(Op {
            dsp,
            lanes,
            outputs: node.kind.outputs(),
            ins,
            dynamic,
            out: node_buf[&n],
            role,
        });
        keys.push(node.key.clone());
        nodes.push(OpOrigin {
            node: opt.origin[n],
            lanes: opt.lanes[n].clone(),
        });
    }
    let out = spec.out.map(|o| in_ref(&mut bufs, &o));
    let tracks = spec
        .tracks
        .iter()
        .map(|(_, ins)| ins.map(|o| in_ref(&mut bufs, &o)))
        .collect();
    let graph = RuntimeGraph {
        ramps: [None; MAX_RAMPS],
        sleep,
        slept: 0,
        lanes_slept: 0,
        bufs,
        ops,
        feedback,
        out,
        tracks,
        track_slots: (0..spec.tracks.len())
            .map(|i| u8::try_from(i).unwrap_or(u8::MAX))
            .collect(),
        tempo_bpm: spec.tempo_bpm,
        follow_clock: spec.follow_clock,
        duration: spec.duration,
        monitors: monitors.clone(),
    };
    // Numbers are addressed by the script's nodes, which is what an edit compares.
    let params = opt
        .numbers
        .iter()
        .filter_map(|(script_at, at)| params.get(at).map(|slot| (*script_at, *slot)))
        .collect();
    let meta = GraphMeta {
        report: opt.report,
        params,
        keys,
        track_names: spec.tracks.iter().map(|(n, _)| n.clone()).collect(),
        nodes,
        monitors,
    };
    (graph, meta)
}

/// Per-lane values of the nodes that never change: pure arithmetic on constants and on the
/// voice index (a voice's pitch, pan position, gain). They are computed once here instead
/// of every sample.
fn fold_statics(spec: &GraphSpec, order: &[usize]) -> HashMap<usize, Vec<f32>> {
    let mut statics: HashMap<usize, Vec<f32>> = HashMap::new();
    for &n in order {
        let node = &spec.nodes[n];
        let lanes = node.lanes as usize;
        if !node.kind.is_pure() {
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
            .map(|l| {
                node.kind
                    .fold(&|i| at(i, l), args.len(), l)
                    .unwrap_or_default()
            })
            .collect();
        statics.insert(n, values);
    }
    statics
}

impl RuntimeGraph {
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
        self.run_block(ctx, left, right, |_| {});
    }

    /// `process_block`, calling `after_op(i)` when op `i` has run (or been skipped): how a
    /// caller times the ops. The plain block passes a closure that does nothing, which the
    /// compiler removes.
    #[inline(always)]
    fn run_block(
        &mut self,
        ctx: &Ctx,
        left: &mut [f32],
        right: &mut [f32],
        mut after_op: impl FnMut(usize),
    ) {
        self.advance_ramps();
        self.monitors.mark_live();
        let bufs = &mut self.bufs;
        let sleep = &mut self.sleep;
        for (i, op) in self.ops.iter_mut().enumerate() {
            let mut lanes = op.lanes;
            match op.role {
                Role::Member(g) if sleep[g as usize].asleep => {
                    after_op(i);
                    continue;
                }
                Role::Closer(g) if sleep[g as usize].asleep => {
                    bufs[op.out].fill(0.0);
                    after_op(i);
                    continue;
                }
                Role::Member(g) | Role::Closer(g) => {
                    let s = &sleep[g as usize];
                    if s.dynamic {
                        for d in &op.dynamic {
                            let r = &mut op.ins[d.input];
                            r.lanes = s.active as u32;
                            r.offset = d.port * (BLOCK * s.active) as u32;
                            r.buf = d.buf;
                        }
                        if lanes == s.full {
                            lanes = s.active;
                        }
                    }
                }
                Role::Seq(g) => {
                    if let Some(v) = op.dsp.voices_mut() {
                        v.set_silent(sleep[g as usize].quiet);
                    }
                }
                Role::Plain => {}
            }
            // Taking the output buffer out lets every input be borrowed from `bufs` while
            // the node writes; `take` leaves an empty Vec, which does not allocate.
            let mut out = std::mem::take(&mut bufs[op.out]);
            let n = (BLOCK * lanes * op.outputs).min(out.len());
            op.dsp
                .run(ctx, &Ins::new(bufs, &op.ins), &mut out[..n], lanes);
            match (op.role, &op.dsp) {
                (Role::Seq(g), Dsp::Seq(_) | Dsp::MidiNotes(_)) => {
                    let (t0, t1) = (ctx.frame, ctx.frame + BLOCK as u64);
                    let (busy, touched) = match op.dsp.voices_mut() {
                        Some(v) => (v.busy_lanes(t0, t1), v.take_touched()),
                        None => (ALL_LANES, ALL_LANES),
                    };
                    let s = &mut sleep[g as usize];
                    s.quiet = s.quiet_now;
                    s.quiet_now = ALL_LANES;
                    let awake = busy | !s.quiet;
                    s.asleep = awake == 0;
                    self.slept += u64::from(s.asleep);
                    if s.dynamic {
                        let active = 64 - awake.leading_zeros() as usize;
                        let active = active.min(s.full);
                        self.lanes_slept += (s.full - active) as u64;
                        let changed = active != s.active;
                        s.active = active;
                        // Voices that hold still leave their outputs as they were, and so
                        // does the view of them.
                        let low = if active >= 64 {
                            ALL_LANES
                        } else {
                            (1u64 << active) - 1
                        };
                        if changed || touched & low != 0 {
                            repack(bufs, &out, s, changed);
                        }
                    }
                }
                (Role::Closer(g), _) => {
                    let s = &mut sleep[g as usize];
                    // Lane by lane whether or not lanes sleep, so that voices are given
                    // to notes the same way either way.
                    let loud = if s.full <= 64 {
                        loud_lanes(&Ins::new(bufs, &op.ins), s.active)
                    } else if out.iter().all(|v| v.abs() < SILENT) {
                        0
                    } else {
                        ALL_LANES
                    };
                    s.quiet_now &= !loud;
                }
                _ => {}
            }
            bufs[op.out] = out;
            after_op(i);
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

    /// Copies running state from `old` along `plan`; returns how many steps carried.
    /// Audio thread: only copies into existing buffers.
    pub fn carry_from(&mut self, old: &RuntimeGraph, plan: &[Carried]) -> usize {
        let mut carried = 0;
        for c in plan {
            let (Some(new), Some(old)) = (
                self.ops.get_mut(c.new as usize),
                old.ops.get(c.old as usize),
            ) else {
                continue;
            };
            let ok = match c.lanes {
                None => new.dsp.carry_from(&old.dsp),
                Some((to, from, n)) => {
                    new.dsp
                        .carry_lanes(&old.dsp, to as usize, from as usize, n as usize)
                }
            };
            carried += usize::from(ok);
        }
        carried
    }

    /// Named stems the graph renders.
    pub fn track_count(&self) -> usize {
        self.tracks.len()
    }

    /// Blocks for which a resting instrument was skipped, summed over instruments: the work
    /// sleeping saved.
    pub fn slept_blocks(&self) -> u64 {
        self.slept
    }

    /// Voice-blocks skipped in instruments whose voices sleep one by one (the `voices`
    /// pass): lanes above the highest voice that sounded, all of an instrument's lanes in a
    /// block it sleeps through, summed over blocks and instruments.
    pub fn lanes_slept(&self) -> u64 {
        self.lanes_slept
    }

    /// Number of DSP operations per block (for stats and tests).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl GraphMeta {
    /// Which running ops each op of this graph (compiled from `spec`) takes its state
    /// from: pairs of (op here, op of the graph compiled from `old` whose ops run
    /// `old_nodes`), matched by content (`matching.rs`). Computed on the control thread.
    pub fn carry_plan(
        &self,
        spec: &GraphSpec,
        old: &GraphSpec,
        old_nodes: &[OpOrigin],
    ) -> Vec<Carried> {
        super::matching::carry_plan(old, old_nodes, spec, &self.nodes)
    }
}

#[inline]
fn input<'a>(bufs: &'a [Vec<f32>], r: &InRef) -> In<'a> {
    r.read(bufs)
}

/// Copies the sequencer's outputs (`seq`, `s.full` lanes wide) into the group's view,
/// `s.active` lanes wide; when the width changed, repacks the per-lane constants too.
fn repack(bufs: &mut [Vec<f32>], seq: &[f32], s: &Sleep, changed: bool) {
    let (full, a) = (s.full, s.active);
    let mut view = std::mem::take(&mut bufs[s.view]);
    narrow(seq, &mut view, full, a, s.seq_outputs, s.ports);
    bufs[s.view] = view;
    if changed {
        for &(from, to) in &s.copies {
            let mut dst = std::mem::take(&mut bufs[to]);
            narrow(&bufs[from], &mut dst, full, a, 1, 1);
            bufs[to] = dst;
        }
    }
}

/// Copies the first `a` of `full` lanes of the outputs in `used` (bit per output, of
/// `outputs`) from `src` into `dst`, packed `a` lanes wide. Few lanes are the common case,
/// so short rows are copied by hand: a library copy per row of one or two values costs
/// more than the values.
fn narrow(src: &[f32], dst: &mut [f32], full: usize, a: usize, outputs: usize, used: u64) {
    if a == full {
        let n = BLOCK * full * outputs;
        dst[..n].copy_from_slice(&src[..n]);
        return;
    }
    for p in (0..outputs).filter(|&p| used & (1 << p.min(63)) != 0) {
        let src = &src[p * BLOCK * full..(p + 1) * BLOCK * full];
        let dst = &mut dst[p * BLOCK * a..(p + 1) * BLOCK * a];
        match a {
            0 => {}
            1 => {
                for (d, r) in dst.iter_mut().zip(src.iter().step_by(full)) {
                    *d = *r;
                }
            }
            _ => {
                for f in 0..BLOCK {
                    for l in 0..a {
                        dst[f * a + l] = src[f * full + l];
                    }
                }
            }
        }
    }
}

/// The lanes (bit per lane) of a mixdown's input that were heard this block: |voice ×
/// level| reached `SILENT` at some frame.
fn loud_lanes(ins: &Ins, lanes: usize) -> u64 {
    let (x, w) = (ins.get(0), ins.get(1));
    let mut loud = 0u64;
    for l in 0..lanes.min(64) {
        if (0..BLOCK).any(|f| (x.at(f, l) * w.at(f, l)).abs() >= SILENT) {
            loud |= 1 << l;
        }
    }
    loud
}
