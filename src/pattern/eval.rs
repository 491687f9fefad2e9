//! Evaluation of a pattern tree into the events of each cycle, Euclidean rhythms and the
//! polyphony count; control thread.

use super::tree::{Kind, Node};
use super::{Event, MAX_EVENTS, ParseError};

/// Most node visits one whole evaluation (all cycles of the period) may take; bounds the
/// time `Pattern::parse` takes on any input.
pub(super) const MAX_WORK: u64 = 1 << 23;

/// The evaluation made more events than `MAX_EVENTS`.
struct TooMany;

/// Events of every cycle of `root`'s period, cycle after cycle, each cycle sorted by start
/// then note; and the offsets where each cycle's events begin (plus the end).
pub(super) fn evaluate(root: &Node) -> Result<(Vec<Event>, Vec<usize>), ParseError> {
    let work = root.cost.saturating_mul(root.period);
    if work > MAX_WORK {
        return Err(ParseError::new(
            0,
            format!(
                "pattern is too heavy to evaluate ({work} steps over {} cycles, limit \
                 {MAX_WORK}): use smaller `*n` and Euclid counts or fewer `< >`",
                root.period
            ),
        ));
    }
    let mut events = Vec::new();
    let mut offsets = Vec::with_capacity(root.period as usize + 1);
    offsets.push(0);
    for cycle in 0..root.period {
        let first = events.len();
        if eval(root, cycle, Span::CYCLE, 1.0, &mut events).is_err() {
            return Err(ParseError::new(
                0,
                format!(
                    "pattern makes more than {MAX_EVENTS} events over its {} cycles: use \
                     smaller `*n` and Euclid counts or fewer `< >`",
                    root.period
                ),
            ));
        }
        let this = &mut events[first..];
        for e in this.iter_mut() {
            tidy(e);
        }
        this.sort_by(|a, b| {
            a.start
                .total_cmp(&b.start)
                .then_with(|| match (a.note, b.note) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, Some(_)) => std::cmp::Ordering::Less,
                    (Some(_), None) => std::cmp::Ordering::Greater,
                    (Some(x), Some(y)) => x.total_cmp(&y),
                })
        });
        offsets.push(events.len());
    }
    Ok((events, offsets))
}

/// Keeps rounding from breaking the promises on `Event`: `0 <= start < 1`, `dur > 0`,
/// `start + dur <= 1`.
fn tidy(e: &mut Event) {
    const BELOW_ONE: f64 = 1.0 - f64::EPSILON / 2.0;
    e.start = e.start.clamp(0.0, BELOW_ONE);
    e.dur = e.dur.min(1.0 - e.start).max(f64::MIN_POSITIVE);
}

/// Largest denominator kept exact: every integer up to it is an `f64`.
const EXACT: u64 = 1 << 53;

/// The part of a cycle a node fills.
///
/// Kept as exact fractions while the denominator allows, so an instant reached along
/// different routes (`[x x x]*2` and `x*6`) becomes the same `f64`, and `1/8` is exactly
/// `0.125`: converting is one correctly rounded division. Very deep or dense nesting falls
/// back to floating point.
#[derive(Clone, Copy, Debug)]
enum Span {
    /// From `a / d` for `b / d`; `a + b <= d < EXACT`.
    Exact {
        a: u64,
        b: u64,
        d: u64,
    },
    Float {
        start: f64,
        dur: f64,
    },
}

impl Span {
    const CYCLE: Span = Span::Exact { a: 0, b: 1, d: 1 };

    fn start(self) -> f64 {
        match self {
            Span::Exact { a, d, .. } => a as f64 / d as f64,
            Span::Float { start, .. } => start,
        }
    }

    fn dur(self) -> f64 {
        match self {
            Span::Exact { b, d, .. } => b as f64 / d as f64,
            Span::Float { dur, .. } => dur,
        }
    }

    /// The piece from `from / total` to `(from + len) / total` of this span.
    fn part(self, from: u64, len: u64, total: u64) -> Span {
        if let Span::Exact { a, b, d } = self {
            // a/d + b/d * from/total = (a*total + b*from) / (d*total)
            let exact = (|| {
                let d = d.checked_mul(total).filter(|&d| d < EXACT)?;
                let a = a.checked_mul(total)?.checked_add(b.checked_mul(from)?)?;
                Some(Span::Exact {
                    a,
                    b: b.checked_mul(len)?,
                    d,
                })
            })();
            if let Some(span) = exact {
                return span;
            }
        }
        let (start, dur) = (self.start(), self.dur());
        Span::Float {
            start: start + dur * from as f64 / total as f64,
            dur: dur * len as f64 / total as f64,
        }
    }
}

/// Adds the events `node` makes in cycle `cycle` when it fills `span`.
fn eval(
    node: &Node,
    cycle: u64,
    span: Span,
    prob: f32,
    out: &mut Vec<Event>,
) -> Result<(), TooMany> {
    if node.silent {
        return Ok(());
    }
    // Events depend only on the cycle modulo the period; reducing keeps the numbers small.
    let cycle = cycle % node.period;
    match &node.kind {
        Kind::Rest => {}
        Kind::Note(note) => {
            if out.len() >= MAX_EVENTS {
                return Err(TooMany);
            }
            out.push(Event {
                start: span.start(),
                dur: span.dur(),
                note: *note,
                prob,
            });
        }
        Kind::Seq { steps, total } => {
            let mut before = 0;
            for (child, weight) in steps {
                let part = span.part(before, *weight, *total);
                eval(child, cycle, part, prob, out)?;
                before += weight;
            }
        }
        Kind::Stack(parts) => {
            for part in parts {
                eval(part, cycle, span, prob, out)?;
            }
        }
        Kind::Alt(children) => {
            let n = children.len() as u64;
            let child = &children[(cycle % n) as usize];
            eval(child, cycle / n, span, prob, out)?;
        }
        Kind::Repeat(child, n) => {
            let n = u64::from(*n);
            for k in 0..n {
                eval(child, cycle * n + k, span.part(k, 1, n), prob, out)?;
            }
        }
        Kind::Euclid { child, mask, slots } => {
            let n = u64::from(*slots);
            for j in 0..n {
                if mask >> j & 1 == 1 {
                    eval(child, cycle, span.part(j, 1, n), prob, out)?;
                }
            }
        }
        Kind::Prob(child, p) => eval(child, cycle, span, prob * p, out)?,
    }
    Ok(())
}

/// Bjorklund's algorithm as TidalCycles uses it (after Rohan Drape's version): `k` onsets
/// over `n` slots, as a list of slots (`true` = onset), first slot always an onset when
/// `k > 0`. Start from `k` groups `[x]` and `n - k` groups `[.]`; while both kinds number
/// more than one, append one group of the second kind to each of the first `m` groups of the
/// first kind (`m` = the smaller count), and let the leftover groups (of whichever kind had
/// more) become the second kind. The answer is the groups read in order.
pub(super) fn bjorklund(k: u32, n: u32) -> Vec<bool> {
    let k = k.min(n) as usize;
    let mut front: Vec<Vec<bool>> = vec![vec![true]; k];
    let mut back: Vec<Vec<bool>> = vec![vec![false]; n as usize - k];
    while front.len().min(back.len()) > 1 {
        let m = front.len().min(back.len());
        let rest = if front.len() > back.len() {
            front.split_off(m)
        } else {
            back.split_off(m)
        };
        for (f, b) in front.iter_mut().zip(back.drain(..m)) {
            f.extend(b);
        }
        // `back` is empty now unless the rest came from `front`; either way the leftover
        // groups go to the back.
        back.extend(rest);
    }
    front.into_iter().chain(back).flatten().collect()
}

/// Onset slots of `(k, n, r)` as a bit mask (bit `j` = slot `j`): Bjorklund's `k` over `n`,
/// rotated left by `r` slots like Tidal (slot `j` plays what slot `j + r` played).
pub(super) fn euclid_mask(k: u32, n: u32, r: i64) -> u64 {
    let slots = bjorklund(k, n);
    let r = r.rem_euclid(i64::from(n)) as usize;
    (0..n as usize).fold(0u64, |mask, j| {
        if slots[(j + r) % n as usize] {
            mask | 1 << j
        } else {
            mask
        }
    })
}

/// Most events of one cycle sounding at one instant (spans are half-open, so one ending
/// where another starts do not overlap).
pub(super) fn polyphony(events: &[Event]) -> usize {
    // Ends move a hair earlier so rounding cannot make touching spans overlap; at equal
    // times ends (-1) sort before starts (+1).
    let mut edges: Vec<(f64, i32)> = Vec::with_capacity(events.len() * 2);
    for e in events {
        edges.push((e.start, 1));
        edges.push((e.start + e.dur - 1e-9, -1));
    }
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut now = 0i32;
    let mut most = 0i32;
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    most as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(slots: &[bool]) -> String {
        slots.iter().map(|&s| if s { 'x' } else { '.' }).collect()
    }

    fn show_mask(mask: u64, n: u32) -> String {
        (0..n)
            .map(|j| if mask >> j & 1 == 1 { 'x' } else { '.' })
            .collect()
    }

    #[test]
    fn bjorklund_matches_tidal() {
        // Tidal's (Rohan Drape's) Bjorklund; most are also Toussaint's published rhythms.
        let known = [
            (1, 4, "x..."),
            (2, 3, "xx."),
            (2, 5, "x.x.."),
            (3, 4, "xxx."),
            (3, 5, "x.x.x"),
            (3, 7, "x.x.x.."),
            (3, 8, "x..x..x."),
            (4, 7, "x.x.x.x"),
            (4, 9, "x.x.x.x.."),
            (4, 11, "x..x..x..x."),
            (5, 6, "xxxxx."),
            (5, 7, "x.xx.xx"),
            (5, 8, "x.xx.xx."),
            (5, 9, "x.x.x.x.x"),
            (5, 11, "x.x.x.x.x.."),
            (5, 12, "x..x.x..x.x."),
            (5, 16, "x..x..x..x..x..."),
            (7, 8, "xxxxxxx."),
            (7, 12, "x.xx.x.xx.x."),
            (7, 16, "x..x.x.x..x.x.x."),
            (9, 16, "x.xx.x.x.xx.x.x."),
            (11, 24, "x..x.x.x.x.x..x.x.x.x.x."),
            (13, 24, "x.xx.x.x.x.x.xx.x.x.x.x."),
        ];
        for (k, n, want) in known {
            assert_eq!(show(&bjorklund(k, n)), want, "({k},{n})");
        }
    }

    #[test]
    fn bjorklund_edges_and_counts() {
        assert_eq!(show(&bjorklund(0, 4)), "....");
        assert_eq!(show(&bjorklund(4, 4)), "xxxx");
        assert_eq!(show(&bjorklund(1, 1)), "x");
        assert_eq!(show(&bjorklund(0, 1)), ".");
        for n in 1..=64 {
            for k in 0..=n {
                let b = bjorklund(k, n);
                assert_eq!(b.len(), n as usize);
                assert_eq!(b.iter().filter(|&&s| s).count(), k as usize);
                assert_eq!(b[0], k > 0, "({k},{n}) starts with an onset");
            }
        }
    }

    #[test]
    fn rotation_is_to_the_left() {
        assert_eq!(show_mask(euclid_mask(3, 8, 0), 8), "x..x..x.");
        assert_eq!(show_mask(euclid_mask(3, 8, 1), 8), "..x..x.x");
        assert_eq!(show_mask(euclid_mask(3, 8, 2), 8), ".x..x.x.");
        assert_eq!(show_mask(euclid_mask(3, 8, 8), 8), "x..x..x.");
        assert_eq!(show_mask(euclid_mask(3, 8, -1), 8), ".x..x..x");
        assert_eq!(show_mask(euclid_mask(3, 8, 10), 8), ".x..x.x.");
        assert_eq!(show_mask(euclid_mask(64, 64, 5), 64), "x".repeat(64));
    }

    #[test]
    fn polyphony_counts_overlaps_only() {
        let ev = |start, dur| Event {
            start,
            dur,
            note: None,
            prob: 1.0,
        };
        assert_eq!(polyphony(&[]), 0);
        // Touching spans, with the first end a rounding error past the second start.
        assert_eq!(polyphony(&[ev(0.0, 0.1 + 0.2), ev(0.3, 0.5)]), 1);
        assert_eq!(polyphony(&[ev(0.0, 0.5), ev(0.25, 0.5), ev(0.5, 0.5)]), 2);
        assert_eq!(polyphony(&[ev(0.0, 1.0), ev(0.0, 1.0), ev(0.0, 1.0)]), 3);
    }
}
