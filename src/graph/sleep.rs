//! Which nodes of a pattern instrument may sleep while its voices are silent: worked out on
//! the control thread when a graph is compiled, applied by the audio thread.
//!
//! A drum hit sounds for a fraction of its step; SuperCollider frees such a synth when its
//! envelope ends. Here the instrument's template stays in the graph, so instead its nodes
//! are skipped for every block in which no voice is playing or ringing: the sequencer sees
//! no gate, no note starting, no fade, and the instrument's mixdown was silent for the
//! whole block before. A skipped node's state holds still, as a freed synth's would be
//! gone; the next note starts it again.

use super::{GraphSpec, Input, NodeKind};
use std::collections::HashSet;

/// One instrument that may sleep: its sequencer node, the nodes it drives, and the nodes
/// that mix its voices down (one per channel).
#[derive(Debug, PartialEq)]
pub struct SleepGroup {
    pub seq: usize,
    pub members: Vec<usize>,
    pub closers: Vec<usize>,
}

/// Nodes whose output depends only on constants and their own running (no event, no
/// envelope): a shared oscillator or noise feeding an instrument keeps the instrument
/// silent while its own envelope is closed.
fn free_running(spec: &GraphSpec, n: usize, memo: &mut Vec<Option<bool>>, depth: usize) -> bool {
    if let Some(v) = memo[n] {
        return v;
    }
    let node = &spec.nodes[n];
    let kind_ok = node.kind.runs_free();
    let ok = kind_ok
        && depth < 64
        && node.inputs.iter().all(|i| match i {
            Input::Const(_) => true,
            Input::Port(p) => free_running(spec, p.node as usize, memo, depth + 1),
        });
    memo[n] = Some(ok);
    ok
}

/// Echoes and reverb tails outlive a silent block; a metronome ticks on its own.
fn holds_sound(kind: &NodeKind) -> bool {
    kind.holds_sound()
}

/// Instruments whose nodes can be skipped while silent, and only those for which skipping
/// cannot change what is heard.
pub fn sleep_groups(spec: &GraphSpec) -> Vec<SleepGroup> {
    let n = spec.nodes.len();
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, node) in spec.nodes.iter().enumerate() {
        for inp in &node.inputs {
            if let Input::Port(p) = inp {
                consumers[p.node as usize].push(i);
            }
        }
    }
    let mut roots: HashSet<usize> = HashSet::new();
    for inp in spec
        .out
        .iter()
        .chain(spec.tracks.iter().flat_map(|(_, ins)| ins.iter()))
    {
        if let Input::Port(p) = inp {
            roots.insert(p.node as usize);
        }
    }
    let mut memo = vec![None; n];
    let mut groups = Vec::new();
    for (s, node) in spec.nodes.iter().enumerate() {
        if !matches!(node.kind, NodeKind::Seq(_) | NodeKind::MidiNotes(_)) {
            continue;
        }
        // The mixdowns weighted by this sequencer's voice levels.
        let closers: Vec<usize> = consumers[s]
            .iter()
            .copied()
            .filter(|&c| {
                spec.nodes[c].kind == NodeKind::LaneSum
                    && matches!(spec.nodes[c].inputs.get(1), Some(Input::Port(p)) if p.node as usize == s)
            })
            .collect();
        if closers.is_empty() {
            continue;
        }
        // Everything the sequencer drives…
        let mut driven = vec![false; n];
        let mut stack = vec![s];
        while let Some(i) = stack.pop() {
            for &c in &consumers[i] {
                if !driven[c] {
                    driven[c] = true;
                    stack.push(c);
                }
            }
        }
        // …that feeds a mixdown: the instrument's voice template.
        let mut member = vec![false; n];
        let mut stack: Vec<usize> = closers
            .iter()
            .filter_map(|&c| match spec.nodes[c].inputs[0] {
                Input::Port(p) => Some(p.node as usize),
                Input::Const(_) => None,
            })
            .collect();
        while let Some(i) = stack.pop() {
            if !driven[i] || member[i] || closers.contains(&i) {
                continue;
            }
            member[i] = true;
            for inp in &spec.nodes[i].inputs {
                if let Input::Port(p) = inp {
                    stack.push(p.node as usize);
                }
            }
        }
        // Sources made inside the instrument (its noise, a filter on it) serve only its
        // voices: they sleep with it.
        loop {
            let mut grew = false;
            for i in 0..n {
                let pull = !member[i]
                    && i != s
                    && !roots.contains(&i)
                    && !consumers[i].is_empty()
                    && consumers[i].iter().all(|c| member[*c])
                    && !holds_sound(&spec.nodes[i].kind)
                    && free_running(spec, i, &mut memo, 0);
                if pull {
                    member[i] = true;
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
        let members: Vec<usize> = (0..n).filter(|&i| member[i]).collect();
        let safe = members.iter().all(|&m| {
            let node = &spec.nodes[m];
            let holds_sound = holds_sound(&node.kind);
            // A template node heard anywhere but through the mixdown would go quiet.
            let private = !roots.contains(&m)
                && consumers[m]
                    .iter()
                    .all(|c| member[*c] || closers.contains(c));
            let inputs_ok = node.inputs.iter().all(|i| match i {
                Input::Const(_) => true,
                Input::Port(p) => {
                    let src = p.node as usize;
                    src == s || member[src] || free_running(spec, src, &mut memo, 0)
                }
            });
            !holds_sound && private && inputs_ok
        });
        if safe && !members.is_empty() {
            groups.push(SleepGroup {
                seq: s,
                members,
                closers,
            });
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::compile_source;
    use std::path::Path;

    fn groups(src: &str) -> Vec<SleepGroup> {
        let c = compile_source(src, "t.rhai", Path::new("."), 48000.0)
            .unwrap_or_else(|d| panic!("{}", d.render(Some(src))));
        sleep_groups(&c.spec)
    }

    #[test]
    fn an_enveloped_instrument_may_sleep() {
        let g =
            groups("pattern(\"x\").play(|v| sine(line(150, 50, 0.08)) * perc(v.gate, 0.001, 0.3))");
        assert_eq!(g.len(), 1);
        assert!(g[0].members.len() >= 3);
        // So may a MIDI instrument.
        let g = groups("midi_notes().play(|v| saw(v.freq) * perc(v.gate, 0.001, 0.3) * v.vel)");
        assert_eq!(g.len(), 1);
        // Shared free-running sources may feed it.
        let g = groups("pattern(\"x\").play(|v| (noise() + sine(180)) * line(1, 0, 0.1))");
        assert_eq!(g.len(), 1);
    }

    #[test]
    fn what_could_sound_while_the_voices_rest_keeps_it_awake() {
        // An envelope started by a metronome, not by the notes.
        assert!(
            groups("pattern(\"x\").play(|v| sine(v.freq) * perc(metro(1), 0.001, 0.2))").is_empty()
        );
        // Echoes inside the voice.
        assert!(groups("pattern(\"x\").play(|v| (sine(440) * v.gate).delay(0.3, 0.5))").is_empty());
    }
}
