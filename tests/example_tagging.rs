//! The tagging example (many-to-many on padded sequences with masks) runs with a small budget,
//! and what it prints is checked against itself: the counts add up, the scores follow from
//! the confusion matrix, the tags shown follow from the tokens, padding leaves predictions
//! unchanged, the plots are written, and a second run prints the same.

mod common;

use std::path::PathBuf;

use common::examples::{number_after, run};

/// The tags of the task: 'x' where the token appeared earlier in the sequence, '.' if not.
fn repeat_marks(tokens: &[&str]) -> Vec<&'static str> {
    let mut seen = std::collections::HashSet::new();
    tokens.iter().map(|t| if seen.insert(*t) { "." } else { "x" }).collect()
}

fn plot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("example_tagging_plots");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("plot folder");
    dir
}

#[test]
fn tagging_quick_run_prints_consistent_scores_padding_invariance_and_plots() {
    let dir = plot_dir();
    let dir_arg = dir.to_str().expect("utf-8 path");
    let out = run("tagging", &["--quick", "--plots", dir_arg]);

    // One line per epoch of the quick budget, each with the metrics asked for.
    let epochs: Vec<&str> = out.lines().filter(|l| l.starts_with("epoch ")).collect();
    assert_eq!(epochs.len(), 4, "{out}");
    for l in &epochs {
        for key in ["loss", "binary_accuracy", "f1", "val_loss", "val_binary_accuracy", "val_f1"] {
            let v = number_after(l, &format!(" {key} "));
            assert!(v.is_finite() && v >= 0.0, "{key} = {v} in {l}");
        }
    }

    // Counts: real + padded positions fill the (sequences × T) test array.
    let header = out.lines().find(|l| l.starts_with("== held-out test:")).expect("test header");
    let sequences = number_after(header, "held-out test:") as usize;
    let real = number_after(header, "sequences,") as usize;
    let padded = number_after(header, "positions,") as usize;
    let t = number_after(header, "T =") as usize;
    assert_eq!(sequences, 200);
    assert!((3..=20).contains(&t), "T = {t}");
    assert_eq!(real + padded, sequences * t, "{header}");
    assert!(real >= 3 * sequences && real <= 20 * sequences, "{header}");

    // The confusion matrix sums to the real positions, and the scores follow from it.
    let cm_line = out.lines().find(|l| l.starts_with("TN ")).expect("TN/FP/FN/TP line");
    let [tn, fp, fn_, tp] = ["TN", "FP", "FN", "TP"].map(|k| number_after(cm_line, k));
    let total = number_after(cm_line, "total");
    let seen = number_after(cm_line, "true seen");
    assert_eq!(tn + fp + fn_ + tp, total, "{cm_line}");
    assert_eq!(total as usize, real, "{cm_line}");
    assert_eq!(tp + fn_, seen, "{cm_line}");
    let accuracy = number_after(&out, "accuracy over real positions:");
    assert!((accuracy - (tn + tp) / total).abs() < 6e-5, "accuracy {accuracy} vs {cm_line}");
    let scores = out.lines().find(|l| l.starts_with("tag 'seen' (class 1):")).expect("scores line");
    let (precision, recall, f1) =
        (number_after(scores, "precision"), number_after(scores, "recall"), number_after(scores, "F1"));
    assert!((precision - tp / (tp + fp)).abs() < 6e-5, "{scores} vs {cm_line}");
    assert!((recall - tp / (tp + fn_)).abs() < 6e-5, "{scores} vs {cm_line}");
    assert!((f1 - 2.0 * tp / (2.0 * tp + fp + fn_)).abs() < 6e-5, "{scores} vs {cm_line}");
    // fit's masked metrics (through evaluate_in_batches) count the same positions.
    assert_eq!(number_after(&out, "F1 from evaluate_in_batches (the same positions):"), f1);
    // The matrix as printed holds the same four counts.
    let rows: Vec<Vec<f64>> = out
        .lines()
        .skip_while(|l| !l.starts_with("true\\pred"))
        .skip(1)
        .take(2)
        .map(|l| l.split_whitespace().skip(1).map(|w| w.parse().expect("count")).collect())
        .collect();
    assert_eq!(rows, vec![vec![tn, fp], vec![fn_, tp]], "{out}");

    // Baselines, and a quick run that already learns something.
    let always = number_after(&out, "baseline, always 'seen':");
    assert!((always - seen / total).abs() < 6e-5, "always-seen baseline {always}");
    let by_position = number_after(&out, "on):");
    assert!((0.5..=1.0).contains(&by_position), "position baseline {by_position}");
    assert!(accuracy > always && accuracy > 0.6, "accuracy {accuracy}, always-seen {always}");
    // Accuracy by position covers every real position once.
    let per_pos: Vec<&str> = out.lines().filter(|l| l.trim_start().starts_with("positions")).collect();
    assert_eq!(per_pos.len(), 4, "{out}");
    let covered: f64 = per_pos.iter().map(|l| number_after(l, "over")).sum();
    assert_eq!(covered as usize, real);
    for l in &per_pos {
        let a = number_after(l, ":");
        assert!((0.0..=1.0).contains(&a), "{l}");
    }

    // The tagged examples: the truth follows from the tokens, the error count from the lines.
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    let mut examples = 0;
    for (k, l) in lines.iter().enumerate() {
        let Some(tokens) = l.strip_prefix("tokens ") else { continue };
        let tokens: Vec<&str> = tokens.split_whitespace().collect();
        let truth: Vec<&str> = lines[k + 1].strip_prefix("truth").expect("truth line").split_whitespace().collect();
        let model = lines[k + 2].strip_prefix("model").expect("model line");
        let (marks, count) = model.split_once('(').expect("(k wrong)");
        let marks: Vec<&str> = marks.split_whitespace().collect();
        assert_eq!(truth, repeat_marks(&tokens), "{l}");
        assert_eq!(marks.len(), tokens.len(), "{model}");
        let wrong = marks.iter().zip(&truth).filter(|(m, t)| m != t).count();
        assert_eq!(number_after(count, ""), wrong as f64, "{model}");
        examples += 1;
    }
    assert_eq!(examples, 4, "{out}");

    // Padding does not change the predictions: alone, padded behind and padded in front.
    let inv = out.lines().find(|l| l.starts_with("padding invariance: max")).expect("padding invariance line");
    assert!(inv.ends_with("tags identical: yes"), "{inv}");
    let diff = number_after(inv, "max |Δp|");
    assert!((0.0..1e-12).contains(&diff), "{inv}");
    let shown: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("padding invariance, test sequence"))
        .skip(1)
        .take(3)
        .map(|l| l.split_once(':').expect("label: tags").1.trim())
        .collect();
    assert_eq!(shown.len(), 3);
    assert!(shown.iter().all(|s| *s == shown[0]), "{shown:?}");

    // The plots.
    for name in ["tagging_loss.svg", "tagging_accuracy.svg"] {
        let path = dir.join(name);
        let svg = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(svg.starts_with("<svg"), "{name} starts with {:?}", &svg[..svg.len().min(40)]);
        assert!(out.contains(&format!("plot: {}", path.display())), "{out}");
    }

    // Deterministic from its seed: a second run prints the same.
    let again = run("tagging", &["--quick", "--plots", dir_arg]);
    let strip = |s: &str| s.lines().filter(|l| !l.starts_with("finished in")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&out), strip(&again));
}
