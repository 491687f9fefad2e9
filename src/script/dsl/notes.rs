//! Notes: note names and MIDI numbers to frequencies; control thread only.

use super::args::*;
use super::{FnDef, def};
use crate::dsp::math::UnOp;
use crate::graph::NodeKind;
use rhai::Dynamic;

/// The forms of this family, in reference order.
pub const FORMS: &[FnDef] = &[
    def!(
        "notes",
        "note",
        ["name"],
        "frequency of a note name: letter, optional # or b, octave (a4 = 440 Hz)",
        "saw(note(\"c#3\"))",
        Some(|_, _, a| {
            let s = a[0]
                .clone()
                .into_immutable_string()
                .map_err(|t| format!("note needs a name in quotes like \"a4\" (got {t})"))?;
            let m = parse_note(&s).ok_or_else(|| format!("\"{s}\" is not a note name; write a letter a–g, an optional # or b, and an octave, e.g. \"c#3\", \"eb4\", \"a4\""))?;
            Ok(Dynamic::from(midi_to_hz(m as f64)))
        })
    ),
    def!(
        "notes",
        "midi",
        ["num"],
        "frequency of a MIDI note number (69 = 440 Hz); a signal gives a signal",
        "sine(midi(60))",
        Some(|b, p, a| match arg(&a[0], "num")? {
            Arg::Num(n) => Ok(Dynamic::from(midi_to_hz(n))),
            s @ Arg::Sig(_) => {
                let i = mono_input(b, &s, "num")?;
                Ok(Dynamic::from(b.source(
                    NodeKind::Un(UnOp::Mtof),
                    &[i],
                    p,
                )?))
            }
        })
    ),
];

/// `c#3`, `eb4`, `a4`, `C-1` → MIDI note number (c4 = 60).
pub fn parse_note(s: &str) -> Option<i32> {
    let s = s.trim();
    let mut chars = s.chars();
    let letter = chars.next()?.to_ascii_lowercase();
    let base = match letter {
        'c' => 0,
        'd' => 2,
        'e' => 4,
        'f' => 5,
        'g' => 7,
        'a' => 9,
        'b' => 11,
        _ => return None,
    };
    let rest: &str = chars.as_str();
    let (acc, rest) = match rest.chars().next() {
        Some('#') | Some('s') => (1, &rest[1..]),
        Some('b') if rest.len() > 1 => (-1, &rest[1..]),
        _ => (0, rest),
    };
    let octave: i32 = rest.parse().ok()?;
    if !(-1..=9).contains(&octave) {
        return None;
    }
    let m = (octave + 1) * 12 + base + acc;
    (0..=127).contains(&m).then_some(m)
}

pub use crate::dsp::math::midi_to_hz;
