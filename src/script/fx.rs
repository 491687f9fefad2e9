//! Building the effect nodes (reverb, chorus, compressor, crusher) from script arguments;
//! control thread only.

use super::builder::{Builder, Sig};
use super::dsl::{inputs, konst, process, sig};
use crate::graph::{Input, NodeKind, PortRef, SrcPos};
use rhai::Dynamic;

/// A stereo-in, stereo-out effect on the whole signal (mono input feeds both sides).
/// Such effects run once, not once per voice: inside an instrument they would multiply
/// their cost by the voice count, so they are refused there.
fn stereo_fx(
    b: &mut Builder,
    p: &SrcPos,
    kind: NodeKind,
    fname: &str,
    x: &Dynamic,
    params: &[(&Dynamic, &str)],
) -> Result<Dynamic, String> {
    let x = sig(x, fname)?;
    if x.lanes != 1 || b.poly_lanes.is_some() {
        return Err(format!(
            "{fname} works on a whole part, not inside an instrument (it would run once per voice); apply it after .play(..), e.g. pattern(\"x\").play(inst).{fname}(…)"
        ));
    }
    let mut ins = vec![Input::Port(x.ch[0]), Input::Port(x.ch[1])];
    ins.extend(inputs(b, params)?);
    let n = b.add(kind, &ins, p)?;
    Ok(Dynamic::from(Sig {
        ch: [PortRef { node: n, out: 0 }, PortRef { node: n, out: 1 }],
        stereo: true,
        lanes: 1,
    }))
}

fn check(d: &Dynamic, what: &str, lo: f64, hi: f64) -> Result<(), String> {
    match konst(d) {
        Some(v) if !(lo..=hi).contains(&v) => {
            Err(format!("`{what}` must be between {lo} and {hi} (got {v})"))
        }
        _ => Ok(()),
    }
}

pub fn reverb(
    b: &mut Builder,
    p: &SrcPos,
    x: &Dynamic,
    mix: &Dynamic,
    secs: &Dynamic,
    damp: &Dynamic,
) -> Result<Dynamic, String> {
    check(mix, "mix", 0.0, 1.0)?;
    check(secs, "secs", 0.1, 30.0)?;
    check(damp, "damp", 0.0, 1.0)?;
    stereo_fx(
        b,
        p,
        NodeKind::Reverb,
        "reverb",
        x,
        &[(mix, "mix"), (secs, "secs"), (damp, "damp")],
    )
}

pub fn chorus(
    b: &mut Builder,
    p: &SrcPos,
    x: &Dynamic,
    rate: &Dynamic,
    depth: &Dynamic,
) -> Result<Dynamic, String> {
    check(rate, "rate", 0.01, 20.0)?;
    check(depth, "depth", 0.0, 1.0)?;
    stereo_fx(
        b,
        p,
        NodeKind::Chorus,
        "chorus",
        x,
        &[(rate, "rate"), (depth, "depth")],
    )
}

pub fn comp(
    b: &mut Builder,
    p: &SrcPos,
    x: &Dynamic,
    threshold: &Dynamic,
    ratio: &Dynamic,
    attack: &Dynamic,
    release: &Dynamic,
) -> Result<Dynamic, String> {
    check(threshold, "threshold_db", -120.0, 24.0)?;
    check(ratio, "ratio", 1.0, 1000.0)?;
    check(attack, "attack", 0.0, 10.0)?;
    check(release, "release", 0.0, 10.0)?;
    stereo_fx(
        b,
        p,
        NodeKind::Comp,
        "comp",
        x,
        &[
            (threshold, "threshold_db"),
            (ratio, "ratio"),
            (attack, "attack"),
            (release, "release"),
        ],
    )
}

pub fn crush(b: &mut Builder, p: &SrcPos, x: &Dynamic, bits: &Dynamic) -> Result<Dynamic, String> {
    check(bits, "bits", 1.0, 24.0)?;
    process(b, p, NodeKind::Crush, "crush", x, &[(bits, "bits")])
}
