//! Runs PyTorch modules saved as safetensors and compares with what PyTorch computed.
//!
//! ```text
//! cargo run --release --example pytorch_interop                       every file in tests/fixtures/torch_state_dicts
//! cargo run --release --example pytorch_interop -- FILE.safetensors   one file (its FILE.json sidecar, if any, gives
//!                                                                     the module, the input and PyTorch's outputs)
//! cargo run --release --example pytorch_interop -- FILE.safetensors --mode LSTM    a file without a sidecar
//! ```
//!
//! In PyTorch the files come from
//! `safetensors.torch.save_file(nn.LSTM(3, 4, batch_first=True).state_dict(), "lstm.safetensors")`;
//! the export half of this example writes files PyTorch reads back with
//! `module.load_state_dict(safetensors.torch.load_file(path))`.

use std::path::{Path, PathBuf};

use recurrent::io::json;
use recurrent::io::torch::{export_linear, import_linear, RnnMode, StateDict, TorchRnn};
use recurrent::ndarray::{Array3, ArrayD, Ix3, IxDyn};
use recurrent::prelude::*;
use serde_json::Value;

type Res<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A nested JSON list as an array.
fn array(v: &Value) -> Res<ArrayD<f64>> {
    fn walk(v: &Value, depth: usize, shape: &mut Vec<usize>, out: &mut Vec<f64>) -> Res<()> {
        match v {
            Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len());
                }
                for i in items {
                    walk(i, depth + 1, shape, out)?;
                }
                Ok(())
            }
            Value::Number(n) => {
                out.push(n.as_f64().ok_or("not an f64")?);
                Ok(())
            }
            other => Err(format!("expected a number, got {other}").into()),
        }
    }
    let (mut shape, mut data) = (Vec::new(), Vec::new());
    walk(v, 0, &mut shape, &mut data)?;
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), data)?)
}

fn max_diff<F: Float>(ours: &ArrayD<F>, theirs: &ArrayD<f64>) -> Res<f64> {
    if ours.shape() != theirs.shape() {
        return Err(format!("shape {:?} vs PyTorch's {:?}", ours.shape(), theirs.shape()).into());
    }
    Ok(ours.iter().zip(theirs).map(|(a, b)| (a.to_f64_exact() - b).abs()).fold(0.0, f64::max))
}

/// What to run: the module, an input, and PyTorch's outputs when a sidecar has them.
struct Case {
    mode: Option<RnnMode>, // None: nn.Linear
    x: ArrayD<f64>,
    reference: Option<Value>,
    dtype: String,
}

fn case_for(path: &Path, mode_arg: Option<&str>) -> Res<Case> {
    let sidecar = path.with_extension("json");
    if let Ok(text) = std::fs::read_to_string(&sidecar) {
        let side: Value = serde_json::from_str(&text)?;
        let mode = match side["module"].as_str() {
            Some("torch.nn.Linear") => None,
            _ => Some(
                side["constructor"]["mode"]
                    .as_str()
                    .and_then(RnnMode::from_torch_name)
                    .ok_or("sidecar without a mode")?,
            ),
        };
        let dtype = side["dtype"].as_str().unwrap_or("float32").to_string();
        return Ok(Case { mode, x: array(&side["x"])?, reference: Some(side), dtype });
    }
    let mode = match mode_arg.ok_or("no sidecar: pass --mode RNN_TANH|RNN_RELU|LSTM|GRU|Linear")? {
        "Linear" => None,
        m => Some(RnnMode::from_torch_name(m).ok_or_else(|| format!("unknown mode {m}"))?),
    };
    // Without a sidecar: a fixed input of the file's width, 2 samples of 5 steps.
    let dict = StateDict::<f64>::load(path)?;
    let width = match mode {
        None => dict.get("weight").map(|w| w.shape()[1]),
        Some(_) => dict.get("weight_ih_l0").map(|w| w.shape()[1]),
    }
    .ok_or("no weight_ih_l0 / weight in the file")?;
    let x = ArrayD::from_shape_fn(IxDyn(&[2, 5, width]), |i| ((i[0] * 5 + i[1]) * width + i[2]) as f64 / 10.0 - 1.0);
    Ok(Case { mode, x, reference: None, dtype: "float32".into() })
}

/// Imports the file as `F`, runs it, prints the worst difference from each reference field
/// (`suffix`: "" for PyTorch's float64 run, "_float32" for its float32 run), exports it
/// back and checks the round trip. Returns the module's output.
fn run<F: Float>(path: &Path, case: &Case, suffix: &str) -> Res<ArrayD<F>> {
    let dict = StateDict::<F>::load(path)?;
    let x = case.x.mapv(F::of);
    let compare = |label: &str, ours: &ArrayD<F>, field: &str| -> Res<()> {
        if let Some(want) = case.reference.as_ref().map(|r| &r[format!("{field}{suffix}")]).filter(|v| !v.is_null()) {
            let d = max_diff(ours, &array(want)?)?;
            println!("  {label:<28} {:<14} max |ours − PyTorch| = {d:.1e}", format!("{:?}", ours.shape()));
        } else {
            println!("  {label:<28} {:?}", ours.shape());
        }
        Ok(())
    };
    let Some(mode) = case.mode else {
        let mut fc = import_linear(&dict)?;
        let y = fc.forward(x.view(), Mode::Infer)?;
        compare(&format!("output ({})", F::DTYPE), &y, "output")?;
        let back = import_linear(&StateDict::<F>::from_bytes(&export_linear(&fc)?.to_bytes()?)?)?;
        let same = back.kernel() == fc.kernel() && back.bias() == fc.bias();
        println!("  export → import              {}", if same { "identical weights" } else { "DIFFERENT" });
        return Ok(y);
    };
    let mut rnn = TorchRnn::import(&dict, mode)?;
    let out = rnn.forward(x.view().into_dimensionality::<Ix3>()?, None, None)?;
    compare(&format!("output ({})", F::DTYPE), &out.output.clone().into_dyn(), "output")?;
    compare(&format!("h_n ({})", F::DTYPE), &out.h_n.clone().into_dyn(), "h_n")?;
    if let Some(c) = &out.c_n {
        compare(&format!("c_n ({})", F::DTYPE), &c.clone().into_dyn(), "c_n")?;
    }
    let bytes = rnn.export()?.to_bytes()?;
    let mut back = TorchRnn::import(&StateDict::<F>::from_bytes(&bytes)?, mode)?;
    let again = back.forward(x.view().into_dimensionality::<Ix3>()?, None, None)?;
    println!("  export → import              {}", if again == out { "identical outputs" } else { "DIFFERENT" });
    Ok(out.output.into_dyn())
}

fn describe(path: &Path, case: &Case) -> Res<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    match case.mode {
        None => println!("{name}: nn.Linear, {}", case.dtype),
        Some(mode) => {
            let dict = StateDict::<f64>::load(path)?;
            let s = *TorchRnn::import(&dict, mode)?.spec();
            println!(
                "{name}: {}({}, {}, num_layers={}, bidirectional={}), {}",
                mode.module(),
                s.input_size,
                s.hidden_size,
                s.num_layers,
                s.bidirectional,
                case.dtype
            );
        }
    }
    Ok(())
}

/// The imported layers inside a Sequential with a Dense head, saved as a model file and
/// loaded back: the same predictions, bit for bit.
fn as_model(path: &Path, case: &Case) -> Res<()> {
    let Some(mode) = case.mode else { return Ok(()) };
    let rnn = TorchRnn::import(&StateDict::<f32>::load(path)?, mode)?;
    let width = rnn.spec().directions() * rnn.spec().hidden_size;
    let x: Array3<f32> = case.x.mapv(|v| v as f32).into_dimensionality()?;
    let mut model = rnn.into_sequential(x.dim().1)?;
    model.add(DenseConfig::new(width, 1).init(&mut StdRng::seed_from_u64(0))?)?;
    print!("{}", model.summary());
    let file = std::env::temp_dir().join(format!("pytorch_interop_{}.json", std::process::id()));
    json::save(&model, &file)?;
    let mut loaded = json::load::<f32>(&file)?;
    std::fs::remove_file(&file)?;
    let same = loaded.predict(&x)? == model.predict(&x)?;
    println!("saved as a model file and loaded back: {}", if same { "same predictions" } else { "DIFFERENT" });
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--quick").collect();
    let mode_arg = args.iter().position(|a| a == "--mode").and_then(|i| args.get(i + 1)).map(String::as_str);
    let mut files: Vec<PathBuf> =
        args.iter().filter(|a| a.ends_with(".safetensors")).map(PathBuf::from).collect::<Vec<_>>();
    if files.is_empty() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch_state_dicts");
        files = std::fs::read_dir(&dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<Vec<_>>>()?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
            .collect();
        files.sort();
    }
    for path in &files {
        let case = case_for(path, mode_arg)?;
        describe(path, &case)?;
        if case.dtype == "float64" {
            run::<f64>(path, &case, "")?;
        } else {
            // The module's own precision against PyTorch's float32 run, then the same
            // weights in f64 against PyTorch's float64 run.
            run::<f32>(path, &case, "_float32")?;
            run::<f64>(path, &case, "")?;
        }
    }
    if let Some(path) = files.iter().find(|p| p.to_string_lossy().contains("lstm")).or(files.first()) {
        println!();
        as_model(path, &case_for(path, mode_arg)?)?;
    }
    Ok(())
}
