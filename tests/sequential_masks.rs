//! Masks, stateful models and truncated BPTT through `Sequential`.

use ndarray::{array, s, Array2, Array3, ArrayD, Axis};
use recurrent::prelude::*;

fn params(model: &Sequential<f64>) -> Vec<ArrayD<f64>> {
    let mut out = Vec::new();
    model.visit_params(&mut |p| out.push(p.value.to_owned()));
    out
}

fn grads(model: &Sequential<f64>) -> Vec<ArrayD<f64>> {
    let mut out = Vec::new();
    model.visit_params(&mut |p| out.push(p.grad.to_owned()));
    out
}

/// Masking → LSTM (sequences) → Dense, as in a tagging model.
fn tagger(seed: u64, masking: bool) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut m = Sequential::new(&[5, 2]).unwrap();
    if masking {
        m.add(Masking::new(0.0)).unwrap();
    }
    m.add(LstmConfig::new(2, 3).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(3, 1).init(&mut rng).unwrap()).unwrap();
    m
}

fn padded() -> (Array3<f64>, Array2<bool>, Array3<f64>) {
    // Sample 0: 5 real steps; sample 1: 3 real steps, "post" padded; sample 2: 2 real, "pre".
    let lens = [(0, 5), (0, 3), (3, 5)];
    let mask = Array2::from_shape_fn((3, 5), |(b, t)| t >= lens[b].0 && t < lens[b].1);
    let x = Array3::from_shape_fn((3, 5, 2), |(b, t, f)| {
        if mask[[b, t]] {
            ((b * 10 + t * 3 + f) as f64 * 0.31).sin() + 0.05
        } else {
            0.0
        }
    });
    let y = Array3::from_shape_fn((3, 5, 1), |(b, t, _)| ((b + t) as f64 * 0.7).cos());
    (x, mask, y)
}

#[test]
fn masking_layer_makes_the_mask_of_padded_steps() {
    let (x, mask, _) = padded();
    let mut with = tagger(3, true);
    let mut explicit = tagger(3, false);
    let a = with.predict(&x).unwrap();
    let b = explicit.forward_masked(&x, Some(mask.view()), Mode::Infer).unwrap();
    assert_eq!(a, b, "Masking(0) gives the same as passing the mask");
    assert_eq!(with.output_mask(), Some(&mask));
    // A padded position's output is the Dense of a zero row: the bias, here 0.
    assert_eq!(a[[1, 4, 0]], 0.0);
    assert_eq!(a[[2, 0, 0]], 0.0);
}

#[test]
fn padded_positions_do_not_reach_loss_or_gradients() {
    let (x, mask, y) = padded();
    let mut noisy = x.clone();
    for ((b, t), &m) in mask.indexed_iter() {
        if !m {
            noisy.slice_mut(s![b, t, ..]).fill(7.5 + b as f64);
        }
    }
    let mut y_noisy = y.clone();
    y_noisy[[1, 4, 0]] = 100.0;
    let mut a = tagger(5, false);
    let mut b = tagger(5, false);
    let (mut sa, mut sb) = (Sgd::new(0.1), Sgd::new(0.1));
    let la = a.train_step_masked(&x, mask.view(), &y, &Mse, &mut sa).unwrap();
    let lb = b.train_step_masked(&noisy, mask.view(), &y_noisy, &Mse, &mut sb).unwrap();
    assert_eq!(la, lb);
    assert_eq!(grads(&a), grads(&b));
    assert_eq!(params(&a), params(&b));

    // The loss is the mean squared error over the 10 real positions only.
    let mut c = tagger(5, false);
    let pred = c.forward_masked(&x, Some(mask.view()), Mode::Infer).unwrap();
    let (mut sum, mut n) = (0.0, 0.0);
    for ((bi, t), &m) in mask.indexed_iter() {
        if m {
            sum += (pred[[bi, t, 0]] - y[[bi, t, 0]]).powi(2);
            n += 1.0;
        }
    }
    assert_eq!(n, 10.0);
    assert!((la - sum / n).abs() < 1e-15, "{la} vs {}", sum / n);
    assert!((c.evaluate(&x, &y, &Mse).unwrap() - c.evaluate(&x, &y, &Mse).unwrap()).abs() == 0.0);
}

#[test]
fn masked_loss_errors() {
    let (x, _, y) = padded();
    let mut m = tagger(1, false);
    let none = Array2::from_elem((3, 5), false);
    let err = m.train_step_masked(&x, none.view(), &y, &Mse, &mut Sgd::new(0.1)).unwrap_err().to_string();
    assert!(err.contains("unmasked"), "{err}");
    let before = params(&m);
    let bad = Array2::from_elem((3, 4), true);
    let err = m.train_step_masked(&x, bad.view(), &y, &Mse, &mut Sgd::new(0.1)).unwrap_err().to_string();
    assert!(err.contains("(3, 5)") && err.contains("(3, 4)"), "{err}");
    assert_eq!(params(&m), before, "weights unchanged on error");
}

fn stream_model(seed: u64) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut m = Sequential::new(&[6, 1]).unwrap();
    m.add(GruConfig::new(1, 4).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    m.add(SimpleRnnConfig::new(4, 2).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    m
}

#[test]
fn stateful_chunks_equal_the_whole_sequence() {
    let x = Array3::from_shape_fn((2, 6, 1), |(b, t, _)| ((b * 6 + t) as f64 * 0.4).sin());
    let mut whole = stream_model(9);
    let full = whole.predict(&x).unwrap();
    let mut chunked = stream_model(9);
    chunked.set_stateful(true);
    let a = chunked.predict(x.slice(s![.., 0..2, ..])).unwrap();
    let b = chunked.predict(x.slice(s![.., 2..6, ..])).unwrap();
    let joined = ndarray::concatenate(Axis(1), &[a.view(), b.view()]).unwrap();
    for (u, v) in joined.iter().zip(full.iter()) {
        assert!((u - v).abs() < 1e-14);
    }
    // A different batch size is refused while a state is carried...
    let err = chunked.predict(x.slice(s![0..1, 0..2, ..])).unwrap_err().to_string();
    assert!(err.contains("2 samples") && err.contains("1 samples") && err.contains("reset_states"), "{err}");
    // ...and after reset_states the model starts from zeros again.
    chunked.reset_states();
    let again = chunked.predict(x.slice(s![.., 0..2, ..])).unwrap();
    assert_eq!(again, a);
}

#[test]
fn truncated_bptt_with_one_window_is_a_train_step() {
    let x = Array3::from_shape_fn((2, 6, 1), |(b, t, _)| ((b * 6 + t) as f64 * 0.4).sin());
    let y = Array3::from_shape_fn((2, 6, 2), |(b, t, u)| ((b + t + u) as f64 * 0.3).cos() * 0.5);
    let mut a = stream_model(2);
    let mut b = stream_model(2);
    let la = a.train_step(&x, &y, &Mse, &mut Sgd::new(0.05)).unwrap();
    let lb = b.train_truncated(&x, &y, 6, &Mse, &mut Sgd::new(0.05)).unwrap();
    assert_eq!(la, lb);
    assert_eq!(params(&a), params(&b));
    assert!(!b.is_stateful(), "the model is left as it was");
}

#[test]
fn truncated_bptt_windows_carry_the_state_but_not_the_gradient() {
    let x = Array3::from_shape_fn((2, 6, 1), |(b, t, _)| ((b * 6 + t) as f64 * 0.4).sin());
    let y = Array3::from_shape_fn((2, 6, 2), |(b, t, u)| ((b + t + u) as f64 * 0.3).cos() * 0.5);
    let mut a = stream_model(4);
    let loss = a.train_truncated(&x, &y, 4, &Mse, &mut Sgd::new(0.05)).unwrap();
    // By hand: a stateful model trained on the windows [0, 4) and [4, 6) in turn.
    let mut b = stream_model(4);
    b.set_stateful(true);
    let mut sgd = Sgd::new(0.05);
    let l1 = b.train_step(x.slice(s![.., 0..4, ..]), y.slice(s![.., 0..4, ..]), &Mse, &mut sgd).unwrap();
    let l2 = b.train_step(x.slice(s![.., 4..6, ..]), y.slice(s![.., 4..6, ..]), &Mse, &mut sgd).unwrap();
    assert!((loss - (l1 + l2) / 2.0).abs() < 1e-15);
    assert_eq!(params(&a), params(&b));
    assert!(a.train_truncated(&x, &y, 0, &Mse, &mut Sgd::new(0.05)).is_err());
}

#[test]
fn model_mask_shape_is_checked_before_running() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut m = tagger(0, false);
    let x = Array3::<f64>::zeros((2, 5, 2));
    let mask = Array2::from_elem((2, 4), true);
    let err = m.forward_masked(&x, Some(mask.view()), Mode::Infer).unwrap_err().to_string();
    assert!(err.contains("mask") && err.contains("(2, 5)") && err.contains("(2, 4)"), "{err}");
    let mut flat = Sequential::<f64>::new(&[3]).unwrap();
    flat.add(DenseConfig::new(3, 1).init(&mut rng).unwrap()).unwrap();
    let err = flat.forward_masked(&array![1.0, 2.0, 3.0].insert_axis(Axis(0)).remove_axis(Axis(0)), None, Mode::Infer);
    assert!(err.is_err(), "a rank-1 input is refused");
}

#[test]
fn embedding_with_mask_zero_skips_padding_ids() {
    let mut rng = StdRng::seed_from_u64(8);
    let mut m = Sequential::<f64>::new(&[4]).unwrap();
    m.add(EmbeddingConfig::new(6, 3).with_mask_zero(true).init(&mut rng).unwrap()).unwrap();
    m.add(GruConfig::new(3, 2).init(&mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(2, 1).init(&mut rng).unwrap()).unwrap();
    // "pre" padded with id 0, as data::pad_ids does by default.
    let padded = m.predict(&array![[0.0, 0.0, 4.0, 2.0], [1.0, 5.0, 3.0, 2.0]]).unwrap();
    let alone = m.predict(&array![[4.0, 2.0]]).unwrap();
    assert!((padded[[0, 0]] - alone[[0, 0]]).abs() < 1e-15);
    let unmasked = m.predict(&array![[5.0, 5.0, 4.0, 2.0]]).unwrap();
    assert!((padded[[0, 0]] - unmasked[[0, 0]]).abs() > 1e-6, "the mask changes the result");
}
