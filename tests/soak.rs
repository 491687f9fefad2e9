//! A long session, offline: one hour of audio through the engine and the recorder (tap,
//! ring and spooler thread) with 1000 edits through the real reload path (`Live`, as the
//! file watcher drives it) and a burst of 1000 MIDI messages every second.
//!
//! The recorder is driven as the device drives it: a block is pushed as soon as it is
//! rendered, never waiting for room in the ring, at most `PACE` times faster than real time
//! (so that a faster machine does not shrink the spooler's slack). The ring holds
//! `RING_WALL` seconds of wall time at that pace: a spooler that stalls for longer, or
//! drains slower than the audio comes, drops frames, and the test fails.
//!
//! Every second's MIDI burst nearly fills the renderer's 1024-message queue, so a queue
//! that kept a few messages too many between bursts would drop; one burst in the middle
//! overflows it on purpose and must drop exactly its excess. Memory other than the take and
//! the ring must stay flat once warm (within `RSS_GROWTH`), and the take must be exactly
//! one hour.
//!
//! `cargo test --release --test soak -- --nocapture` prints the figures in docs/RECORDING.md
//! ("Long sessions").

mod common;
use common::TempDir;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use waves::config::Config;
use waves::engine::commands;
use waves::engine::{MIDI_PENDING, Renderer};
use waves::graph;
use waves::live::Live;
use waves::midi::Msg;
use waves::record::stems::StemSlots;
use waves::record::tap;
use waves::script::{self, Overrides};

const SR: u32 = 48_000;
const HOUR: u64 = 3600 * SR as u64;
const RELOADS: u64 = 1000;
/// Frames per push, as a device callback of 1024 frames would push them.
const CHUNK: usize = 1024;
/// The pushes come at most this many times faster than real time (the hour takes at
/// least 18 s of wall time).
const PACE: f64 = 200.0;
/// Wall time the recording ring covers at `PACE` (the device's ring covers 2 s of real
/// time; this gives the spooler an eighth of that).
const RING_WALL: f64 = 0.25;
/// MIDI messages in each second's burst: the queue holds `MIDI_PENDING` (1024).
const BURST: usize = 1000;
/// The second whose burst overflows the queue by `OVERFLOW` messages.
const OVERFLOW_AT: u64 = 1800;
const OVERFLOW: usize = 100;
/// Growth allowed of the memory other than the take and the ring, from minute 1 to
/// minute 60 (0.1–0.5 MB measured): a leak of 2.1 KB per reload exceeds it.
const RSS_GROWTH: u64 = 2_000_000;

/// Three versions the edits cycle through: a number changed (a parameter glide), then a
/// different structure (a swap with carried state), then back.
fn version(k: u64) -> String {
    let cut = 600 + (k % 7) * 150;
    let extra = if k % 3 == 2 {
        "+ pattern(\"x(3,8)\").play(|v| noise().hpf(5000, 0.8) * perc(v.gate, 0.001, 0.04)) * 0.2"
    } else {
        ""
    };
    format!(
        "tempo(124);\n\
         let kick = pattern(\"x ~ x ~\").play(|v| sine(line(150, 45, 0.08)) * perc(v.gate, 0.001, 0.3));\n\
         let bass = pattern(\"a1 ~ c2 [e2 g2]\").play(|v| saw(v.freq).lpf({cut}, 2) * perc(v.gate, 0.005, 0.25) * 0.4);\n\
         let keys = midi_notes().voices(8)\n\
             .play(|v| saw(v.freq).lpf(cc(74).init(0.3).range(300, 5000), 0.9) * adsr(v.gate, 0.005, 0.1, 0.6, 0.2) * v.vel * 0.05);\n\
         mix([kick, bass.pan(-0.2), keys.delay(beats(0.75), 0.3)]) {extra}\n"
    )
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap()
        * 1024
}

/// The second's MIDI burst, all due within one block from `at`: 64 note-ons (even
/// seconds) or their note-offs (odd seconds), then knob moves, `n` messages in all.
fn burst(r: &mut Renderer, at: u64, second: u64, n: usize) {
    for k in 0..n {
        let msg = if k < 64 {
            let note = 36 + (k as u8 + second as u8) % 48;
            if second.is_multiple_of(2) {
                Msg::NoteOn {
                    ch: 0,
                    note,
                    vel: 100,
                }
            } else {
                Msg::NoteOff { ch: 0, note }
            }
        } else {
            Msg::Cc {
                ch: 0,
                num: 74,
                value: ((second as usize + k) % 128) as u8,
            }
        };
        r.push_midi(at + (k % 64) as u64, msg);
    }
}

#[test]
fn an_hour_with_a_thousand_reloads_and_midi_bursts() {
    let dir = TempDir::new("soak", "hour");
    let path = dir.write("soak.rhai", &version(0));
    let cfg = Config::default();
    let compiled = script::compile_file_with(&path, SR as f64, &Overrides::new())
        .unwrap_or_else(|d| panic!("{}", d.render(None)));
    let (g, meta) = graph::compile(&compiled.spec, SR as f32);
    let (control, ends) = commands::channel();
    let mut live = Live::new(
        &path,
        SR,
        control,
        (&compiled.spec, &meta),
        compiled.files.clone(),
        StemSlots::for_recording(0, true),
    );
    let mut r = Renderer::new(g, SR as f32, 0.8);
    r.attach(ends);
    let ring_frames = (RING_WALL * PACE * SR as f64) as usize;
    let (mut tap, spooler) = tap::recorder(ring_frames, 2);
    let stats = spooler.stats();
    let spool = spooler.spawn();
    // Bytes of the take in memory: what the spooler has moved out of the ring (whatever
    // is still in the ring is counted by the ring, which is all resident after one lap).
    let take_bytes = |tap: &tap::Tap| {
        let written = stats.frames_written.load(Ordering::Relaxed);
        let in_ring = (ring_frames - tap.vacant_frames()) as u64;
        written.saturating_sub(in_ring) * 8
    };

    let mut buf = vec![0.0f32; 2 * CHUNK];
    let every = HOUR / RELOADS;
    let (mut done, mut reloads, mut next_reload) = (0u64, 0u64, every / 2);
    let (mut rss_1min, mut take_1min) = (0u64, 0u64);
    let mut dropped_before_overflow = None;
    let started = Instant::now();
    let mut reload_secs = 0.0f64;
    while done < HOUR {
        let n = CHUNK.min((HOUR - done) as usize);
        // The device's pace, sped up: never ahead of PACE × real time. No waiting for room.
        let due = Duration::from_secs_f64(done as f64 / SR as f64 / PACE);
        let ahead = due.saturating_sub(started.elapsed());
        if ahead > Duration::from_millis(1) {
            std::thread::sleep(ahead);
        }
        let second = done / SR as u64;
        if done % (SR as u64) < n as u64 {
            let at = r.position();
            if second == OVERFLOW_AT {
                dropped_before_overflow = Some(r.midi_dropped());
                burst(&mut r, at, second, MIDI_PENDING + OVERFLOW);
                assert_eq!(
                    r.midi_dropped(),
                    OVERFLOW as u64,
                    "a burst of {} messages into an empty queue of {MIDI_PENDING}",
                    MIDI_PENDING + OVERFLOW
                );
            } else {
                burst(&mut r, at, second, BURST);
            }
        }
        if done >= next_reload && reloads < RELOADS {
            let t = Instant::now();
            reloads += 1;
            std::fs::write(&path, version(reloads)).unwrap();
            let log = live.reload(std::slice::from_ref(&path), &cfg, Instant::now());
            assert!(
                log.iter().all(|l| l.starts_with('✓')),
                "reload {reloads}: {log:?}"
            );
            reload_secs += t.elapsed().as_secs_f64();
            next_reload += every;
        }
        let _ = live.tick();
        let out = &mut buf[..2 * n];
        r.process(out);
        tap.push(out);
        done += n as u64;
        if done >= 60 * SR as u64 && rss_1min == 0 {
            rss_1min = rss_bytes();
            take_1min = take_bytes(&tap);
        }
    }
    let _ = live.tick();
    let rss_60min = rss_bytes();
    let take_60min = take_bytes(&tap);
    let wall = started.elapsed().as_secs_f64();
    drop(tap);
    let take = spool.stop();

    // Memory other than the take itself (the ring is in both).
    let (base_1, base_60) = (
        rss_1min.saturating_sub(take_1min),
        rss_60min.saturating_sub(take_60min),
    );
    let mb = |b: u64| b as f64 / 1e6;
    eprintln!(
        "soak: 1 h of audio in {wall:.1} s ({:.0}x real time, paced at most {PACE}x), \
         {RELOADS} reloads ({:.1} ms each), MIDI dropped {} (of which {OVERFLOW} on purpose); \
         RSS {:.1} MB at 1 min, {:.1} MB at 60 min; without the take {:.1} MB and {:.1} MB \
         (a {:.1} MB ring included); frames dropped {}",
        3600.0 / wall,
        reload_secs * 1000.0 / RELOADS as f64,
        r.midi_dropped(),
        mb(rss_1min),
        mb(rss_60min),
        mb(base_1),
        mb(base_60),
        mb(ring_frames as u64 * 8),
        take.dropped
    );
    assert_eq!(reloads, RELOADS);
    assert_eq!(
        take.dropped, 0,
        "the recorder dropped frames: the spooler fell more than {RING_WALL} s of wall time \
         behind"
    );
    assert_eq!(take.frames() as u64, HOUR, "the take is exactly one hour");
    assert!(take.samples.iter().all(|v| v.is_finite()));
    let rms = (take
        .samples
        .iter()
        .map(|v| (*v as f64).powi(2))
        .sum::<f64>()
        / take.samples.len() as f64)
        .sqrt();
    assert!(rms > 0.01, "the hour is silent (rms {rms})");
    assert_eq!(
        dropped_before_overflow,
        Some(0),
        "MIDI was dropped before the overflowing burst"
    );
    assert_eq!(
        r.midi_dropped(),
        OVERFLOW as u64,
        "MIDI was dropped besides the overflowing burst's excess"
    );
    assert!(
        base_60 < base_1 + RSS_GROWTH,
        "memory grew by {:.1} MB over the hour beside the take",
        mb(base_60) - mb(base_1)
    );
}
