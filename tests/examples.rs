//! Every example runs under the test suite with a small budget, and what it prints is
//! checked. `cargo test` builds the examples next to the test binaries
//! (target/<profile>/examples/), so this runs those binaries directly.

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/examples-<hash> → target/<profile>/examples/<name>
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/<profile>").join("examples");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "example binary {} not built; run through `cargo test`", path.display());
    path
}

fn run(name: &str, args: &[&str]) -> String {
    let out = Command::new(example(name)).args(args).output().expect("example runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{name} failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The number after `label` on the line that contains it.
fn number_after(text: &str, label: &str) -> f64 {
    let line = text.lines().find(|l| l.contains(label)).unwrap_or_else(|| panic!("no line with {label:?} in:\n{text}"));
    let rest = &line[line.find(label).expect("label on its line") + label.len()..];
    rest.split_whitespace()
        .find_map(|w| w.trim_end_matches(',').parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in {line:?}"))
}

#[test]
fn sine_forecast_quick_run_prints_summary_table_and_mses() {
    let out = run("sine_forecast", &["--quick"]);
    assert!(out.contains("simple_rnn (SimpleRNN)      (None, 3)                 15"), "{out}");
    assert!(out.contains("Total params: 19"), "{out}");
    // All 15 windows are listed with target and prediction.
    let rows = out.lines().filter(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.len() == 3 && w[0].parse::<usize>().is_ok() && w[1].parse::<f64>().is_ok() && w[2].parse::<f64>().is_ok()
    });
    assert_eq!(rows.count(), 15, "{out}");
    // The lecture's first target is 0.7437432.
    assert!(out.lines().any(|l| l.trim_start().starts_with("0  +0.74374")), "{out}");
    // Even the quick budget must learn: well under the variance of the targets (≈ 0.2).
    let train = number_after(&out, "final training MSE on the lecture's 15 windows:");
    assert!(train < 0.05, "lecture MSE {train}");
    let test = number_after(&out, "test MSE (the last 40 points, never seen):");
    assert!(test < 0.05, "held-out MSE {test}");
    // Deterministic from its seed: a second run prints the same numbers.
    let again = run("sine_forecast", &["--quick"]);
    let strip = |s: &str| s.lines().filter(|l| !l.starts_with("finished in")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&out), strip(&again));
}
