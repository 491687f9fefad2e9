//! Offline rendering of a compiled graph to a WAV file, as fast as the machine allows;
//! control thread.

use crate::dsp::{BLOCK, Ctx};
use crate::engine::Renderer;
use crate::graph::{RuntimeGraph, Stages, best_cut};
use crate::record::wav::{Format, WavSink};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

/// Frames rendered between writes and progress updates.
const CHUNK: usize = 4096;

/// Blocks timed on a second copy of the graph to choose where to cut it for two threads.
const PROBE_BLOCKS: usize = 64;
/// Renders shorter than this run on one thread: the probe and the thread are not worth it.
const MIN_TWO_STAGE_SECS: f64 = 2.0;
/// A cut must save at least this share of the time per block, or one thread renders all.
const MIN_GAIN: f64 = 0.15;
/// Chunks the first stage may run ahead of the second.
const AHEAD: usize = 3;

/// How a render computes, not what: the compiler's passes and the threads it may use.
#[derive(Clone, Copy, Debug)]
pub struct Execution {
    pub passes: crate::graph::Passes,
    /// 1, or 2 or more: the graph may then be cut into two stages run one chunk apart
    /// (two at most today).
    pub threads: usize,
}

impl Default for Execution {
    fn default() -> Self {
        Execution {
            passes: crate::graph::Passes::ALL,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(2)),
        }
    }
}

pub struct RenderOptions {
    pub sample_rate: u32,
    pub master_gain: f32,
    pub seconds: f64,
    pub format: Format,
    pub progress: bool,
    /// Threads to render with: 1, or 2 to run the graph as two stages one chunk apart
    /// when a cut balances them (the samples are the same either way).
    pub threads: usize,
    /// Cut the graph before this op instead of timing where (tests: the samples must not
    /// depend on where it is cut). Ignored with one thread or where no cut may be.
    pub cut: Option<usize>,
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
    /// Ops run by the first of two threads, of all ops, when the graph was cut in two.
    pub stages: Option<(usize, usize)>,
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
        if let Some((first, all)) = self.stages {
            s.push_str(&format!(
                ", on two threads (ops 1-{first} | {}-{all})",
                first + 1
            ));
        }
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
/// `rebuild` makes another copy of the graph, timed for a few blocks to decide whether and
/// where to cut it for two threads (see `RenderOptions::threads`).
pub fn render(
    graph: RuntimeGraph,
    rebuild: Option<&dyn Fn() -> RuntimeGraph>,
    track_names: &[String],
    dest: &Path,
    opts: &RenderOptions,
) -> std::io::Result<RenderReport> {
    let total = (opts.seconds * opts.sample_rate as f64).round() as u64;
    let two = opts.threads >= 2 && track_names.is_empty() && opts.seconds >= MIN_TWO_STAGE_SECS;
    let cut = match (two, opts.cut) {
        (false, _) => None,
        (true, Some(c)) => graph.cuts().contains(&c).then_some(c),
        (true, None) => rebuild.and_then(|rebuild| choose_cut(rebuild(), opts)),
    };
    let Some(cut) = cut else {
        let mut renderer = Renderer::new(graph, opts.sample_rate as f32, opts.master_gain);
        return write_all(
            total,
            track_names,
            dest,
            opts,
            None,
            |chunk, wide| match wide {
                None => renderer.process(chunk),
                Some((wide, width)) => renderer.process_wide(wide, width),
            },
        );
    };
    let ops = graph.len();
    let (first, second, carried) = graph.split(cut).into_parts();
    two_stages(first, second, &carried, total, dest, opts, (cut, ops))
}

/// Times `PROBE_BLOCKS` blocks of `probe` op by op, and the file writing, and returns the
/// cut that balances two threads best, if it is worth a thread.
fn choose_cut(mut probe: RuntimeGraph, opts: &RenderOptions) -> Option<usize> {
    let cuts = probe.cuts();
    if cuts.is_empty() {
        return None;
    }
    let mut costs = vec![0.0; probe.len()];
    let mut ctx = Ctx::new(opts.sample_rate as f32, probe.tempo_bpm);
    let mut out = vec![0.0f32; PROBE_BLOCKS * 2 * BLOCK];
    let (mut l, mut r) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
    for b in 0..PROBE_BLOCKS {
        probe.process_block_timed(&ctx, &mut l, &mut r, &mut costs);
        for (f, frame) in out[b * 2 * BLOCK..(b + 1) * 2 * BLOCK]
            .chunks_exact_mut(2)
            .enumerate()
        {
            frame[0] = l[f];
            frame[1] = r[f];
        }
        ctx.frame += BLOCK as u64;
    }
    // What the second thread does besides its ops: measure and encode the samples.
    let start = Instant::now();
    let _ = measure(&out);
    WavSink::encode(&out, opts.sample_rate, opts.format).ok()?;
    let tail = start.elapsed().as_secs_f64();
    // Handing a sample over: written by one thread, read by the other (timed on copies of
    // the largest hand-over, twice as many samples as it moves).
    let handed = probe.handed_at(&cuts);
    let most = handed.iter().copied().max().unwrap_or(0).max(BLOCK);
    let (src, mut dst) = (vec![1.0f32; most], vec![0.0f32; most]);
    let start = Instant::now();
    for _ in 0..2 * PROBE_BLOCKS {
        dst.copy_from_slice(std::hint::black_box(&src));
    }
    let per_sample = start.elapsed().as_secs_f64() / (PROBE_BLOCKS * most) as f64;
    let hand: Vec<f64> = handed.iter().map(|&h| h as f64 * per_sample).collect();
    let per_block: Vec<f64> = costs.iter().map(|c| c / PROBE_BLOCKS as f64).collect();
    best_cut(
        &cuts,
        &hand,
        &per_block,
        tail / PROBE_BLOCKS as f64,
        MIN_GAIN,
    )
    .map(|(c, _)| c)
}

/// Renders with the graph cut in two: `first` runs on a helper thread up to `AHEAD` chunks
/// ahead, handing this thread the buffers `carried` block by block.
fn two_stages(
    mut first: RuntimeGraph,
    second: RuntimeGraph,
    carried: &[usize],
    total: u64,
    dest: &Path,
    opts: &RenderOptions,
    stages: (usize, usize),
) -> std::io::Result<RenderReport> {
    let mut renderer = Renderer::new(second, opts.sample_rate as f32, opts.master_gain);
    let handed = Stages::handed(renderer.graph_mut(), carried);
    let blocks = total.div_ceil(BLOCK as u64) as usize;
    let per_chunk = CHUNK / BLOCK;
    let (full_tx, full_rx): (SyncSender<Vec<f32>>, Receiver<Vec<f32>>) = sync_channel(AHEAD);
    let (free_tx, free_rx): (SyncSender<Vec<f32>>, Receiver<Vec<f32>>) = sync_channel(AHEAD);
    for _ in 0..AHEAD {
        let _ = free_tx.send(vec![0.0; handed * per_chunk]);
    }
    let mut ctx = renderer.ctx().clone();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let (mut l, mut r) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
            let mut b = 0;
            while b < blocks {
                // The second stage has stopped (an error): so does this one.
                let Ok(mut slot) = free_rx.recv() else {
                    return;
                };
                let n = (blocks - b).min(per_chunk);
                for k in 0..n {
                    first.process_block(&ctx, &mut l, &mut r);
                    Stages::hand(&first, carried, &mut slot[k * handed..(k + 1) * handed]);
                    ctx.frame += BLOCK as u64;
                }
                b += n;
                if full_tx.send(slot).is_err() {
                    return;
                }
            }
        });
        // Owned by this closure, so the channels close when it returns, even early, and
        // the helper thread ends instead of waiting for a chunk that never comes.
        let (full_rx, free_tx) = (full_rx, free_tx);
        write_all(total, &[], dest, opts, Some(stages), move |chunk, _| {
            let Ok(slot) = full_rx.recv() else {
                chunk.fill(0.0);
                return;
            };
            for (k, frames) in chunk.chunks_mut(2 * BLOCK).enumerate() {
                Stages::take(
                    renderer.graph_mut(),
                    carried,
                    &slot[k * handed..(k + 1) * handed],
                );
                renderer.process(frames);
            }
            let _ = free_tx.send(slot);
        })
    })
}

/// The render loop: `produce` fills each chunk (interleaved stereo, or `width` channels
/// wide with the stems when there are any), which is measured and written.
fn write_all(
    total: u64,
    track_names: &[String],
    dest: &Path,
    opts: &RenderOptions,
    stages: Option<(usize, usize)>,
    mut produce: impl FnMut(&mut [f32], Option<(&mut [f32], usize)>),
) -> std::io::Result<RenderReport> {
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
            produce(chunk, None);
        } else {
            let wide = &mut wide[..n * width];
            produce(chunk, Some((wide, width)));
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
        stages,
    })
}
