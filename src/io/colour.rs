//! Colours for the messages on stderr: errors red, warnings yellow, hints and notes in
//! their own colours, ✓ green and ✗ red; any thread that prints.
//!
//! Only on a terminal, and never when `NO_COLOR` is set (<https://no-color.org>): piped
//! output and logs stay plain text.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::OnceLock;

const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[1;33m";
const CYAN: &str = "\x1b[36m";
const GREEN: &str = "\x1b[32m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Whether stderr gets colours: a terminal, and `NO_COLOR` unset or empty.
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        !no_color && std::io::stderr().is_terminal()
    })
}

/// `text` with the marks at the start of its lines coloured, when colours are on.
pub fn paint(text: &str) -> Cow<'_, str> {
    if !enabled() {
        return Cow::Borrowed(text);
    }
    Cow::Owned(colour_lines(text))
}

/// Colours the leading mark of each line (`error:`, `warning:`, `hint:`, `note:`, `✓`, `✗`).
fn colour_lines(text: &str) -> String {
    const MARKS: &[(&str, &str)] = &[
        ("error", RED),
        ("warning", YELLOW),
        ("hint", CYAN),
        ("note", BOLD),
        ("✓", GREEN),
        ("✗", RED),
    ];
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let lead = line.len() - line.trim_start().len();
        let rest = &line[lead..];
        let mark = MARKS.iter().find(|(m, _)| {
            rest.starts_with(m) && (m.starts_with(['✓', '✗']) || rest[m.len()..].starts_with(':'))
        });
        match mark {
            Some((m, colour)) => {
                out.push_str(&line[..lead]);
                out.push_str(colour);
                out.push_str(m);
                out.push_str(RESET);
                out.push_str(&rest[m.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_coloured_and_the_text_kept() {
        let text =
            "error: kick.rhai:3:5: no `sin`\nhint: did you mean `sine`?\n  plain line\n✓ reloaded";
        let out = colour_lines(text);
        assert!(
            out.starts_with("\x1b[1;31merror\x1b[0m: kick.rhai:3:5"),
            "{out:?}"
        );
        assert!(out.contains("\x1b[36mhint\x1b[0m: did you mean"), "{out:?}");
        assert!(out.contains("\n  plain line\n"), "{out:?}");
        assert!(out.contains("\x1b[32m✓\x1b[0m reloaded"), "{out:?}");
        // Stripped of its escapes, the text is unchanged.
        let plain = [RED, CYAN, GREEN, RESET]
            .iter()
            .fold(out.clone(), |t, code| t.replace(code, ""));
        assert_eq!(plain, text);
        // A word that merely starts like a mark is left alone.
        assert_eq!(colour_lines("errors happen"), "errors happen");
    }
}
