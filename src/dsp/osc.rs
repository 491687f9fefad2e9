//! TEMPORARY naive oscillators (replaced by the band-limited family).
use super::{BLOCK, Ctx, In};
macro_rules! naive {
    ($name:ident, $f:expr) => {
        pub struct $name {
            ph: Vec<f64>,
        }
        impl $name {
            pub fn new(lanes: usize) -> Self {
                $name {
                    ph: vec![0.0; lanes],
                }
            }
            pub fn process(&mut self, ctx: &Ctx, freq: In, out: &mut [f32], lanes: usize) {
                for s in 0..BLOCK {
                    for l in 0..lanes {
                        let p = self.ph[l];
                        out[s * lanes + l] = $f(p) as f32;
                        self.ph[l] =
                            (p + freq.at(s, l) as f64 / ctx.sample_rate as f64).rem_euclid(1.0);
                    }
                }
            }
        }
    };
}
naive!(Saw, |p: f64| 2.0 * p - 1.0);
naive!(Tri, |p: f64| 1.0 - 4.0 * (p - 0.5).abs());
pub struct Sine {
    ph: Vec<f64>,
}
impl Sine {
    pub fn new(lanes: usize) -> Self {
        Sine {
            ph: vec![0.0; lanes],
        }
    }
    pub fn process(&mut self, ctx: &Ctx, freq: In, phase: In, out: &mut [f32], lanes: usize) {
        for s in 0..BLOCK {
            for l in 0..lanes {
                let p = self.ph[l];
                out[s * lanes + l] =
                    ((p + phase.at(s, l) as f64) * std::f64::consts::TAU).sin() as f32;
                self.ph[l] = (p + freq.at(s, l) as f64 / ctx.sample_rate as f64).rem_euclid(1.0);
            }
        }
    }
}
pub struct Pulse {
    ph: Vec<f64>,
}
impl Pulse {
    pub fn new(lanes: usize) -> Self {
        Pulse {
            ph: vec![0.0; lanes],
        }
    }
    pub fn process(&mut self, ctx: &Ctx, freq: In, w: In, out: &mut [f32], lanes: usize) {
        for s in 0..BLOCK {
            for l in 0..lanes {
                let p = self.ph[l];
                out[s * lanes + l] = if p < w.at(s, l) as f64 { 1.0 } else { -1.0 };
                self.ph[l] = (p + freq.at(s, l) as f64 / ctx.sample_rate as f64).rem_euclid(1.0);
            }
        }
    }
}
