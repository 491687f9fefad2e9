//! Opening the audio output with cpal: device by name, the nearest supported rate and buffer,
//! every sample format; control thread (the stream's callback runs on the audio thread).

use crate::engine::callback::{Callback, PlayStats};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{BufferSize, SampleFormat, StreamConfig, SupportedBufferSize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

pub struct Choice {
    pub device: cpal::Device,
    pub name: String,
    /// The audio host's name ("ALSA", "JACK").
    pub host: String,
    pub config: StreamConfig,
    pub format: SampleFormat,
    /// Said once at start: where the device could not give what config.rhai asked for.
    pub notes: Vec<String>,
}

/// Whether `d` can play: some hosts list their capture side among the outputs too (JACK's
/// "JACK Input"), and say what it is only in its description.
fn plays(d: &cpal::Device) -> bool {
    let input_only = d
        .description()
        .is_ok_and(|x| x.direction() == cpal::DeviceDirection::Input);
    !input_only && d.supports_output()
}

pub fn device_name(d: &cpal::Device) -> String {
    d.description()
        .map(|x| x.name().to_string())
        .or_else(|_| d.id().map(|i| i.to_string()))
        .unwrap_or_else(|_| "unknown device".into())
}

/// The audio host named `name` ("" = the platform's default; else part of a host name:
/// "alsa", "jack" when built with the `jack` feature).
fn host(name: &str) -> Result<cpal::Host, String> {
    if name.is_empty() {
        return Ok(cpal::default_host());
    }
    let hosts = cpal::available_hosts();
    let want = name.to_lowercase();
    match hosts
        .iter()
        .find(|h| h.name().to_lowercase().contains(&want))
    {
        Some(id) => cpal::host_from_id(*id)
            .map_err(|e| format!("the {} audio host is unavailable: {e}", id.name())),
        None => {
            let have: Vec<&str> = hosts.iter().map(|h| h.name()).collect();
            let hint = if want.contains("jack") && !cfg!(feature = "jack") {
                " (this build has no JACK host: build with --features jack)"
            } else {
                ""
            };
            Err(format!(
                "no audio host \"{name}\" (have: {}){hint}",
                have.join(", ")
            ))
        }
    }
}

/// Finds the output device of `host_name` (`filter` = part of its name, "" = the default)
/// and the stream configuration nearest to the requested rate and buffer size.
pub fn choose(
    host_name: &str,
    filter: &str,
    want_rate: u32,
    want_buffer: u32,
) -> Result<Choice, String> {
    let host = host(host_name)?;
    let device = if filter.is_empty() {
        host.default_output_device()
            .ok_or_else(|| format!("no default output device on the {} host", host.id().name()))?
    } else {
        let needle = filter.to_lowercase();
        let devices = host
            .output_devices()
            .map_err(|e| format!("cannot list output devices: {e}"))?;
        let mut names = Vec::new();
        let mut found = None;
        for d in devices {
            let name = device_name(&d);
            let id = d.id().map(|i| i.to_string()).unwrap_or_default();
            if found.is_none()
                && (name.to_lowercase().contains(&needle) || id.to_lowercase().contains(&needle))
                && plays(&d)
            {
                found = Some(d);
            }
            names.push(name);
        }
        found.ok_or_else(|| {
            format!(
                "no output device matches \"{filter}\" (have: {})",
                names.join(", ")
            )
        })?
    };
    let name = device_name(&device);
    let ranges: Vec<_> = device
        .supported_output_configs()
        .map_err(|e| format!("{name}: cannot read its configurations: {e}"))?
        .collect();
    if ranges.is_empty() {
        return Err(format!("{name} offers no output configuration"));
    }
    let mut notes = Vec::new();
    // Prefer: the rate fits, stereo, f32; then whatever is nearest in rate.
    let score = |r: &cpal::SupportedStreamConfigRange| {
        let rate_miss = if r.contains_rate(want_rate) {
            0
        } else {
            want_rate.abs_diff(want_rate.clamp(r.min_sample_rate(), r.max_sample_rate()))
        };
        (
            rate_miss,
            r.channels() != 2,
            r.sample_format() != SampleFormat::F32,
        )
    };
    let best = ranges
        .iter()
        .min_by_key(|r| score(r))
        .cloned()
        .ok_or("no configuration")?;
    let rate = want_rate.clamp(best.min_sample_rate(), best.max_sample_rate());
    if rate != want_rate {
        notes.push(format!(
            "{name} does not play {want_rate} Hz; using {rate} Hz"
        ));
    }
    let buffer_size = match best.buffer_size() {
        SupportedBufferSize::Range { min, max } => {
            let b = want_buffer.clamp(*min, *max);
            if b != want_buffer {
                notes.push(format!(
                    "{name} does not take {want_buffer}-frame buffers; using {b}"
                ));
            }
            BufferSize::Fixed(b)
        }
        SupportedBufferSize::Unknown => BufferSize::Fixed(want_buffer),
    };
    let format = best.sample_format();
    let config = StreamConfig {
        channels: best.channels(),
        sample_rate: rate,
        buffer_size,
    };
    Ok(Choice {
        device,
        host: host.id().name().to_string(),
        name,
        config,
        format,
        notes,
    })
}

/// Builds and starts the stream. Stream errors count as xruns; a vanished device sets `stop`.
pub fn start(
    choice: &Choice,
    mut cb: Callback,
    stats: Arc<PlayStats>,
    stop: Arc<AtomicBool>,
) -> Result<cpal::Stream, String> {
    let channels = choice.config.channels as usize;
    let on_error = move |e: cpal::Error| {
        stats.stream_error(e.kind());
        if matches!(e.kind(), cpal::ErrorKind::DeviceNotAvailable) {
            stop.store(true, Relaxed);
        }
    };
    macro_rules! build {
        ($t:ty) => {
            choice.device.build_output_stream::<$t, _, _>(
                choice.config.clone(),
                move |data: &mut [$t], _| cb.fill(data, channels),
                on_error,
                None,
            )
        };
    }
    let stream = match choice.format {
        SampleFormat::F32 => build!(f32),
        SampleFormat::F64 => build!(f64),
        SampleFormat::I8 => build!(i8),
        SampleFormat::I16 => build!(i16),
        SampleFormat::I24 => build!(cpal::I24),
        SampleFormat::I32 => build!(i32),
        SampleFormat::I64 => build!(i64),
        SampleFormat::U8 => build!(u8),
        SampleFormat::U16 => build!(u16),
        SampleFormat::U32 => build!(u32),
        SampleFormat::U64 => build!(u64),
        other => {
            return Err(format!(
                "{}: sample format {other} is not supported",
                choice.name
            ));
        }
    }
    .map_err(|e| format!("{}: cannot open a stream: {e}", choice.name))?;
    stream
        .play()
        .map_err(|e| format!("{}: cannot start: {e}", choice.name))?;
    Ok(stream)
}

/// Lines for `waves devices`: each host's outputs with its default marked.
pub fn list_outputs() -> Vec<String> {
    let mut lines = Vec::new();
    let default = cpal::default_host().id();
    for id in cpal::available_hosts() {
        match cpal::host_from_id(id) {
            Ok(h) => lines.extend(list_host(&h, id == default)),
            Err(e) => lines.push(format!(
                "Audio outputs ({} host): unavailable: {e}",
                id.name()
            )),
        }
    }
    lines
}

fn list_host(host: &cpal::Host, default_host: bool) -> Vec<String> {
    let id_of = |d: &cpal::Device| d.id().map(|i| i.to_string()).unwrap_or_default();
    let default = host.default_output_device();
    let default_id = default.as_ref().map(id_of);
    let mut lines = vec![format!(
        "Audio outputs ({} host{}, --host {}; * = default, pick one with --device PART-OF-NAME):",
        host.id().name(),
        if default_host {
            ", used unless --host says otherwise"
        } else {
            ""
        },
        host.id().name().to_lowercase()
    )];
    let mut marked = false;
    match host.output_devices() {
        Ok(devs) => {
            let mut any = false;
            for d in devs {
                if !plays(&d) {
                    continue;
                }
                any = true;
                let id = id_of(&d);
                let is_default = Some(&id) == default_id.as_ref();
                marked |= is_default;
                let mark = if is_default { "*" } else { " " };
                lines.push(format!("  {mark} {} [{id}]", device_name(&d)));
            }
            if !any {
                lines.push("    (none)".into());
            }
        }
        Err(e) => lines.push(format!("    cannot list outputs: {e}")),
    }
    if let (false, Some(d)) = (marked, default.as_ref()) {
        lines.push(format!("  * {} [{}]", device_name(d), id_of(d)));
    }
    lines
}
