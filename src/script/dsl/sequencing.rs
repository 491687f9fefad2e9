//! The documentation of the pattern vocabulary (registered in `script::sequencing`);
//! control thread only.

use super::{FnDef, def};

/// The forms of this family, in reference order.
pub const FORMS: &[FnDef] = &[
    def!(
        "sequencing",
        "pattern",
        ["text"],
        "a pattern in mini-notation, one cycle per bar: steps share the bar; `~` rest; `[a b]` subdivides a step; `a*3` repeats; `<a b>` takes turns per cycle; `[c3,e3,g3]` chord; `x(3,8)` / `x(3,8,2)` Euclidean (with rotation); `a?` / `a?0.3` chance (seeded); `a _` or `a@2` lengthens a step; steps are note names (`c#3`, `eb4`, `a` = a3), MIDI numbers or `x`",
        "pattern(\"x ~ x [~ x]\").play(|v| sine(v.freq) * perc(v.gate, 0.001, 0.2))",
        None
    ),
    def!(
        "sequencing",
        "play",
        ["p", "instrument"],
        "plays the pattern on an instrument `|v| …`, called once to build a voice template; v.freq, v.gate, v.vel, v.note are each voice's signals; inside it, line/sample restart at each note",
        "pattern(\"a2 c3 e3 g3\").play(|v| saw(v.freq).lpf(v.freq * 4, 0.8) * perc(v.gate, 0.005, 0.25) * v.vel)",
        None
    ),
    def!(
        "sequencing",
        "voices",
        ["p", "n"],
        "voices the instrument gets (default 8, 1..64; for patterns and midi_notes()); a note with every voice busy takes the oldest one's after a 3 ms fade",
        "pattern(\"[c3,e3,g3,b3]\").voices(4).play(|v| tri(v.freq) * adsr(v.gate, 0.01, 0.1, 0.7, 0.3) * 0.2)",
        None
    ),
    def!(
        "sequencing",
        "legato",
        ["p", "x"],
        "gate length as a fraction of each step (default 1; 0.5 = staccato, above 1 overlaps)",
        "pattern(\"c3 e3 g3 c4\").legato(0.5).play(|v| saw(v.freq) * adsr(v.gate, 0.005, 0.1, 0.5, 0.05) * 0.3)",
        None
    ),
    def!(
        "sequencing",
        "fast",
        ["p", "n"],
        "plays the pattern n times per bar",
        "pattern(\"x ~\").fast(2).play(|v| noise() * perc(v.gate, 0.001, 0.03))",
        None
    ),
    def!(
        "sequencing",
        "slow",
        ["p", "n"],
        "stretches the pattern over n bars",
        "pattern(\"c2 g2\").slow(2).play(|v| sine(v.freq) * adsr(v.gate, 0.01, 0.2, 0.6, 0.2))",
        None
    ),
    def!(
        "sequencing",
        "freq",
        ["p"],
        "the pattern as a stepped frequency line (one voice; holds its value through rests; with legato above 1 the notes tie without a new gate)",
        "saw(pattern(\"a1 c2 e2 g2\").freq()) * 0.2",
        None
    ),
    def!(
        "sequencing",
        "gate",
        ["p"],
        "the pattern as a gate line: 1 while a note is held, 0 otherwise",
        "sine(220) * adsr(pattern(\"x ~ x x\").gate(), 0.005, 0.05, 0.5, 0.1)",
        None
    ),
];
