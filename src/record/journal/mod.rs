//! Crash-safe takes: the format of the journal a real-time recording is appended to as it
//! is made, its names, and which journals a folder holds; `write` (thread `waves-journal`)
//! writes one, `recover` (control thread, `waves recover`) turns them into WAVs.
//!
//! A journal is `output_dir/.NAME.journal` (NAME = the recording file name without `.wav`;
//! `.NAME.2.journal`, `.NAME.3.journal` … when that one is taken: a journal is never
//! replaced). Since format version 2 it is a WAV file: a RIFF header with a 32-bit float
//! `fmt ` chunk for every channel of the recording ring (the mix first, then each stem
//! slot), a `wvjn` chunk holding the [`Header`] (the recording name, the stems' track
//! names), padded so that the `data` chunk's frames start at [`HEADER_LEN`], then the raw
//! little-endian `f32` frames. The RIFF and data sizes say "unknown" (`0xFFFFFFFF`) while it
//! grows; recovering one fixes them, so a journal becomes a WAV in place, with no copy, when
//! the disk has no room for one. Version 1 journals (the [`Header`] alone, then frames) are
//! still read.

pub mod recover;
pub mod write;

pub use recover::{read, recover, unfinished_note};
pub use write::{Journal, JournalFile, JournalLink, attach};

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// The first bytes of a version 1 journal, and of the `wvjn` chunk's body.
pub const MAGIC: [u8; 8] = *b"WAVESJNL";
/// The journal format this waves writes; it reads 1 and 2.
pub const VERSION: u32 = 2;
/// Bytes before the first frame. Fixed, so the track names can be rewritten in place when
/// an edit adds a track while recording.
pub const HEADER_LEN: usize = 8192;
/// File names end with this.
const SUFFIX: &str = ".journal";
/// The `fmt ` chunk's length: WAVEFORMATEX without extra bytes.
const FMT_LEN: usize = 18;
/// Where the `wvjn` chunk's body starts: after RIFF/WAVE and the `fmt ` chunk.
const BODY_AT: usize = 12 + 8 + FMT_LEN + 8;
/// "Unknown" in a growing journal's RIFF and data sizes.
pub const UNKNOWN_SIZE: u32 = u32::MAX;

/// What a journal says about its take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub sample_rate: u32,
    /// Samples per frame: the mix and every stem slot.
    pub channels: u32,
    /// The first `mix_channels` channels of a frame are the mix.
    pub mix_channels: u32,
    /// Channels per stem slot after the mix.
    pub stem_channels: u32,
    /// The recording file name the take was meant for (`realtime_recording.wav`).
    pub name: String,
    /// Track name of each stem slot in use, by slot; unnamed slots are silence.
    pub tracks: Vec<String>,
    /// Set when the journal stopped before the take ended (the disk fell behind or failed):
    /// the frames it holds; the take itself was saved from memory.
    pub stopped_at: Option<u64>,
}

impl Header {
    /// The header as its [`HEADER_LEN`] bytes, a WAV header up to the first frame.
    pub fn encode(&self) -> std::io::Result<Vec<u8>> {
        let mut b = Vec::with_capacity(HEADER_LEN);
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&UNKNOWN_SIZE.to_le_bytes());
        b.extend_from_slice(b"WAVE");
        b.extend_from_slice(b"fmt ");
        b.extend_from_slice(&(FMT_LEN as u32).to_le_bytes());
        let ch = u16::try_from(self.channels)
            .map_err(|_| std::io::Error::other("too many channels for a journal"))?;
        b.extend_from_slice(&3u16.to_le_bytes()); // IEEE float
        b.extend_from_slice(&ch.to_le_bytes());
        b.extend_from_slice(&self.sample_rate.to_le_bytes());
        b.extend_from_slice(&(self.sample_rate * 4 * self.channels).to_le_bytes());
        b.extend_from_slice(&(ch * 4).to_le_bytes());
        b.extend_from_slice(&32u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(b"wvjn");
        b.extend_from_slice(&((HEADER_LEN - BODY_AT - 8) as u32).to_le_bytes());
        debug_assert_eq!(b.len(), BODY_AT);
        self.encode_body(&mut b)?;
        if b.len() > HEADER_LEN - 8 {
            return Err(too_long());
        }
        b.resize(HEADER_LEN - 8, 0);
        b.extend_from_slice(b"data");
        b.extend_from_slice(&UNKNOWN_SIZE.to_le_bytes());
        Ok(b)
    }

    /// magic, version, header length, sample rate, channels, mix channels, stem channels
    /// (u32 LE each), the frames it stopped at (u64 LE, all ones: it did not), then the name
    /// and the track names (a u16 LE count before the tracks, a u16 LE length before each
    /// string).
    fn encode_body(&self, b: &mut Vec<u8>) -> std::io::Result<()> {
        b.extend_from_slice(&MAGIC);
        for v in [
            VERSION,
            HEADER_LEN as u32,
            self.sample_rate,
            self.channels,
            self.mix_channels,
            self.stem_channels,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&self.stopped_at.unwrap_or(u64::MAX).to_le_bytes());
        let string = |b: &mut Vec<u8>, s: &str| -> std::io::Result<()> {
            let len = u16::try_from(s.len()).map_err(|_| too_long())?;
            b.extend_from_slice(&len.to_le_bytes());
            b.extend_from_slice(s.as_bytes());
            Ok(())
        };
        string(b, &self.name)?;
        let count = u16::try_from(self.tracks.len()).map_err(|_| too_long())?;
        b.extend_from_slice(&count.to_le_bytes());
        for t in &self.tracks {
            string(b, t)?;
        }
        Ok(())
    }

    /// Reads a header from the start of a journal (format 2, or 1); returns it and the byte
    /// offset of the first frame. The error says what is wrong, for a message naming the
    /// file.
    pub fn decode(b: &[u8]) -> Result<(Header, usize), String> {
        if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WAVE" {
            if b.len() < HEADER_LEN {
                return Err(damaged("the file ends inside the header"));
            }
            if b.get(BODY_AT..BODY_AT + 8) != Some(&MAGIC[..])
                || &b[HEADER_LEN - 8..HEADER_LEN - 4] != b"data"
            {
                return Err("a WAV file, not a waves journal".into());
            }
            let (h, at) = decode_body(&b[BODY_AT..HEADER_LEN - 8], 2)?;
            if at != HEADER_LEN {
                return Err(damaged(&format!("frames at {at}")));
            }
            return Ok((h, at));
        }
        if b.len() < MAGIC.len() || b[..MAGIC.len()] != MAGIC {
            return Err("not a waves journal (unknown magic bytes)".into());
        }
        let (h, at) = decode_body(b, 1)?;
        if b.len() < at {
            return Err(damaged("the file ends inside the header"));
        }
        Ok((h, at))
    }
}

fn too_long() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        "the recording and track names do not fit in a journal header",
    )
}

fn damaged(why: &str) -> String {
    format!("damaged journal header: {why}")
}

/// The fields after the magic bytes, for format `version`; the header length is where
/// the frames start.
fn decode_body(b: &[u8], version: u32) -> Result<(Header, usize), String> {
    let mut at = MAGIC.len();
    if b.get(..at) != Some(&MAGIC[..]) {
        return Err(damaged("no magic bytes"));
    }
    let u32_at = |at: &mut usize| -> Result<u32, String> {
        let v = b
            .get(*at..*at + 4)
            .ok_or_else(|| damaged("it ends early"))?;
        *at += 4;
        Ok(u32::from_le_bytes([v[0], v[1], v[2], v[3]]))
    };
    let found = u32_at(&mut at)?;
    if found != version {
        return Err(format!(
            "journal format version {found}; this waves reads versions 1 and {VERSION}"
        ));
    }
    let header_len = u32_at(&mut at)? as usize;
    let sample_rate = u32_at(&mut at)?;
    let channels = u32_at(&mut at)?;
    let mix_channels = u32_at(&mut at)?;
    let stem_channels = u32_at(&mut at)?;
    let stopped_at = if version >= 2 {
        let v = b.get(at..at + 8).ok_or_else(|| damaged("it ends early"))?;
        at += 8;
        let v = u64::from_le_bytes(v.try_into().map_err(|_| damaged("it ends early"))?);
        (v != u64::MAX).then_some(v)
    } else {
        None
    };
    if !(32..=1 << 20).contains(&header_len) {
        return Err(damaged(&format!("header length {header_len}")));
    }
    let b = &b[..header_len.min(b.len())];
    let u16_at = |at: &mut usize| -> Result<usize, String> {
        let v = b
            .get(*at..*at + 2)
            .ok_or_else(|| damaged("the names run past the header"))?;
        *at += 2;
        Ok(u16::from_le_bytes([v[0], v[1]]) as usize)
    };
    let string = |at: &mut usize| -> Result<String, String> {
        let len = u16_at(at)?;
        let v = b
            .get(*at..*at + len)
            .ok_or_else(|| damaged("the names run past the header"))?;
        *at += len;
        String::from_utf8(v.to_vec()).map_err(|_| damaged("a name is not UTF-8"))
    };
    let name = string(&mut at)?;
    let count = u16_at(&mut at)?;
    let tracks = (0..count)
        .map(|_| string(&mut at))
        .collect::<Result<Vec<_>, _>>()?;
    if !(1000..=1_000_000).contains(&sample_rate) {
        return Err(damaged(&format!("sample rate {sample_rate}")));
    }
    if channels == 0 || channels > 1024 || mix_channels == 0 || mix_channels > channels {
        return Err(damaged(&format!(
            "{channels} channels of which {mix_channels} are the mix"
        )));
    }
    let stems_fit = (count as u64) * u64::from(stem_channels) <= u64::from(channels - mix_channels)
        && (count == 0 || stem_channels > 0);
    if !stems_fit {
        return Err(damaged(&format!(
            "{count} stems of {stem_channels} channels do not fit in {channels} channels"
        )));
    }
    crate::config::check_file_name(&name)
        .map_err(|why| damaged(&format!("the recording name {name:?} {why}")))?;
    Ok((
        Header {
            sample_rate,
            channels,
            mix_channels,
            stem_channels,
            name,
            tracks,
            stopped_at,
        },
        header_len,
    ))
}

/// The journal file name for recording `name`: `.NAME.journal`, or `.NAME.N.journal`.
pub fn journal_name(name: &str, n: u32) -> String {
    let stem = name.strip_suffix(".wav").filter(|s| !s.is_empty());
    let stem = stem.unwrap_or(name);
    if n == 1 {
        format!(".{stem}{SUFFIX}")
    } else {
        format!(".{stem}.{n}{SUFFIX}")
    }
}

/// Journals in `dir`, sorted by name: hidden files ending in `.journal`.
pub fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.')
            && name.ends_with(SUFFIX)
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

/// Whether a running waves holds the journal open (its lock).
fn in_use(file: &File) -> bool {
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(TryLockError::WouldBlock) => true,
        // No locks on this file system: assume nobody is writing it.
        Err(TryLockError::Error(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn header(tracks: &[&str]) -> Header {
        Header {
            sample_rate: 48_000,
            channels: 2 + 2 * (tracks.len() as u32 + 1),
            mix_channels: 2,
            stem_channels: 2,
            name: "take.wav".into(),
            tracks: tracks.iter().map(|t| t.to_string()).collect(),
            stopped_at: None,
        }
    }

    #[test]
    fn header_round_trip_and_a_journal_is_a_wav() {
        let h = header(&["drums", "bäss"]);
        let mut bytes = h.encode().unwrap();
        assert_eq!(bytes.len(), HEADER_LEN);
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(Header::decode(&bytes).unwrap(), (h.clone(), HEADER_LEN));
        let stopped = Header {
            stopped_at: Some(1234),
            ..h.clone()
        };
        let b2 = stopped.encode().unwrap();
        assert_eq!(Header::decode(&b2).unwrap().0.stopped_at, Some(1234));
        // With its sizes filled in, a WAV reader reads the frames.
        for v in [0.5f32, -0.25, 1.0, 0.0, 0.1, 0.2, 0.3, 0.4] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let len = bytes.len() as u32;
        bytes[4..8].copy_from_slice(&(len - 8).to_le_bytes());
        bytes[HEADER_LEN - 4..HEADER_LEN].copy_from_slice(&32u32.to_le_bytes());
        let r = hound::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(r.spec().channels, 8);
        let back: Vec<f32> = r.into_samples::<f32>().map(|s| s.unwrap()).collect();
        assert_eq!(back, [0.5, -0.25, 1.0, 0.0, 0.1, 0.2, 0.3, 0.4]);
        let long = Header {
            tracks: vec!["x".repeat(300); 40],
            ..header(&[])
        };
        assert!(
            long.encode().is_err(),
            "names beyond the header are refused"
        );
    }

    #[test]
    fn version_1_journals_are_still_read() {
        let h = Header {
            stopped_at: None,
            ..header(&["a"])
        };
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC);
        for v in [1u32, 64, 48_000, 6, 2, 2] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let s = "take.wav";
        b.extend_from_slice(&(s.len() as u16).to_le_bytes());
        b.extend_from_slice(s.as_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(b"a");
        b.resize(64, 0);
        let (got, at) = Header::decode(&b).unwrap();
        assert_eq!((got.channels, got.name.as_str(), at), (6, "take.wav", 64));
        assert_eq!(got.tracks, h.tracks);
    }

    #[test]
    fn bad_magic_version_and_fields_are_named() {
        let mut bytes = header(&["a"]).encode().unwrap();
        let e = Header::decode(b"RIFF\0\0\0\0WAVEfmt ").unwrap_err();
        assert!(e.contains("ends inside the header"), "{e}");
        assert!(Header::decode(&[]).unwrap_err().contains("not a waves"));
        bytes[BODY_AT + 8] = 9;
        assert!(Header::decode(&bytes).unwrap_err().contains("version 9"));
        bytes[BODY_AT + 8] = 2;
        bytes[BODY_AT + 20] = 1; // channels = 1 < mix channels
        let e = Header::decode(&bytes).unwrap_err();
        assert!(e.contains("damaged journal header"), "{e}");
        let mut wav = vec![0u8; HEADER_LEN];
        wav[..12].copy_from_slice(b"RIFF\0\0\0\0WAVE");
        assert!(
            Header::decode(&wav)
                .unwrap_err()
                .contains("not a waves journal")
        );
    }
}
