//! Imported patches: which file an `import "…" as alias;` names, the `fn`s of a
//! script, and go-to-definition of `alias::func` and of the script's own functions; main
//! thread (the server loop).

use super::text::{Word, byte_of_char, is_ident, uri_of_path, utf16_of_byte, word_at};
use crate::script::resolver::confine;
use crate::script::tokens::{self, Kind};
use lsp_types::{Location, Position, Range};
use std::path::{Path, PathBuf};

/// `import "path" as alias;` statements of a script, as (path, alias).
pub fn imports(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix("import") else {
            continue;
        };
        let rest = rest.trim_start();
        let Some(rest) = rest.strip_prefix('"') else {
            continue;
        };
        let Some((path, rest)) = rest.split_once('"') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix("as") else {
            continue;
        };
        let alias: String = rest
            .trim_start()
            .chars()
            .take_while(|c| is_ident(*c))
            .collect();
        if !alias.is_empty() && rest.starts_with(char::is_whitespace) {
            out.push((path.to_string(), alias));
        }
    }
    out
}

/// A function a script defines with `fn name(params)`.
pub struct FnLine {
    pub name: String,
    pub params: Vec<String>,
    /// 0-based line, and the name's start and end as UTF-16 columns.
    pub line: u32,
    pub start: u32,
    pub end: u32,
    /// The `//` comment lines right above it, which patches use to say what a function is.
    pub comment: String,
}

/// Every `fn` a script defines, wherever it is written (after a `;`, indented, `private`).
pub fn fn_lines(text: &str) -> Vec<FnLine> {
    let lines: Vec<&str> = text.lines().collect();
    let toks = tokens::tokens(text);
    let mut out = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        if t.kind != Kind::Word || t.text != "fn" {
            continue;
        }
        let Some(name) = toks.get(k + 1).filter(|n| n.kind == Kind::Word) else {
            continue;
        };
        // Half-typed (`fn pad(f, `) still lists the parameters so far.
        let params = if toks.get(k + 2).is_some_and(|p| p.text == "(") {
            toks[k + 3..]
                .iter()
                .take_while(|p| p.text != ")" && p.text != "{")
                .filter(|p| p.kind == Kind::Word)
                .map(|p| p.text.clone())
                .collect()
        } else {
            Vec::new()
        };
        let Some(line) = lines.get(name.line - 1) else {
            continue;
        };
        let name_at = byte_of_char(line, name.col - 1);
        let comment: Vec<&str> = lines[..t.line - 1]
            .iter()
            .rev()
            .map(|l| l.trim())
            .take_while(|l| l.starts_with("//"))
            .map(|l| l.trim_start_matches('/').trim())
            .collect();
        let comment = comment.into_iter().rev().collect::<Vec<_>>().join("\n");
        out.push(FnLine {
            start: utf16_of_byte(line, name_at),
            end: utf16_of_byte(line, name_at + name.text.len()),
            name: name.text.clone(),
            params,
            line: (name.line - 1) as u32,
            comment,
        });
    }
    out
}

/// The file `alias` imports in `text`, for a script at `doc`. Imports resolve in the entry
/// script's folder; a patch opened by itself may sit below it, so its parents are tried too.
pub fn imported_file(text: &str, doc: &Path, alias: &str) -> Option<PathBuf> {
    let (rel, _) = imports(text).into_iter().find(|(_, a)| a == alias)?;
    doc.ancestors()
        .skip(1)
        .take(4)
        .find_map(|dir| confine(dir, &rel, "rhai").ok())
}

/// The `fn name` that `alias::name` calls, with the text of its file.
pub fn patch_fn(text: &str, doc: &Path, alias: &str, name: &str) -> Option<(PathBuf, FnLine)> {
    let file = imported_file(text, doc, alias)?;
    let src = std::fs::read_to_string(&file).ok()?;
    let f = fn_lines(&src).into_iter().find(|f| f.name == name)?;
    Some((file, f))
}

/// Where the name at `pos` is defined: a function of an imported patch, the imported file
/// itself for an alias, or a function of this script.
pub fn definition(text: &str, doc: &Path, pos: Position) -> Option<Location> {
    let Word { alias, name, .. } = word_at(text, pos)?;
    let at = |file: &Path, f: &FnLine| {
        Some(Location::new(
            uri_of_path(file)?,
            Range::new(Position::new(f.line, f.start), Position::new(f.line, f.end)),
        ))
    };
    if let Some(alias) = alias {
        let (file, f) = patch_fn(text, doc, &alias, &name)?;
        return at(&file, &f);
    }
    if let Some(file) = imported_file(text, doc, &name) {
        return Some(Location::new(uri_of_path(&file)?, Range::default()));
    }
    let f = fn_lines(text).into_iter().find(|f| f.name == name)?;
    at(doc, &f)
}
