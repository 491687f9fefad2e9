//! Helpers shared by the integration tests: temporary folders and offline renders.
#![allow(dead_code)]

pub mod edits;
pub mod process;

use std::path::{Path, PathBuf};
use waves::engine::Renderer;
use waves::graph;
use waves::script::compile_source;

pub const SR: f64 = 48_000.0;

/// CPU time of the calling thread: what a bound on work should measure, so that a busy
/// machine, which only delays the thread, does not fail it.
pub fn thread_cpu() -> std::time::Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write into; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// A temporary folder, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(suite: &str, test: &str) -> Self {
        let p = std::env::temp_dir().join(format!("waves-{suite}-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Renders `frames` frames at 48 kHz with unity master gain: (left, right).
pub fn render(src: &str, frames: usize) -> (Vec<f32>, Vec<f32>) {
    let c = compile_source(src, "test.rhai", Path::new("."), SR)
        .unwrap_or_else(|d| panic!("script failed to compile:\n{src}\n{}", d.render(Some(src))));
    let g = graph::compile(&c.spec, SR as f32).0;
    let mut r = Renderer::new(g, SR as f32, 1.0);
    let mut out = vec![0.0f32; frames * 2];
    r.process(&mut out);
    let left = out.iter().step_by(2).copied().collect();
    let right = out.iter().skip(1).step_by(2).copied().collect();
    (left, right)
}

pub fn mono(src: &str, frames: usize) -> Vec<f32> {
    render(src, frames).0
}

/// True when a PulseAudio server answers on `$PULSE_SERVER`. Otherwise prints
/// "skipped: no PulseAudio server" and returns false, or panics when `WAVES_REQUIRE_AUDIO`
/// is set (CI: a missing server must not pass as a skip).
pub fn audio_or_skip() -> bool {
    let why = match std::env::var("PULSE_SERVER") {
        Ok(s) if !s.is_empty() => match pactl_info() {
            Ok(()) => return true,
            Err(e) => format!("`pactl info` with PULSE_SERVER={s} failed: {e}"),
        },
        _ => "PULSE_SERVER is not set; run the tests through .ci/with-audio".to_string(),
    };
    if std::env::var_os("WAVES_REQUIRE_AUDIO").is_some() {
        panic!("WAVES_REQUIRE_AUDIO is set but there is no PulseAudio server: {why}");
    }
    eprintln!("skipped: no PulseAudio server ({why})");
    false
}

/// True when a JACK server answers as `$JACK_DEFAULT_SERVER` (as under .ci/with-audio).
pub fn jack_answers() -> bool {
    std::env::var("JACK_DEFAULT_SERVER").is_ok()
        && std::process::Command::new("timeout")
            .args(["5", "jack_lsp"])
            .env("JACK_NO_START_SERVER", "1")
            .output()
            .is_ok_and(|o| o.status.success())
}

fn pactl_info() -> Result<(), String> {
    let out = std::process::Command::new("timeout")
        .args(["5", "pactl", "info"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run pactl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Frequency of `x` from its rising zero crossings (interpolated); 0 with fewer than three.
pub fn zero_cross_hz(x: &[f32], sample_rate: f64) -> f64 {
    let mut crossings = Vec::new();
    for n in 1..x.len() {
        let (p, q) = (x[n - 1] as f64, x[n] as f64);
        if p < 0.0 && q >= 0.0 {
            crossings.push((n - 1) as f64 + p / (p - q));
        }
    }
    match (crossings.first(), crossings.last()) {
        (Some(f), Some(l)) if crossings.len() >= 3 => {
            (crossings.len() - 1) as f64 * sample_rate / (l - f)
        }
        _ => 0.0,
    }
}

/// Amplitude of the `hz` component of `x`: a Hann-windowed DFT bin, scaled so that a sine
/// of amplitude 1 at `hz` reads 1. The window keeps components a few bins away (more than
/// 4 / duration of `x` in Hz) from leaking into it.
pub fn amplitude(x: &[f32], hz: f64, sample_rate: f64) -> f64 {
    let n = x.len() as f64;
    let (mut re, mut im, mut wsum) = (0.0f64, 0.0f64, 0.0f64);
    for (i, v) in x.iter().enumerate() {
        let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos();
        let ph = 2.0 * std::f64::consts::PI * hz * i as f64 / sample_rate;
        re += w * *v as f64 * ph.cos();
        im -= w * *v as f64 * ph.sin();
        wsum += w;
    }
    2.0 * re.hypot(im) / wsum
}

/// The frequency of MIDI note `n` (A4 = 69 = 440 Hz).
pub fn note_hz(n: u8) -> f64 {
    440.0 * ((f64::from(n) - 69.0) / 12.0).exp2()
}
