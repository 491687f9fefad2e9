//! Saving a take: mix and stems as WAVs inside output_dir (or the rescue folder), never
//! overwriting a file, each durable before the crash journal goes; control thread.
//!
//! [`unique_path`] turns a plain file name into the first free `dir/name.wav`,
//! `dir/name_2.wav`, … and [`save_channels`] writes channels of a [`Take`] there.
//!
//! Every file is written whole through [`WavSink`] under a private hidden name, synced,
//! then published with `hard_link(private, final)`, which fails instead of replacing when
//! the final name appeared meanwhile (another `waves`, a user's copy); we then take the
//! next free name. Where the file system has no hard links (FAT, some network shares) we
//! fall back to check-then-rename, which leaves a window of microseconds between the check
//! and the rename. The folder is synced after publishing, and only when the mix and every
//! stem are durable does [`finish_take`] remove the journal and say `Recording saved`. At
//! no point does a final name hold a partial file: an interrupted save leaves at most a
//! hidden `.waves-PID-N.tmp` file beside it.

use super::cue::{self, Cue};
use super::disk::{self, Disk};
use super::journal::JournalLink;
use super::wav::{Format, WavSink};
use super::{RecordError, Take};
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

/// Gives up after this many taken names (`name_2` … `name_9999`).
pub const MAX_SUFFIX: u32 = 9999;
/// The longest suffixes waves adds to a name: a taken name's number, a part number (a
/// take of 999 parts is 4000 GiB), the stem separator.
const SUFFIX_LONGEST: &str = "_9999";
const PART_LONGEST: &str = ".part999";

/// The first free path for the recording `name` inside `dir`.
///
/// `name` must be a plain file name (no separators, not `.`/`..`, not absolute); `.wav` is
/// added when it has no extension. If `dir/name` exists (as anything, even a dangling
/// link) the result is `name_2.wav`, `name_3.wav`, … whichever is first free.
pub fn unique_path(dir: &Path, name: &str) -> Result<PathBuf, RecordError> {
    let name = checked_name(name)?;
    let (stem, ext) = split_ext(&name);
    for n in 1..=MAX_SUFFIX {
        let file = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}_{n}.{ext}")
        };
        let path = dir.join(file);
        if !taken(&path)? {
            return Ok(path);
        }
    }
    Err(RecordError::NoFreeName {
        dir: dir.to_path_buf(),
        name,
    })
}

fn split_ext(name: &str) -> (&str, &str) {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, ext),
        _ => (name, "wav"),
    }
}

/// Checks, before anything plays, that every file a take named `name` with stems `tracks`
/// may need in `dir` has a name this file system takes: the mix with a number and a part
/// (`NAME_9999.part999.wav`), each stem (`NAME_9999__TRACK.part999.wav`) and the journal
/// (`.NAME.9999.journal`). Private names are short and need no check.
pub fn check_names(dir: &Path, name: &str, tracks: &[String]) -> Result<(), RecordError> {
    let file = checked_name(name)?;
    let (stem, ext) = split_ext(&file);
    let max = disk::name_max(dir);
    let mut longest = vec![
        format!("{stem}{SUFFIX_LONGEST}{PART_LONGEST}.{ext}"),
        super::journal::journal_name(&file, MAX_SUFFIX),
    ];
    for t in tracks {
        if let Some(why) = disk::name_problem(t, max) {
            return Err(RecordError::Name {
                name: t.clone(),
                why: format!("(a track, whose stem is a file) {why}"),
            });
        }
        longest.push(format!("{stem}{SUFFIX_LONGEST}__{t}{PART_LONGEST}.wav"));
    }
    for l in longest {
        if l.len() > max {
            return Err(RecordError::Name {
                name: name.to_string(),
                why: format!(
                    "is too long: a file waves may have to write for it, {l:?}, is {} bytes, and {} takes names of at most {max} bytes; choose a shorter name",
                    l.len(),
                    dir.display()
                ),
            });
        }
    }
    Ok(())
}

/// Bytes of samples one WAV file may hold: its sizes are 32-bit, and the header and the
/// cue chunk added after need room too.
pub const WAV_DATA_LIMIT: u64 = u32::MAX as u64 - (1 << 20);

/// A saved file: the first part's path, every part, and the duration in seconds.
#[derive(Debug)]
pub struct Saved {
    pub path: PathBuf,
    pub parts: Vec<PathBuf>,
    pub seconds: f64,
}

/// Writes channels `chans` of `take` (the mix, or one stem of a take recorded with stems)
/// as 32-bit float WAV into `dir` (created if missing) under the first free variant of
/// `name`, never replacing a file, durable when it returns. A take too long for one WAV
/// file continues in `NAME.part2.wav`, `NAME.part3.wav`… beside it.
pub fn save_channels(
    disk: &dyn Disk,
    take: &Take,
    chans: std::ops::Range<usize>,
    dir: &Path,
    name: &str,
    sample_rate: u32,
) -> Result<Saved, RecordError> {
    let per_file = (WAV_DATA_LIMIT / (4 * chans.len().max(1) as u64)) as usize;
    save_split(disk, take, chans, dir, name, sample_rate, per_file)
}

/// [`save_channels`] with at most `per_file` frames in each file.
pub fn save_split(
    disk: &dyn Disk,
    take: &Take,
    chans: std::ops::Range<usize>,
    dir: &Path,
    name: &str,
    sample_rate: u32,
    per_file: usize,
) -> Result<Saved, RecordError> {
    checked_name(name)?;
    if chans.is_empty() || chans.end > take.channels || chans.len() > usize::from(u16::MAX) {
        return Err(RecordError::Name {
            name: name.to_string(),
            why: format!(
                "cannot hold channels {chans:?} of a {}-channel take",
                take.channels
            ),
        });
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| RecordError::io("create the output folder", dir, e))?;
    let per_file = per_file.max(1);
    let frames = take.frames();
    // Every part is written and synced privately first; then all are published.
    let mut privates = Vec::new();
    let mut at = 0;
    let written = loop {
        let range = at..frames.min(at + per_file);
        match write_part(disk, take, chans.clone(), range, dir, sample_rate) {
            Ok(p) => privates.push(p),
            Err(e) => break Err(e),
        }
        at += per_file;
        if at >= frames {
            break Ok(());
        }
    };
    let published = written.and_then(|()| {
        let mut parts: Vec<PathBuf> = Vec::new();
        for (k, private) in privates.iter().enumerate() {
            let part_name = match parts.first() {
                None => name.to_string(),
                Some(first) => format!("{}.part{}.wav", file_stem(first), k + 1),
            };
            match publish(disk, private, dir, &part_name) {
                Ok(p) => parts.push(p),
                Err(e) => {
                    // Nothing half-published: the parts named so far go too.
                    for p in &parts {
                        let _ = disk.remove(p);
                    }
                    return Err(e);
                }
            }
        }
        if let Err(e) = disk.sync_dir(dir) {
            // Named but maybe not durable: the journal must stay the take's only copy.
            for p in &parts {
                let _ = disk.remove(p);
            }
            return Err(RecordError::io("sync the folder", dir, e));
        }
        Ok(parts)
    });
    for p in &privates {
        let _ = disk.remove(p);
    }
    let parts = published?;
    for p in parts.iter().skip(1) {
        crate::say!("Recording continues in: {}", p.display());
    }
    Ok(Saved {
        path: parts[0].clone(),
        parts,
        seconds: take.seconds(sample_rate),
    })
}

fn file_stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Writes frames `range` of channels `chans` as one WAV under a private name; returns it.
fn write_part(
    disk: &dyn Disk,
    take: &Take,
    chans: std::ops::Range<usize>,
    range: std::ops::Range<usize>,
    dir: &Path,
    sample_rate: u32,
) -> Result<PathBuf, RecordError> {
    let mut sink = WavSink::create(dir, sample_rate, chans.len() as u16, Format::F32)
        .map_err(|e| RecordError::io("write in", dir, e))?;
    let tmp = sink.tmp().to_path_buf();
    let io = |e| RecordError::io("write", tmp.clone(), e);
    let c = take.channels.max(1);
    let samples = &take.samples[range.start * c..range.end * c];
    if chans.len() == take.channels {
        sink.write(samples).map_err(io)?;
    } else {
        let mut part = Vec::with_capacity(4096 * chans.len());
        for frames in samples.chunks(4096 * c) {
            part.clear();
            for frame in frames.chunks_exact(take.channels) {
                part.extend_from_slice(&frame[chans.clone()]);
            }
            sink.write(&part).map_err(io)?;
        }
    }
    sink.finish(disk).map_err(io)
}

/// Where a take goes when `output_dir` cannot hold it (full disk, a folder that cannot be
/// made or written): a folder of this user's own in the system's temporary folder,
/// `$TMPDIR/waves-rescue-UID`, made 0700. One that is a link, not a folder, or another
/// user's, is refused (said) and a new one made beside it.
pub fn rescue_dir() -> PathBuf {
    rescue_dir_in(&std::env::temp_dir())
}

#[cfg(unix)]
fn uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(not(unix))]
fn uid() -> u32 {
    0
}

/// [`rescue_dir`] inside `base`.
pub fn rescue_dir_in(base: &Path) -> PathBuf {
    let uid = uid();
    let first = base.join(format!("waves-rescue-{uid}"));
    match private_dir(&first, uid, false) {
        Ok(()) => return first,
        Err(why) => crate::tell!(
            "warning: not using the rescue folder {}: {why}; making a new one",
            first.display()
        ),
    }
    for n in 2..1000 {
        let next = base.join(format!("waves-rescue-{uid}-{}-{n}", std::process::id()));
        if private_dir(&next, uid, true).is_ok() {
            return next;
        }
    }
    first
}

/// Makes `dir` a folder only `uid` can enter, or checks that it is one. `fresh`: it must
/// not exist yet.
#[cfg(unix)]
fn private_dir(dir: &Path, uid: u32, fresh: bool) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists && !fresh => {}
        Err(e) => return Err(e.to_string()),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
    if meta.file_type().is_symlink() {
        return Err("it is a symbolic link (it could send the take elsewhere)".into());
    }
    if !meta.is_dir() {
        return Err("it is not a folder".into());
    }
    if meta.uid() != uid {
        return Err(format!("it belongs to another user (uid {})", meta.uid()));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("others may enter it and it cannot be closed: {e}"))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_dir(dir: &Path, _uid: u32, fresh: bool) -> Result<(), String> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists && !fresh && dir.is_dir() => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Saves the mix (channels 0..2) of `take` in `dir`; when that fails, says why (the take is
/// still in memory) and saves it in `rescue_dir()` instead. Errors only when both fail.
pub fn save_or_rescue(
    disk: &dyn Disk,
    take: &Take,
    dir: &Path,
    name: &str,
    sample_rate: u32,
) -> Result<Saved, RecordError> {
    let chans = 0..take.channels.min(2);
    let first = match save_channels(disk, take, chans.clone(), dir, name, sample_rate) {
        Ok(done) => return Ok(done),
        Err(e) => e,
    };
    let rescue = rescue_dir();
    crate::tell!(
        "error: the recording could not be saved in {}: {first}
the take is still in memory; saving it in {} instead",
        dir.display(),
        rescue.display()
    );
    save_channels(disk, take, chans, &rescue, name, sample_rate)
        .map_err(|e| RecordError::Both(Box::new(first), Box::new(e)))
}

/// Where a take is saved, and what it holds.
#[derive(Clone, Copy)]
pub struct Destination<'a> {
    pub dir: &'a Path,
    /// The recording file name (`realtime_recording.wav`).
    pub name: &'a str,
    pub sample_rate: u32,
    /// Track name of each stem slot in use.
    pub tracks: &'a [String],
}

/// The end of a real-time take (control thread, after the spooler stopped): the mix (or
/// its rescue), each stem beside it as `NAME__TRACK.wav` and the reload markers are made
/// durable; only then is the journal removed and `Recording saved` said. When something
/// could not be saved, the journal is kept and the message says where.
pub fn finish_take(
    disk: &dyn Disk,
    take: &Take,
    to: &Destination,
    journal: Option<JournalLink>,
    cues: &[Cue],
) -> Result<(), RecordError> {
    let Destination {
        dir,
        name,
        sample_rate,
        tracks,
    } = *to;
    let mix = match save_or_rescue(disk, take, dir, name, sample_rate) {
        Ok(m) => m,
        Err(e) => {
            if let Some(j) = journal {
                crate::tell!("{}", j.keep());
            }
            return Err(e);
        }
    };
    let mut stems = Vec::new();
    let mut all = true;
    let mix_dir = mix.path.parent().unwrap_or(Path::new("."));
    for (slot, track) in tracks.iter().enumerate() {
        let first = 2 + 2 * slot;
        let stem_name = stem_file_name(&file_stem(&mix.path), track, disk::name_max(mix_dir));
        match save_channels(
            disk,
            take,
            first..first + 2,
            mix_dir,
            &stem_name,
            sample_rate,
        ) {
            Ok(s) => stems.push(s),
            Err(e) => {
                crate::tell!("warning: the stem \"{track}\" could not be saved: {e}");
                all = false;
            }
        }
    }
    // Each reload becomes a marker at its frame, so the take can be cut at its edits.
    if let Err(e) = cue::append_cues(&mix.path, cues) {
        crate::tell!("warning: the reload markers could not be added to the recording: {e}");
    }
    match journal {
        Some(j) if all => j.remove(disk),
        Some(j) => crate::tell!("note: {}", j.keep()),
        None => {}
    }
    crate::say!(
        "Recording saved: {} ({:.2} seconds)",
        mix.path.display(),
        mix.seconds
    );
    for s in stems {
        crate::say!(
            "Stem saved: {} ({:.2} seconds)",
            s.path.display(),
            s.seconds
        );
    }
    if take.dropped > 0 {
        crate::tell!(
            "WARNING: {} frames ({:.3} s) were DROPPED from the recording: the spooler fell behind",
            take.dropped,
            take.dropped as f64 / f64::from(sample_rate.max(1))
        );
    }
    Ok(())
}

/// `STEM__TRACK.wav` for the stem `track` of the mix `STEM.wav`; a track name that is not a
/// file name (a separator, a control character: a crafted journal, an edit) has those
/// replaced by `_`, and one too long for `max` bytes with the suffixes is shortened.
pub fn stem_file_name(stem: &str, track: &str, max: usize) -> String {
    let mut clean: String = track
        .chars()
        .map(|c| {
            if c.is_control() || c == '/' || c == '\\' {
                '_'
            } else {
                c
            }
        })
        .collect();
    if clean.is_empty() || clean.starts_with("..") || clean == "." {
        clean = format!("_{clean}");
    }
    let room = max.saturating_sub(stem.len() + 2 + SUFFIX_LONGEST.len() + PART_LONGEST.len() + 4);
    while clean.len() > room.max(1) {
        clean.pop();
    }
    format!("{stem}__{clean}.wav")
}

/// Gives the complete file at `private` its final, unique name without replacing anything.
pub(crate) fn publish(
    disk: &dyn Disk,
    private: &Path,
    dir: &Path,
    name: &str,
) -> Result<PathBuf, RecordError> {
    for _ in 0..=MAX_SUFFIX {
        let dest = unique_path(dir, name)?;
        match disk.link(private, &dest) {
            Ok(()) => return Ok(dest),
            // Appeared since unique_path looked: try the next free name.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) if e.raw_os_error() == Some(1) || e.raw_os_error() == Some(95) => {
                // No hard links here: check, then rename (small race window, see module doc).
                if taken(&dest)? {
                    continue;
                }
                disk.rename(private, &dest)
                    .map_err(|e| RecordError::io("name the file", &dest, e))?;
                return Ok(dest);
            }
            Err(e) => return Err(RecordError::io("name the file", dest, e)),
        }
    }
    Err(RecordError::NoFreeName {
        dir: dir.to_path_buf(),
        name: name.to_string(),
    })
}

/// Whether something (a file, a folder, a link even if dangling) occupies `path`.
fn taken(path: &Path) -> Result<bool, RecordError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(RecordError::io("check", path, e)),
    }
}

/// `name` validated as a plain file name, with `.wav` added when it has no extension.
pub fn checked_name(name: &str) -> Result<String, RecordError> {
    let invalid = |why: String| RecordError::Name {
        name: name.to_string(),
        why: format!("(a recording name) {why}"),
    };
    crate::config::check_file_name(name).map_err(invalid)?;
    if let Some(why) = disk::name_problem(name, usize::MAX) {
        return Err(invalid(why));
    }
    let path = Path::new(name);
    let mut parts = path.components();
    let plain = path.is_relative()
        && matches!(
            (parts.next(), parts.next()),
            (Some(Component::Normal(_)), None)
        );
    if !plain {
        return Err(invalid(
            "is not a plain file name inside the output folder".into(),
        ));
    }
    Ok(if path.extension().is_some_and(|e| !e.is_empty()) {
        name.to_string()
    } else {
        format!("{}.wav", name.strip_suffix('.').unwrap_or(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::disk::REAL;
    use crate::record::testing::{names, temp_dir};

    fn save(take: &Take, dir: &Path, name: &str) -> Result<Saved, RecordError> {
        save_channels(REAL, take, 0..take.channels, dir, name, 48_000)
    }

    #[test]
    fn unique_path_counts_up_from_name_wav() {
        let dir = temp_dir("waves-naming", "unique");
        let p = unique_path(&dir, "take").unwrap();
        assert_eq!(p, dir.join("take.wav"));
        std::fs::write(&p, b"x").unwrap();
        let p2 = unique_path(&dir, "take").unwrap();
        assert_eq!(p2, dir.join("take_2.wav"));
        std::fs::write(&p2, b"x").unwrap();
        assert_eq!(
            unique_path(&dir, "take.wav").unwrap(),
            dir.join("take_3.wav")
        );
        // The first free one, not one past the highest.
        std::fs::remove_file(&p).unwrap();
        assert_eq!(unique_path(&dir, "take").unwrap(), dir.join("take.wav"));
        // Other extensions are kept; a hidden name gets .wav.
        assert_eq!(unique_path(&dir, "a.flac").unwrap(), dir.join("a.flac"));
        assert_eq!(
            unique_path(&dir, ".hidden").unwrap(),
            dir.join(".hidden.wav")
        );
        assert_eq!(unique_path(&dir, "b.").unwrap(), dir.join("b.wav"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_that_leave_the_folder_are_rejected() {
        let dir = temp_dir("waves-naming", "reject");
        for bad in [
            "",
            ".",
            "..",
            "../x.wav",
            "..x",
            "a/b.wav",
            "a\\b.wav",
            "/etc/passwd",
            "/tmp/x.wav",
            "sub/",
        ] {
            let e = unique_path(&dir, bad).expect_err(bad);
            assert!(matches!(e, RecordError::Name { .. }), "{bad:?}");
            assert!(e.to_string().contains("recording name"), "{e}");
            let take = Take {
                samples: vec![0.0; 2],
                channels: 2,
                dropped: 0,
            };
            assert!(save(&take, &dir, bad).is_err(), "{bad:?}");
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn save_writes_float_wav_equal_to_take_and_no_temp_file() {
        let root = temp_dir("waves-naming", "save");
        let dir = root.join("output"); // created by save
        let samples: Vec<f32> = (0..2 * 1001)
            .map(|i| (i as f32 * 0.37).sin() * 1.7) // above full scale on purpose
            .collect();
        let take = Take {
            samples: samples.clone(),
            channels: 2,
            dropped: 0,
        };
        let Saved {
            path,
            seconds: secs,
            ..
        } = save(&take, &dir, "live").unwrap();
        assert_eq!(path, dir.join("live.wav"));
        assert_eq!(secs, 1001.0 / 48_000.0);
        let r = hound::WavReader::open(&path).unwrap();
        let spec = r.spec();
        assert_eq!(spec.channels, 2);
        assert_eq!(spec.sample_rate, 48_000);
        assert_eq!(spec.bits_per_sample, 32);
        assert_eq!(spec.sample_format, hound::SampleFormat::Float);
        let back: Vec<f32> = r.into_samples::<f32>().map(|s| s.unwrap()).collect();
        assert_eq!(back, samples);

        // A second save never overwrites the first.
        let path2 = save(&take, &dir, "live.wav").unwrap().path;
        assert_eq!(path2, dir.join("live_2.wav"));
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["live.wav", "live_2.wav"]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn publish_never_replaces_an_existing_file() {
        let dir = temp_dir("waves-naming", "race");
        let private = dir.join(".private");
        std::fs::write(&private, b"new").unwrap();
        // Simulate the race: hard_link must refuse an existing target.
        std::fs::write(dir.join("r.wav"), b"old").unwrap();
        assert_eq!(
            std::fs::hard_link(&private, dir.join("r.wav"))
                .unwrap_err()
                .kind(),
            ErrorKind::AlreadyExists
        );
        let dest = publish(REAL, &private, &dir, "r").unwrap();
        assert_eq!(dest, dir.join("r_2.wav"));
        assert_eq!(std::fs::read(dir.join("r.wav")).unwrap(), b"old");
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_take_longer_than_one_file_continues_in_numbered_parts() {
        let dir = temp_dir("waves-naming", "split");
        let take = Take {
            samples: (0..2 * 2500).map(|i| i as f32).collect(),
            channels: 2,
            dropped: 0,
        };
        std::fs::write(dir.join("long.wav"), b"taken").unwrap();
        let saved = save_split(REAL, &take, 0..2, &dir, "long.wav", 1000, 1000).unwrap();
        assert_eq!(saved.path, dir.join("long_2.wav"));
        assert_eq!(saved.parts.len(), 3);
        assert!((saved.seconds - 2.5).abs() < 1e-9);
        let mut all = Vec::new();
        for name in ["long_2.wav", "long_2.part2.wav", "long_2.part3.wav"] {
            let r = hound::WavReader::open(dir.join(name)).unwrap();
            all.extend(r.into_samples::<f32>().map(|s| s.unwrap()));
        }
        assert_eq!(
            all, take.samples,
            "the parts hold the take, in order, nothing lost"
        );
        assert!(!dir.join("long_2.part4.wav").exists());
        // One channel of a wide take splits the same way.
        let one = save_split(REAL, &take, 1..2, &dir, "right.wav", 1000, 2000)
            .unwrap()
            .path;
        let r = hound::WavReader::open(&one).unwrap();
        assert_eq!(r.len(), 2000);
        assert_eq!(
            WAV_DATA_LIMIT / 8,
            536_739_839,
            "frames of stereo f32 per file"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A take of `frames` stereo frames plus one stem, with its journal attached.
    fn take_with_journal(dir: &Path) -> (Take, JournalLink) {
        let (mut tap, spooler) = crate::record::tap::recorder(4096, 4);
        let (spooler, link) =
            crate::record::journal::attach(spooler, dir, "take.wav", 48_000, &["drums".into()])
                .unwrap();
        let handle = spooler.spawn();
        tap.push(&vec![0.25; 4 * 1000]);
        (handle.stop(), link.unwrap())
    }

    #[test]
    fn the_journal_goes_only_after_the_mix_and_stems_are_durable() {
        use crate::record::disk::trace::Traced;
        let dir = temp_dir("waves-naming", "durable");
        let (take, link) = take_with_journal(&dir);
        let disk = Traced::default();
        let tracks = ["drums".to_string()];
        let to = Destination {
            dir: &dir,
            name: "take.wav",
            sample_rate: 48_000,
            tracks: &tracks,
        };
        finish_take(&disk, &take, &to, Some(link), &[]).unwrap();
        let steps: Vec<String> = disk
            .steps()
            .into_iter()
            .map(|s| s.split(".waves-").next().unwrap().to_string())
            .collect();
        let d = format!("syncdir {}", dir.file_name().unwrap().to_string_lossy());
        assert_eq!(
            steps,
            [
                "sync ",
                "link take.wav",
                &d,
                "remove ",
                "sync ",
                "link take__drums.wav",
                &d,
                "remove ",
                "remove .take.journal"
            ]
        );
        assert_eq!(names(&dir), ["take.wav", "take__drums.wav"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failure_while_publishing_keeps_the_journal() {
        use crate::record::disk::trace::Traced;
        for fail in [("sync", 1), ("link", 1), ("syncdir", 1)] {
            let dir = temp_dir("waves-naming", &format!("keep-{}", fail.0));
            let (take, link) = take_with_journal(&dir);
            let disk = Traced {
                fail: Some(fail),
                ..Default::default()
            };
            let tracks = ["drums".to_string()];
            let to = Destination {
                dir: &dir,
                name: "take.wav",
                sample_rate: 48_000,
                tracks: &tracks,
            };
            // The mix is saved; the stem is not: the journal stays.
            finish_take(&disk, &take, &to, Some(link), &[]).unwrap();
            assert!(dir.join(".take.journal").exists(), "{fail:?}");
            assert!(
                !disk.steps().iter().any(|s| s.contains(".take.journal")),
                "{fail:?}: {:?}",
                disk.steps()
            );
            assert_eq!(names(&dir), [".take.journal", "take.wav"], "{fail:?}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_rescue_folder_is_private_and_refuses_links_and_other_users_folders() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let base = temp_dir("waves-naming", "rescue");
        let uid = uid();
        let own = base.join(format!("waves-rescue-{uid}"));
        let got = rescue_dir_in(&base);
        assert_eq!(got, own);
        assert_eq!(std::fs::metadata(&own).unwrap().mode() & 0o777, 0o700);
        std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(rescue_dir_in(&base), own);
        assert_eq!(
            std::fs::metadata(&own).unwrap().mode() & 0o777,
            0o700,
            "closed again"
        );
        // A link planted where the folder goes: not followed.
        std::fs::remove_dir(&own).unwrap();
        let elsewhere = base.join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &own).unwrap();
        let got = rescue_dir_in(&base);
        assert_ne!(got, own);
        assert!(got.starts_with(&base) && got.is_dir(), "{}", got.display());
        assert!(
            !std::fs::symlink_metadata(&got)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // Another user's folder (only root can make one to test with).
        if uid == 0 {
            std::fs::remove_file(&own).unwrap();
            std::fs::create_dir(&own).unwrap();
            std::os::unix::fs::chown(&own, Some(12345), None).unwrap();
            assert_ne!(rescue_dir_in(&base), own);
        }
        std::fs::remove_dir_all(&base).unwrap();
    }
}
