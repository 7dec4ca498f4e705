//! The recurrent loop's buffers: sized once per (B, T) shape and reused, so the step loops
//! allocate nothing; the sizes of one pass; how the batch is split across threads.

use crate::error::Result;
use crate::float::Float;
use crate::layers::recurrent::cell::{Cell, CellParams, DenseRecurrent};
use crate::limits;
use crate::linalg::PackedB;
use crate::parallel::{num_threads, ranges};

/// Buffers reused across calls of the same shape (time-major: row `t·B + b`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Workspace<F> {
    pub(crate) batch: usize,
    pub(crate) steps: usize,
    /// The batch split across threads, as (first sample, samples). Every per-sample buffer
    /// is laid out part by part, time-major inside a part: the row of sample b0 + j at step t
    /// is `T·b0 + t·bn + j` (with one part: `t·B + b`).
    pub(crate) parts: Vec<(usize, usize)>,
    /// ‖dL/dh_t‖² per part and step.
    pub(crate) sq_norms: Vec<F>,
    /// Input in processing order (times the input dropout mask), (T·B, I).
    pub(crate) xs: Vec<F>,
    /// Input projections, then whatever the cell keeps per step, (T·B, G·H); in inference
    /// one step's, (B, G·H), reused.
    pub(crate) gx: Vec<F>,
    /// Separate recurrent projection of the current step, (B, E).
    pub(crate) gh: Vec<F>,
    /// Hidden states h_0 … h_T, ((T+1)·B, H); in inference only the two a step needs,
    /// (2·B, H), used in turn.
    pub(crate) hs: Vec<F>,
    /// h̃_{t−1} = h_{t−1} ⊙ m_h per step, (T·B, H); empty without recurrent dropout.
    pub(crate) hrec: Vec<F>,
    /// Second state parts c_0 … c_T, ((T+1)·B, S), or two in inference; empty without one.
    pub(crate) cs: Vec<F>,
    /// The cell's per-step cache, (T·B, W), or one step's in inference.
    pub(crate) cache: Vec<F>,
    /// The cell's per-step scratch, (B, K).
    pub(crate) scratch: Vec<F>,
    /// What the cell's begin_sequence wrote, (B, Q).
    pub(crate) seq: Vec<F>,
    /// Input dropout mask (scaled), (B, I); empty when off.
    pub(crate) in_mask: Vec<F>,
    /// Recurrent dropout mask (scaled), (B, H); empty when off.
    pub(crate) rec_mask: Vec<F>,
    /// dL/dGX, (T·B, G·H).
    pub(crate) dgx: Vec<F>,
    /// dL/dgh per step, (T·B, E); empty unless the cell keeps gh separate.
    pub(crate) dgh: Vec<F>,
    /// What the cell's backward steps keep, (T·B, D).
    pub(crate) dcache: Vec<F>,
    pub(crate) dh: Vec<F>,
    pub(crate) dh_prev: Vec<F>,
    /// dL/dh̃ of the current step before the mask, (B, H); empty without recurrent dropout.
    pub(crate) dh_rec: Vec<F>,
    pub(crate) dc: Vec<F>,
    pub(crate) dc_prev: Vec<F>,
    /// dL/dh_t and dL/dc_t of masked rows, kept across the cell's backward step, (B, H + S).
    pub(crate) carry: Vec<F>,
    /// dL/dXs, (T·B, I).
    pub(crate) dxs: Vec<F>,
    /// dL/dx, dL/dh_0, dL/dc_0 and the trace, reserved ahead (`reserve_backward`) and
    /// handed out by the pass, so nothing fails for memory after gradients start to add up.
    pub(crate) out_dx: Vec<F>,
    pub(crate) out_dh0: Vec<F>,
    pub(crate) out_dc0: Vec<F>,
    pub(crate) out_sq: Vec<F>,
    /// Which steps are real (true) or masked (false), in row order (part-major, processing
    /// order inside a part); empty when the pass has no mask.
    pub(crate) mask: Vec<bool>,
    /// W_h[:, :E]ᵀ, (E, H): the backward product reads it row by row.
    pub(crate) wh_t: Vec<F>,
    /// W_h[:, :E] packed for the engine, once per forward pass.
    pub(crate) wh_packed: PackedB<F>,
    /// W_x packed for the engine, once per forward pass (each step projects its own input).
    pub(crate) wx_packed: PackedB<F>,
    /// The recurrent kernel's columns past E, W_h[:, E:], packed once per forward pass, and
    /// their transpose once per backward pass (for the cell's own product, Cho's GRU).
    pub(crate) late_packed: PackedB<F>,
    pub(crate) late_t_packed: PackedB<F>,
    /// W_h[:, :E]ᵀ packed, once per backward pass.
    pub(crate) wh_t_packed: PackedB<F>,
    /// Whether the buffers hold a training forward pass that backward may use.
    pub(crate) valid: bool,
}

/// Grows or shrinks `v` to `n` elements, fallibly, naming the layer and the buffer.
pub(crate) fn size<F: Float>(v: &mut Vec<F>, n: usize, layer: &str, buffer: &str) -> Result<()> {
    limits::try_resize(v, n, F::zero(), format_args!("{layer} workspace {buffer}"))
}

/// A checked product of sizes, naming the layer and the buffer.
pub(crate) fn count(layer: &str, buffer: &str, dims: &[usize]) -> Result<usize> {
    limits::elements(format_args!("{layer} workspace {buffer}"), dims)
}

/// Sizes of one pass: T steps, I inputs, H units, G·H gate columns of which the first E go
/// through the recurrent product, the second state part's width S, and the cell's widths.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dims {
    pub(crate) t: usize,
    pub(crate) i: usize,
    pub(crate) h: usize,
    pub(crate) gw: usize,
    pub(crate) ew: usize,
    /// Second state part S.
    pub(crate) sw: usize,
    /// Cache W.
    pub(crate) cw: usize,
    /// Grad cache D.
    pub(crate) dw: usize,
    /// Scratch K.
    pub(crate) kw: usize,
    /// Sequence Q.
    pub(crate) qw: usize,
    pub(crate) sep: bool,
    /// Recurrent dropout in this pass.
    pub(crate) rdrop: bool,
    /// Input dropout in this pass.
    pub(crate) idrop: bool,
}

impl Dims {
    pub(crate) fn new<F: Float, C: Cell<F>>(cell: &C, t: usize, i: usize, h: usize) -> Self {
        Dims {
            t,
            i,
            h,
            gw: cell.gates() * h,
            ew: cell.recurrent_columns(h),
            sw: cell.cell_state_width(h),
            cw: cell.cache_width(h),
            dw: cell.grad_cache_width(h),
            kw: cell.scratch_width(h),
            qw: cell.sequence_width(i, h),
            sep: cell.separate_recurrent(),
            rdrop: false,
            idrop: false,
        }
    }

    /// The widest per-row buffer, for the checked size of the workspace.
    pub(crate) fn widest(&self) -> usize {
        [self.i, self.gw, self.h, self.sw, self.cw, self.dw, self.kw, self.qw].into_iter().max().unwrap_or(0)
    }
}

/// How the batch is split across threads: one part unless several threads are allowed and
/// the time loop is worth splitting.
pub(crate) fn batch_parts(b: usize, t: usize, d: &Dims, parts: &mut Vec<(usize, usize)>) {
    let threads = num_threads();
    // Multiply-adds of the recurrent products of the whole loop.
    let work = b.saturating_mul(t).saturating_mul(d.h).saturating_mul(d.gw);
    parts.clear();
    if threads > 1 && b >= 2 && work >= PARALLEL_LOOP_MIN {
        parts.extend(ranges(b, threads, 1));
    } else {
        parts.push((0, b));
    }
}

/// From this many multiply-adds in the time loop on, the batch is split across threads.
const PARALLEL_LOOP_MIN: usize = 1 << 21;

/// What every part reads: the cell, the sizes, the parameters and the masks.
pub(crate) struct Shared<'a, F, C> {
    pub(crate) cell: &'a C,
    pub(crate) d: Dims,
    pub(crate) params: CellParams<'a, F>,
    /// The default recurrent product's operand (forward: W_h[:, :E]; backward: its
    /// transpose); `None` without a recurrent kernel.
    pub(crate) dense: Option<DenseRecurrent<'a, F>>,
    /// b_h, for cells with a separate recurrent product.
    pub(crate) rbias: &'a [F],
    /// W_x as the per-step input projection reads it (forward only).
    pub(crate) input: Option<DenseRecurrent<'a, F>>,
    /// b (the input bias; empty without one), forward only.
    pub(crate) bias: &'a [F],
    /// The whole batch's recurrent dropout mask; empty when off.
    pub(crate) rec_mask: &'a [F],
    pub(crate) mode: crate::layers::layer::Mode,
}

/// Where a part's input rows of one step are: the workspace's copy in processing order
/// (training: the weight gradients read it again), or the caller's `(B, T, I)` input read in
/// place (inference).
#[derive(Clone, Copy)]
pub(crate) enum Inputs<'a, F> {
    /// The part's rows of `xs`, `(T·bn, I)`, step-major.
    Copied(&'a [F]),
    /// The whole input, row-major `(B, T, I)`; the part starts at sample `b0`.
    InPlace { x: &'a [F], b0: usize, backwards: bool },
}

impl<'a, F> Inputs<'a, F> {
    /// The `bn` rows of processing step `step`: (data from the first row, row stride).
    #[inline]
    pub(crate) fn step(&self, step: usize, bn: usize, t: usize, i: usize) -> (&'a [F], usize) {
        match *self {
            Inputs::Copied(xs) => (&xs[step * bn * i..(step + 1) * bn * i], i),
            Inputs::InPlace { x, b0, backwards } => {
                let src_t = if backwards { t - 1 - step } else { step };
                let start = (b0 * t + src_t) * i;
                let end = start + (bn - 1) * t * i + i;
                (&x[start..end], t * i)
            }
        }
    }
}

/// One part's forward buffers (its share of the batch, time-major inside).
pub(crate) struct ForwardBufs<'a, F> {
    pub(crate) xs: Inputs<'a, F>,
    /// Whether the buffers hold every step (training) or one step's scratch and two states
    /// used in turn (inference).
    pub(crate) history: bool,
    /// The part's `(bn, T, H)` output rows, written step by step (inference with
    /// `return_sequences`); empty otherwise.
    pub(crate) out: &'a mut [F],
    pub(crate) gx: &'a mut [F],
    pub(crate) gh: &'a mut [F],
    pub(crate) hs: &'a mut [F],
    pub(crate) hrec: &'a mut [F],
    pub(crate) cs: &'a mut [F],
    pub(crate) cache: &'a mut [F],
    pub(crate) scratch: &'a mut [F],
    pub(crate) seq: &'a [F],
    /// The part's mask in row order; empty without one.
    pub(crate) mask: &'a [bool],
}

/// One part's forward results, read by its backward pass.
pub(crate) struct PartView<'a, F> {
    pub(crate) gx: &'a [F],
    pub(crate) hs: &'a [F],
    pub(crate) hrec: &'a [F],
    pub(crate) cs: &'a [F],
    pub(crate) cache: &'a [F],
    pub(crate) seq: &'a [F],
}

/// One part's backward buffers.
pub(crate) struct BackwardBufs<'a, F> {
    pub(crate) dgx: &'a mut [F],
    pub(crate) dgh: &'a mut [F],
    pub(crate) dcache: &'a mut [F],
    pub(crate) dh: &'a mut [F],
    pub(crate) dh_prev: &'a mut [F],
    pub(crate) dh_rec: &'a mut [F],
    pub(crate) dc: &'a mut [F],
    pub(crate) dc_prev: &'a mut [F],
    pub(crate) scratch: &'a mut [F],
    pub(crate) carry: &'a mut [F],
    pub(crate) sq_norms: &'a mut [F],
}
