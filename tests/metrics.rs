//! Metrics against hand-worked numbers. Every expected value below is worked out by hand in
//! the comments from the confusion counts, and is what scikit-learn 1.9 returns for the same
//! labels (`accuracy_score`, `precision_score`/`recall_score`/`f1_score` with `average` and
//! `zero_division`, `confusion_matrix`, `mean_squared_error`, `mean_absolute_error`,
//! `root_mean_squared_error`, `r2_score`; checked once by hand, not part of this suite).

use ndarray::{array, Array1, Array2, Array3, ArrayD, IxDyn};
use recurrent::metrics::{
    accuracy, binary_accuracy, categorical_accuracy, confusion_matrix, f1, mae, mse, precision, r2, recall, rmse,
    Average, ConfusionMatrix, Metric, ZeroDivision,
};
use recurrent::Error;

const ZD: [ZeroDivision; 2] = [ZeroDivision::Zero, ZeroDivision::One];

fn close(got: f64, want: f64) {
    assert!((got - want).abs() <= 1e-12 * want.abs().max(1.0), "got {got}, want {want}");
}

/// Precision, recall and F1 under one averaging.
fn prf(p: &ArrayD<f64>, t: &ArrayD<f64>, average: Average, zd: ZeroDivision) -> [f64; 3] {
    [precision(p, t, average, zd).unwrap(), recall(p, t, average, zd).unwrap(), f1(p, t, average, zd).unwrap()]
}

fn assert_prf(got: [f64; 3], want: [f64; 3], case: &str) {
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-12, "{case}: got {got:?}, want {want:?}");
    }
}

/// Class-score rows whose argmax is `labels` (0.6 on the label, 0.2 elsewhere).
fn scores(labels: &[usize], classes: usize) -> Array2<f64> {
    Array2::from_shape_fn((labels.len(), classes), |(i, k)| if labels[i] == k { 0.6 } else { 0.2 })
}

fn indices(labels: &[usize]) -> Array1<f64> {
    labels.iter().map(|&l| l as f64).collect()
}

// ---------------------------------------------------------------------------------------
// Binary
// ---------------------------------------------------------------------------------------

/// p      0.9  0.6  0.4  0.2  0.7  0.8  0.55 0.3      (> 0.5 → 1 1 0 0 1 1 1 0)
/// t      1    1    1    0    0    0    1    0
///        TP   TP   FN   TN   FP   FP   TP   TN       TP 3, FP 2, FN 1, TN 2
fn case_a() -> (ArrayD<f64>, ArrayD<f64>) {
    (
        array![0.9, 0.6, 0.4, 0.2, 0.7, 0.8, 0.55, 0.3].into_dyn(),
        array![1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0].into_dyn(),
    )
}

#[test]
fn binary_counts_and_scores() {
    let (p, t) = case_a();
    // accuracy (3 + 2) / 8
    assert_eq!(accuracy(&p, &t).unwrap(), 0.625);
    assert_eq!(binary_accuracy(&p, &t, 0.5).unwrap(), 0.625);
    let cm = confusion_matrix(&p, &t).unwrap();
    assert_eq!(cm.counts(), &array![[2, 2], [1, 3]]); // rows true 0/1: [TN FP], [FN TP]
    for zd in ZD {
        // class 1: P = 3/5, R = 3/4, F1 = 2·3 / (2·3 + 2 + 1) = 2/3
        assert_prf(prf(&p, &t, Average::Binary, zd), [0.6, 0.75, 2.0 / 3.0], "binary");
        // class 0: TP 2, predicted 0 three times, support 4: P = 2/3, R = 1/2, F1 = 4/(4 + 1 + 2) = 4/7
        // macro P = (3/5 + 2/3)/2 = 19/30, R = (3/4 + 1/2)/2 = 5/8, F1 = (2/3 + 4/7)/2 = 13/21
        assert_prf(prf(&p, &t, Average::Macro, zd), [19.0 / 30.0, 0.625, 13.0 / 21.0], "macro");
        // supports 4 and 4: weighted = macro here
        assert_prf(prf(&p, &t, Average::Weighted, zd), [19.0 / 30.0, 0.625, 13.0 / 21.0], "weighted");
        // micro: 5 correct of 8
        assert_prf(prf(&p, &t, Average::Micro, zd), [0.625; 3], "micro");
    }
}

#[test]
fn binary_shapes_with_a_trailing_axis_of_one_agree() {
    let (p, t) = case_a();
    let p_col = p.clone().into_shape_with_order((8, 1)).unwrap().into_dyn();
    let t_col = t.clone().into_shape_with_order((8, 1)).unwrap().into_dyn();
    for (pp, tt) in [(&p_col, &t), (&p, &t_col), (&p_col, &t_col)] {
        assert_eq!(accuracy(pp, tt).unwrap(), 0.625);
        assert_eq!(precision(pp, tt, Average::Binary, ZeroDivision::Zero).unwrap(), 0.6);
    }
    // (B, T, 1) against (B, T): every position a sample.
    let p_seq = p.clone().into_shape_with_order((2, 4, 1)).unwrap();
    let t_seq = t.clone().into_shape_with_order((2, 4)).unwrap();
    assert_eq!(accuracy(&p_seq, &t_seq).unwrap(), 0.625);
    assert_eq!(recall(&p_seq, &t_seq, Average::Binary, ZeroDivision::Zero).unwrap(), 0.75);
}

#[test]
fn binary_f32_matches_f64() {
    let (p, t) = case_a();
    let (p32, t32) = (p.mapv(|v| v as f32), t.mapv(|v| v as f32));
    assert_eq!(accuracy(&p32, &t32).unwrap(), 0.625_f32);
    assert_eq!(f1(&p32, &t32, Average::Binary, ZeroDivision::Zero).unwrap(), (2.0_f64 / 3.0) as f32);
    assert_eq!(f1(&p32, &t32, Average::Macro, ZeroDivision::Zero).unwrap(), (13.0_f64 / 21.0) as f32);
}

#[test]
fn threshold_is_strict_and_may_be_zero_for_logits() {
    // 0.5 is not > 0.5 (Keras): predicted 0, 1, 1 against 0, 1, 0 → 2/3.
    let p = array![0.5_f64, 0.51, 0.9];
    let t = array![0.0, 1.0, 0.0];
    assert_eq!(binary_accuracy(&p, &t, 0.5).unwrap(), 2.0 / 3.0);
    // At 0.95 all are 0: 2/3 again but a different pair right.
    assert_eq!(binary_accuracy(&p, &t, 0.95).unwrap(), 2.0 / 3.0);
    assert_eq!(ConfusionMatrix::binary(&p, &t, 0.95).unwrap().counts(), &array![[2, 0], [1, 0]]);
    // Logits with threshold 0: −2 → 0, 3 → 1, 0 → 0 (not > 0); targets 0, 1, 1 → 2/3.
    let z = array![-2.0_f64, 3.0, 0.0];
    let t = array![0.0, 1.0, 1.0];
    assert_eq!(binary_accuracy(&z, &t, 0.0).unwrap(), 2.0 / 3.0);
    // Multi-label (N, K): every element is a sample: 3 of 4 right.
    let p = array![[0.9_f64, 0.1], [0.8, 0.7]];
    let t = array![[1.0, 0.0], [1.0, 0.0]];
    assert_eq!(binary_accuracy(&p, &t, 0.5).unwrap(), 0.75);
}

// ---------------------------------------------------------------------------------------
// Zero division: every case of the module's table, both settings
// ---------------------------------------------------------------------------------------

#[test]
fn zero_division_no_predicted_positives() {
    // p → 0 0 0 against t 1 0 0: class 1 TP 0, FP 0, FN 1.
    let p = array![0.1, 0.2, 0.3].into_dyn();
    let t = array![1.0, 0.0, 0.0].into_dyn();
    for zd in ZD {
        let z = zd.value();
        // P = 0/0 → zd; R = 0/1 = 0; F1 = 0/(0 + 0 + 1) = 0 whatever zd.
        assert_prf(prf(&p, &t, Average::Binary, zd), [z, 0.0, 0.0], "binary");
        // class 0: TP 2, predicted 3, support 2: P = 2/3, R = 1, F1 = 4/(4 + 1) = 4/5.
        // macro over {0, 1}: P = (2/3 + z)/2, R = (1 + 0)/2, F1 = (4/5 + 0)/2
        assert_prf(prf(&p, &t, Average::Macro, zd), [(2.0 / 3.0 + z) / 2.0, 0.5, 0.4], "macro");
        // supports 2, 1: P = (2·2/3 + z)/3, R = (2·1 + 0)/3, F1 = (2·4/5)/3
        assert_prf(prf(&p, &t, Average::Weighted, zd), [(4.0 / 3.0 + z) / 3.0, 2.0 / 3.0, 1.6 / 3.0], "weighted");
        assert_prf(prf(&p, &t, Average::Micro, zd), [2.0 / 3.0; 3], "micro");
    }
}

#[test]
fn zero_division_no_actual_positives() {
    // p → 1 0 0 against t 0 0 0: class 1 TP 0, FP 1, FN 0.
    let p = array![0.9, 0.2, 0.3].into_dyn();
    let t = array![0.0, 0.0, 0.0].into_dyn();
    for zd in ZD {
        let z = zd.value();
        // P = 0/1 = 0; R = 0/0 → zd; F1 = 0/(0 + 1 + 0) = 0 whatever zd.
        assert_prf(prf(&p, &t, Average::Binary, zd), [0.0, z, 0.0], "binary");
        // class 0: TP 2, predicted 2, support 3: P = 1, R = 2/3, F1 = 4/(3 + 2) = 4/5.
        // class 1 is present (predicted), so macro runs over {0, 1}.
        assert_prf(prf(&p, &t, Average::Macro, zd), [0.5, (2.0 / 3.0 + z) / 2.0, 0.4], "macro");
        // supports 3, 0: class 1 weighs nothing.
        assert_prf(prf(&p, &t, Average::Weighted, zd), [1.0, 2.0 / 3.0, 0.8], "weighted");
        assert_prf(prf(&p, &t, Average::Micro, zd), [2.0 / 3.0; 3], "micro");
    }
}

#[test]
fn zero_division_neither_predicted_nor_actual_positives() {
    // p → 0 0 against t 0 0: class 1 TP = FP = FN = 0.
    let p = array![0.1, 0.2].into_dyn();
    let t = array![0.0, 0.0].into_dyn();
    for zd in ZD {
        let z = zd.value();
        // P = 0/0, R = 0/0, F1 = 0/0: all zd.
        assert_prf(prf(&p, &t, Average::Binary, zd), [z, z, z], "binary");
        // class 1 occurs nowhere: macro runs over {0} alone, where everything is 2/2.
        assert_prf(prf(&p, &t, Average::Macro, zd), [1.0; 3], "macro");
        assert_prf(prf(&p, &t, Average::Weighted, zd), [1.0; 3], "weighted");
        assert_prf(prf(&p, &t, Average::Micro, zd), [1.0; 3], "micro");
    }
    assert_eq!(accuracy(&p, &t).unwrap(), 1.0);
    let cm = confusion_matrix(&p, &t).unwrap();
    assert_eq!(cm.labels_present(), array![true, false]);
}

// ---------------------------------------------------------------------------------------
// Multi-class
// ---------------------------------------------------------------------------------------

/// truth      0 0 1 1 1 2 2 2
/// predicted  0 1 1 1 2 2 2 2
///
/// M = [[1, 1, 0],      TP        = [1, 2, 3]
///      [0, 2, 1],      predicted = [1, 3, 4]   (column sums)
///      [0, 0, 3]]      support   = [2, 3, 3]   (row sums)
const TRUTH_C: [usize; 8] = [0, 0, 1, 1, 1, 2, 2, 2];
const PRED_C: [usize; 8] = [0, 1, 1, 1, 2, 2, 2, 2];

#[test]
fn multiclass_counts_per_class_and_averages() {
    let p = scores(&PRED_C, 3).into_dyn();
    let t = indices(&TRUTH_C).into_dyn();
    let cm = confusion_matrix(&p, &t).unwrap();
    assert_eq!(cm.counts(), &array![[1, 1, 0], [0, 2, 1], [0, 0, 3]]);
    assert_eq!(cm, ConfusionMatrix::from_labels(&TRUTH_C, &PRED_C, 3).unwrap());
    assert_eq!(cm.true_positives(), array![1, 2, 3]);
    assert_eq!(cm.false_positives(), array![0, 1, 1]);
    assert_eq!(cm.false_negatives(), array![1, 1, 0]);
    assert_eq!(cm.true_negatives(), array![6, 4, 4]); // 8 − TP − FP − FN
    assert_eq!(cm.support(), array![2, 3, 3]);
    assert_eq!(cm.predicted(), array![1, 3, 4]);
    assert_eq!((cm.classes(), cm.total()), (3, 8));
    assert_eq!(cm.accuracy(), 0.75);

    let zd = ZeroDivision::Zero;
    // P_k = TP/predicted = 1, 2/3, 3/4;  R_k = TP/support = 1/2, 2/3, 1;
    // F1_k = 2TP/(support + predicted) = 2/3, 4/6, 6/7
    let (pc, rc, fc) = (cm.precision_per_class(zd), cm.recall_per_class(zd), cm.f1_per_class(zd));
    for (got, want) in
        [(pc, [1.0, 2.0 / 3.0, 0.75]), (rc, [0.5, 2.0 / 3.0, 1.0]), (fc, [2.0 / 3.0, 2.0 / 3.0, 6.0 / 7.0])]
    {
        got.iter().zip(want).for_each(|(&g, w)| close(g, w));
    }
    // macro: P = (1 + 2/3 + 3/4)/3 = 29/36, R = (1/2 + 2/3 + 1)/3 = 13/18, F1 = (2/3 + 2/3 + 6/7)/3 = 46/63
    assert_prf(prf(&p, &t, Average::Macro, zd), [29.0 / 36.0, 13.0 / 18.0, 46.0 / 63.0], "macro");
    // weighted by 2, 3, 3 over 8: P = (2 + 2 + 9/4)/8 = 25/32, R = (1 + 2 + 3)/8 = 3/4,
    // F1 = (4/3 + 2 + 18/7)/8 = 31/42
    assert_prf(prf(&p, &t, Average::Weighted, zd), [25.0 / 32.0, 0.75, 31.0 / 42.0], "weighted");
    assert_prf(prf(&p, &t, Average::Micro, zd), [0.75; 3], "micro");
    assert_eq!(accuracy(&p, &t).unwrap(), 0.75);
    assert_eq!(categorical_accuracy(&p, &t).unwrap(), 0.75);
}

#[test]
fn multiclass_targets_as_indices_column_one_hot_and_sequences_agree() {
    let p = scores(&PRED_C, 3);
    let one_hot = scores(&TRUTH_C, 3).mapv(|v| if v > 0.5 { 1.0 } else { 0.0 });
    let idx = indices(&TRUTH_C);
    let idx_col = idx.clone().into_shape_with_order((8, 1)).unwrap();
    let want = [29.0 / 36.0, 13.0 / 18.0, 46.0 / 63.0];
    let pd = p.clone().into_dyn();
    for t in [one_hot.clone().into_dyn(), idx.clone().into_dyn(), idx_col.into_dyn()] {
        assert_eq!(categorical_accuracy(&pd, &t).unwrap(), 0.75);
        assert_prf(prf(&pd, &t, Average::Macro, ZeroDivision::Zero), want, "macro");
    }
    // (B, T, C) = (2, 4, 3): the same 8 positions.
    let p_seq = p.into_shape_with_order((2, 4, 3)).unwrap().into_dyn();
    let oh_seq = one_hot.into_shape_with_order((2, 4, 3)).unwrap().into_dyn();
    let idx_seq = idx.into_shape_with_order((2, 4)).unwrap().into_dyn();
    for t in [oh_seq, idx_seq] {
        assert_eq!(accuracy(&p_seq, &t).unwrap(), 0.75);
        assert_prf(prf(&p_seq, &t, Average::Macro, ZeroDivision::Zero), want, "macro (B, T, C)");
        assert_eq!(confusion_matrix(&p_seq, &t).unwrap().counts(), &array![[1, 1, 0], [0, 2, 1], [0, 0, 3]]);
    }
    // A non-contiguous view (a transposed array transposed back) reads the same.
    let pt = scores(&PRED_C, 3).reversed_axes();
    assert_eq!(categorical_accuracy(pt.t(), &indices(&TRUTH_C)).unwrap(), 0.75);
}

/// C = 4; truth 0 0 2 0, predicted 0 1 0 1.
///
/// M rows 0: [1, 2, 0, 0], 2: [1, 0, 0, 0]; TP = [1, 0, 0, 0], predicted = [2, 2, 0, 0],
/// support = [3, 0, 1, 0]. Class 1 is only predicted, class 2 only true, class 3 nowhere.
#[test]
fn multiclass_absent_classes_and_zero_division() {
    let p = scores(&[0, 1, 0, 1], 4).into_dyn();
    let t = indices(&[0, 0, 2, 0]).into_dyn();
    let cm = confusion_matrix(&p, &t).unwrap();
    assert_eq!(cm.labels_present(), array![true, true, true, false]);
    for zd in ZD {
        let z = zd.value();
        // P = [1/2, 0/2, 0/0, 0/0], R = [1/3, 0/0, 0/1, 0/0], F1 = [2/5, 0/2, 0/1, 0/0]
        let want_p = [0.5, 0.0, z, z];
        let want_r = [1.0 / 3.0, z, 0.0, z];
        let want_f = [0.4, 0.0, 0.0, z];
        for (got, want) in
            [(cm.precision_per_class(zd), want_p), (cm.recall_per_class(zd), want_r), (cm.f1_per_class(zd), want_f)]
        {
            got.iter().zip(want).for_each(|(&g, w)| close(g, w));
        }
        // macro over the present {0, 1, 2}: P = (1/2 + 0 + z)/3, R = (1/3 + z + 0)/3, F1 = (2/5)/3
        assert_prf(prf(&p, &t, Average::Macro, zd), [(0.5 + z) / 3.0, (1.0 / 3.0 + z) / 3.0, 2.0 / 15.0], "macro");
        // weighted by support 3, 0, 1, 0: P = (3/2 + z)/4, R = 1/4, F1 = (6/5)/4
        assert_prf(prf(&p, &t, Average::Weighted, zd), [(1.5 + z) / 4.0, 0.25, 0.3], "weighted");
        assert_prf(prf(&p, &t, Average::Micro, zd), [0.25; 3], "micro");
    }
}

#[test]
fn argmax_ties_take_the_first_class() {
    let p = array![[0.5_f64, 0.5], [0.2, 0.8], [0.4, 0.4]];
    let t = array![0.0, 1.0, 1.0];
    // argmax 0, 1, 0 → 2 of 3
    assert_eq!(categorical_accuracy(&p, &t).unwrap(), 2.0 / 3.0);
}

#[test]
fn automatic_reading_picks_binary_or_categorical_by_the_last_axis() {
    // (N, 2) is read as two classes: argmax 1, 0 against 1, 1.
    let p = array![[0.3_f64, 0.7], [0.6, 0.4]];
    assert_eq!(accuracy(&p, &array![1.0, 1.0]).unwrap(), 0.5);
    // A two-column softmax supports Binary averaging: class 1 P = 1/1, R = 1/2.
    assert_eq!(precision(&p, &array![1.0, 1.0], Average::Binary, ZeroDivision::Zero).unwrap(), 1.0);
    assert_eq!(recall(&p, &array![1.0, 1.0], Average::Binary, ZeroDivision::Zero).unwrap(), 0.5);
    // (N, 1) is binary: 0.7 → 1, 0.4 → 0 against 1, 1.
    let p = array![[0.7_f64], [0.4]];
    assert_eq!(accuracy(&p, &array![[1.0], [1.0]]).unwrap(), 0.5);
}

// ---------------------------------------------------------------------------------------
// Confusion matrix display and accessors
// ---------------------------------------------------------------------------------------

#[test]
fn confusion_matrix_display_is_a_right_aligned_table() {
    // 12 samples of class 0 all right; class 1: 3 right, 1 as class 0.
    let truth: Vec<usize> = [vec![0; 12], vec![1; 4]].concat();
    let pred: Vec<usize> = [vec![0; 12], vec![1, 1, 1, 0]].concat();
    let cm = ConfusionMatrix::from_labels(&truth, &pred, 2).unwrap();
    assert_eq!(cm.to_string(), "true\\pred  0  1\n        0 12  0\n        1  1  3");
    assert_eq!(cm.clone().into_counts(), array![[12, 0], [1, 3]]);
    // precision of class 1: 3/3; recall 3/4; F1 = 6/(6 + 0 + 1)
    assert_eq!(cm.precision(Average::Binary, ZeroDivision::Zero).unwrap(), 1.0);
    assert_eq!(cm.recall(Average::Binary, ZeroDivision::Zero).unwrap(), 0.75);
    assert_eq!(cm.f1(Average::Binary, ZeroDivision::Zero).unwrap(), 6.0 / 7.0);
    // Ten classes: class numbers up to 9, width 1.
    let labels: Vec<usize> = (0..10).collect();
    let big = ConfusionMatrix::from_labels(&labels, &labels, 10).unwrap();
    assert_eq!(big.to_string().lines().next().unwrap(), "true\\pred 0 1 2 3 4 5 6 7 8 9");
    assert_eq!(big.to_string().lines().last().unwrap(), "        9 0 0 0 0 0 0 0 0 0 1");
}

// ---------------------------------------------------------------------------------------
// Regression
// ---------------------------------------------------------------------------------------

#[test]
fn regression_single_output() {
    // scikit-learn's documentation example.
    let t = array![3.0_f64, -0.5, 2.0, 7.0];
    let p = array![2.5_f64, 0.0, 2.0, 8.0];
    // errors −0.5, 0.5, 0, 1: squares 0.25, 0.25, 0, 1
    assert_eq!(mse(&p, &t).unwrap(), 0.375); // 1.5/4
    assert_eq!(mae(&p, &t).unwrap(), 0.5); // 2/4
    assert_eq!(rmse(&p, &t).unwrap(), 0.375_f64.sqrt());
    // t̄ = 11.5/4 = 2.875; Σ(t − t̄)² = 0.125² + 3.375² + 0.875² + 4.125² = 29.1875
    // R² = 1 − 1.5/29.1875
    close(r2(&p, &t).unwrap(), 1.0 - 1.5 / 29.1875);
    // f32: computed in f64, rounded once.
    let (p32, t32) = (p.mapv(|v| v as f32), t.mapv(|v| v as f32));
    assert_eq!(r2(&p32, &t32).unwrap(), (1.0 - 1.5 / 29.1875) as f32);
    assert_eq!(rmse(&p32, &t32).unwrap(), 0.375_f64.sqrt() as f32);
}

#[test]
fn regression_several_outputs_average_per_output() {
    let t = array![[0.5_f64, 1.0], [-1.0, 1.0], [7.0, -6.0]];
    let p = array![[0.0_f64, 2.0], [-1.0, 2.0], [8.0, -5.0]];
    // errors: column 0: −0.5, 0, 1; column 1: 1, 1, 1
    close(mse(&p, &t).unwrap(), (0.25 + 1.0 + 3.0) / 6.0);
    close(mae(&p, &t).unwrap(), (0.5 + 1.0 + 3.0) / 6.0);
    // rmse per column: √(1.25/3), √1; averaged
    close(rmse(&p, &t).unwrap(), ((1.25_f64 / 3.0).sqrt() + 1.0) / 2.0);
    // R² column 0: t̄ = 13/6, Σ(t − t̄)² = 217/6, SS_res = 1.25 → 1 − 7.5/217
    // column 1: t̄ = −4/3, Σ(t − t̄)² = 294/9, SS_res = 3 → 1 − 27/294
    close(r2(&p, &t).unwrap(), ((1.0 - 7.5 / 217.0) + (1.0 - 27.0 / 294.0)) / 2.0);
}

#[test]
fn regression_sequences_are_rows_of_the_last_axis() {
    // (B, T, 1) against (B, T): 4 rows of one output, [1, 2, 3, 4] vs [1, 2, 3, 5].
    let t = array![[1.0_f64, 2.0], [3.0, 4.0]];
    let p = Array3::from_shape_vec((2, 2, 1), vec![1.0, 2.0, 3.0, 5.0]).unwrap();
    // t̄ = 2.5, Σ(t − t̄)² = 5, SS_res = 1 → 0.8 (not the mean of two 2-row columns)
    close(r2(&p, &t).unwrap(), 0.8);
    assert_eq!(rmse(&p, &t).unwrap(), 0.5); // √(1/4)
}

#[test]
fn r2_constant_target_convention() {
    let t = array![5.0_f64, 5.0, 5.0];
    assert_eq!(r2(&t, &t).unwrap(), 1.0); // exact
    assert_eq!(r2(&array![5.0, 5.0, 6.0], &t).unwrap(), 0.0); // not exact
                                                              // A value that is not exact in binary: still "constant" (scikit-learn's rounded mean
                                                              // makes its Σ(t − t̄)² tiny but non-zero and returns about −1.7e31 here).
    let t = array![0.1_f64, 0.1, 0.1];
    assert_eq!(r2(&array![0.1, 0.1, 0.2], &t).unwrap(), 0.0);
    // One constant output among two: column 0 gives 1 − 1/2, column 1 gives 1 or 0.
    let t = array![[1.0_f64, 5.0], [2.0, 5.0], [3.0, 5.0]];
    assert_eq!(r2(&array![[1.0, 5.0], [2.0, 5.0], [4.0, 5.0]], &t).unwrap(), 0.75);
    assert_eq!(r2(&array![[1.0, 5.0], [2.0, 5.0], [4.0, 6.0]], &t).unwrap(), 0.25);
}

// ---------------------------------------------------------------------------------------
// Metric
// ---------------------------------------------------------------------------------------

fn all_metrics() -> Vec<Metric> {
    let mut out = vec![Metric::Accuracy, Metric::BinaryAccuracy { threshold: 0.5 }, Metric::CategoricalAccuracy];
    for average in [Average::Binary, Average::Macro, Average::Micro, Average::Weighted] {
        let zero_division = ZeroDivision::Zero;
        out.push(Metric::Precision { average, zero_division });
        out.push(Metric::Recall { average, zero_division });
        out.push(Metric::F1 { average, zero_division });
    }
    out.extend([Metric::Mse, Metric::Mae, Metric::Rmse, Metric::R2]);
    out
}

#[test]
fn metric_names() {
    let names: Vec<&str> = all_metrics().iter().map(|m| m.name()).collect();
    assert_eq!(
        names,
        [
            "accuracy",
            "binary_accuracy",
            "categorical_accuracy",
            "precision",
            "recall",
            "f1",
            "precision_macro",
            "recall_macro",
            "f1_macro",
            "precision_micro",
            "recall_micro",
            "f1_micro",
            "precision_weighted",
            "recall_weighted",
            "f1_weighted",
            "mse",
            "mae",
            "rmse",
            "r2"
        ]
    );
    assert_eq!(Metric::R2.to_string(), "r2");
    let lower: Vec<&str> = all_metrics().iter().filter(|m| !m.greater_is_better()).map(|m| m.name()).collect();
    assert_eq!(lower, ["mse", "mae", "rmse"]);
}

#[test]
fn metric_compute_matches_the_functions_on_sequences() {
    // Binary sequences (B, T, 1) = (2, 4, 1) against (2, 4): case A laid out as sequences.
    let (p, t) = case_a();
    let p = p.into_shape_with_order(IxDyn(&[2, 4, 1])).unwrap();
    let t = t.into_shape_with_order(IxDyn(&[2, 4])).unwrap();
    let zero_division = ZeroDivision::Zero;
    let f = |m: Metric| m.compute(p.view(), t.view()).unwrap();
    assert_eq!(f(Metric::Accuracy), 0.625);
    assert_eq!(f(Metric::BinaryAccuracy { threshold: 0.5 }), 0.625);
    assert_eq!(f(Metric::BinaryAccuracy { threshold: 0.95 }), 0.5); // nothing > 0.95: the 4 negatives right
    close(f(Metric::F1 { average: Average::Binary, zero_division }), 2.0 / 3.0);
    close(f(Metric::Precision { average: Average::Macro, zero_division }), 19.0 / 30.0);
    close(f(Metric::Recall { average: Average::Weighted, zero_division }), 0.625);
    // errors as numbers: (p − t)² summed = 0.01+0.16+0.36+0.04+0.49+0.64+0.2025+0.09 = 1.9925
    close(f(Metric::Mse), 1.9925 / 8.0);
    close(f(Metric::Rmse), (1.9925_f64 / 8.0).sqrt());
    // |p − t| summed = 0.1+0.4+0.6+0.2+0.7+0.8+0.45+0.3 = 3.55
    close(f(Metric::Mae), 3.55 / 8.0);
    close(f(Metric::R2), 1.0 - 1.9925 / 2.0); // t̄ = 1/2, Σ(t − t̄)² = 8·1/4 = 2

    // Categorical sequences (2, 4, 3) with indices (2, 4), in f32.
    let p = scores(&PRED_C, 3).mapv(|v| v as f32).into_shape_with_order(IxDyn(&[2, 4, 3])).unwrap();
    let t = indices(&TRUTH_C).mapv(|v| v as f32).into_shape_with_order(IxDyn(&[2, 4])).unwrap();
    let g = |m: Metric| m.compute(p.view(), t.view()).unwrap();
    assert_eq!(g(Metric::Accuracy), 0.75_f32);
    assert_eq!(g(Metric::CategoricalAccuracy), 0.75_f32);
    assert_eq!(g(Metric::F1 { average: Average::Macro, zero_division }), (46.0_f64 / 63.0) as f32);
    assert_eq!(g(Metric::Precision { average: Average::Weighted, zero_division }), (25.0_f64 / 32.0) as f32);
}

#[test]
fn metric_round_trips_through_serde() {
    for m in all_metrics() {
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Metric>(&json).unwrap(), m, "{json}");
    }
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

fn err<T: std::fmt::Debug>(r: recurrent::Result<T>) -> Error {
    r.expect_err("expected an error")
}

#[test]
fn shape_errors_name_both_shapes() {
    let p = array![0.1_f64, 0.9, 0.3];
    let e = err(accuracy(&p, &array![0.0, 1.0]));
    let Error::ShapeMismatch { ref what, ref expected, ref got } = e else { panic!("{e:?}") };
    assert!(what.contains("accuracy target"), "{e}");
    assert!(expected.contains("(3,)") && got == "(2,)", "{e}");
    // A trailing axis of 2 is not "a trailing axis of 1".
    let e = err(mse(&array![[1.0_f64, 2.0]], &array![1.0, 2.0]));
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    // Categorical with one class, or 1-D scores.
    let e = err(categorical_accuracy(&array![[0.3_f64], [0.7]], &array![0.0, 0.0]));
    let Error::ShapeMismatch { ref expected, .. } = e else { panic!("{e:?}") };
    assert!(expected.contains("C ≥ 2"), "{e}");
    assert!(matches!(err(categorical_accuracy(&p, &p)), Error::ShapeMismatch { .. }));
    // Categorical target neither one-hot nor indices.
    let e = err(categorical_accuracy(&array![[0.3_f64, 0.7], [0.6, 0.4]], &array![[0.0, 1.0, 0.0]]));
    let Error::ShapeMismatch { ref expected, ref got, .. } = e else { panic!("{e:?}") };
    assert!(expected.contains("(2, 2) (one-hot)") && expected.contains("(2,) or (2, 1)") && got == "(1, 3)", "{e}");
    // from_labels lengths.
    let e = err(ConfusionMatrix::from_labels(&[0, 1], &[0], 2));
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
}

#[test]
fn empty_and_non_finite_inputs_are_errors() {
    let empty = Array1::<f64>::zeros(0);
    for e in [
        err(accuracy(&empty, &empty)),
        err(mse(&empty, &empty)),
        err(r2(&empty, &empty)),
        err(f1(&empty, &empty, Average::Macro, ZeroDivision::Zero)),
        err(ConfusionMatrix::from_labels(&[], &[], 2)),
    ] {
        assert!(matches!(e, Error::Empty { .. }), "{e:?}");
    }
    let e = err(mae(&array![1.0, f64::NAN], &array![1.0, 2.0]));
    let Error::NonFinite { ref what, ref index, .. } = e else { panic!("{e:?}") };
    assert!(what.contains("mae prediction") && index == "[1]", "{e}");
    let e = err(categorical_accuracy(&array![[0.5_f64, 0.5]], &array![[f64::INFINITY, 0.0]]));
    assert!(matches!(e, Error::NonFinite { .. }), "{e:?}");
    let e = err(binary_accuracy(&array![0.5_f64], &array![1.0], f64::NAN));
    let Error::InvalidConfig { ref what, .. } = e else { panic!("{e:?}") };
    assert!(what.contains("threshold"), "{e}");
    let e = err(Metric::BinaryAccuracy { threshold: f64::INFINITY }
        .compute(array![0.5_f64].into_dyn().view(), array![1.0].into_dyn().view()));
    assert!(matches!(e, Error::InvalidConfig { .. }), "{e:?}");
}

#[test]
fn labels_out_of_range_are_errors() {
    // Binary targets other than 0 and 1.
    let e = err(accuracy(&array![0.2_f64, 0.7], &array![0.0, 0.5]));
    let Error::OutOfRange { ref expected, ref got, ref index, .. } = e else { panic!("{e:?}") };
    assert!(expected == "0 or 1" && got == "0.5" && index == "[1]", "{e}");
    // Class index too large, negative, or fractional.
    let p = array![[0.3_f64, 0.7], [0.6, 0.4]];
    for (bad, shown) in [(2.0, "2"), (-1.0, "-1"), (0.5, "0.5")] {
        let e = err(accuracy(&p, &array![0.0, bad]));
        let Error::OutOfRange { ref expected, ref got, ref index, .. } = e else { panic!("{e:?}") };
        assert!(expected.contains("[0, 2)") && got == shown && index == "[1]", "{e}");
    }
    // One-hot rows with a stray value, two ones, or none.
    let e = err(accuracy(&p, &array![[0.0, 1.0], [0.3, 0.7]]));
    let Error::OutOfRange { ref got, ref index, .. } = e else { panic!("{e:?}") };
    assert!(got == "0.3" && index == "[1, 0]", "{e}");
    for row in [[1.0, 1.0], [0.0, 0.0]] {
        let t = array![[0.0, 1.0], row];
        let e = err(precision(&p, &t, Average::Macro, ZeroDivision::Zero));
        let Error::OutOfRange { ref expected, .. } = e else { panic!("{e:?}") };
        assert!(expected.contains("exactly one 1"), "{e}");
    }
    // from_labels: a label ≥ classes, and zero classes.
    let e = err(ConfusionMatrix::from_labels(&[0, 1], &[0, 3], 2));
    let Error::OutOfRange { ref what, ref got, ref index, .. } = e else { panic!("{e:?}") };
    assert!(what.contains("predicted") && got == "3" && index == "[1]", "{e}");
    assert!(matches!(err(ConfusionMatrix::from_labels(&[0], &[0], 0)), Error::InvalidConfig { .. }));
}

#[test]
fn binary_average_needs_two_classes_and_r2_two_samples() {
    let p = scores(&PRED_C, 3);
    let t = indices(&TRUTH_C);
    let e = err(f1(&p, &t, Average::Binary, ZeroDivision::Zero));
    let Error::InvalidConfig { ref expected, ref got, .. } = e else { panic!("{e:?}") };
    assert!(expected.contains("two classes") && got == "3 classes", "{e}");
    let e = err(r2(&array![1.0_f64], &array![2.0]));
    let Error::InvalidConfig { ref expected, ref got, .. } = e else { panic!("{e:?}") };
    assert!(expected.contains("at least 2 samples") && got == "1", "{e}");
}
