//! Prints the aliasing of a rendered tone: `cargo run --release --example alias -- FILE.wav
//! F0 [SKIP_SECONDS]`. Reads the first channel, drops SKIP_SECONDS (default 0.1) from the
//! start, and measures 2 s with `waves::analysis::alias_ratio_db`. Used by
//! scripts/bench/quality.sh for waves' renders and scsynth's alike.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(path), Some(f0)) = (
        args.first(),
        args.get(1).and_then(|v| v.parse::<f64>().ok()),
    ) else {
        eprintln!("usage: alias FILE.wav F0 [SKIP_SECONDS]");
        return ExitCode::from(2);
    };
    let skip: f64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(0.1);
    let mut reader = match hound::WavReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let rate = f64::from(spec.sample_rate);
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().filter_map(Result::ok).collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .filter_map(Result::ok)
                .map(|v| v as f32 * scale)
                .collect()
        }
    };
    let first: Vec<f32> = samples.iter().step_by(channels).copied().collect();
    let from = (skip * rate) as usize;
    let len = (2.0 * rate) as usize;
    if first.len() < from + len {
        eprintln!("{path}: shorter than {skip} s + 2 s");
        return ExitCode::FAILURE;
    }
    let db = waves::analysis::alias_ratio_db(&first[from..from + len], rate, f0);
    println!("{db:.1}");
    ExitCode::SUCCESS
}
