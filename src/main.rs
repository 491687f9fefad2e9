//! The `waves` command: parses arguments and hands over to `cli`; main thread.

fn main() {
    std::process::exit(waves::cli::main());
}
