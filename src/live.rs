//! Hot reload on the control thread: recompiles what was edited, sends the finished graph
//! to the audio thread, frees the graphs it hands back, and keeps the reload log (including
//! the recording's cue markers).

use crate::config::{self, Config};
use crate::dsp::monitor::MonitorTable;
use crate::engine::commands::{Command, Control, Swap};
use crate::graph::{self, GraphSpec, ParamSlot};
use crate::record::stems::StemSlots;
use crate::script;
use ringbuf::traits::{Consumer, Observer, Producer};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A reload that reached the audio thread: where it landed, for the recording's markers.
#[derive(Clone, Debug)]
pub struct Applied {
    pub frame: u64,
    pub label: String,
}

pub struct Live {
    file: PathBuf,
    sample_rate: u32,
    /// Parameter values from the command line: every reload compiles with them.
    overrides: script::Overrides,
    control: Control,
    /// The spec node each op of the graph most recently sent runs: with `spec`, what the
    /// next graph is matched against to carry state.
    nodes: Vec<graph::OpOrigin>,
    /// Spec and parameter slots of that graph; an edit of numbers only replaces the spec
    /// in place (same nodes, same indices).
    spec: GraphSpec,
    params: HashMap<(u32, u32), ParamSlot>,
    /// Script and imported files of the last good compile.
    pub files: Vec<PathBuf>,
    next_id: u64,
    /// Swaps sent and not yet applied: id, when the edit was seen, label.
    in_flight: Vec<(u64, Instant, String)>,
    pub applied: Vec<Applied>,
    /// Save-to-swap latencies in milliseconds (for the figures in docs/PERFORMANCE.md).
    pub latencies_ms: Vec<f64>,
    /// Short status for the status line.
    pub last: Option<String>,
    /// Which recording channels each track goes to (live stems), kept across reloads.
    pub stems: StemSlots,
    /// The monitor table of the graph last sent, until the display takes it.
    pub sent_monitors: Option<Arc<MonitorTable>>,
}

impl Live {
    pub fn new(
        file: &Path,
        sample_rate: u32,
        control: Control,
        playing: (&GraphSpec, &graph::GraphMeta),
        files: Vec<PathBuf>,
        stems: StemSlots,
    ) -> Self {
        Live {
            file: file.to_path_buf(),
            sample_rate,
            overrides: script::Overrides::new(),
            control,
            nodes: playing.1.nodes.clone(),
            spec: playing.0.clone(),
            params: playing.1.params.clone(),
            files,
            next_id: 1,
            in_flight: Vec::new(),
            applied: Vec::new(),
            latencies_ms: Vec::new(),
            last: None,
            stems,
            sent_monitors: None,
        }
    }

    /// Compiles every reload with these parameter values (`waves FILE tune=80`). An edit
    /// that drops a parameter one of them names fails like any other script error, and the
    /// sound playing keeps playing.
    pub fn with_overrides(mut self, overrides: script::Overrides) -> Self {
        self.overrides = overrides;
        self
    }

    /// Reacts to edited files; returns lines for the log.
    pub fn reload(&mut self, changed: &[PathBuf], cfg: &Config, seen: Instant) -> Vec<String> {
        let label = changed
            .iter()
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if !self.file.exists() {
            self.last = Some(format!("✗ {} is gone", self.file.display()));
            return vec![format!(
                "{} was deleted or moved; the current sound keeps playing",
                self.file.display()
            )];
        }
        let sr = self.sample_rate as f64;
        let compiled = match script::compile_file_with(&self.file, sr, &self.overrides) {
            Ok(c) => c,
            Err(d) => {
                self.last = Some(format!("✗ error at {}", d.location()));
                let mut out = d.render(None);
                out.push_str("the previous version keeps playing");
                return vec![out];
            }
        };
        // Warnings come with every version that has them, as the error would.
        let mut lines: Vec<String> = compiled
            .warnings
            .iter()
            .map(|w| w.render_warning(None).trim_end().to_string())
            .collect();
        lines.extend(self.apply(compiled, label, cfg, seen));
        lines
    }

    /// Sends a compiled version to the audio thread: numbers glide, anything else swaps.
    fn apply(
        &mut self,
        compiled: script::Compiled,
        label: String,
        cfg: &Config,
        seen: Instant,
    ) -> Vec<String> {
        let fade_frames = (cfg.crossfade_ms / 1000.0 * self.sample_rate as f64).round() as u32;
        let id = self.next_id;
        // Only numbers changed: glide them in place, no rebuild (not while a rebuilt graph is
        // still on its way, whose slots the audio thread does not have yet).
        let beats = compiled
            .spec
            .reload_beats
            .or_else(|| config::quantize_beats(&cfg.reload_quantize))
            .unwrap_or(0.0);
        // A quantized edit waits for its beat as a swap; glides start at once.
        if beats == 0.0
            && self.in_flight.is_empty()
            && let Some(changes) = graph::param_changes(&self.spec, &compiled.spec)
        {
            if changes.is_empty() {
                self.files = compiled.files;
                // The file compiles again (it may have been fixed back to what plays): an
                // error shown before is over.
                self.last = Some("✓ unchanged".into());
                return vec![format!("{label}: saved, the sound is unchanged")];
            }
            let slots: Option<Vec<_>> = changes
                .iter()
                .map(|(at, v)| self.params.get(at).map(|s| (*s, *v)))
                .collect();
            if let Some(slots) = slots
                && self.control.commands.vacant_len() > slots.len() + 1
            {
                for (slot, value) in slots {
                    let _ = self.control.commands.try_push(Command::Param {
                        slot,
                        value,
                        frames: fade_frames.max(1),
                    });
                }
                let _ = self.control.commands.try_push(Command::Mark(id));
                self.next_id += 1;
                self.spec = compiled.spec;
                self.files = compiled.files;
                self.in_flight.push((
                    id,
                    seen,
                    format!(
                        "{label} ({})",
                        crate::plural(changes.len() as u64, "number")
                    ),
                ));
                return Vec::new();
            }
        }
        let (mut graph, meta) = graph::compile(&compiled.spec, self.sample_rate as f32);
        let notes = self.stems.assign(&meta.track_names, &mut graph);
        let plan = meta.carry_plan(&compiled.spec, &self.spec, &self.nodes);
        self.next_id += 1;
        let graph::GraphMeta {
            nodes,
            params,
            monitors,
            ..
        } = meta;
        let swap = Swap {
            graph: Some(Box::new(graph)),
            plan,
            fade_frames,
            quantum_beats: beats,
            id,
        };
        if let Err(Command::Swap(_)) = self
            .control
            .commands
            .try_push(Command::Swap(Box::new(swap)))
        {
            self.last = Some("✗ reload queue full".into());
            return vec!["the audio thread is not taking edits (queue full); try again".into()];
        }
        self.nodes = nodes;
        self.params = params;
        self.sent_monitors = Some(monitors);
        self.spec = compiled.spec;
        self.files = compiled.files;
        self.in_flight.push((id, seen, label));
        notes
    }

    /// Sets the master gain on the audio thread.
    pub fn master_gain(&mut self, g: f32) {
        let _ = self.control.commands.try_push(Command::MasterGain(g));
    }

    /// Frees returned graphs and reports swaps that landed; returns lines for the log.
    pub fn tick(&mut self) -> Vec<String> {
        while let Some(done) = self.control.garbage.try_pop() {
            drop(done);
        }
        let (id, frame) = self.control.stats.applied();
        let mut lines = Vec::new();
        while let Some(pos) = self.in_flight.iter().position(|(i, _, _)| *i <= id) {
            let (i, seen, label) = self.in_flight.remove(pos);
            if i < id {
                // Replaced by a newer edit before it was heard.
                continue;
            }
            let ms = seen.elapsed().as_secs_f64() * 1000.0;
            self.latencies_ms.push(ms);
            self.last = Some(format!("✓ reloaded in {ms:.1} ms"));
            lines.push(format!(
                "✓ reloaded {label} in {ms:.1} ms (at {:.3} s)",
                frame as f64 / self.sample_rate as f64
            ));
            self.applied.push(Applied { frame, label });
        }
        lines
    }
}
