//! The one stop flag: Ctrl-C, SIGTERM, SIGHUP and a panic on any thread set it; installed
//! once from the main thread, read by the playing loop and by renders.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

/// Set by Ctrl-C, SIGTERM and SIGHUP. Installed once: every stop goes through this flag,
/// so every ending takes the same path; a second signal while saving changes nothing.
pub fn stop_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        // A panic on any thread takes the same way out: the take is saved.
        let on_panic = flag.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            on_panic.store(true, Relaxed);
        }));
        let f = flag.clone();
        if let Err(e) = ctrlc::set_handler(move || f.store(true, Relaxed)) {
            crate::tell!("warning: cannot catch Ctrl-C ({e}); stop with the duration instead");
        }
        flag
    })
    .clone()
}
