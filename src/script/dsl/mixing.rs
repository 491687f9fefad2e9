//! Mixing and math: gain, pan, mix, stereo, operators, min/max/pow, clip, abs, and `.id`;
//! control thread only.

use super::args::*;
use super::make::process;
use super::{FnDef, def};
use crate::dsp::math::{BinOp, UnOp};
use crate::graph::{Input, NodeKind, PortRef, SrcPos};
use crate::script::builder::{Builder, Sig};
use rhai::Dynamic;

/// The forms of this family, in reference order.
pub const FORMS: &[FnDef] = &[
    def!(
        "mixing",
        "gain",
        ["x", "g"],
        "multiplies by g (a number or a signal)",
        "saw(110).gain(0.3)",
        Some(|b, p, a| process(
            b,
            p,
            NodeKind::Bin(BinOp::Mul),
            "gain",
            &a[0],
            &[(&a[1], "g")]
        ))
    ),
    def!(
        "mixing",
        "pan",
        ["x", "pos"],
        "equal-power pan of a mono signal, −1 left … 1 right (a stereo signal is balanced)",
        "saw(110).pan(-0.5)",
        Some(|b, p, a| pan(b, p, &a[0], &a[1]))
    ),
    def!(
        "mixing",
        "mix",
        ["list"],
        "sums an array of signals (mono ones go to both sides of stereo ones)",
        "mix([sine(220), sine(330) * 0.5])",
        Some(|b, p, a| mix(b, p, &a[0]))
    ),
    def!(
        "mixing",
        "stereo",
        ["left", "right"],
        "a stereo signal from two mono ones",
        "stereo(saw(110), saw(110.5))",
        Some(|b, p, a| {
            let l = mono_input(b, &arg(&a[0], "left")?, "left")?;
            let r = mono_input(b, &arg(&a[1], "right")?, "right")?;
            let mut ports = [PortRef { node: 0, out: 0 }; 2];
            let mut lanes = 1;
            for (i, inp) in [l, r].into_iter().enumerate() {
                let n = b.add(NodeKind::Bin(BinOp::Add), &[inp, Input::Const(0.0)], p)?;
                ports[i] = PortRef { node: n, out: 0 };
                lanes = lanes.max(b.nodes[n as usize].lanes);
            }
            Ok(Dynamic::from(Sig {
                ch: ports,
                stereo: true,
                lanes,
            }))
        })
    ),
    def!(
        "math",
        "abs",
        ["x"],
        "absolute value (full-wave rectifier)",
        "sine(2).abs()",
        Some(|b, p, a| process(b, p, NodeKind::Un(UnOp::Abs), "abs", &a[0], &[]))
    ),
    def!(
        "math",
        "clip",
        ["x", "lo", "hi"],
        "hard limit between lo and hi",
        "(saw(110) * 3).clip(-1, 1)",
        Some(|b, p, a| process(
            b,
            p,
            NodeKind::Clip,
            "clip",
            &a[0],
            &[(&a[1], "lo"), (&a[2], "hi")]
        ))
    ),
    def!(
        "math",
        "min",
        ["a", "b"],
        "smaller of two values, per sample",
        "min(saw(110), 0.5)",
        Some(|b, p, a| binary(b, p, BinOp::Min, &a[0], &a[1]))
    ),
    def!(
        "math",
        "max",
        ["a", "b"],
        "larger of two values, per sample",
        "max(sine(3), 0)",
        Some(|b, p, a| binary(b, p, BinOp::Max, &a[0], &a[1]))
    ),
    def!(
        "math",
        "pow",
        ["a", "b"],
        "a to the power b, per sample",
        "pow(2, sine(0.5) * 1.5) * 1200",
        Some(|b, p, a| binary(b, p, BinOp::Pow, &a[0], &a[1]))
    ),
    def!(
        "identity",
        "id",
        ["x", "name"],
        "pins the node's identity, so edits elsewhere never reset it (hot reload)",
        "sine(0.1).id(\"lfo\")",
        Some(|b, _, a| {
            let s = sig(&a[0], "id")?;
            let name = a[1]
                .clone()
                .into_immutable_string()
                .map_err(|_| format!("id needs a name in quotes (got {})", type_name(&a[1])))?;
            if name.is_empty() || name.len() > 64 {
                return Err("an id must be 1 to 64 characters".into());
            }
            let chans = s.channels().to_vec();
            for (i, c) in chans.iter().enumerate() {
                let n = &mut b.nodes[c.node as usize];
                n.id = Some(if chans.len() == 2 && chans[0].node != chans[1].node {
                    format!("{name}.{}", ["L", "R"][i])
                } else {
                    name.to_string()
                });
            }
            Ok(Dynamic::from(s))
        })
    ),
    def!(
        "mixing",
        "track",
        ["x", "name"],
        "names a stem: `waves render` also writes NAME__name.wav; the same name twice is one bus",
        "pattern(\"x*4\").play(|v| sine(line(150, 45, 0.08)) * perc(v.gate, 0.001, 0.3)).track(\"kick\")",
        None
    ),
];

/// `a op b` where at least one side is a signal; numbers on both sides fold to a number.
pub fn binary(
    b: &mut Builder,
    p: &SrcPos,
    op: BinOp,
    x: &Dynamic,
    y: &Dynamic,
) -> Result<Dynamic, String> {
    let (xa, ya) = (arg(x, "a")?, arg(y, "b")?);
    let (xs, ys) = match (&xa, &ya) {
        (Arg::Num(m), Arg::Num(n)) => {
            let (m, n) = (*m, *n);
            return Ok(Dynamic::from(match op {
                BinOp::Add => m + n,
                BinOp::Sub => m - n,
                BinOp::Mul => m * n,
                BinOp::Div => m / n,
                BinOp::Min => m.min(n),
                BinOp::Max => m.max(n),
                BinOp::Pow => m.powf(n),
            }));
        }
        _ => (side(&xa), side(&ya)),
    };
    let stereo = xs.1 || ys.1;
    per_side(b, p, NodeKind::Bin(op), stereo, |c| vec![xs.0[c], ys.0[c]])
}

/// One `kind` node per side (left only when mono), side `c` reading `ins(c)`.
fn per_side(
    b: &mut Builder,
    p: &SrcPos,
    kind: NodeKind,
    stereo: bool,
    ins: impl Fn(usize) -> Vec<Input>,
) -> Result<Dynamic, String> {
    let mut ports = [PortRef { node: 0, out: 0 }; 2];
    let mut lanes = 1;
    for (c, port) in ports
        .iter_mut()
        .enumerate()
        .take(if stereo { 2 } else { 1 })
    {
        let n = b.add(kind.clone(), &ins(c), p)?;
        *port = PortRef { node: n, out: 0 };
        lanes = b.nodes[n as usize].lanes;
    }
    if !stereo {
        ports[1] = ports[0];
    }
    Ok(Dynamic::from(Sig {
        ch: ports,
        stereo,
        lanes,
    }))
}

pub(crate) fn pan(
    b: &mut Builder,
    p: &SrcPos,
    x: &Dynamic,
    pos: &Dynamic,
) -> Result<Dynamic, String> {
    let s = sig(x, "pan")?;
    let pa = arg(pos, "pos")?;
    if let Arg::Num(v) = pa
        && !(-1.0..=1.0).contains(&v)
    {
        return Err(format!(
            "pan position must be between -1 (left) and 1 (right) (got {v})"
        ));
    }
    let pi = mono_input(b, &pa, "pos")?;
    if !s.stereo {
        let n = b.add(NodeKind::Pan, &[Input::Port(s.ch[0]), pi], p)?;
        let lanes = b.nodes[n as usize].lanes;
        return Ok(Dynamic::from(Sig {
            ch: [PortRef { node: n, out: 0 }, PortRef { node: n, out: 1 }],
            stereo: true,
            lanes,
        }));
    }
    // Balance: turning one side down keeps the other at full level.
    let mut ch = s.ch;
    for (i, sign) in [(0usize, -1.0f32), (1, 1.0)] {
        let g = match pi {
            Input::Const(v) => Input::Const((1.0 + sign * v).clamp(0.0, 1.0)),
            Input::Port(_) => {
                let scaled = b.add(NodeKind::Bin(BinOp::Mul), &[pi, Input::Const(sign)], p)?;
                let shifted = b.add(
                    NodeKind::Bin(BinOp::Add),
                    &[
                        Input::Port(PortRef {
                            node: scaled,
                            out: 0,
                        }),
                        Input::Const(1.0),
                    ],
                    p,
                )?;
                let c = b.add(
                    NodeKind::Clip,
                    &[
                        Input::Port(PortRef {
                            node: shifted,
                            out: 0,
                        }),
                        Input::Const(0.0),
                        Input::Const(1.0),
                    ],
                    p,
                )?;
                Input::Port(PortRef { node: c, out: 0 })
            }
        };
        let n = b.add(NodeKind::Bin(BinOp::Mul), &[Input::Port(ch[i]), g], p)?;
        ch[i] = PortRef { node: n, out: 0 };
    }
    let lanes = b.nodes[ch[0].node as usize].lanes;
    Ok(Dynamic::from(Sig {
        ch,
        stereo: true,
        lanes,
    }))
}

pub(crate) fn mix(b: &mut Builder, p: &SrcPos, list: &Dynamic) -> Result<Dynamic, String> {
    let arr = list
        .clone()
        .into_array()
        .map_err(|_| format!("mix needs an array like [a, b, c], got {}", type_name(list)))?;
    if arr.is_empty() {
        return Err("mix of an empty array: give it at least one signal".into());
    }
    let mut parts = Vec::with_capacity(arr.len());
    for (i, d) in arr.iter().enumerate() {
        parts.push(side(&arg(d, &format!("item {i}"))?));
    }
    let stereo = parts.iter().any(|p| p.1);
    per_side(b, p, NodeKind::Sum, stereo, |c| {
        parts.iter().map(|part| part.0[c]).collect()
    })
}
