//! Offline rendering of a compiled graph to a WAV file, as fast as the machine allows;
//! control thread.

use crate::engine::Renderer;
use crate::graph::CompiledGraph;
use crate::record::wav::{Format, WavSink};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Frames rendered between writes and progress updates.
const CHUNK: usize = 4096;

pub struct RenderOptions {
    pub sample_rate: u32,
    pub master_gain: f32,
    pub seconds: f64,
    pub format: Format,
    pub progress: bool,
}

#[derive(Debug)]
pub struct RenderReport {
    pub path: PathBuf,
    pub frames: u64,
    pub sample_rate: u32,
    pub wall_secs: f64,
    /// Largest absolute sample (before any clipping).
    pub peak: f32,
    /// Samples beyond full scale.
    pub clipped: u64,
    /// NaN or infinite samples (written as silence in integer formats).
    pub nonfinite: u64,
}

impl RenderReport {
    pub fn audio_secs(&self) -> f64 {
        self.frames as f64 / self.sample_rate as f64
    }

    /// The closing line: audio seconds, wall time, real-time factor, peak, clipped samples.
    pub fn summary(&self) -> String {
        let peak_db = if self.peak > 0.0 {
            format!("{:.1} dBFS", 20.0 * self.peak.log10())
        } else {
            "-inf dBFS".into()
        };
        let rtf = self.audio_secs() / self.wall_secs.max(1e-9);
        let mut s = format!(
            "Rendered {}: {:.2} s of audio in {:.3} s ({:.1}x real time), peak {peak_db}, {} clipped samples",
            self.path.display(),
            self.audio_secs(),
            self.wall_secs,
            rtf,
            self.clipped
        );
        if self.nonfinite > 0 {
            s.push_str(&format!(", {} NaN/inf samples", self.nonfinite));
        }
        s
    }
}

pub fn render(
    graph: CompiledGraph,
    dest: &Path,
    opts: &RenderOptions,
) -> std::io::Result<RenderReport> {
    let total = (opts.seconds * opts.sample_rate as f64).round() as u64;
    let mut renderer = Renderer::new(graph, opts.sample_rate as f32, opts.master_gain);
    let mut sink = WavSink::create(dest, opts.sample_rate, 2, opts.format)?;
    let bar = opts.progress.then(|| {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let start = Instant::now();
    let mut buf = vec![0.0f32; CHUNK * 2];
    let (mut done, mut peak, mut clipped, mut nonfinite) = (0u64, 0.0f32, 0u64, 0u64);
    while done < total {
        let n = ((total - done) as usize).min(CHUNK);
        let chunk = &mut buf[..n * 2];
        renderer.process(chunk);
        for &s in chunk.iter() {
            if s.is_finite() {
                let a = s.abs();
                peak = peak.max(a);
                clipped += u64::from(a > 1.0);
            } else {
                nonfinite += 1;
            }
        }
        sink.write(chunk)?;
        done += n as u64;
        if let Some(b) = &bar {
            b.set_position(done);
        }
    }
    let wall_secs = start.elapsed().as_secs_f64();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let path = sink.finish()?;
    Ok(RenderReport {
        path,
        frames: total,
        sample_rate: opts.sample_rate,
        wall_secs,
        peak,
        clipped,
        nonfinite,
    })
}
