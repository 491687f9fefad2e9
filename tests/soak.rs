//! A long session at full speed, offline: one hour of audio through the engine and the
//! recorder (tap, ring and spooler thread) with 1000 edits through the real reload path
//! (`Live`, as the file watcher drives it) and a burst of MIDI every second. Memory must
//! stay flat once warm (apart from the take itself, which grows by design), the recorder
//! must drop nothing, and the take must be exactly one hour.
//!
//! `cargo test --release --test soak -- --nocapture` prints the figures in docs/RECORDING.md
//! ("Long sessions").

mod common;
use common::TempDir;

use std::time::Instant;
use waves::config::Config;
use waves::engine::Renderer;
use waves::engine::commands;
use waves::graph;
use waves::live::Live;
use waves::midi::Msg;
use waves::record::stems::StemSlots;
use waves::record::tap;
use waves::script::{self, Overrides};

const SR: u32 = 48_000;
const HOUR: u64 = 3600 * SR as u64;
const RELOADS: u64 = 1000;

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
    let (mut tap, spooler) = tap::recorder(4 * SR as usize, 2);
    let stats = spooler.stats();
    let spool = spooler.spawn();

    let chunk = 1024usize;
    let mut buf = vec![0.0f32; 2 * chunk];
    let every = HOUR / RELOADS;
    let (mut done, mut reloads, mut next_reload) = (0u64, 0u64, every / 2);
    let (mut rss_1min, mut take_1min) = (0u64, 0u64);
    let started = Instant::now();
    let mut reload_secs = 0.0f64;
    while done < HOUR {
        let n = chunk.min((HOUR - done) as usize);
        // At full speed the spooler must keep up; real time would pace it.
        while tap.vacant_frames() < n {
            std::thread::yield_now();
        }
        let second = done / SR as u64;
        if done % (SR as u64) < n as u64 {
            let at = r.position();
            let burst = second.is_multiple_of(2);
            for k in 0..64u8 {
                let note = 36 + (k + second as u8) % 48;
                let msg = if burst {
                    Msg::NoteOn {
                        ch: 0,
                        note,
                        vel: 100,
                    }
                } else {
                    Msg::NoteOff { ch: 0, note }
                };
                r.push_midi(at + k as u64, msg);
            }
            r.push_midi(
                at,
                Msg::Cc {
                    ch: 0,
                    num: 74,
                    value: (second % 128) as u8,
                },
            );
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
            take_1min = stats
                .frames_written
                .load(std::sync::atomic::Ordering::Relaxed)
                * 8;
        }
    }
    let _ = live.tick();
    let rss_60min = rss_bytes();
    let take_60min = stats
        .frames_written
        .load(std::sync::atomic::Ordering::Relaxed)
        * 8;
    let wall = started.elapsed().as_secs_f64();
    drop(tap);
    let take = spool.stop();

    assert_eq!(reloads, RELOADS);
    assert_eq!(take.dropped, 0, "the recorder dropped frames");
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
    // Memory other than the take itself.
    let (base_1, base_60) = (
        rss_1min.saturating_sub(take_1min),
        rss_60min.saturating_sub(take_60min),
    );
    let mb = |b: u64| b as f64 / 1e6;
    eprintln!(
        "soak: 1 h of audio in {wall:.1} s ({:.0}x real time), {RELOADS} reloads ({:.1} ms each), \
         MIDI dropped {}; RSS {:.1} MB at 1 min, {:.1} MB at 60 min; without the take {:.1} MB \
         and {:.1} MB; frames dropped {}",
        3600.0 / wall,
        reload_secs * 1000.0 / RELOADS as f64,
        r.midi_dropped(),
        mb(rss_1min),
        mb(rss_60min),
        mb(base_1),
        mb(base_60),
        take.dropped
    );
    assert_eq!(r.midi_dropped(), 0);
    assert!(
        base_60 < base_1 + 32_000_000,
        "memory grew by {:.1} MB over the hour beside the take",
        mb(base_60) - mb(base_1)
    );
}
