//! The blocked product behind [`super::gemm`] and [`super::gemm_packed`] (the BLIS loop
//! order): for each KC-deep slice of K, B is packed into NR-wide panels; for each MC-row block
//! of A, A is packed into MR-row panels; then every (A panel, B panel) pair runs the
//! microkernel on a C tile. Packing buffers come from a per-thread scratch that only grows, so
//! after the first call of a given size nothing is allocated.

use crate::float::sealed::Kernel;
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

/// B packed once for many products (a recurrent kernel reused at every step).
#[derive(Debug, Clone, Default)]
pub(crate) struct PackedB<F> {
    pub(crate) k: usize,
    pub(crate) n: usize,
    data: Vec<F>,
    off: usize,
}

fn panels<F: Kernel>(n: usize) -> usize {
    n.div_ceil(F::NR)
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

/// Packs rows `p0 .. p0 + kc` of `b` into NR-wide panels of `kc × NR` (zero-padded).
fn pack_b<F: Float>(b: &View<'_, F>, p0: usize, kc: usize, out: &mut [F]) {
    let nr = F::NR;
    for jp in 0..panels::<F>(b.cols) {
        let dst = &mut out[jp * kc * nr..(jp + 1) * kc * nr];
        let j0 = jp * nr;
        let w = nr.min(b.cols - j0);
        if b.cs == 1 && w == nr {
            for p in 0..kc {
                let s = (p0 + p) * b.rs + j0;
                dst[p * nr..(p + 1) * nr].copy_from_slice(&b.data[s..s + nr]);
            }
        } else {
            for p in 0..kc {
                for j in 0..nr {
                    dst[p * nr + j] = if j < w { b.at(p0 + p, j0 + j) } else { F::zero() };
                }
            }
        }
    }
}

/// Packs rows `i0 .. i0 + mc`, columns `p0 .. p0 + kc` of `a` into MR-row panels, k-major.
fn pack_a<F: Float>(a: &View<'_, F>, i0: usize, mc: usize, p0: usize, kc: usize, out: &mut [F]) {
    let mr = F::MR;
    for ip in 0..mc.div_ceil(mr) {
        let dst = &mut out[ip * kc * mr..(ip + 1) * kc * mr];
        let r0 = i0 + ip * mr;
        let h = mr.min(i0 + mc - r0);
        if a.rs == 1 && h == mr {
            for p in 0..kc {
                let s = (p0 + p) * a.cs + r0;
                dst[p * mr..(p + 1) * mr].copy_from_slice(&a.data[s..s + mr]);
            }
        } else if a.cs == 1 && h == mr {
            for i in 0..mr {
                let s = (r0 + i) * a.rs + p0;
                for (p, &v) in a.data[s..s + kc].iter().enumerate() {
                    dst[p * mr + i] = v;
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
        let extra = 64 / std::mem::size_of::<F>();
        let len = crate::limits::elements(&what, &[k, panels::<F>(n), F::NR])?.saturating_add(extra);
        let more = len.saturating_sub(self.data.len());
        self.data.try_reserve_exact(more).map_err(|_| crate::error::Error::OutOfMemory {
            what: what.to_string(),
            bytes: len.saturating_mul(std::mem::size_of::<F>()),
        })
    }

    /// Packs all of `b` (K × N), reusing this buffer's memory.
    pub(crate) fn pack(&mut self, b: View<'_, F>) {
        let (k, n) = (b.rows, b.cols);
        let np = panels::<F>(n);
        self.k = k;
        self.n = n;
        let (buf, off) = aligned(&mut self.data, k * np * F::NR);
        let mut p0 = 0;
        while p0 < k {
            let kc = F::KC.min(k - p0);
            let at = p0 * np * F::NR;
            pack_b(&b, p0, kc, &mut buf[at..at + kc * np * F::NR]);
            p0 += kc;
        }
        self.off = off;
    }

    fn block(&self, p0: usize, kc: usize) -> &[F] {
        let np = panels::<F>(self.n);
        let at = self.off + p0 * np * F::NR;
        &self.data[at..at + kc * np * F::NR]
    }
}

/// The inner loops for one KC slice: `bblock` holds that slice of B, packed.
#[allow(clippy::too_many_arguments)]
fn slice_product<F: Float>(
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
    let (mr, nr) = (F::MR, F::NR);
    let m = a.rows;
    let (apack, _) = aligned(apack, F::MC.div_ceil(mr) * mr * kc);
    let mut tile = [F::zero(); 128];
    let mut i0 = 0;
    while i0 < m {
        let mc = F::MC.min(m - i0);
        pack_a(a, i0, mc, p0, kc, apack);
        for jp in 0..panels::<F>(n) {
            let bp = &bblock[jp * kc * nr..(jp + 1) * kc * nr];
            let j0 = jp * nr;
            let w = nr.min(n - j0);
            for ip in 0..mc.div_ceil(mr) {
                let ap = &apack[ip * kc * mr..(ip + 1) * kc * mr];
                let r0 = i0 + ip * mr;
                let h = mr.min(m - r0);
                if h == mr && w == nr {
                    let start = r0 * rsc + j0;
                    // The last row of the tile ends inside `c`: checked by the caller's sizes.
                    let cs = &mut c[start..start + (mr - 1) * rsc + nr];
                    // SAFETY: ap and bp hold MR·kc and kc·NR packed values; cs addresses MR
                    // rows of NR values rsc apart (its length was checked by the slicing).
                    unsafe { F::microkernel(kc, ap.as_ptr(), bp.as_ptr(), cs.as_mut_ptr(), rsc, accumulate) };
                } else {
                    // SAFETY: as above, into the MR×NR (≤ 128) scratch tile with row stride NR.
                    unsafe { F::microkernel(kc, ap.as_ptr(), bp.as_ptr(), tile.as_mut_ptr(), nr, false) };
                    for i in 0..h {
                        let row = &mut c[(r0 + i) * rsc + j0..(r0 + i) * rsc + j0 + w];
                        for (d, &v) in row.iter_mut().zip(&tile[i * nr..i * nr + w]) {
                            *d = if accumulate { *d + v } else { v };
                        }
                    }
                }
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
/// place (no packing); only a last, partial panel is packed (zero-padded).
#[allow(clippy::too_many_arguments)]
fn slice_product_rowa<F: Float>(
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
    let (mr, nr) = (F::MR, F::NR);
    let m = a.rows;
    let full = m / mr;
    let (edge, _) = aligned(apack, mr * kc);
    if full * mr < m {
        pack_a(a, full * mr, m - full * mr, p0, kc, edge);
    }
    let mut tile = [F::zero(); 128];
    for jp in 0..panels::<F>(n) {
        let bp = &bblock[jp * kc * nr..(jp + 1) * kc * nr];
        let j0 = jp * nr;
        let w = nr.min(n - j0);
        for ip in 0..m.div_ceil(mr) {
            let r0 = ip * mr;
            let h = mr.min(m - r0);
            if h == mr {
                // The panel's rows, read in place: row i starts at (r0 + i)·rs + p0.
                let arows = &a.data[r0 * a.rs + p0..(r0 + mr - 1) * a.rs + p0 + kc];
                if w == nr {
                    let start = r0 * rsc + j0;
                    let cs = &mut c[start..start + (mr - 1) * rsc + nr];
                    // SAFETY: arows covers MR rows of kc values rs apart, bp holds kc·NR
                    // packed values, cs addresses MR rows of NR values rsc apart.
                    unsafe {
                        F::microkernel_rowa(kc, arows.as_ptr(), a.rs, bp.as_ptr(), cs.as_mut_ptr(), rsc, accumulate)
                    };
                } else {
                    // SAFETY: as above, into the MR×NR (≤ 128) scratch tile.
                    unsafe { F::microkernel_rowa(kc, arows.as_ptr(), a.rs, bp.as_ptr(), tile.as_mut_ptr(), nr, false) };
                    add_tile(&tile, c, r0, j0, h, w, nr, rsc, accumulate);
                }
            } else {
                // SAFETY: edge holds MR·kc packed values; the tile as above.
                unsafe { F::microkernel(kc, edge.as_ptr(), bp.as_ptr(), tile.as_mut_ptr(), nr, false) };
                add_tile(&tile, c, r0, j0, h, w, nr, rsc, accumulate);
            }
        }
    }
}

/// Adds (or writes) the top-left `h × w` of a tile with row stride `nr` into C at (r0, j0).
#[allow(clippy::too_many_arguments)]
#[inline]
fn add_tile<F: Float>(
    tile: &[F],
    c: &mut [F],
    r0: usize,
    j0: usize,
    h: usize,
    w: usize,
    nr: usize,
    rsc: usize,
    accumulate: bool,
) {
    for i in 0..h {
        let row = &mut c[(r0 + i) * rsc + j0..(r0 + i) * rsc + j0 + w];
        for (d, &v) in row.iter_mut().zip(&tile[i * nr..i * nr + w]) {
            *d = if accumulate { *d + v } else { v };
        }
    }
}

/// `C (M×N, row stride rsc) (+)= A · B` with B packed beforehand.
pub(crate) fn product_packed<F: Float>(a: View<'_, F>, b: &PackedB<F>, c: &mut [F], rsc: usize, accumulate: bool) {
    if b.k == 0 {
        return zero_or_keep(a.rows, b.n, c, rsc, accumulate);
    }
    if a.cs == 1 && a.rows <= F::MC {
        // The per-step shape: few rows, row-major. Read A in place.
        return F::with_scratch(|apack, _| {
            let mut p0 = 0;
            while p0 < b.k {
                let kc = F::KC.min(b.k - p0);
                slice_product_rowa(&a, p0, kc, b.block(p0, kc), b.n, c, rsc, accumulate || p0 > 0, apack);
                p0 += kc;
            }
        });
    }
    F::with_scratch(|apack, _| {
        let mut p0 = 0;
        while p0 < b.k {
            let kc = F::KC.min(b.k - p0);
            slice_product(&a, p0, kc, b.block(p0, kc), b.n, c, rsc, accumulate || p0 > 0, apack);
            p0 += kc;
        }
    });
}

/// `C (M×N, row stride rsc) (+)= A · B`, packing B one KC slice at a time.
pub(crate) fn product<F: Float>(a: View<'_, F>, b: View<'_, F>, c: &mut [F], rsc: usize, accumulate: bool) {
    let (k, n) = (b.rows, b.cols);
    if k == 0 {
        return zero_or_keep(a.rows, n, c, rsc, accumulate);
    }
    let np = panels::<F>(n);
    F::with_scratch(|apack, bpack| {
        let mut p0 = 0;
        while p0 < k {
            let kc = F::KC.min(k - p0);
            let (bp, _) = aligned(bpack, kc * np * F::NR);
            pack_b(&b, p0, kc, bp);
            slice_product(&a, p0, kc, bp, n, c, rsc, accumulate || p0 > 0, apack);
            p0 += kc;
        }
    });
}
