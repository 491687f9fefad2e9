//! Command-line interface: parses flags, merges them over config.rhai and runs a command;
//! main (control) thread.

use crate::config::{self, Config};
use crate::graph;
use crate::record::wav::Format;
use crate::render;
use crate::script::{self, Overrides};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "waves",
    version,
    about = "Live-coding synthesizer: Rhai sound scripts, played, rendered and recorded",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Script to play (same as `waves play FILE`).
    pub file: Option<PathBuf>,
    /// Script parameters to set, e.g. `tune=80` (see `waves check --params FILE`).
    #[arg(value_name = "NAME=VALUE")]
    pub values: Vec<String>,
    #[command(flatten)]
    pub play: PlayFlags,
}

/// The settings file, for every command that reads it.
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigFlag {
    /// Settings file (default: ./config.rhai when present, else built-in defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// What both playing and rendering take: how long, at what rate, with which parameters.
#[derive(Args, Debug, Clone, Default)]
pub struct SoundFlags {
    #[command(flatten)]
    pub config: ConfigFlag,
    /// Sample rate in Hz.
    #[arg(long, value_name = "HZ")]
    pub sample_rate: Option<u32>,
    /// Length in seconds (overrides the script's duration()).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Sets a script parameter declared with param(..) (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
}

/// Playing in real time: the device, recording, MIDI, watching, the scope.
#[derive(Args, Debug, Clone, Default)]
pub struct PlayFlags {
    #[command(flatten)]
    pub sound: SoundFlags,
    /// Record what is played.
    #[arg(long, overrides_with = "no_record")]
    pub record: bool,
    /// Do not record, whatever config.rhai says.
    #[arg(long)]
    pub no_record: bool,
    /// Recording file name inside output_dir.
    #[arg(long, value_name = "NAME")]
    pub output: Option<String>,
    /// Part of an output device name (see `waves devices`).
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// Audio host: "alsa", "jack" (with the jack feature); default: the platform's.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Part of a MIDI input port name ("none" = off).
    #[arg(long, value_name = "PORT")]
    pub midi: Option<String>,
    /// Do not watch files for changes.
    #[arg(long)]
    pub no_watch: bool,
    /// Draw a live oscilloscope of the output above the status line.
    #[arg(long)]
    pub scope: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Play a script in real time.
    Play {
        file: PathBuf,
        /// Script parameters to set, e.g. `tune=80`.
        #[arg(value_name = "NAME=VALUE")]
        values: Vec<String>,
        #[command(flatten)]
        flags: PlayFlags,
    },
    /// Render a script offline to a WAV file, as fast as possible.
    Render {
        file: PathBuf,
        /// Output WAV path, replaced if it exists (default: the first free <output_dir>/<script name>.wav, _2.wav, …).
        #[arg(short = 'o', long = "out", value_name = "FILE.wav")]
        out: Option<PathBuf>,
        /// Sample format: f32, i24 or i16.
        #[arg(long, default_value = "f32")]
        format: String,
        /// The compiler's passes to run: `all` (default), `none`, or a list of `shared`,
        /// `sums`, `lanes`, `voices` (to measure what each one buys).
        #[arg(long, default_value = "all", value_name = "LIST")]
        passes: String,
        /// Threads to render with: 1, or 2 to run the graph as two stages side by side when
        /// that is faster (the samples are the same). Default: 2 on a machine with two cores.
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        /// Script parameters to set, e.g. `tune=80`.
        #[arg(value_name = "NAME=VALUE")]
        values: Vec<String>,
        #[command(flatten)]
        flags: SoundFlags,
    },
    /// Compile scripts without playing them; exit 1 on any error.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// List each script's parameters (name = value, default, range).
        #[arg(long)]
        params: bool,
        /// Print the graph the compiler made: nodes before and after, what each pass did,
        /// then every node in processing order.
        #[arg(long)]
        graph: bool,
        /// Sets a script parameter declared with param(..) (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
    },
    /// List the example scripts, each with its first comment line.
    Examples,
    /// Print the language reference (Markdown), generated from the function table.
    Reference,
    /// Run a language server over stdio for editors (diagnostics, completion, hover, signatures, go-to-definition)
    Lsp,
    /// List audio outputs (the default marked) and MIDI inputs.
    Devices,
    /// Save the takes that a killed or crashed `waves play --record` left as journals.
    Recover {
        /// Folder holding the journals (default: output_dir from config.rhai).
        dir: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigFlag,
    },
    /// Print a shell completion script: `waves completions bash > ~/.local/share/bash-completion/completions/waves`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// Every setting a command line can give, merged over config.rhai by `settings`.
#[derive(Debug, Clone, Default)]
pub struct Common {
    pub config: Option<PathBuf>,
    pub record: bool,
    pub no_record: bool,
    pub output: Option<String>,
    pub device: Option<String>,
    pub host: Option<String>,
    pub midi: Option<String>,
    pub sample_rate: Option<u32>,
    pub duration: Option<f64>,
    pub no_watch: bool,
    pub set: Vec<String>,
    pub scope: bool,
}

impl From<SoundFlags> for Common {
    fn from(f: SoundFlags) -> Self {
        Common {
            config: f.config.config,
            sample_rate: f.sample_rate,
            duration: f.duration,
            set: f.set,
            ..Default::default()
        }
    }
}

impl From<PlayFlags> for Common {
    fn from(f: PlayFlags) -> Self {
        Common {
            record: f.record,
            no_record: f.no_record,
            output: f.output,
            device: f.device,
            host: f.host,
            midi: f.midi,
            no_watch: f.no_watch,
            scope: f.scope,
            ..f.sound.into()
        }
    }
}

/// The commands, for "did you mean" when a first word is neither a command nor a file.
const COMMANDS: &[&str] = &[
    "play",
    "render",
    "check",
    "examples",
    "reference",
    "devices",
    "recover",
    "completions",
    "lsp",
    "help",
];

/// What `waves` alone prints: enough to start, and where the rest is.
const SHORT_HELP: &str = "waves: a live-coding synthesizer. Start with the tour:

    waves scripts/tour.rhai          play it, then edit the file and save

  waves FILE.rhai                    play a script in real time (Ctrl-C stops)
  waves render FILE.rhai             render it offline to output/NAME.wav
  waves check FILE.rhai              find the mistakes without playing
  waves examples                     the example scripts, one line each
  waves reference                    every function, with an example
  waves --help                       every command and flag
";

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    // libasound prints its own errors to stderr while devices are probed (no card, no
    // sequencer); waves reports what matters in one line, so keep that chatter in a buffer.
    #[cfg(target_os = "linux")]
    let _alsa_quiet = alsa::Output::local_error_handler();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match run(cli) {
        Ok(()) => 0,
        Err(msg) => {
            crate::tell_raw!("{msg}");
            if !msg.ends_with('\n') {
                crate::tell!();
            }
            1
        }
    }
}

/// Loads config.rhai and applies the flags over it.
pub fn settings(common: &Common) -> Result<Config, String> {
    let mut c = match config_path(common) {
        Some(p) => {
            let loaded = config::load(&p).map_err(|d| d.render(None))?;
            for w in loaded.warnings {
                crate::tell!("{w}");
            }
            loaded.config
        }
        None => Config::default(),
    };
    if common.record {
        c.record_real_time = true;
    }
    if common.no_record {
        c.record_real_time = false;
    }
    if let Some(o) = &common.output {
        config::check_file_name(o).map_err(|why| format!("error: --output {o:?} {why}"))?;
        wav_name(Path::new(o), "--output")?;
        c.recording_filename = o.clone();
    }
    if let Some(d) = &common.device {
        c.audio_device = d.clone();
    }
    if let Some(h) = &common.host {
        c.audio_host = h.clone();
    }
    if let Some(m) = &common.midi {
        c.midi_input = m.clone();
    }
    if let Some(sr) = common.sample_rate {
        if !(8000..=384_000).contains(&sr) {
            return Err(format!("error: --sample-rate {sr} is outside 8000..384000"));
        }
        c.sample_rate = sr;
    }
    if common.no_watch {
        c.hot_reload = false;
    }
    if common.scope {
        c.show_scope = true;
    }
    if let Some(d) = common.duration
        && !(d > 0.0 && d <= 86_400.0)
    {
        return Err(format!(
            "error: --duration {d} must be between 0 and 86400 seconds"
        ));
    }
    Ok(c)
}

/// The parameter values from `--set NAME=VALUE` and from `NAME=VALUE` after the file.
pub fn overrides(common: &Common, values: &[String]) -> Result<Overrides, String> {
    let all: Vec<&String> = common.set.iter().chain(values).collect();
    Overrides::parse(&all).map_err(|e| format!("error: {e}"))
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Some(Command::Check {
            files,
            params,
            graph,
            set,
        }) => {
            let common = Common {
                set,
                ..Default::default()
            };
            check(&files, params, graph, &overrides(&common, &[])?)
        }
        Some(Command::Devices) => {
            for l in crate::io::output::list_outputs() {
                crate::say!("{l}");
            }
            for l in crate::io::list_midi_inputs() {
                crate::say!("{l}");
            }
            Ok(())
        }
        Some(Command::Examples) => examples(),
        Some(Command::Recover { dir, config }) => {
            let dir = match dir {
                Some(d) => d,
                None => {
                    let common = Common {
                        config: config.config,
                        ..Default::default()
                    };
                    PathBuf::from(settings(&common)?.output_dir)
                }
            };
            crate::record::journal::recover(&dir).map_err(|e| format!("error: {e}"))
        }
        Some(Command::Lsp) => crate::lsp::run_stdio(),
        Some(Command::Reference) => {
            print!("{}", script::dsl::reference_markdown());
            Ok(())
        }
        Some(Command::Completions { shell }) => {
            use clap::CommandFactory;
            let mut out = std::io::stdout();
            clap_complete::generate(shell, &mut Cli::command(), "waves", &mut out);
            Ok(())
        }
        Some(Command::Render {
            file,
            out,
            format,
            values,
            passes,
            threads,
            flags,
        }) => {
            let common = Common::from(flags);
            let cfg = settings(&common)?;
            let ov = overrides(&common, &values)?.with_memory_limit(cfg.memory_limit);
            let format = Format::parse(&format)
                .ok_or_else(|| format!("error: --format {format:?}: use f32, i24 or i16"))?;
            if let Some(o) = &out {
                wav_name(o, "-o")?;
            }
            let passes =
                graph::Passes::parse(&passes).map_err(|e| format!("error: --passes: {e}"))?;
            let mut how = render::Execution {
                passes,
                ..Default::default()
            };
            match threads {
                Some(0) => return Err("error: --threads must be at least 1".into()),
                Some(n) => how.threads = n,
                None => {}
            }
            render::render_script(
                &file,
                out.as_deref(),
                format,
                &cfg,
                common.duration,
                &ov,
                how,
            )
            .map(|_| ())
        }
        Some(Command::Play {
            file,
            values,
            flags,
        }) => {
            let common = Common::from(flags);
            play(&file, &common, &overrides(&common, &values)?)
        }
        None => match cli.file {
            Some(file) => {
                not_a_command(&file)?;
                let common = Common::from(cli.play);
                play(&file, &common, &overrides(&common, &cli.values)?)
            }
            None => {
                crate::tell_raw!("{SHORT_HELP}");
                Ok(())
            }
        },
    }
}

/// A first word that is no file and looks like a mistyped command (`waves rendr x.rhai`)
/// is answered as one, not as a missing script.
fn not_a_command(file: &Path) -> Result<(), String> {
    let word = file.to_string_lossy();
    if file.exists() || word.contains(['/', '.', '\\']) {
        return Ok(());
    }
    // Two slips (a swap counts as one) still name the command: `chekc`, `rendr`.
    let near = COMMANDS
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&word, c), *c))
        .filter(|(d, c)| *d <= 2 && *d < c.len() / 2 + 1)
        .min();
    match near.map(|(_, c)| c) {
        Some(c) => Err(format!(
            "error: `{word}` is not a command or a script; did you mean `waves {c}`?"
        )),
        None => Err(format!(
            "error: `{word}` is not a command or a script (commands: {}; a script ends in .rhai)",
            COMMANDS.join(", ")
        )),
    }
}

/// waves writes WAV files only: a name for another audio format (`-o take.mp3`) is refused
/// rather than filled with WAV data under a misleading name.
pub fn wav_name(name: &Path, flag: &str) -> Result<(), String> {
    match config::other_audio_format(&name.to_string_lossy()) {
        Some(e) => Err(format!(
            "error: {flag} {}: waves writes WAV files only, not .{e}; name it .wav (and convert it afterwards, e.g. with ffmpeg or sox)",
            name.display()
        )),
        None => Ok(()),
    }
}

/// Lists the example scripts with their first comment line: those in ./scripts, else in
/// the folder this copy of waves was built from.
fn examples() -> Result<(), String> {
    let dirs = [
        PathBuf::from("scripts"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts"),
    ];
    let dir = dirs
        .iter()
        .find(|d| d.is_dir())
        .ok_or("error: no scripts/ folder here or where waves was built; the examples live in the waves repository's scripts/")?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("error: {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    files.sort();
    let width = files
        .iter()
        .map(|f| f.display().to_string().len())
        .max()
        .unwrap_or(0);
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let about = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("//"))
            .map(|l| l.trim())
            .unwrap_or("");
        // "// scripts/tour.rhai — the first session": the name is already in the first column.
        let about = about.split_once(" — ").map_or(about, |(_, rest)| rest);
        crate::say!("{:width$}  {about}", f.display().to_string());
    }
    crate::say!("play one: waves {}", dir.join("tour.rhai").display());
    Ok(())
}

fn play(file: &Path, common: &Common, overrides: &Overrides) -> Result<(), String> {
    let cfg = settings(common)?;
    // Changing memory_limit while playing needs a restart (it is read once, here).
    let overrides = &overrides.clone().with_memory_limit(cfg.memory_limit);
    let reload = || settings(common);
    let s = crate::play::Settings {
        path: config_path(common),
        reload: &reload,
        overrides,
    };
    crate::play::play(file, &cfg, common.duration, &s)
}

/// The settings file in use: `--config PATH`, else ./config.rhai when present.
pub fn config_path(common: &Common) -> Option<PathBuf> {
    match &common.config {
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from("config.rhai")).filter(|p| p.exists()),
    }
}

/// Compiles each file (with `overrides`); with `params` lists each one's parameters
/// instead of the `ok:` line, with `graph` what the compiler made of it.
fn check(
    files: &[PathBuf],
    params: bool,
    graph: bool,
    overrides: &Overrides,
) -> Result<(), String> {
    // `waves check kick.rhai tune=80` would read tune=80 as a script.
    if let Some(f) = files
        .iter()
        .find(|f| !f.exists() && script::params::parse_assignment(&f.to_string_lossy()).is_ok())
    {
        let f = f.display();
        return Err(format!(
            "error: {f} is not a script; `waves check` sets parameters with --set {f}"
        ));
    }
    let mut failed = 0;
    for f in files {
        let compiled = script::compile_file_with(f, 48000.0, overrides);
        if let Ok(c) = &compiled {
            script::print_warnings(&c.warnings);
        }
        match compiled {
            Ok(c) if params => {
                for line in script::params::listing(&f.display().to_string(), &c.params) {
                    crate::say!("{line}");
                }
            }
            Ok(c) if graph => {
                for line in graph::listing(&f.display().to_string(), &c.spec) {
                    crate::say!("{line}");
                }
            }
            Ok(c) => {
                let imports = c.files.len() - 1;
                crate::say!(
                    "ok: {} ({} nodes{})",
                    f.display(),
                    c.spec.nodes.len(),
                    if imports > 0 {
                        format!(", {imports} imported files")
                    } else {
                        String::new()
                    }
                );
            }
            Err(d) => {
                crate::tell_raw!("{}", d.render(None));
                failed += 1;
            }
        }
    }
    if failed > 0 {
        Err(format!("{failed} of {} scripts failed", files.len()))
    } else {
        Ok(())
    }
}
