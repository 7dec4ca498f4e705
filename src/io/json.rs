//! Model files: a whole [`Sequential`] (architecture, weights and, optionally, an
//! optimiser's state) in a versioned JSON format.
//!
//! ```text
//! {
//!   "format": "recurrent-model",          FORMAT
//!   "version": 1,                         VERSION: a reader refuses any other
//!   "dtype": "float32" | "float64",       the F the model was saved from and must be loaded as
//!   "writer": "recurrent 0.1.0",          informative
//!   "name": "sequential",
//!   "input_shape": [5, 1],                per sample, batch axis left out
//!   "layers": [                           in order; each:
//!     { "kind": "SimpleRNN",              Layer::kind, one of KINDS or a kind registered in a Registry
//!       "name": "simple_rnn",             unique within the file
//!       "trainable": false,               only for a frozen layer (Layer::set_trainable); absent: true
//!       "config": { ... },                the layer's *Config (Bidirectional: merge mode and both halves,
//!                                         each half with "trainable": false if frozen on its own)
//!       "weights": [                      in the order of the parameter visitor
//!         { "name": "kernel", "shape": [1, 3], "data": [ ... row-major ... ] }, ... ] } ],
//!   "optimizer": null | any JSON          e.g. an optimiser's serde state: { "kind": "Adam", ... }
//! }
//! ```
//!
//! Numbers are written as the shortest decimal that reads back to the same `f64`, and `f32`
//! weights are widened to `f64` exactly first, so a loaded model holds the very same bits
//! and predicts bit for bit what the saved one did. `docs/interop.md` is the full
//! specification.
//!
//! Loading checks everything before it builds a layer: the format name and version, the
//! dtype, every field (unknown fields are refused, in configs too), each layer's kind and
//! configuration, every weight's name, shape (against the configuration) and length, and
//! that every value is finite. The first problem comes back as an [`Error`] naming the layer
//! and the field, never as a panic and never as a huge allocation.
//!
//! The functions here know the crate's own layer kinds ([`KINDS`]). A layer or cell of your
//! own is saved and loaded the same way, with the same checks, through a [`Registry`] it is
//! registered in: `Registry::new()` plus [`Registry::register_cell`] for a cell,
//! [`Registry::register`] for a layer type implementing [`Persist`], then
//! [`Registry::save`] and [`Registry::load`] (see [`crate::io::registry`] for an example).
//! A [`crate::Bidirectional`] finds its halves in the same registry, so one of your own
//! cells can be a half too.
//!
//! # Example
//! ```
//! use recurrent::io::json;
//! use recurrent::prelude::*;
//!
//! let mut rng = StdRng::seed_from_u64(1);
//! let mut model = Sequential::<f32>::new(&[5, 1])?;
//! model.add(LstmConfig::new(1, 4).init(&mut rng)?)?;
//! model.add(DenseConfig::new(4, 1).init(&mut rng)?)?;
//!
//! let dir = std::env::temp_dir().join(format!("recurrent-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).expect("temp dir");
//! let path = dir.join("model.json");
//! json::save(&model, &path)?;
//! let mut back = json::load::<f32>(&path)?;
//!
//! let x = ndarray::Array3::<f32>::from_elem((2, 5, 1), 0.3);
//! assert_eq!(back.predict(&x)?, model.predict(&x)?); // bit for bit
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), recurrent::Error>(())
//! ```

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::SeedableRng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::io::context::within;
use crate::io::file;
use crate::io::registry::{cell_shapes, ParamShapes, Persist, Registry};
use crate::layers::{
    Bidirectional, Dense, DenseConfig, Dropout, DropoutConfig, Embedding, EmbeddingConfig, GruCell, Layer, LstmCell,
    Masking, MergeMode, RecurrentLayer, SimpleRnn, SimpleRnnCell, SimpleRnnConfig, SpatialDropout1D,
};
use crate::limits;
use crate::model::Sequential;
use crate::shape::{fmt_index, fmt_shape};

/// The `"format"` every model file names.
pub const FORMAT: &str = "recurrent-model";

/// The format version this crate writes and the only one it reads.
pub const VERSION: u64 = 1;

// ───────────────────────────── the built-in kinds ─────────────────────────────

/// The layer kinds of this crate, as [`Layer::kind`] spells them: the kinds
/// [`Registry::new`] registers.
pub const KINDS: &[&str] =
    &["Dense", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "Embedding", "Masking", "Dropout", "SpatialDropout1D"];

/// Registers the crate's own kinds, through the same methods a program uses for its own.
/// A new built-in kind is one line here and its name in [`KINDS`].
pub(crate) fn register_built_ins<F: Float>(r: &mut Registry<F>) -> Result<()> {
    r.register::<Dense<F>>()?;
    r.register_recurrent::<SimpleRnn<F>>()?;
    r.register_cell::<LstmCell>()?;
    r.register_cell::<GruCell>()?;
    r.register::<Bidirectional<F>>()?;
    r.register::<Embedding<F>>()?;
    r.register::<Masking<F>>()?;
    r.register::<Dropout<F>>()?;
    r.register::<SpatialDropout1D<F>>()?;
    Ok(())
}

fn json_error(what: &str, e: &serde_json::Error) -> Error {
    Error::format(what, "a value JSON can hold", e)
}

/// The fields of `given` that serde ignored when it read it as `T` (and that would otherwise
/// pass unnoticed, a typo'd option silently left at its default): keys, recursively, that do
/// not come back in `again` (the value read, written again) and that `T` reads whatever they
/// hold. A key that does not come back because `T` does not write it at its default (a
/// `"dropout": 0` written out) is one `T` reads: with a value no field can hold put there, the
/// read fails. At most a few are named.
pub(crate) fn ignored_fields<T: DeserializeOwned>(given: &Value, again: &Value) -> Vec<String> {
    const NAMED: usize = 8;
    let mut candidates = Vec::new();
    missing_keys(given, again, &mut Vec::new(), &mut candidates);
    let mut out = Vec::new();
    // Keys T reads but does not write are few (a type's defaulted fields), so this makes at
    // most that many probes beyond the ones it names, however many keys a file adds.
    for path in candidates {
        if out.len() == NAMED {
            break;
        }
        let mut probe = given.clone();
        if let Some(slot) = value_at_mut(&mut probe, &path) {
            *slot = Value::Object(serde_json::Map::from_iter([("\u{1}recurrent probe".to_string(), Value::Null)]));
        }
        if serde_json::from_value::<T>(probe).is_ok() {
            out.push(path.join("."));
        }
    }
    out
}

/// Paths of the keys of `given` (recursively through objects) that `known` lacks.
fn missing_keys(given: &Value, known: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let (Value::Object(g), Value::Object(k)) = (given, known) {
        for (key, v) in g {
            path.push(key.clone());
            match k.get(key) {
                Some(kv) => missing_keys(v, kv, path, out),
                None => out.push(path.clone()),
            }
            path.pop();
        }
    }
}

fn value_at_mut<'v>(v: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    path.iter().try_fold(v, |v, key| v.get_mut(key))
}

/// Reads a field that is present as `Some`, whatever it holds (`null` included), so that a
/// value of the wrong type is refused by [`trainable_flag`] with a message naming the field
/// rather than by serde with one that does not.
fn present<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A `"trainable"` field: absent is `true` (files written before the flag existed, and
/// trainable layers, which are written without it); otherwise it must be a boolean.
fn trainable_flag(what: &str, v: Option<&Value>) -> Result<bool> {
    match v {
        None => Ok(true),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(Error::format(what, "true or false", other)),
    }
}

/// The same seed every time: whatever it draws is overwritten by the file's weights.
fn placeholder_rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

impl<F: Float> Persist<F> for Dense<F> {
    const KIND: &'static str = "Dense";
    type Config = DenseConfig;

    fn config(&self, _: &Registry<F>) -> Result<DenseConfig> {
        Ok(Dense::config(self).clone())
    }

    fn param_shapes(c: &DenseConfig, _: &Registry<F>) -> Result<ParamShapes> {
        Ok(vec![("kernel".to_string(), vec![c.in_features, c.units]), ("bias".to_string(), vec![c.units])])
    }

    fn from_config(c: &DenseConfig, _: &Registry<F>) -> Result<Self> {
        c.init(&mut placeholder_rng())
    }
}

impl<F: Float> Persist<F> for Embedding<F> {
    const KIND: &'static str = "Embedding";
    type Config = EmbeddingConfig;

    fn config(&self, _: &Registry<F>) -> Result<EmbeddingConfig> {
        Ok(Embedding::config(self).clone())
    }

    fn param_shapes(c: &EmbeddingConfig, _: &Registry<F>) -> Result<ParamShapes> {
        Ok(vec![("embeddings".to_string(), vec![c.vocab_size, c.dim])])
    }

    fn from_config(c: &EmbeddingConfig, _: &Registry<F>) -> Result<Self> {
        c.init(&mut placeholder_rng())
    }
}

/// `Masking`'s configuration in a model file: its padding value, as an `f64` (exact for
/// `f32` too).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingConfig {
    mask_value: f64,
}

impl<F: Float> Persist<F> for Masking<F> {
    const KIND: &'static str = "Masking";
    type Config = MaskingConfig;

    fn config(&self, _: &Registry<F>) -> Result<MaskingConfig> {
        Ok(MaskingConfig { mask_value: self.mask_value().to_f64_exact() })
    }

    fn param_shapes(_: &MaskingConfig, _: &Registry<F>) -> Result<ParamShapes> {
        Ok(Vec::new())
    }

    fn from_config(c: &MaskingConfig, _: &Registry<F>) -> Result<Self> {
        // Checked as `F`: a value beyond f32's range would become an infinity that masks nothing.
        let value = F::of(c.mask_value);
        if !c.mask_value.is_finite() || !value.is_finite() {
            return Err(Error::format("Masking mask_value", format!("a finite {} number", F::DTYPE), c.mask_value));
        }
        Ok(Masking::new(value))
    }
}

impl<F: Float> Persist<F> for Dropout<F> {
    const KIND: &'static str = "Dropout";
    type Config = DropoutConfig;

    fn config(&self, _: &Registry<F>) -> Result<DropoutConfig> {
        Ok(Dropout::config(self))
    }

    fn param_shapes(_: &DropoutConfig, _: &Registry<F>) -> Result<ParamShapes> {
        Ok(Vec::new())
    }

    fn from_config(c: &DropoutConfig, _: &Registry<F>) -> Result<Self> {
        c.build()
    }
}

/// `SpatialDropout1D`'s configuration in a model file: its rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpatialDropout1DConfig {
    rate: f64,
}

impl<F: Float> Persist<F> for SpatialDropout1D<F> {
    const KIND: &'static str = "SpatialDropout1D";
    type Config = SpatialDropout1DConfig;

    fn config(&self, _: &Registry<F>) -> Result<SpatialDropout1DConfig> {
        Ok(SpatialDropout1DConfig { rate: self.rate() })
    }

    fn param_shapes(_: &SpatialDropout1DConfig, _: &Registry<F>) -> Result<ParamShapes> {
        Ok(Vec::new())
    }

    fn from_config(c: &SpatialDropout1DConfig, _: &Registry<F>) -> Result<Self> {
        SpatialDropout1D::new(c.rate)
    }
}

// SimpleRNN keeps the flat configuration its files have had since version 1 (the activation
// beside the sizes, not under "cell"), so it is a `Persist` layer rather than a registered cell.
impl<F: Float> Persist<F> for SimpleRnn<F> {
    const KIND: &'static str = "SimpleRNN";
    type Config = SimpleRnnConfig;

    fn config(&self, _: &Registry<F>) -> Result<SimpleRnnConfig> {
        Ok(SimpleRnnConfig::new(self.input_size(), self.units())
            .with_activation(self.cell().activation)
            .with_return_sequences(self.return_sequences())
            .with_go_backwards(self.go_backwards())
            .with_dropout(self.dropout())
            .with_recurrent_dropout(self.recurrent_dropout()))
    }

    fn param_shapes(c: &SimpleRnnConfig, _: &Registry<F>) -> Result<ParamShapes> {
        cell_shapes::<F, _>(&SimpleRnnCell { activation: c.activation }, c.input_size, c.units)
    }

    fn from_config(c: &SimpleRnnConfig, _: &Registry<F>) -> Result<Self> {
        c.generic().zeroed()
    }
}

/// One half of a [`Bidirectional`] in a file: a recurrent layer's kind and configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HalfConfig {
    kind: String,
    config: Value,
    /// `false` for a half frozen on its own (the wrapper's flag is the layer's, in the
    /// file's envelope); absent otherwise.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    trainable: Option<Value>,
}

/// A [`Bidirectional`]'s configuration in a model file: the merge mode and both halves, each
/// of a recurrent kind of the registry the file is read with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BidirectionalConfig {
    merge_mode: MergeMode,
    forward: HalfConfig,
    backward: HalfConfig,
}

/// Refuses a half whose kind the registry cannot build as a recurrent layer.
fn check_half<F: Float>(r: &Registry<F>, which: &str, kind: &str) -> Result<()> {
    if r.is_recurrent(kind) {
        Ok(())
    } else {
        Err(within(&format!("{which} half"), r.not_recurrent(kind)))
    }
}

impl<F: Float> Persist<F> for Bidirectional<F> {
    const KIND: &'static str = "Bidirectional";
    type Config = BidirectionalConfig;

    fn config(&self, r: &Registry<F>) -> Result<BidirectionalConfig> {
        let half = |which: &str, l: &dyn RecurrentLayer<F>| -> Result<HalfConfig> {
            let kind = l.kind();
            check_half(r, which, kind)?;
            let config = r.describe(l).map_err(|e| within(&format!("{which} half"), e))?;
            let trainable = (!l.trainable()).then_some(Value::Bool(false));
            Ok(HalfConfig { kind: kind.to_string(), config, trainable })
        };
        Ok(BidirectionalConfig {
            merge_mode: self.merge_mode(),
            forward: half("forward", self.forward_layer())?,
            backward: half("backward", self.backward_layer())?,
        })
    }

    fn param_shapes(c: &BidirectionalConfig, r: &Registry<F>) -> Result<ParamShapes> {
        let mut out = Vec::new();
        for (which, half) in [("forward", &c.forward), ("backward", &c.backward)] {
            check_half(r, which, &half.kind)?;
            trainable_flag(&format!("{which} half trainable"), half.trainable.as_ref())?;
            let shapes = r.param_shapes(&half.kind, &half.config).map_err(|e| within(&format!("{which} half"), e))?;
            out.extend(shapes.into_iter().map(|(n, s)| (format!("{which}.{n}"), s)));
        }
        Ok(out)
    }

    fn from_config(c: &BidirectionalConfig, r: &Registry<F>) -> Result<Self> {
        let build = |which: &str, half: &HalfConfig| -> Result<Box<dyn RecurrentLayer<F>>> {
            let trainable = trainable_flag(&format!("{which} half trainable"), half.trainable.as_ref())?;
            let mut layer =
                r.build_recurrent(&half.kind, &half.config).map_err(|e| within(&format!("{which} half"), e))?;
            if !trainable {
                layer.set_trainable(false).map_err(|e| within(&format!("{which} half"), e))?;
            }
            Ok(layer)
        };
        Bidirectional::with_layers(build("forward", &c.forward)?, build("backward", &c.backward)?, c.merge_mode)
    }
}

// ───────────────────────────── writing ─────────────────────────────

fn layer_ctx<F: Float>(i: usize, layer: &dyn Layer<F>) -> String {
    format!("layer {i} ({}, {})", layer.name(), layer.kind())
}

/// Streams text and JSON values into the temporary file.
struct Out<'w> {
    w: &'w mut dyn Write,
    path: &'w Path,
}

impl Out<'_> {
    fn raw(&mut self, s: &str) -> Result<()> {
        self.w.write_all(s.as_bytes()).map_err(|e| file::write_error(self.path, &e))
    }

    fn json<T: Serialize + ?Sized>(&mut self, what: &str, v: &T) -> Result<()> {
        serde_json::to_writer(&mut *self.w, v).map_err(|e| match e.io_error_kind() {
            Some(kind) => file::write_error(self.path, &std::io::Error::new(kind, e.to_string())),
            None => json_error(what, &e),
        })
    }

    /// Objects one key per line; arrays of scalars on one line.
    fn pretty(&mut self, v: &Value, indent: usize) -> Result<()> {
        let pad = " ".repeat(indent + 2);
        match v {
            Value::Object(map) if !map.is_empty() => {
                self.raw("{\n")?;
                for (k, (key, val)) in map.iter().enumerate() {
                    self.raw(&pad)?;
                    self.json("key", key)?;
                    self.raw(": ")?;
                    self.pretty(val, indent + 2)?;
                    self.raw(if k + 1 < map.len() { ",\n" } else { "\n" })?;
                }
                self.raw(&" ".repeat(indent))?;
                self.raw("}")
            }
            Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
                self.raw("[\n")?;
                for (k, item) in items.iter().enumerate() {
                    self.raw(&pad)?;
                    self.pretty(item, indent + 2)?;
                    self.raw(if k + 1 < items.len() { ",\n" } else { "\n" })?;
                }
                self.raw(&" ".repeat(indent))?;
                self.raw("]")
            }
            other => self.json("value", other),
        }
    }
}

/// One layer's file entry, weights last.
struct LayerOut {
    kind: &'static str,
    name: String,
    trainable: bool,
    config: Value,
    weights: Vec<(String, Vec<usize>, Vec<f64>)>,
}

fn describe_layer<F: Float>(registry: &Registry<F>, i: usize, layer: &dyn Layer<F>) -> Result<LayerOut> {
    let ctx = layer_ctx(i, layer);
    let config = registry.describe_at(&ctx, layer)?;
    let shapes = registry.param_shapes(layer.kind(), &config).map_err(|e| within(&ctx, e))?;
    let mut weights = Vec::with_capacity(shapes.len());
    let mut problem = None;
    let mut k = 0;
    layer.visit_params(&mut |p| {
        if problem.is_some() {
            return;
        }
        match shapes.get(k) {
            Some((name, shape)) if p.value.shape() == shape.as_slice() => {
                if let Some((flat, v)) = p.value.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    problem = Some(Error::NonFinite {
                        what: format!("{ctx} weight `{name}`"),
                        index: fmt_index(shape, flat),
                        value: v.to_string(),
                    });
                }
                weights.push((name.clone(), shape.clone(), p.value.iter().map(|v| v.to_f64_exact()).collect()));
            }
            _ => {
                let want = shapes.get(k).map(|(n, s)| format!("`{n}` {}", fmt_shape(s))).unwrap_or("none".into());
                problem = Some(Error::shape(
                    format!("{ctx} parameter {k} (`{}`) against its configuration", p.name),
                    want,
                    fmt_shape(p.value.shape()),
                ));
            }
        }
        k += 1;
    });
    if let Some(e) = problem {
        return Err(e);
    }
    if weights.len() != shapes.len() {
        return Err(Error::shape(
            format!("{ctx} parameter count against its configuration"),
            shapes.len().to_string(),
            weights.len().to_string(),
        ));
    }
    Ok(LayerOut { kind: layer.kind(), name: layer.name().to_string(), trainable: layer.trainable(), config, weights })
}

fn write_model<F: Float, S: Serialize + ?Sized>(
    registry: &Registry<F>,
    model: &Sequential<F>,
    optimizer: Option<&S>,
    w: &mut dyn Write,
    path: &Path,
) -> Result<()> {
    // Everything that can be refused is checked before the first byte goes out.
    let layers = model
        .layers()
        .iter()
        .enumerate()
        .map(|(i, l)| describe_layer(registry, i, l.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    let mut out = Out { w, path };
    out.raw(&format!("{{\n  \"format\": \"{FORMAT}\",\n  \"version\": {VERSION},\n  \"dtype\": \"{}\",\n", F::DTYPE))?;
    out.raw(&format!("  \"writer\": \"recurrent {}\",\n  \"name\": ", env!("CARGO_PKG_VERSION")))?;
    out.json("name", model.name())?;
    out.raw(",\n  \"input_shape\": ")?;
    out.json("input_shape", model.input_shape())?;
    out.raw(",\n  \"layers\": [")?;
    for (i, l) in layers.iter().enumerate() {
        out.raw(if i == 0 { "\n    {\n      \"kind\": " } else { ",\n    {\n      \"kind\": " })?;
        out.json("kind", l.kind)?;
        out.raw(",\n      \"name\": ")?;
        out.json("name", &l.name)?;
        // Written only for a frozen layer, so that a model without one reads in versions of
        // the crate from before the flag (which refuse unknown fields).
        if !l.trainable {
            out.raw(",\n      \"trainable\": false")?;
        }
        out.raw(",\n      \"config\": ")?;
        out.pretty(&l.config, 6)?;
        out.raw(",\n      \"weights\": [")?;
        for (k, (name, shape, data)) in l.weights.iter().enumerate() {
            out.raw(if k == 0 { "\n        {\"name\": " } else { ",\n        {\"name\": " })?;
            out.json("weight name", name)?;
            out.raw(", \"shape\": ")?;
            out.json("shape", shape)?;
            out.raw(", \"data\": ")?;
            out.json("data", data)?;
            out.raw("}")?;
        }
        out.raw(if l.weights.is_empty() { "]\n    }" } else { "\n      ]\n    }" })?;
    }
    out.raw(if layers.is_empty() { "],\n  \"optimizer\": " } else { "\n  ],\n  \"optimizer\": " })?;
    match optimizer {
        Some(s) => out.json("optimizer state", s)?,
        None => out.raw("null")?,
    }
    out.raw("\n}\n")
}

/// Saves `model` to `path` (see the module docs for the format). The file is written
/// atomically: a temporary file in the same folder is filled, synced and renamed over
/// `path`, so on any error the previous file at `path` is left as it was.
///
/// # Errors
/// [`Error::InvalidConfig`] for a layer whose kind is not in [`KINDS`] (a layer type from
/// outside this crate: save it with a [`Registry`] that knows it); [`Error::NonFinite`] naming the layer and weight if a weight is NaN
/// or infinite (such a file could not be loaded); [`Error::Io`] if the file cannot be
/// written or renamed. Nothing is written in the first two cases.
pub fn save<F: Float>(model: &Sequential<F>, path: impl AsRef<Path>) -> Result<()> {
    Registry::new().save(model, path)
}

/// What [`save`] and [`Registry::save`] (and their variants with an optimiser) do.
pub(crate) fn save_with<F: Float, S: Serialize + ?Sized>(
    registry: &Registry<F>,
    model: &Sequential<F>,
    optimizer: Option<&S>,
    path: &Path,
) -> Result<()> {
    file::write_atomic(path, |w| write_model(registry, model, optimizer, w, path))
}

/// What [`to_vec`] and [`Registry::to_vec`] (and their variants with an optimiser) do.
pub(crate) fn to_vec_with<F: Float, S: Serialize + ?Sized>(
    registry: &Registry<F>,
    model: &Sequential<F>,
    optimizer: Option<&S>,
) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    write_model(registry, model, optimizer, &mut buf, Path::new("memory"))?;
    Ok(buf)
}

/// As [`save`], with an optimiser's state (anything serde can write as JSON, for example
/// the optimiser itself or the `serde_json::Value` it gives) in the `"optimizer"` field.
///
/// # Errors
/// As [`save`]; [`Error::Format`] if the state cannot be written as JSON (the previous file
/// is then left intact too).
pub fn save_with_optimizer<F: Float, S: Serialize + ?Sized>(
    model: &Sequential<F>,
    optimizer: &S,
    path: impl AsRef<Path>,
) -> Result<()> {
    Registry::new().save_with_optimizer(model, optimizer, path)
}

/// The bytes [`save`] would write.
///
/// # Errors
/// As [`save`], without the I/O.
pub fn to_vec<F: Float>(model: &Sequential<F>) -> Result<Vec<u8>> {
    Registry::new().to_vec(model)
}

/// The bytes [`save_with_optimizer`] would write.
///
/// # Errors
/// As [`save_with_optimizer`], without the I/O.
pub fn to_vec_with_optimizer<F: Float, S: Serialize + ?Sized>(model: &Sequential<F>, optimizer: &S) -> Result<Vec<u8>> {
    Registry::new().to_vec_with_optimizer(model, optimizer)
}

// ───────────────────────────── reading ─────────────────────────────

/// Just the fields that say which format and version a file is.
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    format: Option<Value>,
    #[serde(default)]
    version: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    #[allow(dead_code)]
    format: String,
    #[allow(dead_code)]
    version: u64,
    dtype: String,
    #[serde(default)]
    #[allow(dead_code)]
    writer: Option<String>,
    name: String,
    input_shape: Vec<usize>,
    layers: Vec<LayerIn>,
    #[serde(default)]
    optimizer: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerIn {
    kind: String,
    name: String,
    #[serde(default, deserialize_with = "present")]
    trainable: Option<Value>,
    config: Value,
    weights: Vec<TensorIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TensorIn {
    name: String,
    shape: Vec<usize>,
    /// `null` is what JSON writers make of NaN and infinities.
    data: Vec<Option<f64>>,
}

/// The file's weights for one layer, checked against the expected names and shapes, as `F`.
fn checked_weights<F: Float>(
    ctx: &str,
    expected: &[(String, Vec<usize>)],
    given: Vec<TensorIn>,
) -> Result<Vec<ArrayD<F>>> {
    let mut by_name: BTreeMap<String, TensorIn> = BTreeMap::new();
    for t in given {
        if by_name.contains_key(&t.name) {
            return Err(Error::format(format!("{ctx} weights"), "each name once", format!("`{}` twice", t.name)));
        }
        by_name.insert(t.name.clone(), t);
    }
    let mut out = Vec::with_capacity(expected.len());
    for (name, shape) in expected {
        let what = format!("{ctx} weight `{name}`");
        let t = by_name
            .remove(name)
            .ok_or_else(|| Error::format(format!("{ctx} weights"), format!("a weight named `{name}`"), "none"))?;
        if &t.shape != shape {
            return Err(Error::shape(
                format!("{what} (against the layer's config)"),
                fmt_shape(shape),
                fmt_shape(&t.shape),
            ));
        }
        let len = limits::elements(&what, shape)?;
        if t.data.len() != len {
            return Err(Error::shape(
                format!("{what} data length"),
                format!("{len} values for shape {}", fmt_shape(shape)),
                format!("{} values", t.data.len()),
            ));
        }
        let mut values = limits::try_with_capacity(len, &what)?;
        for (flat, v) in t.data.iter().enumerate() {
            let x = v.map(F::of);
            match x {
                Some(x) if x.is_finite() => values.push(x),
                _ => {
                    let value = match v {
                        None => "null (NaN or infinity)".to_string(),
                        Some(v) => format!("{v} (out of {}'s range)", F::DTYPE),
                    };
                    return Err(Error::NonFinite { what, index: fmt_index(shape, flat), value });
                }
            }
        }
        out.push(
            ArrayD::from_shape_vec(IxDyn(shape), values)
                .map_err(|e| Error::shape(what, fmt_shape(shape), e.to_string()))?,
        );
    }
    if let Some(extra) = by_name.keys().next() {
        let names: Vec<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
        return Err(Error::format(format!("{ctx} weights"), format!("only {names:?}"), format!("also `{extra}`")));
    }
    Ok(out)
}

fn read_layer<F: Float>(registry: &Registry<F>, i: usize, l: LayerIn) -> Result<Box<dyn Layer<F>>> {
    let ctx = format!("model file layer {i} ({}, {})", l.name, l.kind);
    if !registry.contains(&l.kind) {
        return Err(Error::format(
            format!("model file layer {i} ({}) kind", l.name),
            format!("one of {:?}", registry.kinds()),
            format!("{:?}", l.kind),
        ));
    }
    let trainable = trainable_flag(&format!("{ctx} trainable"), l.trainable.as_ref())?;
    let shapes = registry.param_shapes(&l.kind, &l.config).map_err(|e| within(&ctx, e))?;
    let weights = checked_weights::<F>(&ctx, &shapes, l.weights)?;
    // Only now, with every size proven by data present in the file, is anything allocated.
    let mut layer = registry.build(&l.kind, &l.config).map_err(|e| within(&ctx, e))?;
    let mut problem = None;
    let mut k = 0;
    layer.visit_params_mut(&mut |mut p| {
        match weights.get(k) {
            Some(w) if w.shape() == p.value.shape() => p.value.assign(w),
            _ => {
                problem.get_or_insert_with(|| {
                    Error::shape(
                        format!("{ctx} parameter {k} (`{}`)", p.name),
                        "as its configuration says",
                        fmt_shape(p.value.shape()),
                    )
                });
            }
        }
        k += 1;
    });
    if let Some(e) = problem {
        return Err(e);
    }
    if k != weights.len() {
        return Err(Error::shape(format!("{ctx} parameter count"), weights.len().to_string(), k.to_string()));
    }
    // A layer is built trainable; only a frozen one is told (a Bidirectional told `true`
    // would also unfreeze a half the file froze on its own).
    if !trainable {
        layer.set_trainable(false).map_err(|e| within(&ctx, e))?;
    }
    layer.set_name(l.name);
    Ok(layer)
}

/// The checks every model file (a `Sequential`'s or another model's) starts with: its format
/// name and version (`None` or JSON null: missing).
pub(crate) fn check_format_and_version(format: Option<&Value>, version: Option<&Value>) -> Result<()> {
    let missing = |v: Option<&Value>| matches!(v, None | Some(Value::Null));
    match format {
        Some(Value::String(f)) if f == FORMAT => {}
        other => {
            let got = if missing(other) {
                "no format (missing or null)".into()
            } else {
                other.map(Value::to_string).unwrap_or_default()
            };
            return Err(Error::format("model file format", format!("\"{FORMAT}\""), got));
        }
    }
    match version {
        Some(v) if v.as_u64() == Some(VERSION) => Ok(()),
        other => {
            let got = if missing(other) {
                "no version (missing or null)".into()
            } else {
                other.map(Value::to_string).unwrap_or_default()
            };
            Err(Error::format("model file version", format!("{VERSION} (the version this crate reads)"), got))
        }
    }
}

/// A model file's `dtype` against the type it is loaded as.
pub(crate) fn check_dtype<F: Float>(dtype: &str) -> Result<()> {
    if dtype == F::DTYPE {
        return Ok(());
    }
    Err(Error::format("model file dtype", format!("{} (the type it is loaded as)", F::DTYPE), format!("{dtype:?}")))
}

/// What [`from_slice`] and [`Registry::from_slice`] (and their variants with an optimiser) do.
pub(crate) fn read_model<F: Float>(registry: &Registry<F>, bytes: &[u8]) -> Result<(Sequential<F>, Option<Value>)> {
    let header: Header = serde_json::from_slice(bytes)
        .map_err(|e| Error::format("model file", format!("a JSON object (a {FORMAT} file)"), e))?;
    check_format_and_version(header.format.as_ref(), header.version.as_ref())?;
    let file: FileIn = serde_json::from_slice(bytes)
        .map_err(|e| Error::format("model file", format!("the fields of a {FORMAT} file, version {VERSION}"), e))?;
    check_dtype::<F>(&file.dtype)?;
    let mut names = HashSet::new();
    if let Some(dup) = file.layers.iter().find(|l| !names.insert(l.name.as_str())) {
        return Err(Error::format("model file layer names", "each name once", format!("`{}` twice", dup.name)));
    }
    let mut model = Sequential::new(&file.input_shape).map_err(|e| within("model file", e))?;
    model.set_name(file.name);
    for (i, l) in file.layers.into_iter().enumerate() {
        let layer = read_layer(registry, i, l)?;
        model.add_boxed(layer).map_err(|e| within("model file", e))?;
    }
    Ok((model, file.optimizer))
}

/// Loads a model saved by [`save`] (or [`save_with_optimizer`], ignoring the state) as `F`,
/// which must be the dtype it was saved from.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; otherwise as [`from_slice`].
pub fn load<F: Float>(path: impl AsRef<Path>) -> Result<Sequential<F>> {
    Registry::new().load(path)
}

/// Loads a model and the optimiser state saved with it (`None` if there is none).
///
/// The state must be of the kind asked for: a state saved from [`crate::Adam`] does not load
/// as [`crate::Sgd`] or [`crate::AdamW`]. The optimisers of this crate write their kind
/// (`"kind": "Adam"`); a state written before they did is accepted where its fields say
/// which optimiser it was, which is everywhere except between Adam and AdamW with a non-zero
/// weight decay (the two have the same fields, and weight decay updates differently in each).
///
/// # Errors
/// As [`load`]; [`Error::Format`] if the state is of another kind (the message names both),
/// has fields `S` does not know, or does not deserialise as `S`.
pub fn load_with_optimizer<F: Float, S: Serialize + DeserializeOwned>(
    path: impl AsRef<Path>,
) -> Result<(Sequential<F>, Option<S>)> {
    Registry::new().load_with_optimizer(path)
}

/// Reads a model from the bytes of a model file.
///
/// # Errors
/// * [`Error::Format`]: not JSON or cut short (with line and column), another format or a
///   version other than [`VERSION`], a dtype other than `F`'s, an unknown or missing field,
///   a layer kind not in [`KINDS`] (a kind of your own needs a [`Registry`] that knows
///   it), a configuration serde cannot read or with unknown
///   fields, a missing, duplicated or unexpected weight, duplicated layer names;
/// * [`Error::ShapeMismatch`]: a weight whose shape disagrees with its layer's
///   configuration, data of the wrong length, layers that do not chain;
/// * [`Error::NonFinite`]: a NaN or infinite weight (`null` in JSON) or one beyond `F`'s
///   range;
/// * [`Error::InvalidConfig`]: a configuration the layer refuses (zero units...), an
///   invalid input shape.
///
/// Each message names the layer (index, name, kind) and the field.
pub fn from_slice<F: Float>(bytes: &[u8]) -> Result<Sequential<F>> {
    Registry::new().from_slice(bytes)
}

/// Reads a model and its optimiser state from the bytes of a model file.
///
/// # Errors
/// As [`from_slice`] and [`load_with_optimizer`].
pub fn from_slice_with_optimizer<F: Float, S: Serialize + DeserializeOwned>(
    bytes: &[u8],
) -> Result<(Sequential<F>, Option<S>)> {
    Registry::new().from_slice_with_optimizer(bytes)
}

/// `std::any::type_name` without module paths: `Sgd<f64>`.
pub(crate) fn short_type_name<T: ?Sized>() -> String {
    let full = std::any::type_name::<T>();
    let mut out = String::new();
    let mut word = String::new();
    for c in full.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            out.push_str(word.rsplit("::").next().unwrap_or(""));
            word.clear();
            out.push(c);
        }
    }
    out.trim_end().to_string()
}

/// The optimiser state `v` as `S`, refusing another kind's state (see [`load_with_optimizer`]).
pub(crate) fn optimizer_state<S: Serialize + DeserializeOwned>(v: Value) -> Result<S> {
    const WHAT: &str = "model file optimizer";
    let asked = short_type_name::<S>();
    let file_kind = v.get("kind").and_then(Value::as_str).map(str::to_string);
    let whose = match &file_kind {
        Some(kind) => format!("the state of a {kind}"),
        None => "an optimizer state without a kind".to_string(),
    };
    let state: S = serde_json::from_value(v.clone())
        .map_err(|e| Error::format(WHAT, format!("the state of a {asked}"), format!("{whose}: {e}")))?;
    // serde skips fields it does not know: any that do not come back belong to another type.
    let again = serde_json::to_value(&state).map_err(|e| json_error(WHAT, &e))?;
    let extra = ignored_fields::<S>(&v, &again);
    if !extra.is_empty() {
        return Err(Error::format(
            WHAT,
            format!("only the fields of a {asked}"),
            format!("{whose}, with fields {extra:?}"),
        ));
    }
    if file_kind.is_none() {
        if let Some(kind @ ("Adam" | "AdamW")) = again.get("kind").and_then(Value::as_str) {
            let decay = again.get("weight_decay").and_then(Value::as_f64).unwrap_or(0.0);
            if decay != 0.0 {
                return Err(Error::format(
                    format!("{WHAT} kind"),
                    "a \"kind\" saying whether it is Adam or AdamW (the two have the same fields, and a \
                     weight decay updates differently in each; a state written before kinds were recorded \
                     can be loaded as a serde_json::Value, given its \"kind\" and saved again)",
                    format!("no kind, weight decay {decay}, loaded as {kind}"),
                ));
            }
        }
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_lose_their_paths() {
        assert_eq!(short_type_name::<crate::Sgd<f64>>(), "Sgd<f64>");
        assert_eq!(short_type_name::<Vec<crate::Adam<f32>>>(), "Vec<Adam<f32>>");
        assert_eq!(short_type_name::<(u8, serde_json::Value)>(), "(u8, Value)");
    }

    #[test]
    fn the_built_in_registry_holds_exactly_the_listed_kinds() {
        let mut r = Registry::<f32>::empty();
        register_built_ins(&mut r).expect("the built-in kinds are distinct");
        assert_eq!(r.kinds(), KINDS);
        assert_eq!(Registry::<f64>::new().kinds(), KINDS);
        assert!(!r.contains("Embedding?"));
        let recurrent: Vec<&str> = KINDS.iter().copied().filter(|k| r.is_recurrent(k)).collect();
        assert_eq!(recurrent, ["SimpleRNN", "LSTM", "GRU"]);
    }
}
