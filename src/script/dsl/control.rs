//! Control signals: ramps, envelopes, metronomes, ranges, lag; control thread only.

use super::args::*;
use super::make::{process, src};
use super::midi::cc_range;
use super::{FnDef, def};
use crate::graph::{Input, NodeKind};
use rhai::Dynamic;

/// The forms of this family, in reference order.
pub const FORMS: &[FnDef] = &[
    def!(
        "control",
        "line",
        ["from", "to", "secs"],
        "linear ramp from `from` to `to` over `secs`, then holds; inside a pattern instrument it starts again at each note",
        "sine(line(150, 45, 0.08))",
        Some(|b, p, a| {
            non_negative(&a[2], "secs")?;
            let mut ins = inputs(b, &[(&a[0], "from"), (&a[1], "to"), (&a[2], "secs")])?;
            // Inside a pattern instrument the ramp starts again at each note.
            if let Some(t) = b.voice_trig {
                ins.push(Input::Port(t));
            }
            Ok(Dynamic::from(b.source(NodeKind::Line, &ins, p)?))
        })
    ),
    def!(
        "control",
        "adsr",
        ["gate", "a", "d", "s", "r"],
        "linear envelope: attack, decay (secs), sustain level 0..1, release (secs) while gate > 0",
        "saw(110) * adsr(pulse(2, 0.5), 0.01, 0.1, 0.6, 0.3)",
        Some(|b, p, a| {
            for (v, w) in [(&a[1], "a"), (&a[2], "d"), (&a[4], "r")] {
                non_negative(v, w)?;
            }
            if let Some(s) = konst(&a[3])
                && !(0.0..=1.0).contains(&s)
            {
                return Err(format!("sustain level must be between 0 and 1 (got {s})"));
            }
            src(
                b,
                p,
                NodeKind::Adsr,
                &[
                    (&a[0], "gate"),
                    (&a[1], "a"),
                    (&a[2], "d"),
                    (&a[3], "s"),
                    (&a[4], "r"),
                ],
            )
        })
    ),
    def!(
        "control",
        "perc",
        ["gate", "a", "r"],
        "percussive envelope started by each rising gate/trigger: attack then curved release (secs)",
        "noise() * perc(metro(0.5), 0.001, 0.1)",
        Some(|b, p, a| {
            non_negative(&a[1], "a")?;
            non_negative(&a[2], "r")?;
            src(
                b,
                p,
                NodeKind::Perc,
                &[(&a[0], "gate"), (&a[1], "a"), (&a[2], "r")],
            )
        })
    ),
    def!(
        "control",
        "metro",
        ["beats"],
        "a one-sample trigger every `beats` beats, on the transport grid",
        "perc(metro(1), 0.001, 0.2)",
        Some(|b, p, a| {
            positive(&a[0], "beats")?;
            src(b, p, NodeKind::Metro, &[(&a[0], "beats")])
        })
    ),
    def!(
        "control",
        "range",
        ["x", "lo", "hi"],
        "maps a bipolar signal (−1..1) onto lo..hi; a knob, cc(n), maps its 0..1",
        "sine(0.1).range(500, 2500)",
        Some(|b, p, a| {
            if let Some(knob) = cc_range(b, a)? {
                return Ok(knob);
            }
            process(
                b,
                p,
                NodeKind::Range,
                "range",
                &a[0],
                &[(&a[1], "lo"), (&a[2], "hi")],
            )
        })
    ),
    def!(
        "control",
        "smooth",
        ["x", "secs"],
        "one-pole lag: glides to each new value in about `secs`",
        "metro(1).smooth(0.05)",
        Some(|b, p, a| {
            non_negative(&a[1], "secs")?;
            process(b, p, NodeKind::Smooth, "smooth", &a[0], &[(&a[1], "secs")])
        })
    ),
];
