//! The sound-script vocabulary: one table that both registers every function with the Rhai
//! engine and documents it; control thread only.

use super::builder::{Arg, Builder, Sig, Voice, src_pos};
use super::fx;
use crate::dsp::math::{BinOp, UnOp};
use crate::dsp::midi::CcSpec;
use crate::graph::{Input, NodeKind, NodeSpec, PortRef, SrcPos};
use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, NativeCallContext, Position};
use std::any::TypeId;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

type Build = fn(&mut Builder, &SrcPos, &[Dynamic]) -> Result<Dynamic, String>;

/// One documented function form.
pub struct FnDef {
    pub group: &'static str,
    pub name: &'static str,
    /// Parameter names; the arity is their count. A leading `x` is the signal a method acts on.
    pub params: &'static [&'static str],
    pub doc: &'static str,
    pub example: &'static str,
    /// `None` for forms registered by hand (they call back into the script).
    pub build: Option<Build>,
}

/// The operators, documented beside the functions.
pub const OPERATORS: &[(&str, &str, &str)] = &[
    (
        "a + b",
        "sum of two signals, or a signal and a number",
        "saw(110) + saw(110.5)",
    ),
    ("a - b", "difference", "noise() - noise().lpf(500)"),
    (
        "a * b",
        "product: gain, ring modulation, envelopes",
        "sine(440) * perc(metro(1), 0.01, 0.3)",
    ),
    (
        "a / b",
        "quotient (x / 0 gives inf, silenced and counted at the device)",
        "saw(55) / 4",
    ),
    ("-a", "negation", "-saw(110)"),
];

macro_rules! def {
    ($group:literal, $name:literal, [$($p:literal),*], $doc:literal, $ex:literal, $build:expr) => {
        FnDef { group: $group, name: $name, params: &[$($p),*], doc: $doc, example: $ex, build: $build }
    };
}

pub const FUNCTIONS: &[FnDef] = &[
    def!(
        "sources",
        "sine",
        ["freq"],
        "sine wave, freq in Hz",
        "sine(440)",
        Some(|b, p, a| src(
            b,
            p,
            NodeKind::Sine,
            &[(&a[0], "freq"), (&Dynamic::from(0.0), "phase")]
        ))
    ),
    def!(
        "sources",
        "sine",
        ["freq", "phase"],
        "sine wave with a phase offset in cycles (0..1)",
        "sine(0.5, 0.25)",
        Some(|b, p, a| src(b, p, NodeKind::Sine, &[(&a[0], "freq"), (&a[1], "phase")]))
    ),
    def!(
        "sources",
        "saw",
        ["freq"],
        "band-limited rising sawtooth, ±1",
        "saw(110)",
        Some(|b, p, a| src(b, p, NodeKind::Saw, &[(&a[0], "freq")]))
    ),
    def!(
        "sources",
        "square",
        ["freq"],
        "band-limited square wave, ±1",
        "square(220)",
        Some(|b, p, a| src(
            b,
            p,
            NodeKind::Square,
            &[(&a[0], "freq"), (&Dynamic::from(0.5), "width")]
        ))
    ),
    def!(
        "sources",
        "pulse",
        ["freq", "width"],
        "band-limited pulse, width 0..1 of the cycle high",
        "pulse(110, 0.25)",
        Some(|b, p, a| src(b, p, NodeKind::Pulse, &[(&a[0], "freq"), (&a[1], "width")]))
    ),
    def!(
        "sources",
        "tri",
        ["freq"],
        "triangle wave, ±1",
        "tri(330)",
        Some(|b, p, a| src(b, p, NodeKind::Tri, &[(&a[0], "freq")]))
    ),
    def!(
        "sources",
        "noise",
        [],
        "white noise, ±1, seeded from the node's key (renders repeat)",
        "noise() * 0.1",
        Some(|b, p, _| src(b, p, NodeKind::Noise, &[]))
    ),
    def!(
        "sources",
        "pink",
        [],
        "pink noise (−3 dB/octave), seeded like noise()",
        "pink() * 0.2",
        Some(|b, p, _| src(b, p, NodeKind::Pink, &[]))
    ),
    def!(
        "sources",
        "sample",
        ["file"],
        "plays a WAV file (8–32-bit int or float, mono or stereo) at the engine rate; the path stays inside the script's folder; in an instrument it starts at each note, outside one with the piece",
        "pattern(\"x ~ x x\").play(|v| sample(\"samples/rim.wav\") * v.vel)",
        None
    ),
    def!(
        "sources",
        "speed",
        ["x", "rate"],
        "playback speed of a sample(..): 2 = an octave up and twice as short, negative = backwards",
        "sample(\"samples/rim.wav\").speed(0.5)",
        None
    ),
    def!(
        "sources",
        "looped",
        ["x"],
        "loops a sample(..) (`loop` is a Rhai keyword, so the method is `looped`)",
        "sample(\"samples/rim.wav\").looped() * 0.5",
        None
    ),
    def!(
        "control",
        "line",
        ["from", "to", "secs"],
        "linear ramp from `from` to `to` over `secs`, then holds; inside a pattern instrument it starts again at each note",
        "sine(line(150, 45, 0.08))",
        Some(|b, p, a| {
            non_negative(&a[2], "secs")?;
            let mut ins = inputs(b, &[(&a[0], "from"), (&a[1], "to"), (&a[2], "secs")])?;
            // Inside a pattern instrument the ramp starts again at each note.
            if let Some(t) = b.voice_trig {
                ins.push(Input::Port(t));
            }
            Ok(Dynamic::from(b.source(NodeKind::Line, &ins, p)?))
        })
    ),
    def!(
        "control",
        "adsr",
        ["gate", "a", "d", "s", "r"],
        "linear envelope: attack, decay (secs), sustain level 0..1, release (secs) while gate > 0",
        "saw(110) * adsr(pulse(2, 0.5), 0.01, 0.1, 0.6, 0.3)",
        Some(|b, p, a| {
            for (v, w) in [(&a[1], "a"), (&a[2], "d"), (&a[4], "r")] {
                non_negative(v, w)?;
            }
            if let Some(s) = konst(&a[3])
                && !(0.0..=1.0).contains(&s)
            {
                return Err(format!("sustain level must be between 0 and 1 (got {s})"));
            }
            src(
                b,
                p,
                NodeKind::Adsr,
                &[
                    (&a[0], "gate"),
                    (&a[1], "a"),
                    (&a[2], "d"),
                    (&a[3], "s"),
                    (&a[4], "r"),
                ],
            )
        })
    ),
    def!(
        "control",
        "perc",
        ["gate", "a", "r"],
        "percussive envelope started by each rising gate/trigger: attack then curved release (secs)",
        "noise() * perc(metro(0.5), 0.001, 0.1)",
        Some(|b, p, a| {
            non_negative(&a[1], "a")?;
            non_negative(&a[2], "r")?;
            src(
                b,
                p,
                NodeKind::Perc,
                &[(&a[0], "gate"), (&a[1], "a"), (&a[2], "r")],
            )
        })
    ),
    def!(
        "control",
        "metro",
        ["beats"],
        "a one-sample trigger every `beats` beats, on the transport grid",
        "perc(metro(1), 0.001, 0.2)",
        Some(|b, p, a| {
            positive(&a[0], "beats")?;
            src(b, p, NodeKind::Metro, &[(&a[0], "beats")])
        })
    ),
    def!(
        "control",
        "range",
        ["x", "lo", "hi"],
        "maps a bipolar signal (−1..1) onto lo..hi; a knob, cc(n), maps its 0..1",
        "sine(0.1).range(500, 2500)",
        Some(|b, p, a| {
            if let Some(knob) = cc_range(b, a)? {
                return Ok(knob);
            }
            process(
                b,
                p,
                NodeKind::Range,
                "range",
                &a[0],
                &[(&a[1], "lo"), (&a[2], "hi")],
            )
        })
    ),
    def!(
        "control",
        "smooth",
        ["x", "secs"],
        "one-pole lag: glides to each new value in about `secs`",
        "metro(1).smooth(0.05)",
        Some(|b, p, a| {
            non_negative(&a[1], "secs")?;
            process(b, p, NodeKind::Smooth, "smooth", &a[0], &[(&a[1], "secs")])
        })
    ),
    def!(
        "filters",
        "lpf",
        ["x", "cut"],
        "resonant low-pass (state-variable), cut in Hz, Q 0.707",
        "saw(110).lpf(800)",
        Some(|b, p, a| filter(b, p, NodeKind::Lpf, "lpf", a, 0.707))
    ),
    def!(
        "filters",
        "lpf",
        ["x", "cut", "q"],
        "low-pass with resonance q (0.5 soft … 20 ringing)",
        "saw(110).lpf(sine(0.2).range(300, 3000), 4)",
        Some(|b, p, a| filter(b, p, NodeKind::Lpf, "lpf", a, 0.707))
    ),
    def!(
        "filters",
        "hpf",
        ["x", "cut"],
        "high-pass, cut in Hz, Q 0.707",
        "noise().hpf(7000)",
        Some(|b, p, a| filter(b, p, NodeKind::Hpf, "hpf", a, 0.707))
    ),
    def!(
        "filters",
        "hpf",
        ["x", "cut", "q"],
        "high-pass with resonance q",
        "noise().hpf(1800, 0.7)",
        Some(|b, p, a| filter(b, p, NodeKind::Hpf, "hpf", a, 0.707))
    ),
    def!(
        "filters",
        "bpf",
        ["x", "cut"],
        "band-pass (unity gain at the centre), Q 1",
        "noise().bpf(1000)",
        Some(|b, p, a| filter(b, p, NodeKind::Bpf, "bpf", a, 1.0))
    ),
    def!(
        "filters",
        "bpf",
        ["x", "cut", "q"],
        "band-pass with bandwidth set by q",
        "noise().bpf(1000, 8)",
        Some(|b, p, a| filter(b, p, NodeKind::Bpf, "bpf", a, 1.0))
    ),
    def!(
        "filters",
        "notch",
        ["x", "cut"],
        "band-reject, Q 1",
        "saw(110).notch(440)",
        Some(|b, p, a| filter(b, p, NodeKind::Notch, "notch", a, 1.0))
    ),
    def!(
        "filters",
        "notch",
        ["x", "cut", "q"],
        "band-reject with width set by q",
        "noise().notch(1000, 4)",
        Some(|b, p, a| filter(b, p, NodeKind::Notch, "notch", a, 1.0))
    ),
    def!(
        "filters",
        "ladder",
        ["x", "cut"],
        "4-pole ladder low-pass (24 dB/octave), no resonance",
        "saw(55).ladder(400)",
        Some(|b, p, a| filter(b, p, NodeKind::Ladder, "ladder", a, 0.0))
    ),
    def!(
        "filters",
        "ladder",
        ["x", "cut", "res"],
        "ladder low-pass with resonance 0..1 (self-oscillates near 1)",
        "saw(55).ladder(600, 0.8)",
        Some(|b, p, a| filter(b, p, NodeKind::Ladder, "ladder", a, 0.0))
    ),
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
        Some(|b, p, a| fx::reverb(b, p, &a[0], &a[1], &Dynamic::from(2.0), &Dynamic::from(0.4)))
    ),
    def!(
        "effects",
        "reverb",
        ["x", "mix", "secs"],
        "reverb whose tail falls by 60 dB in `secs` (RT60, 0.1..30)",
        "noise().hpf(5000) * perc(metro(1), 0.001, 0.05) .reverb(0.5, 4)",
        Some(|b, p, a| fx::reverb(b, p, &a[0], &a[1], &a[2], &Dynamic::from(0.4)))
    ),
    def!(
        "effects",
        "reverb",
        ["x", "mix", "secs", "damp"],
        "reverb with high-frequency damping 0 (bright) … 1 (dark)",
        "saw(110).reverb(0.4, 3, 0.7)",
        Some(|b, p, a| fx::reverb(b, p, &a[0], &a[1], &a[2], &a[3]))
    ),
    def!(
        "effects",
        "chorus",
        ["x", "rate", "depth"],
        "stereo chorus: three swept copies ~15 ms late; rate in Hz, depth 0..1 (±5 ms)",
        "saw(220).chorus(0.3, 0.5)",
        Some(|b, p, a| fx::chorus(b, p, &a[0], &a[1], &a[2]))
    ),
    def!(
        "effects",
        "comp",
        ["x", "threshold_db", "ratio"],
        "compressor (stereo-linked peak detector, 10 ms attack, 100 ms release): above the threshold, level rises 1/ratio as fast",
        "(saw(55) * 2).comp(-12, 4)",
        Some(|b, p, a| fx::comp(
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
        Some(|b, p, a| fx::comp(b, p, &a[0], &a[1], &a[2], &a[3], &a[4]))
    ),
    def!(
        "effects",
        "crush",
        ["x", "bits"],
        "bit crusher: rounds to 2^(bits−1) steps per unit (1..24 bits, fractions allowed)",
        "sine(110).crush(4)",
        Some(|b, p, a| fx::crush(b, p, &a[0], &a[1]))
    ),
    def!(
        "effects",
        "drive",
        ["x", "amount"],
        "soft saturation tanh(amount·x); 1 is gentle, 10 is fuzz",
        "saw(55).drive(4)",
        Some(|b, p, a| {
            non_negative(&a[1], "amount")?;
            process(b, p, NodeKind::Drive, "drive", &a[0], &[(&a[1], "amount")])
        })
    ),
    def!(
        "mixing",
        "gain",
        ["x", "g"],
        "multiplies by g (a number or a signal)",
        "saw(110).gain(0.3)",
        Some(|b, p, a| process(
            b,
            p,
            NodeKind::Bin(BinOp::Mul),
            "gain",
            &a[0],
            &[(&a[1], "g")]
        ))
    ),
    def!(
        "mixing",
        "pan",
        ["x", "pos"],
        "equal-power pan of a mono signal, −1 left … 1 right (a stereo signal is balanced)",
        "saw(110).pan(-0.5)",
        Some(|b, p, a| pan(b, p, &a[0], &a[1]))
    ),
    def!(
        "mixing",
        "mix",
        ["list"],
        "sums an array of signals (mono ones go to both sides of stereo ones)",
        "mix([sine(220), sine(330) * 0.5])",
        Some(|b, p, a| mix(b, p, &a[0]))
    ),
    def!(
        "mixing",
        "stereo",
        ["left", "right"],
        "a stereo signal from two mono ones",
        "stereo(saw(110), saw(110.5))",
        Some(|b, p, a| {
            let l = mono_input(b, &arg(&a[0], "left")?, "left")?;
            let r = mono_input(b, &arg(&a[1], "right")?, "right")?;
            let mut ports = [PortRef { node: 0, out: 0 }; 2];
            let mut lanes = 1;
            for (i, inp) in [l, r].into_iter().enumerate() {
                let n = b.add(NodeKind::Bin(BinOp::Add), &[inp, Input::Const(0.0)], p)?;
                ports[i] = PortRef { node: n, out: 0 };
                lanes = lanes.max(b.nodes[n as usize].lanes);
            }
            Ok(Dynamic::from(Sig {
                ch: ports,
                stereo: true,
                lanes,
            }))
        })
    ),
    def!(
        "math",
        "abs",
        ["x"],
        "absolute value (full-wave rectifier)",
        "sine(2).abs()",
        Some(|b, p, a| process(b, p, NodeKind::Un(UnOp::Abs), "abs", &a[0], &[]))
    ),
    def!(
        "math",
        "clip",
        ["x", "lo", "hi"],
        "hard limit between lo and hi",
        "(saw(110) * 3).clip(-1, 1)",
        Some(|b, p, a| process(
            b,
            p,
            NodeKind::Clip,
            "clip",
            &a[0],
            &[(&a[1], "lo"), (&a[2], "hi")]
        ))
    ),
    def!(
        "math",
        "min",
        ["a", "b"],
        "smaller of two values, per sample",
        "min(saw(110), 0.5)",
        Some(|b, p, a| binary(b, p, BinOp::Min, &a[0], &a[1]))
    ),
    def!(
        "math",
        "max",
        ["a", "b"],
        "larger of two values, per sample",
        "max(sine(3), 0)",
        Some(|b, p, a| binary(b, p, BinOp::Max, &a[0], &a[1]))
    ),
    def!(
        "math",
        "pow",
        ["a", "b"],
        "a to the power b, per sample",
        "pow(2, sine(0.5) * 1.5) * 1200",
        Some(|b, p, a| binary(b, p, BinOp::Pow, &a[0], &a[1]))
    ),
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
            let w = a[0]
                .clone()
                .into_immutable_string()
                .map_err(|t| format!("reload_at needs \"now\", \"beat\" or \"bar\" (got {t})"))?;
            b.reload_beats =
                Some(crate::config::quantize_beats(&w).ok_or_else(|| {
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
    def!(
        "notes",
        "note",
        ["name"],
        "frequency of a note name, spelt as in patterns: letter, sharps (# or s) or flats (b or f), octave (3 if left out; a4 = 440 Hz)",
        "saw(note(\"c#3\"))",
        Some(|_, _, a| {
            let s = a[0]
                .clone()
                .into_immutable_string()
                .map_err(|t| format!("note needs a name in quotes like \"a4\" (got {t})"))?;
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
    def!(
        "identity",
        "id",
        ["x", "name"],
        "pins the node's identity, so edits elsewhere never reset it (hot reload)",
        "sine(0.1).id(\"lfo\")",
        Some(|b, _, a| {
            let s = sig(&a[0], "id")?;
            let name = a[1]
                .clone()
                .into_immutable_string()
                .map_err(|t| format!("id needs a name in quotes (got {t})"))?;
            if name.is_empty() || name.len() > 64 {
                return Err("an id must be 1 to 64 characters".into());
            }
            let chans = s.channels().to_vec();
            for (i, c) in chans.iter().enumerate() {
                let n = &mut b.nodes[c.node as usize];
                n.id = Some(if chans.len() == 2 && chans[0].node != chans[1].node {
                    format!("{name}.{}", ["L", "R"][i])
                } else {
                    name.to_string()
                });
            }
            Ok(Dynamic::from(s))
        })
    ),
    def!(
        "midi",
        "cc",
        ["num"],
        "a MIDI knob: controller num (0..127) on any channel, 0..1, smoothed over 15 ms; .range(lo, hi) maps it, .init(x) is where it starts until the knob moves; values survive edits (and runs, with midi_persist_cc)",
        "saw(110).lpf(cc(74).init(0.3).range(200, 4000), 0.8) * 0.2",
        Some(|b, p, a| knob(b, p, &a[0], None))
    ),
    def!(
        "midi",
        "cc",
        ["num", "channel"],
        "a MIDI knob on one channel (1..16)",
        "sine(220) * cc(7, 1)",
        Some(|b, p, a| knob(b, p, &a[0], Some(&a[1])))
    ),
    def!(
        "midi",
        "init",
        ["knob", "x"],
        "where a cc() knob stands (0..1) until its controller moves",
        "cc(1).init(0.5)",
        Some(|b, _, a| {
            let x = number(&a[1], "x")?;
            if !(0.0..=1.0).contains(&x) {
                return Err(format!("init is a knob position 0..1 (got {x})"));
            }
            let spec = cc_node(b, &a[0], "init")?;
            spec.init = x as f32;
            Ok(a[0].clone())
        })
    ),
    def!(
        "midi",
        "midi_notes",
        [],
        "notes from MIDI input on every channel, to .play(instrument) like a pattern: note-on starts a voice (v.freq, v.vel, v.note), note-off releases its gate, the sustain pedal holds, pitch bend bends v.freq",
        "midi_notes().play(|v| saw(v.freq) * adsr(v.gate, 0.01, 0.1, 0.7, 0.3) * v.vel * 0.3)",
        None
    ),
    def!(
        "midi",
        "midi_notes",
        ["channel"],
        "notes from one MIDI channel (1..16)",
        "midi_notes(10).play(|v| noise() * perc(v.gate, 0.001, 0.1) * v.vel)",
        None
    ),
    def!(
        "midi",
        "bend",
        ["notes", "semitones"],
        "how far a full pitch-bend moves the notes (default 2, 0..48)",
        "midi_notes().bend(12).voices(4).play(|v| tri(v.freq) * adsr(v.gate, 0.01, 0.1, 0.8, 0.2) * 0.3)",
        None
    ),
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
    def!(
        "mixing",
        "track",
        ["x", "name"],
        "names a stem: `waves render` also writes NAME__name.wav; the same name twice is one bus",
        "pattern(\"x*4\").play(|v| sine(line(150, 45, 0.08)) * perc(v.gate, 0.001, 0.3)).track(\"kick\")",
        None
    ),
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
    def!(
        "parameters",
        "param",
        ["name", "default"],
        "declares a parameter the command line can set and returns its value as a number: `default` (*number*), or VALUE from `waves FILE name=VALUE` or `--set name=VALUE`; a name is letters, digits and `_`, starting with a letter, declared once (the same declaration again is fine); `waves check --params FILE` lists a script's parameters",
        "sine(param(\"freq\", 220)) * 0.2",
        None
    ),
    def!(
        "parameters",
        "param",
        ["name", "default", "lo", "hi"],
        "a parameter with a range (*numbers*, lo ≤ default ≤ hi, else an error): a value from the command line outside lo..hi is an error",
        "saw(110).lpf(param(\"cutoff\", 800, 200, 4000))",
        None
    ),
    def!(
        "seeing",
        "monitor",
        ["x", "name"],
        "while playing in a terminal, a live line for x: a level meter for sound, a bar and the value for a control signal; on a pattern (or an instrument's output) also its step, `▮▯▯▯ step 1/4`; returns x unchanged",
        "sine(0.2).monitor(\"lfo\")",
        None
    ),
];

pub(crate) fn err_at(msg: String, pos: Position) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(msg.into(), pos))
}

pub(crate) fn type_name(d: &Dynamic) -> &'static str {
    if d.is::<Sig>() {
        "a signal"
    } else if d.is_string() {
        "a string"
    } else if d.is_unit() {
        "nothing (())"
    } else if d.is_array() {
        "an array"
    } else if d.is_bool() {
        "a bool"
    } else if d.is::<FnPtr>() {
        "a function"
    } else {
        "another type"
    }
}

pub fn arg(d: &Dynamic, what: &str) -> Result<Arg, String> {
    if let Some(i) = d.clone().try_cast::<i64>() {
        return Ok(Arg::Num(i as f64));
    }
    if let Some(f) = d.clone().try_cast::<f64>() {
        if !f.is_finite() {
            return Err(format!("`{what}` is {f}, which is not a finite number"));
        }
        return Ok(Arg::Num(f));
    }
    if let Some(s) = d.clone().try_cast::<Sig>() {
        return Ok(Arg::Sig(s));
    }
    Err(format!(
        "`{what}` must be a number or a signal, got {}",
        type_name(d)
    ))
}

pub(crate) fn number(d: &Dynamic, what: &str) -> Result<f64, String> {
    match arg(d, what)? {
        Arg::Num(n) => Ok(n),
        Arg::Sig(_) => Err(format!("`{what}` must be a number here, not a signal")),
    }
}

pub(crate) fn konst(d: &Dynamic) -> Option<f64> {
    match arg(d, "") {
        Ok(Arg::Num(n)) => Some(n),
        _ => None,
    }
}

pub(crate) fn non_negative(d: &Dynamic, what: &str) -> Result<(), String> {
    match konst(d) {
        Some(v) if v < 0.0 => Err(format!("`{what}` cannot be negative (got {v})")),
        _ => Ok(()),
    }
}

pub(crate) fn positive(d: &Dynamic, what: &str) -> Result<(), String> {
    match konst(d) {
        Some(v) if v <= 0.0 => Err(format!("`{what}` must be above 0 (got {v})")),
        _ => Ok(()),
    }
}

pub(crate) fn sig(d: &Dynamic, fname: &str) -> Result<Sig, String> {
    d.clone().try_cast::<Sig>().ok_or_else(|| {
        format!(
            "{fname} needs a signal to act on, got {}; e.g. saw(110).{fname}(…)",
            type_name(d)
        )
    })
}

pub(crate) fn mono_input(_b: &Builder, a: &Arg, what: &str) -> Result<Input, String> {
    match a {
        Arg::Num(n) => Ok(Input::Const(*n as f32)),
        Arg::Sig(s) if s.stereo => Err(format!(
            "`{what}` must be a mono signal; this one is stereo"
        )),
        Arg::Sig(s) => Ok(Input::Port(s.ch[0])),
    }
}

pub(crate) fn inputs(b: &Builder, params: &[(&Dynamic, &str)]) -> Result<Vec<Input>, String> {
    params
        .iter()
        .map(|(d, w)| mono_input(b, &arg(d, w)?, w))
        .collect()
}

fn bpm(d: &Dynamic) -> Result<f64, String> {
    let bpm = number(d, "bpm")?;
    if !(1.0..=999.0).contains(&bpm) {
        return Err(format!("tempo must be between 1 and 999 BPM (got {bpm})"));
    }
    Ok(bpm)
}

/// `cc(num[, channel])`: a knob reading 0..1 (inputs lo 0, hi 1).
fn knob(
    b: &mut Builder,
    p: &SrcPos,
    num: &Dynamic,
    channel: Option<&Dynamic>,
) -> Result<Dynamic, String> {
    let n = number(num, "num")?;
    if !(0.0..=127.0).contains(&n) || n.fract() != 0.0 {
        return Err(format!("cc: a controller number is 0..127 (got {n})"));
    }
    let channel = match channel {
        None => None,
        Some(c) => {
            let c = number(c, "channel")?;
            if !(1.0..=16.0).contains(&c) || c.fract() != 0.0 {
                return Err(format!("cc: a MIDI channel is 1..16 (got {c})"));
            }
            Some(c as u8 - 1)
        }
    };
    let spec = CcSpec {
        num: n as u8,
        channel,
        init: 0.0,
    };
    src(
        b,
        p,
        NodeKind::Cc(spec),
        &[(&Dynamic::from(0.0), "lo"), (&Dynamic::from(1.0), "hi")],
    )
}

/// The knob a `.init()` or `.range()` acts on, if `d` is the output of `cc(..)`.
fn cc_of<'b>(b: &'b mut Builder, d: &Dynamic) -> Option<&'b mut NodeSpec> {
    let s = d.clone().try_cast::<Sig>()?;
    let node = b.nodes.get_mut(s.ch[0].node as usize)?;
    matches!(node.kind, NodeKind::Cc(_)).then_some(node)
}

fn cc_node<'b>(b: &'b mut Builder, d: &Dynamic, what: &str) -> Result<&'b mut CcSpec, String> {
    match cc_of(b, d).map(|n| &mut n.kind) {
        Some(NodeKind::Cc(spec)) => Ok(spec),
        _ => Err(format!(
            "{what} applies to a knob, cc(..) itself: cc(74).{what}(..)"
        )),
    }
}

/// `cc(n).range(lo, hi)`: a knob's 0..1 onto lo..hi (a copy of the knob, so one knob may
/// be ranged twice). `None` for anything else, which `range` maps as bipolar.
fn cc_range(b: &mut Builder, a: &[Dynamic]) -> Result<Option<Dynamic>, String> {
    let plain = [Input::Const(0.0), Input::Const(1.0)];
    let Some(node) = cc_of(b, &a[0]).filter(|n| n.inputs == plain) else {
        return Ok(None);
    };
    let (kind, pos) = (node.kind.clone(), node.pos.clone());
    let (lo, hi) = (arg(&a[1], "lo")?, arg(&a[2], "hi")?);
    if lo.lanes() != 1 || hi.lanes() != 1 {
        return Ok(None);
    }
    let ins = [mono_input(b, &lo, "lo")?, mono_input(b, &hi, "hi")?];
    Ok(Some(Dynamic::from(b.source(kind, &ins, &pos)?)))
}

pub(crate) fn src(
    b: &mut Builder,
    p: &SrcPos,
    kind: NodeKind,
    params: &[(&Dynamic, &str)],
) -> Result<Dynamic, String> {
    let ins = inputs(b, params)?;
    Ok(Dynamic::from(b.source(kind, &ins, p)?))
}

pub(crate) fn process(
    b: &mut Builder,
    p: &SrcPos,
    kind: NodeKind,
    fname: &str,
    x: &Dynamic,
    params: &[(&Dynamic, &str)],
) -> Result<Dynamic, String> {
    let x = sig(x, fname)?;
    let ins = inputs(b, params)?;
    Ok(Dynamic::from(b.per_channel(kind, &x, &ins, p)?))
}

fn filter(
    b: &mut Builder,
    p: &SrcPos,
    kind: NodeKind,
    fname: &str,
    a: &[Dynamic],
    default_q: f64,
) -> Result<Dynamic, String> {
    if let Some(c) = konst(&a[1])
        && c <= 0.0
    {
        return Err(format!("{fname} cutoff must be above 0 Hz (got {c})"));
    }
    let q = a.get(2).cloned().unwrap_or(Dynamic::from(default_q));
    if let Some(v) = konst(&q) {
        if kind == NodeKind::Ladder {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!(
                    "ladder resonance must be between 0 and 1 (got {v})"
                ));
            }
        } else if v <= 0.0 {
            return Err(format!(
                "{fname} q must be above 0 (got {v}); 0.707 is a plain filter"
            ));
        }
    }
    let res_name = if kind == NodeKind::Ladder { "res" } else { "q" };
    process(b, p, kind, fname, &a[0], &[(&a[1], "cut"), (&q, res_name)])
}

fn delay(
    b: &mut Builder,
    p: &SrcPos,
    x: &Dynamic,
    secs: &Dynamic,
    fb: &Dynamic,
) -> Result<Dynamic, String> {
    delay_wet(b, p, x, secs, fb, &Dynamic::from(1.0))
}

fn delay_wet(
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

/// `a op b` where at least one side is a signal; numbers on both sides fold to a number.
pub fn binary(
    b: &mut Builder,
    p: &SrcPos,
    op: BinOp,
    x: &Dynamic,
    y: &Dynamic,
) -> Result<Dynamic, String> {
    let (xa, ya) = (arg(x, "a")?, arg(y, "b")?);
    let (xs, ys) = match (&xa, &ya) {
        (Arg::Num(m), Arg::Num(n)) => {
            let (m, n) = (*m, *n);
            return Ok(Dynamic::from(match op {
                BinOp::Add => m + n,
                BinOp::Sub => m - n,
                BinOp::Mul => m * n,
                BinOp::Div => m / n,
                BinOp::Min => m.min(n),
                BinOp::Max => m.max(n),
                BinOp::Pow => m.powf(n),
            }));
        }
        _ => (side(&xa), side(&ya)),
    };
    let stereo = xs.1 || ys.1;
    let mut ports = [PortRef { node: 0, out: 0 }; 2];
    let mut lanes = 1;
    for (c, port) in ports
        .iter_mut()
        .enumerate()
        .take(if stereo { 2 } else { 1 })
    {
        let n = b.add(NodeKind::Bin(op), &[xs.0[c], ys.0[c]], p)?;
        *port = PortRef { node: n, out: 0 };
        lanes = b.nodes[n as usize].lanes;
    }
    if !stereo {
        ports[1] = ports[0];
    }
    Ok(Dynamic::from(Sig {
        ch: ports,
        stereo,
        lanes,
    }))
}

/// The left/right inputs of an operand and whether it is stereo.
pub(crate) fn side(a: &Arg) -> ([Input; 2], bool) {
    match a {
        Arg::Num(n) => ([Input::Const(*n as f32); 2], false),
        Arg::Sig(s) => ([Input::Port(s.ch[0]), Input::Port(s.ch[1])], s.stereo),
    }
}

fn pan(b: &mut Builder, p: &SrcPos, x: &Dynamic, pos: &Dynamic) -> Result<Dynamic, String> {
    let s = sig(x, "pan")?;
    let pa = arg(pos, "pos")?;
    if let Arg::Num(v) = pa
        && !(-1.0..=1.0).contains(&v)
    {
        return Err(format!(
            "pan position must be between -1 (left) and 1 (right) (got {v})"
        ));
    }
    let pi = mono_input(b, &pa, "pos")?;
    if !s.stereo {
        let n = b.add(NodeKind::Pan, &[Input::Port(s.ch[0]), pi], p)?;
        let lanes = b.nodes[n as usize].lanes;
        return Ok(Dynamic::from(Sig {
            ch: [PortRef { node: n, out: 0 }, PortRef { node: n, out: 1 }],
            stereo: true,
            lanes,
        }));
    }
    // Balance: turning one side down keeps the other at full level.
    let mut ch = s.ch;
    for (i, sign) in [(0usize, -1.0f32), (1, 1.0)] {
        let g = match pi {
            Input::Const(v) => Input::Const((1.0 + sign * v).clamp(0.0, 1.0)),
            Input::Port(_) => {
                let scaled = b.add(NodeKind::Bin(BinOp::Mul), &[pi, Input::Const(sign)], p)?;
                let shifted = b.add(
                    NodeKind::Bin(BinOp::Add),
                    &[
                        Input::Port(PortRef {
                            node: scaled,
                            out: 0,
                        }),
                        Input::Const(1.0),
                    ],
                    p,
                )?;
                let c = b.add(
                    NodeKind::Clip,
                    &[
                        Input::Port(PortRef {
                            node: shifted,
                            out: 0,
                        }),
                        Input::Const(0.0),
                        Input::Const(1.0),
                    ],
                    p,
                )?;
                Input::Port(PortRef { node: c, out: 0 })
            }
        };
        let n = b.add(NodeKind::Bin(BinOp::Mul), &[Input::Port(ch[i]), g], p)?;
        ch[i] = PortRef { node: n, out: 0 };
    }
    let lanes = b.nodes[ch[0].node as usize].lanes;
    Ok(Dynamic::from(Sig {
        ch,
        stereo: true,
        lanes,
    }))
}

fn mix(b: &mut Builder, p: &SrcPos, list: &Dynamic) -> Result<Dynamic, String> {
    let arr = list
        .clone()
        .into_array()
        .map_err(|t| format!("mix needs an array like [a, b, c], got {t}"))?;
    if arr.is_empty() {
        return Err("mix of an empty array: give it at least one signal".into());
    }
    let mut parts = Vec::with_capacity(arr.len());
    for (i, d) in arr.iter().enumerate() {
        parts.push(side(&arg(d, &format!("item {i}"))?));
    }
    let stereo = parts.iter().any(|p| p.1);
    let mut ports = [PortRef { node: 0, out: 0 }; 2];
    let mut lanes = 1;
    for (c, port) in ports
        .iter_mut()
        .enumerate()
        .take(if stereo { 2 } else { 1 })
    {
        let ins: Vec<Input> = parts.iter().map(|p| p.0[c]).collect();
        let n = b.add(NodeKind::Sum, &ins, p)?;
        *port = PortRef { node: n, out: 0 };
        lanes = b.nodes[n as usize].lanes;
    }
    if !stereo {
        ports[1] = ports[0];
    }
    Ok(Dynamic::from(Sig {
        ch: ports,
        stereo,
        lanes,
    }))
}

pub use crate::dsp::math::midi_to_hz;

/// Where a native call was made: its file (the importing module's name inside a module)
/// and line:col.
pub(crate) fn call_pos(ctx: &NativeCallContext, file: &Arc<str>) -> SrcPos {
    let pos = ctx.call_position();
    let f: Arc<str> = match ctx.call_source() {
        Some(s) if !s.is_empty() => Arc::from(s),
        _ => file.clone(),
    };
    src_pos(&f, pos.line().unwrap_or(0), pos.position().unwrap_or(0))
}

/// Registers the whole vocabulary on `engine`, building into `builder`.
pub fn register(
    engine: &mut Engine,
    builder: Rc<RefCell<Builder>>,
    imports: Rc<RefCell<super::resolver::Imports>>,
    file: Arc<str>,
) {
    engine.register_type_with_name::<Sig>("Signal");
    engine.register_type_with_name::<Voice>("Voice");
    let pos_of = {
        let file = file.clone();
        move |ctx: &NativeCallContext| call_pos(ctx, &file)
    };
    for def in FUNCTIONS {
        let Some(build) = def.build else { continue };
        let b = builder.clone();
        let pos_of = pos_of.clone();
        let name = def.name;
        let types = vec![TypeId::of::<Dynamic>(); def.params.len()];
        engine.register_raw_fn(name, types, move |ctx, args| {
            let vals: Vec<Dynamic> = args.iter().map(|a| (**a).clone()).collect();
            let p = pos_of(&ctx);
            build(&mut b.borrow_mut(), &p, &vals).map_err(|m| {
                let m = if m.starts_with(name) {
                    m
                } else {
                    format!("{name}: {m}")
                };
                err_at(m, ctx.call_position())
            })
        });
    }

    // Operators in every mix of signal and number.
    for (sym, op) in [
        ("+", BinOp::Add),
        ("-", BinOp::Sub),
        ("*", BinOp::Mul),
        ("/", BinOp::Div),
    ] {
        for (ta, tb) in [
            (TypeId::of::<Sig>(), TypeId::of::<Sig>()),
            (TypeId::of::<Sig>(), TypeId::of::<i64>()),
            (TypeId::of::<Sig>(), TypeId::of::<f64>()),
            (TypeId::of::<i64>(), TypeId::of::<Sig>()),
            (TypeId::of::<f64>(), TypeId::of::<Sig>()),
        ] {
            let b = builder.clone();
            let pos_of = pos_of.clone();
            engine.register_raw_fn(sym, [ta, tb], move |ctx, args| {
                let (x, y) = ((*args[0]).clone(), (*args[1]).clone());
                let p = pos_of(&ctx);
                binary(&mut b.borrow_mut(), &p, op, &x, &y)
                    .map_err(|m| err_at(m, ctx.call_position()))
            });
        }
    }
    {
        let b = builder.clone();
        let pos_of = pos_of.clone();
        engine.register_fn(
            "-",
            move |ctx: NativeCallContext, x: Sig| -> Result<Sig, Box<EvalAltResult>> {
                let p = pos_of(&ctx);
                b.borrow_mut()
                    .per_channel(NodeKind::Un(UnOp::Neg), &x, &[], &p)
                    .map_err(|m| err_at(m, ctx.call_position()))
            },
        );
    }

    engine.register_get("index", |v: &mut Voice| v.index.clone());
    engine.register_get("count", |v: &mut Voice| v.count);
    {
        let b = builder.clone();
        let pos_of = pos_of.clone();
        let imports = imports.clone();
        engine.register_fn("poly", move |ctx: NativeCallContext, n: i64, f: FnPtr| -> Result<Sig, Box<EvalAltResult>> {
            let at = ctx.call_position();
            if !(1..=1024).contains(&n) {
                return Err(err_at(format!("poly: the number of voices must be between 1 and 1024 (got {n})"), at));
            }
            let p = pos_of(&ctx);
            let index = {
                let mut bb = b.borrow_mut();
                if bb.poly_lanes.is_some() {
                    return Err(err_at("poly: an instrument inside another poly is not supported".into(), at));
                }
                bb.poly_lanes = Some(n as u32);
                bb.source(NodeKind::LaneIndex, &[], &p).map_err(|m| err_at(m, at))
            };
            let index = match index {
                Ok(i) => i,
                Err(e) => {
                    b.borrow_mut().poly_lanes = None;
                    return Err(e);
                }
            };
            let voice = Voice { index, count: n, notes: None };
            let result = super::sequencing::call_instrument(&ctx, &imports, &f, voice);
            b.borrow_mut().poly_lanes = None;
            let out = result?;
            let s = match arg(&out, "instrument result") {
                Ok(Arg::Sig(s)) => s,
                Ok(Arg::Num(v)) => return Err(err_at(format!("poly: the instrument returned the number {v}; it must return a signal"), at)),
                Err(_) => return Err(err_at(format!("poly: the instrument must return a signal, it returned {}", type_name(&out)), at)),
            };
            let mut bb = b.borrow_mut();
            if s.lanes == 1 {
                // Same sound in every voice: n copies summed.
                return bb.per_channel(NodeKind::Bin(BinOp::Mul), &s, &[Input::Const(n as f32)], &p).map_err(|m| err_at(m, at));
            }
            bb.per_channel(NodeKind::LaneSum, &s, &[], &p).map_err(|m| err_at(m, at))
        });
    }
    {
        let b = builder.clone();
        let pos_of = pos_of.clone();
        engine.register_fn(
            "feedback",
            move |ctx: NativeCallContext| -> Result<Sig, Box<EvalAltResult>> {
                let p = pos_of(&ctx);
                b.borrow_mut()
                    .source(NodeKind::Feedback, &[], &p)
                    .map_err(|m| err_at(m, ctx.call_position()))
            },
        );
    }
    {
        let b = builder.clone();
        engine.register_fn(
            "feed",
            move |ctx: NativeCallContext,
                  fb: Sig,
                  x: Dynamic|
                  -> Result<Dynamic, Box<EvalAltResult>> {
                let at = ctx.call_position();
                let mut bb = b.borrow_mut();
                let node = fb.ch[0].node as usize;
                if bb.nodes[node].kind != NodeKind::Feedback {
                    return Err(err_at(
                        "feed: call it on a feedback() signal: `let fb = feedback(); … fb.feed(x)`"
                            .into(),
                        at,
                    ));
                }
                if !bb.nodes[node].inputs.is_empty() {
                    return Err(err_at("feed: this feedback() is already fed".into(), at));
                }
                let a = arg(&x, "x").map_err(|m| err_at(format!("feed: {m}"), at))?;
                if a.lanes() != bb.nodes[node].lanes {
                    return Err(err_at(
                        "feed: the loop's signal must have as many voices as the feedback()".into(),
                        at,
                    ));
                }
                let i = mono_input(&bb, &a, "x").map_err(|m| err_at(format!("feed: {m}"), at))?;
                bb.nodes[node].inputs = vec![i];
                Ok(x)
            },
        );
    }
}

/// The language reference (docs/LANGUAGE.md), generated from the same table that registers
/// the functions, so nothing can be registered without being documented.
pub fn reference_markdown() -> String {
    let mut s = String::from(
        "# The waves language reference\n\n\
         Generated from the table that registers the functions (`src/script/dsl.rs`); \
         `waves reference > docs/LANGUAGE.md` rewrites it and a test keeps the two equal.\n\n\
         Every parameter takes an integer, a float or a signal (`saw(220)`, `saw(220.0)` and \
         `saw(sine(5) * 3 + 220)` all work), except where it says *number*. \
         A function whose first parameter is `x` is also a method: `lpf(x, 800)` is `x.lpf(800)`. \
         Units: frequencies in Hz, times in seconds, levels as linear gain (1.0 = full scale).\n",
    );
    let mut group = "";
    for f in FUNCTIONS {
        if f.group != group {
            group = f.group;
            s.push_str(&format!(
                "\n## {group}\n\n| form | does | example |\n|---|---|---|\n"
            ));
        }
        let form = match f.params.split_first() {
            Some((&"x", rest)) => format!("`x.{}({})`", f.name, rest.join(", ")),
            Some((&"p", rest)) => format!("`p.{}({})`", f.name, rest.join(", ")),
            _ => format!("`{}({})`", f.name, f.params.join(", ")),
        };
        s.push_str(&format!(
            "| {form} | {} | `{}` |\n",
            f.doc.replace('|', "\\|"),
            f.example.replace('|', "\\|")
        ));
    }
    s.push_str("\n## operators\n\n| form | does | example |\n|---|---|---|\n");
    for (form, doc, ex) in OPERATORS {
        s.push_str(&format!("| `{form}` | {doc} | `{ex}` |\n"));
    }
    s.push_str(
        "\nPrecedence is Rhai's: unary `-` binds tightest, then `*` `/`, then `+` `-`; \
         method calls bind tighter than any operator (`-saw(1).gain(2)` is `-(saw(1).gain(2))`).\n\
         \nInside `poly(n, |v| ...)`, `v.index` is the voice number (0..n-1) as a signal and \
         `v.count` is n.\n\
         \nInside `pattern(..).play(|v| ...)`, `v.freq` (Hz), `v.gate` (1 while the note is held), \
         `v.vel` (0..1) and `v.note` (MIDI number) are signals with one lane per voice; `x` steps \
         play at c4 (note 60). `p` stands for a pattern.\n",
    );
    s
}
