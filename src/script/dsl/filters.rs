//! Filters: state-variable low/high/band/notch and the ladder; control thread only.

use super::args::*;
use super::make::process;
use super::{FnDef, def};
use crate::graph::{NodeKind, SrcPos};
use crate::script::builder::Builder;
use rhai::Dynamic;

/// The forms of this family, in reference order.
pub const FORMS: &[FnDef] = &[
    def!(
        "filters",
        "lpf",
        ["x", "cut"],
        "resonant low-pass (state-variable), cut in Hz, Q 0.707",
        "saw(110).lpf(800)",
        Some(|b, p, a| filter(b, p, NodeKind::Lpf, "lpf", a, 0.707))
    ),
    def!(
        "filters",
        "lpf",
        ["x", "cut", "q"],
        "low-pass with resonance q (0.5 soft … 20 ringing)",
        "saw(110).lpf(sine(0.2).range(300, 3000), 4)",
        Some(|b, p, a| filter(b, p, NodeKind::Lpf, "lpf", a, 0.707))
    ),
    def!(
        "filters",
        "hpf",
        ["x", "cut"],
        "high-pass, cut in Hz, Q 0.707",
        "noise().hpf(7000)",
        Some(|b, p, a| filter(b, p, NodeKind::Hpf, "hpf", a, 0.707))
    ),
    def!(
        "filters",
        "hpf",
        ["x", "cut", "q"],
        "high-pass with resonance q",
        "noise().hpf(1800, 0.7)",
        Some(|b, p, a| filter(b, p, NodeKind::Hpf, "hpf", a, 0.707))
    ),
    def!(
        "filters",
        "bpf",
        ["x", "cut"],
        "band-pass (unity gain at the centre), Q 1",
        "noise().bpf(1000)",
        Some(|b, p, a| filter(b, p, NodeKind::Bpf, "bpf", a, 1.0))
    ),
    def!(
        "filters",
        "bpf",
        ["x", "cut", "q"],
        "band-pass with bandwidth set by q",
        "noise().bpf(1000, 8)",
        Some(|b, p, a| filter(b, p, NodeKind::Bpf, "bpf", a, 1.0))
    ),
    def!(
        "filters",
        "notch",
        ["x", "cut"],
        "band-reject, Q 1",
        "saw(110).notch(440)",
        Some(|b, p, a| filter(b, p, NodeKind::Notch, "notch", a, 1.0))
    ),
    def!(
        "filters",
        "notch",
        ["x", "cut", "q"],
        "band-reject with width set by q",
        "noise().notch(1000, 4)",
        Some(|b, p, a| filter(b, p, NodeKind::Notch, "notch", a, 1.0))
    ),
    def!(
        "filters",
        "ladder",
        ["x", "cut"],
        "4-pole ladder low-pass (24 dB/octave), no resonance",
        "saw(55).ladder(400)",
        Some(|b, p, a| filter(b, p, NodeKind::Ladder, "ladder", a, 0.0))
    ),
    def!(
        "filters",
        "ladder",
        ["x", "cut", "res"],
        "ladder low-pass with resonance 0..1 (self-oscillates near 1)",
        "saw(55).ladder(600, 0.8)",
        Some(|b, p, a| filter(b, p, NodeKind::Ladder, "ladder", a, 0.0))
    ),
];

pub(crate) fn filter(
    b: &mut Builder,
    p: &SrcPos,
    kind: NodeKind,
    fname: &str,
    a: &[Dynamic],
    default_q: f64,
) -> Result<Dynamic, String> {
    if let Some(c) = konst(&a[1])
        && c <= 0.0
    {
        return Err(format!("{fname} cutoff must be above 0 Hz (got {c})"));
    }
    let q = a.get(2).cloned().unwrap_or(Dynamic::from(default_q));
    if let Some(v) = konst(&q) {
        if kind == NodeKind::Ladder {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!(
                    "ladder resonance must be between 0 and 1 (got {v})"
                ));
            }
        } else if v <= 0.0 {
            return Err(format!(
                "{fname} q must be above 0 (got {v}); 0.707 is a plain filter"
            ));
        }
    }
    let res_name = if kind == NodeKind::Ladder { "res" } else { "q" };
    process(b, p, kind, fname, &a[0], &[(&a[1], "cut"), (&q, res_name)])
}
