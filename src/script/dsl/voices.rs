//! Voices and loops: `poly`, `feedback` and `feed`, registered by hand because they call
//! back into the script; control thread only.

use super::{FnDef, def};

/// The forms of this family, in reference order.
pub const FORMS: &[FnDef] = &[
    def!(
        "voices",
        "poly",
        ["n", "instrument"],
        "n copies of an instrument |v| …, side by side, summed; v.index is the copy's number 0..n−1 as a signal, v.count is n",
        "poly(4, |v| saw(110 * (v.index + 1)) / 4)",
        None
    ),
    def!(
        "feedback",
        "feedback",
        [],
        "the input end of a loop: reads what `.feed()` gets, one block (64 frames) late; a loop must pass through a delay",
        "let fb = feedback(); let y = (x + fb * 0.5).delay(0.3); fb.feed(y)",
        None
    ),
    def!(
        "feedback",
        "feed",
        ["fb", "x"],
        "closes a loop: sends x into a feedback(); returns x",
        "fb.feed(y)",
        None
    ),
];
