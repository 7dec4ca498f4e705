//! Every example runs under the test suite with a small budget, and what it prints is
//! checked. The example is (re)built first with the same profile and target folder as this
//! test binary, so `cargo test --test examples` never runs a stale binary.

mod common;

use std::process::Command;

use common::examples::{example, number_after, run};

#[test]
fn sine_forecast_quick_run_prints_summary_table_and_mses() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("example_sine_forecast_plots");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("plot folder");
    let dir_arg = dir.to_str().expect("utf-8 path");
    let out = run("sine_forecast", &["--quick", "--plots", dir_arg]);
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
    // The persistence baseline, recomputed here from the series itself (not from the crate's
    // windows or the example's arithmetic), and the model beats it.
    let naive = number_after(&out, "persistence baseline (next = last) on the test:");
    let ours = persistence_mse_of_the_held_out_part();
    assert!((naive - ours).abs() <= 5e-7, "printed persistence MSE {naive}, recomputed {ours:.7}");
    assert!(test < naive, "test MSE {test} vs persistence {naive}");
    assert!(out.contains("train windows: 155 (124 fitted, the last 31 for validation), test windows: 40"), "{out}");
    let free = number_after(&out, "own predictions fed back): MSE");
    assert!(free.is_finite() && free >= 0.0, "free-running MSE {free}");
    // The summary repeats the two MSEs.
    assert_eq!(number_after(&out, "lecture train MSE"), train);
    assert_eq!(number_after(&out, "held-out test MSE"), test);
    // The plots: written, SVG, and named in the output.
    for name in ["sine_forecast_lecture", "sine_forecast_lecture_loss", "sine_forecast_series", "sine_forecast_loss"] {
        let path = dir.join(format!("{name}.svg"));
        let svg = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(svg.starts_with("<svg"), "{name}.svg starts with {:?}", &svg[..svg.len().min(40)]);
        assert!(out.contains(&format!("plot: {}", path.display())), "{out}");
    }
    // Deterministic from its seed: a second run prints the same numbers.
    let again = run("sine_forecast", &["--quick", "--plots", dir_arg]);
    let strip = |s: &str| s.lines().filter(|l| !l.starts_with("finished in")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&out), strip(&again));
}

/// The example's 200-point series, drawn as `examples/sine_forecast.rs` documents it:
/// `sin(0.2 i) + 0.1·n_i`, `n_i` standard normal by Box–Muller from `StdRng` seed 42, and the
/// mean of `(x_i − x_{i−1})²` over the 40 held-out points `i = 160 … 199`: the MSE of
/// forecasting each point by the one before it.
fn persistence_mse_of_the_held_out_part() -> f64 {
    use recurrent::prelude::{SeedableRng, StdRng};
    use recurrent::rand::Rng;
    let mut rng = StdRng::seed_from_u64(42);
    let series: Vec<f64> = (0..200)
        .map(|i| {
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random();
            let n = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            (0.2 * i as f64).sin() + 0.1 * n
        })
        .collect();
    (160..200).map(|i| (series[i] - series[i - 1]).powi(2)).sum::<f64>() / 40.0
}

#[test]
fn vanishing_gradients_quick_run_prints_profiles_and_accuracies() {
    let tmp = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("example_vanishing_gradients");
    let _ = std::fs::remove_dir_all(&tmp);
    let dir = tmp.join("asked");
    std::fs::create_dir_all(&dir).expect("plot folder");
    let out = run("vanishing_gradients", &["--quick", "--plots", dir.to_str().expect("utf-8 path")]);
    let models = ["SimpleRNN", "LSTM", "GRU"];
    let mut init_ratios = Vec::new();
    for name in models {
        // Two gradient-profile tables (at initialisation, after training), each with one all-numeric
        // row per model: t=1, t=25, t=50, first/last; then the profile relative to the last step at
        // t = 1, 5, 10, …, 50, which ends at exactly 1.
        let rows: Vec<Vec<f64>> = out
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(name))
            .filter_map(|l| l.split_whitespace().skip(1).map(|w| w.parse::<f64>().ok()).collect::<Option<Vec<f64>>>())
            .collect();
        let table: Vec<&Vec<f64>> = rows.iter().filter(|r| r.len() == 4).collect();
        let profile: Vec<&Vec<f64>> = rows.iter().filter(|r| r.len() == 11).collect();
        assert_eq!((table.len(), profile.len()), (2, 2), "{name}: two tables and two profiles in:\n{out}");
        for row in table.iter().chain(&profile) {
            assert!(row.iter().all(|v| v.is_finite() && *v >= 0.0), "{name}: {row:?}");
        }
        for row in &profile {
            assert_eq!(row[10], 1.0, "{name}: the relative profile ends at 1: {row:?}");
        }

        // The summary line: first/last ratios and the held-out accuracy.
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{name}: first/last ratio at init")))
            .unwrap_or_else(|| panic!("no summary line for {name} in:\n{out}"));
        let init = number_after(line, "at init");
        let after = number_after(line, "after training");
        let accuracy = number_after(line, "test accuracy");
        for r in [init, after] {
            assert!(r.is_finite() && r > 0.0, "{name}: ratio {r} in {line:?}");
        }
        assert!((0.0..=1.0).contains(&accuracy), "{name}: accuracy {accuracy} in {line:?}");
        // The summary agrees with the table (printed with more digits there).
        assert!((table[0][3] / init - 1.0).abs() < 0.1, "{name}: table {} vs summary {init}", table[0][3]);
        init_ratios.push(init);
    }
    let control = out.lines().find(|l| l.starts_with("SimpleRNN (lr 0.25, control)")).expect("control line");
    assert!((0.0..=1.0).contains(&number_after(control, "test accuracy")), "{control}");
    assert!(out.contains("what this run shows:"), "{out}");

    // At initialisation the SimpleRNN's recurrent kernel is orthogonal and the gradient enters
    // only at the last step (the Dense head reads h_50), so going back one step multiplies
    // each sample's dL/dh_t by diag(tanh′) ≤ 1 and then by an orthogonal matrix: the norm can
    // only shrink. Its profile relative to the last step must therefore rise monotonically to
    // 1 (rounding to two digits keeps that order). The gated cells have no such bound.
    let simple_profile = &profile_rows("SimpleRNN", &out)[0];
    assert!(
        simple_profile.windows(2).all(|w| w[0] <= w[1]),
        "SimpleRNN at initialisation: ‖dL/dh_t‖ must not grow going back, got {simple_profile:?}"
    );
    assert!(init_ratios[0] < 1.0, "SimpleRNN's gradient shrinks over 49 steps at initialisation: {}", init_ratios[0]);

    // The closing words are derived from the numbers, not written in advance: the sentence
    // about the order at initialisation must be the one the printed ratios call for.
    let (simple, lstm, gru) = (init_ratios[0], init_ratios[1], init_ratios[2]);
    let sentence = if simple > lstm.max(gru) {
        "Not the textbook order"
    } else if simple < lstm.min(gru) {
        "The textbook order already"
    } else {
        "The SimpleRNN lies between the two gated cells"
    };
    assert!(out.contains(sentence), "ratios at init {simple:e}, {lstm:e}, {gru:e} call for {sentence:?}:\n{out}");

    // The plot: ‖dL/dh_t‖ for t = 1 … 50, one line per model in each of two panels (at
    // initialisation on the left, after training on the right).
    let svg_path = dir.join("vanishing_gradients.svg");
    assert!(out.contains(&format!("plot: {}", svg_path.display())), "{out}");
    let svg = std::fs::read_to_string(&svg_path).unwrap_or_else(|e| panic!("{}: {e}", svg_path.display()));
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(40)]);
    for label in ["at initialisation", "after 300 updates", "log10 ‖dL/dh_t‖"] {
        assert!(svg.contains(label), "no {label:?} in the plot");
    }
    for name in models {
        assert_eq!(svg.matches(&format!(">\n{name}\n</text>")).count(), 2, "{name}: one legend entry per panel");
    }
    let curves: Vec<Vec<(f64, f64)>> = polylines(&svg).into_iter().filter(|p| p.len() == 50).collect();
    assert_eq!(curves.len(), 6, "six curves of 50 points in the plot");
    let width: f64 = svg["<svg width=\"".len()..].split('"').next().and_then(|w| w.parse().ok()).expect("svg width");
    let (left, right) = curves.split_at(3);
    assert!(left.iter().flatten().all(|&(x, _)| x < width / 2.0), "the first three curves in the left panel");
    assert!(right.iter().flatten().all(|&(x, _)| x > width / 2.0), "the last three in the right panel");
    // The SimpleRNN's norm at initialisation cannot grow going back (see above): drawn with
    // t rising to the right, its curve never falls, so its y in SVG pixels (which grow
    // downwards) never rises from left to right.
    assert!(left[0].windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 >= w[1].1), "SimpleRNN at init: {:?}", left[0]);
    assert!(left[0][0].1 > left[0][49].1, "SimpleRNN at init: the curve rises over t: {:?}", left[0]);

    // Deterministic from its seed: a second run prints the same numbers and draws the same
    // plot. Without --plots and with CARGO_TARGET_DIR set, the plot goes to $CARGO_TARGET_DIR/plots.
    let target = tmp.join("target_dir");
    let again = Command::new(example("vanishing_gradients"))
        .arg("--quick")
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("example runs");
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let again = String::from_utf8_lossy(&again.stdout).into_owned();
    let moved = target.join("plots").join("vanishing_gradients.svg");
    assert!(again.contains(&format!("plot: {}", moved.display())), "{again}");
    let svg_again = std::fs::read_to_string(&moved).unwrap_or_else(|e| panic!("{}: {e}", moved.display()));
    assert!(svg_again == svg, "the second run's plot differs from the first");
    let strip = |s: &str| {
        s.lines().filter(|l| !l.starts_with("finished in") && !l.starts_with("plot: ")).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(strip(&out), strip(&again));
}

/// The points of every `<polyline>` in an SVG plotters wrote, in pixels.
fn polylines(svg: &str) -> Vec<Vec<(f64, f64)>> {
    svg.split("<polyline")
        .skip(1)
        .filter_map(|el| {
            let start = el.find("points=\"")? + "points=\"".len();
            let points = &el[start..start + el[start..].find('"')?];
            points
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',')?;
                    Some((x.parse().ok()?, y.parse().ok()?))
                })
                .collect()
        })
        .collect()
}

/// The compact profile rows (11 numbers: t = 1, 5, …, 50 relative to the last step) printed
/// for `name`: at initialisation, then after training.
fn profile_rows(name: &str, out: &str) -> Vec<Vec<f64>> {
    out.lines()
        .filter(|l| l.split_whitespace().next() == Some(name))
        .filter_map(|l| l.split_whitespace().skip(1).map(|w| w.parse::<f64>().ok()).collect::<Option<Vec<f64>>>())
        .filter(|r| r.len() == 11)
        .collect()
}

#[test]
fn pytorch_interop_reproduces_every_fixture_and_round_trips() {
    let out = run("pytorch_interop", &["--quick"]);
    let label = "max |ours − PyTorch| =";
    let diffs: Vec<&str> = out.lines().filter(|l| l.contains(label)).collect();
    // Every fixture file: at least an output line in one dtype.
    let files = out.lines().filter(|l| l.contains(".safetensors: nn.")).count();
    assert!(files >= 8, "{out}");
    assert!(diffs.len() >= 2 * files, "{out}");
    for line in diffs {
        let d = number_after(line, label);
        let tol = if line.contains("(float32)") { 1e-5 } else { 1e-12 };
        assert!(d <= tol, "{line}");
    }
    assert!(!out.contains("DIFFERENT"), "{out}");
    assert!(out.contains("export → import              identical outputs"), "{out}");
    assert!(out.contains("saved as a model file and loaded back: same predictions"), "{out}");
}

/// A user adds only `recurrent` to a project. The README's Rust sample runs as a doctest
/// (`ReadmeDoctests` in src/lib.rs), but a doctest can name every dependency of this crate, so
/// this checks what the doctest cannot: the sample names no crate but `recurrent` and `std`,
/// and the examples reach ndarray and rand only through `recurrent::ndarray` and
/// `recurrent::rand`.
#[test]
fn readme_sample_and_examples_need_no_dependency_but_recurrent() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    // Every dependency and dev-dependency, as a path root is spelt (`-` → `_`).
    let mut deps = Vec::new();
    let mut in_deps = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]" || line == "[dev-dependencies]";
        } else if in_deps {
            if let Some((name, _)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
                deps.push(name.trim().replace('-', "_"));
            }
        }
    }
    assert!(deps.iter().any(|d| d == "ndarray") && deps.iter().any(|d| d == "plotters"), "{deps:?}");

    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
            // Rustdoc runs a block as Rust unless its info string names another language.
            if info.is_empty() || info.split(',').any(|w| w.trim() == "rust") {
                blocks.push(body.join("\n"));
            }
        }
    }
    assert!(!blocks.is_empty(), "no Rust block in the README");
    for code in &blocks {
        assert!(code.contains("use recurrent::"), "{code}");
        for dep in &deps {
            let found = crate_paths(code, dep);
            assert!(
                found.is_empty(),
                "the README sample names `{dep}` directly (a user has only recurrent): {found:?}"
            );
        }
    }

    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for dir in ["examples", "examples/common"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("examples folder") {
            let path = entry.expect("directory entry").path();
            if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 8, "{files:?}");
    for path in files {
        let code = std::fs::read_to_string(&path).expect("example source");
        for dep in ["ndarray", "ndarray_rand", "rand"] {
            let found = crate_paths(&code, dep);
            assert!(
                found.is_empty(),
                "{} names `{dep}` directly instead of recurrent::{dep}: {found:?}",
                path.display()
            );
        }
    }
}

/// The lines of `code` where `krate::` starts a path (not preceded by `::` or an identifier
/// character), or `extern crate krate` appears.
fn crate_paths(code: &str, krate: &str) -> Vec<String> {
    let needle = format!("{krate}::");
    code.lines()
        .filter(|line| {
            line.contains(&format!("extern crate {krate}"))
                || line.match_indices(&needle).any(|(i, _)| {
                    let before = &line[..i];
                    !before.ends_with("::") && !before.ends_with(|c: char| c.is_alphanumeric() || c == '_')
                })
        })
        .map(str::to_string)
        .collect()
}
