//! Diagnostics: compiles an open document with the same compiler as `waves check` and turns
//! its error and warnings into protocol diagnostics; on the checker thread, so that a long
//! compile never holds up completion or hover on the server loop.

use super::text::{byte_of_char, ident_at, line_of, uri_of_path, utf16_of_byte};
use crate::script::{self, Diagnostic};
use lsp_server::Notification;
use lsp_types::notification::{Notification as _, PublishDiagnostics};
use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, Location, Position, Range};
use lsp_types::{PublishDiagnosticsParams, Uri};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// The rate scripts are checked at, as `waves check` does.
const SAMPLE_RATE: f64 = 48000.0;

/// A document to check: its text, version and file, or `None` once closed (its
/// diagnostics are then published empty).
pub type Job = (Uri, Option<(String, i32, PathBuf)>);

/// The thread that checks documents. When several versions of a document wait, only the
/// newest is compiled: while someone types, only the latest text is checked.
pub struct Checker {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Checker {
    pub fn start(publish: impl Fn(Notification) + Send + 'static) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("waves-lsp-check".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut latest: Vec<Job> = Vec::new();
                    for (uri, doc) in std::iter::once(first).chain(rx.try_iter()) {
                        match latest.iter_mut().find(|(u, _)| *u == uri) {
                            Some(job) => job.1 = doc,
                            None => latest.push((uri, doc)),
                        }
                    }
                    for (uri, doc) in latest {
                        let params = PublishDiagnosticsParams {
                            diagnostics: doc
                                .as_ref()
                                .map_or_else(Vec::new, |(text, _, path)| diagnostics(text, path)),
                            version: doc.as_ref().map(|d| d.1),
                            uri,
                        };
                        publish(Notification::new(
                            PublishDiagnostics::METHOD.to_string(),
                            params,
                        ));
                    }
                }
            })?;
        Ok(Checker {
            jobs: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn check(&self, job: Job) {
        if let Some(tx) = &self.jobs {
            let _ = tx.send(job);
        }
    }
}

impl Drop for Checker {
    /// Finishes what was asked (each compile is bounded), so the last diagnostics go out.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Compiles `text` as the script at `path` (imports resolve in its folder): no diagnostic
/// when it compiles, else the one error.
pub fn diagnostics(text: &str, path: &Path) -> Vec<lsp_types::Diagnostic> {
    let name = path.display().to_string();
    let root = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The compiler bounds what a script may do, but the editor sends half-typed text on
    // every key: a panic there must cost one diagnostic, not the server.
    let result = catch_unwind(AssertUnwindSafe(|| {
        script::compile_source(text, &name, &root, SAMPLE_RATE)
    }));
    match result {
        Ok(Ok(c)) => warnings(&c.warnings, text, &name).collect(),
        Ok(Err(d)) => std::iter::once(convert(&d, text, &name))
            .chain(warnings(&d.warnings, text, &name))
            .collect(),
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            vec![error_at(
                Range::default(),
                format!("internal error: the compiler failed on this script ({why})"),
            )]
        }
    }
}

/// This document's own warnings (an imported file's show when that file is open).
fn warnings<'a>(
    all: &'a [Diagnostic],
    text: &'a str,
    name: &'a str,
) -> impl Iterator<Item = lsp_types::Diagnostic> + 'a {
    all.iter().filter(move |w| w.file == name).map(move |w| {
        let mut d = convert(w, text, name);
        d.severity = Some(DiagnosticSeverity::WARNING);
        d
    })
}

fn error_at(range: Range, message: String) -> lsp_types::Diagnostic {
    lsp_types::Diagnostic {
        range,
        severity: Some(DiagnosticSeverity::ERROR),
        source: Some("waves".into()),
        message,
        ..Default::default()
    }
}

/// The range of the name starting at a 1-based line and character column of `text` (one
/// character when no name starts there); the file start when there is no position.
fn range_at(text: &str, line: usize, col: usize) -> Range {
    if line == 0 {
        return Range::default();
    }
    let l = (line - 1) as u32;
    let s = line_of(text, l);
    let start = byte_of_char(s, col.saturating_sub(1));
    let (_, word_end) = ident_at(s, start);
    let end = if word_end > start {
        word_end
    } else {
        s[start..]
            .chars()
            .next()
            .map_or(start, |c| start + c.len_utf8())
    };
    Range::new(
        Position::new(l, utf16_of_byte(s, start)),
        Position::new(l, utf16_of_byte(s, end)),
    )
}

/// `file:line:col` at the end of a note, when the file is `file`.
fn site_in(note: &str, file: &str) -> Option<(usize, usize)> {
    let rest = &note[note.rfind(&format!(" at {file}:"))? + file.len() + 5..];
    let (l, c) = rest.split_once(':')?;
    Some((l.parse().ok()?, c.parse().ok()?))
}

fn convert(d: &Diagnostic, text: &str, name: &str) -> lsp_types::Diagnostic {
    let mut message = d.message.clone();
    if let Some(h) = &d.hint {
        message.push_str(&format!("\nhint: {h}"));
    }
    for n in &d.notes {
        message.push_str(&format!("\nnote: {n}"));
    }
    if d.file == name {
        return error_at(range_at(text, d.line, d.col), message);
    }
    // An error inside an imported file: the editor shows it where this document reaches
    // that file (the import or the call), names the file and links to the exact spot.
    let site = d.notes.iter().rev().find_map(|n| site_in(n, name));
    let range = site.map_or(Range::default(), |(l, c)| range_at(text, l, c));
    let mut diag = error_at(range, format!("{}: {message}", d.location()));
    let other = Path::new(&d.file);
    if let (Some(uri), Ok(src)) = (uri_of_path(other), std::fs::read_to_string(other))
        && other.is_absolute()
    {
        diag.related_information = Some(vec![DiagnosticRelatedInformation {
            location: Location::new(uri, range_at(&src, d.line, d.col)),
            message: d.message.clone(),
        }]);
    }
    diag
}
