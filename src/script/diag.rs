//! Diagnostics: script, import and graph errors as `file:line:col`, the source line with a
//! marker and a hint; control thread only.

use super::{plain::plain_types, synonyms, tokens};
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
    /// Warnings about the script that failed, shown before the error.
    pub warnings: Box<[Diagnostic]>,
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
            warnings: Box::new([]),
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
        // A warning in the same file is shown from the same text (which may not be saved).
        let mut s: String = self
            .warnings
            .iter()
            .map(|w| w.render_warning(source.filter(|_| w.file == self.file)))
            .collect();
        s.push_str(&self.render_as("error", source));
        s
    }

    /// `render` for something the script may well mean but probably does not (it still runs).
    pub fn render_warning(&self, source: Option<&str>) -> String {
        self.render_as("warning", source)
    }

    fn render_as(&self, label: &str, source: Option<&str>) -> String {
        let mut s = format!("{label}: {}: {}\n", self.location(), self.message);
        let text = match source {
            Some(t) => Some(t.to_string()),
            // Through the same checks as the compile: the file may be a FIFO.
            None => {
                super::files::read_text(std::path::Path::new(&self.file), super::engine::MAX_SOURCE)
                    .ok()
            }
        };
        if let Some(line) = text
            .as_deref()
            .and_then(|t| t.lines().nth(self.line.wrapping_sub(1)))
        {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            let (shown, col) = clip_line(line, self.col.max(1));
            // Keep tabs so the marker lines up under the same characters.
            let lead: String = shown
                .chars()
                .take(col - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            s.push_str(&format!("{pad} |\n{num} | {shown}\n{pad} | {lead}^\n"));
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

/// Characters of a source line shown around the marked column: a 5 MB line is shown as a
/// window, `…` where it was cut.
const SHOWN_CHARS: usize = 100;

/// The part of `line` to show for a marker at `col` (1-based, in characters), and the
/// marker's column in what is shown.
fn clip_line(line: &str, col: usize) -> (String, usize) {
    let len = line.chars().count();
    if len <= SHOWN_CHARS + SHOWN_CHARS / 5 {
        return (line.to_string(), col);
    }
    let at = (col - 1).min(len);
    let start = at
        .saturating_sub(SHOWN_CHARS / 2)
        .min(len.saturating_sub(SHOWN_CHARS));
    let end = (start + SHOWN_CHARS).min(len);
    let mut shown: String = line.chars().skip(start).take(end - start).collect();
    let mut col = at - start + 1;
    if start > 0 {
        shown.insert(0, '…');
        col += 1;
    }
    if end < len {
        shown.push('…');
    }
    (shown, col)
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
    let reported = (line, col);
    let msg = plain_types(&err.0.to_string());
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
            if assigned_at(source, line, col, v) {
                return Diagnostic::new(
                    file,
                    line,
                    col,
                    format!("`{v}` is not declared: write `let {v} = …`"),
                )
                .with_hint(Some(format!(
                    "`let` makes a variable; after that, `{v} = …` changes it"
                )));
            }
            let hint = name_hint(v, &variables(names), names)
                .unwrap_or_else(|| "declare it first with `let`".into());
            return Diagnostic::new(file, line, col, format!("unknown variable `{v}`"))
                .with_hint(Some(hint));
        }
        // A missing `)` shows as a missing `,` when the next line goes on with a value.
        rhai::ParseErrorType::MissingToken(t, _) if [")", "]", "}", ","].contains(&t.as_str()) => {
            let mut d = Diagnostic::new(file, line, col, msg);
            if let Some((o, l, c)) = unclosed(source, t, reported) {
                d.notes
                    .push(format!("the `{o}` opened at {file}:{l}:{c} is not closed"));
                let close = match o.as_str() {
                    "(" => ")",
                    "[" => "]",
                    _ => "}",
                };
                d.hint = Some(format!("add the `{close}` that closes it"));
            }
            return d;
        }
        // A function body left open reads on into the next statement, and Rhai asks for a
        // `;` there: the `{` that never closes, anywhere in the file, is the likelier cause.
        rhai::ParseErrorType::MissingToken(t, _) if t == ";" => {
            let mut d = Diagnostic::new(file, line, col, msg);
            if let Some((_, l, c)) = unclosed(source, "}", (0, 0)) {
                d.notes
                    .push(format!("the `{{` opened at {file}:{l}:{c} is never closed"));
                d.hint = Some("add the `}` that closes it".into());
            }
            return d;
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

/// Whether `name` at line:col is assigned to (`name = …`, `name += …`): an undeclared
/// variable there was meant to be declared.
fn assigned_at(source: &str, line: usize, col: usize, name: &str) -> bool {
    let Some(text) = source.lines().nth(line.wrapping_sub(1)) else {
        return false;
    };
    let rest: String = text.chars().skip(col.saturating_sub(1)).collect();
    let Some(after) = rest.strip_prefix(name) else {
        return false;
    };
    let after = after.trim_start();
    let op_assign = ["+=", "-=", "*=", "/=", "%="]
        .iter()
        .any(|op| after.starts_with(op));
    op_assign || (after.starts_with('=') && !after.starts_with("=="))
}

fn opener(closer: &str) -> &'static str {
    match closer {
        ")" => "(",
        "]" => "[",
        _ => "{",
    }
}

/// The innermost bracket still open where the parser stopped, of the kind `closer` closes
/// (any kind for `,`), and where it was opened.
fn unclosed(source: &str, closer: &str, stop: (usize, usize)) -> Option<(String, usize, usize)> {
    let mut open: Vec<(String, usize, usize)> = Vec::new();
    for t in tokens::tokens(source) {
        if stop.0 > 0 && (t.line, t.col) >= stop {
            break;
        }
        if t.kind != tokens::Kind::Punct {
            continue;
        }
        match t.text.as_str() {
            "(" | "[" | "{" => open.push((t.text, t.line, t.col)),
            // A stray closer of another kind leaves the openers: Rhai complains of those.
            ")" | "]" | "}" if open.last().is_some_and(|(o, ..)| o == opener(&t.text)) => {
                open.pop();
            }
            _ => {}
        }
    }
    open.into_iter()
        .rev()
        .find(|(o, ..)| closer == "," || o == opener(closer))
}

/// The names that may be variables: a variable misspelt is more likely one of the script's
/// own than one of the vocabulary's functions (`bas` is `bass`, not `bars`).
fn variables(names: &[String]) -> Vec<String> {
    let vocab = crate::script::dsl::functions();
    names
        .iter()
        .filter(|n| !vocab.iter().any(|f| f.name == n.as_str()))
        .cloned()
        .collect()
}

/// The hint for an unknown name: the waves function another tool's name means, else the
/// nearest spelling in `first`, then in `then`.
fn name_hint(name: &str, first: &[String], then: &[String]) -> Option<String> {
    if let Some(w) = synonyms::lookup(name) {
        let example = crate::script::dsl::functions()
            .iter()
            .find(|f| f.name == w)
            .map(|f| format!(", e.g. {}", f.example))
            .unwrap_or_default();
        return Some(format!("waves calls it `{w}`{example}"));
    }
    closest(name, first)
        .or_else(|| closest(name, then))
        .map(|c| format!("did you mean `{c}`?"))
}

/// The functions a patch offers, as `name(params)`, given the file that imported it and the
/// name it was imported as.
pub type Offered<'a> = &'a dyn Fn(&str, &str) -> Option<Vec<String>>;

/// Turns a Rhai runtime error (possibly nested through imports and function calls) into one
/// diagnostic at the innermost position.
pub fn from_eval(err: &EvalAltResult, file: &str, names: &[String]) -> Diagnostic {
    from_eval_with(err, file, names, &|_, _| None)
}

/// `from_eval` where an unknown `patch::name()` can list what the patch offers.
pub fn from_eval_with(
    err: &EvalAltResult,
    file: &str,
    names: &[String],
    offered: Offered,
) -> Diagnostic {
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
    let (msg, hint) = describe(e, &file, names, offered);
    notes.reverse();
    let mut d = Diagnostic::new(&file, line, col, msg).with_hint(hint);
    d.notes = notes;
    d
}

fn describe(
    e: &EvalAltResult,
    file: &str,
    names: &[String],
    offered: Offered,
) -> (String, Option<String>) {
    use EvalAltResult::*;
    match e {
        ErrorFunctionNotFound(sig, _) => {
            let name = sig.split(['(', ' ']).next().unwrap_or(sig).trim();
            let args = plain_types(sig[name.len()..].trim());
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
            if let Some((patch, fname)) = name.rsplit_once("::") {
                return in_patch(patch, fname, &args, offered(file, patch));
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
                (format!("no form of `{name}` takes {args}"), hint)
            } else {
                (
                    format!("unknown function `{name}`"),
                    name_hint(name, &vocab, names),
                )
            }
        }
        ErrorVariableNotFound(v, _) => (
            format!("unknown variable `{v}`"),
            name_hint(v, &variables(names), names)
                .or_else(|| Some("declare it first with `let`".into())),
        ),
        ErrorTooManyOperations(_) | ErrorTerminated(..) => (
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
        // A thrown value that is not text is named as a script author knows it, never by
        // its Rust type.
        ErrorRuntime(v, _)
            if !(v.is_string() || v.is_int() || v.is_float() || v.is_bool() || v.is_char()) =>
        {
            (
                format!(
                    "the script threw {}",
                    crate::script::dsl::args::type_name(v)
                ),
                Some("give `throw` a message: throw \"what went wrong\"".into()),
            )
        }
        ErrorRuntime(v, _) => (v.to_string(), None),
        ErrorModuleNotFound(m, _) => (format!("cannot import \"{m}\""), None),
        ErrorParsing(t, _) => (plain_types(&t.to_string()), None),
        other => {
            let text = plain_types(&other.to_string());
            // Rhai appends the position, which the diagnostic already shows.
            let text = match text.rfind(" (line ") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            (text, None)
        }
    }
}

/// An unknown `patch::fname(args)`: what the patch offers instead.
fn in_patch(
    patch: &str,
    fname: &str,
    args: &str,
    offered: Option<Vec<String>>,
) -> (String, Option<String>) {
    let Some(offered) = offered else {
        return (format!("unknown function `{patch}::{fname}`"), None);
    };
    let list = offered
        .iter()
        .map(|f| format!("{patch}::{f}"))
        .collect::<Vec<_>>()
        .join(", ");
    let fnames: Vec<String> = offered
        .iter()
        .map(|f| f.split('(').next().unwrap_or(f).to_string())
        .collect();
    if offered.is_empty() {
        return (
            format!("`{patch}` has no function `{fname}`"),
            Some(format!(
                "`{patch}` offers no functions (a `private fn` is not offered)"
            )),
        );
    }
    if fnames.iter().any(|n| n == fname) {
        return (
            format!("no form of `{patch}::{fname}` takes {args}"),
            Some(format!("`{patch}` offers {list}")),
        );
    }
    let near = closest(fname, &fnames)
        .map(|c| format!("did you mean `{patch}::{c}`? "))
        .unwrap_or_default();
    (
        format!("`{patch}` has no function `{fname}`"),
        Some(format!("{near}`{patch}` offers {list}")),
    )
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
