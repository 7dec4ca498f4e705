//! [`Model`]: what [`crate::model::ModelExt::fit`], evaluation, batched prediction, callbacks
//! and gradient checks need from a model, so that they work for [`crate::Sequential`], for
//! [`crate::EncoderDecoder`] and for compositions written outside the crate.

use std::any::Any;

use ndarray::{Array2, ArrayD, ArrayViewD, Axis, IxDyn};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::{Mode, Params};
use crate::limits::{elements, try_with_capacity, try_zeros};
use crate::loss::{Loss, LossOutput};
use crate::shape::fmt_shape;

/// What one forward pass of [`Model::forward_with_targets`] gives training and evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOutput<F> {
    /// The predictions, `(B, …)`, in the form the loss compares with the targets `y`.
    pub pred: ArrayD<F>,
    /// For a sequence output `(B, T, …)`, which positions are real (`true`) and which are
    /// padding: the loss and the metrics leave padding out, and a batch weighs in an epoch's
    /// loss by its number of real positions. `None`: every sample counts, once.
    pub mask: Option<Array2<bool>>,
}

/// A trainable model: anything [`crate::model::ModelExt::fit`] can train, evaluate and
/// predict with, that callbacks see ([`crate::Callback`]) and
/// [`crate::gradcheck::GradCheck::check_model`] checks. [`crate::Sequential`] and
/// [`crate::EncoderDecoder`] implement it; so can a composition of your own (two models
/// averaged, a model with a second input, ...).
///
/// The parameters are the [`Params`] visitor's, in a fixed order: it is what optimisers, the
/// divergence guard and [`crate::EarlyStopping`]'s best-weight restore go through.
///
/// What `fit` does with a model, for each batch: [`Model::forward_with_targets`] in
/// [`Mode::Train`], the loss (over the real positions of [`ModelOutput::mask`]),
/// [`Params::zero_grad`], [`Model::backward`] with dL/dprediction, one optimiser step. Before
/// the first step it runs [`Model::check_input`] and [`Model::check_targets`] on every data
/// set and [`Model::forward_stateless`] on the first batch of each, so that a mistake in the
/// data fails before training changes anything.
///
/// # Example: two models averaged
/// ```
/// use ndarray::{ArrayD, ArrayViewD};
/// use recurrent::model::{Model, ModelExt, ModelOutput};
/// use recurrent::prelude::*;
/// use recurrent::{ParamMut, ParamRef};
///
/// struct Average { a: Sequential<f64>, b: Sequential<f64> }
///
/// impl Params<f64> for Average {
///     fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, f64>)) {
///         self.a.visit_params(f);
///         self.b.visit_params(f);
///     }
///     fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, f64>)) {
///         self.a.visit_params_mut(f);
///         self.b.visit_params_mut(f);
///     }
///     // Passed on like the parameters, so a layer frozen inside a part stays frozen.
///     fn visit_trainable(&self, f: &mut dyn FnMut(bool)) {
///         self.a.visit_trainable(f);
///         self.b.visit_trainable(f);
///     }
/// }
///
/// impl Model<f64> for Average {
///     fn name(&self) -> &str { "average" }
///     fn check_input(&self, x: ArrayViewD<'_, f64>) -> recurrent::Result<()> {
///         Model::check_input(&self.a, x.view())?;
///         Model::check_input(&self.b, x)
///     }
///     fn check_targets(&self, x: ArrayViewD<'_, f64>, y: ArrayViewD<'_, f64>) -> recurrent::Result<Vec<usize>> {
///         self.a.check_targets(x, y)
///     }
///     fn forward_with_targets(&mut self, x: ArrayViewD<'_, f64>, _y: ArrayViewD<'_, f64>, mode: Mode)
///         -> recurrent::Result<ModelOutput<f64>> {
///         let pred = (self.a.forward(&x, mode)? + self.b.forward(&x, mode)?) * 0.5;
///         Ok(ModelOutput { pred, mask: None })
///     }
///     fn backward(&mut self, grad: ArrayViewD<'_, f64>) -> recurrent::Result<Option<ArrayD<f64>>> {
///         let half = &grad * 0.5;
///         Ok(Some(self.a.backward(&half)? + self.b.backward(&half)?))
///     }
///     fn predict(&mut self, x: ArrayViewD<'_, f64>) -> recurrent::Result<ArrayD<f64>> {
///         Ok((self.a.predict(&x)? + self.b.predict(&x)?) * 0.5)
///     }
/// }
///
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut part = || -> recurrent::Result<Sequential<f64>> {
///     let mut m = Sequential::new(&[4, 1])?;
///     m.add(SimpleRnnConfig::new(1, 4).init(&mut rng)?)?;
///     m.add(DenseConfig::new(4, 1).init(&mut rng)?)?;
///     Ok(m)
/// };
/// let mut model = Average { a: part()?, b: part()? };
/// let x = ndarray::Array3::from_shape_fn((16, 4, 1), |(b, t, _)| ((b + t) as f64 * 0.3).sin());
/// let y = x.index_axis(ndarray::Axis(1), 3).to_owned();
/// let history = model.fit(&x, &y, &Mse, &mut Adam::new(0.01), FitConfig::new(5, 4).quiet())?;
/// assert_eq!(history.epochs.len(), 5);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub trait Model<F: Float>: Params<F> + Any {
    /// The model's name, used in messages (`"sequential"`).
    fn name(&self) -> &str;

    /// Checks a batch of inputs `x` `(B, …)` as a forward pass would before computing
    /// anything (shapes through every part, values the model can take such as token ids in
    /// range), without running the model. `fit` runs it on the whole training and
    /// validation inputs before the first step.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::Empty`], [`Error::OutOfRange`] (...) naming what
    /// the input should have been.
    fn check_input(&self, x: ArrayViewD<'_, F>) -> Result<()>;

    /// Checks targets `y` for inputs `x` (which [`Model::check_input`] accepted) as far as the
    /// model is concerned, and returns the per-sample shape (batch axis left out) of the
    /// predictions [`Model::forward_with_targets`] gives for them: `fit` checks the loss and
    /// the metrics against every target with it. A model that does not read the targets
    /// returns its output shape for `x` (the loss then checks `y`).
    ///
    /// # Errors
    /// As [`Model::check_input`], for targets the model cannot take (a decoder's token ids
    /// out of range, ...).
    fn check_targets(&self, x: ArrayViewD<'_, F>, y: ArrayViewD<'_, F>) -> Result<Vec<usize>>;

    /// The forward pass that training and evaluation compare with the targets: predictions
    /// `(B, …)` comparable with `y`, and the mask of the real positions. A model may read
    /// `y` (an encoder–decoder feeds the targets shifted right to its decoder: teacher
    /// forcing); most ignore it. In [`Mode::Train`] it keeps what [`Model::backward`] needs.
    ///
    /// # Errors
    /// Any error of the model's parts at this input; the parameters are unchanged.
    fn forward_with_targets(
        &mut self,
        x: ArrayViewD<'_, F>,
        y: ArrayViewD<'_, F>,
        mode: Mode,
    ) -> Result<ModelOutput<F>>;

    /// Backpropagates dL/dprediction (shaped as [`ModelOutput::pred`]) of the last
    /// [`Mode::Train`] forward pass, *adding* to every parameter's gradient. Returns dL/dx
    /// when the input is differentiable (features), `None` when it is not (token ids).
    ///
    /// # Errors
    /// [`Error::NoForwardCache`] without a training forward pass; [`Error::ShapeMismatch`]
    /// for a gradient not shaped as the predictions.
    fn backward(&mut self, grad: ArrayViewD<'_, F>) -> Result<Option<ArrayD<F>>>;

    /// Inference from `x` alone, keeping nothing for backward (an encoder–decoder decodes
    /// step by step here, where [`Model::forward_with_targets`] is given the answer).
    ///
    /// # Errors
    /// As [`Model::forward_with_targets`].
    fn predict(&mut self, x: ArrayViewD<'_, F>) -> Result<ArrayD<F>>;

    /// Restarts the random sources of every part (dropout masks) from `seed`; `fit` calls it
    /// at the start of every epoch with a seed mixed from its configuration's seed and the
    /// epoch number, so a run (and a run resumed from a checkpoint) is reproducible bit for bit. The default does
    /// nothing (no randomness).
    fn reseed(&mut self, seed: u64) {
        let _ = seed;
    }

    /// Each parameter's name in messages, in visiting order (a [`crate::Sequential`] gives
    /// `layer/parameter`). The default is the names the visitor gives.
    fn param_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.visit_params(&mut |p| out.push(p.name.to_string()));
        out
    }

    /// Whether each forward pass starts from the state the previous one ended in
    /// ([`crate::Sequential::set_stateful`]); `fit` then refuses shuffling and batches of
    /// different sizes. Default `false`.
    fn is_stateful(&self) -> bool {
        false
    }

    /// The batch size of the state a stateful model carries, if it carries one. Default `None`.
    fn carried_batch(&self) -> Option<usize> {
        None
    }

    /// Forgets any carried state. The default does nothing.
    fn reset_states(&mut self) {}

    /// [`Model::forward_with_targets`] in [`Mode::Infer`] as if nothing were carried: from
    /// zero states, leaving any carried state as it was. `fit`'s checks run the first batch
    /// of each data set through it. The default is `forward_with_targets` in
    /// [`Mode::Infer`], right for a model without carried state.
    ///
    /// # Errors
    /// As [`Model::forward_with_targets`].
    fn forward_stateless(&mut self, x: ArrayViewD<'_, F>, y: ArrayViewD<'_, F>) -> Result<ModelOutput<F>> {
        self.forward_with_targets(x, y, Mode::Infer)
    }
}

impl<F: Float> dyn Model<F> {
    /// The model as its concrete type, if it is one (for a callback that needs the
    /// [`crate::Sequential`] it was given as `&mut dyn Model`).
    pub fn downcast_ref<M: Model<F>>(&self) -> Option<&M> {
        (self as &dyn Any).downcast_ref::<M>()
    }

    /// The model as its concrete type, mutably, if it is one.
    pub fn downcast_mut<M: Model<F>>(&mut self) -> Option<&mut M> {
        (self as &mut dyn Any).downcast_mut::<M>()
    }
}

/// The loss of `pred` against `y`, leaving out positions `mask` marks as padding: with a mask
/// `(B, T)` on a sequence output `(B, T, …)`, the real positions are gathered into `(N, …)`
/// (and likewise `y`), the loss is computed on those, and its gradient is put back with zeros
/// at the padded positions. So mean losses average over real positions only (Keras's and
/// PyTorch's rule), and a batch's loss weighs as many positions as it has real ones.
pub(crate) fn masked_loss<F: Float>(
    name: &str,
    loss: &dyn Loss<F>,
    mask: Option<&Array2<bool>>,
    pred: &ArrayViewD<'_, F>,
    y: &ArrayViewD<'_, F>,
) -> Result<LossOutput<F>> {
    let Some(mask) = mask else {
        return loss.compute(pred, y);
    };
    check_masked(name, mask, pred, y)?;
    let keep = kept_positions(name, mask)?;
    let (p, t) = (gather(pred, &keep)?, gather(y, &keep)?);
    let out = loss.compute(&p.view(), &t.view())?;
    let mut grad = try_zeros(pred.raw_dim(), format_args!("{name} masked loss gradient"))?;
    for (k, &(i, j)) in keep.iter().enumerate() {
        grad.index_axis_mut(Axis(0), i).index_axis_mut(Axis(0), j).assign(&out.grad.index_axis(Axis(0), k));
    }
    Ok(LossOutput { value: out.value, grad })
}

/// The predictions and targets a loss counts: all of them, or under a mask the real
/// positions gathered into `(N, …)`.
pub(crate) fn masked_positions<F: Float>(
    name: &str,
    mask: Option<&Array2<bool>>,
    pred: &ArrayViewD<'_, F>,
    y: &ArrayViewD<'_, F>,
) -> Result<(ArrayD<F>, ArrayD<F>)> {
    match mask {
        None => Ok((pred.to_owned(), y.to_owned())),
        Some(mask) => {
            check_masked(name, mask, pred, y)?;
            let keep = kept_positions(name, mask)?;
            Ok((gather(pred, &keep)?, gather(y, &keep)?))
        }
    }
}

/// The weight of a batch in an epoch's loss: its real positions under a mask, else its samples.
pub(crate) fn positions(mask: Option<&Array2<bool>>, samples: usize) -> f64 {
    mask.map_or(samples, |m| m.iter().filter(|&&v| v).count()) as f64
}

fn check_masked<F: Float>(
    name: &str,
    mask: &Array2<bool>,
    pred: &ArrayViewD<'_, F>,
    y: &ArrayViewD<'_, F>,
) -> Result<()> {
    if y.ndim() < 2 || y.shape()[..2] != *mask.shape() {
        return Err(Error::shape(
            format!("{name} targets y of a masked sequence output"),
            format!("(B, T, …) with (B, T) = {}", fmt_shape(mask.shape())),
            fmt_shape(y.shape()),
        ));
    }
    if pred.ndim() < 2 || pred.shape()[..2] != *mask.shape() {
        return Err(Error::shape(
            format!("{name} predictions under a mask"),
            format!("(B, T, …) with (B, T) = {}", fmt_shape(mask.shape())),
            fmt_shape(pred.shape()),
        ));
    }
    Ok(())
}

fn kept_positions(name: &str, mask: &Array2<bool>) -> Result<Vec<(usize, usize)>> {
    let keep: Vec<(usize, usize)> = mask.indexed_iter().filter(|(_, &m)| m).map(|(ij, _)| ij).collect();
    if keep.is_empty() {
        return Err(Error::Empty {
            what: format!("{name} loss over a masked batch"),
            axis: "number of unmasked positions".into(),
            shape: fmt_shape(mask.shape()),
        });
    }
    Ok(keep)
}

/// The rows `a[i, j, …]` for each `(i, j)` of `keep`, stacked into `(N, …)`.
fn gather<F: Float>(a: &ArrayViewD<'_, F>, keep: &[(usize, usize)]) -> Result<ArrayD<F>> {
    let mut shape = vec![keep.len()];
    shape.extend_from_slice(a.shape().get(2..).unwrap_or_default());
    let mut data = try_with_capacity(elements("masked gather", &shape)?, "masked gather")?;
    for &(i, j) in keep {
        data.extend(a.index_axis(Axis(0), i).index_axis(Axis(0), j).iter().copied());
    }
    ArrayD::from_shape_vec(IxDyn(&shape), data)
        .map_err(|e| Error::shape("masked gather", fmt_shape(&shape), e.to_string()))
}
