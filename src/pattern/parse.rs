//! Mini-notation text to a pattern tree, with errors that point at the offending character;
//! control thread.
//!
//! A hand-written recursive-descent parser over the text's characters. Recursion only goes
//! through `[ ]` and `< >`, whose depth is capped, and every loop consumes a character, so
//! parsing is linear in the (capped) text length.

use super::eval::euclid_mask;
use super::notes::{self, NoteError};
use super::tree::{Kind, Node};
use super::{MAX_CHARS, MAX_DEPTH, ParseError};

/// Largest `n` in `x*n`.
const MAX_REPEAT: i64 = 128;
/// Largest slot count in `x(k,n)`.
const MAX_SLOTS: i64 = 64;
/// Most modifiers (`*n`, `(k,n)`, `?`, `@w`) on one step.
const MAX_MODIFIERS: usize = 8;
/// Largest `w` in `x@w`.
const MAX_WEIGHT: u64 = 1024;
/// Weights are kept in thousandths (so `x@1.5` is exact); `@` takes at most 3 decimals.
const UNIT: u64 = 1000;

/// What a step may be, for error messages.
const STEP_HELP: &str = "a step is a note name like c3, eb4 or fs2 (octave -1..9, 3 if left \
     out), a MIDI number 0..127 like 60 or 60.5, x (a trigger at the instrument's own pitch), \
     ~ (a rest), or a group in [ ] or < >";

/// Parses a whole pattern text.
pub(super) fn parse(src: &str) -> Result<Node, ParseError> {
    if src.chars().nth(MAX_CHARS).is_some() {
        return Err(ParseError::new(
            MAX_CHARS,
            format!("pattern is longer than {MAX_CHARS} characters; shorten it"),
        ));
    }
    let mut p = Parser {
        chars: src.chars().collect(),
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    if p.peek().is_none() {
        return Err(ParseError::new(
            0,
            "empty pattern: give at least one step, e.g. \"x ~ x ~\"",
        ));
    }
    brackets(&p.chars)?;
    p.stack(None)
}

/// Checks that `[ ]`, `< >` and `( )` pair up, before anything else, so a missing bracket is
/// reported even when something inside it is wrong too.
fn brackets(chars: &[char]) -> Result<(), ParseError> {
    let mut open: Vec<Open> = Vec::new();
    for (at, &c) in chars.iter().enumerate() {
        match c {
            '[' | '<' | '(' => open.push(Open {
                ch: c,
                close: closer(c),
                at,
            }),
            ']' | '>' | ')' => match open.pop() {
                Some(o) if o.close == c => {}
                Some(o) => return Err(mismatch(c, at, o)),
                None => return Err(stray(c, at)),
            },
            _ => {}
        }
    }
    match open.pop() {
        Some(o) => Err(unclosed(o)),
        None => Ok(()),
    }
}

fn closer(open: char) -> char {
    match open {
        '[' => ']',
        '<' => '>',
        _ => ')',
    }
}

fn unclosed(o: Open) -> ParseError {
    let example = if o.ch == '(' { ", as in x(3,8)" } else { "" };
    ParseError::new(
        o.at,
        format!(
            "unclosed `{}` (opened here); add `{}`{example}",
            o.ch, o.close
        ),
    )
}

fn mismatch(c: char, at: usize, o: Open) -> ParseError {
    ParseError::new(
        at,
        format!(
            "`{c}` does not match the `{}` opened at character {}; close that with `{}` first",
            o.ch, o.at, o.close
        ),
    )
}

/// An open bracket whose contents are being parsed.
#[derive(Clone, Copy)]
struct Open {
    ch: char,
    close: char,
    at: usize,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    /// Brackets open around the current position.
    depth: usize,
}

/// Characters of an atom token (a note name or number).
fn is_atom_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '#' | '.' | '-')
}

/// Message for a character of Tidal's or Strudel's notation that this one lacks.
fn unsupported(c: char) -> Option<&'static str> {
    Some(match c {
        '/' => "`/` (slow down) is not supported; use `< >` to play one step per cycle",
        '!' => {
            "`!` (replicate) is not supported; write the step again, or use `*n` to repeat \
             it within its span"
        }
        '|' => "`|` (random choice) is not supported; use `?` for steps that may not play",
        '{' | '}' => {
            "`{ }` (polymeter) is not supported; use `[ ]` to group steps and `,` to stack them"
        }
        ':' => "`:` (sample number) is not supported",
        '.' => "`.` grouping is not supported; use `[ ]` to group steps",
        '%' => "`%` is not supported",
        '"' | '\'' => "quotes are not part of the pattern; give only what is inside them",
        _ => return None,
    })
}

/// Error for a closing character with nothing to close.
fn stray(c: char, at: usize) -> ParseError {
    let msg = match c {
        ']' => "unexpected `]`: there is no `[` to close".to_string(),
        '>' => "unexpected `>`: there is no `<` to close".to_string(),
        ')' => "unexpected `)`: there is no `(` to close; Euclid rhythms go right after a \
                step, as in x(3,8)"
            .to_string(),
        c => format!("unexpected `{c}`"),
    };
    ParseError::new(at, msg)
}

/// Parses `tok` as a plain decimal number (`60`, `60.5`, `.5`), nothing else.
fn decimal(tok: &str) -> Option<f64> {
    let digits = tok.chars().filter(char::is_ascii_digit).count();
    let dots = tok.chars().filter(|&c| c == '.').count();
    if digits == 0 || dots > 1 || digits + dots != tok.chars().count() {
        return None;
    }
    tok.parse().ok()
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Consumes characters while `keep` holds and returns them.
    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// Comma-separated parts up to the closing bracket of `open` (consumed), or to the end
    /// of the text at the top level.
    fn stack(&mut self, open: Option<Open>) -> Result<Node, ParseError> {
        let alt = open.is_some_and(|o| o.ch == '<');
        let mut parts: Vec<Node> = Vec::new();
        let mut comma: Option<usize> = None;
        loop {
            self.skip_ws();
            let part_at = self.pos;
            let steps = self.sequence(alt)?;
            let end = self.pos;
            let next = self.peek();
            // A part ends at `,`, at the matching closer, or at the end of the top level.
            match (next, open) {
                (Some(','), _) | (None, None) => {}
                (Some(c), Some(o)) if c == o.close => {}
                (None, Some(o)) => return Err(unclosed(o)),
                (Some(c @ (']' | '>')), Some(o)) => return Err(mismatch(c, end, o)),
                (Some(c), _) => return Err(stray(c, end)),
            }
            if steps.is_empty() {
                return Err(match (comma, open) {
                    (Some(c), _) => ParseError::new(
                        c,
                        "nothing after this `,`: give a sequence of steps after it, or remove it",
                    ),
                    _ if next == Some(',') => ParseError::new(
                        end,
                        "nothing before this `,`: give a sequence of steps before it, or remove it",
                    ),
                    (None, Some(o)) => ParseError::new(
                        o.at,
                        format!(
                            "empty `{}{}`: put at least one step inside, e.g. {}x ~{}",
                            o.ch, o.close, o.ch, o.close
                        ),
                    ),
                    // Unreachable: the top level is not blank, and stray closers are caught above.
                    (None, None) => ParseError::new(end, format!("expected a step; {STEP_HELP}")),
                });
            }
            let at = match (open, parts.is_empty(), next) {
                // A bracket holding one part: that part is the bracket's construct.
                (Some(o), true, Some(c)) if c == o.close => o.at,
                _ => part_at,
            };
            parts.push(self.part(steps, alt, at)?);
            match next {
                Some(',') => {
                    comma = Some(end);
                    self.pos += 1;
                }
                // The closer.
                Some(_) => {
                    self.pos += 1;
                    break;
                }
                None => break,
            }
        }
        let at = open.map_or(0, |o| o.at);
        if parts.len() == 1 {
            Ok(parts.pop().expect("one part"))
        } else {
            Node::new(Kind::Stack(parts), at)
        }
    }

    /// One comma part: a sequence of weighted steps, or for `< >` an alternation.
    fn part(&self, mut steps: Vec<(Node, u64)>, alt: bool, at: usize) -> Result<Node, ParseError> {
        if steps.len() == 1 {
            return Ok(steps.pop().expect("one step").0);
        }
        if alt {
            Node::new(Kind::Alt(steps.into_iter().map(|s| s.0).collect()), at)
        } else {
            // Smallest whole weights in the same proportions, to keep positions exact longer.
            let common = steps.iter().fold(0, |g, s| gcd(g, s.1));
            for s in &mut steps {
                s.1 /= common;
            }
            let total = steps.iter().map(|s| s.1).sum();
            Node::new(Kind::Seq { steps, total }, at)
        }
    }

    /// Steps (with their weights, in thousandths) up to a `,`, a closing bracket or the end
    /// of the text.
    fn sequence(&mut self, alt: bool) -> Result<Vec<(Node, u64)>, ParseError> {
        let mut steps: Vec<(Node, u64)> = Vec::new();
        loop {
            self.skip_ws();
            let at = self.pos;
            match self.peek() {
                None | Some(',' | ']' | '>' | ')') => return Ok(steps),
                Some('_') => {
                    if alt {
                        return Err(ParseError::new(
                            at,
                            "`_` can't be used inside `< >` (each step there takes a whole \
                             cycle); use it inside [ ] or at the top level",
                        ));
                    }
                    let Some(last) = steps.last_mut() else {
                        return Err(ParseError::new(
                            at,
                            "`_` lengthens the step before it, but there is none here",
                        ));
                    };
                    last.1 += UNIT;
                    self.pos += 1;
                    self.expect_separator()?;
                }
                Some(_) => steps.push(self.step(alt)?),
            }
        }
    }

    /// A term with its modifiers, and its weight (in thousandths) in the enclosing sequence.
    fn step(&mut self, alt: bool) -> Result<(Node, u64), ParseError> {
        let mut node = self.term()?;
        let mut weight: Option<u64> = None;
        let mut count = 0;
        loop {
            let at = self.pos;
            let Some(c @ ('*' | '(' | '?' | '@')) = self.peek() else {
                break;
            };
            count += 1;
            if count > MAX_MODIFIERS {
                return Err(ParseError::new(
                    at,
                    format!("more than {MAX_MODIFIERS} modifiers on one step; group with [ ]"),
                ));
            }
            self.pos += 1;
            node = match c {
                '*' => {
                    let (n, n_at) = self.int("a repeat count after `*`, as in x*2")?;
                    if !(1..=MAX_REPEAT).contains(&n) {
                        return Err(ParseError::new(
                            n_at,
                            format!("repeat count must be 1..={MAX_REPEAT}, not {n}"),
                        ));
                    }
                    Node::new(Kind::Repeat(Box::new(node), n as u32), at)?
                }
                '(' => self.euclid(node, at)?,
                '?' => {
                    let p = self.probability()?;
                    Node::new(Kind::Prob(Box::new(node), p), at)?
                }
                _ => {
                    if alt {
                        return Err(ParseError::new(
                            at,
                            "`@` weights can't be used inside `< >` (each step there takes a \
                             whole cycle); use them inside [ ] or at the top level",
                        ));
                    }
                    if weight.is_some() {
                        return Err(ParseError::new(at, "this step already has a weight `@`"));
                    }
                    weight = Some(self.weight()?);
                    node
                }
            };
        }
        self.expect_separator()?;
        Ok((node, weight.unwrap_or(UNIT)))
    }

    /// After a step: whitespace, `,`, a closing bracket or the end of the text.
    fn expect_separator(&self) -> Result<(), ParseError> {
        match self.peek() {
            None | Some(',' | ']' | '>' | ')') => Ok(()),
            Some(c) if c.is_whitespace() => Ok(()),
            Some(c) => Err(ParseError::new(
                self.pos,
                unsupported(c).map(str::to_string).unwrap_or_else(|| {
                    format!("expected a space before `{c}`: steps are separated by spaces")
                }),
            )),
        }
    }

    /// A step without its modifiers: an atom, `~`, or a bracketed group.
    fn term(&mut self) -> Result<Node, ParseError> {
        let at = self.pos;
        let Some(c) = self.peek() else {
            return Err(ParseError::new(at, format!("expected a step; {STEP_HELP}")));
        };
        match c {
            '[' | '<' => {
                if self.depth >= MAX_DEPTH {
                    return Err(ParseError::new(
                        at,
                        format!(
                            "nesting deeper than {MAX_DEPTH} levels of [ ] and < >; flatten \
                             the pattern"
                        ),
                    ));
                }
                self.depth += 1;
                self.pos += 1;
                let open = Open {
                    ch: c,
                    close: closer(c),
                    at,
                };
                let node = self.stack(Some(open))?;
                self.depth -= 1;
                Ok(node)
            }
            '~' => {
                self.pos += 1;
                Node::new(Kind::Rest, at)
            }
            '*' | '(' | '?' | '@' => Err(ParseError::new(
                at,
                format!(
                    "`{c}` must come right after a step, without a space (as in x*2, x(3,8), \
                     x? or x@3)"
                ),
            )),
            c if is_atom_char(c) && c != '.' => {
                let tok = self.take_while(is_atom_char);
                atom(&tok, at)
            }
            c => Err(ParseError::new(
                at,
                match unsupported(c) {
                    Some(m) => m.to_string(),
                    None => format!("unexpected `{c}`: {STEP_HELP}"),
                },
            )),
        }
    }

    /// `(k,n)` or `(k,n,r)` after a step (the `(` at `open` is consumed).
    fn euclid(&mut self, node: Node, open: usize) -> Result<Node, ParseError> {
        const FORM: &str = "as in x(3,8) or x(3,8,2)";
        let mut nums = Vec::with_capacity(3);
        loop {
            self.skip_ws();
            if self.peek().is_none() {
                return Err(self.unclosed_paren(open));
            }
            let what = match nums.len() {
                0 => format!("the number of onsets, {FORM}"),
                1 => format!("the number of slots, {FORM}"),
                _ => format!("the rotation, {FORM}"),
            };
            nums.push(self.int(&what)?);
            self.skip_ws();
            match self.peek() {
                None => return Err(self.unclosed_paren(open)),
                Some(')') => {
                    if nums.len() < 2 {
                        return Err(ParseError::new(
                            self.pos,
                            format!("a Euclid rhythm needs onsets and slots, {FORM}"),
                        ));
                    }
                    self.pos += 1;
                    break;
                }
                Some(',') if nums.len() < 3 => self.pos += 1,
                Some(c) => {
                    return Err(ParseError::new(
                        self.pos,
                        if nums.len() < 3 {
                            format!("expected `,` or `)` instead of `{c}`, {FORM}")
                        } else {
                            format!("expected `)` instead of `{c}`: at most three numbers, {FORM}")
                        },
                    ));
                }
            }
        }
        let (k, k_at) = nums[0];
        let (n, n_at) = nums[1];
        let r = nums.get(2).map_or(0, |r| r.0);
        if !(1..=MAX_SLOTS).contains(&n) {
            return Err(ParseError::new(
                n_at,
                format!("Euclid slot count must be 1..={MAX_SLOTS}, not {n}"),
            ));
        }
        if !(0..=n).contains(&k) {
            return Err(ParseError::new(
                k_at,
                format!("Euclid onset count must be 0..={n} (the slot count), not {k}"),
            ));
        }
        let mask = euclid_mask(k as u32, n as u32, r);
        Node::new(
            Kind::Euclid {
                child: Box::new(node),
                mask,
                slots: n as u32,
            },
            open,
        )
    }

    fn unclosed_paren(&self, open: usize) -> ParseError {
        unclosed(Open {
            ch: '(',
            close: ')',
            at: open,
        })
    }

    /// A whole number, possibly negative, and where it starts. `what` says what is expected.
    fn int(&mut self, what: &str) -> Result<(i64, usize), ParseError> {
        let at = self.pos;
        let neg = self.peek() == Some('-');
        if neg {
            self.pos += 1;
        }
        let tok = self.take_while(|c| c.is_ascii_digit() || c == '.');
        if !tok.chars().any(|c| c.is_ascii_digit()) {
            return Err(ParseError::new(at, format!("expected {what}")));
        }
        if tok.contains('.') {
            return Err(ParseError::new(
                at,
                format!("`{tok}` is not a whole number; expected {what}"),
            ));
        }
        // Saturate far beyond every limit rather than overflow.
        let mag = tok.bytes().fold(0i64, |acc, b| {
            (acc * 10 + i64::from(b - b'0')).min(1_000_000_000_000)
        });
        Ok((if neg { -mag } else { mag }, at))
    }

    /// The optional number after `?` (0.5 if none).
    fn probability(&mut self) -> Result<f32, ParseError> {
        let at = self.pos;
        if !self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
            return Ok(0.5);
        }
        let tok = self.take_while(|c| c.is_ascii_digit() || c == '.');
        match decimal(&tok) {
            Some(p) if (0.0..=1.0).contains(&p) => Ok(p as f32),
            _ => Err(ParseError::new(
                at,
                format!("probability must be a number from 0 to 1 (as in x?0.3), not `{tok}`"),
            )),
        }
    }

    /// The number after `@`, in thousandths.
    fn weight(&mut self) -> Result<u64, ParseError> {
        let at = self.pos;
        let tok = self.take_while(|c| c.is_ascii_digit() || c == '.');
        let decimals = tok.split_once('.').map_or(0, |(_, d)| d.len());
        match decimal(&tok) {
            Some(w) if w > 0.0 && w <= MAX_WEIGHT as f64 && decimals <= 3 => {
                Ok((w * UNIT as f64).round() as u64)
            }
            _ => Err(ParseError::new(
                at,
                format!(
                    "expected a weight above 0 and at most {MAX_WEIGHT}, with at most 3 \
                     decimals, after `@`, as in x@3 or x@1.5"
                ),
            )),
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A note name, MIDI number or `x`.
fn atom(tok: &str, at: usize) -> Result<Node, ParseError> {
    let lower = tok.to_lowercase();
    if lower == "x" {
        return Node::new(Kind::Note(None), at);
    }
    let midi = match lower.chars().next() {
        Some('0'..='9') => {
            let Some(v) = decimal(&lower) else {
                return Err(unknown(tok, at));
            };
            v
        }
        Some('a'..='g') => match notes::parse(tok) {
            Ok(m) => f64::from(m),
            Err(NoteError::NotANote) => return Err(unknown(tok, at)),
            Err(NoteError::Octave(o)) => {
                return Err(ParseError::new(
                    at,
                    format!("octave {o} of `{tok}` is out of range; octaves are -1..9"),
                ));
            }
            Err(NoteError::Range(m)) => m as f64,
        },
        _ => return Err(unknown(tok, at)),
    };
    if !(0.0..=127.0).contains(&midi) {
        return Err(ParseError::new(
            at,
            format!("`{tok}` is MIDI note {midi}, outside 0..127"),
        ));
    }
    Node::new(Kind::Note(Some(midi as f32)), at)
}

fn unknown(tok: &str, at: usize) -> ParseError {
    ParseError::new(at, format!("unknown step `{tok}`: {STEP_HELP}"))
}
