//! `waves check --graph`: what the compiler made of a script, as text (control thread). A
//! user sees why a script is fast or slow: how many nodes run, and what became lanes.

use super::keys::post_order;
use super::optimize::{Passes, optimize};
use super::{GraphSpec, Input, NodeKind};
use std::collections::HashMap;

/// Lines describing the optimized graph of `spec` (made from `file`).
pub fn listing(file: &str, spec: &GraphSpec) -> Vec<String> {
    let sr = 48_000.0;
    let ops_before = super::compile_with(spec, sr, Passes::NONE).0.len();
    let ops_after = super::compile_with(spec, sr, Passes::ALL).0.len();
    let opt = optimize(spec, Passes::ALL);
    let r = &opt.report;
    let mut out = vec![
        format!(
            "{file}: {} nodes as written, {} after the compiler; {ops_before} ops per block before, {ops_after} after",
            r.before, r.after
        ),
        format!("  shared: {} duplicate nodes computed once", r.shared),
        format!(
            "  sums:   {} additions and mixes folded into larger sums",
            r.sums
        ),
    ];
    if r.lanes.is_empty() {
        out.push("  lanes:  no parallel copies to run as lanes".into());
    }
    for g in &r.lanes {
        out.push(format!(
            "  lanes:  {} copies of a {}-node chain (last node at {}) run as {} lanes of one chain",
            g.copies, g.nodes, g.at, g.copies
        ));
    }
    out.push("graph, in processing order (#node, kind × lanes, inputs, made at line:col):".into());
    let spec = &opt.spec;
    let order = post_order(spec);
    let mut number: HashMap<usize, usize> = HashMap::new();
    for (i, &n) in order.iter().enumerate() {
        number.insert(n, i);
    }
    let port = |i: &Input| match *i {
        Input::Const(v) => format!("{v}"),
        Input::Port(p) => {
            let n = number
                .get(&(p.node as usize))
                .copied()
                .unwrap_or(usize::MAX);
            if spec.nodes[p.node as usize].kind.outputs() > 1 {
                format!("#{n}.{}", p.out)
            } else {
                format!("#{n}")
            }
        }
    };
    for (i, &n) in order.iter().enumerate() {
        let node = &spec.nodes[n];
        let lanes = if node.lanes > 1 {
            format!(" ×{}", node.lanes)
        } else {
            String::new()
        };
        let args = match &node.kind {
            NodeKind::LaneConst(v) => {
                let shown: Vec<String> = v.iter().take(4).map(|x| format!("{x}")).collect();
                let more = if v.len() > 4 { ", …" } else { "" };
                format!("[{}{more}]", shown.join(", "))
            }
            kind => {
                let names = kind.input_names();
                node.inputs
                    .iter()
                    .enumerate()
                    .map(|(k, inp)| match names.get(k) {
                        Some(name) => format!("{name}={}", port(inp)),
                        None => port(inp),
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        };
        let at = if node.pos.line > 0 {
            format!("  ({}:{})", node.pos.line, node.pos.col)
        } else {
            String::new()
        };
        out.push(format!("  #{i:<4} {}{lanes}  {args}{at}", node.kind.name()));
    }
    out.push(format!(
        "  out: {} {}",
        port(&spec.out[0]),
        port(&spec.out[1])
    ));
    out
}
