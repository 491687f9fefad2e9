//! Scripts are untrusted: imports stay inside the script's folder, runaway scripts stop
//! quickly with an error, and `eval` is unavailable.

mod common;
use common::{TempDir, thread_cpu};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use waves::script::{Compiled, Diagnostic, compile_file, compile_source};

const SR: f64 = 48_000.0;

/// What a runaway script may cost before a limit stops it, in CPU time of the compiling
/// thread: the limits count operations, so a busy machine, which only delays the thread,
/// cannot fail this, while a limit that stopped counting would.
const RUNAWAY_CPU: Duration = Duration::from_secs(1);

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
    let start = thread_cpu();
    let d = refused(Path::new("."), "loop {}\nsine(1)");
    let took = thread_cpu() - start;
    assert!(took < RUNAWAY_CPU, "took {took:?} of CPU time");
    assert!(d.message.contains("too long"), "{d}");
    assert_eq!(d.line, 1, "{d}");

    // A loop that does work per turn stops as well.
    let start = thread_cpu();
    let d = refused(
        Path::new("."),
        "let x = 0;\nwhile true { x += 1; }\nsine(1)",
    );
    let took = thread_cpu() - start;
    assert!(took < RUNAWAY_CPU, "took {took:?} of CPU time");
    assert_eq!(d.line, 2, "{d}");
}

#[test]
fn endless_recursion_stops_with_an_error() {
    let start = thread_cpu();
    let d = refused(Path::new("."), "fn f(x) { f(x) }\nf(1)");
    let took = thread_cpu() - start;
    assert!(took < RUNAWAY_CPU, "took {took:?} of CPU time");
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
    let start = thread_cpu();
    let d = refused(Path::new("."), "let a = [];\nloop { a.push(1); }");
    let took = thread_cpu() - start;
    assert!(d.message.contains("too large"), "{d}");
    assert!(took < RUNAWAY_CPU, "took {took:?} of CPU time");
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

// ---------------------------------------------------------------------------------------
// Samples, output names, resource limits and what Rhai itself offers.

/// A valid 16-bit mono WAV of `frames` frames.
fn wav(path: &Path, frames: usize) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..frames {
        w.write_sample((i as i32 * 37) as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn sample_paths_outside_the_folder_are_refused() {
    let (dir, project) = project_with_a_file_outside("samples");
    wav(&dir.0.join("x.wav"), 100);
    wav(&project.join("inside.wav"), 100);
    let outside = dir.0.join("x.wav");
    for (path, says) in [
        ("../x.wav", ".."),
        ("./../x.wav", ".."),
        ("patches/../../x.wav", ".."),
        ("..\\x.wav", ".."),
        (outside.to_str().unwrap(), "absolute"),
        ("/etc/passwd", "absolute"),
        ("C:x.wav", "absolute"),
        ("", "empty"),
    ] {
        let src = format!("sine(1) +\n  sample({path:?})");
        let d = refused(&project, &src);
        assert!(d.message.contains("sample"), "{path}: {d}");
        assert!(d.message.contains(says), "{path}: should say {says:?}: {d}");
        assert_eq!(d.line, 2, "{path}: {d}");
        assert!(d.col >= 3, "{path}: {d}");
    }
    // A link to a file outside, and a linked folder leading outside.
    std::os::unix::fs::symlink(&outside, project.join("link.wav")).unwrap();
    let d = refused(&project, "sample(\"link.wav\")");
    assert!(d.message.contains("outside"), "{d}");
    std::os::unix::fs::symlink(&dir.0, project.join("up")).unwrap();
    let d = refused(&project, "sample(\"up/x.wav\")");
    assert!(d.message.contains("outside"), "{d}");
    // A sample inside the folder plays, also through a link that stays inside.
    compile_in(&project, "sample(\"inside.wav\")").expect("inside");
    std::os::unix::fs::symlink(project.join("inside.wav"), project.join("alias.wav")).unwrap();
    compile_in(&project, "sample(\"alias.wav\")").expect("inside link");
    // Through an imported patch, the path still resolves in the entry script's folder.
    std::fs::write(
        project.join("patches/kit.rhai"),
        "fn hit() { sample(\"../x.wav\") }\n",
    )
    .unwrap();
    let d = refused(&project, "import \"patches/kit\" as kit;\nkit::hit()");
    assert!(d.message.contains(".."), "{d}");
}

#[test]
fn recording_names_cannot_leave_the_output_folder() {
    for name in [
        "../x.wav",
        "..",
        ".",
        "..x.wav",
        "a/b.wav",
        "/tmp/x.wav",
        // As written inside the Rhai string: a backslash, a NUL.
        "a\\\\b.wav",
        "x\\x00.wav",
        "",
    ] {
        let src = format!("let output_dir = \"out\";\nlet recording_filename = \"{name}\";\n");
        let d = match waves::config::parse(&src, "config.rhai") {
            Ok(l) => panic!("{name:?} was accepted as {:?}", l.config.recording_filename),
            Err(d) => d,
        };
        assert!(d.message.contains("recording_filename"), "{name:?}: {d}");
        assert_eq!(d.line, 2, "{name:?}: {d}");
    }
    let ok = waves::config::parse("let recording_filename = \"take 1.wav\";", "config.rhai")
        .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(ok.config.recording_filename, "take 1.wav");
    // A track name becomes part of a stem's file name.
    for name in ["../x", "a/b", "", ".."] {
        let d = refused(
            Path::new("."),
            &format!("pattern(\"x\").play(|v| sine(220) * v.gate).track({name:?})"),
        );
        assert!(d.message.contains("track"), "{name:?}: {d}");
    }
}

fn waves_in(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_waves"))
        .current_dir(dir)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run waves")
}

#[test]
fn output_names_from_the_command_line_and_config_are_checked() {
    let dir = TempDir::new("sandbox", "cli-output");
    dir.write("a.rhai", "duration(0.01);\nsine(440) * 0.1\n");
    // `--output` names a recording, so it belongs to playing; it is checked before anything
    // plays.
    for name in ["../x.wav", "sub/x.wav", "/tmp/x.wav", ".."] {
        let out = waves_in(
            &dir.0,
            &["a.rhai", "--output", name, "--record", "--duration", "0.01"],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains("--output"), "{name}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Playing"),
            "{name}: {err}"
        );
    }
    // `render` takes no recording name at all.
    let out = waves_in(&dir.0, &["render", "a.rhai", "--output", "x.wav"]);
    assert_eq!(out.status.code(), Some(2));
    // The same name in config.rhai stops `render` before it writes anything.
    dir.write(
        "config.rhai",
        "let recording_filename = \"../escape.wav\";\n",
    );
    let out = waves_in(&dir.0, &["render", "a.rhai", "-o", "fine.wav"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("recording_filename"), "{err}");
    assert!(err.contains("config.rhai:1:"), "{err}");
    assert!(!dir.0.join("fine.wav").exists());
    assert!(!dir.0.parent().unwrap().join("escape.wav").exists());
    // `render -o` is a path the user types, not a name a shared file chooses: it may
    // point anywhere the user can write, and is written there.
    std::fs::remove_file(dir.0.join("config.rhai")).unwrap();
    std::fs::create_dir_all(dir.0.join("elsewhere")).unwrap();
    let out = waves_in(&dir.0, &["render", "a.rhai", "-o", "elsewhere/b.wav"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.0.join("elsewhere/b.wav").exists());
}

/// Peak resident memory of this process (VmHWM), in bytes.
fn peak_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kb * 1024
}

/// Each runaway script stops with a clear error within a second, and the peak memory of
/// the whole test process grows by less than 500 MB over all of them.
#[test]
fn runaway_scripts_stop_quickly_with_bounded_memory() {
    let before = peak_memory();
    for (src, says) in [
        ("loop {}\nsine(1)", "too long"),
        ("fn f(x) { f(x + 1) }\nf(1)", "nested too deeply"),
        ("fn f(x) { 1 + f(x) }\nf(1)", "nested too deeply"),
        (
            "let s = \"0123456789abcdef\";\nloop { s += s; }",
            "too large",
        ),
        ("let a = [1, 2, 3];\nloop { a += a; }", "too large"),
        (
            "let m = #{};\nfor i in 0..1000000 { m[`k${i}`] = i; }",
            "too",
        ),
        ("let b = blob(100000000);\nsine(1)", "too large"),
        // Distinct strings in an array (shared ones would cost nothing).
        (
            "let s = \"0123456789abcdef\";\nfor i in 0..11 { s += s; }\nlet a = [];\nloop { a.push(s + a.len()); }",
            "too large",
        ),
        (
            "let s = sine(1);\nfor i in 0..1000000 { s = s + sine(i); }\ns",
            "too many nodes",
        ),
        (
            "let s = [];\nfor i in 0..1000000 { s.push(sine(i)); }\nmix(s)",
            "too large",
        ),
        (
            "let x = sine(1);\nfor i in 0..1000000 { x = x.lpf(1000).hpf(20); }\nx",
            "too many nodes",
        ),
        (
            &format!(
                "let x = {}1{};\nsine(x)",
                "(".repeat(10_000),
                ")".repeat(10_000)
            ),
            "maximum complexity",
        ),
    ] {
        let start = thread_cpu();
        let d = refused(Path::new("."), src);
        let took = thread_cpu() - start;
        let head: String = src.chars().take(60).collect();
        assert!(took < RUNAWAY_CPU, "`{head}` took {took:?} of CPU time");
        assert!(d.message.contains(says), "`{head}`: want {says:?}: {d}");
        assert!(d.line >= 1, "`{head}`: {d}");
    }
    let grew = peak_memory().saturating_sub(before);
    eprintln!("runaway scripts: peak memory grew by {} MB", grew >> 20);
    assert!(grew < 500 << 20, "peak memory grew by {} MB", grew >> 20);
}

#[test]
fn no_function_reaches_files_sockets_processes_or_the_environment() {
    let dir = TempDir::new("sandbox", "no-io");
    dir.write("notes.txt", "just some notes\n");
    for call in [
        "env(\"HOME\")",
        "getenv(\"HOME\")",
        "spawn(\"sh\")",
        "command(\"ls\")",
        "exec(\"ls\")",
        "socket(\"127.0.0.1:80\")",
        "connect(\"127.0.0.1:80\")",
        "http_get(\"http://example.com\")",
        "fetch(\"http://example.com\")",
        "write_file(\"x\", \"y\")",
        "read_dir(\".\")",
        "include(\"notes.txt\")",
        "require(\"notes.txt\")",
        "load(\"notes.txt\")",
        "Fn(\"read_file\").call(\"notes.txt\")",
    ] {
        let d = refused(&dir.0, &format!("let r = {call};\nsine(1)"));
        assert!(
            [
                "unknown function",
                "not found",
                "Unknown",
                "Expecting",
                "reserved"
            ]
            .iter()
            .any(|w| d.message.contains(w)),
            "`{call}`: {d}"
        );
        assert!(!d.message.contains("just some notes"), "`{call}`: {d}");
    }
    // Rhai's `sleep` would block the compile (and a reload) without counting operations.
    for call in ["sleep(1000000000)", "sleep(1e9)", "sleep(3600.0)"] {
        // A sleep costs no CPU time, so this one is wall time: generous for a busy
        // machine, and still a fraction of the shortest sleep asked for here.
        let start = Instant::now();
        let d = refused(&dir.0, &format!("{call};\nsine(1)"));
        assert!(start.elapsed() < Duration::from_secs(30), "{call}");
        assert!(
            d.message.contains("sleep is not available"),
            "`{call}`: {d}"
        );
        assert_eq!((d.line, d.col), (1, 1), "`{call}`: {d}");
    }
    // What core Rhai does offer is harmless: `exit(x)` ends the script with x, and
    // `parse_json` turns text into a map.
    compile_in(&dir.0, "exit(sine(1));\nloop {}").expect("exit ends the script");
    compile_in(&dir.0, "let m = parse_json(`{\"f\": 220}`);\nsine(m.f)").expect("parse_json");
}

#[test]
fn imports_read_only_rhai_source_inside_the_folder() {
    let dir = TempDir::new("sandbox", "import-kinds");
    dir.write("notes.txt", "just some notes\n");
    std::fs::write(dir.0.join("drum.wav"), [0x52u8, 0x49, 0xff, 0xfe, 0x00]).unwrap();
    // A text file is read as a Rhai script: its own parse error, pointing into it.
    let d = refused(&dir.0, "import \"notes.txt\" as n;\nsine(1)");
    assert!(d.file.ends_with("notes.txt"), "{d}");
    assert_eq!(d.line, 1, "{d}");
    // A binary file cannot be read as a script.
    let d = refused(&dir.0, "import \"drum.wav\" as d;\nsine(1)");
    assert!(d.message.contains("cannot be read"), "{d}");
    assert_eq!((d.line, d.col), (1, 8), "{d}");
    // A folder, a missing file and Rhai's own package names are not modules.
    std::fs::create_dir_all(dir.0.join("kit.rhai")).unwrap();
    for path in ["kit", "missing", "std", "fs", "io"] {
        let d = refused(&dir.0, &format!("import \"{path}\" as m;\nsine(1)"));
        assert!(d.message.contains("import"), "{path}: {d}");
        assert_eq!(d.line, 1, "{path}: {d}");
    }
}

/// `print` and `debug` exist (handy while writing a patch) but write to stderr, at most
/// 64 KiB per compile, and a closed stdout cannot make them panic. `timestamp()` exists: a
/// script can read a clock (and so could build a different graph each run), nothing more.
#[test]
fn print_debug_and_timestamp_are_harmless() {
    let dir = TempDir::new("sandbox", "print");
    dir.write(
        "hello.rhai",
        "print(\"hello from print\");\ndebug(\"dbg\");\nlet t = timestamp();\nlet e = t.elapsed;\nsine(1)\n",
    );
    dir.write(
        "flood.rhai",
        "let s = \"0123456789abcdef\";\nfor i in 0..10 { s += s; }\nloop { print(s); debug(s); }\n",
    );
    // stdout is a pipe whose reader has gone: writing to it fails with EPIPE. stderr goes
    // to a file, so the process can be reaped with `wait4`, which reports its CPU time.
    let run = |file: &str| {
        let err_path = dir.0.join(format!("{file}.stderr"));
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_waves"))
            .current_dir(&dir.0)
            .args(["check", file])
            .env_remove("RUST_BACKTRACE")
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let (code, cpu) = wait_with_cpu_time(child);
        (code, std::fs::read(&err_path).unwrap(), cpu)
    };
    let (code, stderr, _) = run("hello.rhai");
    let err = String::from_utf8_lossy(&stderr);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("hello from print\n"), "{err}");
    assert!(err.contains("debug: hello.rhai:2:1: \"dbg\""), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let (code, stderr, cpu) = run("flood.rhai");
    let err = String::from_utf8_lossy(&stderr);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("ran too long"), "{err}");
    assert!(err.contains("the rest is not shown"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(stderr.len() < 70 * 1024, "{} bytes", stderr.len());
    // The whole process (start, compile, the flood, exit) in CPU time, user and system.
    assert!(cpu < Duration::from_secs(2), "took {cpu:?} of CPU time");
}

/// Waits for `child` and returns its exit code and the CPU time it used (user + system),
/// from `wait4`.
fn wait_with_cpu_time(child: std::process::Child) -> (Option<i32>, Duration) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped (std only reaps in `wait`, which is
    // never called on it); `status` and `usage` are valid to write into.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    drop(child);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, tv(usage.ru_utime) + tv(usage.ru_stime))
}

// ---------------------------------------------------------------------------------------
// Hostile imports, files that are not files, memory and time bombs (issue 15).

/// Runs `f` on its own thread (with the default 2 MiB test stack) and fails the test if it
/// does not finish within `secs` of wall time: a blocked open or an endless recursion must
/// fail, not hang the suite.
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap();
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("{what}: no answer within {secs} s (blocked or crashed)"))
}

fn compile_path(path: PathBuf) -> Result<Compiled, Diagnostic> {
    compile_file(&path, SR)
}

#[test]
fn an_import_cycle_is_an_error_naming_the_chain() {
    let dir = TempDir::new("sandbox", "cycle");
    // A patch that imports itself.
    dir.write("t.rhai", "import \"t\" as me;\nfn f() { sine(1) }\n");
    let d = within(10, "self-import", {
        let p = dir.0.join("t.rhai");
        move || compile_path(p).unwrap_err()
    });
    assert!(d.message.contains("import cycle"), "{d}");
    let t = dir.0.join("t.rhai").display().to_string();
    assert!(d.message.contains(&format!("{t} → {t}")), "{d}");
    assert!(
        d.file.ends_with("t.rhai") && (d.line, d.col) == (1, 8),
        "{d}"
    );
    // a → b → a, from a script that imports a.
    dir.write("a.rhai", "fn f() { sine(1) }\nimport \"b\" as b;\n");
    dir.write("b.rhai", "\n  import \"a\" as a;\nfn g() { sine(2) }\n");
    dir.write("main.rhai", "import \"a\" as a;\na::f()\n");
    let d = within(10, "a → b → a", {
        let p = dir.0.join("main.rhai");
        move || compile_path(p).unwrap_err()
    });
    let shown = |n: &str| dir.0.join(n).display().to_string();
    let chain = format!(
        "{} → {} → {}",
        shown("a.rhai"),
        shown("b.rhai"),
        shown("a.rhai")
    );
    assert!(d.message.contains(&chain), "want {chain}: {d}");
    assert_eq!(
        (d.file.as_str(), d.line, d.col),
        (shown("b.rhai").as_str(), 2, 10),
        "{d}"
    );
    // The entry script itself imported back.
    dir.write("c.rhai", "import \"main2\" as m;\nfn f() { sine(1) }\n");
    dir.write("main2.rhai", "import \"c\" as c;\nc::f()\n");
    let d = within(10, "main2 → c → main2", {
        let p = dir.0.join("main2.rhai");
        move || compile_path(p).unwrap_err()
    });
    let chain = format!(
        "{} → {} → {}",
        shown("main2.rhai"),
        shown("c.rhai"),
        shown("main2.rhai")
    );
    assert!(d.message.contains(&chain), "want {chain}: {d}");
}

#[test]
fn import_chains_deeper_than_the_limit_are_refused_without_overflow() {
    let dir = TempDir::new("sandbox", "deep");
    let n = 3000;
    for i in 0..n {
        dir.write(
            &format!("p{i}.rhai"),
            &format!("import \"p{}\" as next;\nfn f() {{ sine({i}) }}\n", i + 1),
        );
    }
    dir.write(&format!("p{n}.rhai"), "fn f() { sine(1) }\n");
    dir.write("main.rhai", "import \"p0\" as p;\np::f()\n");
    let d = within(20, "a chain of 3000 imports", {
        let p = dir.0.join("main.rhai");
        move || compile_path(p).unwrap_err()
    });
    assert!(d.message.contains("more than 32 deep"), "{d}");
    assert_eq!((d.line, d.col), (1, 8), "{d}");
    // 32 levels are allowed, on a 2 MiB stack.
    dir.write("p31.rhai", "fn f() { sine(1) }\n");
    let c = within(20, "a chain of 32 imports", {
        let p = dir.0.join("main.rhai");
        move || compile_path(p)
    });
    let c = c.unwrap_or_else(|d| panic!("32 nested imports must compile: {d}"));
    assert_eq!(c.files.len(), 33);
}

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

#[test]
fn a_fifo_as_script_import_sample_or_config_is_refused_without_blocking() {
    let dir = TempDir::new("sandbox", "fifo");
    mkfifo(&dir.0.join("pipe.rhai"));
    mkfifo(&dir.0.join("pipe.wav"));
    for (src, says) in [
        ("import \"pipe\" as p;\nsine(1)", "FIFO"),
        ("sample(\"pipe.wav\")", "FIFO"),
        ("import \"sub\" as p;\nsine(1)", "folder"),
    ] {
        std::fs::create_dir_all(dir.0.join("sub.rhai")).unwrap();
        let root = dir.0.clone();
        let d = within(10, src, move || refused(&root, src));
        assert!(d.message.contains(says), "{src}: {d}");
        assert_eq!(d.line, 1, "{src}: {d}");
    }
    let d = within(10, "the script itself", {
        let p = dir.0.join("pipe.rhai");
        move || compile_path(p).unwrap_err()
    });
    assert!(d.message.contains("FIFO"), "{d}");
    let d = within(10, "config.rhai", {
        let p = dir.0.join("pipe.rhai");
        move || waves::config::load(&p).err().unwrap()
    });
    assert!(d.message.contains("FIFO"), "{d}");
    // `waves check` on it ends at once with the error.
    let out = within(20, "waves check pipe.rhai", {
        let d = dir.0.clone();
        move || waves_in(&d, &["check", "pipe.rhai"])
    });
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("FIFO"),
        "{out:?}"
    );
}

fn compile_limited(root: &Path, src: &str, limit: u64) -> Result<Compiled, Diagnostic> {
    let ov = waves::script::Overrides::new().with_memory_limit(limit);
    waves::script::compile_source_with(src, "main.rhai", root, SR, &ov)
}

#[test]
fn memory_bombs_are_refused_before_anything_is_allocated() {
    let before = peak_memory();
    for (src, says) in [
        // 1024 voices × a 30 s line: 5.9 GB in one allocation.
        (
            "poly(1024, |v| sine(440 + v.index).delay(30, 0.5))",
            "delay at main.rhai:1:36",
        ),
        (
            "let x = sine(1);\nfor i in 0..1000 { x = x.delay(30, 0.1); }\nx",
            "delay at main.rhai:2:",
        ),
        (
            "let x = sine(1);\nfor i in 0..400 { x = x.reverb(0.5).delay(29.9, 0.1); }\nx",
            "delay",
        ),
    ] {
        let start = thread_cpu();
        let d = match compile_limited(Path::new("."), src, 1 << 30) {
            Ok(_) => panic!("`{src}` must be refused"),
            Err(d) => d,
        };
        let took = thread_cpu() - start;
        assert!(d.message.contains("more memory than allowed"), "{src}: {d}");
        assert!(d.message.contains("1.0 GiB"), "{src}: {d}");
        assert!(d.message.contains(says), "{src}: want {says:?}: {d}");
        assert!(d.line >= 1, "{src}: {d}");
        assert!(took < Duration::from_secs(5), "`{src}` took {took:?}");
    }
    // The default budget is the same 1 GiB.
    let d = refused(
        Path::new("."),
        "poly(1024, |v| sine(440 + v.index).delay(30, 0.5))",
    );
    assert!(d.message.contains("1.0 GiB"), "{d}");
    let grew = peak_memory().saturating_sub(before);
    eprintln!("memory bombs: peak memory grew by {} MB", grew >> 20);
    assert!(grew < 1 << 30, "peak memory grew by {} MB", grew >> 20);
    // 3000 large pattern tables (200 KiB each) cross a 256 MiB budget at a sequencer.
    let src = format!(
        "let x = sine(1);\nfor i in 0..3000 {{ x = x + pattern(\"{}\").gate() * 0.001 * i; }}\nx",
        "[c3 e3 g3 b3]*8 ".repeat(200)
    );
    let d = compile_limited(Path::new("."), &src, 256 << 20).unwrap_err();
    assert!(
        d.message.contains("more memory than allowed") && d.message.contains("seq"),
        "{d}"
    );
    assert_eq!(d.line, 2, "{d}");
    // A modest piece fits a small budget.
    compile_limited(
        Path::new("."),
        "sine(1).delay(1, 0.5).reverb(0.3)",
        16 << 20,
    )
    .unwrap();
}

#[test]
fn one_sample_file_under_many_names_is_read_once() {
    let dir = TempDir::new("sandbox", "links");
    wav(&dir.0.join("big.wav"), 48_000 * 60);
    let mut src = String::from("let x = sine(1);\n");
    for i in 0..20 {
        std::fs::hard_link(dir.0.join("big.wav"), dir.0.join(format!("link{i}.wav"))).unwrap();
        src.push_str(&format!("x = x + sample(\"link{i}.wav\");\n"));
    }
    src.push_str("x\n");
    // 20 copies would need 220 MiB; one is 11 MiB.
    let c = compile_limited(&dir.0, &src, 64 << 20).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(c.files.len(), 20, "every name is still watched");
    // Distinct samples do count: a budget smaller than one is refused from the header.
    let d = compile_limited(&dir.0, "sample(\"big.wav\")", 8 << 20).unwrap_err();
    assert!(d.message.contains("memory_limit"), "{d}");
}

#[test]
fn huge_sources_and_many_imports_stop_within_a_second() {
    let dir = TempDir::new("sandbox", "huge");
    // A 2 GiB import (sparse: nothing is written) is refused from its size.
    let f = std::fs::File::create(dir.0.join("huge.rhai")).unwrap();
    f.set_len(2 << 30).unwrap();
    let start = thread_cpu();
    let d = refused(&dir.0, "import \"huge\" as h;\nsine(1)");
    assert!(d.message.contains("too large"), "{d}");
    assert!(thread_cpu() - start < RUNAWAY_CPU);
    // A script over 1 MiB.
    let big = "let a = 1;\n".repeat(100_000);
    let d = refused(&dir.0, &big);
    assert!(d.message.contains("too large"), "{d}");
    // 1000 imports each running as long as one script may: one budget for them all.
    let mut main = String::new();
    for i in 0..1000 {
        dir.write(
            &format!("busy{i}.rhai"),
            "let n = 0;\nfor i in 0..1000000 { n += 1; }\nfn f() { sine(1) }\n",
        );
        main.push_str(&format!("import \"busy{i}\" as b{i};\n"));
    }
    main.push_str("sine(1)\n");
    let start = thread_cpu();
    let d = refused(&dir.0, &main);
    let took = thread_cpu() - start;
    assert!(d.message.contains("too long"), "{d}");
    assert!(took < RUNAWAY_CPU, "1000 busy imports took {took:?}");
}

#[test]
fn a_large_script_compiles_or_is_refused_in_well_under_a_second() {
    // Rhai parses declarations in time quadratic in their number: 10 000 are allowed.
    let lets = |n: usize| {
        let mut src = String::new();
        for i in 0..n {
            src.push_str(&format!("let a{i} = {i};\n"));
        }
        src + "sine(a1)\n"
    };
    let start = thread_cpu();
    compile_in(Path::new("."), &lets(10_000)).unwrap_or_else(|d| panic!("{d}"));
    let took = thread_cpu() - start;
    eprintln!("10 000 declarations compiled in {took:?}");
    assert!(took < RUNAWAY_CPU, "10 000 declarations took {took:?}");
    let start = thread_cpu();
    let d = refused(Path::new("."), &lets(50_000));
    let took = thread_cpu() - start;
    eprintln!("50 000 declarations refused in {took:?}");
    assert!(d.message.contains("too many variables"), "{d}");
    assert_eq!((d.line, d.col), (10_001, 1), "{d}");
    assert!(took < RUNAWAY_CPU, "50 000 declarations took {took:?}");
    // Many lines without declarations parse in linear time.
    let src = "sine(1) +\n".repeat(30_000) + "sine(2)\n";
    let start = thread_cpu();
    let r = compile_in(Path::new("."), &src);
    let took = thread_cpu() - start;
    eprintln!("a 30 000-line expression ended in {took:?}: {:?}", r.err());
    assert!(took < RUNAWAY_CPU, "a 30 000-line expression took {took:?}");
}

#[test]
fn positions_are_real_and_long_lines_are_clipped() {
    // An error 4000 characters into a line: the real column, a clipped line.
    let line = format!("{}sinee(1);", "let x = 1; ".repeat(400));
    let d = refused(Path::new("."), &format!("{line}\nsine(1)"));
    let col = line.find("sinee").unwrap() + 1;
    assert_eq!((d.line, d.col), (1, col), "{d}");
    let shown = d.render(Some(&line));
    assert!(shown.len() < 600, "{shown}");
    let lines: Vec<&str> = shown.lines().collect();
    let src = lines
        .iter()
        .position(|l| l.contains("sinee(1)"))
        .expect("the line");
    let at = |l: &str, pat: char| l.chars().position(|c| c == pat).unwrap();
    let bar = at(lines[src], '|');
    assert_eq!(
        at(lines[src + 1], '^') - bar,
        lines[src].chars().skip(bar).position(|c| c == 's').unwrap(),
        "{shown}"
    );
    // Past column 65 535 Rhai cannot count: refused at the real column.
    let long = format!("let x = \"{}\";\nsine(1)", "y".repeat(70_000));
    let d = refused(Path::new("."), &long);
    assert_eq!((d.line, d.col), (1, 65_536), "{d}");
    assert!(d.render(Some(&long)).len() < 600);
}

#[test]
fn a_byte_order_mark_is_accepted() {
    compile_in(Path::new("."), "\u{feff}sine(1)").unwrap_or_else(|d| panic!("{d}"));
    let dir = TempDir::new("sandbox", "bom");
    dir.write("p.rhai", "\u{feff}fn f() { sine(1) }\n");
    compile_in(&dir.0, "import \"p\" as p;\np::f()").unwrap_or_else(|d| panic!("{d}"));
    let p = dir.write("config.rhai", "\u{feff}let master_gain = 0.5;\n");
    assert_eq!(waves::config::load(&p).unwrap().config.master_gain, 0.5);
}

#[test]
fn a_thrown_value_is_named_in_words() {
    for (src, says) in [
        ("throw sine(1)", "threw a signal"),
        ("throw [1, 2]", "threw an array"),
        ("throw pattern(\"x\")", "threw a pattern"),
    ] {
        let d = refused(Path::new("."), src);
        assert!(d.message.contains(says), "{src}: {d}");
        assert!(!d.to_string().contains("::"), "{src}: {d}");
    }
}

#[test]
fn memory_limit_is_a_config_key_in_mib() {
    let l = waves::config::parse("let memory_limit = 64;", "c.rhai").unwrap();
    assert_eq!(l.config.memory_limit, 64 << 20);
    assert!(waves::config::parse("let memory_limit = 1;", "c.rhai").is_err());
    assert_eq!(waves::config::Config::default().memory_limit, 1 << 30);
}
