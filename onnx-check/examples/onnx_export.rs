//! Deploy the lecture's forecast model through ONNX: train SimpleRNN(3) → Dense(1) on the
//! lecture's noisy sine series (as `examples/sine_forecast.rs` part 1, in f32), export it to
//! an `.onnx` file, load that file in tract (an ONNX runtime written independently of this
//! crate) and print both predictions side by side, for the 15 training windows and for the
//! unseen 21st value.
//!
//! ```sh
//! # from the repository's root; the example lives in the onnx-check package so that the
//! # main crate's builds never compile tract
//! cargo run --release --manifest-path onnx-check/Cargo.toml --example onnx_export  # writes onnx-check/target/onnx/sine_forecast.onnx
//! cargo run --release --manifest-path onnx-check/Cargo.toml --example onnx_export -- OUT.onnx
//! ```
//!
//! The same file runs in ONNX Runtime from Python:
//!
//! ```python
//! import numpy as np, onnxruntime as ort
//! session = ort.InferenceSession("onnx-check/target/onnx/sine_forecast.onnx")
//! x = np.array([[[0.17], [0.09], [-0.28], [-0.41], [-0.70]]], dtype=np.float32)  # (batch, time, 1)
//! print(session.run(["output"], {"input": x})[0])                              # (batch, 1)
//! ```

use std::path::PathBuf;

use ndarray::{Array3, ArrayD, IxDyn};
use recurrent::io::onnx;
use recurrent::prelude::*;
use tract_onnx::prelude::{DatumExt, Framework, InferenceModelExt, IntoRunnable, TValue, TVec, Tensor};

type BoxResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The lecture's series: x_i = sin(0.2 i) + 0.1 n_i, n = numpy's `seed(0); randn(20)`.
const LECTURE_SERIES: [f64; 20] = [
    0.1764052345967664,
    0.23868505163178355,
    0.48729214071922444,
    0.7887317933151813,
    0.9041118899145195,
    0.7437431968202554,
    1.0270479277197853,
    0.9703140091586905,
    0.9892517178621493,
    1.0149074810720324,
    0.9237017839417695,
    0.9539237545158876,
    0.75156695306585,
    0.527668873470747,
    0.3793744734304472,
    0.1744874407972939,
    0.09103376388818053,
    -0.2760569284034118,
    -0.4112136731297623,
    -0.6972674648728917,
];

const WINDOW: usize = 5;

/// Runs the ONNX file in tract on `x` `(B, T, 1)`: the shapes are fixed to `x`'s when the
/// file is loaded, since its batch and time axes are dynamic.
fn tract_predict(path: &std::path::Path, x: &Array3<f32>) -> BoxResult<ArrayD<f32>> {
    let x = x.as_standard_layout().to_owned();
    let input = Tensor::from_shape(x.shape(), x.as_slice().ok_or("contiguous input")?)?;
    let plan = tract_onnx::onnx()
        .model_for_path(path)?
        .with_input_fact(0, f32::fact(x.shape()).into())?
        .into_optimized()?
        .into_runnable()?;
    let out = plan.run(TVec::from_iter([TValue::from(input)]))?;
    let view = out[0].to_plain_array_view::<f32>()?;
    Ok(ArrayD::from_shape_vec(IxDyn(view.shape()), view.iter().copied().collect())?)
}

fn main() -> BoxResult<()> {
    let path = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target").join("onnx");
        dir.join("sine_forecast.onnx")
    });
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }

    // Train: the lecture's 15 windows, full-batch gradient descent.
    let series: Vec<f32> = LECTURE_SERIES.iter().map(|&v| v as f32).collect();
    let (x, y) = recurrent::data::windows(&series, WINDOW)?;
    let mut rng = StdRng::seed_from_u64(42);
    let mut model = Sequential::<f32>::new(&[WINDOW, 1])?;
    model.add(SimpleRnnConfig::new(1, 3).init(&mut rng)?)?;
    model.add(DenseConfig::new(3, 1).init(&mut rng)?)?;
    let config = FitConfig::new(2000, x.shape()[0]).with_shuffle(false).quiet();
    model.fit(&x, &y, &Mse, &mut Sgd::new(0.1), config)?;
    println!("trained SimpleRNN(3) → Dense(1): training MSE {:.6}", model.evaluate(&x, &y, &Mse)?);

    // Export, then run the file in tract.
    onnx::export(&model, &path)?;
    let size = std::fs::metadata(&path)?.len();
    println!("exported {} ({size} bytes, opset {})\n", path.display(), onnx::OPSET);

    let ours = model.predict(&x)?;
    let theirs = tract_predict(&path, &x)?;
    println!("window  target     recurrent   tract (ONNX)");
    let mut worst = 0f32;
    for k in 0..y.nrows() {
        let (a, b) = (ours[[k, 0]], theirs[[k, 0]]);
        worst = worst.max((a - b).abs());
        println!("{k:6}  {:+.6}  {a:+.6}  {b:+.6}", y[[k, 0]]);
    }

    // The unseen 21st value from the last 5 known ones: another batch size (1) than above.
    let last = Array3::from_shape_fn((1, WINDOW, 1), |(_, j, _)| series[series.len() - WINDOW + j]);
    let (a, b) = (model.predict(&last)?[[0, 0]], tract_predict(&path, &last)?[[0, 0]]);
    worst = worst.max((a - b).abs());
    println!("\nforecast of x_20 (true sin(4.0) = {:+.6}):  recurrent {a:+.6}  tract {b:+.6}", 4.0f64.sin());
    println!("largest difference between the two runtimes: {worst:.2e}");
    if worst > 1e-5 {
        return Err(format!("tract and the crate differ by {worst:e}, more than 1e-5").into());
    }
    Ok(())
}
