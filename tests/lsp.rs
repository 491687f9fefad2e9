//! `waves lsp` as an editor sees it: the real binary, spoken to in JSON-RPC with
//! Content-Length framing over its stdin and stdout.

mod common;
use common::TempDir;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// How long any one answer may take: generous for a busy machine, short enough that a
/// server that never answers fails the test instead of hanging it.
const TIMEOUT: Duration = Duration::from_secs(20);

struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Value>,
    /// Messages read while waiting for something else.
    backlog: Vec<Value>,
    next_id: i64,
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_waves"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn waves lsp");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut len = None;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length:") {
                        len = Some(v.trim().parse::<usize>().expect("Content-Length value"));
                    }
                }
                let mut body = vec![0; len.expect("a Content-Length header")];
                if r.read_exact(&mut body).is_err() {
                    return;
                }
                let v: Value = serde_json::from_slice(&body).expect("a JSON message");
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Client {
            child,
            stdin,
            rx,
            backlog: Vec::new(),
            next_id: 1,
        }
    }

    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        let stdin = self.stdin.as_mut().expect("stdin open");
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn next(&mut self) -> Value {
        match self.rx.recv_timeout(TIMEOUT) {
            Ok(v) => v,
            Err(RecvTimeoutError::Timeout) => panic!("no message from the server in {TIMEOUT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the server closed its output"),
        }
    }

    /// The first message (already read or still to come) that `wanted` accepts.
    fn wait_for(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.backlog.iter().position(&wanted) {
            return self.backlog.remove(i);
        }
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            let v = self.next();
            if wanted(&v) {
                return v;
            }
            self.backlog.push(v);
        }
        panic!("the expected message did not come; got {:?}", self.backlog);
    }

    /// Sends a request and returns its result (panics on an error response).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let resp = self.wait_for(|v| v["id"] == json!(id) && v.get("method").is_none());
        assert!(
            resp.get("error").is_none(),
            "{method} failed: {}",
            resp["error"]
        );
        resp["result"].clone()
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let n = self.wait_for(|v| {
            v["method"] == "textDocument/publishDiagnostics" && v["params"]["uri"] == uri
        });
        n["params"]["diagnostics"].as_array().unwrap().clone()
    }

    fn initialize(&mut self, root: &Path) -> Value {
        let result = self.request(
            "initialize",
            json!({"processId": null, "rootUri": uri(root), "capabilities": {}}),
        );
        self.notify("initialized", json!({}));
        result
    }

    fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "rhai", "version": 1, "text": text}}),
        );
    }

    fn at(&mut self, method: &str, uri: &str, line: u32, character: u32) -> Value {
        self.request(
            method,
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}),
        )
    }

    /// shutdown, exit, and the exit status.
    fn finish(mut self) -> std::process::ExitStatus {
        assert_eq!(self.request("shutdown", Value::Null), Value::Null);
        self.notify("exit", Value::Null);
        drop(self.stdin.take());
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit after shutdown and exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // A failed assertion must not leave a server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Asserts that `location` (an LSP Location) is `file` at `line`:`character` (0-based).
fn assert_at(location: &Value, file: &Path, line: u32, character: u32) {
    assert_eq!(location["uri"], json!(uri(file)), "{location}");
    assert_eq!(
        location["range"]["start"],
        json!({"line": line, "character": character}),
        "{location}"
    );
}

fn labels(items: &Value) -> Vec<String> {
    let items = items.get("items").unwrap_or(items);
    items
        .as_array()
        .expect("completion items")
        .iter()
        .map(|i| i["label"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_scripted_editor_session() {
    let dir = TempDir::new("lsp", "session");
    let root = dir.0.canonicalize().unwrap();
    dir.write(
        "patches/kit.rhai",
        "// A small kit.\nfn kick() { sine(50) }\n\n// A plucked bass at f Hz.\nfn bass(f) { saw(f).lpf(400) }\n",
    );
    let main = root.join("main.rhai");
    let main_uri = uri(&main);
    let mut c = Client::start();

    let init = c.initialize(&root);
    let caps = &init["capabilities"];
    assert_eq!(caps["textDocumentSync"], json!(1), "full sync: {caps}");
    assert!(
        caps["completionProvider"]["triggerCharacters"]
            .as_array()
            .is_some_and(|t| t.contains(&json!(".")))
    );
    assert_eq!(caps["hoverProvider"], json!(true));
    assert!(
        caps["signatureHelpProvider"]["triggerCharacters"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("(")))
    );
    assert_eq!(caps["definitionProvider"], json!(true));

    // An unknown function on the second line, where `waves check` would point.
    c.open(&main_uri, "// a tone\nlet tone = sinee(440) * 0.2;\ntone\n");
    let d = c.diagnostics(&main_uri);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        d[0]["range"]["start"],
        json!({"line": 1, "character": 11}),
        "{d:?}"
    );
    assert_eq!(
        d[0]["range"]["end"],
        json!({"line": 1, "character": 16}),
        "{d:?}"
    );
    assert_eq!(d[0]["severity"], json!(1));
    let msg = d[0]["message"].as_str().unwrap();
    assert!(msg.contains("unknown function `sinee`"), "{msg}");
    assert!(msg.contains("hint: did you mean `sine`?"), "{msg}");

    // Fixed: the diagnostics are cleared.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main_uri, "version": 2},
               "contentChanges": [{"text": "// a tone\nlet tone = sine(440) * 0.2;\ntone\n"}]}),
    );
    assert_eq!(c.diagnostics(&main_uri), Vec::<Value>::new());

    let text = "import \"patches/kit\" as kit;\nlet a = lp\nlet b = saw(110).lp\nlet c = saw(220).reverb(0.3);\nlet d = saw(110).lpf(800, \nkit::bass(55) * 0.5\nfn twice(s) { s * 2 }\ntwi\n";
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main_uri, "version": 3},
               "contentChanges": [{"text": text}]}),
    );
    let d = c.diagnostics(&main_uri);
    assert_eq!(d.len(), 1, "half-typed text has an error: {d:?}");

    // `lp` as a function: lpf is there, with its signature and reference line.
    let items = c.at("textDocument/completion", &main_uri, 1, 10);
    let names = labels(&items);
    assert!(names.contains(&"lpf".to_string()), "{names:?}");
    assert!(
        !names.contains(&"saw".to_string()),
        "only names starting with lp: {names:?}"
    );
    let list = items
        .get("items")
        .unwrap_or(&items)
        .as_array()
        .unwrap()
        .clone();
    let lpf = list.iter().find(|i| i["label"] == "lpf").unwrap();
    assert!(
        lpf["detail"].as_str().unwrap().contains("x.lpf(cut, q)"),
        "{lpf}"
    );
    let doc = lpf["documentation"]["value"].as_str().unwrap();
    assert!(
        doc.contains("resonant low-pass") && doc.contains("saw(110).lpf(800)"),
        "{doc}"
    );

    // After a dot, only methods.
    let names = labels(&c.at("textDocument/completion", &main_uri, 2, 19));
    assert!(names.contains(&"lpf".to_string()), "{names:?}");
    let names = labels(&c.at("textDocument/completion", &main_uri, 3, 17));
    assert!(names.contains(&"reverb".to_string()), "{names:?}");
    assert!(
        !names.contains(&"sine".to_string()),
        "sine is no method: {names:?}"
    );

    // Hover on `reverb`: its reference text, from the same table as `waves reference`.
    let hover = c.at("textDocument/hover", &main_uri, 3, 20);
    let shown = hover["contents"]["value"].as_str().unwrap();
    for f in waves::script::dsl::functions()
        .iter()
        .filter(|f| f.name == "reverb")
    {
        assert!(shown.contains(f.doc), "hover lacks {:?}: {shown}", f.doc);
        assert!(
            shown.contains(f.example),
            "hover lacks {:?}: {shown}",
            f.example
        );
    }
    assert_eq!(hover["range"]["start"], json!({"line": 3, "character": 17}));

    // Signature help inside `lpf(`: the forms, the one with a second parameter active.
    let help = c.at("textDocument/signatureHelp", &main_uri, 4, 21);
    let sigs: Vec<&str> = help["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(sigs, ["x.lpf(cut)", "x.lpf(cut, q)"], "{help}");
    assert_eq!(help["activeParameter"], json!(0));
    let help = c.at("textDocument/signatureHelp", &main_uri, 4, 26);
    assert_eq!(help["activeParameter"], json!(1), "{help}");
    assert_eq!(help["activeSignature"], json!(1), "{help}");
    let q = &help["signatures"][1]["parameters"][1]["label"];
    assert_eq!(q, &json!([11, 12]), "the `q` in x.lpf(cut, q): {help}");

    // Go to definition of an imported patch's function: its `fn` line in the patch.
    let loc = c.at("textDocument/definition", &main_uri, 5, 6);
    assert_at(&loc, &root.join("patches/kit.rhai"), 4, 3);

    // A patch's functions: completed after `kit::`, hovered with the comment above them.
    let names = labels(&c.at("textDocument/completion", &main_uri, 5, 5));
    assert_eq!(names, ["kick", "bass"]);
    let hover = c.at("textDocument/hover", &main_uri, 5, 6);
    let shown = hover["contents"]["value"].as_str().unwrap();
    assert!(
        shown.contains("kit::bass(f)") && shown.contains("A plucked bass at f Hz."),
        "{shown}"
    );

    // The alias itself leads to the patch file; the script's own `fn` is completed and
    // found.
    let loc = c.at("textDocument/definition", &main_uri, 5, 1);
    assert_at(&loc, &root.join("patches/kit.rhai"), 0, 0);
    let items = c.at("textDocument/completion", &main_uri, 7, 3);
    let list = items
        .get("items")
        .unwrap_or(&items)
        .as_array()
        .unwrap()
        .clone();
    let twice = list.iter().find(|i| i["label"] == "twice").expect("twice");
    assert_eq!(twice["detail"], json!("fn twice(s)"));
    let loc = c.at("textDocument/definition", &main_uri, 7, 1);
    assert_eq!(loc, Value::Null, "`twi` is no function: {loc}");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main_uri, "version": 4},
               "contentChanges": [{"text": text.replace("\ntwi\n", "\ntwice(1)\n")}]}),
    );
    c.diagnostics(&main_uri);
    let loc = c.at("textDocument/definition", &main_uri, 7, 1);
    assert_eq!(loc["uri"], json!(main_uri), "{loc}");
    assert_eq!(
        loc["range"]["start"],
        json!({"line": 6, "character": 3}),
        "{loc}"
    );

    // The fixed script with its import compiles: imports resolve in the document's folder.
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main_uri, "version": 5},
               "contentChanges": [{"text": "import \"patches/kit\" as kit;\nkit::bass(55) * 0.5\n"}]}),
    );
    assert_eq!(c.diagnostics(&main_uri), Vec::<Value>::new());

    let status = c.finish();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn errors_in_imports_and_hostile_text() {
    let dir = TempDir::new("lsp", "imports");
    let root = dir.0.canonicalize().unwrap();
    dir.write("patches/bad.rhai", "fn hit() {\n  sinee(3)\n}\n");
    dir.write("patches/broken.rhai", "fn x( {\n");
    let mut c = Client::start();
    c.initialize(&root);

    // A runtime error inside a patch: reported where this document calls into it, naming
    // the patch's file and line, and linked to it.
    let main = uri(&root.join("main.rhai"));
    c.open(
        &main,
        "import \"patches/bad\" as bad;\n\nbad::hit() * 0.5\n",
    );
    let d = c.diagnostics(&main);
    assert_eq!(d.len(), 1, "{d:?}");
    let msg = d[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("patches/bad.rhai:2:3") && msg.contains("`sinee`"),
        "{msg}"
    );
    assert!(msg.contains("note: in a call to hit() at"), "{msg}");
    assert_eq!(d[0]["range"]["start"]["line"], json!(2), "{d:?}");
    let related = &d[0]["relatedInformation"][0]["location"];
    assert_at(related, &root.join("patches/bad.rhai"), 1, 2);

    // A patch that does not parse: reported at the import.
    let other = uri(&root.join("other.rhai"));
    c.open(
        &other,
        "sine(1);\nimport \"patches/broken\" as b;\nsine(2)\n",
    );
    let d = c.diagnostics(&other);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .contains("patches/broken.rhai"),
        "{d:?}"
    );
    assert_eq!(d[0]["range"]["start"]["line"], json!(1), "{d:?}");
    // Closed, its diagnostics go.
    c.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": other}}),
    );
    assert_eq!(c.diagnostics(&other), Vec::<Value>::new());

    // Text that runs forever, recurses without end or stops mid-string: one diagnostic
    // each, and the server keeps answering.
    for (i, text) in [
        "loop {}",
        "fn f(x) { f(x + 1) }\nf(0)",
        "let s = \"abc",
        "\u{1F3B5}(",
    ]
    .iter()
    .enumerate()
    {
        let u = uri(&root.join(format!("hostile{i}.rhai")));
        c.open(&u, text);
        let d = c.diagnostics(&u);
        assert_eq!(d.len(), 1, "{text:?}: {d:?}");
        assert!(
            !d[0]["message"].as_str().unwrap().contains("internal"),
            "{d:?}"
        );
    }
    let names = labels(&c.at("textDocument/completion", &main, 2, 0));
    assert!(names.contains(&"sine".to_string()), "{names:?}");

    let status = c.finish();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn voices_closures_own_functions_and_warnings() {
    let dir = TempDir::new("lsp", "voices");
    let root = dir.0.canonicalize().unwrap();
    let doc = uri(&root.join("voices.rhai"));
    let mut c = Client::start();
    c.initialize(&root);

    // A warning is published as one, beside the error it may explain.
    c.open(&doc, "let a = sine(440) * (1/4);\na\n");
    let d = c.diagnostics(&doc);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["severity"], json!(2), "a warning: {d:?}");
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .contains("integer division"),
        "{d:?}"
    );
    assert_eq!(d[0]["range"]["start"], json!({"line": 0, "character": 22}));
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": doc, "version": 2},
               "contentChanges": [{"text": "let a = sine(440) * (1/4);\nsinee(3)\n"}]}),
    );
    let d = c.diagnostics(&doc);
    let severities: Vec<&Value> = d.iter().map(|d| &d["severity"]).collect();
    assert_eq!(severities, [&json!(1), &json!(2)], "{d:?}");

    // A function defined after a `;`, and a closure with two parameters.
    let text = "let x = 1; fn pad(f, g) { saw(f) }\npoly(4, |v, w| pad(v.index, w) * sine(v.\n";
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": doc, "version": 3},
               "contentChanges": [{"text": text}]}),
    );
    c.diagnostics(&doc);
    // After `v.`: what a voice holds, not the signal methods.
    let names = labels(&c.at("textDocument/completion", &doc, 1, 40));
    for f in ["freq", "gate", "vel", "note", "index", "count"] {
        assert!(names.contains(&f.to_string()), "{f} missing: {names:?}");
    }
    assert!(!names.contains(&"lpf".to_string()), "{names:?}");
    // The closure's `|v, w|` comma is not poly's: its instrument is the second argument.
    let help = c.at("textDocument/signatureHelp", &doc, 1, 15);
    assert_eq!(help["activeParameter"], json!(1), "{help}");
    let poly = help["signatures"][help["activeSignature"].as_u64().unwrap() as usize]["label"]
        .as_str()
        .unwrap();
    assert!(poly.starts_with("poly("), "{help}");
    // The script's own function: its signature, and where it is defined.
    let help = c.at("textDocument/signatureHelp", &doc, 1, 28);
    assert_eq!(help["signatures"][0]["label"], json!("pad(f, g)"), "{help}");
    assert_eq!(help["activeParameter"], json!(1), "{help}");
    let loc = c.at("textDocument/definition", &doc, 1, 16);
    assert_at(&loc, &root.join("voices.rhai"), 0, 14);
    let names = labels(&c.at("textDocument/completion", &doc, 1, 17));
    assert!(names.contains(&"pad".to_string()), "{names:?}");

    // A slow compile does not hold up the editor: a hover sent while it runs is
    // answered before its diagnostics come.
    let slow = "let x = 0;\nfor i in 0..100000000 { x += 1; }\nsine(440).reverb(0.3)\n";
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": doc, "version": 4},
               "contentChanges": [{"text": slow}]}),
    );
    std::thread::sleep(Duration::from_millis(20));
    let hover = c.at("textDocument/hover", &doc, 2, 12);
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("reverb")
    );
    let early = c.backlog.iter().any(|v| {
        v["method"] == "textDocument/publishDiagnostics" && v["params"]["version"] == json!(4)
    });
    assert!(!early, "the hover waited for the compile");
    let d = c.diagnostics(&doc);
    assert!(
        d[0]["message"].as_str().unwrap().contains("too long"),
        "{d:?}"
    );

    assert!(c.finish().success());
}
