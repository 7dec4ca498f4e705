//! `summary()` pinned to the exact text, for the lecture's two models.

use recurrent::prelude::*;

fn model(units: usize) -> Sequential<f32> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut m = Sequential::new(&[5, 1]).unwrap();
    m.add(SimpleRnnConfig::new(1, units).init(&mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(units, 1).init(&mut rng).unwrap()).unwrap();
    m
}

#[test]
fn lecture_counting_model_summary() {
    let want = "\
Model: \"sequential\"
_________________________________________________________________
 Layer (type)                Output Shape              Param #
=================================================================
 simple_rnn (SimpleRNN)      (None, 2)                 8
-----------------------------------------------------------------
 dense (Dense)               (None, 1)                 3
=================================================================
Total params: 11
Trainable params: 11
Non-trainable params: 0
_________________________________________________________________
";
    assert_eq!(model(2).summary(), want);
}

#[test]
fn forecast_model_summary() {
    let want = "\
Model: \"sequential\"
_________________________________________________________________
 Layer (type)                Output Shape              Param #
=================================================================
 simple_rnn (SimpleRNN)      (None, 3)                 15
-----------------------------------------------------------------
 dense (Dense)               (None, 1)                 4
=================================================================
Total params: 19
Trainable params: 19
Non-trainable params: 0
_________________________________________________________________
";
    assert_eq!(model(3).summary(), want);
}

#[test]
fn sequence_output_and_repeated_names() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut m = Sequential::<f64>::new(&[7, 2]).unwrap();
    m.add(SimpleRnnConfig::new(2, 4).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    m.add(SimpleRnnConfig::new(4, 3).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(3, 2).init(&mut rng).unwrap()).unwrap();
    m.set_name("tagger");
    let want = "\
Model: \"tagger\"
_________________________________________________________________
 Layer (type)                Output Shape              Param #
=================================================================
 simple_rnn (SimpleRNN)      (None, 7, 4)              28
-----------------------------------------------------------------
 simple_rnn_1 (SimpleRNN)    (None, 7, 3)              24
-----------------------------------------------------------------
 dense (Dense)               (None, 7, 2)              8
=================================================================
Total params: 60
Trainable params: 60
Non-trainable params: 0
_________________________________________________________________
";
    assert_eq!(m.summary(), want);
}
