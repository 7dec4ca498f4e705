//! Blocked Householder QR, for the orthogonal initialiser.
//!
//! The matrix is held transposed: its columns are the contiguous rows of a row-major
//! `m × n` buffer (`m ≤ n`), so every vector operation below streams one row. With
//! `A = V̂ᵀ` (n × m) and `A = Q R` (Q n × m, R m × m upper triangular):
//!
//! ```text
//! factor    for each block of NB columns of A (NB rows of V):
//!             panel:   reflectors H_j = I − τ_j y_j y_jᵀ, one per column (LAPACK's dlarfg:
//!                      R_jj = β_j = −sign(α_j)·‖x_j‖), applied inside the block
//!             Yᵗ, T:   the block as I − Y T Yᵀ (compact WY; T upper triangular, dlarft)
//!             update:  the later rows C ← C − (C Y)(T Yᵀ)          two products (`gemm`)
//! form      Qᵀ in place, blocks last to first (LAPACK's dorgqr):
//!             update:  the rows already formed C ← C − (C Y)(Tᵀ Yᵀ)
//!             block:   its own rows from its reflectors, one at a time
//! ```
//!
//! About `8/3 · n³` flops for a square matrix, nearly all in the two products per block.

use super::{gemm, gemm_packed, pack, Mat, MatMut, PackedB, PARALLEL_MIN};
use crate::error::Result;
use crate::float::Float;
use crate::limits;
use crate::parallel::{num_threads, ranges, run_all, split_chunks};

/// Columns of A per block reflector: wide enough that the block updates run at the product
/// engine's speed, narrow enough that the panel work (one reflector at a time) stays small.
const NB: usize = 64;

/// `Σ a_i b_i`, in eight independent sums so the compiler can vectorise it.
#[inline]
fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = ac.remainder().iter().zip(bc.remainder()).fold(T::zero(), |s, (&x, &y)| s + x * y);
    for (x, y) in ac.zip(bc) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let pairs = [acc[0] + acc[4], acc[1] + acc[5], acc[2] + acc[6], acc[3] + acc[7]];
    (pairs[0] + pairs[2]) + (pairs[1] + pairs[3]) + tail
}

/// `y ← y − d·x`.
#[inline]
fn sub_scaled<T: Float>(y: &mut [T], d: T, x: &[T]) {
    for (v, &w) in y.iter_mut().zip(x) {
        *v -= d * w;
    }
}

/// Applies `I − τ y yᵀ` to a row `r` from position `j` on, with `y = [1, tail]`.
#[inline]
fn reflect<T: Float>(r: &mut [T], tau: T, tail: &[T]) {
    let (head, rest) = r.split_at_mut(1);
    let d = tau * (head[0] + dot(rest, tail));
    head[0] -= d;
    sub_scaled(rest, d, tail);
}

/// Buffers of one run, reserved once (fallibly) for the widest block.
struct Scratch<T> {
    /// The block's reflectors as explicit rows (unit diagonal, zeros before it), NB × n.
    yt: Vec<T>,
    /// −T·Yᵀ or −Tᵀ·Yᵀ, NB × n.
    z: Vec<T>,
    /// C·Y for the rows after the block, m × NB.
    w: Vec<T>,
    /// Yᵀ Y, NB × NB.
    gram: Vec<T>,
    /// −T (upper triangular), NB × NB.
    t: Vec<T>,
    /// Y and Z packed for the engine, once per block.
    y_packed: PackedB<T>,
    z_packed: PackedB<T>,
}

/// The QR of one `m × n` (transposed) matrix: its working memory, reserved up front so a
/// refusal comes before any work.
pub(crate) struct Householder<T> {
    m: usize,
    n: usize,
    s: Scratch<T>,
    tau: Vec<T>,
    flip: Vec<bool>,
}

impl<T: Float> Householder<T> {
    /// Reserves the working memory for an `m × n` matrix (`m ≤ n`), about `2·NB·n + m·NB`
    /// elements.
    ///
    /// # Errors
    /// [`crate::Error::TooLarge`] or [`crate::Error::OutOfMemory`], naming `what`.
    pub(crate) fn new(m: usize, n: usize, what: &dyn std::fmt::Display) -> Result<Self> {
        debug_assert!(m <= n);
        let nb = NB.min(m);
        let reflectors = format_args!("{what} QR reflectors (NB, n)");
        let wide = limits::mul(reflectors, nb, n)?;
        let mut s = Scratch {
            yt: limits::try_vec(wide, T::zero(), reflectors)?,
            z: limits::try_vec(wide, T::zero(), format_args!("{what} QR block update (NB, n)"))?,
            // m · nb ≤ n · nb, checked above.
            w: limits::try_vec(m * nb, T::zero(), format_args!("{what} QR block product (m, NB)"))?,
            gram: limits::try_vec(nb * nb, T::zero(), format_args!("{what} QR block Gram matrix"))?,
            t: limits::try_vec(nb * nb, T::zero(), format_args!("{what} QR block triangle"))?,
            y_packed: PackedB::default(),
            z_packed: PackedB::default(),
        };
        s.y_packed.try_reserve(n, nb, format_args!("{what} QR packed reflectors"))?;
        s.z_packed.try_reserve(nb, n, format_args!("{what} QR packed update"))?;
        Ok(Householder {
            m,
            n,
            s,
            tau: limits::try_vec(m, T::zero(), format_args!("{what} QR scalars (m)"))?,
            flip: limits::try_vec(m, false, format_args!("{what} QR signs (m)"))?,
        })
    }

    /// Replaces the `m` rows of `v` (`m × n` row-major, read as the `m` columns of an `n × m`
    /// matrix A) by the rows of `Qᵀ`, where `A = Q R` and every column of `Q` is flipped so
    /// `diag(R)` is non-negative (Keras's sign convention). The result has orthonormal rows.
    ///
    /// Allocation-free. An `Err` means a crate bug (a product's operands mis-sized).
    pub(crate) fn orthonormalize_rows(&mut self, v: &mut [T]) -> Result<()> {
        let (m, n) = (self.m, self.n);
        if v.len() != m * n {
            return Err(crate::error::Error::shape(
                "internal QR operand",
                format!("{m}·{n} elements"),
                v.len().to_string(),
            ));
        }
        if m == 0 {
            return Ok(());
        }
        let nb = NB.min(m);
        let (s, tau, flip) = (&mut self.s, &mut self.tau, &mut self.flip);

        // Factor.
        for k in (0..m).step_by(nb) {
            let b = nb.min(m - k);
            panel(v, n, k, b, tau);
            if k + b < m {
                block_reflector(v, n, k, b, tau, s, false)?;
                update_below(v, m, n, k, b, s)?;
            }
        }
        for (j, f) in flip.iter_mut().enumerate() {
            *f = v[j * n + j] < T::zero();
        }

        // Form Qᵀ in place, last block first: the rows after a block are already rows of Qᵀ
        // (zero before their block), the block's rows still hold its reflectors.
        let last = (m - 1) / nb * nb;
        for k in (0..=last).rev().step_by(nb) {
            let b = nb.min(m - k);
            block_reflector(v, n, k, b, tau, s, true)?;
            if k + b < m {
                update_below(v, m, n, k, b, s)?;
            }
            let w = n - k;
            for j in (k..k + b).rev() {
                let y = &s.yt[(j - k) * w + (j - k)..(j - k + 1) * w];
                let (head, rows) = v[j * n..(k + b) * n].split_at_mut(n);
                if tau[j] != T::zero() {
                    for r in rows.chunks_exact_mut(n) {
                        reflect(&mut r[j..], tau[j], &y[1..]);
                    }
                }
                // Row j of Qᵀ restricted to the reflectors from j on: H_j e_j.
                head[..j].iter_mut().for_each(|x| *x = T::zero());
                head[j] = T::one() - tau[j];
                for (x, &yv) in head[j + 1..].iter_mut().zip(&y[1..]) {
                    *x = -tau[j] * yv;
                }
            }
        }
        for (row, &f) in v.chunks_exact_mut(n).zip(flip.iter()) {
            if f {
                row.iter_mut().for_each(|x| *x = -*x);
            }
        }
        Ok(())
    }
}

/// Factors rows `k .. k + b` (columns `k ..` of A), one reflector at a time; leaves `R_jj`
/// at `v[j][j]`, the reflector's tail after it and `τ_j` in `tau[j]`.
fn panel<T: Float>(v: &mut [T], n: usize, k: usize, b: usize, tau: &mut [T]) {
    for j in k..k + b {
        let (row, rest) = v[j * n..(k + b) * n].split_at_mut(n);
        let x = &mut row[j..];
        let alpha = x[0];
        let sigma = dot(&x[1..], &x[1..]);
        if sigma == T::zero() {
            // Already a multiple of e_j: H_j = I, R_jj = α (LAPACK's choice).
            tau[j] = T::zero();
            continue;
        }
        let norm = (alpha * alpha + sigma).sqrt();
        let beta = if alpha >= T::zero() { -norm } else { norm };
        tau[j] = (beta - alpha) / beta;
        let scale = T::one() / (alpha - beta);
        x[1..].iter_mut().for_each(|e| *e *= scale);
        x[0] = beta;
        for r in rest.chunks_exact_mut(n) {
            reflect(&mut r[j..], tau[j], &x[1..]);
        }
    }
}

/// Copies block `k .. k + b`'s reflectors into `s.yt` as explicit rows over columns `k ..`,
/// builds `T` (dlarft: `T_jj = τ_j`, `T[..j, j] = −τ_j T[..j, ..j] (Y[:, ..j]ᵀ y_j)`), and
/// leaves `s.z = −T Yᵀ` (or `−Tᵀ Yᵀ` when `transpose`).
fn block_reflector<T: Float>(
    v: &[T],
    n: usize,
    k: usize,
    b: usize,
    tau: &[T],
    s: &mut Scratch<T>,
    transpose: bool,
) -> Result<()> {
    let w = n - k;
    let yt = &mut s.yt[..b * w];
    for i in 0..b {
        let dst = &mut yt[i * w..(i + 1) * w];
        dst[..i].iter_mut().for_each(|x| *x = T::zero());
        dst[i] = T::one();
        dst[i + 1..].copy_from_slice(&v[(k + i) * n + k + i + 1..(k + i + 1) * n]);
    }
    let gram = &mut s.gram[..b * b];
    gemm(Mat::new(yt, b, w), Mat::new(yt, b, w).t(), MatMut::new(gram, b, b), false)?;
    let t = &mut s.t[..b * b];
    t.iter_mut().for_each(|x| *x = T::zero());
    for j in 0..b {
        let tj = tau[k + j];
        t[j * b + j] = tj;
        for i in 0..j {
            let sum = (i..j).fold(T::zero(), |acc, l| acc + t[i * b + l] * gram[l * b + j]);
            t[i * b + j] = -tj * sum;
        }
    }
    // −T, so the update below is an accumulating product.
    t.iter_mut().for_each(|x| *x = -*x);
    let tm = if transpose { Mat::new(&s.t[..b * b], b, b).t() } else { Mat::new(&s.t[..b * b], b, b) };
    gemm(tm, Mat::new(&s.yt[..b * w], b, w), MatMut::new(&mut s.z[..b * w], b, w), false)
}

/// Rows of C updated at a time: both products of a chunk run while its rows are in cache,
/// and the engine reads them in place (no packing) up to its block height.
const CHUNK: usize = 48;

/// `C ← C + (C Y) Z` for the rows after block `k .. k + b`, columns `k ..`.
fn update_below<T: Float>(v: &mut [T], m: usize, n: usize, k: usize, b: usize, s: &mut Scratch<T>) -> Result<()> {
    let (w, p) = (n - k, m - k - b);
    let y = Mat::new(&s.yt[..b * w], b, w).t();
    let z = Mat::new(&s.z[..b * w], b, w);
    pack(y, &mut s.y_packed)?;
    pack(z, &mut s.z_packed)?;
    let (yp, zp) = (&s.y_packed, &s.z_packed);
    let c = &mut v[(k + b) * n + k..];
    let cw = &mut s.w[..p * b];
    let run = |c: &mut [T], cw: &mut [T]| -> Result<()> {
        for (cc, wc) in c.chunks_mut(CHUNK * n).zip(cw.chunks_mut(CHUNK * b)) {
            let rows = wc.len() / b;
            gemm_packed(Mat::strided(cc, rows, w, n), y, yp, MatMut::new(wc, rows, b), false)?;
            gemm_packed(Mat::new(wc, rows, b), z, zp, MatMut::strided(cc, rows, w, n), true)?;
        }
        Ok(())
    };
    let threads = num_threads();
    if threads > 1 && p >= 2 * CHUNK && p * w * b >= PARALLEL_MIN {
        let parts = ranges(p, threads, CHUNK);
        let jobs: Vec<_> = split_chunks(c, n, &parts)
            .into_iter()
            .zip(split_chunks(cw, b, &parts))
            .map(|(c, cw)| move || run(c, cw))
            .collect();
        run_all(jobs).into_iter().collect()
    } else {
        run(c, cw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray_rand::rand::rngs::StdRng;
    use ndarray_rand::rand::{Rng, SeedableRng};

    /// Modified Gram–Schmidt with re-orthogonalisation: the reference Q (as rows).
    fn mgs(v: &[f64], m: usize, n: usize) -> Vec<f64> {
        let mut q = v.to_vec();
        for j in 0..m {
            for _ in 0..2 {
                for p in 0..j {
                    let d: f64 = (0..n).map(|i| q[p * n + i] * q[j * n + i]).sum();
                    for i in 0..n {
                        q[j * n + i] -= d * q[p * n + i];
                    }
                }
            }
            let norm = (0..n).map(|i| q[j * n + i] * q[j * n + i]).sum::<f64>().sqrt();
            (0..n).for_each(|i| q[j * n + i] /= norm);
        }
        q
    }

    #[test]
    fn blocked_householder_matches_gram_schmidt_across_block_edges() {
        let mut rng = StdRng::seed_from_u64(3);
        for &(m, n) in &[(1, 1), (1, 5), (3, 3), (5, 9), (63, 70), (64, 64), (65, 65), (130, 131), (150, 400)] {
            let v: Vec<f64> = (0..m * n).map(|_| rng.random::<f64>() - 0.5).collect();
            let want = mgs(&v, m, n);
            let mut got = v.clone();
            Householder::new(m, n, &"test").unwrap().orthonormalize_rows(&mut got).unwrap();
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!((a - b).abs() < 1e-10, "({m}, {n}) element {i}: {a} vs {b}");
            }
        }
    }
}
