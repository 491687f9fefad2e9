//! The language reference is generated from the registration table and every example in it
//! compiles.

use std::collections::BTreeSet;
use std::path::Path;
use waves::script::{compile_source, dsl};

#[test]
fn docs_language_md_is_the_generated_reference() {
    let committed = std::fs::read_to_string("docs/LANGUAGE.md").expect("docs/LANGUAGE.md");
    assert!(
        committed == dsl::reference_markdown(),
        "docs/LANGUAGE.md is stale: run `cargo run -- reference > docs/LANGUAGE.md`"
    );
}

#[test]
fn every_documented_example_compiles() {
    // Names the examples lean on, as a musician's script would define them.
    let prelude = "tempo(120);\nlet x = saw(110);\nlet pad = saw(220).lpf(900);\n";
    let fb_decl = "let fb = feedback();\nlet y = (x + fb * 0.5).delay(0.3);\n";
    for f in dsl::functions() {
        let body = f.example.trim_end_matches(';');
        let needs_fb = body.contains("fb") && !body.contains("feedback()");
        let decl = if needs_fb { fb_decl } else { "" };
        let closing = if needs_fb && !body.contains("feed(") {
            "fb.feed(y);\n"
        } else {
            ""
        };
        let last = if f.example.ends_with(';') {
            format!("{body};\n{closing}x")
        } else {
            format!("{closing}{body}")
        };
        let src = format!("{prelude}{decl}{last}");
        if let Err(d) = compile_source(&src, "example.rhai", Path::new("scripts"), 48000.0) {
            panic!(
                "example of {}({}) fails:\n{}\n{}",
                f.name,
                f.params.join(", "),
                src,
                d.render(Some(&src))
            );
        }
    }
}

#[test]
fn every_function_has_a_description_and_an_example() {
    for f in dsl::functions() {
        assert!(
            !f.doc.is_empty() && !f.example.is_empty(),
            "{} lacks docs",
            f.name
        );
        assert!(
            f.example.contains(f.name),
            "the example of {} does not use it",
            f.name
        );
    }
}

/// `name(_: T, _: U) -> R` (what `Engine::gen_fn_signatures` lists) as the name and arity.
fn name_and_arity(signature: &str) -> (String, usize) {
    let open = signature
        .find('(')
        .unwrap_or_else(|| panic!("no parameter list in `{signature}`"));
    let name = signature[..open].trim().to_string();
    let mut depth = 0usize;
    let (mut arity, mut any) = (0usize, false);
    for c in signature[open + 1..].chars() {
        match c {
            '(' | '<' | '[' => depth += 1,
            ')' | '>' | ']' if depth > 0 => depth -= 1,
            ')' => break,
            ',' if depth == 0 => arity += 1,
            c if !c.is_whitespace() => any = true,
            _ => {}
        }
    }
    (name, if any { arity + 1 } else { 0 })
}

#[test]
fn signatures_are_read_as_name_and_arity() {
    assert_eq!(
        name_and_arity("lpf(_: Dynamic, _: Dynamic) -> Dynamic"),
        ("lpf".into(), 2)
    );
    assert_eq!(name_and_arity("noise() -> Signal"), ("noise".into(), 0));
    assert_eq!(
        name_and_arity("play(p: Pattern, f: FnPtr) -> Result<Signal, Box<EvalAltResult>>"),
        ("play".into(), 2)
    );
    assert_eq!(
        name_and_arity("mix(_: Array, _: Map<String, (i64, f64)>) -> Signal"),
        ("mix".into(), 2)
    );
    assert_eq!(name_and_arity("-(_: Signal) -> Signal"), ("-".into(), 1));
}

/// Functions scripts can call that are Rhai's own, only replaced to make them safe (see
/// `script::engine::hardened`): documented by Rhai, not by the reference.
const RHAI_OWN: &[(&str, usize, &str)] = &[
    (
        "sleep",
        1,
        "refuses to wait instead of blocking the compile",
    ),
    ("debug", 1, "shows only the start of long strings"),
];

#[test]
fn everything_registered_is_in_the_reference_and_everything_there_is_registered() {
    let engine = waves::script::vocabulary_engine();
    let reference = dsl::reference_markdown();
    let documented: BTreeSet<(String, usize)> = dsl::functions()
        .iter()
        .map(|f| (f.name.to_string(), f.params.len()))
        .collect();
    // Operators as the reference writes them: `a + b`, `-a`.
    let operator = |name: &str, arity: usize| match arity {
        1 => Some(format!("{name}a")),
        2 => Some(format!("a {name} b")),
        _ => None,
    };
    let is_operator = |name: &str| !name.starts_with(|c: char| c.is_alphabetic() || c == '_');
    let mut registered = BTreeSet::new();
    let mut undocumented = Vec::new();
    for sig in engine.gen_fn_signatures(false) {
        let (name, arity) = name_and_arity(&sig);
        registered.insert((name.clone(), arity));
        if let Some(field) = name.strip_prefix("get$") {
            // A property (`v.freq`, `v.index`): described in the reference's notes.
            if !reference.contains(&format!("`v.{field}`")) {
                undocumented.push(format!("{sig}  (property .{field})"));
            }
        } else if is_operator(&name) {
            let form = operator(&name, arity);
            if !dsl::OPERATORS
                .iter()
                .any(|(f, _, _)| Some(f.to_string()) == form)
            {
                undocumented.push(format!("{sig}  (operator)"));
            }
        } else if !documented.contains(&(name.clone(), arity))
            && !RHAI_OWN.iter().any(|(n, a, _)| *n == name && *a == arity)
        {
            undocumented.push(sig);
        }
    }
    assert!(
        undocumented.is_empty(),
        "registered for scripts but not in the reference (add a FnDef to a family table in src/script/dsl/, \
         then regenerate docs/LANGUAGE.md):\n  {}",
        undocumented.join("\n  ")
    );
    let unregistered: Vec<String> = documented
        .iter()
        .filter(|f| !registered.contains(*f))
        .map(|(n, a)| format!("{n} with {a} parameters"))
        .chain(
            dsl::OPERATORS
                .iter()
                .filter(|(form, _, _)| {
                    !registered
                        .iter()
                        .any(|(n, a)| is_operator(n) && operator(n, *a).as_deref() == Some(*form))
                })
                .map(|(form, _, _)| format!("operator `{form}`")),
        )
        .collect();
    assert!(
        unregistered.is_empty(),
        "in the reference but not registered:\n  {}",
        unregistered.join("\n  ")
    );
}
