//! The sandboxed module resolver: imports stay inside the entry script's folder tree, and
//! every imported file is recorded for the watcher; control thread only.

use super::engine::{MAX_IMPORT_DEPTH, MAX_SOURCE};
use super::files;
use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

/// What the resolver saw: each imported file, by the name its source is reported under.
#[derive(Default, Debug)]
pub struct Imports {
    pub files: Vec<PathBuf>,
    /// Text of every script read, by the name its positions are reported under (what
    /// pattern errors use to point inside a string).
    pub sources: HashMap<String, String>,
    /// Each imported module's code: a closure a patch returns (`fn kick() { |v| .. }`) is
    /// a function of its module, and is called through it.
    pub asts: Vec<Rc<rhai::AST>>,
    cache: HashMap<PathBuf, Shared<Module>>,
    /// The entry script's own file, when it is one: importing it is a cycle too.
    pub entry: Option<PathBuf>,
    /// The entry script's name, first in every import chain shown.
    pub entry_name: String,
    /// The imports being run now, outermost first: the chain a cycle is found in.
    stack: Vec<(PathBuf, String)>,
    /// Bytes of source read so far, the entry script's included.
    pub source_bytes: u64,
    /// Variables declared so far, the entry script's included (see `files::MAX_VARIABLES`).
    pub variables: usize,
}

impl Imports {
    /// What the patch imported into `file` as `alias` offers: its public functions as
    /// `name(params)`, or `None` when no such import was read.
    pub fn offered(&self, root: &Path, file: &str, alias: &str) -> Option<Vec<String>> {
        let path = import_path(self.sources.get(file)?, alias)?;
        let shown = shown_name(root, &path);
        let ast = self
            .asts
            .iter()
            .find(|a| a.source() == Some(shown.as_str()))?;
        let mut fns: Vec<String> = ast
            .iter_functions()
            .filter(|f| f.access != rhai::FnAccess::Private && !f.name.starts_with("anon$"))
            .map(|f| format!("{}({})", f.name, f.params.join(", ")))
            .collect();
        fns.sort();
        fns.dedup();
        Some(fns)
    }
}

/// The path of `import "PATH" as alias` in `src`.
fn import_path(src: &str, alias: &str) -> Option<String> {
    let t = super::tokens::tokens(src);
    t.windows(4).find_map(|w| {
        let is = |i: usize, text: &str| w[i].text == text;
        let quoted = w[1].kind == super::tokens::Kind::Str && w[1].text.len() >= 2;
        (is(0, "import") && quoted && is(2, "as") && is(3, alias))
            .then(|| w[1].text[1..w[1].text.len() - 1].to_string())
    })
}

/// The name an import's messages give its file: as the user would type it, not its
/// canonical path.
fn shown_name(root: &Path, path: &str) -> String {
    let mut shown = if root == Path::new(".") {
        PathBuf::from(path)
    } else {
        root.join(path)
    };
    if shown.extension().is_none() {
        shown.set_extension("rhai");
    }
    shown.display().to_string()
}

pub struct SandboxResolver {
    root: PathBuf,
    pub imports: Rc<RefCell<Imports>>,
}

impl SandboxResolver {
    pub fn new(root: &Path, imports: Rc<RefCell<Imports>>) -> Self {
        SandboxResolver {
            root: root.to_path_buf(),
            imports,
        }
    }
}

/// Shows a chain of files as `a.rhai → b.rhai → a.rhai`, its middle elided when long.
fn chain_text(names: &[String]) -> String {
    if names.len() <= 8 {
        return names.join(" → ");
    }
    let head = names[..3].join(" → ");
    let tail = names[names.len() - 3..].join(" → ");
    format!("{head} → … ({} more) → {tail}", names.len() - 6)
}

fn fail(msg: String, pos: Position) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(msg.into(), pos))
}

fn refuse(path: &str, why: &str, pos: Position) -> Box<EvalAltResult> {
    let msg = format!(
        "import \"{path}\" {why}\nhint: imports name a file inside the script's folder, like \"patches/drums\""
    );
    Box::new(EvalAltResult::ErrorRuntime(msg.into(), pos))
}

/// Checks an import or sample path is a plain relative path below `root` and returns the
/// file it names. Symlinks are followed and the result must still be inside `root`.
pub fn confine(root: &Path, rel: &str, ext: &str) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    if rel.is_empty() {
        return Err("is empty".into());
    }
    if p.is_absolute() || rel.starts_with('/') || rel.starts_with('\\') || rel.contains(':') {
        return Err("is an absolute path".into());
    }
    if p.components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        || rel.contains('\\')
    {
        return Err("leaves the script's folder (`..` is not allowed)".into());
    }
    let mut file = root.join(p);
    if file.extension().is_none() {
        file.set_extension(ext);
    }
    let real = file
        .canonicalize()
        .map_err(|_| format!("was not found (looked for {})", file.display()))?;
    let real_root = root
        .canonicalize()
        .map_err(|e| format!("root folder: {e}"))?;
    if !real.starts_with(&real_root) {
        return Err("points outside the script's folder (through a link)".into());
    }
    // Only stat here: opening a FIFO would wait for a writer.
    let meta =
        std::fs::metadata(&real).map_err(|e| format!("cannot be read ({})", files::io_text(&e)))?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a folder"
        } else {
            "not a regular file (a FIFO, socket or device)"
        };
        return Err(format!("is {what}; only regular files can be read"));
    }
    Ok(real)
}

impl ModuleResolver for SandboxResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let file = confine(&self.root, path, "rhai").map_err(|why| refuse(path, &why, pos))?;
        if let Some(m) = self.imports.borrow().cache.get(&file) {
            return Ok(m.clone());
        }
        let name = shown_name(&self.root, path);
        let left = {
            let im = self.imports.borrow();
            // Rhai runs an import's top level before it caches the module, so a file that
            // imports itself, directly or through others, would recurse until the stack
            // overflows; a long enough chain of distinct files would too.
            let mut chain: Vec<(Option<&PathBuf>, String)> =
                vec![(im.entry.as_ref(), im.entry_name.clone())];
            chain.extend(im.stack.iter().map(|(f, n)| (Some(f), n.clone())));
            if let Some(start) = chain.iter().position(|(f, _)| *f == Some(&file)) {
                let mut names: Vec<String> =
                    chain[start..].iter().map(|(_, n)| n.clone()).collect();
                names.push(name.clone());
                return Err(fail(
                    format!(
                        "import \"{path}\" makes an import cycle: {}\nhint: a patch cannot import itself, directly or through other patches; move what both need into a third file",
                        chain_text(&names)
                    ),
                    pos,
                ));
            }
            if im.stack.len() >= MAX_IMPORT_DEPTH {
                let mut names: Vec<String> = chain.into_iter().map(|(_, n)| n).collect();
                names.push(name.clone());
                return Err(fail(
                    format!(
                        "import \"{path}\" nests imports more than {MAX_IMPORT_DEPTH} deep: {}\nhint: import the patches from the script itself rather than each from the one before",
                        chain_text(&names)
                    ),
                    pos,
                ));
            }
            MAX_SOURCE.saturating_sub(im.source_bytes)
        };
        let text = files::read_text(&file, left).map_err(|why| {
            let why = if why.starts_with("is too large") {
                format!(
                    "{why}\nhint: a script and its patches may hold {} of source together",
                    files::bytes_text(MAX_SOURCE)
                )
            } else if why.starts_with("is ") || why.starts_with("cannot") {
                why
            } else {
                format!("cannot be read ({why})")
            };
            fail(format!("import \"{path}\" {why}"), pos)
        })?;
        let in_module =
            |e: Box<EvalAltResult>| Box::new(EvalAltResult::ErrorInModule(name.clone(), e, pos));
        let before = self.imports.borrow().variables;
        let counted =
            files::check_positions(&text).and_then(|_| files::count_variables(&text, before));
        if let Ok(n) = counted {
            self.imports.borrow_mut().variables = n;
        }
        if let Err((l, c, m)) = counted {
            let at = Position::new(
                l.min(files::MAX_POSITION) as u16,
                c.min(files::MAX_POSITION) as u16,
            );
            return Err(in_module(fail(format!("{name}:{l}:{c}: {m}"), at)));
        }
        let mut ast = engine
            .compile(&text)
            .map_err(|e| in_module(Box::new(EvalAltResult::ErrorParsing(*e.0, e.1))))?;
        ast.set_source(name.as_str());
        {
            let mut im = self.imports.borrow_mut();
            im.source_bytes += text.len() as u64;
            im.files.push(file.clone());
            im.sources.insert(name.clone(), text);
            im.asts.push(Rc::new(ast.clone()));
            im.stack.push((file.clone(), name.clone()));
        }
        let module = Module::eval_ast_as_new(Scope::new(), &ast, engine);
        self.imports.borrow_mut().stack.pop();
        let module: Shared<Module> = module.map_err(in_module)?.into();
        self.imports.borrow_mut().cache.insert(file, module.clone());
        Ok(module)
    }
}
