//! MIDI input through midir: opens the ports `midi_input` names and a virtual port `waves`
//! (control thread), parses bytes on midir's threads, and hands messages to the audio
//! thread through one lock-free ring per port (`MidiInbox`, drained by the callback).

use crate::midi::{MidiEvent, Parser, now_nanos};
use midir::{MidiInput, MidiInputConnection};
use ringbuf::traits::{Consumer, Producer, Split};
use ringbuf::{HeapCons, HeapRb};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Messages a port's ring holds while the audio thread is away (a few seconds of a dense
/// controller sweep).
const RING: usize = 4096;
/// The name a DAW or keyboard app sees.
pub const VIRTUAL_PORT: &str = "waves";
const CLIENT: &str = "waves";

/// The open ports; dropping it closes them.
pub struct MidiIn {
    _connections: Vec<MidiInputConnection<()>>,
    /// What is listened to, for the start-up line.
    pub names: Vec<String>,
    /// Messages dropped because a ring was full.
    pub dropped: Arc<AtomicU64>,
}

/// The audio thread's end of the rings.
pub struct MidiInbox {
    rings: Vec<HeapCons<MidiEvent>>,
}

impl MidiInbox {
    /// Takes every waiting message (audio thread: no allocation, no lock).
    pub fn drain(&mut self, mut each: impl FnMut(MidiEvent)) {
        for r in self.rings.iter_mut() {
            while let Some(e) = r.try_pop() {
                each(e);
            }
        }
    }

    /// An inbox fed by hand (tests, offline drivers): the producer end of one ring.
    pub fn pair() -> (ringbuf::HeapProd<MidiEvent>, MidiInbox) {
        let (p, c) = HeapRb::new(RING).split();
        (p, MidiInbox { rings: vec![c] })
    }
}

/// What `open` did: the ports (if any) and one line to show the user.
pub struct Opened {
    pub input: Option<MidiIn>,
    pub inbox: Option<MidiInbox>,
    pub line: String,
}

fn callback(
    mut prod: ringbuf::HeapProd<MidiEvent>,
    dropped: Arc<AtomicU64>,
) -> impl FnMut(u64, &[u8], &mut ()) + Send + 'static {
    let mut parser = Parser::new();
    move |_, bytes, _| {
        // midir's own timestamps differ per backend; the process clock is one the audio
        // thread can compare with.
        let nanos = now_nanos();
        parser.feed(bytes, |msg| {
            if prod.try_push(MidiEvent { nanos, msg }).is_err() {
                dropped.fetch_add(1, Relaxed);
            }
        });
    }
}

/// Opens MIDI input as `spec` says: "none" = off, "" = every port, else ports whose name
/// contains `spec` (case-insensitive); plus the virtual port where the platform has one.
/// Never fails: where MIDI cannot start, the line says why and playing goes on.
pub fn open(spec: &str) -> Opened {
    let off = |line: String| Opened {
        input: None,
        inbox: None,
        line,
    };
    if spec.eq_ignore_ascii_case("none") {
        return off("MIDI: off (midi_input = \"none\")".into());
    }
    let probe = match MidiInput::new(CLIENT) {
        Ok(m) => m,
        Err(e) => {
            return off(format!(
                "MIDI: unavailable here ({e}); playing on without it"
            ));
        }
    };
    let want = spec.to_lowercase();
    let ports: Vec<(midir::MidiInputPort, String)> = probe
        .ports()
        .into_iter()
        .filter_map(|p| {
            let name = probe.port_name(&p).ok()?;
            name.to_lowercase().contains(&want).then_some((p, name))
        })
        .collect();
    drop(probe);
    let dropped = Arc::new(AtomicU64::new(0));
    let mut connections = Vec::new();
    let mut rings = Vec::new();
    let mut names = Vec::new();
    let mut problems = Vec::new();
    for (port, name) in ports {
        let input = match MidiInput::new(CLIENT) {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        let (prod, cons) = HeapRb::new(RING).split();
        match input.connect(&port, "in", callback(prod, dropped.clone()), ()) {
            Ok(c) => {
                connections.push(c);
                rings.push(cons);
                names.push(name);
            }
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    #[cfg(unix)]
    {
        use midir::os::unix::VirtualInput;
        match MidiInput::new(CLIENT) {
            Ok(input) => {
                let (prod, cons) = HeapRb::new(RING).split();
                match input.create_virtual(VIRTUAL_PORT, callback(prod, dropped.clone()), ()) {
                    Ok(c) => {
                        connections.push(c);
                        rings.push(cons);
                        names.push(format!("virtual port \"{VIRTUAL_PORT}\""));
                    }
                    Err(e) => problems.push(format!("virtual port: {e}")),
                }
            }
            Err(e) => problems.push(format!("virtual port: {e}")),
        }
    }
    let mut line = if names.is_empty() {
        "MIDI: no input".to_string()
    } else {
        format!("MIDI: listening to {}", names.join(", "))
    };
    if !spec.is_empty() && !names.iter().any(|n| n.to_lowercase().contains(&want)) {
        line.push_str(&format!(
            " (no port matches \"{spec}\"; see `waves devices`)"
        ));
    }
    if !problems.is_empty() {
        line.push_str(&format!(" (could not open: {})", problems.join("; ")));
    }
    if connections.is_empty() {
        return off(line);
    }
    Opened {
        input: Some(MidiIn {
            _connections: connections,
            names,
            dropped,
        }),
        inbox: Some(MidiInbox { rings }),
        line,
    }
}
