//! WAV output that never leaves a half-written file: frames go to a private temporary file
//! in the same folder, synced, and named only when complete (by `save` or `render`);
//! control thread.

use hound::{SampleFormat, WavSpec, WavWriter};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::disk::Disk;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    F32,
    I24,
    I16,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "f32" | "float" => Some(Format::F32),
            "i24" | "24" => Some(Format::I24),
            "i16" | "16" => Some(Format::I16),
            _ => None,
        }
    }
}

fn spec(sample_rate: u32, channels: u16, format: Format) -> WavSpec {
    let (bits, sample_format) = match format {
        Format::F32 => (32, SampleFormat::Float),
        Format::I24 => (24, SampleFormat::Int),
        Format::I16 => (16, SampleFormat::Int),
    };
    WavSpec {
        channels,
        sample_rate,
        bits_per_sample: bits,
        sample_format,
    }
}

/// Appends interleaved samples to any WAV writer; integer formats are clipped to full scale.
fn write_to<W: std::io::Write + std::io::Seek>(
    w: &mut WavWriter<W>,
    samples: &[f32],
    format: Format,
) -> std::io::Result<()> {
    match format {
        Format::F32 => {
            for &s in samples {
                w.write_sample(s).map_err(to_io)?;
            }
        }
        Format::I24 => {
            for &s in samples {
                let v = (finite(s).clamp(-1.0, 1.0) * 8_388_607.0).round() as i32;
                w.write_sample(v).map_err(to_io)?;
            }
        }
        Format::I16 => {
            let mut w16 = w.get_i16_writer(samples.len() as u32);
            for &s in samples {
                w16.write_sample((finite(s).clamp(-1.0, 1.0) * 32767.0).round() as i16);
            }
            w16.flush().map_err(to_io)?;
        }
    }
    Ok(())
}

/// A WAV file being written under a private temporary name; removed when dropped
/// unfinished, so an error or an interruption leaves nothing behind.
pub struct WavSink {
    writer: Option<WavWriter<BufWriter<File>>>,
    tmp: PathBuf,
    format: Format,
}

/// A hidden name in `dir` private to this process and call. Short and not derived from the
/// final name, so that a final name that fits the file system always has a private name
/// that fits too.
pub fn private_path(dir: &Path) -> PathBuf {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    dir.join(format!(
        ".waves-{}-{}.tmp",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    ))
}

impl WavSink {
    /// Starts a WAV at a new private name in `dir`.
    pub fn create(
        dir: &Path,
        sample_rate: u32,
        channels: u16,
        format: Format,
    ) -> std::io::Result<Self> {
        let tmp = private_path(dir);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .open(&tmp)?;
        let writer = WavWriter::new(
            BufWriter::with_capacity(1 << 16, file),
            spec(sample_rate, channels, format),
        )
        .map_err(to_io);
        let writer = match writer {
            Ok(w) => w,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        Ok(WavSink {
            writer: Some(writer),
            tmp,
            format,
        })
    }

    /// The private name being written.
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Appends interleaved samples; integer formats are clipped to full scale.
    pub fn write(&mut self, samples: &[f32]) -> std::io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => write_to(w, samples, self.format),
            None => Ok(()),
        }
    }

    /// Encodes `samples` as a stereo WAV in memory and drops it: what writing them costs,
    /// without the disk.
    pub fn encode(samples: &[f32], sample_rate: u32, format: Format) -> std::io::Result<()> {
        let mut w = WavWriter::new(
            std::io::Cursor::new(Vec::with_capacity(samples.len() * 4 + 64)),
            spec(sample_rate, 2, format),
        )
        .map_err(to_io)?;
        write_to(&mut w, samples, format)?;
        w.finalize().map_err(to_io)
    }

    /// Completes the file and makes it durable under its private name, which it returns
    /// for the caller to publish (and to remove if publishing fails).
    pub fn finish(mut self, disk: &dyn Disk) -> std::io::Result<PathBuf> {
        if let Some(w) = self.writer.take() {
            let done = w
                .finalize()
                .map_err(to_io)
                .and_then(|()| disk.sync_file(&self.tmp));
            if let Err(e) = done {
                let _ = std::fs::remove_file(&self.tmp);
                return Err(e);
            }
        }
        Ok(self.tmp.clone())
    }
}

impl Drop for WavSink {
    fn drop(&mut self) {
        // Not finished: leave no partial file behind.
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn finite(s: f32) -> f32 {
    if s.is_finite() { s } else { 0.0 }
}

fn to_io(e: hound::Error) -> std::io::Error {
    match e {
        hound::Error::IoError(e) => e,
        other => std::io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_file_or_nothing() {
        let dir = std::env::temp_dir().join(format!("waves-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = WavSink::create(&dir, 48000, 2, Format::F32).unwrap();
        s.write(&[0.5, -1.5, 0.25, 0.0]).unwrap();
        drop(s);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let mut s = WavSink::create(&dir, 48000, 2, Format::F32).unwrap();
        s.write(&[0.5, -1.5, 0.25, 0.0]).unwrap();
        let tmp = s.finish(crate::record::disk::REAL).unwrap();
        let r = hound::WavReader::open(&tmp).unwrap();
        let v: Vec<f32> = r.into_samples::<f32>().map(|x| x.unwrap()).collect();
        assert_eq!(v, vec![0.5, -1.5, 0.25, 0.0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
