//! Writing audio to disk: WAV files written whole or not at all; control/spooler threads.

pub mod wav;
