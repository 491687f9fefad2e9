//! The language reference is generated from the registration table and every example in it
//! compiles.

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
