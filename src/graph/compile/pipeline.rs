//! Cutting a runtime graph into two stages that offline render runs on two threads, one a
//! chunk of blocks ahead of the other; built on the control thread, run by the render
//! threads.
//!
//! The first stage runs ops that need nothing from the second (every op it runs has what it
//! reads made in it), each stage in the graph's processing order. The second stage gets its own copy of the buffers and, before each
//! block, the values the first stage made that it reads (`carried`). Each op computes what
//! it computes in one thread, from the same inputs, so the two stages render the same
//! samples as the whole graph does.

use super::{Role, RuntimeGraph};
use crate::dsp::Ctx;
use std::time::Instant;

/// The graph split in two: `first` runs some ops, `second` the rest.
pub struct Stages {
    pub first: RuntimeGraph,
    pub second: RuntimeGraph,
    /// Buffers `first` writes that `second` reads, handed over after every block.
    carried: Vec<usize>,
}

impl RuntimeGraph {
    /// Renders one block and adds the time each op took to `costs` (seconds, one per op).
    pub fn process_block_timed(
        &mut self,
        ctx: &Ctx,
        left: &mut [f32],
        right: &mut [f32],
        costs: &mut [f64],
    ) {
        let mut last = Instant::now();
        self.run_block(ctx, left, right, |i| {
            let now = Instant::now();
            if let Some(c) = costs.get_mut(i) {
                *c += (now - last).as_secs_f64();
            }
            last = now;
        });
    }

    /// Ops that must run on one thread together, as a unit number per op; `None` when the
    /// graph may not be split at all. An instrument's sequencer, voices and mixdown decide
    /// together whether it sleeps; a feedback loop's source and its readers share the value
    /// copied at the end of the block. A graph gliding a parameter or following an external
    /// clock is changed from outside as a whole.
    fn units(&self) -> Option<Vec<usize>> {
        let n = self.ops.len();
        if self.ramps.iter().any(Option::is_some) || self.follow_clock || n < 2 {
            return None;
        }
        let mut unit: Vec<usize> = (0..n).collect();
        fn root(unit: &mut [usize], mut i: usize) -> usize {
            while unit[i] != i {
                unit[i] = unit[unit[i]];
                i = unit[i];
            }
            i
        }
        let join = |unit: &mut Vec<usize>, a: usize, b: usize| {
            let (ra, rb) = (root(unit, a), root(unit, b));
            unit[ra.max(rb)] = ra.min(rb);
        };
        let mut first_of_group: Vec<Option<usize>> = vec![None; self.sleep.len()];
        for (i, op) in self.ops.iter().enumerate() {
            if let Role::Seq(g) | Role::Member(g) | Role::Closer(g) = op.role {
                match first_of_group.get_mut(g as usize) {
                    Some(Some(f)) => join(&mut unit, *f, i),
                    Some(slot) => *slot = Some(i),
                    None => {}
                }
            }
        }
        for (src, dst) in &self.feedback {
            let Some(w) = self.ops.iter().position(|op| op.out == src.buf as usize) else {
                continue;
            };
            for (i, op) in self.ops.iter().enumerate() {
                if op.ins.iter().any(|r| r.buf as usize == *dst) {
                    join(&mut unit, w, i);
                }
            }
        }
        Some((0..n).map(|i| root(&mut unit, i)).collect())
    }

    /// For each op, the ops whose outputs it reads.
    fn preds(&self) -> Vec<Vec<usize>> {
        let mut writer = vec![usize::MAX; self.bufs.len()];
        for (i, op) in self.ops.iter().enumerate() {
            writer[op.out] = i;
        }
        self.ops
            .iter()
            .map(|op| {
                let mut p: Vec<usize> = op
                    .ins
                    .iter()
                    .map(|r| writer[r.buf as usize])
                    .filter(|&w| w != usize::MAX)
                    .collect();
                p.sort_unstable();
                p.dedup();
                p
            })
            .collect()
    }

    /// Ways to split the graph: for each, which ops the first stage runs. Every cut of the
    /// processing order that keeps units whole, and, given each op's cost, the first stage
    /// grown unit by unit (with whatever each needs) towards half the work, which finds the
    /// independent parts a cut of one order cannot (W3's kick and bass against its snare,
    /// hats and effects).
    /// `costs` is each op's time per block and the second thread's other work (`tail`).
    pub fn splits(&self, costs: Option<(&[f64], f64)>) -> Vec<Vec<bool>> {
        let Some(unit) = self.units() else {
            return Vec::new();
        };
        let n = self.ops.len();
        let mut out: Vec<Vec<bool>> = (1..n)
            // A unit is numbered by its first op: none after the cut may start before it.
            .filter(|&c| (c..n).all(|i| unit[i] >= c))
            .map(|c| (0..n).map(|i| i < c).collect())
            .collect();
        // Growing the first stage costs (units × ops) per step, and a step per unit added:
        // only for graphs of a size scripts have, not for generated giants.
        if let Some((costs, tail)) = costs.filter(|c| c.0.len() == n && n <= 256) {
            let grown = self.grow(&unit, costs, tail);
            if grown.iter().any(|&f| f) && grown.iter().any(|&f| !f) && !out.contains(&grown) {
                out.push(grown);
            }
        }
        out
    }

    /// The first stage grown greedily: each step adds the unit (with every op it needs)
    /// that brings the stage closest to half the total cost without passing it.
    fn grow(&self, unit: &[usize], costs: &[f64], tail: f64) -> Vec<bool> {
        let n = self.ops.len();
        let preds = self.preds();
        let half = (costs.iter().sum::<f64>() + tail) / 2.0;
        let mut members = vec![Vec::new(); n];
        for (i, &u) in unit.iter().enumerate() {
            members[u].push(i);
        }
        let mut first = vec![false; n];
        let mut have = 0.0;
        loop {
            let mut best: Option<(f64, Vec<bool>)> = None;
            for u in (0..n).filter(|&i| unit[i] == i && !first[i]) {
                // The unit and everything it needs, closed over units.
                let mut take = first.clone();
                let mut stack = members[u].clone();
                while let Some(i) = stack.pop() {
                    if take[i] {
                        continue;
                    }
                    take[i] = true;
                    stack.extend(preds[i].iter().copied().filter(|&p| !take[p]));
                    stack.extend(members[unit[i]].iter().copied().filter(|&j| !take[j]));
                }
                let cost: f64 = (0..n).filter(|&i| take[i]).map(|i| costs[i]).sum();
                if cost > have && cost <= half && best.as_ref().is_none_or(|b| cost > b.0) {
                    best = Some((cost, take));
                }
            }
            match best {
                Some((cost, take)) => {
                    have = cost;
                    first = take;
                }
                None => return first,
            }
        }
    }

    /// Samples the first stage hands the second per block when it runs the ops in `first`.
    pub fn handed_by(&self, first: &[bool]) -> usize {
        self.carried_by(first)
            .iter()
            .map(|&b| self.bufs[b].len())
            .sum()
    }

    /// Buffers made by the ops in `first` (or by their instruments' repacking) that the
    /// other ops, the outputs or a feedback loop of the other side read.
    fn carried_by(&self, first: &[bool]) -> Vec<usize> {
        let mut written = vec![false; self.bufs.len()];
        let mut read = vec![false; self.bufs.len()];
        for (op, &f) in self.ops.iter().zip(first) {
            if f {
                written[op.out] = true;
                if let Role::Seq(g) = op.role
                    && let Some(s) = self.sleep.get(g as usize).filter(|s| s.dynamic)
                {
                    written[s.view] = true;
                    for &(_, to) in &s.copies {
                        written[to] = true;
                    }
                }
            } else {
                for r in &op.ins {
                    read[r.buf as usize] = true;
                }
                for d in &op.dynamic {
                    read[d.buf as usize] = true;
                }
            }
        }
        for r in self.out.iter().chain(self.tracks.iter().flatten()) {
            read[r.buf as usize] = true;
        }
        (0..self.bufs.len())
            .filter(|&b| written[b] && read[b])
            .collect()
    }

    /// Splits the graph: the ops in `first` (one of `splits()`) run in the first stage, the
    /// others in the second, each in processing order.
    pub fn split(mut self, first: &[bool]) -> Stages {
        let carried = self.carried_by(first);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (op, &f) in std::mem::take(&mut self.ops).into_iter().zip(first) {
            if f { a.push(op) } else { b.push(op) }
        }
        self.ops = a;
        // Each feedback loop runs where its source is made.
        let (first_fb, second_fb) = self
            .feedback
            .iter()
            .partition(|(src, _)| self.ops.iter().any(|op| op.out == src.buf as usize));
        let second = RuntimeGraph {
            ramps: [None; super::MAX_RAMPS],
            sleep: self.sleep.clone(),
            slept: 0,
            lanes_slept: 0,
            bufs: self.bufs.clone(),
            ops: b,
            feedback: second_fb,
            out: self.out,
            tracks: self.tracks.clone(),
            track_slots: self.track_slots.clone(),
            tempo_bpm: self.tempo_bpm,
            follow_clock: self.follow_clock,
            duration: self.duration,
            monitors: self.monitors.clone(),
        };
        self.feedback = first_fb;
        Stages {
            first: self,
            second,
            carried,
        }
    }
}

impl Stages {
    /// Samples handed over per block: the carried buffers' lengths, summed.
    pub fn handed(graph: &RuntimeGraph, carried: &[usize]) -> usize {
        carried.iter().map(|&b| graph.bufs[b].len()).sum()
    }

    /// Copies what the first stage made this block into `dst` (`handed` samples).
    pub fn hand(first: &RuntimeGraph, carried: &[usize], dst: &mut [f32]) {
        let mut at = 0;
        Self::hand_with(first, carried, |src| {
            dst[at..at + src.len()].copy_from_slice(src);
            at += src.len();
        });
    }

    /// Gives `send` each buffer the first stage hands over this block, in order.
    pub fn hand_with(first: &RuntimeGraph, carried: &[usize], mut send: impl FnMut(&[f32])) {
        for &b in carried {
            send(&first.bufs[b]);
        }
    }

    /// Puts a block handed over by `hand` into the second stage's buffers.
    pub fn take(second: &mut RuntimeGraph, carried: &[usize], src: &[f32]) {
        let mut at = 0;
        Self::take_with(second, carried, |dst| {
            dst.copy_from_slice(&src[at..at + dst.len()]);
            at += dst.len();
        });
    }

    /// Lets `fill` write each buffer handed to the second stage, in the order of `hand_with`.
    pub fn take_with(
        second: &mut RuntimeGraph,
        carried: &[usize],
        mut fill: impl FnMut(&mut [f32]),
    ) {
        for &b in carried {
            fill(&mut second.bufs[b]);
        }
    }

    /// The two stages and the buffers between them, for the two threads.
    pub fn into_parts(self) -> (RuntimeGraph, RuntimeGraph, Vec<usize>) {
        (self.first, self.second, self.carried)
    }
}

/// The split that best balances the two stages. `costs` per op (seconds per block), `tail`
/// the work the second stage's thread does besides its ops (writing the file), `hand` for
/// each of `splits` the cost of handing its buffers over (paid by both threads). Returns
/// the index of the split and the time per block it expects (the slower stage), or `None`
/// when none beats the whole graph on one thread by at least `min_gain` (a fraction).
pub fn best_split(
    splits: &[Vec<bool>],
    hand: &[f64],
    costs: &[f64],
    tail: f64,
    min_gain: f64,
) -> Option<(usize, f64)> {
    let total: f64 = costs.iter().sum::<f64>() + tail;
    let (best, slowest) = splits
        .iter()
        .zip(hand)
        .enumerate()
        .map(|(k, (first, &h))| {
            let a: f64 = costs
                .iter()
                .zip(first)
                .filter(|(_, f)| **f)
                .map(|(c, _)| c)
                .sum();
            (k, (a + h).max(total - a + h))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    (slowest < total * (1.0 - min_gain)).then_some((best, slowest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(c: usize, n: usize) -> Vec<bool> {
        (0..n).map(|i| i < c).collect()
    }

    #[test]
    fn best_split_balances_and_refuses_small_gains() {
        let costs = [1.0, 1.0, 1.0, 1.0];
        let splits: Vec<Vec<bool>> = (1..4).map(|c| prefix(c, 4)).collect();
        let free = [0.0; 3];
        assert_eq!(best_split(&splits, &free, &costs, 0.0, 0.1), Some((1, 2.0)));
        // The writer's share moves the cut later.
        assert_eq!(best_split(&splits, &free, &costs, 2.0, 0.1), Some((2, 3.0)));
        // A costly hand-over moves it to where less is handed.
        let hand = [1.5, 1.5, 0.0];
        assert_eq!(best_split(&splits, &hand, &costs, 0.0, 0.1), Some((2, 3.0)));
        // One op does nearly everything: nothing to gain.
        let one = [prefix(1, 3), prefix(2, 3)];
        assert_eq!(best_split(&one, &free, &[10.0, 0.1, 0.1], 0.0, 0.1), None);
        assert_eq!(best_split(&[], &free, &costs, 0.0, 0.1), None);
    }
}
