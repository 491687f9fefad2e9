//! The file system steps that make a written file durable and give it its name, behind one
//! trait so that tests can trace their order and make any of them fail; also the limits a
//! name and a write must respect (NAME_MAX, free space). Control thread.
//!
//! A file is durable once its bytes are synced (`sync_all`), it has its final name and the
//! folder holding that name is synced too: only then may the journal it came from go.

use std::fs::File;
use std::io;
use std::path::Path;

/// The steps of publishing a file; [`REAL`] does them on the real file system.
pub trait Disk: Sync {
    /// Makes the file's bytes and size durable.
    fn sync_file(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }
    /// Gives `from` the new name `to`, failing when `to` exists (no replacing).
    fn link(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::hard_link(from, to)
    }
    /// Moves `from` to `to`, replacing it.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    /// Makes the folder's names durable (a rename, link or removal in it).
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        match File::open(dir).and_then(|d| d.sync_all()) {
            // Some file systems cannot sync a folder; nothing more can be done there.
            Err(e) if matches!(e.raw_os_error(), Some(EINVAL | ENOTSUP)) => Ok(()),
            other => other,
        }
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    /// Bytes that can still be written in `dir`, when the system says.
    fn free_bytes(&self, dir: &Path) -> Option<u64> {
        free_bytes(dir)
    }
}

const EINVAL: i32 = 22;
const ENOTSUP: i32 = 95;

/// The real file system.
pub struct RealDisk;
impl Disk for RealDisk {}
pub const REAL: &RealDisk = &RealDisk;

/// Free bytes for an unprivileged writer in `dir` (or its nearest existing ancestor).
#[cfg(unix)]
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let dir = existing_ancestor(dir)?;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a struct of the right type to fill.
    let r = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    (r == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(not(unix))]
pub fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

/// The longest file name `dir`'s file system takes, in bytes (255 when it does not say).
#[cfg(unix)]
pub fn name_max(dir: &Path) -> usize {
    use std::os::unix::ffi::OsStrExt;
    let Some(dir) = existing_ancestor(dir) else {
        return 255;
    };
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return 255;
    };
    // SAFETY: a valid C string.
    let n = unsafe { libc::pathconf(c.as_ptr(), libc::_PC_NAME_MAX) };
    if n > 0 { (n as usize).min(4096) } else { 255 }
}

#[cfg(not(unix))]
pub fn name_max(_dir: &Path) -> usize {
    255
}

fn existing_ancestor(dir: &Path) -> Option<&Path> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    dir.ancestors()
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.is_dir())
}

/// Why `name` cannot be a file name: empty, a separator, a control character (a newline
/// would forge lines such as `Recording saved:` in the output), or longer than `max` bytes.
pub fn name_problem(name: &str, max: usize) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    if name.contains('/') || name.contains('\\') {
        return Some("contains a path separator; give a plain file name".into());
    }
    if name.chars().any(char::is_control) {
        return Some("contains a control character (a newline, a tab …)".into());
    }
    if name.len() > max {
        return Some(format!(
            "is {} bytes long; this file system takes names of at most {max} bytes",
            name.len()
        ));
    }
    None
}

#[cfg(test)]
pub mod trace {
    //! A [`Disk`] that records every step, and fails the one it is told to.
    use super::Disk;
    use std::io;
    use std::path::Path;
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct Traced {
        pub steps: Mutex<Vec<String>>,
        /// Fail every step of this kind from its `.1`-th on (0 = the first).
        pub fail: Option<(&'static str, usize)>,
        pub free: Option<u64>,
    }

    impl Traced {
        fn step(&self, kind: &str, path: &Path) -> io::Result<()> {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let line = format!("{kind} {name}");
            let mut steps = self.steps.lock().unwrap();
            let seen = steps.iter().filter(|s| s.starts_with(kind)).count();
            steps.push(line);
            match self.fail {
                Some((k, n)) if k == kind && seen >= n => {
                    Err(io::Error::other(format!("injected failure of {kind}")))
                }
                _ => Ok(()),
            }
        }
        pub fn steps(&self) -> Vec<String> {
            self.steps.lock().unwrap().clone()
        }
    }

    impl Disk for Traced {
        fn sync_file(&self, path: &Path) -> io::Result<()> {
            self.step("sync", path)?;
            std::fs::File::open(path)?.sync_all()
        }
        fn link(&self, from: &Path, to: &Path) -> io::Result<()> {
            std::fs::hard_link(from, to)?;
            self.step("link", to).inspect_err(|_| {
                let _ = std::fs::remove_file(to);
            })
        }
        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            self.step("rename", to)?;
            std::fs::rename(from, to)
        }
        fn sync_dir(&self, dir: &Path) -> io::Result<()> {
            self.step("syncdir", dir)
        }
        fn remove(&self, path: &Path) -> io::Result<()> {
            self.step("remove", path)?;
            std::fs::remove_file(path)
        }
        fn free_bytes(&self, dir: &Path) -> Option<u64> {
            self.free.or_else(|| super::free_bytes(dir))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_control_characters_or_too_long_are_refused() {
        assert!(name_problem("take.wav", 255).is_none());
        let e = name_problem("a\nRecording saved: x.wav", 255).unwrap();
        assert!(e.contains("control character"), "{e}");
        assert!(
            name_problem(&"x".repeat(256), 255)
                .unwrap()
                .contains("256 bytes")
        );
        assert!(name_max(Path::new("/tmp/surely/not/here")) >= 14);
        assert!(free_bytes(Path::new("/tmp/surely/not/here")).is_some());
    }
}
