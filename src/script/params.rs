//! Script parameters: `param("tune", 50, 20, 200)` declares a number a shared patch can be
//! tuned by, and `waves kick.rhai tune=80` / `--set tune=80` overrides it. Declaring,
//! validating, parsing `NAME=VALUE` and the `waves check --params` listing; control thread
//! only.

use super::diag::{Diagnostic, closest};
use super::dsl::args::{call_pos, err_at, finite, type_name};
use crate::graph::SrcPos;
use rhai::{Dynamic, Engine, EvalAltResult, NativeCallContext};
use std::cell::RefCell;
use std::fmt;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

/// Longest parameter name.
pub const MAX_NAME: usize = 64;

/// A parameter a script declared, and the value it ran with.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamInfo {
    pub name: String,
    pub default: f64,
    /// `(lo, hi)` when declared with a range; `lo <= default <= hi`.
    pub range: Option<(f64, f64)>,
    /// What `param(..)` returned: the override when one was given, else the default.
    pub value: f64,
}

impl ParamInfo {
    /// True when an override set a value other than the default.
    pub fn overridden(&self) -> bool {
        self.value != self.default
    }

    /// `tune (default 50, 20..200)`, as the unknown-parameter error lists it.
    fn summary(&self) -> String {
        match self.range {
            Some((lo, hi)) => format!("{} (default {}, {lo}..{hi})", self.name, self.default),
            None => format!("{} (default {})", self.name, self.default),
        }
    }

    /// `tune = 50 (20..200)`, or `tune = 80 (default 50, 20..200)` with an override.
    pub fn line(&self) -> String {
        let mut notes = Vec::new();
        if self.overridden() {
            notes.push(format!("default {}", self.default));
        }
        if let Some((lo, hi)) = self.range {
            notes.push(format!("{lo}..{hi}"));
        }
        if notes.is_empty() {
            format!("{} = {}", self.name, self.value)
        } else {
            format!("{} = {} ({})", self.name, self.value, notes.join(", "))
        }
    }
}

/// The listing `waves check --params` prints for one script: one line per parameter in
/// declaration order, or one line saying there are none.
pub fn listing(file: &str, params: &[ParamInfo]) -> Vec<String> {
    if params.is_empty() {
        return vec![format!("{file}: no parameters")];
    }
    params
        .iter()
        .map(|p| format!("{file}: {}", p.line()))
        .collect()
}

/// Values given on the command line, by parameter name, in the order given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    values: Vec<(String, f64)>,
    /// The graph's memory budget in bytes (`memory_limit` in config.rhai); `None` is the
    /// default. Carried here because every compile of a session takes both.
    memory_limit: Option<u64>,
}

impl Overrides {
    /// The same values, compiled under a memory budget of `bytes`.
    pub fn with_memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// The graph's memory budget in bytes.
    pub fn memory_limit(&self) -> u64 {
        self.memory_limit
            .unwrap_or(crate::graph::memory::DEFAULT_MEMORY_LIMIT)
    }

    pub fn new() -> Self {
        Overrides::default()
    }

    /// Parses every `NAME=VALUE` in `args`; a name given twice with different values is an
    /// error.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Self, String> {
        let mut o = Overrides::new();
        for a in args {
            let (name, value) = parse_assignment(a.as_ref())?;
            o.set(&name, value)?;
        }
        Ok(o)
    }

    /// Sets `name` to `value`; an error when `name` is already set to something else.
    pub fn set(&mut self, name: &str, value: f64) -> Result<(), String> {
        check_name(name).map_err(|why| format!("{name}={value}: {why}"))?;
        match self.get(name) {
            Some(v) if v == value => Ok(()),
            Some(v) => Err(format!(
                "parameter {name} is set twice ({name}={v} and {name}={value}); give it once"
            )),
            None => {
                self.values.push((name.to_string(), value));
                Ok(())
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.values.iter().map(|(n, v)| (n.as_str(), *v))
    }
}

impl fmt::Display for Overrides {
    /// `tune=80 decay=0.5`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.iter().map(|(n, v)| format!("{n}={v}")).collect();
        f.write_str(&parts.join(" "))
    }
}

/// Parses one `NAME=VALUE` (`tune=100`, `decay=0.5`, `shift=-3`, `cut=1e3`).
pub fn parse_assignment(arg: &str) -> Result<(String, f64), String> {
    let Some((name, value)) = arg.split_once('=') else {
        return Err(format!(
            "{arg:?} is not a parameter setting: write NAME=VALUE, e.g. tune=100"
        ));
    };
    let name = name.trim();
    check_name(name).map_err(|why| format!("{arg:?}: {why}"))?;
    let text = value.trim();
    let v: f64 = text.parse().map_err(|_| {
        format!(
            "parameter {name}: {text:?} is not a number (e.g. {name}=100, {name}=0.5, {name}=-3)"
        )
    })?;
    if !v.is_finite() {
        return Err(format!("parameter {name}: {text:?} is not a finite number"));
    }
    Ok((name.to_string(), v))
}

/// A parameter name: letters, digits and `_`, starting with a letter.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if name.is_empty() {
        Err("a parameter needs a name".into())
    } else if name.len() > MAX_NAME {
        Err(format!("parameter names are at most {MAX_NAME} characters"))
    } else if !ok {
        Err(format!(
            "{name:?} is not a parameter name: use letters, digits and `_`, starting with a letter"
        ))
    } else {
        Ok(())
    }
}

/// The parameters declared while a script runs, and the overrides they are read from.
#[derive(Debug, Default)]
pub struct Declared {
    overrides: Overrides,
    /// In declaration order, each with where it was first declared.
    params: Vec<(ParamInfo, SrcPos)>,
}

impl Declared {
    pub fn new(overrides: &Overrides) -> Self {
        Declared {
            overrides: overrides.clone(),
            params: Vec::new(),
        }
    }

    /// Declares `name` and returns its value: the override if there is one (checked against
    /// the range), else the default. The same declaration again returns the same value.
    pub fn declare(
        &mut self,
        name: &str,
        default: f64,
        range: Option<(f64, f64)>,
        at: &SrcPos,
    ) -> Result<f64, String> {
        check_name(name)?;
        if let Some((lo, hi)) = range
            && !(lo <= default && default <= hi)
        {
            return Err(format!(
                "the default {default} of {name:?} is outside its range {lo}..{hi} (need lo <= default <= hi)"
            ));
        }
        if let Some((p, first)) = self.params.iter().find(|(p, _)| p.name == name) {
            if p.default == default && p.range == range {
                return Ok(p.value);
            }
            let declared = |d: f64, r: Option<(f64, f64)>| match r {
                Some((lo, hi)) => format!("param({name:?}, {d}, {lo}, {hi})"),
                None => format!("param({name:?}, {d})"),
            };
            return Err(format!(
                "{name:?} is already declared as {} at {}:{}:{}; this says {}\nhint: declare a parameter once and pass its value around, or repeat the same declaration",
                declared(p.default, p.range),
                first.file,
                first.line,
                first.col,
                declared(default, range)
            ));
        }
        let value = match self.overrides.get(name) {
            Some(v) => {
                if let Some((lo, hi)) = range
                    && !(lo..=hi).contains(&v)
                {
                    return Err(format!(
                        "{name}={v} (from the command line) is outside the range of {name:?}: {lo}..{hi}"
                    ));
                }
                v
            }
            None => default,
        };
        self.params.push((
            ParamInfo {
                name: name.to_string(),
                default,
                range,
                value,
            },
            at.clone(),
        ));
        Ok(value)
    }

    /// The declared parameters, in declaration order.
    pub fn list(&self) -> Vec<ParamInfo> {
        self.params.iter().map(|(p, _)| p.clone()).collect()
    }

    /// After the script ran: every override must name a declared parameter.
    pub fn check_overrides(&self, file: &str) -> Result<(), Diagnostic> {
        let unknown: Vec<&str> = self
            .overrides
            .iter()
            .map(|(n, _)| n)
            .filter(|n| !self.params.iter().any(|(p, _)| p.name == *n))
            .collect();
        let Some(first) = unknown.first() else {
            return Ok(());
        };
        let short = Path::new(file)
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| file.to_string());
        let names: Vec<String> = unknown.iter().map(|n| format!("\"{n}\"")).collect();
        let what = if unknown.len() == 1 {
            format!("unknown parameter {}", names[0])
        } else {
            format!("unknown parameters {}", names.join(", "))
        };
        let has = if self.params.is_empty() {
            format!("{short} declares no parameters")
        } else {
            let list: Vec<String> = self.params.iter().map(|(p, _)| p.summary()).collect();
            format!("{short} has: {}", list.join(", "))
        };
        let declared: Vec<String> = self.params.iter().map(|(p, _)| p.name.clone()).collect();
        let hint = match closest(first, &declared) {
            Some(c) => format!("did you mean {c}?"),
            None if self.params.is_empty() => format!(
                "a script declares a parameter with `let {first} = param(\"{first}\", DEFAULT);`"
            ),
            None => "`waves check --params FILE` lists a script's parameters".into(),
        };
        Err(Diagnostic::new(file, 0, 0, format!("{what}; {has}")).with_hint(Some(hint)))
    }
}

/// A number argument of `param`: an integer or a finite float.
fn number(d: &Dynamic, what: &str) -> Result<f64, String> {
    if let Some(i) = d.clone().try_cast::<i64>() {
        return Ok(i as f64);
    }
    match d.clone().try_cast::<f64>() {
        Some(f) => finite(f, what),
        None => Err(format!("`{what}` must be a number, got {}", type_name(d))),
    }
}

type Res<T> = Result<T, Box<EvalAltResult>>;

fn declare(
    declared: &Rc<RefCell<Declared>>,
    ctx: &NativeCallContext,
    file: &Arc<str>,
    args: &[&Dynamic],
) -> Res<f64> {
    let at = ctx.call_position();
    let fail = |m: String| err_at(format!("param: {m}"), at);
    let name = args[0].clone().into_immutable_string().map_err(|_| {
        let got = if args[0].is_int() || args[0].is_float() {
            "a number"
        } else {
            type_name(args[0])
        };
        fail(format!(
            "the name must be a string in quotes, like param(\"tune\", 50) (got {got})"
        ))
    })?;
    let default = number(args[1], "default").map_err(fail)?;
    let range = if args.len() == 4 {
        Some((
            number(args[2], "lo").map_err(fail)?,
            number(args[3], "hi").map_err(fail)?,
        ))
    } else {
        None
    };
    let pos = call_pos(ctx, file);
    declared
        .borrow_mut()
        .declare(&name, default, range, &pos)
        .map_err(fail)
}

/// Registers `param(name, default)` and `param(name, default, lo, hi)`.
pub fn register(engine: &mut Engine, declared: Rc<RefCell<Declared>>, file: Arc<str>) {
    {
        let (d, file) = (declared.clone(), file.clone());
        engine.register_fn(
            "param",
            move |ctx: NativeCallContext, name: Dynamic, default: Dynamic| -> Res<f64> {
                declare(&d, &ctx, &file, &[&name, &default])
            },
        );
    }
    engine.register_fn(
        "param",
        move |ctx: NativeCallContext,
              name: Dynamic,
              default: Dynamic,
              lo: Dynamic,
              hi: Dynamic|
              -> Res<f64> { declare(&declared, &ctx, &file, &[&name, &default, &lo, &hi]) },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> SrcPos {
        SrcPos {
            file: Arc::from("t.rhai"),
            line: 1,
            col: 1,
        }
    }

    #[test]
    fn assignments_parse() {
        assert_eq!(
            parse_assignment("tune=100").unwrap(),
            ("tune".into(), 100.0)
        );
        assert_eq!(parse_assignment("d=0.5").unwrap().1, 0.5);
        assert_eq!(parse_assignment("s=-3").unwrap().1, -3.0);
        assert_eq!(parse_assignment("cut=1e3").unwrap().1, 1000.0);
        for bad in [
            "tune", "tune=", "tune=abc", "tune=inf", "1x=3", "=3", "a-b=1",
        ] {
            assert!(parse_assignment(bad).is_err(), "{bad} parsed");
        }
        let e = parse_assignment("tune=abc").unwrap_err();
        assert!(e.contains("tune") && e.contains("abc"), "{e}");
    }

    #[test]
    fn names_follow_the_rules() {
        for good in ["a", "tune", "t_2", "Cut_Off"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "2a", "_a", "a-b", "a b", "é"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn overrides_given_twice_must_agree() {
        assert!(Overrides::parse(&["a=1", "a=1"]).is_ok());
        let e = Overrides::parse(&["a=1", "a=2"]).unwrap_err();
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn declarations_read_overrides_and_check_ranges() {
        let o = Overrides::parse(&["tune=80"]).unwrap();
        let mut d = Declared::new(&o);
        assert_eq!(
            d.declare("tune", 50.0, Some((20.0, 200.0)), &at()),
            Ok(80.0)
        );
        assert_eq!(d.declare("decay", 0.3, None, &at()), Ok(0.3));
        // The same declaration twice is fine; a different one is not.
        assert_eq!(
            d.declare("tune", 50.0, Some((20.0, 200.0)), &at()),
            Ok(80.0)
        );
        assert!(d.declare("tune", 60.0, Some((20.0, 200.0)), &at()).is_err());
        assert!(d.declare("x", 5.0, Some((0.0, 1.0)), &at()).is_err());
        let mut d = Declared::new(&Overrides::parse(&["tune=300"]).unwrap());
        let e = d
            .declare("tune", 50.0, Some((20.0, 200.0)), &at())
            .unwrap_err();
        assert!(e.contains("20..200"), "{e}");
    }

    #[test]
    fn listing_lines() {
        let p = |v| ParamInfo {
            name: "tune".into(),
            default: 50.0,
            range: Some((20.0, 200.0)),
            value: v,
        };
        assert_eq!(
            listing("k.rhai", &[p(50.0)]),
            ["k.rhai: tune = 50 (20..200)"]
        );
        assert_eq!(
            listing("k.rhai", &[p(80.0)]),
            ["k.rhai: tune = 80 (default 50, 20..200)"]
        );
        assert_eq!(listing("k.rhai", &[]), ["k.rhai: no parameters"]);
    }
}
