//! Effects: delay, reverb, chorus, compressor, crusher, drive; control thread only.

use super::args::*;
use super::make::process;
use super::{FnDef, def};
use crate::graph::{Input, NodeKind, PortRef, SrcPos};
use crate::script::builder::{Builder, Sig};
use rhai::Dynamic;

/// The forms of this family, in reference order.
pub const FORMS: &[FnDef] = &[
    def!(
        "effects",
        "delay",
        ["x", "secs"],
        "one echo after `secs` added to the input",
        "saw(110).delay(0.25)",
        Some(|b, p, a| delay(b, p, &a[0], &a[1], &Dynamic::from(0.0)))
    ),
    def!(
        "effects",
        "delay",
        ["x", "secs", "feedback"],
        "echoes every `secs`, each `feedback` (0..1) times the last, added to the input",
        "pad.delay(beats(0.75), 0.35)",
        Some(|b, p, a| delay(b, p, &a[0], &a[1], &a[2]))
    ),
    def!(
        "effects",
        "delay",
        ["x", "secs", "feedback", "wet"],
        "echoes like delay(secs, feedback), the echoes scaled by `wet` before they join the input",
        "saw(110).delay(0.375, 0.45, 0.35)",
        Some(|b, p, a| delay_wet(b, p, &a[0], &a[1], &a[2], &a[3]))
    ),
    def!(
        "effects",
        "reverb",
        ["x", "mix"],
        "stereo algorithmic reverb (8-line feedback delay network), 2 s decay; mix 0 = dry … 1 = all reverb",
        "saw(220).lpf(900).reverb(0.3)",
        Some(|b, p, a| reverb(b, p, &a[0], &a[1], &Dynamic::from(2.0), &Dynamic::from(0.4)))
    ),
    def!(
        "effects",
        "reverb",
        ["x", "mix", "secs"],
        "reverb whose tail falls by 60 dB in `secs` (RT60, 0.1..30)",
        "noise().hpf(5000) * perc(metro(1), 0.001, 0.05) .reverb(0.5, 4)",
        Some(|b, p, a| reverb(b, p, &a[0], &a[1], &a[2], &Dynamic::from(0.4)))
    ),
    def!(
        "effects",
        "reverb",
        ["x", "mix", "secs", "damp"],
        "reverb with high-frequency damping 0 (bright) … 1 (dark)",
        "saw(110).reverb(0.4, 3, 0.7)",
        Some(|b, p, a| reverb(b, p, &a[0], &a[1], &a[2], &a[3]))
    ),
    def!(
        "effects",
        "chorus",
        ["x", "rate", "depth"],
        "stereo chorus: three swept copies ~15 ms late; rate in Hz, depth 0..1 (±5 ms)",
        "saw(220).chorus(0.3, 0.5)",
        Some(|b, p, a| chorus(b, p, &a[0], &a[1], &a[2]))
    ),
    def!(
        "effects",
        "comp",
        ["x", "threshold_db", "ratio"],
        "compressor (stereo-linked peak detector, 10 ms attack, 100 ms release): above the threshold, level rises 1/ratio as fast",
        "(saw(55) * 2).comp(-12, 4)",
        Some(|b, p, a| comp(
            b,
            p,
            &a[0],
            &a[1],
            &a[2],
            &Dynamic::from(0.01),
            &Dynamic::from(0.1)
        ))
    ),
    def!(
        "effects",
        "comp",
        ["x", "threshold_db", "ratio", "attack", "release"],
        "compressor with attack and release times in seconds",
        "saw(55).comp(-20, 8, 0.002, 0.25)",
        Some(|b, p, a| comp(b, p, &a[0], &a[1], &a[2], &a[3], &a[4]))
    ),
    def!(
        "effects",
        "crush",
        ["x", "bits"],
        "bit crusher: rounds to 2^(bits−1) steps per unit (1..24 bits, fractions allowed); lo-fi by design, its steps alias",
        "sine(110).crush(4)",
        Some(|b, p, a| crush(b, p, &a[0], &a[1]))
    ),
    def!(
        "effects",
        "drive",
        ["x", "amount"],
        "soft saturation tanh(amount·x), oversampled so that it does not alias (it sounds 0.5 ms late); 1 is gentle, 10 is fuzz",
        "saw(55).drive(4)",
        Some(|b, p, a| {
            non_negative(&a[1], "amount")?;
            process(b, p, NodeKind::Drive, "drive", &a[0], &[(&a[1], "amount")])
        })
    ),
];

pub(crate) fn delay(
    b: &mut Builder,
    p: &SrcPos,
    x: &Dynamic,
    secs: &Dynamic,
    fb: &Dynamic,
) -> Result<Dynamic, String> {
    delay_wet(b, p, x, secs, fb, &Dynamic::from(1.0))
}

pub(crate) fn delay_wet(
    b: &mut Builder,
    p: &SrcPos,
    x: &Dynamic,
    secs: &Dynamic,
    fb: &Dynamic,
    wet: &Dynamic,
) -> Result<Dynamic, String> {
    if let Some(s) = konst(secs)
        && !(0.0..=30.0).contains(&s)
    {
        return Err(format!(
            "delay time must be between 0 and 30 seconds (got {s})"
        ));
    }
    if let Some(f) = konst(fb)
        && f.abs() >= 1.0
    {
        return Err(format!(
            "delay feedback must be between -1 and 1 (got {f}); at 1 or more the echoes would grow forever"
        ));
    }
    process(
        b,
        p,
        NodeKind::Delay,
        "delay",
        x,
        &[(secs, "secs"), (fb, "feedback"), (wet, "wet")],
    )
}

/// A stereo-in, stereo-out effect on the whole signal (mono input feeds both sides).
/// Such effects run once, not once per voice: inside an instrument they would multiply
/// their cost by the voice count, so they are refused there.
fn stereo_fx(
    b: &mut Builder,
    p: &SrcPos,
    kind: NodeKind,
    fname: &str,
    x: &Dynamic,
    params: &[(&Dynamic, &str)],
) -> Result<Dynamic, String> {
    let x = sig(x, fname)?;
    if x.lanes != 1 || b.poly_lanes.is_some() {
        return Err(format!(
            "{fname} works on a whole part, not inside an instrument (it would run once per voice); apply it after .play(..), e.g. pattern(\"x\").play(inst).{fname}(…)"
        ));
    }
    let mut ins = vec![Input::Port(x.ch[0]), Input::Port(x.ch[1])];
    ins.extend(inputs(b, params)?);
    let n = b.add(kind, &ins, p)?;
    Ok(Dynamic::from(Sig {
        ch: [PortRef { node: n, out: 0 }, PortRef { node: n, out: 1 }],
        stereo: true,
        lanes: 1,
    }))
}

fn check(d: &Dynamic, what: &str, lo: f64, hi: f64) -> Result<(), String> {
    match konst(d) {
        Some(v) if !(lo..=hi).contains(&v) => {
            Err(format!("`{what}` must be between {lo} and {hi} (got {v})"))
        }
        _ => Ok(()),
    }
}

pub fn reverb(
    b: &mut Builder,
    p: &SrcPos,
    x: &Dynamic,
    mix: &Dynamic,
    secs: &Dynamic,
    damp: &Dynamic,
) -> Result<Dynamic, String> {
    check(mix, "mix", 0.0, 1.0)?;
    check(secs, "secs", 0.1, 30.0)?;
    check(damp, "damp", 0.0, 1.0)?;
    stereo_fx(
        b,
        p,
        NodeKind::Reverb,
        "reverb",
        x,
        &[(mix, "mix"), (secs, "secs"), (damp, "damp")],
    )
}

pub fn chorus(
    b: &mut Builder,
    p: &SrcPos,
    x: &Dynamic,
    rate: &Dynamic,
    depth: &Dynamic,
) -> Result<Dynamic, String> {
    check(rate, "rate", 0.01, 20.0)?;
    check(depth, "depth", 0.0, 1.0)?;
    stereo_fx(
        b,
        p,
        NodeKind::Chorus,
        "chorus",
        x,
        &[(rate, "rate"), (depth, "depth")],
    )
}

pub fn comp(
    b: &mut Builder,
    p: &SrcPos,
    x: &Dynamic,
    threshold: &Dynamic,
    ratio: &Dynamic,
    attack: &Dynamic,
    release: &Dynamic,
) -> Result<Dynamic, String> {
    check(threshold, "threshold_db", -120.0, 24.0)?;
    check(ratio, "ratio", 1.0, 1000.0)?;
    check(attack, "attack", 0.0, 10.0)?;
    check(release, "release", 0.0, 10.0)?;
    stereo_fx(
        b,
        p,
        NodeKind::Comp,
        "comp",
        x,
        &[
            (threshold, "threshold_db"),
            (ratio, "ratio"),
            (attack, "attack"),
            (release, "release"),
        ],
    )
}

pub fn crush(b: &mut Builder, p: &SrcPos, x: &Dynamic, bits: &Dynamic) -> Result<Dynamic, String> {
    check(bits, "bits", 1.0, 24.0)?;
    process(b, p, NodeKind::Crush, "crush", x, &[(bits, "bits")])
}
