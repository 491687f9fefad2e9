//! Reading the files a script names (the script, its imports, its samples): regular files
//! only, opened so that opening never blocks, and no larger than asked; control thread.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// What kind of file `meta` describes, in words, when it is not a regular file.
fn not_regular(meta: &std::fs::Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some("a folder");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_char_device() || t.is_block_device() {
            return Some("a device");
        }
    }
    Some("not a regular file")
}

/// Opens `path` for reading if it is a regular file. Checked before opening, because
/// opening a FIFO for reading waits for a writer (forever, and on the control thread that
/// is Ctrl-C too); opened non-blocking and checked again, in case the file was swapped
/// for a FIFO in between.
pub fn open_regular(path: &Path) -> Result<File, String> {
    let meta = std::fs::metadata(path).map_err(|e| io_text(&e))?;
    if let Some(what) = not_regular(&meta) {
        return Err(format!("is {what}, not a regular file"));
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path).map_err(|e| io_text(&e))?;
    let meta = file.metadata().map_err(|e| io_text(&e))?;
    if let Some(what) = not_regular(&meta) {
        return Err(format!("is {what}, not a regular file"));
    }
    Ok(file)
}

/// Reads a regular file of at most `limit` bytes as UTF-8 text, without a leading byte
/// order mark. The size is checked before reading, so a huge file costs nothing.
pub fn read_text(path: &Path, limit: u64) -> Result<String, String> {
    let file = open_regular(path)?;
    let len = file.metadata().map_err(|e| io_text(&e))?.len();
    if len > limit {
        return Err(too_large(len, limit));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // The file may grow after the check: read no more than the limit allows.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_text(&e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64, limit));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| "cannot be read as text (it is not UTF-8)".to_string())?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// `text` without a leading UTF-8 byte order mark (some Windows editors write one).
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

fn too_large(len: u64, limit: u64) -> String {
    format!(
        "is too large: {} (the script and its imports may hold {} in all)",
        bytes_text(len),
        bytes_text(limit)
    )
}

/// A byte count as people read it: `512 B`, `1.5 KiB`, `5.9 GiB`.
pub fn bytes_text(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// An I/O error's text without the " (os error 2)" suffix.
pub fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// The identity of the file at `path` (device and inode on Unix), so one file reached by
/// several names (hard links, symlinks) is read once.
#[cfg(unix)]
pub fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
pub fn identity(_path: &Path) -> Option<(u64, u64)> {
    None
}

/// Variables (`let`, `const`) a script and its imports may declare. Rhai's parser looks
/// each name up through every variable declared before it, so parsing costs the square of
/// their number: 10 000 parse in about 0.2 s, 50 000 took 7 s.
pub const MAX_VARIABLES: usize = 10_000;

/// Counts the `let` and `const` declarations in `text` on top of `before`; `Err` with the
/// line, column and message of the first one over [`MAX_VARIABLES`].
pub fn count_variables(text: &str, before: usize) -> Result<usize, (usize, usize, String)> {
    let mut n = before;
    for t in super::tokens::tokens(text) {
        if t.kind == super::tokens::Kind::Word && (t.text == "let" || t.text == "const") {
            n += 1;
            if n > MAX_VARIABLES {
                return Err((
                    t.line,
                    t.col,
                    format!(
                        "too many variables: a script and its imports may declare {MAX_VARIABLES}\nhint: keep values in an array, e.g. `let notes = [..];`"
                    ),
                ));
            }
        }
    }
    Ok(n)
}

/// Rhai keeps a line and a column in 16 bits each, so a position past this would be
/// reported as this; text is refused before it could be.
pub const MAX_POSITION: usize = u16::MAX as usize;

/// Checks that every position in `text` can be reported exactly: at most
/// [`MAX_POSITION`] lines, each at most [`MAX_POSITION`] characters. On failure, the
/// line, column (counted here, not by Rhai) and what is wrong.
pub fn check_positions(text: &str) -> Result<(), (usize, usize, String)> {
    for (i, line) in text.split('\n').enumerate() {
        if i >= MAX_POSITION {
            return Err((
                i + 1,
                1,
                format!(
                    "the file has more than {MAX_POSITION} lines\nhint: split it into patches and import them"
                ),
            ));
        }
        if line.len() > MAX_POSITION && line.chars().count() > MAX_POSITION {
            return Err((
                i + 1,
                MAX_POSITION + 1,
                format!(
                    "line {} is longer than {MAX_POSITION} characters\nhint: break it into shorter lines",
                    i + 1
                ),
            ));
        }
    }
    Ok(())
}
