//! Metrics: how good a model's predictions are, for reporting during and after training.
//!
//! Losses ([`crate::loss`]) are what training minimises; metrics are what people read.
//! The classification metrics follow scikit-learn's definitions (`accuracy_score`,
//! `precision_score`, `recall_score`, `f1_score`, `confusion_matrix`, including its
//! `zero_division` convention), the regression metrics its `mean_squared_error`,
//! `mean_absolute_error`, `root_mean_squared_error` and `r2_score`. Thresholds and the
//! automatic choice between binary and categorical accuracy follow Keras.
//!
//! A training loop reports a list of [`Metric`]s: each has a [`Metric::name`] and a
//! [`Metric::compute`] over a prediction and a target.
//!
//! # How predictions become labels
//!
//! ```text
//! binary       prediction: probabilities (or scores) of any shape; every element is a sample,
//!              label 1 when p > threshold (strictly, as Keras), else 0
//!              target: the prediction's shape (a trailing axis of 1 may be added or left
//!              out on either side: (N, 1) against (N,) is fine), values exactly 0 or 1
//! categorical  prediction: (N, C) or (B, T, C) class scores, C ≥ 2; every position of the
//!              leading axes is a sample (B·T of them for sequences);
//!              label = argmax over the last axis (the first maximum on ties, as NumPy)
//!              target: one-hot with the prediction's shape, or integer class indices
//!              stored as floats, shaped (N,) / (N, 1) (or (B, T) / (B, T, 1))
//! automatic    categorical when the prediction has at least 2 axes and a last axis ≥ 2,
//!              else binary at threshold 0.5 (Keras's rule for the metric "accuracy")
//! ```
//!
//! [`accuracy`], [`precision`], [`recall`], [`f1`], [`confusion_matrix`] and the
//! corresponding [`Metric`]s read predictions the automatic way; [`binary_accuracy`] and
//! [`categorical_accuracy`], and [`ConfusionMatrix::binary`] and
//! [`ConfusionMatrix::categorical`], fix the reading (and the threshold). Two independent
//! sigmoid outputs `(N, 2)` (multi-label) are read as two classes by the automatic rule;
//! use [`binary_accuracy`] for them.
//!
//! # Precision, recall, F1
//!
//! From the confusion matrix `M` (rows = true class, columns = predicted class):
//!
//! ```text
//! TP_k = M[k, k]     FP_k = Σ_i M[i, k] − TP_k     FN_k = Σ_j M[k, j] − TP_k     support_k = Σ_j M[k, j]
//!
//! precision_k = TP_k / (TP_k + FP_k)
//! recall_k    = TP_k / (TP_k + FN_k)
//! F1_k        = 2·TP_k / (2·TP_k + FP_k + FN_k)     (= the harmonic mean of the two when both exist)
//!
//! Average::Binary    the score of class 1 (a two-class problem only)
//! Average::Macro     the unweighted mean of the class scores over the classes that occur in
//!                    the target or the prediction (scikit-learn's default `labels`)
//! Average::Weighted  the mean of the class scores weighted by support_k
//! Average::Micro     the score of the summed counts: for single-label data precision,
//!                    recall and F1 all equal the accuracy
//! ```
//!
//! Macro averages leave out a class that neither the target nor the prediction contains, as
//! scikit-learn does when it is not told the labels; [`ConfusionMatrix::labels_present`]
//! says which classes count. The per-class scores
//! ([`ConfusionMatrix::precision_per_class`]...) cover every class `0..C`.
//!
//! # Zero division
//!
//! A score whose denominator is 0 takes the value of [`ZeroDivision`] (scikit-learn's
//! `zero_division`; its default `"warn"` gives 0 like [`ZeroDivision::Zero`], this crate's
//! default, and prints a warning, which a library does not do here):
//!
//! | score | case | counts | value |
//! |---|---|---|---|
//! | precision | nothing predicted as the class | TP + FP = 0 | `zero_division` |
//! | recall | the class never in the target | TP + FN = 0 | `zero_division` |
//! | F1 | neither predicted nor in the target | TP + FP + FN = 0 | `zero_division` |
//! | F1 | nothing predicted, but in the target | TP = FP = 0, FN > 0 | 0 (not `zero_division`) |
//! | F1 | predicted, but never in the target | TP = FN = 0, FP > 0 | 0 (not `zero_division`) |
//! | micro average | never (at least one sample) | | |
//! | weighted average | never (at least one sample, so Σ support > 0) | | |
//!
//! A macro or weighted average applies the table to each class first, then averages.
//!
//! # Regression
//!
//! ```text
//! mse  = (1/n) Σ (p − t)²            mae = (1/n) Σ |p − t|            over every element
//! rmse = mean over outputs of √((1/N) Σ_rows (p − t)²)
//! R²   = mean over outputs of 1 − Σ (t − p)² / Σ (t − t̄)²
//! ```
//!
//! Outputs are the last axis when the shape has at least 2 axes, else there is one; rows
//! are every position of the other axes (`(B, T, K)`: `B·T` rows of `K` outputs; a
//! `(B, T, 1)` prediction against a `(B, T)` target: `B·T` rows of one output). This
//! is scikit-learn's `multioutput="uniform_average"`; for a single output (the usual case)
//! `rmse = √mse`. (Keras's `RootMeanSquaredError` takes `√mse` over all elements, which
//! differs from the above only for several outputs.)
//!
//! R² of an output whose target is constant (all its values equal, so `Σ (t − t̄)² = 0`)
//! follows scikit-learn's `force_finite=True`: **1 if the prediction is exact there, else 0**
//! (instead of NaN or −∞). scikit-learn decides on the computed sum of squares being 0,
//! which rounding can miss (`[0.1, 0.1, 0.1]`); this crate decides on the values being
//! equal. R² needs at least 2 rows (scikit-learn returns NaN for one).
//!
//! All arithmetic is done in `f64` and rounded to `F` at the end, so an `f32` metric is as
//! exact as an `f64` one up to that last rounding.

use std::fmt;

use ndarray::{Array1, Array2, ArrayViewD, AsArray, Axis, Dimension};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::shape::{check_finite, check_nonempty, fmt_index, fmt_shape};

/// The value a precision, recall or F1 takes when its denominator is 0 (scikit-learn's
/// `zero_division`). See the [module docs](self#zero-division) for every case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ZeroDivision {
    /// 0: scikit-learn's `zero_division=0` and, value-wise, its default `"warn"`. The default.
    #[default]
    Zero,
    /// 1: scikit-learn's `zero_division=1`.
    One,
}

impl ZeroDivision {
    /// The value as a number: 0 or 1.
    pub fn value(self) -> f64 {
        match self {
            ZeroDivision::Zero => 0.0,
            ZeroDivision::One => 1.0,
        }
    }
}

/// How precision, recall and F1 combine the classes (scikit-learn's `average`).
///
/// See the [module docs](self#precision-recall-f1) for the formulas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Average {
    /// The score of the positive class 1; needs exactly two classes. The default, as in
    /// scikit-learn.
    #[default]
    Binary,
    /// The unweighted mean over the classes present in the target or the prediction.
    Macro,
    /// The score of the counts summed over classes (equals the accuracy for single-label data).
    Micro,
    /// The mean weighted by each class's support (its number of true samples).
    Weighted,
}

// ---------------------------------------------------------------------------------------
// Reading predictions and targets as labels
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Reading<F> {
    Auto,
    Binary(F),
    Categorical,
}

/// True and predicted class of every sample, in row-major order.
struct Labels {
    truth: Vec<usize>,
    predicted: Vec<usize>,
    classes: usize,
}

fn views<'a, 'b, F, D1, D2>(
    pred: impl AsArray<'a, F, D1>,
    target: impl AsArray<'b, F, D2>,
) -> (ArrayViewD<'a, F>, ArrayViewD<'b, F>)
where
    F: Float,
    D1: Dimension,
    D2: Dimension,
{
    (pred.into().into_dyn(), target.into().into_dyn())
}

/// Errs unless the shapes are equal, up to one trailing axis of length 1 on either side.
fn check_compatible(name: &str, p: &[usize], t: &[usize]) -> Result<()> {
    let trailing_one = |long: &[usize], short: &[usize]| {
        long.len() == short.len() + 1 && long[..short.len()] == *short && long[short.len()] == 1
    };
    if p == t || trailing_one(p, t) || trailing_one(t, p) {
        return Ok(());
    }
    Err(Error::shape(
        format!("{name} target (must match the prediction)"),
        format!("{} (a trailing axis of 1 may be added or left out)", fmt_shape(p)),
        fmt_shape(t),
    ))
}

const AXES: [&str; 4] = ["batch size", "axis 1", "axis 2", "axis 3"];

fn check_values<F: Float>(name: &str, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>) -> Result<()> {
    check_nonempty(format_args!("{name} prediction"), p.shape(), &AXES)?;
    check_nonempty(format_args!("{name} target"), t.shape(), &AXES)?;
    check_finite(format_args!("{name} prediction"), p)?;
    check_finite(format_args!("{name} target"), t)
}

fn read<F: Float>(name: &str, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>, reading: Reading<F>) -> Result<Labels> {
    let threshold = match reading {
        Reading::Binary(threshold) => Some(threshold),
        Reading::Categorical => None,
        Reading::Auto if p.ndim() >= 2 && p.shape()[p.ndim() - 1] >= 2 => None,
        Reading::Auto => Some(F::of(0.5)),
    };
    match threshold {
        Some(threshold) => read_binary(name, p, t, threshold),
        None => read_categorical(name, p, t),
    }
}

fn read_binary<F: Float>(name: &str, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>, threshold: F) -> Result<Labels> {
    if !threshold.is_finite() {
        return Err(Error::config(format!("{name} threshold"), "a finite value", threshold));
    }
    check_compatible(name, p.shape(), t.shape())?;
    check_values(name, p, t)?;
    let mut truth = Vec::with_capacity(t.len());
    for (i, &v) in t.iter().enumerate() {
        if v == F::zero() {
            truth.push(0);
        } else if v == F::one() {
            truth.push(1);
        } else {
            return Err(Error::OutOfRange {
                what: format!("{name} target (binary labels)"),
                expected: "0 or 1".to_string(),
                got: v.to_string(),
                index: fmt_index(t.shape(), i),
            });
        }
    }
    let predicted = p.iter().map(|&v| usize::from(v > threshold)).collect();
    Ok(Labels { truth, predicted, classes: 2 })
}

/// Index of the first maximum (NumPy's `argmax`).
fn argmax<F: Float>(row: &[F]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate().skip(1) {
        if v > row[best] {
            best = j;
        }
    }
    best
}

fn read_categorical<F: Float>(name: &str, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>) -> Result<Labels> {
    let nd = p.ndim();
    if nd < 2 || p.shape()[nd - 1] < 2 {
        return Err(Error::shape(
            format!("{name} prediction (class scores)"),
            "(N, C) or (B, T, C) with C ≥ 2 classes",
            fmt_shape(p.shape()),
        ));
    }
    let k = p.shape()[nd - 1];
    let lead = &p.shape()[..nd - 1];
    let mut lead_one = lead.to_vec();
    lead_one.push(1);
    let one_hot = t.shape() == p.shape();
    if !one_hot && t.shape() != lead && t.shape() != lead_one.as_slice() {
        return Err(Error::shape(
            format!("{name} target"),
            format!(
                "{} (one-hot), or {} or {} (class indices)",
                fmt_shape(p.shape()),
                fmt_shape(lead),
                fmt_shape(&lead_one)
            ),
            fmt_shape(t.shape()),
        ));
    }
    check_values(name, p, t)?;
    // `iter` walks in logical row-major order whatever the memory layout.
    let pv: Vec<F> = p.iter().copied().collect();
    let predicted = pv.chunks_exact(k).map(argmax).collect();
    let mut truth = Vec::with_capacity(pv.len() / k);
    if one_hot {
        let what = format!("{name} target (one-hot rows)");
        let tv: Vec<F> = t.iter().copied().collect();
        for (r, row) in tv.chunks_exact(k).enumerate() {
            let mut hot = Vec::new();
            for (j, &v) in row.iter().enumerate() {
                if v == F::one() {
                    hot.push(j);
                } else if v != F::zero() {
                    return Err(Error::OutOfRange {
                        what,
                        expected: "0 or 1".to_string(),
                        got: v.to_string(),
                        index: fmt_index(t.shape(), r * k + j),
                    });
                }
            }
            if hot.len() != 1 {
                return Err(Error::OutOfRange {
                    what,
                    expected: "exactly one 1 per row".to_string(),
                    got: format!("{} ones in the row", hot.len()),
                    index: fmt_index(t.shape(), r * k),
                });
            }
            truth.push(hot[0]);
        }
    } else {
        for (i, &v) in t.iter().enumerate() {
            let x = v.to_f64_exact();
            if !(x >= 0.0 && x < k as f64 && x.fract() == 0.0) {
                return Err(Error::OutOfRange {
                    what: format!("{name} target (class indices)"),
                    expected: format!("integer class indices in [0, {k})"),
                    got: v.to_string(),
                    index: fmt_index(t.shape(), i),
                });
            }
            truth.push(x as usize);
        }
    }
    Ok(Labels { truth, predicted, classes: k })
}

fn fraction_correct(labels: &Labels) -> f64 {
    let correct = labels.truth.iter().zip(&labels.predicted).filter(|(t, p)| t == p).count();
    correct as f64 / labels.truth.len() as f64
}

// ---------------------------------------------------------------------------------------
// Accuracy
// ---------------------------------------------------------------------------------------

/// The fraction of samples whose predicted label equals the target, reading the prediction
/// [automatically](self#how-predictions-become-labels): argmax for `(…, C ≥ 2)` class
/// scores, else probabilities thresholded at 0.5 (Keras's `"accuracy"`).
///
/// # Shapes
/// Binary: prediction of any shape, target the same (a trailing axis of 1 may differ).
/// Categorical: prediction `(N, C)` or `(B, T, C)`, target one-hot of the same shape or
/// class indices `(N,)`/`(N, 1)` (`(B, T)`/`(B, T, 1)`).
///
/// # Errors
/// [`Error::ShapeMismatch`] for shapes that do not fit the above, [`Error::Empty`] for an
/// empty prediction, [`Error::NonFinite`] for NaN or infinite values, [`Error::OutOfRange`]
/// for binary targets other than 0/1, one-hot rows that are not one-hot, or class indices
/// outside `[0, C)` or not integers.
///
/// # Example
/// ```
/// use ndarray::array;
/// // Sigmoid outputs: labels 0, 1, 1, 0 at threshold 0.5; 3 of 4 match.
/// let p = array![[0.1_f64], [0.7], [0.6], [0.4]];
/// let t = array![[0.0], [1.0], [0.0], [0.0]];
/// assert_eq!(recurrent::metrics::accuracy(&p, &t)?, 0.75);
///
/// // Softmax outputs against class indices: argmax 1, 0; targets 1, 2.
/// let p = array![[0.2_f64, 0.5, 0.3], [0.6, 0.3, 0.1]];
/// let t = array![1.0, 2.0];
/// assert_eq!(recurrent::metrics::accuracy(&p, &t)?, 0.5);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn accuracy<'a, 'b, F, D1, D2>(pred: impl AsArray<'a, F, D1>, target: impl AsArray<'b, F, D2>) -> Result<F>
where
    F: Float,
    D1: Dimension,
    D2: Dimension,
{
    let (p, t) = views(pred, target);
    Ok(F::of(fraction_correct(&read("accuracy", &p, &t, Reading::Auto)?)))
}

/// The fraction of elements with `(p > threshold) == target`: Keras's `binary_accuracy`.
///
/// Every element is a sample, so `(N, K)` independent sigmoid outputs (multi-label) count
/// `N·K` samples. The prediction is not range-checked: with `threshold = 0` it may hold logits.
///
/// # Shapes
/// Prediction of any shape; target the same (a trailing axis of 1 may be added or left out).
///
/// # Errors
/// [`Error::InvalidConfig`] for a non-finite threshold, [`Error::ShapeMismatch`],
/// [`Error::Empty`], [`Error::NonFinite`], and [`Error::OutOfRange`] for a target other
/// than 0 or 1.
///
/// # Example
/// ```
/// use ndarray::array;
/// let p = array![0.2_f64, 0.5, 0.9];
/// let t = array![0.0, 1.0, 1.0];
/// // 0.5 is not > 0.5, so the middle sample is predicted 0.
/// assert_eq!(recurrent::metrics::binary_accuracy(&p, &t, 0.5)?, 2.0 / 3.0);
/// assert_eq!(recurrent::metrics::binary_accuracy(&p, &t, 0.4)?, 1.0);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn binary_accuracy<'a, 'b, F, D1, D2>(
    pred: impl AsArray<'a, F, D1>,
    target: impl AsArray<'b, F, D2>,
    threshold: F,
) -> Result<F>
where
    F: Float,
    D1: Dimension,
    D2: Dimension,
{
    let (p, t) = views(pred, target);
    Ok(F::of(fraction_correct(&read("binary accuracy", &p, &t, Reading::Binary(threshold))?)))
}

/// The fraction of rows whose argmax equals the target class: Keras's
/// `categorical_accuracy` (one-hot target) or `sparse_categorical_accuracy` (indices).
///
/// # Shapes
/// Prediction `(N, C)` or `(B, T, C)` with `C ≥ 2`; target one-hot of the same shape or
/// class indices `(N,)`/`(N, 1)` (`(B, T)`/`(B, T, 1)`).
///
/// # Errors
/// [`Error::ShapeMismatch`], [`Error::Empty`], [`Error::NonFinite`], and
/// [`Error::OutOfRange`] for a target row that is not one-hot or an index outside `[0, C)`.
///
/// # Example
/// ```
/// use ndarray::array;
/// // (B, T, C) = (1, 2, 2): two positions, both predicted correctly.
/// let p = array![[[0.9_f64, 0.1], [0.3, 0.7]]];
/// let t = array![[[1.0, 0.0], [0.0, 1.0]]];
/// assert_eq!(recurrent::metrics::categorical_accuracy(&p, &t)?, 1.0);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn categorical_accuracy<'a, 'b, F, D1, D2>(
    pred: impl AsArray<'a, F, D1>,
    target: impl AsArray<'b, F, D2>,
) -> Result<F>
where
    F: Float,
    D1: Dimension,
    D2: Dimension,
{
    let (p, t) = views(pred, target);
    Ok(F::of(fraction_correct(&read("categorical accuracy", &p, &t, Reading::Categorical)?)))
}

// ---------------------------------------------------------------------------------------
// Confusion matrix, precision, recall, F1
// ---------------------------------------------------------------------------------------

/// Counts of (true class, predicted class) pairs: `counts()[[i, j]]` is the number of
/// samples of class `i` predicted as `j` (scikit-learn's layout: rows true, columns
/// predicted).
///
/// Precision, recall and F1 in every [`Average`] are computed from it. Its scores are
/// `f64`: they are ratios of counts, whatever float type the predictions had.
///
/// # Example
/// ```
/// use recurrent::metrics::{Average, ConfusionMatrix, ZeroDivision};
/// let cm = ConfusionMatrix::from_labels(&[0, 1, 2, 2], &[0, 2, 2, 1], 3)?;
/// assert_eq!(cm.counts()[[2, 1]], 1); // one sample of class 2 predicted as 1
/// assert_eq!(cm.accuracy(), 0.5);
/// // precision per class: 1/1, 0/1, 1/2 → macro mean 0.5
/// assert_eq!(cm.precision(Average::Macro, ZeroDivision::Zero)?, 0.5);
/// assert_eq!(
///     cm.to_string(),
///     "true\\pred 0 1 2\n        0 1 0 0\n        1 0 0 1\n        2 0 1 1"
/// );
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfusionMatrix {
    counts: Array2<usize>,
}

#[derive(Clone, Copy)]
enum Score {
    Precision,
    Recall,
    F1,
}

impl Score {
    fn name(self) -> &'static str {
        match self {
            Score::Precision => "precision",
            Score::Recall => "recall",
            Score::F1 => "F1",
        }
    }
}

fn ratio(num: usize, den: usize, zero_division: ZeroDivision) -> f64 {
    if den == 0 {
        zero_division.value()
    } else {
        num as f64 / den as f64
    }
}

impl ConfusionMatrix {
    fn from_parts(labels: &Labels) -> Result<Self> {
        let mut counts =
            crate::limits::try_zeros((labels.classes, labels.classes), "confusion matrix (classes, classes)")?;
        for (&t, &p) in labels.truth.iter().zip(&labels.predicted) {
            counts[[t, p]] += 1;
        }
        Ok(ConfusionMatrix { counts })
    }

    /// Builds the matrix from true and predicted class labels in `0..classes`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `classes` is 0, [`Error::ShapeMismatch`] if the two
    /// slices differ in length, [`Error::Empty`] if they are empty, [`Error::OutOfRange`]
    /// for a label `≥ classes`.
    pub fn from_labels(truth: &[usize], predicted: &[usize], classes: usize) -> Result<Self> {
        if classes == 0 {
            return Err(Error::config("confusion matrix classes", "at least 1", 0));
        }
        if truth.len() != predicted.len() {
            return Err(Error::shape(
                "confusion matrix predicted labels (must match the true labels)",
                fmt_shape(&[truth.len()]),
                fmt_shape(&[predicted.len()]),
            ));
        }
        check_nonempty("confusion matrix true labels", &[truth.len()], &["labels"])?;
        for (what, labels) in [("true labels", truth), ("predicted labels", predicted)] {
            if let Some((i, &label)) = labels.iter().enumerate().find(|&(_, &l)| l >= classes) {
                return Err(Error::OutOfRange {
                    what: format!("confusion matrix {what}"),
                    expected: format!("class labels in [0, {classes})"),
                    got: label.to_string(),
                    index: format!("[{i}]"),
                });
            }
        }
        let labels = Labels { truth: truth.to_vec(), predicted: predicted.to_vec(), classes };
        Self::from_parts(&labels)
    }

    /// Builds the two-class matrix of probabilities thresholded at `threshold`
    /// (`p > threshold` is class 1) against 0/1 targets; the reading of [`binary_accuracy`].
    ///
    /// # Errors
    /// As [`binary_accuracy`].
    pub fn binary<'a, 'b, F, D1, D2>(
        pred: impl AsArray<'a, F, D1>,
        target: impl AsArray<'b, F, D2>,
        threshold: F,
    ) -> Result<Self>
    where
        F: Float,
        D1: Dimension,
        D2: Dimension,
    {
        let (p, t) = views(pred, target);
        Self::from_parts(&read("confusion matrix", &p, &t, Reading::Binary(threshold))?)
    }

    /// Builds the `C × C` matrix of argmax predictions `(…, C)` against one-hot or
    /// class-index targets; the reading of [`categorical_accuracy`].
    ///
    /// # Errors
    /// As [`categorical_accuracy`].
    pub fn categorical<'a, 'b, F, D1, D2>(
        pred: impl AsArray<'a, F, D1>,
        target: impl AsArray<'b, F, D2>,
    ) -> Result<Self>
    where
        F: Float,
        D1: Dimension,
        D2: Dimension,
    {
        let (p, t) = views(pred, target);
        Self::from_parts(&read("confusion matrix", &p, &t, Reading::Categorical)?)
    }

    /// The counts, `(C, C)`: rows are true classes, columns predicted classes.
    pub fn counts(&self) -> &Array2<usize> {
        &self.counts
    }

    /// The counts, by value.
    pub fn into_counts(self) -> Array2<usize> {
        self.counts
    }

    /// The number of classes `C`.
    pub fn classes(&self) -> usize {
        self.counts.nrows()
    }

    /// The number of samples counted.
    pub fn total(&self) -> usize {
        self.counts.sum()
    }

    /// Per class, the samples of that class predicted as it: the diagonal.
    pub fn true_positives(&self) -> Array1<usize> {
        self.counts.diag().to_owned()
    }

    /// Per class, the samples of other classes predicted as it.
    pub fn false_positives(&self) -> Array1<usize> {
        self.predicted() - self.true_positives()
    }

    /// Per class, the samples of that class predicted as another.
    pub fn false_negatives(&self) -> Array1<usize> {
        self.support() - self.true_positives()
    }

    /// Per class, the samples neither of that class nor predicted as it.
    pub fn true_negatives(&self) -> Array1<usize> {
        let total = self.total();
        let (tp, fp, fn_) = (self.true_positives(), self.false_positives(), self.false_negatives());
        Array1::from_shape_fn(self.classes(), |k| total - tp[k] - fp[k] - fn_[k])
    }

    /// Per class, the number of samples of that class in the target (row sums).
    pub fn support(&self) -> Array1<usize> {
        self.counts.sum_axis(Axis(1))
    }

    /// Per class, the number of samples predicted as that class (column sums).
    pub fn predicted(&self) -> Array1<usize> {
        self.counts.sum_axis(Axis(0))
    }

    /// Per class, whether it occurs in the target or the prediction: the classes a
    /// [`Average::Macro`] average runs over (scikit-learn's default `labels`).
    pub fn labels_present(&self) -> Array1<bool> {
        let (support, predicted) = (self.support(), self.predicted());
        Array1::from_shape_fn(self.classes(), |k| support[k] + predicted[k] > 0)
    }

    /// The fraction of samples on the diagonal.
    pub fn accuracy(&self) -> f64 {
        ratio(self.counts.diag().sum(), self.total(), ZeroDivision::Zero)
    }

    fn class_score(&self, score: Score, k: usize, zero_division: ZeroDivision) -> f64 {
        let tp = self.counts[[k, k]];
        let support = self.counts.row(k).sum();
        let predicted = self.counts.column(k).sum();
        match score {
            Score::Precision => ratio(tp, predicted, zero_division),
            Score::Recall => ratio(tp, support, zero_division),
            Score::F1 => ratio(2 * tp, support + predicted, zero_division),
        }
    }

    fn per_class(&self, score: Score, zero_division: ZeroDivision) -> Array1<f64> {
        Array1::from_shape_fn(self.classes(), |k| self.class_score(score, k, zero_division))
    }

    fn score(&self, score: Score, average: Average, zero_division: ZeroDivision) -> Result<f64> {
        let classes = self.classes();
        match average {
            Average::Binary => {
                if classes != 2 {
                    return Err(Error::config(
                        format!("{} average", score.name()),
                        "Binary only for two classes (use Macro, Micro or Weighted)",
                        format!("{classes} classes"),
                    ));
                }
                Ok(self.class_score(score, 1, zero_division))
            }
            Average::Macro => {
                let present = self.labels_present();
                let n = present.iter().filter(|&&p| p).count();
                let sum: f64 =
                    (0..classes).filter(|&k| present[k]).map(|k| self.class_score(score, k, zero_division)).sum();
                Ok(if n == 0 { zero_division.value() } else { sum / n as f64 })
            }
            Average::Weighted => {
                let support = self.support();
                let weighted: f64 =
                    (0..classes).map(|k| support[k] as f64 * self.class_score(score, k, zero_division)).sum();
                let total = support.sum();
                Ok(if total == 0 { zero_division.value() } else { weighted / total as f64 })
            }
            Average::Micro => {
                let (tp, total) = (self.counts.diag().sum(), self.total());
                // Σ (TP + FP) = Σ (TP + FN) = total for single-label data.
                Ok(match score {
                    Score::Precision | Score::Recall => ratio(tp, total, zero_division),
                    Score::F1 => ratio(2 * tp, 2 * total, zero_division),
                })
            }
        }
    }

    /// Precision, averaged as `average`; see the [module docs](self#precision-recall-f1).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for [`Average::Binary`] on a matrix without exactly two
    /// classes.
    pub fn precision(&self, average: Average, zero_division: ZeroDivision) -> Result<f64> {
        self.score(Score::Precision, average, zero_division)
    }

    /// Recall, averaged as `average`.
    ///
    /// # Errors
    /// As [`ConfusionMatrix::precision`].
    pub fn recall(&self, average: Average, zero_division: ZeroDivision) -> Result<f64> {
        self.score(Score::Recall, average, zero_division)
    }

    /// F1, averaged as `average` (the average of per-class F1, not the F1 of averaged
    /// precision and recall, as scikit-learn).
    ///
    /// # Errors
    /// As [`ConfusionMatrix::precision`].
    pub fn f1(&self, average: Average, zero_division: ZeroDivision) -> Result<f64> {
        self.score(Score::F1, average, zero_division)
    }

    /// The precision of every class `0..C` (scikit-learn's `average=None` with
    /// `labels=range(C)`).
    pub fn precision_per_class(&self, zero_division: ZeroDivision) -> Array1<f64> {
        self.per_class(Score::Precision, zero_division)
    }

    /// The recall of every class `0..C`.
    pub fn recall_per_class(&self, zero_division: ZeroDivision) -> Array1<f64> {
        self.per_class(Score::Recall, zero_division)
    }

    /// The F1 of every class `0..C`.
    pub fn f1_per_class(&self, zero_division: ZeroDivision) -> Array1<f64> {
        self.per_class(Score::F1, zero_division)
    }
}

/// A table with a `true\pred` corner, class numbers across and down, counts right-aligned.
impl fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const CORNER: &str = "true\\pred";
        let classes = self.classes();
        let widest = self.counts.iter().copied().max().unwrap_or(0).max(classes.saturating_sub(1));
        let w = widest.to_string().len();
        write!(f, "{CORNER}")?;
        for j in 0..classes {
            write!(f, " {j:>w$}")?;
        }
        for (i, row) in self.counts.rows().into_iter().enumerate() {
            write!(f, "\n{i:>cw$}", cw = CORNER.len())?;
            for c in row {
                write!(f, " {c:>w$}")?;
            }
        }
        Ok(())
    }
}

/// The confusion matrix of a prediction read [automatically](self#how-predictions-become-labels)
/// (argmax for `(…, C ≥ 2)`, else threshold 0.5 giving two classes).
///
/// # Errors
/// As [`accuracy`].
///
/// # Example
/// ```
/// use ndarray::array;
/// let p = array![0.9_f64, 0.2, 0.8, 0.3];
/// let t = array![1.0, 1.0, 0.0, 0.0];
/// let cm = recurrent::metrics::confusion_matrix(&p, &t)?;
/// assert_eq!(cm.counts(), &array![[1, 1], [1, 1]]);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn confusion_matrix<'a, 'b, F, D1, D2>(
    pred: impl AsArray<'a, F, D1>,
    target: impl AsArray<'b, F, D2>,
) -> Result<ConfusionMatrix>
where
    F: Float,
    D1: Dimension,
    D2: Dimension,
{
    let (p, t) = views(pred, target);
    ConfusionMatrix::from_parts(&read("confusion matrix", &p, &t, Reading::Auto)?)
}

fn scored<F: Float>(
    score: Score,
    p: &ArrayViewD<'_, F>,
    t: &ArrayViewD<'_, F>,
    average: Average,
    zero_division: ZeroDivision,
) -> Result<F> {
    let cm = ConfusionMatrix::from_parts(&read(score.name(), p, t, Reading::Auto)?)?;
    Ok(F::of(cm.score(score, average, zero_division)?))
}

/// Precision of a prediction read [automatically](self#how-predictions-become-labels),
/// averaged as `average` (scikit-learn's `precision_score`).
///
/// For another threshold, build [`ConfusionMatrix::binary`] and call its
/// [`precision`](ConfusionMatrix::precision).
///
/// # Errors
/// As [`accuracy`], and [`Error::InvalidConfig`] for [`Average::Binary`] with other than
/// two classes.
///
/// # Example
/// ```
/// use ndarray::array;
/// use recurrent::metrics::{precision, Average, ZeroDivision};
/// // Predicted labels 1, 1, 0, 0 against 1, 0, 1, 0: TP = 1, FP = 1 → 1/2.
/// let p = array![0.9_f64, 0.8, 0.3, 0.1];
/// let t = array![1.0, 0.0, 1.0, 0.0];
/// assert_eq!(precision(&p, &t, Average::Binary, ZeroDivision::Zero)?, 0.5);
/// // Nothing predicted positive: 0/0 → zero_division.
/// let p = array![0.1_f64, 0.2];
/// let t = array![1.0, 0.0];
/// assert_eq!(precision(&p, &t, Average::Binary, ZeroDivision::One)?, 1.0);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn precision<'a, 'b, F, D1, D2>(
    pred: impl AsArray<'a, F, D1>,
    target: impl AsArray<'b, F, D2>,
    average: Average,
    zero_division: ZeroDivision,
) -> Result<F>
where
    F: Float,
    D1: Dimension,
    D2: Dimension,
{
    let (p, t) = views(pred, target);
    scored(Score::Precision, &p, &t, average, zero_division)
}

/// Recall of a prediction read [automatically](self#how-predictions-become-labels),
/// averaged as `average` (scikit-learn's `recall_score`).
///
/// # Errors
/// As [`precision`].
///
/// # Example
/// ```
/// use ndarray::array;
/// use recurrent::metrics::{recall, Average, ZeroDivision};
/// // Argmax 0, 1, 1 against classes 0, 1, 2: recall per class 1, 1, 0 → macro 2/3.
/// let p = array![[0.8_f64, 0.1, 0.1], [0.2, 0.7, 0.1], [0.3, 0.4, 0.3]];
/// let t = array![0.0, 1.0, 2.0];
/// let r = recall(&p, &t, Average::Macro, ZeroDivision::Zero)?;
/// assert!((r - 2.0 / 3.0).abs() < 1e-15);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn recall<'a, 'b, F, D1, D2>(
    pred: impl AsArray<'a, F, D1>,
    target: impl AsArray<'b, F, D2>,
    average: Average,
    zero_division: ZeroDivision,
) -> Result<F>
where
    F: Float,
    D1: Dimension,
    D2: Dimension,
{
    let (p, t) = views(pred, target);
    scored(Score::Recall, &p, &t, average, zero_division)
}

/// F1 of a prediction read [automatically](self#how-predictions-become-labels), averaged
/// as `average` (scikit-learn's `f1_score`).
///
/// # Errors
/// As [`precision`].
///
/// # Example
/// ```
/// use ndarray::array;
/// use recurrent::metrics::{f1, Average, ZeroDivision};
/// // TP = 1, FP = 1, FN = 1: F1 = 2·1 / (2·1 + 1 + 1) = 0.5.
/// let p = array![0.9_f64, 0.8, 0.3, 0.1];
/// let t = array![1.0, 0.0, 1.0, 0.0];
/// assert_eq!(f1(&p, &t, Average::Binary, ZeroDivision::Zero)?, 0.5);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn f1<'a, 'b, F, D1, D2>(
    pred: impl AsArray<'a, F, D1>,
    target: impl AsArray<'b, F, D2>,
    average: Average,
    zero_division: ZeroDivision,
) -> Result<F>
where
    F: Float,
    D1: Dimension,
    D2: Dimension,
{
    let (p, t) = views(pred, target);
    scored(Score::F1, &p, &t, average, zero_division)
}

// ---------------------------------------------------------------------------------------
// Regression
// ---------------------------------------------------------------------------------------

/// Prediction and target as f64 in row-major order, split into rows of `outputs` values.
struct Pair {
    p: Vec<f64>,
    t: Vec<f64>,
    outputs: usize,
}

impl Pair {
    fn rows(&self) -> usize {
        self.p.len() / self.outputs
    }

    /// Σ over rows of `f(p, t)` for output `j`.
    fn column_sum(&self, j: usize, f: impl Fn(f64, f64) -> f64) -> f64 {
        let k = self.outputs;
        self.p.iter().skip(j).step_by(k).zip(self.t.iter().skip(j).step_by(k)).map(|(&p, &t)| f(p, t)).sum()
    }
}

fn regression_pair<F: Float>(name: &str, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>) -> Result<Pair> {
    check_compatible(name, p.shape(), t.shape())?;
    check_values(name, p, t)?;
    // With a trailing axis of 1 on one side only, that side says "one output": (B, T, 1)
    // against (B, T) is B·T rows of one output, not B rows of T.
    let shape = if p.ndim() >= t.ndim() { p.shape() } else { t.shape() };
    let outputs = if shape.len() >= 2 { shape[shape.len() - 1] } else { 1 };
    Ok(Pair {
        p: p.iter().map(|v| v.to_f64_exact()).collect(),
        t: t.iter().map(|v| v.to_f64_exact()).collect(),
        outputs,
    })
}

fn mean_of(pair: &Pair, f: impl Fn(f64, f64) -> f64) -> f64 {
    pair.p.iter().zip(&pair.t).map(|(&p, &t)| f(p, t)).sum::<f64>() / pair.p.len() as f64
}

/// Mean squared error over every element, `(1/n) Σ (p − t)²` (scikit-learn's
/// `mean_squared_error`; the value of the [`crate::loss::Mse`] loss).
///
/// # Shapes
/// Prediction and target of the same shape (a trailing axis of 1 may be added or left out).
///
/// # Errors
/// [`Error::ShapeMismatch`], [`Error::Empty`], [`Error::NonFinite`].
///
/// # Example
/// ```
/// use ndarray::array;
/// let p = array![[1.0_f64], [2.0], [4.0]];
/// let t = array![1.0, 3.0, 2.0]; // (3,) against (3, 1) is fine
/// assert_eq!(recurrent::metrics::mse(&p, &t)?, (0.0 + 1.0 + 4.0) / 3.0);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn mse<'a, 'b, F, D1, D2>(pred: impl AsArray<'a, F, D1>, target: impl AsArray<'b, F, D2>) -> Result<F>
where
    F: Float,
    D1: Dimension,
    D2: Dimension,
{
    let (p, t) = views(pred, target);
    let pair = regression_pair("mse", &p, &t)?;
    Ok(F::of(mean_of(&pair, |p, t| (p - t) * (p - t))))
}

/// Mean absolute error over every element, `(1/n) Σ |p − t|` (scikit-learn's
/// `mean_absolute_error`).
///
/// # Errors
/// As [`mse`].
///
/// # Example
/// ```
/// use ndarray::array;
/// let p = array![1.0_f64, 2.0, 4.0];
/// let t = array![1.0, 3.0, 2.0];
/// assert_eq!(recurrent::metrics::mae(&p, &t)?, 1.0);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn mae<'a, 'b, F, D1, D2>(pred: impl AsArray<'a, F, D1>, target: impl AsArray<'b, F, D2>) -> Result<F>
where
    F: Float,
    D1: Dimension,
    D2: Dimension,
{
    let (p, t) = views(pred, target);
    let pair = regression_pair("mae", &p, &t)?;
    Ok(F::of(mean_of(&pair, |p, t| (p - t).abs())))
}

/// Root mean squared error, per output then averaged over outputs (scikit-learn's
/// `root_mean_squared_error`); `√mse` for a single output.
///
/// # Shapes
/// As [`mse`]; outputs are the last axis when the shape has at least 2 axes.
///
/// # Errors
/// As [`mse`].
///
/// # Example
/// ```
/// use ndarray::array;
/// let p = array![0.0_f64, 0.0];
/// let t = array![3.0, 4.0];
/// // √((9 + 16) / 2)
/// assert_eq!(recurrent::metrics::rmse(&p, &t)?, 12.5_f64.sqrt());
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn rmse<'a, 'b, F, D1, D2>(pred: impl AsArray<'a, F, D1>, target: impl AsArray<'b, F, D2>) -> Result<F>
where
    F: Float,
    D1: Dimension,
    D2: Dimension,
{
    let (p, t) = views(pred, target);
    let pair = regression_pair("rmse", &p, &t)?;
    let rows = pair.rows() as f64;
    let sum: f64 = (0..pair.outputs).map(|j| (pair.column_sum(j, |p, t| (p - t) * (p - t)) / rows).sqrt()).sum();
    Ok(F::of(sum / pair.outputs as f64))
}

/// The coefficient of determination R², per output then averaged over outputs
/// (scikit-learn's `r2_score` with its defaults).
///
/// ```text
/// R² = 1 − Σ (t − p)² / Σ (t − t̄)²        1 for an exact fit, 0 for predicting the mean, < 0 worse
/// ```
///
/// An output with a constant target scores 1 if predicted exactly, else 0 (scikit-learn's
/// `force_finite=True`); see the [module docs](self#regression).
///
/// # Errors
/// As [`mse`], and [`Error::InvalidConfig`] for fewer than 2 rows (R² is undefined).
///
/// # Example
/// ```
/// use ndarray::array;
/// let t = array![1.0_f64, 2.0, 3.0];
/// let p = array![1.0, 2.0, 4.0];
/// // t̄ = 2, Σ (t − t̄)² = 2, Σ (t − p)² = 1 → 1 − 1/2
/// assert_eq!(recurrent::metrics::r2(&p, &t)?, 0.5);
/// // A constant target: exact → 1, otherwise → 0.
/// let t = array![5.0_f64, 5.0];
/// assert_eq!(recurrent::metrics::r2(&t, &t)?, 1.0);
/// assert_eq!(recurrent::metrics::r2(&array![5.0, 6.0], &t)?, 0.0);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn r2<'a, 'b, F, D1, D2>(pred: impl AsArray<'a, F, D1>, target: impl AsArray<'b, F, D2>) -> Result<F>
where
    F: Float,
    D1: Dimension,
    D2: Dimension,
{
    let (p, t) = views(pred, target);
    let pair = regression_pair("r2", &p, &t)?;
    let rows = pair.rows();
    if rows < 2 {
        return Err(Error::config("r2 input", "at least 2 samples (R² is undefined for one)", rows));
    }
    let k = pair.outputs;
    let mut sum = 0.0;
    for j in 0..k {
        let column = || pair.t.iter().skip(j).step_by(k).copied();
        let mean = column().sum::<f64>() / rows as f64;
        let ss_tot: f64 = column().map(|t| (t - mean) * (t - mean)).sum();
        let ss_res = pair.column_sum(j, |p, t| (t - p) * (t - p));
        let first = pair.t[j];
        let constant = column().all(|t| t == first);
        sum += if constant || ss_tot == 0.0 {
            if ss_res == 0.0 {
                1.0
            } else {
                0.0
            }
        } else {
            1.0 - ss_res / ss_tot
        };
    }
    Ok(F::of(sum / k as f64))
}

// ---------------------------------------------------------------------------------------
// Metric
// ---------------------------------------------------------------------------------------

/// A metric a training loop can report each epoch: one value from a prediction and a target.
///
/// Classification metrics read the prediction as the [module docs](self#how-predictions-become-labels)
/// say: [`Metric::Accuracy`], `Precision`, `Recall` and `F1` automatically (argmax for
/// `(…, C ≥ 2)`, else threshold 0.5), the other two accuracies as their names say. For
/// sequences `(B, T, C)` every position is a sample.
///
/// # Example
/// ```
/// use ndarray::array;
/// use recurrent::metrics::{Average, Metric, ZeroDivision};
/// let metrics = [
///     Metric::Accuracy,
///     Metric::F1 { average: Average::Macro, zero_division: ZeroDivision::Zero },
///     Metric::Mse,
/// ];
/// let p = array![[0.9_f64], [0.2], [0.6]].into_dyn();
/// let t = array![[1.0], [0.0], [0.0]].into_dyn();
/// let report: Vec<String> = metrics
///     .iter()
///     .map(|m| Ok(format!("{}={:.3}", m.name(), m.compute(p.view(), t.view())?)))
///     .collect::<recurrent::Result<_>>()?;
/// assert_eq!(report, ["accuracy=0.667", "f1_macro=0.667", "mse=0.137"]);
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Metric {
    /// [`accuracy`]: categorical for `(…, C ≥ 2)` predictions, else binary at 0.5.
    Accuracy,
    /// [`binary_accuracy`] at `threshold` (`p > threshold` is class 1).
    BinaryAccuracy {
        /// The decision threshold, usually 0.5 (0 for logits).
        threshold: f64,
    },
    /// [`categorical_accuracy`]: argmax against one-hot or class-index targets.
    CategoricalAccuracy,
    /// [`precision`].
    Precision {
        /// How classes are combined.
        average: Average,
        /// The value of 0/0.
        zero_division: ZeroDivision,
    },
    /// [`recall`].
    Recall {
        /// How classes are combined.
        average: Average,
        /// The value of 0/0.
        zero_division: ZeroDivision,
    },
    /// [`f1`].
    F1 {
        /// How classes are combined.
        average: Average,
        /// The value of 0/0.
        zero_division: ZeroDivision,
    },
    /// [`mse`].
    Mse,
    /// [`mae`].
    Mae,
    /// [`rmse`].
    Rmse,
    /// [`r2`].
    R2,
}

impl Metric {
    /// The metric's short name, as scikit-learn's scorers and Keras's logs spell it:
    /// `"accuracy"`, `"binary_accuracy"`, `"categorical_accuracy"`, `"precision"`
    /// (binary), `"precision_macro"`, `"precision_micro"`, `"precision_weighted"` (the same
    /// for `"recall…"` and `"f1…"`), `"mse"`, `"mae"`, `"rmse"`, `"r2"`.
    pub fn name(&self) -> &'static str {
        use Average::*;
        match *self {
            Metric::Accuracy => "accuracy",
            Metric::BinaryAccuracy { .. } => "binary_accuracy",
            Metric::CategoricalAccuracy => "categorical_accuracy",
            Metric::Precision { average, .. } => match average {
                Binary => "precision",
                Macro => "precision_macro",
                Micro => "precision_micro",
                Weighted => "precision_weighted",
            },
            Metric::Recall { average, .. } => match average {
                Binary => "recall",
                Macro => "recall_macro",
                Micro => "recall_micro",
                Weighted => "recall_weighted",
            },
            Metric::F1 { average, .. } => match average {
                Binary => "f1",
                Macro => "f1_macro",
                Micro => "f1_micro",
                Weighted => "f1_weighted",
            },
            Metric::Mse => "mse",
            Metric::Mae => "mae",
            Metric::Rmse => "rmse",
            Metric::R2 => "r2",
        }
    }

    /// `true` when a larger value is better (accuracies, precision, recall, F1, R²),
    /// `false` for the errors (MSE, MAE, RMSE): what early stopping or "best epoch" needs.
    pub fn greater_is_better(&self) -> bool {
        !matches!(self, Metric::Mse | Metric::Mae | Metric::Rmse)
    }

    /// Computes the metric.
    ///
    /// # Shapes
    /// As the function the variant names: [`accuracy`], [`binary_accuracy`], ... For
    /// sequence outputs `(B, T, C)` every position is a sample.
    ///
    /// # Errors
    /// As that function: [`Error::ShapeMismatch`], [`Error::Empty`], [`Error::NonFinite`],
    /// [`Error::OutOfRange`] for labels that are not 0/1, not one-hot or out of range,
    /// [`Error::InvalidConfig`] for a non-finite threshold, [`Average::Binary`] with other
    /// than two classes, or R² of one sample.
    pub fn compute<F: Float>(&self, pred: ArrayViewD<'_, F>, target: ArrayViewD<'_, F>) -> Result<F> {
        match *self {
            Metric::Accuracy => accuracy(pred, target),
            Metric::BinaryAccuracy { threshold } => binary_accuracy(pred, target, F::of(threshold)),
            Metric::CategoricalAccuracy => categorical_accuracy(pred, target),
            Metric::Precision { average, zero_division } => precision(pred, target, average, zero_division),
            Metric::Recall { average, zero_division } => recall(pred, target, average, zero_division),
            Metric::F1 { average, zero_division } => f1(pred, target, average, zero_division),
            Metric::Mse => mse(pred, target),
            Metric::Mae => mae(pred, target),
            Metric::Rmse => rmse(pred, target),
            Metric::R2 => r2(pred, target),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
