//! Data helpers: turning a series into supervised (window, next value) pairs, one-hot
//! labels, ragged sequences padded with a mask, a train/validation split and mini-batches.
//!
//! ```text
//! windows           series (N)                       → X (N − w, w, 1), y (N − w, 1)
//! one_hot           labels [usize; N], C             → (N, C)
//! pad_sequences     [(T_i, F)], maxlen, pre/post     → (B, T, F) values, (B, T) mask (true = real step)
//! pad_ids           [[usize; T_i]], maxlen, pre/post → (B, T) ids as floats, (B, T) mask
//! train_val_split   x (N, …), y (N, …), fraction     → (train, validation): validation is the LAST samples
//! shuffle           x, y, rng                        → x, y with the same permutation of the first axis
//! Batches           x, y, batch size [, rng]         → (x_batch, y_batch) for one epoch, last one partial
//! ```
//!
//! Samples are the first axis everywhere, so `x` and `y` of any rank pair up row by row.

use ndarray::{s, Array, Array2, Array3, ArrayBase, ArrayView, AsArray, Axis, Data, Dimension, Ix2, RemoveAxis, Slice};
use ndarray_rand::rand::seq::SliceRandom;
use ndarray_rand::rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::limits;
use crate::shape::{check_finite, check_nonempty, fmt_shape};

/// Cuts a series into sliding windows of `size` past values, each paired with the value
/// that follows it — the lecture's table:
///
/// ```text
/// X[k, j, 0] = series[k + j]      k = 0 … N − size − 1,  j = 0 … size − 1
/// y[k, 0]    = series[k + size]
/// ```
///
/// # Shapes
/// `series` of length `N` → `X` `(N − size, size, 1)` and `y` `(N − size, 1)`.
///
/// # Errors
/// [`Error::InvalidConfig`] if `size` is 0 or the series has no more than `size` values
/// (no window would have a target); [`Error::NonFinite`] if the series holds NaN or an
/// infinity; [`Error::TooLarge`] if `(N − size) · size` is over
/// [`crate::limits::MAX_ELEMENTS`] (the windows overlap, so `X` can be far larger than the
/// series); [`Error::OutOfMemory`] if `X` or `y` cannot be allocated.
///
/// # Example
/// ```
/// let series = [1.0_f64, 2.0, 3.0, 4.0, 5.0];
/// let (x, y) = recurrent::data::windows(&series, 3)?;
/// assert_eq!(x.shape(), &[2, 3, 1]);
/// assert_eq!(x[[1, 0, 0]], 2.0);
/// assert_eq!(y[[1, 0]], 5.0);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn windows<F: Float>(series: &[F], size: usize) -> Result<(Array3<F>, Array2<F>)> {
    if size == 0 {
        return Err(Error::config("window size", "at least 1", 0));
    }
    if series.len() <= size {
        return Err(Error::config(
            "series length",
            format!("more than the window size {size} (one window plus its target)"),
            series.len(),
        ));
    }
    check_finite("series", &ndarray::ArrayView1::from(series))?;
    let n = series.len() - size;
    let what = "windows X (N − size, size, 1)";
    let mut x = limits::try_with_capacity(limits::mul(what, n, size)?, what)?;
    let mut y = limits::try_with_capacity(n, "windows y (N − size, 1)")?;
    for k in 0..n {
        x.extend_from_slice(&series[k..k + size]);
        y.push(series[k + size]);
    }
    let x = Array3::from_shape_vec((n, size, 1), x)
        .map_err(|e| Error::shape(what, format!("({n}, {size}, 1)"), e.to_string()))?;
    let y =
        Array2::from_shape_vec((n, 1), y).map_err(|e| Error::shape("windows y", format!("({n}, 1)"), e.to_string()))?;
    Ok((x, y))
}

/// One-hot encodes class labels: row `i` is all zeros but a 1 at column `labels[i]`.
///
/// # Shapes
/// `labels` of length `N` → `(N, classes)`.
///
/// # Errors
/// [`Error::InvalidConfig`] if `classes` is 0, [`Error::Empty`] for no labels,
/// [`Error::OutOfRange`] for a label `≥ classes`; [`Error::TooLarge`] if `N · classes` is over
/// [`crate::limits::MAX_ELEMENTS`], [`Error::OutOfMemory`] if it cannot be allocated.
///
/// # Example
/// ```
/// let y = recurrent::data::one_hot::<f64>(&[2, 0], 3)?;
/// assert_eq!(y, ndarray::array![[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn one_hot<F: Float>(labels: &[usize], classes: usize) -> Result<Array2<F>> {
    if classes == 0 {
        return Err(Error::config("one_hot classes", "at least 1", 0));
    }
    check_nonempty("one_hot labels", &[labels.len()], &["number of labels"])?;
    if let Some((i, &label)) = labels.iter().enumerate().find(|&(_, &l)| l >= classes) {
        return Err(Error::OutOfRange {
            what: "one_hot labels".to_string(),
            expected: format!("class labels in [0, {classes})"),
            got: label.to_string(),
            index: format!("[{i}]"),
        });
    }
    let mut out = limits::try_zeros((labels.len(), classes), "one_hot output (N, classes)")?;
    for (mut row, &label) in out.rows_mut().into_iter().zip(labels) {
        row[label] = F::one();
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Padding
// ---------------------------------------------------------------------------------------

/// Which end of a short sequence the padding goes to (Keras's `padding`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Padding {
    /// Pad at the start: the real steps end at the last position. The default, as in Keras.
    #[default]
    Pre,
    /// Pad at the end: the real steps start at position 0.
    Post,
}

/// Which end of a long sequence loses steps (Keras's `truncating`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Truncating {
    /// Drop steps from the start, keeping the last `maxlen`. The default, as in Keras.
    #[default]
    Pre,
    /// Drop steps from the end, keeping the first `maxlen`.
    Post,
}

/// Where a sequence of `len` steps lands in a row of `maxlen`: (first kept step, first
/// position it fills, number of kept steps).
fn placement(len: usize, maxlen: usize, padding: Padding, truncating: Truncating) -> (usize, usize, usize) {
    let kept = len.min(maxlen);
    let from = match truncating {
        Truncating::Pre => len - kept,
        Truncating::Post => 0,
    };
    let to = match padding {
        Padding::Pre => maxlen - kept,
        Padding::Post => 0,
    };
    (from, to, kept)
}

fn check_maxlen(what: &str, maxlen: Option<usize>) -> Result<()> {
    if maxlen == Some(0) {
        return Err(Error::config(format!("{what} maxlen"), "at least 1, or None for the longest sequence", 0));
    }
    Ok(())
}

/// Pads (and truncates) sequences of different lengths to one length, Keras's
/// `pad_sequences`, and returns the mask of real steps with them.
///
/// With `T = maxlen.unwrap_or(longest length)`, each sequence `(T_i, F)` becomes row `i`
/// of a `(B, T, F)` array:
///
/// ```text
/// T_i > T:  truncating Pre keeps the last T steps, Post the first T
/// T_i < T:  padding Pre puts T − T_i steps of `value` before the sequence, Post after it
/// mask[i, t] = true where row i holds a real step, false where it holds padding
/// ```
///
/// Keras's defaults are `Padding::Pre`, `Truncating::Pre`, value 0. An empty sequence
/// (`T_i = 0`) is allowed and becomes a row of padding; its feature count is not checked.
/// A 1-D series `v` is the `(T_i, 1)` array `ArrayView2::from_shape((v.len(), 1), &v)`.
///
/// # Shapes
/// `sequences[i]` `(T_i, F)` with the same `F` → `(B, T, F)` values and a `(B, T)` mask.
///
/// # Errors
/// [`Error::Empty`] for no sequences or `F = 0`; [`Error::InvalidConfig`] for
/// `maxlen = Some(0)`, a non-finite `value`, or sequences that are all empty;
/// [`Error::ShapeMismatch`] for a sequence whose feature count differs from the first
/// non-empty one; [`Error::NonFinite`] for NaN or infinite values; [`Error::TooLarge`] if
/// `B · T · F` is over [`crate::limits::MAX_ELEMENTS`] (a `maxlen` far beyond the data),
/// [`Error::OutOfMemory`] if the result cannot be allocated.
///
/// # Example
/// ```
/// use ndarray::array;
/// use recurrent::data::{pad_sequences, Padding, Truncating};
/// let seqs = [array![[1.0_f64], [2.0], [3.0]], array![[4.0]]];
/// let (x, mask) = pad_sequences(&seqs, Some(2), Padding::Pre, Truncating::Pre, 0.0)?;
/// assert_eq!(x, array![[[2.0], [3.0]], [[0.0], [4.0]]]); // last 2 kept; padded in front
/// assert_eq!(mask, array![[true, true], [false, true]]);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn pad_sequences<F: Float, S: Data<Elem = F>>(
    sequences: &[ArrayBase<S, Ix2>],
    maxlen: Option<usize>,
    padding: Padding,
    truncating: Truncating,
    value: F,
) -> Result<(Array3<F>, Array2<bool>)> {
    check_nonempty("pad_sequences input", &[sequences.len()], &["number of sequences"])?;
    check_maxlen("pad_sequences", maxlen)?;
    if !value.is_finite() {
        return Err(Error::config("pad_sequences value", "a finite value", value));
    }
    // The feature count comes from the first non-empty sequence, as Keras's sample shape.
    let Some(first) = sequences.iter().find(|s| s.nrows() > 0) else {
        return Err(Error::config(
            "pad_sequences input",
            "at least one sequence with a step (to know the feature count)",
            format!("{} empty sequences", sequences.len()),
        ));
    };
    let features = first.ncols();
    for (i, seq) in sequences.iter().enumerate().filter(|(_, s)| s.nrows() > 0) {
        let what = format!("pad_sequences sequence {i}");
        check_nonempty(&what, seq.shape(), &["steps", "features"])?;
        if seq.ncols() != features {
            return Err(Error::shape(
                what,
                format!("(T, {features}), the feature count of the first non-empty sequence"),
                fmt_shape(seq.shape()),
            ));
        }
        check_finite(&what, seq)?;
    }
    let t = maxlen.unwrap_or_else(|| sequences.iter().map(|s| s.nrows()).max().unwrap_or(0));
    let b = sequences.len();
    let mut out = limits::try_full((b, t, features), value, "pad_sequences output (B, T, F)")?;
    let mut mask = limits::try_full((b, t), false, "pad_sequences mask (B, T)")?;
    for (i, seq) in sequences.iter().enumerate() {
        let (from, to, kept) = placement(seq.nrows(), t, padding, truncating);
        if kept > 0 {
            out.slice_mut(s![i, to..to + kept, ..]).assign(&seq.slice(s![from..from + kept, ..]));
            mask.slice_mut(s![i, to..to + kept]).fill(true);
        }
    }
    Ok((out, mask))
}

/// Pads sequences of token ids, Keras's `pad_sequences` on integer sequences: the ids come
/// back as floats `(B, T)`, the input an embedding layer takes, with the `(B, T)` mask of
/// real steps.
///
/// Placement is as in [`pad_sequences`]; `value` is the padding id (Keras pads with 0, the
/// id an embedding with `mask_zero` treats as padding). Empty sequences are allowed.
///
/// # Shapes
/// `sequences[i]` of length `T_i` → `(B, T)` ids and `(B, T)` mask,
/// `T = maxlen.unwrap_or(longest length)`.
///
/// # Errors
/// [`Error::Empty`] for no sequences; [`Error::InvalidConfig`] for `maxlen = Some(0)` or,
/// without `maxlen`, sequences that are all empty; [`Error::OutOfRange`] for an id (or
/// `value`) too large to hold exactly in `F` (above 2²⁴ for `f32`, 2⁵³ for `f64`);
/// [`Error::TooLarge`] if `B · T` is over [`crate::limits::MAX_ELEMENTS`],
/// [`Error::OutOfMemory`] if the result cannot be allocated.
///
/// # Example
/// ```
/// use ndarray::array;
/// use recurrent::data::{pad_ids, Padding, Truncating};
/// let (ids, mask) = pad_ids::<f32, _>(&[vec![5, 6, 7], vec![8]], Some(2), Padding::Post, Truncating::Post, 0)?;
/// assert_eq!(ids, array![[5.0, 6.0], [8.0, 0.0]]); // first 2 kept; padded behind
/// assert_eq!(mask, array![[true, true], [true, false]]);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn pad_ids<F: Float, S: AsRef<[usize]>>(
    sequences: &[S],
    maxlen: Option<usize>,
    padding: Padding,
    truncating: Truncating,
    value: usize,
) -> Result<(Array2<F>, Array2<bool>)> {
    check_nonempty("pad_ids input", &[sequences.len()], &["number of sequences"])?;
    check_maxlen("pad_ids", maxlen)?;
    // Integers up to 2^digits are exact in a float with `digits` significand bits; ε = 2^(1 − digits).
    let limit = (2.0 / F::epsilon().to_f64_exact()) as u64;
    let exact = |what: String, id: usize, index: String| {
        if id as u64 > limit {
            return Err(Error::OutOfRange {
                what,
                expected: format!("ids up to {limit} (held exactly in {})", F::DTYPE),
                got: id.to_string(),
                index,
            });
        }
        Ok(())
    };
    exact("pad_ids value".to_string(), value, "[]".to_string())?;
    for (i, seq) in sequences.iter().enumerate() {
        if let Some((j, &id)) = seq.as_ref().iter().enumerate().find(|&(_, &id)| id as u64 > limit) {
            exact(format!("pad_ids sequence {i}"), id, format!("[{j}]"))?;
        }
    }
    let t = match maxlen {
        Some(t) => t,
        None => sequences.iter().map(|s| s.as_ref().len()).max().unwrap_or(0),
    };
    if t == 0 {
        return Err(Error::config(
            "pad_ids input",
            "at least one non-empty sequence, or a maxlen",
            format!("{} empty sequences", sequences.len()),
        ));
    }
    let b = sequences.len();
    let mut out = limits::try_full((b, t), F::of(value as f64), "pad_ids output (B, T)")?;
    let mut mask = limits::try_full((b, t), false, "pad_ids mask (B, T)")?;
    for (i, seq) in sequences.iter().enumerate() {
        let seq = seq.as_ref();
        let (from, to, kept) = placement(seq.len(), t, padding, truncating);
        for k in 0..kept {
            out[[i, to + k]] = F::of(seq[from + k] as f64);
            mask[[i, to + k]] = true;
        }
    }
    Ok((out, mask))
}

// ---------------------------------------------------------------------------------------
// Splitting, shuffling, batching
// ---------------------------------------------------------------------------------------

const SAMPLE_AXES: [&str; 4] = ["number of samples", "axis 1", "axis 2", "axis 3"];

/// Checks that x and y have at least one axis, no empty axis and the same first axis;
/// returns the number of samples.
fn check_samples<F: Float, D1: Dimension, D2: Dimension>(
    what: &str,
    x: &ArrayView<'_, F, D1>,
    y: &ArrayView<'_, F, D2>,
) -> Result<usize> {
    for (name, shape) in [("x", x.shape()), ("y", y.shape())] {
        if shape.is_empty() {
            return Err(Error::shape(format!("{what} {name}"), "(N, ...) with a sample axis", fmt_shape(shape)));
        }
    }
    if x.shape()[0] != y.shape()[0] {
        return Err(Error::shape(
            format!("{what} y (one target per sample of x)"),
            format!("({}, ...)", x.shape()[0]),
            fmt_shape(y.shape()),
        ));
    }
    check_nonempty(format_args!("{what} x"), x.shape(), &SAMPLE_AXES)?;
    check_nonempty(format_args!("{what} y"), y.shape(), &SAMPLE_AXES)?;
    Ok(x.shape()[0])
}

/// A training and a validation part, each `(x, y)`.
pub type Split<F, D1, D2> = ((Array<F, D1>, Array<F, D2>), (Array<F, D1>, Array<F, D2>));

/// Splits samples into training and validation parts the way Keras's
/// `fit(validation_split=…)` does: the validation part is the **last** samples, taken
/// before any shuffling, and the training part the first
///
/// ```text
/// n_train = ⌊N · (1 − validation_split)⌋        n_val = N − n_train
/// ```
///
/// Nothing is shuffled. Data in time order (windows of one series) thus validates on its
/// most recent part, which is usually what is wanted; for data in no meaningful order,
/// [`shuffle`] first (with a seeded RNG to stay reproducible).
///
/// # Shapes
/// `x` `(N, …)`, `y` `(N, …)` → `((x_train, y_train), (x_val, y_val))` with `n_train` and
/// `n_val` samples and the other axes unchanged.
///
/// # Errors
/// [`Error::InvalidConfig`] for a fraction outside `(0, 1)` (or NaN), or one that leaves
/// either part empty (Keras raises there too); [`Error::ShapeMismatch`] for arrays without
/// a sample axis or with different sample counts; [`Error::Empty`] for an empty axis;
/// [`Error::OutOfMemory`] if the copies cannot be allocated.
///
/// # Example
/// ```
/// use ndarray::array;
/// let x = array![[0.0_f64], [1.0], [2.0], [3.0], [4.0]];
/// let y = array![10.0_f64, 11.0, 12.0, 13.0, 14.0];
/// // ⌊5 · 0.6⌋ = 3 training samples, the last 2 validate.
/// let ((x_tr, y_tr), (x_val, y_val)) = recurrent::data::train_val_split(&x, &y, 0.4)?;
/// assert_eq!(x_tr, array![[0.0], [1.0], [2.0]]);
/// assert_eq!(y_val, array![13.0, 14.0]);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn train_val_split<'a, 'b, F, D1, D2>(
    x: impl AsArray<'a, F, D1>,
    y: impl AsArray<'b, F, D2>,
    validation_split: f64,
) -> Result<Split<F, D1, D2>>
where
    F: Float,
    D1: Dimension,
    D2: Dimension,
{
    let (x, y) = (x.into(), y.into());
    if !(validation_split > 0.0 && validation_split < 1.0) {
        return Err(Error::config("validation_split", "a fraction in (0, 1)", validation_split));
    }
    let n = check_samples("train_val_split", &x, &y)?;
    let n_train = (n as f64 * (1.0 - validation_split)).floor() as usize;
    if n_train == 0 || n_train == n {
        return Err(Error::config(
            "validation_split",
            format!("a fraction that leaves at least one of the {n} samples in each part"),
            format!("{validation_split} ({n_train} training, {} validation)", n - n_train),
        ));
    }
    let part =
        |a: ArrayView<'_, F, D1>, b: ArrayView<'_, F, D2>, range: Slice| -> Result<(Array<F, D1>, Array<F, D2>)> {
            Ok((
                limits::try_map(&a.slice_axis(Axis(0), range), |&v| v, "train_val_split x part")?,
                limits::try_map(&b.slice_axis(Axis(0), range), |&v| v, "train_val_split y part")?,
            ))
        };
    let head = Slice::from(..n_train);
    let tail = Slice::from(n_train..);
    Ok((part(x.view(), y.view(), head)?, part(x, y, tail)?))
}

/// Shuffles samples: the same random permutation of the first axis applied to `x` and `y`.
///
/// The permutation is drawn from `rng`, so a seeded RNG gives the same order on every run.
///
/// # Errors
/// As [`train_val_split`]'s shape and memory errors.
///
/// # Example
/// ```
/// use ndarray::array;
/// use recurrent::prelude::*;
/// let x = array![[0.0_f64], [1.0], [2.0]];
/// let y = array![0.0_f64, 1.0, 2.0];
/// let (xs, ys) = recurrent::data::shuffle(&x, &y, &mut StdRng::seed_from_u64(1))?;
/// assert_eq!(xs.column(0), ys); // still paired
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn shuffle<'a, 'b, F, D1, D2, R>(
    x: impl AsArray<'a, F, D1>,
    y: impl AsArray<'b, F, D2>,
    rng: &mut R,
) -> Result<(Array<F, D1>, Array<F, D2>)>
where
    F: Float,
    D1: RemoveAxis,
    D2: RemoveAxis,
    R: Rng + ?Sized,
{
    let (x, y) = (x.into(), y.into());
    let n = check_samples("shuffle", &x, &y)?;
    let mut order = limits::try_with_capacity(n, "shuffle order (N)")?;
    order.extend(0..n);
    // Both copies reserved before drawing, so an error leaves `rng` untouched.
    let mut xs = limits::try_with_capacity(x.len(), "shuffle x copy")?;
    let mut ys = limits::try_with_capacity(y.len(), "shuffle y copy")?;
    order.shuffle(rng);
    for &i in &order {
        xs.extend(x.index_axis(Axis(0), i).iter().copied());
        ys.extend(y.index_axis(Axis(0), i).iter().copied());
    }
    let xs = Array::from_shape_vec(x.raw_dim(), xs)
        .map_err(|e| Error::shape("shuffle x", fmt_shape(x.shape()), e.to_string()))?;
    let ys = Array::from_shape_vec(y.raw_dim(), ys)
        .map_err(|e| Error::shape("shuffle y", fmt_shape(y.shape()), e.to_string()))?;
    Ok((xs, ys))
}

/// One epoch of mini-batches: an iterator of `(x_batch, y_batch)` owned arrays, `batch_size`
/// samples each, the last batch smaller when `batch_size` does not divide `N` (it is kept,
/// as Keras does).
///
/// [`Batches::new`] visits samples in order; [`Batches::shuffled`] in an order drawn from
/// the caller's RNG, so a seeded RNG reproduces the epoch. Either way every sample is in
/// exactly one batch. A training loop builds a new `Batches` each epoch.
///
/// # Shapes
/// `x` `(N, …)`, `y` `(N, …)` → batches `(b, …)` of the same trailing shapes, `b =
/// batch_size` except for the last; `⌈N / batch_size⌉` batches.
///
/// # Example
/// ```
/// use ndarray::{array, Array3};
/// use recurrent::data::Batches;
/// use recurrent::prelude::*;
/// let x = Array3::<f64>::zeros((5, 4, 1)); // 5 windows of 4 steps
/// let y = array![[0.0_f64], [1.0], [2.0], [3.0], [4.0]];
///
/// let sizes: Vec<usize> = Batches::new(&x, &y, 2)?.map(|(xb, _)| xb.shape()[0]).collect();
/// assert_eq!(sizes, [2, 2, 1]);
///
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut seen: Vec<f64> = Batches::shuffled(&x, &y, 2, &mut rng)?.flat_map(|(_, yb)| yb).collect();
/// seen.sort_by(f64::total_cmp);
/// assert_eq!(seen, [0.0, 1.0, 2.0, 3.0, 4.0]);
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Batches<'a, F, D1: Dimension, D2: Dimension> {
    x: ArrayView<'a, F, D1>,
    y: ArrayView<'a, F, D2>,
    order: Vec<usize>,
    in_order: bool,
    batch_size: usize,
    next: usize,
}

impl<'a, F, D1, D2> Batches<'a, F, D1, D2>
where
    F: Float,
    D1: RemoveAxis,
    D2: RemoveAxis,
{
    /// Batches in sample order.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `batch_size` is 0; [`Error::ShapeMismatch`] for arrays
    /// without a sample axis or with different sample counts; [`Error::Empty`] for an
    /// empty axis; [`Error::OutOfMemory`] if the sample order cannot be allocated.
    pub fn new(x: impl AsArray<'a, F, D1>, y: impl AsArray<'a, F, D2>, batch_size: usize) -> Result<Self> {
        let (x, y) = (x.into(), y.into());
        if batch_size == 0 {
            return Err(Error::config("batch size", "at least 1", 0));
        }
        let n = check_samples("batches", &x, &y)?;
        let mut order = limits::try_with_capacity(n, "batches order (N)")?;
        order.extend(0..n);
        Ok(Batches { x, y, order, in_order: true, batch_size, next: 0 })
    }

    /// Batches in an order shuffled with `rng` (one permutation per call).
    ///
    /// # Errors
    /// As [`Batches::new`].
    pub fn shuffled<R: Rng + ?Sized>(
        x: impl AsArray<'a, F, D1>,
        y: impl AsArray<'a, F, D2>,
        batch_size: usize,
        rng: &mut R,
    ) -> Result<Self> {
        let mut batches = Self::new(x, y, batch_size)?;
        batches.order.shuffle(rng);
        batches.in_order = false;
        Ok(batches)
    }

    /// The number of samples per batch (the last may have fewer).
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The number of samples `N`.
    pub fn samples(&self) -> usize {
        self.order.len()
    }

    /// The order in which this epoch visits the samples (indices into the first axis).
    pub fn order(&self) -> &[usize] {
        &self.order
    }
}

impl<F, D1, D2> Iterator for Batches<'_, F, D1, D2>
where
    F: Float,
    D1: RemoveAxis,
    D2: RemoveAxis,
{
    type Item = (Array<F, D1>, Array<F, D2>);

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.next;
        if start >= self.order.len() {
            return None;
        }
        let end = (start + self.batch_size).min(self.order.len());
        self.next = end;
        if self.in_order {
            let range = Slice::from(start..end);
            Some((self.x.slice_axis(Axis(0), range).to_owned(), self.y.slice_axis(Axis(0), range).to_owned()))
        } else {
            let idx = &self.order[start..end];
            Some((self.x.select(Axis(0), idx), self.y.select(Axis(0), idx)))
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.order.len() - self.next).div_ceil(self.batch_size);
        (left, Some(left))
    }
}

impl<F, D1, D2> ExactSizeIterator for Batches<'_, F, D1, D2>
where
    F: Float,
    D1: RemoveAxis,
    D2: RemoveAxis,
{
}

impl<F, D1, D2> std::iter::FusedIterator for Batches<'_, F, D1, D2>
where
    F: Float,
    D1: RemoveAxis,
    D2: RemoveAxis,
{
}
