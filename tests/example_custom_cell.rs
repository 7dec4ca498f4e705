//! The custom-cell example (an IndRNN written against the public API) runs with its quick
//! budget, and what it prints is checked: the gradient check passes for every tensor, the
//! IndRNN beats or matches the SimpleRNN on the adding problem with the same budget, the model
//! saved and loaded through a registry predicts bit for bit the same, and a second run prints
//! the same.

mod common;

use common::examples::{number_after, run};

/// The line that starts with `prefix`.
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{out}"))
}

#[test]
fn custom_cell_quick_run_checks_gradients_compares_with_simple_rnn_and_round_trips() {
    let out = run("custom_cell", &["--quick"]);

    // The gradient check: one row per tensor, each below the tolerance, and the summary line.
    let rows: Vec<(&str, f64)> = ["input", "initial h", "#0 kernel", "#1 bias", "#2 recurrent_weight"]
        .iter()
        .map(|name| {
            let row = line(&out, &format!("{name:<28}"));
            let worst: f64 = row.split_whitespace().rev().nth(2).and_then(|w| w.parse().ok()).expect("worst error");
            (*name, worst)
        })
        .collect();
    for (name, worst) in &rows {
        assert!((0.0..1e-6).contains(worst), "{name}: {worst}");
    }
    let summary = line(&out, "gradient check: worst relative error");
    assert!(summary.ends_with("(tolerance 1e-6): passed"), "{summary}");
    let worst = number_after(summary, "worst relative error");
    let max_row = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    assert!((worst - max_row).abs() <= 0.05 * max_row, "summary {worst} vs rows {max_row}");
    assert_eq!(number_after(summary, "over"), 5.0);

    // The scores: the baseline is the variance of a sum of two U[0, 1) values, 1/6, on 1000
    // held-out sequences; the quick budget is 10 epochs for each model.
    let baseline = number_after(&out, "baseline, always predicting the mean sum 1: test MSE");
    assert!((0.14..0.19).contains(&baseline), "baseline {baseline}");
    for name in ["SimpleRNN training loss by epoch:", "IndRNN    training loss by epoch:"] {
        let losses: Vec<f64> =
            line(&out, name)[name.len()..].split_whitespace().map(|w| w.parse().expect("loss")).collect();
        assert_eq!(losses.len(), 10, "{name}");
        assert!(losses.iter().all(|l| l.is_finite() && *l >= 0.0), "{losses:?}");
    }
    let simple = number_after(line(&out, "SimpleRNN test MSE"), "test MSE");
    let ind = number_after(line(&out, "IndRNN    test MSE"), "test MSE");
    // Beats or matches: a run still on the adding problem's plateau sits at the baseline, as
    // the SimpleRNN does, within the noise of 1000 test sequences.
    assert!(ind <= simple + 0.01, "IndRNN {ind} against SimpleRNN {simple}");
    assert!(ind.is_finite() && ind >= 0.0 && simple.is_finite() && simple >= 0.0);
    let ratios = line(&out, "IndRNN/SimpleRNN test MSE:");
    let close = |printed: f64, value: f64| (printed - value).abs() <= 0.0005 + 0.01 * value;
    assert!(close(number_after(ratios, "test MSE:"), ind / simple), "{ratios}");
    assert!(close(number_after(ratios, "baseline: SimpleRNN"), simple / baseline), "{ratios}");
    assert!(close(number_after(ratios, ", IndRNN"), ind / baseline), "{ratios}");

    // Persistence through a registry: the built-in loader names the kind it does not know, and
    // the registry's round trip predicts bit for bit.
    let refused = line(&out, "json::load, which knows only the built-in kinds:");
    assert!(refused.ends_with("got \"IndRNN\""), "{refused}");
    let kinds = line(&out, "saved ");
    assert!(kinds.ends_with("\"SpatialDropout1D\", \"IndRNN\"]"), "{kinds}");
    let reloaded = line(&out, "reloaded model:");
    assert_eq!(reloaded, "reloaded model: 1000 of 1000 held-out predictions bit for bit the same: yes");

    // Deterministic from its seed: a second run prints the same, timings and paths aside.
    let again = run("custom_cell", &["--quick"]);
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("finished in") && !l.starts_with("saved "))
            .map(|l| l.split("(trained in").next().unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&out), strip(&again));
}
