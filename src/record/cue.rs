//! Cue markers in WAV files (a `cue ` chunk plus `LIST`/`adtl` labels), appended after the audio is written; control thread.
//!
//! hound writes `RIFF`/`WAVE` with a `fmt ` and a `data` chunk but no markers. Once hound has
//! finalized a recording, [`append_cues`] adds, after the last chunk:
//!
//! ```text
//! [pad]                      one zero byte if the last chunk had an odd length
//! "cue " size  count  { id  position  "data"  0  0  frame } * count    (24 bytes per point)
//! "LIST" size  "adtl" { "labl" size  id  label NUL [pad] } * count
//! ```
//!
//! and then patches the RIFF size. Ids are 1-based and follow the order of the cues given;
//! position and sample offset are both the frame (index per channel into the `data` chunk),
//! which is what Reaper, Audacity, Ardour and sox expect for uncompressed audio. Sizes are
//! 32-bit throughout, so files up to 4 GiB work; a result that would not fit is refused.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Longest label kept, in bytes of UTF-8 (not counting the NUL terminator).
pub const MAX_LABEL_BYTES: usize = 200;

/// Largest `cue ` or `LIST`/`adtl` body [`read_cues`] loads into memory.
const MAX_META_BYTES: u32 = 16 << 20;

/// A marker at `frame` (index per channel from the start of the audio) named `label`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cue {
    pub frame: u32,
    pub label: String,
}

/// Appends `cues` as a `cue ` chunk and a `LIST`/`adtl` chunk of `labl`s to the finished WAV
/// at `path` and patches its RIFF size.
///
/// The file is checked first (it must be `RIFF`/`WAVE` whose chunks all lie within the RIFF
/// size, with `fmt ` and `data` chunks and no `cue ` chunk yet), and every frame must be at most
/// the number of frames in `data`; otherwise an error is returned and the file is not touched.
/// With no cues the file is only checked, never modified. Labels are stripped of control
/// characters and surrounding whitespace and cut to [`MAX_LABEL_BYTES`].
///
/// Crash safety: the new chunks are written past the current end of the RIFF chunk and synced
/// to disk before the 4-byte RIFF size is patched (and synced again). Readers stop at the RIFF
/// size, so until the patch the appended bytes are trailing garbage they ignore and the file
/// reads exactly as before; after the patch they are already durable. A crash or error at any
/// point therefore leaves either the old file or the new one, never a corrupt one. (On an error
/// before the patch the appended bytes are also truncated away, best effort.)
///
/// Errors: `InvalidData` if the file is not a well-formed WAV, `AlreadyExists` if it already has
/// cue points, `InvalidInput` if a frame is past the audio or the file would exceed 4 GiB, and
/// any I/O error.
pub fn append_cues(path: &Path, cues: &[Cue]) -> io::Result<()> {
    if cues.is_empty() {
        let mut file = File::open(path)?;
        read_layout(&mut file)?;
        return Ok(());
    }
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let layout = read_layout(&mut file)?;
    if layout.find(b"cue ").is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the WAV file already has cue points",
        ));
    }
    let frames = data_frames(&mut file, &layout)?;
    if let Some(cue) = cues.iter().find(|c| u64::from(c.frame) > frames) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "cue {:?} at frame {} is past the end of the audio ({frames} frames)",
                cue.label, cue.frame
            ),
        ));
    }

    // Where the next chunk goes: the end of the RIFF chunk, plus the pad byte the last chunk
    // needs if its length is odd (hound does not write it for odd-length data).
    let pad = (layout.next - layout.riff_end) as usize;
    let mut tail = vec![0u8; pad];
    encode_chunks(cues, &mut tail)?;
    let new_end = layout.riff_end + tail.len() as u64;
    let new_riff_size = u32::try_from(new_end - 8).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "adding the cue points would make the WAV file larger than 4 GiB",
        )
    })?;

    let old_len = file.metadata()?.len();
    let appended = (|| {
        file.seek(SeekFrom::Start(layout.riff_end))?;
        file.write_all(&tail)?;
        if old_len > new_end {
            // Drop stale bytes beyond the RIFF chunk (e.g. from an interrupted earlier append).
            file.set_len(new_end)?;
        }
        file.sync_all()
    })();
    if let Err(e) = appended {
        // Still valid (the RIFF size was not touched); just drop what was written.
        let _ = file.set_len(old_len);
        return Err(e);
    }
    // From here the new chunks are durable, so the file is valid with either RIFF size.
    file.seek(SeekFrom::Start(4))?;
    file.write_all(&new_riff_size.to_le_bytes())?;
    file.sync_all()
}

/// Reads back the cue points of the WAV at `path`, in the order of its (first) `cue ` chunk,
/// each with its `labl` from a `LIST`/`adtl` chunk (empty if it has none). The frame is the
/// point's sample offset. A file without cue points gives an empty list.
pub fn read_cues(path: &Path) -> io::Result<Vec<Cue>> {
    let mut file = File::open(path)?;
    let layout = read_layout(&mut file)?;
    let mut points: Option<Vec<(u32, u32)>> = None;
    let mut labels: HashMap<u32, String> = HashMap::new();
    for chunk in &layout.chunks {
        match &chunk.id {
            b"cue " if points.is_none() => {
                let body = read_body(&mut file, chunk)?;
                points = Some(parse_cue_body(&body)?);
            }
            b"LIST" if chunk.size >= 4 => {
                let mut kind = [0u8; 4];
                file.seek(SeekFrom::Start(chunk.body))?;
                file.read_exact(&mut kind)?;
                if &kind == b"adtl" {
                    let body = read_body(&mut file, chunk)?;
                    parse_adtl_body(&body[4..], &mut labels)?;
                }
            }
            _ => {}
        }
    }
    Ok(points
        .unwrap_or_default()
        .into_iter()
        .map(|(id, frame)| Cue {
            frame,
            label: labels.remove(&id).unwrap_or_default(),
        })
        .collect())
}

/// A label as stored: no control characters, no surrounding whitespace, at most
/// [`MAX_LABEL_BYTES`] bytes (cut on a character boundary).
fn sanitize_label(label: &str) -> String {
    let mut out = String::new();
    for c in label.trim().chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_LABEL_BYTES {
            break;
        }
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out
}

/// Appends the `cue ` and `LIST`/`adtl` chunks for `cues` to `out`, each word-aligned.
fn encode_chunks(cues: &[Cue], out: &mut Vec<u8>) -> io::Result<()> {
    let too_many = || io::Error::new(io::ErrorKind::InvalidInput, "too many cue points");
    let count = u32::try_from(cues.len()).map_err(|_| too_many())?;
    let cue_size = u32::try_from(4 + 24 * cues.len() as u64).map_err(|_| too_many())?;
    out.extend_from_slice(b"cue ");
    out.extend_from_slice(&cue_size.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    for (id, cue) in (1u32..).zip(cues) {
        out.extend_from_slice(&id.to_le_bytes()); // dwName
        out.extend_from_slice(&cue.frame.to_le_bytes()); // dwPosition
        out.extend_from_slice(b"data"); // fccChunk
        out.extend_from_slice(&0u32.to_le_bytes()); // dwChunkStart
        out.extend_from_slice(&0u32.to_le_bytes()); // dwBlockStart
        out.extend_from_slice(&cue.frame.to_le_bytes()); // dwSampleOffset
    }

    let list_start = out.len();
    out.extend_from_slice(b"LIST");
    out.extend_from_slice(&[0; 4]); // size, filled in below
    out.extend_from_slice(b"adtl");
    for (id, cue) in (1u32..).zip(cues) {
        let label = sanitize_label(&cue.label);
        let size = (4 + label.len() + 1) as u32; // id + text + NUL; label <= MAX_LABEL_BYTES
        out.extend_from_slice(b"labl");
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(label.as_bytes());
        out.push(0);
        if size % 2 == 1 {
            out.push(0);
        }
    }
    let list_size = u32::try_from(out.len() - list_start - 8).map_err(|_| too_many())?;
    out[list_start + 4..list_start + 8].copy_from_slice(&list_size.to_le_bytes());
    Ok(())
}

/// One chunk of the RIFF/WAVE file: its id, where its body starts and its declared size.
struct Chunk {
    id: [u8; 4],
    body: u64,
    size: u32,
}

/// The top-level chunks of a RIFF/WAVE file.
struct Layout {
    /// 8 + the RIFF size: where the RIFF chunk ends.
    riff_end: u64,
    /// Where a chunk after the last one goes: `riff_end`, or one more if the last chunk has an
    /// odd length and its pad byte is not counted in the RIFF size. Always even.
    next: u64,
    chunks: Vec<Chunk>,
}

impl Layout {
    fn find(&self, id: &[u8; 4]) -> Option<&Chunk> {
        self.chunks.iter().find(|c| &c.id == id)
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Checks the RIFF/WAVE header and lists the chunks; every chunk must lie within the RIFF size,
/// which must lie within the file (a file hound has not finalized fails here).
fn read_layout(file: &mut File) -> io::Result<Layout> {
    let file_len = file.metadata()?.len();
    let mut header = [0u8; 12];
    file.seek(SeekFrom::Start(0))?;
    if file_len < 12 {
        return Err(invalid("not a RIFF/WAVE file (too short)"));
    }
    file.read_exact(&mut header)?;
    if &header[0..4] != b"RIFF" || &header[8..12] != b"WAVE" {
        return Err(invalid("not a RIFF/WAVE file"));
    }
    let riff_size = le_u32(&header[4..8]);
    if riff_size < 4 {
        return Err(invalid("RIFF size too small (WAV file not finalized?)"));
    }
    let riff_end = 8 + u64::from(riff_size);
    if riff_end > file_len {
        return Err(invalid(
            "RIFF size exceeds the file length (truncated WAV file?)",
        ));
    }
    let mut chunks = Vec::new();
    let mut pos = 12u64;
    while pos + 8 <= riff_end {
        let mut head = [0u8; 8];
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut head)?;
        let size = le_u32(&head[4..8]);
        let body = pos + 8;
        if body + u64::from(size) > riff_end {
            return Err(invalid("a chunk runs past the end of the RIFF chunk"));
        }
        chunks.push(Chunk {
            id: [head[0], head[1], head[2], head[3]],
            body,
            size,
        });
        pos = body + u64::from(size) + u64::from(size & 1);
    }
    if pos < riff_end {
        return Err(invalid("stray bytes at the end of the RIFF chunk"));
    }
    Ok(Layout {
        riff_end,
        next: pos,
        chunks,
    })
}

/// The number of frames in the `data` chunk (its size over the `fmt ` block align).
fn data_frames(file: &mut File, layout: &Layout) -> io::Result<u64> {
    let fmt = layout
        .find(b"fmt ")
        .filter(|c| c.size >= 16)
        .ok_or_else(|| invalid("WAV file without a valid fmt chunk"))?;
    let data = layout
        .find(b"data")
        .ok_or_else(|| invalid("WAV file without a data chunk"))?;
    let mut fmt_body = [0u8; 16];
    file.seek(SeekFrom::Start(fmt.body))?;
    file.read_exact(&mut fmt_body)?;
    let block_align = u16::from_le_bytes([fmt_body[12], fmt_body[13]]);
    if block_align == 0 {
        return Err(invalid("WAV fmt chunk with a zero block align"));
    }
    Ok(u64::from(data.size) / u64::from(block_align))
}

fn read_body(file: &mut File, chunk: &Chunk) -> io::Result<Vec<u8>> {
    if chunk.size > MAX_META_BYTES {
        return Err(invalid("cue or label chunk implausibly large"));
    }
    let mut body = vec![0u8; chunk.size as usize];
    file.seek(SeekFrom::Start(chunk.body))?;
    file.read_exact(&mut body)?;
    Ok(body)
}

/// (id, sample offset) of each point of a `cue ` chunk body.
fn parse_cue_body(body: &[u8]) -> io::Result<Vec<(u32, u32)>> {
    if body.len() < 4 {
        return Err(invalid("cue chunk too short"));
    }
    let count = le_u32(body) as usize;
    let points = &body[4..];
    if points.len() / 24 < count {
        return Err(invalid("cue chunk shorter than its point count"));
    }
    Ok(points
        .chunks_exact(24)
        .take(count)
        .map(|p| (le_u32(&p[0..4]), le_u32(&p[20..24])))
        .collect())
}

/// Collects the `labl` texts (up to their NUL) of a `LIST`/`adtl` body (after the type), by id;
/// the first label of an id wins. Other sub-chunks (`note`, `ltxt`) are skipped.
fn parse_adtl_body(body: &[u8], labels: &mut HashMap<u32, String>) -> io::Result<()> {
    let mut pos = 0usize;
    while pos + 8 <= body.len() {
        let size = le_u32(&body[pos + 4..pos + 8]) as usize;
        let end = pos + 8 + size;
        if end > body.len() {
            return Err(invalid("adtl sub-chunk runs past its LIST chunk"));
        }
        if &body[pos..pos + 4] == b"labl" && size >= 4 {
            let id = le_u32(&body[pos + 8..pos + 12]);
            let text = &body[pos + 12..end];
            let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
            labels
                .entry(id)
                .or_insert_with(|| String::from_utf8_lossy(text).into_owned());
        }
        pos = end + (size & 1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hound::{SampleFormat, WavReader, WavSpec, WavWriter};
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A unique temporary file path, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(tag: &str) -> TempFile {
            static SERIAL: AtomicU64 = AtomicU64::new(0);
            let n = SERIAL.fetch_add(1, Ordering::Relaxed);
            let name = format!("waves-cue-{tag}-{}-{n}.wav", std::process::id());
            let path = std::env::temp_dir().join(name);
            let _ = std::fs::remove_file(&path);
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Writes a float stereo WAV of `frames` frames with hound; returns its samples.
    fn write_float_stereo(path: &Path, frames: u32) -> Vec<f32> {
        let spec = WavSpec {
            channels: 2,
            sample_rate: 48_000,
            bits_per_sample: 32,
            sample_format: SampleFormat::Float,
        };
        let samples: Vec<f32> = (0..frames * 2)
            .map(|i| ((i as f32) * 0.013).sin() * 0.8)
            .collect();
        let mut w = WavWriter::create(path, spec).unwrap();
        for &s in &samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        samples
    }

    fn three_cues() -> Vec<Cue> {
        vec![
            Cue {
                frame: 0,
                label: "lead.rhai".into(),
            },
            Cue {
                frame: 417,
                label: "drums/kick.rhai".into(),
            },
            Cue {
                frame: 1000,
                label: "bass.rhai".into(),
            },
        ]
    }

    fn riff_size(bytes: &[u8]) -> u64 {
        u64::from(le_u32(&bytes[4..8]))
    }

    /// (offset, id, size) of every top-level chunk, walking the bytes independently of the
    /// code under test; panics on misaligned or overrunning chunks.
    fn walk(bytes: &[u8]) -> Vec<(usize, [u8; 4], usize)> {
        let end = 8 + riff_size(bytes) as usize;
        assert!(end <= bytes.len());
        let mut out = Vec::new();
        let mut pos = 12;
        while pos < end {
            assert_eq!(pos % 2, 0, "chunk at odd offset {pos}");
            let id = [bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]];
            let size = le_u32(&bytes[pos + 4..pos + 8]) as usize;
            assert!(pos + 8 + size <= end, "chunk overruns RIFF");
            out.push((pos, id, size));
            pos += 8 + size + (size & 1);
        }
        out
    }

    #[test]
    fn hound_reads_samples_unchanged_after_append() {
        let f = TempFile::new("hound");
        let samples = write_float_stereo(&f.0, 1000);
        append_cues(&f.0, &three_cues()).unwrap();
        let mut r = WavReader::open(&f.0).unwrap();
        assert_eq!(r.spec().channels, 2);
        assert_eq!(r.duration(), 1000);
        let back: Vec<f32> = r.samples::<f32>().map(|s| s.unwrap()).collect();
        assert_eq!(back, samples);
    }

    #[test]
    fn read_cues_returns_frames_and_labels() {
        let f = TempFile::new("roundtrip");
        write_float_stereo(&f.0, 1000);
        assert_eq!(read_cues(&f.0).unwrap(), vec![]);
        append_cues(&f.0, &three_cues()).unwrap();
        assert_eq!(read_cues(&f.0).unwrap(), three_cues());
    }

    #[test]
    fn riff_size_is_file_length_minus_8() {
        let f = TempFile::new("riffsize");
        write_float_stereo(&f.0, 1000);
        let before = std::fs::read(&f.0).unwrap();
        append_cues(&f.0, &three_cues()).unwrap();
        let bytes = std::fs::read(&f.0).unwrap();
        assert_eq!(riff_size(&bytes), bytes.len() as u64 - 8);
        assert!(bytes.len() > before.len());
        // The original bytes (apart from the RIFF size) are untouched.
        assert_eq!(bytes[..4], before[..4]);
        assert_eq!(bytes[8..before.len()], before[8..]);
        let ids: Vec<[u8; 4]> = walk(&bytes).iter().map(|c| c.1).collect();
        assert_eq!(ids.last(), Some(b"LIST"));
        assert!(ids.contains(b"cue "));
    }

    #[test]
    fn odd_label_is_padded_and_next_chunk_aligned() {
        let f = TempFile::new("odd");
        write_float_stereo(&f.0, 1000);
        let cues = vec![
            Cue {
                frame: 10,
                label: "ab".into(), // labl size 4 + 2 + 1 = 7: padded
            },
            Cue {
                frame: 20,
                label: "abc".into(), // size 8: not padded
            },
            Cue {
                frame: 30,
                label: "x".into(), // 4 + 1 + 1 = 6
            },
            Cue {
                frame: 40,
                label: "xyz.rhai1".into(), // 4 + 9 + 1 = 14
            },
            Cue {
                frame: 50,
                label: "q".into(), // 4 + 1 + 1 = 6
            },
            Cue {
                frame: 60,
                label: "last.rh".into(), // 4 + 7 + 1 = 12
            },
            Cue {
                frame: 70,
                label: "end".into(), // 4 + 3 + 1 = 8
            },
            Cue {
                frame: 80,
                label: "tail!".into(), // 4 + 5 + 1 = 10
            },
            Cue {
                frame: 90,
                label: "fin.".into(), // 4 + 4 + 1 = 9: odd and last
            },
        ];
        append_cues(&f.0, &cues).unwrap();
        let bytes = std::fs::read(&f.0).unwrap();
        let chunks = walk(&bytes);
        let &(list, _, list_size) = chunks.iter().find(|c| &c.1 == b"LIST").unwrap();
        assert_eq!(&bytes[list + 8..list + 12], b"adtl");
        assert_eq!(list_size % 2, 0);
        assert_eq!(list + 8 + list_size, bytes.len());
        // Walk the labl sub-chunks: every one starts at an even file offset.
        let mut pos = list + 12;
        let mut sizes = Vec::new();
        while pos < list + 8 + list_size {
            assert_eq!(pos % 2, 0, "labl at odd offset {pos}");
            assert_eq!(&bytes[pos..pos + 4], b"labl");
            let size = le_u32(&bytes[pos + 4..pos + 8]) as usize;
            if size % 2 == 1 {
                assert_eq!(bytes[pos + 8 + size], 0, "missing pad byte");
            }
            sizes.push(size);
            pos += 8 + size + (size & 1);
        }
        assert_eq!(pos, list + 8 + list_size);
        assert_eq!(sizes, vec![7, 8, 6, 14, 6, 12, 8, 10, 9]);
        // The first (odd) label is followed by its pad and then the next labl.
        let first = list + 12;
        assert_eq!(&bytes[first + 8..first + 15], b"\x01\0\0\0ab\0");
        assert_eq!(&bytes[first + 16..first + 20], b"labl");
        assert_eq!(read_cues(&f.0).unwrap(), cues);
    }

    #[test]
    fn odd_length_data_gets_a_pad_byte_before_the_cues() {
        // 8-bit mono with an odd frame count: hound writes odd-length data without a pad.
        let f = TempFile::new("odddata");
        let spec = WavSpec {
            channels: 1,
            sample_rate: 8_000,
            bits_per_sample: 8,
            sample_format: SampleFormat::Int,
        };
        let mut w = WavWriter::create(&f.0, spec).unwrap();
        for i in 0..1001 {
            w.write_sample((i % 200 - 100) as i8).unwrap();
        }
        w.finalize().unwrap();
        assert_eq!(std::fs::metadata(&f.0).unwrap().len() % 2, 1);
        let cues = vec![Cue {
            frame: 1001,
            label: "end.rhai".into(),
        }];
        append_cues(&f.0, &cues).unwrap();
        let bytes = std::fs::read(&f.0).unwrap();
        assert_eq!(riff_size(&bytes), bytes.len() as u64 - 8);
        let chunks = walk(&bytes);
        let &(data, _, data_size) = chunks.iter().find(|c| &c.1 == b"data").unwrap();
        assert_eq!(data_size, 1001);
        assert_eq!(bytes[data + 8 + 1001], 0);
        assert_eq!(&bytes[data + 8 + 1002..data + 8 + 1006], b"cue ");
        assert_eq!(read_cues(&f.0).unwrap(), cues);
        let r = WavReader::open(&f.0).unwrap();
        assert_eq!(r.duration(), 1001);
    }

    #[test]
    fn no_cues_leaves_file_byte_identical() {
        let f = TempFile::new("nocues");
        write_float_stereo(&f.0, 1000);
        let before = std::fs::read(&f.0).unwrap();
        append_cues(&f.0, &[]).unwrap();
        assert_eq!(std::fs::read(&f.0).unwrap(), before);
    }

    #[test]
    fn non_wav_is_rejected_and_unchanged() {
        let f = TempFile::new("notwav");
        let junk = b"RIFX\x10\0\0\0this is not a wave file at all".to_vec();
        std::fs::write(&f.0, &junk).unwrap();
        let err = append_cues(&f.0, &three_cues()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(std::fs::read(&f.0).unwrap(), junk);
        assert!(read_cues(&f.0).is_err());
        // Too short, and a RIFF whose size runs past the file (e.g. not finalized).
        std::fs::write(&f.0, b"RIFF").unwrap();
        assert!(append_cues(&f.0, &three_cues()).is_err());
        assert_eq!(std::fs::read(&f.0).unwrap(), b"RIFF");
        let mut truncated = b"RIFF\xff\0\0\0WAVEfmt ".to_vec();
        truncated.extend_from_slice(&[0; 20]);
        std::fs::write(&f.0, &truncated).unwrap();
        assert!(append_cues(&f.0, &three_cues()).is_err());
        assert_eq!(std::fs::read(&f.0).unwrap(), truncated);
        assert!(append_cues(&f.0, &[]).is_err());
    }

    #[test]
    fn cue_past_the_audio_is_rejected_and_unchanged() {
        let f = TempFile::new("pastend");
        write_float_stereo(&f.0, 1000);
        let before = std::fs::read(&f.0).unwrap();
        let cues = vec![Cue {
            frame: 1001,
            label: "late.rhai".into(),
        }];
        let err = append_cues(&f.0, &cues).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(std::fs::read(&f.0).unwrap(), before);
    }

    #[test]
    fn second_append_is_rejected_and_unchanged() {
        let f = TempFile::new("twice");
        write_float_stereo(&f.0, 1000);
        append_cues(&f.0, &three_cues()).unwrap();
        let once = std::fs::read(&f.0).unwrap();
        let err = append_cues(&f.0, &three_cues()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&f.0).unwrap(), once);
    }

    #[test]
    fn trailing_garbage_past_riff_is_replaced() {
        // As left by an append interrupted before the size patch.
        let f = TempFile::new("garbage");
        write_float_stereo(&f.0, 1000);
        let reference = TempFile::new("garbage-ref");
        std::fs::copy(&f.0, &reference.0).unwrap();
        append_cues(&reference.0, &three_cues()).unwrap();
        let mut dirty = std::fs::read(&f.0).unwrap();
        dirty.extend_from_slice(&[0xAB; 4096]);
        std::fs::write(&f.0, &dirty).unwrap();
        assert_eq!(read_cues(&f.0).unwrap(), vec![]);
        append_cues(&f.0, &three_cues()).unwrap();
        let bytes = std::fs::read(&f.0).unwrap();
        assert_eq!(riff_size(&bytes), bytes.len() as u64 - 8);
        assert_eq!(bytes, std::fs::read(&reference.0).unwrap());
        assert_eq!(read_cues(&f.0).unwrap(), three_cues());
    }

    #[test]
    fn labels_are_sanitized_and_capped() {
        assert_eq!(
            sanitize_label("  a\tb\nc\u{7f}d\u{0}e.rhai \r\n"),
            "abcde.rhai"
        );
        let long = "é".repeat(150); // 300 bytes
        let cut = sanitize_label(&long);
        assert!(cut.len() <= MAX_LABEL_BYTES && cut.len() >= MAX_LABEL_BYTES - 1);
        assert!(cut.chars().all(|c| c == 'é'));

        let f = TempFile::new("labels");
        write_float_stereo(&f.0, 1000);
        let cues = vec![
            Cue {
                frame: 5,
                label: "bad\u{1b}[31mname\n.rhai".into(),
            },
            Cue {
                frame: 6,
                label: long,
            },
            Cue {
                frame: 7,
                label: String::new(),
            },
        ];
        append_cues(&f.0, &cues).unwrap();
        let back = read_cues(&f.0).unwrap();
        assert_eq!(back[0].label, "bad[31mname.rhai");
        assert_eq!(back[1].label, cut);
        assert_eq!(back[2].label, "");
        assert_eq!(
            back.iter().map(|c| c.frame).collect::<Vec<_>>(),
            vec![5, 6, 7]
        );
    }

    /// A sparse float stereo WAV whose data chunk is `data_size` bytes of zeros.
    fn write_sparse_wav(path: &Path, data_size: u32) {
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&(36 + data_size).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&3u16.to_le_bytes()); // IEEE float
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&48_000u32.to_le_bytes());
        h.extend_from_slice(&(48_000u32 * 8).to_le_bytes());
        h.extend_from_slice(&8u16.to_le_bytes());
        h.extend_from_slice(&32u16.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data_size.to_le_bytes());
        let file = File::create(path).unwrap();
        (&file).write_all(&h).unwrap();
        file.set_len(44 + u64::from(data_size)).unwrap();
    }

    #[test]
    fn files_over_2_gib_work() {
        let f = TempFile::new("big");
        let data_size = 3u32 << 30;
        write_sparse_wav(&f.0, data_size);
        let frames = data_size / 8;
        let cues = vec![
            Cue {
                frame: 1,
                label: "a.rhai".into(),
            },
            Cue {
                frame: frames,
                label: "z.rhai".into(),
            },
        ];
        append_cues(&f.0, &cues).unwrap();
        let len = std::fs::metadata(&f.0).unwrap().len();
        let mut head = [0u8; 8];
        File::open(&f.0).unwrap().read_exact(&mut head).unwrap();
        assert_eq!(u64::from(le_u32(&head[4..8])), len - 8);
        assert_eq!(read_cues(&f.0).unwrap(), cues);
        assert_eq!(WavReader::open(&f.0).unwrap().duration(), frames);
    }

    #[test]
    fn result_over_4_gib_is_rejected_and_unchanged() {
        let f = TempFile::new("huge");
        let data_size = (u32::MAX - 36 - 40) & !7;
        write_sparse_wav(&f.0, data_size);
        let len = std::fs::metadata(&f.0).unwrap().len();
        let cues = vec![Cue {
            frame: 0,
            label: "x.rhai".into(),
        }];
        let err = append_cues(&f.0, &cues).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(std::fs::metadata(&f.0).unwrap().len(), len);
        let mut head = [0u8; 12];
        File::open(&f.0).unwrap().read_exact(&mut head).unwrap();
        assert_eq!(u64::from(le_u32(&head[4..8])), len - 8);
        assert_eq!(read_cues(&f.0).unwrap(), vec![]);
    }

    #[test]
    fn sox_still_reads_the_result() {
        let sox = Path::new("/usr/bin/sox");
        if !sox.exists() {
            eprintln!("sox not installed; skipping");
            return;
        }
        let f = TempFile::new("sox");
        write_float_stereo(&f.0, 1000);
        append_cues(&f.0, &three_cues()).unwrap();
        let out = std::process::Command::new(sox)
            .arg(&f.0)
            .args(["-n", "stat"])
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "sox failed: {report}");
        let samples = report
            .lines()
            .find_map(|l| l.strip_prefix("Samples read:"))
            .map(|v| v.trim().to_string());
        assert_eq!(samples.as_deref(), Some("2000"), "sox said: {report}");
    }
}
