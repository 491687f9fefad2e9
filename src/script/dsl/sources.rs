//! Sources: oscillators and noise (`sample` is registered with the sequencing vocabulary);
//! control thread only.

use super::args::{Sig, sig};
use super::make::src;
use super::{FnDef, def};
use crate::graph::{Input, NodeKind, PortRef};
use crate::script::builder::Builder;
use rhai::Dynamic;

/// The forms of this family, in reference order.
pub const FORMS: &[FnDef] = &[
    def!(
        "sources",
        "sine",
        ["freq"],
        "sine wave, freq in Hz",
        "sine(440)",
        Some(|b, p, a| src(
            b,
            p,
            NodeKind::Sine,
            &[(&a[0], "freq"), (&Dynamic::from(0.0), "phase")]
        ))
    ),
    def!(
        "sources",
        "sine",
        ["freq", "phase"],
        "sine wave with a phase offset in cycles (0..1)",
        "sine(0.5, 0.25)",
        Some(|b, p, a| src(b, p, NodeKind::Sine, &[(&a[0], "freq"), (&a[1], "phase")]))
    ),
    def!(
        "sources",
        "saw",
        ["freq"],
        "band-limited rising sawtooth, ±1 (aliasing over 100 dB down; ringing at each jump peaks near ±1.45)",
        "saw(110)",
        Some(|b, p, a| src(b, p, NodeKind::Saw, &[(&a[0], "freq")]))
    ),
    def!(
        "sources",
        "square",
        ["freq"],
        "band-limited square wave, ±1 (aliasing over 100 dB down; peaks near ±1.45)",
        "square(220)",
        Some(|b, p, a| src(
            b,
            p,
            NodeKind::Square,
            &[(&a[0], "freq"), (&Dynamic::from(0.5), "width")]
        ))
    ),
    def!(
        "sources",
        "pulse",
        ["freq", "width"],
        "band-limited pulse, width 0..1 of the cycle high (aliasing over 100 dB down, width modulation included)",
        "pulse(110, 0.25)",
        Some(|b, p, a| src(b, p, NodeKind::Pulse, &[(&a[0], "freq"), (&a[1], "width")]))
    ),
    def!(
        "sources",
        "tri",
        ["freq"],
        "band-limited triangle wave, ±1 (aliasing over 100 dB down)",
        "tri(330)",
        Some(|b, p, a| src(b, p, NodeKind::Tri, &[(&a[0], "freq")]))
    ),
    def!(
        "sources",
        "free",
        ["x"],
        "keeps an oscillator inside an instrument free-running instead of starting at its phase on each note (analog-style drift between notes)",
        "pattern(\"c3 e3\").play(|v| saw(v.freq).free() * perc(v.gate, 0.01, 0.3))",
        Some(|b, _, a| free(b, &a[0]))
    ),
    def!(
        "sources",
        "noise",
        [],
        "white noise, ±1, seeded from the node's key (renders repeat)",
        "noise() * 0.1",
        Some(|b, p, _| src(b, p, NodeKind::Noise, &[]))
    ),
    def!(
        "sources",
        "pink",
        [],
        "pink noise (−3 dB/octave), seeded like noise()",
        "pink() * 0.2",
        Some(|b, p, _| src(b, p, NodeKind::Pink, &[]))
    ),
    def!(
        "sources",
        "sample",
        ["file"],
        "plays a WAV file (8–32-bit int or float, mono or stereo) at the engine rate; the path stays inside the script's folder; in an instrument it starts at each note, outside one with the piece",
        "pattern(\"x ~ x x\").play(|v| sample(\"samples/rim.wav\") * v.vel)",
        None
    ),
    def!(
        "sources",
        "speed",
        ["x", "rate"],
        "playback speed of a sample(..): 2 = an octave up and twice as short, negative = backwards",
        "sample(\"samples/rim.wav\").speed(0.5)",
        None
    ),
    def!(
        "sources",
        "looped",
        ["x"],
        "loops a sample(..) (`loop` is a Rhai keyword, so the method is `looped`)",
        "sample(\"samples/rim.wav\").looped() * 0.5",
        None
    ),
];

/// `x.free()`: unties an oscillator from its instrument's notes.
fn free(b: &mut Builder, x: &Dynamic) -> Result<Dynamic, String> {
    let s = sig(x, "free")?;
    let n = s.ch[0].node as usize;
    if s.stereo || !b.nodes[n].kind.restarts() {
        return Err(
            "call it on an oscillator (sine, saw, square, pulse, tri), e.g. saw(v.freq).free()"
                .into(),
        );
    }
    if let Some(reset) = b.nodes[n].inputs.last_mut() {
        *reset = Input::Const(0.0);
    }
    // Untied from the notes it needs a copy per voice only when its other inputs differ per
    // voice, unless something already reads it at its current width.
    let read = b.nodes.iter().any(|m| {
        m.inputs
            .iter()
            .any(|i| matches!(i, Input::Port(p) if p.node as usize == n))
    });
    if !read {
        let lanes = b.nodes[n]
            .inputs
            .iter()
            .map(|i| match i {
                Input::Port(p) => b.nodes[p.node as usize].lanes,
                Input::Const(_) => 1,
            })
            .max()
            .unwrap_or(1);
        b.nodes[n].lanes = lanes;
    }
    let lanes = b.nodes[n].lanes;
    Ok(Dynamic::from(Sig::mono(
        PortRef {
            node: n as u32,
            out: 0,
        },
        lanes,
    )))
}
