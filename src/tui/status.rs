//! The status line under a playing script: time, callback load, meters, recording, xruns
//! and the last reload, with the scope and monitor lines above it; control thread.

use super::screen::{self, Screen};
use crate::engine::callback::PlayStats;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// The status line is redrawn at most this often.
const STATUS_EVERY: Duration = Duration::from_millis(66);

/// One line on the terminal: time, callback load, meters, recording, xruns; with the
/// scope and the monitor lines above it when there are any.
pub struct StatusLine {
    enabled: bool,
    last: Option<Instant>,
    pub screen: Screen,
}

fn meter(peak: f32) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let db = if peak > 0.0 {
        20.0 * peak.log10()
    } else {
        -96.0
    };
    // -48 dB .. 0 dB over 8 cells.
    let filled = (((db + 48.0) / 6.0).clamp(0.0, 8.0)) as usize;
    let mut s: String = (0..8)
        .map(|i| if i < filled { BARS[i] } else { ' ' })
        .collect();
    s.push(if peak > 1.0 { '!' } else { ' ' });
    s
}

fn clock(secs: f64) -> String {
    format!("{}:{:04.1}", (secs / 60.0) as u64, secs % 60.0)
}

impl StatusLine {
    pub fn new(enabled: bool, screen: Screen) -> Self {
        StatusLine {
            enabled,
            last: None,
            screen,
        }
    }

    pub fn update(
        &mut self,
        played: f64,
        total: Option<f64>,
        stats: &PlayStats,
        rec: Option<f64>,
        reload: Option<&str>,
        show_scope: bool,
    ) {
        let every = if self.screen.animated(show_scope) {
            screen::FRAME_EVERY
        } else {
            STATUS_EVERY
        };
        if !self.enabled || self.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        let time = match total {
            Some(t) => format!("{} / {}", clock(played), clock(t)),
            None => clock(played),
        };
        let mut line = format!(
            "{time}  cpu {:3.0}%  L {} R {}",
            stats.take_load(),
            meter(stats.take_peak(0)),
            meter(stats.take_peak(1))
        );
        if let Some(r) = rec {
            line.push_str(&format!(" ● rec {r:.1} s"));
        }
        line.push_str(&format!("  xruns {}", stats.xruns.load(Relaxed)));
        if let Some(r) = reload {
            line.push_str("  ");
            line.push_str(r);
        }
        self.screen.draw(&line, show_scope);
    }

    pub fn clear(&mut self) {
        if self.enabled && self.last.is_some() {
            self.screen.clear();
            // Redraw at the next update, below whatever was printed.
            self.last = None;
        }
    }
}
