//! The seq2seq example (written dates to ISO dates with an encoder–decoder) under the test
//! suite: a quick run, its exact-match accuracy above a floor and consistent with its counts
//! and per-position accuracies, every decoded sample checked against a date conversion done
//! here independently, the model file round trip, the loss plot, and a second run printing
//! the same.

mod common;

use std::path::PathBuf;

use common::examples::{number_after, run};

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// "march 5, 2019", "5 march 2019", "mar 5, 2019" or "5 mar 2019" as "2019-03-05".
fn iso(text: &str) -> String {
    let words: Vec<&str> = text.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    assert_eq!(words.len(), 3, "{text:?}");
    let month_of = |w: &str| MONTHS.iter().position(|m| *m == w || &m[..3] == w);
    let (month, day) = match month_of(words[0]) {
        Some(m) => (m, words[1]),
        None => (month_of(words[1]).unwrap_or_else(|| panic!("no month in {text:?}")), words[0]),
    };
    let day: usize = day.parse().expect("day");
    let year: usize = words[2].parse().expect("year");
    format!("{year:04}-{:02}-{day:02}", month + 1)
}

fn plot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("example_seq2seq_plots");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("plot folder");
    dir
}

#[test]
fn seq2seq_quick_run_decodes_held_out_dates_and_says_so_truthfully() {
    assert_eq!(iso("march 5, 2019"), "2019-03-05");
    assert_eq!(iso("17 sep 1984"), "1984-09-17");
    let dir = plot_dir();
    let dir_arg = dir.to_str().expect("utf-8 path");
    let out = run("seq2seq", &["--quick", "--plots", dir_arg]);

    // One line per epoch of the quick budget, with the token accuracy asked for.
    let epochs: Vec<&str> = out.lines().filter(|l| l.starts_with("epoch ")).collect();
    assert_eq!(epochs.len(), 8, "{out}");
    for l in &epochs {
        for key in ["loss", "val_loss"] {
            let v = number_after(l, &format!(" {key} "));
            assert!(v.is_finite() && v >= 0.0, "{key} = {v} in {l}");
        }
        for key in ["accuracy", "val_accuracy"] {
            let v = number_after(l, &format!(" {key} "));
            assert!((0.0..=1.0).contains(&v), "{key} = {v} in {l}");
        }
    }
    let first = number_after(epochs[0], " loss ");
    let last = number_after(epochs[7], " loss ");
    assert!(last < 0.1 * first, "training loss {first} -> {last}");

    // Exact-match accuracy: a floor with a margin below what the quick run reaches (0.98),
    // and consistent with the counts on its line.
    let line = out.lines().find(|l| l.starts_with("exact-match accuracy on")).expect("accuracy line");
    let n = number_after(line, "accuracy on") as usize;
    let accuracy = number_after(line, "dates:");
    let right = number_after(line, "(") as usize;
    assert_eq!(n, 300, "{line}");
    assert!(line.ends_with(&format!("({right} of {n})")), "{line}");
    assert!((accuracy - right as f64 / n as f64).abs() < 6e-5, "{line}");
    assert!(accuracy >= 0.9, "exact-match accuracy {accuracy} (the quick run reached 0.98 when written)");
    // A sequence is right only if every character is: no position is below the exact match.
    let positions = out.lines().find(|l| l.starts_with("character accuracy by output position")).expect("positions");
    let per: Vec<f64> =
        positions.split_once("):").expect("values").1.split_whitespace().map(|w| w.parse().expect("number")).collect();
    assert_eq!(per.len(), 10, "{positions}");
    assert!(per.iter().all(|&p| (accuracy - 1e-3..=1.0).contains(&p)), "{positions} vs {accuracy}");
    // The year's first two digits only copy "19" or "20": learned first.
    assert_eq!(per[0], 1.0, "{positions}");

    // Samples and mistakes: the truth follows from the written date, and the verdict from it.
    let lines: Vec<&str> = out.lines().collect();
    let shown = |header: &str| -> Vec<&str> {
        let k = lines.iter().position(|l| l.starts_with(header)).unwrap_or_else(|| panic!("no {header:?}"));
        lines[k + 1..].iter().take_while(|l| l.starts_with("  ")).copied().collect()
    };
    let check = |l: &str| -> bool {
        let (text, rest) = l.trim().split_once(" → ").expect("text → decoded");
        let truth = iso(text.trim());
        let mut words = rest.split_whitespace();
        let got = words.next().unwrap_or("");
        let verdict: Vec<&str> = words.collect();
        if verdict == ["ok"] {
            assert_eq!(got, truth, "{l}");
            true
        } else {
            assert_eq!(verdict, ["wrong,", "expected", truth.as_str()], "{l}");
            assert_ne!(got, truth, "{l}");
            false
        }
    };
    let samples = shown("decoded samples:");
    assert_eq!(samples.len(), 8, "{out}");
    let ok = samples.iter().filter(|l| check(l)).count();
    assert!(ok >= 6, "{ok} of 8 samples right at accuracy {accuracy}");
    let mistakes_line = lines.iter().find(|l| l.starts_with("mistakes (")).expect("mistakes line");
    assert_eq!(number_after(mistakes_line, "(") as usize, n - right, "{mistakes_line}");
    let mistakes = shown("mistakes (");
    assert_eq!(mistakes.len(), (n - right).min(5), "{out}");
    assert!(mistakes.iter().all(|l| !check(l)), "{mistakes:?}");

    // The model file round trip.
    let saved = out.lines().find(|l| l.starts_with("saved to a model file")).expect("model file line");
    assert!(saved.ends_with("decodes the held-out dates the same: yes"), "{saved}");

    // The loss plot.
    let path = dir.join("seq2seq_loss.svg");
    let svg = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(svg.starts_with("<svg"), "{:?}", &svg[..svg.len().min(40)]);
    assert!(out.contains(&format!("plot: {}", path.display())), "{out}");

    // Deterministic from its seed: a second run prints the same.
    let again = run("seq2seq", &["--quick", "--plots", dir_arg]);
    let strip = |s: &str| s.lines().filter(|l| !l.starts_with("finished in")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&out), strip(&again));
}
