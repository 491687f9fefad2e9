//! Echo delay line with feedback; run on the audio thread.

use super::{BLOCK, Ctx, In};

/// Adds echoes to its input: `out = in + wet · echo`, where the wet line repeats every `secs` and
/// each repeat is `feedback` times the one before (like Sonic Pi's `echo`). The line length
/// is fixed when the graph is compiled, so processing never allocates; longer requested
/// times are clamped to it.
pub struct Delay {
    /// One ring per lane, lane-major: lane `l` owns `line[l * len..(l + 1) * len]`.
    line: Vec<f32>,
    len: usize,
    write: usize,
}

impl Delay {
    /// `max_secs` is the longest time the line must hold.
    pub fn new(lanes: usize, sample_rate: f32, max_secs: f32) -> Self {
        let len = ((max_secs.max(0.0) * sample_rate).ceil() as usize + 2).max(BLOCK + 2);
        Delay {
            line: vec![0.0; len * lanes],
            len,
            write: 0,
        }
    }

    pub fn process(&mut self, ctx: &Ctx, ins: DelayIn, out: &mut [f32], lanes: usize) {
        let DelayIn {
            x: input,
            secs,
            feedback,
            wet,
        } = ins;
        let len = self.len;
        let max_d = (len - 2) as f32;
        if let (Some(secs), Some(fb), Some(wet)) = (secs.konst, feedback.konst, wet.konst) {
            self.process_fixed(
                input,
                (secs * ctx.sample_rate).clamp(1.0, max_d),
                fb,
                wet,
                out,
                lanes,
            );
            return;
        }
        for f in 0..BLOCK {
            let w = (self.write + f) % len;
            for l in 0..lanes {
                let ring = &mut self.line[l * len..(l + 1) * len];
                let d = (secs.at(f, l) * ctx.sample_rate).clamp(0.0, max_d);
                let x = input.at(f, l);
                // A zero-frame echo would read the slot about to be written: treat as 1 frame.
                let d = d.max(1.0);
                let pos = w as f32 + len as f32 - d;
                let i0 = pos as usize;
                let frac = pos - i0 as f32;
                let a = ring[i0 % len];
                let b = ring[(i0 + 1) % len];
                let echo = a + (b - a) * frac;
                let fb = feedback.at(f, l).clamp(-0.999, 0.999);
                let mut next = x + echo * fb;
                if !next.is_finite() {
                    next = 0.0;
                }
                ring[w] = next;
                out[f * lanes + l] = x + echo * wet.at(f, l);
            }
        }
        self.write = (self.write + BLOCK) % len;
    }
}

impl Delay {
    /// A fixed echo time, feedback and level (the usual case): the read position moves in
    /// step with the write position, so it is found once per block, not per frame.
    fn process_fixed(
        &mut self,
        input: In,
        d: f32,
        fb: f32,
        wet: f32,
        out: &mut [f32],
        lanes: usize,
    ) {
        let len = self.len;
        let fb = fb.clamp(-0.999, 0.999);
        // Reading `d` frames back is reading `len - d` ahead, around the ring.
        let k = len as f64 - d as f64;
        let ki = k.floor() as usize;
        let frac = (k - ki as f64) as f32;
        for l in 0..lanes {
            let ring = &mut self.line[l * len..(l + 1) * len];
            let mut w = self.write;
            let mut a = (w + ki) % len;
            for f in 0..BLOCK {
                let b = if a + 1 == len { 0 } else { a + 1 };
                let echo = ring[a] + (ring[b] - ring[a]) * frac;
                let x = input.at(f, l);
                let next = x + echo * fb;
                ring[w] = if next.is_finite() { next } else { 0.0 };
                out[f * lanes + l] = x + echo * wet;
                w = if w + 1 == len { 0 } else { w + 1 };
                a = b;
            }
        }
        self.write = (self.write + BLOCK) % len;
    }
}

impl super::Carry for Delay {
    fn carry_from(&mut self, old: &Self) -> bool {
        if self.len != old.len || !super::copy_same(&mut self.line, &old.line) {
            return false;
        }
        self.write = old.write;
        true
    }
}

crate::node_inputs! {
    /// The signal, the echo time in seconds, the feedback and the level of the echoes.
    pub struct DelayIn { x, secs, feedback, wet }
}

impl super::Node for Delay {
    type Inputs<'a> = DelayIn<'a>;
    fn process(&mut self, ctx: &Ctx, ins: DelayIn, out: &mut [f32], lanes: usize) {
        Delay::process(self, ctx, ins, out, lanes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_lands_at_the_right_sample() {
        let ctx = Ctx::new(48000.0, 120.0);
        let mut d = Delay::new(1, 48000.0, 0.01);
        let secs = [0.01f32; BLOCK];
        let fb = [0.5f32; BLOCK];
        let mut outs = Vec::new();
        for b in 0..20 {
            let mut inp = [0.0f32; BLOCK];
            if b == 0 {
                inp[3] = 1.0;
            }
            let mut out = [0.0f32; BLOCK];
            let ins = DelayIn {
                x: In::signal(&inp, 1),
                secs: In::constant(&secs, 0.01),
                feedback: In::constant(&fb, 0.5),
                wet: In::constant(&[1.0; BLOCK], 1.0),
            };
            d.process(&ctx, ins, &mut out, 1);
            outs.extend_from_slice(&out);
        }
        let hits: Vec<(usize, f32)> = outs
            .iter()
            .enumerate()
            .filter(|(_, v)| v.abs() > 1e-6)
            .map(|(i, v)| (i, *v))
            .collect();
        assert_eq!(hits[0], (3, 1.0));
        assert_eq!(hits[1].0, 3 + 480);
        assert!((hits[1].1 - 1.0).abs() < 1e-6);
        assert_eq!(hits[2].0, 3 + 960);
        assert!((hits[2].1 - 0.5).abs() < 1e-6);
    }
}
