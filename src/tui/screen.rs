//! The live panel at the bottom of the terminal while playing: the scope, the monitor lines
//! and the status line, redrawn in place by the control thread (never the audio thread).
//!
//! Each frame is one write: the cursor moves up to the top of the panel drawn before and
//! every line is overwritten, so nothing flickers and nothing above the panel is touched
//! (no full-screen clear). The cursor is hidden while a panel is on screen. The size of the
//! terminal is read every frame, so a resize takes effect at the next frame. No line is
//! longer than the terminal is wide (a wrapped line would break the cursor arithmetic),
//! and the last one stays a character short of it, so the cursor never waits at the margin.

use super::monitors::{MonitorView, fit};
use super::scope::{self, ScopeRing};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The panel is redrawn at most this often while it shows the scope or monitors (30 fps).
pub const FRAME_EVERY: Duration = Duration::from_micros(33_334);
/// Scope rows below this are not worth drawing: the scope is left out.
const MIN_SCOPE_ROWS: usize = 2;

/// Columns and rows of the terminal on stderr: `ioctl(TIOCGWINSZ)`, else `COLUMNS` and
/// `LINES`, else 80×24.
pub fn terminal_size() -> (usize, usize) {
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ fills the `winsize` passed by pointer and touches nothing
        // else; on a descriptor that is not a terminal it fails and returns -1.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut ws) };
        if r == 0 && ws.ws_col > 0 && ws.ws_row > 0 {
            return (ws.ws_col as usize, ws.ws_row as usize);
        }
    }
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or(d)
    };
    (env("COLUMNS", 80), env("LINES", 24))
}

/// How the panel's height is shared on a terminal of `rows` rows: (scope rows, monitor
/// lines). The panel keeps one terminal row free, the status line takes one, monitors come
/// before the scope, and the scope is left out when fewer than two rows are left for it.
pub fn layout(rows: usize, scope_wanted: bool, monitors: usize) -> (usize, usize) {
    let room = rows.saturating_sub(2);
    let mons = monitors.min(room);
    let left = (room - mons).min(scope::ROWS);
    let scope_rows = if scope_wanted && left >= MIN_SCOPE_ROWS {
        left
    } else {
        0
    };
    (scope_rows, mons)
}

/// The bytes that replace a panel of `prev` lines (the cursor at the end of its last line)
/// by `lines` on a terminal `width` wide. `clear` erases the old panel first (after a
/// resize, when its lines may have been rewrapped). The lines must already fit.
pub fn compose(prev: usize, clear: bool, lines: &[String], width: usize, hide: bool) -> String {
    let mut s = String::new();
    if hide {
        s.push_str("\x1b[?25l");
    }
    s.push('\r');
    if prev > 1 {
        s.push_str(&format!("\x1b[{}A", prev - 1));
    }
    if clear {
        s.push_str("\x1b[J");
    }
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            s.push_str("\r\n");
        }
        s.push_str(line);
        if i + 1 == lines.len() {
            // The rest of the status line, and whatever a taller panel left below it.
            s.push_str("\x1b[J");
        } else if line.chars().count() < width {
            s.push_str("\x1b[K");
        }
    }
    s
}

/// The bytes that erase a panel of `prev` lines and leave the cursor where it began.
pub fn erase(prev: usize) -> String {
    let mut s = String::from("\r");
    if prev > 1 {
        s.push_str(&format!("\x1b[{}A", prev - 1));
    }
    s.push_str("\x1b[J\x1b[?25h");
    s
}

/// Draws the panel on stderr.
pub struct Screen {
    enabled: bool,
    /// Lines of the panel on screen now (0: none), and the width it was drawn for.
    drawn: usize,
    width: usize,
    scope: Option<Arc<ScopeRing>>,
    pub monitors: MonitorView,
    samples: Vec<f32>,
    sample_rate: u32,
    last: Option<Instant>,
}

impl Screen {
    /// `enabled`: stderr is a terminal. `scope`: the ring the audio callback fills.
    pub fn new(
        enabled: bool,
        sample_rate: u32,
        scope: Option<Arc<ScopeRing>>,
        monitors: MonitorView,
    ) -> Self {
        Screen {
            enabled,
            drawn: 0,
            width: 0,
            scope,
            monitors,
            samples: Vec::with_capacity(scope::RING_FRAMES),
            sample_rate,
            last: None,
        }
    }

    /// Whether frames come at the scope's rate rather than the status line's.
    pub fn animated(&self, show_scope: bool) -> bool {
        (show_scope && self.scope.is_some()) || !self.monitors.is_empty()
    }

    /// The lines of one frame for a terminal of `cols` × `rows`, the status line last.
    pub fn frame(
        &mut self,
        status: &str,
        show_scope: bool,
        cols: usize,
        rows: usize,
    ) -> Vec<String> {
        let now = Instant::now();
        let dt = self
            .last
            .map_or(0.0, |t| now.duration_since(t).as_secs_f32());
        self.last = Some(now);
        let monitors = self.monitors.lines(cols, self.sample_rate as f32, dt);
        let wants_scope = show_scope && self.scope.is_some();
        let (scope_rows, mons) = layout(rows, wants_scope, monitors.len());
        let mut lines = Vec::with_capacity(scope_rows + mons + 1);
        if let Some(ring) = self.scope.as_ref().filter(|_| scope_rows > 0) {
            // About 21 ms across the width, whatever the rate: two cycles of 100 Hz.
            let window = (self.sample_rate as usize / 48).max(16);
            ring.latest(window * 2, &mut self.samples);
            lines.extend(scope::draw(
                scope::triggered(&self.samples, window),
                cols,
                scope_rows,
            ));
        }
        lines.extend(monitors.into_iter().take(mons));
        lines.push(fit(status, cols.saturating_sub(1)));
        lines
    }

    /// Draws one frame in place of the last.
    pub fn draw(&mut self, status: &str, show_scope: bool) {
        if !self.enabled {
            return;
        }
        let (cols, rows) = terminal_size();
        let lines = self.frame(status, show_scope, cols, rows);
        let resized = self.drawn > 0 && cols != self.width;
        let bytes = compose(self.drawn, resized, &lines, cols, self.drawn == 0);
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(bytes.as_bytes());
        let _ = err.flush();
        self.drawn = lines.len();
        self.width = cols;
    }

    /// Erases the panel (for log lines, and at the end) and shows the cursor again.
    pub fn clear(&mut self) {
        if self.enabled && self.drawn > 0 {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(erase(self.drawn).as_bytes());
            let _ = err.flush();
            self.drawn = 0;
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        // A panic unwinding through playback must not leave the cursor hidden.
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::monitor::{MonitorInfo, MonitorTable, Shows};

    #[test]
    fn the_panel_shares_the_rows() {
        // 20 rows: 8 of scope, the monitors, the status line, a row to spare.
        assert_eq!(layout(20, true, 1), (8, 1));
        assert_eq!(layout(20, false, 1), (0, 1));
        assert_eq!(layout(12, true, 3), (7, 3));
        // Too short for the scope: monitors only, as many as fit.
        assert_eq!(layout(6, true, 3), (0, 3));
        assert_eq!(layout(4, true, 5), (0, 2));
        assert_eq!(layout(1, true, 5), (0, 0));
        assert_eq!(layout(0, true, 0), (0, 0));
    }

    #[test]
    fn a_frame_overwrites_the_last_in_place() {
        let lines: Vec<String> = ["⣿⣿⣿", "lfo  ▕█", "0:01.0"].map(String::from).into();
        // First frame: hide the cursor, draw from here.
        let first = compose(0, false, &lines, 7, true);
        // A line short of the width clears the rest of its row; a full one needs not.
        assert_eq!(first, "\x1b[?25l\r⣿⣿⣿\x1b[K\r\nlfo  ▕█\r\n0:01.0\x1b[J");
        // Next frames: up to the top of the 3 lines drawn, overwrite, clear what is left.
        let next = compose(3, false, &lines, 7, false);
        assert!(next.starts_with("\r\x1b[2A⣿⣿⣿\x1b[K\r\n"), "{next:?}");
        assert!(!next.contains("\x1b[2J"), "no full-screen clear");
        // After a resize the old panel is erased first.
        assert!(compose(3, true, &lines, 80, false).starts_with("\r\x1b[2A\x1b[J"));
        // A single status line is the old `\r…` line.
        assert_eq!(compose(1, false, &lines[2..], 80, false), "\r0:01.0\x1b[J");
        assert_eq!(erase(3), "\r\x1b[2A\x1b[J\x1b[?25h");
        assert_eq!(erase(1), "\r\x1b[J\x1b[?25h");
    }

    #[test]
    fn frames_fit_the_terminal_as_it_is_resized() {
        let table = Arc::new(MonitorTable::new(vec![MonitorInfo {
            name: "lfo".into(),
            shows: Shows::Signal,
        }]));
        table.mark_live();
        let ring = Arc::new(ScopeRing::new());
        let tone: Vec<f32> = (0..4000)
            .flat_map(|i| {
                let v = 1.3 * (i as f32 * 0.05).sin();
                [v, v]
            })
            .collect();
        ring.push(&tone);
        let mut screen = Screen::new(false, 48000, Some(ring), MonitorView::new(table));
        let status = "0:01.2 / 0:04.0  cpu   3%  L ▆▆▆▆▆▆▆▆! R ▆▆▆▆▆▆▆▆!  xruns 0  ✓ reloaded";
        for (cols, rows) in [(80, 24), (60, 20), (20, 8), (5, 5), (200, 50), (1, 3)] {
            let lines = screen.frame(status, true, cols, rows);
            let (scope_rows, mons) = layout(rows, true, 1);
            assert_eq!(lines.len(), scope_rows + mons + 1, "{cols}x{rows}");
            assert!(lines.len() < rows.max(2), "{cols}x{rows}: {}", lines.len());
            for (i, l) in lines.iter().enumerate() {
                let n = l.chars().count();
                assert!(n <= cols, "{cols}x{rows} line {i}: {n} chars: {l:?}");
                if i < scope_rows {
                    assert_eq!(n, cols, "scope rows span the width");
                }
            }
            assert!(lines.last().unwrap().chars().count() < cols.max(1));
            if scope_rows > 0 {
                // The tone peaks at 1.3: marked at the top and bottom.
                assert!(lines[0].contains('!') && lines[scope_rows - 1].contains('!'));
            }
        }
        // The scope can be turned off while playing.
        let lines = screen.frame(status, false, 80, 24);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("lfo"));
    }
}
