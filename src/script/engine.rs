//! The one hardened Rhai engine every script and config file runs in; control thread only.

use rhai::Engine;

/// Operations a script may run. A sound script only builds a graph: the largest example
/// uses a few thousand. The bound stops `loop {}` in well under a second.
pub const MAX_OPERATIONS: u64 = 2_000_000;
pub const MAX_CALL_LEVELS: usize = 48;
pub const MAX_EXPR_DEPTH: usize = 64;
pub const MAX_STRING: usize = 64 * 1024;
/// Rhai re-measures an array on every push, so a runaway `push` loop costs the square of
/// this bound before it stops; 10 000 keeps that well under a second.
pub const MAX_ARRAY: usize = 10_000;
pub const MAX_MAP: usize = 10_000;
pub const MAX_MODULES: usize = 64;

/// A Rhai engine with every limit set, `eval` off, strict variables and no module resolver
/// (callers add the sandboxed one). Core Rhai has no file, network or process access, and
/// nothing registered here adds any.
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
    e
}
