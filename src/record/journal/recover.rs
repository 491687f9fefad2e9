//! `waves recover`: turns journals left by a crash into WAVs beside them, removing each
//! journal only once its WAVs are durable; and the start-up note about such journals.
//! Control thread.
//!
//! A journal of the mix alone becomes its WAV in place: the sizes in its header are filled
//! in and the file gets its final name, with no copy, so a disk that holds the take once is
//! enough. A journal with stems is copied into the mix and one WAV per stem; when the disk
//! has no room for that, it too becomes one WAV in place, holding every channel (said).
//!
//! A retry is idempotent: an attempt that fails removes the WAVs it wrote, so the next one
//! does not leave a second copy of the mix beside the first.

use super::super::disk::{self, Disk};
use super::super::save::{self, Saved, WAV_DATA_LIMIT};
use super::super::{RecordError, Take};
use super::{HEADER_LEN, Header, in_use, list};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

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
    /// The WAVs written: (path, seconds), and a note when they are not the usual files.
    Saved(Vec<(PathBuf, f64)>, Option<String>),
    /// No whole frame: nothing to save; removed.
    Empty,
    /// A running waves is still writing it.
    InUse,
}

/// `waves recover DIR`: turns every journal in `dir` into WAVs beside it (the mix under
/// the name it was meant for, stems as `NAME__TRACK.wav`, never overwriting), removing
/// each journal only once its WAVs are durable. An error names the journal, which is kept.
pub fn recover(dir: &Path) -> Result<(), RecordError> {
    recover_with(disk::REAL, dir)
}

/// [`recover`] through `disk`.
pub fn recover_with(disk: &dyn Disk, dir: &Path) -> Result<(), RecordError> {
    let journals = match list(dir) {
        Ok(j) => j,
        Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(RecordError::io("read", dir, e)),
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
        match recover_one(disk, path, dir) {
            Ok(Recovered::Saved(files, note)) => {
                for (p, secs) in files {
                    crate::say!("Recovered: {} ({secs:.2} seconds)", p.display());
                }
                if let Some(n) = note {
                    crate::tell!("note: {n}");
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
                crate::tell!("error: {e}; the journal {} is kept", path.display());
                failed += 1;
            }
        }
    }
    if failed > 0 {
        Err(RecordError::Journal {
            path: dir.to_path_buf(),
            why: format!(
                "{failed} of {} journals could not be recovered",
                journals.len()
            ),
        })
    } else {
        Ok(())
    }
}

/// Reads a journal (header and every whole frame) into a take.
pub fn read(path: &Path) -> Result<(Header, Take), RecordError> {
    let file = File::open(path).map_err(|e| RecordError::io("open", path, e))?;
    let (header, offset, frames) = layout(path, &file)?;
    read_frames(path, file, &header, offset, frames)
}

/// The header, where the frames start and how many whole frames there are.
fn layout(path: &Path, file: &File) -> Result<(Header, u64, u64), RecordError> {
    let bad = |why: String| RecordError::Journal {
        path: path.to_path_buf(),
        why,
    };
    let len = file
        .metadata()
        .map_err(|e| RecordError::io("read", path, e))?
        .len();
    let mut head = Vec::new();
    file.take(HEADER_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| RecordError::io("read", path, e))?;
    let (header, offset) = Header::decode(&head).map_err(bad)?;
    let frames = len.saturating_sub(offset as u64) / (4 * u64::from(header.channels));
    Ok((header, offset as u64, frames))
}

fn read_frames(
    path: &Path,
    file: File,
    header: &Header,
    offset: u64,
    frames: u64,
) -> Result<(Header, Take), RecordError> {
    let bad = |why: &str| RecordError::Journal {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    let channels = header.channels as usize;
    let samples_len =
        usize::try_from(frames * channels as u64).map_err(|_| bad("too large for this machine"))?;
    let mut samples = Vec::new();
    samples
        .try_reserve_exact(samples_len)
        .map_err(|_| bad("too large to load into memory"))?;
    let mut file = file;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| RecordError::io("read", path, e))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut chunk = vec![0u8; 1 << 16];
    while samples.len() < samples_len {
        let want = ((samples_len - samples.len()) * 4).min(chunk.len());
        reader
            .read_exact(&mut chunk[..want])
            .map_err(|e| RecordError::io("read the frames of", path, e))?;
        samples.extend(
            chunk[..want]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
    }
    let take = Take {
        samples,
        channels,
        dropped: 0,
    };
    Ok((header.clone(), take))
}

/// The recording name from a journal, shortened when it does not fit this file system with
/// the suffixes waves may add (a journal written elsewhere, or by an older waves that did
/// not check): a name that never fits must not make recovery fail forever.
fn fitting_name(dir: &Path, name: &str) -> String {
    if save::check_names(dir, name, &[]).is_ok() {
        return name.to_string();
    }
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, "wav"));
    let mut stem = stem.to_string();
    while !stem.is_empty() && save::check_names(dir, &format!("{stem}.{ext}"), &[]).is_err() {
        stem.pop();
    }
    if stem.is_empty() {
        "recovered.wav".into()
    } else {
        format!("{stem}.{ext}")
    }
}

fn recover_one(disk: &dyn Disk, path: &Path, dir: &Path) -> Result<Recovered, RecordError> {
    let file = File::open(path).map_err(|e| RecordError::io("open", path, e))?;
    if in_use(&file) {
        return Ok(Recovered::InUse);
    }
    let (mut header, offset, frames) = layout(path, &file)?;
    if frames == 0 {
        disk.remove(path)
            .map_err(|e| RecordError::io("remove", path, e))?;
        return Ok(Recovered::Empty);
    }
    header.name = fitting_name(dir, &header.name);
    let secs = frames as f64 / f64::from(header.sample_rate);
    let data = frames * 4 * u64::from(header.channels);
    let in_place_ok = offset == HEADER_LEN as u64 && header_is_wav(&file) && data <= WAV_DATA_LIMIT;
    let stopped = header.stopped_at.map(|f| {
        format!(
            "{} stopped after {:.2} s while recording (the disk fell behind or failed); this is what it holds",
            path.display(),
            f as f64 / f64::from(header.sample_rate)
        )
    });
    if in_place_ok && header.channels == header.mix_channels {
        let wav = in_place(disk, path, dir, &header, frames)?;
        return Ok(Recovered::Saved(vec![(wav, secs)], stopped));
    }
    // A copy needs as much room again as the journal holds.
    let room = disk.free_bytes(dir);
    let copy_fits = room.is_none_or(|free| free > data + (1 << 20));
    let copied = if copy_fits {
        let (_, take) = read_frames(path, file, &header, offset, frames)?;
        copy(disk, dir, &header, &take)
    } else {
        Err(RecordError::NoSpace {
            path: dir.to_path_buf(),
            need: data,
            free: room.unwrap_or(0),
        })
    };
    let saved = match copied {
        Ok(saved) => saved,
        Err(e) if e.is_no_space() && in_place_ok => {
            let wav = in_place(disk, path, dir, &header, frames)?;
            let mut layout = vec![format!("1-{} the mix", header.mix_channels)];
            for (slot, t) in header.tracks.iter().enumerate() {
                let first = header.mix_channels + slot as u32 * header.stem_channels + 1;
                layout.push(format!(
                    "{first}-{} \"{t}\"",
                    first + header.stem_channels - 1
                ));
            }
            let note = format!(
                "no room for separate files ({e}): {} holds all {} channels of the take, made from the journal in place: {}",
                wav.display(),
                header.channels,
                layout.join(", ")
            );
            let note = match stopped {
                Some(s) => format!("{note}\n{s}"),
                None => note,
            };
            return Ok(Recovered::Saved(vec![(wav, secs)], Some(note)));
        }
        Err(e) => return Err(e),
    };
    // Only now that the WAVs are durable.
    remove_journal(
        disk,
        path,
        dir,
        "remove the recovered journal (its WAVs are written; delete it by hand)",
    )?;
    let files = saved.into_iter().map(|s| (s.path, s.seconds)).collect();
    Ok(Recovered::Saved(files, stopped))
}

/// Whether the journal's file starts as a WAV (format 2), so that it can become one.
fn header_is_wav(mut file: &File) -> bool {
    let mut b = [0u8; 4];
    file.seek(SeekFrom::Start(0)).is_ok() && file.read_exact(&mut b).is_ok() && &b == b"RIFF"
}

/// Writes the mix and each stem of `take`; on any failure removes what it wrote, so that a
/// retry starts from nothing.
fn copy(
    disk: &dyn Disk,
    dir: &Path,
    header: &Header,
    take: &Take,
) -> Result<Vec<Saved>, RecordError> {
    let sr = header.sample_rate;
    let mix = header.mix_channels as usize;
    let mut saved: Vec<Saved> = Vec::new();
    let result = (|| {
        let first = save::save_channels(disk, take, 0..mix, dir, &header.name, sr)?;
        let stem = first
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "recording".into());
        saved.push(first);
        let per = header.stem_channels as usize;
        for (slot, track) in header.tracks.iter().enumerate() {
            let at = mix + slot * per;
            let name = save::stem_file_name(&stem, track, disk::name_max(dir));
            saved.push(save::save_channels(
                disk,
                take,
                at..at + per,
                dir,
                &name,
                sr,
            )?);
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(saved),
        Err(e) => {
            for s in &saved {
                for p in &s.parts {
                    let _ = disk.remove(p);
                }
            }
            let _ = disk.sync_dir(dir);
            Err(e)
        }
    }
}

/// Makes the journal at `path` (format 2) its own WAV: drops a cut last frame, fills in the
/// sizes, syncs, and gives it the recording's name (never replacing a file).
fn in_place(
    disk: &dyn Disk,
    path: &Path,
    dir: &Path,
    header: &Header,
    frames: u64,
) -> Result<PathBuf, RecordError> {
    let io = |what, e| RecordError::io(what, path, e);
    let data = frames * 4 * u64::from(header.channels);
    let len = HEADER_LEN as u64 + data;
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| io("open", e))?;
    f.set_len(len).map_err(|e| io("cut the last frame of", e))?;
    let sizes = (|| {
        f.seek(SeekFrom::Start(4))?;
        f.write_all(&((len - 8) as u32).to_le_bytes())?;
        f.seek(SeekFrom::Start(HEADER_LEN as u64 - 4))?;
        f.write_all(&(data as u32).to_le_bytes())?;
        disk.sync_file(path)
    })();
    sizes.map_err(|e| io("write the WAV sizes into", e))?;
    drop(f);
    let wav = save::publish(disk, path, dir, &header.name)?;
    disk.sync_dir(dir)
        .map_err(|e| RecordError::io("sync the folder", dir, e))?;
    if wav != path {
        // Published under a second name (a hard link): the journal's name goes; when
        // this fails the journal is still a valid WAV and a retry publishes nothing twice
        // because the file is already named: say so.
        remove_journal(
            disk,
            path,
            dir,
            "remove the recovered journal (it is now the WAV; delete the journal name by hand)",
        )?;
    }
    Ok(wav)
}

/// Removes a recovered journal's name once what it held is durable, then syncs the folder.
/// When that fails the recovered files are safe, and `what` says so.
fn remove_journal(
    disk: &dyn Disk,
    path: &Path,
    dir: &Path,
    what: &'static str,
) -> Result<(), RecordError> {
    disk.remove(path)
        .map_err(|e| RecordError::io(what, path, e))?;
    let _ = disk.sync_dir(dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::super::disk::trace::Traced;
    use super::*;
    use crate::record::testing::{names, temp_dir};

    /// A journal as a killed waves leaves it: header, `frames` frames of `channels`, and
    /// half a frame cut by a power loss.
    fn journal(dir: &Path, name: &str, tracks: &[&str], frames: usize) -> (PathBuf, Vec<f32>) {
        let channels = if tracks.is_empty() {
            2
        } else {
            2 + 2 * (tracks.len() + 1)
        };
        let h = Header {
            sample_rate: 48_000,
            channels: channels as u32,
            mix_channels: 2,
            stem_channels: 2,
            name: name.into(),
            tracks: tracks.iter().map(|t| t.to_string()).collect(),
            stopped_at: None,
        };
        let path = dir.join(super::super::journal_name(name, 1));
        let mut f = File::create(&path).unwrap();
        f.write_all(&h.encode().unwrap()).unwrap();
        let samples: Vec<f32> = (0..frames * channels)
            .map(|v| (v % channels) as f32 + v as f32 * 1e-4)
            .collect();
        for s in &samples {
            f.write_all(&s.to_le_bytes()).unwrap();
        }
        f.write_all(&[1, 2]).unwrap();
        (path, samples)
    }

    fn wav(path: &Path) -> (u16, Vec<f32>) {
        let r = hound::WavReader::open(path).unwrap();
        let ch = r.spec().channels;
        (ch, r.into_samples::<f32>().map(|s| s.unwrap()).collect())
    }

    #[test]
    fn a_mix_journal_becomes_its_wav_in_place_in_a_durable_order() {
        let dir = temp_dir("waves-recover", "inplace");
        let (path, samples) = journal(&dir, "take.wav", &[], 480);
        let disk = Traced::default();
        recover_with(&disk, &dir).unwrap();
        assert_eq!(names(&dir), ["take.wav"]);
        assert_eq!(wav(&dir.join("take.wav")), (2, samples));
        assert_eq!(
            disk.steps(),
            [
                "sync .take.journal",
                "link take.wav",
                "syncdir ",
                "remove .take.journal",
                "syncdir "
            ]
            .map(|s| s.replace(
                "syncdir ",
                &format!("syncdir {}", dir.file_name().unwrap().to_string_lossy())
            ))
        );
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_disk_without_room_for_a_copy_gets_the_journal_in_place() {
        let dir = temp_dir("waves-recover", "noroom");
        let (_, samples) = journal(&dir, "take.wav", &["drums"], 300);
        let disk = Traced {
            free: Some(1000),
            ..Default::default()
        };
        recover_with(&disk, &dir).unwrap();
        assert_eq!(names(&dir), ["take.wav"]);
        assert_eq!(
            wav(&dir.join("take.wav")),
            (6, samples),
            "every channel, nothing lost"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stems_are_copied_when_there_is_room_never_overwriting() {
        let dir = temp_dir("waves-recover", "copy");
        std::fs::write(dir.join("take.wav"), b"mine").unwrap();
        let (_, samples) = journal(&dir, "take.wav", &["drums"], 480);
        recover(&dir).unwrap();
        assert_eq!(names(&dir), ["take.wav", "take_2.wav", "take_2__drums.wav"]);
        assert_eq!(std::fs::read(dir.join("take.wav")).unwrap(), b"mine");
        let mix: Vec<f32> = samples.chunks(6).flat_map(|f| [f[0], f[1]]).collect();
        assert_eq!(wav(&dir.join("take_2.wav")), (2, mix));
        let drums: Vec<f32> = samples.chunks(6).flat_map(|f| [f[2], f[3]]).collect();
        assert_eq!(wav(&dir.join("take_2__drums.wav")), (2, drums));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_recover_keeps_the_journal_and_a_retry_duplicates_nothing() {
        let dir = temp_dir("waves-recover", "retry");
        // A crafted stem name, and a folder sync that fails for the stem.
        let (path, _) = journal(&dir, "take.wav", &["../evil\n"], 100);
        let disk = Traced {
            fail: Some(("syncdir", 1)),
            ..Default::default()
        };
        assert!(recover_with(&disk, &dir).is_err());
        assert!(path.exists(), "the journal is kept");
        assert_eq!(
            names(&dir),
            [".take.journal"],
            "nothing half-recovered is left"
        );
        recover(&dir).unwrap();
        recover(&dir).unwrap();
        assert_eq!(names(&dir), ["take.wav", "take___.._evil_.wav"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_long_name_in_a_journal_is_recovered_under_a_name_that_fits() {
        let dir = temp_dir("waves-recover", "long");
        for n in [230, 250] {
            let name = format!("{}.wav", "y".repeat(n - 4));
            // Written as an older waves would have, without checking the name.
            let (_, samples) = journal(&dir, &name[..n.min(240)], &[], 10);
            recover(&dir).unwrap();
            let got = names(&dir);
            assert_eq!(got.len(), 1, "{got:?}");
            assert!(got[0].len() <= 255 && got[0].ends_with(".wav"), "{got:?}");
            assert_eq!(wav(&dir.join(&got[0])).1, samples);
            std::fs::remove_file(dir.join(&got[0])).unwrap();
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_foreign_file_is_an_error_and_kept() {
        let dir = temp_dir("waves-recover", "foreign");
        std::fs::write(dir.join(".x.journal"), b"not a journal at all").unwrap();
        let e = recover(&dir).unwrap_err();
        assert!(e.to_string().contains("1 of 1"), "{e}");
        assert_eq!(names(&dir), [".x.journal"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
