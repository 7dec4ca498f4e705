//! The `char_generation` example under the test suite: a quick run, what it printed checked
//! (the summary's parameter count, the loss falling below uniform guessing, four samples of
//! the right length made of the text's characters, more text-like after training than
//! before), the SVG written, and a second run printing the same.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::examples::{number_after, run};

const PROMPT: &str = "\"My dear Mr. Bennet,\" said ";
/// The quick run's settings (`Settings::quick` in the example).
const QUICK_UNITS: f64 = 32.0;
const QUICK_EMBEDDING: f64 = 32.0;
const QUICK_SAMPLE_LEN: usize = 80;

/// The generated text (without the prompt) of the sample printed under `header`.
fn sample<'a>(out: &'a str, header: &str) -> &'a str {
    let start = out.find(header).unwrap_or_else(|| panic!("no {header:?} in:\n{out}")) + header.len() + 1;
    let body = &out[start..];
    assert!(body.starts_with(PROMPT), "the sample starts with the prompt: {body:?}");
    let body = &body[PROMPT.len()..];
    let end = body.char_indices().nth(QUICK_SAMPLE_LEN).map_or(body.len(), |(i, _)| i);
    assert!(body[end..].starts_with("\n---\n"), "{QUICK_SAMPLE_LEN} characters, then the closing line: {body:?}");
    &body[..end]
}

/// The fraction of lowercase letters and spaces: about 27 of the text's 62 characters, so near
/// 0.45 for uniform draws and near 0.9 for English.
fn letter_share(s: &str) -> f64 {
    s.chars().filter(|c| c.is_ascii_lowercase() || *c == ' ').count() as f64 / s.chars().count() as f64
}

#[test]
fn char_generation_quick_run_prints_losses_samples_and_plot() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("example_char_generation_plots");
    let _ = std::fs::remove_dir_all(&dir);
    let dir_arg = dir.to_str().expect("UTF-8 temp path");
    let out = run("char_generation", &["--quick", "--plots", dir_arg]);

    // The character set and the summary: Embedding(V, 32) → LSTM(32) → Dense(V).
    let chars = number_after(&out, "text:");
    let v = number_after(&out, "characters,");
    assert_eq!(chars, 6_000.0, "the quick run reads the start of the text: {out}");
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/pride_and_prejudice.txt"))
            .expect("the example's text");
    let charset: BTreeSet<char> = text.chars().take(chars as usize).collect();
    assert_eq!(v, charset.len() as f64, "V counts the distinct characters of the text used");
    assert!(out.contains("lstm (LSTM)"), "{out}");
    let (h, e) = (QUICK_UNITS, QUICK_EMBEDDING);
    let want = v * e + 4.0 * h * (e + h + 1.0) + (h * v + v);
    assert_eq!(number_after(&out, "Total params:"), want, "{out}");
    let uniform = number_after(&out, "loss ln V =");
    assert!((uniform - v.ln()).abs() < 1e-4, "ln V = {uniform}");

    // One line per epoch, losses finite, falling, and below uniform guessing at the end.
    let training = out.lines().find(|l| l.starts_with("training:")).unwrap_or_else(|| panic!("{out}"));
    let planned: usize = training
        .split(", ")
        .find_map(|part| part.strip_suffix(" epochs")?.parse().ok())
        .unwrap_or_else(|| panic!("no epoch count in {training:?}"));
    let losses: Vec<(f64, f64, f64, f64)> = out
        .lines()
        .filter(|l| l.starts_with("epoch "))
        .map(|l| {
            (
                number_after(l, "loss"),
                number_after(l, " accuracy"),
                number_after(l, "val_loss"),
                number_after(l, "val_accuracy"),
            )
        })
        .collect();
    assert_eq!(losses.len(), planned, "{out}");
    for &(loss, acc, val_loss, val_acc) in &losses {
        assert!(loss.is_finite() && loss > 0.0 && val_loss.is_finite() && val_loss > 0.0, "{losses:?}");
        assert!((0.0..=1.0).contains(&acc) && (0.0..=1.0).contains(&val_acc), "{losses:?}");
    }
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    assert!(last.0 < first.0 && last.2 < first.2, "training and validation loss fall: {losses:?}");
    let summary = out.lines().find(|l| l.starts_with("final training loss")).unwrap_or_else(|| panic!("{out}"));
    let final_val = number_after(summary, "validation loss");
    assert_eq!(final_val, (last.2 * 1e4).round() / 1e4, "the final line repeats the last epoch's val_loss");
    assert!(final_val < uniform - 0.5, "the quick run learns something: {final_val} vs ln V {uniform}");
    let bits = number_after(summary, "(");
    assert!((bits - final_val / std::f64::consts::LN_2).abs() < 2e-3, "bits per character {bits}");

    // Four samples of QUICK_SAMPLE_LEN characters from the text's character set, before and after
    // training, at τ = 0.5 and 1.0; after training the cold sample reads more like English.
    let mut share = Vec::new();
    for when in ["before training", "after training"] {
        for t in ["0.5", "1.0"] {
            let s = sample(&out, &format!("--- sample {when}, temperature {t} ---"));
            assert!(s.chars().all(|c| charset.contains(&c)), "{when}, {t}: a character not in the text: {s:?}");
            share.push(letter_share(s));
        }
    }
    assert!(share[2] > share[0] + 0.2, "lowercase letters and spaces before {} vs after {}", share[0], share[2]);

    let path = dir.join("char_generation_loss.svg");
    let svg = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{} not written: {e}", path.display()));
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);

    // Deterministic from its seed: a second run prints and draws the same.
    let again = run("char_generation", &["--quick", "--plots", dir_arg]);
    let strip = |s: &str| s.lines().filter(|l| !l.starts_with("finished in")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&out), strip(&again));
    assert_eq!(svg, std::fs::read_to_string(&path).expect("SVG of the second run"));
}
