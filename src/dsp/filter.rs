//! TEMPORARY filters (replaced by the SVF/ladder family).
use super::{BLOCK, Ctx, In};
#[derive(Clone, Copy)]
pub enum SvfMode {
    Low,
    High,
    Band,
    Notch,
}
pub struct Svf {
    m: SvfMode,
    s1: Vec<f32>,
    s2: Vec<f32>,
}
impl Svf {
    pub fn new(m: SvfMode, lanes: usize) -> Self {
        Svf {
            m,
            s1: vec![0.0; lanes],
            s2: vec![0.0; lanes],
        }
    }
    pub fn process(&mut self, ctx: &Ctx, x: In, cut: In, q: In, out: &mut [f32], lanes: usize) {
        for s in 0..BLOCK {
            for l in 0..lanes {
                let g = (std::f32::consts::PI * cut.at(s, l).clamp(5.0, 0.49 * ctx.sample_rate)
                    / ctx.sample_rate)
                    .tan();
                let k = 1.0 / q.at(s, l).max(0.05);
                let a1 = 1.0 / (1.0 + g * (g + k));
                let a2 = g * a1;
                let a3 = g * a2;
                let v0 = x.at(s, l);
                let v3 = v0 - self.s2[l];
                let v1 = a1 * self.s1[l] + a2 * v3;
                let v2 = self.s2[l] + a2 * self.s1[l] + a3 * v3;
                self.s1[l] = 2.0 * v1 - self.s1[l];
                self.s2[l] = 2.0 * v2 - self.s2[l];
                out[s * lanes + l] = match self.m {
                    SvfMode::Low => v2,
                    SvfMode::Band => k * v1,
                    SvfMode::High => v0 - k * v1 - v2,
                    SvfMode::Notch => v0 - k * v1,
                };
            }
        }
    }
}
pub struct Ladder(Svf);
impl Ladder {
    pub fn new(lanes: usize) -> Self {
        Ladder(Svf::new(SvfMode::Low, lanes))
    }
    pub fn process(&mut self, ctx: &Ctx, x: In, cut: In, _r: In, out: &mut [f32], lanes: usize) {
        let q = [0.707f32; BLOCK];
        self.0
            .process(ctx, x, cut, In::constant(&q, 0.707), out, lanes)
    }
}
