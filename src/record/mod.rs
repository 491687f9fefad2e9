//! Writing audio to disk: WAV files written whole or not at all; control/spooler threads.

pub mod cue;
pub mod journal;
pub mod naming;
pub mod spool;
pub mod stems;
pub mod tap;
pub mod wav;
