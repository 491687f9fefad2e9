//! Cutting a runtime graph into two stages that offline render runs on two threads, one a
//! chunk of blocks ahead of the other; built on the control thread, run by the render
//! threads.
//!
//! Ops run in dependency order, so every prefix of them is a stage that needs nothing from
//! the ops after it. The second stage gets its own copy of the buffers and, before each
//! block, the values the first stage made that it reads (`carried`). Each op computes what
//! it computes in one thread, from the same inputs, so the two stages render the same
//! samples as the whole graph does.

use super::{Role, RuntimeGraph};
use crate::dsp::Ctx;
use std::time::Instant;

/// The graph cut in two: `first` runs ops before the cut, `second` the rest.
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

    /// Where the graph can be cut: after op `c - 1`, for each `c` returned. A cut may not
    /// split an instrument (its sequencer, voices and mixdown decide together whether it
    /// sleeps), nor a feedback loop, nor a graph that glides a parameter or follows an
    /// external clock (both change state across the whole graph from outside).
    pub fn cuts(&self) -> Vec<usize> {
        let n = self.ops.len();
        if self.ramps.iter().any(Option::is_some) || self.follow_clock || n < 2 {
            return Vec::new();
        }
        // Ops [lo, hi] that must stay together.
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let group_span = |g: u16, i: usize, spans: &mut Vec<(usize, usize)>| {
            let g = g as usize;
            if spans.len() <= g {
                spans.resize(g + 1, (usize::MAX, 0));
            }
            spans[g] = (spans[g].0.min(i), spans[g].1.max(i));
        };
        for (i, op) in self.ops.iter().enumerate() {
            match op.role {
                Role::Seq(g) | Role::Member(g) | Role::Closer(g) => group_span(g, i, &mut spans),
                Role::Plain => {}
            }
        }
        let writer = |buf: usize| self.ops.iter().position(|op| op.out == buf);
        for (src, dst) in &self.feedback {
            // The loop's source, and every op reading the value it feeds back.
            let mut lo = writer(src.buf as usize).unwrap_or(0);
            let mut hi = lo;
            for (i, op) in self.ops.iter().enumerate() {
                if op.ins.iter().any(|r| r.buf as usize == *dst) {
                    lo = lo.min(i);
                    hi = hi.max(i);
                }
            }
            spans.push((lo, hi));
        }
        (1..n)
            .filter(|&c| {
                spans
                    .iter()
                    .all(|&(lo, hi)| lo == usize::MAX || hi < c || lo >= c)
            })
            .collect()
    }

    /// Samples each cut in `cuts` would hand from the first stage to the second per block.
    pub fn handed_at(&self, cuts: &[usize]) -> Vec<usize> {
        // For each buffer an op writes: that op, and the last op (or the output) reading it.
        let n = self.ops.len();
        let mut writer = vec![usize::MAX; self.bufs.len()];
        let mut last_read = vec![0usize; self.bufs.len()];
        for (i, op) in self.ops.iter().enumerate() {
            writer[op.out] = i;
            for r in &op.ins {
                last_read[r.buf as usize] = last_read[r.buf as usize].max(i);
            }
        }
        for r in self.out.iter().chain(self.tracks.iter().flatten()) {
            last_read[r.buf as usize] = n;
        }
        cuts.iter()
            .map(|&c| {
                (0..self.bufs.len())
                    .filter(|&b| writer[b] < c && last_read[b] >= c)
                    .map(|b| self.bufs[b].len())
                    .sum()
            })
            .collect()
    }

    /// Cuts the graph before op `cut` (one of `cuts()`).
    pub fn split(mut self, cut: usize) -> Stages {
        let second_ops = self.ops.split_off(cut);
        let written: Vec<bool> = {
            let mut w = vec![false; self.bufs.len()];
            for op in &self.ops {
                w[op.out] = true;
            }
            for (g, s) in self.sleep.iter().enumerate() {
                if s.dynamic && self.ops.iter().any(|op| op.role == Role::Seq(g as u16)) {
                    w[s.view] = true;
                    for &(_, to) in &s.copies {
                        w[to] = true;
                    }
                }
            }
            w
        };
        let mut read = vec![false; self.bufs.len()];
        for op in &second_ops {
            for r in &op.ins {
                read[r.buf as usize] = true;
            }
            for d in &op.dynamic {
                read[d.buf as usize] = true;
            }
        }
        for r in self.out.iter().chain(self.tracks.iter().flatten()) {
            read[r.buf as usize] = true;
        }
        for (src, _) in &self.feedback {
            read[src.buf as usize] = true;
        }
        let carried: Vec<usize> = (0..self.bufs.len())
            .filter(|&b| written[b] && read[b])
            .collect();
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
            ops: second_ops,
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
        for &b in carried {
            let src = &first.bufs[b];
            dst[at..at + src.len()].copy_from_slice(src);
            at += src.len();
        }
    }

    /// Puts a block handed over by `hand` into the second stage's buffers.
    pub fn take(second: &mut RuntimeGraph, carried: &[usize], src: &[f32]) {
        let mut at = 0;
        for &b in carried {
            let dst = &mut second.bufs[b];
            let n = dst.len();
            dst.copy_from_slice(&src[at..at + n]);
            at += n;
        }
    }

    /// The two stages and the buffers between them, for the two threads.
    pub fn into_parts(self) -> (RuntimeGraph, RuntimeGraph, Vec<usize>) {
        (self.first, self.second, self.carried)
    }
}

/// The cut that best balances the two stages. `costs` per op (seconds per block), `tail`
/// the work the second stage's thread does besides its ops (writing the file), and for
/// each of `cuts` the cost of handing its buffers over (paid by both threads). Returns the
/// cut and the time per block it expects (the slower stage), or `None` when no cut beats
/// running the whole graph on one thread by at least `min_gain` (a fraction).
pub fn best_cut(
    cuts: &[usize],
    hand: &[f64],
    costs: &[f64],
    tail: f64,
    min_gain: f64,
) -> Option<(usize, f64)> {
    let total: f64 = costs.iter().sum::<f64>() + tail;
    let mut prefix = vec![0.0; costs.len() + 1];
    for (i, c) in costs.iter().enumerate() {
        prefix[i + 1] = prefix[i] + c;
    }
    let (cut, slowest) = cuts
        .iter()
        .zip(hand)
        .filter(|&(&c, _)| c < prefix.len())
        .map(|(&c, &h)| (c, (prefix[c] + h).max(total - prefix[c] + h)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    (slowest < total * (1.0 - min_gain)).then_some((cut, slowest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_cut_balances_and_refuses_small_gains() {
        let costs = [1.0, 1.0, 1.0, 1.0];
        let free = [0.0; 3];
        assert_eq!(
            best_cut(&[1, 2, 3], &free, &costs, 0.0, 0.1),
            Some((2, 2.0))
        );
        // The writer's share moves the cut later.
        assert_eq!(
            best_cut(&[1, 2, 3], &free, &costs, 2.0, 0.1),
            Some((3, 3.0))
        );
        // A costly hand-over moves it to where less is handed.
        let hand = [1.5, 1.5, 0.0];
        assert_eq!(
            best_cut(&[1, 2, 3], &hand, &costs, 0.0, 0.1),
            Some((3, 3.0))
        );
        // One op does nearly everything: nothing to gain.
        assert_eq!(best_cut(&[1, 2], &free, &[10.0, 0.1, 0.1], 0.0, 0.1), None);
        assert_eq!(best_cut(&[], &free, &costs, 0.0, 0.1), None);
    }
}
