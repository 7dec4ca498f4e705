//! Every matrix product of the crate goes through this module, so the engine behind them
//! can change in one place.
//!
//! Operands are [`Mat`]/[`MatMut`] descriptors over row-major slices: a stored `rows × cols`
//! block whose rows are `ld` elements apart (so a column block of a wider matrix needs no
//! copy), read as stored or transposed ([`Mat::t`]).
//!
//! * [`gemm`]: `C (+)= A·B` for any operands. Small products run as plain loops; the rest on
//!   the crate's own blocked engine (`driver.rs`, `kernel.rs`): operands packed into
//!   cache-sized panels (a row-major A read in place) and an AVX-512 or AVX2/FMA microkernel
//!   chosen at run time, with a portable kernel elsewhere. Packing buffers are per-thread and only grow, so repeated products of one
//!   size allocate nothing.
//! * [`PackedB`] + [`gemm_packed`]: a weight matrix packed once and multiplied at every time
//!   step (the recurrent kernel), so the step loop neither repacks nor allocates.
//! * [`step_gemm_packed`]: a cell's own per-step product on a block of the recurrent kernel
//!   the loop packed (the original GRU's late gate), or the plain loop without one.

#[doc(hidden)]
pub mod bench;
mod driver;
mod kernel;
pub(crate) mod qr;

pub(crate) use driver::PackedB;
use driver::View;
pub(crate) use kernel::{has_avx2_fma, has_avx512};
use kernel::{Micro, Select};

use crate::error::{Error, Result};
use crate::float::Float;

/// A product whose right operand (K × N) has at most this many elements runs as a plain loop:
/// packing would cost more than it saves (the lecture's 1×3 by 3×3 steps). The choice
/// depends on K and N only, never on the number of rows, so splitting rows across threads
/// never changes which arithmetic a row gets.
const SMALL: usize = 256;

/// From this many multiply-adds on, a product is split across threads (when allowed):
/// about a millisecond of work, against ~20 µs to start a thread.
pub(crate) const PARALLEL_MIN: usize = 1 << 25;

/// The kernel set for `F` on this CPU (chosen once, see `kernel.rs`).
#[inline]
pub(crate) fn micro<F: Float>() -> &'static Micro<F> {
    use std::any::Any;
    let level = kernel::simd();
    let set: &'static dyn Any = if std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>() {
        f32::micro_for(level)
    } else {
        f64::micro_for(level)
    };
    match set.downcast_ref::<Micro<F>>() {
        Some(m) => m,
        // `Float` is sealed to f32 and f64, both handled above.
        None => unreachable!("Float is f32 or f64"),
    }
}

/// A read-only matrix operand: `rows × cols` stored row-major with row stride `ld`, read
/// transposed when `trans` is set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mat<'a, F> {
    data: &'a [F],
    rows: usize,
    cols: usize,
    ld: usize,
    trans: bool,
}

impl<'a, F: Float> Mat<'a, F> {
    /// A contiguous `rows × cols` matrix.
    pub(crate) fn new(data: &'a [F], rows: usize, cols: usize) -> Self {
        Mat { data, rows, cols, ld: cols, trans: false }
    }

    /// A `rows × cols` matrix whose rows start `ld` elements apart.
    pub(crate) fn strided(data: &'a [F], rows: usize, cols: usize, ld: usize) -> Self {
        Mat { data, rows, cols, ld, trans: false }
    }

    /// The transpose (no copy).
    pub(crate) fn t(self) -> Self {
        Mat { trans: !self.trans, ..self }
    }

    /// Rows and columns as read (after any transpose).
    fn dims(&self) -> (usize, usize) {
        if self.trans {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }

    fn needed(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            (self.rows - 1) * self.ld + self.cols
        }
    }

    /// As a strided view in the logical orientation.
    fn view(&self) -> View<'a, F> {
        if self.trans {
            View { data: self.data, rows: self.cols, cols: self.rows, rs: 1, cs: self.ld }
        } else {
            View { data: self.data, rows: self.rows, cols: self.cols, rs: self.ld, cs: 1 }
        }
    }
}

/// A mutable matrix result: `rows × cols` stored row-major with row stride `ld`.
#[derive(Debug)]
pub(crate) struct MatMut<'a, F> {
    data: &'a mut [F],
    rows: usize,
    cols: usize,
    ld: usize,
}

impl<'a, F: Float> MatMut<'a, F> {
    /// A contiguous `rows × cols` matrix.
    pub(crate) fn new(data: &'a mut [F], rows: usize, cols: usize) -> Self {
        MatMut { data, rows, cols, ld: cols }
    }

    /// A `rows × cols` matrix whose rows start `ld` elements apart.
    pub(crate) fn strided(data: &'a mut [F], rows: usize, cols: usize, ld: usize) -> Self {
        MatMut { data, rows, cols, ld }
    }

    fn needed(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            (self.rows - 1) * self.ld + self.cols
        }
    }
}

fn check<F: Float>(a: &Mat<'_, F>, b_dims: (usize, usize), b_len: (usize, usize), c: &MatMut<'_, F>) -> Result<()> {
    let ((m, k), (k2, n)) = (a.dims(), b_dims);
    let sizes_ok = a.data.len() >= a.needed() && b_len.0 >= b_len.1 && c.data.len() >= c.needed();
    if k != k2 || (c.rows, c.cols) != (m, n) || !sizes_ok {
        return Err(Error::shape(
            "internal matrix product",
            format!("({m}x{k})·({k}x{n}) into {m}x{n}"),
            format!("({m}x{k})·({k2}x{n}) into {}x{} (buffers sized {sizes_ok})", c.rows, c.cols),
        ));
    }
    Ok(())
}

/// The plain triple loop on views (used for small products).
fn naive<F: Float>(a: View<'_, F>, b: View<'_, F>, c: &mut [F], rsc: usize, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if a.cs == 1 && b.rs == 1 && b.cs != 1 {
        // B read transposed: each element is a dot product of two contiguous rows.
        for i in 0..m {
            let arow = &a.data[i * a.rs..i * a.rs + k];
            for j in 0..n {
                let bcol = &b.data[j * b.cs..j * b.cs + k];
                let dot = arow.iter().zip(bcol).fold(F::zero(), |acc, (&x, &y)| acc + x * y);
                let d = &mut c[i * rsc + j];
                *d = if accumulate { *d + dot } else { dot };
            }
        }
        return;
    }
    if n <= 8 && b.cs == 1 {
        // Narrow results (the lecture's 3 units): keep the row in registers instead of
        // storing and reloading it for every k.
        for i in 0..m {
            let mut acc = [F::zero(); 8];
            let crow = &mut c[i * rsc..i * rsc + n];
            if accumulate {
                acc[..n].copy_from_slice(crow);
            }
            for p in 0..k {
                let aik = a.data[i * a.rs + p * a.cs];
                let brow = &b.data[p * b.rs..p * b.rs + n];
                for (v, &bv) in acc.iter_mut().zip(brow) {
                    *v += aik * bv;
                }
            }
            crow.copy_from_slice(&acc[..n]);
        }
        return;
    }
    for i in 0..m {
        let crow = &mut c[i * rsc..i * rsc + n];
        if !accumulate {
            crow.iter_mut().for_each(|v| *v = F::zero());
        }
        for p in 0..k {
            let aik = a.data[i * a.rs + p * a.cs];
            if b.cs == 1 {
                let brow = &b.data[p * b.rs..p * b.rs + n];
                for (cv, &bv) in crow.iter_mut().zip(brow) {
                    *cv += aik * bv;
                }
            } else {
                for (j, cv) in crow.iter_mut().enumerate() {
                    *cv += aik * b.data[p * b.rs + j * b.cs];
                }
            }
        }
    }
}

/// `c (+)= a · b` (`c = a · b` when `accumulate` is false).
///
/// The callers size every buffer; an `Err` here means a bug in the crate, not bad input.
pub(crate) fn gemm<F: Float>(a: Mat<'_, F>, b: Mat<'_, F>, c: MatMut<'_, F>, accumulate: bool) -> Result<()> {
    check(&a, b.dims(), (b.data.len(), b.needed()), &c)?;
    let (m, k) = a.dims();
    let n = c.cols;
    let threads = crate::parallel::num_threads();
    if n * k <= SMALL {
        naive(a.view(), b.view(), c.data, c.ld, accumulate);
    } else if threads > 1 && m * n * k >= PARALLEL_MIN && m >= 2 * micro::<F>().mr {
        // Split the rows of C (and A): each thread owns a contiguous block of C.
        let (av, bv, ld) = (a.view(), b.view(), c.ld);
        let parts = crate::parallel::ranges(m, threads, micro::<F>().mr);
        let chunks = crate::parallel::split_chunks(c.data, ld, &parts);
        let jobs: Vec<_> = parts
            .iter()
            .zip(chunks)
            .map(|(&(r0, len), cpart)| {
                let apart = View { data: &av.data[r0 * av.rs..], rows: len, ..av };
                move || driver::product(apart, bv, cpart, ld, accumulate)
            })
            .collect();
        crate::parallel::run_all(jobs);
    } else {
        driver::product(a.view(), b.view(), c.data, c.ld, accumulate);
    }
    Ok(())
}

/// Packs `b` into `packed` for [`gemm_packed`] (reusing its memory).
pub(crate) fn pack<F: Float>(b: Mat<'_, F>, packed: &mut PackedB<F>) -> Result<()> {
    if b.data.len() < b.needed() {
        return Err(Error::shape(
            "internal packed operand",
            format!("{} elements", b.needed()),
            b.data.len().to_string(),
        ));
    }
    // A matrix small enough for the plain loop is never read packed (see `gemm_packed`).
    let (k, n) = b.dims();
    if n * k > SMALL {
        packed.pack(b.view());
    }
    Ok(())
}

/// `c (+)= a · b` with `b` packed by [`pack`]; `b_raw` is the same matrix unpacked, used
/// instead when the product is small. Allocation-free once the per-thread scratch is warm:
/// this is the per-step product.
pub(crate) fn gemm_packed<F: Float>(
    a: Mat<'_, F>,
    b_raw: Mat<'_, F>,
    b: &PackedB<F>,
    c: MatMut<'_, F>,
    accumulate: bool,
) -> Result<()> {
    check(&a, b_raw.dims(), (b_raw.data.len(), b_raw.needed()), &c)?;
    let k = a.dims().1;
    let n = c.cols;
    if n * k <= SMALL || (b.k, b.n) != (k, n) {
        naive(a.view(), b_raw.view(), c.data, c.ld, accumulate);
    } else {
        driver::product_packed(a.view(), b, c.data, c.ld, accumulate);
    }
    Ok(())
}

/// `c += a · b`, or `c = a · b` when `accumulate` is false, for a cell's own per-step product:
/// through the packed product when `packed` holds `b` packed (a block of the recurrent kernel
/// the loop packed once per pass), else as the plain loop. Allocation-free.
#[inline]
pub(crate) fn step_gemm_packed<F: Float>(
    a: Mat<'_, F>,
    b: Mat<'_, F>,
    packed: Option<&PackedB<F>>,
    c: MatMut<'_, F>,
    accumulate: bool,
) {
    let ((m, k), (k2, n)) = (a.dims(), b.dims());
    // The callers size every buffer before the loop; a mismatch is a crate bug, made loud
    // rather than a silently skipped product.
    assert!(k == k2 && c.rows == m && c.cols == n, "step_gemm_packed operand sizes");
    match packed {
        Some(p) if (p.k, p.n) == (k, n) => {
            if gemm_packed(a, b, p, c, accumulate).is_err() {
                unreachable!("step_gemm_packed buffers sized by the loop");
            }
        }
        _ => naive(a.view(), b.view(), c.data, c.ld, accumulate),
    }
}

/// Adds the column sums of the `rows × n` block `a` (row stride `ld`) to `out` (length `n`).
#[inline]
pub(crate) fn add_column_sums<F: Float>(a: &[F], rows: usize, n: usize, ld: usize, out: &mut [F]) {
    for r in 0..rows {
        let row = &a[r * ld..r * ld + n];
        for (o, &v) in out[..n].iter_mut().zip(row) {
            *o += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array2};

    fn close(a: &[f64], b: &[f64], what: &str) {
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{what}: element {k}: {x} vs {y}");
        }
    }

    #[test]
    fn products_match_ndarray_at_every_size_and_orientation() {
        for &(m, k, n) in &[(1, 1, 1), (3, 4, 5), (7, 3, 17), (13, 300, 33), (64, 40, 100), (6, 16, 16), (5, 600, 9)] {
            let a = Array2::from_shape_fn((m, k), |(i, j)| ((i * 7 + j * 3) % 11) as f64 * 0.1 - 0.5);
            let b = Array2::from_shape_fn((k, n), |(i, j)| ((i * 5 + j) % 13) as f64 * 0.07 - 0.4);
            let want = a.dot(&b);
            let w = want.as_slice().unwrap();
            let (sa, sb) = (a.as_slice().unwrap(), b.as_slice().unwrap());
            let at = a.t().as_standard_layout().into_owned();
            let bt = b.t().as_standard_layout().into_owned();
            let (sat, sbt) = (at.as_slice().unwrap(), bt.as_slice().unwrap());

            let mut c = vec![1.0; m * n];
            gemm(Mat::new(sa, m, k), Mat::new(sb, k, n), MatMut::new(&mut c, m, n), false).unwrap();
            close(&c, w, "N·N");
            gemm(Mat::new(sat, k, m).t(), Mat::new(sbt, n, k).t(), MatMut::new(&mut c, m, n), true).unwrap();
            let w2: Vec<f64> = w.iter().map(|v| 2.0 * v).collect();
            close(&c, &w2, "T·T accumulate");

            let mut packed = PackedB::default();
            pack(Mat::new(sb, k, n), &mut packed).unwrap();
            let mut c2 = vec![0.0; m * n];
            gemm_packed(Mat::new(sa, m, k), Mat::new(sb, k, n), &packed, MatMut::new(&mut c2, m, n), false).unwrap();
            close(&c2, w, "packed");

            let a32: Vec<f32> = sa.iter().map(|&v| v as f32).collect();
            let b32: Vec<f32> = sb.iter().map(|&v| v as f32).collect();
            let mut c32 = vec![0.0f32; m * n];
            gemm(Mat::new(&a32, m, k), Mat::new(&b32, k, n), MatMut::new(&mut c32, m, n), false).unwrap();
            for (x, y) in c32.iter().zip(w) {
                assert!((*x as f64 - y).abs() < 1e-4 * (1.0 + y.abs()), "f32 {m}x{k}x{n}");
            }
        }
    }

    #[test]
    fn strided_blocks_match_ndarray() {
        // Columns 2..5 of a 4×7 matrix times columns 1..3 of a 3×6 one, into columns 1..3 of a 4×5.
        let a = Array2::from_shape_fn((4, 7), |(i, j)| (i * 7 + j) as f64 * 0.1 - 1.0);
        let b = Array2::from_shape_fn((3, 6), |(i, j)| (i as f64 - 2.0 * j as f64) * 0.3);
        let want = a.slice(s![.., 2..5]).dot(&b.slice(s![.., 1..3]));
        let (sa, sb) = (a.as_slice().unwrap(), b.as_slice().unwrap());
        let mut c = [7.0; 20];
        step_gemm_packed(
            Mat::strided(&sa[2..], 4, 3, 7),
            Mat::strided(&sb[1..], 3, 2, 6),
            None,
            MatMut::strided(&mut c[1..], 4, 2, 5),
            false,
        );
        let mut c2 = [7.0; 20];
        gemm(
            Mat::strided(&sa[2..], 4, 3, 7),
            Mat::strided(&sb[1..], 3, 2, 6),
            MatMut::strided(&mut c2[1..], 4, 2, 5),
            false,
        )
        .unwrap();
        for i in 0..4 {
            assert_eq!(c[i * 5], 7.0);
            assert_eq!(c2[i * 5], 7.0);
            for j in 0..2 {
                assert!((c[i * 5 + 1 + j] - want[[i, j]]).abs() < 1e-12);
                assert!((c2[i * 5 + 1 + j] - want[[i, j]]).abs() < 1e-12);
            }
        }
        let mut sums = [0.0; 3];
        add_column_sums(&sa[2..], 4, 3, 7, &mut sums);
        for (j, sum) in sums.iter().enumerate() {
            assert!((sum - a.column(2 + j).sum()).abs() < 1e-12);
        }
    }

    /// Every kernel set this CPU can run (the portable one always), on shapes with edges in
    /// every direction, deep enough for several KC slices, packed and unpacked, with A and B
    /// read as stored and transposed: each within rounding of the plain loop.
    #[test]
    fn every_kernel_set_matches_the_plain_loop() {
        fn run<F: Float + kernel::Select>(tol: f64) {
            let levels = [kernel::Simd::Portable, kernel::Simd::Avx2, kernel::Simd::Avx512];
            let sets: Vec<_> = levels.iter().filter(|&&l| l <= kernel::simd()).map(|&l| F::micro_for(l)).collect();
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") && std::env::var_os("RECURRENT_SIMD").is_none() {
                assert_eq!(sets.len(), 3, "this CPU has AVX-512: all three sets are tested");
            }
            for &(m, k, n) in &[(77, 300, 45), (8, 1100, 48), (13, 20, 100), (64, 64, 256), (9, 530, 17), (130, 7, 70)]
            {
                let a: Vec<F> = (0..m * k).map(|i| F::of(((i * 37) % 101) as f64 / 101.0 - 0.5)).collect();
                let b: Vec<F> = (0..k * n).map(|i| F::of(((i * 53) % 97) as f64 / 97.0 - 0.5)).collect();
                let at: Vec<F> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
                let bt: Vec<F> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
                let mut want = vec![F::zero(); m * n];
                naive(Mat::new(&a, m, k).view(), Mat::new(&b, k, n).view(), &mut want, n, false);
                for mk in &sets {
                    let check = |got: &[F], twice: bool, what: &str| {
                        for (x, y) in got.iter().zip(&want) {
                            let y = if twice { y.to_f64_exact() * 2.0 } else { y.to_f64_exact() };
                            let d = (x.to_f64_exact() - y).abs();
                            assert!(d <= tol * (1.0 + y.abs()), "{} {what} {m}x{k}x{n}: {x} vs {y}", mk.name);
                        }
                    };
                    let mut c = vec![F::one(); m * n];
                    driver::product_with(mk, Mat::new(&a, m, k).view(), Mat::new(&b, k, n).view(), &mut c, n, false);
                    check(&c, false, "N·N");
                    let (a2, b2) = (Mat::new(&at, k, m).t().view(), Mat::new(&bt, n, k).t().view());
                    driver::product_with(mk, a2, b2, &mut c, n, true);
                    check(&c, true, "T·T accumulate");
                    let mut packed = PackedB::default();
                    packed.pack_with(mk, Mat::new(&b, k, n).view());
                    let mut c = vec![F::one(); m * n];
                    driver::product_packed_with(mk, Mat::new(&a, m, k).view(), &packed, &mut c, n, false);
                    check(&c, false, "packed, A in place");
                    driver::product_packed_with(mk, Mat::new(&at, k, m).t().view(), &packed, &mut c, n, true);
                    check(&c, true, "packed, A transposed, accumulate");
                }
            }
        }
        run::<f64>(1e-12);
        run::<f32>(1e-4);
    }

    #[test]
    fn engine_matches_portable_kernel() {
        // Big enough for the blocked path, with edges in every direction.
        let (m, k, n) = (77, 300, 45);
        let a: Vec<f64> = (0..m * k).map(|i| ((i * 37) % 101) as f64 / 101.0 - 0.5).collect();
        let b: Vec<f64> = (0..k * n).map(|i| ((i * 53) % 97) as f64 / 97.0 - 0.5).collect();
        let mut fast = vec![0.0; m * n];
        gemm(Mat::new(&a, m, k), Mat::new(&b, k, n), MatMut::new(&mut fast, m, n), false).unwrap();
        let mut slow = vec![0.0; m * n];
        naive(Mat::new(&a, m, k).view(), Mat::new(&b, k, n).view(), &mut slow, n, false);
        close(&fast, &slow, "engine vs loop");
    }
}
