//! Dynamics: compressor and bit crusher; run on the audio thread.
