//! [`Params`], [`Layer`] and [`RecurrentLayer`] for [`Recurrent`]: the parameter visitor
//! over the cell's [`crate::layers::recurrent::ParamSpec`]s, and the object-safe faces of the
//! loop.

use ndarray::{Array2, Array3, ArrayD, ArrayView2, ArrayView3, ArrayViewD};
use ndarray_rand::rand::RngCore;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::layer::{visit_uniform, Layer, Mode, ParamMut, ParamRef, Params};
use crate::layers::recurrent::cell::Cell;
use crate::layers::recurrent::core::Recurrent;
use crate::layers::recurrent::dynamic::RecurrentLayer;
use crate::layers::recurrent::state::State;
use crate::layers::recurrent::trace::GradientTrace;
use crate::random::mix;
use crate::shape::fmt_shape;

impl<F: Float, C: Cell<F>> Params<F> for Recurrent<F, C> {
    fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, F>)) {
        for ((s, v), g) in self.specs.iter().zip(&self.params).zip(&self.grads) {
            f(ParamRef { name: &s.name, value: v.view(), grad: g.view() });
        }
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, F>)) {
        for ((s, v), g) in self.specs.iter().zip(self.params.iter_mut()).zip(self.grads.iter_mut()) {
            f(ParamMut { name: &s.name, value: v.view_mut(), grad: g.view_mut() });
        }
    }

    fn visit_trainable(&self, f: &mut dyn FnMut(bool)) {
        visit_uniform(self, self.trainable, f);
    }
}

impl<F: Float, C: Cell<F>> Layer<F> for Recurrent<F, C> {
    fn kind(&self) -> &'static str {
        self.cell.kind()
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: String) {
        self.name = name;
    }

    fn input_spec(&self) -> Vec<Option<usize>> {
        vec![None, Some(self.input_size)]
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        match input_shape {
            [t, i] if *i == self.input_size => {
                Ok(if self.return_sequences { vec![*t, self.units] } else { vec![self.units] })
            }
            _ => Err(Error::shape(
                format!("{} input", self.name),
                format!("(T, {}) per sample", self.input_size),
                fmt_shape(input_shape),
            )),
        }
    }

    fn forward(&mut self, input: ArrayViewD<'_, F>, mode: Mode) -> Result<ArrayD<F>> {
        Layer::forward_masked(self, input, None, mode)
    }

    fn forward_masked(
        &mut self,
        input: ArrayViewD<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
        mode: Mode,
    ) -> Result<ArrayD<F>> {
        Recurrent::forward_masked(self, input, mask, mode)
    }

    fn output_mask(
        &self,
        _input: ArrayViewD<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
    ) -> Result<Option<Array2<bool>>> {
        Ok(if self.return_sequences { mask.map(|m| m.to_owned()) } else { None })
    }

    fn backward(&mut self, grad_output: ArrayViewD<'_, F>) -> Result<ArrayD<F>> {
        Ok(self.backward_with_state(grad_output, None)?.into_dyn())
    }

    fn as_recurrent(&self) -> Option<&dyn RecurrentLayer<F>> {
        Some(self)
    }

    fn as_recurrent_mut(&mut self) -> Option<&mut dyn RecurrentLayer<F>> {
        Some(self)
    }

    fn clear_cache(&mut self) {
        self.ws.valid = false;
    }

    fn has_cache(&self) -> bool {
        self.ws.valid
    }

    fn trainable(&self) -> bool {
        self.trainable
    }

    fn set_trainable(&mut self, trainable: bool) -> Result<()> {
        self.trainable = trainable;
        Ok(())
    }

    fn reseed(&mut self, seed: u64) {
        self.set_seed(mix(seed, 0x7265_6375_7272_656e));
    }

    fn config_summary(&self) -> String {
        let extra = self.cell.config_summary();
        let sep = if extra.is_empty() { "" } else { ", " };
        let mut s = format!(
            "units={}{sep}{extra}, return_sequences={}, go_backwards={}",
            self.units, self.return_sequences, self.go_backwards
        );
        if self.dropout > 0.0 {
            s.push_str(&format!(", dropout={}", self.dropout));
        }
        if self.recurrent_dropout > 0.0 {
            s.push_str(&format!(", recurrent_dropout={}", self.recurrent_dropout));
        }
        s
    }
}

impl<F: Float, C: Cell<F>> RecurrentLayer<F> for Recurrent<F, C> {
    fn units(&self) -> usize {
        self.units
    }

    fn input_size(&self) -> usize {
        self.input_size
    }

    fn has_cell_state(&self) -> bool {
        self.state_width() > 0
    }

    fn return_sequences(&self) -> bool {
        self.return_sequences
    }

    fn set_return_sequences(&mut self, on: bool) {
        Recurrent::set_return_sequences(self, on)
    }

    fn go_backwards(&self) -> bool {
        self.go_backwards
    }

    fn set_go_backwards(&mut self, on: bool) {
        Recurrent::set_go_backwards(self, on)
    }

    fn forward_with_state(
        &mut self,
        x: ArrayView3<'_, F>,
        initial: Option<&State<F>>,
        mode: Mode,
    ) -> Result<ArrayD<F>> {
        Recurrent::forward_with_state(self, x, initial, mode)
    }

    fn forward_masked_with_state(
        &mut self,
        x: ArrayView3<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
        initial: Option<&State<F>>,
        mode: Mode,
    ) -> Result<ArrayD<F>> {
        Recurrent::forward_masked_with_state(self, x, mask, initial, mode)
    }

    fn backward_with_state(
        &mut self,
        grad_output: ArrayViewD<'_, F>,
        grad_final: Option<&State<F>>,
    ) -> Result<Array3<F>> {
        Recurrent::backward_with_state(self, grad_output, grad_final)
    }

    fn reserve_backward(&mut self) -> Result<()> {
        Recurrent::reserve_backward(self)
    }

    fn pass_count(&self) -> u64 {
        self.passes
    }

    fn validate_state(&self, state: &State<F>, batch: usize) -> Result<()> {
        self.check_state("initial state", state, batch)
    }

    fn initial_state(&self) -> Option<&State<F>> {
        self.initial_state.as_ref()
    }

    fn set_initial_state(&mut self, state: Option<State<F>>) {
        self.initial_state = state;
    }

    fn final_state(&self) -> Option<&State<F>> {
        self.final_state.as_ref()
    }

    fn initial_state_grad(&self) -> Option<&State<F>> {
        self.initial_state_grad.as_ref()
    }

    fn gradient_trace(&self) -> Option<&GradientTrace<F>> {
        self.trace.as_ref()
    }

    fn fresh_copy(&self, rng: &mut dyn RngCore) -> Result<Box<dyn RecurrentLayer<F>>> {
        Ok(Box::new(self.fresh(rng)?))
    }
}
