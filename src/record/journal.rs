//! Crash-safe takes: the journal file a real-time recording is appended to as it is made,
//! and `waves recover`, which turns journals left by a crash into WAVs; the spooler thread
//! writes it, the control thread creates, watches, removes and recovers it.
//!
//! A journal is `output_dir/.NAME.journal` (NAME = the recording file name without `.wav`;
//! `.NAME.2.journal`, `.NAME.3.journal` … when that one is taken: a journal is never
//! replaced). It is a fixed [`HEADER_LEN`]-byte [`Header`] followed by the take's frames as
//! raw little-endian `f32`, interleaved exactly like the recording ring: the mix first, then
//! each stem slot.
//!
//! The spooler appends every drain to the file at once (so a killed process loses only what
//! was still in the ring) and calls `sync_data` about every [`SYNC_EVERY`] (so a power loss
//! loses at most about that much). A write error (disk full) stops the journal where it is,
//! whole frames intact; the take in memory and the audio go on, and the control thread
//! reports it once. While recording, the journal is locked (`flock`), so `waves recover` and
//! the start-up note leave a running take's journal alone.

use super::naming;
use super::spool::{Spooler, Take};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Error, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The first bytes of every journal.
pub const MAGIC: [u8; 8] = *b"WAVESJNL";
/// The journal format this waves writes and reads.
pub const VERSION: u32 = 1;
/// Bytes before the first frame. Fixed, so the track names can be rewritten in place when
/// an edit adds a track while recording.
pub const HEADER_LEN: usize = 8192;
/// How often the spooler makes the journal durable (`sync_data`).
pub const SYNC_EVERY: Duration = Duration::from_millis(500);
/// File names end with this.
const SUFFIX: &str = ".journal";
/// Gives up after this many journals of one name.
const MAX_SUFFIX: u32 = 9999;

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
}

impl Header {
    /// The header as its [`HEADER_LEN`] bytes: magic, version, header length, sample rate,
    /// channels, mix channels, stem channels (u32 LE each), then the name and the track
    /// names (a u16 LE count before the tracks, a u16 LE length before each string), zeros
    /// after.
    pub fn encode(&self) -> std::io::Result<Vec<u8>> {
        let mut b = Vec::with_capacity(HEADER_LEN);
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
        let too_long = || {
            Error::new(
                ErrorKind::InvalidInput,
                "the recording and track names do not fit in a journal header",
            )
        };
        let string = |b: &mut Vec<u8>, s: &str| -> std::io::Result<()> {
            let len = u16::try_from(s.len()).map_err(|_| too_long())?;
            b.extend_from_slice(&len.to_le_bytes());
            b.extend_from_slice(s.as_bytes());
            Ok(())
        };
        string(&mut b, &self.name)?;
        let count = u16::try_from(self.tracks.len()).map_err(|_| too_long())?;
        b.extend_from_slice(&count.to_le_bytes());
        for t in &self.tracks {
            string(&mut b, t)?;
        }
        if b.len() > HEADER_LEN {
            return Err(too_long());
        }
        b.resize(HEADER_LEN, 0);
        Ok(b)
    }

    /// Reads a header from the start of a journal; returns it and the byte offset of the
    /// first frame. The error says what is wrong, for a message naming the file.
    pub fn decode(b: &[u8]) -> Result<(Header, usize), String> {
        if b.len() < MAGIC.len() || b[..MAGIC.len()] != MAGIC {
            return Err("not a waves journal (unknown magic bytes)".into());
        }
        let damaged = |why: &str| format!("damaged journal header: {why}");
        let mut at = MAGIC.len();
        let u32_at = |at: &mut usize| -> Result<u32, String> {
            let v = b
                .get(*at..*at + 4)
                .ok_or_else(|| damaged("it ends early"))?;
            *at += 4;
            Ok(u32::from_le_bytes(v.try_into().unwrap()))
        };
        let version = u32_at(&mut at)?;
        if version != VERSION {
            return Err(format!(
                "journal format version {version}; this waves reads version {VERSION}"
            ));
        }
        let header_len = u32_at(&mut at)? as usize;
        let sample_rate = u32_at(&mut at)?;
        let channels = u32_at(&mut at)?;
        let mix_channels = u32_at(&mut at)?;
        let stem_channels = u32_at(&mut at)?;
        if !(32..=1 << 20).contains(&header_len) {
            return Err(damaged(&format!("header length {header_len}")));
        }
        if b.len() < header_len {
            return Err(damaged("the file ends inside the header"));
        }
        let b = &b[..header_len];
        let u16_at = |at: &mut usize| -> Result<usize, String> {
            let v = b
                .get(*at..*at + 2)
                .ok_or_else(|| damaged("the names run past the header"))?;
            *at += 2;
            Ok(u16::from_le_bytes(v.try_into().unwrap()) as usize)
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
        let stems_fit = (count as u64) * u64::from(stem_channels)
            <= u64::from(channels - mix_channels)
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
            },
            header_len,
        ))
    }
}

/// What the spooler and the control thread share about one journal.
#[derive(Debug)]
struct Shared {
    path: PathBuf,
    /// Whole frames handed to the file.
    frames: AtomicU64,
    /// Frames recorded but not journaled (after a write error).
    lost: AtomicU64,
    /// The first write error.
    error: Mutex<Option<String>>,
    /// The error was reported.
    told: AtomicBool,
    /// Track names the control thread saw last, and whether the header still has to be
    /// rewritten with them.
    tracks: Mutex<(Vec<String>, bool)>,
}

/// The spooler's end: appends frames, syncs, rewrites the header's track names.
#[derive(Debug)]
pub struct Journal {
    file: File,
    header: Header,
    shared: Arc<Shared>,
    bytes: Vec<u8>,
    last_sync: Instant,
    broken: bool,
}

/// The control thread's end: the path, the track names to record, one warning, removal.
#[derive(Debug)]
pub struct JournalLink {
    shared: Arc<Shared>,
    removed: bool,
}

/// The journal file name for recording `name`: `.NAME.journal`, or `.NAME.N.journal`.
fn journal_name(name: &str, n: u32) -> String {
    let stem = name.strip_suffix(".wav").filter(|s| !s.is_empty());
    let stem = stem.unwrap_or(name);
    if n == 1 {
        format!(".{stem}{SUFFIX}")
    } else {
        format!(".{stem}.{n}{SUFFIX}")
    }
}

impl Journal {
    /// Creates a new journal in `dir` (created if missing) under the first free name for
    /// `header.name`, locks it and writes the header (control thread, before recording).
    pub fn create(dir: &Path, header: Header) -> std::io::Result<(Journal, JournalLink)> {
        let bytes = header.encode()?;
        std::fs::create_dir_all(dir)?;
        let mut opened = None;
        for n in 1..=MAX_SUFFIX {
            let path = dir.join(journal_name(&header.name, n));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => {
                    opened = Some((f, path));
                    break;
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        let (mut file, path) = opened.ok_or_else(|| {
            Error::new(
                ErrorKind::AlreadyExists,
                format!("{MAX_SUFFIX} journals already exist"),
            )
        })?;
        // Held until the file is closed: a running take is not recovered under it.
        let _ = file.try_lock();
        if let Err(e) = file.write_all(&bytes).and_then(|()| file.sync_data()) {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        let shared = Arc::new(Shared {
            path,
            frames: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            error: Mutex::new(None),
            told: AtomicBool::new(false),
            tracks: Mutex::new((header.tracks.clone(), false)),
        });
        let journal = Journal {
            file,
            header,
            shared: shared.clone(),
            bytes: Vec::new(),
            last_sync: Instant::now(),
            broken: false,
        };
        Ok((
            journal,
            JournalLink {
                shared,
                removed: false,
            },
        ))
    }

    /// Spooler thread: appends interleaved samples (whole frames, as drained from the
    /// ring: `a` then `b`). Never fails: an error stops the journal and is kept for the
    /// control thread.
    pub fn append(&mut self, a: &[f32], b: &[f32]) {
        let frames = ((a.len() + b.len()) / self.header.channels.max(1) as usize) as u64;
        if self.broken {
            self.shared.lost.fetch_add(frames, Relaxed);
            return;
        }
        self.bytes.clear();
        for s in a.iter().chain(b) {
            self.bytes.extend_from_slice(&s.to_le_bytes());
        }
        match self.file.write_all(&self.bytes) {
            Ok(()) => {
                self.shared.frames.fetch_add(frames, Relaxed);
            }
            Err(e) => {
                self.fail(&e);
                self.shared.lost.fetch_add(frames, Relaxed);
            }
        }
    }

    /// Spooler thread: [`sync`](Self::sync) when the last one was [`SYNC_EVERY`] ago.
    pub fn maybe_sync(&mut self) {
        if self.last_sync.elapsed() >= SYNC_EVERY {
            self.sync();
        }
    }

    /// Writes changed track names into the header and makes everything durable.
    pub fn sync(&mut self) {
        self.last_sync = Instant::now();
        if self.broken {
            return;
        }
        let changed = {
            let mut t = self.shared.tracks.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut t.1).then(|| t.0.clone())
        };
        if let Some(tracks) = changed {
            self.header.tracks = tracks;
            let rewritten = self.header.encode().and_then(|bytes| {
                self.file.seek(SeekFrom::Start(0))?;
                self.file.write_all(&bytes)?;
                self.file.seek(SeekFrom::End(0)).map(|_| ())
            });
            if let Err(e) = rewritten {
                return self.fail(&e);
            }
        }
        if let Err(e) = self.file.sync_data() {
            self.fail(&e);
        }
    }

    fn fail(&mut self, e: &Error) {
        self.broken = true;
        let mut first = self.shared.error.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert_with(|| e.to_string());
    }
}

impl JournalLink {
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Control thread, while playing: hands the stem slots' track names to the spooler
    /// (it rewrites the header at its next sync) and returns the journal's write error,
    /// once.
    pub fn tick(&self, tracks: &[String]) -> Option<String> {
        {
            let mut t = self.shared.tracks.lock().unwrap_or_else(|e| e.into_inner());
            if t.0 != tracks {
                *t = (tracks.to_vec(), true);
            }
        }
        let error = self
            .shared
            .error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        if self.shared.told.swap(true, Relaxed) {
            return None;
        }
        Some(format!(
            "warning: the crash journal {} stopped growing ({error}); the take is still recorded in memory and saved at the end",
            self.path().display()
        ))
    }

    /// How to get the take back when saving it failed; names the journal and, if it
    /// stopped early, how much it holds.
    pub fn kept(&self) -> String {
        let lost = self.shared.lost.load(Relaxed);
        let mut s = format!(
            "the take is kept in {}; `waves recover` saves it",
            self.path().display()
        );
        if lost > 0 || self.shared.error.lock().is_ok_and(|e| e.is_some()) {
            s.push_str(&format!(
                " (the journal stopped after {} frames: it could not be written)",
                self.shared.frames.load(Relaxed)
            ));
        }
        s
    }

    /// Control thread, after the take is saved: removes the journal. Stop the spooler
    /// first. A journal that cannot be removed is said, not an error.
    pub fn remove(mut self) {
        self.removed = true;
        if let Err(e) = std::fs::remove_file(self.path())
            && e.kind() != ErrorKind::NotFound
        {
            crate::tell!(
                "warning: the crash journal {} could not be removed ({e}); delete it by hand, the take is saved",
                self.path().display()
            );
        }
    }
}

impl Drop for JournalLink {
    /// Not removed after a save: kept, unless it holds nothing to recover (no device,
    /// nothing played).
    fn drop(&mut self) {
        if !self.removed
            && self.shared.frames.load(Relaxed) == 0
            && self.shared.lost.load(Relaxed) == 0
        {
            let _ = std::fs::remove_file(&self.shared.path);
        }
    }
}

/// Control thread, as a real-time recording starts: notes unfinished takes waiting in
/// `dir`, then gives `spooler` a journal for recording `name`. Without one (a folder that
/// cannot be written) it says so once and records in memory as always.
pub fn attach(
    spooler: Spooler,
    dir: &Path,
    name: &str,
    sample_rate: u32,
    tracks: &[String],
) -> (Spooler, Option<JournalLink>) {
    if let Some(note) = unfinished_note(dir) {
        crate::tell!("{note}");
    }
    let channels = spooler.channels() as u32;
    let header = Header {
        sample_rate,
        channels,
        mix_channels: channels.min(2),
        stem_channels: 2,
        name: name.to_string(),
        tracks: tracks.to_vec(),
    };
    match Journal::create(dir, header) {
        Ok((journal, link)) => (spooler.with_journal(journal), Some(link)),
        Err(e) => {
            crate::tell!(
                "warning: no crash journal for this take ({e} in {}); it is recorded in memory and saved at the end as always",
                dir.display()
            );
            (spooler, None)
        }
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

/// The start-up line about journals left in `dir` by a take that never ended, if any.
pub fn unfinished_note(dir: &Path) -> Option<String> {
    let left: Vec<String> = list(dir)
        .ok()?
        .into_iter()
        .filter(|p| File::open(p).is_ok_and(|f| !in_use(&f)))
        .map(|p| p.display().to_string())
        .collect();
    match left.len() {
        0 => None,
        1 => Some(format!(
            "note: an unfinished take is in {}; `waves recover` saves it",
            left[0]
        )),
        _ => Some(format!(
            "note: unfinished takes are in {}; `waves recover` saves them",
            left.join(", ")
        )),
    }
}

/// What became of one journal.
enum Recovered {
    /// The WAVs written: (path, seconds).
    Saved(Vec<(PathBuf, f64)>),
    /// No whole frame: nothing to save; removed.
    Empty,
    /// A running waves is still writing it.
    InUse,
}

/// `waves recover DIR`: turns every journal in `dir` into WAVs beside it (the mix under
/// the name it was meant for, stems as `NAME__TRACK.wav`, never overwriting), removing
/// each journal only once its WAVs are on disk. An error names the journal, which is kept.
pub fn recover(dir: &Path) -> Result<(), String> {
    let journals = match list(dir) {
        Ok(j) => j,
        Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("error: cannot read {}: {e}", dir.display())),
    };
    if journals.is_empty() {
        crate::say!(
            "No unfinished takes in {}: nothing to recover",
            dir.display()
        );
        return Ok(());
    }
    let mut failed = 0;
    for path in &journals {
        match recover_one(path, dir) {
            Ok(Recovered::Saved(files)) => {
                for (p, secs) in files {
                    crate::say!("Recovered: {} ({secs:.2} seconds)", p.display());
                }
            }
            Ok(Recovered::Empty) => crate::say!(
                "Nothing to recover in {} (it ended before any audio); removed it",
                path.display()
            ),
            Ok(Recovered::InUse) => crate::tell!(
                "note: {} belongs to a waves that is still recording; left alone",
                path.display()
            ),
            Err(e) => {
                crate::tell!("error: {}: {e}; the journal is kept", path.display());
                failed += 1;
            }
        }
    }
    if failed > 0 {
        Err(format!(
            "{failed} of {} journals could not be recovered",
            journals.len()
        ))
    } else {
        Ok(())
    }
}

/// Reads a journal (header and every whole frame) into a take.
pub fn read(path: &Path) -> Result<(Header, Take), String> {
    let file = File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    read_from(file)
}

fn read_from(mut file: File) -> Result<(Header, Take), String> {
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read it: {e}"))?
        .len();
    let mut head = Vec::new();
    (&mut file)
        .take(HEADER_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| format!("cannot read it: {e}"))?;
    let (header, offset) = Header::decode(&head)?;
    let channels = header.channels as usize;
    let frame_bytes = 4 * channels as u64;
    let frames = len.saturating_sub(offset as u64) / frame_bytes;
    let samples_len = usize::try_from(frames * channels as u64)
        .map_err(|_| "too large for this machine".to_string())?;
    let mut samples = Vec::new();
    samples
        .try_reserve_exact(samples_len)
        .map_err(|_| "too large to load into memory".to_string())?;
    file.seek(SeekFrom::Start(offset as u64))
        .map_err(|e| format!("cannot read it: {e}"))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut chunk = vec![0u8; 1 << 16];
    while samples.len() < samples_len {
        let want = ((samples_len - samples.len()) * 4).min(chunk.len());
        reader
            .read_exact(&mut chunk[..want])
            .map_err(|e| format!("cannot read its frames: {e}"))?;
        samples.extend(
            chunk[..want]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap())),
        );
    }
    let take = Take {
        samples,
        channels,
        dropped: 0,
    };
    Ok((header, take))
}

fn recover_one(path: &Path, dir: &Path) -> Result<Recovered, String> {
    let file = File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    if in_use(&file) {
        return Ok(Recovered::InUse);
    }
    let (header, take) = read_from(file)?;
    if take.frames() == 0 {
        std::fs::remove_file(path).map_err(|e| format!("cannot remove it: {e}"))?;
        return Ok(Recovered::Empty);
    }
    let sr = header.sample_rate;
    let mix = header.mix_channels as usize;
    let mut saved = Vec::new();
    let (wav, secs) = naming::save_channels(&take, 0..mix, dir, &header.name, sr)
        .map_err(|e| format!("the mix could not be written: {e}"))?;
    durable(&wav).map_err(|e| format!("{} could not be synced: {e}", wav.display()))?;
    saved.push((wav.clone(), secs));
    let stem = wav
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "recording".into());
    let per = header.stem_channels as usize;
    for (slot, track) in header.tracks.iter().enumerate() {
        let first = mix + slot * per;
        let name = format!("{stem}__{track}.wav");
        let written = naming::save_channels(&take, first..first + per, dir, &name, sr)
            .and_then(|(p, secs)| durable(&p).map(|()| (p, secs)));
        match written {
            Ok(s) => saved.push(s),
            Err(e) => {
                for (p, secs) in &saved {
                    crate::say!("Recovered: {} ({secs:.2} seconds)", p.display());
                }
                return Err(format!("the stem \"{track}\" could not be written: {e}"));
            }
        }
    }
    // Only now that the WAVs are on disk.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    std::fs::remove_file(path).map_err(|e| {
        format!(
            "its WAVs are written ({}), but it could not be removed: {e}; delete it by hand",
            saved
                .iter()
                .map(|(p, _)| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    Ok(Recovered::Saved(saved))
}

/// Makes a written file durable before the journal it came from is removed.
fn durable(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::super::tap::recorder;
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("waves-journal-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn header(tracks: &[&str]) -> Header {
        Header {
            sample_rate: 48_000,
            channels: 2 + 2 * (tracks.len() as u32 + 1),
            mix_channels: 2,
            stem_channels: 2,
            name: "take.wav".into(),
            tracks: tracks.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    }

    #[test]
    fn header_round_trip() {
        let h = header(&["drums", "bäss"]);
        let bytes = h.encode().unwrap();
        assert_eq!(bytes.len(), HEADER_LEN);
        assert_eq!(&bytes[..8], b"WAVESJNL");
        assert_eq!(Header::decode(&bytes).unwrap(), (h, HEADER_LEN));
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
    fn bad_magic_version_and_fields_are_named() {
        let mut bytes = header(&["a"]).encode().unwrap();
        let e = Header::decode(b"RIFF\0\0\0\0WAVEfmt ").unwrap_err();
        assert!(e.contains("not a waves journal"), "{e}");
        assert!(Header::decode(&[]).unwrap_err().contains("not a waves"));
        bytes[8] = 9;
        assert!(Header::decode(&bytes).unwrap_err().contains("version 9"));
        bytes[8] = 1;
        bytes[20] = 1; // channels = 1 < mix channels
        let e = Header::decode(&bytes).unwrap_err();
        assert!(e.contains("damaged journal header"), "{e}");
        assert!(
            Header::decode(&bytes[..100])
                .unwrap_err()
                .contains("ends inside the header")
        );
    }

    #[test]
    fn spooled_frames_land_in_the_journal_and_a_cut_frame_is_dropped() {
        let dir = temp_dir("spool");
        let (mut tap, spooler) = recorder(4096, 6);
        let (spooler, link) = attach(spooler, &dir, "take.wav", 48_000, &["a".into()]);
        let link = link.expect("a journal");
        assert_eq!(link.path(), dir.join(".take.journal"));
        let handle = spooler.spawn();
        let samples: Vec<f32> = (0..6 * 3000).map(|v| v as f32 * 0.5).collect();
        for c in samples.chunks(6 * 100) {
            tap.push(c);
            std::thread::sleep(Duration::from_millis(1));
        }
        // A track that an edit added: written into the header at the next sync.
        assert!(link.tick(&["a".into(), "b".into()]).is_none());
        let take = handle.stop();
        assert_eq!(take.samples, samples);
        let (h, back) = read(link.path()).unwrap();
        assert_eq!(h.tracks, ["a", "b"]);
        assert_eq!(
            (h.channels, h.mix_channels, h.name.as_str()),
            (6, 2, "take.wav")
        );
        assert_eq!(back.samples, samples);

        // Power loss mid-frame: up to the last whole frame.
        let len = std::fs::metadata(link.path()).unwrap().len();
        let f = OpenOptions::new().write(true).open(link.path()).unwrap();
        f.set_len(len - 6).unwrap();
        let (_, cut) = read(link.path()).unwrap();
        assert_eq!(cut.frames(), 2999);
        assert_eq!(cut.samples, samples[..6 * 2999]);
        link.remove();
        assert!(names(&dir).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn journals_are_never_replaced_and_locked_while_recording() {
        let dir = temp_dir("unique");
        let (a, la) = Journal::create(&dir, header(&[])).unwrap();
        let (_b, lb) = Journal::create(&dir, header(&[])).unwrap();
        assert_eq!(la.path(), dir.join(".take.journal"));
        assert_eq!(lb.path(), dir.join(".take.2.journal"));
        // Both in use: no start-up note, recover leaves them alone.
        assert_eq!(unfinished_note(&dir), None);
        recover(&dir).unwrap();
        assert_eq!(names(&dir), [".take.2.journal", ".take.journal"]);
        // Closed with frames (a killed process): noted.
        let mut a = a;
        a.append(&[0.0; 8], &[]);
        drop(a);
        let note = unfinished_note(&dir).unwrap();
        assert!(note.contains(".take.journal;"), "{note}");
        drop(la);
        assert!(dir.join(".take.journal").exists(), "frames are kept");
        drop(lb);
        drop(_b);
        assert_eq!(names(&dir), [".take.journal"], "an empty journal goes");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn recover_writes_mix_and_stems_never_overwriting() {
        let dir = temp_dir("recover");
        recover(&dir).unwrap(); // none: fine
        std::fs::write(dir.join("take.wav"), b"mine").unwrap();
        let (mut j, link) = Journal::create(&dir, header(&["drums"])).unwrap();
        // Frames of 6 channels: mix, drums, one unnamed slot.
        let frames: Vec<f32> = (0..6 * 480)
            .map(|v| (v % 6) as f32 + v as f32 * 1e-4)
            .collect();
        j.append(&frames[..6 * 100], &frames[6 * 100..]);
        j.sync();
        drop(j);
        drop(link); // as a killed process would: a journal with frames is kept
        recover(&dir).unwrap();
        assert_eq!(names(&dir), ["take.wav", "take_2.wav", "take_2__drums.wav"]);
        assert_eq!(std::fs::read(dir.join("take.wav")).unwrap(), b"mine");
        let r = hound::WavReader::open(dir.join("take_2.wav")).unwrap();
        assert_eq!((r.spec().channels, r.spec().sample_rate), (2, 48_000));
        let mix: Vec<f32> = r.into_samples::<f32>().map(|s| s.unwrap()).collect();
        let want: Vec<f32> = frames.chunks(6).flat_map(|f| [f[0], f[1]]).collect();
        assert_eq!(mix, want);
        let r = hound::WavReader::open(dir.join("take_2__drums.wav")).unwrap();
        let drums: Vec<f32> = r.into_samples::<f32>().map(|s| s.unwrap()).collect();
        let want: Vec<f32> = frames.chunks(6).flat_map(|f| [f[2], f[3]]).collect();
        assert_eq!(drums, want);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_write_error_stops_the_journal_and_is_told_once() {
        let Ok(full) = OpenOptions::new().write(true).open("/dev/full") else {
            return; // not Linux
        };
        let dir = temp_dir("full");
        let (mut j, link) = Journal::create(&dir, header(&[])).unwrap();
        j.append(&[0.5; 8], &[]);
        j.sync();
        j.file = full; // the disk fills up
        j.append(&[0.5; 8], &[0.25; 4]);
        j.append(&[0.5; 4], &[]);
        j.sync();
        let warning = link.tick(&[]).expect("a warning");
        assert!(warning.contains("stopped growing"), "{warning}");
        assert!(warning.contains("still recorded in memory"), "{warning}");
        assert_eq!(link.tick(&[]), None, "told once");
        assert_eq!(link.shared.frames.load(Relaxed), 2);
        assert_eq!(link.shared.lost.load(Relaxed), 4);
        assert!(
            link.kept().contains("stopped after 2 frames"),
            "{}",
            link.kept()
        );
        drop(j);
        // What was written before is intact.
        let (_, take) = read(link.path()).unwrap();
        assert_eq!(take.samples, [0.5; 8]);
        link.remove();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_foreign_file_is_an_error_and_kept() {
        let dir = temp_dir("foreign");
        std::fs::write(dir.join(".x.journal"), b"not a journal at all").unwrap();
        let e = recover(&dir).unwrap_err();
        assert!(e.contains("1 of 1"), "{e}");
        assert_eq!(names(&dir), [".x.journal"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
