//! Real-time safety: `Renderer::process` never allocates or frees, whatever the graph and
//! whatever the callback size.
//!
//! A counting global allocator counts only on a thread that has armed it, and this binary
//! holds a single test, so nothing else allocates on the armed thread meanwhile.

use ringbuf::traits::Producer;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use waves::engine::Renderer;
use waves::engine::callback::{Callback, PlayStats};
use waves::graph;
use waves::io::midi_in::MidiInbox;
use waves::midi::{MidiEvent, Msg};
use waves::script::{compile_source, dsl};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static FREES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialised and without a destructor: reading it never allocates.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

fn count(counter: &AtomicUsize) {
    if ARMED.try_with(|a| a.get()).unwrap_or(false) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(&ALLOCS);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(&ALLOCS);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(&ALLOCS);
        count(&FREES);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(&FREES);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Every function of the vocabulary, so every node kind and every code path of each
/// (constant and signal parameters, shared and per-voice lanes, mono and stereo).
const SCRIPT: &str = r#"
tempo(128);
tempo("midi", 128);                                   // follows the clock messages below
duration(bars(8));
reload_at("now");
let trig = metro(1);
let trig2 = metro(line(0.5, 0.25, 4));              // a period that is a signal
let gate = pulse(2, 0.5);
let lfo = sine(param("rate", 0.3, 0.01, 20), 0.25).range(200, 2000).smooth(ms(10)).id("lfo").monitor("lfo");
let oscs = mix([sine(note("a3")), saw(110), square(55), pulse(330, sine(0.2).range(0.1, 0.9)), tri(440)]) * 0.1;
let n = noise() * 0.1 + pink() * 0.1;
let filt = oscs.lpf(lfo, 2) + oscs.hpf(800) + n.bpf(1000, 4) + n.notch(lfo)
         + oscs.ladder(lfo, 0.7) + oscs.ladder(900) + oscs.lpf(900) + n.hpf(lfo, sine(1).range(0.5, 4));
let env = adsr(gate, 0.01, 0.1, 0.6, 0.2) * perc(trig, ms(1), 0.3) + perc(trig2, 0.001, 0.1);
let pitched = sine(midi(sine(0.5) * 12 + 60)) * adsr(gate, 0.01, 0.05, sine(0.1).range(0.2, 0.8), 0.1);
let shaped = (abs(saw(3)) + clip(saw(5) * 2, -0.5, 0.5) + min(sine(2), 0.3) + max(sine(3), -0.3)
            + pow(2, sine(0.1)) - 1) / 4;
let neg = -tri(7);
let voices = poly(4, |v| {
    let f = midi(v.index * 3 + 48);
    let e = adsr(pulse(3, 0.5), 0.01, 0.05, 0.5, 0.1) * perc(metro(0.5), 0.001, 0.2);
    (saw(f) + noise() * 0.1 + pink() * 0.05).lpf(f * 4, 1.5).ladder(f * 8, 0.3)
        .delay(sine(0.5).range(0.001, 0.004), 0.3) * e * 0.1
});
let fb = feedback();
let echo = (filt * env + fb * 0.4).delay(beats(0.5), 0.3);
fb.feed(echo);
let dry = (echo + pitched * 0.05 + shaped + neg * 0.05).drive(2).gain(0.3);
let wide = stereo(dry, dry.delay(0.02) + sine(midi(64)) * 0.01).monitor("wide");
// Patterns: stealing (six-note chords on four voices), chance, Euclid, tied notes, samples.
let drums = pattern("x ~ [x x] x(3,8)?").voices(3)
    .play(|v| sine(line(150, 45, 0.08)) * perc(v.gate, 0.001, 0.2) * v.vel).track("drums").monitor("drums");
pattern("x ~ x x").monitor("beat");                  // a pattern's step, no sound
let chords = pattern("<[c3,e3,g3,b3,d4,f4] [a2,c3,e3]>*2").fast(2).slow(2).voices(4).legato(1.5)
    .play(|v| saw(v.freq) * adsr(v.gate, 0.01, 0.1, 0.5, 0.1) * 0.05).track("chords");
let mono_line = saw(pattern("a2 c3 e3").freq()) * adsr(pattern("x x ~ x").gate(), 0.01, 0.1, 0.5, 0.1) * 0.05;
let rim = pattern("x*4").play(|v| sample("samples/rim.wav").speed(v.freq / 261.63) * (v.note - 59))
        + sample("samples/rim.wav").looped() * 0.1;
let fx = (drums + chords).reverb(0.3) + chords.reverb(0.2, 1.5) + mono_line.reverb(0.2, 1, 0.5)
       + rim.chorus(0.3, 0.5) + (drums * 2).comp(-12, 4) + chords.comp(-20, 2, 0.005, 0.2)
       + mono_line.crush(6) + mono_line.delay(0.2, 0.4, 0.3)
       // An instrument without a gate (each note gets its own fades), one oscillator free.
       + pattern("c3 [e3 g3] ~ c4").play(|v| saw(v.freq).free() * 0.5 + sine(v.freq, 0.25) * 0.1);
// MIDI: every channel on 8 voices under a knob, and channel 2 under its own knob.
let keys = midi_notes().voices(8).bend(12)
    .play(|v| saw(v.freq).lpf(cc(74).init(0.3).range(300, 3000), 0.8) * adsr(v.gate, 0.01, 0.1, 0.7, 0.2) * v.vel * 0.1)
    + midi_notes(2).play(|v| tri(v.freq) * perc(v.gate, 0.001, 0.3)) * cc(7, 2);
mix([wide.pan(sine(0.2)), wide.pan(-0.3), voices.pan(0.3), pitched.pan(sine(0.7)) * 0.1, 0.0, fx * 0.2, keys])
"#;

/// MIDI as a busy player sends it: bursts of 64 notes on 8 voices, their releases under a
/// sustain pedal, knob sweeps, pitch bend, a clock with Start, Stop and Continue, more
/// messages than a block holds and than the queue holds.
fn midi_burst(r: &mut Renderer, k: usize) {
    let at = r.position();
    match k % 9 {
        0 => {
            for n in 0..64u8 {
                r.push_midi(
                    at + n as u64,
                    Msg::NoteOn {
                        ch: n % 3,
                        note: 30 + n,
                        vel: 100,
                    },
                );
            }
        }
        3 => {
            r.push_midi(
                at,
                Msg::Cc {
                    ch: 0,
                    num: 64,
                    value: 127,
                },
            );
            for n in 0..64u8 {
                r.push_midi(
                    at + 5,
                    Msg::NoteOff {
                        ch: n % 3,
                        note: 30 + n,
                    },
                );
            }
        }
        5 => {
            r.push_midi(
                at,
                Msg::Cc {
                    ch: 0,
                    num: 64,
                    value: 0,
                },
            );
            r.push_midi(
                at,
                Msg::Bend {
                    ch: 0,
                    value: (k as i16 * 97) % 8192,
                },
            );
        }
        7 if k % 90 == 7 => {
            // A flood: more than the queue holds; the rest is dropped and counted.
            for i in 0..2000u64 {
                r.push_midi(
                    at + i,
                    Msg::Cc {
                        ch: 1,
                        num: 7,
                        value: (i % 128) as u8,
                    },
                );
            }
        }
        _ => {}
    }
    for i in 0..4u64 {
        r.push_midi(at + i * 10, Msg::Clock);
        r.push_midi(
            at + i * 10,
            Msg::Cc {
                ch: 0,
                num: 74,
                value: ((k + i as usize) % 128) as u8,
            },
        );
    }
    match k % 40 {
        1 => {
            r.push_midi(at, Msg::Start);
        }
        20 => {
            r.push_midi(at, Msg::Stop);
        }
        25 => {
            r.push_midi(at, Msg::Continue);
        }
        _ => {}
    }
}

#[test]
fn process_never_allocates_or_frees() {
    // Everything that may allocate happens first, unarmed.
    let c = compile_source(SCRIPT, "alloc.rhai", Path::new("scripts"), 48_000.0)
        .unwrap_or_else(|d| panic!("{}", d.render(Some(SCRIPT))));
    let missing: Vec<&str> = dsl::functions()
        .iter()
        .map(|f| f.name)
        .filter(|name| !SCRIPT.contains(&format!("{name}(")))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        missing.is_empty(),
        "the script must use every function; add {missing:?}"
    );
    let kinds: BTreeSet<&str> = c.spec.nodes.iter().map(|n| n.kind.name()).collect();
    for k in [
        "sine",
        "saw",
        "square",
        "pulse",
        "tri",
        "noise",
        "pink",
        "line",
        "adsr",
        "perc",
        "metro",
        "smooth",
        "lpf",
        "hpf",
        "bpf",
        "notch",
        "ladder",
        "delay",
        "drive",
        "pan",
        "add",
        "sub",
        "mul",
        "div",
        "min",
        "max",
        "pow",
        "neg",
        "abs",
        "midi",
        "clip",
        "range",
        "mix",
        "poly",
        "index",
        "feedback",
        "seq",
        "reverb",
        "chorus",
        "comp",
        "crush",
        "sample",
        "monitor",
        "midi_notes",
        "cc",
    ] {
        assert!(kinds.contains(k), "no {k} node in the graph: {kinds:?}");
    }
    assert!(
        c.spec.nodes.iter().any(|n| n.lanes > 1),
        "no per-voice nodes"
    );

    let sample_rate = 48_000.0f32;
    let g = graph::compile(&c.spec, sample_rate).0;
    let mut r = Renderer::new(g, sample_rate, 0.8);
    let chunks = [1usize, 17, 64, 333, 4096, 2, 63, 65, 1000];
    let mut buf = vec![0.0f32; 2 * 4096];
    let total = 10 * 48_000 + 123;
    let (mut done, mut k) = (0usize, 0usize);
    let (mut sum_sq, mut nonfinite) = (0.0f64, 0usize);

    ALLOCS.store(0, Ordering::SeqCst);
    FREES.store(0, Ordering::SeqCst);
    ARMED.with(|a| a.set(true));
    while done < total {
        let n = chunks[k % chunks.len()].min(total - done);
        let out = &mut buf[..2 * n];
        midi_burst(&mut r, k);
        r.process(out);
        for s in out.iter() {
            if s.is_finite() {
                sum_sq += (*s as f64) * (*s as f64);
            } else {
                nonfinite += 1;
            }
        }
        if k == 50 {
            r.set_master_gain(0.7);
        }
        done += n;
        k += 1;
    }
    ARMED.with(|a| a.set(false));

    // The device callback's path: MIDI from midir's ring, placed by arrival time.
    let mut cb = Callback::new(
        Renderer::new(graph::compile(&c.spec, sample_rate).0, sample_rate, 0.8),
        None,
        None,
        Arc::new(PlayStats::default()),
    );
    let (mut keys, inbox) = MidiInbox::pair();
    cb = cb.with_midi(Some(inbox));
    let mut device = vec![0.0f32; 2 * 512];
    ARMED.with(|a| a.set(true));
    for k in 0..250u8 {
        for n in 0..8u8 {
            let msg = if k % 2 == 0 {
                Msg::NoteOn {
                    ch: 0,
                    note: 40 + n + k % 20,
                    vel: 90,
                }
            } else {
                Msg::NoteOff {
                    ch: 0,
                    note: 40 + n + (k - 1) % 20,
                }
            };
            let _ = keys.try_push(MidiEvent {
                nanos: waves::midi::now_nanos(),
                msg,
            });
        }
        cb.fill(&mut device, 2);
    }
    ARMED.with(|a| a.set(false));
    let (allocs, frees) = (ALLOCS.load(Ordering::SeqCst), FREES.load(Ordering::SeqCst));
    assert!(
        device.iter().any(|v| *v != 0.0),
        "the callback played nothing"
    );

    assert_eq!(r.position(), total as u64);
    assert!(
        r.midi_dropped() > 0,
        "the MIDI flood never filled the queue"
    );
    // The counter works: an allocation while armed is seen.
    ARMED.with(|a| a.set(true));
    let probe = std::hint::black_box(vec![1u8; 32]);
    drop(probe);
    ARMED.with(|a| a.set(false));
    assert!(
        ALLOCS.load(Ordering::SeqCst) > allocs,
        "the allocator does not count"
    );
    assert!(
        FREES.load(Ordering::SeqCst) > frees,
        "the allocator does not count frees"
    );

    assert_eq!(
        (allocs, frees),
        (0, 0),
        "process() allocated {allocs} times and freed {frees} times over {total} frames"
    );
    assert_eq!(nonfinite, 0, "non-finite samples");
    let rms = (sum_sq / (2 * total) as f64).sqrt();
    assert!(
        rms > 1e-3,
        "the graph is silent (rms {rms}), the test proves little"
    );
}
