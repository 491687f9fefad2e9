//! Audio and MIDI devices: opening the output stream (whose callback body is
//! `engine::callback`), MIDI input ports, message colours, device listing;
//! control thread.

pub mod colour;
pub mod midi_in;
pub mod output;

/// Lines for `waves devices`: MIDI inputs (midir), or why there are none.
pub fn list_midi_inputs() -> Vec<String> {
    let mut lines = vec!["MIDI inputs:".to_string()];
    match midir::MidiInput::new("waves") {
        Ok(m) => {
            let ports = m.ports();
            if ports.is_empty() {
                lines.push("    (none)".into());
            }
            for p in ports {
                let name = m.port_name(&p).unwrap_or_else(|_| "unnamed port".into());
                lines.push(format!("    {name}"));
            }
        }
        Err(e) => lines.push(format!("    MIDI is unavailable here: {e}")),
    }
    lines
}
