//! The MIDI vocabulary: `midi_notes(..)` and its methods (`.voices`, `.bend`, `.play`);
//! registered on the engine, run on the control thread. `cc(..)` and `tempo("midi")` are
//! plain functions in `dsl.rs`.

use super::builder::{Builder, Sig};
use super::dsl::args::{call_pos, err_at};
use super::resolver::Imports;
use super::sequencing::{DEFAULT_VOICES, num_in, play, voice_count};
use crate::dsp::midi::NotesSpec;
use crate::graph::NodeKind;
use rhai::{Dynamic, Engine, EvalAltResult, NativeCallContext};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// Semitones a full pitch-bend moves a note unless `.bend(n)` says otherwise.
pub const DEFAULT_BEND: f32 = 2.0;

/// `midi_notes(..)` as a script holds it, before `.play()`.
#[derive(Clone, Debug)]
pub struct MidiNotes {
    spec: NotesSpec,
    voices: u32,
}

type Res<T> = Result<T, Box<EvalAltResult>>;

/// A channel as scripts and musicians count them, 1..16, to 0..15.
pub fn channel(ctx: &NativeCallContext, ch: &Dynamic) -> Res<u8> {
    let c = num_in(ctx, ch, "channel", 1.0, 16.0)?;
    if c.fract() != 0.0 {
        return Err(err_at(
            format!("`channel` must be a whole number 1..16 (got {c})"),
            ctx.call_position(),
        ));
    }
    Ok(c as u8 - 1)
}

fn notes(channel: Option<u8>) -> MidiNotes {
    MidiNotes {
        spec: NotesSpec {
            channel,
            bend_range: DEFAULT_BEND,
            note_window: false,
        },
        voices: DEFAULT_VOICES,
    }
}

pub fn register(
    engine: &mut Engine,
    builder: Rc<RefCell<Builder>>,
    imports: Rc<RefCell<Imports>>,
    file: Arc<str>,
) {
    engine.register_type_with_name::<MidiNotes>("MidiNotes");
    engine.register_fn("midi_notes", || notes(None));
    engine.register_fn(
        "midi_notes",
        |ctx: NativeCallContext, ch: Dynamic| -> Res<MidiNotes> {
            Ok(notes(Some(channel(&ctx, &ch)?)))
        },
    );
    engine.register_fn(
        "voices",
        |ctx: NativeCallContext, m: MidiNotes, n: Dynamic| -> Res<MidiNotes> {
            Ok(MidiNotes {
                voices: voice_count(&ctx, &n)?,
                ..m
            })
        },
    );
    engine.register_fn(
        "bend",
        |ctx: NativeCallContext, mut m: MidiNotes, semitones: Dynamic| -> Res<MidiNotes> {
            m.spec.bend_range = num_in(&ctx, &semitones, "bend", 0.0, 48.0)? as f32;
            Ok(m)
        },
    );
    engine.register_fn(
        "play",
        move |ctx: NativeCallContext, m: MidiNotes, instrument: Dynamic| -> Res<Sig> {
            let pos = call_pos(&ctx, &file);
            let source = (NodeKind::MidiNotes(m.spec), m.voices);
            play(&builder, &imports, &ctx, &pos, source, &instrument)
        },
    );
}
