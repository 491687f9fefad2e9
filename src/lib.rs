//! waves: a live-coding synthesizer. Rhai sound scripts compile to a signal graph that a
//! real-time-safe renderer plays.

pub mod cli;
pub mod config;
pub mod dsp;
pub mod engine;
pub mod graph;
pub mod io;
pub mod live;
pub mod pattern;
pub mod play;
pub mod record;
pub mod render;
pub mod script;
pub mod watch;
