//! Layers and cells written outside the crate persist through a `Registry`: a cell and a
//! layer type defined here (as a user crate would) round trip bit for bit, alone and as a
//! Bidirectional's half, with the same checks on load as the built-in kinds; kinds cannot be
//! registered twice; and a registry without a kind says so, on save and on load.

use std::path::PathBuf;

use ndarray::{Array3, ArrayD, ArrayViewD};
use recurrent::io::{json, ParamShapes, Persist, Registry};
use recurrent::layers::recurrent::{
    BackwardStep, Cell, ForwardStep, Init, ParamGrads, ParamSpec, RecurrentConfig, Role,
};
use recurrent::layers::{ParamMut, ParamRef};
use recurrent::prelude::*;
use recurrent::{Adam, LstmCell, Recurrent};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

// ───────────────────────────── a cell of our own ─────────────────────────────

/// `h_t = act(x_t W + b + d ⊙ h_{t−1})`: an element-wise recurrence (`d` is the cell's own
/// parameter), with its activation as an option.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct DiagCell {
    activation: Activation,
}

impl Default for DiagCell {
    fn default() -> Self {
        DiagCell { activation: Activation::Tanh }
    }
}

impl<F: Float> Cell<F> for DiagCell {
    fn kind(&self) -> &'static str {
        "DiagRNN"
    }

    fn default_name(&self) -> &'static str {
        "diag_rnn"
    }

    fn gates(&self) -> usize {
        1
    }

    fn params(&self, input_size: usize, units: usize) -> Vec<ParamSpec> {
        vec![
            ParamSpec::new("kernel", vec![input_size, units], Init::GlorotUniform, Role::InputKernel),
            ParamSpec::new("bias", vec![units], Init::Uniform { low: -0.5, high: 0.5 }, Role::InputBias),
            ParamSpec::new("diagonal", vec![units], Init::Uniform { low: 0.0, high: 1.0 }, Role::Own),
        ]
    }

    fn recurrent_columns(&self, _units: usize) -> usize {
        0
    }

    fn forward_step(&self, s: ForwardStep<'_, F>) {
        let d = s.params.get(2);
        for (row, h) in s.gx.chunks_exact_mut(s.units).zip(s.h_rec.chunks_exact(s.units)) {
            for ((g, &h), &d) in row.iter_mut().zip(h).zip(d) {
                *g += d * h;
            }
        }
        self.activation.apply_rows_into(s.gx, s.h, s.units);
    }

    fn backward_step(&self, s: BackwardStep<'_, F>) {
        s.dgx.copy_from_slice(s.dh);
        self.activation.backward_rows_inplace(s.h, s.dgx, s.units);
        let d = s.params.get(2);
        for (dp, dg) in s.dh_prev.chunks_exact_mut(s.units).zip(s.dgx.chunks_exact(s.units)) {
            for ((p, &g), &d) in dp.iter_mut().zip(dg).zip(d) {
                *p = g * d;
            }
        }
        if !s.rec_mask.is_empty() {
            for (p, &m) in s.dh_prev.iter_mut().zip(s.rec_mask) {
                *p *= m;
            }
        }
    }

    fn backward_params(&self, mut p: ParamGrads<'_, '_, F>) -> recurrent::Result<()> {
        let units = p.units;
        let grad = p.grads.get_mut(2);
        for (dg, h) in p.dgx.chunks_exact(units).zip(p.h_rec.chunks_exact(units)) {
            for ((g, &dg), &h) in grad.iter_mut().zip(dg).zip(h) {
                *g += dg * h;
            }
        }
        Ok(())
    }
}

fn registry<F: Float>() -> Registry<F> {
    let mut r = Registry::new();
    r.register_cell::<DiagCell>().expect("DiagRNN is a new kind");
    r
}

/// DiagRNN (relu, every step) → Bidirectional(DiagRNN, concat) → Dense.
fn model<F: Float>(seed: u64) -> Sequential<F> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut m = Sequential::<F>::new(&[5, 2]).expect("model");
    let first = RecurrentConfig::of(DiagCell { activation: Activation::Relu }, 2, 4)
        .with_return_sequences(true)
        .with_recurrent_dropout(0.25);
    m.add(first.init::<F, _>(&mut rng).expect("diag")).expect("add");
    let half = RecurrentConfig::of(DiagCell::default(), 4, 3).init::<F, _>(&mut rng).expect("half");
    m.add(Bidirectional::new(half, MergeMode::Concat, &mut rng).expect("bi")).expect("add");
    m.add(DenseConfig::new(6, 1).init(&mut rng).expect("dense")).expect("add");
    m
}

fn input<F: Float>() -> Array3<F> {
    Array3::from_shape_fn((3, 5, 2), |(b, t, i)| F::of(((b * 5 + t * 2 + i) as f64 * 0.41).sin()))
}

fn bits<F: Float>(a: &ArrayD<F>) -> Vec<u64> {
    a.iter().map(|v| v.to_f64_exact().to_bits()).collect()
}

fn params<F: Float>(m: &Sequential<F>) -> Vec<(String, Vec<u64>)> {
    let mut v = Vec::new();
    m.visit_params(&mut |p| v.push((p.name.to_string(), bits(&p.value.to_owned()))));
    v
}

fn round_trip<F: Float>() {
    let r = registry::<F>();
    let mut m = model::<F>(4);
    let (x, y) = (input::<F>(), ndarray::Array2::from_elem((3, 1), F::of(0.5)));
    let mut sgd = Sgd::new(F::of(0.1));
    for _ in 0..2 {
        m.train_step(&x, &y, &Mse, &mut sgd).expect("train");
    }
    let bytes = r.to_vec(&m).expect("to_vec");
    let mut back = r.from_slice(&bytes).expect("from_slice");
    assert_eq!(back.summary(), m.summary());
    assert_eq!(params(&back), params(&m), "{} weights bit for bit", F::DTYPE);
    let (a, b) = (m.predict(&x).expect("predict"), back.predict(&x).expect("predict"));
    assert_eq!(bits(&a), bits(&b), "{} predictions bit for bit", F::DTYPE);
    assert_eq!(r.to_vec(&back).expect("to_vec"), bytes, "save → load → save is a fixed point");
    // The options came back: the cell's under "cell", the loop's beside it.
    let layer = back.layer_as::<Recurrent<F, DiagCell>>(0).expect("a DiagRNN layer");
    assert_eq!(layer.cell(), &DiagCell { activation: Activation::Relu });
    assert_eq!(layer.recurrent_dropout(), 0.25);
}

#[test]
fn a_cell_of_our_own_round_trips_bit_for_bit_alone_and_as_a_bidirectional_half() {
    round_trip::<f32>();
    round_trip::<f64>();
}

#[test]
fn the_file_names_the_cell_kind_and_its_configuration() {
    let r = registry::<f64>();
    let v: Value = serde_json::from_slice(&r.to_vec(&model::<f64>(1)).expect("to_vec")).expect("json");
    let first = &v["layers"][0];
    assert_eq!(first["kind"], "DiagRNN");
    assert_eq!(first["name"], "diag_rnn");
    assert_eq!(
        first["config"],
        json!({"input_size": 2, "units": 4, "cell": {"activation": "relu"}, "return_sequences": true,
               "go_backwards": false, "recurrent_dropout": 0.25})
    );
    let names: Vec<&str> =
        first["weights"].as_array().expect("weights").iter().map(|w| w["name"].as_str().unwrap_or("")).collect();
    assert_eq!(names, ["kernel", "bias", "diagonal"]);
    assert_eq!(v["layers"][1]["config"]["forward"]["kind"], "DiagRNN");
    assert_eq!(v["layers"][1]["config"]["backward"]["kind"], "DiagRNN");
}

#[test]
fn the_built_in_functions_refuse_a_kind_they_do_not_know_on_save_and_on_load() {
    let m = model::<f64>(2);
    match json::to_vec(&m).unwrap_err() {
        Error::InvalidConfig { what, expected, got } => {
            assert_eq!(what, "layer 0 (diag_rnn, DiagRNN) for a model file");
            assert!(expected.contains("\"LSTM\""), "{expected}");
            assert_eq!(got, "\"DiagRNN\"");
        }
        other => panic!("{other:?}"),
    }
    let bytes = registry::<f64>().to_vec(&m).expect("to_vec");
    match json::from_slice::<f64>(&bytes).unwrap_err() {
        Error::Format { what, expected, got } => {
            assert_eq!(what, "model file layer 0 (diag_rnn) kind");
            assert!(expected.contains("\"GRU\"") && !expected.contains("DiagRNN"), "{expected}");
            assert_eq!(got, "\"DiagRNN\"");
        }
        other => panic!("{other:?}"),
    }
    // A registry that knows no kind refuses even the crate's own.
    let mut plain = Sequential::<f64>::new(&[2]).expect("model");
    plain.add(DenseConfig::new(2, 1).init(&mut StdRng::seed_from_u64(0)).expect("dense")).expect("add");
    let empty = Registry::<f64>::empty();
    assert!(empty.kinds().is_empty());
    assert!(matches!(empty.to_vec(&plain), Err(Error::InvalidConfig { .. })));
    let bytes = json::to_vec(&plain).expect("to_vec");
    let [what, _, got] = format_err(empty.from_slice(&bytes).unwrap_err());
    assert_eq!((what.as_str(), got.as_str()), ("model file layer 0 (dense) kind", "\"Dense\""));
}

#[test]
fn a_bidirectional_half_of_an_unregistered_cell_is_named_on_save_and_load() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut m = Sequential::<f64>::new(&[4, 2]).expect("model");
    let half = RecurrentConfig::of(DiagCell::default(), 2, 3).init::<f64, _>(&mut rng).expect("half");
    m.add(Bidirectional::new(half, MergeMode::Sum, &mut rng).expect("bi")).expect("add");
    match json::to_vec(&m).unwrap_err() {
        Error::Format { what, got, .. } => {
            assert_eq!(what, "layer 0 (bidirectional, Bidirectional) forward half kind");
            assert_eq!(got, "\"DiagRNN\"");
        }
        other => panic!("{other:?}"),
    }
    let bytes = registry::<f64>().to_vec(&m).expect("to_vec");
    let [what, expected, got] = format_err(json::from_slice::<f64>(&bytes).unwrap_err());
    assert_eq!(what, "model file layer 0 (bidirectional, Bidirectional) forward half kind");
    assert!(expected.starts_with("a recurrent layer kind, one of [\"SimpleRNN\", \"LSTM\", \"GRU\"]"), "{expected}");
    assert_eq!(got, "\"DiagRNN\"");
}

#[test]
fn a_kind_registers_once() {
    let mut r = Registry::<f64>::new();
    r.register_cell::<DiagCell>().expect("first");
    for e in [r.register_cell::<DiagCell>().unwrap_err(), r.register_cell::<LstmCell>().unwrap_err()] {
        match e {
            Error::InvalidConfig { what, got, .. } => {
                assert_eq!(what, "registered layer kind");
                assert!(got.ends_with("which is registered already"), "{got}");
            }
            other => panic!("{other:?}"),
        }
    }
    let e = r.register::<Scale>().and_then(|r| r.register::<Scale>().map(|_| ())).unwrap_err();
    assert!(e.to_string().contains("\"Scale\", which is registered already"), "{e}");
    assert_eq!(r.kinds().len(), json::KINDS.len() + 2);
    assert!(r.is_recurrent("DiagRNN") && !r.is_recurrent("Scale") && r.contains("Scale"));
}

// ───────────────────────────── the same checks as built-in kinds ─────────────────────────────

fn small_file() -> Value {
    let mut rng = StdRng::seed_from_u64(5);
    let mut m = Sequential::<f64>::new(&[4, 2]).expect("model");
    m.add(RecurrentConfig::of(DiagCell::default(), 2, 3).init(&mut rng).expect("diag")).expect("add");
    serde_json::from_slice(&registry::<f64>().to_vec(&m).expect("to_vec")).expect("json")
}

fn err_of(v: &Value) -> Error {
    match registry::<f64>().from_slice(&serde_json::to_vec(v).expect("bytes")) {
        Ok(_) => panic!("expected an error for {v}"),
        Err(e) => e,
    }
}

fn format_err(e: Error) -> [String; 3] {
    match e {
        Error::Format { what, expected, got } => [what, expected, got],
        other => panic!("expected Error::Format, got {other:?}"),
    }
}

#[test]
fn a_registered_cell_file_is_checked_like_a_built_in_one() {
    let r = registry::<f64>();
    r.from_slice(&serde_json::to_vec(&small_file()).expect("bytes")).expect("the file itself loads");
    const CTX: &str = "model file layer 0 (diag_rnn, DiagRNN)";

    // Unknown fields, at the top of the config and in the cell (which denies none itself).
    let mut v = small_file();
    v["layers"][0]["config"]["peepholes"] = json!(true);
    let [what, expected, got] = format_err(err_of(&v));
    assert_eq!(what, format!("{CTX} config"));
    assert_eq!(expected, "only the fields of RecurrentConfig<DiagCell>");
    assert!(got.contains("peepholes"), "{got}");
    let mut v = small_file();
    v["layers"][0]["config"]["cell"]["leak"] = json!(0.1);
    assert!(format_err(err_of(&v))[2].contains("cell.leak"));
    let mut v = small_file();
    v["layers"][0]["config"]["cell"]["activation"] = json!("swish");
    assert!(format_err(err_of(&v))[2].contains("swish"));

    // A weight's shape against the config, before anything is built.
    let mut v = small_file();
    v["layers"][0]["weights"][2]["shape"] = json!([4]);
    v["layers"][0]["weights"][2]["data"] = json!([0.0, 0.0, 0.0, 0.0]);
    match err_of(&v) {
        Error::ShapeMismatch { what, expected, got } => {
            assert_eq!(what, format!("{CTX} weight `diagonal` (against the layer's config)"));
            assert_eq!((expected.as_str(), got.as_str()), ("(3,)", "(4,)"));
        }
        other => panic!("{other:?}"),
    }
    // Sizes claimed by the config but not backed by data: too large, or a shape mismatch,
    // never an allocation.
    let mut v = small_file();
    v["layers"][0]["config"]["units"] = json!(1u64 << 40);
    match err_of(&v) {
        Error::TooLarge { what, .. } => assert!(what.starts_with(CTX), "{what}"),
        other => panic!("{other:?}"),
    }
    let mut v = small_file();
    v["layers"][0]["config"]["units"] = json!(100_000);
    assert!(matches!(err_of(&v), Error::ShapeMismatch { .. }));

    // Missing and non-finite weights.
    let mut v = small_file();
    v["layers"][0]["weights"].as_array_mut().expect("weights").remove(2);
    assert_eq!(format_err(err_of(&v)), [format!("{CTX} weights"), "a weight named `diagonal`".into(), "none".into()]);
    let mut v = small_file();
    v["layers"][0]["weights"][2]["data"][1] = Value::Null;
    match err_of(&v) {
        Error::NonFinite { what, index, .. } => {
            assert_eq!(what, format!("{CTX} weight `diagonal`"));
            assert_eq!(index, "[1]");
        }
        other => panic!("{other:?}"),
    }

    // A configuration the loop refuses.
    let mut v = small_file();
    v["layers"][0]["config"]["units"] = json!(0);
    v["layers"][0]["weights"] = json!([
        {"name": "kernel", "shape": [2, 0], "data": []},
        {"name": "bias", "shape": [0], "data": []},
        {"name": "diagonal", "shape": [0], "data": []},
    ]);
    match err_of(&v) {
        Error::InvalidConfig { what, .. } => assert_eq!(what, format!("{CTX} DiagRNN units")),
        other => panic!("{other:?}"),
    }
    let mut v = small_file();
    v["layers"][0]["config"]["recurrent_dropout"] = json!(1.5);
    assert!(matches!(err_of(&v), Error::InvalidConfig { .. }));
}

#[test]
fn optimiser_state_and_files_on_disk_go_through_the_registry_too() {
    let dir = std::env::temp_dir().join(format!("recurrent-registry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path: PathBuf = dir.join("diag.json");
    let r = registry::<f32>();
    let mut m = model::<f32>(9);
    let (x, y) = (input::<f32>(), ndarray::Array2::from_elem((3, 1), 0.25f32));
    let mut adam = Adam::new(0.01);
    m.train_step(&x, &y, &Mse, &mut adam).expect("train");
    r.save_with_optimizer(&m, &adam, &path).expect("save");
    let (mut back, state) = r.load_with_optimizer::<Adam<f32>>(&path).expect("load");
    let mut state = state.expect("a state");
    assert_eq!(params(&back), params(&m));
    // The same next step from the restored state as from the original (the dropout masks'
    // stream is not in the file: both restart it from one seed).
    m.reseed(7);
    back.reseed(7);
    m.train_step(&x, &y, &Mse, &mut adam).expect("train");
    back.train_step(&x, &y, &Mse, &mut state).expect("train");
    assert_eq!(params(&back), params(&m));
    r.save(&back, &path).expect("save");
    assert_eq!(params(&r.load(&path).expect("load")), params(&back));
    // The crate's own loader cannot read it, and leaves nothing changed.
    assert!(matches!(json::load::<f32>(&path), Err(Error::Format { .. })));
    let _ = std::fs::remove_dir_all(&dir);
}

// ───────────────────────────── a layer type of our own ─────────────────────────────

/// Multiplies each feature by a learned scale.
#[derive(Debug)]
struct Scale {
    name: String,
    scale: ArrayD<f64>,
    grad: ArrayD<f64>,
    input: Option<ArrayD<f64>>,
}

#[derive(Serialize, Deserialize)]
struct ScaleConfig {
    features: usize,
}

impl Params<f64> for Scale {
    fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, f64>)) {
        f(ParamRef { name: "scale", value: self.scale.view(), grad: self.grad.view() });
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, f64>)) {
        f(ParamMut { name: "scale", value: self.scale.view_mut(), grad: self.grad.view_mut() });
    }
}

impl Layer<f64> for Scale {
    fn kind(&self) -> &'static str {
        "Scale"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: String) {
        self.name = name;
    }

    fn input_spec(&self) -> Vec<Option<usize>> {
        vec![None, Some(self.scale.len())]
    }

    fn output_shape(&self, input: &[usize]) -> recurrent::Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    fn forward(&mut self, x: ArrayViewD<'_, f64>, mode: Mode) -> recurrent::Result<ArrayD<f64>> {
        self.input = (mode == Mode::Train).then(|| x.to_owned());
        Ok(&x * &self.scale)
    }

    fn backward(&mut self, dy: ArrayViewD<'_, f64>) -> recurrent::Result<ArrayD<f64>> {
        Ok(&dy * &self.scale)
    }

    fn clear_cache(&mut self) {
        self.input = None;
    }

    fn has_cache(&self) -> bool {
        self.input.is_some()
    }
}

impl Persist<f64> for Scale {
    const KIND: &'static str = "Scale";
    type Config = ScaleConfig;

    fn config(&self, _: &Registry<f64>) -> recurrent::Result<ScaleConfig> {
        Ok(ScaleConfig { features: self.scale.len() })
    }

    fn param_shapes(c: &ScaleConfig, _: &Registry<f64>) -> recurrent::Result<ParamShapes> {
        Ok(vec![("scale".to_string(), vec![c.features])])
    }

    fn from_config(c: &ScaleConfig, _: &Registry<f64>) -> recurrent::Result<Self> {
        let zeros = ArrayD::zeros(vec![c.features]);
        Ok(Scale { name: "scale".into(), scale: zeros.clone(), grad: zeros, input: None })
    }
}

/// Says it is a "Scale" but registers as "Gain": a registration that disagrees with the layer.
#[derive(Debug)]
struct Gain(Scale);

impl Params<f64> for Gain {
    fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, f64>)) {
        self.0.visit_params(f)
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, f64>)) {
        self.0.visit_params_mut(f)
    }
}

impl Layer<f64> for Gain {
    fn kind(&self) -> &'static str {
        "Scale"
    }

    fn name(&self) -> &str {
        self.0.name()
    }

    fn set_name(&mut self, name: String) {
        self.0.set_name(name)
    }

    fn input_spec(&self) -> Vec<Option<usize>> {
        self.0.input_spec()
    }

    fn output_shape(&self, input: &[usize]) -> recurrent::Result<Vec<usize>> {
        self.0.output_shape(input)
    }

    fn forward(&mut self, x: ArrayViewD<'_, f64>, mode: Mode) -> recurrent::Result<ArrayD<f64>> {
        self.0.forward(x, mode)
    }

    fn backward(&mut self, dy: ArrayViewD<'_, f64>) -> recurrent::Result<ArrayD<f64>> {
        self.0.backward(dy)
    }

    fn clear_cache(&mut self) {
        self.0.clear_cache()
    }

    fn has_cache(&self) -> bool {
        self.0.has_cache()
    }
}

impl Persist<f64> for Gain {
    const KIND: &'static str = "Gain";
    type Config = ScaleConfig;

    fn config(&self, r: &Registry<f64>) -> recurrent::Result<ScaleConfig> {
        self.0.config(r)
    }

    fn param_shapes(c: &ScaleConfig, r: &Registry<f64>) -> recurrent::Result<ParamShapes> {
        Scale::param_shapes(c, r)
    }

    fn from_config(c: &ScaleConfig, r: &Registry<f64>) -> recurrent::Result<Self> {
        Scale::from_config(c, r).map(Gain)
    }
}

fn scale_model() -> Sequential<f64> {
    let mut m = Sequential::<f64>::new(&[3, 2]).expect("model");
    let scale = ndarray::arr1(&[0.5, -2.25]).into_dyn();
    m.add(Scale { name: "scale".into(), grad: scale.clone() * 0.0, scale, input: None }).expect("add");
    m.add(LstmConfig::new(2, 2).init(&mut StdRng::seed_from_u64(1)).expect("lstm")).expect("add");
    m
}

#[test]
fn a_layer_type_of_our_own_round_trips_and_is_checked() {
    let mut r = Registry::<f64>::new();
    r.register::<Scale>().expect("register");
    let mut m = scale_model();
    let bytes = r.to_vec(&m).expect("to_vec");
    let mut back = r.from_slice(&bytes).expect("from_slice");
    assert_eq!(back.layer_as::<Scale>(0).map(|s| s.scale.clone()), Some(ndarray::arr1(&[0.5, -2.25]).into_dyn()));
    let x = Array3::from_shape_fn((2, 3, 2), |(b, t, i)| (b + t + i) as f64 * 0.3);
    assert_eq!(bits(&back.predict(&x).expect("predict")), bits(&m.predict(&x).expect("predict")));

    // Its config: unknown fields refused although ScaleConfig does not deny them itself.
    let mut v: Value = serde_json::from_slice(&bytes).expect("json");
    v["layers"][0]["config"]["bias"] = json!(true);
    let e = r.from_slice(&serde_json::to_vec(&v).expect("bytes")).unwrap_err();
    assert_eq!(format_err(e)[0], "model file layer 0 (scale, Scale) config");
    // Its weights: against the shapes its config gives.
    let mut v: Value = serde_json::from_slice(&bytes).expect("json");
    v["layers"][0]["config"]["features"] = json!(3);
    let e = r.from_slice(&serde_json::to_vec(&v).expect("bytes")).unwrap_err();
    assert!(matches!(&e, Error::ShapeMismatch { what, .. } if what.contains("weight `scale`")), "{e}");
}

#[test]
fn a_registration_whose_kind_disagrees_with_the_layer_is_refused() {
    // Registered as "Gain", the layer says "Scale": the file cannot name it consistently.
    let mut r = Registry::<f64>::new();
    r.register::<Gain>().expect("register");
    let mut v: Value = serde_json::from_slice(&{
        let mut with_scale = Registry::<f64>::new();
        with_scale.register::<Scale>().expect("register");
        with_scale.to_vec(&scale_model()).expect("to_vec")
    })
    .expect("json");
    v["layers"][0]["kind"] = json!("Gain");
    match r.from_slice(&serde_json::to_vec(&v).expect("bytes")).unwrap_err() {
        Error::Format { what, got, .. } => {
            assert_eq!(what, "model file layer 0 (scale, Gain) layer built for its kind");
            assert!(got.starts_with("one that says \"Scale\""), "{got}");
        }
        other => panic!("{other:?}"),
    }
    // Saving finds kind "Scale" unregistered.
    let mut m = Sequential::<f64>::new(&[3, 2]).expect("model");
    let scale = ndarray::arr1(&[1.0, 2.0]).into_dyn();
    m.add(Gain(Scale { name: "gain".into(), grad: scale.clone() * 0.0, scale, input: None })).expect("add");
    assert!(matches!(r.to_vec(&m), Err(Error::InvalidConfig { .. })));
    // A kind registered for one type does not describe a layer of another type with that kind.
    let mut r = Registry::<f64>::empty();
    r.register::<Scale>().expect("register");
    match r.to_vec(&m).unwrap_err() {
        Error::InvalidConfig { what, expected, .. } => {
            assert_eq!(what, "layer 0 (gain, Scale) for a model file");
            assert_eq!(expected, "a layer of the type registered for kind \"Scale\"");
        }
        other => panic!("{other:?}"),
    }
}
