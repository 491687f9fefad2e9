//! Live stems: which recording channels each named track (`.track("name")`) is recorded on,
//! kept by name across reloads; control thread.
//!
//! The recording ring carries wide frames: the mix (left, right) followed by two channels
//! per stem slot. One ring for all keeps every stem sample-aligned with the mix by
//! construction (the tap moves whole frames), and a slot that no graph has used yet is
//! silence, so a track that appears through a reload is recorded from the frame it appears.

use crate::graph::RuntimeGraph;

/// Most stems recorded live.
pub const MAX_STEMS: usize = 16;
/// Slots kept free for tracks that edits add while recording.
pub const SPARE: usize = 4;
/// A track with no slot (more tracks than slots, or not recording).
pub const NO_SLOT: u8 = u8::MAX;

#[derive(Debug, Default)]
pub struct StemSlots {
    /// Track name of each slot, in the order tracks first appeared.
    names: Vec<String>,
    capacity: usize,
    /// Tracks already told they have no slot (said once each).
    refused: Vec<String>,
}

impl StemSlots {
    /// Slots for a recording whose first graph has `tracks` tracks (none when not recording).
    pub fn for_recording(tracks: usize, recording: bool) -> Self {
        let capacity = if recording && tracks > 0 {
            (tracks + SPARE).min(MAX_STEMS)
        } else {
            0
        };
        StemSlots {
            capacity,
            ..Default::default()
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Channels of a recording frame: the mix and two per slot.
    pub fn channels(&self) -> usize {
        2 + 2 * self.capacity
    }

    /// Track names by slot.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Points each track of `graph`, named `names`, at its slot: the one its name had
    /// before, else a new one. Returns lines for the log (a track that cannot be recorded
    /// says so once).
    pub fn assign(&mut self, names: &[String], graph: &mut RuntimeGraph) -> Vec<String> {
        let mut log = Vec::new();
        let mut slots = Vec::with_capacity(names.len());
        for name in names {
            let slot = match self.names.iter().position(|n| n == name) {
                Some(s) => s,
                None if self.names.len() < self.capacity => {
                    self.names.push(name.clone());
                    self.names.len() - 1
                }
                None => {
                    if self.capacity > 0 && !self.refused.contains(name) {
                        log.push(format!(
                            "note: track \"{name}\" is not recorded as a stem: this take has room for {} stems (restart the recording to add more)",
                            self.capacity
                        ));
                        self.refused.push(name.clone());
                    }
                    slots.push(NO_SLOT);
                    continue;
                }
            };
            slots.push(slot as u8);
        }
        graph.track_slots = slots;
        log
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::compile_source;
    use std::path::Path;

    fn graph(src: &str) -> (Vec<String>, RuntimeGraph) {
        let c = compile_source(src, "t.rhai", Path::new("."), 48000.0).unwrap();
        let (g, meta) = crate::graph::compile(&c.spec, 48000.0);
        (meta.track_names, g)
    }

    #[test]
    fn a_name_keeps_its_slot_and_new_names_take_spare_ones() {
        let mut s = StemSlots::for_recording(2, true);
        assert_eq!(s.capacity(), 2 + SPARE);
        assert_eq!(s.channels(), 2 + 2 * (2 + SPARE));
        let (an, mut a) = graph("mix([sine(1).track(\"a\"), sine(2).track(\"b\")])");
        assert!(s.assign(&an, &mut a).is_empty());
        assert_eq!(a.track_slots, vec![0, 1]);
        // An edit drops "a", adds "c" and reorders: names keep their slots.
        let (bn, mut b) = graph("mix([sine(3).track(\"c\"), sine(2).track(\"b\")])");
        s.assign(&bn, &mut b);
        assert_eq!(b.track_slots, vec![2, 1]);
        assert_eq!(s.names(), ["a", "b", "c"]);
    }

    #[test]
    fn more_tracks_than_slots_are_named_once_and_not_recorded() {
        let mut s = StemSlots::for_recording(1, true);
        let tracks: Vec<String> = (0..7)
            .map(|i| format!("sine({i}).track(\"t{i}\")"))
            .collect();
        let (names, mut g) = graph(&format!("mix([{}])", tracks.join(", ")));
        let log = s.assign(&names, &mut g);
        assert_eq!(log.len(), 7 - (1 + SPARE));
        assert!(log[0].contains("t5"), "{log:?}");
        assert_eq!(g.track_slots[6], NO_SLOT);
        assert!(s.assign(&names, &mut g).is_empty(), "said once");
        // Not recording: no slots, nothing said.
        let mut s = StemSlots::for_recording(3, false);
        assert!(s.assign(&names, &mut g).is_empty());
        assert_eq!(s.channels(), 2);
    }
}
