//! The renderer: the single entry point of the audio thread (`Renderer::process`).
//!
//! It renders fixed 64-frame blocks into a carry buffer and hands out as many frames as the
//! caller asks for, so a device callback of 1, 17 or 4096 frames hears exactly the same
//! samples. Nothing reachable from `process` allocates, frees, locks, blocks or prints.

use crate::dsp::{BLOCK, Ctx};
use crate::graph::CompiledGraph;

pub struct Renderer {
    graph: CompiledGraph,
    ctx: Ctx,
    master_gain: f32,
    /// The current block, interleaved stereo, already scaled by the master gain.
    block: [f32; 2 * BLOCK],
    /// Next frame of `block` to hand out; `BLOCK` means a new block is needed.
    pos: usize,
}

impl Renderer {
    pub fn new(graph: CompiledGraph, sample_rate: f32, master_gain: f32) -> Self {
        let ctx = Ctx::new(sample_rate, graph.tempo_bpm);
        Renderer {
            graph,
            ctx,
            master_gain,
            block: [0.0; 2 * BLOCK],
            pos: BLOCK,
        }
    }

    /// Fills `out` (interleaved stereo) with the next `out.len() / 2` frames. Not clipped:
    /// the device layer clips, the recorder keeps the full value.
    pub fn process(&mut self, out: &mut [f32]) {
        let frames = out.len() / 2;
        let mut done = 0;
        while done < frames {
            if self.pos == BLOCK {
                self.render_block();
            }
            let n = (BLOCK - self.pos).min(frames - done);
            out[done * 2..(done + n) * 2]
                .copy_from_slice(&self.block[self.pos * 2..(self.pos + n) * 2]);
            self.pos += n;
            done += n;
        }
    }

    fn render_block(&mut self) {
        let mut l = [0.0f32; BLOCK];
        let mut r = [0.0f32; BLOCK];
        self.graph.process_block(&self.ctx, &mut l, &mut r);
        let g = self.master_gain;
        for (i, frame) in self.block.chunks_exact_mut(2).enumerate() {
            frame[0] = l[i] * g;
            frame[1] = r[i] * g;
        }
        self.ctx.frame += BLOCK as u64;
        self.pos = 0;
    }

    pub fn sample_rate(&self) -> f32 {
        self.ctx.sample_rate
    }

    pub fn set_master_gain(&mut self, g: f32) {
        self.master_gain = g;
    }

    /// Frames handed out so far.
    pub fn position(&self) -> u64 {
        self.ctx.frame - (BLOCK - self.pos) as u64
    }

    pub fn graph(&self) -> &CompiledGraph {
        &self.graph
    }
}
