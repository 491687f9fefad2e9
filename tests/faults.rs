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
    let rescue = std::env::temp_dir().join("waves-rescue");
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
