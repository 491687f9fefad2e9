//! Names other sound tools use, each with the waves function nearest to it, so an unknown
//! name a newcomer brings along gets the right hint before edit distance guesses; data only,
//! read by the diagnostics on the control thread.

/// Other tools' names (lowercase, `_` dropped) and the waves function each one means.
/// Every target is a function of the reference; a test keeps it so.
pub const SYNONYMS: &[(&str, &str)] = &[
    // oscillators
    ("sin", "sine"),
    ("sinosc", "sine"),
    ("sinewave", "sine"),
    ("osc", "sine"),
    ("oscillator", "sine"),
    ("vco", "saw"),
    ("sawtooth", "saw"),
    ("lfsaw", "saw"),
    ("varsaw", "saw"),
    ("sawwave", "saw"),
    ("triangle", "tri"),
    ("lftri", "tri"),
    ("triwave", "tri"),
    ("sqr", "square"),
    ("squarewave", "square"),
    ("lfpulse", "pulse"),
    ("pwm", "pulse"),
    ("whitenoise", "noise"),
    ("white", "noise"),
    ("rand", "noise"),
    ("random", "noise"),
    ("pinknoise", "pink"),
    // filters
    ("lowpass", "lpf"),
    ("lopass", "lpf"),
    ("rlpf", "lpf"),
    ("lop", "lpf"),
    ("filter", "lpf"),
    ("vcf", "lpf"),
    ("cutoff", "lpf"),
    ("ctf", "lpf"),
    ("highpass", "hpf"),
    ("hipass", "hpf"),
    ("rhpf", "hpf"),
    ("hip", "hpf"),
    ("hcutoff", "hpf"),
    ("bandpass", "bpf"),
    ("bandf", "bpf"),
    ("resonz", "bpf"),
    ("bandreject", "notch"),
    ("bandstop", "notch"),
    ("brf", "notch"),
    ("moog", "ladder"),
    ("moogff", "ladder"),
    ("moogladder", "ladder"),
    // effects
    ("echo", "delay"),
    ("comb", "delay"),
    ("combn", "delay"),
    ("combl", "delay"),
    ("combc", "delay"),
    ("delayn", "delay"),
    ("delayl", "delay"),
    ("delayc", "delay"),
    ("pingpong", "delay"),
    ("freeverb", "reverb"),
    ("gverb", "reverb"),
    ("verb", "reverb"),
    ("room", "reverb"),
    ("distortion", "drive"),
    ("distort", "drive"),
    ("overdrive", "drive"),
    ("saturate", "drive"),
    ("saturation", "drive"),
    ("tanh", "drive"),
    ("shape", "drive"),
    ("waveshaper", "drive"),
    ("bitcrush", "crush"),
    ("bitcrusher", "crush"),
    ("decimator", "crush"),
    ("compressor", "comp"),
    ("compress", "comp"),
    ("compander", "comp"),
    ("limit", "clip"),
    ("clamp", "clip"),
    ("flanger", "chorus"),
    // levels and mixing
    ("volume", "gain"),
    ("vol", "gain"),
    ("amp", "gain"),
    ("amplitude", "gain"),
    ("level", "gain"),
    ("vca", "gain"),
    ("multiply", "gain"),
    ("mul", "gain"),
    ("pan2", "pan"),
    ("balance", "pan"),
    ("sum", "mix"),
    ("stack", "mix"),
    ("bus", "track"),
    ("stem", "track"),
    // envelopes and control
    ("envelope", "adsr"),
    ("env", "adsr"),
    ("envgen", "adsr"),
    ("automation", "line"),
    ("ramp", "line"),
    ("xline", "line"),
    ("glide", "smooth"),
    ("lag", "smooth"),
    ("slew", "smooth"),
    ("portamento", "smooth"),
    ("map", "range"),
    ("scale", "range"),
    ("impulse", "metro"),
    ("metronome", "metro"),
    ("trigger", "metro"),
    ("retrigger", "metro"),
    ("interval", "metro"),
    ("clock", "metro"),
    // time, notes, sequencing
    ("bpm", "tempo"),
    ("usebpm", "tempo"),
    ("setbpm", "tempo"),
    ("pitch", "note"),
    ("notetofreq", "note"),
    ("mtof", "midi"),
    ("midicps", "midi"),
    ("midicc", "cc"),
    ("midiin", "midi_notes"),
    ("sequencer", "pattern"),
    ("sequence", "pattern"),
    ("seq", "pattern"),
    ("pseq", "pattern"),
    ("spawn", "poly"),
    ("buffer", "sample"),
    ("playbuf", "sample"),
    ("sound", "sample"),
];

/// The waves function another tool's `name` means (case and `_` ignored: `SinOsc`,
/// `white_noise`).
pub fn lookup(name: &str) -> Option<&'static str> {
    let key: String = name
        .chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect();
    SYNONYMS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_is_a_waves_function() {
        let known: Vec<&str> = crate::script::dsl::functions()
            .iter()
            .map(|f| f.name)
            .collect();
        for (from, to) in SYNONYMS {
            assert!(known.contains(to), "{from} -> {to}: no such function");
            assert!(!known.contains(from), "{from} is a waves function itself");
        }
    }

    #[test]
    fn lookup_ignores_case_and_underscores() {
        assert_eq!(lookup("SinOsc"), Some("sine"));
        assert_eq!(lookup("white_noise"), Some("noise"));
        assert_eq!(lookup("midi_cc"), Some("cc"));
        assert_eq!(lookup("banana"), None);
    }
}
