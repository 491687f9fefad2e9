//! `.monitor("name")`: a live line on the terminal for a signal or a pattern while playing.
//! The script side adds a monitor node beside the signal (the signal itself is returned
//! unchanged); control thread only.

use super::builder::{Builder, Sig};
use super::dsl::args::{call_pos, err_at};
use super::sequencing::{Pat, control};
use crate::dsp::monitor::Shows;
use crate::dsp::seq;
use crate::graph::{Input, MonitorSpec, NodeKind, PortRef, SrcPos};
use rhai::{Engine, EvalAltResult, NativeCallContext};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// Most monitors a script may have: each is a line on the terminal.
pub const MAX_MONITORS: usize = 32;
/// Longest monitor name, in characters.
pub const MAX_NAME: usize = 24;

type Res<T> = Result<T, Box<EvalAltResult>>;

/// A monitor name is printed on the terminal as it is: plain printable ASCII only, so it
/// can carry no escape sequence and its width is its length.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        && name.trim() == name;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "monitor name {name:?} must be 1 to {MAX_NAME} printable ASCII characters (letters, digits, punctuation, inner spaces)"
        ))
    }
}

/// The sequencer behind a signal, when the signal is a pattern's control line, an
/// instrument's output (`.play(..)`), or one of those scaled or filtered by numbers only.
fn find_seq(b: &Builder, mut port: PortRef) -> Option<u32> {
    for _ in 0..16 {
        let node = b.nodes.get(port.node as usize)?;
        match (&node.kind, node.inputs.as_slice()) {
            (NodeKind::Seq(_), _) => return Some(port.node),
            (NodeKind::LaneSum, [_, Input::Port(amp)])
                if matches!(b.nodes[amp.node as usize].kind, NodeKind::Seq(_)) =>
            {
                return Some(amp.node);
            }
            (_, [Input::Port(src), rest @ ..])
                if node.kind.outputs() == 1
                    && rest.iter().all(|i| matches!(i, Input::Const(_))) =>
            {
                port = *src;
            }
            _ => return None,
        }
    }
    None
}

/// Adds the monitor node for `x`.
pub fn add_monitor(
    b: &mut Builder,
    p: &SrcPos,
    x: &Sig,
    name: &str,
    pattern_only: bool,
) -> Result<(), String> {
    check_name(name)?;
    let mut count = 0;
    for n in &b.nodes {
        if let NodeKind::Monitor(m) = &n.kind {
            if &*m.name == name {
                return Err(format!(
                    "the monitor name \"{name}\" is used twice (first at line {}); give each monitor its own name",
                    n.pos.line
                ));
            }
            count += 1;
        }
    }
    if count >= MAX_MONITORS {
        return Err(format!(
            "too many monitors: a script may show {MAX_MONITORS}"
        ));
    }
    let seq = find_seq(b, x.ch[0]);
    let shows = match (pattern_only, seq) {
        (true, _) => Shows::Pattern,
        (false, Some(_)) => Shows::PatternAndSignal,
        (false, None) => Shows::Signal,
    };
    let ins: Vec<Input> = x.channels().iter().map(|c| Input::Port(*c)).collect();
    b.add(
        NodeKind::Monitor(MonitorSpec {
            name: Arc::from(name),
            shows,
            seq,
        }),
        &ins,
        p,
    )?;
    Ok(())
}

pub fn register(engine: &mut Engine, builder: Rc<RefCell<Builder>>, file: Arc<str>) {
    {
        let b = builder.clone();
        let file = file.clone();
        engine.register_fn(
            "monitor",
            move |ctx: NativeCallContext, x: Sig, name: &str| -> Res<Sig> {
                let p = call_pos(&ctx, &file);
                add_monitor(&mut b.borrow_mut(), &p, &x, name, false)
                    .map_err(|m| err_at(format!("monitor: {m}"), ctx.call_position()))?;
                Ok(x)
            },
        );
    }
    let b = builder;
    engine.register_fn(
        "monitor",
        move |ctx: NativeCallContext, pat: Pat, name: &str| -> Res<Pat> {
            let p = call_pos(&ctx, &file);
            // The pattern's own gate line: it plays in step with every other use of the
            // pattern, since a sequencer's position comes from the transport alone.
            let gate = control(&b, &ctx, &p, &pat, seq::OUT_GATE)?;
            add_monitor(&mut b.borrow_mut(), &p, &gate, name, true)
                .map_err(|m| err_at(format!("monitor: {m}"), ctx.call_position()))?;
            Ok(pat)
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::compile_source;
    use std::path::Path;

    fn monitors(src: &str) -> Vec<MonitorSpec> {
        let c = compile_source(src, "t.rhai", Path::new("."), 48000.0)
            .unwrap_or_else(|d| panic!("{}", d.render(Some(src))));
        c.spec
            .nodes
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::Monitor(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    fn error(src: &str) -> String {
        compile_source(src, "t.rhai", Path::new("."), 48000.0)
            .expect_err("the script should fail")
            .message
    }

    #[test]
    fn names_are_plain_and_short() {
        assert!(check_name("lfo").is_ok());
        assert!(check_name("bass cut-off #2").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name(" lfo").is_err());
        assert!(check_name("a\u{1b}[2J").is_err());
        assert!(check_name("é").is_err());
        assert!(check_name(&"x".repeat(MAX_NAME + 1)).is_err());
    }

    #[test]
    fn what_each_monitor_shows() {
        let m = monitors(
            "let lfo = sine(0.3).monitor(\"lfo\");\n\
             let p = pattern(\"x ~ x x\").monitor(\"beat\");\n\
             let d = p.play(|v| sine(200) * v.gate).monitor(\"drums\");\n\
             let g = (pattern(\"x x\").gate() * 0.5).monitor(\"gate\");\n\
             (saw(110) * lfo + d + g).monitor(\"out\")",
        );
        let got: Vec<(&str, Shows, bool)> = m
            .iter()
            .map(|m| (&*m.name, m.shows, m.seq.is_some()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("lfo", Shows::Signal, false),
                ("beat", Shows::Pattern, true),
                ("drums", Shows::PatternAndSignal, true),
                ("gate", Shows::PatternAndSignal, true),
                ("out", Shows::Signal, false),
            ]
        );
    }

    #[test]
    fn the_signal_comes_back_unchanged() {
        let plain = common_render("saw(110).lpf(800) * 0.5");
        let monitored = common_render("saw(110).monitor(\"a\").lpf(800).monitor(\"b\") * 0.5");
        assert_eq!(plain, monitored);
    }

    fn common_render(src: &str) -> Vec<f32> {
        let c = compile_source(src, "t.rhai", Path::new("."), 48000.0).unwrap();
        let (g, _) = crate::graph::compile(&c.spec, 48000.0);
        let mut r = crate::engine::Renderer::new(g, 48000.0, 1.0);
        let mut out = vec![0.0; 2 * 1000];
        r.process(&mut out);
        out
    }

    #[test]
    fn the_graph_publishes_values_and_steps() {
        let src = "tempo(120);\n\
                   pattern(\"x ~ x x\").monitor(\"beat\");\n\
                   let d = pattern(\"x*8\").play(|v| saw(220) * v.gate).monitor(\"drums\");\n\
                   sine(0.5).monitor(\"lfo\") * 0 + d";
        let c = compile_source(src, "t.rhai", Path::new("."), 48000.0)
            .unwrap_or_else(|d| panic!("{}", d.render(Some(src))));
        let (g, meta) = crate::graph::compile(&c.spec, 48000.0);
        let table = meta.monitors.clone();
        let names: Vec<&str> = table.info.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["beat", "drums", "lfo"]);
        assert!(!table.is_live());
        let mut r = crate::engine::Renderer::new(g, 48000.0, 1.0);
        // A bar lasts 96000 frames at 120 BPM: 30000 frames in is the second of 4 steps,
        // the third of 8.
        let mut out = vec![0.0; 2 * 30000];
        r.process(&mut out);
        assert!(table.is_live());
        let (beat, drums, lfo) = (table.take(0), table.take(1), table.take(2));
        assert_eq!(beat.step, Some((1, 4)));
        assert_eq!(beat.frames, 30016);
        assert_eq!(drums.step, Some((2, 8)));
        assert!(drums.peak > 0.5 && drums.crossings > 100, "{drums:?}");
        assert_eq!(lfo.step, None);
        let want = (std::f32::consts::PI * 30000.0 / 48000.0).sin();
        assert!((lfo.last - want).abs() < 0.01, "{lfo:?} vs {want}");
        assert_eq!(lfo.crossings, 0);
        let (lo, hi) = lfo.range.unwrap();
        assert!(lo >= 0.0 && hi > 0.99, "{lo} {hi}");
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(error("sine(1).monitor(\"a\") + sine(2).monitor(\"a\")").contains("used twice"));
        assert!(error("sine(1).monitor(\"\")").contains("monitor name"));
        let many: String = (0..=MAX_MONITORS)
            .map(|i| format!("sine({i}).monitor(\"m{i}\");\n"))
            .collect();
        assert!(error(&format!("{many}sine(1)")).contains("too many monitors"));
    }
}
