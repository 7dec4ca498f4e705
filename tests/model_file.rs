//! Model files for every model kind (`io::model_file`): an encoder–decoder saved and loaded
//! predicts bit for bit and resumes training exactly with its optimiser's state; a
//! Sequential's file is the one `io::json` writes and reads; damaged or mismatched files are
//! refused with errors that say where.

use std::path::PathBuf;

use ndarray::{array, Array2, ArrayD};
use recurrent::io::{json, model_file};
use recurrent::model::{Decoding, EncoderDecoder, Model, ModelExt};
use recurrent::prelude::*;
use recurrent::Error;
use serde_json::Value;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("recurrent-model-file-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn seq2seq<F: Float>(seed: u64) -> EncoderDecoder<F> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut enc = Sequential::<F>::new(&[5]).unwrap();
    enc.set_name("reader");
    enc.add(EmbeddingConfig::new(9, 4).with_mask_zero(true).init(&mut rng).unwrap()).unwrap();
    enc.add(LstmConfig::new(4, 6).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    enc.add(GruConfig::new(6, 5).with_recurrent_dropout(0.1).init(&mut rng).unwrap()).unwrap();
    let mut dec = Sequential::<F>::new(&[4]).unwrap();
    dec.add(EmbeddingConfig::new(8, 4).init(&mut rng).unwrap()).unwrap();
    dec.add(LstmConfig::new(4, 6).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    dec.add(GruConfig::new(6, 5).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    dec.add(DenseConfig::new(5, 7).with_activation(Activation::Softmax).init(&mut rng).unwrap()).unwrap();
    let mut m = EncoderDecoder::new(enc, dec, Decoding::new(7, 2, 6)).unwrap();
    m.set_name("translator");
    m
}

fn data<F: Float>() -> (Array2<F>, Array2<F>) {
    let x = array![[3.0, 4.0, 5.0, 6.0, 8.0], [8.0, 3.0, 0.0, 0.0, 0.0], [4.0, 4.0, 5.0, 0.0, 0.0]];
    let y = array![[3.0, 5.0, 4.0, 2.0], [4.0, 2.0, 0.0, 0.0], [6.0, 3.0, 3.0, 2.0]];
    (x.mapv(F::of), y.mapv(F::of))
}

fn params<F: Float, P: Params<F> + ?Sized>(m: &P) -> Vec<ArrayD<F>> {
    let mut out = Vec::new();
    m.visit_params(&mut |p| out.push(p.value.to_owned()));
    out
}

fn round_trip<F: Float>() {
    let dir = TempDir::new(F::DTYPE);
    let mut model = seq2seq::<F>(1);
    let (x, y) = data::<F>();
    // Trained a little, so the weights are not the initialiser's.
    model
        .fit(
            &x,
            &y,
            &SparseCategoricalCrossEntropy::new(),
            &mut Adam::<F>::new(F::of(0.05)),
            FitConfig::new(3, 2).quiet(),
        )
        .unwrap();
    let path = dir.path("seq2seq.json");
    model_file::save(&model, &path).unwrap();
    let mut back: EncoderDecoder<F> = model_file::load_as(&path).unwrap();
    assert_eq!(params::<F, _>(&back), params::<F, _>(&model));
    assert_eq!(back.name(), "translator");
    assert_eq!(back.encoder().name(), "reader");
    assert_eq!(back.decoding(), Decoding::new(7, 2, 6));
    assert_eq!(back.param_paths(), model.param_paths());
    let a = Model::predict(&mut model, x.view().into_dyn()).unwrap();
    let b = Model::predict(&mut back, x.view().into_dyn()).unwrap();
    assert_eq!(a, b);
    let ta = model.forward_with_targets(x.view().into_dyn(), y.view().into_dyn(), Mode::Infer).unwrap();
    let tb = back.forward_with_targets(x.view().into_dyn(), y.view().into_dyn(), Mode::Infer).unwrap();
    let bits = |a: &ArrayD<F>| a.iter().map(|v| v.to_f64_exact().to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&ta.pred), bits(&tb.pred), "teacher-forced probabilities bit for bit");
    // The dropout setting travelled with the GRU's configuration.
    let gru = back.encoder().layer_as::<Gru<F>>(2).unwrap();
    assert_eq!(gru.recurrent_dropout(), 0.1);
    // Through the untyped loader too.
    let mut any = model_file::load::<F>(&path).unwrap();
    assert_eq!(any.name(), "translator");
    assert_eq!(any.predict(x.view().into_dyn()).unwrap(), a);
}

#[test]
fn an_encoder_decoder_predicts_bit_for_bit_after_loading_in_f32_and_f64() {
    round_trip::<f32>();
    round_trip::<f64>();
}

#[test]
fn training_resumes_exactly_with_the_optimiser_state() {
    let dir = TempDir::new("resume");
    let (x, y) = data::<f64>();
    let loss = SparseCategoricalCrossEntropy::new();
    let cfg = || FitConfig::new(2, 3).with_shuffle(false).quiet();
    let mut model = seq2seq::<f64>(2);
    let mut adam = Adam::<f64>::new(0.02);
    model.fit(&x, &y, &loss, &mut adam, cfg()).unwrap();
    let path = dir.path("checkpoint.json");
    model_file::save_with_optimizer(&model, &adam, &path).unwrap();
    model.fit(&x, &y, &loss, &mut adam, cfg()).unwrap();

    let (mut back, state) = model_file::load_with_optimizer::<f64, Adam<f64>>(&path).unwrap();
    let mut adam2 = state.expect("a saved state");
    back.fit(&x, &y, &loss, &mut adam2, cfg()).unwrap();
    assert_eq!(params::<f64, _>(back.as_ref()), params::<f64, _>(&model), "the same two more epochs");
    // A state of another kind is refused, naming both.
    match model_file::load_with_optimizer::<f64, Sgd<f64>>(&path) {
        Err(Error::Format { what, expected, got }) => {
            assert!(what.contains("optimizer"), "{what}");
            assert!(expected.contains("Sgd") && got.contains("Adam"), "{expected} / {got}");
        }
        other => panic!("expected a Format error, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_sequential_file_is_the_one_io_json_writes_and_reads() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut seq = Sequential::<f32>::new(&[5, 2]).unwrap();
    seq.add(LstmConfig::new(2, 3).init(&mut rng).unwrap()).unwrap();
    seq.add(DenseConfig::new(3, 1).init(&mut rng).unwrap()).unwrap();
    let bytes = model_file::to_vec(&seq).unwrap();
    assert_eq!(bytes, json::to_vec(&seq).unwrap(), "byte for byte");
    let mut back: Sequential<f32> = model_file::from_slice_as(&bytes).unwrap();
    let x = ndarray::Array3::<f32>::from_elem((2, 5, 2), 0.25);
    assert_eq!(back.predict(&x).unwrap(), seq.predict(&x).unwrap());
    // Asked for the other kind: a Format error that names both.
    match model_file::from_slice_as::<f32, EncoderDecoder<f32>>(&bytes) {
        Err(Error::Format { expected, got, .. }) => {
            assert!(expected.contains("EncoderDecoder") && got.contains("Sequential"), "{expected} / {got}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    let ed = model_file::to_vec(&seq2seq::<f32>(4)).unwrap();
    assert!(matches!(model_file::from_slice_as::<f32, Sequential<f32>>(&ed), Err(Error::Format { .. })));
    // io::json, which knows only Sequential files, refuses an encoder–decoder's file.
    assert!(matches!(json::from_slice::<f32>(&ed), Err(Error::Format { .. })));
}

#[test]
fn the_envelope_is_laid_out_as_documented() {
    let bytes = model_file::to_vec(&seq2seq::<f64>(5)).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let head: Vec<&str> = text.lines().take(9).collect();
    assert_eq!(
        head,
        [
            "{",
            "  \"format\": \"recurrent-model\",",
            "  \"version\": 1,",
            "  \"dtype\": \"float64\",",
            &format!("  \"writer\": \"recurrent {}\",", env!("CARGO_PKG_VERSION")),
            "  \"model\": \"EncoderDecoder\",",
            "  \"name\": \"translator\",",
            "  \"decoding\": {\"start_token\": 7, \"end_token\": 2, \"max_len\": 6},",
            "  \"encoder\": {",
        ]
    );
    assert!(text.ends_with("  \"optimizer\": null\n}\n"), "{}", &text[text.len() - 60..]);
    // One line per weight, name first.
    let weights = text.lines().filter(|l| l.trim_start().starts_with("{\"name\": \"kernel\", \"shape\": [")).count();
    assert_eq!(weights, 2 * 2 + 1, "a kernel line per recurrent and dense layer");
    // The parts hold a Sequential's fields and nothing else.
    let v: Value = serde_json::from_str(&text).unwrap();
    let keys = |part: &str| v[part].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys("encoder"), ["input_shape", "layers", "name"]);
    assert_eq!(keys("decoder"), ["input_shape", "layers", "name"]);
}

fn file() -> Value {
    serde_json::from_slice(&model_file::to_vec(&seq2seq::<f64>(6)).unwrap()).unwrap()
}

fn load_value(v: &Value) -> recurrent::Result<Box<dyn Model<f64>>> {
    model_file::from_slice::<f64>(&serde_json::to_vec(v).unwrap())
}

fn what_of(r: recurrent::Result<Box<dyn Model<f64>>>) -> String {
    match r {
        Ok(_) => panic!("loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn damaged_files_are_refused_saying_where() {
    assert!(load_value(&file()).is_ok(), "the undamaged file loads");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = file();
        f(&mut v);
        what_of(load_value(&v))
    };
    let e = with(&|v| v["model"] = "Transformer".into());
    assert!(e.contains("EncoderDecoder") && e.contains("Transformer"), "{e}");
    let e = with(&|v| v["dtype"] = "float32".into());
    assert!(e.contains("dtype"), "{e}");
    let e = with(&|v| v["version"] = 2.into());
    assert!(e.contains("version"), "{e}");
    let e = with(&|v| v["extra"] = 1.into());
    assert!(e.contains("extra"), "{e}");
    let e = with(&|v| v["decoding"]["beam"] = 3.into());
    assert!(e.contains("beam"), "{e}");
    let e = with(&|v| v["encoder"]["optimizer"] = Value::Null);
    assert!(e.contains("encoder") && e.contains("optimizer"), "{e}");
    let e = with(&|v| {
        v["decoder"]["layers"][1]["weights"][0]["shape"] = serde_json::json!([4, 25]);
    });
    assert!(e.starts_with("decoder:") || e.contains("decoder: model file layer 1"), "{e}");
    let e = with(&|v| v["encoder"]["layers"][0]["kind"] = "Conv1D".into());
    assert!(e.contains("encoder") && e.contains("Conv1D"), "{e}");
    let e = with(&|v| v["encoder"]["layers"][2]["weights"][1]["data"][0] = Value::Null);
    assert!(e.contains("encoder") && e.contains("recurrent_kernel"), "{e}");
    // Parts that load on their own but cannot work together: the constructor's checks.
    let e = with(&|v| v["decoding"]["end_token"] = 7.into());
    assert!(e.contains("model file translator end token"), "{e}");
    let e = with(&|v| {
        let layers = v["encoder"]["layers"].as_array_mut().unwrap();
        layers.pop();
    });
    assert!(e.contains("recurrent layers"), "{e}");
    let e = with(&|v| v["decoder"] = Value::from(3));
    assert!(e.contains("decoder"), "{e}");
    assert!(what_of(model_file::from_slice::<f64>(b"{\"model\": \"EncoderDecoder\"")).contains("model file"));
}

#[test]
fn saving_refuses_what_a_file_cannot_hold_and_keeps_the_previous_file() {
    let dir = TempDir::new("refuse");
    let path = dir.path("m.json");
    let mut model = seq2seq::<f64>(7);
    model_file::save(&model, &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    // A non-finite weight in the decoder: refused before a byte is written.
    model.decoder_mut().visit_params_mut(&mut |mut p| {
        if p.name == "bias" {
            p.value[0] = f64::NAN;
        }
    });
    match model_file::save(&model, &path) {
        Err(Error::NonFinite { what, .. }) => assert!(what.starts_with("decoder:"), "{what}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // A model type the format does not know.
    struct Mine(Sequential<f64>);
    impl Params<f64> for Mine {
        fn visit_params(&self, f: &mut dyn FnMut(recurrent::ParamRef<'_, f64>)) {
            self.0.visit_params(f)
        }
        fn visit_params_mut(&mut self, f: &mut dyn FnMut(recurrent::ParamMut<'_, f64>)) {
            self.0.visit_params_mut(f)
        }
    }
    impl Model<f64> for Mine {
        fn name(&self) -> &str {
            "mine"
        }
        fn check_input(&self, x: ndarray::ArrayViewD<'_, f64>) -> recurrent::Result<()> {
            Model::check_input(&self.0, x)
        }
        fn check_targets(
            &self,
            x: ndarray::ArrayViewD<'_, f64>,
            y: ndarray::ArrayViewD<'_, f64>,
        ) -> recurrent::Result<Vec<usize>> {
            self.0.check_targets(x, y)
        }
        fn forward_with_targets(
            &mut self,
            x: ndarray::ArrayViewD<'_, f64>,
            y: ndarray::ArrayViewD<'_, f64>,
            mode: Mode,
        ) -> recurrent::Result<recurrent::ModelOutput<f64>> {
            self.0.forward_with_targets(x, y, mode)
        }
        fn backward(&mut self, g: ndarray::ArrayViewD<'_, f64>) -> recurrent::Result<Option<ArrayD<f64>>> {
            Model::backward(&mut self.0, g)
        }
        fn predict(&mut self, x: ndarray::ArrayViewD<'_, f64>) -> recurrent::Result<ArrayD<f64>> {
            Model::predict(&mut self.0, x)
        }
    }
    let mine = Mine(Sequential::new(&[2]).unwrap());
    match model_file::save(&mine, &path) {
        Err(Error::InvalidConfig { what, .. }) => assert!(what.contains("mine"), "{what}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
}
