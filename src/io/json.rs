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
//!     { "kind": "SimpleRNN",              Layer::kind, one of KINDS
//!       "name": "simple_rnn",             unique within the file
//!       "config": { ... },                the layer's *Config (Bidirectional: merge mode and both halves)
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

use std::any::Any;
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::SeedableRng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::io::context::within;
use crate::io::file;
use crate::layers::{
    Bidirectional, Cell, Dense, DenseConfig, Dropout, DropoutConfig, Embedding, EmbeddingConfig, Gru, GruConfig, Layer,
    Lstm, LstmConfig, Masking, MergeMode, Recurrent, RecurrentLayer, SimpleRnn, SimpleRnnCell, SimpleRnnConfig,
    SpatialDropout1D,
};
use crate::limits;
use crate::model::Sequential;
use crate::shape::{fmt_index, fmt_shape};

/// The `"format"` every model file names.
pub const FORMAT: &str = "recurrent-model";

/// The format version this crate writes and the only one it reads.
pub const VERSION: u64 = 1;

// ───────────────────────────── the layer registry ─────────────────────────────

/// What the registry needs from a layer type: its configuration (which rebuilds it), the
/// shapes of its parameters for a configuration (checked against a file before anything is
/// allocated), and a fresh layer from a configuration (whose weights the file then sets).
///
/// A new layer kind implements this and adds one line to `registry!` below.
pub(crate) trait Persist<F: Float>: Layer<F> + Sized + 'static {
    /// The serde form of the configuration.
    type Config: Serialize + DeserializeOwned;

    /// The configuration that rebuilds this layer (weights aside).
    fn config(&self) -> Result<Self::Config>;

    /// Name and shape of every parameter, in the order of the parameter visitor.
    fn param_shapes(config: &Self::Config) -> Result<Shapes>;

    /// A layer of this configuration with placeholder weights.
    fn from_config(config: &Self::Config) -> Result<Self>;
}

/// Name and shape of each parameter of a layer, in visiting order.
type Shapes = Vec<(String, Vec<usize>)>;

/// Builds a recurrent layer (a Bidirectional's half) from its configuration.
type BuildRecurrent<F> = fn(&Value) -> Result<Box<dyn RecurrentLayer<F>>>;

/// A layer type's persistence functions, without the type.
struct Codec<F: Float> {
    /// The configuration of a layer of this kind (`None` if `any` is not of this type).
    describe: fn(&dyn Any) -> Option<Result<Value>>,
    /// Parameter names and shapes for a configuration.
    shapes: fn(&Value) -> Result<Shapes>,
    /// A fresh layer for a configuration.
    build: fn(&Value) -> Result<Box<dyn Layer<F>>>,
    /// The same as a recurrent layer, for kinds that are one (a Bidirectional's halves).
    build_recurrent: Option<BuildRecurrent<F>>,
}

impl<F: Float> Codec<F> {
    fn of<L: Persist<F>>() -> Self {
        Codec {
            describe: describe_as::<F, L>,
            shapes: shapes_as::<F, L>,
            build: build_as::<F, L>,
            build_recurrent: None,
        }
    }

    fn of_recurrent<L: Persist<F> + RecurrentLayer<F>>() -> Self {
        Codec { build_recurrent: Some(build_recurrent_as::<F, L>), ..Self::of::<L>() }
    }
}

macro_rules! registry {
    ($($kind:literal => $layer:ident . $of:ident),+ $(,)?) => {
        /// The layer kinds a model file may hold, as [`Layer::kind`] spells them.
        pub const KINDS: &[&str] = &[$($kind),+];

        fn codec<F: Float>(kind: &str) -> Option<Codec<F>> {
            match kind {
                $($kind => Some(Codec::$of::<$layer<F>>()),)+
                _ => None,
            }
        }
    };
}

registry! {
    "Dense" => Dense.of,
    "SimpleRNN" => SimpleRnn.of_recurrent,
    "LSTM" => Lstm.of_recurrent,
    "GRU" => Gru.of_recurrent,
    "Bidirectional" => Bidirectional.of,
    "Embedding" => Embedding.of,
    "Masking" => Masking.of,
    "Dropout" => Dropout.of,
    "SpatialDropout1D" => SpatialDropout1D.of,
}

fn json_error(what: &str, e: &serde_json::Error) -> Error {
    Error::format(what, "a value JSON can hold", e)
}

fn describe_as<F: Float, L: Persist<F>>(any: &dyn Any) -> Option<Result<Value>> {
    let layer = any.downcast_ref::<L>()?;
    Some(layer.config().and_then(|c| serde_json::to_value(c).map_err(|e| json_error("layer config", &e))))
}

/// Keys of `given` (recursively) that do not come back when the parsed value is written
/// again: the fields serde skipped as unknown.
fn unknown_fields(given: &Value, known: &Value, path: &str, out: &mut Vec<String>) {
    if let (Value::Object(g), Value::Object(k)) = (given, known) {
        for (key, v) in g {
            let here = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            match k.get(key) {
                Some(kv) => unknown_fields(v, kv, &here, out),
                None => out.push(here),
            }
        }
    }
}

fn parse_as<F: Float, L: Persist<F>>(v: &Value) -> Result<L::Config> {
    let kind = std::any::type_name::<L::Config>().rsplit("::").next().unwrap_or("configuration");
    let config: L::Config =
        serde_json::from_value(v.clone()).map_err(|e| Error::format("config", format!("a valid {kind}"), e))?;
    let again = serde_json::to_value(&config).map_err(|e| json_error("config", &e))?;
    let mut extra = Vec::new();
    unknown_fields(v, &again, "", &mut extra);
    if !extra.is_empty() {
        return Err(Error::format("config", format!("only the fields of {kind}"), format!("unknown {extra:?}")));
    }
    Ok(config)
}

fn shapes_as<F: Float, L: Persist<F>>(v: &Value) -> Result<Shapes> {
    L::param_shapes(&parse_as::<F, L>(v)?)
}

fn build_as<F: Float, L: Persist<F>>(v: &Value) -> Result<Box<dyn Layer<F>>> {
    Ok(Box::new(L::from_config(&parse_as::<F, L>(v)?)?))
}

fn build_recurrent_as<F: Float, L: Persist<F> + RecurrentLayer<F>>(v: &Value) -> Result<Box<dyn RecurrentLayer<F>>> {
    Ok(Box::new(L::from_config(&parse_as::<F, L>(v)?)?))
}

/// The same seed every time: whatever it draws is overwritten by the file's weights.
fn placeholder_rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

/// The cell's parameter list, every shape checked against the size limit.
fn recurrent_shapes<F: Float, C: Cell<F>>(cell: &C, input: usize, units: usize) -> Result<Shapes> {
    crate::limits::mul(format_args!("{} gate columns (G·H)", cell.kind()), cell.gates(), units)?;
    cell.params(input, units)
        .into_iter()
        .map(|s| {
            crate::limits::elements(format_args!("{} {}", cell.kind(), s.name), &s.shape)?;
            Ok((s.name, s.shape))
        })
        .collect()
}

impl<F: Float> Persist<F> for Dense<F> {
    type Config = DenseConfig;

    fn config(&self) -> Result<DenseConfig> {
        Ok(Dense::config(self).clone())
    }

    fn param_shapes(c: &DenseConfig) -> Result<Shapes> {
        Ok(vec![("kernel".to_string(), vec![c.in_features, c.units]), ("bias".to_string(), vec![c.units])])
    }

    fn from_config(c: &DenseConfig) -> Result<Self> {
        c.init(&mut placeholder_rng())
    }
}

impl<F: Float> Persist<F> for Embedding<F> {
    type Config = EmbeddingConfig;

    fn config(&self) -> Result<EmbeddingConfig> {
        Ok(Embedding::config(self).clone())
    }

    fn param_shapes(c: &EmbeddingConfig) -> Result<Shapes> {
        Ok(vec![("embeddings".to_string(), vec![c.vocab_size, c.dim])])
    }

    fn from_config(c: &EmbeddingConfig) -> Result<Self> {
        c.init(&mut placeholder_rng())
    }
}

/// `Masking`'s configuration in a model file: its padding value, as an `f64` (exact for
/// `f32` too).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MaskingConfig {
    mask_value: f64,
}

impl<F: Float> Persist<F> for Masking<F> {
    type Config = MaskingConfig;

    fn config(&self) -> Result<MaskingConfig> {
        Ok(MaskingConfig { mask_value: self.mask_value().to_f64_exact() })
    }

    fn param_shapes(_: &MaskingConfig) -> Result<Shapes> {
        Ok(Vec::new())
    }

    fn from_config(c: &MaskingConfig) -> Result<Self> {
        // Checked as `F`: a value beyond f32's range would become an infinity that masks nothing.
        let value = F::of(c.mask_value);
        if !c.mask_value.is_finite() || !value.is_finite() {
            return Err(Error::format("Masking mask_value", format!("a finite {} number", F::DTYPE), c.mask_value));
        }
        Ok(Masking::new(value))
    }
}

impl<F: Float> Persist<F> for Dropout<F> {
    type Config = DropoutConfig;

    fn config(&self) -> Result<DropoutConfig> {
        Ok(Dropout::config(self))
    }

    fn param_shapes(_: &DropoutConfig) -> Result<Shapes> {
        Ok(Vec::new())
    }

    fn from_config(c: &DropoutConfig) -> Result<Self> {
        c.build()
    }
}

/// `SpatialDropout1D`'s configuration in a model file: its rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpatialDropout1DConfig {
    rate: f64,
}

impl<F: Float> Persist<F> for SpatialDropout1D<F> {
    type Config = SpatialDropout1DConfig;

    fn config(&self) -> Result<SpatialDropout1DConfig> {
        Ok(SpatialDropout1DConfig { rate: self.rate() })
    }

    fn param_shapes(_: &SpatialDropout1DConfig) -> Result<Shapes> {
        Ok(Vec::new())
    }

    fn from_config(c: &SpatialDropout1DConfig) -> Result<Self> {
        SpatialDropout1D::new(c.rate)
    }
}

impl<F: Float> Persist<F> for SimpleRnn<F> {
    type Config = SimpleRnnConfig;

    fn config(&self) -> Result<SimpleRnnConfig> {
        Ok(SimpleRnnConfig::new(self.input_size(), self.units())
            .with_activation(self.cell().activation)
            .with_return_sequences(self.return_sequences())
            .with_go_backwards(self.go_backwards())
            .with_dropout(self.dropout())
            .with_recurrent_dropout(self.recurrent_dropout()))
    }

    fn param_shapes(c: &SimpleRnnConfig) -> Result<Shapes> {
        recurrent_shapes::<F, _>(&SimpleRnnCell { activation: c.activation }, c.input_size, c.units)
    }

    fn from_config(c: &SimpleRnnConfig) -> Result<Self> {
        c.generic().zeroed()
    }
}

impl<F: Float> Persist<F> for Lstm<F> {
    type Config = LstmConfig;

    fn config(&self) -> Result<LstmConfig> {
        Ok(Recurrent::config(self))
    }

    fn param_shapes(c: &LstmConfig) -> Result<Shapes> {
        recurrent_shapes::<F, _>(&c.cell, c.input_size, c.units)
    }

    fn from_config(c: &LstmConfig) -> Result<Self> {
        c.zeroed()
    }
}

impl<F: Float> Persist<F> for Gru<F> {
    type Config = GruConfig;

    fn config(&self) -> Result<GruConfig> {
        Ok(Recurrent::config(self))
    }

    fn param_shapes(c: &GruConfig) -> Result<Shapes> {
        recurrent_shapes::<F, _>(&c.cell, c.input_size, c.units)
    }

    fn from_config(c: &GruConfig) -> Result<Self> {
        c.zeroed()
    }
}

/// One half of a [`Bidirectional`] in a file: a recurrent layer's kind and configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HalfConfig {
    kind: String,
    config: Value,
}

/// A [`Bidirectional`]'s configuration: the merge mode and both halves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BidirectionalConfig {
    merge_mode: MergeMode,
    forward: HalfConfig,
    backward: HalfConfig,
}

fn half_codec<F: Float>(which: &str, kind: &str) -> Result<Codec<F>> {
    codec::<F>(kind).ok_or_else(|| Error::format(format!("{which} half kind"), format!("one of {KINDS:?}"), kind))
}

impl<F: Float> Persist<F> for Bidirectional<F> {
    type Config = BidirectionalConfig;

    fn config(&self) -> Result<BidirectionalConfig> {
        let half = |which: &str, l: &dyn crate::layers::RecurrentLayer<F>| -> Result<HalfConfig> {
            let kind = l.kind();
            let config = (half_codec::<F>(which, kind)?.describe)(l as &dyn Any).unwrap_or_else(|| {
                Err(Error::config(format!("{which} half"), "a layer type of this crate", l.kind()))
            })?;
            Ok(HalfConfig { kind: kind.to_string(), config })
        };
        Ok(BidirectionalConfig {
            merge_mode: self.merge_mode(),
            forward: half("forward", self.forward_layer())?,
            backward: half("backward", self.backward_layer())?,
        })
    }

    fn param_shapes(c: &BidirectionalConfig) -> Result<Shapes> {
        let mut out = Vec::new();
        for (which, half) in [("forward", &c.forward), ("backward", &c.backward)] {
            let shapes = (half_codec::<F>(which, &half.kind)?.shapes)(&half.config).map_err(|e| within(which, e))?;
            out.extend(shapes.into_iter().map(|(n, s)| (format!("{which}.{n}"), s)));
        }
        Ok(out)
    }

    fn from_config(c: &BidirectionalConfig) -> Result<Self> {
        let build = |which: &str, half: &HalfConfig| -> Result<Box<dyn RecurrentLayer<F>>> {
            let build = half_codec::<F>(which, &half.kind)?
                .build_recurrent
                .ok_or_else(|| Error::format(format!("{which} half kind"), "a recurrent layer kind", &half.kind))?;
            build(&half.config).map_err(|e| within(which, e))
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
    config: Value,
    weights: Vec<(String, Vec<usize>, Vec<f64>)>,
}

fn describe_layer<F: Float>(i: usize, layer: &dyn Layer<F>) -> Result<LayerOut> {
    let ctx = layer_ctx(i, layer);
    let unsupported =
        || Error::config(format!("{ctx} for a model file"), format!("a layer of a kind in {KINDS:?}"), layer.kind());
    let codec = codec::<F>(layer.kind()).ok_or_else(unsupported)?;
    let config = (codec.describe)(layer as &dyn Any).ok_or_else(unsupported)?.map_err(|e| within(&ctx, e))?;
    let shapes = (codec.shapes)(&config).map_err(|e| within(&ctx, e))?;
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
    Ok(LayerOut { kind: layer.kind(), name: layer.name().to_string(), config, weights })
}

fn write_model<F: Float, S: Serialize + ?Sized>(
    model: &Sequential<F>,
    optimizer: Option<&S>,
    w: &mut dyn Write,
    path: &Path,
) -> Result<()> {
    // Everything that can be refused is checked before the first byte goes out.
    let layers =
        model.layers().iter().enumerate().map(|(i, l)| describe_layer(i, l.as_ref())).collect::<Result<Vec<_>>>()?;
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
/// outside this crate); [`Error::NonFinite`] naming the layer and weight if a weight is NaN
/// or infinite (such a file could not be loaded); [`Error::Io`] if the file cannot be
/// written or renamed. Nothing is written in the first two cases.
pub fn save<F: Float>(model: &Sequential<F>, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    file::write_atomic(path, |w| write_model::<F, ()>(model, None, w, path))
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
    let path = path.as_ref();
    file::write_atomic(path, |w| write_model(model, Some(optimizer), w, path))
}

/// The bytes [`save`] would write.
///
/// # Errors
/// As [`save`], without the I/O.
pub fn to_vec<F: Float>(model: &Sequential<F>) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    write_model::<F, ()>(model, None, &mut buf, Path::new("memory"))?;
    Ok(buf)
}

/// The bytes [`save_with_optimizer`] would write.
///
/// # Errors
/// As [`save_with_optimizer`], without the I/O.
pub fn to_vec_with_optimizer<F: Float, S: Serialize + ?Sized>(model: &Sequential<F>, optimizer: &S) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    write_model(model, Some(optimizer), &mut buf, Path::new("memory"))?;
    Ok(buf)
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

fn read_layer<F: Float>(i: usize, l: LayerIn) -> Result<Box<dyn Layer<F>>> {
    let ctx = format!("model file layer {i} ({}, {})", l.name, l.kind);
    let codec = codec::<F>(&l.kind).ok_or_else(|| {
        Error::format(
            format!("model file layer {i} ({}) kind", l.name),
            format!("one of {KINDS:?}"),
            format!("{:?}", l.kind),
        )
    })?;
    let shapes = (codec.shapes)(&l.config).map_err(|e| within(&ctx, e))?;
    let weights = checked_weights::<F>(&ctx, &shapes, l.weights)?;
    // Only now, with every size proven by data present in the file, is anything allocated.
    let mut layer = (codec.build)(&l.config).map_err(|e| within(&ctx, e))?;
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
    layer.set_name(l.name);
    Ok(layer)
}

fn read_model<F: Float>(bytes: &[u8]) -> Result<(Sequential<F>, Option<Value>)> {
    let header: Header = serde_json::from_slice(bytes)
        .map_err(|e| Error::format("model file", format!("a JSON object (a {FORMAT} file)"), e))?;
    match &header.format {
        Some(Value::String(f)) if f == FORMAT => {}
        other => {
            let got = other.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "no format (missing or null)".into());
            return Err(Error::format("model file format", format!("\"{FORMAT}\""), got));
        }
    }
    match &header.version {
        Some(v) if v.as_u64() == Some(VERSION) => {}
        other => {
            let got = other.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "no version (missing or null)".into());
            return Err(Error::format("model file version", format!("{VERSION} (the version this crate reads)"), got));
        }
    }
    let file: FileIn = serde_json::from_slice(bytes)
        .map_err(|e| Error::format("model file", format!("the fields of a {FORMAT} file, version {VERSION}"), e))?;
    if file.dtype != F::DTYPE {
        return Err(Error::format(
            "model file dtype",
            format!("{} (the type it is loaded as)", F::DTYPE),
            format!("{:?}", file.dtype),
        ));
    }
    let mut names = HashSet::new();
    if let Some(dup) = file.layers.iter().find(|l| !names.insert(l.name.as_str())) {
        return Err(Error::format("model file layer names", "each name once", format!("`{}` twice", dup.name)));
    }
    let mut model = Sequential::new(&file.input_shape).map_err(|e| within("model file", e))?;
    model.set_name(file.name);
    for (i, l) in file.layers.into_iter().enumerate() {
        let layer = read_layer::<F>(i, l)?;
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
    from_slice(&file::read(path.as_ref())?)
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
    from_slice_with_optimizer(&file::read(path.as_ref())?)
}

/// Reads a model from the bytes of a model file.
///
/// # Errors
/// * [`Error::Format`]: not JSON or cut short (with line and column), another format or a
///   version other than [`VERSION`], a dtype other than `F`'s, an unknown or missing field,
///   a layer kind not in [`KINDS`], a configuration serde cannot read or with unknown
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
    Ok(read_model(bytes)?.0)
}

/// Reads a model and its optimiser state from the bytes of a model file.
///
/// # Errors
/// As [`from_slice`] and [`load_with_optimizer`].
pub fn from_slice_with_optimizer<F: Float, S: Serialize + DeserializeOwned>(
    bytes: &[u8],
) -> Result<(Sequential<F>, Option<S>)> {
    let (model, state) = read_model(bytes)?;
    let state = match state {
        Some(v) => Some(optimizer_state(v)?),
        None => None,
    };
    Ok((model, state))
}

/// `std::any::type_name` without module paths: `Sgd<f64>`.
fn short_type_name<T: ?Sized>() -> String {
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
    let mut extra = Vec::new();
    unknown_fields(&v, &again, "", &mut extra);
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
    fn every_listed_kind_has_a_codec() {
        for kind in KINDS {
            assert!(codec::<f32>(kind).is_some(), "{kind}");
        }
        assert!(codec::<f64>("Embedding?").is_none());
    }
}
