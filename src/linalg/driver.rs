//! The blocked product behind [`super::gemm`] and [`super::gemm_packed`] (the BLIS loop
//! order): for each KC-deep slice of K, B is packed into NR-wide panels; for each MC-row block
//! of A, A is packed into MR-row panels; then every (A panel, B panel) pair runs the
//! microkernel on a C tile. MR, NR, KC and MC are those of the kernel set chosen for the CPU
//! (`kernel.rs`). Packing buffers come from a per-thread scratch that only grows, so
//! after the first call of a given size nothing is allocated.

use super::kernel::Micro;
use super::micro;
use crate::float::Float;

/// A strided read-only view: element (i, j) at `data[i·rs + j·cs]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a, F> {
    pub(crate) data: &'a [F],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

impl<F: Copy> View<'_, F> {
    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> F {
        self.data[i * self.rs + j * self.cs]
    }
}

/// B packed once for many products (a recurrent kernel reused at every step), in the
/// panels of the kernel set that packed it.
#[derive(Debug, Clone, Default)]
pub(crate) struct PackedB<F> {
    pub(crate) k: usize,
    pub(crate) n: usize,
    nr: usize,
    kc: usize,
    data: Vec<F>,
    off: usize,
}

/// A 64-byte-aligned window of `n` elements of `v`, growing `v` if needed.
fn aligned<F: Float>(v: &mut Vec<F>, n: usize) -> (&mut [F], usize) {
    let extra = 64 / std::mem::size_of::<F>();
    if v.len() < n + extra {
        v.resize(n + extra, F::zero());
    }
    let off = v.as_ptr().align_offset(64).min(extra);
    (&mut v[off..off + n], off)
}

/// Packs rows `p0 .. p0 + kc` of `b` into `nr`-wide panels of `kc × nr` (zero-padded).
fn pack_b<F: Float>(b: &View<'_, F>, p0: usize, kc: usize, nr: usize, out: &mut [F]) {
    for jp in 0..b.cols.div_ceil(nr) {
        let dst = &mut out[jp * kc * nr..(jp + 1) * kc * nr];
        let j0 = jp * nr;
        let w = nr.min(b.cols - j0);
        if b.cs == 1 {
            for p in 0..kc {
                let s = (p0 + p) * b.rs + j0;
                let row = &mut dst[p * nr..(p + 1) * nr];
                row[..w].copy_from_slice(&b.data[s..s + w]);
                row[w..].iter_mut().for_each(|v| *v = F::zero());
            }
        } else {
            // Read B's columns as contiguous runs (B is a transposed row-major matrix).
            for j in 0..nr {
                if j < w {
                    let s = (j0 + j) * b.cs + p0 * b.rs;
                    for p in 0..kc {
                        dst[p * nr + j] = b.data[s + p * b.rs];
                    }
                } else {
                    for p in 0..kc {
                        dst[p * nr + j] = F::zero();
                    }
                }
            }
        }
    }
}

/// Packs rows `i0 .. i0 + mc`, columns `p0 .. p0 + kc` of `a` into `mr`-row panels, k-major.
fn pack_a<F: Float>(a: &View<'_, F>, i0: usize, mc: usize, p0: usize, kc: usize, mr: usize, out: &mut [F]) {
    for ip in 0..mc.div_ceil(mr) {
        let dst = &mut out[ip * kc * mr..(ip + 1) * kc * mr];
        let r0 = i0 + ip * mr;
        let h = mr.min(i0 + mc - r0);
        if a.rs == 1 && h == mr {
            for p in 0..kc {
                let s = (p0 + p) * a.cs + r0;
                dst[p * mr..(p + 1) * mr].copy_from_slice(&a.data[s..s + mr]);
            }
        } else if a.cs == 1 {
            for i in 0..mr {
                if i < h {
                    let s = (r0 + i) * a.rs + p0;
                    for (p, &v) in a.data[s..s + kc].iter().enumerate() {
                        dst[p * mr + i] = v;
                    }
                } else {
                    for p in 0..kc {
                        dst[p * mr + i] = F::zero();
                    }
                }
            }
        } else {
            for p in 0..kc {
                for i in 0..mr {
                    dst[p * mr + i] = if i < h { a.at(r0 + i, p0 + p) } else { F::zero() };
                }
            }
        }
    }
}

impl<F: Float> PackedB<F> {
    /// Reserves (fallibly) the memory for packing a `k × n` matrix, so a later
    /// [`PackedB::pack`] of at most that size does not allocate.
    pub(crate) fn try_reserve(&mut self, k: usize, n: usize, what: impl std::fmt::Display) -> crate::error::Result<()> {
        let nr = micro::<F>().nr;
        let extra = 64 / std::mem::size_of::<F>();
        let len = crate::limits::elements(&what, &[k, n.div_ceil(nr), nr])?.saturating_add(extra);
        let more = len.saturating_sub(self.data.len());
        self.data.try_reserve_exact(more).map_err(|_| crate::error::Error::OutOfMemory {
            what: what.to_string(),
            bytes: len.saturating_mul(std::mem::size_of::<F>()),
        })
    }

    /// Packs all of `b` (K × N), reusing this buffer's memory.
    pub(crate) fn pack(&mut self, b: View<'_, F>) {
        self.pack_with(micro::<F>(), b)
    }

    /// As [`PackedB::pack`], for the kernel set `m`.
    pub(crate) fn pack_with(&mut self, m: &Micro<F>, b: View<'_, F>) {
        let (k, n, nr) = (b.rows, b.cols, m.nr);
        let width = n.div_ceil(nr) * nr;
        self.k = k;
        self.n = n;
        self.nr = nr;
        self.kc = m.kc;
        let (buf, off) = aligned(&mut self.data, k * width);
        let mut p0 = 0;
        while p0 < k {
            let kc = self.kc.min(k - p0);
            pack_b(&b, p0, kc, nr, &mut buf[p0 * width..(p0 + kc) * width]);
            p0 += kc;
        }
        self.off = off;
    }

    fn block(&self, p0: usize, kc: usize) -> &[F] {
        let width = self.n.div_ceil(self.nr) * self.nr;
        let at = self.off + p0 * width;
        &self.data[at..at + kc * width]
    }
}

/// The offset of element (r0, j0) of C, checked to leave room for an `h × w` tile.
#[inline(always)]
fn tile_at<F>(c: &mut [F], r0: usize, j0: usize, rsc: usize, h: usize, w: usize) -> *mut F {
    let start = r0 * rsc + j0;
    // The tile's last row ends inside `c`: checked by the caller's sizes, made loud here.
    let end = start + (h - 1) * rsc + w;
    c[start..end].as_mut_ptr()
}

/// The inner loops for one KC slice: `bblock` holds that slice of B, packed.
#[allow(clippy::too_many_arguments)]
fn slice_product<F: Float>(
    mk: &Micro<F>,
    a: &View<'_, F>,
    p0: usize,
    kc: usize,
    bblock: &[F],
    n: usize,
    c: &mut [F],
    rsc: usize,
    accumulate: bool,
    apack: &mut Vec<F>,
) {
    let (mr, nr) = (mk.mr, mk.nr);
    let m = a.rows;
    let (apack, _) = aligned(apack, mk.mc.div_ceil(mr) * mr * kc);
    let mut i0 = 0;
    while i0 < m {
        let mc = mk.mc.min(m - i0);
        pack_a(a, i0, mc, p0, kc, mr, apack);
        for jp in 0..n.div_ceil(nr) {
            let bp = &bblock[jp * kc * nr..(jp + 1) * kc * nr];
            let j0 = jp * nr;
            let w = nr.min(n - j0);
            let kern = mk.panel_for(w);
            for ip in 0..mc.div_ceil(mr) {
                let ap = &apack[ip * kc * mr..(ip + 1) * kc * mr];
                let r0 = i0 + ip * mr;
                let h = mr.min(m - r0);
                let ct = tile_at(c, r0, j0, rsc, h, w);
                // SAFETY: ap holds MR·kc and bp kc·NR packed values; ct addresses h rows of w
                // values rsc apart inside `c` (checked by `tile_at`).
                unsafe { kern(kc, ap.as_ptr(), bp.as_ptr(), nr, ct, rsc, h, w, accumulate) };
            }
        }
        i0 += mc;
    }
}

fn zero_or_keep<F: Float>(m: usize, n: usize, c: &mut [F], rsc: usize, accumulate: bool) {
    if !accumulate {
        for i in 0..m {
            c[i * rsc..i * rsc + n].iter_mut().for_each(|v| *v = F::zero());
        }
    }
}

/// The inner loops for one KC slice when A is row-major: full MR-row panels are read in
/// place (no packing), MC rows at a time so they stay in L2 across the B panels; only a
/// last, partial panel is packed (zero-padded).
#[allow(clippy::too_many_arguments)]
fn slice_product_rowa<F: Float>(
    mk: &Micro<F>,
    a: &View<'_, F>,
    p0: usize,
    kc: usize,
    bblock: &[F],
    n: usize,
    c: &mut [F],
    rsc: usize,
    accumulate: bool,
    apack: &mut Vec<F>,
) {
    let (mr, nr) = (mk.mr, mk.nr);
    let m = a.rows;
    let full = m / mr;
    let (edge, _) = aligned(apack, mr * kc);
    if full * mr < m {
        pack_a(a, full * mr, m - full * mr, p0, kc, mr, edge);
    }
    // MC rounded to whole panels, so the blocks never split one.
    let mc = mk.mc.div_ceil(mr) * mr;
    let mut i0 = 0;
    while i0 < m {
        let rows = mc.min(m - i0);
        for jp in 0..n.div_ceil(nr) {
            let bp = &bblock[jp * kc * nr..(jp + 1) * kc * nr];
            let j0 = jp * nr;
            let w = nr.min(n - j0);
            let (kern, kern_rowa) = (mk.panel_for(w), mk.rowa_for(w));
            for r0 in (i0..i0 + rows).step_by(mr) {
                let h = mr.min(m - r0);
                let ct = tile_at(c, r0, j0, rsc, h, w);
                if h == mr {
                    // The panel's rows, read in place: row i starts at (r0 + i)·rs + p0.
                    let arows = &a.data[r0 * a.rs + p0..(r0 + mr - 1) * a.rs + p0 + kc];
                    // SAFETY: arows covers MR rows of kc values rs apart, bp holds kc·NR
                    // packed values, ct addresses MR rows of w values rsc apart inside `c`.
                    unsafe { kern_rowa(kc, arows.as_ptr(), a.rs, bp.as_ptr(), nr, ct, rsc, w, accumulate) };
                } else {
                    // SAFETY: edge holds MR·kc packed values; bp and ct as above with h rows.
                    unsafe { kern(kc, edge.as_ptr(), bp.as_ptr(), nr, ct, rsc, h, w, accumulate) };
                }
            }
        }
        i0 += rows;
    }
}

/// `C (M×N, row stride rsc) (+)= A · B` with B packed beforehand.
pub(crate) fn product_packed<F: Float>(a: View<'_, F>, b: &PackedB<F>, c: &mut [F], rsc: usize, accumulate: bool) {
    product_packed_with(micro::<F>(), a, b, c, rsc, accumulate)
}

/// As [`product_packed`] with the kernel set `mk` (the one `b` was packed for).
pub(crate) fn product_packed_with<F: Float>(
    mk: &Micro<F>,
    a: View<'_, F>,
    b: &PackedB<F>,
    c: &mut [F],
    rsc: usize,
    accumulate: bool,
) {
    if b.k == 0 {
        return zero_or_keep(a.rows, b.n, c, rsc, accumulate);
    }
    assert_eq!((mk.nr, mk.kc), (b.nr, b.kc), "B packed for another kernel set");
    let rowa = a.cs == 1;
    F::with_scratch(|apack, _| {
        let mut p0 = 0;
        while p0 < b.k {
            let kc = b.kc.min(b.k - p0);
            let acc = accumulate || p0 > 0;
            if rowa {
                // The per-step shape: few rows, row-major. Read A in place.
                slice_product_rowa(mk, &a, p0, kc, b.block(p0, kc), b.n, c, rsc, acc, apack);
            } else {
                slice_product(mk, &a, p0, kc, b.block(p0, kc), b.n, c, rsc, acc, apack);
            }
            p0 += kc;
        }
    });
}

/// `C (M×N, row stride rsc) (+)= A · B`, packing B one KC slice at a time.
pub(crate) fn product<F: Float>(a: View<'_, F>, b: View<'_, F>, c: &mut [F], rsc: usize, accumulate: bool) {
    product_with(micro::<F>(), a, b, c, rsc, accumulate)
}

/// As [`product`] with the kernel set `mk`.
pub(crate) fn product_with<F: Float>(
    mk: &Micro<F>,
    a: View<'_, F>,
    b: View<'_, F>,
    c: &mut [F],
    rsc: usize,
    accumulate: bool,
) {
    let (k, n) = (b.rows, b.cols);
    if k == 0 {
        return zero_or_keep(a.rows, n, c, rsc, accumulate);
    }
    let width = n.div_ceil(mk.nr) * mk.nr;
    F::with_scratch(|apack, bpack| {
        let mut p0 = 0;
        while p0 < k {
            let kc = mk.kc.min(k - p0);
            let (bp, _) = aligned(bpack, kc * width);
            pack_b(&b, p0, kc, mk.nr, bp);
            if a.cs == 1 {
                slice_product_rowa(mk, &a, p0, kc, bp, n, c, rsc, accumulate || p0 > 0, apack);
            } else {
                slice_product(mk, &a, p0, kc, bp, n, c, rsc, accumulate || p0 > 0, apack);
            }
            p0 += kc;
        }
    });
}
