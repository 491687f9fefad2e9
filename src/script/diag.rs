//! Diagnostics: script, import and graph errors as `file:line:col`, the source line with a
//! marker and a hint; control thread only.

use crate::graph::GraphError;
use rhai::{EvalAltResult, ParseError, Position};
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based; 0 when the error has no position (e.g. an unreadable file).
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub hint: Option<String>,
    /// Where the failing file was imported from, innermost last.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(file: &str, line: usize, col: usize, message: impl Into<String>) -> Self {
        let message: String = message.into();
        // Messages may carry their hint after "\nhint: ".
        let (message, hint) = match message.split_once("\nhint: ") {
            Some((m, h)) => (m.to_string(), Some(h.to_string())),
            None => (message, None),
        };
        Diagnostic {
            file: file.to_string(),
            line,
            col,
            message,
            hint,
            notes: Vec::new(),
        }
    }

    pub fn with_hint(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// `file:line:col` (or just the file when there is no position).
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.file.clone()
        } else {
            format!("{}:{}:{}", self.file, self.line, self.col)
        }
    }

    /// The full report, with the source line read from `source` (or from disk when `None`).
    pub fn render(&self, source: Option<&str>) -> String {
        let mut s = format!("error: {}: {}\n", self.location(), self.message);
        let text = match source {
            Some(t) => Some(t.to_string()),
            None => std::fs::read_to_string(&self.file).ok(),
        };
        if let Some(line) = text
            .as_deref()
            .and_then(|t| t.lines().nth(self.line.wrapping_sub(1)))
        {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            let col = self.col.max(1);
            // Keep tabs so the marker lines up under the same characters.
            let lead: String = line
                .chars()
                .take(col - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            s.push_str(&format!("{pad} |\n{num} | {line}\n{pad} | {lead}^\n"));
        }
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        if let Some(h) = &self.hint {
            s.push_str(&format!("hint: {h}\n"));
        }
        s
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)
    }
}

fn line_col(pos: Position) -> (usize, usize) {
    (pos.line().unwrap_or(0), pos.position().unwrap_or(0))
}

pub fn from_parse(err: &ParseError, file: &str, source: &str, names: &[String]) -> Diagnostic {
    let (mut line, mut col) = line_col(err.1);
    let msg = err.0.to_string();
    let lines: Vec<&str> = source.lines().collect();
    // Rhai reports a missing token where the next one starts (often the next line, or past
    // the end of the file); the mistake is at the end of the last code before it.
    let missing = matches!(&*err.0, rhai::ParseErrorType::MissingToken(..));
    let past_end = line == 0 || line > lines.len();
    let at_line_start = lines.get(line.wrapping_sub(1)).is_some_and(|l| {
        l.chars()
            .take(col.saturating_sub(1))
            .all(char::is_whitespace)
    });
    if (missing && at_line_start) || past_end {
        let before = line.saturating_sub(1).min(lines.len());
        if let Some((i, l)) = lines[..before]
            .iter()
            .enumerate()
            .rev()
            .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
        {
            line = i + 1;
            col = l.trim_end().chars().count() + 1;
        }
    }
    let hint = match &*err.0 {
        rhai::ParseErrorType::VariableUndefined(v) => {
            let hint = closest(v, names)
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| "declare it first with `let`".into());
            return Diagnostic::new(file, line, col, format!("unknown variable `{v}`"))
                .with_hint(Some(hint));
        }
        _ if msg.contains("'eval'") => Some(
            "eval is disabled: scripts are shared, so they cannot run code from strings".into(),
        ),
        // `loop` is a Rhai keyword, so it cannot be a method name.
        _ if lines
            .get(line.wrapping_sub(1))
            .and_then(|l| l.get(col.saturating_sub(1)..))
            .is_some_and(|rest| rest.starts_with("loop")) =>
        {
            Some("`loop` is a Rhai keyword: a sample loops with .looped(), e.g. sample(\"break.wav\").looped()".into())
        }
        _ => None,
    };
    Diagnostic::new(file, line, col, msg).with_hint(hint)
}

/// Turns a Rhai runtime error (possibly nested through imports and function calls) into one
/// diagnostic at the innermost position.
pub fn from_eval(err: &EvalAltResult, file: &str, names: &[String]) -> Diagnostic {
    let mut file = file.to_string();
    let mut notes = Vec::new();
    // The innermost import or call site with a position, for an error that has none (a
    // failure inside a built-in function).
    let mut site: Option<(String, usize, usize)> = None;
    let mut e = err;
    loop {
        match e {
            EvalAltResult::ErrorInModule(path, inner, pos) => {
                let (l, c) = line_col(*pos);
                if l > 0 {
                    notes.push(format!("imported at {file}:{l}:{c}"));
                    site = Some((file.clone(), l, c));
                }
                if !path.is_empty() {
                    file = path.clone();
                }
                e = inner;
            }
            EvalAltResult::ErrorInFunctionCall(fname, src, inner, pos) => {
                let (l, c) = line_col(*pos);
                if l > 0 && !fname.starts_with("anon$") {
                    notes.push(format!("in a call to {fname}() at {file}:{l}:{c}"));
                } else if l > 0 {
                    notes.push(format!("in a closure called at {file}:{l}:{c}"));
                }
                if l > 0 {
                    site = Some((file.clone(), l, c));
                }
                if !src.is_empty() {
                    file = src.clone();
                }
                e = inner;
            }
            _ => break,
        }
    }
    let (mut line, mut col) = line_col(e.position());
    if line == 0
        && let Some((f, l, c)) = site
    {
        // The note for that site would only repeat the position.
        notes.pop();
        (file, line, col) = (f, l, c);
    }
    let (msg, hint) = describe(e, names);
    notes.reverse();
    let mut d = Diagnostic::new(&file, line, col, msg).with_hint(hint);
    d.notes = notes;
    d
}

fn describe(e: &EvalAltResult, names: &[String]) -> (String, Option<String>) {
    use EvalAltResult::*;
    match e {
        ErrorFunctionNotFound(sig, _) => {
            let name = sig.split(['(', ' ']).next().unwrap_or(sig).trim();
            let args = sig[name.len()..].trim();
            let vocab: Vec<String> = crate::script::dsl::functions()
                .iter()
                .map(|f| f.name.to_string())
                .collect();
            if name.chars().all(|c| "+-*/%<>=!&|^".contains(c)) {
                return (
                    format!("`{name}` cannot combine {args}"),
                    Some("signals combine with numbers and other signals".into()),
                );
            }
            if vocab.iter().any(|n| n == name) {
                let forms: Vec<String> = crate::script::dsl::functions()
                    .iter()
                    .filter(|f| f.name == name)
                    .map(|f| format!("{}({})", f.name, f.params.join(", ")))
                    .collect();
                let hint = if forms.is_empty() {
                    None
                } else {
                    Some(format!("{name} takes {}", forms.join(" or ")))
                };
                (
                    format!("no form of `{name}` takes these arguments: {sig}"),
                    hint,
                )
            } else {
                let near = closest(name, &vocab).or_else(|| closest(name, names));
                (
                    format!("unknown function `{name}`"),
                    near.map(|c| format!("did you mean `{c}`?")),
                )
            }
        }
        ErrorVariableNotFound(v, _) => (
            format!("unknown variable `{v}`"),
            closest(v, names)
                .map(|c| format!("did you mean `{c}`?"))
                .or_else(|| Some("declare it first with `let`".into())),
        ),
        ErrorTooManyOperations(_) => (
            "the script ran too long and was stopped".into(),
            Some("an endless loop? scripts only build the sound; they may not loop forever".into()),
        ),
        ErrorStackOverflow(_) => (
            "calls nested too deeply".into(),
            Some("a function that calls itself without end?".into()),
        ),
        ErrorDataTooLarge(what, _) => (
            format!("{what} too large"),
            Some("scripts have size limits on strings, arrays and maps".into()),
        ),
        ErrorTooManyModules(_) => ("too many imports".into(), None),
        ErrorRuntime(v, _) if v.to_string().trim().is_empty() => (
            "the script threw an error without a message".into(),
            Some("give `throw` a message: throw \"what went wrong\"".into()),
        ),
        ErrorRuntime(v, _) => (v.to_string(), None),
        ErrorModuleNotFound(m, _) => (format!("cannot import \"{m}\""), None),
        ErrorParsing(t, _) => (t.to_string(), None),
        other => {
            let text = other.to_string();
            // Rhai appends the position, which the diagnostic already shows.
            let text = match text.rfind(" (line ") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            (text, None)
        }
    }
}

pub fn from_graph(err: &GraphError, fallback_file: &str) -> Diagnostic {
    let file = if err.pos.file.is_empty() {
        fallback_file
    } else {
        &err.pos.file
    };
    Diagnostic::new(
        file,
        err.pos.line as usize,
        err.pos.col as usize,
        err.message.clone(),
    )
    .with_hint(err.hint.clone())
}

/// The candidate nearest to `word` by edit distance, if near enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: &'a [String]) -> Option<&'a str> {
    let limit = (word.len() / 3).max(1);
    candidates
        .iter()
        .filter(|c| c.as_str() != word)
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos() {
        let names: Vec<String> = ["sine", "saw", "square", "lpf"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(closest("sinee", &names), Some("sine"));
        assert_eq!(closest("sqare", &names), Some("square"));
        assert_eq!(closest("banana", &names), None);
    }

    #[test]
    fn render_marks_the_column() {
        let d = Diagnostic::new("x.rhai", 2, 5, "boom\nhint: try this");
        let r = d.render(Some("let a = 1;\nlet sinee = 2;"));
        assert!(r.starts_with("error: x.rhai:2:5: boom\n"), "{r}");
        assert!(r.contains("2 | let sinee = 2;\n  |     ^\n"), "{r}");
        assert!(r.ends_with("hint: try this\n"), "{r}");
    }
}
