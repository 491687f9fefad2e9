//! Scripts are untrusted: imports stay inside the script's folder, runaway scripts stop
//! quickly with an error, and `eval` is unavailable.

mod common;
use common::TempDir;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use waves::script::{Compiled, Diagnostic, compile_file, compile_source};

const SR: f64 = 48_000.0;

fn compile_in(root: &Path, src: &str) -> Result<Compiled, Diagnostic> {
    compile_source(src, "main.rhai", root, SR)
}

fn refused(root: &Path, src: &str) -> Diagnostic {
    match compile_in(root, src) {
        Ok(c) => panic!(
            "`{src}` must be refused, but it compiled (files: {:?})",
            c.files
        ),
        Err(d) => d,
    }
}

/// A folder `root/project` holding the script, beside `root/secret.rhai` outside it.
fn project_with_a_file_outside(test: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new("sandbox", test);
    dir.write("secret.rhai", "fn f() { sine(1) }\n");
    let project = dir.0.join("project");
    std::fs::create_dir_all(project.join("patches")).unwrap();
    (dir, project)
}

#[test]
fn import_of_a_parent_path_is_refused() {
    let (_dir, project) = project_with_a_file_outside("parent");
    for path in ["../secret", "patches/../../secret", "./../secret"] {
        let d = refused(&project, &format!("import \"{path}\" as s;\ns::f()"));
        assert!(d.message.contains("import"), "{path}: {d}");
        assert!(d.message.contains(".."), "{path}: {d}");
        assert_eq!((d.line, d.col), (1, 8), "{path}: {d}");
    }
}

#[test]
fn import_of_an_absolute_path_is_refused() {
    let (dir, project) = project_with_a_file_outside("absolute");
    let d = refused(&project, "import \"/etc/hosts\" as h;\nsine(1)");
    assert!(d.message.contains("absolute"), "{d}");
    assert_eq!((d.line, d.col), (1, 8), "{d}");
    // Even when the absolute path names a real script that would otherwise compile.
    let secret = dir.0.join("secret.rhai");
    let d = refused(
        &project,
        &format!("import \"{}\" as s;\ns::f()", secret.display()),
    );
    assert!(d.message.contains("absolute"), "{d}");
}

#[test]
fn import_through_a_symlink_that_leaves_the_folder_is_refused() {
    let (dir, project) = project_with_a_file_outside("symlink");
    std::os::unix::fs::symlink(dir.0.join("secret.rhai"), project.join("patches/link.rhai"))
        .unwrap();
    let d = refused(&project, "import \"patches/link\" as s;\ns::f()");
    assert!(d.message.contains("outside"), "{d}");
    // A linked folder that leads outside is refused the same way.
    std::os::unix::fs::symlink(&dir.0, project.join("up")).unwrap();
    let d = refused(&project, "import \"up/secret\" as s;\ns::f()");
    assert!(d.message.contains("outside"), "{d}");
    // A link that stays inside the folder is fine.
    std::fs::write(project.join("patches/real.rhai"), "fn f() { sine(2) }\n").unwrap();
    std::os::unix::fs::symlink(
        project.join("patches/real.rhai"),
        project.join("patches/alias.rhai"),
    )
    .unwrap();
    compile_in(&project, "import \"patches/alias\" as s;\ns::f()").expect("inside link");
}

#[test]
fn plain_nested_imports_work_and_are_recorded() {
    let dir = TempDir::new("sandbox", "nested");
    let inner = dir.write("patches/deep/inner.rhai", "fn tone() { sine(220) }\n");
    let outer = dir.write(
        "patches/outer.rhai",
        "import \"patches/deep/inner\" as inner;\nfn voice() { inner::tone() * 0.5 }\n",
    );
    let main = dir.write(
        "main.rhai",
        "import \"patches/outer\" as outer;\nouter::voice()\n",
    );
    let c = compile_file(&main, SR).unwrap_or_else(|d| panic!("{}", d.render(None)));
    assert_eq!(c.files.len(), 3, "{:?}", c.files);
    assert_eq!(c.files[0], main);
    let canon: Vec<PathBuf> = c.files.iter().map(|f| f.canonicalize().unwrap()).collect();
    assert!(
        canon.contains(&outer.canonicalize().unwrap()),
        "{:?}",
        c.files
    );
    assert!(
        canon.contains(&inner.canonicalize().unwrap()),
        "{:?}",
        c.files
    );
    // sine + the multiplication.
    assert!(c.spec.nodes.len() >= 2);

    // A module imported twice is read once and recorded once.
    dir.write(
        "twice.rhai",
        "import \"patches/deep/inner\" as a;\nimport \"patches/deep/inner\" as b;\na::tone() + b::tone()\n",
    );
    let c = compile_file(&dir.0.join("twice.rhai"), SR).unwrap();
    assert_eq!(c.files.len(), 2, "{:?}", c.files);
}

#[test]
fn endless_loop_stops_with_an_error_in_under_a_second() {
    let start = Instant::now();
    let d = refused(Path::new("."), "loop {}\nsine(1)");
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(d.message.contains("too long"), "{d}");
    assert_eq!(d.line, 1, "{d}");

    // A loop that does work per turn stops as well.
    let start = Instant::now();
    let d = refused(
        Path::new("."),
        "let x = 0;\nwhile true { x += 1; }\nsine(1)",
    );
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(d.line, 2, "{d}");
}

#[test]
fn endless_recursion_stops_with_an_error() {
    let start = Instant::now();
    let d = refused(Path::new("."), "fn f(x) { f(x) }\nf(1)");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(d.message.contains("nested too deeply"), "{d}");
    // Through a closure too.
    let d = refused(
        Path::new("."),
        "fn g(h) { h.call(h) }\nlet h = |s| g(s);\ng(h)\n",
    );
    assert!(
        d.message.contains("nested too deeply") || d.message.contains("too long"),
        "{d}"
    );
}

#[test]
fn huge_strings_and_arrays_stop_with_an_error() {
    let d = refused(Path::new("."), "let s = \"x\";\nloop { s += s; }");
    assert!(d.message.contains("too large"), "{d}");
    assert_eq!(d.line, 2, "{d}");

    let d = refused(
        Path::new("."),
        "let s = \"\";\nfor i in 0..1000000 { s += \"abcdefgh\"; }\nsine(1)",
    );
    assert!(d.message.contains("too large"), "{d}");

    let d = refused(Path::new("."), "let a = [1];\nloop { a += a; }");
    assert!(d.message.contains("too large"), "{d}");
}

#[test]

fn endless_array_growth_stops_within_a_second() {
    let start = Instant::now();
    let d = refused(Path::new("."), "let a = [];\nloop { a.push(1); }");
    let took = start.elapsed();
    assert!(d.message.contains("too large"), "{d}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn eval_is_refused() {
    for src in [
        "eval(\"1\")",
        "let x = eval(\"1\");\nsine(x)",
        "call(Fn(\"eval\"), \"sine(1)\")",
        "let f = Fn(\"ev\" + \"al\");\nf.call(\"sine(1)\")",
    ] {
        let d = refused(Path::new("."), src);
        assert!(d.message.contains("eval"), "`{src}`: {d}");
    }
}

#[test]

fn eval_refusal_explains_why() {
    let d = refused(Path::new("."), "eval(\"1\")");
    let hint = d.hint.unwrap_or_default();
    assert!(hint.contains("eval is disabled"), "hint: {hint:?}");
}

#[test]
fn scripts_cannot_reach_files_or_processes() {
    // None of these exist in the sandboxed engine.
    for src in [
        "open_file(\"/etc/hosts\")",
        "read_file(\"/etc/hosts\")",
        "system(\"true\")",
        "sample(\"/etc/hosts\")",
    ] {
        let d = refused(Path::new("."), src);
        assert!(
            ["unknown function", "absolute", "outside"]
                .iter()
                .any(|w| d.message.contains(w)),
            "`{src}`: {d}"
        );
    }
}
