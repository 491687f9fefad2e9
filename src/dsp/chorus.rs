//! Stereo chorus (modulated short delays); run on the audio thread.
