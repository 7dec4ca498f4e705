//! Model files for every model kind of this crate: a [`Sequential`] exactly as
//! [`crate::io::json`] writes it, and an [`EncoderDecoder`] as an envelope holding its two
//! stacks in the same form.
//!
//! ```text
//! {
//!   "format": "recurrent-model",          as in io::json
//!   "version": 1,
//!   "dtype": "float32" | "float64",
//!   "writer": "recurrent 0.1.0",
//!   "model": "EncoderDecoder",            the model kind; absent in a Sequential's file
//!   "name": "encoder_decoder",
//!   "decoding": { "start_token": 1, "end_token": 2, "max_len": 12 },
//!   "encoder": { "name": ..., "input_shape": [...], "layers": [...] },    each a Sequential's
//!   "decoder": { "name": ..., "input_shape": [...], "layers": [...] },    fields, as in io::json
//!   "optimizer": null | any JSON
//! }
//! ```
//!
//! A file without `"model"` is a [`Sequential`]'s, read by [`crate::io::json::from_slice`]
//! with all its checks: every file `io::json` wrote loads here unchanged, and a
//! [`Sequential`] saved here is byte for byte what [`crate::io::json::save`] writes. Each
//! stack of an encoder–decoder is read with the same checks (kinds, configurations, weight
//! names, shapes and values), the errors prefixed with `encoder:` or `decoder:`, and the
//! model is rebuilt through [`EncoderDecoder::new`], so a file that joins parts that cannot
//! work together is refused as the constructor refuses it. A loaded model predicts bit for
//! bit what the saved one did.
//!
//! # Example
//! ```
//! use recurrent::io::model_file;
//! use recurrent::model::{Decoding, EncoderDecoder, Model};
//! use recurrent::prelude::*;
//!
//! let mut rng = StdRng::seed_from_u64(1);
//! let mut encoder = Sequential::<f32>::new(&[6])?;
//! encoder.add(EmbeddingConfig::new(10, 4).with_mask_zero(true).init(&mut rng)?)?;
//! encoder.add(GruConfig::new(4, 8).init(&mut rng)?)?;
//! let mut decoder = Sequential::<f32>::new(&[6])?;
//! decoder.add(EmbeddingConfig::new(10, 4).init(&mut rng)?)?;
//! decoder.add(GruConfig::new(4, 8).with_return_sequences(true).init(&mut rng)?)?;
//! decoder.add(DenseConfig::new(8, 10).with_activation(Activation::Softmax).init(&mut rng)?)?;
//! let mut model = EncoderDecoder::new(encoder, decoder, Decoding::new(1, 2, 6))?;
//!
//! let bytes = model_file::to_vec(&model)?;
//! let mut back: EncoderDecoder<f32> = model_file::from_slice_as(&bytes)?;
//! let x = ndarray::array![[3.0f32, 4.0, 5.0, 0.0, 0.0, 0.0]];
//! assert_eq!(back.decode(&x)?, model.decode(&x)?);
//! assert_eq!(back.predict(x.view().into_dyn())?, model.predict(x.view().into_dyn())?);
//! # Ok::<(), recurrent::Error>(())
//! ```

use std::io::Write;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::io::context::within;
use crate::io::file;
use crate::io::json::{self, FORMAT, VERSION};
use crate::model::{Decoding, EncoderDecoder, Model, Sequential};

/// The model kinds a file's `"model"` field may name (a [`Sequential`]'s file has none).
pub const MODEL_KINDS: &[&str] = &["EncoderDecoder"];

/// The fields of a [`Sequential`] inside an envelope.
const PART_FIELDS: &[&str] = &["name", "input_shape", "layers"];

fn json_error(what: &str, e: &serde_json::Error) -> Error {
    Error::format(what, "a value JSON can hold", e)
}

/// A stack's fields as a [`Sequential`] file has them (name, input shape, layers).
fn part_value<F: Float>(which: &str, model: &Sequential<F>) -> Result<Value> {
    let bytes = json::to_vec(model).map_err(|e| within(&format!("{which}:"), e))?;
    let mut v: Value = serde_json::from_slice(&bytes).map_err(|e| json_error(which, &e))?;
    let mut out = Map::new();
    for key in PART_FIELDS {
        if let Some(field) = v.get_mut(*key) {
            out.insert((*key).to_string(), field.take());
        }
    }
    Ok(Value::Object(out))
}

/// A stack read back from its fields, with every check of a [`Sequential`] file.
fn part_from_value<F: Float>(which: &str, v: Value) -> Result<Sequential<F>> {
    let Value::Object(mut map) = v else {
        return Err(Error::format(format!("model file {which}"), "an object with a Sequential's fields", v));
    };
    if let Some(extra) = map.keys().find(|k| !PART_FIELDS.contains(&k.as_str())) {
        return Err(Error::format(format!("model file {which}"), format!("only the fields {PART_FIELDS:?}"), extra));
    }
    map.insert("format".into(), Value::from(FORMAT));
    map.insert("version".into(), Value::from(VERSION));
    map.insert("dtype".into(), Value::from(F::DTYPE));
    let bytes = serde_json::to_vec(&Value::Object(map)).map_err(|e| json_error(which, &e))?;
    json::from_slice(&bytes).map_err(|e| within(&format!("{which}:"), e))
}

/// Where a key goes when an object is written: the format's fields in their usual order.
fn rank(key: &str) -> usize {
    const ORDER: &[&str] = &[
        "format",
        "version",
        "dtype",
        "writer",
        "model",
        "kind",
        "name",
        "input_shape",
        "decoding",
        "start_token",
        "end_token",
        "max_len",
        "config",
        "shape",
        "data",
        "encoder",
        "decoder",
        "layers",
        "weights",
        "optimizer",
    ];
    ORDER.iter().position(|k| *k == key).unwrap_or(ORDER.len())
}

/// Whether `v` holds no object and no array of arrays or objects (written on one line).
fn flat(v: &Value) -> bool {
    match v {
        Value::Object(map) => map.values().all(|x| !x.is_object() && flat(x)),
        Value::Array(items) => items.iter().all(|x| !x.is_object() && !x.is_array()),
        _ => true,
    }
}

/// Writes JSON: objects one key per line (known keys first, in the format's order), flat
/// values (a weight's name, shape and data; a configuration of scalars) on one line.
struct Out<'w> {
    w: &'w mut dyn Write,
    path: &'w Path,
}

impl Out<'_> {
    fn raw(&mut self, s: &str) -> Result<()> {
        self.w.write_all(s.as_bytes()).map_err(|e| file::write_error(self.path, &e))
    }

    fn compact(&mut self, v: &Value) -> Result<()> {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_by_key(|k| (rank(k), k.as_str()));
                self.raw("{")?;
                for (k, key) in keys.iter().enumerate() {
                    self.raw(if k == 0 { "" } else { ", " })?;
                    self.scalar(&Value::String((*key).clone()))?;
                    self.raw(": ")?;
                    self.compact(&map[key.as_str()])?;
                }
                self.raw("}")
            }
            other => self.scalar(other),
        }
    }

    fn scalar(&mut self, v: &Value) -> Result<()> {
        serde_json::to_writer(&mut *self.w, v).map_err(|e| match e.io_error_kind() {
            Some(kind) => file::write_error(self.path, &std::io::Error::new(kind, e.to_string())),
            None => json_error("model file", &e),
        })
    }

    fn pretty(&mut self, v: &Value, indent: usize) -> Result<()> {
        if flat(v) && !(v.is_object() && indent == 0) {
            return self.compact(v);
        }
        let pad = " ".repeat(indent + 2);
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_by_key(|k| (rank(k), k.as_str()));
                self.raw("{\n")?;
                for (k, key) in keys.iter().enumerate() {
                    self.raw(&pad)?;
                    self.scalar(&Value::String((*key).clone()))?;
                    self.raw(": ")?;
                    self.pretty(&map[key.as_str()], indent + 2)?;
                    self.raw(if k + 1 < keys.len() { ",\n" } else { "\n" })?;
                }
                self.raw(&" ".repeat(indent))?;
                self.raw("}")
            }
            Value::Array(items) => {
                self.raw("[\n")?;
                for (k, item) in items.iter().enumerate() {
                    self.raw(&pad)?;
                    self.pretty(item, indent + 2)?;
                    self.raw(if k + 1 < items.len() { ",\n" } else { "\n" })?;
                }
                self.raw(&" ".repeat(indent))?;
                self.raw("]")
            }
            other => self.scalar(other),
        }
    }
}

/// The JSON of an encoder–decoder's file, everything checked before a byte is written.
fn encoder_decoder_value<F: Float, S: Serialize + ?Sized>(
    model: &EncoderDecoder<F>,
    optimizer: Option<&S>,
) -> Result<Value> {
    let mut map = Map::new();
    map.insert("format".into(), Value::from(FORMAT));
    map.insert("version".into(), Value::from(VERSION));
    map.insert("dtype".into(), Value::from(F::DTYPE));
    map.insert("writer".into(), Value::from(format!("recurrent {}", env!("CARGO_PKG_VERSION"))));
    map.insert("model".into(), Value::from("EncoderDecoder"));
    map.insert("name".into(), Value::from(model.name()));
    map.insert(
        "decoding".into(),
        serde_json::to_value(model.decoding()).map_err(|e| json_error("model file decoding", &e))?,
    );
    map.insert("encoder".into(), part_value("encoder", model.encoder())?);
    map.insert("decoder".into(), part_value("decoder", model.decoder())?);
    let state = match optimizer {
        Some(s) => serde_json::to_value(s).map_err(|e| json_error("optimizer state", &e))?,
        None => Value::Null,
    };
    map.insert("optimizer".into(), state);
    Ok(Value::Object(map))
}

fn write_model<F: Float, S: Serialize + ?Sized>(
    model: &dyn Model<F>,
    optimizer: Option<&S>,
    w: &mut dyn Write,
    path: &Path,
) -> Result<()> {
    if let Some(seq) = model.downcast_ref::<Sequential<F>>() {
        let bytes = match optimizer {
            Some(s) => json::to_vec_with_optimizer(seq, s)?,
            None => json::to_vec(seq)?,
        };
        return w.write_all(&bytes).map_err(|e| file::write_error(path, &e));
    }
    let Some(ed) = model.downcast_ref::<EncoderDecoder<F>>() else {
        return Err(Error::config(
            format!("model {} for a model file", model.name()),
            "a Sequential or an EncoderDecoder (save the parts of a model of your own with io::json)",
            "another model type",
        ));
    };
    let value = encoder_decoder_value(ed, optimizer)?;
    let mut out = Out { w, path };
    out.pretty(&value, 0)?;
    out.raw("\n")
}

/// Saves `model` to `path`: a [`Sequential`] as [`crate::io::json::save`] does, an
/// [`EncoderDecoder`] in its envelope (see the module docs). Written atomically, as
/// [`crate::io::json::save`].
///
/// # Errors
/// [`Error::InvalidConfig`] for a model of another type, or a layer whose kind a model file
/// cannot hold; [`Error::NonFinite`] for a NaN or infinite weight; [`Error::Io`] if the file
/// cannot be written. The previous file at `path` is left as it was on any error.
pub fn save<F: Float>(model: &dyn Model<F>, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    file::write_atomic(path, |w| write_model::<F, ()>(model, None, w, path))
}

/// As [`save`], with an optimiser's state in the `"optimizer"` field.
///
/// # Errors
/// As [`save`]; [`Error::Format`] if the state cannot be written as JSON.
pub fn save_with_optimizer<F: Float, S: Serialize + ?Sized>(
    model: &dyn Model<F>,
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
pub fn to_vec<F: Float>(model: &dyn Model<F>) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    write_model::<F, ()>(model, None, &mut buf, Path::new("memory"))?;
    Ok(buf)
}

/// The bytes [`save_with_optimizer`] would write.
///
/// # Errors
/// As [`save_with_optimizer`], without the I/O.
pub fn to_vec_with_optimizer<F: Float, S: Serialize + ?Sized>(model: &dyn Model<F>, optimizer: &S) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    write_model(model, Some(optimizer), &mut buf, Path::new("memory"))?;
    Ok(buf)
}

/// The envelope of an encoder–decoder's file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EncoderDecoderIn {
    #[allow(dead_code)]
    format: Value,
    #[allow(dead_code)]
    version: Value,
    dtype: String,
    #[serde(default)]
    #[allow(dead_code)]
    writer: Option<String>,
    #[allow(dead_code)]
    model: String,
    name: String,
    decoding: Decoding,
    encoder: Value,
    decoder: Value,
    #[serde(default)]
    optimizer: Option<Value>,
}

fn read_model<F: Float>(bytes: &[u8]) -> Result<(Box<dyn Model<F>>, Option<Value>)> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::format("model file", format!("a JSON object (a {FORMAT} file)"), e))?;
    let kind = match v.get("model") {
        // A Sequential's file: io::json reads it, with all its checks and messages.
        None => {
            let (model, state) = json::from_slice_with_optimizer::<F, Value>(bytes)?;
            return Ok((Box::new(model), state));
        }
        Some(Value::String(k)) if k == "EncoderDecoder" => "EncoderDecoder",
        Some(other) => {
            return Err(Error::format(
                "model file model kind",
                format!("one of {MODEL_KINDS:?} (a Sequential's file has no \"model\" field)"),
                other,
            ))
        }
    };
    json::check_format_and_version(v.get("format"), v.get("version"))?;
    let file: EncoderDecoderIn = serde_json::from_value(v)
        .map_err(|e| Error::format("model file", format!("the fields of an {kind} file, version {VERSION}"), e))?;
    json::check_dtype::<F>(&file.dtype)?;
    let encoder = part_from_value::<F>("encoder", file.encoder)?;
    let decoder = part_from_value::<F>("decoder", file.decoder)?;
    let model =
        EncoderDecoder::named(file.name, encoder, decoder, file.decoding).map_err(|e| within("model file", e))?;
    Ok((Box::new(model), file.optimizer))
}

/// Loads any model this crate saves (a [`Sequential`] from [`crate::io::json::save`] or
/// [`save`], an [`EncoderDecoder`] from [`save`]) as `F`, which must be the dtype it was saved
/// from. Reach the concrete type with [`load_as`] or
/// [`downcast_mut`](crate::model::Model#method.downcast_mut).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; otherwise as [`from_slice`].
pub fn load<F: Float>(path: impl AsRef<Path>) -> Result<Box<dyn Model<F>>> {
    from_slice(&file::read(path.as_ref())?)
}

/// As [`load`], as the concrete model type `M`.
///
/// # Errors
/// As [`load`]; [`Error::Format`] if the file holds another kind of model.
pub fn load_as<F: Float, M: Model<F>>(path: impl AsRef<Path>) -> Result<M> {
    from_slice_as(&file::read(path.as_ref())?)
}

/// Loads a model and the optimiser state saved with it (`None` if there is none), the state
/// checked as [`crate::io::json::load_with_optimizer`] checks it.
///
/// # Errors
/// As [`load`] and [`crate::io::json::load_with_optimizer`].
pub fn load_with_optimizer<F: Float, S: Serialize + DeserializeOwned>(
    path: impl AsRef<Path>,
) -> Result<(Box<dyn Model<F>>, Option<S>)> {
    from_slice_with_optimizer(&file::read(path.as_ref())?)
}

/// Reads a model from the bytes of a model file.
///
/// # Errors
/// [`Error::Format`] for a file that is not JSON, another format or version, a dtype other
/// than `F`'s, an unknown `"model"` kind, an unknown or missing field; every error of
/// [`crate::io::json::from_slice`] for a [`Sequential`] and for each stack of an
/// encoder–decoder (prefixed `encoder:` or `decoder:`); [`Error::InvalidConfig`] for stacks
/// and decoding settings [`EncoderDecoder::new`] refuses.
pub fn from_slice<F: Float>(bytes: &[u8]) -> Result<Box<dyn Model<F>>> {
    Ok(read_model(bytes)?.0)
}

/// As [`from_slice`], as the concrete model type `M`.
///
/// # Errors
/// As [`from_slice`]; [`Error::Format`] if the bytes hold another kind of model.
pub fn from_slice_as<F: Float, M: Model<F>>(bytes: &[u8]) -> Result<M> {
    let model: Box<dyn std::any::Any> = read_model::<F>(bytes)?.0;
    let kind = |m: &dyn std::any::Any| {
        if m.is::<Sequential<F>>() {
            "a Sequential"
        } else {
            "an EncoderDecoder"
        }
    };
    let found = kind(model.as_ref());
    model.downcast::<M>().map(|m| *m).map_err(|_| {
        Error::format(
            "model file model kind",
            format!("the model type {}", std::any::type_name::<M>().rsplit("::").next().unwrap_or("asked for")),
            found,
        )
    })
}

/// Reads a model and its optimiser state from the bytes of a model file.
///
/// # Errors
/// As [`from_slice`] and [`load_with_optimizer`].
pub fn from_slice_with_optimizer<F: Float, S: Serialize + DeserializeOwned>(
    bytes: &[u8],
) -> Result<(Box<dyn Model<F>>, Option<S>)> {
    let (model, state) = read_model::<F>(bytes)?;
    let state = match state {
        None | Some(Value::Null) => None,
        Some(v) => Some(json::optimizer_state(v)?),
    };
    Ok((model, state))
}
