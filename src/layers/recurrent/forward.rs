//! The forward time loop: inputs in processing order, then per step the input projection
//! (`W_x` packed once per pass, so each step's projection lands in cache where the step reads
//! it), the cell's recurrent product and its element-wise step.

use ndarray::{Array2, Array3, ArrayD, ArrayView2, ArrayView3, ArrayViewD, AsArray, Dimension, Ix3};
use ndarray_rand::rand::Rng;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::layer::Mode;
use crate::layers::recurrent::cell::{Cell, CellParams, DenseRecurrent, ForwardStep, RecurrentProduct, SequenceStart};
use crate::layers::recurrent::core::Recurrent;
use crate::layers::recurrent::state::State;
use crate::layers::recurrent::workspace::{batch_parts, count, size, Dims, ForwardBufs, Inputs, Shared};
use crate::limits;
use crate::linalg::{gemm_packed, pack, Mat, MatMut};
use crate::parallel::{run_all, split_chunks};
use crate::shape::{check_finite, check_nonempty, check_same, fmt_shape};

/// Fills `mask` with an inverted-dropout mask of rate `p`: 0 with probability `p`, else
/// `1/(1−p)`.
fn draw_mask<F: Float, R: Rng + ?Sized>(rng: &mut R, p: f64, mask: &mut [F]) {
    let keep = F::of(1.0 / (1.0 - p));
    for m in mask.iter_mut() {
        *m = if rng.random::<f64>() < p { F::zero() } else { keep };
    }
}

impl<F: Float, C: Cell<F>> Recurrent<F, C> {
    /// Runs the layer from an explicit initial state (`None`: zeros), ignoring the one set by
    /// [`Recurrent::set_initial_state`].
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `x` is not `(B, T, I)` or the state not `(B, H)`;
    /// [`Error::Empty`] if `B` or `T` is 0; [`Error::NonFinite`] if `x` or the state holds
    /// NaN or an infinity; [`Error::TooLarge`] or [`Error::OutOfMemory`] if the workspace for
    /// this batch cannot be held. The layer is unchanged on error.
    pub fn forward_with_state(
        &mut self,
        x: ArrayView3<'_, F>,
        initial: Option<&State<F>>,
        mode: Mode,
    ) -> Result<ArrayD<F>> {
        self.forward_masked_with_state(x, None, initial, mode)
    }

    /// Runs the layer on variable-length sequences: `mask` `(B, T)` says which steps are
    /// real (`true`) and which are padding (`false`), and the initial state comes from
    /// [`Recurrent::set_initial_state`]. See [`Recurrent::forward_masked_with_state`].
    ///
    /// `x` is `(B, T, I)`, given as any array or view of rank 3 or dynamic rank (an
    /// `&Array3`, an `ArrayView3`, or the `ArrayViewD` [`Layer::forward_masked`] takes), so a
    /// call written like [`Layer::forward`] works on the concrete layer too.
    ///
    /// ```
    /// use recurrent::ndarray::{array, s, Array3};
    /// use recurrent::prelude::*;
    ///
    /// let mut lstm: Lstm<f64> = LstmConfig::new(2, 3).init(&mut StdRng::seed_from_u64(1))?;
    /// let x = Array3::from_shape_fn((2, 4, 2), |(b, t, i)| 0.1 * (b + t + i) as f64);
    /// let mask = array![[true, true, true, true], [true, true, false, false]];
    /// let typed = lstm.forward_masked(&x, Some(mask.view()), Mode::Infer)?;
    /// // Written like `forward` (dynamic rank), on the concrete layer and through the trait:
    /// let dynamic = lstm.forward_masked(x.view().into_dyn(), Some(mask.view()), Mode::Infer)?;
    /// let by_trait = Layer::forward_masked(&mut lstm, x.view().into_dyn(), Some(mask.view()), Mode::Infer)?;
    /// assert_eq!(typed, dynamic);
    /// assert_eq!(typed, by_trait);
    /// // Sample 1's last two steps are padding: its output is its state after step 2.
    /// let short = lstm.forward_masked(&x.slice(s![1..2, ..2, ..]), None, Mode::Infer)?;
    /// let gap = (&typed.slice(s![1, ..]) - &short.slice(s![0, ..])).mapv(f64::abs).sum();
    /// assert!(gap < 1e-12, "{typed} vs {short}");
    /// // A matrix is not a batch of sequences.
    /// let err = lstm.forward_masked(&array![[1.0, 2.0]], None, Mode::Infer).unwrap_err();
    /// assert!(err.to_string().contains("rank 3"), "{err}");
    /// # Ok::<(), recurrent::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Recurrent::forward_masked_with_state`]; [`Error::ShapeMismatch`] if `x` is not of
    /// rank 3.
    ///
    /// [`Layer::forward_masked`]: crate::Layer::forward_masked
    /// [`Layer::forward`]: crate::Layer::forward
    pub fn forward_masked<'a, V, D>(
        &mut self,
        x: V,
        mask: Option<ArrayView2<'_, bool>>,
        mode: Mode,
    ) -> Result<ArrayD<F>>
    where
        V: AsArray<'a, F, D>,
        D: Dimension,
        F: 'a,
    {
        let x = self.rank3(x.into().into_dyn())?;
        let init = self.initial_state.take();
        let out = self.forward_masked_with_state(x, mask, init.as_ref(), mode);
        self.initial_state = init;
        out
    }

    /// `input` as `(B, T, I)`, or an error naming its rank.
    pub(crate) fn rank3<'a>(&self, input: ArrayViewD<'a, F>) -> Result<ArrayView3<'a, F>> {
        let shape = input.shape().to_vec();
        input.into_dimensionality::<Ix3>().map_err(|_| {
            Error::shape(
                format!("{} input", self.name),
                format!("(B, T, {}): rank 3", self.input_size),
                format!("{} (rank {})", fmt_shape(&shape), shape.len()),
            )
        })
    }

    /// Runs the layer from an explicit initial state, skipping the steps `mask` marks as
    /// padding. For each sample independently:
    ///
    /// ```text
    /// if mask[b, t]:  (h_t, c_t) = cell(x_t, h_{t−1}, c_{t−1});  y_t = h_t
    /// else:           (h_t, c_t) = (h_{t−1}, c_{t−1});           y_t = 0
    /// ```
    ///
    /// So a masked step leaves the state unchanged and gives a zero output row (with
    /// `return_sequences`); without `return_sequences` the output is the state after the last
    /// real step (the initial state for a sample with no real step, as PyTorch's packed
    /// sequences). Inputs at masked steps have no influence, and their gradients are zero.
    /// With `go_backwards` the mask is read backwards along with the input, so each sample's
    /// real steps are processed from its last to its first. Leading (`pre`), trailing
    /// (`post`) and interior padding are all allowed. `mask: None` runs every step.
    ///
    /// # Errors
    /// As [`Recurrent::forward_with_state`]; [`Error::ShapeMismatch`] if `mask` is not
    /// `(B, T)`. The layer is unchanged on error.
    pub fn forward_masked_with_state(
        &mut self,
        x: ArrayView3<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
        initial: Option<&State<F>>,
        mode: Mode,
    ) -> Result<ArrayD<F>> {
        let kind = self.cell.kind();
        let (b, t, i) = x.dim();
        if i != self.input_size {
            return Err(Error::shape(
                format!("{} input", self.name),
                format!("(B, T, {}) for {kind} with input size {}", self.input_size, self.input_size),
                fmt_shape(x.shape()),
            ));
        }
        check_nonempty(format_args!("{} input", self.name), x.shape(), &["batch size", "time steps", "features"])?;
        check_finite(format_args!("{} input", self.name), &x)?;
        if let Some(s) = initial {
            self.check_state("initial state", s, b)?;
        }
        if let Some(m) = &mask {
            check_same(format_args!("{} mask (B, T)", self.name), &[b, t], m.shape())?;
        }
        self.ws.valid = false;
        self.passes = self.passes.wrapping_add(1);
        self.final_state = None;
        self.initial_state_grad = None;
        self.trace = None;

        let train = mode == Mode::Train;
        // Training keeps every step for backward; inference only what the next step reads.
        let hist = train;
        let (steps_kept, states_kept) = if hist { (t, t + 1) } else { (1, 2) };
        let mut d = Dims::new(&self.cell, t, i, self.units);
        d.idrop = train && self.dropout > 0.0;
        d.rdrop = train && self.recurrent_dropout > 0.0;
        let h = d.h;
        // Every buffer is at most (T+1)·B rows of the widest row: one checked product covers
        // them all before anything grows.
        let name = self.name.clone();
        count(&name, "rows", &[t + 1, b, d.widest()])?;
        let needs_rng = d.idrop || d.rdrop || d.qw > 0;
        let mut rng = if needs_rng { Some(self.pass_rng(train)) } else { None };
        let ws = &mut self.ws;
        ws.batch = b;
        ws.steps = t;
        batch_parts(b, t, &d, &mut ws.parts);
        size(&mut ws.xs, if hist { t * b * i } else { 0 }, &name, "xs (T·B, I)")?;
        size(&mut ws.gx, steps_kept * b * d.gw, &name, "gx (T·B, G·H)")?;
        size(&mut ws.gh, if d.sep { b * d.ew } else { 0 }, &name, "gh (B, E)")?;
        size(&mut ws.hs, states_kept * b * h, &name, "hs ((T+1)·B, H)")?;
        size(&mut ws.hrec, if d.rdrop { t * b * h } else { 0 }, &name, "h̃ (T·B, H)")?;
        size(&mut ws.cs, states_kept * b * d.sw, &name, "cs ((T+1)·B, S)")?;
        size(&mut ws.cache, steps_kept * b * d.cw, &name, "cache (T·B, W)")?;
        size(&mut ws.scratch, b * d.kw, &name, "scratch (B, K)")?;
        size(&mut ws.seq, b * d.qw, &name, "sequence (B, Q)")?;
        size(&mut ws.in_mask, if d.idrop { b * i } else { 0 }, &name, "input dropout mask (B, I)")?;
        size(&mut ws.rec_mask, if d.rdrop { b * h } else { 0 }, &name, "recurrent dropout mask (B, H)")?;

        // Dropout masks, then the cell's own draws, for the whole batch on this thread.
        if let Some(rng) = rng.as_mut() {
            if d.idrop {
                draw_mask(rng, self.dropout, &mut ws.in_mask);
            }
            if d.rdrop {
                draw_mask(rng, self.recurrent_dropout, &mut ws.rec_mask);
            }
        }
        let values: Vec<&[F]> = self.params.iter().map(|a| a.as_slice().unwrap_or(&[])).collect();
        let params = CellParams::new(&values);
        if d.qw > 0 {
            if let Some(rng) = rng.as_mut() {
                self.cell.begin_sequence(SequenceStart {
                    mode,
                    batch: b,
                    steps: t,
                    input_size: i,
                    units: h,
                    rng,
                    sequence: &mut ws.seq,
                    params,
                });
            }
        }

        // Input rows in processing order, part-major (see `Workspace`), times the input mask.
        let x = x.as_standard_layout();
        let xd = x.as_slice().ok_or_else(|| Error::shape("input copy", "row-major", "strided"))?;
        if hist && b == 1 && !self.go_backwards && !d.idrop {
            // One sequence read forwards: already in processing order.
            ws.xs.copy_from_slice(&xd[..t * i]);
        }
        // Inference reads the input in place (no dropout, and no weight gradient reads it).
        for &(b0, bn) in ws.parts.iter().filter(|_| hist && (b > 1 || self.go_backwards || d.idrop)) {
            let base = t * b0;
            for ti in 0..t {
                let src_t = if self.go_backwards { t - 1 - ti } else { ti };
                for bl in 0..bn {
                    let src = ((b0 + bl) * t + src_t) * i;
                    let dst = (base + ti * bn + bl) * i;
                    let row = &mut ws.xs[dst..dst + i];
                    row.copy_from_slice(&xd[src..src + i]);
                    if d.idrop {
                        let m = &ws.in_mask[(b0 + bl) * i..(b0 + bl + 1) * i];
                        row.iter_mut().zip(m).for_each(|(v, &m)| *v *= m);
                    }
                }
            }
        }
        // The mask in row order (empty without one).
        ws.mask.clear();
        if let Some(m) = &mask {
            limits::try_resize(&mut ws.mask, t * b, true, format_args!("{name} workspace mask (T·B)"))?;
            for &(b0, bn) in &ws.parts {
                for ti in 0..t {
                    let src_t = if self.go_backwards { t - 1 - ti } else { ti };
                    for bl in 0..bn {
                        ws.mask[t * b0 + ti * bn + bl] = m[[b0 + bl, src_t]];
                    }
                }
            }
        }
        // Each step projects its own input (x_t W_x + b) right before its recurrent product,
        // so the projection lands in cache where the step reads it: W_x packed once here.
        let wx = values[self.slots.kernel];
        pack(Mat::new(wx, i, d.gw), &mut ws.wx_packed)?;
        let input = Some(DenseRecurrent { raw: Mat::new(wx, i, d.gw), packed: &ws.wx_packed });
        let bias = self.slots.bias.map(|k| values[k]).unwrap_or(&[]);
        // Inference with every step's output: written by the steps straight into the result.
        let mut seq_out = if !hist && self.return_sequences {
            limits::try_vec(b * t * h, F::zero(), format_args!("{name} output (B, T, H)"))?
        } else {
            Vec::new()
        };

        let wh = self.slots.recurrent_kernel.map(|k| values[k]).unwrap_or(&[]);
        if self.slots.recurrent_kernel.is_some() {
            pack(Mat::strided(wh, h, d.ew, d.gw), &mut ws.wh_packed)?;
        }
        let dense = self
            .slots
            .recurrent_kernel
            .map(|_| DenseRecurrent { raw: Mat::strided(wh, h, d.ew, d.gw), packed: &ws.wh_packed });
        // W_h[:, E:], for a cell's own product on it (Cho's GRU), packed once per pass.
        let late = match self.slots.recurrent_kernel {
            Some(_) if d.ew < d.gw => {
                let raw = Mat::strided(&wh[d.ew..], h, d.gw - d.ew, d.gw);
                pack(raw, &mut ws.late_packed)?;
                Some(DenseRecurrent { raw, packed: &ws.late_packed })
            }
            _ => None,
        };
        let params = params.with_late(late);
        let rbias = self.slots.recurrent_bias.map(|k| values[k]).unwrap_or(&[]);
        let h0 = initial.map(|s| s.h.as_standard_layout());
        let c0 = initial.and_then(|s| s.c.as_ref()).map(|c| c.as_standard_layout());
        let shared = Shared { cell: &self.cell, d, params, dense, rbias, input, bias, rec_mask: &ws.rec_mask, mode };
        let parts = &ws.parts;
        let sw = d.sw;
        let backwards = self.go_backwards;
        let xs_of = |b0: usize, bn: usize| {
            if hist {
                Inputs::Copied(&ws.xs[t * i * b0..t * i * (b0 + bn)])
            } else {
                Inputs::InPlace { x: xd, b0, backwards }
            }
        };
        if parts.len() == 1 {
            // One part: no threads, and none of the bookkeeping below.
            let bufs = ForwardBufs {
                xs: xs_of(0, b),
                history: hist,
                out: &mut seq_out,
                gx: &mut ws.gx,
                gh: &mut ws.gh,
                hs: &mut ws.hs,
                hrec: &mut ws.hrec,
                cs: &mut ws.cs,
                cache: &mut ws.cache,
                scratch: &mut ws.scratch,
                seq: &ws.seq,
                mask: &ws.mask,
            };
            shared.forward_part(
                0,
                b,
                bufs,
                h0.as_ref().and_then(|a| a.as_slice()),
                c0.as_ref().and_then(|a| a.as_slice()),
            )?;
        } else {
            let seq_all = &ws.seq;
            let out_unit = if seq_out.is_empty() { 0 } else { t * h };
            let jobs: Vec<_> = parts
                .iter()
                .zip(split_chunks(&mut ws.gx, steps_kept * d.gw, parts))
                .zip(split_chunks(&mut ws.gh, d.ew, parts))
                .zip(split_chunks(&mut ws.hs, states_kept * h, parts))
                .zip(split_chunks(&mut ws.hrec, if d.rdrop { t * h } else { 0 }, parts))
                .zip(split_chunks(&mut ws.cs, states_kept * sw, parts))
                .zip(split_chunks(&mut ws.cache, steps_kept * d.cw, parts))
                .zip(split_chunks(&mut ws.scratch, d.kw, parts))
                .zip(split_chunks(&mut seq_out, out_unit, parts))
                .map(|((((((((&(b0, bn), gx), gh), hs), hrec), cs), cache), scratch), out)| {
                    let h0 = h0.as_ref().and_then(|a| a.as_slice()).map(|s| &s[b0 * h..(b0 + bn) * h]);
                    let c0 = c0.as_ref().and_then(|a| a.as_slice()).map(|s| &s[b0 * sw..(b0 + bn) * sw]);
                    let shared = &shared;
                    let mask = if ws.mask.is_empty() { &[][..] } else { &ws.mask[t * b0..t * (b0 + bn)] };
                    let seq = &seq_all[b0 * d.qw..(b0 + bn) * d.qw];
                    let xs = xs_of(b0, bn);
                    move || {
                        let bufs =
                            ForwardBufs { xs, history: hist, out, gx, gh, hs, hrec, cs, cache, scratch, seq, mask };
                        shared.forward_part(b0, bn, bufs, h0, c0)
                    }
                })
                .collect();
            run_all(jobs).into_iter().collect::<Result<Vec<()>>>()?;
        }

        // Outputs (in processing order) and the final state, gathered from the parts.
        // Built by appending in (sample, step) order: no zero-fill before the copy.
        let mut h_last = limits::try_with_capacity(b * h, format_args!("{name} final state (B, H)"))?;
        let mut c_last = limits::try_with_capacity(b * sw, format_args!("{name} final cell state (B, S)"))?;
        let mut seq = if hist {
            limits::try_with_capacity(
                if self.return_sequences { b * t * h } else { 0 },
                format_args!("{name} output (B, T, H)"),
            )?
        } else {
            seq_out
        };
        // The slot holding h_T (c_T) in each part's states.
        let last = if hist { t } else { t % 2 };
        for &(b0, bn) in parts {
            let hs = &ws.hs[states_kept * b0 * h..states_kept * (b0 + bn) * h];
            h_last.extend_from_slice(&hs[last * bn * h..(last + 1) * bn * h]);
            if sw > 0 {
                let cs = &ws.cs[states_kept * b0 * sw..states_kept * (b0 + bn) * sw];
                c_last.extend_from_slice(&cs[last * bn * sw..(last + 1) * bn * sw]);
            }
            if !hist {
                // Inference wrote the outputs during the loop.
            } else if self.return_sequences && bn == 1 {
                // One sequence: h_1 … h_T are already contiguous.
                seq.extend_from_slice(&hs[h..]);
            } else if self.return_sequences {
                for bl in 0..bn {
                    for ti in 0..t {
                        let src = ((ti + 1) * bn + bl) * h;
                        seq.extend_from_slice(&hs[src..src + h]);
                    }
                }
            }
        }
        if self.return_sequences && !ws.mask.is_empty() {
            // Masked steps give zero output rows.
            for &(b0, bn) in parts {
                for bl in 0..bn {
                    for ti in 0..t {
                        if !ws.mask[t * b0 + ti * bn + bl] {
                            let dst = ((b0 + bl) * t + ti) * h;
                            seq[dst..dst + h].iter_mut().for_each(|v| *v = F::zero());
                        }
                    }
                }
            }
        }
        let to2 = |what: &str, data: Vec<F>, cols: usize| {
            Array2::from_shape_vec((b, cols), data)
                .map_err(|e| Error::shape(what, format!("({b}, {cols})"), e.to_string()))
        };
        let h_last = to2("final state", h_last, h)?;
        let c_last = if sw > 0 { Some(to2("final cell state", c_last, sw)?) } else { None };
        let out = if self.return_sequences {
            Array3::from_shape_vec((b, t, h), seq)
                .map_err(|e| Error::shape("output", format!("({b}, {t}, {h})"), e.to_string()))?
                .into_dyn()
        } else {
            h_last.clone().into_dyn()
        };
        self.final_state = Some(State { h: h_last, c: c_last });
        ws.valid = train;
        Ok(out)
    }

    /// Runs the layer and returns its output together with its final state, as Keras's
    /// `return_state=True` does (the state is also kept for [`Recurrent::final_state`]).
    ///
    /// # Errors
    /// As [`Recurrent::forward_with_state`].
    pub fn forward_return_state(
        &mut self,
        x: ArrayView3<'_, F>,
        initial: Option<&State<F>>,
        mode: Mode,
    ) -> Result<(ArrayD<F>, State<F>)> {
        let out = self.forward_with_state(x, initial, mode)?;
        let state = self.final_state.clone().ok_or_else(|| Error::NoForwardCache { layer: self.name.clone() })?;
        Ok((out, state))
    }
}

impl<F: Float, C: Cell<F>> Shared<'_, F, C> {
    /// The time loop for the `bn` sequences starting at sample `b0`. Allocation-free.
    pub(crate) fn forward_part(
        &self,
        b0: usize,
        bn: usize,
        w: ForwardBufs<'_, F>,
        h0: Option<&[F]>,
        c0: Option<&[F]>,
    ) -> Result<()> {
        let Dims { t, i, h, gw, ew, sw, cw, kw, sep, rdrop, .. } = self.d;
        let (bh, bs) = (bn * h, bn * sw);
        let hist = w.history;
        // Where state `s` lives: its own slot with the history, else two slots in turn.
        let slot = |s: usize| if hist { s } else { s % 2 };
        match h0 {
            Some(s) => w.hs[..bh].copy_from_slice(s),
            None => w.hs[..bh].iter_mut().for_each(|v| *v = F::zero()),
        }
        if sw > 0 {
            match c0 {
                Some(s) => w.cs[..bs].copy_from_slice(s),
                None => w.cs[..bs].iter_mut().for_each(|v| *v = F::zero()),
            }
        }
        let rec_mask = if rdrop { &self.rec_mask[b0 * h..(b0 + bn) * h] } else { &[][..] };
        for step in 0..t {
            let (h_prev, h_next) = two(w.hs, slot(step), slot(step + 1), bh);
            let (c_prev, c_next) = two(w.cs, slot(step), slot(step + 1), bs);
            // h̃_{t−1}: the state as the recurrent product sees it.
            let h_rec: &[F] = if rdrop {
                let dst = &mut w.hrec[step * bh..(step + 1) * bh];
                for ((d, &v), &m) in dst.iter_mut().zip(h_prev).zip(rec_mask) {
                    *d = v * m;
                }
                dst
            } else {
                h_prev
            };
            let g = if hist { step } else { 0 };
            let gx_t = &mut w.gx[g * bn * gw..(g + 1) * bn * gw];
            // x_t W_x + b, while the step's rows are about to be read.
            if self.bias.is_empty() {
                gx_t.iter_mut().for_each(|v| *v = F::zero());
            } else {
                for row in gx_t.chunks_exact_mut(gw) {
                    row.copy_from_slice(&self.bias[..gw]);
                }
            }
            if let Some(wx) = self.input {
                let (xr, ld) = w.xs.step(step, bn, t, i);
                gemm_packed(Mat::strided(xr, bn, i, ld), wx.raw, wx.packed, MatMut::new(gx_t, bn, gw), true)?;
            }
            if sep {
                for row in w.gh.chunks_exact_mut(ew) {
                    row.copy_from_slice(&self.rbias[..ew]);
                }
            }
            let (out, stride): (&mut [F], usize) = if sep { (&mut *w.gh, ew) } else { (&mut *gx_t, gw) };
            self.cell.recurrent_product(RecurrentProduct {
                batch: bn,
                units: h,
                h: h_rec,
                out,
                stride,
                cols: ew,
                params: self.params,
                dense: self.dense,
            })?;
            self.cell.forward_step(ForwardStep {
                mode: self.mode,
                batch: bn,
                units: h,
                step,
                gx: gx_t,
                gh: w.gh,
                h_prev,
                h_rec,
                rec_mask,
                c_prev,
                h: h_next,
                c: c_next,
                cache: &mut w.cache[g * bn * cw..(g + 1) * bn * cw],
                scratch: &mut w.scratch[..bn * kw],
                sequence: w.seq,
                params: self.params,
            });
            if !w.mask.is_empty() {
                // A masked step carries the state over unchanged.
                for (bl, _) in w.mask[step * bn..(step + 1) * bn].iter().enumerate().filter(|(_, &m)| !m) {
                    h_next[bl * h..(bl + 1) * h].copy_from_slice(&h_prev[bl * h..(bl + 1) * h]);
                    if sw > 0 {
                        c_next[bl * sw..(bl + 1) * sw].copy_from_slice(&c_prev[bl * sw..(bl + 1) * sw]);
                    }
                }
            }
            if !w.out.is_empty() {
                for (bl, row) in h_next.chunks_exact(h).enumerate() {
                    let at = (bl * t + step) * h;
                    w.out[at..at + h].copy_from_slice(row);
                }
            }
        }
        Ok(())
    }
}

/// Slots `a` (read) and `b` (written) of `len` elements each of `buf`; `a ≠ b`. Empty slices
/// when `len` is 0.
#[inline]
fn two<F>(buf: &mut [F], a: usize, b: usize, len: usize) -> (&[F], &mut [F]) {
    if len == 0 {
        return (&[], &mut []);
    }
    if a < b {
        let (lo, hi) = buf.split_at_mut(b * len);
        (&lo[a * len..(a + 1) * len], &mut hi[..len])
    } else {
        let (lo, hi) = buf.split_at_mut(a * len);
        (&hi[..len], &mut lo[b * len..(b + 1) * len])
    }
}
