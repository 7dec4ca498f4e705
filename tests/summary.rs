//! `summary()` pinned to the exact text: the lecture's two models, and the RNN family.

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

// The RNN family. Parameter counts are Keras's:
//   LSTM                      4 · (H·(I + H) + H)  = 4H(I + H + 1)
//   GRU, reset_after=True     3 · (H·(I + H) + 2H) = 3H(I + H + 2)   (input and recurrent bias)
//   GRU, reset_after=False    3 · (H·(I + H) + H)  = 3H(I + H + 1)
//   Bidirectional(layer)      2 · layer's count (a forward and a backward copy)
//   Dense                     (in + 1) · out

#[test]
fn lstm_model_summary() {
    // LSTM(3) on 1 feature: 4·3·(1 + 3 + 1) = 60; Dense(3 → 1): 4.
    let mut rng = StdRng::seed_from_u64(0);
    let mut m = Sequential::<f32>::new(&[5, 1]).unwrap();
    m.add(LstmConfig::new(1, 3).init(&mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(3, 1).init(&mut rng).unwrap()).unwrap();
    let want = "\
Model: \"sequential\"
_________________________________________________________________
 Layer (type)                Output Shape              Param #
=================================================================
 lstm (LSTM)                 (None, 3)                 60
-----------------------------------------------------------------
 dense (Dense)               (None, 1)                 4
=================================================================
Total params: 64
Trainable params: 64
Non-trainable params: 0
_________________________________________________________________
";
    assert_eq!(m.summary(), want);
}

#[test]
fn gru_model_summaries_both_formulations() {
    // GRU(3) on 1 feature: 3·3·(1 + 3 + 2) = 54 with reset_after, 3·3·(1 + 3 + 1) = 45 without.
    let mut rng = StdRng::seed_from_u64(0);
    let mut after = Sequential::<f32>::new(&[5, 1]).unwrap();
    after.add(GruConfig::new(1, 3).init(&mut rng).unwrap()).unwrap();
    after.add(DenseConfig::new(3, 1).init(&mut rng).unwrap()).unwrap();
    let want = "\
Model: \"sequential\"
_________________________________________________________________
 Layer (type)                Output Shape              Param #
=================================================================
 gru (GRU)                   (None, 3)                 54
-----------------------------------------------------------------
 dense (Dense)               (None, 1)                 4
=================================================================
Total params: 58
Trainable params: 58
Non-trainable params: 0
_________________________________________________________________
";
    assert_eq!(after.summary(), want);

    let mut cho = Sequential::<f64>::new(&[5, 1]).unwrap();
    cho.add(GruConfig::new(1, 3).with_reset_after(false).init(&mut rng).unwrap()).unwrap();
    cho.add(DenseConfig::new(3, 1).init(&mut rng).unwrap()).unwrap();
    let want = "\
Model: \"sequential\"
_________________________________________________________________
 Layer (type)                Output Shape              Param #
=================================================================
 gru (GRU)                   (None, 3)                 45
-----------------------------------------------------------------
 dense (Dense)               (None, 1)                 4
=================================================================
Total params: 49
Trainable params: 49
Non-trainable params: 0
_________________________________________________________________
";
    assert_eq!(cho.summary(), want);
}

#[test]
fn bidirectional_concat_summary() {
    // Bidirectional(LSTM(4, return_sequences)) on 2 features, concat: output (None, 7, 2·4),
    // params 2 · 4·4·(2 + 4 + 1) = 2 · 112 = 224; Dense(8 → 1) on every step: 9.
    //
    // The 29-character "bidirectional (Bidirectional)" is wider than the 27-character name
    // column, so the table grows by two characters (Keras would wrap the name instead).
    let mut rng = StdRng::seed_from_u64(0);
    let mut m = Sequential::<f64>::new(&[7, 2]).unwrap();
    let lstm = LstmConfig::new(2, 4).with_return_sequences(true).init(&mut rng).unwrap();
    m.add(Bidirectional::new(lstm, MergeMode::Concat, &mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(8, 1).init(&mut rng).unwrap()).unwrap();
    let want = "\
Model: \"sequential\"
___________________________________________________________________
 Layer (type)                  Output Shape              Param #
===================================================================
 bidirectional (Bidirectional) (None, 7, 8)              224
-------------------------------------------------------------------
 dense (Dense)                 (None, 7, 1)              9
===================================================================
Total params: 233
Trainable params: 233
Non-trainable params: 0
___________________________________________________________________
";
    assert_eq!(m.summary(), want);
}

#[test]
fn bidirectional_sum_summary() {
    // Bidirectional(GRU(3)) on 1 feature, summed: output width H = 3 (not 2H), params
    // 2 · 3·3·(1 + 3 + 2) = 108; Dense(3 → 1): 4.
    let mut rng = StdRng::seed_from_u64(0);
    let mut m = Sequential::<f64>::new(&[5, 1]).unwrap();
    let gru = GruConfig::new(1, 3).init(&mut rng).unwrap();
    m.add(Bidirectional::new(gru, MergeMode::Sum, &mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(3, 1).init(&mut rng).unwrap()).unwrap();
    let want = "\
Model: \"sequential\"
___________________________________________________________________
 Layer (type)                  Output Shape              Param #
===================================================================
 bidirectional (Bidirectional) (None, 3)                 108
-------------------------------------------------------------------
 dense (Dense)                 (None, 1)                 4
===================================================================
Total params: 112
Trainable params: 112
Non-trainable params: 0
___________________________________________________________________
";
    assert_eq!(m.summary(), want);
}
