//! Offline rendering: a script file or a compiled graph to WAV files, as fast as the
//! machine allows; main thread (the second stage on a helper thread).

use crate::config::Config;
use crate::dsp::{BLOCK, Ctx};
use crate::engine::Renderer;
use crate::graph;
use crate::graph::{RuntimeGraph, Stages, best_split};
use crate::record::RecordError;
use crate::record::disk::{self, Disk};
use crate::record::save::WAV_DATA_LIMIT;
use crate::record::wav::{Format, WavSink};
use crate::script::{self, Diagnostic, Overrides};
use ringbuf::HeapRb;
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Frames rendered between writes and progress updates.
const CHUNK: usize = 4096;

/// Blocks timed per round, and rounds, on a second copy of the graph to choose how to
/// split it for two threads.
const PROBE_BLOCKS: usize = 32;
const PROBE_ROUNDS: usize = 5;
/// Blocks run before the probe is timed.
const WARM_BLOCKS: usize = 16;
/// Renders shorter than this run on one thread: the probe and the thread are not worth it.
const MIN_TWO_STAGE_SECS: f64 = 2.0;
/// A cut must save at least this share of the time per block, or one thread renders all.
const MIN_GAIN: f64 = 0.15;
/// Chunks the first stage may run ahead of the second.
const AHEAD: usize = 3;
/// Blocks a sleeping side waits for before it is woken (see `Side`).
const WAKE_BLOCKS: usize = 16;
/// Spins before a waiting side sleeps.
const SPINS: u32 = 2000;

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
    /// Split the graph this way (the ops the first thread runs, one of
    /// `RuntimeGraph::splits`) instead of timing how: for tests, since the samples must not
    /// depend on it. Ignored with one thread.
    pub split: Option<Vec<bool>>,
    /// Frames per file before the render continues in `NAME.part2.wav`…; `None`: as many
    /// as a WAV file can hold. Lowered by tests.
    pub part_frames: Option<u64>,
    /// Set (by Ctrl-C) to end the render early: what was rendered is kept as a whole WAV.
    pub stop: Option<Arc<AtomicBool>>,
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
    /// Ops run by the first of two threads, of all ops, when the graph was split in two.
    pub stages: Option<(usize, usize)>,
    /// The files after the first, when the render was too long for one WAV file.
    pub parts: Vec<PathBuf>,
    /// Frames asked for, when the render was stopped before (`frames` were rendered).
    pub interrupted: Option<u64>,
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
        let mut s = String::new();
        s.push_str(&format!(
            "Rendered {}: {:.2} s of audio in {:.3} s ({:.1}x real time), peak {peak_db}, {} clipped",
            self.path.display(),
            self.audio_secs(),
            self.wall_secs,
            rtf,
            crate::plural(self.clipped, "sample")
        ));
        for p in &self.parts {
            s.push_str(&format!("\ncontinued in {}", p.display()));
        }
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
) -> Result<RenderReport, RecordError> {
    let total = (opts.seconds * opts.sample_rate as f64).round() as u64;
    let two = opts.threads >= 2 && track_names.is_empty() && opts.seconds >= MIN_TWO_STAGE_SECS;
    let split = match (two, &opts.split) {
        (false, _) => None,
        (true, Some(first)) => Some(first.clone()),
        (true, None) => rebuild.and_then(|rebuild| choose_split(rebuild(), opts)),
    };
    let Some(first) = split else {
        let mut renderer = Renderer::new(graph, opts.sample_rate as f32, opts.master_gain);
        return write_all(total, track_names, dest, opts, None, |chunk, wide| {
            match wide {
                None => renderer.process(chunk),
                Some((wide, width)) => renderer.process_wide(wide, width),
            }
            Ok(())
        });
    };
    let stages = (first.iter().filter(|&&f| f).count(), graph.len());
    let (first, second, carried) = graph.split(&first).into_parts();
    two_stages(first, second, &carried, total, dest, opts, stages)
}

/// Times `PROBE_BLOCKS` blocks of `probe` op by op, and the file writing, and returns the
/// split that balances two threads best, if it is worth a thread.
fn choose_split(mut probe: RuntimeGraph, opts: &RenderOptions) -> Option<Vec<bool>> {
    if probe.splits(None).is_empty() {
        return None;
    }
    let mut free = core_free();
    let mut ctx = Ctx::new(opts.sample_rate as f32, probe.tempo_bpm);
    let mut out = vec![0.0f32; PROBE_ROUNDS * PROBE_BLOCKS * 2 * BLOCK];
    let (mut l, mut r) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
    // The first blocks touch every buffer for the first time: not what the rest cost.
    for _ in 0..WARM_BLOCKS {
        probe.process_block(&ctx, &mut l, &mut r);
        ctx.frame += BLOCK as u64;
    }
    // Each op's time in each round; the median round per op, so that the thread being
    // descheduled once does not make an op look slow.
    let mut rounds = vec![vec![0.0; probe.len()]; PROBE_ROUNDS];
    for (k, frames) in out.chunks_exact_mut(2 * BLOCK).enumerate() {
        if k % PROBE_BLOCKS == 0 {
            free |= core_free();
        }
        probe.process_block_timed(&ctx, &mut l, &mut r, &mut rounds[k / PROBE_BLOCKS]);
        for (f, frame) in frames.chunks_exact_mut(2).enumerate() {
            frame[0] = l[f];
            frame[1] = r[f];
        }
        ctx.frame += BLOCK as u64;
    }
    if !free {
        return None;
    }
    let costs: Vec<f64> = (0..probe.len())
        .map(|i| {
            let mut t: Vec<f64> = rounds.iter().map(|r| r[i]).collect();
            t.sort_by(f64::total_cmp);
            t[PROBE_ROUNDS / 2] / PROBE_BLOCKS as f64
        })
        .collect();
    // What the second thread does besides its ops: measure and encode the samples.
    let start = Instant::now();
    let _ = measure(&out);
    WavSink::encode(&out, opts.sample_rate, opts.format).ok()?;
    let tail = start.elapsed().as_secs_f64() / (PROBE_ROUNDS * PROBE_BLOCKS) as f64;
    let splits = probe.splits(Some((&costs, tail)));
    // Handing a sample over: written by one thread, read by the other, so the block comes
    // from the other core's cache. It is timed as copies from a buffer just written and
    // larger than one block, not from one block already in this core's cache (which let
    // W1's 64 KB per block through, at 1.7 times the time on one thread).
    let handed: Vec<usize> = splits.iter().map(|f| probe.handed_by(f)).collect();
    let most = handed.iter().copied().max().unwrap_or(0).max(BLOCK);
    let src: Vec<f32> = (0..most * PROBE_BLOCKS).map(|i| i as f32).collect();
    let mut dst = vec![0.0f32; most];
    let start = Instant::now();
    for block in src.chunks_exact(most) {
        dst.copy_from_slice(std::hint::black_box(block));
        std::hint::black_box(&mut dst);
    }
    // Pushed into the ring and popped out: two copies.
    let per_sample = 2.0 * start.elapsed().as_secs_f64() / src.len() as f64;
    let hand: Vec<f64> = handed.iter().map(|&h| h as f64 * per_sample).collect();
    let (best, _) = best_split(&splits, &hand, &costs, tail, MIN_GAIN)?;
    splits.into_iter().nth(best)
}

/// Whether a core is free for a second thread: the machine's cores against the tasks
/// running besides this one, per Linux's `/proc/loadavg` (elsewhere: free when there are
/// two cores). On a busy machine the two stages wait for each other's turn on a core: with
/// two compilers running on two cores, two threads took up to 1.5 times as long as one.
/// Each call is one look; a short task (a kernel thread) is often running on an idle
/// machine, so callers look several times and need one look with a core free.
fn core_free() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let running = std::fs::read_to_string("/proc/loadavg").ok().and_then(|s| {
        let field = s.split_whitespace().nth(3)?;
        field.split('/').next()?.parse::<usize>().ok()
    });
    match running {
        // The count includes this process.
        Some(r) => r.saturating_sub(1) + 2 <= cores,
        None => cores >= 2,
    }
}

/// Renders with the graph split in two: `first` runs on a helper thread up to `AHEAD` chunks
/// ahead, handing this thread the buffers `carried` block by block through a ring.
fn two_stages(
    mut first: RuntimeGraph,
    second: RuntimeGraph,
    carried: &[usize],
    total: u64,
    dest: &Path,
    opts: &RenderOptions,
    stages: (usize, usize),
) -> Result<RenderReport, RecordError> {
    let mut renderer = Renderer::new(second, opts.sample_rate as f32, opts.master_gain);
    let handed = Stages::handed(renderer.graph_mut(), carried);
    let blocks = total.div_ceil(BLOCK as u64) as usize;
    let (mut tx, mut rx) = HeapRb::<f32>::new((handed * AHEAD * CHUNK / BLOCK).max(1)).split();
    // A waiting side sleeps until this many blocks can move, so that it is woken once per
    // run of blocks, not once per block.
    let plenty = handed * WAKE_BLOCKS;
    let helper = Side::default();
    let main = Side::default();
    let _ = main.thread.set(std::thread::current());
    let mut ctx = renderer.ctx().clone();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let _ = helper.thread.set(std::thread::current());
            let _done = Done(&helper, &main);
            let (mut l, mut r) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
            for _ in 0..blocks {
                first.process_block(&ctx, &mut l, &mut r);
                let ready = helper.wait(
                    &main,
                    || tx.vacant_len() >= handed,
                    || tx.vacant_len() >= plenty,
                );
                if !ready {
                    return;
                }
                Stages::hand_with(&first, carried, |src| {
                    tx.push_slice(src);
                });
                main.wake_if(tx.occupied_len() >= plenty);
                ctx.frame += BLOCK as u64;
            }
        });
        let _done = Done(&main, &helper);
        write_all(total, &[], dest, opts, Some(stages), |chunk, _| {
            for frames in chunk.chunks_mut(2 * BLOCK) {
                let ready = main.wait(
                    &helper,
                    || rx.occupied_len() >= handed,
                    || rx.occupied_len() >= plenty,
                );
                if !ready {
                    return Err(std::io::Error::other("the render's second thread stopped"));
                }
                Stages::take_with(renderer.graph_mut(), carried, |dst| {
                    rx.pop_slice(dst);
                });
                helper.wake_if(rx.vacant_len() >= plenty);
                renderer.process(frames);
            }
            Ok(())
        })
    })
}

/// One thread's end of the hand-over: whether it is asleep waiting, and how to wake it.
///
/// A side that must wait spins briefly (a block is a few microseconds, about what waking a
/// sleeping thread costs), then sleeps until the other side has made room or blocks for a
/// run of `WAKE_BLOCKS`. Spinning for longer burned the CPU the other stage needed when
/// the machine was busy: with two compilers running, two threads took 1.7 times as long
/// as one.
#[derive(Default)]
struct Side {
    thread: std::sync::OnceLock<std::thread::Thread>,
    asleep: AtomicBool,
    done: AtomicBool,
}

impl Side {
    /// Waits until `ready()`, spinning then sleeping until `plenty()` or the other side is
    /// done; false when the other side is done and it is still not ready.
    fn wait(&self, other: &Side, ready: impl Fn() -> bool, plenty: impl Fn() -> bool) -> bool {
        for _ in 0..SPINS {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        loop {
            self.asleep.store(true, Ordering::SeqCst);
            // Checked after saying so: the other side either sees `asleep` and wakes this
            // one, or had already made this true.
            if plenty() || other.done.load(Ordering::SeqCst) {
                self.asleep.store(false, Ordering::SeqCst);
                return ready();
            }
            // The time limit only bounds a wake-up lost some other way.
            std::thread::park_timeout(std::time::Duration::from_millis(2));
        }
    }

    fn wake_if(&self, plenty: bool) {
        if plenty
            && self.asleep.load(Ordering::SeqCst)
            && let Some(t) = self.thread.get()
        {
            t.unpark();
        }
    }
}

/// Marks its side done when dropped (when its thread ends, returns early or panics) and
/// wakes the other, so that neither waits for the other in vain.
struct Done<'a>(&'a Side, &'a Side);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.done.store(true, Ordering::SeqCst);
        if let Some(t) = self.1.thread.get() {
            t.unpark();
        }
    }
}

/// Bytes one sample takes in `format`.
fn sample_bytes(format: Format) -> u64 {
    match format {
        Format::F32 => 4,
        Format::I24 => 3,
        Format::I16 => 2,
    }
}

/// One output of a render (the mix or a stem), written in parts of at most `per_file`
/// frames under private names, and named only at the end: `dest`, then
/// `NAME.part2.wav`, `NAME.part3.wav`… beside it. Dropped unfinished, it removes them all.
struct Parts<'a> {
    dest: PathBuf,
    dir: PathBuf,
    opts: &'a RenderOptions,
    per_file: u64,
    done: Vec<PathBuf>,
    current: Option<WavSink>,
    in_current: u64,
}

impl<'a> Parts<'a> {
    fn new(dest: &Path, opts: &'a RenderOptions) -> Result<Self, RecordError> {
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let per_file = opts
            .part_frames
            .unwrap_or(WAV_DATA_LIMIT / (2 * sample_bytes(opts.format)))
            .max(1);
        let mut p = Parts {
            dest: dest.to_path_buf(),
            dir,
            opts,
            per_file,
            done: Vec::new(),
            current: None,
            in_current: 0,
        };
        p.start()?;
        Ok(p)
    }

    fn start(&mut self) -> Result<(), RecordError> {
        let sink = WavSink::create(&self.dir, self.opts.sample_rate, 2, self.opts.format)
            .map_err(|e| RecordError::io("write in", &self.dir, e))?;
        self.current = Some(sink);
        self.in_current = 0;
        Ok(())
    }

    fn write(&mut self, mut frames: &[f32]) -> Result<(), RecordError> {
        while !frames.is_empty() {
            if self.in_current == self.per_file {
                self.close()?;
                self.start()?;
            }
            let room = ((self.per_file - self.in_current) as usize).min(frames.len() / 2);
            let (now, rest) = frames.split_at(room * 2);
            if let Some(sink) = self.current.as_mut() {
                sink.write(now)
                    .map_err(|e| RecordError::io("write", &self.dest, e))?;
            }
            self.in_current += room as u64;
            frames = rest;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), RecordError> {
        if let Some(sink) = self.current.take() {
            let tmp = sink
                .finish(disk::REAL)
                .map_err(|e| RecordError::io("write", &self.dest, e))?;
            self.done.push(tmp);
        }
        Ok(())
    }

    /// Completes the last part and gives every part its name (replacing: `-o` chose it);
    /// returns the names.
    fn publish(mut self) -> Result<Vec<PathBuf>, RecordError> {
        self.close()?;
        let stem = self
            .dest
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "out".into());
        let ext = self
            .dest
            .extension()
            .map(|e| e.to_string_lossy().to_string())
            .unwrap_or_else(|| "wav".into());
        let mut names = Vec::new();
        for (k, tmp) in std::mem::take(&mut self.done).into_iter().enumerate() {
            let name = if k == 0 {
                self.dest.clone()
            } else {
                self.dest
                    .with_file_name(format!("{stem}.part{}.{ext}", k + 1))
            };
            if let Err(e) = disk::REAL.rename(&tmp, &name) {
                let _ = std::fs::remove_file(&tmp);
                return Err(RecordError::io("name the file", name, e));
            }
            names.push(name);
        }
        disk::REAL
            .sync_dir(&self.dir)
            .map_err(|e| RecordError::io("sync the folder", &self.dir, e))?;
        Ok(names)
    }
}

impl Drop for Parts<'_> {
    /// Not published (an error): no part is left behind.
    fn drop(&mut self) {
        for p in &self.done {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Checks that the render's files fit the folder's free space before any is written.
fn check_space(dest: &Path, files: usize, total: u64, format: Format) -> Result<(), RecordError> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let need = files as u64 * (total * 2 * sample_bytes(format) + 4096);
    match disk::free_bytes(dir) {
        Some(free) if free < need => Err(RecordError::NoSpace {
            path: dir.to_path_buf(),
            need,
            free,
        }),
        _ => Ok(()),
    }
}

/// The render loop: `produce` fills each chunk (interleaved stereo, or `width` channels
/// wide with the stems when there are any), which is measured and written.
fn write_all(
    total: u64,
    track_names: &[String],
    dest: &Path,
    opts: &RenderOptions,
    stages: Option<(usize, usize)>,
    mut produce: impl FnMut(&mut [f32], Option<(&mut [f32], usize)>) -> std::io::Result<()>,
) -> Result<RenderReport, RecordError> {
    check_space(dest, 1 + track_names.len(), total, opts.format)?;
    let mut sink = Parts::new(dest, opts)?;
    let mut stem_sinks = Vec::new();
    for name in track_names {
        stem_sinks.push(Parts::new(&stem_path(dest, name), opts)?);
    }
    // With stems, frames are rendered wide (mix, then each stem) and split per file.
    let width = 2 + 2 * stem_sinks.len();
    let mut wide = vec![0.0f32; CHUNK * width];
    let mut part = vec![0.0f32; CHUNK * 2];
    let bar = opts.progress.then(|| {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}%  {eta} left")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let start = Instant::now();
    let mut buf = vec![0.0f32; CHUNK * 2];
    let (mut done, mut peak, mut clipped, mut nonfinite) = (0u64, 0.0f32, 0u64, 0u64);
    let stopped = || {
        opts.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    };
    let rendering = |e| RecordError::io("render into", dest, e);
    while done < total && !stopped() {
        let n = ((total - done) as usize).min(CHUNK);
        let chunk = &mut buf[..n * 2];
        if stem_sinks.is_empty() {
            produce(chunk, None).map_err(rendering)?;
        } else {
            let wide = &mut wide[..n * width];
            produce(chunk, Some((wide, width))).map_err(rendering)?;
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
    let mut parts = sink.publish()?;
    let path = parts.remove(0);
    let mut stems = Vec::new();
    for s in stem_sinks {
        let mut named = s.publish()?;
        stems.push(named.remove(0));
        parts.extend(named);
    }
    Ok(RenderReport {
        path,
        stems,
        parts,
        interrupted: (done < total).then_some(total),
        frames: done,
        sample_rate: opts.sample_rate,
        wall_secs,
        peak,
        clipped,
        nonfinite,
        stages,
    })
}

/// Compiles a script and renders it offline; prints the closing line.
pub fn render_script(
    file: &Path,
    out: Option<&Path>,
    format: Format,
    cfg: &Config,
    duration: Option<f64>,
    overrides: &Overrides,
    how: Execution,
) -> Result<RenderReport, String> {
    let compiled = script::compile_file_with(file, cfg.sample_rate as f64, overrides)
        .map_err(|d: Diagnostic| d.render(None))?;
    script::print_warnings(&compiled.warnings);
    let seconds = duration
        .or(compiled.spec.duration)
        .unwrap_or(cfg.default_duration);
    let dest = match out {
        Some(p) => p.to_path_buf(),
        None => {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_else(|| "out".into());
            // Like a take, a render named by waves never replaces a file: only `-o` does.
            crate::record::save::unique_path(Path::new(&cfg.output_dir), &format!("{stem}.wav"))
                .map_err(|e| format!("error: cannot name the render in {}: {e}", cfg.output_dir))?
        }
    };
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("error: cannot create {}: {e}", dir.display()))?;
    }
    let rate = cfg.sample_rate as f32;
    let (graph, meta) = graph::compile_with(&compiled.spec, rate, how.passes);
    // Every file the render may write must have a name this file system takes.
    let dir = dest.parent().filter(|d| !d.as_os_str().is_empty());
    let file = dest.file_name().map(|f| f.to_string_lossy().to_string());
    crate::record::save::check_names(
        dir.unwrap_or(Path::new(".")),
        file.as_deref().unwrap_or(""),
        &meta.track_names,
    )
    .map_err(|e| format!("error: cannot render to {}: {e}", dest.display()))?;
    let rebuild = || graph::compile_with(&compiled.spec, rate, how.passes).0;
    let opts = RenderOptions {
        sample_rate: cfg.sample_rate,
        master_gain: cfg.master_gain as f32,
        seconds,
        format,
        progress: std::io::stderr().is_terminal(),
        threads: how.threads,
        split: None,
        part_frames: None,
        // Ctrl-C ends the render early with a complete WAV of what was rendered.
        stop: Some(crate::stop::stop_flag()),
    };
    let report = render(graph, Some(&rebuild), &meta.track_names, &dest, &opts)
        .map_err(|e| format!("error: the render was not written: {e}"))?;
    crate::say!("{}", report.summary());
    if let Some(asked) = report.interrupted {
        return Err(format!(
            "error: the render was stopped by Ctrl-C after {:.2} s of {:.2} s; {} is a complete WAV of what was rendered",
            report.audio_secs(),
            asked as f64 / f64::from(report.sample_rate),
            report.path.display()
        ));
    }
    Ok(report)
}
