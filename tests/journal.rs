//! Crash-safe takes end to end, as a user: `waves play SCRIPT --record` through the real
//! audio path (a PulseAudio null sink from `.ci/with-audio`) is killed with SIGKILL, which
//! leaves no WAV but a journal; the next `waves play` notes it; `waves recover` turns it into
//! the mix and its stems, equal to an offline render sample for sample. A clean Ctrl-C
//! leaves no journal.
//!
//! Run with `.ci/with-audio env WAVES_REQUIRE_AUDIO=1 cargo test --release --test journal`.
//! Without a server the tests are skipped, unless `WAVES_REQUIRE_AUDIO` is set, when they
//! fail. Each test works in its own temporary folder.

mod common;
use common::audio_or_skip;
use common::process::{Running, SR, Work, read_wav};
use std::path::Path;
use std::time::Duration;

const CONFIG: &str =
    "let output_dir = \"output\";\nlet master_gain = 1.0;\nlet release_tail = 0.0;\n";
/// Two tracks (so the take carries stems), no duration: it plays until stopped.
const SCRIPT: &str = "mix([sine(220).track(\"tone\") * 0.5, saw(110).track(\"buzz\") * 0.2])\n";
const JOURNAL: &str = "output/.realtime_recording.journal";

fn files(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    n.sort();
    n
}

/// Where a journal's frames start and how many bytes each takes, from its header.
fn journal_layout(path: &Path) -> (u64, u64) {
    use std::io::Read;
    let mut head = vec![0u8; waves::record::journal::HEADER_LEN];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (header, at) = waves::record::journal::Header::decode(&head)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (at as u64, 4 * u64::from(header.channels))
}

/// Whole frames in a journal so far.
fn journal_frames(path: &Path, (at, width): (u64, u64)) -> u64 {
    let len = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len();
    len.saturating_sub(at) / width
}

/// Asserts `got` equals the first frames of `want` within 1e-6 (interleaved, same width).
fn assert_same(what: &str, got: &[f32], want: &[f32]) {
    assert!(
        want.len() >= got.len(),
        "{what}: the offline render is shorter"
    );
    if let Some(k) = got.iter().zip(want).position(|(a, b)| (a - b).abs() > 1e-6) {
        panic!(
            "{what} differs from the offline render at sample {k} (frame {}): {} vs {}",
            k / 2,
            got[k],
            want[k]
        );
    }
}

#[test]
fn a_killed_take_is_recovered_equal_to_an_offline_render() {
    if !audio_or_skip() {
        return;
    }
    let w = Work::new("journal", "kill", CONFIG);
    w.dir.write("t.rhai", SCRIPT);
    let mut run = w.play("t.rhai", &[]);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        w.path(JOURNAL).exists(),
        "no journal while recording: {:?}",
        files(&w.path("output"))
    );
    // What the process has spooled, as it goes: (seconds since spawn, frames in the
    // journal), read for the last half second before the kill.
    let layout = journal_layout(&w.path(JOURNAL));
    let mut spooled = Vec::new();
    let until = run.now() + 0.5;
    while run.now() < until {
        spooled.push((run.now(), journal_frames(&w.path(JOURNAL), layout)));
        std::thread::sleep(Duration::from_millis(1));
    }
    spooled.push((run.now(), journal_frames(&w.path(JOURNAL), layout)));
    let killed = run.now();
    // SIGKILL (what `Child::kill` sends on Unix), straight from here: no process to spawn
    // between the last look at the journal and the signal.
    run.child.kill().expect("SIGKILL");
    let out = run.finish(Duration::from_secs(10));
    assert_eq!(out.status.code(), None, "killed\n{}", out.describe());
    let left = files(&w.path("output"));
    assert!(
        !left.iter().any(|f| f.ends_with(".wav")),
        "a killed take saves no WAV: {left:?}"
    );
    assert!(w.path(JOURNAL).exists(), "the journal is gone: {left:?}");

    // The next take says the journal is there, and cleans up its own.
    let next = Running::watch(
        w.command(&[
            "play",
            "t.rhai",
            "--record",
            "--output",
            "next.wav",
            "--duration",
            "0.3",
        ])
        .spawn()
        .expect("spawn waves"),
    )
    .finish(Duration::from_secs(20));
    assert!(next.status.success(), "{}", next.describe());
    assert!(
        next.stderr.contains(
            "note: an unfinished take is in output/.realtime_recording.journal; `waves recover` saves it"
        ),
        "{}",
        next.describe()
    );
    let mut want_left = vec![
        ".realtime_recording.journal",
        "next.wav",
        "next__buzz.wav",
        "next__tone.wav",
    ];
    assert_eq!(files(&w.path("output")), want_left);

    // waves recover: the mix and both stems, the journal removed.
    let rec = Running::watch(w.command(&["recover"]).spawn().expect("spawn waves"))
        .finish(Duration::from_secs(30));
    assert!(rec.status.success(), "{}", rec.describe());
    let line = rec
        .line("Recovered: output/realtime_recording.wav (")
        .unwrap_or_else(|| panic!("no Recovered line\n{}", rec.describe()));
    assert!(line.ends_with(" seconds)"), "{line}");
    for stem in ["tone", "buzz"] {
        assert!(
            rec.line(&format!(
                "Recovered: output/realtime_recording__{stem}.wav ("
            ))
            .is_some(),
            "{}",
            rec.describe()
        );
    }
    want_left.remove(0);
    want_left.extend([
        "realtime_recording.wav",
        "realtime_recording__buzz.wav",
        "realtime_recording__tone.wav",
    ]);
    want_left.sort();
    assert_eq!(files(&w.path("output")), want_left);

    let (channels, mix) = read_wav(&w.path("output/realtime_recording.wav"));
    assert_eq!(channels, 2);
    let frames = mix.len() / 2;
    let secs = frames as f64 / SR as f64;
    // Everything that reached the journal is recovered, and no more than the process could
    // have spooled between the last look and the kill (what it played meanwhile and what
    // was in its ring then, under the 100 ms bound below).
    let &(last_at, last) = spooled.last().unwrap();
    let spool_max = last + ((killed - last_at + 0.1) * SR as f64) as u64;
    assert!(
        (last..=spool_max).contains(&(frames as u64)),
        "recovered {frames} frames; the journal held {last} just before the kill"
    );
    // What was lost is what had been played but not spooled: the ring's last few
    // milliseconds. The journal keeps pace with the device clock, so its most recent point
    // projected to the moment of the kill (its lead over the wall clock at its freshest,
    // plus the time since) counts what had been played by then, to within the device's
    // buffering.
    let lead = spooled
        .iter()
        .map(|&(t, f)| f as f64 - t * SR as f64)
        .fold(f64::MIN, f64::max);
    let behind_ms = |t: f64, f: f64| (lead + t * SR as f64 - f) / SR as f64 * 1000.0;
    let lost_ms = behind_ms(killed, frames as f64);
    // A kill at any other moment of the window would have lost as much as the journal was
    // behind then.
    let worst_ms = spooled
        .iter()
        .map(|&(t, f)| behind_ms(t, f as f64))
        .fold(0.0, f64::max);
    eprintln!(
        "lost {lost_ms:.1} ms of the take to SIGKILL; the journal was at most {worst_ms:.1} ms \
         behind in the half second before"
    );
    // Generous for a loaded machine (a late device callback counts too); a spooler that
    // wrote the journal only at its half-second syncs would be hundreds of ms behind.
    for (what, ms) in [("lost", lost_ms), ("the journal was behind by", worst_ms)] {
        assert!(
            ms < 100.0,
            "{what} {ms:.1} ms: recovered {frames} frames, the journal grew to {last} frames \
             {:.1} ms before the kill",
            (killed - last_at) * 1000.0
        );
    }
    let peak = mix.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(
        peak > 0.5,
        "the recovered mix is nearly silent (peak {peak})"
    );
    assert!(
        line.contains(&format!("({secs:.2} seconds)")),
        "{line} but the file holds {secs:.3} s"
    );

    let dur = format!("{:.6}", secs + 0.05);
    let render = Running::watch(
        w.command(&[
            "render",
            "t.rhai",
            "--duration",
            &dur,
            "-o",
            "reference.wav",
        ])
        .spawn()
        .expect("spawn waves render"),
    )
    .finish(Duration::from_secs(60));
    assert!(render.status.success(), "{}", render.describe());
    let (_, reference) = read_wav(&w.path("reference.wav"));
    assert_same("the recovered mix", &mix, &reference);
    let (_, tone) = read_wav(&w.path("output/realtime_recording__tone.wav"));
    let (_, tone_ref) = read_wav(&w.path("reference__tone.wav"));
    assert_eq!(tone.len(), mix.len(), "stems are as long as the mix");
    assert_same("the recovered tone stem", &tone, &tone_ref);

    // Nothing left to recover.
    let again = Running::watch(w.command(&["recover"]).spawn().expect("spawn waves"))
        .finish(Duration::from_secs(10));
    assert!(again.status.success(), "{}", again.describe());
    assert!(
        again.stdout.contains("No unfinished takes in output"),
        "{}",
        again.describe()
    );
}

#[test]
fn a_clean_ctrl_c_leaves_no_journal() {
    if !audio_or_skip() {
        return;
    }
    let w = Work::new("journal", "sigint", CONFIG);
    w.dir.write("t.rhai", SCRIPT);
    let run = w.play("t.rhai", &[]);
    std::thread::sleep(Duration::from_secs(1));
    assert!(w.path(JOURNAL).exists(), "no journal while recording");
    run.interrupt();
    let out = run.finish(Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", out.describe());
    assert!(
        out.line("Recording saved: output/realtime_recording.wav")
            .is_some(),
        "{}",
        out.describe()
    );
    assert!(
        !out.stderr.contains("unfinished take"),
        "{}",
        out.describe()
    );
    assert_eq!(
        files(&w.path("output")),
        [
            "realtime_recording.wav",
            "realtime_recording__buzz.wav",
            "realtime_recording__tone.wav"
        ]
    );
}
