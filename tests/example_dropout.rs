//! The `dropout` example under the test suite: a quick run, its table read back, the gap
//! between validation and training error smaller with dropout than without (by a wide
//! margin, so it does not hang on the last digit), the numbers consistent with each other,
//! the SVG written, and a second run printing the same.

mod common;

use std::path::Path;

use common::examples::{number_after, run};

/// The numbers of the table row starting with `label`: train MSE, val MSE, gap, best val,
/// best epoch.
fn row(out: &str, label: &str) -> Vec<f64> {
    let line = out.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no row {label:?} in:\n{out}"));
    line[label.len()..]
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|w| w.parse().ok())
        .collect()
}

#[test]
fn dropout_quick_run_narrows_the_gap_between_training_and_validation() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("example_dropout_plots");
    let _ = std::fs::remove_dir_all(&dir);
    let dir_arg = dir.to_str().expect("UTF-8 temp path");
    let out = run("dropout", &["--quick", "--plots", dir_arg]);

    let noise = number_after(&out, "noise variance");
    assert_eq!(noise, 0.09, "{out}");
    let plain = row(&out, "no dropout");
    let layer = row(&out, "Dropout(0.3) ");
    let both = row(&out, "Dropout(0.3) + recurrent 0.3");
    for r in [&plain, &layer, &both] {
        assert_eq!(r.len(), 5, "train, val, gap, best val, epoch: {r:?}\n{out}");
        let (train, val, gap, best, epoch) = (r[0], r[1], r[2], r[3], r[4]);
        assert!(train > 0.0 && val > 0.0, "{r:?}");
        assert!((gap - (val - train)).abs() <= 2e-4, "gap = val − train: {r:?}");
        assert!(best <= val && best > 0.0, "the best validation MSE is at most the last: {r:?}");
        assert!((1.0..=60.0).contains(&epoch), "{r:?}");
    }
    // Without dropout the network fits the noise: below the noise variance on the training
    // windows, above it on the others.
    assert!(plain[0] < noise && plain[1] > noise, "{plain:?}");
    // With dropout the gap is less than 60 % of it (about a third, in the run this was
    // written with).
    for (name, r) in [("Dropout", &layer), ("Dropout + recurrent_dropout", &both)] {
        assert!(r[2] < 0.6 * plain[2], "{name}: gap {} against {} without dropout\n{out}", r[2], plain[2]);
        assert!(r[0] > plain[0], "{name}: dropout keeps the training error up: {} vs {}", r[0], plain[0]);
    }
    // The closing line repeats the table's gaps.
    assert_eq!(number_after(&out, "gap without dropout:"), plain[2]);
    assert_eq!(number_after(&out, "with Dropout:"), layer[2]);
    assert_eq!(number_after(&out, "with Dropout and recurrent dropout:"), both[2]);

    let path = dir.join("dropout_loss.svg");
    let svg = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{} not written: {e}", path.display()));
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    assert!(svg.contains("no dropout: validation") && svg.contains("recurrent 0.3: training"), "legend");

    // Same seed, same output.
    let again = run("dropout", &["--quick", "--plots", dir_arg]);
    let strip = |s: &str| s.lines().filter(|l| !l.starts_with("finished in")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&out), strip(&again));
}
