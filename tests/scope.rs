//! The scope and the monitor lines as a user sees them: the real binary plays through the
//! PulseAudio server of `.ci/with-audio` inside a pseudo-terminal of 60×20 (util-linux's
//! `script`), and what it wrote is replayed through a small terminal emulator. The same
//! command with stderr piped must draw none of it.
//!
//! Run with `.ci/with-audio cargo test --release --test scope`; without a server the tests
//! are skipped, unless `WAVES_REQUIRE_AUDIO` is set, when they fail.

mod common;
use common::{TempDir, audio_or_skip};

use std::process::{Command, Stdio};

const COLS: usize = 60;
const ROWS: usize = 20;

const SCRIPT: &str = "let lfo = sine(2).monitor(\"lfo\");\nsaw(110 + lfo * 20) * 0.3\n";

/// Just enough of a VT100 to replay what waves writes: printable characters with automatic
/// wrap at the margin, CR, LF (scrolling at the bottom), cursor up, erase in line, erase
/// below, and the cursor's visibility. It counts every line that wrapped while a panel was
/// on screen (cursor hidden) and keeps a copy of the screen after each erase below (the
/// end of every frame).
struct Term {
    grid: Vec<Vec<char>>,
    x: usize,
    y: usize,
    wrap_pending: bool,
    cursor_hidden: bool,
    wraps_in_panel: usize,
    snapshots: Vec<Vec<String>>,
}

impl Term {
    fn new() -> Self {
        Term {
            grid: vec![vec![' '; COLS]; ROWS],
            x: 0,
            y: 0,
            wrap_pending: false,
            cursor_hidden: false,
            wraps_in_panel: 0,
            snapshots: Vec::new(),
        }
    }

    fn line_feed(&mut self) {
        if self.y + 1 == ROWS {
            self.grid.remove(0);
            self.grid.push(vec![' '; COLS]);
        } else {
            self.y += 1;
        }
    }

    fn print(&mut self, c: char) {
        if self.wrap_pending {
            if self.cursor_hidden {
                self.wraps_in_panel += 1;
            }
            self.x = 0;
            self.line_feed();
            self.wrap_pending = false;
        }
        self.grid[self.y][self.x] = c;
        if self.x + 1 == COLS {
            self.wrap_pending = true;
        } else {
            self.x += 1;
        }
    }

    fn csi(&mut self, params: &str, fin: char) {
        let n = params.trim_start_matches('?').parse::<usize>().unwrap_or(1);
        match (fin, params) {
            ('A', _) => {
                self.y = self.y.saturating_sub(n.max(1));
                self.wrap_pending = false;
            }
            ('K', _) => {
                for c in self.x..COLS {
                    self.grid[self.y][c] = ' ';
                }
            }
            ('J', _) => {
                for c in self.x..COLS {
                    self.grid[self.y][c] = ' ';
                }
                for r in self.y + 1..ROWS {
                    self.grid[r] = vec![' '; COLS];
                }
                self.snapshots.push(self.screen());
            }
            ('l', "?25") => self.cursor_hidden = true,
            ('h', "?25") => self.cursor_hidden = false,
            _ => {}
        }
    }

    fn feed(&mut self, text: &str) {
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\x1b' => {
                    if chars.peek() == Some(&'[') {
                        chars.next();
                        let mut params = String::new();
                        for p in chars.by_ref() {
                            if p.is_ascii_alphabetic() {
                                self.csi(&params, p);
                                break;
                            }
                            params.push(p);
                        }
                    }
                }
                '\r' => {
                    self.x = 0;
                    self.wrap_pending = false;
                }
                '\n' => {
                    self.line_feed();
                    self.wrap_pending = false;
                }
                c if c.is_control() => {}
                c => self.print(c),
            }
        }
    }

    fn screen(&self) -> Vec<String> {
        self.grid
            .iter()
            .map(|r| r.iter().collect::<String>().trim_end().to_string())
            .collect()
    }
}

fn is_braille(c: char) -> bool {
    ('\u{2800}'..='\u{28ff}').contains(&c)
}

/// A row of the scope: only braille cells, `!` markers and spaces (a row the trace does
/// not reach is blank).
fn scope_row(row: &str) -> bool {
    row.chars().all(|c| is_braille(c) || c == '!' || c == ' ')
}

/// The monitor line: `lfo`, a bar, and a signed number.
fn monitor_line(row: &str) -> bool {
    let Some(rest) = row.strip_prefix("lfo  ") else {
        return false;
    };
    let number = rest.split_whitespace().last().unwrap_or("");
    rest.contains('│')
        && (number.starts_with('+') || number.starts_with('-'))
        && number[1..].parse::<f32>().is_ok_and(|v| v.abs() <= 1.0)
}

fn work(test: &str) -> TempDir {
    let dir = TempDir::new("scope", test);
    dir.write("lfo.rhai", SCRIPT);
    dir
}

#[test]
fn a_terminal_shows_the_scope_and_the_monitor_within_its_width() {
    if !audio_or_skip() {
        return;
    }
    let dir = work("pty");
    let cmd = format!(
        "stty cols {COLS} rows {ROWS} && exec '{}' lfo.rhai --scope --duration 1",
        env!("CARGO_BIN_EXE_waves")
    );
    let out = Command::new("timeout")
        .args(["60", "script", "-qec", &cmd, "/dev/null"])
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .output()
        .expect("run script(1) from util-linux");
    let text = String::from_utf8_lossy(&out.stdout);
    let shown = || {
        format!(
            "{text:?}\n--- stderr of script:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    };
    assert!(out.status.success(), "exit {}\n{}", out.status, shown());
    assert!(text.contains("Played "), "{}", shown());

    let mut term = Term::new();
    term.feed(&text);
    assert_eq!(
        term.wraps_in_panel,
        0,
        "a line of the panel was wider than the terminal\n{}",
        shown()
    );
    assert!(!term.cursor_hidden, "the cursor was left hidden");
    // A whole frame: 8 scope rows, then the monitor line, then the status line, on one
    // screen.
    let framed = term.snapshots.iter().find(|screen| {
        screen.windows(10).any(|w| {
            w[..8].iter().all(|r| scope_row(r))
                && w[..8].iter().filter(|r| r.chars().any(is_braille)).count() >= 2
                && monitor_line(&w[8])
                && w[9].contains("cpu")
        })
    });
    assert!(
        framed.is_some(),
        "no frame with 8 scope rows, the monitor line and the status line among {} frames; the last:\n{}",
        term.snapshots.len(),
        term.snapshots
            .iter()
            .rev()
            .find(|s| s.iter().any(|r| r.contains("cpu")))
            .map(|s| s.join("\n"))
            .unwrap_or_default()
    );
    // Frames keep coming while it plays (30 a second at most, 2 s with the tail).
    let frames = term
        .snapshots
        .iter()
        .filter(|s| s.iter().any(|r| monitor_line(r)))
        .count();
    assert!(
        (10..=75).contains(&frames),
        "{frames} frames drawn in 2 seconds"
    );
    // The panel is gone at the end: the screen ends with the report, not the panel.
    let last = term.screen();
    assert!(
        !last
            .iter()
            .any(|r| r.chars().any(is_braille) || r.starts_with("lfo")),
        "{last:#?}"
    );
}

#[test]
fn piped_stderr_gets_no_scope_and_no_monitor_lines() {
    if !audio_or_skip() {
        return;
    }
    let dir = work("piped");
    let out = Command::new(env!("CARGO_BIN_EXE_waves"))
        .args(["lfo.rhai", "--scope", "--duration", "1"])
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .output()
        .expect("run waves");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Played "), "{stdout}\n{stderr}");
    for (name, s) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(!s.chars().any(is_braille), "scope on {name}: {s:?}");
        assert!(!s.contains('\x1b'), "escape sequences on {name}: {s:?}");
        assert!(
            !s.lines().any(|l| l.starts_with("lfo")),
            "monitor on {name}: {s:?}"
        );
    }
}
