//! Keras's `dropout` and `recurrent_dropout` on the recurrent layers: Gal and Ghahramani's
//! variational masks (one per sample, the same at every step), inverted scaling, off in
//! inference, seeded, and differentiated exactly (the public gradient check with the masks
//! held fixed by reseeding).

use ndarray::{s, Array3, ArrayD, Axis};
use recurrent::gradcheck::GradCheck;
use recurrent::prelude::*;
use recurrent::rand::Rng;
use recurrent::{GruCell, Recurrent};

fn input(b: usize, t: usize, i: usize, seed: u64) -> Array3<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Array3::from_shape_fn((b, t, i), |_| rng.random_range(-1.0..1.0))
}

fn lstm(i: usize, h: usize, p: f64, rp: f64) -> Lstm<f64> {
    LstmConfig::new(i, h)
        .with_return_sequences(true)
        .with_dropout(p)
        .with_recurrent_dropout(rp)
        .init::<f64, _>(&mut StdRng::seed_from_u64(1))
        .unwrap()
}

#[test]
fn rates_outside_zero_one_are_refused_before_anything_is_built() {
    for p in [-0.1, 1.0, 1.5, f64::NAN, f64::INFINITY] {
        let err = LstmConfig::new(2, 3).with_dropout(p).init::<f64, _>(&mut StdRng::seed_from_u64(0)).unwrap_err();
        assert!(matches!(&err, Error::InvalidConfig { what, .. } if what == "LSTM dropout"), "{p}: {err}");
        let err =
            GruConfig::new(2, 3).with_recurrent_dropout(p).init::<f64, _>(&mut StdRng::seed_from_u64(0)).unwrap_err();
        assert!(matches!(&err, Error::InvalidConfig { what, .. } if what == "GRU recurrent_dropout"), "{p}: {err}");
    }
    let mut l = lstm(2, 3, 0.0, 0.0);
    assert!(l.set_dropout(1.0).is_err());
    assert_eq!(l.dropout(), 0.0, "unchanged on error");
}

#[test]
fn inference_ignores_dropout_and_is_deterministic() {
    let x = input(3, 5, 2, 7);
    let mut plain = lstm(2, 4, 0.0, 0.0);
    let mut drop = lstm(2, 4, 0.5, 0.5);
    let a = plain.forward(x.view().into_dyn(), Mode::Infer).unwrap();
    let b = drop.forward(x.view().into_dyn(), Mode::Infer).unwrap();
    let c = drop.forward(x.view().into_dyn(), Mode::Infer).unwrap();
    assert_eq!(a, b, "same weights, no dropout in inference");
    assert_eq!(b, c);
    // Training passes do drop: two of them differ, and differ from inference.
    let t1 = drop.forward(x.view().into_dyn(), Mode::Train).unwrap();
    let t2 = drop.forward(x.view().into_dyn(), Mode::Train).unwrap();
    assert_ne!(t1, a);
    assert_ne!(t1, t2, "a fresh mask per training pass");
}

/// dL/dx of a dropped input feature is 0 at every step and of a kept one at none: the mask is
/// drawn once per sample and feature, not per step.
#[test]
fn the_input_mask_is_the_same_at_every_step() {
    let (b, t, i) = (16, 6, 5);
    let x = input(b, t, i, 3);
    let mut l = lstm(i, 3, 0.4, 0.0);
    let out = l.forward(x.view().into_dyn(), Mode::Train).unwrap();
    let dx = l.backward(ArrayD::ones(out.shape()).view()).unwrap();
    let (mut dropped, mut kept) = (0, 0);
    for bi in 0..b {
        for j in 0..i {
            let col = dx.slice(s![bi, .., j]);
            let zeros = col.iter().filter(|v| **v == 0.0).count();
            assert!(zeros == 0 || zeros == t, "sample {bi} feature {j}: {zeros} of {t} steps dropped");
            if zeros == t {
                dropped += 1;
            } else {
                kept += 1;
            }
        }
    }
    assert!(dropped > 0 && kept > 0, "{dropped} dropped, {kept} kept");
}

/// With one sample, row j of dW_h is exactly 0 when unit j is dropped from h̃ (at every step),
/// and no other row is.
#[test]
fn the_recurrent_mask_is_the_same_at_every_step() {
    let x = input(1, 8, 2, 5);
    let mut l = lstm(2, 12, 0.0, 0.5);
    let out = l.forward(x.view().into_dyn(), Mode::Train).unwrap();
    l.zero_grad();
    l.backward(ArrayD::ones(out.shape()).view()).unwrap();
    let g = l.grads().recurrent_kernel;
    let zero_rows = g.axis_iter(Axis(0)).filter(|r| r.iter().all(|v| *v == 0.0)).count();
    let partial = g.axis_iter(Axis(0)).filter(|r| r.iter().any(|v| *v == 0.0) && r.iter().any(|v| *v != 0.0)).count();
    assert!(zero_rows > 0 && zero_rows < 12, "{zero_rows} of 12 units dropped");
    assert_eq!(partial, 0, "a unit is dropped at every step or at none");
}

/// The drop rate is p within 5 standard deviations, and kept inputs are scaled by 1/(1−p):
/// rerunning with the mask applied by hand and no dropout gives the same output.
#[test]
fn rate_and_scaling_match_p() {
    let (b, t, i, p) = (400, 2, 10, 0.3);
    let x = input(b, t, i, 11);
    let mut l = SimpleRnnConfig::new(i, 4)
        .with_return_sequences(true)
        .with_dropout(p)
        .init::<f64, _>(&mut StdRng::seed_from_u64(2))
        .unwrap();
    let out = l.forward(x.view().into_dyn(), Mode::Train).unwrap();
    let dx = l.backward(ArrayD::ones(out.shape()).view()).unwrap();
    let n = (b * i) as f64;
    let mut masked = x.clone();
    let mut dropped = 0.0;
    for bi in 0..b {
        for j in 0..i {
            let gone = dx[[bi, 0, j]] == 0.0;
            dropped += f64::from(u8::from(gone));
            let m = if gone { 0.0 } else { 1.0 / (1.0 - p) };
            masked.slice_mut(s![bi, .., j]).mapv_inplace(|v| v * m);
        }
    }
    let sd = (p * (1.0 - p) / n).sqrt();
    assert!((dropped / n - p).abs() < 5.0 * sd, "rate {} vs {p}", dropped / n);
    l.set_dropout(0.0).unwrap();
    let by_hand = l.forward(masked.view().into_dyn(), Mode::Infer).unwrap();
    let diff = (&by_hand - &out).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(diff < 1e-12, "max |Δ| = {diff}");
}

#[test]
fn a_seed_fixes_the_masks() {
    let x = input(4, 5, 3, 9);
    let mut a = lstm(3, 4, 0.3, 0.3);
    let mut b = lstm(3, 4, 0.3, 0.3);
    a.set_seed(42);
    b.set_seed(42);
    for _ in 0..3 {
        assert_eq!(
            a.forward(x.view().into_dyn(), Mode::Train).unwrap(),
            b.forward(x.view().into_dyn(), Mode::Train).unwrap()
        );
    }
    b.set_seed(43);
    assert_ne!(
        a.forward(x.view().into_dyn(), Mode::Train).unwrap(),
        b.forward(x.view().into_dyn(), Mode::Train).unwrap()
    );
}

/// With the masks held fixed (the check reseeds before every pass), backward differentiates
/// the dropped function exactly: every cell, both dropouts, a padding mask, go_backwards.
#[test]
fn gradients_check_with_a_fixed_mask() {
    let (b, t, i, h) = (3, 5, 3, 4);
    let x = input(b, t, i, 21);
    let mut pad = ndarray::Array2::from_elem((b, t), true);
    pad[[1, 4]] = false;
    pad[[2, 0]] = false;
    let check = GradCheck::new().with_seed(5);
    let mut rng = StdRng::seed_from_u64(8);
    let layers: Vec<Box<dyn RecurrentLayer<f64>>> = vec![
        Box::new(
            SimpleRnnConfig::new(i, h)
                .with_return_sequences(true)
                .with_dropout(0.3)
                .with_recurrent_dropout(0.4)
                .init(&mut rng)
                .unwrap(),
        ),
        Box::new(lstm(i, h, 0.3, 0.4)),
        Box::new(
            GruConfig::new(i, h)
                .with_return_sequences(true)
                .with_dropout(0.3)
                .with_recurrent_dropout(0.4)
                .init(&mut rng)
                .unwrap(),
        ),
        Box::new(
            GruConfig::new(i, h)
                .with_reset_after(false)
                .with_go_backwards(true)
                .with_dropout(0.3)
                .with_recurrent_dropout(0.4)
                .init(&mut rng)
                .unwrap(),
        ),
    ];
    for mut l in layers {
        for mask in [None, Some(pad.view())] {
            let report = check.check_layer(l.as_mut(), x.view().into_dyn(), mask).unwrap();
            assert!(report.worst() < 1e-7, "{} mask={}:\n{report}", l.kind(), mask.is_some());
            assert!(report.tensor("initial h").is_some() && report.tensor("recurrent_kernel").is_some());
        }
    }
}

/// Masks are drawn for the whole batch before it is split, so the outputs do not depend on
/// the number of threads.
#[test]
fn dropout_does_not_depend_on_threads() {
    let x = input(64, 40, 8, 4);
    let mut l: Recurrent<f64, GruCell> = GruConfig::new(8, 64)
        .with_return_sequences(true)
        .with_dropout(0.2)
        .with_recurrent_dropout(0.2)
        .init(&mut StdRng::seed_from_u64(0))
        .unwrap();
    recurrent::set_num_threads(1);
    l.set_seed(3);
    let one = l.forward(x.view().into_dyn(), Mode::Train).unwrap();
    recurrent::set_num_threads(2);
    l.set_seed(3);
    let two = l.forward(x.view().into_dyn(), Mode::Train).unwrap();
    recurrent::set_num_threads(1);
    assert_eq!(one, two);
}

#[test]
fn fit_with_dropout_is_reproducible_and_saved() {
    let series: Vec<f64> = (0..80).map(|k| (0.25 * k as f64).sin()).collect();
    let (x, y) = recurrent::data::windows(&series, 6).unwrap();
    let run = || {
        let mut rng = StdRng::seed_from_u64(4);
        let mut m = Sequential::new(&[6, 1]).unwrap();
        m.add(LstmConfig::new(1, 6).with_dropout(0.2).with_recurrent_dropout(0.2).init(&mut rng).unwrap()).unwrap();
        m.add(DenseConfig::new(6, 1).init(&mut rng).unwrap()).unwrap();
        let h = m.fit(&x, &y, &Mse, &mut Adam::new(0.01), FitConfig::new(3, 16).with_seed(9).quiet()).unwrap();
        (m, h.loss())
    };
    let (mut a, la) = run();
    let (b, lb) = run();
    assert_eq!(la, lb);
    let (pa, pb) = (recurrent::io::json::to_vec(&a).unwrap(), recurrent::io::json::to_vec(&b).unwrap());
    assert_eq!(pa, pb, "bit-identical weights");
    // The rates travel with the model file.
    let text = String::from_utf8(pa).unwrap();
    assert!(text.contains("\"recurrent_dropout\": 0.2"), "{text}");
    let mut back = recurrent::io::json::from_slice::<f64>(text.as_bytes()).unwrap();
    let lstm = back.layer_as::<Lstm<f64>>(0).unwrap();
    assert_eq!((lstm.dropout(), lstm.recurrent_dropout()), (0.2, 0.2));
    assert_eq!(back.predict(&x).unwrap(), a.predict(&x).unwrap());
}
