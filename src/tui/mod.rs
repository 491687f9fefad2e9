//! The terminal while playing: the oscilloscope, the monitor lines and the status line,
//! drawn in place above the messages; control thread (the scope's ring is filled by the
//! audio thread).

pub mod monitors;
pub mod scope;
pub mod screen;
pub mod status;
