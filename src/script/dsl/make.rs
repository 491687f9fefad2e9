//! Building nodes from script arguments: a source, or a node per channel of the signal a
//! method acts on; control thread only.

use super::args::{inputs, sig};
use crate::graph::{Input, NodeKind, SrcPos};
use crate::script::builder::Builder;
use rhai::Dynamic;

pub(crate) fn src(
    b: &mut Builder,
    p: &SrcPos,
    kind: NodeKind,
    params: &[(&Dynamic, &str)],
) -> Result<Dynamic, String> {
    let mut ins = inputs(b, params)?;
    if kind.restarts() {
        // Inside an instrument an oscillator starts at its phase on each note, as a synth
        // started per note does; `.free()` unties it.
        ins.push(b.voice_trig.map_or(Input::Const(0.0), Input::Port));
    }
    Ok(Dynamic::from(b.source(kind, &ins, p)?))
}

pub(crate) fn process(
    b: &mut Builder,
    p: &SrcPos,
    kind: NodeKind,
    fname: &str,
    x: &Dynamic,
    params: &[(&Dynamic, &str)],
) -> Result<Dynamic, String> {
    let x = sig(x, fname)?;
    let ins = inputs(b, params)?;
    Ok(Dynamic::from(b.per_channel(kind, &x, &ins, p)?))
}
