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
