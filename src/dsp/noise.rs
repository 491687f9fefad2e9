//! TEMPORARY noise (replaced by the seeded family).
pub struct White {
    s: Vec<u64>,
}
impl White {
    pub fn new(lanes: usize, seed: u64) -> Self {
        White {
            s: (0..lanes)
                .map(|l| seed ^ ((l as u64 + 1) * 0x9E3779B97F4A7C15) | 1)
                .collect(),
        }
    }
    pub fn process(&mut self, out: &mut [f32], lanes: usize) {
        for (i, o) in out.iter_mut().enumerate() {
            let x = &mut self.s[i % lanes];
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            *o = (*x >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
        }
    }
}
pub type Pink = White;
