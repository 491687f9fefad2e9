//! Sound scripts: compiling a Rhai file into a validated `GraphSpec`; control thread only.

pub mod builder;
pub mod diag;
pub mod dsl;
pub mod engine;
pub mod files;
pub mod lint;
pub mod midi;
pub mod monitor;
pub mod params;
pub mod plain;
pub mod resolver;
pub mod samples;
pub mod sequencing;
pub mod synonyms;
pub mod tokens;

pub use diag::Diagnostic;
pub use params::{Overrides, ParamInfo};

use crate::graph::{self, GraphSpec};
use builder::{Builder, Sig};
use resolver::{Imports, SandboxResolver};
use rhai::{Dynamic, Scope};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

/// A script that compiled: its graph and every file it read.
#[derive(Debug)]
pub struct Compiled {
    pub spec: GraphSpec,
    /// The entry script first, then each imported file.
    pub files: Vec<PathBuf>,
    /// The parameters the script declared with `param(..)`, in declaration order.
    pub params: Vec<ParamInfo>,
    /// What the script probably does not mean though it runs (`1/4` is 0), entry file first;
    /// each command prints them with `Diagnostic::render_warning`.
    pub warnings: Vec<Diagnostic>,
}

/// Compiles the script at `path`. Imports resolve inside the script's folder.
pub fn compile_file(path: &Path, sample_rate: f64) -> Result<Compiled, Diagnostic> {
    compile_file_with(path, sample_rate, &Overrides::new())
}

/// `compile_file` with parameter values from the command line: each must name a parameter
/// the script declares, inside its range.
pub fn compile_file_with(
    path: &Path,
    sample_rate: f64,
    overrides: &Overrides,
) -> Result<Compiled, Diagnostic> {
    let shown = path.display().to_string();
    let source = files::read_text(path, engine::MAX_SOURCE).map_err(|why| {
        let why = if why.starts_with("is ") {
            format!("the script {why}")
        } else {
            format!("cannot read the script: {why}")
        };
        Diagnostic::new(&shown, 0, 0, why)
    })?;
    let root = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let entry = path.canonicalize().ok();
    let mut c = compile_warned(&source, &shown, &root, sample_rate, overrides, entry)?;
    c.files.insert(0, path.to_path_buf());
    Ok(c)
}

/// Names offered as "did you mean" hints: the vocabulary plus every word in the script.
fn hint_names(source: &str) -> Vec<String> {
    let mut names: Vec<String> = dsl::functions()
        .iter()
        .map(|f| f.name.to_string())
        .collect();
    for w in source.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if w.len() > 1 && !w.chars().next().unwrap_or('0').is_numeric() {
            names.push(w.to_string());
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Compiles script text named `file` whose imports resolve under `root`.
pub fn compile_source(
    source: &str,
    file: &str,
    root: &Path,
    sample_rate: f64,
) -> Result<Compiled, Diagnostic> {
    compile_source_with(source, file, root, sample_rate, &Overrides::new())
}

/// `compile_source` with parameter values from the command line.
pub fn compile_source_with(
    source: &str,
    file: &str,
    root: &Path,
    sample_rate: f64,
    overrides: &Overrides,
) -> Result<Compiled, Diagnostic> {
    compile_warned(source, file, root, sample_rate, overrides, None)
}

/// `compile_text`, with the script's warnings attached to an error: a script with an error
/// may also hold its cause (`1/4` is 0), so both are shown.
fn compile_warned(
    source: &str,
    file: &str,
    root: &Path,
    sample_rate: f64,
    overrides: &Overrides,
    entry: Option<PathBuf>,
) -> Result<Compiled, Diagnostic> {
    let imports = Rc::new(RefCell::new(Imports::default()));
    compile_text(source, file, root, sample_rate, overrides, entry, &imports).map_err(|mut d| {
        d.warnings = warnings_of(&imports.borrow(), file).into();
        d
    })
}

/// Compiles script text; `entry` is the script's own file when it has one, so importing it
/// is found to be a cycle at once.
fn compile_text(
    source: &str,
    file: &str,
    root: &Path,
    sample_rate: f64,
    overrides: &Overrides,
    entry: Option<PathBuf>,
    imports: &Rc<RefCell<Imports>>,
) -> Result<Compiled, Diagnostic> {
    let source = files::strip_bom(source);
    if source.len() as u64 > engine::MAX_SOURCE {
        return Err(Diagnostic::new(
            file,
            0,
            0,
            format!(
                "the script is too large: {}; a script and its imports may hold {} of source in all",
                files::bytes_text(source.len() as u64),
                files::bytes_text(engine::MAX_SOURCE)
            ),
        ));
    }
    files::check_positions(source).map_err(|(l, c, m)| Diagnostic::new(file, l, c, m))?;
    let variables =
        files::count_variables(source, 0).map_err(|(l, c, m)| Diagnostic::new(file, l, c, m))?;
    let names = hint_names(source);
    let declared = Rc::new(RefCell::new(params::Declared::new(overrides)));
    let builder = Rc::new(RefCell::new(Builder::new(sample_rate)));
    {
        let mut b = builder.borrow_mut();
        b.root = root.to_path_buf();
        b.memory = graph::memory::Budget::new(overrides.memory_limit());
    }
    let file_arc: Arc<str> = Arc::from(file);
    {
        let mut im = imports.borrow_mut();
        im.sources.insert(file.to_string(), source.to_string());
        im.entry = entry;
        im.entry_name = file.to_string();
        im.source_bytes = source.len() as u64;
        im.variables = variables;
    }
    let result = {
        let engine = script_engine(root, &builder, imports, &declared, &file_arc);
        let mut ast = engine
            .compile(source)
            .map_err(|e| diag::from_parse(&e, file, source, &names))?;
        ast.set_source(file);
        let mut scope = Scope::new();
        engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, &ast)
            .map_err(|e| {
                let im = imports.borrow();
                let offered = |from: &str, alias: &str| im.offered(root, from, alias);
                let d = diag::from_eval_with(&e, file, &names, &offered);
                match im.sources.get(&d.file) {
                    Some(text) => lint::explain(d, text),
                    None => d,
                }
            })?
    };
    let out = output_signal(result, source, file)?;
    // Only now is every parameter declared: an override must name one of them.
    declared.borrow().check_overrides(file)?;
    let params = declared.borrow().list();
    let builder = Rc::try_unwrap(builder)
        .map_err(|_| {
            Diagnostic::new(
                file,
                0,
                0,
                "internal: the script kept a handle to the graph",
            )
        })?
        .into_inner();
    let mut sample_files: Vec<PathBuf> = builder.samples.keys().cloned().collect();
    sample_files.sort();
    let mut spec = builder.finish(&out);
    graph::validate(&spec).map_err(|e| diag::from_graph(&e, file))?;
    graph::assign_keys(&mut spec);
    let mut files = imports.borrow().files.clone();
    files.extend(sample_files);
    let warnings = warnings_of(&imports.borrow(), file);
    Ok(Compiled {
        spec,
        files,
        params,
        warnings,
    })
}

/// Prints warnings to stderr, each with its source line and hint.
pub fn print_warnings(warnings: &[Diagnostic]) {
    for w in warnings {
        crate::tell_raw!("{}", w.render_warning(None));
    }
}

/// The warnings of every file the script read, the entry script's first.
fn warnings_of(imports: &Imports, entry: &str) -> Vec<Diagnostic> {
    let mut names: Vec<&String> = imports.sources.keys().collect();
    names.sort_by_key(|n| (n.as_str() != entry, n.as_str()));
    names
        .into_iter()
        .flat_map(|n| lint::warnings(&imports.sources[n], n))
        .collect()
}

/// The engine scripts run in: hardened, sandboxed under `root`, with the whole vocabulary
/// registered, building into `builder`.
fn script_engine(
    root: &Path,
    builder: &Rc<RefCell<Builder>>,
    imports: &Rc<RefCell<Imports>>,
    declared: &Rc<RefCell<params::Declared>>,
    file: &Arc<str>,
) -> rhai::Engine {
    let mut engine = engine::hardened();
    // Rhai counts operations per module, so each import would get the whole budget again:
    // one count across the script and every module it imports bounds the compile.
    let spent = std::cell::Cell::new(0u64);
    engine.on_progress(move |_| {
        spent.set(spent.get() + 1);
        (spent.get() > engine::MAX_OPERATIONS).then(|| Dynamic::from(engine::OUT_OF_OPERATIONS))
    });
    engine.set_module_resolver(SandboxResolver::new(root, imports.clone()));
    dsl::register(&mut engine, builder.clone(), imports.clone(), file.clone());
    sequencing::register(&mut engine, builder.clone(), imports.clone(), file.clone());
    monitor::register(&mut engine, builder.clone(), file.clone());
    midi::register(&mut engine, builder.clone(), imports.clone(), file.clone());
    params::register(&mut engine, declared.clone(), file.clone());
    engine
}

/// An engine registered exactly as for compiling a script (nothing compiled into it), so
/// what scripts can call can be listed and checked against the reference.
pub fn vocabulary_engine() -> rhai::Engine {
    let declared = Rc::new(RefCell::new(params::Declared::new(&Overrides::new())));
    let builder = Rc::new(RefCell::new(Builder::new(48000.0)));
    let imports = Rc::new(RefCell::new(Imports::default()));
    script_engine(
        Path::new("."),
        &builder,
        &imports,
        &declared,
        &Arc::from("vocabulary"),
    )
}

fn output_signal(result: Dynamic, source: &str, file: &str) -> Result<Sig, Diagnostic> {
    if let Some(s) = result.clone().try_cast::<Sig>() {
        return Ok(s);
    }
    // Point at the last non-empty line: that is where the output expression should be.
    let (line, text) = source
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
        .last()
        .map(|(i, l)| (i + 1, l))
        .unwrap_or((1, ""));
    let col = text.len() - text.trim_start().len() + 1;
    let got = if result.is_unit() {
        "nothing (the last line ends with `;`?)".to_string()
    } else {
        dsl::args::type_name(&result).to_string()
    };
    Err(Diagnostic::new(
        file,
        line,
        col,
        format!(
            "the script must end with the signal to play, but it ends with {got}\nhint: make the last line an expression without `;`, e.g. `sine(440) * 0.2`"
        ),
    ))
}
