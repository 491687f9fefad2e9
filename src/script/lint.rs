//! Warnings read from a script's text: a literal integer division such as `1/4`, which
//! Rhai truncates (to 0 there) where a newcomer meant a fraction; control thread only.

use super::diag::Diagnostic;
use super::tokens::{Kind, Token, int_value, tokens};

/// A literal `a/b` of two integers whose quotient Rhai truncates.
#[derive(Clone, Debug, PartialEq)]
pub struct IntDivision {
    /// Where the `/` is.
    pub line: usize,
    pub col: usize,
    pub num: String,
    pub den: String,
    pub truncated: i64,
}

impl IntDivision {
    pub fn message(&self) -> String {
        format!(
            "`{}/{}` is integer division: it gives {}",
            self.num, self.den, self.truncated
        )
    }

    pub fn hint(&self) -> String {
        format!(
            "integer division gives {}; write {}.0/{} for a fraction",
            self.truncated, self.num, self.den
        )
    }

    pub fn warning(&self, file: &str) -> Diagnostic {
        Diagnostic::new(file, self.line, self.col, self.message()).with_hint(Some(self.hint()))
    }
}

/// Every literal integer division in `src` that loses a remainder. An operand bound first
/// to something else (`x * 1/4` is `(x * 1)/4`, `2/3**2` is `2/9`) is not a literal, so it
/// is left alone.
pub fn int_divisions(src: &str) -> Vec<IntDivision> {
    let t = tokens(src);
    let punct = |tok: Option<&Token>, set: &[&str]| {
        tok.is_some_and(|x| x.kind == Kind::Punct && set.contains(&x.text.as_str()))
    };
    let mut found = Vec::new();
    for i in 1..t.len().saturating_sub(1) {
        let (a, op, b) = (&t[i - 1], &t[i], &t[i + 1]);
        if op.text != "/" || a.kind != Kind::Int || b.kind != Kind::Int {
            continue;
        }
        // `/=` or `//` never reach here as one `/` between two numbers.
        let before = i.checked_sub(2).and_then(|j| t.get(j));
        let after = t.get(i + 2);
        let power = punct(after, &["*"]) && punct(t.get(i + 3), &["*"]);
        if punct(before, &["*", "/", "%", "."]) || punct(after, &["."]) || power {
            continue;
        }
        let (Some(n), Some(d)) = (int_value(&a.text), int_value(&b.text)) else {
            continue;
        };
        if d == 0 || n % d == 0 {
            continue;
        }
        found.push(IntDivision {
            line: op.line,
            col: op.col,
            num: a.text.clone(),
            den: b.text.clone(),
            truncated: n / d,
        });
    }
    found
}

/// Warnings for `src`, reported as `file`.
pub fn warnings(src: &str, file: &str) -> Vec<Diagnostic> {
    int_divisions(src).iter().map(|d| d.warning(file)).collect()
}

/// Adds the integer-division hint to an error on a line that divides integers: a value
/// that came out 0 (`metro(1/4)`) is most likely that division.
pub fn explain(mut d: Diagnostic, src: &str) -> Diagnostic {
    let Some(div) = int_divisions(src).into_iter().find(|x| x.line == d.line) else {
        return d;
    };
    let hint = format!(
        "integer division gives {} (`{}/{}` at {}:{}); write {}.0/{} for a fraction",
        div.truncated, div.num, div.den, div.line, div.col, div.num, div.den
    );
    match d.hint {
        None => d.hint = Some(hint),
        Some(_) => d.notes.push(hint),
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(src: &str) -> Vec<(usize, usize, i64)> {
        int_divisions(src)
            .iter()
            .map(|d| (d.line, d.col, d.truncated))
            .collect()
    }

    #[test]
    fn truncating_literal_divisions_are_found() {
        assert_eq!(found("sine(440) * (1/4)"), [(1, 15, 0)]);
        assert_eq!(found("metro(7 / 2)"), [(1, 9, 3)]);
        assert_eq!(found("let a = 1;\n  x(3/4)"), [(2, 6, 0)]);
        assert_eq!(found("1/4 * saw(55)"), [(1, 2, 0)]);
    }

    #[test]
    fn exact_float_and_non_literal_divisions_are_not() {
        for src in [
            "8/4",
            "1.0/4",
            "1/4.0",
            "x / 4",
            "saw(55) * 1/4",
            "2/3**2",
            "\"1/4\"",
            "// 1/4",
            "1/0",
            "a.b/4",
        ] {
            assert_eq!(found(src), [], "{src}");
        }
    }
}
