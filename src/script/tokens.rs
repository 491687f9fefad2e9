//! A small reader of script text for hints (numbers, operators, brackets, with comments and
//! strings skipped), used where the parsed script is gone or was never made; control
//! thread only.

/// One token and where it starts (1-based line and column, in characters as Rhai counts).
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: Kind,
    pub text: String,
    pub line: usize,
    pub col: usize,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Int,
    Float,
    Word,
    /// One punctuation or operator character; `**` and `//` are not joined (a comment is
    /// skipped before it could be one).
    Punct,
    Str,
}

/// The tokens of `src`. Never fails: text it cannot read is skipped a character at a time.
pub fn tokens(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0, 1, 1);
    // Moves past `n` characters, keeping line and column.
    let advance = |i: &mut usize, line: &mut usize, col: &mut usize, n: usize| {
        for _ in 0..n {
            if *i >= chars.len() {
                return;
            }
            if chars[*i] == '\n' {
                *line += 1;
                *col = 1;
            } else {
                *col += 1;
            }
            *i += 1;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let (l0, c0, start) = (line, col, i);
        if c.is_whitespace() {
            advance(&mut i, &mut line, &mut col, 1);
            continue;
        }
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                advance(&mut i, &mut line, &mut col, 1);
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            // Rhai's block comments nest.
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    advance(&mut i, &mut line, &mut col, 2);
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    advance(&mut i, &mut line, &mut col, 2);
                    if depth == 0 {
                        break;
                    }
                } else {
                    advance(&mut i, &mut line, &mut col, 1);
                }
            }
            continue;
        }
        let kind = if c == '"' || c == '`' || c == '\'' {
            advance(&mut i, &mut line, &mut col, 1);
            while i < chars.len() && chars[i] != c {
                let n = if chars[i] == '\\' { 2 } else { 1 };
                advance(&mut i, &mut line, &mut col, n);
            }
            advance(&mut i, &mut line, &mut col, 1);
            Kind::Str
        } else if c.is_ascii_digit() {
            let mut float = false;
            let hex = c == '0' && matches!(next, Some('x' | 'o' | 'b'));
            if hex {
                advance(&mut i, &mut line, &mut col, 2);
            }
            while i < chars.len() {
                let d = chars[i];
                let after = chars.get(i + 1).copied();
                if d.is_ascii_alphanumeric() && (hex || d.is_ascii_digit()) || d == '_' {
                    advance(&mut i, &mut line, &mut col, 1);
                } else if !hex && d == '.' && after.is_some_and(|a| a.is_ascii_digit()) {
                    float = true;
                    advance(&mut i, &mut line, &mut col, 1);
                } else if !hex && (d == 'e' || d == 'E') {
                    float = true;
                    advance(&mut i, &mut line, &mut col, 1);
                    if matches!(chars.get(i), Some('+' | '-')) {
                        advance(&mut i, &mut line, &mut col, 1);
                    }
                } else {
                    break;
                }
            }
            if float { Kind::Float } else { Kind::Int }
        } else if c.is_alphanumeric() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                advance(&mut i, &mut line, &mut col, 1);
            }
            Kind::Word
        } else {
            advance(&mut i, &mut line, &mut col, 1);
            Kind::Punct
        };
        out.push(Token {
            kind,
            text: chars[start..i].iter().collect(),
            line: l0,
            col: c0,
        });
    }
    out
}

/// The value of an integer literal (`1_000`, `0x10`), if it fits.
pub fn int_value(text: &str) -> Option<i64> {
    let t = text.replace('_', "");
    let (digits, radix) = match t.get(..2) {
        Some("0x") => (&t[2..], 16),
        Some("0o") => (&t[2..], 8),
        Some("0b") => (&t[2..], 2),
        _ => (&t[..], 10),
    };
    i64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        tokens(src).into_iter().map(|t| (t.kind, t.text)).collect()
    }

    #[test]
    fn numbers_words_and_strings() {
        use Kind::*;
        assert_eq!(
            kinds("sine(1.5) * 1/4 // 3/4\n\"a/b\" 2e3 7.max(1)"),
            [
                (Word, "sine".into()),
                (Punct, "(".into()),
                (Float, "1.5".into()),
                (Punct, ")".into()),
                (Punct, "*".into()),
                (Int, "1".into()),
                (Punct, "/".into()),
                (Int, "4".into()),
                (Str, "\"a/b\"".into()),
                (Float, "2e3".into()),
                (Int, "7".into()),
                (Punct, ".".into()),
                (Word, "max".into()),
                (Punct, "(".into()),
                (Int, "1".into()),
                (Punct, ")".into()),
            ]
        );
    }

    #[test]
    fn positions_are_one_based_and_skip_comments() {
        let t = tokens("/* a /* nested */ b */ x\n  1/4");
        assert_eq!((t[0].text.as_str(), t[0].line, t[0].col), ("x", 1, 24));
        assert_eq!((t[2].text.as_str(), t[2].line, t[2].col), ("/", 2, 4));
        assert_eq!(int_value("1_000"), Some(1000));
        assert_eq!(int_value("0x10"), Some(16));
    }
}
