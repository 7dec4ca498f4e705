//! Microkernels: `C[MR×NR] (+)= A[MR×k] · B[k×NR]` on packed panels.
//!
//! A panel of A is `k` columns of `MR` values (k-major); a panel of B is `k` rows of `NR`
//! values. On x86-64 with AVX2 and FMA (checked once at run time) the kernels are written
//! with intrinsics: 6×16 for f32 and 6×8 for f64, twelve 256-bit accumulators each. Elsewhere
//! a portable kernel of the same shape runs, so results never depend on a build flag.

/// Portable kernel: the same arithmetic order as the SIMD ones (one multiply-add per k).
///
/// # Safety
/// `a` holds `MR·k` and `b` holds `k·NR` elements; `c` addresses `MR` rows of `NR` elements
/// `rsc` apart.
#[inline(always)]
pub(crate) unsafe fn generic<T, const MR: usize, const NR: usize>(
    k: usize,
    a: *const T,
    b: *const T,
    c: *mut T,
    rsc: usize,
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
    for (i, row) in acc.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let dst = c.add(i * rsc + j);
            *dst = if accumulate { *dst + v } else { v };
        }
    }
}

/// Portable kernel reading A unpacked: row `i` of the panel at `a + i·lda`, contiguous in k.
///
/// # Safety
/// `a` addresses `MR` rows of `k` values `lda` apart; `b` and `c` as for [`generic`].
#[inline(always)]
pub(crate) unsafe fn generic_rowa<T, const MR: usize, const NR: usize>(
    k: usize,
    a: *const T,
    lda: usize,
    b: *const T,
    c: *mut T,
    rsc: usize,
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
    for (i, row) in acc.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let dst = c.add(i * rsc + j);
            *dst = if accumulate { *dst + v } else { v };
        }
    }
}

/// Whether the AVX2 + FMA kernels can run on this CPU (checked once).
#[inline]
pub(crate) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    /// 6×16 f32 kernel.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA; pointers as for [`super::generic`] with MR = 6, NR = 16.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn sgemm_6x16(k: usize, a: *const f32, b: *const f32, c: *mut f32, rsc: usize, accumulate: bool) {
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

    /// 6×16 f32 kernel reading A unpacked (row i at `a + i·lda`).
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA; pointers as for [`super::generic_rowa`] with MR = 6,
    /// NR = 16.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn sgemm_6x16_rowa(
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

    /// 6×8 f64 kernel reading A unpacked (row i at `a + i·lda`).
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA; pointers as for [`super::generic_rowa`] with MR = 6,
    /// NR = 8.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn dgemm_6x8_rowa(
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

    /// 6×8 f64 kernel.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA; pointers as for [`super::generic`] with MR = 6, NR = 8.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn dgemm_6x8(k: usize, a: *const f64, b: *const f64, c: *mut f64, rsc: usize, accumulate: bool) {
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
}

/// The kernel for each element type: AVX2 + FMA when the CPU has them, else portable.
pub(crate) mod kernel_for {
    /// # Safety
    /// As [`super::generic`] with MR = 6, NR = 16.
    #[inline(always)]
    pub(crate) unsafe fn f32(k: usize, a: *const f32, b: *const f32, c: *mut f32, rsc: usize, accumulate: bool) {
        #[cfg(target_arch = "x86_64")]
        if super::has_avx2_fma() {
            return super::x86::sgemm_6x16(k, a, b, c, rsc, accumulate);
        }
        super::generic::<f32, 6, 16>(k, a, b, c, rsc, accumulate)
    }

    /// # Safety
    /// As [`super::generic_rowa`] with MR = 6, NR = 16.
    #[inline(always)]
    pub(crate) unsafe fn f32_rowa(
        k: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        c: *mut f32,
        rsc: usize,
        accumulate: bool,
    ) {
        #[cfg(target_arch = "x86_64")]
        if super::has_avx2_fma() {
            return super::x86::sgemm_6x16_rowa(k, a, lda, b, c, rsc, accumulate);
        }
        super::generic_rowa::<f32, 6, 16>(k, a, lda, b, c, rsc, accumulate)
    }

    /// # Safety
    /// As [`super::generic_rowa`] with MR = 6, NR = 8.
    #[inline(always)]
    pub(crate) unsafe fn f64_rowa(
        k: usize,
        a: *const f64,
        lda: usize,
        b: *const f64,
        c: *mut f64,
        rsc: usize,
        accumulate: bool,
    ) {
        #[cfg(target_arch = "x86_64")]
        if super::has_avx2_fma() {
            return super::x86::dgemm_6x8_rowa(k, a, lda, b, c, rsc, accumulate);
        }
        super::generic_rowa::<f64, 6, 8>(k, a, lda, b, c, rsc, accumulate)
    }

    /// # Safety
    /// As [`super::generic`] with MR = 6, NR = 8.
    #[inline(always)]
    pub(crate) unsafe fn f64(k: usize, a: *const f64, b: *const f64, c: *mut f64, rsc: usize, accumulate: bool) {
        #[cfg(target_arch = "x86_64")]
        if super::has_avx2_fma() {
            return super::x86::dgemm_6x8(k, a, b, c, rsc, accumulate);
        }
        super::generic::<f64, 6, 8>(k, a, b, c, rsc, accumulate)
    }
}
