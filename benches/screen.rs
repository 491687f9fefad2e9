//! Benchmark (not a test): what the live panel costs. One frame of the panel (scope, eight
//! monitor lines and the status line, composed into the bytes written to the terminal) on
//! the control thread, and the scope ring's copy of one 512-frame callback on the audio
//! thread. Run: `cargo bench --bench screen`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;
use waves::dsp::monitor::{MonitorInfo, MonitorTable, Shows};
use waves::tui::monitors::MonitorView;
use waves::tui::scope::ScopeRing;
use waves::tui::screen::{Screen, compose};

/// Rounds of measurement; the median is reported (the machine may be busy with other work).
const ROUNDS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds per call of `f`, the median of `ROUNDS` rounds of `n` calls after one round of
/// warm-up.
fn time(n: usize, mut f: impl FnMut()) -> f64 {
    let mut round = || {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        t.elapsed().as_secs_f64() / n as f64
    };
    round();
    median((0..ROUNDS).map(|_| round()).collect())
}

fn main() {
    let names: Vec<MonitorInfo> = (0..8)
        .map(|i| MonitorInfo {
            name: format!("monitor {i}"),
            shows: if i % 2 == 0 {
                Shows::Signal
            } else {
                Shows::PatternAndSignal
            },
        })
        .collect();
    let table = Arc::new(MonitorTable::new(names));
    table.mark_live();
    let ring = Arc::new(ScopeRing::new());
    let tone: Vec<f32> = (0..8192)
        .flat_map(|i| [(i as f32 * 0.03).sin(); 2])
        .collect();
    ring.push(&tone);
    let mut screen = Screen::new(false, 48000, Some(ring.clone()), MonitorView::new(table));
    let status = "0:01.2 / 0:04.0  cpu   3%  L ▆▆▆▆▆▆▆▆  R ▆▆▆▆▆▆▆▆   xruns 0";
    println!("live panel, 8 monitors, median of {ROUNDS} rounds:");
    for (cols, rows) in [(80, 24), (200, 60)] {
        let mut bytes = 0;
        let per = time(2000, || {
            let lines = screen.frame(status, true, cols, rows);
            bytes = black_box(compose(lines.len(), false, &lines, cols, false)).len();
        });
        println!(
            "  {cols}x{rows}: {:5.1} us a frame ({:.2} % of one core at 30 fps), {bytes} bytes",
            per * 1e6,
            per * 30.0 * 100.0,
        );
    }
    // The audio thread's share: one 512-frame stereo callback's copy into the ring.
    let per = time(20_000, || ring.push(black_box(&tone[..1024])));
    println!("  scope ring: {:.2} us per 512-frame callback", per * 1e6);
}
