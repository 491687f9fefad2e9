//! Hot-reload swaps inside the renderer, offline and deterministic: state carries by key,
//! quantized swaps land on the grid, crossfades stay click-free.

mod common;

use ringbuf::traits::{Consumer, Producer};
use std::path::Path;
use waves::engine::Renderer;
use waves::engine::commands::{self, Command, Control, Swap};
use waves::graph::{self, GraphMeta, GraphSpec, RuntimeGraph};
use waves::script::compile_source;

const SR: f32 = 48_000.0;

/// What the control thread keeps of the playing graph to match the next one against: its
/// spec and the node each op runs.
type Playing = (GraphSpec, Vec<graph::OpOrigin>);

fn compile_spec(src: &str) -> (GraphSpec, RuntimeGraph, GraphMeta) {
    let c = compile_source(src, "t.rhai", Path::new("."), SR as f64)
        .unwrap_or_else(|d| panic!("{}", d.render(Some(src))));
    let (g, meta) = graph::compile(&c.spec, SR);
    (c.spec, g, meta)
}

fn compile(src: &str) -> (RuntimeGraph, GraphMeta) {
    let (_, g, meta) = compile_spec(src);
    (g, meta)
}

fn start(src: &str) -> (Renderer, Control, Playing) {
    let (spec, g, meta) = compile_spec(src);
    let playing = (spec, meta.nodes);
    let mut r = Renderer::new(g, SR, 1.0);
    let (control, ends) = commands::channel();
    r.attach(ends);
    (r, control, playing)
}

fn send(control: &mut Control, playing: &Playing, src: &str, fade: u32, quantum: f64) {
    let (spec, g, meta) = compile_spec(src);
    let plan = meta.carry_plan(&spec, &playing.0, &playing.1);
    let swap = Swap {
        graph: Some(Box::new(g)),
        plan,
        fade_frames: fade,
        quantum_beats: quantum,
        id: 1,
    };
    assert!(
        control
            .commands
            .try_push(Command::Swap(Box::new(swap)))
            .is_ok()
    );
}

/// Sends version `src` as swap `id` with no fade, frees what came back; returns what the
/// next version is matched against.
fn reload(control: &mut Control, playing: &Playing, src: &str, id: u64) -> Playing {
    let (spec, g, meta) = compile_spec(src);
    let plan = meta.carry_plan(&spec, &playing.0, &playing.1);
    let next = (spec, meta.nodes);
    let swap = Swap {
        graph: Some(Box::new(g)),
        plan,
        fade_frames: 0,
        quantum_beats: 0.0,
        id,
    };
    assert!(
        control
            .commands
            .try_push(Command::Swap(Box::new(swap)))
            .is_ok()
    );
    while control.garbage.try_pop().is_some() {}
    next
}

fn left(r: &mut Renderer, frames: usize) -> Vec<f32> {
    let mut out = vec![0.0; frames * 2];
    r.process(&mut out);
    out.iter().step_by(2).copied().collect()
}

fn max_step(v: &[f32]) -> f32 {
    v.windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max)
}

#[test]
fn an_oscillator_keeps_its_phase_across_a_swap() {
    let (mut r, mut control, keys) = start("sine(220).id(\"osc\") * 0.5");
    let mut v = left(&mut r, 10_000);
    send(&mut control, &keys, "sine(331).id(\"osc\") * 0.5", 0, 0.0);
    v.extend(left(&mut r, 10_000));
    let (_, frame) = control.stats.applied();
    assert_eq!(
        frame, 10_048,
        "swapped at the first block boundary after the command"
    );
    assert!(
        control
            .stats
            .carried
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    // Without carried phase the new sine would restart at 0 and jump.
    let bound = 2.0 * std::f32::consts::PI * 331.0 * 0.5 / SR * 1.01;
    assert!(max_step(&v) <= bound, "click: {} > {bound}", max_step(&v));
    // And the pitch did change.
    let zc = |s: &[f32]| {
        s.windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count()
    };
    assert!(zc(&v[..9600]) < zc(&v[10_400..20_000]));
}

#[test]
fn without_a_key_match_the_swap_crossfades_click_free() {
    let (mut r, mut control, keys) = start("sine(220) * 0.5");
    let mut v = left(&mut r, 4_800);
    send(
        &mut control,
        &keys,
        "saw(97).lpf(2000) * 0.3 + noise() * 0.01",
        1_440,
        0.0,
    );
    v.extend(left(&mut r, 9_600));
    assert_eq!(
        control
            .stats
            .carried
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    // Around the swap no step exceeds what the two sounds make on their own.
    let around = &v[4_800..4_800 + 1_600];
    assert!(max_step(around) < 0.25, "step {}", max_step(around));
    // The old graph came back to be freed off the audio thread.
    let mut back = 0;
    while control.garbage.try_pop().is_some() {
        back += 1;
    }
    assert_eq!(back, 1);
}

#[test]
fn an_unrelated_chain_keeps_its_state() {
    let a = "mix([saw(110).lpf(800) * 0.2, sine(440) * 0.2])";
    let b = "mix([saw(110).lpf(800) * 0.2, sine(440).lpf(5000) * 0.2])";
    let (mut r, mut control, keys) = start(a);
    left(&mut r, 4_800);
    send(&mut control, &keys, b, 0, 0.0);
    left(&mut r, 128);
    // saw, its filter and the sine carry (the sine is matched by what it is, though a
    // filter now sits above it); only the new filter starts fresh.
    assert_eq!(
        control
            .stats
            .carried
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
}

#[test]
fn a_quantized_swap_lands_on_the_bar() {
    // 120 BPM: a bar is 96 000 frames.
    let (mut r, mut control, keys) = start("tempo(120);\nsine(220) * 0.5");
    left(&mut r, 30_000);
    send(&mut control, &keys, "tempo(120);\nsine(330) * 0.5", 0, 4.0);
    left(&mut r, 90_000);
    assert_eq!(control.stats.applied().1, 96_000);
}

/// The frame nearest to `beat` on a transport that ran at 120 BPM to beat 4, then at 132.
fn frame_after_tempo_edit(beat: f64) -> f64 {
    96_000.0 + (beat - 4.0) * SR as f64 * 60.0 / 132.0
}

#[test]
fn quantized_swaps_land_on_the_transport_bar_after_a_tempo_edit() {
    let (mut r, mut control, keys) = start("tempo(120);\nsine(220) * 0.5");
    left(&mut r, 30_000);
    // The tempo edit itself waits for the bar of the tempo that plays (beat 4, 2 s).
    send(&mut control, &keys, "tempo(132);\nsine(330) * 0.5", 0, 4.0);
    left(&mut r, 90_000);
    assert_eq!(control.stats.applied().1, 96_000);
    // The next edit lands on the bar counted on from there (beat 8), not on a multiple of a
    // 132 BPM bar counted from frame 0; a beat-quantized one on the next beat.
    send(&mut control, &keys, "tempo(132);\nsine(440) * 0.5", 0, 4.0);
    left(&mut r, 100_000);
    let landed = control.stats.applied().1 as f64;
    let want = frame_after_tempo_edit(8.0);
    assert!(
        (landed - want).abs() <= 32.0,
        "landed at {landed}, bar at {want}"
    );
    left(&mut r, 200_000);
    send(&mut control, &keys, "tempo(132);\nsine(550) * 0.5", 0, 1.0);
    let sent_at = r.position() as f64;
    left(&mut r, 30_000);
    let landed = control.stats.applied().1 as f64;
    let beat = 4.0 + (sent_at - 96_000.0) / (SR as f64 * 60.0 / 132.0);
    let want = frame_after_tempo_edit(beat.ceil());
    assert!(
        (landed - want).abs() <= 32.0,
        "a beat-quantized edit at beat {beat:.2} landed at {landed}, the beat is at {want}"
    );
}

#[test]
fn quantized_swaps_land_on_the_bar_of_an_external_clock() {
    use waves::midi::Msg;
    let (mut r, mut control, keys) = start("tempo(\"midi\", 100);\nsine(220) * 0.5");
    // A clock at 140 BPM from frame 0: 24 pulses a beat.
    let per_pulse = SR as f64 * 60.0 / 140.0 / 24.0;
    assert!(r.push_midi(0, Msg::Start));
    let mut next = 0usize;
    let mut pulses = |r: &mut waves::engine::Renderer, until: u64| {
        while (next as f64 * per_pulse) < until as f64 {
            assert!(r.push_midi((next as f64 * per_pulse).round() as u64, Msg::Clock));
            next += 1;
        }
    };
    let mut run = |r: &mut waves::engine::Renderer, frames: usize| {
        let until = r.position() + frames as u64 + 64;
        pulses(r, until);
        left(r, frames)
    };
    run(&mut r, 100_000);
    send(
        &mut control,
        &keys,
        "tempo(\"midi\", 100);\nsine(330) * 0.5",
        0,
        4.0,
    );
    run(&mut r, 100_000);
    let landed = control.stats.applied().1 as f64;
    // Sent at beat 4.9 of the clock: the bar is beat 8.
    let want = 8.0 * 24.0 * per_pulse;
    assert!(
        (landed - want).abs() <= 64.0,
        "landed at {landed}, the clock's bar is at {want:.0}"
    );
}

#[test]
fn an_edit_of_numbers_only_glides_in_place() {
    let a = "sine(220) * 0.5";
    let b = "sine(220) * 0.25";
    let ca = compile_source(a, "t.rhai", Path::new("."), SR as f64).unwrap();
    let cb = compile_source(b, "t.rhai", Path::new("."), SR as f64).unwrap();
    let changes = graph::param_changes(&ca.spec, &cb.spec).expect("only numbers changed");
    assert_eq!(changes.len(), 1);
    assert!(
        graph::param_changes(
            &ca.spec,
            &compile_source("saw(220) * 0.25", "t.rhai", Path::new("."), SR as f64)
                .unwrap()
                .spec
        )
        .is_none(),
        "another oscillator is not a parameter edit"
    );
    let (mut r, mut control, _) = start(a);
    let (_, meta) = compile(a);
    let slot = meta.params[&changes[0].0];
    let mut v = left(&mut r, 4_800);
    assert!(
        control
            .commands
            .try_push(Command::Param {
                slot,
                value: changes[0].1,
                frames: 1_440
            })
            .is_ok()
    );
    assert!(control.commands.try_push(Command::Mark(7)).is_ok());
    v.extend(left(&mut r, 9_600));
    assert_eq!(control.stats.applied().0, 7);
    let peak = |s: &[f32]| s.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!((peak(&v[..4_800]) - 0.5).abs() < 1e-3);
    assert!((peak(&v[4_800 + 2_000..]) - 0.25).abs() < 1e-3);
    // A glide, not a step: no jump beyond the sine's own slope.
    let bound = 2.0 * std::f32::consts::PI * 220.0 * 0.5 / SR * 1.01;
    assert!(max_step(&v) <= bound, "{} > {bound}", max_step(&v));
}

#[test]
fn a_sequencer_keeps_its_grid_across_ten_reloads() {
    // metro reads the transport, so however often the graph is replaced, its triggers stay
    // on the beat: 120 BPM → every 24 000 frames.
    let version = |i: usize| format!("tempo(120);\nmetro(1) * {}", 1 + i % 3);
    let (mut r, mut control, mut keys) = start(&version(0));
    let mut v = Vec::new();
    for i in 1..=10 {
        v.extend(left(&mut r, 13_331 + i * 977));
        keys = reload(&mut control, &keys, &version(i), i as u64);
    }
    v.extend(left(&mut r, 48_000));
    assert_eq!(control.stats.applied().0, 10);
    let onsets: Vec<usize> = v
        .iter()
        .enumerate()
        .filter(|(_, x)| **x > 0.0)
        .map(|(i, _)| i)
        .collect();
    assert!(onsets.len() >= 8, "{onsets:?}");
    for o in &onsets {
        assert_eq!(
            o % 24_000,
            0,
            "trigger off the grid at frame {o}: {onsets:?}"
        );
    }
    let want: Vec<usize> = (0..v.len()).step_by(24_000).collect();
    assert_eq!(onsets, want, "a beat went missing or doubled");
}

#[test]
fn a_pattern_keeps_its_grid_and_its_voices_across_reloads() {
    // Each version changes the notes and the level; the notes stay on the beat and none
    // goes missing or doubles: the sequencer reads the transport and carries its voices.
    let version = |i: usize| {
        let notes = ["c3 e3 g3 c4", "a2 c3 e3 a3", "f2 a2 c3 f3"][i % 3];
        format!(
            "tempo(120);\npattern(\"{notes}\").voices(2).play(|v| v.gate * {})",
            1 + i % 2
        )
    };
    let (mut r, mut control, mut keys) = start(&version(0));
    let mut v = Vec::new();
    for i in 1..=10 {
        v.extend(left(&mut r, 11_113 + i * 1_931));
        keys = reload(&mut control, &keys, &version(i), i as u64);
    }
    v.extend(left(&mut r, 48_000));
    assert_eq!(control.stats.applied().0, 10);
    let rises: Vec<usize> = (1..v.len())
        .filter(|&i| v[i] > 0.5 && v[i - 1] <= 0.5)
        .collect();
    let want: Vec<usize> = (24_000..v.len()).step_by(24_000).collect();
    assert_eq!(rises, want, "a note went missing, doubled or left the grid");
}

#[test]
fn knobs_and_held_midi_notes_survive_an_edit() {
    use waves::midi::Msg;
    let v1 = "stereo(sine(220) * cc(74).init(0.1), midi_notes().play(|v| sine(v.freq) * adsr(v.gate, 0.001, 0.01, 1.0, 0.01) * 0.5))";
    // The edit changes the instrument's level and the knob's default; the knob keeps the
    // position the controller gave it, and the held note keeps sounding at its pitch.
    let v2 = "stereo(sine(220) * cc(74).init(0.9), midi_notes().play(|v| sine(v.freq) * adsr(v.gate, 0.001, 0.01, 1.0, 0.01) * 0.25))";
    let (mut r, mut control, keys) = start(v1);
    r.push_midi(
        0,
        Msg::Cc {
            ch: 3,
            num: 74,
            value: 64,
        },
    );
    r.push_midi(
        0,
        Msg::NoteOn {
            ch: 0,
            note: 69,
            vel: 127,
        },
    );
    let mut out = vec![0.0f32; 2 * 4800];
    r.process(&mut out);
    let level = |o: &[f32], side: usize| o.chunks(2).map(|f| f[side].abs()).fold(0.0, f32::max);
    assert!((level(&out[4800..], 0) - 64.0 / 127.0).abs() < 0.01);
    assert!((level(&out[4800..], 1) - 0.5).abs() < 0.01);
    reload(&mut control, &keys, v2, 2);
    r.process(&mut out);
    let after = &out[4800..];
    assert!(
        (level(after, 0) - 64.0 / 127.0).abs() < 0.01,
        "the knob moved: {}",
        level(after, 0)
    );
    assert!(
        (level(after, 1) - 0.25).abs() < 0.01,
        "the held note: {}",
        level(after, 1)
    );
    let right: Vec<f32> = after.chunks(2).map(|f| f[1]).collect();
    let hz = common::zero_cross_hz(&right, SR as f64);
    assert!((hz - 440.0).abs() < 2.0, "{hz}");
    // Its note-off still finds it.
    r.push_midi(r.position(), Msg::NoteOff { ch: 0, note: 69 });
    r.process(&mut out);
    assert!(level(&out[2400..], 1) < 1e-4);
}

#[test]
fn a_sleeping_midi_instrument_wakes_on_the_frame_of_its_note() {
    use waves::midi::Msg;
    let (mut r, _control, _keys) =
        start("midi_notes().play(|v| sine(v.freq) * perc(v.gate, 0.0001, 0.05) * 0.5)");
    let mut out = vec![0.0f32; 2 * 48_000];
    r.process(&mut out);
    assert!(out.iter().all(|v| *v == 0.0), "silent before any note");
    // With no note it does no work: every block is skipped but the first, which is run to
    // find that the instrument is silent, and a skipped block skips all eight voices.
    let blocks = 48_000 / 64;
    assert_eq!(r.graph().slept_blocks(), blocks - 1, "blocks skipped");
    assert_eq!(
        r.graph().lanes_slept(),
        8 * (blocks - 1),
        "voice-blocks skipped"
    );
    // Long after the instrument fell asleep, a note lands mid-block.
    r.push_midi(
        48_000 + 100,
        Msg::NoteOn {
            ch: 0,
            note: 69,
            vel: 127,
        },
    );
    let mut out = vec![0.0f32; 2 * 4800];
    r.process(&mut out);
    let first = out.chunks(2).position(|f| f[0] != 0.0);
    assert_eq!(
        first,
        Some(101),
        "the note starts on its frame (its first sample is 0)"
    );
    // It wakes for the note's 50 ms (38 blocks) and the block that finds it silent again,
    // and only the one voice that plays it runs: of the eight voices, seven are skipped in
    // every block it is awake.
    let awake = blocks + 75 - r.graph().slept_blocks() - 1;
    assert!(
        (38..=40).contains(&awake),
        "awake for {awake} of the 75 blocks after the note"
    );
    let ran = 8 * (blocks + 75) - r.graph().lanes_slept();
    assert_eq!(ran, 8 + awake, "voice-blocks run");
    // And it sleeps again.
    let before = r.graph().slept_blocks();
    r.process(&mut out);
    assert_eq!(
        r.graph().slept_blocks() - before,
        75,
        "blocks skipped after the note"
    );
}

/// Two sines the compiler runs as two lanes of one node, then (after an edit that gives one
/// of them a node of its own) as two nodes, then as lanes again: each keeps its phase, lane
/// by lane, so the take goes on exactly as a render of the new version from the start.
#[test]
fn copies_merged_into_lanes_keep_their_phases_when_an_edit_splits_or_joins_them() {
    let joined = "mix([sine(220) * 0.3, sine(330) * 0.3])";
    let split = "mix([sine(220) * 0.3, (sine(330) * 0.3).gain(1)])";
    for (a, b) in [(joined, split), (split, joined)] {
        let (mut reference, _, _) = start(b);
        let want = left(&mut reference, 20_000);
        let (mut r, mut control, keys) = start(a);
        let mut v = left(&mut r, 10_000);
        send(&mut control, &keys, b, 0, 0.0);
        v.extend(left(&mut r, 10_000));
        let (_, frame) = control.stats.applied();
        let after = frame as usize + 64;
        let worst = v[after..]
            .iter()
            .zip(&want[after..])
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-4, "{a} → {b}: differs by {worst} after the swap");
    }
}
