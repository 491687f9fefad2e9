//! Algorithmic stereo reverb (feedback delay network); run on the audio thread.
