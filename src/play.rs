//! Real-time playback: compile, open the device, play until the piece ends or a signal
//! arrives, then one shutdown path that stops the stream and saves the recording; control
//! thread.

use crate::config::Config;
use crate::engine::Renderer;
use crate::engine::callback::{Callback, PlayStats};
use crate::engine::commands;
use crate::graph;
use crate::io::output;
use crate::live::Live;
use crate::record::stems::StemSlots;
use crate::record::{cue, journal, save, tap};
use crate::script;
use crate::tui::monitors::MonitorView;
use crate::tui::scope::ScopeRing;
use crate::tui::screen::Screen;
use crate::tui::status::StatusLine;
use crate::watch::Watcher;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Seconds of audio the recording ring holds while the spooler is away.
const RING_SECS: usize = 2;

/// Notices an audio device that went away: a stream error saying so, or no callback for
/// a while (a server that died takes its stream with it without a word).
struct DeviceWatch {
    frames: u64,
    errors: u64,
    since: Instant,
}

impl DeviceWatch {
    /// Seconds without a callback before the device counts as gone (longer before the
    /// first one: opening may be slow).
    const QUIET: f32 = 2.0;
    const FIRST: f32 = 10.0;

    fn new() -> Self {
        DeviceWatch {
            frames: 0,
            errors: 0,
            since: Instant::now(),
        }
    }

    fn lost(&mut self, stats: &PlayStats) -> Option<String> {
        use cpal::ErrorKind::{DeviceNotAvailable, StreamInvalidated};
        if stats.errors.load(Relaxed) > 0
            && matches!(
                stats.last_error_kind(),
                DeviceNotAvailable | StreamInvalidated
            )
        {
            return Some(format!(
                "the audio device went away ({})",
                stats.last_error_kind()
            ));
        }
        let f = stats.frames.load(Relaxed);
        let errors = stats.errors.load(Relaxed);
        if f != self.frames {
            self.frames = f;
            self.errors = errors;
            self.since = Instant::now();
            return None;
        }
        let quiet = self.since.elapsed().as_secs_f32();
        if f > 0 && errors > self.errors && quiet > 0.5 {
            // Errors instead of callbacks: the host lost the device.
            return Some(format!(
                "the audio device failed ({}; no callback for {quiet:.1} s)",
                stats.last_error_kind()
            ));
        }
        let limit = if f == 0 { Self::FIRST } else { Self::QUIET };
        (quiet > limit).then(|| {
            format!("the audio device stopped asking for sound ({quiet:.1} s without a callback)")
        })
    }
}

/// Where settings come from while playing: the file to watch and how to re-read it (with
/// the command-line flags applied over it again).
pub struct Settings<'a> {
    pub path: Option<PathBuf>,
    pub reload: &'a dyn Fn() -> Result<Config, String>,
    pub overrides: &'a script::Overrides,
}

/// Plays `file` in real time, or renders it offline when playback is off or impossible.
pub fn play(
    file: &Path,
    cfg: &Config,
    duration: Option<f64>,
    settings: &Settings,
) -> Result<(), String> {
    if !cfg.play_in_real_time {
        crate::tell!("play_in_real_time = false: rendering offline");
        return offline(file, cfg, duration, settings.overrides);
    }
    let stop = crate::stop::stop_flag();
    // Compile before touching the device: a script error must not open a stream.
    let compiled = script::compile_file_with(file, cfg.sample_rate as f64, settings.overrides)
        .map_err(|d| d.render(None))?;
    script::print_warnings(&compiled.warnings);
    let choice = match output::choose(
        &cfg.audio_host,
        &cfg.audio_device,
        cfg.sample_rate,
        cfg.buffer_size,
    ) {
        Ok(c) => c,
        Err(e) => return no_device(&e, file, cfg, duration, settings.overrides),
    };
    for n in &choice.notes {
        crate::tell!("note: {n}");
    }
    let sr = choice.config.sample_rate;
    let spec = if sr == cfg.sample_rate {
        compiled.spec
    } else {
        script::compile_file_with(file, sr as f64, settings.overrides)
            .map_err(|d| d.render(None))?
            .spec
    };
    let seconds = duration.or(spec.duration);
    let end = seconds.map(|s| ((s + cfg.release_tail) * sr as f64).round() as u64);
    let (mut graph, meta) = graph::compile(&spec, sr as f32);
    let monitors = MonitorView::new(meta.monitors.clone());
    let mut stems = StemSlots::for_recording(meta.track_names.len(), cfg.record_real_time);
    for n in stems.assign(&meta.track_names, &mut graph) {
        crate::tell!("{n}");
    }
    let (slots, channels) = (stems.capacity(), stems.channels());
    let (control, ends) = commands::channel();
    let mut live = Live::new(file, sr, control, (&spec, &meta), compiled.files, stems)
        .with_overrides(settings.overrides.clone());
    let mut renderer = Renderer::new(graph, sr as f32, cfg.master_gain as f32);
    renderer.set_stem_slots(slots);
    renderer.attach(ends);
    renderer.set_clock_always(cfg.midi_clock);
    let persist = cfg
        .midi_persist_cc
        .then(|| Path::new(&cfg.output_dir).join(crate::midi::persist::FILE));
    let (mut knobs, warning) = crate::midi::persist::Store::open(persist);
    if let Some(w) = warning {
        crate::tell!("{w}");
    }
    renderer.share_cc(knobs.shared.clone());
    let midi = crate::io::midi_in::open(&cfg.midi_input);
    crate::tell!("{}", midi.line);
    let mut cfg = cfg.clone();
    let watched = |live: &Live| {
        let mut f = live.files.clone();
        f.extend(settings.path.clone());
        f
    };
    let mut watcher = if cfg.hot_reload {
        match Watcher::new(&watched(&live)) {
            Ok(w) => Some(w),
            Err(e) => {
                crate::tell!(
                    "warning: cannot watch files for edits ({e}); playing without hot reload"
                );
                None
            }
        }
    } else {
        None
    };

    let (tap, spool, journal) = if cfg.record_real_time {
        let (t, s) = tap::recorder(RING_SECS * sr as usize, channels);
        // Crash safety: the spooler also appends the take to output_dir/.NAME.journal.
        let dir = Path::new(&cfg.output_dir);
        let (s, j) = journal::attach(s, dir, &cfg.recording_filename, sr, live.stems.names())
            .map_err(|e| format!("error: cannot record: {e}"))?;
        (Some(t), Some(s.spawn()), j)
    } else {
        (None, None, None)
    };
    let rec_stats = spool.as_ref().map(|s| s.stats());
    let stats = Arc::new(PlayStats::default());
    // The scope and the monitor lines are drawn only on a terminal.
    let terminal = std::io::stderr().is_terminal();
    let scope = terminal.then(|| Arc::new(ScopeRing::new()));
    let cb = Callback::new(renderer, tap, end, stats.clone())
        .with_scope(scope.clone())
        .with_midi(midi.inbox);
    // Kept open while playing; dropped (ports closed) after the stream stops.
    let midi_ports = midi.input;
    let stream = match output::start(&choice, cb, stats.clone(), stop.clone()) {
        Ok(s) => s,
        Err(e) => {
            drop(spool);
            return no_device(&e, file, &cfg, duration, settings.overrides);
        }
    };
    let buffer = match choice.config.buffer_size {
        cpal::BufferSize::Fixed(n) => format!("{n}-frame buffer requested"),
        cpal::BufferSize::Default => "default buffer".into(),
    };
    crate::tell!(
        "Playing {} on {} ({} host, {sr} Hz, {buffer}){}; Ctrl-C stops",
        file.display(),
        choice.name,
        choice.host,
        if spool.is_some() { ", recording" } else { "" }
    );

    let started = Instant::now();
    let mut status = StatusLine::new(terminal, Screen::new(terminal, sr, scope, monitors));
    let mut device = DeviceWatch::new();
    crate::fault::start_threads();
    // A panic in the loop below must not lose the take: it is caught, and the shutdown
    // path after it runs as for Ctrl-C. (Panics on other threads set the stop flag.)
    let looped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        while !stop.load(Relaxed) && !stats.finished.load(Relaxed) {
            std::thread::sleep(Duration::from_millis(5));
            crate::fault::control_tick(started.elapsed());
            if let Some(why) = device.lost(&stats) {
                status.clear();
                crate::tell!("error: {why}; stopping and saving what was played");
                break;
            }
            let mut log = Vec::new();
            if let Some(w) = watcher.as_mut() {
                let changed = w.poll();
                log.extend(w.take_notices());
                if !changed.is_empty() {
                    let seen = Instant::now();
                    let config_changed = settings
                        .path
                        .as_ref()
                        .and_then(|p| p.canonicalize().ok())
                        .is_some_and(|c| {
                            changed
                                .iter()
                                .any(|f| f.canonicalize().ok().as_ref() == Some(&c))
                        });
                    if config_changed {
                        log.extend(apply_settings(&mut cfg, settings, &mut live));
                    }
                    if changed
                        .iter()
                        .any(|f| Some(f) != settings.path.as_ref() || !config_changed)
                    {
                        log.extend(live.reload(&changed, &cfg, seen));
                    }
                    w.set_files(&watched(&live));
                }
            }
            log.extend(live.tick());
            log.extend(crate::engine::no_alloc::report());
            log.extend(knobs.save(false));
            log.extend(journal.as_ref().and_then(|j| j.tick(live.stems.names())));
            if let Some(t) = live.sent_monitors.take() {
                status.screen.monitors.offer(t);
            }
            if !log.is_empty() {
                status.clear();
                for l in log {
                    crate::tell!("{}", l.trim_end());
                }
            }
            let played = stats.frames.load(Relaxed) as f64 / sr as f64;
            let rec = rec_stats.as_ref().map(|r| r.seconds(sr));
            status.update(
                played,
                seconds,
                &stats,
                rec,
                live.last.as_deref(),
                cfg.show_scope,
            );
        }
    }));
    if let Err(panic) = looped {
        status.clear();
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        crate::tell!(
            "error: waves hit an internal error ({what}); stopping and saving what was played"
        );
    }
    // The one shutdown path: stop the callbacks, then drain and save.
    drop(stream);
    if let Some(l) = crate::engine::no_alloc::report() {
        crate::tell!("{l}");
    }
    if let Some(m) = midi_ports {
        let dropped = m.dropped.load(Relaxed);
        if dropped > 0 {
            crate::tell!(
                "warning: {dropped} MIDI messages were dropped (they came faster than they were played)"
            );
        }
    }
    if let Some(w) = knobs.save(true) {
        crate::tell!("{w}");
    }
    status.clear();
    let wall = started.elapsed().as_secs_f64();
    let frames = stats.frames.load(Relaxed);
    crate::say!(
        "Played {:.2} s of audio in {wall:.2} s",
        frames as f64 / sr as f64
    );
    let xruns = stats.xruns.load(Relaxed);
    let nonfinite = stats.nonfinite.load(Relaxed);
    let clipped = stats.clipped.load(Relaxed);
    if nonfinite > 0 {
        crate::tell!("warning: {nonfinite} NaN/infinite samples were silenced at the device");
    }
    if clipped > 0 {
        crate::tell!(
            "note: {} beyond full scale clipped at the device (the recording keeps them)",
            crate::plural(clipped, "sample")
        );
    }
    if xruns > 0 {
        crate::tell!("note: the audio host reported {xruns} xruns (buffer under/overruns)");
    }
    let errors = stats.errors.load(Relaxed);
    if errors > 0 {
        crate::tell!(
            "note: the audio host reported {errors} stream errors (last: {})",
            stats.last_error_kind()
        );
    }
    if let Some(handle) = spool {
        let take = handle.stop();
        // Each reload becomes a marker at its frame, so the take can be cut at its edits.
        let frames = take.frames() as u64;
        let cues: Vec<cue::Cue> = live
            .applied
            .iter()
            .filter(|a| a.frame <= frames && a.frame <= u32::MAX as u64)
            .map(|a| cue::Cue {
                frame: a.frame as u32,
                label: format!("reload {}", a.label),
            })
            .collect();
        let to = save::Destination {
            dir: Path::new(&cfg.output_dir),
            name: &cfg.recording_filename,
            sample_rate: sr,
            tracks: live.stems.names(),
        };
        save::finish_take(crate::record::disk::REAL, &take, &to, journal, &cues)
            .map_err(|e| format!("error: the recording could not be saved: {e}"))?;
    }
    Ok(())
}

/// config.rhai changed: apply what can change while playing, say what needs a restart.
fn apply_settings(cfg: &mut Config, settings: &Settings, live: &mut Live) -> Vec<String> {
    let new = match (settings.reload)() {
        Ok(c) => c,
        Err(e) => return vec![format!("{}\nthe previous settings stay", e.trim_end())],
    };
    let mut log = Vec::new();
    if new.master_gain != cfg.master_gain {
        live.master_gain(new.master_gain as f32);
        log.push(format!("✓ master_gain = {}", new.master_gain));
    }
    if new.show_scope != cfg.show_scope {
        log.push(format!("✓ show_scope = {}", new.show_scope));
    }
    let restart: [(&str, bool); 9] = [
        ("memory_limit", new.memory_limit != cfg.memory_limit),
        ("sample_rate", new.sample_rate != cfg.sample_rate),
        ("buffer_size", new.buffer_size != cfg.buffer_size),
        ("audio_device", new.audio_device != cfg.audio_device),
        ("audio_host", new.audio_host != cfg.audio_host),
        ("midi_input", new.midi_input != cfg.midi_input),
        (
            "record_real_time",
            new.record_real_time != cfg.record_real_time,
        ),
        (
            "play_in_real_time",
            new.play_in_real_time != cfg.play_in_real_time,
        ),
        ("hot_reload", new.hot_reload != cfg.hot_reload),
    ];
    for (name, changed) in restart {
        if changed {
            log.push(format!(
                "note: `{name}` takes effect at the next start; playing on"
            ));
        }
    }
    let keep = (
        cfg.sample_rate,
        cfg.buffer_size,
        cfg.audio_device.clone(),
        cfg.audio_host.clone(),
        cfg.midi_input.clone(),
        cfg.record_real_time,
        cfg.play_in_real_time,
        cfg.hot_reload,
        cfg.memory_limit,
    );
    *cfg = new;
    (
        cfg.sample_rate,
        cfg.buffer_size,
        cfg.audio_device,
        cfg.audio_host,
        cfg.midi_input,
        cfg.record_real_time,
        cfg.play_in_real_time,
        cfg.hot_reload,
        cfg.memory_limit,
    ) = keep;
    if log.is_empty() {
        log.push("✓ settings reloaded".into());
    }
    log
}

fn offline(
    file: &Path,
    cfg: &Config,
    duration: Option<f64>,
    ov: &script::Overrides,
) -> Result<(), String> {
    crate::render::render_script(
        file,
        None,
        crate::record::wav::Format::F32,
        cfg,
        duration,
        ov,
        crate::render::Execution::default(),
    )
    .map(|_| ())
}

fn no_device(
    err: &str,
    file: &Path,
    cfg: &Config,
    duration: Option<f64>,
    ov: &script::Overrides,
) -> Result<(), String> {
    // A device or host the user named is a request: playing something else, or rendering
    // over a file instead, would hide the mistake.
    if !cfg.audio_device.is_empty() || !cfg.audio_host.is_empty() {
        return Err(format!(
            "error: {err}
hint: `waves devices` lists this machine's outputs; nothing was played or written"
        ));
    }
    crate::tell!(
        "no audio output ({err}): rendering offline instead; start an audio server, choose a device with --device (see `waves devices`), or set play_in_real_time = false"
    );
    offline(file, cfg, duration, ov)
}
