//! Control signals: envelopes, ramps, the metronome and smoothing; run on the audio thread.

use super::{BLOCK, Ctx, In};

/// Seconds to frames, never below one frame, so a zero-length stage still moves on.
#[inline]
fn frames(secs: f32, sr: f32) -> f32 {
    (secs * sr).max(1.0)
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Stage {
    Idle,
    Attack,
    Decay,
    Sustain,
    Release,
}

/// Linear attack/decay/sustain/release driven by a gate (> 0 is on).
///
/// Stages are linear because the benchmark and most trackers define them that way, and a
/// linear stage lands exactly at its time, which tests can check to the sample.
pub struct Adsr {
    level: Vec<f32>,
    stage: Vec<Stage>,
    release_step: Vec<f32>,
    gate_on: Vec<bool>,
}

impl Adsr {
    pub fn new(lanes: usize) -> Self {
        Adsr {
            level: vec![0.0; lanes],
            stage: vec![Stage::Idle; lanes],
            release_step: vec![0.0; lanes],
            gate_on: vec![false; lanes],
        }
    }

    pub fn process(&mut self, ctx: &Ctx, ins: AdsrIn, out: &mut [f32], lanes: usize) {
        let AdsrIn { gate, a, d, s, r } = ins;
        let sr = ctx.sample_rate;
        for l in 0..lanes {
            // Resting (idle with the gate off, or sustaining a fixed level with it on) with
            // no gate change in the block: a fill, no per-frame stage machine.
            let on = gate.at(0, l) > 0.0;
            let resting = on == self.gate_on[l]
                && match self.stage[l] {
                    Stage::Idle => !on,
                    Stage::Sustain => on && s.konst.is_some(),
                    _ => false,
                };
            if resting && (1..BLOCK).all(|f| (gate.at(f, l) > 0.0) == on) {
                let v = match self.stage[l] {
                    Stage::Sustain => s.konst.unwrap_or(0.0).clamp(0.0, 1.0),
                    _ => 0.0,
                };
                self.level[l] = v;
                for f in 0..BLOCK {
                    out[f * lanes + l] = v;
                }
                continue;
            }
            // Constant times: the per-frame steps are the same numbers every frame, made
            // once (the same divisions, so the same values).
            let steps = match (a.konst, d.konst, s.konst) {
                (Some(av), Some(dv), Some(sv)) => {
                    let sus = sv.clamp(0.0, 1.0);
                    Some((1.0 / frames(av, sr), (1.0 - sus) / frames(dv, sr)))
                }
                _ => None,
            };
            // The lane's state lives in locals for the block (stored back after), so the
            // stage machine runs in registers rather than through the vectors.
            let (mut lv, mut stage, mut release_step, mut gate_on) = (
                self.level[l],
                self.stage[l],
                self.release_step[l],
                self.gate_on[l],
            );
            for f in 0..BLOCK {
                let on = gate.at(f, l) > 0.0;
                let sus = s.at(f, l).clamp(0.0, 1.0);
                if on && !gate_on {
                    stage = Stage::Attack;
                } else if !on && gate_on {
                    stage = Stage::Release;
                    release_step = lv / frames(r.at(f, l), sr);
                }
                gate_on = on;
                match stage {
                    Stage::Idle => lv = 0.0,
                    Stage::Attack => {
                        lv += match steps {
                            Some((up, _)) => up,
                            None => 1.0 / frames(a.at(f, l), sr),
                        };
                        if lv >= 1.0 {
                            lv = 1.0;
                            stage = Stage::Decay;
                        }
                    }
                    Stage::Decay => {
                        lv -= match steps {
                            Some((_, down)) => down,
                            None => (1.0 - sus) / frames(d.at(f, l), sr),
                        };
                        if lv <= sus {
                            lv = sus;
                            stage = Stage::Sustain;
                        }
                    }
                    Stage::Sustain => lv = sus,
                    Stage::Release => {
                        lv -= release_step;
                        if lv <= 0.0 {
                            lv = 0.0;
                            stage = Stage::Idle;
                        }
                    }
                }
                out[f * lanes + l] = lv;
            }
            self.level[l] = lv;
            self.stage[l] = stage;
            self.release_step[l] = release_step;
            self.gate_on[l] = gate_on;
        }
    }
}

/// Percussive envelope: a rising gate (or trigger) starts a linear attack to 1, then a
/// curved fall to 0 (SuperCollider's `Env.perc` curve of -4, which sounds natural on drums).
pub struct Perc {
    /// Frames since the last trigger; `u32::MAX` while idle.
    age: Vec<u32>,
    gate_on: Vec<bool>,
    /// Level when the trigger came, so a retrigger ramps up from there instead of clicking.
    start: Vec<f32>,
    level: Vec<f32>,
}

const PERC_CURVE: f32 = -4.0;
/// `PERC_CURVE` for `fast_exp2`: e^(c·x) = 2^(c·log2(e)·x).
const PERC_C: f32 = PERC_CURVE * std::f32::consts::LOG2_E;

impl Perc {
    pub fn new(lanes: usize) -> Self {
        Perc {
            age: vec![u32::MAX; lanes],
            gate_on: vec![false; lanes],
            start: vec![0.0; lanes],
            level: vec![0.0; lanes],
        }
    }

    pub fn process(&mut self, ctx: &Ctx, gate: In, a: In, r: In, out: &mut [f32], lanes: usize) {
        let sr = ctx.sample_rate;
        match (a.konst, r.konst) {
            // Constant times (the usual case): one factor steps the decay between exact
            // points, and the compiler drops the per-frame reads.
            (Some(av), Some(rv)) => {
                let (att, rel) = (frames(av, sr), frames(rv, sr));
                let k = super::math::fast_exp2(PERC_C / rel);
                self.run(gate, |_, _| (att, rel), Some(k), out, lanes);
            }
            _ => self.run(
                gate,
                |f, l| (frames(a.at(f, l), sr), frames(r.at(f, l), sr)),
                None,
                out,
                lanes,
            ),
        }
    }

    /// The decay is 1 - (1 - e^(c·x)) / (1 - e^c) for x from 0 to 1. e^(c·x) is taken exactly
    /// (as a branch-free 2^y) where a decay starts or a block begins, and, with constant
    /// times, stepped by the factor `k` per frame in between: no libm call per sample, at
    /// most a block's worth of rounding (about 4e-6 of the level). With modulated times it
    /// is taken exactly every frame. Each lane's state is held in locals for the block; a
    /// lane idle with no rising gate in the block is a fill.
    #[inline(always)]
    fn run(
        &mut self,
        gate: In,
        times: impl Fn(usize, usize) -> (f32, f32),
        k: Option<f32>,
        out: &mut [f32],
        lanes: usize,
    ) {
        let inv_denom = 1.0 / (1.0 - PERC_CURVE.exp());
        for l in 0..lanes {
            let mut on_before = self.gate_on[l];
            let mut age = self.age[l];
            if age == u32::MAX {
                let mut rises = false;
                for f in 0..BLOCK {
                    let on = gate.at(f, l) > 0.0;
                    rises |= on && !on_before;
                    on_before = on;
                }
                if !rises {
                    self.gate_on[l] = on_before;
                    self.level[l] = 0.0;
                    for f in 0..BLOCK {
                        out[f * lanes + l] = 0.0;
                    }
                    continue;
                }
                on_before = self.gate_on[l];
            }
            let mut start = self.start[l];
            let mut level = self.level[l];
            let mut decay: Option<f32> = None;
            for f in 0..BLOCK {
                let on = gate.at(f, l) > 0.0;
                if on && !on_before {
                    age = 0;
                    start = level;
                    decay = None;
                }
                on_before = on;
                let v = if age == u32::MAX {
                    0.0
                } else {
                    let (att, rel) = times(f, l);
                    let t = age as f32;
                    age = age.saturating_add(1);
                    if t < att {
                        start + (1.0 - start) * (t / att)
                    } else if t < att + rel {
                        let e = match (decay, k) {
                            (Some(e), Some(k)) => e * k,
                            _ => super::math::fast_exp2(PERC_C * (t - att) / rel),
                        };
                        decay = Some(e);
                        1.0 - (1.0 - e) * inv_denom
                    } else {
                        age = u32::MAX;
                        0.0
                    }
                };
                level = v;
                out[f * lanes + l] = v;
            }
            self.age[l] = age;
            self.gate_on[l] = on_before;
            self.start[l] = start;
            self.level[l] = level;
        }
    }
}

/// Linear ramp from `from` to `to` over `secs`, then holds `to`. Starts with the piece.
pub struct Line {
    age: Vec<u64>,
    trig_on: Vec<bool>,
}

impl Line {
    pub fn new(lanes: usize) -> Self {
        Line {
            age: vec![0; lanes],
            trig_on: vec![false; lanes],
        }
    }

    /// `trig` restarts the ramp on each rising edge (a note inside an instrument); with no
    /// trigger connected it runs once from the start of the piece.
    pub fn process(&mut self, ctx: &Ctx, ins: LineIn, out: &mut [f32], lanes: usize) {
        let LineIn {
            from,
            to,
            secs,
            trig,
        } = ins;
        let sr = ctx.sample_rate;
        let triggered = trig.konst != Some(0.0);
        if let (Some(a), Some(b), Some(secs)) = (from.konst, to.konst, secs.konst) {
            // Constant ends and length (the usual case): no division per frame, and a lane
            // whose ramp is over and sees no trigger is a plain fill.
            let len = (secs * sr).max(0.0) as u64;
            let step = if len > 0 { (b - a) / len as f32 } else { 0.0 };
            for l in 0..lanes {
                let fires = triggered && (0..BLOCK).any(|f| trig.at(f, l) > 0.0);
                if !fires && self.age[l] >= len {
                    for f in 0..BLOCK {
                        out[f * lanes + l] = b;
                    }
                    self.trig_on[l] = false;
                    self.age[l] = self.age[l].saturating_add(BLOCK as u64);
                    continue;
                }
                let mut age = self.age[l];
                let mut on_before = self.trig_on[l];
                for f in 0..BLOCK {
                    if fires {
                        let on = trig.at(f, l) > 0.0;
                        if on && !on_before {
                            age = 0;
                        }
                        on_before = on;
                    }
                    out[f * lanes + l] = if age >= len { b } else { a + step * age as f32 };
                    age = age.saturating_add(1);
                }
                self.age[l] = age;
                self.trig_on[l] = on_before;
            }
            return;
        }
        for f in 0..BLOCK {
            for l in 0..lanes {
                if triggered {
                    let on = trig.at(f, l) > 0.0;
                    if on && !self.trig_on[l] {
                        self.age[l] = 0;
                    }
                    self.trig_on[l] = on;
                }
                // The same arithmetic as the constant case, so a ramp does not depend on
                // whether its numbers are shared or per voice.
                let len = (secs.at(f, l) * sr).max(0.0) as u64;
                let age = self.age[l];
                let (a, b) = (from.at(f, l), to.at(f, l));
                out[f * lanes + l] = if age >= len {
                    b
                } else {
                    a + (b - a) / len as f32 * age as f32
                };
                self.age[l] = self.age[l].saturating_add(1);
            }
        }
    }
}

/// A one-frame trigger every `beats` beats, on the transport's grid.
///
/// With a constant period the trigger positions come from the transport frame itself, not
/// from a counter, so they are sample-exact however long the piece runs.
pub struct Metro {
    phase: Vec<f64>,
}

impl Metro {
    pub fn new(lanes: usize) -> Self {
        Metro {
            phase: vec![0.0; lanes],
        }
    }

    pub fn process(&mut self, ctx: &Ctx, beats: In, out: &mut [f32], lanes: usize) {
        if !ctx.running {
            // A stopped transport (an external clock's Stop) holds every metronome.
            out[..BLOCK * lanes].fill(0.0);
            return;
        }
        if let Some(b) = beats.konst {
            let period = (b as f64 * ctx.frames_per_beat).max(1.0);
            // Counted on the transport's beat line (exact frames at a fixed tempo).
            let shift = ctx.shift();
            for f in 0..BLOCK {
                let frame = ctx.frame + f as u64;
                let x = frame as f64 - shift;
                let now = (x / period).floor();
                let hit = x >= 0.0 && (frame == 0 || x < 1.0 || now > ((x - 1.0) / period).floor());
                let v = if hit { 1.0 } else { 0.0 };
                out[f * lanes..(f + 1) * lanes].fill(v);
            }
            return;
        }
        for f in 0..BLOCK {
            for l in 0..lanes {
                let period = (beats.at(f, l) as f64 * ctx.frames_per_beat).max(1.0);
                // The first frame of the piece always triggers, like a conductor's downbeat.
                let hit = if ctx.frame == 0 && f == 0 {
                    self.phase[l] = 0.0;
                    true
                } else {
                    let p = self.phase[l] + 1.0 / period;
                    self.phase[l] = p.fract();
                    p >= 1.0
                };
                out[f * lanes + l] = if hit { 1.0 } else { 0.0 };
            }
        }
    }
}

/// One-pole lag: reaches ~63 % of a step in `secs`. Zero or negative time passes through.
pub struct Smooth {
    y: Vec<f32>,
    primed: bool,
}

impl Smooth {
    pub fn new(lanes: usize) -> Self {
        Smooth {
            y: vec![0.0; lanes],
            primed: false,
        }
    }

    pub fn process(&mut self, ctx: &Ctx, input: In, secs: In, out: &mut [f32], lanes: usize) {
        if !self.primed {
            // Start at the first value instead of gliding up from zero.
            for l in 0..lanes {
                self.y[l] = input.at(0, l);
            }
            self.primed = true;
        }
        for f in 0..BLOCK {
            for l in 0..lanes {
                let x = input.at(f, l);
                let t = secs.at(f, l) * ctx.sample_rate;
                let y = &mut self.y[l];
                if t <= 1e-3 {
                    *y = x;
                } else {
                    *y += (x - *y) * (1.0 - (-1.0 / t).exp());
                }
                if !y.is_finite() {
                    *y = 0.0;
                }
                out[f * lanes + l] = *y;
            }
        }
    }
}
impl super::Carry for Adsr {
    fn carry_from(&mut self, old: &Self) -> bool {
        super::copy_lanes(&mut self.level, &old.level)
            && super::copy_lanes(&mut self.stage, &old.stage)
            && super::copy_lanes(&mut self.release_step, &old.release_step)
            && super::copy_lanes(&mut self.gate_on, &old.gate_on)
    }

    fn carry_lanes(&mut self, old: &Self, to: usize, from: usize, n: usize) -> bool {
        super::copy_range(&mut self.level, &old.level, to, from, n)
            && super::copy_range(&mut self.stage, &old.stage, to, from, n)
            && super::copy_range(&mut self.release_step, &old.release_step, to, from, n)
            && super::copy_range(&mut self.gate_on, &old.gate_on, to, from, n)
    }
}

impl super::Carry for Perc {
    fn carry_from(&mut self, old: &Self) -> bool {
        super::copy_lanes(&mut self.age, &old.age)
            && super::copy_lanes(&mut self.gate_on, &old.gate_on)
            && super::copy_lanes(&mut self.start, &old.start)
            && super::copy_lanes(&mut self.level, &old.level)
    }

    fn carry_lanes(&mut self, old: &Self, to: usize, from: usize, n: usize) -> bool {
        super::copy_range(&mut self.age, &old.age, to, from, n)
            && super::copy_range(&mut self.gate_on, &old.gate_on, to, from, n)
            && super::copy_range(&mut self.start, &old.start, to, from, n)
            && super::copy_range(&mut self.level, &old.level, to, from, n)
    }
}

impl super::Carry for Line {
    fn carry_from(&mut self, old: &Self) -> bool {
        super::copy_lanes(&mut self.age, &old.age)
            && super::copy_lanes(&mut self.trig_on, &old.trig_on)
    }

    fn carry_lanes(&mut self, old: &Self, to: usize, from: usize, n: usize) -> bool {
        super::copy_range(&mut self.age, &old.age, to, from, n)
            && super::copy_range(&mut self.trig_on, &old.trig_on, to, from, n)
    }
}

impl super::Carry for Metro {
    fn carry_from(&mut self, old: &Self) -> bool {
        super::copy_lanes(&mut self.phase, &old.phase)
    }
}

impl super::Carry for Smooth {
    fn carry_from(&mut self, old: &Self) -> bool {
        self.primed = old.primed;
        super::copy_lanes(&mut self.y, &old.y)
    }

    fn carry_lanes(&mut self, old: &Self, to: usize, from: usize, n: usize) -> bool {
        self.primed |= old.primed;
        super::copy_range(&mut self.y, &old.y, to, from, n)
    }
}

crate::node_inputs! {
    pub struct AdsrIn { gate, a, d, s, r }
}

crate::node_inputs! {
    pub struct PercIn { gate, a, r }
}

crate::node_inputs! {
    /// `trig` is connected inside an instrument only: the note that restarts the ramp.
    pub struct LineIn { from, to, secs, trig }
}

crate::node_inputs! {
    pub struct MetroIn { beats }
}

crate::node_inputs! {
    pub struct SmoothIn { x, secs }
}

impl super::Node for Adsr {
    type Inputs<'a> = AdsrIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: AdsrIn, out: &mut [f32], lanes: usize) {
        Adsr::process(self, ctx, ins, out, lanes)
    }
}

impl super::Node for Perc {
    type Inputs<'a> = PercIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: PercIn, out: &mut [f32], lanes: usize) {
        Perc::process(self, ctx, ins.gate, ins.a, ins.r, out, lanes)
    }
}

impl super::Node for Line {
    type Inputs<'a> = LineIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: LineIn, out: &mut [f32], lanes: usize) {
        Line::process(self, ctx, ins, out, lanes)
    }
}

impl super::Node for Metro {
    type Inputs<'a> = MetroIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: MetroIn, out: &mut [f32], lanes: usize) {
        Metro::process(self, ctx, ins.beats, out, lanes)
    }
}

impl super::Node for Smooth {
    type Inputs<'a> = SmoothIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: SmoothIn, out: &mut [f32], lanes: usize) {
        Smooth::process(self, ctx, ins.x, ins.secs, out, lanes)
    }
}
