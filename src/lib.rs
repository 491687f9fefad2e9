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

/// `say!` for stderr: messages, warnings, diagnostics.
#[macro_export]
macro_rules! tell {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// `tell!` without the newline.
#[macro_export]
macro_rules! tell_raw {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($t)*);
    }};
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
pub mod watch;
