//! PyTorch interchange against the state dicts in `torch_state_dicts/` (every sidecar found
//! there, never named one by one), then bad safetensors files.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{arr, arr64, assert_close, fixture_dir, Tol};
use ndarray::{Array3, ArrayD, Ix3};
use recurrent::io::torch::{
    export_linear, import_gru, import_linear, import_lstm, import_rnn, RnnMode, StateDict, TorchRnn,
};
use recurrent::prelude::*;
use safetensors::SafeTensors;
use serde_json::Value;

fn state_dict_dir() -> PathBuf {
    fixture_dir().join("torch_state_dicts")
}

/// Every sidecar (`*.json`) of the state-dict folder, sorted by name.
fn sidecars() -> Vec<(String, Value)> {
    let dir = state_dict_dir();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            let text = std::fs::read_to_string(&path).expect("sidecar readable");
            let v: Value = serde_json::from_str(&text).expect("sidecar is JSON");
            out.push((path.file_stem().and_then(|s| s.to_str()).expect("utf-8 name").to_string(), v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 8, "expected the state-dict fixtures in {}, found {}", dir.display(), out.len());
    out
}

fn file_of(side: &Value) -> PathBuf {
    state_dict_dir().join(side["file"].as_str().expect("sidecar names its file"))
}

fn is_linear(side: &Value) -> bool {
    side["module"] == "torch.nn.Linear"
}

fn mode_of(side: &Value) -> RnnMode {
    let name = side["constructor"]["mode"].as_str().expect("constructor.mode");
    RnnMode::from_torch_name(name).unwrap_or_else(|| panic!("unknown mode {name}"))
}

fn arr3<F: Float>(v: &Value) -> Array3<F> {
    arr::<F>(v).into_dimensionality::<Ix3>().expect("a 3-D fixture array")
}

fn import<F: Float>(side: &Value, dict: &StateDict<F>) -> TorchRnn<F> {
    let rnn = match mode_of(side) {
        RnnMode::RnnTanh => import_rnn(dict, Activation::Tanh),
        RnnMode::RnnRelu => import_rnn(dict, Activation::Relu),
        RnnMode::Lstm => import_lstm(dict),
        RnnMode::Gru => import_gru(dict),
    }
    .unwrap_or_else(|e| panic!("{}: import failed: {e}", side["file"]));
    let c = &side["constructor"];
    let spec = rnn.spec();
    assert_eq!(spec.mode, mode_of(side));
    assert_eq!(Some(spec.input_size as u64), c["input_size"].as_u64());
    assert_eq!(Some(spec.hidden_size as u64), c["hidden_size"].as_u64());
    assert_eq!(Some(spec.num_layers as u64), c["num_layers"].as_u64());
    assert_eq!(Some(spec.bidirectional), c["bidirectional"].as_bool());
    assert_eq!(Some(spec.bias), c["bias"].as_bool());
    rnn
}

/// Imports the file as `F` and checks every output the sidecar holds under `suffix`
/// (`""` for the float64 reference, `"_float32"` for the float32 module's own run).
fn reproduce<F: Float>(name: &str, side: &Value, suffix: &str, atol: f64) {
    let t = Tol { rtol: 0.0, atol };
    let dict = StateDict::<F>::load(file_of(side)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let total: usize = dict.iter().map(|(_, t)| t.len()).sum();
    assert_eq!(Some(total as u64), side["num_parameters"].as_u64(), "{name}: elements in the file");
    let x = arr::<F>(&side["x"]);
    let key = |k: &str| format!("{k}{suffix}");
    if is_linear(side) {
        let mut fc = import_linear(&dict).unwrap_or_else(|e| panic!("{name}: {e}"));
        let y = fc.forward(x.view(), Mode::Infer).expect("linear forward");
        assert_close(&format!("{name} output"), &y.view(), &arr64(&side[key("output")]).view(), t);
        return;
    }
    let mut rnn = import::<F>(side, &dict);
    let x = x.into_dimensionality::<Ix3>().expect("x is (B, T, I)");
    let cases = [(side, "zero state"), (&side["with_initial_state"], "with_initial_state")];
    for (case, label) in cases {
        let (h0, c0) = match label {
            "zero state" => (None, None),
            _ => (Some(arr3::<F>(&case["h0"])), case.get("c0").map(arr3::<F>)),
        };
        let out = rnn.forward(x.view(), h0.as_ref().map(|a| a.view()), c0.as_ref().map(|a| a.view())).expect("forward");
        let what = |f: &str| format!("{name} ({label}) {f}");
        assert_close(&what("output"), &out.output.view().into_dyn(), &arr64(&case[key("output")]).view(), t);
        assert_close(&what("h_n"), &out.h_n.view().into_dyn(), &arr64(&case[key("h_n")]).view(), t);
        match (&out.c_n, case.get(key("c_n"))) {
            (Some(c), Some(want)) => assert_close(&what("c_n"), &c.view().into_dyn(), &arr64(want).view(), t),
            (None, None) => {}
            (got, want) => {
                panic!("{}: c_n is {:?} but the sidecar has {:?}", what("c_n"), got.is_some(), want.is_some())
            }
        }
    }
}

#[test]
fn every_state_dict_reproduces_its_sidecar_in_its_own_dtype() {
    for (name, side) in sidecars() {
        match side["dtype"].as_str() {
            Some("float32") => {
                reproduce::<f32>(&name, &side, "_float32", 1e-5);
                reproduce::<f32>(&name, &side, "", 1e-5);
            }
            Some("float64") => reproduce::<f64>(&name, &side, "", 1e-12),
            other => panic!("{name}: unexpected dtype {other:?}"),
        }
    }
}

#[test]
fn float32_files_read_as_f64_match_the_float64_reference() {
    // The reference is PyTorch in float64 on the weights widened exactly, which is what
    // reading a float32 file as f64 does.
    for (name, side) in sidecars() {
        reproduce::<f64>(&name, &side, "", 1e-12);
    }
}

/// `(dtype, shape)` of every tensor in a safetensors file, by name.
fn header(bytes: &[u8]) -> BTreeMap<String, (String, Vec<usize>)> {
    let st = SafeTensors::deserialize(bytes).expect("valid safetensors");
    st.tensors().into_iter().map(|(k, v)| (k, (format!("{:?}", v.dtype()), v.shape().to_vec()))).collect()
}

fn export_of<F: Float>(side: &Value, dict: &StateDict<F>) -> (StateDict<F>, Vec<ArrayD<F>>) {
    if is_linear(side) {
        let fc = import_linear(dict).expect("import");
        let w = vec![fc.kernel().clone().into_dyn(), fc.bias().clone().into_dyn()];
        (export_linear(&fc).expect("export"), w)
    } else {
        let rnn = import::<F>(side, dict);
        let mut w = Vec::new();
        for layer in rnn.layers() {
            layer.visit_params(&mut |p| w.push(p.value.to_owned()));
        }
        (rnn.export().expect("export"), w)
    }
}

fn round_trip<F: Float>(name: &str, side: &Value) {
    let original = std::fs::read(file_of(side)).expect("file readable");
    let dict = StateDict::<F>::from_bytes(&original).expect("import");
    let (exported, weights) = export_of(side, &dict);
    // State-dict order, names, shapes, dtypes: PyTorch's.
    let keys: Vec<&str> = side["keys"].as_array().expect("keys").iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(exported.keys().collect::<Vec<_>>(), keys, "{name}: key order");
    let bytes = exported.to_bytes().expect("serialise");
    assert_eq!(header(&bytes), header(&original), "{name}: names, dtypes and shapes");
    // Weights: unchanged except the bias split of a SimpleRNN or LSTM (b_ih + b_hh, 0).
    let combined = !is_linear(side) && matches!(mode_of(side), RnnMode::RnnTanh | RnnMode::RnnRelu | RnnMode::Lstm);
    for (key, t) in exported.iter() {
        let orig = dict.get(key).expect("same keys");
        if combined && key.starts_with("bias_ih") {
            let hh = dict.get(&key.replace("bias_ih", "bias_hh")).expect("bias_hh");
            assert_eq!(t, &(orig + hh), "{name}: {key} carries the combined bias");
        } else if combined && key.starts_with("bias_hh") {
            assert!(t.iter().all(|v| *v == F::zero()), "{name}: {key} exported as zeros");
        } else {
            assert_eq!(t, orig, "{name}: {key} unchanged");
        }
    }
    // Import of the export: the very same layer weights, and the same file again.
    let again = StateDict::<F>::from_bytes(&bytes).expect("re-import");
    let (exported2, weights2) = export_of(side, &again);
    assert_eq!(weights2, weights, "{name}: weights after export → import");
    assert_eq!(exported2.to_bytes().expect("serialise"), bytes, "{name}: export is a fixed point");
    if side["dtype"] == F::DTYPE && !combined {
        assert_eq!(bytes, original, "{name}: nothing combined, so the file comes back byte for byte");
    }
}

#[test]
fn export_then_import_round_trips_exactly_with_pytorchs_names_shapes_and_dtypes() {
    for (name, side) in sidecars() {
        match side["dtype"].as_str() {
            Some("float32") => round_trip::<f32>(&name, &side),
            _ => round_trip::<f64>(&name, &side),
        }
    }
}

// ───────────────────────────── composition ─────────────────────────────

fn fixture_dict<F: Float>(stem: &str) -> StateDict<F> {
    StateDict::<F>::load(state_dict_dir().join(format!("{stem}.safetensors"))).expect("fixture loads")
}

/// The first sidecar of the given module with the given property, so the tests below name
/// no file.
fn sidecar_where(pred: impl Fn(&Value) -> bool) -> (String, Value) {
    sidecars().into_iter().find(|(_, s)| pred(s)).expect("a fixture of that kind")
}

#[test]
fn a_submodule_of_a_larger_state_dict_imports_under_its_prefix_and_exports_back() {
    let (lstm_name, lstm_side) = sidecar_where(|s| mode_of_opt(s) == Some(RnnMode::Lstm) && s["dtype"] == "float32");
    let (lin_name, _) = sidecar_where(is_linear);
    let mut model = StateDict::<f32>::new();
    model.extend_with_prefix("encoder.rnn", fixture_dict(&lstm_name)).expect("prefix");
    model.extend_with_prefix("head", fixture_dict(&lin_name)).expect("prefix");
    // The whole dict is not one LSTM: the stray keys are named.
    let e = import_lstm(&model).unwrap_err();
    assert!(
        matches!(&e, Error::Format { got, .. } if got.starts_with("`encoder.rnn.") || got.starts_with("`head.")),
        "{e}"
    );
    let mut rnn = import_lstm(&model.scoped("encoder.rnn")).expect("scoped import");
    let head = import_linear(&model.scoped("head")).expect("scoped import");
    // Back: the same composite keys.
    let mut out = StateDict::new();
    out.extend_with_prefix("encoder.rnn", rnn.export().expect("export")).expect("prefix");
    out.extend_with_prefix("head", export_linear(&head).expect("export")).expect("prefix");
    let mut a: Vec<&str> = model.keys().collect();
    let mut b: Vec<&str> = out.keys().collect();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
    assert!(matches!(
        out.extend_with_prefix("head", export_linear(&head).expect("export")),
        Err(Error::InvalidConfig { .. })
    ));
    // The imported layers run inside a Sequential exactly as the module does.
    let x = arr3::<f32>(&lstm_side["x"]);
    let direct = rnn.forward(x.view(), None, None).expect("forward").output;
    let mut seq = rnn.into_sequential(x.dim().1).expect("sequential");
    assert_eq!(seq.predict(&x).expect("predict"), direct.into_dyn());
}

fn mode_of_opt(side: &Value) -> Option<RnnMode> {
    side["constructor"]["mode"].as_str().and_then(RnnMode::from_torch_name)
}

#[test]
fn saving_a_state_dict_is_atomic_and_reads_back() {
    let dir = std::env::temp_dir().join(format!("recurrent-interop-save-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (name, side) = sidecar_where(|s| mode_of_opt(s) == Some(RnnMode::Gru));
    let dict = fixture_dict::<f32>(&name);
    let path = dir.join("gru.safetensors");
    dict.save(&path).expect("save");
    assert_eq!(std::fs::read(&path).expect("read"), std::fs::read(file_of(&side)).expect("read"));
    let err = dict.save(dir.join("no/such/dir.safetensors")).unwrap_err();
    assert!(matches!(err, Error::Io { kind: std::io::ErrorKind::NotFound, .. }));
    let listing: Vec<_> = std::fs::read_dir(&dir).expect("list").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(listing, ["gru.safetensors"]);
    let e = StateDict::<f32>::load(dir.join("absent.safetensors")).unwrap_err();
    assert!(matches!(e, Error::Io { kind: std::io::ErrorKind::NotFound, .. }));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

// ───────────────────────────── bad files ─────────────────────────────

/// A safetensors file from a raw header and data.
fn raw_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn format_parts(e: Error) -> [String; 3] {
    match e {
        Error::Format { what, expected, got } => [what, expected, got],
        other => panic!("expected Error::Format, got {other:?}"),
    }
}

#[test]
fn every_truncation_of_a_safetensors_file_is_a_format_error() {
    for (name, side) in sidecars() {
        let bytes = std::fs::read(file_of(&side)).expect("read");
        for cut in 0..bytes.len() {
            let e = StateDict::<f32>::from_bytes(&bytes[..cut]).unwrap_err();
            assert_eq!(format_parts(e)[0], "safetensors file", "{name} cut at {cut}");
        }
    }
}

#[test]
fn a_header_claiming_huge_tensors_is_refused_without_allocating() {
    // A header length far beyond the file.
    for n in [u64::MAX, 1 << 40, 99_999_999] {
        let mut bytes = n.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        let [what, _, got] = format_parts(StateDict::<f32>::from_bytes(&bytes).unwrap_err());
        assert_eq!(what, "safetensors file");
        assert!(got.contains("header"), "{got}");
    }
    // A tensor of 10^10 elements (40 GB) whose data is 8 bytes.
    let f = raw_file(r#"{"w":{"dtype":"F32","shape":[100000,100000],"data_offsets":[0,8]}}"#, &[0; 8]);
    let [_, _, got] = format_parts(StateDict::<f32>::from_bytes(&f).unwrap_err());
    assert!(got.contains("invalid shape, data type, or offset"), "{got}");
    // Offsets that claim the bytes too.
    let f = raw_file(
        r#"{"w":{"dtype":"F32","shape":[1000000000,1000000000],"data_offsets":[0,4000000000000000000]}}"#,
        &[0; 8],
    );
    assert_eq!(format_parts(StateDict::<f32>::from_bytes(&f).unwrap_err())[0], "safetensors file");
    // A shape whose element count overflows.
    let f = raw_file(r#"{"w":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}"#, &[0; 8]);
    assert!(format_parts(StateDict::<f64>::from_bytes(&f).unwrap_err())[2].contains("overflow"));
    // Not JSON, not UTF-8, and data not covered by the header.
    assert!(format_parts(StateDict::<f32>::from_bytes(&raw_file("{\"w\":", &[])).unwrap_err())[2].contains("JSON"));
    assert!(
        format_parts(StateDict::<f32>::from_bytes(&raw_file("\u{0}\u{ff}", &[])).unwrap_err())[0] == "safetensors file"
    );
    let mut bytes = raw_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", &[0; 4]);
    bytes.insert(8, 0xff);
    assert!(StateDict::<f32>::from_bytes(&bytes).is_err());
    let f = raw_file(r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, &[0; 12]);
    assert!(format_parts(StateDict::<f32>::from_bytes(&f).unwrap_err())[2].contains("not fully covered"));
}

#[test]
fn tensors_of_other_dtypes_are_refused_by_name() {
    for (dtype, width) in [("I64", 8), ("F16", 2), ("BF16", 2), ("U8", 1), ("BOOL", 1)] {
        let header =
            format!(r#"{{"weight_ih_l0":{{"dtype":"{dtype}","shape":[2],"data_offsets":[0,{}]}}}}"#, 2 * width);
        let f = raw_file(&header, &vec![0; 2 * width]);
        let e = StateDict::<f32>::from_bytes(&f).unwrap_err();
        assert_eq!(
            format_parts(e),
            ["dtype of safetensors tensor `weight_ih_l0`".to_string(), "F32 or F64".into(), dtype.into()]
        );
    }
    // F64 into f32 rounds; past f32's range it becomes inf, which the import refuses.
    let mut dict = StateDict::<f64>::new();
    dict.insert("weight", ndarray::arr2(&[[1e300, 0.0]]).into_dyn()).expect("insert");
    let narrowed = StateDict::<f32>::from_bytes(&dict.to_bytes().expect("bytes")).expect("reads");
    match import_linear(&narrowed).unwrap_err() {
        Error::NonFinite { what, index, .. } => {
            assert_eq!((what.as_str(), index.as_str()), ("nn.Linear state_dict `weight`", "[0, 0]"))
        }
        other => panic!("{other:?}"),
    }
}

/// A fixture's dict (as f32) with one change applied.
fn changed(stem: &str, f: impl FnOnce(&mut Vec<(String, ArrayD<f32>)>)) -> StateDict<f32> {
    let mut entries: Vec<(String, ArrayD<f32>)> =
        fixture_dict::<f32>(stem).iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    f(&mut entries);
    let mut d = StateDict::new();
    for (k, v) in entries {
        d.insert(k, v).expect("insert");
    }
    // Through bytes, as a file would come.
    StateDict::from_bytes(&d.to_bytes().expect("bytes")).expect("valid file")
}

#[test]
fn missing_and_extra_keys_are_named() {
    let (lstm, _) = sidecar_where(|s| mode_of_opt(s) == Some(RnnMode::Lstm) && s["constructor"]["num_layers"] == 2);
    let d = changed(&lstm, |e| e.retain(|(k, _)| k != "bias_hh_l1"));
    assert_eq!(
        format_parts(import_lstm(&d).unwrap_err()),
        ["nn.LSTM state_dict".to_string(), "a tensor named `bias_hh_l1`".into(), "none".into()]
    );
    let d = changed(&lstm, |e| e.retain(|(k, _)| !k.ends_with("_l0")));
    assert_eq!(format_parts(import_lstm(&d).unwrap_err())[1], "a tensor named `weight_hh_l0`");
    // A layer index beyond the others: the gap is what is missing.
    let d = changed(&lstm, |e| e.push(("weight_ih_l7".into(), ArrayD::zeros(ndarray::IxDyn(&[20, 10])))));
    assert_eq!(format_parts(import_lstm(&d).unwrap_err())[1], "a tensor named `weight_ih_l2`");
    // A stray reverse tensor makes the module bidirectional, so its other halves are missing.
    let d = changed(&lstm, |e| e.push(("bias_ih_l0_reverse".into(), ArrayD::zeros(ndarray::IxDyn(&[20])))));
    assert_eq!(format_parts(import_lstm(&d).unwrap_err())[1], "a tensor named `weight_ih_l0_reverse`");
    let d = changed(&lstm, |e| e.push(("num_batches_tracked".into(), ArrayD::zeros(ndarray::IxDyn(&[1])))));
    let [what, _, got] = format_parts(import_lstm(&d).unwrap_err());
    assert_eq!((what.as_str(), got.as_str()), ("nn.LSTM state_dict key", "`num_batches_tracked`"));
    let d = changed(&lstm, |e| e.push(("weight_hr_l0".into(), ArrayD::zeros(ndarray::IxDyn(&[5, 2])))));
    assert!(format_parts(import_lstm(&d).unwrap_err())[1].contains("proj_size"));
    assert_eq!(format_parts(import_lstm(&StateDict::<f32>::new()).unwrap_err())[1], "a tensor named `weight_ih_l0`");
    // Without any bias the module is bias=False: zero biases.
    let d = changed(&lstm, |e| e.retain(|(k, _)| !k.starts_with("bias")));
    let rnn = import_lstm(&d).expect("bias=False imports");
    assert!(!rnn.spec().bias);
    // nn.Linear.
    let (lin, _) = sidecar_where(is_linear);
    let d = changed(&lin, |e| e.retain(|(k, _)| k != "weight"));
    assert_eq!(format_parts(import_linear(&d).unwrap_err())[1], "a tensor named `weight`");
    let d = changed(&lin, |e| e.push(("scale".into(), ArrayD::zeros(ndarray::IxDyn(&[2])))));
    assert_eq!(format_parts(import_linear(&d).unwrap_err())[2], "`scale`");
    let d = changed(&lin, |e| e.retain(|(k, _)| k != "bias"));
    assert!(import_linear(&d).expect("bias=False").bias().iter().all(|b| *b == 0.0));
}

#[test]
fn shape_mismatches_name_the_key() {
    let (gru, _) = sidecar_where(|s| mode_of_opt(s) == Some(RnnMode::Gru) && s["constructor"]["num_layers"] == 1);
    // A GRU's weights read as an LSTM's: 3 gate blocks, not 4.
    match import_lstm(&fixture_dict::<f32>(&gru)).unwrap_err() {
        Error::ShapeMismatch { what, expected, got } => {
            assert!(what.starts_with("nn.LSTM state_dict `weight_hh_l0` (4 gate blocks"), "{what}");
            assert_eq!((expected.as_str(), got.as_str()), ("(16, 4)", "(12, 4)"));
        }
        other => panic!("{other:?}"),
    }
    let d = changed(&gru, |e| {
        for (k, v) in e.iter_mut() {
            if k == "bias_hh_l0" {
                *v = ArrayD::zeros(ndarray::IxDyn(&[11]));
            }
        }
    });
    match import_gru(&d).unwrap_err() {
        Error::ShapeMismatch { what, expected, got } => {
            assert_eq!(what, "nn.GRU state_dict `bias_hh_l0`");
            assert_eq!((expected.as_str(), got.as_str()), ("(12,)", "(11,)"));
        }
        other => panic!("{other:?}"),
    }
    let d = changed(&gru, |e| {
        for (k, v) in e.iter_mut() {
            if k == "weight_ih_l0" {
                *v = v.clone().into_shape_with_order(ndarray::IxDyn(&[36])).expect("reshape");
            }
        }
    });
    assert!(matches!(import_gru(&d).unwrap_err(), Error::ShapeMismatch { what, .. } if what.contains("weight_ih_l0")));
    // Zero hidden size: refused as a configuration.
    let d = changed(&gru, |e| {
        for (k, v) in e.iter_mut() {
            let shape: Vec<usize> = match k.as_str() {
                "weight_ih_l0" => vec![0, 3],
                "weight_hh_l0" => vec![0, 0],
                _ => vec![0],
            };
            *v = ArrayD::zeros(ndarray::IxDyn(&shape));
        }
    });
    assert!(matches!(import_gru(&d).unwrap_err(), Error::InvalidConfig { what, .. } if what == "nn.GRU hidden_size"));
    // A second layer whose input is not D·H.
    let (bi, _) = sidecar_where(|s| mode_of_opt(s) == Some(RnnMode::RnnRelu));
    let d = changed(&bi, |e| {
        for (k, v) in e.iter_mut() {
            if k == "weight_ih_l1_reverse" {
                *v = ArrayD::zeros(ndarray::IxDyn(&[4, 4]));
            }
        }
    });
    match import_rnn(&d, Activation::Relu).unwrap_err() {
        Error::ShapeMismatch { what, expected, .. } => {
            assert_eq!((what.as_str(), expected.as_str()), ("nn.RNN state_dict `weight_ih_l1_reverse`", "(4, 8)"))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(import_rnn(&d, Activation::Sigmoid), Err(Error::InvalidConfig { .. })));
}

#[test]
fn nan_and_infinite_weights_are_refused_with_the_key_and_position() {
    let (rnn, _) = sidecar_where(|s| mode_of_opt(s) == Some(RnnMode::RnnTanh));
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let d = changed(&rnn, |e| {
            for (k, v) in e.iter_mut() {
                if k == "weight_hh_l0" {
                    v[[2, 1]] = bad;
                }
            }
        });
        match import_rnn(&d, Activation::Tanh).unwrap_err() {
            Error::NonFinite { what, index, value } => {
                assert_eq!((what.as_str(), index.as_str()), ("nn.RNN state_dict `weight_hh_l0`", "[2, 1]"));
                assert_eq!(value, bad.to_string());
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn forward_checks_the_input_and_initial_states() {
    let (name, side) =
        sidecar_where(|s| mode_of_opt(s) == Some(RnnMode::Lstm) && s["constructor"]["bidirectional"] == true);
    let mut rnn = import_lstm(&fixture_dict::<f64>(&name)).expect("import");
    let x = arr3::<f64>(&side["x"]);
    let (b, t, i) = x.dim();
    let bad_x = Array3::<f64>::zeros((b, t, i + 1));
    assert!(matches!(rnn.forward(bad_x.view(), None, None), Err(Error::ShapeMismatch { .. })));
    let h = Array3::<f64>::zeros((1, b, 4)); // should be (2, B, 4)
    match rnn.forward(x.view(), Some(h.view()), None).unwrap_err() {
        Error::ShapeMismatch { what, expected, got } => {
            assert_eq!(what, "nn.LSTM h0");
            assert_eq!((expected, got), (format!("(2, {b}, 4)"), format!("(1, {b}, 4)")));
        }
        other => panic!("{other:?}"),
    }
    let mut nan = Array3::<f64>::zeros((2, b, 4));
    nan[[1, 0, 3]] = f64::NAN;
    assert!(matches!(rnn.forward(x.view(), None, Some(nan.view())), Err(Error::NonFinite { .. })));
    // h0 alone: c0 is zeros (PyTorch needs both; a zero c0 is what it would mean).
    let h0 = Array3::<f64>::zeros((2, b, 4));
    let zero = rnn.forward(x.view(), None, None).expect("forward");
    assert_eq!(rnn.forward(x.view(), Some(h0.view()), None).expect("forward"), zero);
    let (gname, gside) = sidecar_where(|s| mode_of_opt(s) == Some(RnnMode::Gru));
    let mut gru = import_gru(&fixture_dict::<f64>(&gname)).expect("import");
    let gx = arr3::<f64>(&gside["x"]);
    let d = gru.spec().num_layers * gru.spec().directions();
    let c0 = Array3::<f64>::zeros((d, gx.dim().0, 4));
    assert!(
        matches!(gru.forward(gx.view(), None, Some(c0.view())), Err(Error::ShapeMismatch { what, .. }) if what.contains("cell state"))
    );
}

#[test]
fn layers_pytorch_cannot_represent_are_refused_on_export() {
    let mut rng = StdRng::seed_from_u64(3);
    let cho = GruConfig::new(2, 3).with_reset_after(false).init::<f64, _>(&mut rng).expect("gru");
    let e = recurrent::io::torch::export_recurrent::<f64>(&[&cho]).unwrap_err();
    assert!(matches!(&e, Error::InvalidConfig { got, .. } if got.contains("reset_after false")), "{e}");
    let sig = SimpleRnnConfig::new(2, 3).with_activation(Activation::Sigmoid).init::<f64, _>(&mut rng).expect("rnn");
    assert!(recurrent::io::torch::export_recurrent::<f64>(&[&sig]).is_err());
    let back = LstmConfig::new(2, 3).with_go_backwards(true).init::<f64, _>(&mut rng).expect("lstm");
    let e = recurrent::io::torch::export_recurrent::<f64>(&[&back]).unwrap_err();
    assert!(e.to_string().contains("go_backwards"), "{e}");
    let lstm = LstmConfig::new(2, 3).with_return_sequences(true).init::<f64, _>(&mut rng).expect("lstm");
    let summed = Bidirectional::new(lstm.clone(), MergeMode::Sum, &mut rng).expect("bi");
    let e = recurrent::io::torch::export_recurrent::<f64>(&[&summed]).unwrap_err();
    assert!(e.to_string().contains("concat"), "{e}");
    let gru = GruConfig::new(3, 3).init::<f64, _>(&mut rng).expect("gru");
    let e = recurrent::io::torch::export_recurrent::<f64>(&[&lstm, &gru]).unwrap_err();
    assert!(matches!(&e, Error::InvalidConfig { what, .. } if what.starts_with("layer 1 (gru, GRU)")), "{e}");
    let lstm4 = LstmConfig::new(4, 3).init::<f64, _>(&mut rng).expect("lstm");
    let e = recurrent::io::torch::export_recurrent::<f64>(&[&lstm, &lstm4]).unwrap_err();
    assert!(e.to_string().contains("on 3 input features"), "{e}");
    let dense = DenseConfig::new(2, 2).with_activation(Activation::Relu).init::<f64, _>(&mut rng).expect("dense");
    assert!(matches!(export_linear(&dense), Err(Error::InvalidConfig { .. })));
    let e = recurrent::io::torch::export_recurrent::<f64>(&[&dense]).unwrap_err();
    assert!(e.to_string().contains("Dense"), "{e}");
    assert!(recurrent::io::torch::export_recurrent::<f64>(&[]).is_err());
    assert!(TorchRnn::<f64>::from_layers(vec![Box::new(cho)]).is_err());
}

// ───────────────────────────── fuzz findings ─────────────────────────────

/// What the `safetensors` fuzz target does with an input: every importer, and what imports
/// must export, import back with the same weights, and run (or refuse an overflow).
fn exercise<F: Float>(bytes: &[u8]) -> Vec<recurrent::Result<()>> {
    let mut runs = Vec::new();
    let Ok(dict) = StateDict::<F>::from_bytes(bytes) else { return runs };
    for mode in [RnnMode::RnnTanh, RnnMode::RnnRelu, RnnMode::Lstm, RnnMode::Gru] {
        let Ok(mut rnn) = TorchRnn::import(&dict, mode) else { continue };
        let back =
            TorchRnn::import(&StateDict::<F>::from_bytes(&rnn.export().unwrap().to_bytes().unwrap()).unwrap(), mode)
                .expect("export → import");
        let w = |r: &TorchRnn<F>| {
            let mut v = Vec::new();
            r.layers().iter().for_each(|l| l.visit_params(&mut |p| v.push(p.value.to_owned())));
            v
        };
        assert_eq!(w(&back), w(&rnn));
        let x = Array3::<F>::from_elem((2, 3, rnn.spec().input_size), F::of(0.25));
        runs.push(rnn.forward(x.view(), None, None).map(|_| ()));
    }
    runs
}

#[test]
fn fuzz_findings_for_safetensors_stay_fixed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions/safetensors");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("regression folder") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        for r in exercise::<f32>(&bytes).into_iter().chain(exercise::<f64>(&bytes)) {
            assert!(matches!(r, Ok(()) | Err(Error::NonFinite { .. })), "{r:?}");
        }
        n += 1;
    }
    assert!(n >= 1);
    // Finding 1: a 2-layer relu RNN whose layer 0 overflows f32 to inf; layer 1 refuses that
    // input, and the error says which PyTorch layer.
    let bytes = std::fs::read(dir.join("relu_overflow_between_layers.safetensors")).expect("read");
    let mut rnn =
        import_rnn(&StateDict::<f32>::from_bytes(&bytes).expect("valid file"), Activation::Relu).expect("imports");
    let x = Array3::<f32>::from_elem((2, 3, rnn.spec().input_size), 0.25);
    match rnn.forward(x.view(), None, None).unwrap_err() {
        Error::NonFinite { what, value, .. } => {
            assert_eq!(what, "nn.RNN layer 1: simple_rnn_l1 input");
            assert_eq!(value, "inf");
        }
        other => panic!("{other:?}"),
    }
}
