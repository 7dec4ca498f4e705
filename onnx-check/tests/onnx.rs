//! ONNX export, checked by an independent runtime: every exported file is run in tract and
//! its output compared with the crate's own forward pass, on batch and time sizes other
//! than the model's declared ones (the graph's batch and time axes are dynamic).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array2, Array3, ArrayD, IxDyn};
use prost::Message;
use recurrent::io::onnx::{self, ExportOptions, Recurrence};
use recurrent::layers::recurrent::RecurrentLayer;
use recurrent::prelude::*;
use recurrent::State;
use tract_onnx::pb;
use tract_onnx::prelude::{Datum, Framework, InferenceFact, InferenceModelExt, IntoRunnable, TValue, TVec, Tensor};

/// f32 outputs within 1e-5 of the crate's (the bound); f64 within 1e-12.
fn tol<F: Float>() -> f64 {
    if F::DTYPE == "float32" {
        1e-5
    } else {
        1e-12
    }
}

fn tmp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("recurrent-onnx-{}-{n}-{name}.onnx", std::process::id()))
}

/// An input to the tract run.
enum In<F> {
    Float(ArrayD<F>),
    Ids(Array2<i64>),
}

/// Runs the file in tract on `inputs` (shapes fixed to theirs) and returns the one output.
fn run_tract<F: Float + Datum>(path: &std::path::Path, inputs: Vec<In<F>>) -> ArrayD<F> {
    let mut model = tract_onnx::onnx().model_for_path(path).expect("tract reads the file");
    let mut values: TVec<TValue> = TVec::new();
    for (k, input) in inputs.into_iter().enumerate() {
        let t = match input {
            In::Float(a) => {
                let a = a.as_standard_layout().to_owned();
                Tensor::from_shape(a.shape(), a.as_slice().unwrap()).unwrap()
            }
            In::Ids(a) => Tensor::from_shape(a.shape(), a.as_slice().unwrap()).unwrap(),
        };
        model = model.with_input_fact(k, InferenceFact::dt_shape(t.datum_type(), t.shape())).unwrap();
        values.push(t.into());
    }
    let plan = model.into_optimized().expect("tract types and optimises the graph").into_runnable().unwrap();
    let out = plan.run(values).expect("tract runs the graph");
    assert_eq!(out.len(), 1);
    let view = out[0].to_plain_array_view::<F>().expect("the output has the model's dtype");
    ArrayD::from_shape_vec(IxDyn(view.shape()), view.iter().copied().collect()).unwrap()
}

fn max_diff<F: Float>(a: &ArrayD<F>, b: &ArrayD<F>) -> f64 {
    assert_eq!(a.shape(), b.shape(), "output shapes");
    a.iter().zip(b.iter()).map(|(x, y)| (x.to_f64_exact() - y.to_f64_exact()).abs()).fold(0.0, f64::max)
}

/// Exports `model` with `opts`, runs the file in tract on `x` (plus any extra inputs) and
/// asserts the output equals `model.predict(x)` within the dtype's bound; returns the
/// largest difference.
fn check_with<F: Float + Datum>(
    model: &mut Sequential<F>,
    x: ArrayD<F>,
    extra: Vec<ArrayD<F>>,
    opts: ExportOptions,
) -> f64 {
    let path = tmp(model.name());
    onnx::export_with(model, &path, &opts).expect("export");
    let want = model.predict(&x).expect("the crate's forward pass");
    let ids = model.layers()[0].kind() == "Embedding";
    let mut inputs = vec![if ids {
        In::Ids(x.mapv(|v| v.to_f64_exact() as i64).into_dimensionality().unwrap())
    } else {
        In::Float(x)
    }];
    inputs.extend(extra.into_iter().map(In::Float));
    let got = run_tract(&path, inputs);
    std::fs::remove_file(&path).ok();
    let d = max_diff(&want, &got);
    assert!(d <= tol::<F>(), "{}: tract differs from the crate by {d:e} ({opts:?})", model.name());
    d
}

fn check<F: Float + Datum>(model: &mut Sequential<F>, x: ArrayD<F>) -> f64 {
    check_with(model, x, vec![], ExportOptions::default())
}

/// A deterministic input `(b, t, i)` in about [-1.5, 1.5].
fn input<F: Float>(b: usize, t: usize, i: usize, seed: u64) -> ArrayD<F> {
    Array3::from_shape_fn((b, t, i), |(p, q, r)| {
        let v = ((p * 31 + q * 7 + r * 3) as f64 + seed as f64 * 0.37).sin() * 1.5;
        F::of(v)
    })
    .into_dyn()
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(11)
}

/// Declared T = 5 at export; runs use B = 3, T = 7 (and B = 2, T = 4 for a second run).
const DECL_T: usize = 5;

fn seq_model<F: Float>(input: usize) -> Sequential<F> {
    Sequential::new(&[DECL_T, input]).unwrap()
}

fn both_sizes<F: Float + Datum>(model: &mut Sequential<F>, i: usize) -> f64 {
    let a = check(model, input::<F>(3, 7, i, 1));
    let b = check(model, input::<F>(2, 4, i, 2));
    a.max(b)
}

// ───────────────────────────── one recurrent layer ─────────────────────────────

fn simple(act: Activation, seq: bool, back: bool) -> SimpleRnn<f32> {
    SimpleRnnConfig::new(3, 4)
        .with_activation(act)
        .with_return_sequences(seq)
        .with_go_backwards(back)
        .init(&mut rng())
        .unwrap()
}

#[test]
fn simple_rnn_every_option() {
    for act in [Activation::Tanh, Activation::Relu] {
        for seq in [false, true] {
            for back in [false, true] {
                let mut m = seq_model::<f32>(3);
                m.add(simple(act, seq, back)).unwrap();
                both_sizes(&mut m, 3);
            }
        }
    }
}

#[test]
fn lstm_every_option() {
    for seq in [false, true] {
        for back in [false, true] {
            let mut m = seq_model::<f32>(3);
            m.add(LstmConfig::new(3, 4).with_return_sequences(seq).with_go_backwards(back).init(&mut rng()).unwrap())
                .unwrap();
            both_sizes(&mut m, 3);
        }
    }
}

#[test]
fn gru_every_option() {
    for reset_after in [true, false] {
        for seq in [false, true] {
            for back in [false, true] {
                let mut m = seq_model::<f32>(3);
                let mut gru = GruConfig::new(3, 4)
                    .with_reset_after(reset_after)
                    .with_return_sequences(seq)
                    .with_go_backwards(back)
                    .init::<f32, _>(&mut rng())
                    .unwrap();
                if reset_after {
                    // Non-zero recurrent biases, so a misplaced Rb would show.
                    let rb = gru.param("recurrent_bias").unwrap().mapv(|_| 0.3f32);
                    gru.set_param("recurrent_bias", rb).unwrap();
                }
                let bias = gru.param("bias").unwrap().to_owned();
                let n = bias.len();
                let bias = ndarray::Array1::from_shape_fn(n, |k| 0.1 * (k as f32) - 0.4).into_dyn();
                gru.set_param("bias", bias).unwrap();
                m.add(gru).unwrap();
                both_sizes(&mut m, 3);
            }
        }
    }
}

#[test]
fn non_default_cell_activations_run_as_scan() {
    let mut m = seq_model::<f32>(3);
    m.add(
        LstmConfig::new(3, 4)
            .with_activation(Activation::Relu)
            .with_recurrent_activation(Activation::Sigmoid)
            .with_return_sequences(true)
            .init(&mut rng())
            .unwrap(),
    )
    .unwrap();
    m.add(
        GruConfig::new(4, 2)
            .with_activation(Activation::Linear)
            .with_recurrent_activation(Activation::Tanh)
            .init(&mut rng())
            .unwrap(),
    )
    .unwrap();
    both_sizes(&mut m, 3);
    let ops = op_types(&onnx::to_bytes(&m, &ExportOptions::default()).unwrap());
    assert!(ops.contains(&"Scan".to_string()) && !ops.contains(&"LSTM".to_string()), "{ops:?}");
}

// ───────────────────────────── Bidirectional ─────────────────────────────

#[test]
fn bidirectional_every_merge_mode() {
    for merge in [MergeMode::Concat, MergeMode::Sum, MergeMode::Mul, MergeMode::Average] {
        for seq in [true, false] {
            let mut r = rng();
            let mut m = seq_model::<f32>(3);
            let lstm = LstmConfig::new(3, 4).with_return_sequences(seq).init::<f32, _>(&mut r).unwrap();
            m.add(Bidirectional::new(lstm, merge, &mut r).unwrap()).unwrap();
            let gru_in = if merge == MergeMode::Concat { 8 } else { 4 };
            if seq {
                let gru = GruConfig::new(gru_in, 3).with_return_sequences(true).init::<f32, _>(&mut r).unwrap();
                m.add(Bidirectional::new(gru, merge, &mut r).unwrap()).unwrap();
            }
            both_sizes(&mut m, 3);
            let ops = op_types(&onnx::to_bytes(&m, &ExportOptions::default()).unwrap());
            assert!(ops.contains(&"LSTM".to_string()), "one native op for both halves: {ops:?}");
        }
    }
}

#[test]
fn bidirectional_whose_forward_half_reads_backwards() {
    for merge in [MergeMode::Concat, MergeMode::Average] {
        for seq in [true, false] {
            let mut r = rng();
            let mut m = seq_model::<f32>(3);
            let simple = SimpleRnnConfig::new(3, 4)
                .with_return_sequences(seq)
                .with_go_backwards(true)
                .init::<f32, _>(&mut r)
                .unwrap();
            m.add(Bidirectional::new(simple, merge, &mut r).unwrap()).unwrap();
            both_sizes(&mut m, 3);
        }
    }
}

#[test]
fn bidirectional_of_two_different_cells() {
    let mut r = rng();
    let mut m = seq_model::<f32>(3);
    let f: Box<dyn RecurrentLayer<f32>> =
        Box::new(LstmConfig::new(3, 4).with_return_sequences(true).init::<f32, _>(&mut r).unwrap());
    let b: Box<dyn RecurrentLayer<f32>> =
        Box::new(GruConfig::new(3, 4).with_return_sequences(true).init::<f32, _>(&mut r).unwrap());
    m.add(Bidirectional::with_layers(f, b, MergeMode::Concat).unwrap()).unwrap();
    both_sizes(&mut m, 3);
    let native = ExportOptions::default().with_recurrence(Recurrence::Native);
    let err = onnx::to_bytes(&m, &native).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }) && err.to_string().contains("halves"), "{err}");
}

// ───────────────────────────── stacks, Dense, Embedding ─────────────────────────────

#[test]
fn stack_with_dense_per_time_step_and_at_the_end() {
    let mut r = rng();
    let mut m = seq_model::<f32>(3);
    m.add(LstmConfig::new(3, 5).with_return_sequences(true).init(&mut r).unwrap()).unwrap();
    m.add(DenseConfig::new(5, 4).with_activation(Activation::Tanh).init(&mut r).unwrap()).unwrap();
    m.add(GruConfig::new(4, 3).with_return_sequences(true).init(&mut r).unwrap()).unwrap();
    m.add(SimpleRnnConfig::new(3, 6).init(&mut r).unwrap()).unwrap();
    m.add(DenseConfig::new(6, 2).init(&mut r).unwrap()).unwrap();
    both_sizes(&mut m, 3);
}

#[test]
fn dense_every_activation_2d_and_3d() {
    for act in [Activation::Linear, Activation::Tanh, Activation::Sigmoid, Activation::Relu, Activation::Softmax] {
        let mut r = rng();
        let mut m = Sequential::<f32>::new(&[4]).unwrap();
        m.add(DenseConfig::new(4, 3).with_activation(act).init(&mut r).unwrap()).unwrap();
        let x = input::<f32>(6, 1, 4, 3).into_shape_with_order(IxDyn(&[6, 4])).unwrap();
        check(&mut m, x);

        let mut m = seq_model::<f32>(4);
        m.add(DenseConfig::new(4, 3).with_activation(act).init(&mut r).unwrap()).unwrap();
        both_sizes(&mut m, 4);
    }
}

#[test]
fn embedding_then_recurrent() {
    for mask_zero in [false, true] {
        let mut r = rng();
        let mut m = Sequential::<f32>::new(&[DECL_T]).unwrap();
        m.add(EmbeddingConfig::new(10, 4).with_mask_zero(mask_zero).init(&mut r).unwrap()).unwrap();
        m.add(LstmConfig::new(4, 3).init(&mut r).unwrap()).unwrap();
        m.add(DenseConfig::new(3, 2).with_activation(Activation::Softmax).init(&mut r).unwrap()).unwrap();
        // Ids with 0 padding at the end, at the start and in the middle.
        let ids = ndarray::arr2(&[
            [3.0f32, 4.0, 9.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            [7.0, 0.0, 8.0, 0.0, 1.0, 1.0, 0.0],
        ]);
        check(&mut m, ids.into_dyn());
    }
}

// ───────────────────────────── masks ─────────────────────────────

/// (B = 4, T = 7, 3) with rows padded at the end, at the start, in the middle, and not at all.
fn padded<F: Float>(value: f64) -> ArrayD<F> {
    let mut x = input::<F>(4, 7, 3, 5);
    let pad = |x: &mut ArrayD<F>, b: usize, t: usize| {
        for f in 0..3 {
            x[[b, t, f]] = F::of(value);
        }
    };
    for t in 4..7 {
        pad(&mut x, 0, t);
    }
    for t in 0..3 {
        pad(&mut x, 1, t);
    }
    pad(&mut x, 2, 2);
    pad(&mut x, 2, 3);
    x
}

#[test]
fn masking_before_every_recurrent_kind() {
    type Make = fn(&mut StdRng, bool, bool) -> Box<dyn Layer<f32>>;
    let makers: [(&str, Make); 5] = [
        ("simple", |r, s, b| {
            Box::new(
                SimpleRnnConfig::new(3, 4).with_return_sequences(s).with_go_backwards(b).init::<f32, _>(r).unwrap(),
            )
        }),
        ("lstm", |r, s, b| {
            Box::new(LstmConfig::new(3, 4).with_return_sequences(s).with_go_backwards(b).init::<f32, _>(r).unwrap())
        }),
        ("gru", |r, s, b| {
            Box::new(GruConfig::new(3, 4).with_return_sequences(s).with_go_backwards(b).init::<f32, _>(r).unwrap())
        }),
        ("cho", |r, s, b| {
            Box::new(
                GruConfig::new(3, 4)
                    .with_reset_after(false)
                    .with_return_sequences(s)
                    .with_go_backwards(b)
                    .init::<f32, _>(r)
                    .unwrap(),
            )
        }),
        ("bidirectional", |r, s, b| {
            let l = LstmConfig::new(3, 4).with_return_sequences(s).with_go_backwards(b).init::<f32, _>(r).unwrap();
            Box::new(Bidirectional::new(l, MergeMode::Concat, r).unwrap())
        }),
    ];
    for (name, make) in makers {
        for seq in [false, true] {
            for back in [false, true] {
                let mut r = rng();
                let mut m = seq_model::<f32>(3);
                m.add(Masking::new(-1.0)).unwrap();
                m.add_boxed(make(&mut r, seq, back)).unwrap();
                let d = check(&mut m, padded::<f32>(-1.0));
                assert!(d <= 1e-5, "{name} seq {seq} back {back}");
            }
        }
    }
}

#[test]
fn mask_flows_through_a_stack() {
    let mut r = rng();
    let mut m = seq_model::<f32>(3);
    m.add(Masking::new(0.0)).unwrap();
    m.add(GruConfig::new(3, 4).with_return_sequences(true).init(&mut r).unwrap()).unwrap();
    m.add(DenseConfig::new(4, 4).with_activation(Activation::Relu).init(&mut r).unwrap()).unwrap();
    m.add(SimpleRnnConfig::new(4, 3).with_return_sequences(true).init(&mut r).unwrap()).unwrap();
    m.add(DenseConfig::new(3, 1).init(&mut r).unwrap()).unwrap();
    check(&mut m, padded::<f32>(0.0));
}

/// A mask is exact only where the graph computes it in a Scan: the native op's
/// sequence_lens would need trailing padding. The file says which it used.
#[test]
fn native_recurrence_writes_sequence_lens_and_activations() {
    let mut m = seq_model::<f32>(3);
    m.add(Masking::new(0.0)).unwrap();
    m.add(simple(Activation::Relu, true, true)).unwrap();
    let bytes = onnx::to_bytes(&m, &ExportOptions::default().with_recurrence(Recurrence::Native)).unwrap();
    let model = pb::ModelProto::decode(bytes.as_slice()).unwrap();
    let rnn = model.graph.as_ref().unwrap().node.iter().find(|n| n.op_type == "RNN").unwrap();
    assert_eq!(rnn.input.len(), 6, "X, W, R, B, sequence_lens, initial_h: {:?}", rnn.input);
    assert!(rnn.input[4].contains("sequence_lens"), "{:?}", rnn.input);
    let attr = |name: &str| rnn.attribute.iter().find(|a| a.name == name).cloned();
    assert_eq!(attr("activations").unwrap().strings, vec![b"Relu".to_vec()]);
    assert_eq!(attr("direction").unwrap().s, b"reverse".to_vec());
    // The default export of the same model computes the mask in a Scan, which tract runs.
    check(&mut m, padded::<f32>(0.0));
    let ops = op_types(&onnx::to_bytes(&m, &ExportOptions::default()).unwrap());
    assert!(ops.contains(&"Scan".to_string()) && !ops.contains(&"RNN".to_string()), "{ops:?}");
}

// ───────────────────────────── initial states, Scan everywhere, f64 ─────────────────────────────

fn state(b: usize, h: usize, seed: f32, cell: bool) -> State<f32> {
    let a = Array2::from_shape_fn((b, h), |(i, j)| ((i * h + j) as f32 * 0.37 + seed).sin() * 0.8);
    State { h: a.clone(), c: cell.then(|| a.mapv(|v| v * -1.3)) }
}

fn stack_states(parts: &[&Array2<f32>]) -> ArrayD<f32> {
    let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
    ndarray::stack(ndarray::Axis(0), &views).unwrap().into_dyn()
}

#[test]
fn initial_states_as_graph_inputs() {
    let (b, t) = (3, 6);
    for recurrence in [Recurrence::Auto, Recurrence::Scan] {
        let opts = ExportOptions::default().with_initial_states(true).with_recurrence(recurrence);
        let mut r = rng();
        // An LSTM (h and c), then a Bidirectional GRU (two directions).
        let mut m = seq_model::<f32>(3);
        m.add(LstmConfig::new(3, 4).with_return_sequences(true).init(&mut r).unwrap()).unwrap();
        let gru = GruConfig::new(4, 2).init::<f32, _>(&mut r).unwrap();
        m.add(Bidirectional::new(gru, MergeMode::Sum, &mut r).unwrap()).unwrap();
        let (s0, sf, sb) = (state(b, 4, 0.1, true), state(b, 2, 0.7, false), state(b, 2, 1.9, false));
        m.layer_as_mut::<Lstm<f32>>(0).unwrap().set_initial_state(Some(s0.clone()));
        let bi = m.layer_as_mut::<Bidirectional<f32>>(1).unwrap();
        bi.forward_layer_mut().set_initial_state(Some(sf.clone()));
        bi.backward_layer_mut().set_initial_state(Some(sb.clone()));
        let extra = vec![
            stack_states(&[&s0.h]),
            stack_states(&[s0.c.as_ref().unwrap()]),
            stack_states(&[&sf.h, &sb.h]), // index 0: the half reading forwards
        ];
        check_with(&mut m, input::<f32>(b, t, 3, 4), extra, opts);

        // Without the option, a set initial state is refused rather than dropped.
        let err = onnx::to_bytes(&m, &ExportOptions::default()).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }) && err.to_string().contains("initial state"), "{err}");
    }
}

#[test]
fn scan_recurrence_for_every_cell() {
    let opts = ExportOptions::default().with_recurrence(Recurrence::Scan);
    let mut r = rng();
    let mut m = seq_model::<f32>(3);
    m.add(SimpleRnnConfig::new(3, 4).with_return_sequences(true).with_go_backwards(true).init(&mut r).unwrap())
        .unwrap();
    m.add(LstmConfig::new(4, 4).with_return_sequences(true).init(&mut r).unwrap()).unwrap();
    let g = GruConfig::new(4, 3).with_return_sequences(true).init::<f32, _>(&mut r).unwrap();
    m.add(Bidirectional::new(g, MergeMode::Mul, &mut r).unwrap()).unwrap();
    m.add(GruConfig::new(3, 2).with_reset_after(false).init(&mut r).unwrap()).unwrap();
    for (b, t) in [(3, 7), (1, 2)] {
        check_with(&mut m, input::<f32>(b, t, 3, 6), vec![], opts);
    }
    let ops = op_types(&onnx::to_bytes(&m, &opts).unwrap());
    assert!(!ops.iter().any(|o| o == "RNN" || o == "LSTM" || o == "GRU"), "{ops:?}");
}

/// f64 files are `tensor(double)` throughout. tract has no f64 `Sigmoid`, so the f64 runs
/// here use tanh and relu cells (native and Scan, masked and not); the f64 LSTM and GRU were
/// checked in ONNX Runtime (docs/interop.md).
#[test]
fn f64_models() {
    let mut r = rng();
    let mut m = Sequential::<f64>::new(&[DECL_T, 2]).unwrap();
    m.add(Masking::new(9.0)).unwrap();
    m.add(SimpleRnnConfig::new(2, 3).with_return_sequences(true).init(&mut r).unwrap()).unwrap();
    m.add(DenseConfig::new(3, 2).with_activation(Activation::Tanh).init(&mut r).unwrap()).unwrap();
    let mut x = input::<f64>(3, 7, 2, 8);
    x[[1, 5, 0]] = 9.0;
    x[[1, 5, 1]] = 9.0;
    check(&mut m, x);

    let mut m = Sequential::<f64>::new(&[DECL_T, 2]).unwrap();
    let l = SimpleRnnConfig::new(2, 3).with_return_sequences(true).init::<f64, _>(&mut r).unwrap();
    m.add(Bidirectional::new(l, MergeMode::Concat, &mut r).unwrap()).unwrap();
    m.add(SimpleRnnConfig::new(6, 2).with_activation(Activation::Relu).with_go_backwards(true).init(&mut r).unwrap())
        .unwrap();
    m.add(DenseConfig::new(2, 1).init(&mut r).unwrap()).unwrap();
    both_sizes(&mut m, 2);
    let bytes = onnx::to_bytes(&m, &ExportOptions::default()).unwrap();
    let model = pb::ModelProto::decode(bytes.as_slice()).unwrap();
    let g = model.graph.unwrap();
    assert_eq!(dims(&g.input[0]).0, 11, "tensor(double) input");
    assert_eq!(dims(&g.output[0]).0, 11, "tensor(double) output");
    assert!(g.initializer.iter().all(|t| t.data_type == 11 || t.data_type == 7), "weights in double, indices int64");
    // ONNX Runtime has no double kernels for the native recurrent ops, so f64 layers are Scans.
    assert!(g.node.iter().all(|n| !["RNN", "LSTM", "GRU"].contains(&n.op_type.as_str())));
    assert!(g.node.iter().any(|n| n.op_type == "Scan"));
}

// ───────────────────────────── the file itself ─────────────────────────────

fn op_types(bytes: &[u8]) -> Vec<String> {
    let model = pb::ModelProto::decode(bytes).unwrap();
    model.graph.unwrap().node.iter().map(|n| n.op_type.clone()).collect()
}

fn dims(v: &pb::ValueInfoProto) -> (i32, Vec<String>) {
    use pb::tensor_shape_proto::dimension::Value;
    let Some(pb::type_proto::Value::TensorType(t)) = v.r#type.as_ref().and_then(|t| t.value.clone()) else {
        panic!("{v:?} is not a tensor")
    };
    let d = t
        .shape
        .unwrap()
        .dim
        .iter()
        .map(|d| match d.value.clone() {
            Some(Value::DimValue(n)) => n.to_string(),
            Some(Value::DimParam(s)) => s,
            None => "?".into(),
        })
        .collect();
    (t.elem_type, d)
}

/// Checked with tract's own decoder of ONNX's schema: the opset import, IR version,
/// names, types and dynamic axes, and that values are defined once.
#[test]
fn the_file_follows_onnx_structural_rules() {
    let mut r = rng();
    let mut m = seq_model::<f32>(3);
    m.add(Masking::new(0.0)).unwrap();
    m.add(LstmConfig::new(3, 4).with_return_sequences(true).init(&mut r).unwrap()).unwrap();
    let g = GruConfig::new(4, 2).init::<f32, _>(&mut r).unwrap();
    m.add(Bidirectional::new(g, MergeMode::Concat, &mut r).unwrap()).unwrap();
    m.add(DenseConfig::new(4, 1).init(&mut r).unwrap()).unwrap();
    let bytes = onnx::to_bytes(&m, &ExportOptions::default().with_initial_states(true)).unwrap();
    let model = pb::ModelProto::decode(bytes.as_slice()).unwrap();
    assert_eq!(model.ir_version, onnx::IR_VERSION);
    assert_eq!(model.opset_import.len(), 1);
    assert_eq!(model.opset_import[0].domain, "");
    assert_eq!(model.opset_import[0].version, 14);
    let g = model.graph.unwrap();
    let inputs: Vec<_> = g.input.iter().map(|v| (v.name.clone(), dims(v))).collect();
    assert_eq!(inputs[0], ("input".into(), (1, vec!["batch".into(), "time".into(), "3".into()])));
    assert_eq!(inputs[1], ("lstm.initial_h".into(), (1, vec!["1".into(), "batch".into(), "4".into()])));
    assert_eq!(inputs[2], ("lstm.initial_c".into(), (1, vec!["1".into(), "batch".into(), "4".into()])));
    assert_eq!(inputs[3], ("bidirectional.initial_h".into(), (1, vec!["2".into(), "batch".into(), "2".into()])));
    assert_eq!(inputs.len(), 4);
    assert_eq!(g.output.len(), 1);
    assert_eq!(g.output[0].name, "output");
    assert_eq!(dims(&g.output[0]), (1, vec!["batch".into(), "1".into()]));

    // Static single assignment across the graph and the Scan bodies; unique node names.
    let mut values = std::collections::HashSet::new();
    let mut nodes = std::collections::HashSet::new();
    fn walk(
        g: &pb::GraphProto,
        values: &mut std::collections::HashSet<String>,
        nodes: &mut std::collections::HashSet<String>,
    ) {
        for n in g.input.iter().map(|v| v.name.clone()).chain(g.initializer.iter().map(|t| t.name.clone())) {
            assert!(values.insert(n.clone()), "{n} defined twice");
        }
        for node in &g.node {
            assert!(nodes.insert(node.name.clone()), "node name {:?} twice", node.name);
            for a in &node.attribute {
                if let Some(body) = &a.g {
                    walk(body, values, nodes);
                }
            }
            for o in node.output.iter().filter(|o| !o.is_empty()) {
                assert!(values.insert(o.clone()), "{o} defined twice");
            }
        }
    }
    walk(&g, &mut values, &mut nodes);
    assert!(g.node.iter().any(|n| n.op_type == "Scan"), "the masked LSTM is a Scan");
}

// ───────────────────────────── dropout layers ─────────────────────────────

/// A layer of a kind the exporter does not know (here `GaussianNoise`, which is not in the
/// crate): it must be refused, not exported as nothing.
#[derive(Debug)]
struct Stand {
    kind: &'static str,
    name: String,
}

impl Params<f32> for Stand {
    fn visit_params(&self, _f: &mut dyn FnMut(recurrent::ParamRef<'_, f32>)) {}
    fn visit_params_mut(&mut self, _f: &mut dyn FnMut(recurrent::ParamMut<'_, f32>)) {}
}

impl Layer<f32> for Stand {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: String) {
        self.name = name;
    }
    fn input_spec(&self) -> Vec<Option<usize>> {
        vec![None, None]
    }
    fn output_shape(&self, input_shape: &[usize]) -> recurrent::Result<Vec<usize>> {
        Ok(input_shape.to_vec())
    }
    fn forward(&mut self, input: ndarray::ArrayViewD<'_, f32>, _mode: Mode) -> recurrent::Result<ArrayD<f32>> {
        Ok(input.to_owned())
    }
    fn backward(&mut self, g: ndarray::ArrayViewD<'_, f32>) -> recurrent::Result<ArrayD<f32>> {
        Ok(g.to_owned())
    }
    fn clear_cache(&mut self) {}
    fn has_cache(&self) -> bool {
        false
    }
}

#[test]
fn dropout_layers_are_nothing_at_inference_and_unknown_kinds_are_refused() {
    let mut r = rng();
    let mut m = seq_model::<f32>(3);
    m.add(Masking::new(0.0)).unwrap();
    m.add(SpatialDropout1D::<f32>::new(0.3).unwrap()).unwrap();
    // The recurrent layer's own dropout options act only in training too.
    let lstm = LstmConfig::new(3, 4).with_return_sequences(true).with_dropout(0.2).with_recurrent_dropout(0.4);
    m.add(lstm.init(&mut r).unwrap()).unwrap();
    m.add(Dropout::<f32>::new(0.5).unwrap()).unwrap();
    m.add(DenseConfig::new(4, 2).init(&mut r).unwrap()).unwrap();
    check(&mut m, padded::<f32>(0.0));
    let bytes = onnx::to_bytes(&m, &ExportOptions::default()).unwrap();
    let g = pb::ModelProto::decode(bytes.as_slice()).unwrap().graph.unwrap();
    assert!(g.node.iter().all(|n| !n.name.contains("dropout")), "no node for a dropout layer");
    assert!(g.node.iter().all(|n| n.op_type != "Dropout"), "no ONNX Dropout op either");

    let mut m = seq_model::<f32>(3);
    m.add(Stand { kind: "GaussianNoise", name: "noise".into() }).unwrap();
    let err = onnx::to_bytes(&m, &ExportOptions::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }) && err.to_string().contains("GaussianNoise"), "{err}");
}

// ───────────────────────────── what is refused, and the atomic write ─────────────────────────────

#[test]
fn refusals_leave_an_existing_file_as_it_was() {
    let path = tmp("kept");
    std::fs::write(&path, b"previous contents").unwrap();

    let empty = Sequential::<f32>::new(&[DECL_T, 3]).unwrap();
    let err = onnx::export(&empty, &path).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }) && err.to_string().contains("at least one layer"), "{err}");

    let mut stateful = seq_model::<f32>(3);
    stateful.add(simple(Activation::Tanh, false, false)).unwrap();
    stateful.set_stateful(true);
    let err = onnx::export(&stateful, &path).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }) && err.to_string().contains("stateful"), "{err}");

    let mut softmax_cell = seq_model::<f32>(3);
    softmax_cell.add(simple(Activation::Softmax, false, false)).unwrap();
    let err = onnx::export(&softmax_cell, &path).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }) && err.to_string().contains("softmax"), "{err}");

    let mut relu_native = seq_model::<f32>(3);
    relu_native.add(LstmConfig::new(3, 2).with_activation(Activation::Linear).init(&mut rng()).unwrap()).unwrap();
    let err = onnx::export_with(&relu_native, &path, &ExportOptions::default().with_recurrence(Recurrence::Native))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }) && err.to_string().contains("native"), "{err}");

    assert_eq!(std::fs::read(&path).unwrap(), b"previous contents");
    let leftovers = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(&format!("{}.tmp", std::process::id())))
        .filter(|e| e.file_name().to_string_lossy().contains("kept"))
        .count();
    assert_eq!(leftovers, 0, "no temporary file left");

    // A successful export replaces the file with a model tract reads.
    onnx::export(&relu_native, &path).unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), b"previous contents");
    run_tract::<f32>(&path, vec![In::Float(input::<f32>(2, 3, 3, 0))]);
    std::fs::remove_file(&path).ok();

    // A folder in the way is an I/O error naming the path.
    let dir = std::env::temp_dir().join(format!("recurrent-onnx-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let err = onnx::export(&relu_native, &dir).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
