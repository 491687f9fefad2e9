//! Running the `waves` binary as a user would, for the real-process suites: a spawned
//! process with timestamped stderr lines, SIGINT, and a working folder with config.rhai.

use super::TempDir;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const SR: u32 = 48_000;
/// How long to wait for the process to start playing or to exit.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// stderr lines with the wall time (seconds since spawn) each was read at.
pub type Lines = Arc<Mutex<Vec<(f64, String)>>>;

/// A spawned process: stdout read whole on its own thread, stderr read line by line (each
/// line timestamped, so a test can wait for `Playing …`), and the time it was started.
pub struct Running {
    pub child: Child,
    pub started: Instant,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<()>>,
    pub lines: Lines,
}

/// What a finished process left.
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// From spawn to exit.
    pub wall: f64,
}

impl Outcome {
    pub fn describe(&self) -> String {
        format!(
            "exit: {}, after {:.2} s\n--- stdout:\n{}--- stderr:\n{}---",
            self.status, self.wall, self.stdout, self.stderr
        )
    }

    /// The first stdout line that starts with `prefix`.
    pub fn line(&self, prefix: &str) -> Option<&str> {
        self.stdout.lines().find(|l| l.starts_with(prefix))
    }
}

impl Running {
    pub fn watch(mut child: Child) -> Running {
        let started = Instant::now();
        let stdout = child.stdout.take().map(|mut p| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = p.read_to_end(&mut bytes);
                String::from_utf8_lossy(&bytes).into_owned()
            })
        });
        let lines: Lines = Arc::default();
        let stderr = child.stderr.take().map(|p| {
            let lines = lines.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(p);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match r.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            let t = started.elapsed().as_secs_f64();
                            let line = String::from_utf8_lossy(&buf)
                                .trim_end_matches(['\n', '\r'])
                                .to_string();
                            lines.lock().unwrap().push((t, line));
                        }
                    }
                }
            })
        });
        Running {
            child,
            started,
            stdout,
            stderr,
            lines,
        }
    }

    /// Seconds since spawn.
    pub fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn stderr_so_far(&self) -> String {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|(_, l)| format!("{l}\n"))
            .collect()
    }

    /// Waits for a stderr line containing `needle`; returns when it was read (seconds since
    /// spawn). Panics with what was printed if the process exits first or after `TIMEOUT`.
    pub fn wait_for(&mut self, needle: &str) -> f64 {
        loop {
            if let Some((t, _)) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|(_, l)| l.contains(needle))
            {
                return *t;
            }
            let exited = self.child.try_wait().expect("wait for the child");
            if exited.is_some() || self.started.elapsed() > TIMEOUT {
                if exited.is_none() {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                }
                // Give the reader a moment to collect the last lines.
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "no stderr line with {needle:?} ({}); stderr:\n{}",
                    match exited {
                        Some(s) => format!("the process exited: {s}"),
                        None => format!("waited {TIMEOUT:?}; killed it"),
                    },
                    self.stderr_so_far()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Sends SIGINT with kill(1); returns when it was sent (seconds since spawn).
    pub fn interrupt(&self) -> f64 {
        self.signal("INT");
        self.now()
    }

    /// Sends a signal by name (INT, TERM, HUP, KILL) with kill(1).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{name} {} failed", self.child.id());
    }

    /// Resident memory of the process in bytes (VmRSS in /proc/PID/status).
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/PID/status");
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS in /proc/PID/status:\n{status}"));
        kb * 1024
    }

    /// Waits for the process to exit; kills it and panics with its output after `timeout`.
    pub fn finish(mut self, timeout: Duration) -> Outcome {
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait for the child") {
                break Some(s);
            }
            if self.started.elapsed() > timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let wall = self.started.elapsed().as_secs_f64();
        let stdout = self
            .stdout
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default();
        if let Some(h) = self.stderr.take() {
            h.join().unwrap();
        }
        let stderr = self.stderr_so_far();
        match status {
            Some(status) => Outcome {
                status,
                stdout,
                stderr,
                wall,
            },
            None => panic!(
                "the process did not exit within {timeout:?}; killed it\n--- stdout:\n{stdout}--- stderr:\n{stderr}---"
            ),
        }
    }
}

/// A temporary working folder with config.rhai and a script, as a user would have.
pub struct Work {
    pub dir: TempDir,
}

impl Work {
    /// A folder for `suite`/`test` holding `config` as config.rhai.
    pub fn new(suite: &str, test: &str, config: &str) -> Work {
        let dir = TempDir::new(suite, test);
        dir.write("config.rhai", config);
        Work { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.0.join(rel)
    }

    /// Writes the file over the old one (truncate + write, same inode).
    pub fn write_in_place(&self, name: &str, source: &str) {
        std::fs::write(self.path(name), source).expect("write in place");
    }

    /// Writes a temporary file beside it and renames it over the old one (vim, VS Code).
    pub fn write_by_rename(&self, name: &str, source: &str) {
        let tmp = self.path(&format!(".{name}.tmp~"));
        std::fs::write(&tmp, source).expect("write the temporary file");
        std::fs::rename(&tmp, self.path(name)).expect("rename over the script");
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_waves"));
        c.current_dir(&self.dir.0)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Starts `waves play SCRIPT --record [extra]` and waits until it plays (the watcher
    /// is set up before the stream starts, so edits from then on are seen).
    pub fn play(&self, script: &str, extra: &[&str]) -> Running {
        let mut args = vec!["play", script, "--record"];
        args.extend_from_slice(extra);
        let mut run = Running::watch(self.command(&args).spawn().expect("spawn waves"));
        run.wait_for("Playing ");
        run
    }

    pub fn spawn(&self, args: &[&str]) -> Running {
        Running::watch(self.command(args).spawn().expect("spawn waves"))
    }

    pub fn run(&self, args: &[&str], timeout: Duration) -> Outcome {
        self.spawn(args).finish(timeout)
    }

    /// Renders `script` offline over at least `frames` frames (same config): interleaved
    /// stereo. A little longer than needed, so the rounding of --duration cannot matter.
    pub fn offline_render(&self, script: &str, frames: usize) -> Vec<f32> {
        let secs = format!("{:.6}", frames as f64 / SR as f64 + 0.05);
        let out = self.run(
            &["render", script, "--duration", &secs, "-o", "reference.wav"],
            Duration::from_secs(60),
        );
        assert!(
            out.status.success(),
            "offline render failed\n{}",
            out.describe()
        );
        let (channels, samples) = read_wav(&self.path("reference.wav"));
        assert_eq!(channels, 2, "reference render");
        assert!(
            samples.len() >= frames * 2,
            "the offline render has {} frames, fewer than the {frames} asked for",
            samples.len() / 2
        );
        samples
    }

    /// The left channel of `offline_render`.
    pub fn offline_left(&self, script: &str, frames: usize) -> Vec<f32> {
        let s = self.offline_render(script, frames);
        s.iter().step_by(2).copied().collect()
    }
}

/// (channels, interleaved samples) of a 32-bit float WAV.
pub fn read_wav(path: &Path) -> (u16, Vec<f32>) {
    let reader = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_format, spec.bits_per_sample, spec.sample_rate),
        (hound::SampleFormat::Float, 32, SR),
        "{} is not 32-bit float at {SR} Hz",
        path.display()
    );
    let samples = reader
        .into_samples::<f32>()
        .collect::<Result<Vec<f32>, _>>()
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    (spec.channels, samples)
}
