//! Recording: what a take is and the errors that leave this module; the audio thread owns
//! the tap, the spooler and journal threads own their files, the control thread the rest.
//!
//! `tap` (audio thread) pushes frames into a ring; `spool` (thread `waves-spooler`) drains
//! it into the in-memory [`Take`] and hands a copy to `journal` (thread `waves-journal`),
//! which appends it to the crash journal at the disk's own pace; `save` (control thread)
//! makes the take durable as WAVs and only then lets the journal go; `journal::recover`
//! turns journals left by a crash into WAVs. `disk` is the one seam through which every
//! file is made durable and published.

pub mod cue;
pub mod disk;
pub mod journal;
pub mod save;
pub mod spool;
pub mod stems;
pub mod tap;
pub mod wav;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// A finished recording in memory: interleaved 32-bit float frames, unclipped.
#[derive(Default)]
pub struct Take {
    pub samples: Vec<f32>,
    pub channels: usize,
    /// Frames lost because the ring was full (they are missing from `samples`).
    pub dropped: u64,
}

impl Take {
    /// Whole frames in the take.
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1)
    }

    /// Duration of the take.
    pub fn seconds(&self, sample_rate: u32) -> f64 {
        self.frames() as f64 / f64::from(sample_rate.max(1))
    }
}

/// Recording counters shared by the tap (writer), the spooler and the control thread.
#[derive(Debug, Default)]
pub struct RecStats {
    /// Frames the tap accepted into the ring (and that therefore end up in the take).
    pub frames_written: AtomicU64,
    /// Frames the tap had to drop because the ring was full (a trailing partial frame
    /// counts as one dropped frame).
    pub dropped: AtomicU64,
}

impl RecStats {
    /// Seconds recorded so far (accepted frames), for a status line such as "● rec 12.3 s".
    pub fn seconds(&self, sample_rate: u32) -> f64 {
        self.frames_written.load(Ordering::Relaxed) as f64 / f64::from(sample_rate.max(1))
    }
}

/// Why a recording, a recovery or a render could not be written; every variant names the
/// file or folder it is about.
#[derive(Debug)]
pub enum RecordError {
    /// A name that cannot be a file here (too long, a control character, a separator).
    Name { name: String, why: String },
    /// A file system operation failed on `path`.
    Io {
        what: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    /// Not enough free space for what is about to be written.
    NoSpace { path: PathBuf, need: u64, free: u64 },
    /// A journal that is not one, or is damaged.
    Journal { path: PathBuf, why: String },
    /// Every variant of a name is taken.
    NoFreeName { dir: PathBuf, name: String },
    /// Several failures, in the order they happened (a take saved nowhere).
    Both(Box<RecordError>, Box<RecordError>),
}

impl RecordError {
    pub fn io(what: &'static str, path: impl Into<PathBuf>, err: std::io::Error) -> RecordError {
        RecordError::Io {
            what,
            path: path.into(),
            err,
        }
    }

    /// Whether the disk was full (so writing less, in place, may still work).
    pub fn is_no_space(&self) -> bool {
        match self {
            RecordError::NoSpace { .. } => true,
            RecordError::Io { err, .. } => {
                err.kind() == std::io::ErrorKind::StorageFull
                    || err.raw_os_error() == Some(28)
                    || err.kind() == std::io::ErrorKind::FileTooLarge
            }
            RecordError::Both(_, b) => b.is_no_space(),
            _ => false,
        }
    }
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::Name { name, why } => write!(f, "the name {name:?} {why}"),
            RecordError::Io { what, path, err } => {
                write!(f, "cannot {what} {}: {err}", path.display())
            }
            RecordError::NoSpace { path, need, free } => write!(
                f,
                "not enough space in {}: {} needed, {} free",
                path.display(),
                mb(*need),
                mb(*free)
            ),
            RecordError::Journal { path, why } => write!(f, "{}: {why}", path.display()),
            RecordError::NoFreeName { dir, name } => write!(
                f,
                "no free name for {name:?} in {}: {name} and its numbered variants up to _9999 all exist; choose another name",
                dir.display()
            ),
            RecordError::Both(a, b) => write!(f, "{a}; and then {b}"),
        }
    }
}

impl std::error::Error for RecordError {}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Folders and listings for the tests of the recorder's modules.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::{Path, PathBuf};

    /// A fresh, empty folder under the temp dir, named for the module, test and process.
    pub fn temp_dir(module: &str, tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("{module}-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The names in `dir`, sorted.
    pub fn names(dir: &Path) -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    }
}
