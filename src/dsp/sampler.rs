//! Sample playback with resampling; run on the audio thread.
