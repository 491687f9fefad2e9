//! MIDI knobs (`cc`) and the documentation of `midi_notes` (registered in
//! `script::midi`); control thread only.

use super::args::*;
use super::make::src;
use super::{FnDef, def};
use crate::dsp::midi::CcSpec;
use crate::graph::NodeSpec;
use crate::graph::{Input, NodeKind, SrcPos};
use crate::script::builder::{Builder, Sig};
use rhai::Dynamic;

/// The forms of this family, in reference order.
pub const FORMS: &[FnDef] = &[
    def!(
        "midi",
        "cc",
        ["num"],
        "a MIDI knob: controller num (0..127) on any channel, 0..1, smoothed over 15 ms; .range(lo, hi) maps it, .init(x) is where it starts until the knob moves; values survive edits (and runs, with midi_persist_cc)",
        "saw(110).lpf(cc(74).init(0.3).range(200, 4000), 0.8) * 0.2",
        Some(|b, p, a| knob(b, p, &a[0], None))
    ),
    def!(
        "midi",
        "cc",
        ["num", "channel"],
        "a MIDI knob on one channel (1..16)",
        "sine(220) * cc(7, 1)",
        Some(|b, p, a| knob(b, p, &a[0], Some(&a[1])))
    ),
    def!(
        "midi",
        "init",
        ["knob", "x"],
        "where a cc() knob stands (0..1) until its controller moves",
        "cc(1).init(0.5)",
        Some(|b, _, a| {
            let x = number(&a[1], "x")?;
            if !(0.0..=1.0).contains(&x) {
                return Err(format!("init is a knob position 0..1 (got {x})"));
            }
            let spec = cc_node(b, &a[0], "init")?;
            spec.init = x as f32;
            Ok(a[0].clone())
        })
    ),
    def!(
        "midi",
        "midi_notes",
        [],
        "notes from MIDI input on every channel, to .play(instrument) like a pattern: note-on starts a voice (v.freq, v.vel, v.note), note-off releases its gate, the sustain pedal holds, pitch bend bends v.freq",
        "midi_notes().play(|v| saw(v.freq) * adsr(v.gate, 0.01, 0.1, 0.7, 0.3) * v.vel * 0.3)",
        None
    ),
    def!(
        "midi",
        "midi_notes",
        ["channel"],
        "notes from one MIDI channel (1..16)",
        "midi_notes(10).play(|v| noise() * perc(v.gate, 0.001, 0.1) * v.vel)",
        None
    ),
    def!(
        "midi",
        "bend",
        ["notes", "semitones"],
        "how far a full pitch-bend moves the notes (default 2, 0..48)",
        "midi_notes().bend(12).voices(4).play(|v| tri(v.freq) * adsr(v.gate, 0.01, 0.1, 0.8, 0.2) * 0.3)",
        None
    ),
];

/// `cc(num[, channel])`: a knob reading 0..1 (inputs lo 0, hi 1).
pub(crate) fn knob(
    b: &mut Builder,
    p: &SrcPos,
    num: &Dynamic,
    channel: Option<&Dynamic>,
) -> Result<Dynamic, String> {
    let n = number(num, "num")?;
    if !(0.0..=127.0).contains(&n) || n.fract() != 0.0 {
        return Err(format!("cc: a controller number is 0..127 (got {n})"));
    }
    let channel = match channel {
        None => None,
        Some(c) => {
            let c = number(c, "channel")?;
            if !(1.0..=16.0).contains(&c) || c.fract() != 0.0 {
                return Err(format!("cc: a MIDI channel is 1..16 (got {c})"));
            }
            Some(c as u8 - 1)
        }
    };
    let spec = CcSpec {
        num: n as u8,
        channel,
        init: 0.0,
    };
    src(
        b,
        p,
        NodeKind::Cc(spec),
        &[(&Dynamic::from(0.0), "lo"), (&Dynamic::from(1.0), "hi")],
    )
}

/// The knob a `.init()` or `.range()` acts on, if `d` is the output of `cc(..)`.
pub(crate) fn cc_of<'b>(b: &'b mut Builder, d: &Dynamic) -> Option<&'b mut NodeSpec> {
    let s = d.clone().try_cast::<Sig>()?;
    let node = b.nodes.get_mut(s.ch[0].node as usize)?;
    matches!(node.kind, NodeKind::Cc(_)).then_some(node)
}

pub(crate) fn cc_node<'b>(
    b: &'b mut Builder,
    d: &Dynamic,
    what: &str,
) -> Result<&'b mut CcSpec, String> {
    match cc_of(b, d).map(|n| &mut n.kind) {
        Some(NodeKind::Cc(spec)) => Ok(spec),
        _ => Err(format!(
            "{what} applies to a knob, cc(..) itself: cc(74).{what}(..)"
        )),
    }
}

/// `cc(n).range(lo, hi)`: a knob's 0..1 onto lo..hi (a copy of the knob, so one knob may
/// be ranged twice). `None` for anything else, which `range` maps as bipolar.
pub(crate) fn cc_range(b: &mut Builder, a: &[Dynamic]) -> Result<Option<Dynamic>, String> {
    let plain = [Input::Const(0.0), Input::Const(1.0)];
    let Some(node) = cc_of(b, &a[0]).filter(|n| n.inputs == plain) else {
        return Ok(None);
    };
    let (kind, pos) = (node.kind.clone(), node.pos.clone());
    let (lo, hi) = (arg(&a[1], "lo")?, arg(&a[2], "hi")?);
    if lo.lanes() != 1 || hi.lanes() != 1 {
        return Ok(None);
    }
    let ins = [mono_input(b, &lo, "lo")?, mono_input(b, &hi, "hi")?];
    Ok(Some(Dynamic::from(b.source(kind, &ins, &pos)?)))
}
