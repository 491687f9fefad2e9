//! Faults injected on purpose, so tests can prove what survives them: `WAVES_FAULT` names
//! them (comma-separated); read on the control thread. Unset, nothing here does anything.

use std::sync::OnceLock;

/// Whether fault `name` was asked for.
pub fn armed(name: &str) -> bool {
    static FAULTS: OnceLock<Vec<String>> = OnceLock::new();
    FAULTS
        .get_or_init(|| {
            std::env::var("WAVES_FAULT")
                .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default()
        })
        .iter()
        .any(|f| f == name)
}

/// `panic-thread`: a helper thread panics a second after playing starts.
pub fn start_threads() {
    if armed("panic-thread") {
        let _ = std::thread::Builder::new()
            .name("waves-fault".into())
            .spawn(|| {
                std::thread::sleep(std::time::Duration::from_secs(1));
                panic!("injected fault: panic-thread");
            });
    }
}

/// `panic-control`: the control loop panics once playing has gone on for a second.
pub fn control_tick(playing_for: std::time::Duration) {
    if playing_for.as_secs_f32() > 1.0 && armed("panic-control") {
        panic!("injected fault: panic-control");
    }
}
