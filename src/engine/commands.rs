//! Messages between the control thread and the audio thread: commands in, finished graphs
//! back out to be freed. Built and dropped on the control thread; moved through lock-free
//! rings, never allocated or freed on the audio thread.

use crate::graph::RuntimeGraph;
use ringbuf::traits::Split;
use ringbuf::{HeapCons, HeapProd, HeapRb};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A new graph to play, with how to hand over to it.
pub struct Swap {
    /// The incoming graph; after the swap the slot holds the outgoing one, so the whole box
    /// travels back to the control thread to be freed there.
    pub graph: Option<Box<RuntimeGraph>>,
    /// Which ops of the new graph take state from which ops of the playing graph.
    pub plan: Vec<crate::graph::Carried>,
    /// Crossfade length in frames (0 = switch at the block boundary).
    pub fade_frames: u32,
    /// Swap on the transport's next multiple of this many beats (1 a beat, 4 a bar),
    /// counted on the playing transport, whatever its tempo history or clock; 0 = at the
    /// next block.
    pub quantum_beats: f64,
    /// Identifies the swap in reports (which reload it was).
    pub id: u64,
}

pub enum Command {
    Swap(Box<Swap>),
    MasterGain(f32),
    /// A number of the playing graph glides to a new value over `frames`.
    Param {
        slot: crate::graph::ParamSlot,
        value: f32,
        frames: u32,
    },
    /// Reports `id` as applied (closes a batch of parameter updates).
    Mark(u64),
}

/// What the audio thread reports about swaps, lock-free.
#[derive(Default, Debug)]
pub struct SwapStats {
    /// Id of the last swap applied (0 = none yet).
    pub applied_id: AtomicU64,
    /// Transport frame at which it was applied.
    pub applied_frame: AtomicU64,
    /// State-carrying nodes of the last swap that took over their predecessor's state.
    pub carried: AtomicU64,
}

impl SwapStats {
    pub fn applied(&self) -> (u64, u64) {
        (
            self.applied_id.load(Relaxed),
            self.applied_frame.load(Relaxed),
        )
    }
}

/// The control thread's ends of the queues.
pub struct Control {
    pub commands: HeapProd<Command>,
    pub garbage: HeapCons<Box<Swap>>,
    pub stats: Arc<SwapStats>,
}

/// The audio thread's ends.
pub struct AudioEnds {
    pub commands: HeapCons<Command>,
    pub garbage: HeapProd<Box<Swap>>,
    pub stats: Arc<SwapStats>,
}

/// Room for a burst of edits; a full queue makes the control thread wait, never the audio one.
pub const QUEUE: usize = 256;

pub fn channel() -> (Control, AudioEnds) {
    let (ctx, crx) = HeapRb::<Command>::new(QUEUE).split();
    let (gtx, grx) = HeapRb::<Box<Swap>>::new(QUEUE).split();
    let stats = Arc::new(SwapStats::default());
    (
        Control {
            commands: ctx,
            garbage: grx,
            stats: stats.clone(),
        },
        AudioEnds {
            commands: crx,
            garbage: gtx,
            stats,
        },
    )
}
