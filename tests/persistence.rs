//! Model files: bit-for-bit round trips in f32 and f64, optimiser state, atomic writes, and
//! a clear error (never a panic) for every kind of bad file.

use std::path::PathBuf;

use ndarray::{Array2, Array3, ArrayD};
use recurrent::io::json;
use recurrent::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A fresh folder under the system's temporary folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("recurrent-persistence-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .expect("list temp dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every layer kind and option the files must carry: a Bidirectional SimpleRNN (relu, sum),
/// an LSTM reading backwards, an original-formulation GRU, a Bidirectional GRU (concat)
/// and a Dense head with an activation; trained a few steps so no weight is at its
/// initial value.
fn zoo<F: Float>(seed: u64) -> (Sequential<F>, Array3<F>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut m = Sequential::<F>::new(&[6, 3]).expect("model");
    let rnn = SimpleRnnConfig::new(3, 4).with_activation(Activation::Relu).with_return_sequences(true);
    m.add(Bidirectional::new(rnn.init::<F, _>(&mut rng).expect("rnn"), MergeMode::Sum, &mut rng).expect("bi"))
        .expect("add");
    m.add(LstmConfig::new(4, 5).with_return_sequences(true).with_go_backwards(true).init(&mut rng).expect("lstm"))
        .expect("add");
    m.add(GruConfig::new(5, 3).with_reset_after(false).with_return_sequences(true).init(&mut rng).expect("gru"))
        .expect("add");
    let gru = GruConfig::new(3, 2).init::<F, _>(&mut rng).expect("gru");
    m.add(Bidirectional::new(gru, MergeMode::Concat, &mut rng).expect("bi")).expect("add");
    m.add(DenseConfig::new(4, 2).with_activation(Activation::Sigmoid).init(&mut rng).expect("dense")).expect("add");
    m.set_name("zoo");
    let x = Array3::from_shape_fn((3, 6, 3), |(b, t, i)| F::of(((b * 7 + t * 3 + i) as f64 * 0.37).sin()));
    let y = Array2::from_shape_fn((3, 2), |(b, j)| F::of(0.2 + 0.3 * (b + j) as f64 / 4.0));
    let mut sgd = Sgd::new(F::of(0.5));
    for _ in 0..3 {
        m.train_step(&x, &y, &Mse, &mut sgd).expect("train");
    }
    (m, x)
}

fn params<F: Float>(m: &Sequential<F>) -> Vec<(String, ArrayD<F>)> {
    let mut v = Vec::new();
    m.visit_params(&mut |p| v.push((p.name.to_string(), p.value.to_owned())));
    v
}

fn bits<F: Float>(a: &ArrayD<F>) -> Vec<u64> {
    a.iter().map(|v| v.to_f64_exact().to_bits()).collect()
}

fn round_trip<F: Float>() {
    let dir = TempDir::new(F::DTYPE);
    let (mut model, x) = zoo::<F>(11);
    let path = dir.path("zoo.json");
    json::save(&model, &path).expect("save");
    let mut back = json::load::<F>(&path).expect("load");
    assert_eq!(back.summary(), model.summary());
    assert_eq!(back.name(), "zoo");
    let (a, b) = (params(&model), params(&back));
    assert_eq!(a.len(), b.len());
    for ((na, va), (nb, vb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert_eq!(bits(va), bits(vb), "{} weight {na} bit for bit", F::DTYPE);
    }
    let (pa, pb) = (model.predict(&x).expect("predict"), back.predict(&x).expect("predict"));
    assert_eq!(bits(&pa), bits(&pb), "{} predictions bit for bit", F::DTYPE);
    // Saving the loaded model writes the same bytes again.
    assert_eq!(json::to_vec(&back).expect("to_vec"), std::fs::read(&path).expect("read"));
    assert_eq!(dir.entries(), ["zoo.json"], "no temporary file left behind");
}

#[test]
fn a_loaded_model_predicts_bit_for_bit_in_f32_and_f64() {
    round_trip::<f32>();
    round_trip::<f64>();
}

#[test]
fn the_file_format_is_pinned() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut dense = DenseConfig::new(2, 1).init::<f32, _>(&mut rng).expect("dense");
    dense.set_kernel(ndarray::array![[0.1], [-2.5]]).expect("kernel");
    dense.set_bias(ndarray::array![1e-8]).expect("bias");
    let mut model = Sequential::<f32>::new(&[2]).expect("model");
    model.add(dense).expect("add");
    let text = String::from_utf8(json::to_vec(&model).expect("to_vec")).expect("utf-8");
    let want = format!(
        r#"{{
  "format": "recurrent-model",
  "version": 1,
  "dtype": "float32",
  "writer": "recurrent {}",
  "name": "sequential",
  "input_shape": [2],
  "layers": [
    {{
      "kind": "Dense",
      "name": "dense",
      "config": {{
        "activation": "linear",
        "in_features": 2,
        "units": 1
      }},
      "weights": [
        {{"name": "kernel", "shape": [2,1], "data": [0.10000000149011612,-2.5]}},
        {{"name": "bias", "shape": [1], "data": [9.99999993922529e-9]}}
      ]
    }}
  ],
  "optimizer": null
}}
"#,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(text, want);
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct AdamLike {
    step: u64,
    lr: f64,
    m: Vec<Vec<f64>>,
}

#[test]
fn optimiser_state_travels_with_the_model() {
    let dir = TempDir::new("optim");
    let (model, _) = zoo::<f64>(3);
    let state = AdamLike { step: 7, lr: 1e-3, m: vec![vec![0.1, -0.2], vec![]] };
    let path = dir.path("m.json");
    json::save_with_optimizer(&model, &state, &path).expect("save");
    let (_, back) = json::load_with_optimizer::<f64, AdamLike>(&path).expect("load");
    assert_eq!(back, Some(state.clone()));
    // `load` ignores it; a file without one gives None; the wrong type is a clear Err.
    json::load::<f64>(&path).expect("load without state");
    let err = json::load_with_optimizer::<f64, Vec<u8>>(&path).unwrap_err();
    assert!(matches!(&err, Error::Format { what, .. } if what == "model file optimizer"), "{err}");
    json::save(&model, &path).expect("save");
    let (_, none) = json::load_with_optimizer::<f64, AdamLike>(&path).expect("load");
    assert_eq!(none, None);
    // Any serde value works, a serde_json::Value included.
    let bytes = json::to_vec_with_optimizer(&model, &json!({"lr": 0.01})).expect("to_vec");
    let (_, v) = json::from_slice_with_optimizer::<f64, Value>(&bytes).expect("from_slice");
    assert_eq!(v, Some(json!({"lr": 0.01})));
}

/// Serialises part of itself, then fails: a write that dies half-way through the file.
struct FailsHalfWay;

impl Serialize for FailsHalfWay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeSeq};
        let mut seq = s.serialize_seq(Some(3))?;
        seq.serialize_element(&1.0)?;
        seq.serialize_element(&2.0)?;
        Err(S::Error::custom("disk on fire"))
    }
}

#[test]
fn a_write_that_fails_half_way_leaves_the_previous_file_intact() {
    let dir = TempDir::new("halfway");
    let path = dir.path("model.json");
    let (old, _) = zoo::<f64>(1);
    json::save(&old, &path).expect("save");
    let before = std::fs::read(&path).expect("read");

    let (new, _) = zoo::<f64>(2);
    // The model part is written to the temporary file before the state fails.
    let err = json::save_with_optimizer(&new, &FailsHalfWay, &path).unwrap_err();
    assert!(matches!(&err, Error::Format { got, .. } if got.contains("disk on fire")), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), before, "previous file unchanged");
    assert_eq!(dir.entries(), ["model.json"], "temporary file removed");

    // A weight turned NaN is refused before anything is written.
    let (mut bad, _) = zoo::<f64>(2);
    bad.visit_params_mut(&mut |mut p| {
        if p.name == "recurrent_kernel" {
            p.value[[1, 2]] = f64::NAN;
        }
    });
    let err = json::save(&bad, &path).unwrap_err();
    match &err {
        Error::NonFinite { what, index, .. } => {
            assert_eq!(what, "layer 0 (bidirectional, Bidirectional) weight `forward.recurrent_kernel`");
            assert_eq!(index, "[1, 2]");
        }
        other => panic!("{other}"),
    }
    assert_eq!(std::fs::read(&path).expect("read"), before);

    // A folder that does not exist: an I/O error naming the file.
    let err = json::save(&new, dir.path("missing/model.json")).unwrap_err();
    assert!(matches!(&err, Error::Io { kind: std::io::ErrorKind::NotFound, .. }), "{err}");
    assert_eq!(dir.entries(), ["model.json"]);
}

/// File-system failures that root cannot bypass (CI runs as root, so a read-only folder
/// proves nothing there): the target is a folder, so the final rename fails after the
/// temporary file was written in full; a parent that is a regular file, so the temporary file
/// cannot be created; a name longer than a folder entry may be. Each is an `Error::Io` naming
/// the target, the previous file stays byte for byte, and no temporary file is left behind.
#[test]
fn file_system_failures_keep_the_previous_file_and_leave_no_temporary() {
    let dir = TempDir::new("fs-failures");
    let path = dir.path("model.json");
    let (old, _) = zoo::<f32>(1);
    json::save(&old, &path).expect("save");
    let before = std::fs::read(&path).expect("read");
    let (new, _) = zoo::<f32>(2);
    let taken = dir.path("taken");
    std::fs::create_dir(&taken).expect("mkdir");
    std::fs::write(taken.join("inside.txt"), b"keep me").expect("write");
    let unchanged = |what: &str| {
        assert_eq!(std::fs::read(&path).expect("read"), before, "{what}: previous file byte for byte");
        assert_eq!(dir.entries(), ["model.json", "taken"], "{what}: no temporary file left");
        assert_eq!(std::fs::read(taken.join("inside.txt")).expect("read"), b"keep me", "{what}");
    };

    // The rename is the last step: everything before it succeeded, so the cleanup of a
    // fully written temporary file is what this checks.
    let err = json::save(&new, &taken).unwrap_err();
    match &err {
        Error::Io { op, path: p, kind, .. } => {
            assert!(op.contains("rename"), "{err}");
            assert!(p.ends_with("taken"), "{err}");
            assert_eq!(*kind, std::io::ErrorKind::IsADirectory, "{err}");
        }
        other => panic!("expected Error::Io, got {other:?}"),
    }
    unchanged("target is a folder");

    // The same through the safetensors writer, which shares the atomic write.
    let mut dict = recurrent::io::torch::StateDict::<f32>::new();
    dict.insert("weight", ArrayD::zeros(ndarray::IxDyn(&[2, 3]))).expect("insert");
    let err = dict.save(&taken).unwrap_err();
    assert!(matches!(&err, Error::Io { kind: std::io::ErrorKind::IsADirectory, .. }), "{err}");
    unchanged("safetensors target is a folder");

    // A path through a regular file: the temporary file cannot even be created.
    let err = json::save(&new, path.join("model.json")).unwrap_err();
    match &err {
        Error::Io { kind, path: p, .. } => {
            assert_eq!(*kind, std::io::ErrorKind::NotADirectory, "{err}");
            assert!(p.contains("model.json/model.json"), "{err}");
        }
        other => panic!("expected Error::Io, got {other:?}"),
    }
    unchanged("parent is a file");

    // A name longer than the 255 bytes a folder entry may have (NAME_MAX on Linux and macOS).
    let long = "m".repeat(300);
    let err = json::save(&new, dir.path(&long)).unwrap_err();
    assert!(matches!(&err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains(&long), "the message names the file: {err}");
    unchanged("name too long");
}

// ───────────────────────────── bad files ─────────────────────────────

/// A small valid file as a JSON value: LSTM(2→3) → Dense(3→1), f64.
fn small_file() -> Value {
    let mut rng = StdRng::seed_from_u64(5);
    let mut m = Sequential::<f64>::new(&[4, 2]).expect("model");
    m.add(LstmConfig::new(2, 3).init(&mut rng).expect("lstm")).expect("add");
    m.add(DenseConfig::new(3, 1).init(&mut rng).expect("dense")).expect("add");
    serde_json::from_slice(&json::to_vec(&m).expect("to_vec")).expect("valid JSON")
}

fn load_value(v: &Value) -> recurrent::Result<Sequential<f64>> {
    json::from_slice::<f64>(&serde_json::to_vec(v).expect("serialise"))
}

fn err_of(v: &Value) -> Error {
    match load_value(v) {
        Ok(_) => panic!("expected an error for {v}"),
        Err(e) => e,
    }
}

/// `[what, expected, got]` of an [`Error::Format`].
fn format_err(e: Error) -> [String; 3] {
    match e {
        Error::Format { what, expected, got } => [what, expected, got],
        other => panic!("expected Error::Format, got {other:?}"),
    }
}

#[test]
fn the_small_file_itself_loads() {
    let m = load_value(&small_file()).expect("valid");
    assert_eq!(m.layers().len(), 2);
}

#[test]
fn every_truncation_of_a_file_is_a_format_error() {
    let bytes = serde_json::to_vec(&small_file()).expect("bytes");
    for cut in 0..bytes.len() {
        match json::from_slice::<f64>(&bytes[..cut]) {
            Err(Error::Format { what, got, .. }) => {
                assert_eq!(what, "model file", "cut at {cut}");
                assert!(got.contains("EOF") || got.contains("line"), "cut at {cut}: {got}");
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    let [what, _, _] = format_err(json::from_slice::<f64>(b"\xff\xfe not json").unwrap_err());
    assert_eq!(what, "model file");
}

#[test]
fn wrong_format_or_version_is_refused_first() {
    for (version, got) in
        [(json!(2), "2"), (json!("1"), "\"1\""), (json!(0), "0"), (Value::Null, "no version (missing or null)")]
    {
        let mut v = small_file();
        v["version"] = version;
        let e = err_of(&v);
        assert_eq!(format_err(e), ["model file version", "1 (the version this crate reads)", got]);
    }
    let mut v = small_file();
    v.as_object_mut().expect("object").remove("version");
    assert_eq!(format_err(err_of(&v))[2], "no version (missing or null)");
    // A future version is refused even when the rest of the file no longer looks like v1.
    let e = err_of(&json!({"format": "recurrent-model", "version": 2, "graph": {}}));
    assert_eq!(format_err(e)[0], "model file version");
    let mut v = small_file();
    v["format"] = json!("keras");
    assert_eq!(format_err(err_of(&v)), ["model file format", "\"recurrent-model\"", "\"keras\""]);
}

#[test]
fn unknown_kind_unknown_fields_and_wrong_dtype_are_named() {
    let mut v = small_file();
    v["layers"][1]["kind"] = json!("Conv1D");
    let [what, expected, got] = format_err(err_of(&v));
    assert_eq!(what, "model file layer 1 (dense) kind");
    assert!(expected.contains("LSTM") && expected.contains("Bidirectional"), "{expected}");
    assert_eq!(got, "\"Conv1D\"");

    let mut v = small_file();
    v["layers"][0]["config"]["peepholes"] = json!(true);
    let [what, _, got] = format_err(err_of(&v));
    assert_eq!(what, "model file layer 0 (lstm, LSTM) config");
    assert!(got.contains("peepholes"), "{got}");

    let mut v = small_file();
    v["layers"][0]["config"]["cell"]["forget_bias"] = json!(1.0);
    assert!(format_err(err_of(&v))[2].contains("cell.forget_bias"));

    let mut v = small_file();
    v["layers"][0]["config"].as_object_mut().expect("config").remove("units");
    let [what, _, got] = format_err(err_of(&v));
    assert_eq!(what, "model file layer 0 (lstm, LSTM) config");
    assert!(got.contains("units"), "{got}");

    let mut v = small_file();
    v["layers"][0]["config"]["cell"]["activation"] = json!("swish");
    assert!(format_err(err_of(&v))[2].contains("swish"));

    let mut v = small_file();
    v["comment"] = json!("hi");
    assert!(format_err(err_of(&v))[2].contains("comment"));

    let v = small_file();
    let bytes = serde_json::to_vec(&v).expect("bytes");
    let e = json::from_slice::<f32>(&bytes).unwrap_err();
    assert_eq!(format_err(e), ["model file dtype", "float32 (the type it is loaded as)", "\"float64\""]);

    let mut v = small_file();
    v["layers"][1]["name"] = json!("lstm");
    assert_eq!(format_err(err_of(&v))[2], "`lstm` twice");
}

#[test]
fn shapes_are_checked_against_the_config() {
    // A kernel of the wrong shape (data length matching it).
    let mut v = small_file();
    v["layers"][0]["weights"][0]["shape"] = json!([3, 12]);
    v["layers"][0]["weights"][0]["data"] = json!(vec![0.0; 36]);
    match err_of(&v) {
        Error::ShapeMismatch { what, expected, got } => {
            assert_eq!(what, "model file layer 0 (lstm, LSTM) weight `kernel` (against the layer's config)");
            assert_eq!((expected.as_str(), got.as_str()), ("(2, 12)", "(3, 12)"));
        }
        other => panic!("{other:?}"),
    }
    // The right shape with too few numbers.
    let mut v = small_file();
    v["layers"][1]["weights"][0]["data"].as_array_mut().expect("data").pop();
    match err_of(&v) {
        Error::ShapeMismatch { what, expected, got } => {
            assert_eq!(what, "model file layer 1 (dense, Dense) weight `kernel` data length");
            assert_eq!((expected.as_str(), got.as_str()), ("3 values for shape (3, 1)", "2 values"));
        }
        other => panic!("{other:?}"),
    }
    // Units claimed in the trillions: refused by the size limit on the configuration's
    // parameter shapes, before any weight is read or allocated.
    let mut v = small_file();
    v["layers"][0]["config"]["units"] = json!(1_000_000_000_000u64);
    assert!(matches!(err_of(&v), Error::TooLarge { what, .. } if what.contains("layer 0") && what.contains("LSTM")));
    let mut v = small_file();
    v["layers"][0]["config"]["units"] = json!(u64::MAX);
    assert!(matches!(err_of(&v), Error::TooLarge { what, .. } if what.contains("layer 0")));
    let mut v = small_file();
    v["layers"][0]["weights"][0]["shape"] = json!([u64::MAX, u64::MAX]);
    assert!(matches!(err_of(&v), Error::ShapeMismatch { .. }));
    // Zero units with matching (empty) weights: the layer's own check, named.
    let mut v = small_file();
    v["layers"][1]["config"]["in_features"] = json!(0);
    v["layers"][1]["weights"][0]["shape"] = json!([0, 1]);
    v["layers"][1]["weights"][0]["data"] = json!([]);
    match err_of(&v) {
        Error::InvalidConfig { what, .. } => assert_eq!(what, "model file layer 1 (dense, Dense) Dense input features"),
        other => panic!("{other:?}"),
    }
    // Layers that do not chain (Dense on 4 features after 3 units), each weight consistent.
    let mut v = small_file();
    v["layers"][1]["config"]["in_features"] = json!(4);
    v["layers"][1]["weights"][0]["shape"] = json!([4, 1]);
    v["layers"][1]["weights"][0]["data"] = json!([0.1, 0.2, 0.3, 0.4]);
    assert!(matches!(err_of(&v), Error::ShapeMismatch { what, .. } if what.contains("layer at index 1 (Dense)")));
    // An impossible input shape.
    let mut v = small_file();
    v["input_shape"] = json!([]);
    assert!(matches!(err_of(&v), Error::InvalidConfig { what, .. } if what.starts_with("model file")));
}

#[test]
fn missing_extra_and_duplicated_weights_are_named() {
    let mut v = small_file();
    v["layers"][0]["weights"].as_array_mut().expect("weights").remove(1);
    assert_eq!(
        format_err(err_of(&v)),
        ["model file layer 0 (lstm, LSTM) weights", "a weight named `recurrent_kernel`", "none"]
    );
    let mut v = small_file();
    let extra = json!({"name": "recurrent_bias", "shape": [12], "data": vec![0.0; 12]});
    v["layers"][0]["weights"].as_array_mut().expect("weights").push(extra);
    let [what, _, got] = format_err(err_of(&v));
    assert_eq!([what, got], ["model file layer 0 (lstm, LSTM) weights", "also `recurrent_bias`"]);
    let mut v = small_file();
    let dup = v["layers"][1]["weights"][1].clone();
    v["layers"][1]["weights"].as_array_mut().expect("weights").push(dup);
    assert_eq!(format_err(err_of(&v))[2], "`bias` twice");
}

#[test]
fn nan_and_infinite_weights_are_refused_with_their_position() {
    let mut v = small_file();
    v["layers"][0]["weights"][1]["data"][7] = Value::Null; // what JSON writers make of NaN
    match err_of(&v) {
        Error::NonFinite { what, index, value } => {
            assert_eq!(what, "model file layer 0 (lstm, LSTM) weight `recurrent_kernel`");
            assert_eq!(index, "[0, 7]");
            assert!(value.contains("null"), "{value}");
        }
        other => panic!("{other:?}"),
    }
    // Beyond f32's range: finite in the file, infinite as f32.
    let mut rng = StdRng::seed_from_u64(0);
    let mut m = Sequential::<f32>::new(&[2]).expect("model");
    m.add(DenseConfig::new(2, 1).init::<f32, _>(&mut rng).expect("dense")).expect("add");
    let mut v: Value = serde_json::from_slice(&json::to_vec(&m).expect("to_vec")).expect("json");
    v["layers"][0]["weights"][1]["data"][0] = json!(1e39);
    match json::from_slice::<f32>(&serde_json::to_vec(&v).expect("bytes")).unwrap_err() {
        Error::NonFinite { what, index, value } => {
            assert_eq!((what.as_str(), index.as_str()), ("model file layer 0 (dense, Dense) weight `bias`", "[0]"));
            assert!(value.contains("float32"), "{value}");
        }
        other => panic!("{other:?}"),
    }
    // Beyond f64's range: serde_json refuses the number itself.
    let text = serde_json::to_string(&small_file()).expect("text").replacen("\"data\":[", "\"data\":[1e999,", 1);
    assert_eq!(format_err(json::from_slice::<f64>(text.as_bytes()).unwrap_err())[0], "model file");
}

#[test]
fn a_bidirectional_half_must_be_recurrent() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut m = Sequential::<f64>::new(&[3, 2]).expect("model");
    let lstm = LstmConfig::new(2, 2).init::<f64, _>(&mut rng).expect("lstm");
    m.add(Bidirectional::new(lstm, MergeMode::Average, &mut rng).expect("bi")).expect("add");
    let good: Value = serde_json::from_slice(&json::to_vec(&m).expect("to_vec")).expect("json");
    load_value(&good).expect("valid");
    let mut v = good.clone();
    v["layers"][0]["config"]["backward"] =
        json!({"kind": "Dense", "config": {"in_features": 2, "units": 2, "activation": "linear"}});
    v["layers"][0]["weights"] = json!([
        {"name": "forward.kernel", "shape": [2, 8], "data": vec![0.0; 16]},
        {"name": "forward.recurrent_kernel", "shape": [2, 8], "data": vec![0.0; 16]},
        {"name": "forward.bias", "shape": [8], "data": vec![0.0; 8]},
        {"name": "backward.kernel", "shape": [2, 2], "data": vec![0.0; 4]},
        {"name": "backward.bias", "shape": [2], "data": vec![0.0; 2]},
    ]);
    assert_eq!(format_err(err_of(&v))[0], "model file layer 0 (bidirectional, Bidirectional) backward half kind");
    let mut v = good;
    v["layers"][0]["config"]["forward"]["kind"] = json!("Transformer");
    assert_eq!(format_err(err_of(&v))[0], "model file layer 0 (bidirectional, Bidirectional) forward half kind");
}

#[test]
fn reading_a_missing_file_is_an_io_error() {
    let dir = TempDir::new("missing");
    let e = json::load::<f64>(dir.path("nope.json")).unwrap_err();
    assert!(matches!(&e, Error::Io { kind: std::io::ErrorKind::NotFound, path, .. } if path.ends_with("nope.json")));
}

/// Token models: Embedding (mask_zero) and Masking round-trip, masks included, and a real
/// optimiser's state travels with the model.
#[test]
fn embedding_and_masking_models_round_trip_with_adam_state() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut m = Sequential::<f32>::new(&[6]).unwrap();
    m.add(EmbeddingConfig::new(9, 4).with_mask_zero(true).init(&mut rng).unwrap()).unwrap();
    m.add(Masking::new(0.25)).unwrap();
    m.add(GruConfig::new(4, 3).init(&mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(3, 1).init(&mut rng).unwrap()).unwrap();
    let ids = ndarray::array![[0.0f32, 0.0, 3.0, 8.0, 1.0, 2.0], [5.0, 4.0, 3.0, 2.0, 1.0, 7.0]];
    let y = ndarray::array![[1.0f32], [0.0]];
    let mut adam = Adam::new(0.01);
    m.train_step(&ids, &y, &Mse, &mut adam).unwrap();
    let before = m.predict(&ids).unwrap();
    let bytes = json::to_vec_with_optimizer(&m, &adam).unwrap();
    let (mut back, state) = json::from_slice_with_optimizer::<f32, Adam<f32>>(&bytes).unwrap();
    let mut state = state.expect("the optimiser state was saved");
    assert_eq!(back.predict(&ids).unwrap(), before);
    assert_eq!(back.summary(), m.summary());
    // Both continue identically: same weights, same optimiser moments.
    m.train_step(&ids, &y, &Mse, &mut adam).unwrap();
    back.train_step(&ids, &y, &Mse, &mut state).unwrap();
    assert_eq!(back.predict(&ids).unwrap(), m.predict(&ids).unwrap());
}

/// A name that is long but legal (250 bytes, under NAME_MAX) saves and loads: the temporary
/// file beside it must not need a longer name than the target itself.
#[test]
fn a_long_but_legal_file_name_saves() {
    let dir = TempDir::new("long-name");
    let path = dir.path(&format!("{}.json", "m".repeat(245)));
    let (model, x) = zoo::<f64>(3);
    json::save(&model, &path).expect("a 250-byte name is a legal file name");
    let mut back = json::load::<f64>(&path).expect("load");
    let mut model = model;
    assert_eq!(back.predict(&x).expect("predict"), model.predict(&x).expect("predict"));
    assert_eq!(dir.entries().len(), 1, "only the model file: {:?}", dir.entries());
}

/// Files written before the layer kinds became a registry (the fuzz seeds: every built-in
/// kind, both dtypes, one with an optimiser state) load as they are, and saving them again
/// writes the very same bytes: LSTM and GRU, now registered as cells, keep their format.
#[test]
fn files_written_before_the_registry_load_and_save_to_the_same_bytes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/model_json");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("seed folder") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read seed");
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        let kinds: Value = serde_json::from_slice(&bytes).expect("json");
        for l in kinds["layers"].as_array().expect("layers") {
            seen.push(l["kind"].as_str().expect("kind").to_string());
        }
        let again = if name.contains("f32") {
            let (m, state) = json::from_slice_with_optimizer::<f32, Value>(&bytes).expect(&name);
            match state {
                Some(s) => json::to_vec_with_optimizer(&m, &s),
                None => json::to_vec(&m),
            }
        } else {
            let (m, state) = json::from_slice_with_optimizer::<f64, Value>(&bytes).expect(&name);
            match state {
                Some(s) => json::to_vec_with_optimizer(&m, &s),
                None => json::to_vec(&m),
            }
        };
        assert_eq!(String::from_utf8(again.expect(&name)).expect("utf-8"), String::from_utf8(bytes).expect("utf-8"));
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen, ["Bidirectional", "Dense", "GRU", "LSTM", "SimpleRNN"], "the seeds cover the recurrent kinds");
}

/// A field a configuration does not write at its default (`dropout` and `recurrent_dropout`
/// at 0) is still one it reads: written out explicitly (by hand, or by another writer) it
/// loads, while a misspelt field is refused by name.
#[test]
fn defaults_written_out_load_and_misspelt_fields_do_not() {
    let mut v = small_file();
    v["layers"][0]["config"]["dropout"] = json!(0.0);
    v["layers"][0]["config"]["recurrent_dropout"] = json!(0);
    let m = load_value(&v).expect("explicit defaults load");
    assert_eq!(
        json::to_vec(&m).expect("to_vec"),
        json::to_vec(&load_value(&small_file()).expect("load")).expect("to_vec")
    );

    let mut v = small_file();
    v["layers"][0]["config"]["dropuot"] = json!(0.0);
    v["layers"][0]["config"]["recurrent_dropout"] = json!(0.0);
    let [what, _, got] = format_err(err_of(&v));
    assert_eq!(what, "model file layer 0 (lstm, LSTM) config");
    assert_eq!(got, "unknown [\"dropuot\"]");
}
