//! The sequencing vocabulary: `pattern(..)` and its methods, pattern instruments and their
//! voices, `sample(..)`, and `.track(..)` stems; registered on the engine, run on the
//! control thread.

use super::builder::{Arg, Builder, NoteSigs, Sig, Voice};
use super::dsl::args::{arg, call_pos, err_at, mono_input, number, type_name};
use super::resolver::Imports;
use super::resolver::confine;
use super::samples::load_wav_within;
use crate::dsp::seq::{self, Note, Score};
use crate::graph::{Input, NodeKind, PortRef, SampleRef, SrcPos};
use crate::pattern::{ParseError, Pattern};
use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, NativeCallContext, Position};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// Voices a pattern instrument gets unless `.voices(n)` says otherwise.
pub const DEFAULT_VOICES: u32 = 8;
pub const MAX_VOICES: u32 = 64;
/// Named stems a script may have (each becomes a file, and a recording's channels).
pub const MAX_TRACKS: usize = 64;

/// A pattern as a script holds it, before `.play()` turns it into sound.
#[derive(Clone, Debug)]
pub struct Pat {
    pattern: Arc<Pattern>,
    seed: u64,
    cycle_beats: f64,
    voices: u32,
    legato: f64,
}

impl Pat {
    fn score(&self, steal_fade: bool) -> Score {
        let mut notes = Vec::new();
        let mut offsets = vec![0u32];
        for c in 0..self.pattern.period() as u64 {
            for e in self.pattern.events(c) {
                notes.push(Note {
                    start: e.start,
                    len: e.dur,
                    // `x` plays at the instrument's natural pitch: c4.
                    note: e.note.unwrap_or(60.0),
                    vel: 1.0,
                    prob: e.prob,
                });
            }
            offsets.push(notes.len() as u32);
        }
        Score {
            notes,
            offsets,
            seed: self.seed,
            cycle_beats: self.cycle_beats,
            legato: self.legato,
            steal_fade,
            note_window: false,
        }
    }
}

/// Line and column (1-based) of character `offset` of the pattern string literal that the
/// call at `line:col` of `source` passes, if that argument is a plain literal.
pub fn locate(
    source: &str,
    line: usize,
    col: usize,
    pattern: &str,
    offset: usize,
) -> Option<(usize, usize)> {
    let (mut l, mut c) = (1usize, 1usize);
    let mut chars = source.chars().peekable();
    // Walk to the call.
    while (l, c) < (line, col) {
        match chars.next()? {
            '\n' => {
                l += 1;
                c = 1;
            }
            _ => c += 1,
        }
    }
    let step = |ch: char, l: &mut usize, c: &mut usize| {
        if ch == '\n' {
            *l += 1;
            *c = 1;
        } else {
            *c += 1;
        }
    };
    // `pattern(` then the opening quote.
    loop {
        let ch = chars.next()?;
        step(ch, &mut l, &mut c);
        if ch == '(' {
            break;
        }
        if !(ch.is_alphanumeric() || ch == '_' || ch.is_whitespace()) {
            return None;
        }
    }
    let quote = loop {
        let ch = chars.next()?;
        step(ch, &mut l, &mut c);
        if ch == '"' || ch == '`' {
            break ch;
        }
        if !ch.is_whitespace() {
            return None;
        }
    };
    // The literal must hold exactly the pattern (no escapes), then close.
    let mut found = None;
    for (k, want) in pattern.chars().enumerate() {
        if k == offset {
            found = Some((l, c));
        }
        let ch = chars.next()?;
        if ch != want || ch == '\\' || ch == quote {
            return None;
        }
        step(ch, &mut l, &mut c);
    }
    if chars.next()? != quote {
        return None;
    }
    found.or((offset >= pattern.chars().count()).then_some((l, c)))
}

fn pattern_error(
    ctx: &NativeCallContext,
    imports: &Rc<RefCell<Imports>>,
    file: &Arc<str>,
    text: &str,
    e: ParseError,
) -> Box<EvalAltResult> {
    let at = ctx.call_position();
    let name = match ctx.call_source() {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => file.to_string(),
    };
    let (line, col) = (at.line().unwrap_or(0), at.position().unwrap_or(0));
    let found = imports
        .borrow()
        .sources
        .get(&name)
        .and_then(|src| locate(src, line, col, text, e.offset));
    match found {
        Some((l, c)) if l > 0 && l <= u16::MAX as usize && c <= u16::MAX as usize => err_at(
            format!("pattern: {}", e.message),
            Position::new(l as u16, c as u16),
        ),
        _ => err_at(
            format!(
                "pattern: {} (at character {} of \"{text}\")",
                e.message,
                e.offset + 1
            ),
            at,
        ),
    }
}

type Res<T> = Result<T, Box<EvalAltResult>>;

/// Calls an instrument closure with its voice. Rhai looks a closure up by name in the
/// calling script only, so one made inside an imported patch is called through the
/// patch's own code.
pub fn call_instrument(
    ctx: &NativeCallContext,
    imports: &Rc<RefCell<Imports>>,
    f: &FnPtr,
    voice: Voice,
) -> Res<Dynamic> {
    let name = f.fn_name();
    let module = imports
        .borrow()
        .asts
        .iter()
        .find(|ast| {
            ast.iter_functions()
                .any(|d| d.name == name && d.params.len() == 1 + f.curry().len())
        })
        .cloned();
    match module {
        Some(ast) => {
            let mut args: Vec<Dynamic> = f.curry().to_vec();
            args.push(Dynamic::from(voice));
            ctx.engine().call_fn_with_options(
                rhai::CallFnOptions::new().eval_ast(false),
                &mut rhai::Scope::new(),
                &ast,
                name,
                args,
            )
        }
        None => f.call_within_context(ctx, (voice,)),
    }
}

/// A sequencer node of `lanes` voices; returns its node index.
fn seq_node(b: &mut Builder, score: Score, lanes: u32, p: &SrcPos) -> Result<u32, String> {
    b.push(NodeKind::Seq(Arc::new(score)), &[], lanes, p)
}

fn port(node: u32, out: usize) -> PortRef {
    PortRef {
        node,
        out: out as u8,
    }
}

/// Builds `pat.play(instrument)` (or `midi_notes().play(..)`): one voice source node
/// (`kind`, a sequencer or MIDI notes) with a lane per voice, the instrument's template
/// built once on those lanes, and the voices mixed down by their levels.
pub(crate) fn play(
    b: &Rc<RefCell<Builder>>,
    imports: &Rc<RefCell<Imports>>,
    ctx: &NativeCallContext,
    p: &SrcPos,
    (kind, n): (NodeKind, u32),
    instrument: &Dynamic,
) -> Res<Sig> {
    let at = ctx.call_position();
    let Some(f) = instrument.clone().try_cast::<FnPtr>() else {
        return Err(err_at(
            format!(
                "play needs an instrument: a closure like |v| saw(v.freq) * perc(v.gate, 0.01, 0.3), got {}",
                type_name(instrument)
            ),
            at,
        ));
    };
    let voice = {
        let mut bb = b.borrow_mut();
        if bb.poly_lanes.is_some() {
            return Err(err_at(
                "play: an instrument cannot play a pattern inside another instrument".into(),
                at,
            ));
        }
        let node = bb.push(kind, &[], n, p).map_err(|m| err_at(m, at))?;
        bb.poly_lanes = Some(n);
        bb.voice_trig = Some(port(node, seq::OUT_TRIG));
        let index = match bb.source(NodeKind::LaneIndex, &[], p) {
            Ok(i) => i,
            Err(m) => {
                bb.poly_lanes = None;
                bb.voice_trig = None;
                return Err(err_at(m, at));
            }
        };
        let sig = |out| Sig::mono(port(node, out), n);
        (
            Voice {
                index,
                count: n as i64,
                notes: Some(NoteSigs {
                    freq: sig(seq::OUT_FREQ),
                    gate: sig(seq::OUT_GATE),
                    vel: sig(seq::OUT_VEL),
                    note: sig(seq::OUT_NOTE),
                }),
            },
            node,
        )
    };
    let (voice, node) = voice;
    let first = b.borrow().nodes.len();
    let result = call_instrument(ctx, imports, &f, voice);
    {
        let mut bb = b.borrow_mut();
        bb.poly_lanes = None;
        bb.voice_trig = None;
    }
    let out = result?;
    let s = match arg(&out, "instrument result") {
        Ok(Arg::Sig(s)) => s,
        _ => {
            return Err(err_at(
                format!(
                    "play: the instrument must return a signal, it returned {}",
                    type_name(&out)
                ),
                at,
            ));
        }
    };
    let amp = Input::Port(port(node, seq::OUT_AMP));
    let mut bb = b.borrow_mut();
    // An instrument that never reads its gate cannot end its notes: the voices give each
    // note a window of its own instead.
    let gate = port(node, seq::OUT_GATE);
    let reads_gate = s.channels().contains(&gate)
        || bb.nodes[first..]
            .iter()
            .any(|n| n.inputs.contains(&Input::Port(gate)));
    match &mut bb.nodes[node as usize].kind {
        NodeKind::Seq(score) => Arc::make_mut(score).note_window = !reads_gate,
        NodeKind::MidiNotes(spec) => spec.note_window = !reads_gate,
        _ => {}
    }
    let mut ch = s.ch;
    for (i, c) in s.channels().iter().enumerate() {
        let m = bb
            .push(NodeKind::LaneSum, &[Input::Port(*c), amp], 1, p)
            .map_err(|m| err_at(m, at))?;
        ch[i] = port(m, 0);
    }
    if !s.stereo {
        ch[1] = ch[0];
    }
    Ok(Sig {
        ch,
        stereo: s.stereo,
        lanes: 1,
    })
}

/// A stepped control line from a pattern (`.freq()`, `.gate()`): one voice, each note
/// taking over at once.
pub(crate) fn control(
    b: &Rc<RefCell<Builder>>,
    ctx: &NativeCallContext,
    p: &SrcPos,
    pat: &Pat,
    out: usize,
) -> Res<Sig> {
    let at = ctx.call_position();
    let mut bb = b.borrow_mut();
    if bb.poly_lanes.is_some() {
        return Err(err_at(
            "a pattern's control line cannot be made inside an instrument; make it outside and use it inside".into(),
            at,
        ));
    }
    let node = seq_node(&mut bb, pat.score(false), 1, p).map_err(|m| err_at(m, at))?;
    Ok(Sig::mono(port(node, out), 1))
}

pub(crate) fn num_in(
    ctx: &NativeCallContext,
    d: &Dynamic,
    what: &str,
    lo: f64,
    hi: f64,
) -> Res<f64> {
    let at = ctx.call_position();
    let v = number(d, what).map_err(|m| err_at(m, at))?;
    if !(lo..=hi).contains(&v) {
        return Err(err_at(
            format!("`{what}` must be between {lo} and {hi} (got {v})"),
            at,
        ));
    }
    Ok(v)
}

/// `.voices(n)`: a whole number of voices, 1..MAX_VOICES.
pub(crate) fn voice_count(ctx: &NativeCallContext, n: &Dynamic) -> Res<u32> {
    let n = num_in(ctx, n, "voices", 1.0, MAX_VOICES as f64)?;
    if n.fract() != 0.0 {
        return Err(err_at(
            format!("`voices` must be a whole number (got {n})"),
            ctx.call_position(),
        ));
    }
    Ok(n as u32)
}

/// A track name becomes part of a file name, so it is kept to plain characters.
fn check_track_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("a track name must be 1 to 64 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "track name \"{name}\" may only use letters, digits, `_` and `-` (it becomes part of a file name)"
        ));
    }
    Ok(())
}

/// `sample("file.wav")`: resolved inside the script's folder, read once per compile. Inside
/// an instrument each voice plays its own copy from each note; outside one it plays from
/// the start of the piece.
fn sample(b: &Rc<RefCell<Builder>>, ctx: &NativeCallContext, p: &SrcPos, path: &str) -> Res<Sig> {
    let at = ctx.call_position();
    let mut bb = b.borrow_mut();
    let file = confine(&bb.root, path, "wav").map_err(|why| {
        err_at(
            format!("sample \"{path}\" {why}\nhint: samples are WAV files inside the script's folder, like \"samples/kick.wav\""),
            at,
        )
    })?;
    let id = super::files::identity(&file);
    let known = bb
        .samples
        .get(&file)
        .or_else(|| id.and_then(|i| bb.sample_ids.get(&i)))
        .cloned();
    let data = match known {
        Some(d) => d,
        None => {
            let left = bb.memory.left();
            let d = load_wav_within(&file, left)
                .map_err(|e| err_at(format!("sample \"{path}\": {e}"), at))?;
            SampleRef::new(d)
        }
    };
    bb.samples.insert(file, data.clone());
    if let Some(i) = id {
        bb.sample_ids.insert(i, data.clone());
    }
    let chans = data.data.channels.clamp(1, 2);
    let trig = match bb.voice_trig {
        Some(t) => Input::Port(t),
        None => Input::Const(0.0),
    };
    let n = bb
        .add(
            NodeKind::Sample(data),
            &[trig, Input::Const(1.0), Input::Const(0.0)],
            p,
        )
        .map_err(|m| err_at(m, at))?;
    let lanes = bb.nodes[n as usize].lanes;
    Ok(Sig {
        ch: [port(n, 0), port(n, chans - 1)],
        stereo: chans == 2,
        lanes,
    })
}

/// The sample node a `.speed()` or `.loop()` acts on.
fn sample_node(b: &Builder, x: &Sig, what: &str) -> Result<usize, String> {
    let n = x.ch[0].node as usize;
    match b.nodes.get(n) {
        Some(node) if matches!(node.kind, NodeKind::Sample(_)) => Ok(n),
        _ => Err(format!(
            "{what} applies to a sample(..) itself, e.g. sample(\"loop.wav\").{what}(..)"
        )),
    }
}

pub fn register(
    engine: &mut Engine,
    builder: Rc<RefCell<Builder>>,
    imports: Rc<RefCell<Imports>>,
    file: Arc<str>,
) {
    engine.register_type_with_name::<Pat>("Pattern");
    {
        let file = file.clone();
        let imports = imports.clone();
        engine.register_fn(
            "pattern",
            move |ctx: NativeCallContext, text: &str| -> Res<Pat> {
                let pattern = Pattern::parse(text)
                    .map_err(|e| pattern_error(&ctx, &imports, &file, text, e))?;
                Ok(Pat {
                    pattern: Arc::new(pattern),
                    seed: crate::graph::fnv1a(text.bytes().map(u64::from)),
                    cycle_beats: 4.0,
                    voices: DEFAULT_VOICES,
                    legato: 1.0,
                })
            },
        );
    }
    engine.register_fn(
        "fast",
        |ctx: NativeCallContext, p: Pat, n: Dynamic| -> Res<Pat> {
            let n = num_in(&ctx, &n, "fast", 1.0 / 64.0, 64.0)?;
            Ok(Pat {
                cycle_beats: p.cycle_beats / n,
                ..p
            })
        },
    );
    engine.register_fn(
        "slow",
        |ctx: NativeCallContext, p: Pat, n: Dynamic| -> Res<Pat> {
            let n = num_in(&ctx, &n, "slow", 1.0 / 64.0, 64.0)?;
            Ok(Pat {
                cycle_beats: p.cycle_beats * n,
                ..p
            })
        },
    );
    engine.register_fn(
        "voices",
        |ctx: NativeCallContext, p: Pat, n: Dynamic| -> Res<Pat> {
            Ok(Pat {
                voices: voice_count(&ctx, &n)?,
                ..p
            })
        },
    );
    engine.register_fn(
        "legato",
        |ctx: NativeCallContext, p: Pat, x: Dynamic| -> Res<Pat> {
            let x = num_in(&ctx, &x, "legato", 0.001, 16.0)?;
            Ok(Pat { legato: x, ..p })
        },
    );
    {
        let b = builder.clone();
        let file = file.clone();
        let imports = imports.clone();
        engine.register_fn(
            "play",
            move |ctx: NativeCallContext, p: Pat, instrument: Dynamic| -> Res<Sig> {
                let pos = call_pos(&ctx, &file);
                let source = (NodeKind::Seq(Arc::new(p.score(true))), p.voices);
                play(&b, &imports, &ctx, &pos, source, &instrument)
            },
        );
    }
    for (name, out) in [("freq", seq::OUT_FREQ), ("gate", seq::OUT_GATE)] {
        let b = builder.clone();
        let file = file.clone();
        engine.register_fn(name, move |ctx: NativeCallContext, p: Pat| -> Res<Sig> {
            let pos = call_pos(&ctx, &file);
            control(&b, &ctx, &pos, &p, out)
        });
    }

    // The note signals of a pattern or MIDI voice.
    type Get = fn(&NoteSigs) -> &Sig;
    let getters: [(&str, Get); 4] = [
        ("freq", |n| &n.freq),
        ("gate", |n| &n.gate),
        ("vel", |n| &n.vel),
        ("note", |n| &n.note),
    ];
    for (name, get) in getters {
        engine.register_get(name, move |v: &mut Voice| -> Res<Sig> {
            match &v.notes {
                Some(n) => Ok(get(n).clone()),
                None => Err(err_at(
                    format!(
                        "v.{name} exists in a pattern's or MIDI instrument (pattern(..).play(|v| ..), midi_notes().play(|v| ..)); a poly voice has only v.index and v.count"
                    ),
                    Position::NONE,
                )),
            }
        });
    }

    {
        let b = builder.clone();
        let file = file.clone();
        engine.register_fn(
            "sample",
            move |ctx: NativeCallContext, path: &str| -> Res<Sig> {
                let pos = call_pos(&ctx, &file);
                sample(&b, &ctx, &pos, path)
            },
        );
    }
    {
        let b = builder.clone();
        engine.register_fn(
            "speed",
            move |ctx: NativeCallContext, x: Sig, rate: Dynamic| -> Res<Sig> {
                let at = ctx.call_position();
                let mut bb = b.borrow_mut();
                let n = sample_node(&bb, &x, "speed").map_err(|m| err_at(m, at))?;
                let a = arg(&rate, "rate").map_err(|m| err_at(format!("speed: {m}"), at))?;
                if a.lanes() != 1 && a.lanes() != bb.nodes[n].lanes {
                    return Err(err_at(
                        "speed: a voice's signal can set the speed of a sample played by that instrument only".into(),
                        at,
                    ));
                }
                let i = mono_input(&bb, &a, "rate").map_err(|m| err_at(format!("speed: {m}"), at))?;
                bb.nodes[n].inputs[1] = i;
                Ok(x)
            },
        );
    }
    {
        // `.loop()` cannot exist: `loop` is a Rhai keyword (the parser points users here).
        let b = builder.clone();
        engine.register_fn(
            "looped",
            move |ctx: NativeCallContext, x: Sig| -> Res<Sig> {
                let at = ctx.call_position();
                let mut bb = b.borrow_mut();
                let n = sample_node(&bb, &x, "looped").map_err(|m| err_at(m, at))?;
                bb.nodes[n].inputs[2] = Input::Const(1.0);
                Ok(x)
            },
        );
    }
    {
        let b = builder.clone();
        engine.register_fn(
            "track",
            move |ctx: NativeCallContext, x: Dynamic, name: &str| -> Res<Dynamic> {
                let at = ctx.call_position();
                let s = x.clone().try_cast::<Sig>().ok_or_else(|| {
                    err_at(
                        format!("track needs a signal to name, got {}", type_name(&x)),
                        at,
                    )
                })?;
                check_track_name(name).map_err(|m| err_at(format!("track: {m}"), at))?;
                let mut bb = b.borrow_mut();
                if s.lanes != 1 || bb.poly_lanes.is_some() {
                    return Err(err_at(
                        "track: name the instrument's output, outside the instrument: pattern(..).play(..).track(\"bass\")".into(),
                        at,
                    ));
                }
                let p = call_pos(&ctx, &file);
                let ins = [Input::Port(s.ch[0]), Input::Port(s.ch[1])];
                match bb.tracks.iter().position(|(n, _)| n == name) {
                    // The same name twice is one bus: the parts are summed.
                    Some(i) => {
                        let old = bb.tracks[i].1;
                        let mut sum = old;
                        for c in 0..2 {
                            let n = bb
                                .add(NodeKind::Sum, &[old[c], ins[c]], &p)
                                .map_err(|m| err_at(m, at))?;
                            sum[c] = Input::Port(port(n, 0));
                        }
                        bb.tracks[i].1 = sum;
                    }
                    None if bb.tracks.len() >= MAX_TRACKS => {
                        return Err(err_at(
                            format!("track: a script may name at most {MAX_TRACKS} tracks"),
                            at,
                        ));
                    }
                    None => bb.tracks.push((name.to_string(), ins)),
                }
                Ok(x)
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_finds_a_character_inside_the_literal() {
        let src = "tempo(120);\nlet a = pattern(\"x ~ [x\");\n";
        // `pattern` starts at line 2, column 9; offset 4 is the `[`.
        assert_eq!(locate(src, 2, 9, "x ~ [x", 4), Some((2, 22)));
        assert_eq!(locate(src, 2, 9, "x ~ [x", 6), Some((2, 24)));
        // A computed string is not found.
        assert_eq!(locate("pattern(p)", 1, 1, "x", 0), None);
        assert_eq!(locate("pattern(\"y\")", 1, 1, "x", 0), None);
    }

    #[test]
    fn track_names_are_plain() {
        assert!(check_track_name("drums").is_ok());
        assert!(check_track_name("lead-2_b").is_ok());
        assert!(check_track_name("../x").is_err());
        assert!(check_track_name("a b").is_err());
        assert!(check_track_name("").is_err());
    }
}
