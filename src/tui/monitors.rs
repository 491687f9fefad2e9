//! Monitor lines on the terminal: reads the monitor table of the graph that is playing and
//! formats one line per monitor (name, a bar, a number; a pattern's step); control thread.
//!
//! A hot reload builds a new graph with a new table. The control thread is handed each new
//! table when its graph is sent, and switches to it once the audio thread has rendered a
//! block of that graph, so the lines change when the edit is heard. What each line has
//! learnt about its signal (sound or control, its range) carries over by name.

use crate::dsp::monitor::{MonitorTable, Reading, Shows};
use std::sync::Arc;

/// Sign changes per second above which a signal is sound rather than control: 20 Hz,
/// judged over a quarter of a second, or sooner once this many changes were seen.
const AUDIO_CROSSINGS_PER_SEC: f32 = 40.0;
const JUDGE_SECS: f32 = 0.25;
const JUDGE_CROSSINGS: u32 = 8;
/// The level meter's floor and its fall after a peak.
const METER_FLOOR_DB: f32 = -60.0;
const FALL_DB_PER_SEC: f32 = 24.0;
/// Width of the number at the end of a line.
const NUMBER: usize = 9;
/// Most cells a step display takes; longer patterns share cells.
const MAX_STEP_CELLS: usize = 16;

/// What one line has learnt about its signal.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineState {
    /// It swings fast enough to be sound: shown as a level meter in dB.
    pub audio: bool,
    /// It went below zero: shown as a bar around a centre.
    pub bipolar: bool,
    /// The meter's level: the peak, falling slowly.
    pub level: f32,
    /// Largest magnitude seen: the bar's full scale for a control signal.
    pub top: f32,
    /// The current value.
    pub value: f32,
    /// (step, steps per cycle) of a pattern.
    pub step: Option<(u32, u32)>,
    /// Sign changes and seconds gathered towards the next judgement of `audio`.
    swing: (u32, f32),
}

impl LineState {
    /// Takes in what the audio thread measured over the last `dt` seconds.
    pub fn update(&mut self, r: &Reading, sample_rate: f32, dt: f32) {
        if r.frames == 0 {
            return;
        }
        // Once sound, always sound: a drum's line stays a meter between its hits.
        self.swing.0 = self.swing.0.saturating_add(r.crossings);
        self.swing.1 += r.frames as f32 / sample_rate;
        if self.swing.1 >= JUDGE_SECS || self.swing.0 >= JUDGE_CROSSINGS {
            self.audio |= self.swing.0 as f32 / self.swing.1 > AUDIO_CROSSINGS_PER_SEC;
            self.swing = (0, 0.0);
        }
        if let Some((lo, hi)) = r.range {
            if lo < 0.0 {
                self.bipolar = true;
            }
            self.top = self.top.max(lo.abs()).max(hi.abs());
        }
        let fall = 10f32.powf(-FALL_DB_PER_SEC * dt.max(0.0) / 20.0);
        self.level = r.peak.max(self.level * fall);
        self.value = r.last;
        if r.step.is_some() {
            self.step = r.step;
        }
    }
}

/// A number in `NUMBER` characters, with the precision its size allows.
pub fn number(v: f32, signed: bool) -> String {
    let text = if !v.is_finite() {
        format!("{v}")
    } else {
        let a = v.abs();
        let digits = if a >= 10_000.0 {
            0
        } else if a >= 100.0 {
            1
        } else if a >= 10.0 {
            2
        } else {
            3
        };
        if signed {
            format!("{v:+.digits$}")
        } else {
            format!("{v:.digits$}")
        }
    };
    format!("{text:>NUMBER$}")
}

fn decibels(level: f32) -> String {
    let db = 20.0 * level.log10();
    let text = if db > -120.0 {
        format!("{db:.1} dB")
    } else {
        "-inf dB".to_string()
    };
    format!("{text:>NUMBER$}")
}

/// The next "round" full scale at or above `top`: 1, 2 or 5 times a power of ten.
fn full_scale(top: f32) -> f32 {
    if !(top.is_finite() && top > 0.0) {
        return 1.0;
    }
    let p = 10f32.powf(top.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= top * 0.999)
        .unwrap_or(10.0 * p)
}

/// A bar filled from the left to `frac` of `width` cells, in eighths of a cell.
pub fn bar(frac: f32, width: usize) -> String {
    const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = (frac.clamp(0.0, 1.0) * (width * 8) as f32).round() as usize;
    (0..width)
        .map(|c| {
            let filled = eighths.saturating_sub(c * 8);
            if filled >= 8 { '█' } else { EIGHTHS[filled] }
        })
        .collect()
}

/// A bar around a centre mark, filled right for positive `frac` (−1..1), left for negative,
/// in half cells; `width` cells in all.
pub fn bipolar_bar(frac: f32, width: usize) -> String {
    if width == 0 {
        return String::new();
    }
    let side = (width - 1) / 2;
    let halves = (frac.clamp(-1.0, 1.0).abs() * (side * 2) as f32).round() as usize;
    let cell = |k: usize, right: bool| {
        // k = 0 is the cell next to the centre.
        let filled = halves.saturating_sub(k * 2);
        match (filled, right) {
            (0, _) => ' ',
            (1, true) => '▌',
            (1, false) => '▐',
            _ => '█',
        }
    };
    let mut s = String::with_capacity(width * 3);
    for k in (0..side).rev() {
        s.push(if frac < 0.0 { cell(k, false) } else { ' ' });
    }
    s.push('│');
    for k in 0..side {
        s.push(if frac > 0.0 { cell(k, true) } else { ' ' });
    }
    // An even width has one spare cell on the right.
    while s.chars().count() < width {
        s.push(' ');
    }
    s
}

/// `▮▯▯▯ step 1/4`: one cell per step (shared when there are more than 16).
pub fn steps(step: u32, count: u32) -> String {
    let n = count.max(1) as usize;
    let cells = n.min(MAX_STEP_CELLS);
    let at = (step as usize).min(n - 1) * cells / n;
    let mut s: String = (0..cells)
        .map(|c| if c == at { '▮' } else { '▯' })
        .collect();
    s.push_str(&format!(" step {}/{}", step.min(n as u32 - 1) + 1, n));
    s
}

/// Cuts `s` to at most `width` characters.
pub fn fit(s: &str, width: usize) -> String {
    s.chars().take(width).collect()
}

/// Characters `steps(_, count)` takes at most, whatever the step.
pub fn steps_width(count: u32) -> usize {
    let n = count.max(1);
    MAX_STEP_CELLS.min(n as usize) + " step /".len() + 2 * n.to_string().len()
}

/// How the lines of one table line up: the names' width, and the room kept after the
/// number for the step of the lines that show one, so every bar starts and ends in the
/// same column.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Columns {
    pub name: usize,
    pub tail: usize,
}

/// One monitor's line, at most `width` characters: its name, then a bar and a number sized
/// to what is left, then the pattern's step for a line that shows one (a pattern alone
/// shows its step where the bar would be).
pub fn format_line(
    name: &str,
    cols: Columns,
    shows: Shows,
    st: &LineState,
    width: usize,
) -> String {
    let mut line = format!("{name:<w$}  ", w = cols.name);
    let (k, n) = st.step.unwrap_or((0, 1));
    if shows == Shows::Pattern {
        line.push_str(&steps(k, n));
        return fit(line.trim_end(), width);
    }
    let used = line.chars().count();
    let bar_width = width.saturating_sub(used + 1 + NUMBER + cols.tail).min(40);
    let (bar_text, num) = if st.audio {
        let db = 20.0 * st.level.max(1e-12).log10();
        let mut b = bar((db - METER_FLOOR_DB) / -METER_FLOOR_DB, bar_width);
        if st.level > 1.0 && bar_width > 0 {
            b.pop();
            b.push('!');
        }
        (b, decibels(st.level))
    } else if st.bipolar {
        let fs = full_scale(st.top);
        (
            bipolar_bar(st.value / fs, bar_width),
            number(st.value, true),
        )
    } else {
        let fs = full_scale(st.top);
        (bar(st.value / fs, bar_width), number(st.value, false))
    };
    if bar_width >= 4 {
        line.push_str(&format!("{bar_text} {num}"));
    } else {
        line.push_str(num.trim_start());
    }
    if shows == Shows::PatternAndSignal {
        line.push_str("  ");
        line.push_str(&steps(k, n));
    }
    fit(line.trim_end(), width)
}

/// The monitor lines of the playing graph, across hot reloads.
#[derive(Default)]
pub struct MonitorView {
    current: Option<Arc<MonitorTable>>,
    states: Vec<LineState>,
    /// Tables of graphs sent to the audio thread, newest last, not yet heard.
    pending: Vec<Arc<MonitorTable>>,
}

impl MonitorView {
    pub fn new(playing: Arc<MonitorTable>) -> Self {
        MonitorView {
            states: vec![LineState::default(); playing.len()],
            current: Some(playing),
            pending: Vec::new(),
        }
    }

    /// A graph with this table was sent to the audio thread.
    pub fn offer(&mut self, table: Arc<MonitorTable>) {
        // Tables already heard are taken now, so nothing piles up when no one draws.
        self.follow();
        self.pending.push(table);
    }

    /// Switches to the newest sent table whose graph is playing; older ones are dropped.
    fn follow(&mut self) {
        let Some(k) = self.pending.iter().rposition(|t| t.is_live()) else {
            return;
        };
        let table = self.pending.remove(k);
        self.pending.drain(..k);
        let old = self.current.take();
        self.states = table
            .info
            .iter()
            .map(|m| {
                old.as_ref()
                    .and_then(|o| o.info.iter().position(|x| x.name == m.name))
                    .and_then(|i| self.states.get(i).cloned())
                    .unwrap_or_default()
            })
            .collect();
        self.current = Some(table);
    }

    /// Names of the monitors shown now.
    pub fn names(&self) -> Vec<&str> {
        self.current
            .as_ref()
            .map(|t| t.info.iter().map(|m| m.name.as_str()).collect())
            .unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.current.as_ref().is_none_or(|t| t.is_empty())
    }

    /// Reads every monitor (resetting its figures) and formats its line, `dt` seconds after
    /// the last call.
    pub fn lines(&mut self, width: usize, sample_rate: f32, dt: f32) -> Vec<String> {
        self.follow();
        let Some(table) = self.current.as_ref() else {
            return Vec::new();
        };
        for (i, st) in self.states.iter_mut().enumerate() {
            st.update(&table.take(i), sample_rate, dt);
        }
        let cols = Columns {
            name: table.info.iter().map(|m| m.name.len()).max().unwrap_or(0),
            tail: table
                .info
                .iter()
                .zip(&self.states)
                .filter(|(m, _)| m.shows == Shows::PatternAndSignal)
                .map(|(_, st)| 2 + steps_width(st.step.map_or(1, |s| s.1)))
                .max()
                .unwrap_or(0),
        };
        table
            .info
            .iter()
            .zip(&self.states)
            .map(|(m, st)| format_line(&m.name, cols, m.shows, st, width))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::monitor::MonitorInfo;
    use crate::dsp::{BLOCK, In};

    fn width(s: &str) -> usize {
        s.chars().count()
    }

    fn c(name: usize) -> Columns {
        Columns { name, tail: 0 }
    }

    fn audio(level: f32) -> LineState {
        LineState {
            audio: true,
            level,
            ..Default::default()
        }
    }

    #[test]
    fn numbers_keep_their_width_and_enough_digits() {
        assert_eq!(number(0.5, false), "    0.500");
        assert_eq!(number(-0.42, true), "   -0.420");
        assert_eq!(number(0.42, true), "   +0.420");
        assert_eq!(number(440.0, false), "    440.0");
        assert_eq!(number(12.345, false), "    12.35");
        assert_eq!(number(123_456.0, false), "   123456");
        assert_eq!(number(f32::NAN, false), "      NaN");
        assert_eq!(decibels(1.0), "   0.0 dB");
        assert_eq!(decibels(0.5), "  -6.0 dB");
        assert_eq!(decibels(0.0), "  -inf dB");
    }

    #[test]
    fn bars_fill_in_eighths_and_halves() {
        assert_eq!(bar(0.0, 4), "    ");
        assert_eq!(bar(1.0, 4), "████");
        assert_eq!(bar(0.5, 4), "██  ");
        assert_eq!(bar(20.0 / 32.0, 4), "██▌ ");
        assert_eq!(bar(-1.0, 3), "   ");
        assert_eq!(bipolar_bar(0.0, 7), "   │   ");
        assert_eq!(bipolar_bar(1.0, 7), "   │███");
        assert_eq!(bipolar_bar(-0.5, 7), " ▐█│   ");
        assert_eq!(bipolar_bar(0.5, 8), "   │█▌  ");
        assert_eq!(width(&bipolar_bar(0.3, 8)), 8);
        assert_eq!(full_scale(0.42), 0.5);
        assert_eq!(full_scale(1.0), 1.0);
        assert_eq!(full_scale(1500.0), 2000.0);
        assert_eq!(full_scale(0.0), 1.0);
    }

    #[test]
    fn a_pattern_shows_its_step() {
        assert_eq!(steps(0, 4), "▮▯▯▯ step 1/4");
        assert_eq!(steps(3, 4), "▯▯▯▮ step 4/4");
        // 32 steps share 16 cells.
        assert_eq!(steps(31, 32), "▯▯▯▯▯▯▯▯▯▯▯▯▯▯▯▮ step 32/32");
        let st = LineState {
            step: Some((0, 4)),
            ..Default::default()
        };
        assert_eq!(
            format_line("beat", c(4), Shows::Pattern, &st, 60),
            "beat  ▮▯▯▯ step 1/4"
        );
    }

    #[test]
    fn each_kind_of_signal_has_its_line() {
        let lvl = format_line("out", c(5), Shows::Signal, &audio(0.5), 40);
        assert_eq!(lvl, "out    ████████████████████▊     -6.0 dB");
        let over = format_line("out", c(3), Shows::Signal, &audio(2.0), 30);
        assert!(over.contains('!') && over.ends_with("6.0 dB"), "{over}");
        let lfo = LineState {
            bipolar: true,
            top: 1.0,
            value: -0.5,
            ..Default::default()
        };
        assert_eq!(
            format_line("lfo", c(3), Shows::Signal, &lfo, 33),
            "lfo      ████│             -0.500"
        );
        let cut = LineState {
            top: 1800.0,
            value: 1000.0,
            ..Default::default()
        };
        assert_eq!(
            format_line("cut", c(3), Shows::Signal, &cut, 36),
            "cut  ██████████▌              1000.0"
        );
        let drums = LineState {
            audio: true,
            level: 1.0,
            step: Some((2, 8)),
            ..Default::default()
        };
        let cols = Columns {
            name: 5,
            tail: 2 + steps_width(8),
        };
        let line = format_line("drums", cols, Shows::PatternAndSignal, &drums, 60);
        assert!(line.starts_with("drums  ████"), "{line}");
        assert!(line.ends_with("█    0.0 dB  ▯▯▮▯▯▯▯▯ step 3/8"), "{line}");
        assert_eq!(width(&line), 60);
        // Its bar ends where a plain line's bar ends.
        let plain = format_line("out", cols, Shows::Signal, &audio(1.0), 60);
        assert_eq!(width(&plain), 60 - cols.tail);
    }

    #[test]
    fn no_line_is_wider_than_the_terminal() {
        let states = [
            audio(0.3),
            audio(3.0),
            LineState {
                bipolar: true,
                top: 3.0,
                value: 2.5,
                step: Some((30, 64)),
                ..Default::default()
            },
            LineState {
                top: 1e9,
                value: -1e9,
                ..Default::default()
            },
        ];
        let shows = [Shows::Signal, Shows::Pattern, Shows::PatternAndSignal];
        for w in 0..120 {
            for st in &states {
                for s in shows {
                    let cols = Columns {
                        name: 24,
                        tail: 2 + steps_width(64),
                    };
                    let line = format_line("a long monitor name", cols, s, st, w);
                    assert!(width(&line) <= w, "{w}: {line:?}");
                }
            }
        }
    }

    fn table(names: &[&str]) -> Arc<MonitorTable> {
        Arc::new(MonitorTable::new(
            names
                .iter()
                .map(|n| MonitorInfo {
                    name: n.to_string(),
                    shows: Shows::Signal,
                })
                .collect(),
        ))
    }

    fn feed(t: &MonitorTable, i: usize, value: f32) {
        let data = [value; BLOCK];
        t.measure(i, &[In::signal(&data, 1)], &mut 0.0);
    }

    #[test]
    fn a_reload_switches_lines_when_the_new_graph_plays() {
        let first = table(&["lfo", "bass"]);
        first.mark_live();
        let mut view = MonitorView::new(first.clone());
        feed(&first, 0, -0.5);
        let lines = view.lines(50, 48000.0, 0.03);
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("lfo ") && lines[0].ends_with("-0.500"),
            "{lines:?}"
        );
        assert!(view.states[0].bipolar);

        // Sent but not yet heard: the old lines stay.
        let second = table(&["kick", "lfo"]);
        view.offer(second.clone());
        feed(&first, 0, 0.25);
        let lines = view.lines(50, 48000.0, 0.03);
        assert_eq!(view.names(), ["lfo", "bass"]);
        assert!(lines[0].ends_with("+0.250"), "{lines:?}");

        // A third edit replaced the second before it was heard; the third plays.
        let third = table(&["lfo"]);
        view.offer(third.clone());
        third.mark_live();
        feed(&third, 0, 0.75);
        let lines = view.lines(50, 48000.0, 0.03);
        assert_eq!(view.names(), ["lfo"]);
        assert!(view.pending.is_empty());
        // What the line learnt carries over by name: still a bipolar bar.
        assert!(lines[0].ends_with("+0.750"), "{lines:?}");
        assert!(lines[0].contains('│'));

        // A script without monitors: no lines.
        let none = table(&[]);
        view.offer(none.clone());
        none.mark_live();
        assert!(view.lines(50, 48000.0, 0.03).is_empty());
        assert!(view.is_empty());

        // Reloads while no one draws (stderr is not a terminal) pile nothing up.
        for _ in 0..10 {
            let t = table(&["x"]);
            t.mark_live();
            view.offer(t);
        }
        assert_eq!(view.pending.len(), 1);
    }

    #[test]
    fn sound_is_told_from_control_by_its_swing() {
        let mut st = LineState::default();
        // A 5 Hz LFO: 10 sign changes a second.
        let slow = Reading {
            peak: 1.0,
            range: Some((-1.0, 1.0)),
            last: 0.2,
            crossings: 1,
            frames: 4800,
            step: None,
        };
        for _ in 0..10 {
            st.update(&slow, 48000.0, 0.1);
        }
        assert!(!st.audio && st.bipolar);
        // A constant that starts below zero: one sign change in a block is no swing.
        let mut dc = LineState::default();
        let start = Reading {
            crossings: 1,
            frames: 64,
            ..slow
        };
        dc.update(&start, 48000.0, 0.0);
        assert!(!dc.audio);
        // 220 Hz: 440 a second, told within a frame of the display.
        let fast = Reading {
            crossings: 14,
            frames: 1600,
            ..slow
        };
        st.update(&fast, 48000.0, 0.03);
        assert!(st.audio);
        // The meter falls 24 dB a second after a peak.
        st.level = 1.0;
        st.update(&Reading { peak: 0.0, ..slow }, 48000.0, 0.5);
        assert!(
            (20.0 * st.level.log10() + 12.0).abs() < 0.01,
            "{}",
            st.level
        );
        // Nothing measured: nothing changes.
        let before = st.clone();
        st.update(&Reading::default(), 48000.0, 0.5);
        assert_eq!(st, before);
    }
}
