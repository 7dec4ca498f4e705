//! Shared helpers for the integration tests: where the fixtures are, JSON → ndarray, and
//! tolerance checks.
#![allow(dead_code)]

pub mod examples;

use std::path::PathBuf;

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use recurrent::Float;
use serde_json::Value;

/// The fixture folder: `$RECURRENT_FIXTURES` when set, else `tests/fixtures`.
pub fn fixture_dir() -> PathBuf {
    match std::env::var_os("RECURRENT_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures"),
    }
}

/// Reads and parses one fixture file; a missing or unreadable file fails the test loudly.
pub fn load(name: &str) -> Value {
    let path = fixture_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture file {} is missing or unreadable: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture file {} is not valid JSON: {e}", path.display()))
}

/// Loads a file holding a JSON list of cases and checks it is not empty.
pub fn cases(name: &str) -> Vec<Value> {
    match load(name) {
        Value::Array(v) if !v.is_empty() => v,
        _ => panic!("fixture file {name} should hold a non-empty JSON list of cases"),
    }
}

fn shape_of(v: &Value, shape: &mut Vec<usize>) {
    if let Value::Array(items) = v {
        shape.push(items.len());
        if let Some(first) = items.first() {
            shape_of(first, shape);
        }
    }
}

fn flatten(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        Value::Number(n) => out.push(n.as_f64().expect("fixture numbers are f64")),
        other => panic!("expected a number in a fixture array, got {other}"),
    }
}

/// A nested JSON list (or a bare number) as an f64 array.
pub fn arr64(v: &Value) -> ArrayD<f64> {
    let mut shape = Vec::new();
    shape_of(v, &mut shape);
    let mut data = Vec::new();
    flatten(v, &mut data);
    ArrayD::from_shape_vec(IxDyn(&shape), data).expect("fixture arrays are rectangular")
}

/// A nested JSON list as an array of `F` (f64 values rounded to nearest for f32).
pub fn arr<F: Float>(v: &Value) -> ArrayD<F> {
    arr64(v).mapv(F::of)
}

/// `v[key]` as an array of `F`.
pub fn field<F: Float>(v: &Value, key: &str) -> ArrayD<F> {
    arr(v.get(key).unwrap_or_else(|| panic!("fixture case has no field {key:?}")))
}

/// Tolerances of the fixtures' README, section 8.
#[derive(Debug, Clone, Copy)]
pub struct Tol {
    pub rtol: f64,
    pub atol: f64,
}

pub fn tol<F: Float>() -> Tol {
    if F::DTYPE == "float64" {
        Tol { rtol: 1e-9, atol: 1e-12 }
    } else {
        Tol { rtol: 1e-4, atol: 1e-5 }
    }
}

/// Asserts `|got − want| ≤ rtol·|want| + atol` element-wise, naming the worst element.
pub fn assert_close<F: Float>(what: &str, got: &ArrayViewD<'_, F>, want: &ArrayViewD<'_, f64>, t: Tol) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape of result vs reference");
    let mut worst: Option<(usize, f64, f64, f64)> = None;
    for (k, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        let g = g.to_f64_exact();
        let excess = (g - w).abs() - (t.rtol * w.abs() + t.atol);
        if (excess > 0.0 || excess.is_nan()) && worst.is_none_or(|(_, e, _, _)| excess > e) {
            worst = Some((k, excess, g, *w));
        }
    }
    if let Some((k, _, g, w)) = worst {
        panic!(
            "{what} ({}): element {k} is {g:e}, reference {w:e} (|diff| {:e}, allowed {:e})",
            F::DTYPE,
            (g - w).abs(),
            t.rtol * w.abs() + t.atol
        );
    }
}
