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
        "frequency of a note name, spelt as in patterns: letter, sharps (# or s) or flats (b or f), octave (3 if left out; a4 = 440 Hz)",
        "saw(note(\"c#3\"))",
        Some(|_, _, a| {
            let s = a[0].clone().into_immutable_string().map_err(|_| {
                format!(
                    "note needs a name in quotes like \"a4\" (got {})",
                    type_name(&a[0])
                )
            })?;
            let m = crate::pattern::notes::parse(&s).map_err(|e| format!("note(\"{s}\"): {e}"))?;
            Ok(Dynamic::from(midi_to_hz(f64::from(m))))
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

pub use crate::dsp::math::midi_to_hz;
