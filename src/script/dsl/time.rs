//! Time: tempo, duration, beats, bars, milliseconds and when edits are heard; control
//! thread only.

use super::args::*;
use super::{FnDef, def};
use rhai::Dynamic;

/// The forms of this family, in reference order.
pub const FORMS: &[FnDef] = &[
    def!(
        "time",
        "tempo",
        ["bpm"],
        "sets the tempo (4 beats to a bar); call it before beats()/bars(); tempo(\"midi\") follows a MIDI clock",
        "tempo(120);",
        Some(|b, _, a| {
            if a[0].clone().into_string().is_ok_and(|s| s == "midi") {
                b.follow_clock = true;
                return Ok(Dynamic::UNIT);
            }
            b.tempo_bpm = bpm(&a[0])?;
            Ok(Dynamic::UNIT)
        })
    ),
    def!(
        "time",
        "tempo",
        ["source", "bpm"],
        "tempo(\"midi\", bpm): follows an external MIDI clock (24 pulses a beat; Start, Stop and Continue move and hold the patterns), at bpm until a clock arrives; tempo(\"midi\") alone falls back to the last tempo(bpm), else 120",
        "tempo(\"midi\", 100);",
        Some(|b, _, a| {
            if !a[0].clone().into_string().is_ok_and(|s| s == "midi") {
                return Err("tempo(source, bpm): the only source is \"midi\"".into());
            }
            b.tempo_bpm = bpm(&a[1])?;
            b.follow_clock = true;
            Ok(Dynamic::UNIT)
        })
    ),
    def!(
        "time",
        "duration",
        ["secs"],
        "length of the piece in seconds",
        "duration(bars(8));",
        Some(|b, _, a| {
            let s = number(&a[0], "secs")?;
            if !(s > 0.0 && s <= 86_400.0) {
                return Err(format!(
                    "duration must be between 0 and 86400 seconds (got {s})"
                ));
            }
            b.duration = Some(s);
            Ok(Dynamic::UNIT)
        })
    ),
    def!(
        "time",
        "beats",
        ["n"],
        "seconds in n beats at the current tempo",
        "delay(x, beats(0.75), 0.4)",
        Some(|b, _, a| Ok(Dynamic::from(number(&a[0], "n")? * b.seconds_per_beat())))
    ),
    def!(
        "time",
        "bars",
        ["n"],
        "seconds in n bars (4 beats each)",
        "duration(bars(8));",
        Some(|b, _, a| Ok(Dynamic::from(
            number(&a[0], "n")? * 4.0 * b.seconds_per_beat()
        )))
    ),
    def!(
        "time",
        "reload_at",
        ["when"],
        "when an edit of this script is heard: \"now\" (next block), \"beat\" or \"bar\" (the next one on the transport)",
        "reload_at(\"bar\");",
        Some(|b, _, a| {
            let w = a[0].clone().into_immutable_string().map_err(|_| {
                format!(
                    "reload_at needs \"now\", \"beat\" or \"bar\" (got {})",
                    type_name(&a[0])
                )
            })?;
            b.reload_beats =
                Some(quantize_beats(&w).ok_or_else(|| {
                    format!("reload_at(\"{w}\"): use \"now\", \"beat\" or \"bar\"")
                })?);
            Ok(Dynamic::UNIT)
        })
    ),
    def!(
        "time",
        "ms",
        ["n"],
        "seconds in n milliseconds",
        "perc(metro(1), ms(1), ms(200))",
        Some(|_, _, a| Ok(Dynamic::from(number(&a[0], "n")? / 1000.0)))
    ),
];

pub(crate) fn bpm(d: &Dynamic) -> Result<f64, String> {
    let bpm = number(d, "bpm")?;
    if !(1.0..=999.0).contains(&bpm) {
        return Err(format!("tempo must be between 1 and 999 BPM (got {bpm})"));
    }
    Ok(bpm)
}

/// Beats to wait for a quantized reload: "now" 0, "beat" 1, "bar" 4.
pub fn quantize_beats(when: &str) -> Option<f64> {
    match when {
        "" | "now" => Some(0.0),
        "beat" => Some(1.0),
        "bar" => Some(4.0),
        _ => None,
    }
}
