//! Building nodes from script arguments: a source, or a node per channel of the signal a
//! method acts on; control thread only.

use super::args::{inputs, sig};
use crate::graph::{NodeKind, SrcPos};
use crate::script::builder::Builder;
use rhai::Dynamic;

pub(crate) fn src(
    b: &mut Builder,
    p: &SrcPos,
    kind: NodeKind,
    params: &[(&Dynamic, &str)],
) -> Result<Dynamic, String> {
    let ins = inputs(b, params)?;
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
