//! Microkernels: `C[h×w] (+)= A[MR×k] · B[k×NR]` on packed panels, and the choice of kernel
//! set for the CPU the process runs on.
//!
//! A panel of A is `k` columns of `MR` values (k-major); a panel of B is `k` rows of `ldb`
//! values (`ldb` = the set's NR). Every kernel computes a whole `MR × NR` tile in registers
//! from zero, one fused multiply-add per k, then writes (or adds) its top-left `h × w` into C,
//! so a tile's arithmetic never depends on where it sits in C or on how the rows were split
//! across threads.
//!
//! Three sets, chosen once at run time (`simd`, and `linalg::micro` per element type):
//!
//! * AVX-512 (F and DQ): f32 8×48 (three zmm per row, 24 accumulators), f64 8×24; narrower variants
//!   (one or two zmm per row) for a last, narrower panel, and masked stores for edges, so no
//!   edge tile is computed wider than it needs or copied through a scratch tile.
//! * AVX2 + FMA: f32 6×16, f64 6×8 (twelve ymm accumulators).
//! * portable: the AVX2 shapes, plain loops (a separate multiply and add per k).
//!
//! `RECURRENT_SIMD=avx2` or `=portable` (read once) caps the choice, to compare kernels on one
//! machine; it never selects code the CPU cannot run.

use std::sync::OnceLock;

/// `C[h×w] (+)= A·B` for one tile: `a` a packed MR-row panel (k-major), `b` a packed panel
/// of `k` rows `ldb` apart, `c` row `i` at `c + i·rsc`.
pub(crate) type PanelFn<T> =
    unsafe fn(k: usize, a: *const T, b: *const T, ldb: usize, c: *mut T, rsc: usize, h: usize, w: usize, acc: bool);

/// As [`PanelFn`] for a full MR-row tile whose A rows are read in place: row `i` at
/// `a + i·lda`, contiguous in k.
pub(crate) type RowaFn<T> =
    unsafe fn(k: usize, a: *const T, lda: usize, b: *const T, ldb: usize, c: *mut T, rsc: usize, w: usize, acc: bool);

/// One kernel set and its blocking.
#[derive(Debug)]
pub(crate) struct Micro<T: 'static> {
    /// What the set is, for benchmarks and docs ("avx512 8x48").
    pub(crate) name: &'static str,
    /// Tile rows.
    pub(crate) mr: usize,
    /// Packed panel width.
    pub(crate) nr: usize,
    /// Depth of a packed slice.
    pub(crate) kc: usize,
    /// Rows of a packed A block.
    pub(crate) mc: usize,
    /// Columns each kernel variant adds: `panel[j]` and `rowa[j]` cover `(j + 1)·vl` columns.
    pub(crate) vl: usize,
    pub(crate) panel: &'static [PanelFn<T>],
    pub(crate) rowa: &'static [RowaFn<T>],
}

impl<T> Micro<T> {
    /// The kernel for a panel of `w ≤ nr` valid columns.
    #[inline]
    pub(crate) fn panel_for(&self, w: usize) -> PanelFn<T> {
        self.panel[w.div_ceil(self.vl).clamp(1, self.panel.len()) - 1]
    }

    /// The in-place-A kernel for a panel of `w ≤ nr` valid columns.
    #[inline]
    pub(crate) fn rowa_for(&self, w: usize) -> RowaFn<T> {
        self.rowa[w.div_ceil(self.vl).clamp(1, self.rowa.len()) - 1]
    }
}

/// Which instruction sets the kernels may use: the CPU's, capped by `RECURRENT_SIMD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Simd {
    Portable,
    Avx2,
    Avx512,
}

/// The best level this CPU runs (checked once), capped by `RECURRENT_SIMD`.
pub(crate) fn simd() -> Simd {
    static LEVEL: OnceLock<Simd> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = match std::env::var("RECURRENT_SIMD").ok().as_deref().map(str::trim) {
            Some("portable") => Simd::Portable,
            Some("avx2") => Simd::Avx2,
            _ => Simd::Avx512,
        };
        detected().min(cap)
    })
}

fn detected() -> Simd {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        // The vectorised math is compiled with avx512dq too (float bit operations on zmm).
        if has!("avx512f") && has!("avx512dq") && has!("avx2") && has!("fma") {
            return Simd::Avx512;
        }
        if has!("avx2") && has!("fma") {
            return Simd::Avx2;
        }
    }
    Simd::Portable
}

/// Whether the AVX2 + FMA code can run (and is allowed to).
#[inline]
pub(crate) fn has_avx2_fma() -> bool {
    simd() >= Simd::Avx2
}

/// Whether the AVX-512F code can run (and is allowed to).
#[inline]
pub(crate) fn has_avx512() -> bool {
    simd() >= Simd::Avx512
}

/// Per-type selection of the kernel set.
pub(crate) trait Select: Sized + 'static {
    /// The set for `level` (the best one of `level` or below that exists for the type).
    fn micro_for(level: Simd) -> &'static Micro<Self>;
}

impl Select for f32 {
    fn micro_for(level: Simd) -> &'static Micro<f32> {
        match level {
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => &x86::F32_AVX512,
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => &x86::F32_AVX2,
            _ => &F32_PORTABLE,
        }
    }
}

impl Select for f64 {
    fn micro_for(level: Simd) -> &'static Micro<f64> {
        match level {
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => &x86::F64_AVX512,
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => &x86::F64_AVX2,
            _ => &F64_PORTABLE,
        }
    }
}

/// Writes (or adds) the top-left `h × w` of a tile with row stride `nr` into C.
///
/// # Safety
/// `c` addresses `h` rows of `w` values `rsc` apart; `tile` holds `h` rows of `nr ≥ w`.
#[inline(always)]
unsafe fn store_tile<T>(tile: &[T], nr: usize, c: *mut T, rsc: usize, h: usize, w: usize, acc: bool)
where
    T: Copy + std::ops::Add<Output = T>,
{
    for i in 0..h {
        for j in 0..w {
            let dst = c.add(i * rsc + j);
            let v = tile[i * nr + j];
            *dst = if acc { *dst + v } else { v };
        }
    }
}

/// Portable kernel on a packed A panel.
///
/// # Safety
/// As [`PanelFn`] with `ldb = NR`, `h ≤ MR`, `w ≤ NR`.
#[allow(clippy::too_many_arguments)]
unsafe fn generic<T, const MR: usize, const NR: usize>(
    k: usize,
    a: *const T,
    b: *const T,
    _ldb: usize,
    c: *mut T,
    rsc: usize,
    h: usize,
    w: usize,
    accumulate: bool,
) where
    T: Copy + Default + std::ops::Add<Output = T> + std::ops::Mul<Output = T>,
{
    let mut acc = [[T::default(); NR]; MR];
    for p in 0..k {
        let ap = a.add(p * MR);
        let bp = b.add(p * NR);
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = *ap.add(i);
            for (j, v) in row.iter_mut().enumerate() {
                *v = *v + ai * *bp.add(j);
            }
        }
    }
    store_tile(acc.as_flattened(), NR, c, rsc, h, w, accumulate);
}

/// Portable kernel reading A in place.
///
/// # Safety
/// As [`RowaFn`] with `ldb = NR`, `w ≤ NR`.
#[allow(clippy::too_many_arguments)]
unsafe fn generic_rowa<T, const MR: usize, const NR: usize>(
    k: usize,
    a: *const T,
    lda: usize,
    b: *const T,
    _ldb: usize,
    c: *mut T,
    rsc: usize,
    w: usize,
    accumulate: bool,
) where
    T: Copy + Default + std::ops::Add<Output = T> + std::ops::Mul<Output = T>,
{
    let mut acc = [[T::default(); NR]; MR];
    for p in 0..k {
        let bp = b.add(p * NR);
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = *a.add(i * lda + p);
            for (j, v) in row.iter_mut().enumerate() {
                *v = *v + ai * *bp.add(j);
            }
        }
    }
    store_tile(acc.as_flattened(), NR, c, rsc, MR, w, accumulate);
}

static F32_PORTABLE: Micro<f32> = Micro {
    name: "portable 6x16",
    mr: 6,
    nr: 16,
    kc: 256,
    mc: 72,
    vl: 16,
    panel: &[generic::<f32, 6, 16>],
    rowa: &[generic_rowa::<f32, 6, 16>],
};

static F64_PORTABLE: Micro<f64> = Micro {
    name: "portable 6x8",
    mr: 6,
    nr: 8,
    kc: 256,
    mc: 72,
    vl: 8,
    panel: &[generic::<f64, 6, 8>],
    rowa: &[generic_rowa::<f64, 6, 8>],
};

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    use super::{store_tile, Micro};

    /// 6×16 f32 AVX2 kernel into a full tile.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn sgemm_6x16(k: usize, a: *const f32, b: *const f32, c: *mut f32, rsc: usize, accumulate: bool) {
        let mut acc = [_mm256_setzero_ps(); 12];
        let (mut ap, mut bp) = (a, b);
        for _ in 0..k {
            // B advances one cache line per k: fetch 8 lines ahead, so the first pass over a
            // panel that still sits in L3 does not stall.
            _mm_prefetch::<_MM_HINT_T0>(bp.add(128) as *const i8);
            let b0 = _mm256_loadu_ps(bp);
            let b1 = _mm256_loadu_ps(bp.add(8));
            for i in 0..6 {
                let ai = _mm256_broadcast_ss(&*ap.add(i));
                acc[2 * i] = _mm256_fmadd_ps(ai, b0, acc[2 * i]);
                acc[2 * i + 1] = _mm256_fmadd_ps(ai, b1, acc[2 * i + 1]);
            }
            ap = ap.add(6);
            bp = bp.add(16);
        }
        for i in 0..6 {
            let dst = c.add(i * rsc);
            let (lo, hi) = (acc[2 * i], acc[2 * i + 1]);
            if accumulate {
                _mm256_storeu_ps(dst, _mm256_add_ps(_mm256_loadu_ps(dst), lo));
                _mm256_storeu_ps(dst.add(8), _mm256_add_ps(_mm256_loadu_ps(dst.add(8)), hi));
            } else {
                _mm256_storeu_ps(dst, lo);
                _mm256_storeu_ps(dst.add(8), hi);
            }
        }
    }

    /// 6×16 f32 AVX2 kernel reading A in place (row i at `a + i·lda`), into a full tile.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn sgemm_6x16_rowa(
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        c: *mut f32,
        rsc: usize,
        accumulate: bool,
    ) {
        let mut acc = [_mm256_setzero_ps(); 12];
        let rows = [a, a.add(lda), a.add(2 * lda), a.add(3 * lda), a.add(4 * lda), a.add(5 * lda)];
        let mut bp = b;
        for p in 0..k {
            _mm_prefetch::<_MM_HINT_T0>(bp.add(128) as *const i8);
            let b0 = _mm256_loadu_ps(bp);
            let b1 = _mm256_loadu_ps(bp.add(8));
            for i in 0..6 {
                let ai = _mm256_broadcast_ss(&*rows[i].add(p));
                acc[2 * i] = _mm256_fmadd_ps(ai, b0, acc[2 * i]);
                acc[2 * i + 1] = _mm256_fmadd_ps(ai, b1, acc[2 * i + 1]);
            }
            bp = bp.add(16);
        }
        for i in 0..6 {
            let dst = c.add(i * rsc);
            let (lo, hi) = (acc[2 * i], acc[2 * i + 1]);
            if accumulate {
                _mm256_storeu_ps(dst, _mm256_add_ps(_mm256_loadu_ps(dst), lo));
                _mm256_storeu_ps(dst.add(8), _mm256_add_ps(_mm256_loadu_ps(dst.add(8)), hi));
            } else {
                _mm256_storeu_ps(dst, lo);
                _mm256_storeu_ps(dst.add(8), hi);
            }
        }
    }

    /// 6×8 f64 AVX2 kernel into a full tile.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dgemm_6x8(k: usize, a: *const f64, b: *const f64, c: *mut f64, rsc: usize, accumulate: bool) {
        let mut acc = [_mm256_setzero_pd(); 12];
        let (mut ap, mut bp) = (a, b);
        for _ in 0..k {
            _mm_prefetch::<_MM_HINT_T0>(bp.add(64) as *const i8);
            let b0 = _mm256_loadu_pd(bp);
            let b1 = _mm256_loadu_pd(bp.add(4));
            for i in 0..6 {
                let ai = _mm256_broadcast_sd(&*ap.add(i));
                acc[2 * i] = _mm256_fmadd_pd(ai, b0, acc[2 * i]);
                acc[2 * i + 1] = _mm256_fmadd_pd(ai, b1, acc[2 * i + 1]);
            }
            ap = ap.add(6);
            bp = bp.add(8);
        }
        for i in 0..6 {
            let dst = c.add(i * rsc);
            let (lo, hi) = (acc[2 * i], acc[2 * i + 1]);
            if accumulate {
                _mm256_storeu_pd(dst, _mm256_add_pd(_mm256_loadu_pd(dst), lo));
                _mm256_storeu_pd(dst.add(4), _mm256_add_pd(_mm256_loadu_pd(dst.add(4)), hi));
            } else {
                _mm256_storeu_pd(dst, lo);
                _mm256_storeu_pd(dst.add(4), hi);
            }
        }
    }

    /// 6×8 f64 AVX2 kernel reading A in place, into a full tile.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dgemm_6x8_rowa(
        k: usize,
        a: *const f64,
        lda: usize,
        b: *const f64,
        c: *mut f64,
        rsc: usize,
        accumulate: bool,
    ) {
        let mut acc = [_mm256_setzero_pd(); 12];
        let rows = [a, a.add(lda), a.add(2 * lda), a.add(3 * lda), a.add(4 * lda), a.add(5 * lda)];
        let mut bp = b;
        for p in 0..k {
            _mm_prefetch::<_MM_HINT_T0>(bp.add(64) as *const i8);
            let b0 = _mm256_loadu_pd(bp);
            let b1 = _mm256_loadu_pd(bp.add(4));
            for i in 0..6 {
                let ai = _mm256_broadcast_sd(&*rows[i].add(p));
                acc[2 * i] = _mm256_fmadd_pd(ai, b0, acc[2 * i]);
                acc[2 * i + 1] = _mm256_fmadd_pd(ai, b1, acc[2 * i + 1]);
            }
            bp = bp.add(8);
        }
        for i in 0..6 {
            let dst = c.add(i * rsc);
            let (lo, hi) = (acc[2 * i], acc[2 * i + 1]);
            if accumulate {
                _mm256_storeu_pd(dst, _mm256_add_pd(_mm256_loadu_pd(dst), lo));
                _mm256_storeu_pd(dst.add(4), _mm256_add_pd(_mm256_loadu_pd(dst.add(4)), hi));
            } else {
                _mm256_storeu_pd(dst, lo);
                _mm256_storeu_pd(dst.add(4), hi);
            }
        }
    }

    /// The AVX2 kernels behind the common interface: full tiles straight into C, edge tiles
    /// through a scratch tile.
    macro_rules! avx2_wrappers {
        ($t:ty, $nr:expr, $full:ident, $full_rowa:ident, $panel:ident, $rowa:ident) => {
            #[allow(clippy::too_many_arguments)]
            unsafe fn $panel(
                k: usize,
                a: *const $t,
                b: *const $t,
                _ldb: usize,
                c: *mut $t,
                rsc: usize,
                h: usize,
                w: usize,
                acc: bool,
            ) {
                if h == 6 && w == $nr {
                    return $full(k, a, b, c, rsc, acc);
                }
                let mut tile = [0.0 as $t; 6 * $nr];
                $full(k, a, b, tile.as_mut_ptr(), $nr, false);
                store_tile(&tile, $nr, c, rsc, h, w, acc);
            }

            #[allow(clippy::too_many_arguments)]
            unsafe fn $rowa(
                k: usize,
                a: *const $t,
                lda: usize,
                b: *const $t,
                _ldb: usize,
                c: *mut $t,
                rsc: usize,
                w: usize,
                acc: bool,
            ) {
                if w == $nr {
                    return $full_rowa(k, a, lda, b, c, rsc, acc);
                }
                let mut tile = [0.0 as $t; 6 * $nr];
                $full_rowa(k, a, lda, b, tile.as_mut_ptr(), $nr, false);
                store_tile(&tile, $nr, c, rsc, 6, w, acc);
            }
        };
    }
    avx2_wrappers!(f32, 16, sgemm_6x16, sgemm_6x16_rowa, s_avx2_panel, s_avx2_rowa);
    avx2_wrappers!(f64, 8, dgemm_6x8, dgemm_6x8_rowa, d_avx2_panel, d_avx2_rowa);

    pub(crate) static F32_AVX2: Micro<f32> = Micro {
        name: "avx2 6x16",
        mr: 6,
        nr: 16,
        kc: 256,
        mc: 72,
        vl: 16,
        panel: &[s_avx2_panel],
        rowa: &[s_avx2_rowa],
    };

    pub(crate) static F64_AVX2: Micro<f64> =
        Micro { name: "avx2 6x8", mr: 6, nr: 8, kc: 256, mc: 72, vl: 8, panel: &[d_avx2_panel], rowa: &[d_avx2_rowa] };

    /// Asks for the tile's lines of C ahead of the stores: a C too large for L2 (the input
    /// projection's (T·B, G·H)) would otherwise stall every tile's write on a miss.
    #[inline(always)]
    unsafe fn prefetch_c<const NV: usize, T>(c: *mut T, rsc: usize, h: usize, lanes: usize) {
        for i in 0..h {
            for v in 0..NV {
                // One zmm of C is one cache line (when aligned; else the prefetch is a hint).
                _mm_prefetch::<_MM_HINT_T0>(c.wrapping_add(i * rsc + v * lanes) as *const i8);
            }
        }
    }

    /// The AVX-512 kernels, generic over the rows `MR` and the zmm vectors per row `NV`, for
    /// one element type.
    macro_rules! avx512_kernels {
        (
            $t:ty, $lanes:expr, $vec:ty, $mask:ty, $zero:ident, $set1:ident, $load:ident, $fma:ident,
            $add:ident, $mload:ident, $mstore:ident, $panel:ident, $rowa:ident
        ) => {
            /// Writes the tile's top-left `h × w` (masked on the last vector).
            #[inline(always)]
            unsafe fn store<const MR: usize, const NV: usize>(
                acc: &[[$vec; NV]; MR],
                c: *mut $t,
                rsc: usize,
                h: usize,
                w: usize,
                accumulate: bool,
            ) {
                for (i, row) in acc.iter().enumerate().take(h) {
                    for (v, &val) in row.iter().enumerate() {
                        let col = v * $lanes;
                        if col >= w {
                            break;
                        }
                        let left = w - col;
                        let mask: $mask = if left >= $lanes { !0 } else { ((1u32 << left) - 1) as $mask };
                        let dst = c.add(i * rsc + col);
                        let out = if accumulate { $add($mload(mask, dst), val) } else { val };
                        $mstore(dst, mask, out);
                    }
                }
            }

            /// The tile from a packed A panel.
            #[target_feature(enable = "avx512f")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn $panel<const MR: usize, const NV: usize>(
                k: usize,
                a: *const $t,
                b: *const $t,
                ldb: usize,
                c: *mut $t,
                rsc: usize,
                h: usize,
                w: usize,
                accumulate: bool,
            ) {
                prefetch_c::<NV, $t>(c, rsc, h, $lanes);
                let mut acc = [[$zero(); NV]; MR];
                let (mut ap, mut bp) = (a, b);
                for _ in 0..k {
                    let mut bv = [$zero(); NV];
                    for (v, x) in bv.iter_mut().enumerate() {
                        *x = $load(bp.add(v * $lanes));
                    }
                    for (i, row) in acc.iter_mut().enumerate() {
                        let ai = $set1(*ap.add(i));
                        for (x, &bx) in row.iter_mut().zip(&bv) {
                            *x = $fma(ai, bx, *x);
                        }
                    }
                    ap = ap.add(MR);
                    bp = bp.add(ldb);
                }
                store(&acc, c, rsc, h, w, accumulate);
            }

            /// The tile from MR rows of A read in place.
            #[target_feature(enable = "avx512f")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn $rowa<const MR: usize, const NV: usize>(
                k: usize,
                a: *const $t,
                lda: usize,
                b: *const $t,
                ldb: usize,
                c: *mut $t,
                rsc: usize,
                w: usize,
                accumulate: bool,
            ) {
                prefetch_c::<NV, $t>(c, rsc, MR, $lanes);
                let mut acc = [[$zero(); NV]; MR];
                let mut rows = [a; MR];
                for (i, r) in rows.iter_mut().enumerate() {
                    *r = a.add(i * lda);
                }
                let mut bp = b;
                for p in 0..k {
                    let mut bv = [$zero(); NV];
                    for (v, x) in bv.iter_mut().enumerate() {
                        *x = $load(bp.add(v * $lanes));
                    }
                    for (row, r) in acc.iter_mut().zip(&rows) {
                        let ai = $set1(*r.add(p));
                        for (x, &bx) in row.iter_mut().zip(&bv) {
                            *x = $fma(ai, bx, *x);
                        }
                    }
                    bp = bp.add(ldb);
                }
                store(&acc, c, rsc, MR, w, accumulate);
            }
        };
    }

    mod s512 {
        use super::*;
        avx512_kernels!(
            f32,
            16,
            __m512,
            __mmask16,
            _mm512_setzero_ps,
            _mm512_set1_ps,
            _mm512_loadu_ps,
            _mm512_fmadd_ps,
            _mm512_add_ps,
            _mm512_maskz_loadu_ps,
            _mm512_mask_storeu_ps,
            panel,
            rowa
        );
        pub(crate) const MR: usize = 8;
        pub(crate) static PANEL: [super::super::PanelFn<f32>; 3] = [panel::<MR, 1>, panel::<MR, 2>, panel::<MR, 3>];
        pub(crate) static ROWA: [super::super::RowaFn<f32>; 3] = [rowa::<MR, 1>, rowa::<MR, 2>, rowa::<MR, 3>];
    }

    mod d512 {
        use super::*;
        avx512_kernels!(
            f64,
            8,
            __m512d,
            __mmask8,
            _mm512_setzero_pd,
            _mm512_set1_pd,
            _mm512_loadu_pd,
            _mm512_fmadd_pd,
            _mm512_add_pd,
            _mm512_maskz_loadu_pd,
            _mm512_mask_storeu_pd,
            panel,
            rowa
        );
        pub(crate) const MR: usize = 8;
        pub(crate) static PANEL: [super::super::PanelFn<f64>; 3] = [panel::<MR, 1>, panel::<MR, 2>, panel::<MR, 3>];
        pub(crate) static ROWA: [super::super::RowaFn<f64>; 3] = [rowa::<MR, 1>, rowa::<MR, 2>, rowa::<MR, 3>];
    }

    pub(crate) static F32_AVX512: Micro<f32> = Micro {
        name: "avx512 8x48",
        mr: s512::MR,
        nr: 48,
        // Measured on the layers' shapes (benches/gemm.rs): a deep slice halves the passes over
        // a C too large for L2 (dX's (T·B, I)); the B panel then streams from L2, which keeps up.
        kc: 512,
        mc: 64,
        vl: 16,
        panel: &s512::PANEL,
        rowa: &s512::ROWA,
    };

    pub(crate) static F64_AVX512: Micro<f64> = Micro {
        name: "avx512 8x24",
        mr: d512::MR,
        nr: 24,
        kc: 256,
        mc: 64,
        vl: 8,
        panel: &d512::PANEL,
        rowa: &d512::ROWA,
    };
}
