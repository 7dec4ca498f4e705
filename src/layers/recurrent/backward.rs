//! Backpropagation through time: the backward loop over the steps of the last training
//! forward pass, then the weight gradients (`grads.rs`) and dL/dx.

use ndarray::{Array2, Array3, ArrayViewD};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::recurrent::cell::{BackwardStep, Cell, CellParams, DenseRecurrent, RecurrentProductBackward};
use crate::layers::recurrent::core::Recurrent;
use crate::layers::recurrent::state::State;
use crate::layers::recurrent::trace::GradientTrace;
use crate::layers::recurrent::workspace::{size, BackwardBufs, Dims, PartView, Shared};
use crate::limits;
use crate::linalg::{pack, Mat};
use crate::parallel::{run_all, split_chunks};
use crate::shape::{check_finite, check_same};

impl<F: Float, C: Cell<F>> Recurrent<F, C> {
    /// Reserves every buffer the next backward pass needs, so that pass cannot fail for
    /// memory once it has started adding to the gradients (see
    /// [`RecurrentLayer::reserve_backward`](crate::RecurrentLayer::reserve_backward)).
    ///
    /// # Errors
    /// [`Error::NoForwardCache`] without a training forward pass; [`Error::OutOfMemory`] if a
    /// buffer cannot be reserved. Nothing is accumulated either way.
    pub fn reserve_backward(&mut self) -> Result<()> {
        if !self.ws.valid {
            return Err(Error::NoForwardCache { layer: self.name.clone() });
        }
        let (b, t, i, h) = (self.ws.batch, self.ws.steps, self.input_size, self.units);
        let mut d = Dims::new(&self.cell, t, i, h);
        d.rdrop = !self.ws.rec_mask.is_empty();
        let sw = d.sw;
        let name = self.name.clone();
        let ws = &mut self.ws;
        size(&mut ws.dgx, t * b * d.gw, &name, "dgx (T·B, G·H)")?;
        size(&mut ws.dgh, if d.sep { t * b * d.ew } else { 0 }, &name, "dgh (T·B, E)")?;
        size(&mut ws.dcache, t * b * d.dw, &name, "dcache (T·B, D)")?;
        size(&mut ws.carry, if ws.mask.is_empty() { 0 } else { b * (h + sw) }, &name, "carry (B, H + S)")?;
        size(&mut ws.dh, b * h, &name, "dh (B, H)")?;
        size(&mut ws.dh_prev, b * h, &name, "dh_prev (B, H)")?;
        size(&mut ws.dh_rec, if d.rdrop { b * h } else { 0 }, &name, "dh̃ (B, H)")?;
        size(&mut ws.dc, b * sw, &name, "dc (B, S)")?;
        size(&mut ws.dc_prev, b * sw, &name, "dc_prev (B, S)")?;
        size(&mut ws.scratch, b * d.kw, &name, "scratch (B, K)")?;
        size(&mut ws.dxs, t * b * i, &name, "dxs (T·B, I)")?;
        ws.sq_norms.clear();
        size(&mut ws.sq_norms, ws.parts.len() * t, &name, "gradient trace")?;

        if self.slots.recurrent_kernel.is_some() {
            size(&mut ws.wh_t, d.ew * h, &name, "W_hᵀ (E, H)")?;
            ws.wh_t_packed.try_reserve(d.ew, h, format_args!("{name} packed W_hᵀ"))?;
            if d.ew < d.gw {
                ws.late_t_packed.try_reserve(d.gw - d.ew, h, format_args!("{name} packed W_h[:, E:]ᵀ"))?;
            }
        }
        limits::try_reserve(&mut ws.out_dx, b * t * i, format_args!("{name} input gradient (B, T, I)"))?;
        limits::try_reserve(&mut ws.out_dh0, b * h, format_args!("{name} initial state gradient (B, H)"))?;
        limits::try_reserve(&mut ws.out_dc0, b * sw, format_args!("{name} initial cell state gradient (B, S)"))?;
        limits::try_reserve(&mut ws.out_sq, t, format_args!("{name} gradient trace (T)"))?;
        Ok(())
    }

    /// Backpropagation through time with an extra gradient on the final state (for a final
    /// state that feeds something else, as an encoder's feeds a decoder). `None` means the
    /// final state gets gradient only through the output. Returns dL/dx `(B, T, I)`.
    ///
    /// # Errors
    /// As [`crate::Layer::backward`]; [`Error::ShapeMismatch`] if `grad_final` is not `(B, H)`
    /// (with `c` exactly for cells with a second state part); [`Error::OutOfMemory`] if the
    /// backward buffers cannot be held. Nothing is accumulated on error.
    pub fn backward_with_state(
        &mut self,
        grad_output: ArrayViewD<'_, F>,
        grad_final: Option<&State<F>>,
    ) -> Result<Array3<F>> {
        if !self.ws.valid {
            return Err(Error::NoForwardCache { layer: self.name.clone() });
        }
        let (b, t, i, h) = (self.ws.batch, self.ws.steps, self.input_size, self.units);
        let want: Vec<usize> = if self.return_sequences { vec![b, t, h] } else { vec![b, h] };
        check_same(format_args!("{} grad_output (must match the output)", self.name), &want, grad_output.shape())?;
        check_finite(format_args!("{} grad_output", self.name), &grad_output)?;
        if let Some(s) = grad_final {
            self.check_state("final state gradient", s, b)?;
        }
        let g = grad_output.as_standard_layout();
        let g = g.as_slice().ok_or_else(|| Error::shape("grad_output copy", "row-major", "strided"))?;

        self.reserve_backward()?;
        let mut d = Dims::new(&self.cell, t, i, h);
        d.idrop = !self.ws.in_mask.is_empty();
        d.rdrop = !self.ws.rec_mask.is_empty();
        let sw = d.sw;
        let ws = &mut self.ws;
        ws.sq_norms.iter_mut().for_each(|v| *v = F::zero());

        let values: Vec<&[F]> = self.params.iter().map(|a| a.as_slice().unwrap_or(&[])).collect();
        let params = CellParams::new(&values);
        // W_h[:, :E]ᵀ once per pass, so the per-step product streams contiguous rows.
        let dense = match self.slots.recurrent_kernel {
            Some(k) => {
                let wh = values[k];
                for (r, row) in wh.chunks_exact(d.gw).enumerate() {
                    for (c, &v) in row[..d.ew].iter().enumerate() {
                        ws.wh_t[c * h + r] = v;
                    }
                }
                pack(Mat::new(&ws.wh_t, d.ew, h), &mut ws.wh_t_packed)?;
                Some(DenseRecurrent { raw: Mat::new(&ws.wh_t, d.ew, h), packed: &ws.wh_t_packed })
            }
            None => None,
        };
        // W_h[:, E:]ᵀ, for a cell's own product on it (Cho's GRU), packed once per pass.
        let late = match self.slots.recurrent_kernel {
            Some(k) if d.ew < d.gw => {
                let raw = Mat::strided(&values[k][d.ew..], h, d.gw - d.ew, d.gw).t();
                pack(raw, &mut ws.late_t_packed)?;
                Some(DenseRecurrent { raw, packed: &ws.late_t_packed })
            }
            _ => None,
        };
        let params = params.with_late(late);
        let gf_h = grad_final.map(|s| s.h.as_standard_layout());
        let gf_c = grad_final.and_then(|s| s.c.as_ref()).map(|c| c.as_standard_layout());
        let shared = Shared {
            cell: &self.cell,
            d,
            params,
            dense,
            rbias: &[],
            input: None,
            bias: &[],
            rec_mask: &ws.rec_mask,
            mode: crate::layers::layer::Mode::Train,
        };
        let seq = self.return_sequences;
        let parts = &ws.parts;
        let part_view = |b0: usize, bn: usize| PartView {
            gx: &ws.gx[t * d.gw * b0..t * d.gw * (b0 + bn)],
            hs: &ws.hs[(t + 1) * h * b0..(t + 1) * h * (b0 + bn)],
            hrec: if d.rdrop { &ws.hrec[t * h * b0..t * h * (b0 + bn)] } else { &[] },
            cs: &ws.cs[(t + 1) * sw * b0..(t + 1) * sw * (b0 + bn)],
            cache: &ws.cache[t * d.cw * b0..t * d.cw * (b0 + bn)],
            seq: &ws.seq[d.qw * b0..d.qw * (b0 + bn)],
        };
        if parts.len() == 1 {
            // One part: no threads, and none of the bookkeeping below.
            let bufs = BackwardBufs {
                dgx: &mut ws.dgx,
                dgh: &mut ws.dgh,
                dcache: &mut ws.dcache,
                dh: &mut ws.dh,
                dh_prev: &mut ws.dh_prev,
                dh_rec: &mut ws.dh_rec,
                dc: &mut ws.dc,
                dc_prev: &mut ws.dc_prev,
                scratch: &mut ws.scratch,
                carry: &mut ws.carry,
                sq_norms: &mut ws.sq_norms,
            };
            let mask = &ws.mask[..];
            let gf_h = gf_h.as_ref().and_then(|a| a.as_slice());
            let gf_c = gf_c.as_ref().and_then(|a| a.as_slice());
            shared.backward_part(0, b, g, seq, part_view(0, b), mask, bufs, gf_h, gf_c)?;
        } else {
            let jobs: Vec<_> = parts
                .iter()
                .zip(split_chunks(&mut ws.dgx, t * d.gw, parts))
                .zip(split_chunks(&mut ws.dgh, t * d.ew, parts))
                .zip(split_chunks(&mut ws.dcache, t * d.dw, parts))
                .zip(split_chunks(&mut ws.dh, h, parts))
                .zip(split_chunks(&mut ws.dh_prev, h, parts))
                .zip(split_chunks(&mut ws.dh_rec, if d.rdrop { h } else { 0 }, parts))
                .zip(split_chunks(&mut ws.dc, sw, parts))
                .zip(split_chunks(&mut ws.dc_prev, sw, parts))
                .zip(split_chunks(&mut ws.scratch, d.kw, parts))
                .zip(split_chunks(&mut ws.carry, h + sw, parts))
                .zip(split_chunks(&mut ws.sq_norms, t, &vec![(0, 1); parts.len()]))
                .map(
                    |(
                        (
                            (((((((((&(b0, bn), dgx), dgh), dcache), dh), dh_prev), dh_rec), dc), dc_prev), scratch),
                            carry,
                        ),
                        sq,
                    )| {
                        let fwd = part_view(b0, bn);
                        let gf_h = gf_h.as_ref().and_then(|a| a.as_slice()).map(|s| &s[b0 * h..(b0 + bn) * h]);
                        let gf_c = gf_c.as_ref().and_then(|a| a.as_slice()).map(|s| &s[b0 * sw..(b0 + bn) * sw]);
                        let shared = &shared;
                        let bufs = BackwardBufs {
                            dgx,
                            dgh,
                            dcache,
                            dh,
                            dh_prev,
                            dh_rec,
                            dc,
                            dc_prev,
                            scratch,
                            carry,
                            sq_norms: sq,
                        };
                        let mask = if ws.mask.is_empty() { &[][..] } else { &ws.mask[t * b0..t * (b0 + bn)] };
                        move || shared.backward_part(b0, bn, g, seq, fwd, mask, bufs, gf_h, gf_c)
                    },
                )
                .collect();
            run_all(jobs).into_iter().collect::<Result<Vec<()>>>()?;
        }

        // Everything the weight products and dx need is in the workspace now.
        let mut dx = std::mem::take(&mut ws.out_dx);
        let (mut dh0, mut dc0) = (std::mem::take(&mut ws.out_dh0), std::mem::take(&mut ws.out_dc0));
        let mut sq = std::mem::take(&mut ws.out_sq);
        self.weight_grads(&d)?;
        let ws = &self.ws;
        let parts = &ws.parts;
        // Built by appending in (sample, position) order: no zero-fill before the copy.
        sq.resize(t, F::zero());
        for (p, &(b0, bn)) in parts.iter().enumerate() {
            for bl in 0..bn {
                for pos in 0..t {
                    let ti = if self.go_backwards { t - 1 - pos } else { pos };
                    let src = (t * b0 + ti * bn + bl) * i;
                    let row = &ws.dxs[src..src + i];
                    if d.idrop {
                        let m = &ws.in_mask[(b0 + bl) * i..(b0 + bl + 1) * i];
                        dx.extend(row.iter().zip(m).map(|(&v, &m)| v * m));
                    } else {
                        dx.extend_from_slice(row);
                    }
                }
            }
            for (s, &v) in sq.iter_mut().zip(&ws.sq_norms[p * t..(p + 1) * t]) {
                *s += v;
            }
        }
        // The parts left dL/dh_0 (dL/dc_0) of their rows in order in dh (dc).
        dh0.extend_from_slice(&ws.dh[..b * h]);
        dc0.extend_from_slice(&ws.dc[..b * sw]);
        let dx = Array3::from_shape_vec((b, t, i), dx)
            .map_err(|e| Error::shape("input gradient", format!("({b}, {t}, {i})"), e.to_string()))?;
        let to2 = |what: &str, data: Vec<F>, cols: usize| {
            Array2::from_shape_vec((b, cols), data)
                .map_err(|e| Error::shape(what, format!("({b}, {cols})"), e.to_string()))
        };
        let dh0 = to2("initial state gradient", dh0, h)?;
        let dc0 = if sw > 0 { Some(to2("initial cell state gradient", dc0, sw)?) } else { None };
        self.initial_state_grad = Some(State { h: dh0, c: dc0 });
        self.trace = Some(GradientTrace::new(sq.into_iter().map(|v| v.sqrt()).collect()));
        Ok(dx)
    }
}

impl<F: Float, C: Cell<F>> Shared<'_, F, C> {
    /// BPTT for the part of `bn` sequences starting at `b0`. Leaves dL/dh_0 (and dL/dc_0)
    /// of its rows in `w.dh` (`w.dc`). Allocation-free.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward_part(
        &self,
        b0: usize,
        bn: usize,
        g: &[F],
        seq: bool,
        f: PartView<'_, F>,
        mask: &[bool],
        w: BackwardBufs<'_, F>,
        gf_h: Option<&[F]>,
        gf_c: Option<&[F]>,
    ) -> Result<()> {
        let Dims { t, h, gw, ew, sw, cw, dw, kw, sep, rdrop, .. } = self.d;
        let (bh, bs) = (bn * h, bn * sw);
        let (mut dh, mut dh_prev, mut dc, mut dc_prev) = (w.dh, w.dh_prev, w.dc, w.dc_prev);
        match gf_h {
            Some(s) => dh.copy_from_slice(s),
            None => dh.iter_mut().for_each(|v| *v = F::zero()),
        }
        if sw > 0 {
            match gf_c {
                Some(s) => dc.copy_from_slice(s),
                None => dc.iter_mut().for_each(|v| *v = F::zero()),
            }
        }
        let rec_mask = if rdrop { &self.rec_mask[b0 * h..(b0 + bn) * h] } else { &[][..] };
        let cw2 = h + sw;
        for step in (0..t).rev() {
            // The output's gradient enters at this step.
            let step_mask = if mask.is_empty() { &[][..] } else { &mask[step * bn..(step + 1) * bn] };
            for bl in 0..bn {
                let bi = b0 + bl;
                let src = if seq {
                    // A masked step's output is the constant 0: no gradient enters there.
                    step_mask.get(bl).is_none_or(|&m| m).then_some((bi * t + step) * h)
                } else if step == t - 1 {
                    Some(bi * h)
                } else {
                    None
                };
                if let Some(src) = src {
                    for (d, &s) in dh[bl * h..(bl + 1) * h].iter_mut().zip(&g[src..src + h]) {
                        *d += s;
                    }
                }
            }
            w.sq_norms[step] = sum_squares(dh);
            let rows = step * bn * gw..(step + 1) * bn * gw;
            let erows = step * bn * ew..(step + 1) * bn * ew;
            let (c_prev, c_now): (&[F], &[F]) = if sw > 0 {
                (&f.cs[step * bs..(step + 1) * bs], &f.cs[(step + 1) * bs..(step + 2) * bs])
            } else {
                (&[], &[])
            };
            let h_prev = &f.hs[step * bh..(step + 1) * bh];
            let h_rec = if rdrop { &f.hrec[step * bh..(step + 1) * bh] } else { h_prev };
            // A masked step passes the state through: keep its incoming gradient (the cell's
            // backward step may use dh and dc as scratch).
            for (bl, _) in step_mask.iter().enumerate().filter(|(_, &m)| !m) {
                w.carry[bl * cw2..bl * cw2 + h].copy_from_slice(&dh[bl * h..(bl + 1) * h]);
                if sw > 0 {
                    w.carry[bl * cw2 + h..(bl + 1) * cw2].copy_from_slice(&dc[bl * sw..(bl + 1) * sw]);
                }
            }
            let dgh: &mut [F] = if sep { &mut w.dgh[erows.clone()] } else { &mut [] };
            self.cell.backward_step(BackwardStep {
                batch: bn,
                units: h,
                step,
                gx: &f.gx[rows.clone()],
                h_prev,
                h_rec,
                rec_mask,
                c_prev,
                h: &f.hs[(step + 1) * bh..(step + 2) * bh],
                c: c_now,
                cache: &f.cache[step * bn * cw..(step + 1) * bn * cw],
                sequence: f.seq,
                params: self.params,
                dh,
                dc,
                dgx: &mut w.dgx[rows.clone()],
                dgh,
                dh_prev,
                dc_prev,
                dcache: &mut w.dcache[step * bn * dw..(step + 1) * bn * dw],
                scratch: &mut w.scratch[..bn * kw],
            });
            // A masked step passed the state through: its gradient goes straight back, and
            // nothing reaches its gates (so neither the weights nor its input).
            for (bl, _) in step_mask.iter().enumerate().filter(|(_, &m)| !m) {
                dh_prev[bl * h..(bl + 1) * h].copy_from_slice(&w.carry[bl * cw2..bl * cw2 + h]);
                if sw > 0 {
                    dc_prev[bl * sw..(bl + 1) * sw].copy_from_slice(&w.carry[bl * cw2 + h..(bl + 1) * cw2]);
                }
                w.dgx[rows.start + bl * gw..rows.start + (bl + 1) * gw].iter_mut().for_each(|v| *v = F::zero());
                if sep {
                    w.dgh[erows.start + bl * ew..erows.start + (bl + 1) * ew].iter_mut().for_each(|v| *v = F::zero());
                }
            }
            // dh_{t−1} = direct part + (the recurrent product's backward) ⊙ m_h.
            let (dout, stride): (&[F], usize) = if sep { (&w.dgh[erows], ew) } else { (&w.dgx[rows], gw) };
            let target: &mut [F] = if rdrop {
                w.dh_rec.iter_mut().for_each(|v| *v = F::zero());
                &mut *w.dh_rec
            } else {
                &mut *dh_prev
            };
            self.cell.recurrent_product_backward(RecurrentProductBackward {
                batch: bn,
                units: h,
                dout,
                stride,
                cols: ew,
                dh: target,
                params: self.params,
                dense: self.dense,
            })?;
            if rdrop {
                for ((d, &r), &m) in dh_prev.iter_mut().zip(w.dh_rec.iter()).zip(rec_mask) {
                    *d += r * m;
                }
            }
            std::mem::swap(&mut dh, &mut dh_prev);
            std::mem::swap(&mut dc, &mut dc_prev);
        }
        // After an odd number of swaps the result sits in the other buffer: bring it home.
        if t % 2 == 1 {
            dh_prev.copy_from_slice(dh);
            dc_prev.copy_from_slice(dc);
        }
        Ok(())
    }
}

/// `Σ v²` in eight independent sums, so the compiler vectorises it (a single running sum is
/// one dependent add per element: about 2.5 ms of a medium LSTM's backward pass).
#[inline]
fn sum_squares<F: Float>(x: &[F]) -> F {
    let mut acc = [F::zero(); 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder().iter().fold(F::zero(), |s, &v| s + v * v);
    for c in chunks {
        for k in 0..8 {
            acc[k] += c[k] * c[k];
        }
    }
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7])) + tail
}
