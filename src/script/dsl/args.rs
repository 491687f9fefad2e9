//! Reading script arguments: numbers, signals and their checks, and where a call was made.
//! A leaf of the script layer (nothing else of script/ is imported here), so every family
//! of the vocabulary and every other script module can use it; control thread only.

use crate::graph::{Input, PortRef, SrcPos};
use rhai::{Dynamic, EvalAltResult, FnPtr, NativeCallContext, Position};
use std::sync::Arc;

/// A signal as a script sees it: one port (mono) or two (stereo), `lanes` wide.
#[derive(Clone, Debug)]
pub struct Sig {
    pub ch: [PortRef; 2],
    pub stereo: bool,
    pub lanes: u32,
}

impl Sig {
    pub fn mono(p: PortRef, lanes: u32) -> Self {
        Sig {
            ch: [p, p],
            stereo: false,
            lanes,
        }
    }

    pub fn channels(&self) -> &[PortRef] {
        if self.stereo { &self.ch } else { &self.ch[..1] }
    }
}

/// A parameter value: a number or a signal.
#[derive(Clone, Debug)]
pub enum Arg {
    Num(f64),
    Sig(Sig),
}

impl Arg {
    pub fn lanes(&self) -> u32 {
        match self {
            Arg::Num(_) => 1,
            Arg::Sig(s) => s.lanes,
        }
    }
}

pub(crate) fn err_at(msg: String, pos: Position) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(msg.into(), pos))
}

/// What a value is, in the words a script's author uses (never a Rust type's name).
pub(crate) fn type_name(d: &Dynamic) -> &'static str {
    if d.is::<Sig>() {
        "a signal"
    } else if d.is::<i64>() {
        "an integer"
    } else if d.is::<f64>() {
        "a number"
    } else if d.is_string() || d.is_char() {
        "a string"
    } else if d.is_unit() {
        "nothing (())"
    } else if d.is_array() {
        "an array"
    } else if d.is_map() {
        "a map"
    } else if d.is_bool() {
        "true or false"
    } else if d.is::<FnPtr>() {
        "a function"
    } else {
        match d.type_name().rsplit("::").next().unwrap_or("") {
            "Voice" => "a voice",
            "Pat" => "a pattern",
            "MidiNotes" => "MIDI notes",
            _ => "another kind of value",
        }
    }
}

/// A float argument must be a finite number: NaN and infinity cannot be played.
pub(crate) fn finite(f: f64, what: &str) -> Result<f64, String> {
    if f.is_nan() {
        Err(format!(
            "`{what}` is not a number (NaN); was something divided by 0?"
        ))
    } else if f.is_infinite() {
        Err(format!("`{what}` is infinite; was something divided by 0?"))
    } else {
        Ok(f)
    }
}

pub fn arg(d: &Dynamic, what: &str) -> Result<Arg, String> {
    if let Some(i) = d.clone().try_cast::<i64>() {
        return Ok(Arg::Num(i as f64));
    }
    if let Some(f) = d.clone().try_cast::<f64>() {
        return finite(f, what).map(Arg::Num);
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

/// One input from a number or a mono signal. Generic in the builder it is called with, so
/// this module needs none.
pub(crate) fn mono_input<B>(_b: &B, a: &Arg, what: &str) -> Result<Input, String> {
    match a {
        Arg::Num(n) => Ok(Input::Const(*n as f32)),
        Arg::Sig(s) if s.stereo => Err(format!(
            "`{what}` must be a mono signal; this one is stereo"
        )),
        Arg::Sig(s) => Ok(Input::Port(s.ch[0])),
    }
}

pub(crate) fn inputs<B>(b: &B, params: &[(&Dynamic, &str)]) -> Result<Vec<Input>, String> {
    params
        .iter()
        .map(|(d, w)| mono_input(b, &arg(d, w)?, w))
        .collect()
}

/// The left/right inputs of an operand and whether it is stereo.
pub(crate) fn side(a: &Arg) -> ([Input; 2], bool) {
    match a {
        Arg::Num(n) => ([Input::Const(*n as f32); 2], false),
        Arg::Sig(s) => ([Input::Port(s.ch[0]), Input::Port(s.ch[1])], s.stereo),
    }
}

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

pub fn src_pos(file: &Arc<str>, line: usize, col: usize) -> SrcPos {
    SrcPos {
        file: file.clone(),
        line: line as u32,
        col: col as u32,
    }
}
