//! The `sentiment` example under the test suite: a quick run, what it printed checked for
//! consistency (metrics in range and agreeing with the confusion matrix, the matrix summing to
//! the test size, the epoch lines), the SVGs written, and a second run printing the same.

mod common;

use std::path::{Path, PathBuf};

use common::examples::{number_after, run};

fn plot_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn svg(dir: &Path, file: &str) -> String {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{} not written: {e}", path.display()));
    assert!(text.starts_with("<svg"), "{} is not an SVG: {:?}", path.display(), &text[..text.len().min(80)]);
    text
}

/// The numbers on a line after its first `:` (commas and parentheses ignored).
fn numbers(line: &str) -> Vec<f64> {
    let rest = line.split_once(':').map_or(line, |(_, r)| r);
    rest.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')').filter_map(|w| w.parse().ok()).collect()
}

/// The epoch lines of one training run: `epoch k: loss …, accuracy …[, val_loss …, val_accuracy …]`.
fn epochs(block: &str) -> Vec<(usize, Vec<f64>)> {
    block
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("epoch ")?;
            let (k, _) = rest.split_once(':')?;
            Some((k.parse().ok()?, numbers(l)))
        })
        .collect()
}

#[test]
fn sentiment_quick_run_prints_metrics_confusion_matrix_and_plots() {
    let dir = plot_dir("example_sentiment_plots");
    let dir_arg = dir.to_str().expect("UTF-8 temp path");
    let out = run("sentiment", &["--quick", "--plots", dir_arg]);

    // The split: 360 sentences, the last 72 the test part.
    let header = out.lines().find(|l| l.starts_with("360 sentences:")).unwrap_or_else(|| panic!("{out}"));
    let (n_train, n_val, n_test) =
        (number_after(header, "train"), number_after(header, "validation"), number_after(header, "test"));
    assert_eq!((n_train, n_val, n_test), (230.0, 58.0, 72.0), "{header}");

    // The summary: Embedding → GRU → Dense, parameter counts that add up.
    assert!(out.contains("embedding (Embedding)"), "{out}");
    assert!(out.contains("gru (GRU)                   (None, 16)                1632"), "{out}");
    assert!(out.contains("dense (Dense)               (None, 1)                 17"), "{out}");
    let vocab = number_after(&out, "vocabulary:") + 2.0;
    let total = number_after(&out, "Total params:");
    assert_eq!(total, vocab * 16.0 + 1632.0 + 17.0, "embedding table of {vocab} ids + GRU + Dense");

    // Run 1's epoch lines count 1, 2, … with losses ≥ 0 and accuracies in [0, 1]; run 2 trains
    // for the best epoch of run 1, which the example names.
    let (run1, rest) = out.split_once("-- Run 2").expect("a second run");
    let first = epochs(run1);
    assert!(!first.is_empty(), "{out}");
    for (k, (epoch, values)) in first.iter().enumerate() {
        assert_eq!(*epoch, k + 1);
        assert_eq!(values.len(), 4, "loss, accuracy, val_loss, val_accuracy: {values:?}");
        assert!(values[0] >= 0.0 && values[2] >= 0.0, "{values:?}");
        assert!((0.0..=1.0).contains(&values[1]) && (0.0..=1.0).contains(&values[3]), "{values:?}");
    }
    let best = number_after(&out, "best epoch:") as usize;
    let best_val = first.iter().map(|(_, v)| v[3]).fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(first[best - 1].1[3], best_val, "the best epoch has the highest val_accuracy");
    let second = epochs(rest.split("== Test part").next().unwrap_or(rest));
    assert_eq!(second.len(), best, "run 2 trains for the best epoch count of run 1");
    assert!(second.iter().all(|(_, v)| v.len() == 2 && (0.0..=1.0).contains(&v[1])), "{second:?}");
    // Even the quick budget learns the training data.
    let fitted = number_after(&out, "accuracy on training + validation:");
    assert!(fitted > 0.9, "training + validation accuracy {fitted}");

    // Test metrics in range, consistent with each other and with the confusion matrix.
    let accuracy = number_after(&out, "test accuracy:");
    let precision = number_after(&out, "test precision:");
    let recall = number_after(&out, "test recall:");
    let f1 = number_after(&out, "test F1:");
    for v in [accuracy, precision, recall, f1] {
        assert!((0.0..=1.0).contains(&v), "{v} in:\n{out}");
    }
    assert!(accuracy > 0.6, "a trained model beats chance on the test part: {accuracy}");
    assert!(
        (f1 - 2.0 * precision * recall / (precision + recall)).abs() < 1e-3,
        "F1 {f1} from P {precision}, R {recall}"
    );
    let lines: Vec<&str> = out.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("true\\pred")).unwrap_or_else(|| panic!("{out}"));
    let rows: Vec<Vec<f64>> = lines[at + 1..at + 3]
        .iter()
        .map(|l| l.split_whitespace().map(|w| w.parse().expect("a count")).collect())
        .collect();
    assert_eq!((rows[0][0], rows[1][0]), (0.0, 1.0), "row labels: {rows:?}");
    let (tn, fp, fn_, tp) = (rows[0][1], rows[0][2], rows[1][1], rows[1][2]);
    assert_eq!(tn + fp + fn_ + tp, n_test, "the confusion matrix counts every test sentence once");
    assert_eq!(tp + fn_, count_positive_test(&out), "row 1 holds the positive sentences");
    assert!((accuracy - (tn + tp) / n_test).abs() < 1e-4);
    assert!((precision - tp / (tp + fp)).abs() < 1e-4);
    assert!((recall - tp / (tp + fn_)).abs() < 1e-4);
    assert_eq!(number_after(&out, "true negatives"), tn, "the spelled-out counts agree with the matrix");
    assert_eq!(number_after(&out, "true positives"), tp);

    // Sentences with their probabilities, negations among them.
    let shown: Vec<&str> = lines
        .iter()
        .skip_while(|l| !l.starts_with("some test sentences"))
        .skip(2)
        .copied()
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert!(shown.len() >= 8, "{out}");
    for l in &shown {
        let p: f64 = l.split_whitespace().find_map(|w| w.parse().ok().filter(|_| w.contains('.'))).expect("p");
        assert!((0.0..=1.0).contains(&p), "{l}");
    }
    assert!(shown.iter().any(|l| l.contains(" not ")) && shown.iter().any(|l| l.contains(" never ")), "{out}");

    let loss_svg = svg(&dir, "sentiment_loss.svg");
    let accuracy_svg = svg(&dir, "sentiment_accuracy.svg");

    // Deterministic from its seed: a second run prints and draws the same.
    let again = run("sentiment", &["--quick", "--plots", dir_arg]);
    let strip = |s: &str| s.lines().filter(|l| !l.starts_with("finished in")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&out), strip(&again));
    assert_eq!(loss_svg, svg(&dir, "sentiment_loss.svg"));
    assert_eq!(accuracy_svg, svg(&dir, "sentiment_accuracy.svg"));
}

/// The number of positive test sentences, from the header line.
fn count_positive_test(out: &str) -> f64 {
    let header = out.lines().find(|l| l.starts_with("360 sentences:")).expect("header");
    let test = &header[header.find("test").expect("test part")..];
    number_after(test, "(")
}
