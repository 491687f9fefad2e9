//! Faults while playing, as a user would meet them: the audio server dying mid-take, a
//! panic in the control loop or on another thread, an output folder that cannot be made, a
//! disk that fills up. In each case waves stops cleanly and the take is saved — in
//! `output_dir`, or in the rescue folder when that cannot hold it.
//!
//! Real parts: a private PulseAudio server of the test's own (`.ci/pulse`, stopped under
//! waves' feet), a tmpfs of a few kilobytes in a private mount namespace (`unshare -m` as
//! root, `unshare -r -m` otherwise).

mod common;
use common::audio_or_skip;
use common::process::{Running, Work, read_wav};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use waves::record::journal::Header;

const SR: f64 = 48_000.0;

fn work(test: &str, extra: &str) -> Work {
    Work::new(
        "faults",
        test,
        &format!(
            "let output_dir = \"output\";\nlet release_tail = 0.0;\nlet midi_input = \"none\";\n{extra}\n"
        ),
    )
}

fn secs(path: &Path) -> f64 {
    let (ch, s) = read_wav(path);
    s.len() as f64 / ch as f64 / SR
}

/// The path of the `Recording saved: PATH (S seconds)` line.
fn saved(stdout: &str) -> PathBuf {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Recording saved: "))
        .unwrap_or_else(|| panic!("no `Recording saved` line:\n{stdout}"));
    PathBuf::from(line.rsplit_once(" (").map_or(line, |(p, _)| p))
}

#[test]
fn the_audio_server_dying_mid_take_still_saves_it() {
    if !audio_or_skip() {
        return;
    }
    let w = work("server-dies", "");
    w.dir.write("t.rhai", "sine(220) * 0.3");
    let pulse_dir = w.path("pulse");
    let pulse = |what: &str| {
        let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/pulse"))
            .arg(what)
            .env("WAVES_PULSE_DIR", &pulse_dir)
            .output()
            .expect("run .ci/pulse");
        assert!(out.status.success(), ".ci/pulse {what}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let server = pulse("start");
    let server = server
        .strip_prefix("PULSE_SERVER=")
        .expect("a server line")
        .to_string();
    let mut c = w.command(&["play", "t.rhai", "--record"]);
    c.env("PULSE_SERVER", &server)
        .env("PULSE_COOKIE", pulse_dir.join("cookie"));
    let mut run = Running::watch(c.spawn().expect("spawn waves"));
    run.wait_for("Playing ");
    // Kill the server once 1.5 s of audio are in the take (its crash journal says so).
    let journal = w.path("output/.realtime_recording.journal");
    let mut recorded = 0.0;
    while recorded < 1.5 {
        assert!(
            run.now() < 30.0,
            "the journal holds {recorded:.2} s after 30 s\n{}",
            run.stderr_so_far()
        );
        std::thread::sleep(Duration::from_millis(20));
        recorded = journal_secs(&journal);
    }
    pulse("stop");
    let out = run.finish(Duration::from_secs(20));
    assert!(out.status.success(), "{}", out.describe());
    assert!(out.stderr.contains("audio device"), "{}", out.describe());
    let path = w.path(&saved(&out.stdout).to_string_lossy());
    let s = secs(&path);
    // All that was recorded before the server died, and no more than the device could
    // have played since waves started.
    assert!(
        s >= recorded && s <= out.wall * 1.15,
        "{s} s saved; {recorded:.2} s were recorded when the server was stopped, {:.2} s \
         after waves started\n{}",
        out.wall,
        out.describe()
    );
}

/// Seconds of audio in the crash journal at `path` so far (0 while it is not there yet).
fn journal_secs(path: &Path) -> f64 {
    let Ok(bytes) = std::fs::read(path) else {
        return 0.0;
    };
    match Header::decode(&bytes) {
        Ok((h, at)) => {
            let frames = (bytes.len() - at) / (4 * h.channels as usize);
            frames as f64 / f64::from(h.sample_rate)
        }
        // The header is being written.
        Err(_) => 0.0,
    }
}

fn panics_still_save(fault: &str) {
    if !audio_or_skip() {
        return;
    }
    let w = work(fault, "");
    w.dir.write("t.rhai", "sine(220) * 0.3");
    let mut c = w.command(&["play", "t.rhai", "--record"]);
    c.env("WAVES_FAULT", fault);
    let run = Running::watch(c.spawn().expect("spawn waves"));
    let out = run.finish(Duration::from_secs(20));
    assert!(
        out.stderr.contains(&format!("injected fault: {fault}")),
        "{}",
        out.describe()
    );
    // The fault comes a second of wall time after playing starts; a busy machine may have
    // played less by then. What matters is that the take is saved, with what was played.
    let path = w.path(&saved(&out.stdout).to_string_lossy());
    assert!(secs(&path) >= 0.5, "{}", out.describe());
}

#[test]
fn a_panic_in_the_control_loop_still_saves_the_take() {
    panics_still_save("panic-control");
}

#[test]
fn a_panic_on_another_thread_still_saves_the_take() {
    panics_still_save("panic-thread");
}

/// Plays `t.rhai` for about a second with `config`, stops it with SIGINT, and returns the
/// outcome; the recording is named `name`.
fn take_with(w: &Work, prefix: &[&str]) -> common::process::Outcome {
    let waves = env!("CARGO_BIN_EXE_waves");
    let mut args: Vec<&str> = prefix.to_vec();
    args.extend([waves, "play", "t.rhai", "--record"]);
    let mut c = Command::new(args[0]);
    c.args(&args[1..])
        .current_dir(&w.dir.0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut run = Running::watch(c.spawn().expect("spawn waves"));
    run.wait_for("Playing ");
    std::thread::sleep(Duration::from_millis(1200));
    run.interrupt();
    run.finish(Duration::from_secs(20))
}

fn expect_rescued(out: &common::process::Outcome, name: &str) {
    assert!(out.status.success(), "{}", out.describe());
    assert!(
        out.stderr.contains("the take is still in memory"),
        "{}",
        out.describe()
    );
    let path = saved(&out.stdout);
    let rescue = waves::record::save::rescue_dir();
    assert!(path.starts_with(&rescue), "saved in {}", path.display());
    assert!(
        path.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(name),
        "{}",
        path.display()
    );
    assert!(secs(&path) >= 1.0, "{}", out.describe());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn an_output_folder_that_cannot_be_made_sends_the_take_to_the_rescue_folder() {
    if !audio_or_skip() {
        return;
    }
    let name = format!("blocked-{}", std::process::id());
    let w = work(
        "blocked",
        &format!("let output_dir = \"blocker/out\";\nlet recording_filename = \"{name}.wav\";"),
    );
    w.dir.write("t.rhai", "sine(220) * 0.3");
    w.dir.write("blocker", "a file where the folder should be");
    expect_rescued(&take_with(&w, &[]), &name);
}

/// How to run a command in a private mount namespace where it can mount a tmpfs: as root
/// `unshare -m`; as any other user `unshare -r -m` (inside a user namespace of its own,
/// where the user counts as root). Tried by mounting one on `dir`; the error says why
/// neither works here (no user namespaces for a user who is not root, or a container that
/// forbids both).
fn private_mounts(dir: &Path) -> Result<&'static [&'static str], String> {
    let mut why = Vec::new();
    for prefix in [&["unshare", "-m"][..], &["unshare", "-r", "-m"]] {
        let probe = Command::new(prefix[0])
            .args(&prefix[1..])
            .args(["sh", "-c", "mount -t tmpfs -o size=4k tmpfs \"$0\""])
            .arg(dir)
            .output();
        match probe {
            Ok(o) if o.status.success() => return Ok(prefix),
            Ok(o) => why.push(format!(
                "`{}`: {}",
                prefix.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => why.push(format!("`{}`: {e}", prefix.join(" "))),
        }
    }
    Err(why.join("; "))
}

#[test]
fn a_full_disk_sends_the_take_to_the_rescue_folder() {
    if !audio_or_skip() {
        return;
    }
    let name = format!("full-{}", std::process::id());
    let w = work("full", &format!("let recording_filename = \"{name}.wav\";"));
    w.dir.write("t.rhai", "sine(220) * 0.3");
    std::fs::create_dir_all(w.path("output")).unwrap();
    let unshare = match private_mounts(&w.path("output")) {
        Ok(prefix) => prefix,
        // CI must run this test: a skip there would pass without checking anything.
        Err(why) if std::env::var_os("WAVES_REQUIRE_AUDIO").is_some() => panic!(
            "WAVES_REQUIRE_AUDIO is set but no tmpfs can be mounted in a private mount \
             namespace here: {why}"
        ),
        Err(why) => {
            eprintln!("skipped: cannot mount a tmpfs in a private mount namespace here: {why}");
            return;
        }
    };
    // A 64 KiB disk for `output` (a 1.2 s take needs 460 KB), seen by waves alone.
    let mut prefix = unshare.to_vec();
    prefix.extend([
        "sh",
        "-c",
        "mount -t tmpfs -o size=64k tmpfs output && exec \"$@\"",
        "sh",
    ]);
    let out = take_with(&w, &prefix);
    assert!(out.stderr.contains("No space left"), "{}", out.describe());
    expect_rescued(&out, &name);
    assert!(
        std::fs::read_dir(w.path("output"))
            .unwrap()
            .next()
            .is_none(),
        "the full disk's folder is left as it was (nothing half-written)"
    );
}

/// A render longer than one WAV file continues in numbered parts, nothing lost; the limit
/// is lowered to 1000 frames instead of writing 4 GiB.
#[test]
fn a_render_too_long_for_one_wav_continues_in_parts() {
    use waves::render::{RenderOptions, render};
    let w = work("render-parts", "");
    w.dir.write("t.rhai", "saw(110) * 0.3");
    let spec = waves::script::compile_file(&w.path("t.rhai"), SR)
        .unwrap_or_else(|d| panic!("{}", d.render(None)))
        .spec;
    let opts = |part_frames| RenderOptions {
        sample_rate: SR as u32,
        master_gain: 0.8,
        seconds: 2500.0 / SR,
        format: waves::record::wav::Format::F32,
        progress: false,
        threads: 1,
        split: None,
        part_frames,
        stop: None,
    };
    let graph = || waves::graph::compile(&spec, SR as f32).0;
    let whole = w.path("whole.wav");
    render(graph(), None, &[], &whole, &opts(None)).expect("render");
    let split = w.path("split.wav");
    let report = render(graph(), None, &[], &split, &opts(Some(1000))).expect("render");
    assert_eq!(
        report.parts,
        [w.path("split.part2.wav"), w.path("split.part3.wav")]
    );
    let mut all = Vec::new();
    for p in [&split, &report.parts[0], &report.parts[1]] {
        all.extend(read_wav(p).1);
    }
    assert_eq!(read_wav(&split).1.len(), 2000);
    assert_eq!(
        all,
        read_wav(&whole).1,
        "the parts hold the render, in order"
    );
}

/// Hidden files (private names being written) left in `dir`.
fn hidden(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn ctrl_c_during_a_render_leaves_a_whole_wav_of_what_was_rendered() {
    let w = work("render-sigint", "");
    w.dir.write("t.rhai", "saw(110) * 0.3");
    let run = Running::watch(
        w.command(&["render", "t.rhai", "--duration", "3000", "-o", "out/r.wav"])
            .spawn()
            .expect("spawn waves"),
    );
    // Interrupt once it has written something.
    while !std::fs::read_dir(w.path("out")).is_ok_and(|mut d| d.next().is_some()) {
        assert!(run.now() < 30.0, "{}", run.stderr_so_far());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    run.interrupt();
    let out = run.finish(Duration::from_secs(20));
    assert!(!out.status.success(), "{}", out.describe());
    assert!(
        out.stderr.contains("stopped by Ctrl-C") && out.stderr.contains("a complete WAV"),
        "{}",
        out.describe()
    );
    let s = secs(&w.path("out/r.wav"));
    assert!(s > 0.0 && s < 3000.0, "{s} s\n{}", out.describe());
    assert_eq!(hidden(&w.path("out")), Vec::<String>::new());
}

#[test]
fn a_render_larger_than_the_free_space_is_refused_before_it_starts() {
    let w = work("render-space", "");
    // A day of stereo float is 33 GB a file; with twelve stems, 430 GB.
    let tracks: Vec<String> = (0..12)
        .map(|k| format!("sine({}).track(\"t{k}\")", 100 + k))
        .collect();
    w.dir
        .write("t.rhai", &format!("mix([{}])", tracks.join(", ")));
    let out = w.run(
        &["render", "t.rhai", "--duration", "86400", "-o", "out/r.wav"],
        Duration::from_secs(20),
    );
    assert!(!out.status.success(), "{}", out.describe());
    assert!(
        out.stderr.contains("not enough space in out"),
        "{}",
        out.describe()
    );
    assert!(out.wall < 10.0, "{}", out.describe());
    assert!(std::fs::read_dir(w.path("out")).unwrap().next().is_none());
}

#[test]
fn a_recording_name_too_long_for_the_disk_is_refused_before_playing() {
    if !audio_or_skip() {
        return;
    }
    let w = work("long-name", "");
    w.dir.write("t.rhai", "sine(220) * 0.3");
    let name = "n".repeat(250);
    let out = w.run(
        &["play", "t.rhai", "--record", "--output", &name],
        Duration::from_secs(20),
    );
    assert!(!out.status.success(), "{}", out.describe());
    assert!(out.stderr.contains("too long"), "{}", out.describe());
    assert!(!out.stderr.contains("Playing "), "{}", out.describe());
}
