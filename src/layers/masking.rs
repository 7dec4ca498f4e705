//! Keras's `Masking` layer: marks padded time steps so the layers after it skip them.
//!
//! ```text
//! mask[b, t] = any_f ( x[b, t, f] ≠ mask_value )
//! y[b, t, :] = x[b, t, :] if mask[b, t] else 0
//! ```

use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD, Axis, Ix3};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::layer::{Layer, Mode, ParamMut, ParamRef, Params};
use crate::shape::{check_finite, check_nonempty, check_same, fmt_shape};

/// Marks every time step whose features all equal `mask_value` as padding (Keras's
/// `Masking`). Put it first in a [`crate::Sequential`] fed with padded sequences (see
/// [`crate::data::pad_sequences`]): the recurrent layers after it then skip the padded steps,
/// and training losses leave padded positions of a sequence output out.
///
/// It has no parameters. Its output is its input with padded steps set to zero, and the
/// mask it makes is combined (logical and) with any mask passed in.
///
/// The padding value must be finite: inputs are finite, so NaN (which equals nothing, not
/// even itself) or an infinity would silently mask nothing. Such a value is refused with
/// [`Error::InvalidConfig`] when the layer is added to a model ([`Layer::output_shape`]) or
/// run.
///
/// # Shapes
/// `(B, T, F)` → `(B, T, F)`, mask `(B, T)`.
///
/// # Example
/// ```
/// use ndarray::array;
/// use recurrent::prelude::*;
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut model = Sequential::<f64>::new(&[3, 1])?;
/// model.add(Masking::new(0.0))?;
/// model.add(SimpleRnnConfig::new(1, 2).init(&mut rng)?)?;
/// // The second sample is one step long, padded in front ("pre" padding).
/// let x = array![[[0.5], [0.1], [0.3]], [[0.0], [0.0], [0.3]]];
/// let y = model.predict(&x)?;
/// let alone = model.predict(&array![[[0.3]]])?; // the second sample's real step only
/// assert!((y[[1, 0]] - alone[[0, 0]]).abs() < 1e-15);
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Masking<F: Float> {
    name: String,
    mask_value: F,
    /// The training pass's mask and feature count.
    cache: Option<(Array2<bool>, usize)>,
    /// Kept for `Layer::trainable` and the model file (the layer has no parameters).
    trainable: bool,
}

impl<F: Float> Masking<F> {
    /// A masking layer treating steps whose features all equal `mask_value` as padding.
    ///
    /// `mask_value` must be finite; a NaN or an infinity is refused when the layer is added
    /// to a [`crate::Sequential`] or run (see the type's docs).
    pub fn new(mask_value: F) -> Self {
        Masking { name: "masking".to_string(), mask_value, cache: None, trainable: true }
    }

    /// The padding value.
    pub fn mask_value(&self) -> F {
        self.mask_value
    }

    /// Errs unless the padding value is finite.
    fn check_value(&self) -> Result<()> {
        if self.mask_value.is_finite() {
            Ok(())
        } else {
            Err(Error::config(
                format!("{} mask_value", self.name),
                "a finite number (inputs are finite, so NaN or an infinity would mask nothing)",
                self.mask_value,
            ))
        }
    }

    fn as3<'a>(&self, input: ArrayViewD<'a, F>) -> Result<ndarray::ArrayView3<'a, F>> {
        let shape = input.shape().to_vec();
        input.into_dimensionality::<Ix3>().map_err(|_| {
            Error::shape(
                format!("{} input", self.name),
                "(B, T, features): rank 3",
                format!("{} (rank {})", fmt_shape(&shape), shape.len()),
            )
        })
    }

    /// The mask this layer makes for `x` `(B, T, F)`, combined with `incoming` if given.
    fn make_mask(
        &self,
        x: &ndarray::ArrayView3<'_, F>,
        incoming: Option<&ArrayView2<'_, bool>>,
    ) -> Result<Array2<bool>> {
        let (b, t, _) = x.dim();
        if let Some(m) = incoming {
            check_same(format_args!("{} mask (B, T)", self.name), &[b, t], m.shape())?;
        }
        let mv = self.mask_value;
        Ok(Array2::from_shape_fn((b, t), |(i, j)| {
            x.slice(ndarray::s![i, j, ..]).iter().any(|&v| v != mv) && incoming.is_none_or(|m| m[[i, j]])
        }))
    }
}

impl<F: Float> Params<F> for Masking<F> {
    fn visit_params(&self, _f: &mut dyn FnMut(ParamRef<'_, F>)) {}
    fn visit_params_mut(&mut self, _f: &mut dyn FnMut(ParamMut<'_, F>)) {}
}

impl<F: Float> Layer<F> for Masking<F> {
    fn kind(&self) -> &'static str {
        "Masking"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: String) {
        self.name = name;
    }

    fn input_spec(&self) -> Vec<Option<usize>> {
        vec![None, None]
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.check_value()?;
        match input_shape {
            [_, _] => Ok(input_shape.to_vec()),
            _ => Err(Error::shape(format!("{} input", self.name), "(T, features) per sample", fmt_shape(input_shape))),
        }
    }

    fn forward(&mut self, input: ArrayViewD<'_, F>, mode: Mode) -> Result<ArrayD<F>> {
        self.forward_masked(input, None, mode)
    }

    fn forward_masked(
        &mut self,
        input: ArrayViewD<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
        mode: Mode,
    ) -> Result<ArrayD<F>> {
        self.check_value()?;
        let x = self.as3(input)?;
        check_nonempty(format_args!("{} input", self.name), x.shape(), &["batch size", "time steps", "features"])?;
        check_finite(format_args!("{} input", self.name), &x)?;
        let m = self.make_mask(&x, mask.as_ref())?;
        let mut y = x.to_owned();
        for ((i, j), _) in m.indexed_iter().filter(|(_, &keep)| !keep) {
            y.slice_mut(ndarray::s![i, j, ..]).fill(F::zero());
        }
        let features = x.dim().2;
        self.cache = (mode == Mode::Train).then_some((m, features));
        Ok(y.into_dyn())
    }

    fn output_mask(
        &self,
        input: ArrayViewD<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
    ) -> Result<Option<Array2<bool>>> {
        self.check_value()?;
        let x = self.as3(input)?;
        Ok(Some(self.make_mask(&x, mask.as_ref())?))
    }

    fn backward(&mut self, grad_output: ArrayViewD<'_, F>) -> Result<ArrayD<F>> {
        let (m, f) = self.cache.as_ref().ok_or_else(|| Error::NoForwardCache { layer: self.name.clone() })?;
        let g = self.as3(grad_output)?;
        let (b, t) = m.dim();
        if g.dim() != (b, t, *f) {
            return Err(Error::shape(
                format!("{} grad_output (must match the output)", self.name),
                format!("({b}, {t}, {f})"),
                fmt_shape(g.shape()),
            ));
        }
        check_finite(format_args!("{} grad_output", self.name), &g)?;
        let mut dx = g.to_owned();
        for (mut row, keep) in dx.axis_iter_mut(Axis(0)).zip(m.axis_iter(Axis(0))) {
            for (mut step, &k) in row.axis_iter_mut(Axis(0)).zip(keep.iter()) {
                if !k {
                    step.fill(F::zero());
                }
            }
        }
        Ok(dx.into_dyn())
    }

    fn clear_cache(&mut self) {
        self.cache = None;
    }

    fn has_cache(&self) -> bool {
        self.cache.is_some()
    }

    fn trainable(&self) -> bool {
        self.trainable
    }

    fn set_trainable(&mut self, trainable: bool) -> Result<()> {
        self.trainable = trainable;
        Ok(())
    }

    fn config_summary(&self) -> String {
        format!("mask_value={}", self.mask_value)
    }
}
