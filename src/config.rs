//! Settings from `config.rhai` (typed, validated, overridable by flags); control thread only.

use crate::script::{Diagnostic, diag, engine};
use rhai::{Dynamic, Scope};
use std::path::Path;

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub sample_rate: u32,
    pub buffer_size: u32,
    pub master_gain: f64,
    pub output_dir: String,
    pub play_in_real_time: bool,
    pub record_real_time: bool,
    pub recording_filename: String,
    pub default_duration: f64,
    pub hot_reload: bool,
    pub crossfade_ms: f64,
    pub audio_device: String,
    /// The audio host: "" = the platform default, else part of a host name ("alsa", "jack").
    pub audio_host: String,
    pub midi_input: String,
    /// Seconds played after the piece's duration ends, so releases and echoes ring out.
    pub release_tail: f64,
    /// When edits are heard: "now", "beat" or "bar" (a script's `reload_at` wins).
    pub reload_quantize: String,
    /// A live oscilloscope above the status line (`--scope`).
    pub show_scope: bool,
    /// Knob positions (`cc`) are saved to `output_dir/.midi_cc.json` and restored at start.
    pub midi_persist_cc: bool,
    /// Every script follows an external MIDI clock, as with `tempo("midi")`.
    pub midi_clock: bool,
    /// Bytes a sound's graph may need (delay lines, reverbs, voices, samples, pattern
    /// tables); config.rhai gives it in MiB.
    pub memory_limit: u64,
}

pub use crate::script::dsl::time::quantize_beats;

impl Default for Config {
    fn default() -> Self {
        Config {
            sample_rate: 48000,
            buffer_size: 512,
            master_gain: 0.8,
            output_dir: "output".into(),
            play_in_real_time: true,
            record_real_time: false,
            recording_filename: "realtime_recording.wav".into(),
            default_duration: 4.0,
            hot_reload: true,
            crossfade_ms: 30.0,
            audio_device: String::new(),
            audio_host: String::new(),
            midi_input: String::new(),
            release_tail: 1.0,
            reload_quantize: "now".into(),
            show_scope: false,
            midi_persist_cc: false,
            midi_clock: false,
            memory_limit: crate::graph::memory::DEFAULT_MEMORY_LIMIT,
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Int(i64, i64),
    Num(f64, f64),
    Bool,
    Str,
    FileName,
}

const KEYS: &[(&str, Kind)] = &[
    ("sample_rate", Kind::Int(8000, 384_000)),
    ("buffer_size", Kind::Int(16, 16384)),
    ("master_gain", Kind::Num(0.0, 4.0)),
    ("output_dir", Kind::Str),
    ("play_in_real_time", Kind::Bool),
    ("record_real_time", Kind::Bool),
    ("recording_filename", Kind::FileName),
    ("default_duration", Kind::Num(0.001, 86_400.0)),
    ("hot_reload", Kind::Bool),
    ("crossfade_ms", Kind::Num(0.0, 10_000.0)),
    ("audio_device", Kind::Str),
    ("audio_host", Kind::Str),
    ("midi_input", Kind::Str),
    ("release_tail", Kind::Num(0.0, 60.0)),
    ("reload_quantize", Kind::Str),
    ("show_scope", Kind::Bool),
    ("midi_persist_cc", Kind::Bool),
    ("midi_clock", Kind::Bool),
    ("memory_limit", Kind::Int(16, 1 << 20)),
];

/// Checks a file name that must stay inside the output folder.
pub fn check_file_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.contains('/') || name.contains('\\') || name.contains('\0') {
        return Err("contains a path separator; give a plain file name".into());
    }
    if name == "." || name == ".." || name.starts_with("..") {
        return Err("would leave the output folder".into());
    }
    Ok(())
}

/// The extension of `name` when it names an audio format other than WAV (mp3, flac, …),
/// which waves does not write.
pub fn other_audio_format(name: &str) -> Option<String> {
    const OTHERS: &[&str] = &[
        "mp3", "ogg", "oga", "opus", "flac", "aif", "aiff", "aifc", "m4a", "aac", "wma", "caf",
    ];
    let ext = std::path::Path::new(name)
        .extension()?
        .to_string_lossy()
        .to_lowercase();
    OTHERS.contains(&ext.as_str()).then_some(ext)
}

/// Line and column of `let NAME` / `const NAME` in the config source.
fn find_binding(source: &str, name: &str) -> (usize, usize) {
    for (i, line) in source.lines().enumerate() {
        let t = line.trim_start();
        for kw in ["let ", "const "] {
            if let Some(rest) = t.strip_prefix(kw) {
                let rest_t = rest.trim_start();
                if rest_t.starts_with(name)
                    && !rest_t[name.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                {
                    let col = line.len() - rest_t.len() + 1;
                    return (i + 1, col);
                }
            }
        }
    }
    (0, 0)
}

/// Result of reading a config: the settings and warnings to print.
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

pub fn load(path: &Path) -> Result<Loaded, Diagnostic> {
    let shown = path.display().to_string();
    let source = crate::script::files::read_text(path, engine::MAX_SOURCE).map_err(|why| {
        let why = if why.starts_with("is ") {
            format!("the config {why}")
        } else {
            format!("cannot read the config: {why}")
        };
        Diagnostic::new(&shown, 0, 0, why)
    })?;
    parse(&source, &shown)
}

pub fn parse(source: &str, file: &str) -> Result<Loaded, Diagnostic> {
    let source = crate::script::files::strip_bom(source);
    let engine = engine::hardened();
    let names: Vec<String> = KEYS.iter().map(|(k, _)| k.to_string()).collect();
    let ast = engine
        .compile(source)
        .map_err(|e| diag::from_parse(&e, file, source, &names))?;
    let mut scope = Scope::new();
    engine
        .run_ast_with_scope(&mut scope, &ast)
        .map_err(|e| diag::from_eval(&e, file, &names))?;

    let mut c = Config::default();
    let mut warnings = Vec::new();
    for (name, _, value) in scope.iter_raw() {
        let (line, col) = find_binding(source, name);
        let Some((_, kind)) = KEYS.iter().find(|(k, _)| *k == name) else {
            let hint = diag::closest(name, &names)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            warnings.push(format!(
                "warning: {file}:{line}:{col}: unknown setting `{name}` is ignored{hint}"
            ));
            continue;
        };
        let bad = |what: &str| {
            Diagnostic::new(
                file,
                line,
                col,
                format!("`{name}` must be {what}, but it is {}", describe(value)),
            )
        };
        match *kind {
            Kind::Int(lo, hi) => {
                let v = value.as_int().map_err(|_| bad("a whole number"))?;
                if !(lo..=hi).contains(&v) {
                    return Err(bad(&format!("between {lo} and {hi}")));
                }
                match name {
                    "sample_rate" => c.sample_rate = v as u32,
                    "memory_limit" => c.memory_limit = v as u64 * 1024 * 1024,
                    _ => c.buffer_size = v as u32,
                }
            }
            Kind::Num(lo, hi) => {
                let v = value
                    .as_float()
                    .or_else(|_| value.as_int().map(|i| i as f64))
                    .map_err(|_| bad("a number"))?;
                if !(lo..=hi).contains(&v) {
                    return Err(bad(&format!("between {lo} and {hi}")));
                }
                match name {
                    "master_gain" => c.master_gain = v,
                    "default_duration" => c.default_duration = v,
                    "release_tail" => c.release_tail = v,
                    _ => c.crossfade_ms = v,
                }
            }
            Kind::Bool => {
                let v = value.as_bool().map_err(|_| bad("true or false"))?;
                match name {
                    "play_in_real_time" => c.play_in_real_time = v,
                    "record_real_time" => c.record_real_time = v,
                    "show_scope" => c.show_scope = v,
                    "midi_persist_cc" => c.midi_persist_cc = v,
                    "midi_clock" => c.midi_clock = v,
                    _ => c.hot_reload = v,
                }
            }
            Kind::Str | Kind::FileName => {
                let v = value
                    .clone()
                    .into_string()
                    .map_err(|_| bad("a string in quotes"))?;
                if let Kind::FileName = kind {
                    check_file_name(&v).map_err(|why| {
                        Diagnostic::new(file, line, col, format!("`{name}` {why}"))
                    })?;
                    if let Some(ext) = other_audio_format(&v) {
                        return Err(Diagnostic::new(
                            file,
                            line,
                            col,
                            format!(
                                "`{name}` is a .{ext} name, but waves records WAV files only: name it .wav"
                            ),
                        ));
                    }
                }
                if name == "reload_quantize" && quantize_beats(&v).is_none() {
                    return Err(bad("\"now\", \"beat\" or \"bar\""));
                }
                match name {
                    "reload_quantize" => c.reload_quantize = v,
                    "output_dir" => c.output_dir = v,
                    "recording_filename" => c.recording_filename = v,
                    "audio_device" => c.audio_device = v,
                    "audio_host" => c.audio_host = v,
                    _ => c.midi_input = v,
                }
            }
        }
    }
    Ok(Loaded {
        config: c,
        warnings,
    })
}

fn describe(v: &Dynamic) -> String {
    if v.is_string() {
        format!("the string {v:?}")
    } else {
        format!("{} ({})", v, crate::script::dsl::args::type_name(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let l = parse("let master_gain = 0.5;\nlet sample_rate = 44100;", "c.rhai").unwrap();
        assert_eq!(l.config.master_gain, 0.5);
        assert_eq!(l.config.sample_rate, 44100);
        assert_eq!(l.config.buffer_size, 512);
        assert!(l.warnings.is_empty());
    }

    #[test]
    fn unknown_key_warns_with_closest_name() {
        let l = parse("let master_gian = 0.5;", "c.rhai").unwrap();
        assert_eq!(l.warnings.len(), 1);
        assert!(l.warnings[0].contains("c.rhai:1:5"), "{}", l.warnings[0]);
        assert!(l.warnings[0].contains("master_gain"), "{}", l.warnings[0]);
    }

    #[test]
    fn show_scope_is_a_setting() {
        assert!(!Config::default().show_scope);
        let l = parse("let show_scope = true;", "c.rhai").unwrap();
        assert!(l.config.show_scope);
        assert!(l.warnings.is_empty());
        let l = parse("let show_scop = true;", "c.rhai").unwrap();
        assert!(
            l.warnings[0].contains("did you mean `show_scope`"),
            "{}",
            l.warnings[0]
        );
        assert!(parse("let show_scope = 1;", "c.rhai").is_err());
    }

    #[test]
    fn wrong_type_is_an_error_at_its_line() {
        let e = parse(
            "let hot_reload = true;\nlet sample_rate = \"fast\";",
            "c.rhai",
        )
        .err()
        .unwrap();
        assert_eq!((e.line, e.col), (2, 5));
        assert!(e.message.contains("whole number"), "{}", e.message);
    }

    #[test]
    fn recording_name_cannot_escape() {
        assert!(parse("let recording_filename = \"../x.wav\";", "c.rhai").is_err());
        assert!(parse("let recording_filename = \"/tmp/x.wav\";", "c.rhai").is_err());
        assert!(parse("let recording_filename = \"take.wav\";", "c.rhai").is_ok());
    }
}
