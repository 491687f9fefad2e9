//! MIDI messages as waves uses them: a small copyable `Msg`, the byte parser that makes
//! them (running status, SysEx and stray bytes skipped), and the clock events are stamped
//! with. The parser runs on midir's thread; messages are read on the audio thread.

pub mod persist;

use std::sync::OnceLock;
use std::time::Instant;

/// One channel or clock message. Channels are 0..16 here (a script's `midi_notes(1)` is 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Msg {
    NoteOn {
        ch: u8,
        note: u8,
        vel: u8,
    },
    NoteOff {
        ch: u8,
        note: u8,
    },
    Cc {
        ch: u8,
        num: u8,
        value: u8,
    },
    /// Pitch bend, -8192..8191.
    Bend {
        ch: u8,
        value: i16,
    },
    Clock,
    Start,
    Continue,
    Stop,
}

/// A message and when it arrived: nanoseconds since `epoch()`, the clock the audio thread
/// reads too, so it can place the message at its frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MidiEvent {
    pub nanos: u64,
    pub msg: Msg,
}

/// The process's MIDI clock origin, fixed at first use.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since `epoch()`. A clock read only: allocation-free, lock-free.
pub fn now_nanos() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// Turns the bytes of one delivery (midir hands over one packet at a time: an ALSA
/// sequencer event, a JACK event) into messages. Running status works inside a packet (a
/// device may send `90 3C 64 3E 64`); SysEx and anything unexpected are skipped; a
/// truncated message is dropped, never completed by the next packet; nothing panics.
#[derive(Clone, Debug, Default)]
pub struct Parser {
    status: u8,
    data: [u8; 2],
    have: usize,
    in_sysex: bool,
}

impl Parser {
    pub fn new() -> Self {
        Parser::default()
    }

    /// Feeds bytes, calling `emit` for each complete message waves understands.
    pub fn feed(&mut self, bytes: &[u8], mut emit: impl FnMut(Msg)) {
        // Each packet stands alone: whatever the last one left unfinished is dropped.
        *self = Parser::default();
        for &b in bytes {
            if b >= 0xF8 {
                // Real-time bytes may appear anywhere, even inside another message.
                let m = match b {
                    0xF8 => Some(Msg::Clock),
                    0xFA => Some(Msg::Start),
                    0xFB => Some(Msg::Continue),
                    0xFC => Some(Msg::Stop),
                    _ => None,
                };
                if let Some(m) = m {
                    emit(m);
                }
                continue;
            }
            if b >= 0x80 {
                self.have = 0;
                self.in_sysex = b == 0xF0;
                // System common messages cancel running status; their data is skipped.
                self.status = if b < 0xF0 { b } else { 0 };
                continue;
            }
            if self.in_sysex || self.status == 0 {
                continue;
            }
            self.data[self.have] = b;
            self.have += 1;
            if self.have < data_len(self.status) {
                continue;
            }
            self.have = 0;
            if let Some(m) = decode(self.status, self.data) {
                emit(m);
            }
        }
    }
}

fn data_len(status: u8) -> usize {
    match status & 0xF0 {
        0xC0 | 0xD0 => 1,
        _ => 2,
    }
}

fn decode(status: u8, d: [u8; 2]) -> Option<Msg> {
    let ch = status & 0x0F;
    match status & 0xF0 {
        0x80 => Some(Msg::NoteOff { ch, note: d[0] }),
        // Velocity 0 is a note-off by convention (running status sends it that way).
        0x90 if d[1] == 0 => Some(Msg::NoteOff { ch, note: d[0] }),
        0x90 => Some(Msg::NoteOn {
            ch,
            note: d[0],
            vel: d[1],
        }),
        0xB0 => Some(Msg::Cc {
            ch,
            num: d[0],
            value: d[1],
        }),
        0xE0 => Some(Msg::Bend {
            ch,
            value: ((d[1] as i16) << 7 | d[0] as i16) - 8192,
        }),
        // Aftertouch and program change are read (so running status stays right) but unused.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Vec<Msg> {
        let mut out = Vec::new();
        Parser::new().feed(bytes, |m| out.push(m));
        out
    }

    #[test]
    fn channel_messages() {
        assert_eq!(
            parse(&[0x91, 60, 100, 0x81, 60, 0, 0xB0, 74, 127, 0xE0, 0, 0x40]),
            vec![
                Msg::NoteOn {
                    ch: 1,
                    note: 60,
                    vel: 100
                },
                Msg::NoteOff { ch: 1, note: 60 },
                Msg::Cc {
                    ch: 0,
                    num: 74,
                    value: 127
                },
                Msg::Bend { ch: 0, value: 0 },
            ]
        );
        assert_eq!(
            parse(&[0xE0, 0x7F, 0x7F, 0xE0, 0, 0]),
            vec![
                Msg::Bend { ch: 0, value: 8191 },
                Msg::Bend {
                    ch: 0,
                    value: -8192
                }
            ]
        );
    }

    #[test]
    fn running_status_and_velocity_zero() {
        assert_eq!(
            parse(&[0x90, 60, 100, 62, 90, 60, 0]),
            vec![
                Msg::NoteOn {
                    ch: 0,
                    note: 60,
                    vel: 100
                },
                Msg::NoteOn {
                    ch: 0,
                    note: 62,
                    vel: 90
                },
                Msg::NoteOff { ch: 0, note: 60 },
            ]
        );
        // A packet cut short is dropped; the next packet does not complete it.
        let mut p = Parser::new();
        let mut out = Vec::new();
        p.feed(&[0x90, 60], |m| out.push(m));
        p.feed(&[100, 64, 100], |m| out.push(m));
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn sysex_truncation_and_stray_bytes_are_skipped() {
        // SysEx (with a clock inside it), a truncated note-on cut by a new status, stray data
        // bytes with no status, an undefined status, program change, song position.
        let msgs = parse(&[
            0x12, 0x34, 0xF0, 0x7E, 0xF8, 0x01, 0x02, 0xF7, 0x90, 60, 0xB0, 1, 64, 0xF4, 5, 6,
            0xC0, 5, 0xF2, 1, 2, 0xFA, 0xFC, 0xFB, 0xFE, 0xFF,
        ]);
        assert_eq!(
            msgs,
            vec![
                Msg::Clock,
                Msg::Cc {
                    ch: 0,
                    num: 1,
                    value: 64
                },
                Msg::Start,
                Msg::Stop,
                Msg::Continue,
            ]
        );
    }

    #[test]
    fn any_bytes_never_panic() {
        // Every byte value, in a few orders.
        let all: Vec<u8> = (0..=255u8).collect();
        let rev: Vec<u8> = (0..=255u8).rev().collect();
        let mut p = Parser::new();
        let mut n = 0;
        for chunk in all.chunks(7).chain(rev.chunks(3)) {
            p.feed(chunk, |_| n += 1);
        }
        assert!(n > 0);
    }
}
