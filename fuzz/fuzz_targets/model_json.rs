//! Any bytes given to the model-file reader: an `Err` or a model, never a panic, an abort
//! or an unbounded allocation. A model that loads must also run and save again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ndarray::{ArrayD, Dimension, IxDyn};
use recurrent::io::json;
use recurrent::{Float, Sequential};

fn exercise<F: Float>(data: &[u8]) {
    let Ok(mut model) = json::from_slice::<F>(data) else { return };
    // What loaded must save again, to the same bytes once re-read.
    let bytes = json::to_vec(&model).expect("a loaded model saves");
    let mut again = json::from_slice::<F>(&bytes).expect("a saved model loads");
    assert_eq!(json::to_vec(&again).expect("saves"), bytes, "save → load → save is a fixed point");
    // And run, on a small batch of its declared input shape.
    let mut shape = vec![2];
    shape.extend_from_slice(model.input_shape());
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if n.is_some_and(|n| n <= 4096) {
        let x = ArrayD::from_shape_fn(IxDyn(&shape), |i| {
            let s: usize = i.slice().iter().sum();
            <F as Float>::of((s % 7) as f64 / 7.0 - 0.5)
        });
        let a = model.predict(&x);
        let b = again.predict(&x);
        match (a, b) {
            (Ok(a), Ok(b)) => assert!(
                a.iter().zip(b.iter()).all(|(p, q)| p.to_f64_exact().to_bits() == q.to_f64_exact().to_bits()),
                "reloaded model predicts bit for bit"
            ),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("original and reloaded disagree: {a:?} vs {b:?}"),
        }
    }
    let _: &Sequential<F> = &model;
}

fuzz_target!(|data: &[u8]| {
    exercise::<f32>(data);
    exercise::<f64>(data);
});
