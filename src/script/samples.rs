//! WAV sample loading for `sample("file.wav")`: decoding, limits and user-facing errors; control thread.
//!
//! The caller confines the path to the script's folder and prefixes errors with the script
//! position and the sample's name, so messages here carry neither.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

pub use crate::dsp::sampler::SampleData;

/// Longest sample accepted, in seconds.
pub const MAX_SECONDS: f64 = 600.0;
/// Most sample values (frames × the file's channels) accepted, so a hostile header cannot
/// make the reader allocate or read without bound.
pub const MAX_VALUES: u64 = 64 * 1024 * 1024;

const NOT_WAV: &str = "not a WAV file this reader understands";

/// Reads a WAV file: 8/16/24/32-bit integer PCM or 32-bit float; mono or stereo (files with
/// more channels keep the first two, files with 0 frames are an error).
///
/// Integers scale to ±1.0 by their full range (i16 / 32768, i24 / 8388608, ...). The
/// header's declared length is checked against the limits before anything is allocated, and
/// the buffer grows no larger than the file could actually hold. A file shorter than its
/// header declares (a truncated download, a recorder that crashed) is an error, not a
/// partial sample, so a broken file never plays as if it were whole.
pub fn load_wav(path: &Path) -> Result<SampleData, String> {
    load_wav_within(path, u64::MAX)
}

/// `load_wav` for a graph with `budget` bytes of memory left: a sample that would not fit
/// is refused from its header, before it is read.
pub fn load_wav_within(path: &Path, budget: u64) -> Result<SampleData, String> {
    let file = super::files::open_regular(path).map_err(|e| {
        if e.starts_with("is ") {
            format!("the sample {e}")
        } else {
            format!("cannot open the sample: {e}")
        }
    })?;
    let file_len = file
        .metadata()
        .map_err(|e| format!("cannot read the sample: {}", io_text(&e)))?
        .len();
    let mut reader = match hound::WavReader::new(BufReader::new(file)) {
        Ok(r) => r,
        Err(hound::Error::IoError(e)) if !is_short_read(&e) => {
            return Err(format!("cannot read the sample: {}", io_text(&e)));
        }
        Err(e) => {
            // hound names what went wrong, not the format; look at the header ourselves so
            // a 64-bit float or compressed file says what it is.
            if let Some(desc) = describe_format(path).filter(|d| !d.supported) {
                return Err(format!("unsupported sample format: {}", desc.text));
            }
            return Err(format!("{NOT_WAV}: {}", header_error_text(&e)));
        }
    };

    let spec = reader.spec();
    let channels = spec.channels as usize;
    let bits = spec.bits_per_sample;
    let float = spec.sample_format == hound::SampleFormat::Float;
    let supported = if float {
        bits == 32
    } else {
        matches!(bits, 8 | 16 | 24 | 32)
    };
    if !supported {
        let kind = if float { "float" } else { "integer" };
        return Err(format!("unsupported sample format: {bits}-bit {kind}"));
    }
    if spec.sample_rate == 0 {
        return Err(format!("{NOT_WAV}: its sample rate is 0 Hz"));
    }
    let frames = reader.duration() as u64;
    if frames == 0 {
        return Err("the sample is empty".into());
    }
    let seconds = frames as f64 / spec.sample_rate as f64;
    if seconds > MAX_SECONDS {
        return Err(format!(
            "the sample is too long: {seconds:.1} s; samples are limited to {MAX_SECONDS:.0} s"
        ));
    }
    let values = reader.len() as u64;
    if values > MAX_VALUES {
        return Err(format!(
            "the sample is too large: {values} values (frames × channels); samples are limited to {MAX_VALUES} (64 Mi)"
        ));
    }

    let kept = channels.min(2);
    let need = frames * kept as u64 * 4;
    if need > budget {
        return Err(format!(
            "the sample needs {} of memory, but the sound has only {} left under `memory_limit`",
            super::files::bytes_text(need),
            super::files::bytes_text(budget)
        ));
    }
    // Never reserve more than the file could hold, whatever its header claims.
    let bytes_per_frame = (bits as u64).div_ceil(8) * channels as u64;
    let possible = file_len / bytes_per_frame.max(1);
    let capacity = frames.min(possible) as usize * kept;
    let declared = reader.len() as usize;
    let out = if float {
        collect(
            reader.samples::<f32>(),
            channels,
            kept,
            capacity,
            declared,
            |x| x,
        )?
    } else {
        // Dividing by a power of two is exact, so every format reads back bit-exactly.
        let scale = 1.0 / (1u64 << (bits - 1)) as f32;
        collect(
            reader.samples::<i32>(),
            channels,
            kept,
            capacity,
            declared,
            |x| x as f32 * scale,
        )?
    };
    Ok(SampleData {
        frames: out,
        channels: kept,
        rate: spec.sample_rate as f32,
    })
}

/// Reads `declared` interleaved values, keeping the first `kept` channels of each frame.
fn collect<S>(
    samples: impl Iterator<Item = hound::Result<S>>,
    channels: usize,
    kept: usize,
    capacity: usize,
    declared: usize,
    conv: impl Fn(S) -> f32,
) -> Result<Vec<f32>, String> {
    let mut out = Vec::with_capacity(capacity);
    // `take` bounds the loop by the already-checked declared length even if the iterator
    // misbehaved.
    for (i, s) in samples.take(declared).enumerate() {
        match s {
            Ok(v) => {
                if i % channels < kept {
                    out.push(conv(v));
                }
            }
            Err(hound::Error::IoError(e)) if is_short_read(&e) => {
                return Err(format!(
                    "the sample file is cut short: its header declares {} frames but the file holds {}",
                    declared / channels,
                    i / channels
                ));
            }
            Err(hound::Error::IoError(e)) => {
                return Err(format!("cannot read the sample: {}", io_text(&e)));
            }
            Err(e) => return Err(format!("{NOT_WAV}: {}", header_error_text(&e))),
        }
    }
    Ok(out)
}

/// An I/O error's text without the " (os error 2)" suffix.
fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// hound reports running out of bytes as `Other` ("Failed to read enough bytes.") or as
/// `UnexpectedEof`, depending on where it happens.
fn is_short_read(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::UnexpectedEof
        || (e.kind() == std::io::ErrorKind::Other && e.to_string().contains("enough bytes"))
}

fn header_error_text(e: &hound::Error) -> String {
    match e {
        hound::Error::FormatError(why) => (*why).to_string(),
        hound::Error::IoError(e) if is_short_read(e) => "the file ends inside its header".into(),
        hound::Error::IoError(e) => io_text(e),
        hound::Error::Unsupported => "its wave format is not supported".into(),
        other => other.to_string(),
    }
}

struct FormatDesc {
    text: String,
    supported: bool,
}

/// Finds the fmt chunk and names its sample format; `None` when the file is not RIFF/WAVE
/// or the chunk cannot be found in the first 64 chunks.
fn describe_format(path: &Path) -> Option<FormatDesc> {
    let mut f = BufReader::new(super::files::open_regular(path).ok()?);
    let mut riff = [0u8; 12];
    f.read_exact(&mut riff).ok()?;
    if &riff[0..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
        return None;
    }
    for _ in 0..64 {
        let mut head = [0u8; 8];
        f.read_exact(&mut head).ok()?;
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if &head[0..4] != b"fmt " {
            // Chunks are padded to an even length.
            f.seek(SeekFrom::Current(len as i64 + (len & 1) as i64))
                .ok()?;
            continue;
        }
        let mut fmt = [0u8; 26];
        let n = (len as usize).min(fmt.len());
        if n < 16 {
            return None;
        }
        f.read_exact(&mut fmt[..n]).ok()?;
        let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
        let mut tag = u16_at(0);
        let bits = u16_at(14);
        if tag == 0xFFFE && n >= 26 {
            // WAVE_FORMAT_EXTENSIBLE: the real format code opens the SubFormat GUID.
            tag = u16_at(24);
        }
        let (text, supported) = match tag {
            1 => (
                format!("{bits}-bit integer"),
                matches!(bits, 8 | 16 | 24 | 32),
            ),
            3 => (format!("{bits}-bit float"), bits == 32),
            2 => ("Microsoft ADPCM (compressed)".into(), false),
            6 => ("A-law (compressed)".into(), false),
            7 => ("µ-law (compressed)".into(), false),
            0x11 => ("IMA ADPCM (compressed)".into(), false),
            0x55 => ("MP3 (compressed)".into(), false),
            t => (format!("format code 0x{t:04x}"), false),
        };
        return Some(FormatDesc { text, supported });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh folder under the system temp dir, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "waves-samples-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
        fn file(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn spec(channels: u16, bits: u16, float: bool) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: 44100,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        }
    }

    fn write_int(path: &Path, channels: u16, bits: u16, values: &[i32]) {
        let mut w = hound::WavWriter::create(path, spec(channels, bits, false)).unwrap();
        for &v in values {
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
    }

    fn int_values(bits: u16) -> Vec<i32> {
        let max = ((1i64 << (bits - 1)) - 1) as i32;
        let min = (-(1i64 << (bits - 1))) as i32;
        vec![0, 1, -1, max, min, max / 3, min / 7, 100, -100]
    }

    #[test]
    fn integer_formats_read_back_exactly() {
        let dir = TempDir::new();
        for bits in [8u16, 16, 24, 32] {
            let path = dir.file(&format!("i{bits}.wav"));
            let values = int_values(bits);
            write_int(&path, 1, bits, &values);
            let d = load_wav(&path).unwrap();
            assert_eq!(d.channels, 1);
            assert_eq!(d.rate, 44100.0);
            assert_eq!(d.len(), values.len());
            let scale = (1u64 << (bits - 1)) as f64;
            for (got, &v) in d.frames.iter().zip(&values) {
                let want = (v as f64 / scale) as f32;
                assert_eq!(*got, want, "{bits}-bit value {v}");
            }
            // The most negative value is exactly -1, the largest just below +1 (at 32 bits
            // it rounds to 1.0 in f32).
            assert_eq!(d.frames[4], -1.0);
            assert!(d.frames[3] <= 1.0 && d.frames[3] > 0.99);
        }
    }

    #[test]
    fn float_reads_back_exactly() {
        let dir = TempDir::new();
        let path = dir.file("f32.wav");
        let values = [0.0f32, 0.5, -0.25, 1.0, -1.0, 1.5, 1e-7, -0.333_333_34];
        let mut w = hound::WavWriter::create(&path, spec(1, 32, true)).unwrap();
        for v in values {
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
        let d = load_wav(&path).unwrap();
        assert_eq!(d.frames, values);
        assert_eq!(d.channels, 1);
    }

    #[test]
    fn stereo_stays_interleaved() {
        let dir = TempDir::new();
        let path = dir.file("st.wav");
        // L = 600 * i, R = -600 * i
        let values: Vec<i32> = (0..50).flat_map(|i| [600 * i, -600 * i]).collect();
        write_int(&path, 2, 16, &values);
        let d = load_wav(&path).unwrap();
        assert_eq!(d.channels, 2);
        assert_eq!(d.len(), 50);
        for i in 0..50 {
            assert_eq!(d.frames[2 * i], (600 * i) as f32 / 32768.0);
            assert_eq!(d.frames[2 * i + 1], -((600 * i) as f32) / 32768.0);
        }
        assert!((d.seconds() - 50.0 / 44100.0).abs() < 1e-12);
    }

    #[test]
    fn three_channels_keep_the_first_two() {
        let dir = TempDir::new();
        let path = dir.file("3ch.wav");
        let values: Vec<i32> = (0..20).flat_map(|i| [i, 100 + i, 200 + i]).collect();
        write_int(&path, 3, 16, &values);
        let d = load_wav(&path).unwrap();
        assert_eq!(d.channels, 2);
        assert_eq!(d.len(), 20);
        for i in 0..20 {
            assert_eq!(d.frames[2 * i], i as f32 / 32768.0);
            assert_eq!(d.frames[2 * i + 1], (100 + i) as f32 / 32768.0);
        }
    }

    #[test]
    fn missing_file() {
        let dir = TempDir::new();
        let e = load_wav(&dir.file("nope.wav")).unwrap_err();
        assert_eq!(e, "cannot open the sample: No such file or directory");
    }

    #[test]
    fn text_file_is_not_a_wav() {
        let dir = TempDir::new();
        let path = dir.file("notes.wav");
        std::fs::write(&path, "just some notes, not audio\n").unwrap();
        let e = load_wav(&path).unwrap_err();
        assert_eq!(
            e,
            "not a WAV file this reader understands: no RIFF tag found"
        );
        std::fs::write(&path, "").unwrap();
        let e = load_wav(&path).unwrap_err();
        assert_eq!(
            e,
            "not a WAV file this reader understands: the file ends inside its header"
        );
    }

    #[test]
    fn truncated_file_is_an_error() {
        let dir = TempDir::new();
        let path = dir.file("cut.wav");
        let values: Vec<i32> = (0..1000).collect();
        write_int(&path, 1, 16, &values);
        let full = std::fs::read(&path).unwrap();
        // 44-byte header, then keep 250 frames and half of the next one.
        std::fs::write(&path, &full[..44 + 501]).unwrap();
        let e = load_wav(&path).unwrap_err();
        assert_eq!(
            e,
            "the sample file is cut short: its header declares 1000 frames but the file holds 250"
        );
        // Cut inside the header.
        std::fs::write(&path, &full[..30]).unwrap();
        let e = load_wav(&path).unwrap_err();
        assert!(e.starts_with(NOT_WAV), "{e}");
    }

    #[test]
    fn empty_wav() {
        let dir = TempDir::new();
        let path = dir.file("empty.wav");
        write_int(&path, 1, 16, &[]);
        assert_eq!(load_wav(&path).unwrap_err(), "the sample is empty");
    }

    /// A WAV header by hand: PCM or float tag, and a data chunk that declares `data_len`
    /// bytes but holds none.
    fn raw_header(tag: u16, channels: u16, rate: u32, bits: u16, data_len: u32) -> Vec<u8> {
        let align = channels * bits / 8;
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        v.extend_from_slice(&(36 + data_len).to_le_bytes());
        v.extend_from_slice(b"WAVEfmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&channels.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&(rate * align as u32).to_le_bytes());
        v.extend_from_slice(&align.to_le_bytes());
        v.extend_from_slice(&bits.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&data_len.to_le_bytes());
        v
    }

    #[test]
    fn declared_length_is_checked_before_reading() {
        let dir = TempDir::new();
        let path = dir.file("long.wav");
        // 8 kHz mono 16-bit declaring 700 s, with no data behind it.
        std::fs::write(&path, raw_header(1, 1, 8000, 16, 8000 * 2 * 700)).unwrap();
        assert_eq!(
            load_wav(&path).unwrap_err(),
            "the sample is too long: 700.0 s; samples are limited to 600 s"
        );
        // 1 MHz mono 8-bit, 100 s: under 600 s but 100 M values.
        std::fs::write(&path, raw_header(1, 1, 1_000_000, 8, 100_000_000)).unwrap();
        assert_eq!(
            load_wav(&path).unwrap_err(),
            "the sample is too large: 100000000 values (frames × channels); samples are limited to 67108864 (64 Mi)"
        );
        // Within the limits but holding nothing: a short read, not a huge allocation.
        std::fs::write(&path, raw_header(1, 2, 48000, 16, 48000 * 4 * 500)).unwrap();
        assert_eq!(
            load_wav(&path).unwrap_err(),
            "the sample file is cut short: its header declares 24000000 frames but the file holds 0"
        );
    }

    #[test]
    fn unsupported_formats_are_named() {
        let dir = TempDir::new();
        let path = dir.file("f64.wav");
        let mut bytes = raw_header(3, 1, 44100, 64, 16);
        bytes.extend_from_slice(&[0u8; 16]);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            load_wav(&path).unwrap_err(),
            "unsupported sample format: 64-bit float"
        );
        let mut bytes = raw_header(7, 1, 8000, 8, 4);
        bytes.extend_from_slice(&[0u8; 4]);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            load_wav(&path).unwrap_err(),
            "unsupported sample format: µ-law (compressed)"
        );
    }

    #[test]
    fn zero_sample_rate_is_refused() {
        let dir = TempDir::new();
        let path = dir.file("zero.wav");
        let mut bytes = raw_header(1, 1, 0, 16, 4);
        bytes.extend_from_slice(&[1, 0, 2, 0]);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            load_wav(&path).unwrap_err(),
            "not a WAV file this reader understands: its sample rate is 0 Hz"
        );
    }
}
