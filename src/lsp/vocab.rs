//! Completion, hover and signature help from the function table that registers the
//! vocabulary and generates `waves reference`; main thread (the server loop).

use super::goto::{FnLine, fn_lines, imported_file, patch_fn};
use super::text::{is_ident, offset_of, word_at, word_before};
use crate::script::dsl::{FnDef, functions};
use crate::script::tokens::{self, Kind};
use lsp_types::{
    CompletionItem, CompletionItemKind, Documentation, Hover, HoverContents, MarkupContent,
    MarkupKind, ParameterInformation, ParameterLabel, Position, SignatureHelp,
    SignatureInformation,
};
use std::path::Path;

/// Whether a form is written as a method: the reference writes those whose first
/// parameter is the signal `x`, the pattern `p` or the loop `fb` as `x.name(..)`.
fn is_method(f: &FnDef) -> bool {
    matches!(f.params.first(), Some(&("x" | "p" | "fb")))
}

/// A form as the reference shows it: `x.lpf(cut)` for a method, `sine(freq)` otherwise.
fn label(f: &FnDef) -> String {
    match f.params.split_first() {
        Some((recv, rest)) if is_method(f) => {
            format!("{recv}.{}({})", f.name, rest.join(", "))
        }
        _ => format!("{}({})", f.name, f.params.join(", ")),
    }
}

fn forms(name: &str) -> Vec<&'static FnDef> {
    functions().iter().filter(|f| f.name == name).collect()
}

/// Each form's signature, what it does and its example, as Markdown.
fn markdown(forms: &[&FnDef]) -> String {
    let mut s = String::new();
    for f in forms {
        if !s.is_empty() {
            s.push_str("\n\n");
        }
        s.push_str(&format!(
            "`{}` — {}\n\nexample: `{}`",
            label(f),
            f.doc,
            f.example
        ));
    }
    s
}

fn markup(value: String) -> MarkupContent {
    MarkupContent {
        kind: MarkupKind::Markdown,
        value,
    }
}

/// Completion at `pos`: after `alias::` the functions of that patch, after `.` the
/// methods, else every function (a method is also a function: `lpf(x, 800)`) and the
/// script's own `fn`s.
pub fn completion(text: &str, doc: &Path, pos: Position) -> Vec<CompletionItem> {
    let at = offset_of(text, pos);
    let before = &text[..at];
    let prefix = word_before(before);
    let lead = &before[..at - prefix.len()];
    if let Some(path) = lead.strip_suffix("::") {
        let alias = word_before(path);
        let src = imported_file(text, doc, alias).and_then(|f| std::fs::read_to_string(f).ok());
        return fn_lines(src.as_deref().unwrap_or(""))
            .into_iter()
            .filter(|f| f.name.starts_with(prefix))
            .map(|f| CompletionItem {
                detail: Some(format!("{alias}::{}({})", f.name, f.params.join(", "))),
                documentation: (!f.comment.is_empty())
                    .then(|| Documentation::MarkupContent(markup(f.comment.clone()))),
                label: f.name,
                kind: Some(CompletionItemKind::FUNCTION),
                ..Default::default()
            })
            .collect();
    }
    let methods_only = lead.trim_end().ends_with('.');
    if methods_only && voice_param(before, lead.trim_end().trim_end_matches('.')) {
        return VOICE
            .iter()
            .filter(|(f, _)| f.starts_with(prefix))
            .map(|(f, doc)| CompletionItem {
                label: f.to_string(),
                kind: Some(CompletionItemKind::FIELD),
                detail: Some(format!("v.{f}")),
                documentation: Some(Documentation::MarkupContent(markup(doc.to_string()))),
                ..Default::default()
            })
            .collect();
    }
    let mut names: Vec<&str> = Vec::new();
    for f in functions() {
        if (!methods_only || is_method(f)) && f.name.starts_with(prefix) && !names.contains(&f.name)
        {
            names.push(f.name);
        }
    }
    let mut items: Vec<CompletionItem> = names
        .into_iter()
        .map(|name| {
            let fs: Vec<&FnDef> = forms(name)
                .into_iter()
                .filter(|f| !methods_only || is_method(f))
                .collect();
            CompletionItem {
                label: name.to_string(),
                kind: Some(if methods_only {
                    CompletionItemKind::METHOD
                } else {
                    CompletionItemKind::FUNCTION
                }),
                detail: Some(
                    fs.iter()
                        .map(|f| label(f))
                        .collect::<Vec<_>>()
                        .join("  |  "),
                ),
                documentation: Some(Documentation::MarkupContent(markup(markdown(&fs)))),
                ..Default::default()
            }
        })
        .collect();
    if !methods_only {
        for f in fn_lines(text) {
            if f.name.starts_with(prefix) && !items.iter().any(|i| i.label == f.name) {
                items.push(CompletionItem {
                    detail: Some(format!("fn {}({})", f.name, f.params.join(", "))),
                    label: f.name,
                    kind: Some(CompletionItemKind::FUNCTION),
                    ..Default::default()
                });
            }
        }
    }
    items
}

/// What an instrument's `|v|` holds.
const VOICE: [(&str, &str); 6] = [
    (
        "freq",
        "the note's frequency in Hz, a signal (pattern and MIDI instruments)",
    ),
    (
        "gate",
        "1 while the note is held, else 0 (pattern and MIDI instruments)",
    ),
    (
        "vel",
        "the note's velocity 0..1 (pattern and MIDI instruments)",
    ),
    (
        "note",
        "the note's MIDI number (pattern and MIDI instruments)",
    ),
    (
        "index",
        "the copy's number 0..n−1, a signal (`poly(n, |v| …)`)",
    ),
    ("count", "how many copies there are, n (`poly(n, |v| …)`)"),
];

/// Whether the word ending `lead` is a closure's parameter (`|v|`, `|v, w|`) before the
/// cursor: an instrument's voice, whose fields are not signal methods.
fn voice_param(before: &str, lead: &str) -> bool {
    let recv = word_before(lead);
    if recv.is_empty() {
        return false;
    }
    let toks = tokens::tokens(before);
    let mut k = 0;
    while k < toks.len() {
        if toks[k].text == "|" {
            let mut j = k + 1;
            let mut named = false;
            while let Some(t) = toks.get(j) {
                match (t.kind, t.text.as_str()) {
                    (Kind::Word, w) => named |= w == recv,
                    (_, ",") => {}
                    _ => break,
                }
                j += 1;
            }
            if named && toks.get(j).is_some_and(|t| t.text == "|") {
                return true;
            }
            k = j;
        }
        k += 1;
    }
    false
}

/// Hover on a name: every form of a vocabulary function, or the line and comment of a
/// patch's function.
pub fn hover(text: &str, doc: &Path, pos: Position) -> Option<Hover> {
    let w = word_at(text, pos)?;
    let value = match &w.alias {
        Some(alias) => {
            let (_, f) = patch_fn(text, doc, alias, &w.name)?;
            let mut s = format!("`{alias}::{}({})`", f.name, f.params.join(", "));
            if !f.comment.is_empty() {
                s.push_str(&format!("\n\n{}", f.comment));
            }
            s
        }
        None => {
            let fs = forms(&w.name);
            if fs.is_empty() {
                return None;
            }
            markdown(&fs)
        }
    };
    Some(Hover {
        contents: HoverContents::Markup(markup(value)),
        range: Some(w.range),
    })
}

/// The call the cursor is inside: its (possibly `alias::`-qualified) name, whether it is
/// written as a method, and which argument the cursor is in.
struct Call {
    name: String,
    method: bool,
    arg: u32,
}

/// Scans the script up to the cursor, skipping strings and comments, keeping the open
/// brackets; the innermost `(` after a name is the call.
fn call_at(before: &str) -> Option<Call> {
    let mut open: Vec<Option<Call>> = Vec::new();
    let mut chars = before.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' | '`' | '\'' => {
                while let Some((_, d)) = chars.next() {
                    if d == '\\' {
                        chars.next();
                    } else if d == c {
                        break;
                    }
                }
            }
            '/' if chars.peek().map(|p| p.1) == Some('/') => {
                for (_, d) in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek().map(|p| p.1) == Some('*') => {
                chars.next();
                let mut last = ' ';
                for (_, d) in chars.by_ref() {
                    if last == '*' && d == '/' {
                        break;
                    }
                    last = d;
                }
            }
            '(' => {
                let head = before[..i].trim_end();
                let name_len: usize = head
                    .chars()
                    .rev()
                    .take_while(|c| is_ident(*c) || *c == ':')
                    .map(char::len_utf8)
                    .sum();
                let name = &head[head.len() - name_len..];
                let call =
                    (!name.is_empty() && !name.starts_with(char::is_numeric)).then(|| Call {
                        name: name.to_string(),
                        method: head[..head.len() - name_len].trim_end().ends_with('.'),
                        arg: 0,
                    });
                open.push(call);
            }
            // `|v, w| …` opens a closure: its commas are not the call's.
            '|' if matches!(
                before[..i].trim_end().chars().last(),
                None | Some('(' | ',' | '=' | '[')
            ) =>
            {
                if chars.peek().map(|p| p.1) == Some('|') {
                    chars.next();
                } else {
                    for (_, d) in chars.by_ref() {
                        if d == '|' {
                            break;
                        }
                    }
                }
            }
            '[' | '{' => open.push(None),
            ')' | ']' | '}' => {
                open.pop();
            }
            ',' => {
                if let Some(Some(call)) = open.last_mut() {
                    call.arg += 1;
                }
            }
            _ => {}
        }
    }
    open.pop().flatten()
}

fn signature(label: String, params: &[&str], doc: Option<String>) -> SignatureInformation {
    let open = label.find('(').map_or(0, |i| i + 1);
    let mut at = open;
    let mut parameters = Vec::new();
    for p in params {
        // Offsets are UTF-16 units; parameter names and what precedes them are ASCII.
        let start = label[at..].find(p).map_or(at, |i| at + i);
        parameters.push(ParameterInformation {
            label: ParameterLabel::LabelOffsets([start as u32, (start + p.len()) as u32]),
            documentation: None,
        });
        at = start + p.len();
    }
    SignatureInformation {
        label,
        documentation: doc.map(|d| Documentation::MarkupContent(markup(d))),
        parameters: Some(parameters),
        active_parameter: None,
    }
}

/// The signature of a function a script defines, its comment as the documentation.
fn script_signature(path: &str, f: &FnLine, arg: u32) -> SignatureHelp {
    let params: Vec<&str> = f.params.iter().map(String::as_str).collect();
    let label = format!("{path}{}({})", f.name, params.join(", "));
    let doc = (!f.comment.is_empty()).then(|| f.comment.clone());
    SignatureHelp {
        signatures: vec![signature(label, &params, doc)],
        active_signature: Some(0),
        active_parameter: Some(arg),
    }
}

/// Signature help inside a call's parentheses: every form of the function, the first one
/// with room for the argument the cursor is in active.
pub fn signature_help(text: &str, doc: &Path, pos: Position) -> Option<SignatureHelp> {
    let call = call_at(&text[..offset_of(text, pos)])?;
    if let Some((alias, name)) = call.name.split_once("::") {
        let (_, f) = patch_fn(text, doc, alias, name)?;
        return Some(script_signature(&format!("{alias}::"), &f, call.arg));
    }
    let fs: Vec<&FnDef> = forms(&call.name)
        .into_iter()
        .filter(|f| !call.method || is_method(f))
        .collect();
    if fs.is_empty() {
        // The script's own function.
        let f = fn_lines(text).into_iter().find(|f| f.name == call.name)?;
        return Some(script_signature("", &f, call.arg));
    }
    let signatures: Vec<SignatureInformation> = fs
        .iter()
        .map(|f| {
            // Written as a function, a method's receiver is its first argument.
            let (label, params) = if call.method {
                (label(f), f.params[1..].to_vec())
            } else if !is_method(f) {
                (label(f), f.params.to_vec())
            } else {
                (
                    format!("{}({})", f.name, f.params.join(", ")),
                    f.params.to_vec(),
                )
            };
            let doc = format!("{}\n\nexample: `{}`", f.doc, f.example);
            signature(label, &params, Some(doc))
        })
        .collect();
    let active = fs
        .iter()
        .position(|f| {
            let n = if call.method {
                f.params.len() - 1
            } else {
                f.params.len()
            };
            n > call.arg as usize
        })
        .unwrap_or(fs.len() - 1);
    Some(SignatureHelp {
        signatures,
        active_signature: Some(active as u32),
        active_parameter: Some(call.arg),
    })
}
