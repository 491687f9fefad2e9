//! Knob positions that outlive a run: the audio thread publishes controller values as
//! atomics (`CcShared`); the control thread saves them to `output/.midi_cc.json` and loads
//! them at the next start.

use crate::dsp::{CC_SLOTS, cc_slot};
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// The file, inside `output_dir`.
pub const FILE: &str = ".midi_cc.json";

/// Every controller's last value (f32 bits; NaN = none yet) and a count of changes.
pub struct CcShared {
    values: Box<[AtomicU32]>,
    version: AtomicU64,
}

impl Default for CcShared {
    fn default() -> Self {
        CcShared {
            values: (0..CC_SLOTS)
                .map(|_| AtomicU32::new(f32::NAN.to_bits()))
                .collect(),
            version: AtomicU64::new(0),
        }
    }
}

impl CcShared {
    /// Audio thread: one store and one add, no allocation.
    pub fn store(&self, slot: usize, value: f32) {
        if let Some(v) = self.values.get(slot) {
            v.store(value.to_bits(), Relaxed);
            self.version.fetch_add(1, Relaxed);
        }
    }

    /// Changes so far: the control thread saves when this moved.
    pub fn version(&self) -> u64 {
        self.version.load(Relaxed)
    }

    pub fn snapshot(&self) -> Vec<f32> {
        self.values
            .iter()
            .map(|v| f32::from_bits(v.load(Relaxed)))
            .collect()
    }
}

/// Saving knob positions during a run (control thread): loaded at start, written at most
/// once a second while they move, and at the end.
pub struct Store {
    pub shared: std::sync::Arc<CcShared>,
    path: Option<std::path::PathBuf>,
    saved: u64,
    last: std::time::Instant,
}

impl Store {
    /// With `path`, knob positions persist there; returns the store, holding the saved
    /// values to start from, and a warning when the file could not be read.
    pub fn open(path: Option<std::path::PathBuf>) -> (Store, Option<String>) {
        let (values, warning) = match path.as_deref().map(load) {
            Some(Ok(v)) => (v, None),
            Some(Err(e)) => (
                Vec::new(),
                Some(format!("warning: saved knob positions not read: {e}")),
            ),
            None => (Vec::new(), None),
        };
        let shared = std::sync::Arc::new(CcShared::default());
        for &(slot, v) in &values {
            if let Some(a) = shared.values.get(slot) {
                a.store(v.to_bits(), Relaxed);
            }
        }
        let store = Store {
            shared,
            path,
            saved: 0,
            last: std::time::Instant::now(),
        };
        (store, warning)
    }

    /// Saves when knobs moved and a second has passed (or `now`); says why it could not.
    pub fn save(&mut self, now: bool) -> Option<String> {
        let path = self.path.as_ref()?;
        let v = self.shared.version();
        if v == self.saved || (!now && self.last.elapsed().as_secs_f32() < 1.0) {
            return None;
        }
        self.saved = v;
        self.last = std::time::Instant::now();
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        save(path, &self.shared.snapshot()).err().map(|e| {
            format!(
                "warning: knob positions not saved to {}: {e}",
                path.display()
            )
        })
    }
}

fn key(slot: usize) -> String {
    let (row, num) = (slot / 128, slot % 128);
    if row == 16 {
        format!("any/{num}")
    } else {
        format!("{}/{num}", row + 1)
    }
}

fn parse_key(k: &str) -> Option<usize> {
    let (ch, num) = k.split_once('/')?;
    let num: u8 = num.parse().ok().filter(|n| *n < 128)?;
    let ch = match ch {
        "any" => None,
        c => Some(c.parse::<u8>().ok().filter(|c| (1..=16).contains(c))? - 1),
    };
    Some(cc_slot(ch, num))
}

/// Reads saved values as (slot, value) pairs. A missing file is no values; a damaged one
/// is an error to warn about (the run goes on from the scripts' defaults).
pub fn load(path: &Path) -> Result<Vec<(usize, f32)>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let Some(cc) = v.get("cc").and_then(Value::as_object) else {
        return Err(format!(
            "{}: expected {{\"cc\": {{\"any/74\": 0.5, ...}}}}",
            path.display()
        ));
    };
    Ok(cc
        .iter()
        .filter_map(|(k, v)| {
            let x = v.as_f64().filter(|x| (0.0..=1.0).contains(x))?;
            Some((parse_key(k)?, x as f32))
        })
        .collect())
}

/// Writes the values that have arrived, replacing the file in one rename so a crash never
/// leaves half a file.
pub fn save(path: &Path, values: &[f32]) -> std::io::Result<()> {
    let mut cc = Map::new();
    for (slot, v) in values.iter().enumerate() {
        if v.is_finite() {
            cc.insert(key(slot), Value::from((*v as f64 * 1e6).round() / 1e6));
        }
    }
    let mut root = Map::new();
    root.insert("cc".into(), Value::Object(cc));
    let text = serde_json::to_string_pretty(&Value::Object(root))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n")?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_values_load_back() {
        let dir = std::env::temp_dir().join(format!("waves-cc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE);
        let shared = CcShared::default();
        shared.store(cc_slot(None, 74), 0.25);
        shared.store(cc_slot(Some(2), 1), 1.0);
        assert_eq!(shared.version(), 2);
        save(&path, &shared.snapshot()).unwrap();
        let mut back = load(&path).unwrap();
        back.sort_by_key(|p| p.0);
        assert_eq!(
            back,
            vec![(cc_slot(Some(2), 1), 1.0), (cc_slot(None, 74), 0.25)]
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"any/74\": 0.25") && text.contains("\"3/1\": 1.0"),
            "{text}"
        );
        // Damaged or foreign content is an error or ignored, never a panic.
        std::fs::write(
            &path,
            "{\"cc\": {\"any/74\": 7, \"x/1\": 0.5, \"17/1\": 0.5}}",
        )
        .unwrap();
        assert_eq!(load(&path).unwrap(), vec![]);
        std::fs::write(&path, "not json").unwrap();
        assert!(load(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(load(&path).unwrap(), vec![]);
    }
}
