//! WAV sample loading for `sample("file.wav")`; control thread.
