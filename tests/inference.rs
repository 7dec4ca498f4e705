//! Inference keeps only the state a step needs (two states, one step's gate buffer), reads the
//! input in place and writes the outputs during the loop; training keeps every step for
//! backward. The two must give the same numbers bit for bit, in every configuration the loop
//! handles, on one thread and with the batch split across two. One test function, because the
//! thread count is a process-wide setting.

use ndarray::{Array2, Array3};
use recurrent::prelude::*;
use recurrent::rand::Rng;

#[test]
fn inference_matches_the_training_forward_bit_for_bit() {
    // Large enough that the batch split engages with two threads (see tests/threads.rs); B odd
    // so the halves differ in size.
    let (b, t, i, h) = (17, 60, 40, 64);
    let mut rng = StdRng::seed_from_u64(5);
    type Build = fn(usize, usize, bool, bool, &mut StdRng) -> Box<dyn RecurrentLayer<f64>>;
    let cells: [(&str, Build); 4] = [
        ("simple_rnn", |i, h, seq, back, r| {
            Box::new(SimpleRnnConfig::new(i, h).with_return_sequences(seq).with_go_backwards(back).init(r).unwrap())
        }),
        ("lstm", |i, h, seq, back, r| {
            Box::new(LstmConfig::new(i, h).with_return_sequences(seq).with_go_backwards(back).init(r).unwrap())
        }),
        ("gru", |i, h, seq, back, r| {
            Box::new(GruConfig::new(i, h).with_return_sequences(seq).with_go_backwards(back).init(r).unwrap())
        }),
        ("gru_cho", |i, h, seq, back, r| {
            Box::new(
                GruConfig::new(i, h)
                    .with_reset_after(false)
                    .with_return_sequences(seq)
                    .with_go_backwards(back)
                    .init(r)
                    .unwrap(),
            )
        }),
    ];
    let x = Array3::from_shape_fn((b, t, i), |_| rng.random::<f64>() * 2.0 - 1.0);
    let mask = Array2::from_shape_fn((b, t), |(p, q)| p != 3 && (q + 2 * p) % 7 != 0 && q >= p % 5);
    let mut checked = 0;
    for (name, build) in cells {
        for (seq, back) in [(true, false), (false, false), (true, true)] {
            let mut layer = build(i, h, seq, back, &mut rng);
            let h0 = {
                let hh = Array2::from_shape_fn((b, h), |_| rng.random::<f64>() - 0.5);
                if layer.has_cell_state() {
                    State::with_cell(hh, Array2::from_shape_fn((b, h), |_| rng.random::<f64>() - 0.5))
                } else {
                    State::new(hh)
                }
            };
            for threads in [1, 2] {
                recurrent::set_num_threads(threads);
                for (m, what) in [(None, ""), (Some(&mask), " masked")] {
                    for init in [None, Some(&h0)] {
                        let run = |layer: &mut Box<dyn RecurrentLayer<f64>>, mode| {
                            let out = layer.forward_masked_with_state(x.view(), m.map(|m| m.view()), init, mode);
                            (out.unwrap(), layer.final_state().unwrap().clone())
                        };
                        let (train, train_fin) = run(&mut layer, Mode::Train);
                        let (infer, infer_fin) = run(&mut layer, Mode::Infer);
                        let ctx =
                            format!("{name} seq={seq} backwards={back} threads={threads}{what} h0={}", init.is_some());
                        assert_eq!(train.shape(), infer.shape(), "{ctx}: output shape");
                        let same = train.iter().zip(infer.iter()).all(|(a, c)| a.to_bits() == c.to_bits());
                        assert!(same, "{ctx}: inference output differs from the training forward");
                        assert_eq!(train_fin, infer_fin, "{ctx}: final state");
                        // Inference kept nothing for backward.
                        assert!(layer.backward(train.view()).is_err(), "{ctx}: backward after inference");
                        checked += 1;
                    }
                }
            }
        }
    }
    recurrent::set_num_threads(1);
    assert_eq!(checked, 4 * 3 * 2 * 2 * 2);
}
