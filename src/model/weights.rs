//! Sample and class weights for `fit`, as Keras defines them: `class_weight` turned into a
//! weight per sample (or per position) from the targets, both checked before the first step,
//! and the loss of a batch with its weights under the model's mask.

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayD, ArrayViewD, Axis, IxDyn};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::limits::{try_with_capacity, try_zeros};
use crate::loss::{Loss, LossOutput};
use crate::model::traits::{masked_loss, masked_positions};
use crate::shape::{check_finite, fmt_index, fmt_shape};

/// The weight of every training sample `(N,)` or position `(N, T)` that `fit` multiplies the
/// loss with, from `sample_weight` or from `class_weight` and the targets `y` (`None`: no
/// weights). `n` is the number of samples of `x` (`sample_weight` covers them all, a
/// validation split included), `pred_shape` the per-sample shape of the predictions.
///
/// # Errors
/// [`Error::InvalidConfig`] if both are given (Keras refuses that too);
/// [`Error::ShapeMismatch`] for sample weights not shaped `(N,)` or `(N, T)`, or targets
/// from which no class can be read; [`Error::NonFinite`] or [`Error::OutOfRange`] for a
/// weight that is NaN, infinite or negative, or a class index that the predictions do not
/// have.
pub(crate) fn fit_weights<F: Float>(
    sample_weight: Option<&ArrayD<F>>,
    class_weight: Option<&BTreeMap<usize, F>>,
    n: usize,
    y: &ArrayViewD<'_, F>,
    pred_shape: &[usize],
) -> Result<Option<ArrayD<F>>> {
    match (sample_weight, class_weight) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(Error::config(
            "fit sample_weight and class_weight",
            "one of them (fold the class weights into the sample weights to use both)",
            "both",
        )),
        (Some(w), None) => {
            check_sample_weight(w, n, pred_shape)?;
            Ok(Some(w.clone()))
        }
        (None, Some(cw)) => class_weights(cw, y, pred_shape).map(Some),
    }
}

fn check_sample_weight<F: Float>(w: &ArrayD<F>, n: usize, pred_shape: &[usize]) -> Result<()> {
    let per_position = pred_shape.len() >= 2;
    let fits = match w.shape() {
        [m] => *m == n,
        [m, t] => per_position && *m == n && *t == pred_shape[0],
        _ => false,
    };
    if !fits {
        let mut expected = format!("({n},): one weight per sample of x");
        if per_position {
            expected.push_str(&format!(", or ({n}, {}): one per position", pred_shape[0]));
        }
        return Err(Error::shape("fit sample_weight", expected, fmt_shape(w.shape())));
    }
    check_non_negative("fit sample_weight", w.view())
}

fn check_non_negative<F: Float>(what: &str, w: ArrayViewD<'_, F>) -> Result<()> {
    check_finite(what, &w)?;
    if let Some((i, v)) = w.iter().enumerate().find(|(_, v)| **v < F::zero()) {
        return Err(Error::OutOfRange {
            what: what.to_string(),
            expected: "weights ≥ 0".into(),
            got: v.to_string(),
            index: fmt_index(w.shape(), i),
        });
    }
    Ok(())
}

/// Keras's `class_weight_to_sample_weights`, per position for sequence outputs: the class of
/// each sample (or position) is read from `y` — the argmax of one-hot or probability targets,
/// the rounded label of class-index targets, or 0/1 for binary targets of one unit — and its
/// weight looked up, 1 for a class the map leaves out.
fn class_weights<F: Float>(cw: &BTreeMap<usize, F>, y: &ArrayViewD<'_, F>, pred_shape: &[usize]) -> Result<ArrayD<F>> {
    let Some((&k, lead)) = pred_shape.split_last() else {
        return Err(Error::shape("fit class_weight: the model's predictions", "(…, classes) per sample", "()"));
    };
    let classes = if k == 1 { 2 } else { k };
    for (&c, &w) in cw {
        if c >= classes {
            return Err(Error::OutOfRange {
                what: "fit class_weight class index".into(),
                expected: format!("a class in [0, {classes}) (the predictions have {k} units per position)"),
                got: c.to_string(),
                index: format!("key {c}"),
            });
        }
        if !w.is_finite() || w < F::zero() {
            return Err(Error::OutOfRange {
                what: format!("fit class_weight of class {c}"),
                expected: "a finite weight ≥ 0".into(),
                got: w.to_string(),
                index: format!("key {c}"),
            });
        }
    }
    let n = y.shape().first().copied().unwrap_or(0);
    let per = y.shape().get(1..).unwrap_or_default();
    let mut out_shape = vec![n];
    out_shape.extend_from_slice(lead);
    let mut with_one = lead.to_vec();
    with_one.push(1);
    let rows: usize = out_shape.iter().product();
    let (width, argmax) = if per == pred_shape && k > 1 {
        (k, true)
    } else if per == pred_shape || per == lead || per == with_one.as_slice() {
        (1, false)
    } else {
        return Err(Error::shape(
            "fit targets y for class_weight",
            format!(
                "one-hot or probability targets {} or class labels {} per sample",
                fmt_shape(pred_shape),
                fmt_shape(lead)
            ),
            format!("{} per sample", fmt_shape(per)),
        ));
    };
    let flat: Vec<F> = y.iter().copied().collect();
    let mut weights = try_with_capacity(rows, "fit class weights per sample")?;
    for row in flat.chunks_exact(width).take(rows) {
        let class = if argmax {
            // The first of equal maxima, as NumPy's argmax.
            row.iter().enumerate().fold((0, row[0]), |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) }).0
        } else {
            let v = row[0].to_f64_exact().round();
            if !(v >= 0.0 && v < classes as f64) {
                // Not a class: a padded position's filler (-1, PyTorch's -100), which the
                // mask leaves out of the loss. Without a mask the loss's own target check
                // (run before this) has refused such a label already. Weight 1, as a class
                // absent from the map.
                weights.push(F::one());
                continue;
            }
            v as usize
        };
        weights.push(cw.get(&class).copied().unwrap_or_else(F::one));
    }
    ArrayD::from_shape_vec(IxDyn(&out_shape), weights)
        .map_err(|e| Error::shape("fit class weights", fmt_shape(&out_shape), e.to_string()))
}

/// The loss of a batch with its weights `(B,)` or `(B, T)` (see [`Loss::compute_weighted`]):
/// under a mask, the real positions are gathered as [`masked_loss`] gathers them, each with
/// its sample's (or its own) weight, so the sum is divided by the number of real positions
/// (Keras's mask weighting). Without weights this is [`masked_loss`].
pub(crate) fn weighted_loss<F: Float>(
    name: &str,
    loss: &dyn Loss<F>,
    mask: Option<&Array2<bool>>,
    pred: &ArrayViewD<'_, F>,
    y: &ArrayViewD<'_, F>,
    weights: Option<&ArrayViewD<'_, F>>,
) -> Result<LossOutput<F>> {
    let Some(w) = weights else {
        return masked_loss(name, loss, mask, pred, y);
    };
    let Some(mask) = mask else {
        return loss.compute_weighted(pred, y, w);
    };
    let (b, t) = mask.dim();
    let per_position = match w.shape() {
        [wb] if *wb == b => false,
        [wb, wt] if *wb == b && *wt == t => true,
        _ => {
            return Err(Error::shape(
                format!("{name} sample weights of a masked batch"),
                format!("({b},) or ({b}, {t})"),
                fmt_shape(w.shape()),
            ))
        }
    };
    let (p, tg) = masked_positions(name, Some(mask), pred, y)?;
    let keep: Vec<(usize, usize)> = mask.indexed_iter().filter(|(_, &m)| m).map(|(ij, _)| ij).collect();
    let mut wn = try_with_capacity(keep.len(), "masked sample weights")?;
    for &(i, j) in &keep {
        let v = if per_position { w.get(IxDyn(&[i, j])) } else { w.get(IxDyn(&[i])) };
        wn.push(v.copied().unwrap_or_else(F::zero));
    }
    let wn = ArrayD::from_shape_vec(IxDyn(&[keep.len()]), wn)
        .map_err(|e| Error::shape("masked sample weights", keep.len().to_string(), e.to_string()))?;
    let out = loss.compute_weighted(&p.view(), &tg.view(), &wn.view())?;
    let mut grad = try_zeros(pred.raw_dim(), format_args!("{name} masked loss gradient"))?;
    for (k, &(i, j)) in keep.iter().enumerate() {
        grad.index_axis_mut(Axis(0), i).index_axis_mut(Axis(0), j).assign(&out.grad.index_axis(Axis(0), k));
    }
    Ok(LossOutput { value: out.value, grad })
}
