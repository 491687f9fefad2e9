//! Offline rendering of a compiled graph to a WAV file, as fast as the machine allows;
//! control thread.

use crate::engine::Renderer;
use crate::graph::RuntimeGraph;
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
    /// One file per named track, beside the mix: `NAME__TRACK.wav`.
    pub stems: Vec<PathBuf>,
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
        if !self.stems.is_empty() {
            let names: Vec<String> = self
                .stems
                .iter()
                .map(|p| {
                    p.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .to_string()
                })
                .collect();
            s.push_str(&format!("\nStems: {}", names.join(", ")));
        }
        s
    }
}

/// Peak of the finite samples, samples beyond full scale, and samples that are not finite.
/// Eight lanes of plain comparisons, so it vectorises; NaN fails every comparison.
fn measure(chunk: &[f32]) -> (f32, u64, u64) {
    let mut peak = [0.0f32; 8];
    let mut clipped = [0u32; 8];
    let mut nonfinite = [0u32; 8];
    let mut rows = chunk.chunks_exact(8);
    for row in &mut rows {
        for k in 0..8 {
            let a = row[k].abs();
            let finite = a <= f32::MAX;
            peak[k] = if finite && a > peak[k] { a } else { peak[k] };
            clipped[k] += u32::from(finite && a > 1.0);
            nonfinite[k] += u32::from(!finite);
        }
    }
    let (mut p, mut c, mut n) = (
        peak.iter().fold(0.0f32, |m, v| m.max(*v)),
        clipped.iter().map(|&v| v as u64).sum::<u64>(),
        nonfinite.iter().map(|&v| v as u64).sum::<u64>(),
    );
    for &s in rows.remainder() {
        let a = s.abs();
        if a <= f32::MAX {
            p = p.max(a);
            c += u64::from(a > 1.0);
        } else {
            n += 1;
        }
    }
    (p, c, n)
}

/// Copies channel pair `pair` (0 = the mix, k = stem k) of `width`-channel frames.
fn pick_pair(wide: &[f32], width: usize, pair: usize, dst: &mut [f32]) {
    for (d, frame) in dst.chunks_exact_mut(2).zip(wide.chunks_exact(width)) {
        d.copy_from_slice(&frame[2 * pair..2 * pair + 2]);
    }
}

/// `dir/NAME__TRACK.wav` for the mix `dir/NAME.wav`.
pub fn stem_path(mix: &Path, track: &str) -> PathBuf {
    let stem = mix
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "out".into());
    let ext = mix
        .extension()
        .map(|e| e.to_string_lossy().to_string())
        .unwrap_or_else(|| "wav".into());
    mix.with_file_name(format!("{stem}__{track}.{ext}"))
}

/// Renders `graph` to `dest`, and each of its stems, named `track_names`, beside it.
pub fn render(
    graph: RuntimeGraph,
    track_names: &[String],
    dest: &Path,
    opts: &RenderOptions,
) -> std::io::Result<RenderReport> {
    let total = (opts.seconds * opts.sample_rate as f64).round() as u64;
    let mut renderer = Renderer::new(graph, opts.sample_rate as f32, opts.master_gain);
    let mut sink = WavSink::create(dest, opts.sample_rate, 2, opts.format)?;
    let mut stem_sinks = Vec::new();
    for name in track_names {
        stem_sinks.push(WavSink::create(
            &stem_path(dest, name),
            opts.sample_rate,
            2,
            opts.format,
        )?);
    }
    // With stems, frames are rendered wide (mix, then each stem) and split per file.
    let width = 2 + 2 * stem_sinks.len();
    let mut wide = vec![0.0f32; CHUNK * width];
    let mut part = vec![0.0f32; CHUNK * 2];
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
        if stem_sinks.is_empty() {
            renderer.process(chunk);
        } else {
            let wide = &mut wide[..n * width];
            renderer.process_wide(wide, width);
            pick_pair(wide, width, 0, chunk);
            for (k, sink) in stem_sinks.iter_mut().enumerate() {
                let part = &mut part[..n * 2];
                pick_pair(wide, width, k + 1, part);
                sink.write(part)?;
            }
        }
        let (chunk_peak, chunk_clipped, chunk_bad) = measure(chunk);
        peak = peak.max(chunk_peak);
        clipped += chunk_clipped;
        nonfinite += chunk_bad;
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
    let stems = stem_sinks
        .into_iter()
        .map(WavSink::finish)
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok(RenderReport {
        path,
        stems,
        frames: total,
        sample_rate: opts.sample_rate,
        wall_secs,
        peak,
        clipped,
        nonfinite,
    })
}
