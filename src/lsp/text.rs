//! Text coordinates: the protocol's UTF-16 line/character against byte offsets, the name
//! under the cursor, and file URIs; main thread (the server loop).

use lsp_types::{Position, Range, Uri};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The text of line `line` (0-based) without its line ending; empty past the end.
pub fn line_of(text: &str, line: u32) -> &str {
    text.split('\n')
        .nth(line as usize)
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or("")
}

/// The byte index in `line` of a UTF-16 column, clamped to the line.
pub fn byte_of_utf16(line: &str, col: u32) -> usize {
    let mut units = 0u32;
    for (i, c) in line.char_indices() {
        if units >= col {
            return i;
        }
        units += c.len_utf16() as u32;
    }
    line.len()
}

/// The UTF-16 column of a byte index in `line`.
pub fn utf16_of_byte(line: &str, byte: usize) -> u32 {
    line[..byte.min(line.len())]
        .chars()
        .map(|c| c.len_utf16() as u32)
        .sum()
}

/// The byte index in `line` of a 0-based character (code point) column, as the compiler
/// counts them; clamped to the line.
pub fn byte_of_char(line: &str, col: usize) -> usize {
    line.char_indices().nth(col).map_or(line.len(), |(i, _)| i)
}

/// The byte offset in `text` of a protocol position.
pub fn offset_of(text: &str, pos: Position) -> usize {
    let mut start = 0;
    for _ in 0..pos.line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    start + byte_of_utf16(line_of(text, pos.line), pos.character)
}

/// The name that `s` ends with (empty when it ends otherwise).
pub fn word_before(s: &str) -> &str {
    let len: usize = s
        .chars()
        .rev()
        .take_while(|c| is_ident(*c))
        .map(char::len_utf8)
        .sum();
    &s[s.len() - len..]
}

pub fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The identifier around byte `at` of `line`, as a byte range (empty when there is none).
pub fn ident_at(line: &str, at: usize) -> (usize, usize) {
    let at = at.min(line.len());
    let start = line[..at]
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_ident(*c))
        .last()
        .map_or(at, |(i, _)| i);
    let end = line[at..]
        .char_indices()
        .find(|(_, c)| !is_ident(*c))
        .map_or(line.len(), |(i, _)| at + i);
    (start, end)
}

/// A name under the cursor, with the module alias in front of it when written `alias::name`.
pub struct Word {
    pub alias: Option<String>,
    pub name: String,
    pub range: Range,
}

/// The (possibly qualified) name at `pos`.
pub fn word_at(text: &str, pos: Position) -> Option<Word> {
    let line = line_of(text, pos.line);
    let at = byte_of_utf16(line, pos.character);
    let (start, end) = ident_at(line, at);
    if start == end {
        return None;
    }
    let alias = line[..start].strip_suffix("::").and_then(|before| {
        let (a, b) = ident_at(before, before.len());
        (a < b).then(|| before[a..b].to_string())
    });
    Some(Word {
        alias,
        name: line[start..end].to_string(),
        range: Range::new(
            Position::new(pos.line, utf16_of_byte(line, start)),
            Position::new(pos.line, utf16_of_byte(line, end)),
        ),
    })
}

/// The file a `file:` URI names; `None` for any other scheme (an unsaved buffer).
pub fn path_of_uri(uri: &Uri) -> Option<PathBuf> {
    let rest = uri.as_str().strip_prefix("file://")?;
    // Skip an authority ("file://localhost/..."): the path starts at the first '/'.
    let path = &rest[rest.find('/')?..];
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(PathBuf::from(String::from_utf8(out).ok()?))
}

/// The `file:` URI of an absolute path.
pub fn uri_of_path(path: &Path) -> Option<Uri> {
    let mut s = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    Uri::from_str(&s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_count_surrogate_pairs() {
        let line = "a🎵b";
        assert_eq!(byte_of_utf16(line, 3), 5);
        assert_eq!(utf16_of_byte(line, 5), 3);
    }

    #[test]
    fn qualified_words_keep_their_alias() {
        let w = word_at("let k = kit::kick();", Position::new(0, 14)).unwrap();
        assert_eq!((w.alias.as_deref(), w.name.as_str()), (Some("kit"), "kick"));
        assert_eq!(
            w.range,
            Range::new(Position::new(0, 13), Position::new(0, 17))
        );
    }

    #[test]
    fn uris_round_trip_through_paths() {
        let p = Path::new("/tmp/my songs/a#1.rhai");
        let uri = uri_of_path(p).unwrap();
        assert_eq!(path_of_uri(&uri).unwrap(), p);
    }
}
