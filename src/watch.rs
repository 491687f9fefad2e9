//! Watching the script, its imports and config.rhai for edits: notify thread + debouncing; results consumed by the control thread.
//!
//! Editors save either in place or by writing a temporary file and renaming it over the
//! original (vim, VS Code, JetBrains), which replaces the inode. So we watch the
//! *directories* of the files (non-recursively, each once) and filter the events by file
//! name. The notify thread only timestamps events and sends them over a channel; all the
//! bookkeeping happens in [`Watcher::poll`], on the caller's (control) thread:
//!
//! - an event marks its file as pending; a file is examined once its events have been quiet
//!   for [`DEBOUNCE`] (a burst of writes gives one result);
//! - a pending file is reported only if its content differs from the content last seen
//!   (hash of the bytes), so a `touch` or a save without changes gives nothing;
//! - a deleted file is reported (its content is now "missing"), and again when it comes back;
//! - a watched folder removed (its watch goes with it) or made anew is noticed within
//!   [`RECHECK`] and watched again, and said so ([`Watcher::take_notices`]);
//! - a script that is a symbolic link is watched as the link and as its target.
//!
//! Nothing here panics: errors from notify or from reading a file are kept for
//! [`Watcher::last_error`] / [`Watcher::take_error`].

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

/// Quiet time after the last event on a file before it is examined.
pub const DEBOUNCE: Duration = Duration::from_millis(10);

/// What was last seen of a watched file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Content {
    /// Not there (or unreadable).
    Missing,
    /// Hash of the length and the bytes.
    Hash(u64),
}

/// One watched file, keyed by its canonical-directory path.
struct Entry {
    /// The path as the caller spelled it: what `poll` returns.
    path: PathBuf,
    /// Canonical directory holding the file (the one watched).
    dir: PathBuf,
    /// Content last seen.
    seen: Content,
}

type Message = (Instant, notify::Result<Event>);

/// Watches a set of files through their directories; see the module documentation.
pub struct Watcher {
    inner: RecommendedWatcher,
    rx: Receiver<Message>,
    /// Canonical dir + file name → entry.
    files: BTreeMap<PathBuf, Entry>,
    /// Canonical directories currently watched, with the identity (device, inode) each had
    /// when its watch was made: a folder removed and made anew is another folder, whose
    /// watch must be made again.
    dirs: BTreeSet<PathBuf>,
    ids: BTreeMap<PathBuf, Option<(u64, u64)>>,
    /// The files as the caller last gave them, to resolve again when a folder comes back.
    asked: Vec<PathBuf>,
    /// When the folders were last looked at.
    checked: Instant,
    /// What the user should hear about (a folder watched again, a folder gone).
    notices: Vec<String>,
    /// Folders that went away, and whether some file could not be placed (its folder is
    /// missing): both are looked for again.
    lost: BTreeSet<PathBuf>,
    incomplete: bool,
    /// What was last seen of files whose folder went missing, by the caller's path.
    forgotten: BTreeMap<PathBuf, Content>,
    /// Files with events not yet examined → time of their latest event.
    pending: BTreeMap<PathBuf, Instant>,
    last_error: Option<String>,
}

impl Watcher {
    /// Starts watching the directories of `files`. Fails if notify cannot start or if a
    /// file's directory cannot be resolved or watched (e.g. it does not exist).
    /// The current content of each file is the baseline: only later changes are reported.
    pub fn new(files: &[PathBuf]) -> Result<Watcher, String> {
        let (tx, rx) = mpsc::channel::<Message>();
        let inner = notify::recommended_watcher(move |res: notify::Result<Event>| {
            // The receiver only goes away with the Watcher; nothing to do then.
            let _ = tx.send((Instant::now(), res));
        })
        .map_err(|e| format!("cannot start the file watcher: {e}"))?;
        let mut watcher = Watcher {
            inner,
            rx,
            files: BTreeMap::new(),
            dirs: BTreeSet::new(),
            ids: BTreeMap::new(),
            asked: Vec::new(),
            checked: Instant::now(),
            notices: Vec::new(),
            lost: BTreeSet::new(),
            incomplete: false,
            forgotten: BTreeMap::new(),
            pending: BTreeMap::new(),
            last_error: None,
        };
        let errors = watcher.apply(files);
        if errors.is_empty() {
            Ok(watcher)
        } else {
            Err(errors.join("; "))
        }
    }

    /// Replaces the set of watched files (after a reload: entry script, every imported
    /// file, config.rhai). Newly needed directories are watched, directories no longer
    /// needed are unwatched. Files already watched keep their last-seen content and any
    /// pending events; new files take their current content as the baseline. Errors (a
    /// directory that cannot be watched, …) go to [`Watcher::last_error`]; a directory
    /// that failed is tried again at the next call.
    pub fn set_files(&mut self, files: &[PathBuf]) {
        // Events already received still count for the files that stay.
        self.drain();
        let errors = self.apply(files);
        self.incomplete = !errors.is_empty();
        if let Some(last) = errors.into_iter().last() {
            self.last_error = Some(last);
        }
    }

    /// Non-blocking. Returns the watched files (as the caller spelled them, sorted, no
    /// duplicates) whose content changed — or which were deleted or re-created — and whose
    /// events have been quiet for [`DEBOUNCE`]. Call it regularly (every few ms); each
    /// change is reported once.
    pub fn poll(&mut self) -> Vec<PathBuf> {
        self.drain();
        if self.checked.elapsed() >= RECHECK {
            self.checked = Instant::now();
            self.recheck();
        }
        let now = Instant::now();
        let ready: Vec<PathBuf> = self
            .pending
            .iter()
            .filter(|(_, at)| now.saturating_duration_since(**at) >= DEBOUNCE)
            .map(|(key, _)| key.clone())
            .collect();
        let mut changed = Vec::new();
        for key in ready {
            self.pending.remove(&key);
            let content = match read_content(&key) {
                Ok(content) => content,
                Err(e) => {
                    self.last_error = Some(e);
                    Content::Missing
                }
            };
            if let Some(entry) = self.files.get_mut(&key)
                && entry.seen != content
            {
                entry.seen = content;
                let path = entry.path.clone();
                // A linked script is watched as the link and as its target: both saw it.
                for e in self.files.values_mut().filter(|e| e.path == path) {
                    e.seen = content;
                }
                changed.push(path);
            }
        }
        changed.sort();
        changed.dedup();
        changed
    }

    /// The last error (from notify, from watching a directory or from reading a file), if
    /// any; it stays until [`Watcher::take_error`].
    pub fn last_error(&self) -> Option<String> {
        self.last_error.clone()
    }

    /// Returns and clears the last error.
    pub fn take_error(&mut self) -> Option<String> {
        self.last_error.take()
    }

    /// Lines for the user: a folder that was removed and made anew is watched again, a
    /// watched folder is gone. Each is returned once.
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// Looks at each watched folder: one removed (its watch went with it) or replaced by a
    /// new folder of the same name is watched again once it is there, and its files are
    /// looked at.
    fn recheck(&mut self) {
        let mut stale = Vec::new();
        for (dir, id) in &self.ids {
            let now = dir_id(dir);
            if now != *id {
                stale.push((dir.clone(), now.is_some()));
            }
        }
        if stale.is_empty() && !self.incomplete {
            return;
        }
        for (dir, here) in stale {
            let _ = self.inner.unwatch(&dir);
            self.dirs.remove(&dir);
            self.ids.remove(&dir);
            if !here {
                self.notices.push(format!(
                    "warning: {} was removed; its edits are heard again once it is back",
                    dir.display()
                ));
            }
            self.lost.insert(dir);
        }
        let before = self.dirs.clone();
        let asked = self.asked.clone();
        // A folder still missing is tried again at the next look.
        self.incomplete = !self.apply(&asked).is_empty();
        let back: Vec<PathBuf> = self.dirs.difference(&before).cloned().collect();
        let now = Instant::now();
        for dir in back {
            if self.lost.remove(&dir) {
                self.notices.push(format!(
                    "note: {} is there again; watching it again",
                    dir.display()
                ));
            }
            let keys: Vec<PathBuf> = self
                .files
                .iter()
                .filter(|(_, e)| e.dir == dir)
                .map(|(k, _)| k.clone())
                .collect();
            for key in keys {
                self.mark(key, now);
            }
        }
    }

    /// The canonical directories being watched, sorted.
    pub fn watched_dirs(&self) -> Vec<PathBuf> {
        self.dirs.iter().cloned().collect()
    }

    /// Installs a new file set; returns the errors met.
    fn apply(&mut self, files: &[PathBuf]) -> Vec<String> {
        let mut errors = Vec::new();
        self.asked = files.to_vec();
        let mut old = std::mem::take(&mut self.files);
        let mut new = BTreeMap::new();
        let mut places = Vec::new();
        let mut unplaced = Vec::new();
        for path in files {
            match resolve(path) {
                Ok(resolved) => places.push((path, resolved)),
                Err(e) => {
                    errors.push(e);
                    unplaced.push(path.clone());
                }
            }
            // A script that is a symbolic link is edited through its target, in the
            // target's folder: watch that too.
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
                && let Ok(target) = path.canonicalize()
                && let Ok(resolved) = resolve(&target)
            {
                places.push((path, resolved));
            }
        }
        for (path, (dir, key)) in places {
            if new.contains_key(&key) {
                continue;
            }
            let seen = match old.remove(&key).map(|e| e.seen) {
                Some(seen) => seen,
                None => match self.forgotten.remove(path.as_path()) {
                    Some(seen) => seen,
                    None => read_content(&key).unwrap_or_else(|e| {
                        errors.push(e);
                        Content::Missing
                    }),
                },
            };
            let entry = Entry {
                path: path.clone(),
                dir,
                seen,
            };
            new.insert(key, entry);
        }
        // A file whose folder is missing keeps what was last seen of it, so that when the
        // folder is back a changed file is reported.
        for entry in old.into_values() {
            if unplaced.contains(&entry.path) {
                self.forgotten.insert(entry.path, entry.seen);
            }
        }
        let needed: BTreeSet<PathBuf> = new.values().map(|e| e.dir.clone()).collect();
        for dir in self.dirs.difference(&needed) {
            if let Err(e) = self.inner.unwatch(dir) {
                errors.push(format!("cannot stop watching {}: {e}", dir.display()));
            }
        }
        let mut watched = BTreeSet::new();
        for dir in needed {
            if self.dirs.contains(&dir) {
                watched.insert(dir);
                continue;
            }
            match self.inner.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.ids.insert(dir.clone(), dir_id(&dir));
                    watched.insert(dir);
                }
                Err(e) => errors.push(format!("cannot watch {}: {e}", dir.display())),
            }
        }
        self.ids.retain(|d, _| watched.contains(d));
        self.dirs = watched;
        self.pending.retain(|key, _| new.contains_key(key));
        self.files = new;
        errors
    }

    /// Takes in the events received so far.
    fn drain(&mut self) {
        while let Ok((at, res)) = self.rx.try_recv() {
            self.handle(at, res);
        }
    }

    /// Marks the files an event concerns as pending.
    fn handle(&mut self, at: Instant, res: notify::Result<Event>) {
        let event = match res {
            Ok(event) => event,
            Err(e) => {
                self.last_error = Some(format!("file watcher: {e}"));
                return;
            }
        };
        if event.need_rescan() {
            // Events were lost (queue overflow): look at everything.
            let keys: Vec<PathBuf> = self.files.keys().cloned().collect();
            for key in keys {
                self.mark(key, at);
            }
            return;
        }
        if let EventKind::Access(kind) = event.kind
            && kind != AccessKind::Close(AccessMode::Write)
        {
            // Opening or reading (our own reads included) changes nothing.
            return;
        }
        for path in &event.paths {
            if self.dirs.contains(path.as_path()) {
                // The directory itself went away or moved: its files may be gone, and its
                // watch with it. A new folder of that name may even get the old inode, so
                // the next look makes the watch again whatever it finds.
                self.ids.insert(path.clone(), None);
                let keys: Vec<PathBuf> = self
                    .files
                    .iter()
                    .filter(|(_, e)| e.dir == *path)
                    .map(|(k, _)| k.clone())
                    .collect();
                for key in keys {
                    self.mark(key, at);
                }
                continue;
            }
            let key = match path.parent() {
                Some(parent) if self.dirs.contains(parent) => path.clone(),
                _ => match resolve(path) {
                    Ok((_, key)) => key,
                    Err(_) => continue,
                },
            };
            if self.files.contains_key(&key) {
                self.mark(key, at);
            }
        }
    }

    fn mark(&mut self, key: PathBuf, at: Instant) {
        let slot = self.pending.entry(key).or_insert(at);
        if at > *slot {
            *slot = at;
        }
    }
}

/// How often the watched folders are looked at for removal.
const RECHECK: Duration = Duration::from_millis(250);

/// A folder's identity (device, inode); `None` when it is not there.
fn dir_id(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir)
        .ok()
        .filter(|m| m.is_dir())
        .map(|m| (m.dev(), m.ino()))
}

/// Canonical directory of `path` and the key (canonical directory + file name). The file
/// itself need not exist.
fn resolve(path: &Path) -> Result<(PathBuf, PathBuf), String> {
    let name = path
        .file_name()
        .ok_or_else(|| format!("not a file path: {}", path.display()))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = parent
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", parent.display()))?;
    let key = dir.join(name);
    Ok((dir, key))
}

/// Hash of a file's bytes; `Missing` if it does not exist.
fn read_content(path: &Path) -> Result<Content, String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Content::Missing),
        // Reading a FIFO would block until a writer comes; the compile that follows says
        // what is wrong with the file.
        Ok(m) if !m.is_file() => return Ok(Content::Hash(u64::MAX)),
        _ => {}
    }
    let read = crate::script::files::open_regular(path).and_then(|mut f| {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut bytes)
            .map(|_| bytes)
            .map_err(|e| e.to_string())
    });
    match read.map_err(std::io::Error::other) {
        Ok(bytes) => {
            let mut hasher = DefaultHasher::new();
            bytes.len().hash(&mut hasher);
            hasher.write(&bytes);
            Ok(Content::Hash(hasher.finish()))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Content::Missing),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::thread::sleep;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(test: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("waves-watch-{}-{test}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }

        fn file(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const TIMEOUT: Duration = Duration::from_secs(2);
    /// How long "nothing is reported" is checked for: events arrive within a few ms and the
    /// debounce is 10 ms, so this is ample.
    const QUIET: Duration = Duration::from_millis(300);

    /// Polls until something is reported (up to `TIMEOUT`); returns it and the time taken.
    fn wait_report(w: &mut Watcher) -> (Vec<PathBuf>, Duration) {
        let start = Instant::now();
        while start.elapsed() < TIMEOUT {
            let got = w.poll();
            if !got.is_empty() {
                return (got, start.elapsed());
            }
            sleep(Duration::from_millis(1));
        }
        (Vec::new(), start.elapsed())
    }

    /// Everything reported during `d`.
    fn collect_for(w: &mut Watcher, d: Duration) -> Vec<PathBuf> {
        let start = Instant::now();
        let mut all = Vec::new();
        while start.elapsed() < d {
            all.extend(w.poll());
            sleep(Duration::from_millis(2));
        }
        all
    }

    fn write_in_place(path: &Path, text: &str) {
        fs::write(path, text).expect("write");
    }

    fn write_by_rename(path: &Path, text: &str) {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        fs::write(&tmp, text).expect("write tmp");
        fs::rename(&tmp, path).expect("rename");
    }

    fn median(mut v: Vec<Duration>) -> Duration {
        v.sort();
        v[v.len() / 2]
    }

    #[test]
    fn in_place_write_is_detected() {
        let t = TempDir::new("in_place");
        let x = t.file("x.rhai");
        write_in_place(&x, "sine(220)");
        let mut w = Watcher::new(std::slice::from_ref(&x)).expect("watcher");
        let mut latencies = Vec::new();
        for i in 0..10 {
            write_in_place(&x, &format!("sine({})", 300 + i));
            let (got, took) = wait_report(&mut w);
            assert_eq!(got, vec![x.clone()], "edit {i}");
            // The last event is at most a little before `write` returned.
            assert!(
                took >= DEBOUNCE - Duration::from_millis(5),
                "reported before the events were quiet: {took:?}"
            );
            latencies.push(took);
        }
        assert!(collect_for(&mut w, QUIET).is_empty());
        // Our own reads of the file (open events) do not make it pending again.
        sleep(Duration::from_millis(10));
        w.drain();
        assert!(w.pending.is_empty(), "pending: {:?}", w.pending);
        assert_eq!(w.last_error(), None);
        eprintln!(
            "in-place write: write → poll result median {:?}, max {:?}",
            median(latencies.clone()),
            latencies.iter().max().unwrap()
        );
    }

    #[test]
    fn save_by_rename_is_detected() {
        let t = TempDir::new("rename");
        let x = t.file("x.rhai");
        write_in_place(&x, "sine(220)");
        let mut w = Watcher::new(std::slice::from_ref(&x)).expect("watcher");
        let mut latencies = Vec::new();
        for i in 0..10 {
            write_by_rename(&x, &format!("sine({})", 300 + i));
            let (got, took) = wait_report(&mut w);
            assert_eq!(got, vec![x.clone()], "edit {i}");
            latencies.push(took);
        }
        // The temporary file never shows up.
        assert!(collect_for(&mut w, QUIET).is_empty());
        assert_eq!(fs::read_to_string(&x).unwrap(), "sine(309)");
        eprintln!(
            "save by rename: rename → poll result median {:?}, max {:?}",
            median(latencies.clone()),
            latencies.iter().max().unwrap()
        );
    }

    #[test]
    fn burst_of_writes_gives_one_report() {
        let t = TempDir::new("burst");
        let x = t.file("x.rhai");
        write_in_place(&x, "sine(220)");
        let mut w = Watcher::new(std::slice::from_ref(&x)).expect("watcher");
        // 10 writes 1 ms apart (spinning, as sleeps may overshoot on a busy machine). A
        // busy machine may still hold the thread up between two writes for longer than the
        // debounce, when a report during the burst is right: such a burst tests nothing and
        // is tried again (at most 20 times).
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let start = Instant::now();
            let mut during = Vec::new();
            let mut last = start;
            let mut widest = Duration::ZERO;
            for i in 0..10u32 {
                while start.elapsed() < Duration::from_millis(1) * i {
                    std::thread::yield_now();
                }
                write_in_place(&x, &format!("sine({})", 1000 * attempt + i));
                widest = widest.max(last.elapsed());
                last = Instant::now();
                during.extend(w.poll());
            }
            let burst = start.elapsed();
            if widest < DEBOUNCE * 3 / 4 {
                assert!(during.is_empty(), "reported during the burst: {during:?}");
                break;
            }
            assert!(
                attempt < 20,
                "writes {widest:?} apart (burst {burst:?}) in 20 tries: too slow to test \
                 coalescing"
            );
            // Let what this burst left settle before the next one.
            let _ = collect_for(&mut w, QUIET);
        }
        let (got, _) = wait_report(&mut w);
        assert_eq!(got, vec![x.clone()]);
        let more = collect_for(&mut w, QUIET);
        assert!(more.is_empty(), "more reports after the burst: {more:?}");
    }

    #[test]
    fn identical_content_gives_nothing() {
        let t = TempDir::new("identical");
        let x = t.file("x.rhai");
        write_in_place(&x, "sine(220)");
        let mut w = Watcher::new(std::slice::from_ref(&x)).expect("watcher");
        write_in_place(&x, "sine(220)");
        write_by_rename(&x, "sine(220)");
        // A touch: open for writing, write nothing.
        fs::OpenOptions::new().append(true).open(&x).expect("touch");
        let got = collect_for(&mut w, QUIET);
        assert!(got.is_empty(), "unchanged content reported: {got:?}");
        // The watcher is alive: a real change still comes through.
        write_in_place(&x, "sine(221)");
        assert_eq!(wait_report(&mut w).0, vec![x.clone()]);
    }

    #[test]
    fn unrelated_file_gives_nothing() {
        let t = TempDir::new("unrelated");
        let x = t.file("x.rhai");
        let other = t.file("other.rhai");
        write_in_place(&x, "sine(220)");
        let mut w = Watcher::new(std::slice::from_ref(&x)).expect("watcher");
        write_in_place(&other, "saw(110)");
        write_by_rename(&other, "saw(111)");
        fs::remove_file(&other).expect("remove");
        fs::create_dir(t.file("sub")).expect("mkdir");
        // Those events do not even make x pending (the content check would hide that).
        sleep(Duration::from_millis(20));
        assert!(w.poll().is_empty());
        assert!(w.pending.is_empty(), "pending: {:?}", w.pending);
        let got = collect_for(&mut w, QUIET);
        assert!(got.is_empty(), "unrelated file reported: {got:?}");
        write_in_place(&x, "sine(221)");
        assert_eq!(wait_report(&mut w).0, vec![x.clone()]);
    }

    #[test]
    fn set_files_watches_new_dirs_and_drops_old_ones() {
        let t = TempDir::new("set_files");
        fs::create_dir(t.file("a")).unwrap();
        fs::create_dir(t.file("b")).unwrap();
        let x = t.file("a/x.rhai");
        let y = t.file("b/y.rhai");
        write_in_place(&x, "sine(220)");
        write_in_place(&y, "sine(330)");
        let mut w = Watcher::new(std::slice::from_ref(&x)).expect("watcher");
        assert_eq!(w.watched_dirs(), vec![t.file("a").canonicalize().unwrap()]);

        // Not watched yet.
        write_in_place(&y, "sine(331)");
        assert!(collect_for(&mut w, QUIET).is_empty());

        w.set_files(std::slice::from_ref(&y));
        assert_eq!(w.watched_dirs(), vec![t.file("b").canonicalize().unwrap()]);
        write_in_place(&y, "sine(332)");
        assert_eq!(wait_report(&mut w).0, vec![y.clone()]);
        assert!(w.poll().is_empty());
        write_in_place(&x, "sine(221)");
        // The directory is really unwatched: notify sends nothing about it.
        sleep(Duration::from_millis(20));
        let a = t.file("a").canonicalize().unwrap();
        while let Ok((_, res)) = w.rx.try_recv() {
            let paths = res.map(|e| e.paths).unwrap_or_default();
            assert!(
                !paths.iter().any(|p| p.starts_with(&a)),
                "event from an unwatched dir: {paths:?}"
            );
        }
        let got = collect_for(&mut w, QUIET);
        assert!(got.is_empty(), "dropped file still reported: {got:?}");

        // Both, each directory once; x's baseline is its content now.
        w.set_files(&[y.clone(), x.clone(), y.clone()]);
        assert_eq!(w.watched_dirs().len(), 2);
        write_in_place(&x, "sine(222)");
        write_in_place(&y, "sine(333)");
        let mut got = Vec::new();
        let start = Instant::now();
        while got.len() < 2 && start.elapsed() < TIMEOUT {
            got.extend(w.poll());
            sleep(Duration::from_millis(1));
        }
        got.sort();
        assert_eq!(got, vec![x.clone(), y.clone()]);

        // A change not yet reported survives a set_files that keeps the file. The change
        // must still be pending at the set_files: when a busy machine held this thread up
        // for longer than the debounce, it was reported (rightly) and is tried again.
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            write_in_place(&y, &format!("sine({})", 400 + attempt));
            let written = Instant::now();
            // Wait for the event to arrive (not for the report).
            while w.pending.is_empty() && written.elapsed() < TIMEOUT {
                w.drain();
                std::thread::yield_now();
            }
            assert!(!w.pending.is_empty(), "no event for the write");
            let early = w.poll();
            if early.is_empty() {
                break;
            }
            assert!(
                written.elapsed() >= DEBOUNCE,
                "reported {:?} after the write, before the debounce",
                written.elapsed()
            );
            assert!(attempt < 20, "never polled within the debounce in 20 tries");
        }
        w.set_files(&[x.clone(), y.clone()]);
        assert_eq!(wait_report(&mut w).0, vec![y.clone()]);
        assert_eq!(w.last_error(), None);
    }

    #[test]
    fn delete_is_reported_and_reappearance_too() {
        let t = TempDir::new("delete");
        let x = t.file("x.rhai");
        write_in_place(&x, "sine(220)");
        let mut w = Watcher::new(std::slice::from_ref(&x)).expect("watcher");
        fs::remove_file(&x).expect("remove");
        assert_eq!(wait_report(&mut w).0, vec![x.clone()]);
        assert_eq!(w.last_error(), None, "a deleted file is not an error");
        assert!(collect_for(&mut w, QUIET).is_empty());
        write_by_rename(&x, "sine(440)");
        assert_eq!(wait_report(&mut w).0, vec![x.clone()]);
    }

    #[test]
    fn paths_are_canonicalised_sorted_and_deduplicated() {
        let t = TempDir::new("canonical");
        fs::create_dir(t.file("sub")).unwrap();
        let a = t.file("a.rhai");
        let b = t.file("b.rhai");
        let b_other = t.file("sub/../b.rhai");
        write_in_place(&a, "1");
        write_in_place(&b, "2");
        let mut w = Watcher::new(&[b_other.clone(), a.clone(), b.clone()]).expect("watcher");
        assert_eq!(w.watched_dirs(), vec![t.0.canonicalize().unwrap()]);
        write_in_place(&b, "3");
        write_in_place(&a, "4");
        // Wait for both events, then until both are due, so that one poll sees both.
        let start = Instant::now();
        while w.pending.len() < 2 && start.elapsed() < TIMEOUT {
            w.drain();
            sleep(Duration::from_millis(1));
        }
        let due = *w.pending.values().max().expect("two pending files") + DEBOUNCE;
        sleep(due.saturating_duration_since(Instant::now()));
        let (got, _) = wait_report(&mut w);
        // Both writes are in the same quiet window; b is reported once, as first spelled.
        assert_eq!(got, vec![a.clone(), b_other.clone()]);
        assert!(collect_for(&mut w, QUIET).is_empty());
    }

    #[test]
    fn a_folder_removed_and_made_anew_is_watched_again() {
        let t = TempDir::new("remade");
        fs::create_dir(t.file("sub")).unwrap();
        let x = t.file("sub/x.rhai");
        write_in_place(&x, "sine(220)");
        let mut w = Watcher::new(std::slice::from_ref(&x)).expect("watcher");
        fs::remove_dir_all(t.file("sub")).unwrap();
        assert_eq!(wait_report(&mut w).0, vec![x.clone()], "the file went");
        fs::create_dir(t.file("sub")).unwrap();
        write_in_place(&x, "sine(330)");
        // Found again within the look-again period, then edits are heard as before.
        let start = Instant::now();
        let mut got = Vec::new();
        while got.is_empty() && start.elapsed() < TIMEOUT {
            got = w.poll();
            sleep(Duration::from_millis(5));
        }
        assert_eq!(got, vec![x.clone()], "the file came back");
        let notices = w.take_notices().join("\n");
        assert!(notices.contains("watching it again"), "{notices}");
        write_in_place(&x, "sine(440)");
        assert_eq!(wait_report(&mut w).0, vec![x.clone()], "an edit after");
    }

    #[test]
    fn the_target_of_a_linked_script_is_watched() {
        let t = TempDir::new("linked");
        fs::create_dir(t.file("real")).unwrap();
        fs::create_dir(t.file("play")).unwrap();
        let target = t.file("real/x.rhai");
        write_in_place(&target, "sine(220)");
        let link = t.file("play/x.rhai");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut w = Watcher::new(std::slice::from_ref(&link)).expect("watcher");
        write_by_rename(&target, "sine(330)");
        assert_eq!(wait_report(&mut w).0, vec![link.clone()]);
        write_in_place(&target, "sine(440)");
        assert_eq!(wait_report(&mut w).0, vec![link.clone()]);
        assert!(collect_for(&mut w, QUIET).is_empty(), "reported once");
    }

    #[test]
    fn missing_directory_is_an_error_not_a_panic() {
        let t = TempDir::new("missing_dir");
        let ghost = t.file("nope/x.rhai");
        assert!(Watcher::new(std::slice::from_ref(&ghost)).is_err());
        let x = t.file("x.rhai");
        write_in_place(&x, "1");
        let mut w = Watcher::new(std::slice::from_ref(&x)).expect("watcher");
        w.set_files(&[x.clone(), ghost]);
        assert!(w.take_error().is_some());
        assert_eq!(w.last_error(), None);
        write_in_place(&x, "2");
        assert_eq!(wait_report(&mut w).0, vec![x.clone()]);
    }
}
