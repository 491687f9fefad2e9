//! waves: a live-coding synthesizer. Rhai sound scripts compile to a signal graph that a
//! real-time-safe renderer plays.

/// Prints a line to stdout. A closed pipe (`waves render … | head -1`) or a closed terminal
/// is no reason to panic, least of all with a recording still to save.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// `say!` for stderr: messages, warnings, diagnostics (coloured on a terminal, see
/// `io::colour`).
#[macro_export]
macro_rules! tell {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr());
    }};
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($t)*);
        let _ = writeln!(std::io::stderr(), "{}", $crate::io::colour::paint(&text));
    }};
}

/// `tell!` without the newline.
#[macro_export]
macro_rules! tell_raw {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($t)*);
        let _ = write!(std::io::stderr(), "{}", $crate::io::colour::paint(&text));
    }};
}

/// A count with its noun: "1 sample", "2 samples".
pub fn plural(n: impl Into<u64>, word: &str) -> String {
    match n.into() {
        1 => format!("1 {word}"),
        n => format!("{n} {word}s"),
    }
}

pub mod analysis;
pub mod cli;
pub mod config;
pub mod dsp;
pub mod engine;
pub mod fault;
pub mod graph;
pub mod io;
pub mod live;
pub mod lsp;
pub mod midi;
pub mod pattern;
pub mod play;
pub mod record;
pub mod render;
pub mod script;
pub mod stop;
pub mod tui;
pub mod watch;
