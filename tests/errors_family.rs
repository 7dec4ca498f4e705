//! Bad inputs for the RNN family (LSTM, GRU, states, `backward_with_state`, Bidirectional):
//! each test asserts the exact `Error` variant by destructuring it, checks its fields (what
//! was checked, what was expected, what came) and that the `Display` text names expected and
//! actual, and that nothing changed on error — in the style of `tests/errors.rs`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ndarray::{Array2, Array3, ArrayD, IxDyn};
use recurrent::prelude::*;
use recurrent::{Error, Gru, Lstm};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

fn lstm(i: usize, h: usize, seq: bool) -> Lstm<f64> {
    LstmConfig::new(i, h).with_return_sequences(seq).init(&mut rng()).unwrap()
}

fn gru(i: usize, h: usize, seq: bool) -> Gru<f64> {
    GruConfig::new(i, h).with_return_sequences(seq).init(&mut rng()).unwrap()
}

fn x(b: usize, t: usize, i: usize) -> Array3<f64> {
    Array3::from_shape_fn((b, t, i), |(p, q, r)| 0.1 * (p + 2 * q + 3 * r) as f64 - 0.4)
}

fn filled(b: usize, h: usize, v: f64) -> Array2<f64> {
    Array2::from_elem((b, h), v)
}

/// Every parameter and gradient, bit for bit, in visit order.
type Snapshot = Vec<(String, Vec<u64>, Vec<u64>)>;

fn snapshot<P: Params<f64> + ?Sized>(p: &P) -> Snapshot {
    let mut out = Vec::new();
    p.visit_params(&mut |r| {
        out.push((
            r.name.to_string(),
            r.value.iter().map(|v| v.to_bits()).collect(),
            r.grad.iter().map(|v| v.to_bits()).collect(),
        ))
    });
    out
}

/// Asserts the message contains every part, printing the whole message if not.
fn assert_msg(err: &Error, parts: &[&str]) {
    let msg = err.to_string();
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} should contain {p:?}");
    }
}

fn shape_mismatch(err: Error, parts: &[&str]) -> (String, String, String) {
    assert_msg(&err, parts);
    let Error::ShapeMismatch { what, expected, got } = err else { panic!("expected ShapeMismatch, got {err:?}") };
    (what, expected, got)
}

fn invalid_config(err: Error, parts: &[&str]) -> (String, String, String) {
    assert_msg(&err, parts);
    let Error::InvalidConfig { what, expected, got } = err else { panic!("expected InvalidConfig, got {err:?}") };
    (what, expected, got)
}

fn no_forward_cache(err: Error, layer_name: &str) {
    assert_msg(&err, &[layer_name, "backward", "training-mode forward"]);
    let Error::NoForwardCache { layer } = err else { panic!("expected NoForwardCache, got {err:?}") };
    assert_eq!(layer, layer_name);
}

/// What a recurrent layer holds besides its parameters: final state, whether a training
/// cache is valid, the last initial-state gradient and trace.
type Held = (Option<State<f64>>, bool, Option<State<f64>>, Option<Vec<f64>>);

fn held(l: &dyn RecurrentLayer<f64>) -> Held {
    (
        l.final_state().cloned(),
        l.has_cache(),
        l.initial_state_grad().cloned(),
        l.gradient_trace().map(|t| t.norms().to_vec()),
    )
}

/// A trained-once layer: forward in Train mode from a good state, then one backward, so a
/// failed call has something to (not) overwrite.
fn primed<L: RecurrentLayer<f64>>(mut l: L, b: usize, t: usize, state: Option<&State<f64>>) -> L {
    let out = l.forward_with_state(x(b, t, l.input_size()).view(), state, Mode::Train).unwrap();
    l.backward(ArrayD::from_elem(out.raw_dim(), 0.5).view()).unwrap();
    l.forward_with_state(x(b, t, l.input_size()).view(), state, Mode::Train).unwrap();
    l
}

// ---------------------------------------------------------------------------------------
// Initial states
// ---------------------------------------------------------------------------------------

#[test]
fn lstm_initial_state_wrong_h_shape() {
    let good = State::with_cell(filled(2, 3, 0.1), filled(2, 3, 0.2));
    let mut l = primed(lstm(1, 3, false), 2, 4, Some(&good));
    let before = (snapshot(&l), held(&l));
    let bad = State::with_cell(filled(3, 3, 0.1), filled(2, 3, 0.2));
    let err = l.forward_with_state(x(2, 4, 1).view(), Some(&bad), Mode::Train).unwrap_err();
    let (what, expected, got) = shape_mismatch(err, &["LSTM initial state h", "expected (2, 3)", "got (3, 3)"]);
    assert_eq!((what.as_str(), expected.as_str(), got.as_str()), ("LSTM initial state h", "(2, 3)", "(3, 3)"));
    assert_eq!((snapshot(&l), held(&l)), before, "a rejected state must leave the layer as it was");

    // The same state stored with set_initial_state is rejected by forward alike.
    l.set_initial_state(Some(bad));
    let err = l.forward(x(2, 4, 1).into_dyn().view(), Mode::Train).unwrap_err();
    shape_mismatch(err, &["LSTM initial state h", "expected (2, 3)", "got (3, 3)"]);
    assert_eq!((snapshot(&l), held(&l)), before);
}

#[test]
fn lstm_initial_state_wrong_c_shape() {
    let mut l = primed(lstm(1, 3, true), 2, 4, None);
    let before = (snapshot(&l), held(&l));
    let bad = State::with_cell(filled(2, 3, 0.1), filled(2, 4, 0.2));
    let err = l.forward_with_state(x(2, 4, 1).view(), Some(&bad), Mode::Train).unwrap_err();
    let (what, expected, got) = shape_mismatch(err, &["LSTM initial state c", "expected (2, 3)", "got (2, 4)"]);
    assert_eq!((what.as_str(), expected.as_str(), got.as_str()), ("LSTM initial state c", "(2, 3)", "(2, 4)"));
    assert_eq!((snapshot(&l), held(&l)), before);
}

#[test]
fn lstm_initial_state_missing_c() {
    let mut l = primed(lstm(1, 3, false), 2, 4, None);
    let before = (snapshot(&l), held(&l));
    let err = l.forward_with_state(x(2, 4, 1).view(), Some(&State::new(filled(2, 3, 0.1))), Mode::Train).unwrap_err();
    // The LSTM needs c as well as h: expected a (B, H) c, got none.
    let (what, expected, got) = shape_mismatch(err, &["LSTM initial state c", "expected (2, 3)", "got none"]);
    assert_eq!((what.as_str(), expected.as_str(), got.as_str()), ("LSTM initial state c", "(2, 3)", "none"));
    assert_eq!((snapshot(&l), held(&l)), before);
}

#[test]
fn gru_initial_state_with_c() {
    let mut g = primed(gru(1, 3, false), 2, 4, None);
    let before = (snapshot(&g), held(&g));
    let bad = State::with_cell(filled(2, 3, 0.1), filled(2, 3, 0.2));
    let err = g.forward_with_state(x(2, 4, 1).view(), Some(&bad), Mode::Train).unwrap_err();
    let (what, expected, got) =
        shape_mismatch(err, &["GRU initial state c", "no cell state", "expected none", "got (2, 3)"]);
    assert_eq!(what, "GRU initial state c (this cell has no cell state)");
    assert_eq!((expected.as_str(), got.as_str()), ("none", "(2, 3)"));
    assert_eq!((snapshot(&g), held(&g)), before);
    // The object-safe check agrees.
    let err = RecurrentLayer::validate_state(&g, &bad, 2).unwrap_err();
    shape_mismatch(err, &["GRU initial state c", "expected none", "got (2, 3)"]);
}

// ---------------------------------------------------------------------------------------
// backward_with_state
// ---------------------------------------------------------------------------------------

#[test]
fn backward_with_state_wrong_grad_final_accumulates_nothing() {
    // LSTM: wrong h, wrong c, missing c. GRU: a c it does not have.
    let mut l = primed(lstm(2, 3, true), 2, 4, None);
    let g_out = ArrayD::from_elem(IxDyn(&[2, 4, 3]), 0.25);
    let before = (snapshot(&l), held(&l));
    let cases = [
        (State::with_cell(filled(2, 4, 1.0), filled(2, 3, 1.0)), "LSTM final state gradient h", "(2, 3)", "(2, 4)"),
        (State::with_cell(filled(2, 3, 1.0), filled(1, 3, 1.0)), "LSTM final state gradient c", "(2, 3)", "(1, 3)"),
        (State::new(filled(2, 3, 1.0)), "LSTM final state gradient c", "(2, 3)", "none"),
    ];
    for (gf, what_want, exp_want, got_want) in cases {
        let err = l.backward_with_state(g_out.view(), Some(&gf)).unwrap_err();
        let (what, expected, got) =
            shape_mismatch(err, &[what_want, &format!("expected {exp_want}"), &format!("got {got_want}")]);
        assert_eq!((what.as_str(), expected.as_str(), got.as_str()), (what_want, exp_want, got_want));
        assert_eq!((snapshot(&l), held(&l)), before, "{what_want}: nothing may be accumulated on error");
    }

    let mut g = primed(gru(2, 3, false), 2, 4, None);
    let before = (snapshot(&g), held(&g));
    let gf = State::with_cell(filled(2, 3, 1.0), filled(2, 3, 1.0));
    let err = g.backward_with_state(ArrayD::from_elem(IxDyn(&[2, 3]), 0.25).view(), Some(&gf)).unwrap_err();
    let (what, expected, got) = shape_mismatch(err, &["GRU final state gradient c", "expected none", "got (2, 3)"]);
    assert_eq!(what, "GRU final state gradient c (this cell has no cell state)");
    assert_eq!((expected.as_str(), got.as_str()), ("none", "(2, 3)"));
    assert_eq!((snapshot(&g), held(&g)), before);

    // The cache survived: a good call still works afterwards.
    l.backward_with_state(g_out.view(), Some(&State::with_cell(filled(2, 3, 1.0), filled(2, 3, 1.0)))).unwrap();
}

// ---------------------------------------------------------------------------------------
// Bidirectional: construction
// ---------------------------------------------------------------------------------------

// Wrapping a layer that is not recurrent (a Dense) no longer compiles: `Bidirectional::new`
// takes a `RecurrentLayer` (the compile_fail doctest on `Bidirectional` checks it).

#[test]
fn bidirectional_with_layers_mismatched_units() {
    let err = Bidirectional::with_layers(Box::new(lstm(2, 3, false)), Box::new(lstm(2, 4, false)), MergeMode::Concat)
        .unwrap_err();
    let (what, expected, got) =
        invalid_config(err, &["Bidirectional backward layer units", "the forward layer's (3)", "got 4"]);
    assert_eq!(
        (what.as_str(), expected.as_str(), got.as_str()),
        ("Bidirectional backward layer units", "the forward layer's (3)", "4")
    );
}

#[test]
fn bidirectional_with_layers_mismatched_input_size() {
    let err = Bidirectional::with_layers(Box::new(gru(2, 3, true)), Box::new(gru(5, 3, true)), MergeMode::Concat)
        .unwrap_err();
    let (what, expected, got) =
        invalid_config(err, &["Bidirectional backward layer input size", "the forward layer's (2)", "got 5"]);
    assert_eq!(
        (what.as_str(), expected.as_str(), got.as_str()),
        ("Bidirectional backward layer input size", "the forward layer's (2)", "5")
    );
}

#[test]
fn bidirectional_with_layers_mismatched_return_sequences() {
    let err = Bidirectional::with_layers(Box::new(lstm(2, 3, true)), Box::new(lstm(2, 3, false)), MergeMode::Concat)
        .unwrap_err();
    let (what, expected, got) = invalid_config(
        err,
        &["Bidirectional backward layer return_sequences", "the forward layer's (true)", "got false"],
    );
    assert_eq!(
        (what.as_str(), expected.as_str(), got.as_str()),
        ("Bidirectional backward layer return_sequences", "the forward layer's (true)", "false")
    );
}

#[test]
fn lstm_config_zero_units() {
    let err = LstmConfig::new(1, 0).init::<f64, _>(&mut rng()).unwrap_err();
    let (what, expected, got) = invalid_config(err, &["LSTM units", "at least 1", "got 0"]);
    assert_eq!((what.as_str(), expected.as_str(), got.as_str()), ("LSTM units", "at least 1", "0"));
}

#[test]
fn lstm_config_zero_input_size() {
    let err = LstmConfig::new(0, 3).init::<f32, _>(&mut rng()).unwrap_err();
    let (what, expected, got) = invalid_config(err, &["LSTM input size", "at least 1", "got 0"]);
    assert_eq!((what.as_str(), expected.as_str(), got.as_str()), ("LSTM input size", "at least 1", "0"));
}

#[test]
fn gru_config_zero_units() {
    for reset_after in [true, false] {
        let err = GruConfig::new(1, 0).with_reset_after(reset_after).init::<f64, _>(&mut rng()).unwrap_err();
        let (what, expected, got) = invalid_config(err, &["GRU units", "at least 1", "got 0"]);
        assert_eq!((what.as_str(), expected.as_str(), got.as_str()), ("GRU units", "at least 1", "0"));
    }
}

#[test]
fn gru_config_zero_input_size() {
    let err = GruConfig::new(0, 3).init::<f32, _>(&mut rng()).unwrap_err();
    let (what, expected, got) = invalid_config(err, &["GRU input size", "at least 1", "got 0"]);
    assert_eq!((what.as_str(), expected.as_str(), got.as_str()), ("GRU input size", "at least 1", "0"));
}

// ---------------------------------------------------------------------------------------
// Bidirectional: running
// ---------------------------------------------------------------------------------------

fn bi_lstm(seq: bool, merge: MergeMode) -> Bidirectional<f64> {
    let mut r = rng();
    Bidirectional::new(LstmConfig::new(2, 3).with_return_sequences(seq).init::<f64, _>(&mut r).unwrap(), merge, &mut r)
        .unwrap()
}

#[test]
fn bidirectional_backward_before_forward() {
    let mut bi = bi_lstm(true, MergeMode::Concat);
    let before = snapshot(&bi);
    let g = ArrayD::<f64>::zeros(IxDyn(&[2, 4, 6]));
    no_forward_cache(bi.backward(g.view()).unwrap_err(), "bidirectional");
    assert_eq!(snapshot(&bi), before);

    // After an inference forward pass too, and after clear_cache.
    bi.forward(x(2, 4, 2).into_dyn().view(), Mode::Infer).unwrap();
    no_forward_cache(bi.backward(g.view()).unwrap_err(), "bidirectional");
    bi.forward(x(2, 4, 2).into_dyn().view(), Mode::Train).unwrap();
    bi.clear_cache();
    assert!(!bi.has_cache());
    no_forward_cache(bi.backward(g.view()).unwrap_err(), "bidirectional");
    assert_eq!(snapshot(&bi), before);
}

#[test]
fn bidirectional_wrong_feature_count() {
    let mut bi = bi_lstm(false, MergeMode::Concat);
    let err = bi.forward(x(2, 4, 3).into_dyn().view(), Mode::Train).unwrap_err();
    // Reported by the wrapper itself, before either half runs.
    let (what, expected, got) = shape_mismatch(err, &["bidirectional input", "(B, T, 2)", "got (2, 4, 3)"]);
    assert_eq!(what, "bidirectional input");
    assert_eq!(expected, "(B, T, 2)");
    assert_eq!(got, "(2, 4, 3)");
    assert!(!bi.has_cache());

    // Wrong rank: reported by the wrapper itself.
    let err = bi.forward(ArrayD::<f64>::zeros(IxDyn(&[2, 2])).view(), Mode::Train).unwrap_err();
    let (what, expected, got) = shape_mismatch(err, &["bidirectional input", "(B, T, 2): rank 3", "(2, 2) (rank 2)"]);
    assert_eq!(
        (what.as_str(), expected.as_str(), got.as_str()),
        ("bidirectional input", "(B, T, 2): rank 3", "(2, 2) (rank 2)")
    );
}

#[test]
fn bidirectional_grad_output_of_wrong_shape_accumulates_nothing() {
    let mut bi = bi_lstm(true, MergeMode::Concat);
    bi.forward(x(2, 4, 2).into_dyn().view(), Mode::Train).unwrap();
    let before = snapshot(&bi);
    // Concat doubles the width: (2, 4, 6), not the half's (2, 4, 3).
    let err = bi.backward(ArrayD::<f64>::zeros(IxDyn(&[2, 4, 3])).view()).unwrap_err();
    let (what, expected, got) =
        shape_mismatch(err, &["bidirectional grad_output", "expected (2, 4, 6)", "got (2, 4, 3)"]);
    assert_eq!(what, "bidirectional grad_output (must match the output)");
    assert_eq!((expected.as_str(), got.as_str()), ("(2, 4, 6)", "(2, 4, 3)"));
    assert_eq!(snapshot(&bi), before);
    assert!(bi.has_cache(), "the cache survives a rejected gradient");
}

/// A bad state for the backward half is caught before either half runs: both halves keep
/// their final states and caches, and a following backward gives exactly what it would have
/// given without the failed call.
#[test]
fn failed_bidirectional_forward_leaves_both_halves_unchanged() {
    let xs = x(2, 4, 2);
    let g = ArrayD::from_shape_fn(IxDyn(&[2, 4, 6]), |ix| 0.1 * (ix[1] as f64) - 0.05 * (ix[2] as f64));
    let good_f = State::with_cell(filled(2, 3, 0.1), filled(2, 3, -0.2));
    let good_b = State::with_cell(filled(2, 3, -0.3), filled(2, 3, 0.4));

    // Reference: forward and backward with no failed call in between.
    let mut reference = bi_lstm(true, MergeMode::Concat);
    reference.forward_with_states(xs.view(), Some(&good_f), Some(&good_b), Mode::Train).unwrap();
    let want_dx = reference.backward(g.view()).unwrap();
    let want = snapshot(&reference);

    let mut bi = bi_lstm(true, MergeMode::Concat);
    bi.forward_with_states(xs.view(), Some(&good_f), Some(&good_b), Mode::Train).unwrap();
    let before = (held(bi.forward_layer()), held(bi.backward_layer()), snapshot(&bi));
    for bad in [
        State::new(filled(2, 3, 0.0)),                               // no c
        State::with_cell(filled(2, 3, 0.0), filled(2, 5, 0.0)),      // c of the wrong width
        State::with_cell(filled(1, 3, 0.0), filled(1, 3, 0.0)),      // wrong batch
        State::with_cell(filled(2, 3, f64::NAN), filled(2, 3, 0.0)), // not finite
    ] {
        // Different input, so a half that ran would have changed its final state.
        let err =
            bi.forward_with_states(x(2, 4, 2).mapv(|v| v * 2.0).view(), None, Some(&bad), Mode::Train).unwrap_err();
        assert_msg(&err, &["LSTM initial state"]);
        assert!(matches!(err, Error::ShapeMismatch { .. } | Error::NonFinite { .. }), "{err:?}");
        assert_eq!(
            (held(bi.forward_layer()), held(bi.backward_layer()), snapshot(&bi)),
            before,
            "a failed forward must leave both halves as they were ({err})"
        );
        assert!(bi.has_cache());
    }
    let dx = bi.backward(g.view()).unwrap();
    assert_eq!(dx, want_dx, "backward after the failed calls used the original caches");
    assert_eq!(snapshot(&bi), want);
}

// ---------------------------------------------------------------------------------------
// Halves desynchronised through backward_layer_mut / forward_layer_mut
// ---------------------------------------------------------------------------------------
//
// `Bidirectional::{forward,backward}_layer_mut` hand out `&mut dyn RecurrentLayer`, which
// includes `set_return_sequences`. With the halves disagreeing, a forward pass must return
// an Err before running either half (it once panicked in the merge, or merged wrong shapes
// when they happened to broadcast), and leave both halves as they were.
#[test]
fn desynchronised_bidirectional_halves_err_instead_of_panicking() {
    let mut failures = Vec::new();
    for merge in [MergeMode::Concat, MergeMode::Sum, MergeMode::Mul, MergeMode::Average] {
        for which in ["forward", "backward"] {
            let mut bi = bi_lstm(true, merge);
            match which {
                "forward" => bi.forward_layer_mut().set_return_sequences(false),
                _ => bi.backward_layer_mut().set_return_sequences(false),
            }
            let before = (held(bi.forward_layer()), held(bi.backward_layer()));
            let r = catch_unwind(AssertUnwindSafe(|| bi.forward(x(2, 4, 2).into_dyn().view(), Mode::Train)));
            match r {
                Err(_) => failures.push(format!("{merge:?}, {which} half set to last-state: forward panicked")),
                Ok(Ok(y)) => failures.push(format!("{merge:?}, {which} half: forward returned {:?}", y.shape())),
                Ok(Err(e)) => {
                    if (held(bi.forward_layer()), held(bi.backward_layer())) != before {
                        failures.push(format!("{merge:?}, {which} half: forward erred ({e}) but changed the halves"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "desynchronised halves:\n{}", failures.join("\n"));
}

// A half run on its own through `*_layer_mut` after the Bidirectional's forward pass keeps a
// valid training cache, but for another batch or length than the Bidirectional cached. Its
// backward must then fail before either half adds a gradient: the forward half runs first,
// so checking only inside the backward half's call leaves the forward half's gradients added.
#[test]
fn backward_after_a_half_ran_on_other_data_accumulates_nothing() {
    for (what, other) in [("batch 1", x(1, 4, 2)), ("length 3", x(2, 3, 2))] {
        for merge in [MergeMode::Concat, MergeMode::Sum, MergeMode::Mul, MergeMode::Average] {
            for which in ["forward", "backward"] {
                let mut bi = bi_lstm(true, merge);
                let y = bi.forward(x(2, 4, 2).into_dyn().view(), Mode::Train).unwrap();
                let half = if which == "forward" { bi.forward_layer_mut() } else { bi.backward_layer_mut() };
                half.forward_with_state(other.view(), None, Mode::Train).unwrap();
                let before = snapshot(&bi);
                let r = catch_unwind(AssertUnwindSafe(|| bi.backward(ArrayD::from_elem(y.raw_dim(), 1.0).view())));
                let case = format!("{merge:?}, {which} half rerun on {what}");
                match r {
                    Err(_) => panic!("{case}: backward panicked"),
                    Ok(Ok(dx)) => panic!("{case}: backward returned Ok {:?} from mismatched caches", dx.shape()),
                    Ok(Err(e)) => {
                        assert!(
                            matches!(e, Error::ShapeMismatch { .. } | Error::NoForwardCache { .. }),
                            "{case}: {e:?}"
                        );
                        assert!(snapshot(&bi) == before, "{case}: backward erred ({e}) but added gradients");
                    }
                }
            }
        }
    }
}
