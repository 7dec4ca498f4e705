//! Hooks for `benches/gemm.rs`: the product engine as the layers call it, on plain slices.
//! Not part of the public API (hidden, unstable); the benchmark needs the packed per-step
//! product, which the public `ops::matmul` does not offer.

use super::{gemm as engine_gemm, gemm_packed, micro, pack, Mat, MatMut, PackedB};
use crate::error::Result;
use crate::float::Float;

/// The kernel set the engine uses for `F` on this CPU, e.g. `"avx512 8x48"`.
pub fn kernel_name<F: Float>() -> &'static str {
    micro::<F>().name
}

/// `c = op(a) · op(b)` with `a` stored `m × k` (or `k × m` when `a_t`), `b` stored `k × n`
/// (or `n × k` when `b_t`), `c` `m × n`, all row-major.
///
/// # Errors
/// On operands of the wrong lengths.
#[allow(clippy::too_many_arguments)]
pub fn gemm<F: Float>(a: &[F], a_t: bool, b: &[F], b_t: bool, c: &mut [F], m: usize, k: usize, n: usize) -> Result<()> {
    let a = if a_t { Mat::new(a, k, m).t() } else { Mat::new(a, m, k) };
    let b = if b_t { Mat::new(b, n, k).t() } else { Mat::new(b, k, n) };
    engine_gemm(a, b, MatMut::new(c, m, n), false)
}

/// A right operand packed once and multiplied many times (the recurrent step's product).
#[derive(Debug)]
pub struct Packed<'a, F> {
    raw: &'a [F],
    k: usize,
    n: usize,
    packed: PackedB<F>,
}

impl<'a, F: Float> Packed<'a, F> {
    /// Packs the row-major `k × n` matrix `b`.
    ///
    /// # Errors
    /// On a `b` of the wrong length.
    pub fn new(b: &'a [F], k: usize, n: usize) -> Result<Self> {
        let mut packed = PackedB::default();
        pack(Mat::new(b, k, n), &mut packed)?;
        Ok(Packed { raw: b, k, n, packed })
    }

    /// `c = a · b` for a row-major `m × k` matrix `a`.
    ///
    /// # Errors
    /// On operands of the wrong lengths.
    pub fn product(&self, a: &[F], c: &mut [F], m: usize) -> Result<()> {
        let b = Mat::new(self.raw, self.k, self.n);
        gemm_packed(Mat::new(a, m, self.k), b, &self.packed, MatMut::new(c, m, self.n), false)
    }
}
