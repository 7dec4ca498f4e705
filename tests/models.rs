//! The `Model` trait from the user's side: a composition written outside the crate (two
//! `Sequential` models averaged) is trained with `fit`, seen by callbacks as `&mut dyn Model`,
//! restored by early stopping, guarded against divergence, checked by `GradCheck`, and used
//! as a `Box<dyn Model>`; a model's mask that does not fit its predictions is an error.

use std::sync::{Arc, Mutex};

use ndarray::{Array2, ArrayD, ArrayViewD};
use recurrent::gradcheck::GradCheck;
use recurrent::model::{Callback, Control, EpochLogs, Model, ModelExt, ModelOutput};
use recurrent::prelude::*;
use recurrent::{Error, ParamMut, ParamRef};

/// The mean of two models' predictions: a composition the crate does not know.
struct Average {
    a: Sequential<f64>,
    b: Sequential<f64>,
    /// A mask to report, for the test of masks that do not fit.
    bad_mask: bool,
}

impl Params<f64> for Average {
    fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, f64>)) {
        self.a.visit_params(f);
        self.b.visit_params(f);
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, f64>)) {
        self.a.visit_params_mut(f);
        self.b.visit_params_mut(f);
    }
}

impl Model<f64> for Average {
    fn name(&self) -> &str {
        "average"
    }

    fn check_input(&self, x: ArrayViewD<'_, f64>) -> recurrent::Result<()> {
        Model::check_input(&self.a, x.view())?;
        Model::check_input(&self.b, x)
    }

    fn check_targets(&self, x: ArrayViewD<'_, f64>, y: ArrayViewD<'_, f64>) -> recurrent::Result<Vec<usize>> {
        self.a.check_targets(x, y)
    }

    fn forward_with_targets(
        &mut self,
        x: ArrayViewD<'_, f64>,
        _y: ArrayViewD<'_, f64>,
        mode: Mode,
    ) -> recurrent::Result<ModelOutput<f64>> {
        let pred = (self.a.forward(&x, mode)? + self.b.forward(&x, mode)?) * 0.5;
        let mask = self.bad_mask.then(|| Array2::from_elem((x.shape()[0], 7), true));
        Ok(ModelOutput { pred, mask })
    }

    fn backward(&mut self, grad: ArrayViewD<'_, f64>) -> recurrent::Result<Option<ArrayD<f64>>> {
        let half = &grad * 0.5;
        Ok(Some(self.a.backward(&half)? + self.b.backward(&half)?))
    }

    fn predict(&mut self, x: ArrayViewD<'_, f64>) -> recurrent::Result<ArrayD<f64>> {
        Ok((self.a.predict(&x)? + self.b.predict(&x)?) * 0.5)
    }

    fn reseed(&mut self, seed: u64) {
        self.a.reseed(seed);
        self.b.reseed(seed ^ 1);
    }

    fn param_paths(&self) -> Vec<String> {
        let a = self.a.layers().iter().flat_map(|l| {
            let mut v = Vec::new();
            l.visit_params(&mut |p| v.push(format!("a/{}/{}", l.name(), p.name)));
            v
        });
        let b = self.b.layers().iter().flat_map(|l| {
            let mut v = Vec::new();
            l.visit_params(&mut |p| v.push(format!("b/{}/{}", l.name(), p.name)));
            v
        });
        a.chain(b).collect()
    }
}

fn part(seed: u64, units: usize) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut m = Sequential::new(&[5, 1]).unwrap();
    m.add(LstmConfig::new(1, units).init(&mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(units, 1).init(&mut rng).unwrap()).unwrap();
    m
}

fn average(seed: u64) -> Average {
    Average { a: part(seed, 4), b: part(seed + 100, 3), bad_mask: false }
}

fn data(n: usize) -> (ArrayD<f64>, ArrayD<f64>) {
    let series: Vec<f64> = (0..n + 5).map(|i| (0.3 * i as f64).sin() + 0.1 * (1.7 * i as f64).cos()).collect();
    let (x, y) = recurrent::data::windows(&series, 5).unwrap();
    (x.into_dyn(), y.into_dyn())
}

fn params<P: Params<f64> + ?Sized>(m: &P) -> Vec<ArrayD<f64>> {
    let mut out = Vec::new();
    m.visit_params(&mut |p| out.push(p.value.to_owned()));
    out
}

#[test]
fn a_composition_of_two_sequentials_trains_with_fit() {
    let (x, y) = data(60);
    let mut m = average(1);
    let before = m.evaluate_in_batches(&x, &y, &Mse, &[], 16).unwrap().0;
    let cfg = FitConfig::new(30, 8).with_validation_split(0.2).with_metrics(vec![Metric::Mae]).quiet();
    let h = m.fit(&x, &y, &Mse, &mut Adam::new(0.02), cfg).unwrap();
    assert_eq!(h.epochs.len(), 30);
    let after = m.evaluate_in_batches(&x, &y, &Mse, &[], 16).unwrap().0;
    assert!(after < 0.2 * before, "mse {before} -> {after}");
    // Both halves were trained (each one's weights moved), and the model predicts their mean.
    assert_ne!(params(&m.a), params(&part(1, 4)));
    assert_ne!(params(&m.b), params(&part(101, 3)));
    let p = m.predict_in_batches(&x, 7).unwrap();
    let want = (m.a.predict(&x).unwrap() + m.b.predict(&x).unwrap()) * 0.5;
    assert_eq!(p, want);
    // The same seed gives the same run.
    let mut again = average(1);
    let h2 = again
        .fit(
            &x,
            &y,
            &Mse,
            &mut Adam::new(0.02),
            FitConfig::new(30, 8).with_validation_split(0.2).with_metrics(vec![Metric::Mae]).quiet(),
        )
        .unwrap();
    assert_eq!(h, h2);
    assert_eq!(params(&m), params(&again));
}

#[test]
fn gradients_of_the_composition_check() {
    let (x, y) = data(6);
    let mut m = average(2);
    let report = GradCheck::new().check_model(&mut m, x.view(), y.view(), &Mse).unwrap();
    assert!(report.worst() < 1e-6, "{report}");
    assert_eq!(report.tensor("input").map(|t| t.probed), Some(x.len()));
    // The user's parameter paths name the tensors.
    assert!(report.tensor("b/dense/bias").is_some(), "{report}");
    assert_eq!(report.tensors.len(), 1 + 2 * 5);
}

/// A callback that reaches the concrete model through `&mut dyn Model` and keeps each
/// epoch's weights.
struct Snapshots(Arc<Mutex<Vec<Vec<ArrayD<f64>>>>>);

impl Callback<f64> for Snapshots {
    fn on_train_begin(&mut self, model: &mut dyn Model<f64>) -> recurrent::Result<()> {
        assert!(model.downcast_mut::<Average>().is_some());
        assert!(model.downcast_ref::<Sequential<f64>>().is_none());
        assert_eq!(model.name(), "average");
        Ok(())
    }

    fn on_epoch_end(&mut self, _: &EpochLogs<f64>, model: &mut dyn Model<f64>) -> recurrent::Result<Control> {
        let avg = model.downcast_mut::<Average>().expect("the model fit was given");
        self.0.lock().unwrap().push(params(avg));
        Ok(Control::Continue)
    }
}

#[test]
fn callbacks_see_the_model_and_early_stopping_restores_its_best_epoch() {
    // Validation targets of the opposite sign: the validation loss is best after epoch 1
    // and rises while training fits the training targets.
    let (x, y) = data(40);
    let yv = y.mapv(|v| -v);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut m = average(3);
    let cfg = FitConfig::new(20, 8)
        .with_validation_data(x.clone(), yv.clone())
        .with_callback(Snapshots(seen.clone()))
        .with_callback(EarlyStopping::new(3).restore_best_weights(true))
        .quiet();
    let h = m.fit(&x, &y, &Mse, &mut Sgd::new(0.2), cfg).unwrap();
    let vl = h.val_loss();
    let best = (0..vl.len()).fold(0, |b, k| if vl[k] < vl[b] { k } else { b });
    assert_eq!(h.stopped_epoch, Some(best + 1 + 3), "{vl:?}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), h.epochs.len());
    assert_ne!(seen[best], *seen.last().unwrap(), "training moved on after the best epoch");
    assert_eq!(params(&m), seen[best], "the best epoch's weights are restored");
}

#[test]
fn divergence_keeps_the_composition_finite() {
    let (x, y) = data(16);
    let mut m = average(4);
    let cfg = FitConfig::new(50, 16).with_shuffle(false).quiet();
    match m.fit(&x, &y, &Mse, &mut Sgd::new(1e150), cfg) {
        Err(Error::Diverged { epoch, batch, .. }) => assert_eq!(batch, 1, "epoch {epoch}"),
        other => panic!("expected Diverged, got {other:?}"),
    }
    assert!(params(&m).iter().all(|p| p.iter().all(|v| v.is_finite())));
}

#[test]
fn a_boxed_dyn_model_trains_and_predicts() {
    let (x, y) = data(30);
    let mut boxed: Box<dyn Model<f64>> = Box::new(part(5, 4));
    let h = boxed.fit(&x, &y, &Mse, &mut Adam::new(0.01), FitConfig::new(3, 8).quiet()).unwrap();
    // The same as training the Sequential itself.
    let mut plain = part(5, 4);
    let h2 = plain.fit(&x, &y, &Mse, &mut Adam::new(0.01), FitConfig::new(3, 8).quiet()).unwrap();
    assert_eq!(h, h2);
    assert_eq!(boxed.predict_in_batches(&x, 4).unwrap(), plain.predict(&x).unwrap());
    let back = boxed.downcast_mut::<Sequential<f64>>().expect("a Sequential inside");
    assert_eq!(params(back), params(&plain));
}

#[test]
fn a_mask_that_does_not_fit_the_predictions_is_an_error_before_training() {
    let (x, y) = data(12);
    let mut m = average(6);
    m.bad_mask = true;
    let before = params(&m);
    match m.fit(&x, &y, &Mse, &mut Sgd::new(0.1), FitConfig::new(2, 4).quiet()) {
        Err(Error::ShapeMismatch { what, .. }) => assert!(what.contains("average"), "{what}"),
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    assert!(matches!(m.evaluate_in_batches(&x, &y, &Mse, &[], 4), Err(Error::ShapeMismatch { .. })));
    assert_eq!(params(&m), before);
}
