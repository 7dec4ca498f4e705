//! Data helpers against hand-worked arrays: one-hot, Keras-style padding with masks, the
//! Keras tail split, seeded shuffling and batching; the errors each documents; and a
//! property test that an epoch of batches visits every sample exactly once.

use ndarray::{array, s, Array1, Array2, Array3, ArrayView2, Axis};
use proptest::prelude::*;
use recurrent::data::{one_hot, pad_ids, pad_sequences, shuffle, train_val_split, Batches, Padding, Truncating};
use recurrent::prelude::*;

fn err<T: std::fmt::Debug>(r: recurrent::Result<T>) -> Error {
    r.expect_err("expected an error")
}

// ---------------------------------------------------------------------------------------
// one_hot
// ---------------------------------------------------------------------------------------

#[test]
fn one_hot_rows() {
    let y = one_hot::<f64>(&[1, 0, 3, 1], 4).unwrap();
    assert_eq!(y, array![[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0]]);
    assert_eq!(one_hot::<f32>(&[0], 1).unwrap(), array![[1.0_f32]]);
}

#[test]
fn one_hot_errors() {
    let e = err(one_hot::<f64>(&[0, 2, 5], 3));
    let Error::OutOfRange { ref expected, ref got, ref index, .. } = e else { panic!("{e:?}") };
    assert!(expected.contains("[0, 3)") && got == "5" && index == "[2]", "{e}");
    assert!(matches!(err(one_hot::<f64>(&[0], 0)), Error::InvalidConfig { .. }));
    assert!(matches!(err(one_hot::<f64>(&[], 2)), Error::Empty { .. }));
}

// ---------------------------------------------------------------------------------------
// pad_sequences
// ---------------------------------------------------------------------------------------

/// Four sequences of 2 features, lengths 4, 1, 0, 2; step k of a sequence is [k, −k].
fn ragged() -> Vec<Array2<f64>> {
    let seq =
        |steps: &[f64]| Array2::from_shape_fn((steps.len(), 2), |(t, f)| if f == 0 { steps[t] } else { -steps[t] });
    vec![seq(&[1.0, 2.0, 3.0, 4.0]), seq(&[5.0]), seq(&[]), seq(&[6.0, 7.0])]
}

/// The first feature of every row, and the mask, for comparison by eye.
fn first_feature(x: &Array3<f64>) -> Array2<f64> {
    x.index_axis(Axis(2), 0).to_owned()
}

#[test]
fn pad_pre_is_keras_default() {
    let (x, mask) = pad_sequences(&ragged(), None, Padding::Pre, Truncating::Pre, 0.0).unwrap();
    assert_eq!(x.shape(), &[4, 4, 2]); // T = the longest, 4
    assert_eq!(
        first_feature(&x),
        array![[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 5.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 6.0, 7.0]]
    );
    // Every feature of a step moves together.
    assert_eq!(x.slice(s![3, .., 1]), array![0.0, 0.0, -6.0, -7.0]);
    assert_eq!(
        mask,
        array![[true, true, true, true], [false, false, false, true], [false; 4], [false, false, true, true]]
    );
}

#[test]
fn pad_post_with_a_value() {
    let (x, mask) = pad_sequences(&ragged(), None, Padding::Post, Truncating::Pre, -9.0).unwrap();
    assert_eq!(
        first_feature(&x),
        array![[1.0, 2.0, 3.0, 4.0], [5.0, -9.0, -9.0, -9.0], [-9.0; 4], [6.0, 7.0, -9.0, -9.0]]
    );
    assert_eq!(x.slice(s![1, .., 1]), array![-5.0, -9.0, -9.0, -9.0]); // padding fills every feature
    assert_eq!(
        mask,
        array![[true, true, true, true], [true, false, false, false], [false; 4], [true, true, false, false]]
    );
}

#[test]
fn truncate_pre_keeps_the_end_and_post_the_start() {
    // maxlen 3 cuts only the first sequence (length 4).
    let (x, mask) = pad_sequences(&ragged(), Some(3), Padding::Pre, Truncating::Pre, 0.0).unwrap();
    assert_eq!(first_feature(&x), array![[2.0, 3.0, 4.0], [0.0, 0.0, 5.0], [0.0; 3], [0.0, 6.0, 7.0]]);
    assert_eq!(mask.row(0), array![true, true, true]);
    let (x, _) = pad_sequences(&ragged(), Some(3), Padding::Pre, Truncating::Post, 0.0).unwrap();
    assert_eq!(first_feature(&x).row(0), array![1.0, 2.0, 3.0]);
    // Post padding with pre truncation: [2, 3, 4], [5, pad, pad], ...
    let (x, mask) = pad_sequences(&ragged(), Some(3), Padding::Post, Truncating::Pre, 0.0).unwrap();
    assert_eq!(first_feature(&x), array![[2.0, 3.0, 4.0], [5.0, 0.0, 0.0], [0.0; 3], [6.0, 7.0, 0.0]]);
    assert_eq!(mask, array![[true, true, true], [true, false, false], [false; 3], [true, true, false]]);
    // A maxlen longer than every sequence pads them all.
    let (x, mask) = pad_sequences(&ragged(), Some(6), Padding::Pre, Truncating::Pre, 0.0).unwrap();
    assert_eq!(first_feature(&x).row(0), array![0.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
    assert_eq!(mask.row(3), array![false, false, false, false, true, true]);
}

#[test]
fn pad_sequences_takes_views_and_f32() {
    let a = [1.0_f32, 2.0, 3.0];
    let b = [4.0_f32];
    let views = [ArrayView2::from_shape((3, 1), &a).unwrap(), ArrayView2::from_shape((1, 1), &b).unwrap()];
    let (x, mask) = pad_sequences(&views, None, Padding::default(), Truncating::default(), 0.0).unwrap();
    assert_eq!(x, array![[[1.0_f32], [2.0], [3.0]], [[0.0], [0.0], [4.0]]]);
    assert_eq!(mask, array![[true, true, true], [false, false, true]]);
}

#[test]
fn pad_sequences_errors() {
    let none: [Array2<f64>; 0] = [];
    assert!(matches!(err(pad_sequences(&none, None, Padding::Pre, Truncating::Pre, 0.0)), Error::Empty { .. }));
    let e = err(pad_sequences(&ragged(), Some(0), Padding::Pre, Truncating::Pre, 0.0));
    let Error::InvalidConfig { ref what, .. } = e else { panic!("{e:?}") };
    assert!(what.contains("maxlen"), "{e}");
    let e = err(pad_sequences(&ragged(), None, Padding::Pre, Truncating::Pre, f64::NAN));
    let Error::InvalidConfig { ref what, .. } = e else { panic!("{e:?}") };
    assert!(what.contains("value"), "{e}");
    // Only empty sequences: no feature count, no length.
    let empties = [Array2::<f64>::zeros((0, 2)), Array2::zeros((0, 2))];
    let e = err(pad_sequences(&empties, Some(3), Padding::Pre, Truncating::Pre, 0.0));
    assert!(matches!(e, Error::InvalidConfig { .. }), "{e:?}");
    // Sequence 3 has 3 features where the first has 2.
    let mut seqs = ragged();
    seqs[3] = Array2::zeros((2, 3));
    let e = err(pad_sequences(&seqs, None, Padding::Pre, Truncating::Pre, 0.0));
    let Error::ShapeMismatch { ref what, ref expected, ref got } = e else { panic!("{e:?}") };
    assert!(what.contains("sequence 3") && expected.contains("(T, 2)") && got == "(2, 3)", "{e}");
    // No features at all.
    let e = err(pad_sequences(&[Array2::<f64>::zeros((2, 0))], None, Padding::Pre, Truncating::Pre, 0.0));
    assert!(matches!(e, Error::Empty { .. }), "{e:?}");
    // NaN inside sequence 1, step 0.
    let mut seqs = ragged();
    seqs[1][[0, 1]] = f64::NAN;
    let e = err(pad_sequences(&seqs, None, Padding::Pre, Truncating::Pre, 0.0));
    let Error::NonFinite { ref what, ref index, .. } = e else { panic!("{e:?}") };
    assert!(what.contains("sequence 1") && index == "[0, 1]", "{e}");
}

// ---------------------------------------------------------------------------------------
// pad_ids
// ---------------------------------------------------------------------------------------

#[test]
fn pad_ids_pre_and_post() {
    let seqs = vec![vec![3, 1, 4, 1, 5], vec![9], vec![], vec![2, 6]];
    let (ids, mask) = pad_ids::<f64, _>(&seqs, Some(3), Padding::Pre, Truncating::Pre, 0).unwrap();
    assert_eq!(ids, array![[4.0, 1.0, 5.0], [0.0, 0.0, 9.0], [0.0; 3], [0.0, 2.0, 6.0]]);
    assert_eq!(mask, array![[true; 3], [false, false, true], [false; 3], [false, true, true]]);
    let (ids, mask) = pad_ids::<f32, _>(&seqs, None, Padding::Post, Truncating::Post, 7).unwrap();
    assert_eq!(
        ids,
        array![[3.0_f32, 1.0, 4.0, 1.0, 5.0], [9.0, 7.0, 7.0, 7.0, 7.0], [7.0; 5], [2.0, 6.0, 7.0, 7.0, 7.0]]
    );
    assert_eq!(mask.row(3), array![true, true, false, false, false]);
    // Slices work too, and all-empty sequences with a maxlen are all padding.
    let empty: [&[usize]; 2] = [&[], &[]];
    let (ids, mask) = pad_ids::<f64, _>(&empty, Some(2), Padding::Pre, Truncating::Pre, 0).unwrap();
    assert_eq!(ids, Array2::<f64>::zeros((2, 2)));
    assert!(mask.iter().all(|m| !m));
}

#[test]
fn pad_ids_errors() {
    let none: [Vec<usize>; 0] = [];
    assert!(matches!(err(pad_ids::<f64, _>(&none, None, Padding::Pre, Truncating::Pre, 0)), Error::Empty { .. }));
    let empty = [Vec::<usize>::new()];
    assert!(matches!(
        err(pad_ids::<f64, _>(&empty, None, Padding::Pre, Truncating::Pre, 0)),
        Error::InvalidConfig { .. }
    ));
    assert!(matches!(
        err(pad_ids::<f64, _>(&[vec![1]], Some(0), Padding::Pre, Truncating::Pre, 0)),
        Error::InvalidConfig { .. }
    ));
    // 2^24 is the last integer of a run that f32 holds exactly; 2^24 + 1 is not.
    let big = 1usize << 24;
    let (ids, _) = pad_ids::<f32, _>(&[vec![big]], None, Padding::Pre, Truncating::Pre, 0).unwrap();
    assert_eq!(ids[[0, 0]], 16_777_216.0_f32);
    let e = err(pad_ids::<f32, _>(&[vec![0, big + 1]], None, Padding::Pre, Truncating::Pre, 0));
    let Error::OutOfRange { ref what, ref got, ref index, .. } = e else { panic!("{e:?}") };
    assert!(what.contains("sequence 0") && got == "16777217" && index == "[1]", "{e}");
    let (ids, _) = pad_ids::<f64, _>(&[vec![big + 1]], None, Padding::Pre, Truncating::Pre, 0).unwrap();
    assert_eq!(ids[[0, 0]], 16_777_217.0);
    let e = err(pad_ids::<f32, _>(&[vec![1]], None, Padding::Pre, Truncating::Pre, big + 1));
    assert!(matches!(e, Error::OutOfRange { .. }), "{e:?}");
}

// ---------------------------------------------------------------------------------------
// train_val_split and shuffle
// ---------------------------------------------------------------------------------------

/// x (n, 2, 1) with x[i] = i everywhere; y (n,) with y[i] = 10 i.
fn numbered(n: usize) -> (Array3<f64>, Array1<f64>) {
    (Array3::from_shape_fn((n, 2, 1), |(i, _, _)| i as f64), Array1::from_shape_fn(n, |i| 10.0 * i as f64))
}

#[test]
fn split_takes_the_last_fraction_as_keras() {
    let (x, y) = numbered(10);
    // ⌊10 · 0.8⌋ = 8: samples 0..8 train, 8 and 9 validate; nothing shuffled.
    let ((x_tr, y_tr), (x_val, y_val)) = train_val_split(&x, &y, 0.2).unwrap();
    assert_eq!((x_tr.shape(), x_val.shape()), (&[8, 2, 1][..], &[2, 2, 1][..]));
    assert_eq!(y_tr, array![0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0]);
    assert_eq!(y_val, array![80.0, 90.0]);
    assert_eq!(x_val.slice(s![.., 0, 0]), array![8.0, 9.0]);
    // ⌊10 · 0.75⌋ = ⌊7.5⌋ = 7.
    let ((_, y_tr), (_, y_val)) = train_val_split(&x, &y, 0.25).unwrap();
    assert_eq!((y_tr.len(), y_val.len()), (7, 3));
    // Keras's arithmetic exactly: 10 · (1 − 0.8) = 1.9999999999999996 in binary → 1 training sample.
    let ((_, y_tr), (_, y_val)) = train_val_split(&x, &y, 0.8).unwrap();
    assert_eq!((y_tr, y_val.len()), (array![0.0], 9));
    // ⌊3 · 0.9⌋ = 2.
    let (x3, y3) = numbered(3);
    let ((_, y_tr), (_, y_val)) = train_val_split(&x3, &y3, 0.1).unwrap();
    assert_eq!((y_tr, y_val), (array![0.0, 10.0], array![20.0]));
}

#[test]
fn split_errors() {
    let (x, y) = numbered(5);
    for bad in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
        let e = err(train_val_split(&x, &y, bad));
        let Error::InvalidConfig { ref what, ref expected, .. } = e else { panic!("{e:?}") };
        assert!(what == "validation_split" && expected.contains("(0, 1)"), "{e}");
    }
    // ⌊5 · (1 − 0.8)⌋ = ⌊0.9999999999999998⌋ = 0 training samples; one sample with a tiny
    // fraction keeps ⌊1 · (1 − 1e-17)⌋ = 1, none for validation. Keras refuses both.
    for (n, frac) in [(5, 0.8), (1, 1e-17)] {
        let (x, y) = numbered(n);
        let e = err(train_val_split(&x, &y, frac));
        let Error::InvalidConfig { ref expected, .. } = e else { panic!("{e:?}") };
        assert!(expected.contains("each part"), "{e}");
    }
    let e = err(train_val_split(&x, &array![1.0, 2.0], 0.2));
    let Error::ShapeMismatch { ref expected, ref got, .. } = e else { panic!("{e:?}") };
    assert!(expected == "(5, ...)" && got == "(2,)", "{e}");
    let scalar = ndarray::arr0(1.0);
    assert!(matches!(err(train_val_split(&scalar, &scalar, 0.2)), Error::ShapeMismatch { .. }));
    let (x0, y0) = numbered(0);
    assert!(matches!(err(train_val_split(&x0, &y0, 0.2)), Error::Empty { .. }));
}

#[test]
fn shuffle_keeps_pairs_and_is_reproducible() {
    let (x, y) = numbered(20);
    let (xs, ys) = shuffle(&x, &y, &mut StdRng::seed_from_u64(3)).unwrap();
    // Still paired: y = 10 x, and still every sample once.
    assert_eq!(xs.slice(s![.., 1, 0]).mapv(|v| 10.0 * v), ys);
    let mut sorted = ys.to_vec();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(sorted, y.to_vec());
    assert_ne!(ys, y, "20 samples should move under a shuffle");
    let (_, again) = shuffle(&x, &y, &mut StdRng::seed_from_u64(3)).unwrap();
    assert_eq!(again, ys);
    assert!(matches!(err(shuffle(&x, &array![1.0], &mut StdRng::seed_from_u64(3))), Error::ShapeMismatch { .. }));
}

// ---------------------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------------------

#[test]
fn batches_in_order_keep_the_last_partial_batch() {
    let (x, y) = numbered(5);
    let mut it = Batches::new(&x, &y, 2).unwrap();
    assert_eq!((it.len(), it.batch_size(), it.samples()), (3, 2, 5));
    let (xb, yb) = it.next().unwrap();
    assert_eq!(xb.shape(), &[2, 2, 1]);
    assert_eq!(yb, array![0.0, 10.0]);
    assert_eq!(it.len(), 2);
    assert_eq!(it.next().unwrap().1, array![20.0, 30.0]);
    let (xb, yb) = it.next().unwrap();
    assert_eq!((xb.shape(), yb), (&[1, 2, 1][..], array![40.0]));
    assert!(it.next().is_none() && it.next().is_none());
    // A batch larger than the data is the whole data once.
    let all: Vec<_> = Batches::new(&x, &y, 64).unwrap().collect();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].0, x);
}

#[test]
fn shuffled_batches_follow_the_seed() {
    let (x, y) = numbered(7);
    let a = Batches::shuffled(&x, &y, 3, &mut StdRng::seed_from_u64(11)).unwrap();
    let b = Batches::shuffled(&x, &y, 3, &mut StdRng::seed_from_u64(11)).unwrap();
    assert_eq!(a.order(), b.order());
    let order = a.order().to_vec();
    let ys: Vec<f64> = a.flat_map(|(_, yb)| yb).collect();
    assert_eq!(ys, order.iter().map(|&i| 10.0 * i as f64).collect::<Vec<_>>());
    // One RNG drawn twice gives two different epochs (7! orders, so a repeat is unlikely).
    let mut rng = StdRng::seed_from_u64(11);
    let first = Batches::shuffled(&x, &y, 3, &mut rng).unwrap().order().to_vec();
    let second = Batches::shuffled(&x, &y, 3, &mut rng).unwrap().order().to_vec();
    assert_ne!(first, second);
}

#[test]
fn batches_errors() {
    let (x, y) = numbered(4);
    let e = err(Batches::new(&x, &y, 0));
    let Error::InvalidConfig { ref what, .. } = e else { panic!("{e:?}") };
    assert_eq!(what, "batch size");
    let e = err(Batches::new(&x, &array![1.0, 2.0, 3.0], 2));
    let Error::ShapeMismatch { ref expected, ref got, .. } = e else { panic!("{e:?}") };
    assert!(expected == "(4, ...)" && got == "(3,)", "{e}");
    let x_empty = Array3::<f64>::zeros((4, 0, 1));
    let e = err(Batches::new(&x_empty, &y, 2));
    let Error::Empty { ref axis, .. } = e else { panic!("{e:?}") };
    assert_eq!(axis, "axis 1");
}

proptest! {
    #[test]
    fn an_epoch_visits_every_sample_exactly_once(n in 1usize..60, batch in 1usize..70, seed: u64, shuffled: bool) {
        // x[i] = [i, −i], y[i] = [10 i]: a batch's rows must stay paired.
        let x = Array2::from_shape_fn((n, 2), |(i, f)| if f == 0 { i as f64 } else { -(i as f64) });
        let y = Array2::from_shape_fn((n, 1), |(i, _)| 10.0 * i as f64);
        let it = if shuffled {
            Batches::shuffled(&x, &y, batch, &mut StdRng::seed_from_u64(seed)).unwrap()
        } else {
            Batches::new(&x, &y, batch).unwrap()
        };
        let expected_batches = n.div_ceil(batch);
        prop_assert_eq!(it.len(), expected_batches);
        let mut seen = vec![0usize; n];
        let mut count = 0;
        for (k, (xb, yb)) in it.enumerate() {
            let rows = xb.nrows();
            prop_assert_eq!(rows, if k + 1 < expected_batches { batch } else { n - batch * (expected_batches - 1) });
            prop_assert_eq!(yb.nrows(), rows);
            for r in 0..rows {
                let i = xb[[r, 0]] as usize;
                prop_assert_eq!(xb[[r, 1]], -(i as f64));
                prop_assert_eq!(yb[[r, 0]], 10.0 * i as f64);
                seen[i] += 1;
            }
            count += 1;
        }
        prop_assert_eq!(count, expected_batches);
        prop_assert!(seen.iter().all(|&c| c == 1), "visits per sample: {:?}", seen);
    }
}
