//! The pattern syntax tree, with each node's period and evaluation cost worked out as it is
//! built; control thread.

use super::{MAX_PERIOD, ParseError};

/// What a node does with the span it is given.
#[derive(Debug)]
pub(super) enum Kind {
    /// `~`: nothing.
    Rest,
    /// An atom: a MIDI note, or `None` for `x`.
    Note(Option<f32>),
    /// Steps side by side, each taking a share of the span in proportion to its (whole)
    /// weight; `total` is the sum of the weights.
    Seq { steps: Vec<(Node, u64)>, total: u64 },
    /// Parts that all fill the span (commas).
    Stack(Vec<Node>),
    /// `< >`: cycle `c` plays child `c mod n`, which sees cycle `c div n`.
    Alt(Vec<Node>),
    /// `*n`: copy `k` fills the `k`-th `n`th of the span and sees cycle `c * n + k`.
    Repeat(Box<Node>, u32),
    /// `(k,n,r)`: the child fills slot `j` of `slots` when bit `j` of `mask` is set.
    Euclid {
        child: Box<Node>,
        mask: u64,
        slots: u32,
    },
    /// `?p`: the child's events play with probability `p` (times their own).
    Prob(Box<Node>, f32),
}

/// A node of the tree.
#[derive(Debug)]
pub(super) struct Node {
    pub kind: Kind,
    /// Cycles after which the node's events repeat; at most `MAX_PERIOD`.
    pub period: u64,
    /// Never produces an event (so evaluation can skip it).
    pub silent: bool,
    /// Upper bound on the nodes visited to evaluate one cycle (saturating).
    pub cost: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Least common multiple of the children's periods, or an error once it passes the limit.
fn lcm_of<'a>(nodes: impl Iterator<Item = &'a Node>, at: usize) -> Result<u64, ParseError> {
    let mut l = 1;
    for n in nodes {
        l = l / gcd(l, n.period) * n.period;
        if l > MAX_PERIOD {
            return Err(too_long(l, at));
        }
    }
    Ok(l)
}

fn too_long(period: u64, at: usize) -> ParseError {
    ParseError::new(
        at,
        format!(
            "this part repeats only after at least {period} cycles; the limit is \
             {MAX_PERIOD}: use fewer or shorter `< >` alternations"
        ),
    )
}

impl Node {
    /// Builds a node, working out its period, silence and cost from its children; `at` is
    /// the character offset of the construct, for errors.
    pub fn new(kind: Kind, at: usize) -> Result<Node, ParseError> {
        let (period, silent, cost) = match &kind {
            Kind::Rest => (1, true, 1),
            Kind::Note(_) => (1, false, 1),
            Kind::Seq { steps, .. } => (
                lcm_of(steps.iter().map(|s| &s.0), at)?,
                steps.iter().all(|s| s.0.silent),
                steps
                    .iter()
                    .fold(1u64, |acc, s| acc.saturating_add(s.0.cost)),
            ),
            Kind::Stack(parts) => (
                lcm_of(parts.iter(), at)?,
                parts.iter().all(|p| p.silent),
                parts.iter().fold(1u64, |acc, p| acc.saturating_add(p.cost)),
            ),
            Kind::Alt(children) => {
                let n = children.len() as u64;
                let p = n * lcm_of(children.iter(), at)?;
                if p > MAX_PERIOD {
                    return Err(too_long(p, at));
                }
                (
                    p,
                    children.iter().all(|c| c.silent),
                    1 + children.iter().map(|c| c.cost).max().unwrap_or(0),
                )
            }
            Kind::Repeat(child, n) => {
                let n = u64::from(*n);
                (
                    child.period / gcd(child.period, n),
                    child.silent,
                    n.saturating_mul(child.cost).saturating_add(1),
                )
            }
            Kind::Euclid { child, mask, .. } => (
                child.period,
                child.silent || *mask == 0,
                u64::from(mask.count_ones())
                    .saturating_mul(child.cost)
                    .saturating_add(1),
            ),
            Kind::Prob(child, _) => (child.period, child.silent, child.cost.saturating_add(1)),
        };
        Ok(Node {
            kind,
            period,
            silent,
            // A silent node is skipped without looking inside.
            cost: if silent { 1 } else { cost },
        })
    }
}
