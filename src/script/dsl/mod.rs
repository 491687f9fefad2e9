//! The sound-script vocabulary, one file per family: each family's table both registers
//! its functions with the Rhai engine and documents them (`waves reference`); control
//! thread only.

pub mod args;
pub mod control;
pub mod effects;
pub mod filters;
mod make;
pub mod midi;
pub mod mixing;
pub mod notes;
pub mod sequencing;
pub mod sources;
pub mod time;
pub mod voices;

pub use notes::midi_to_hz;

use crate::dsp::math::{BinOp, UnOp};
use crate::graph::{Input, NodeKind, SrcPos};
use crate::script::builder::{Arg, Builder, Sig, Voice};
use args::{arg, call_pos, err_at, mono_input, type_name};
use mixing::binary;
use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, NativeCallContext};
use std::any::TypeId;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

type Build = fn(&mut Builder, &SrcPos, &[Dynamic]) -> Result<Dynamic, String>;

/// One documented function form.
#[derive(Clone, Copy)]
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

macro_rules! def_form {
    ($group:literal, $name:literal, [$($p:literal),*], $doc:literal, $ex:literal, $build:expr) => {
        FnDef { group: $group, name: $name, params: &[$($p),*], doc: $doc, example: $ex, build: $build }
    };
}

pub(crate) use def_form as def;

/// The groups of the reference, in order; each family's forms join their group.
const GROUPS: &[&str] = &[
    "sources",
    "control",
    "filters",
    "effects",
    "mixing",
    "math",
    "time",
    "notes",
    "identity",
    "midi",
    "sequencing",
    "voices",
    "feedback",
    "parameters",
    "seeing",
];

/// Forms registered by other modules of script/ (parameters, monitors).
const HOSTED: &[FnDef] = &[
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

/// Every documented form, grouped in reference order.
pub fn functions() -> &'static [FnDef] {
    static ALL: OnceLock<Vec<FnDef>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<FnDef> = [
            sources::FORMS,
            control::FORMS,
            filters::FORMS,
            effects::FORMS,
            mixing::FORMS,
            time::FORMS,
            notes::FORMS,
            midi::FORMS,
            sequencing::FORMS,
            voices::FORMS,
            HOSTED,
        ]
        .concat();
        all.sort_by_key(|f| {
            GROUPS
                .iter()
                .position(|g| *g == f.group)
                .unwrap_or(GROUPS.len())
        });
        all
    })
    .as_slice()
}

/// Registers the whole vocabulary on `engine`, building into `builder`.
pub fn register(
    engine: &mut Engine,
    builder: Rc<RefCell<Builder>>,
    imports: Rc<RefCell<crate::script::resolver::Imports>>,
    file: Arc<str>,
) {
    engine.register_type_with_name::<Sig>("Signal");
    engine.register_type_with_name::<Voice>("Voice");
    let pos_of = {
        let file = file.clone();
        move |ctx: &NativeCallContext| call_pos(ctx, &file)
    };
    for def in functions() {
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
            let result = crate::script::sequencing::call_instrument(&ctx, &imports, &f, voice);
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
         Generated from the tables that register the functions (`src/script/dsl/`, one file per family); \
         `waves reference > docs/LANGUAGE.md` rewrites it and a test keeps the two equal.\n\n\
         Every parameter takes an integer, a float or a signal (`saw(220)`, `saw(220.0)` and \
         `saw(sine(5) * 3 + 220)` all work), except where it says *number*. \
         A function whose first parameter is `x` is also a method: `lpf(x, 800)` is `x.lpf(800)`. \
         Units: frequencies in Hz, times in seconds, levels as linear gain (1.0 = full scale).\n",
    );
    let mut group = "";
    for f in functions() {
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
         play at c4 (note 60). `p` stands for a pattern.\n\
         \n## How a voice lives and ends\n\n\
         An instrument `|v| ...` is built once; each voice of `.voices(n)` plays a copy of it.\n\n\
         - A voice that has never had a note is silent. So is a voice whose note is over and \
         whose sound has ended; an instrument whose voices are all silent is skipped until its \
         next note, so it costs no CPU.\n\
         - A voice sounds from its note's start until its note's end plus its release.\n\
         - An instrument that reads `v.gate` (directly or through `adsr(v.gate, ..)` / \
         `perc(v.gate, ..)`) shapes its own notes: its envelope decides the release.\n\
         - An instrument that never reads `v.gate` is faded in over 2 ms at the note's start \
         and out over the 5 ms before its end (for a MIDI note: the 5 ms after its key is \
         released), so every note lasts as long as the pattern says. `.legato(x)` scales that \
         length.\n\
         - Oscillators (`sine`, `saw`, `square`, `pulse`, `tri`), `line` and `sample` inside an \
         instrument start again at each note, oscillators at their phase (0 unless one is \
         given). `.free()` on an oscillator keeps it running freely across notes instead.\n\
         - With every voice busy, a new note takes the oldest voice after a 3 ms fade.\n",
    );
    s
}
