//! The one hardened Rhai engine every script and config file runs in; control thread only.

use rhai::Engine;
use std::cell::Cell;
use std::rc::Rc;

/// Operations a script may run. A sound script only builds a graph: the largest example
/// uses a few thousand. The bound stops `loop {}` in well under a second.
pub const MAX_OPERATIONS: u64 = 2_000_000;
/// The token a compile is stopped with once the script and its imports together ran
/// [`MAX_OPERATIONS`].
pub const OUT_OF_OPERATIONS: &str = "waves: out of operations";
pub const MAX_CALL_LEVELS: usize = 48;
pub const MAX_EXPR_DEPTH: usize = 64;
pub const MAX_STRING: usize = 64 * 1024;
/// Rhai re-measures an array on every push, so a runaway `push` loop costs the square of
/// this bound before it stops; 10 000 keeps that well under a second.
pub const MAX_ARRAY: usize = 10_000;
pub const MAX_MAP: usize = 10_000;
pub const MAX_MODULES: usize = 64;
/// Imports nested inside imports: each level runs inside the one before (Rhai recursion),
/// so the depth is bounded well before the stack is.
pub const MAX_IMPORT_DEPTH: usize = 32;
/// Bytes of source a script and all its imports may hold together. The largest example is
/// a few KiB; the bound keeps parsing (and everything after it) well under a second.
pub const MAX_SOURCE: u64 = 1024 * 1024;
/// Bytes of `print`/`debug` output one run of a script may write (to stderr); the rest is
/// dropped, so a printing loop cannot flood the terminal for minutes.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// A Rhai engine with every limit set, `eval` off, strict variables and no module resolver
/// (callers add the sandboxed one). Core Rhai has no file, network or process access, and
/// nothing registered here adds any. `print` and `debug` write to stderr, at most
/// [`MAX_OUTPUT`] bytes per engine, and never fail (Rhai's own `println!` panics when
/// stdout is a closed pipe).
pub fn hardened() -> Engine {
    let mut e = Engine::new();
    e.set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(MAX_EXPR_DEPTH, MAX_EXPR_DEPTH)
        .set_max_string_size(MAX_STRING)
        .set_max_array_size(MAX_ARRAY)
        .set_max_map_size(MAX_MAP)
        .set_max_modules(MAX_MODULES)
        .set_strict_variables(true)
        .set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    e.disable_symbol("eval");
    // Rhai's `sleep` blocks without counting operations: a script could hang the compile.
    e.register_fn(
        "sleep",
        |_: rhai::INT| -> Result<(), Box<rhai::EvalAltResult>> {
            Err("sleep is not available: a script builds the sound, it cannot wait".into())
        },
    );
    e.register_fn(
        "sleep",
        |_: rhai::FLOAT| -> Result<(), Box<rhai::EvalAltResult>> {
            Err("sleep is not available: a script builds the sound, it cannot wait".into())
        },
    );
    // Rhai's `debug` escapes a whole string before the output callback can drop it; long
    // strings are shown by their start, so a `debug` loop stays as cheap as a `print` one.
    e.register_fn("debug", |s: &str| -> rhai::ImmutableString {
        const SHOWN: usize = 256;
        if s.len() <= SHOWN {
            return format!("{s:?}").into();
        }
        let mut end = SHOWN;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{:?}… ({} bytes)", &s[..end], s.len()).into()
    });
    let budget = Rc::new(Cell::new(MAX_OUTPUT));
    let left = budget.clone();
    e.on_print(move |text| script_output(&left, text));
    e.on_debug(move |text, source, pos| {
        if budget.get() == 0 {
            return;
        }
        let at = match (source, pos.line()) {
            (Some(src), Some(line)) => format!("{src}:{line}:{}: ", pos.position().unwrap_or(0)),
            (None, Some(line)) => format!("{line}:{}: ", pos.position().unwrap_or(0)),
            (Some(src), None) => format!("{src}: "),
            (None, None) => String::new(),
        };
        script_output(&budget, &format!("debug: {at}{text}"));
    });
    e
}

/// Writes one line of script output to stderr while the budget lasts.
fn script_output(budget: &Cell<usize>, text: &str) {
    let left = budget.get();
    if left == 0 {
        return;
    }
    let need = text.len() + 1;
    if need > left {
        budget.set(0);
        crate::tell!(
            "(the script printed more than {} KiB; the rest is not shown)",
            MAX_OUTPUT / 1024
        );
        return;
    }
    budget.set(left - need);
    crate::tell!("{text}");
}
