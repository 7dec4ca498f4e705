//! Weight gradients after the backward loop: one product each over all `T·B` rows for the
//! parameters with the loop's roles, the cell's own through [`Cell::backward_params`], and
//! dL/dXs.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::recurrent::cell::{Cell, CellGrads, CellParams, ParamGrads};
use crate::layers::recurrent::core::Recurrent;
use crate::layers::recurrent::workspace::Dims;
use crate::linalg::{add_column_sums, gemm, Mat, MatMut};

impl<F: Float, C: Cell<F>> Recurrent<F, C> {
    /// Adds this pass's parameter gradients and writes dL/dXs into the workspace.
    pub(crate) fn weight_grads(&mut self, d: &Dims) -> Result<()> {
        let (t, b, i, h) = (d.t, self.ws.batch, self.input_size, self.units);
        let (tb, gw, ew, sw) = (t * b, d.gw, d.ew, d.sw);
        let ws = &self.ws;
        let values: Vec<&[F]> = self.params.iter().map(|a| a.as_slice().unwrap_or(&[])).collect();
        let mut grads: Vec<&mut [F]> = Vec::with_capacity(self.grads.len());
        for (g, s) in self.grads.iter_mut().zip(&self.specs) {
            // The layer keeps every gradient in standard layout (built that way); a strided
            // one would be a crate bug, made loud.
            grads.push(
                g.as_slice_mut()
                    .ok_or_else(|| Error::shape(format!("{} gradient storage", s.name), "row-major", "strided"))?,
            );
        }
        let slots = self.slots;
        gemm(Mat::new(&ws.xs, tb, i).t(), Mat::new(&ws.dgx, tb, gw), MatMut::new(grads[slots.kernel], i, gw), true)?;
        if let Some(k) = slots.recurrent_kernel.filter(|_| ew > 0) {
            for &(b0, bn) in &ws.parts {
                let (r0, rn) = (t * b0, t * bn);
                // h̃_{t−1} for the part's rows: its first T blocks of states (or of h̃).
                let hprev = if d.rdrop {
                    &ws.hrec[t * b0 * h..t * b0 * h + rn * h]
                } else {
                    &ws.hs[(t + 1) * b0 * h..(t + 1) * b0 * h + rn * h]
                };
                let dg_early = if d.sep {
                    Mat::new(&ws.dgh[r0 * ew..(r0 + rn) * ew], rn, ew)
                } else {
                    Mat::strided(&ws.dgx[r0 * gw..(r0 + rn) * gw], rn, ew, gw)
                };
                gemm(Mat::new(hprev, rn, h).t(), dg_early, MatMut::strided(grads[k], h, ew, gw), true)?;
            }
        }
        if let Some(k) = slots.bias {
            add_column_sums(&ws.dgx, tb, gw, gw, grads[k]);
        }
        if let Some(k) = slots.recurrent_bias {
            add_column_sums(&ws.dgh, tb, ew, ew, grads[k]);
        }
        // The cell's own parameters, part by part in order (so the sums do not depend on
        // which thread ran which part beyond the split itself).
        let params = CellParams::new(&values);
        for &(b0, bn) in &ws.parts {
            let rows = |w: usize| t * w * b0..t * w * (b0 + bn);
            let states = |w: usize| (t + 1) * w * b0..(t + 1) * w * (b0 + bn);
            let part_hs = &ws.hs[states(h)];
            self.cell.backward_params(ParamGrads {
                batch: bn,
                steps: t,
                input_size: i,
                units: h,
                xs: &ws.xs[rows(i)],
                hs: part_hs,
                h_rec: if d.rdrop { &ws.hrec[rows(h)] } else { &part_hs[..t * bn * h] },
                cs: &ws.cs[states(sw)],
                gx: &ws.gx[rows(gw)],
                cache: &ws.cache[rows(d.cw)],
                dgx: &ws.dgx[rows(gw)],
                dgh: &ws.dgh[rows(if d.sep { ew } else { 0 })],
                dcache: &ws.dcache[rows(d.dw)],
                sequence: &ws.seq[d.qw * b0..d.qw * (b0 + bn)],
                params,
                grads: CellGrads::new(&mut grads),
            })?;
        }
        // dXs = dGX W_xᵀ.
        let ws = &mut self.ws;
        gemm(
            Mat::new(&ws.dgx, tb, gw),
            Mat::new(values[slots.kernel], i, gw).t(),
            MatMut::new(&mut ws.dxs, tb, i),
            false,
        )?;
        Ok(())
    }
}
