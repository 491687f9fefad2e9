//! WAV output that never leaves a half-written file: frames go to a temporary file in the
//! same folder, renamed into place only when complete; control or spooler thread.

use hound::{SampleFormat, WavSpec, WavWriter};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

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

pub struct WavSink {
    writer: Option<WavWriter<BufWriter<File>>>,
    tmp: PathBuf,
    dest: PathBuf,
    format: Format,
}

impl WavSink {
    pub fn create(
        dest: &Path,
        sample_rate: u32,
        channels: u16,
        format: Format,
    ) -> std::io::Result<Self> {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let tmp = dest.with_file_name(format!(".{name}.partial"));
        let writer = WavWriter::create(&tmp, spec(sample_rate, channels, format)).map_err(to_io)?;
        Ok(WavSink {
            writer: Some(writer),
            tmp,
            dest: dest.to_path_buf(),
            format,
        })
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

    /// Completes the file and moves it into place.
    pub fn finish(mut self) -> std::io::Result<PathBuf> {
        if let Some(w) = self.writer.take() {
            w.finalize().map_err(to_io)?;
        }
        std::fs::rename(&self.tmp, &self.dest)?;
        Ok(self.dest.clone())
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
        let dest = dir.join("a.wav");
        let mut s = WavSink::create(&dest, 48000, 2, Format::F32).unwrap();
        s.write(&[0.5, -1.5, 0.25, 0.0]).unwrap();
        drop(s);
        assert!(!dest.exists());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let mut s = WavSink::create(&dest, 48000, 2, Format::F32).unwrap();
        s.write(&[0.5, -1.5, 0.25, 0.0]).unwrap();
        s.finish().unwrap();
        let r = hound::WavReader::open(&dest).unwrap();
        let v: Vec<f32> = r.into_samples::<f32>().map(|x| x.unwrap()).collect();
        assert_eq!(v, vec![0.5, -1.5, 0.25, 0.0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
