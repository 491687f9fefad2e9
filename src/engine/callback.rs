//! The body of the device callback: renders, feeds the recorder tap, clips for the device
//! and publishes meters as atomics; runs on the audio thread, allocation-free.

use crate::engine::Renderer;
use crate::engine::no_alloc::no_alloc;
use crate::io::midi_in::MidiInbox;
use crate::record::tap::Tap;
use crate::tui::scope::ScopeRing;
use cpal::{FromSample, Sample};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// Frames rendered per step inside one callback; larger device buffers take several steps.
pub const MAX_STEP: usize = 4096;

/// What the audio thread tells the control thread, all lock-free.
#[derive(Default, Debug)]
pub struct PlayStats {
    /// Frames of the piece delivered to the device.
    pub frames: AtomicU64,
    /// Peak |sample| per side since the control thread last read it (f32 bits; for
    /// non-negative floats the bit patterns order like the values, so `fetch_max` works).
    pub peak: [AtomicU32; 2],
    /// Samples beyond full scale, clipped at the device.
    pub clipped: AtomicU64,
    /// NaN or infinite samples, silenced at the device.
    pub nonfinite: AtomicU64,
    /// Highest callback time in thousandths of its time budget since last read.
    pub load_permille: AtomicU32,
    /// Buffer under/overruns reported by the host.
    pub xruns: AtomicU64,
    /// Other stream errors reported by the host, and the kind of the last one.
    pub errors: AtomicU64,
    pub last_error: AtomicU32,
    /// Set by the audio thread once the piece (with its tail) has been fully delivered.
    pub finished: AtomicBool,
}

/// Stream error kinds as numbers, so the error callback can store the last one in an atomic.
const ERROR_KINDS: [cpal::ErrorKind; 16] = {
    use cpal::ErrorKind::*;
    [
        Other,
        DeviceBusy,
        DeviceChanged,
        DeviceNotAvailable,
        HostUnavailable,
        InvalidInput,
        PermissionDenied,
        RealtimeDenied,
        ResourceExhausted,
        StreamInvalidated,
        UnsupportedConfig,
        UnsupportedOperation,
        Xrun,
        BackendError,
        Other,
        Other,
    ]
};

impl PlayStats {
    /// Counts a stream error (called from the host's error callback; no allocation).
    pub fn stream_error(&self, kind: cpal::ErrorKind) {
        // Before the first callback some hosts (ALSA's PulseAudio plugin) report an error on
        // every pass of a busy start-up loop; nothing was played yet, so nothing was lost.
        if self.frames.load(Relaxed) == 0 {
            return;
        }
        if kind == cpal::ErrorKind::Xrun {
            self.xruns.fetch_add(1, Relaxed);
            return;
        }
        self.errors.fetch_add(1, Relaxed);
        let code = ERROR_KINDS.iter().position(|k| *k == kind).unwrap_or(0);
        self.last_error.store(code as u32, Relaxed);
    }

    /// The kind of the last non-xrun stream error, for the report after the run.
    pub fn last_error_kind(&self) -> cpal::ErrorKind {
        ERROR_KINDS[self.last_error.load(Relaxed) as usize % ERROR_KINDS.len()]
    }

    /// Reads and resets the peak of one side.
    pub fn take_peak(&self, side: usize) -> f32 {
        f32::from_bits(self.peak[side].swap(0, Relaxed))
    }

    pub fn take_load(&self) -> f32 {
        self.load_permille.swap(0, Relaxed) as f32 / 10.0
    }
}

pub struct Callback {
    renderer: Renderer,
    tap: Option<Tap>,
    /// Channels per rendered frame: 2, or more when stems are recorded.
    width: usize,
    scratch: Vec<f32>,
    stats: Arc<PlayStats>,
    /// Frames after which the device gets silence and the tap nothing (duration + tail).
    end: Option<u64>,
    sample_rate: f32,
    /// The terminal scope's copy of the output (before clipping, so overs show).
    scope: Option<Arc<ScopeRing>>,
    midi: Option<MidiInbox>,
}

impl Callback {
    pub fn new(
        renderer: Renderer,
        tap: Option<Tap>,
        end: Option<u64>,
        stats: Arc<PlayStats>,
    ) -> Self {
        let sample_rate = renderer.sample_rate();
        // A recording with live stems takes wide frames: the mix, then each stem.
        let width = tap.as_ref().map_or(2, |t| t.channels().max(2));
        Callback {
            renderer,
            tap,
            width,
            scratch: vec![0.0; MAX_STEP * width],
            stats,
            end,
            sample_rate,
            scope: None,
            midi: None,
        }
    }

    /// Plays MIDI from `inbox` as well.
    pub fn with_midi(mut self, inbox: Option<MidiInbox>) -> Self {
        self.midi = inbox;
        self
    }

    /// Hands the waiting MIDI messages to the renderer, each at the frame of this buffer
    /// that matches when it arrived: a message that came one buffer's time ago starts the
    /// buffer, one that came just now ends it. So messages keep their spacing, one buffer
    /// late, instead of bunching at buffer starts.
    fn take_midi(&mut self, frames: usize) {
        let Some(inbox) = self.midi.as_mut() else {
            return;
        };
        let now = crate::midi::now_nanos();
        let start = self.renderer.position();
        let end = (start + frames as u64) as f64;
        let per_nano = self.sample_rate as f64 * 1e-9;
        let renderer = &mut self.renderer;
        inbox.drain(|e| {
            let age = now.saturating_sub(e.nanos) as f64 * per_nano;
            let frame = (end - age).max(start as f64) as u64;
            renderer.push_midi(frame, e.msg);
        });
    }

    /// Feeds the terminal scope as well.
    pub fn with_scope(mut self, scope: Option<Arc<ScopeRing>>) -> Self {
        self.scope = scope;
        self
    }

    /// Fills one device buffer of `channels` interleaved channels in any sample format.
    /// In debug builds the allocation guard watches it (`no_alloc`).
    pub fn fill<T: Sample + FromSample<f32>>(&mut self, data: &mut [T], channels: usize) {
        no_alloc(|| self.fill_unguarded(data, channels));
    }

    fn fill_unguarded<T: Sample + FromSample<f32>>(&mut self, data: &mut [T], channels: usize) {
        let started = Instant::now();
        let channels = channels.max(1);
        let frames = data.len() / channels;
        self.take_midi(frames);
        let mut done = 0;
        let (mut peak_l, mut peak_r, mut clipped, mut nonfinite) = (0.0f32, 0.0f32, 0u64, 0u64);
        while done < frames {
            let mut n = (frames - done).min(MAX_STEP);
            let played = self.renderer.position();
            if let Some(end) = self.end {
                n = n.min(end.saturating_sub(played) as usize);
            }
            let out = &mut data[done * channels..];
            if n == 0 {
                // The piece is over: silence until the control thread stops the stream.
                for s in out.iter_mut() {
                    *s = T::from_sample(0.0f32);
                }
                self.stats.finished.store(true, Relaxed);
                break;
            }
            let width = self.width;
            let buf = &mut self.scratch[..n * width];
            if width == 2 {
                self.renderer.process(buf);
            } else {
                self.renderer.process_wide(buf, width);
            }
            if let Some(tap) = self.tap.as_mut() {
                tap.push(buf);
            }
            if let Some(scope) = &self.scope {
                scope.push_wide(buf, width);
            }
            for (frame, lr) in out.chunks_exact_mut(channels).zip(buf.chunks_exact(width)) {
                let mut side = [lr[0], lr[1]];
                for v in side.iter_mut() {
                    if !v.is_finite() {
                        nonfinite += 1;
                        *v = 0.0;
                    } else if v.abs() > 1.0 {
                        clipped += 1;
                        *v = v.clamp(-1.0, 1.0);
                    }
                }
                peak_l = peak_l.max(lr[0].abs());
                peak_r = peak_r.max(lr[1].abs());
                match frame {
                    [mono] => *mono = T::from_sample((side[0] + side[1]) * 0.5),
                    [l, r, rest @ ..] => {
                        *l = T::from_sample(side[0]);
                        *r = T::from_sample(side[1]);
                        for s in rest {
                            *s = T::from_sample(0.0f32);
                        }
                    }
                    [] => {}
                }
            }
            done += n;
            self.stats.frames.fetch_add(n as u64, Relaxed);
        }
        let s = &self.stats;
        for (slot, p) in s.peak.iter().zip([peak_l, peak_r]) {
            if p.is_finite() {
                slot.fetch_max(p.to_bits(), Relaxed);
            }
        }
        if clipped > 0 {
            s.clipped.fetch_add(clipped, Relaxed);
        }
        if nonfinite > 0 {
            s.nonfinite.fetch_add(nonfinite, Relaxed);
        }
        let budget = frames as f32 / self.sample_rate;
        if budget > 0.0 {
            let load = started.elapsed().as_secs_f32() / budget;
            s.load_permille.fetch_max((load * 1000.0) as u32, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph;
    use crate::script::compile_source;
    use std::path::Path;

    fn callback(src: &str, end: Option<u64>) -> (Callback, Arc<PlayStats>) {
        let c = compile_source(src, "t.rhai", Path::new("."), 48000.0).unwrap();
        let r = Renderer::new(graph::compile(&c.spec, 48000.0).0, 48000.0, 1.0);
        let stats = Arc::new(PlayStats::default());
        (Callback::new(r, None, end, stats.clone()), stats)
    }

    #[test]
    fn clips_for_the_device_and_counts_nan() {
        let (mut cb, stats) = callback("sine(1000) * 2", None);
        let mut out = vec![0.0f32; 2 * 480];
        cb.fill(&mut out, 2);
        assert!(out.iter().all(|v| v.abs() <= 1.0));
        assert!(stats.clipped.load(Relaxed) > 0);
        assert!(stats.take_peak(0) > 1.9);

        let (mut cb, stats) = callback("line(0, 0, 1) / 0", None);
        let mut out = vec![1.0f32; 2 * 64];
        cb.fill(&mut out, 2);
        assert!(out.iter().all(|v| *v == 0.0));
        assert_eq!(stats.nonfinite.load(Relaxed), 128);
    }

    #[test]
    fn every_sample_format_and_channel_count() {
        let (mut cb, _) = callback("line(0.5, 0.5, 1)", None);
        let mut i16s = vec![0i16; 3 * 64];
        cb.fill(&mut i16s, 3);
        assert_eq!(&i16s[..3], &[16384, 16384, 0]);
        let mut u16s = vec![0u16; 64];
        cb.fill(&mut u16s, 1);
        assert_eq!(u16s[0], 32768 + 16384);
    }

    #[test]
    fn stops_exactly_at_the_end() {
        let (mut cb, stats) = callback("line(1, 1, 1)", Some(100));
        let mut out = vec![0.0f32; 2 * 256];
        cb.fill(&mut out, 2);
        assert_eq!(stats.frames.load(Relaxed), 100);
        assert_eq!(out[199], 1.0);
        assert_eq!(out[200], 0.0);
        assert!(stats.finished.load(Relaxed));
    }
}
