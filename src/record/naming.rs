//! Recording file names: kept inside output_dir, never overwriting a file; control thread.
//!
//! [`unique_path`] turns a plain file name into the first free `dir/name.wav`,
//! `dir/name_2.wav`, `dir/name_3.wav`, … and [`save`] writes a [`Take`] there.
//!
//! Saving is race-free against other writers: the WAV is written whole through
//! [`WavSink`] (temporary file, renamed when complete) under a private hidden name, then
//! published with `hard_link(private, final)`, which fails instead of replacing when the
//! final name appeared meanwhile (another `waves`, a user's copy); we then take the next
//! free name. A plain `rename` would silently replace such a file. Where the file system
//! has no hard links (FAT, some network shares) we fall back to check-then-rename, which
//! leaves a window of microseconds between the check and the rename. At no point does
//! the final name hold a partial file: an interrupted save leaves at most a hidden
//! `.NAME.PID-N.saving` (or `.partial`) file beside it.

use super::spool::Take;
use super::wav::{Format, WavSink};
use std::io::{Error, ErrorKind};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Gives up after this many taken names (`name_2` … `name_9999`).
const MAX_SUFFIX: u32 = 9999;

/// The first free path for the recording `name` inside `dir`.
///
/// `name` must be a plain file name (no separators, not `.`/`..`, not absolute); `.wav` is
/// added when it has no extension. If `dir/name` exists (as anything, even a dangling
/// link) the result is `name_2.wav`, `name_3.wav`, … whichever is first free.
pub fn unique_path(dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    let name = checked_name(name)?;
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, ext),
        _ => (name.as_str(), "wav"),
    };
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
    Err(Error::new(
        ErrorKind::AlreadyExists,
        format!(
            "no free name for recording {name:?} in {}: {stem}.{ext} to {stem}_{MAX_SUFFIX}.{ext} all exist; choose another name",
            dir.display()
        ),
    ))
}

/// Writes `take` as a 32-bit float WAV into `dir` (created if missing) under the first
/// free variant of `name`, never replacing an existing file. Returns the path written and
/// the take's duration in seconds.
pub fn save(
    take: &Take,
    dir: &Path,
    name: &str,
    sample_rate: u32,
) -> std::io::Result<(PathBuf, f64)> {
    save_channels(take, 0..take.channels, dir, name, sample_rate)
}

/// Bytes of samples one WAV file may hold: its sizes are 32-bit, and the header and the
/// cue chunk added after need room too.
pub const WAV_DATA_LIMIT: u64 = u32::MAX as u64 - (1 << 20);

/// Like [`save`], for channels `chans` of the take only (the mix, or one stem of a take
/// recorded with stems). Written a slice at a time: no second copy of the take. A take too
/// long for one WAV file continues in `NAME.part2.wav`, `NAME.part3.wav`… beside it.
pub fn save_channels(
    take: &Take,
    chans: std::ops::Range<usize>,
    dir: &Path,
    name: &str,
    sample_rate: u32,
) -> std::io::Result<(PathBuf, f64)> {
    let per_file = (WAV_DATA_LIMIT / (4 * chans.len().max(1) as u64)) as usize;
    save_split(take, chans, dir, name, sample_rate, per_file)
}

/// [`save_channels`] with at most `per_file` frames in each file.
pub fn save_split(
    take: &Take,
    chans: std::ops::Range<usize>,
    dir: &Path,
    name: &str,
    sample_rate: u32,
    per_file: usize,
) -> std::io::Result<(PathBuf, f64)> {
    let per_file = per_file.max(1);
    let frames = take.frames();
    let first = save_part(
        take,
        chans.clone(),
        0..frames.min(per_file),
        dir,
        name,
        sample_rate,
    )?;
    let stem = first
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut part = 2;
    let mut at = per_file;
    while at < frames {
        let next = format!("{stem}.part{part}.wav");
        let p = save_part(
            take,
            chans.clone(),
            at..frames.min(at + per_file),
            dir,
            &next,
            sample_rate,
        )?;
        crate::say!("Recording continues in: {}", p.display());
        at += per_file;
        part += 1;
    }
    Ok((first, take.seconds(sample_rate)))
}

/// Writes frames `range` of channels `chans` as one WAV file under the first free variant
/// of `name` in `dir`.
fn save_part(
    take: &Take,
    chans: std::ops::Range<usize>,
    range: std::ops::Range<usize>,
    dir: &Path,
    name: &str,
    sample_rate: u32,
) -> std::io::Result<PathBuf> {
    let file = checked_name(name)?;
    if chans.is_empty() || chans.end > take.channels {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "channels {chans:?} are not in a {}-channel take",
                take.channels
            ),
        ));
    }
    let channels = u16::try_from(chans.len())
        .ok()
        .filter(|&c| c > 0)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "cannot save a recording with {} channels (1 to {} supported)",
                    take.channels,
                    u16::MAX
                ),
            )
        })?;
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::new(
            e.kind(),
            format!("cannot create output folder {}: {e}", dir.display()),
        )
    })?;

    // Write the whole file under a name private to this process and call.
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let private = dir.join(format!(
        ".{file}.{}-{}.saving",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    ));
    let mut sink = WavSink::create(&private, sample_rate, channels, Format::F32)?;
    let c = take.channels.max(1);
    let samples = &take.samples[range.start * c..range.end * c];
    if chans.len() == take.channels {
        sink.write(samples)?;
    } else {
        let mut part = Vec::with_capacity(4096 * chans.len());
        for frames in samples.chunks(4096 * c) {
            part.clear();
            for frame in frames.chunks_exact(take.channels) {
                part.extend_from_slice(&frame[chans.clone()]);
            }
            sink.write(&part)?;
        }
    }
    sink.finish()?;

    let published = publish(&private, dir, name);
    let _ = std::fs::remove_file(&private);
    published
}

/// Where a take goes when `output_dir` cannot hold it (full disk, a folder that cannot be
/// made or written): the system's temporary folder.
pub fn rescue_dir() -> PathBuf {
    std::env::temp_dir().join("waves-rescue")
}

/// Saves the mix (channels 0..2) of `take` in `dir`; when that fails, says why (the take is
/// still in memory) and saves it in `rescue_dir()` instead. Errors only when both fail.
pub fn save_or_rescue(
    take: &Take,
    dir: &Path,
    name: &str,
    sample_rate: u32,
) -> std::io::Result<(PathBuf, f64)> {
    let chans = 0..take.channels.min(2);
    let first = match save_channels(take, chans.clone(), dir, name, sample_rate) {
        Ok(done) => return Ok(done),
        Err(e) => e,
    };
    crate::tell!(
        "error: the recording could not be saved in {}: {first}\nthe take is still in memory; saving it in {} instead",
        dir.display(),
        rescue_dir().display()
    );
    save_channels(take, chans, &rescue_dir(), name, sample_rate).map_err(|e| {
        Error::new(
            e.kind(),
            format!("{first}; and in {}: {e}", rescue_dir().display()),
        )
    })
}

/// Gives the complete file at `private` its final, unique name without replacing anything.
fn publish(private: &Path, dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    for _ in 0..=MAX_SUFFIX {
        let dest = unique_path(dir, name)?;
        match std::fs::hard_link(private, &dest) {
            Ok(()) => return Ok(dest),
            // Appeared since unique_path looked: try the next free name.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            // No hard links here: check, then rename (small race window, see module doc).
            Err(_) => {
                if taken(&dest)? {
                    continue;
                }
                std::fs::rename(private, &dest)?;
                return Ok(dest);
            }
        }
    }
    Err(Error::new(
        ErrorKind::AlreadyExists,
        format!("no free name for recording {name:?} in {}", dir.display()),
    ))
}

/// Whether something (a file, a folder, a link even if dangling) occupies `path`.
fn taken(path: &Path) -> std::io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::new(
            e.kind(),
            format!("cannot check {}: {e}", path.display()),
        )),
    }
}

/// `name` validated as a plain file name, with `.wav` added when it has no extension.
fn checked_name(name: &str) -> std::io::Result<String> {
    let invalid = |why: &str| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("recording name {name:?} {why}"),
        )
    };
    crate::config::check_file_name(name).map_err(|why| invalid(&why))?;
    let path = Path::new(name);
    let mut parts = path.components();
    let plain = path.is_relative()
        && matches!(
            (parts.next(), parts.next()),
            (Some(Component::Normal(_)), None)
        );
    if !plain {
        return Err(invalid("is not a plain file name inside the output folder"));
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

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("waves-naming-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn unique_path_counts_up_from_name_wav() {
        let dir = temp_dir("unique");
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
        let dir = temp_dir("reject");
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
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
            assert!(e.to_string().contains("recording name"), "{e}");
            let take = Take {
                samples: vec![0.0; 2],
                channels: 2,
                dropped: 0,
            };
            assert!(save(&take, &dir, bad, 48_000).is_err(), "{bad:?}");
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn save_writes_float_wav_equal_to_take_and_no_temp_file() {
        let root = temp_dir("save");
        let dir = root.join("output"); // created by save
        let samples: Vec<f32> = (0..2 * 1001)
            .map(|i| (i as f32 * 0.37).sin() * 1.7) // above full scale on purpose
            .collect();
        let take = Take {
            samples: samples.clone(),
            channels: 2,
            dropped: 0,
        };
        let (path, secs) = save(&take, &dir, "live", 48_000).unwrap();
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
        let (path2, _) = save(&take, &dir, "live.wav", 48_000).unwrap();
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
        let dir = temp_dir("race");
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
        let dest = publish(&private, &dir, "r").unwrap();
        assert_eq!(dest, dir.join("r_2.wav"));
        assert_eq!(std::fs::read(dir.join("r.wav")).unwrap(), b"old");
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_take_longer_than_one_file_continues_in_numbered_parts() {
        let dir = temp_dir("split");
        let take = Take {
            samples: (0..2 * 2500).map(|i| i as f32).collect(),
            channels: 2,
            dropped: 0,
        };
        std::fs::write(dir.join("long.wav"), b"taken").unwrap();
        let (first, secs) = save_split(&take, 0..2, &dir, "long.wav", 1000, 1000).unwrap();
        assert_eq!(first, dir.join("long_2.wav"));
        assert!((secs - 2.5).abs() < 1e-9);
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
        let (one, _) = save_split(&take, 1..2, &dir, "right.wav", 1000, 2000).unwrap();
        let r = hound::WavReader::open(&one).unwrap();
        assert_eq!(r.len(), 2000);
        assert_eq!(
            WAV_DATA_LIMIT / 8,
            536_739_839,
            "frames of stereo f32 per file"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
