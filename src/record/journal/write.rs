//! Writing a journal: the control thread creates it ([`attach`]), the spooler hands it
//! every frame through a bounded buffer ([`JournalFeed`]), and its own thread
//! (`waves-journal`) appends them to the file at the disk's pace and makes them durable
//! about every [`SYNC_EVERY`]; [`JournalLink`] is the control thread's end.
//!
//! The take in memory never waits for the disk: when the buffer is full (a disk slower than
//! the audio), the journal stops where it is, whole frames intact, notes in its header how
//! many frames it holds, and the control thread says so once; the take goes on whole. A
//! write error (disk full) stops it the same way. A killed process loses only what was still
//! in the buffers; a power loss at most about [`SYNC_EVERY`] more. While recording, the
//! journal is locked (`flock`), so `waves recover` and the start-up note leave it alone.

use super::super::disk::Disk;
use super::super::spool::Spooler;
use super::super::{RecordError, save};
use super::{Header, journal_name, unfinished_note};
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the journal thread makes the journal durable (`sync_data`).
pub const SYNC_EVERY: Duration = Duration::from_millis(500);
/// Seconds of audio the buffer between the spooler and the journal thread holds: how far
/// the disk may fall behind before the journal stops.
pub const BUFFER_SECS: usize = 2;
/// Samples per write, so that ending the thread waits for at most one such write.
const WRITE_SAMPLES: usize = 8192;
/// How long the journal thread sleeps when it has nothing to write.
const POLL: Duration = Duration::from_millis(5);
/// Gives up after this many journals of one name.
const MAX_SUFFIX: u32 = save::MAX_SUFFIX;

/// Where the journal's bytes go: a [`File`], or in tests one that is slow or fails.
pub trait JournalFile: Send {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    fn write_at(&mut self, at: u64, bytes: &[u8]) -> std::io::Result<()>;
    fn sync(&mut self) -> std::io::Result<()>;
}

impl JournalFile for File {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_all(bytes)
    }
    fn write_at(&mut self, at: u64, bytes: &[u8]) -> std::io::Result<()> {
        self.seek(SeekFrom::Start(at))?;
        self.write_all(bytes)?;
        self.seek(SeekFrom::End(0)).map(|_| ())
    }
    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_data()
    }
}

/// What the spooler, the journal thread and the control thread share about one journal.
#[derive(Debug)]
struct Shared {
    path: PathBuf,
    sample_rate: u32,
    /// Whole frames written to the file.
    frames: AtomicU64,
    /// Frames recorded but not journaled (after it stopped).
    lost: AtomicU64,
    /// Why it stopped: a write error, or the disk falling behind.
    error: Mutex<Option<String>>,
    /// The journal takes no more frames.
    closed: AtomicBool,
    /// No more frames will come: write the rest, then end.
    fed_all: AtomicBool,
    /// The take is saved: end now.
    abandon: AtomicBool,
    /// The error was reported.
    told: AtomicBool,
    /// Track names the control thread saw last, and whether the header still has to be
    /// rewritten with them.
    tracks: Mutex<(Vec<String>, bool)>,
    /// The journal thread, to wake it.
    thread: Mutex<Option<std::thread::Thread>>,
}

impl Shared {
    fn stop_with(&self, why: String) {
        self.closed.store(true, SeqCst);
        let mut e = self.error.lock().unwrap_or_else(|e| e.into_inner());
        e.get_or_insert(why);
    }
    fn wake(&self) {
        if let Some(t) = self
            .thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            t.unpark();
        }
    }
}

/// The spooler's end: hands frames to the journal thread without ever waiting.
pub struct JournalFeed {
    prod: HeapProd<f32>,
    channels: usize,
    shared: Arc<Shared>,
    last_wake: Instant,
}

impl JournalFeed {
    /// Spooler thread: queues interleaved whole frames (`a` then `b`, as drained from the
    /// recording ring) for the journal, or, when the journal cannot keep up, stops it.
    pub fn feed(&mut self, a: &[f32], b: &[f32]) {
        let n = a.len() + b.len();
        let frames = (n / self.channels.max(1)) as u64;
        if self.shared.closed.load(Relaxed) {
            self.shared.lost.fetch_add(frames, Relaxed);
            return;
        }
        if self.prod.vacant_len() < n {
            self.shared.lost.fetch_add(frames, Relaxed);
            self.shared
                .stop_with(format!("the disk fell behind by more than {BUFFER_SECS} s"));
            self.shared.wake();
            return;
        }
        self.prod.push_slice(a);
        self.prod.push_slice(b);
        if self.last_wake.elapsed() >= POLL {
            self.last_wake = Instant::now();
            self.shared.wake();
        }
    }
}

impl Drop for JournalFeed {
    fn drop(&mut self) {
        self.shared.fed_all.store(true, SeqCst);
        self.shared.wake();
    }
}

/// The journal thread's state: the file and what it has written.
pub struct Journal {
    file: Box<dyn JournalFile>,
    header: Header,
    shared: Arc<Shared>,
    cons: HeapCons<f32>,
    bytes: Vec<u8>,
    last_sync: Instant,
    broken: bool,
}

/// The control thread's end: the path, the track names to record, one warning, removal.
pub struct JournalLink {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    done: bool,
}

impl Journal {
    /// Creates a new journal in `dir` (created if missing) under the first free name for
    /// `header.name`, locks it and writes the header (control thread, before recording).
    /// `wrap` chooses what the frames are written through (the file itself, but for tests).
    fn create(
        dir: &Path,
        header: Header,
        wrap: impl FnOnce(File) -> Box<dyn JournalFile>,
    ) -> Result<(Journal, JournalFeed, Arc<Shared>), RecordError> {
        let bytes = header
            .encode()
            .map_err(|e| RecordError::io("write", dir, e))?;
        std::fs::create_dir_all(dir)
            .map_err(|e| RecordError::io("create the output folder", dir, e))?;
        let mut opened = None;
        for n in 1..=MAX_SUFFIX {
            let path = dir.join(journal_name(&header.name, n));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => {
                    opened = Some((f, path));
                    break;
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(RecordError::io("create the journal", path, e)),
            }
        }
        let (mut file, path) = opened.ok_or_else(|| RecordError::NoFreeName {
            dir: dir.to_path_buf(),
            name: journal_name(&header.name, 1),
        })?;
        // Held until the file is closed: a running take is not recovered under it.
        let _ = file.try_lock();
        if let Err(e) = file.write_all(&bytes).and_then(|()| file.sync_data()) {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(RecordError::io("write", path, e));
        }
        let channels = header.channels as usize;
        let samples = BUFFER_SECS * header.sample_rate as usize * channels;
        let (prod, cons) = HeapRb::<f32>::new(samples.max(channels)).split();
        let shared = Arc::new(Shared {
            path,
            sample_rate: header.sample_rate,
            frames: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            error: Mutex::new(None),
            closed: AtomicBool::new(false),
            fed_all: AtomicBool::new(false),
            abandon: AtomicBool::new(false),
            told: AtomicBool::new(false),
            tracks: Mutex::new((header.tracks.clone(), false)),
            thread: Mutex::new(None),
        });
        let feed = JournalFeed {
            prod,
            channels,
            shared: shared.clone(),
            last_wake: Instant::now(),
        };
        let journal = Journal {
            file: wrap(file),
            header,
            shared: shared.clone(),
            cons,
            bytes: Vec::with_capacity(WRITE_SAMPLES * 4),
            last_sync: Instant::now(),
            broken: false,
        };
        Ok((journal, feed, shared))
    }

    /// The journal thread: writes what the spooler queued until told to stop.
    fn run(mut self) {
        loop {
            if self.shared.abandon.load(SeqCst) {
                return;
            }
            // Read before writing: everything queued before it was set is then written.
            let fed_all = self.shared.fed_all.load(SeqCst);
            let n = self.write_some();
            if self.last_sync.elapsed() >= SYNC_EVERY {
                self.sync();
            }
            if n == 0 {
                if fed_all || (self.shared.closed.load(SeqCst) && self.cons.is_empty()) {
                    self.sync();
                    return;
                }
                std::thread::park_timeout(POLL);
            }
        }
    }

    /// Writes up to [`WRITE_SAMPLES`] queued samples (whole frames); returns how many.
    fn write_some(&mut self) -> usize {
        let ch = self.header.channels.max(1) as usize;
        let n = (self.cons.occupied_len().min(WRITE_SAMPLES) / ch) * ch;
        if n == 0 {
            return 0;
        }
        let frames = (n / ch) as u64;
        if self.broken {
            self.cons.skip(n);
            self.shared.lost.fetch_add(frames, Relaxed);
            return n;
        }
        self.bytes.clear();
        let (a, b) = self.cons.as_slices();
        for s in a.iter().chain(b).take(n) {
            self.bytes.extend_from_slice(&s.to_le_bytes());
        }
        self.cons.skip(n);
        match self.file.append(&self.bytes) {
            Ok(()) => {
                self.shared.frames.fetch_add(frames, Relaxed);
            }
            Err(e) => {
                self.fail(&e);
                self.shared.lost.fetch_add(frames, Relaxed);
            }
        }
        n
    }

    /// Writes changed track names (and where the journal stopped) into the header and
    /// makes everything durable.
    fn sync(&mut self) {
        self.last_sync = Instant::now();
        if self.broken {
            return;
        }
        let changed = {
            let mut t = self.shared.tracks.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut t.1).then(|| t.0.clone())
        };
        // Noted once everything queued before it stopped is written: the frames it holds.
        let stopped = self.shared.closed.load(SeqCst)
            && self.cons.is_empty()
            && self.header.stopped_at.is_none();
        if changed.is_some() || stopped {
            if let Some(tracks) = changed {
                self.header.tracks = tracks;
            }
            if stopped {
                self.header.stopped_at = Some(self.shared.frames.load(Relaxed));
            }
            let rewritten = self
                .header
                .encode()
                .and_then(|bytes| self.file.write_at(0, &bytes));
            if let Err(e) = rewritten {
                return self.fail(&e);
            }
        }
        if let Err(e) = self.file.sync() {
            self.fail(&e);
        }
    }

    fn fail(&mut self, e: &std::io::Error) {
        self.broken = true;
        self.shared.stop_with(e.to_string());
    }
}

impl JournalLink {
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    fn secs(&self, frames: u64) -> f64 {
        frames as f64 / f64::from(self.shared.sample_rate.max(1))
    }

    /// Control thread, while playing: hands the stem slots' track names to the journal
    /// thread (it rewrites the header at its next sync) and returns, once, the warning that
    /// the journal stopped.
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
            "warning: the crash journal {} stopped growing after {:.2} s ({error}); the take is still recorded whole in memory and saved at the end",
            self.path().display(),
            self.secs(self.shared.frames.load(Relaxed))
        ))
    }

    /// Waits for the journal thread to write everything queued and end.
    fn finish(&mut self) {
        self.done = true;
        self.shared.fed_all.store(true, SeqCst);
        self.shared.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Control thread, when the take could not be saved: lets the journal write all it
    /// has and says how to get the take back (and how much the journal holds if it
    /// stopped early). Stop the spooler first.
    pub fn keep(mut self) -> String {
        self.finish();
        let mut s = format!(
            "the take is kept in {}; `waves recover` saves it",
            self.path().display()
        );
        let lost = self.shared.lost.load(Relaxed);
        if lost > 0 || self.shared.error.lock().is_ok_and(|e| e.is_some()) {
            let frames = self.shared.frames.load(Relaxed);
            s.push_str(&format!(
                " (the journal stopped after {frames} frames, {:.2} s: {})",
                self.secs(frames),
                self.shared
                    .error
                    .lock()
                    .ok()
                    .and_then(|e| e.clone())
                    .unwrap_or_default()
            ));
        }
        s
    }

    /// Control thread, once the take is durable: ends the journal thread without waiting
    /// for the disk and removes the journal. A journal that cannot be removed is said, not
    /// an error.
    pub fn remove(mut self, disk: &dyn Disk) {
        self.done = true;
        self.shared.abandon.store(true, SeqCst);
        self.shared.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Err(e) = disk.remove(self.path())
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
    /// Neither removed nor kept (nothing played, or an early return): the journal is
    /// finished and kept, unless it holds nothing to recover.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.finish();
        if self.shared.frames.load(Relaxed) == 0 && self.shared.lost.load(Relaxed) == 0 {
            let _ = std::fs::remove_file(&self.shared.path);
        }
    }
}

/// Control thread, as a real-time recording starts, before anything plays: checks that
/// every name the take may need fits the file system (an error otherwise), notes unfinished
/// takes waiting in `dir`, then gives `spooler` a journal for recording `name`. Without one
/// (a folder that cannot be written) it says so once and records in memory as always.
pub fn attach(
    spooler: Spooler,
    dir: &Path,
    name: &str,
    sample_rate: u32,
    tracks: &[String],
) -> Result<(Spooler, Option<JournalLink>), RecordError> {
    attach_with(spooler, dir, name, sample_rate, tracks, |f| Box::new(f))
}

/// [`attach`] writing the journal through `wrap(file)`.
pub fn attach_with(
    spooler: Spooler,
    dir: &Path,
    name: &str,
    sample_rate: u32,
    tracks: &[String],
    wrap: impl FnOnce(File) -> Box<dyn JournalFile>,
) -> Result<(Spooler, Option<JournalLink>), RecordError> {
    save::check_names(dir, name, tracks)?;
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
        stopped_at: None,
    };
    let no_journal = |why: &dyn std::fmt::Display| {
        crate::tell!(
            "warning: no crash journal for this take ({why}); it is recorded in memory and saved at the end as always"
        );
    };
    let (journal, feed, shared) = match Journal::create(dir, header, wrap) {
        Ok(j) => j,
        Err(e) => {
            no_journal(&e);
            return Ok((spooler, None));
        }
    };
    let path = shared.path.clone();
    let thread = std::thread::Builder::new()
        .name("waves-journal".into())
        .spawn(move || journal.run());
    match thread {
        Ok(t) => {
            *shared.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(t.thread().clone());
            let link = JournalLink {
                shared,
                thread: Some(t),
                done: false,
            };
            Ok((spooler.with_journal(feed), Some(link)))
        }
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            no_journal(&format!("no thread for it: {e}"));
            Ok((spooler, None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::disk::REAL;
    use super::super::super::tap::recorder;
    use super::super::read;
    use super::*;
    use crate::record::testing::temp_dir;

    /// A disk that takes `rate` bytes a second.
    struct Slow {
        file: File,
        rate: f64,
    }

    impl JournalFile for Slow {
        fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            std::thread::sleep(Duration::from_secs_f64(bytes.len() as f64 / self.rate));
            self.file.append(bytes)
        }
        fn write_at(&mut self, at: u64, bytes: &[u8]) -> std::io::Result<()> {
            self.file.write_at(at, bytes)
        }
        fn sync(&mut self) -> std::io::Result<()> {
            self.file.sync()
        }
    }

    /// Records `secs` of stereo audio at 10 times real time through a 0.5 s ring into a
    /// journal on a disk of `rate` bytes a second; returns the take, the link, the samples
    /// pushed and how long the spooler took to stop.
    fn record_on_slow_disk(
        tag: &str,
        secs: usize,
        rate: f64,
    ) -> (
        PathBuf,
        crate::record::Take,
        JournalLink,
        Vec<f32>,
        Duration,
    ) {
        let dir = temp_dir("waves-jwrite", tag);
        let (mut tap, spooler) = recorder(24_000, 2);
        let (spooler, link) = attach_with(spooler, &dir, "take.wav", 48_000, &[], move |f| {
            Box::new(Slow { file: f, rate })
        })
        .unwrap();
        let link = link.expect("a journal");
        let handle = spooler.spawn();
        let samples: Vec<f32> = (0..2 * 48_000 * secs).map(|i| (i % 977) as f32).collect();
        let t0 = Instant::now();
        for (k, block) in samples.chunks(2 * 1024).enumerate() {
            tap.push(block);
            // 1024 frames are 21.3 ms of audio: pushed at ten times real time.
            let due = Duration::from_secs_f64((k + 1) as f64 * 1024.0 / 48_000.0 / 10.0);
            if let Some(wait) = due.checked_sub(t0.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let t1 = Instant::now();
        let take = handle.stop();
        (dir, take, link, samples, t1.elapsed())
    }

    #[test]
    fn a_slow_journal_disk_drops_no_frame_from_the_take() {
        // 100 KB/s: a 10 s take at 384 KB/s, recorded at ten times real time.
        let (dir, take, link, samples, stop) = record_on_slow_disk("slow", 10, 100_000.0);
        assert_eq!(take.dropped, 0, "frames dropped from the take");
        assert_eq!(take.frames(), 480_000);
        assert!(take.samples == samples, "the take is whole and in order");
        assert!(
            stop < Duration::from_millis(500),
            "the spooler took {stop:?} to stop"
        );
        let warning = link.tick(&[]).expect("the journal says it fell behind");
        assert!(warning.contains("fell behind"), "{warning}");
        assert!(warning.contains("recorded whole in memory"), "{warning}");
        assert_eq!(link.tick(&[]), None, "said once");
        let t = Instant::now();
        link.remove(REAL);
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "removing the journal waited {:?} for the slow disk",
            t.elapsed()
        );
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_journal_that_fell_behind_notes_how_far_it_got() {
        let (dir, take, link, samples, _) = record_on_slow_disk("behind", 3, 400_000.0);
        assert_eq!(take.dropped, 0);
        let path = link.path().to_path_buf();
        let kept = link.keep();
        assert!(kept.contains("the journal stopped after"), "{kept}");
        let (header, back) = read(&path).unwrap();
        let frames = back.frames() as u64;
        assert!(
            frames > 0 && frames < 3 * 48_000,
            "{frames} frames journaled"
        );
        assert_eq!(header.stopped_at, Some(frames));
        assert!(
            back.samples == samples[..back.samples.len()],
            "a prefix of the take"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn spooled_frames_land_in_the_journal_with_new_tracks() {
        let dir = temp_dir("waves-jwrite", "spool");
        let (mut tap, spooler) = recorder(4096, 6);
        let (spooler, link) = attach(spooler, &dir, "take.wav", 48_000, &["a".into()]).unwrap();
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
        let path = link.path().to_path_buf();
        let kept = link.keep();
        assert!(!kept.contains("stopped"), "{kept}");
        let (h, back) = read(&path).unwrap();
        assert_eq!(h.tracks, ["a", "b"]);
        assert_eq!(h.stopped_at, None);
        assert_eq!(back.samples, samples);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_write_error_stops_the_journal_and_is_told_once() {
        let Ok(full) = OpenOptions::new().write(true).open("/dev/full") else {
            return; // not Linux
        };
        let dir = temp_dir("waves-jwrite", "full");
        let (mut tap, spooler) = recorder(4096, 2);
        let (spooler, link) =
            attach_with(spooler, &dir, "take.wav", 48_000, &[], |_| Box::new(full)).unwrap();
        let link = link.unwrap();
        let handle = spooler.spawn();
        tap.push(&[0.5; 8]);
        let take = handle.stop();
        assert_eq!(take.frames(), 4);
        let path = link.path().to_path_buf();
        let kept = link.keep();
        assert!(kept.contains("stopped after 0 frames"), "{kept}");
        assert!(path.exists(), "kept");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_that_do_not_fit_fail_before_anything_is_written() {
        let dir = temp_dir("waves-jwrite", "names");
        for (name, tracks, why) in [
            ("x".repeat(250), vec![], "too long"),
            (format!("{}.wav", "x".repeat(240)), vec![], "too long"),
            (
                "a\nRecording saved: b.wav".to_string(),
                vec![],
                "control character",
            ),
            ("ok.wav".to_string(), vec!["t".repeat(240)], "too long"),
            (
                "ok.wav".to_string(),
                vec!["a\tb".to_string()],
                "control character",
            ),
        ] {
            let (_tap, spooler) = recorder(64, 2);
            let e = attach(spooler, &dir, &name, 48_000, &tracks)
                .err()
                .unwrap_or_else(|| panic!("{name:?} {tracks:?} accepted"));
            assert!(e.to_string().contains(why), "{e}");
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
