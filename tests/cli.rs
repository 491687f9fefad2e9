//! The command line as a newcomer meets it: mistyped commands, the short help, examples,
//! completions, each command's own flags, a device or a file format that cannot be had,
//! plurals, colours, the progress bar, and the status line after a fixed error. The real
//! binary runs; terminals are util-linux's `script`. The status line test plays through the
//! PulseAudio server of `.ci/with-audio` (skipped without one unless `WAVES_REQUIRE_AUDIO`
//! is set).

mod common;
use common::{TempDir, audio_or_skip};

use std::path::Path;
use std::process::{Command, Output, Stdio};

const WAVES: &str = env!("CARGO_BIN_EXE_waves");

fn waves(dir: &Path, args: &[&str]) -> Output {
    Command::new(WAVES)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("NO_COLOR")
        .output()
        .expect("run waves")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs `cmd` (a shell command line) in a pseudo-terminal; returns what it wrote there,
/// with the escapes that move the cursor or colour the text removed, and whether it
/// succeeded.
fn in_terminal(dir: &Path, cmd: &str, envs: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new("timeout")
        .args(["120", "script", "-qec", cmd, "/dev/null"])
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run script(1) from util-linux");
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), strip_escapes(&raw), raw)
}

fn strip_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

fn dir_with_tone(test: &str) -> TempDir {
    let dir = TempDir::new("cli", test);
    dir.write("tone.rhai", "// A quiet tone.\nsine(440) * 0.2\n");
    dir
}

#[test]
fn a_mistyped_command_is_answered_as_one() {
    let dir = dir_with_tone("typo");
    for (typed, meant) in [
        ("rendr", "render"),
        ("chekc", "check"),
        ("devics", "devices"),
    ] {
        let o = waves(&dir.0, &[typed, "tone.rhai"]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{typed}: {out}{err}");
        assert!(
            err.contains(&format!("did you mean `waves {meant}`?")),
            "{typed}: {err}"
        );
    }
    let o = waves(&dir.0, &["zzzzzz"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("commands: play, render"), "{err}");
    // A script of that name still plays: nothing is taken for a command that exists.
    assert!(!dir.0.join("output").exists());
}

#[test]
fn completions_are_printed_for_each_shell() {
    let dir = dir_with_tone("completions");
    for (shell, marker) in [
        ("bash", "_waves()"),
        ("zsh", "#compdef waves"),
        ("fish", "complete -c waves"),
    ] {
        let o = waves(&dir.0, &["completions", shell]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{shell}: {err}");
        assert!(
            out.contains(marker),
            "{shell}: {}",
            &out[..out.len().min(300)]
        );
        assert!(
            out.contains("render") && out.contains("--record"),
            "{shell}"
        );
    }
    let o = waves(&dir.0, &["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn waves_alone_shows_where_to_start() {
    let dir = dir_with_tone("alone");
    let o = waves(&dir.0, &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(err.contains("waves scripts/tour.rhai"), "{err}");
    assert!(
        err.contains("waves examples") && err.contains("waves render"),
        "{err}"
    );
    assert!(err.lines().count() <= 12, "a short help:\n{err}");
}

#[test]
fn examples_lists_every_script_with_its_first_comment() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = waves(repo, &["examples"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let scripts: Vec<_> = std::fs::read_dir(repo.join("scripts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    for s in &scripts {
        let name = s.file_name().unwrap().to_string_lossy().to_string();
        let line = out
            .lines()
            .find(|l| l.contains(&format!("scripts/{name}")))
            .unwrap_or_else(|| panic!("{name} is not listed:\n{out}"));
        let first = std::fs::read_to_string(s).unwrap();
        let comment = first
            .lines()
            .find_map(|l| l.trim().strip_prefix("//"))
            .unwrap()
            .trim()
            .to_string();
        let tail = comment.rsplit(" — ").next().unwrap();
        assert!(line.contains(tail), "{name}: {line:?} lacks {tail:?}");
    }
    assert!(out.contains("play one: waves"), "{out}");
    // Run from another folder, it finds the examples where waves was built.
    let elsewhere = dir_with_tone("examples");
    let o = waves(&elsewhere.0, &["examples"]);
    assert!(text(&o).0.contains("tour.rhai"), "{:?}", text(&o));
}

#[test]
fn each_command_takes_only_its_own_flags() {
    let dir = dir_with_tone("flags");
    for args in [
        &["render", "tone.rhai", "--record"][..],
        &["render", "tone.rhai", "--scope"],
        &["render", "tone.rhai", "--device", "x"],
        &["render", "tone.rhai", "--midi", "none"],
        &["check", "tone.rhai", "--duration", "3"],
        &["check", "tone.rhai", "--record"],
        &["recover", "--record"],
        &["reference", "--scope"],
    ] {
        let o = waves(&dir.0, args);
        let (out, err) = text(&o);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?} was accepted: {out}{err}"
        );
        assert!(err.contains("unexpected argument"), "{args:?}: {err}");
    }
    let help = |cmd: &str| text(&waves(&dir.0, &[cmd, "--help"])).0;
    let render = help("render");
    assert!(
        !render.contains("--record") && !render.contains("--scope"),
        "{render}"
    );
    assert!(
        render.contains("--duration") && render.contains("--set"),
        "{render}"
    );
    let play = help("play");
    for flag in ["--record", "--device", "--scope", "--midi", "--duration"] {
        assert!(play.contains(flag), "play --help lacks {flag}:\n{play}");
    }
    // What a command does take still works.
    let o = waves(
        &dir.0,
        &[
            "render",
            "tone.rhai",
            "--duration",
            "0.5",
            "-o",
            "t.wav",
            "--sample-rate",
            "44100",
        ],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(dir.0.join("t.wav").exists());
}

#[test]
fn a_named_device_or_host_that_is_not_there_fails_and_writes_nothing() {
    let dir = dir_with_tone("device");
    for args in [
        &[
            "tone.rhai",
            "--device",
            "no-such-device-anywhere",
            "--duration",
            "1",
        ][..],
        &["tone.rhai", "--host", "no-such-host", "--duration", "1"],
    ] {
        let o = waves(&dir.0, args);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {out}{err}");
        assert!(err.contains("waves devices"), "{args:?}: {err}");
        assert!(
            err.contains("no output device matches") || err.contains("no audio host"),
            "{args:?}: {err}"
        );
        assert!(
            !out.contains("Rendered") && !dir.0.join("output").exists(),
            "{args:?}: {out}"
        );
    }
}

#[test]
fn other_audio_formats_are_refused_before_anything_is_written() {
    let dir = dir_with_tone("formats");
    let o = waves(&dir.0, &["render", "tone.rhai", "-o", "take.mp3"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("WAV files only, not .mp3"), "{err}");
    let o = waves(
        &dir.0,
        &["tone.rhai", "--output", "take.FLAC", "--duration", "1"],
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("not .flac"), "{err}");
    dir.write("bad.rhai", "let recording_filename = \"take.ogg\";\n");
    let o = waves(
        &dir.0,
        &["tone.rhai", "--config", "bad.rhai", "--duration", "1"],
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bad.rhai:1:") && err.contains("WAV files only"),
        "{err}"
    );
    let written: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| !n.ends_with(".rhai"))
        .collect();
    assert!(written.is_empty(), "{written:?}");
}

#[test]
fn a_render_never_replaces_a_file_unless_named_with_o() {
    let dir = dir_with_tone("no_replace");
    // A take saved earlier under the script's name, as `recording_filename = "tone.wav"` makes.
    std::fs::create_dir_all(dir.0.join("output")).unwrap();
    dir.write("output/tone.wav", "a take that must survive");
    let o = waves(&dir.0, &["render", "tone.rhai", "--duration", "0.1"]);
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("Rendered output/tone_2.wav"), "{err}");
    let o = waves(&dir.0, &["render", "tone.rhai", "--duration", "0.1"]);
    assert!(
        text(&o).1.contains("Rendered output/tone_3.wav"),
        "{}",
        text(&o).1
    );
    let kept = std::fs::read_to_string(dir.0.join("output/tone.wav")).unwrap();
    assert_eq!(kept, "a take that must survive");
    // A name given with -o is written in place, as asked.
    for _ in 0..2 {
        let o = waves(
            &dir.0,
            &["render", "tone.rhai", "-o", "mine.wav", "--duration", "0.1"],
        );
        assert!(text(&o).1.contains("Rendered mine.wav"), "{}", text(&o).1);
    }
    assert!(!dir.0.join("mine_2.wav").exists());
}

#[test]
fn counts_read_as_english() {
    let dir = dir_with_tone("plural");
    let o = waves(
        &dir.0,
        &["render", "tone.rhai", "--duration", "0.2", "-o", "t.wav"],
    );
    let (out, _) = text(&o);
    assert!(out.contains(", 0 samples clipped"), "{out}");
    // One sample over full scale: `metro` is a one-sample trigger, once in 0.1 s, and
    // panned hard left it is in one channel only.
    dir.write(
        "one.rhai",
        "tempo(60);\nduration(0.1);\n(metro(1) * 2).pan(-1)\n",
    );
    let o = waves(&dir.0, &["render", "one.rhai", "-o", "one.wav"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains(", 1 sample clipped"), "{out}");
}

#[test]
fn the_tour_does_not_clip_before_or_after_step_2() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = TempDir::new("cli", "tour");
    let tour = std::fs::read_to_string(repo.join("scripts/tour.rhai")).unwrap();
    for f in ["drums.rhai", "bass.rhai", "keys.rhai"] {
        if let Ok(t) = std::fs::read_to_string(repo.join("scripts/patches").join(f)) {
            dir.write(&format!("patches/{f}"), &t);
        }
    }
    assert!(
        tour.contains("pattern(\"x ~ x ~\")"),
        "step 2 of the tour changed"
    );
    for (name, source) in [
        ("tour.rhai", tour.clone()),
        (
            "step2.rhai",
            tour.replace("pattern(\"x ~ x ~\")", "pattern(\"x x x x\")"),
        ),
    ] {
        let file = dir.write(name, &source);
        let wav = dir.0.join(format!("{name}.wav"));
        // From the repository, as the README runs it: its config.rhai applies.
        let o = waves(
            repo,
            &[
                "render",
                file.to_str().unwrap(),
                "--duration",
                "16",
                "-o",
                wav.to_str().unwrap(),
            ],
        );
        let (out, err) = text(&o);
        assert!(o.status.success(), "{name}: {err}");
        assert!(out.contains(", 0 samples clipped"), "{name}: {out}");
    }
}

#[test]
fn colours_only_on_a_terminal_and_never_with_no_color() {
    let dir = dir_with_tone("colour");
    dir.write("broken.rhai", "sine(440) *\n");
    let cmd = format!("exec '{WAVES}' check broken.rhai");
    let (_, plain, raw) = in_terminal(&dir.0, &cmd, &[]);
    assert!(plain.contains("error"), "{plain}");
    assert!(
        raw.contains("\x1b[1;31merror\x1b[0m"),
        "no colour on a terminal: {raw:?}"
    );
    let (_, _, raw) = in_terminal(&dir.0, &cmd, &[("NO_COLOR", "1")]);
    assert!(!raw.contains('\x1b'), "NO_COLOR=1 still coloured: {raw:?}");
    let o = waves(&dir.0, &["check", "broken.rhai"]);
    let (_, err) = text(&o);
    assert!(
        err.contains("error") && !err.contains('\x1b'),
        "piped: {err:?}"
    );
}

#[test]
fn a_terminal_render_shows_the_time_left() {
    let dir = dir_with_tone("progress");
    dir.write(
        "long.rhai",
        "let v = []; for i in 0..64 { v.push(saw(100 + i * 7) * 0.01); }\nmix(v)\n",
    );
    let cmd = format!("exec '{WAVES}' render long.rhai --duration 300 --threads 1 -o long.wav");
    let (ok, plain, _) = in_terminal(&dir.0, &cmd, &[]);
    assert!(ok, "{plain}");
    assert!(
        plain
            .split(['\r', '\n'])
            .any(|l| l.contains('%') && l.trim_end().ends_with("left")),
        "no progress line with the time left:\n{plain}"
    );
    assert!(plain.contains("Rendered "), "{plain}");
}

#[test]
fn a_fixed_error_leaves_the_status_line() {
    if !audio_or_skip() {
        return;
    }
    let dir = TempDir::new("cli", "status");
    let good = "sine(330) * 0.2\n";
    dir.write("live.rhai", good);
    dir.write("good.txt", good);
    dir.write("bad.txt", "sine(330) *\n");
    // The edits come while it plays: broken after 2 s, back to the very same text after 4.
    let cmd = format!(
        "(sleep 2; cp bad.txt live.rhai; sleep 2; cp good.txt live.rhai) & exec '{WAVES}' live.rhai --duration 8 --no-record"
    );
    let (ok, plain, _) = in_terminal(&dir.0, &cmd, &[]);
    assert!(ok, "{plain}");
    let broke = plain
        .find("✗ error")
        .unwrap_or_else(|| panic!("the error never showed:\n{plain}"));
    let fixed = plain[broke..]
        .find("saved, the sound is unchanged")
        .map(|i| broke + i)
        .unwrap_or_else(|| panic!("the fix was not seen:\n{plain}"));
    let after = &plain[fixed..];
    let tail: String = after.chars().take(600).collect();
    assert!(
        !after.contains("✗"),
        "the status line kept the error after the fix:\n{tail}"
    );
    assert!(after.contains("✓ unchanged"), "{tail}");
}

#[test]
fn devices_lists_outputs_only_and_names_the_host_used() {
    let dir = dir_with_tone("devices");
    let o = waves(&dir.0, &["devices"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let used: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("used unless --host says otherwise"))
        .collect();
    assert_eq!(used.len(), 1, "one host is the one used:\n{out}");
    let outputs = out.split("MIDI inputs:").next().unwrap_or("");
    assert!(
        !outputs.contains("JACK Input"),
        "a capture device among outputs:\n{out}"
    );
    // With a JACK server up (as under .ci/with-audio), its section lists its output.
    if common::jack_answers() && cfg!(feature = "jack") {
        let jack = outputs
            .split("Audio outputs (")
            .find(|s| s.starts_with("JACK"))
            .unwrap_or_else(|| panic!("no JACK section:\n{out}"));
        assert!(!jack.contains("(none)"), "JACK lists no output:\n{out}");
    }
}
