//! exp, tanh and sigmoid for whole slices, branch-free so the compiler vectorises them, and
//! compiled again for AVX2 + FMA and for AVX-512 (chosen at run time).
//!
//! Accuracy, measured against the standard library over [−60, 60] (and scaled copies down to
//! 1e-6): at most 1 ulp for exp and 2 ulp for tanh and sigmoid, in f32 and f64. PyTorch's own
//! vectorised CPU functions (Sleef) promise 1 ulp, so the two agree to a few ulp — far inside
//! the fixtures' tolerances.
//!
//! ```text
//! exp(x)  = 2ⁿ · p(r),  x = n·ln2 + r, |r| ≤ ln2/2   (Cephes polynomial in f32, degree-13
//!                                                    Taylor in f64), 2ⁿ built in two halves
//!                                                    so subnormal results stay correct
//! tanh(x) = x + x·z·P(z)(/Q(z)), z = x²   for |x| < 0.625 (Cephes)
//!         = sign(x)·(1 − 2/(e^{2|x|} + 1))  otherwise
//! σ(x)    = 1/(1 + e^{−|x|}), or e^{−|x|}/(1 + e^{−|x|}) for x < 0
//! ```

// The coefficients are the published ones, digit for digit, and `!(a >= c)` is how a NaN is
// sent down the branch that keeps it NaN without an extra comparison in the vector loop.
#![allow(clippy::excessive_precision, clippy::neg_cmp_op_on_partial_ord)]

// ---------------------------------------------------------------- f32

#[inline(always)]
pub(crate) fn exp_f32(x0: f32) -> f32 {
    let x = x0.clamp(-103.97, 88.722_83);
    // Round x·log2(e) to the nearest integer with the 1.5·2²³ trick: the integer lands in the
    // low mantissa bits of `t`.
    const MAGIC: f32 = 12_582_912.0;
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1;
    let e = p * (r * r) + r + 1.0;
    let n = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let n1 = n >> 1;
    let s1 = f32::from_bits(((n1 + 127) as u32) << 23);
    let s2 = f32::from_bits(((n - n1 + 127) as u32) << 23);
    // Below −104 the result rounds to 0 (the clamp alone would leave the smallest subnormal).
    if x0 < -104.0 {
        0.0
    } else {
        e * s1 * s2
    }
}

#[inline(always)]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let small = ((((-5.704_988_7e-3 * z + 2.063_908_9e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z
        - 3.333_328_2e-1)
        * z
        * x
        + x;
    let e = exp_f32(2.0 * a.min(44.0));
    let large = (1.0 - 2.0 / (e + 1.0)).copysign(x);
    // Written so a NaN takes the first branch and stays NaN.
    if !(a >= 0.625) {
        small
    } else {
        large
    }
}

#[inline(always)]
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    let e = exp_f32(-x.abs());
    let d = 1.0 / (1.0 + e);
    if x >= 0.0 {
        d
    } else {
        e * d
    }
}

// ---------------------------------------------------------------- f64

#[inline(always)]
pub(crate) fn exp_f64(x0: f64) -> f64 {
    let x = x0.clamp(-745.13, 709.782_712_893_384);
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5·2⁵²
    let t = x * std::f64::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    // ln 2 in two parts, so n·LN2_HI is exact.
    let r = x - n * 6.931_471_803_691_238e-1 - n * 1.908_214_929_270_587_7e-10;
    // Taylor to degree 13 on |r| ≤ 0.3466: truncation error below 1e-17.
    let mut p = 1.0 / 6_227_020_800.0;
    for c in [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * r + c;
    }
    let n = (t.to_bits() as i64).wrapping_sub(MAGIC.to_bits() as i64);
    let n1 = n >> 1;
    let s1 = f64::from_bits(((n1 + 1023) as u64) << 52);
    let s2 = f64::from_bits(((n - n1 + 1023) as u64) << 52);
    // The product before the choice, not inside it: with the product in a branch LLVM left
    // the lanes of `apply_lanes` scalar (about 10 ns a value, 60 % of an f64 GRU forward);
    // as a select of two computed values they are vectorised. Same results.
    let e = p * s1 * s2;
    if x0 < -746.0 {
        0.0
    } else {
        e
    }
}

#[inline(always)]
pub(crate) fn tanh_f64(x: f64) -> f64 {
    let a = x.abs();
    let z = x * x;
    let p = (-9.643_991_794_250_523e-1 * z - 9.928_772_310_019_186e1) * z - 1.614_687_684_417_084_5e3;
    let q = ((z + 1.128_116_784_916_329_3e2) * z + 2.235_488_390_601_004_6e3) * z + 4.844_063_053_251_255e3;
    let small = x + x * z * p / q;
    let e = exp_f64(2.0 * a.min(40.0));
    let large = (1.0 - 2.0 / (e + 1.0)).copysign(x);
    // Written so a NaN takes the first branch and stays NaN.
    if !(a >= 0.625) {
        small
    } else {
        large
    }
}

#[inline(always)]
pub(crate) fn sigmoid_f64(x: f64) -> f64 {
    let e = exp_f64(-x.abs());
    let d = 1.0 / (1.0 + e);
    if x >= 0.0 {
        d
    } else {
        e * d
    }
}

// ---------------------------------------------------------------- slices

macro_rules! slice_fn {
    ($name:ident, $into:ident, $scalar:ident, $t:ty, $lanes:expr) => {
        /// `dst[k] = f(src[k])`, `L` lanes at a time (a fixed-size array the compiler turns
        /// into straight-line vector code), then the tail through a padded array. `src = None`
        /// works in place on `dst`. Every lane runs the same scalar arithmetic whatever `L`
        /// and whatever instruction set, so results never depend on the CPU.
        #[inline(always)]
        fn apply_lanes<const L: usize>(src: Option<&[$t]>, dst: &mut [$t]) {
            let n = dst.len();
            let full = n / L * L;
            let mut k = 0;
            while k < full {
                let mut v = [<$t>::default(); L];
                match src {
                    Some(s) => v.copy_from_slice(&s[k..k + L]),
                    None => v.copy_from_slice(&dst[k..k + L]),
                }
                for e in v.iter_mut() {
                    *e = $scalar(*e);
                }
                dst[k..k + L].copy_from_slice(&v);
                k += L;
            }
            if full < n {
                let mut v = [<$t>::default(); L];
                for (j, e) in v.iter_mut().enumerate().take(n - full) {
                    *e = match src {
                        Some(s) => s[full + j],
                        None => dst[full + j],
                    };
                }
                for e in v.iter_mut() {
                    *e = $scalar(*e);
                }
                for (j, d) in dst[full..].iter_mut().enumerate() {
                    *d = v[j];
                }
            }
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(src: Option<&[$t]>, dst: &mut [$t]) {
            apply_lanes::<{ 32 / std::mem::size_of::<$t>() }>(src, dst)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
        unsafe fn avx512(src: Option<&[$t]>, dst: &mut [$t]) {
            apply_lanes::<{ 64 / std::mem::size_of::<$t>() }>(src, dst)
        }

        /// The fastest code this CPU runs: AVX-512 (16 f32 or 8 f64 lanes), AVX2 + FMA, or
        /// portable; the arithmetic is the same either way.
        #[inline(always)]
        fn dispatch(src: Option<&[$t]>, dst: &mut [$t]) {
            #[cfg(target_arch = "x86_64")]
            {
                if crate::linalg::has_avx512() {
                    // SAFETY: the CPU supports the features the function was compiled for.
                    return unsafe { avx512(src, dst) };
                }
                if crate::linalg::has_avx2_fma() {
                    // SAFETY: as above.
                    return unsafe { avx2(src, dst) };
                }
            }
            apply_lanes::<$lanes>(src, dst)
        }

        /// Applies the function to every element in place.
        #[inline]
        pub(crate) fn $name(x: &mut [$t]) {
            dispatch(None, x)
        }

        /// `dst[k] = f(src[k])` for `k < dst.len()` (`src` at least as long).
        #[inline]
        pub(crate) fn $into(src: &[$t], dst: &mut [$t]) {
            dispatch(Some(&src[..dst.len()]), dst)
        }
    };
}

mod tanh32 {
    use super::*;
    slice_fn!(tanh_slice_f32, tanh_into_f32, tanh_f32, f32, 8);
}
mod sigmoid32 {
    use super::*;
    slice_fn!(sigmoid_slice_f32, sigmoid_into_f32, sigmoid_f32, f32, 8);
}
#[allow(dead_code)] // the in-place form is the one softmax uses
mod exp32 {
    use super::*;
    slice_fn!(exp_slice_f32, exp_into_f32, exp_f32, f32, 8);
}
mod tanh64 {
    use super::*;
    slice_fn!(tanh_slice_f64, tanh_into_f64, tanh_f64, f64, 4);
}
mod sigmoid64 {
    use super::*;
    slice_fn!(sigmoid_slice_f64, sigmoid_into_f64, sigmoid_f64, f64, 4);
}
#[allow(dead_code)] // the in-place form is the one softmax uses
mod exp64 {
    use super::*;
    slice_fn!(exp_slice_f64, exp_into_f64, exp_f64, f64, 4);
}
// ---------------------------------------------------------------- fused LSTM step

macro_rules! lstm_fn {
    ($name:ident, $t:ty, $sig:ident, $tanh:ident, $lanes:expr) => {
        /// The LSTM's element-wise step with sigmoid gates and tanh (the defaults) for every
        /// row at once, `L` units at a time: `gx` rows `[i | f | g | o]` (pre-activations) are
        /// replaced by their activations, `c = f ⊙ c_prev + i ⊙ g`, `tc = tanh(c)`,
        /// `h = o ⊙ tc`. The same scalar arithmetic as the separate passes (`LstmCell`'s
        /// generic path), in one pass while the step's rows are in cache.
        #[inline(always)]
        fn lanes<const L: usize>(gx: &mut [$t], cp: &[$t], c: &mut [$t], h: &mut [$t], tc: &mut [$t], units: usize) {
            if units == 0 {
                return;
            }
            let rows = h.len() / units;
            for r in 0..rows {
                let row = &mut gx[r * 4 * units..(r + 1) * 4 * units];
                let base = r * units;
                let mut j0 = 0;
                while j0 < units {
                    let n = L.min(units - j0);
                    let mut v = [[<$t>::default(); L]; 5];
                    for k in 0..4 {
                        v[k][..n].copy_from_slice(&row[k * units + j0..k * units + j0 + n]);
                    }
                    v[4][..n].copy_from_slice(&cp[base + j0..base + j0 + n]);
                    let [mut gi, mut gf, mut gg, mut go, cprev] = v;
                    let (mut cn, mut t, mut hn) = ([<$t>::default(); L], [<$t>::default(); L], [<$t>::default(); L]);
                    for l in 0..L {
                        gi[l] = $sig(gi[l]);
                        gf[l] = $sig(gf[l]);
                        gg[l] = $tanh(gg[l]);
                        go[l] = $sig(go[l]);
                        cn[l] = gf[l] * cprev[l] + gi[l] * gg[l];
                        t[l] = $tanh(cn[l]);
                        hn[l] = go[l] * t[l];
                    }
                    for (k, a) in [gi, gf, gg, go].iter().enumerate() {
                        row[k * units + j0..k * units + j0 + n].copy_from_slice(&a[..n]);
                    }
                    c[base + j0..base + j0 + n].copy_from_slice(&cn[..n]);
                    tc[base + j0..base + j0 + n].copy_from_slice(&t[..n]);
                    h[base + j0..base + j0 + n].copy_from_slice(&hn[..n]);
                    j0 += n;
                }
            }
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(gx: &mut [$t], cp: &[$t], c: &mut [$t], h: &mut [$t], tc: &mut [$t], units: usize) {
            lanes::<{ 32 / std::mem::size_of::<$t>() }>(gx, cp, c, h, tc, units)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
        unsafe fn avx512(gx: &mut [$t], cp: &[$t], c: &mut [$t], h: &mut [$t], tc: &mut [$t], units: usize) {
            lanes::<{ 64 / std::mem::size_of::<$t>() }>(gx, cp, c, h, tc, units)
        }

        /// See `lanes`: `gx` `(B, 4H)`, `cp`, `c`, `h`, `tc` `(B, H)`.
        pub(crate) fn $name(gx: &mut [$t], cp: &[$t], c: &mut [$t], h: &mut [$t], tc: &mut [$t], units: usize) {
            #[cfg(target_arch = "x86_64")]
            {
                if crate::linalg::has_avx512() {
                    // SAFETY: the CPU supports the features the function was compiled for.
                    return unsafe { avx512(gx, cp, c, h, tc, units) };
                }
                if crate::linalg::has_avx2_fma() {
                    // SAFETY: as above.
                    return unsafe { avx2(gx, cp, c, h, tc, units) };
                }
            }
            lanes::<$lanes>(gx, cp, c, h, tc, units)
        }
    };
}

mod lstm32 {
    use super::*;
    lstm_fn!(lstm_step_f32, f32, sigmoid_f32, tanh_f32, 8);
}
mod lstm64 {
    use super::*;
    lstm_fn!(lstm_step_f64, f64, sigmoid_f64, tanh_f64, 4);
}
pub(crate) use lstm32::lstm_step_f32;
pub(crate) use lstm64::lstm_step_f64;

pub(crate) use exp32::exp_slice_f32;
pub(crate) use exp64::exp_slice_f64;
pub(crate) use sigmoid32::{sigmoid_into_f32, sigmoid_slice_f32};
pub(crate) use sigmoid64::{sigmoid_into_f64, sigmoid_slice_f64};
pub(crate) use tanh32::{tanh_into_f32, tanh_slice_f32};
pub(crate) use tanh64::{tanh_into_f64, tanh_slice_f64};

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps32(got: f32, want: f64) -> f64 {
        let w = want as f32;
        if got == w {
            return 0.0;
        }
        (got as f64 - want).abs() / (f32::EPSILON as f64 * want.abs().max(f32::MIN_POSITIVE as f64))
    }

    fn ulps64(got: f64, want: f64) -> f64 {
        if got == want {
            return 0.0;
        }
        (got - want).abs() / (f64::EPSILON * want.abs().max(f64::MIN_POSITIVE))
    }

    fn sigmoid_ref(x: f64) -> f64 {
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            x.exp() / (1.0 + x.exp())
        }
    }

    #[test]
    fn accurate_to_a_few_ulp() {
        let mut worst = [0.0f64; 6];
        for i in 0..=200_000 {
            let base = -60.0 + 120.0 * i as f64 / 200_000.0;
            for x in [base, base * 1e-3, base * 1e-6] {
                let xf = x as f32;
                let xd = xf as f64;
                let errs = [
                    ulps32(exp_f32(xf), xd.exp()),
                    ulps32(tanh_f32(xf), xd.tanh()),
                    ulps32(sigmoid_f32(xf), sigmoid_ref(xd)),
                    ulps64(exp_f64(x * 10.0), (x * 10.0).exp()),
                    ulps64(tanh_f64(x), x.tanh()),
                    ulps64(sigmoid_f64(x), sigmoid_ref(x)),
                ];
                for (w, e) in worst.iter_mut().zip(errs) {
                    *w = w.max(e);
                }
            }
        }
        // f32 results are compared with the f64 truth, so half an ulp of rounding is included.
        let limits = [1.5, 2.5, 2.5, 1.5, 2.5, 2.5];
        for (k, (w, l)) in worst.iter().zip(limits).enumerate() {
            assert!(*w <= l, "function {k}: worst error {w} ulp");
        }
    }

    /// The fused LSTM step gives exactly what the separate passes give, on a width with a
    /// tail (37 units) and on whole vectors (64).
    #[test]
    fn fused_lstm_step_matches_the_separate_passes() {
        for units in [37usize, 64] {
            let rows = 3;
            let gx: Vec<f32> = (0..rows * 4 * units).map(|k| ((k * 29) % 83) as f32 / 9.0 - 4.5).collect();
            let cp: Vec<f32> = (0..rows * units).map(|k| ((k * 13) % 31) as f32 / 7.0 - 2.0).collect();
            let (mut g1, mut c1, mut h1, mut t1) =
                (gx.clone(), vec![0.0; rows * units], vec![0.0; rows * units], vec![0.0; rows * units]);
            lstm_step_f32(&mut g1, &cp, &mut c1, &mut h1, &mut t1, units);
            let mut g2 = gx.clone();
            for r in 0..rows {
                let row = &mut g2[r * 4 * units..(r + 1) * 4 * units];
                sigmoid_slice_f32(&mut row[..2 * units]);
                tanh_slice_f32(&mut row[2 * units..3 * units]);
                sigmoid_slice_f32(&mut row[3 * units..]);
                for j in 0..units {
                    let (i, f, g, o) = (row[j], row[units + j], row[2 * units + j], row[3 * units + j]);
                    let c = f * cp[r * units + j] + i * g;
                    let k = r * units + j;
                    assert_eq!(c1[k].to_bits(), c.to_bits(), "c at {k}");
                    assert_eq!(t1[k].to_bits(), tanh_f32(c).to_bits(), "tanh(c) at {k}");
                    assert_eq!(h1[k].to_bits(), (o * tanh_f32(c)).to_bits(), "h at {k}");
                }
            }
            assert!(g1.iter().zip(&g2).all(|(a, b)| a.to_bits() == b.to_bits()), "gate activations");
        }
    }

    #[test]
    fn edges() {
        assert_eq!(tanh_f32(0.0), 0.0);
        assert_eq!(tanh_f64(50.0), 1.0);
        assert_eq!(tanh_f64(-50.0), -1.0);
        assert_eq!(sigmoid_f64(50.0), 1.0);
        assert!((sigmoid_f64(-50.0) - 1.928_749_847_963_918e-22).abs() < 1e-36);
        assert_eq!(exp_f32(-200.0), 0.0);
        assert_eq!(exp_f64(-800.0), 0.0);
        assert_eq!(exp_f64(0.0), 1.0);
        assert!(exp_f32(-100.0) > 0.0, "subnormal results survive");
        for f in [tanh_f32, sigmoid_f32, exp_f32] {
            assert!(f(f32::NAN).is_nan(), "NaN propagates");
        }
        for f in [tanh_f64, sigmoid_f64, exp_f64] {
            assert!(f(f64::NAN).is_nan(), "NaN propagates");
        }
        let mut v = [0.3f32, -2.0, 7.0];
        tanh_slice_f32(&mut v);
        assert!((v[1] - (-2.0f32).tanh()).abs() < 1e-6);
    }
}
