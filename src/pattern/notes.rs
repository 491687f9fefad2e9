//! Note names to MIDI note numbers: the one parser behind pattern steps and `note()`;
//! control thread (scripts and patterns are compiled there).
//!
//! A name is a letter a–g, any number of sharps (`#` or `s`) and flats (`b` or `f`), then
//! an octave -1..9, 3 when left out; case and surrounding whitespace do not matter, and
//! c4 = 60. So `c#3`, `cs3`,
//! `db4`, `eb4`, `ef4`, `Bb`, `FS3`, `c-1` and `g9` are all notes.

use std::fmt;

/// What a note name may look like, for error messages.
pub const SPELLINGS: &str = "a letter a-g, then any sharps (# or s) or flats (b or f), then an \
     octave -1..9 (3 if left out), in any case: c4, c#3, cs3, db4, eb4, ef4, Bb, c-1";

/// Why a text is not a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteError {
    /// Not of the form letter, accidentals, octave.
    NotANote,
    /// The octave (as written) is outside -1..9.
    Octave(String),
    /// A well-formed name whose note lies outside MIDI's 0..127 (`g#9`, `cb-1`).
    Range(i64),
}

impl fmt::Display for NoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoteError::NotANote => write!(f, "not a note name; write {SPELLINGS}"),
            NoteError::Octave(o) => write!(f, "octave {o} is out of range; octaves are -1..9"),
            NoteError::Range(m) => write!(f, "MIDI note {m}, outside 0..127"),
        }
    }
}

/// The MIDI note number (0..=127) of a note name such as `c#3`, `eb4` or `ef4`.
/// Whitespace around the name is ignored.
pub fn parse(name: &str) -> Result<u8, NoteError> {
    let mut chars = name.trim().chars();
    let class: i64 = match chars.next().map(|c| c.to_ascii_lowercase()) {
        Some('c') => 0,
        Some('d') => 2,
        Some('e') => 4,
        Some('f') => 5,
        Some('g') => 7,
        Some('a') => 9,
        Some('b') => 11,
        _ => return Err(NoteError::NotANote),
    };
    let rest = chars.as_str();
    let split = rest
        .find(|c: char| !matches!(c.to_ascii_lowercase(), '#' | 's' | 'b' | 'f'))
        .unwrap_or(rest.len());
    let (accidentals, octave) = rest.split_at(split);
    let shift: i64 = accidentals
        .chars()
        .map(|c| if matches!(c, '#' | 's' | 'S') { 1 } else { -1 })
        .sum();
    let octave = match octave {
        "" => 3,
        o => {
            let digits = o.strip_prefix(['-', '+']).unwrap_or(o);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(NoteError::NotANote);
            }
            match o.parse::<i64>() {
                Ok(n) if (-1..=9).contains(&n) => n,
                _ => return Err(NoteError::Octave(o.to_string())),
            }
        }
    };
    let midi = (octave + 1) * 12 + class + shift;
    u8::try_from(midi)
        .ok()
        .filter(|m| *m <= 127)
        .ok_or(NoteError::Range(midi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling() {
        for (name, midi) in [
            ("c4", 60),
            ("a4", 69),
            ("c3", 48),
            ("c#3", 49),
            ("cs3", 49),
            ("db4", 61),
            ("df4", 61),
            ("eb4", 63),
            ("ef4", 63),
            ("es4", 65),
            ("fs3", 54),
            ("bf3", 58),
            ("bb4", 70),
            ("b4", 71),
            ("b#3", 60),
            ("cb4", 59),
            ("c##4", 62),
            ("dbb4", 60),
            ("C4", 60),
            ("Eb4", 63),
            ("EB4", 63),
            ("FS3", 54),
            ("Cs3", 49),
            ("BF3", 58),
            ("c-1", 0),
            ("g9", 127),
            ("c+4", 60),
            ("c04", 60),
        ] {
            assert_eq!(parse(name), Ok(midi), "{name}");
        }
    }

    #[test]
    fn octave_three_when_left_out() {
        assert_eq!(parse("c"), Ok(48));
        assert_eq!(parse("bb"), Ok(58));
        assert_eq!(parse("F#"), Ok(54));
        assert_eq!(parse("c#"), Ok(49));
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        assert_eq!(parse(" c4"), Ok(60));
        assert_eq!(parse("eb4\n"), Ok(63));
    }

    #[test]
    fn bad_names() {
        for name in [
            "", " ", "h4", "x", "4", "c4.5", "c3e3", "c 4", "cx4", "c4#", "c-", "c+",
        ] {
            assert_eq!(parse(name), Err(NoteError::NotANote), "{name:?}");
        }
        assert_eq!(parse("c10"), Err(NoteError::Octave("10".into())));
        assert_eq!(parse("c-2"), Err(NoteError::Octave("-2".into())));
        assert_eq!(
            parse("c99999999999999999999"),
            Err(NoteError::Octave("99999999999999999999".into()))
        );
        assert_eq!(parse("g#9"), Err(NoteError::Range(128)));
        assert_eq!(parse("cb-1"), Err(NoteError::Range(-1)));
        assert_eq!(parse("é4"), Err(NoteError::NotANote));
    }

    #[test]
    fn the_error_lists_the_spellings() {
        let text = NoteError::NotANote.to_string();
        for s in [
            "a-g",
            "# or s",
            "b or f",
            "-1..9",
            "3 if left out",
            "any case",
            "ef4",
        ] {
            assert!(text.contains(s), "{text} lacks {s}");
        }
    }
}
