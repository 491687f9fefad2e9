//! Mini-notation patterns: parsing and per-cycle events; control thread.
//!
//! A pattern like `"c3 [e3 g3] <a3 b3> x(3,8)"` describes one cycle (one bar) as nested spans,
//! the notation live coders know from TidalCycles and Strudel. [`Pattern::parse`] turns the
//! text into a tree (`parse`, `tree`) and evaluates every cycle of one period up front
//! (`eval`), so the sequencer's per-cycle lookup, [`Pattern::events`], is a slice of a
//! precomputed list: no allocation, safe on the audio thread.
//!
//! Grammar (whitespace — spaces, tabs, newlines — separates steps and is required between
//! them, also in `x [y]`; it is optional around `,`, after `[` and `<`, and before `]` and
//! `>`, and not allowed between a step and its modifiers):
//!
//! ```text
//! pattern  := stack                       the whole text; not empty
//! stack    := sequence ("," sequence)*    comma parts all fill the span (chords, polyrhythm)
//! sequence := step (step | "_")*          steps share the span by weight; `_` adds 1 to the
//!                                         weight of the step before it
//! step     := term modifier*              at most 8 modifiers, applied left to right
//! term     := atom | "~" | "[" stack "]" | "<" alts ("," alts)* ">"
//! alts     := step+                       one step per cycle; no `_` or `@`
//! modifier := "*" int                     n copies side by side, n in 1..=128
//!           | "(" int "," int ["," int] ")"   Euclid (k,n[,r]): 0 <= k <= n <= 64, r any
//!           | "?" [number]                plays with probability p in 0..=1 (default 0.5)
//!           | "@" number                  weight in the sequence, in (0, 1024], <= 3 decimals
//! atom     := note name                   letter a-g, accidentals # or s (sharp), b or f
//!                                         (flat), octave -1..9 (3 if left out): c4 = 60
//!           | MIDI number                 0..=127, decimals allowed: 60.5
//!           | "x"                         a trigger without pitch
//! ```
//!
//! Timing follows Tidal. A step in cycle `c`: `<s0 .. s(n-1)>` plays `s(c mod n)`, which in
//! turn sees cycle `c div n` (so `<a <b c>>` plays a b a c); the `k`-th copy of `s*n` sees
//! cycle `c*n + k` (so `<a b>*2` plays a b every cycle); each onset slot of `s(k,n,r)` plays
//! `s` squeezed into one slot, seeing cycle `c`, with the Bjorklund onsets rotated left by
//! `r` slots. `?` only records the probability (nested `?` multiply); the sequencer rolls it.
//!
//! Limits, each a [`ParseError`]: [`MAX_CHARS`] characters, [`MAX_DEPTH`] levels of brackets,
//! a period of [`MAX_PERIOD`] cycles, [`MAX_EVENTS`] events over the period, and a bound on
//! evaluation work, so parsing any text is quick.

mod eval;
pub mod notes;
mod parse;
mod tree;

#[cfg(test)]
mod tests;

use std::fmt;

/// Longest accepted pattern text, in characters.
pub const MAX_CHARS: usize = 4096;
/// Deepest accepted nesting of `[ ]` and `< >`.
pub const MAX_DEPTH: usize = 32;
/// Most cycles a pattern may take to repeat.
pub const MAX_PERIOD: u64 = 1024;
/// Most events a pattern may hold over its whole period.
pub const MAX_EVENTS: usize = 65_536;

/// One note of one cycle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Event {
    /// Position in the cycle, `0 <= start < 1`.
    pub start: f64,
    /// Length in cycles, `> 0`, `start + dur <= 1` (up to rounding).
    pub dur: f64,
    /// MIDI note number; `None` for `x` (the instrument uses its own pitch).
    pub note: Option<f32>,
    /// Chance that the event plays, `0..=1`: 1 unless `?` applies (nested `?` multiply).
    /// The sequencer rolls it, seeded per (cycle, event index).
    pub prob: f32,
}

/// Why a pattern text was rejected.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    /// Character (not byte) index into the pattern text where the problem is.
    pub offset: usize,
    /// What is wrong and what is expected.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> Self {
        ParseError {
            offset,
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for ParseError {}

/// A parsed pattern: the events of every cycle of one period, flattened.
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    /// Events of all cycles of one period, cycle after cycle.
    events: Vec<Event>,
    /// Cycle `c` owns `events[offsets[c]..offsets[c + 1]]`; `period + 1` entries.
    offsets: Vec<usize>,
    polyphony: usize,
}

impl Pattern {
    /// Parses mini-notation and evaluates every cycle of its period.
    pub fn parse(src: &str) -> Result<Pattern, ParseError> {
        let root = parse::parse(src)?;
        let (events, offsets) = eval::evaluate(&root)?;
        let polyphony = offsets
            .windows(2)
            .map(|w| eval::polyphony(&events[w[0]..w[1]]))
            .max()
            .unwrap_or(0);
        Ok(Pattern {
            events,
            offsets,
            polyphony,
        })
    }

    /// Cycles after which the events repeat (1 for a pattern without `<>`).
    pub fn period(&self) -> u32 {
        (self.offsets.len() - 1) as u32
    }

    /// Events of cycle `cycle` (taken modulo the period), sorted by start then note (`x`
    /// before pitched notes); the index in this slice is the event's identity for the `?`
    /// roll.
    pub fn events(&self, cycle: u64) -> &[Event] {
        let c = (cycle % (self.offsets.len() as u64 - 1)) as usize;
        &self.events[self.offsets[c]..self.offsets[c + 1]]
    }

    /// Largest number of events whose spans overlap at one instant (chords/polyrhythm), a
    /// hint for voice counts. 0 for a pattern of rests.
    pub fn max_polyphony(&self) -> usize {
        self.polyphony
    }
}
