//! PyTorch interchange: `nn.RNN`, `nn.LSTM`, `nn.GRU` and `nn.Linear` weights in safetensors
//! files, both ways.
//!
//! PyTorch saves a module's weights as a `state_dict`, a map from names such as
//! `weight_ih_l0` to tensors; `safetensors.torch.save_file(module.state_dict(), path)` writes
//! it to a file this module reads ([`StateDict::load`]). The import functions turn a state
//! dict into this crate's layers; the export functions do the reverse, with PyTorch's key
//! names, shapes and dtype, so `module.load_state_dict(safetensors.torch.load_file(path))`
//! takes the result.
//!
//! ```text
//! PyTorch (per layer k, direction suffix "" or "_reverse")     this crate
//! weight_ih_l{k}  (G·H, I_k)                                   kernel            = weight_ihᵀ  (I_k, G·H)
//! weight_hh_l{k}  (G·H, H)                                     recurrent_kernel  = weight_hhᵀ  (H, G·H)
//! bias_ih_l{k}    (G·H)    ┐ SimpleRNN, LSTM: one bias          bias              = bias_ih + bias_hh
//! bias_hh_l{k}    (G·H)    ┘ GRU: kept apart                    bias = bias_ih,   recurrent_bias = bias_hh
//! gate blocks: LSTM i, f, g, o and GRU r, z, n in both (no reordering)
//! a "_reverse" direction → the backward half of a Bidirectional (go_backwards), merge concat
//! layer k ≥ 1 reads the (B, T, D·H) output of layer k − 1
//! dropout=p between layers (not in the state dict)              TorchRnn::with_dropout(p): a Dropout(p) between layers
//! nn.Linear: weight (out, in), bias (out)                       Dense kernel = weightᵀ, bias
//! ```
//!
//! Export writes the combined bias of a SimpleRNN or LSTM as `bias_ih` and zeros as
//! `bias_hh`: PyTorch only ever uses their sum, so the module computes the same function, but
//! the split of an imported file is not restored. A GRU's two biases go back unchanged.
//!
//! # Example: a PyTorch LSTM, both ways
//! ```
//! use ndarray::Array3;
//! use recurrent::io::torch::{import_lstm, StateDict, TorchRnn};
//! use recurrent::prelude::*;
//!
//! // Two stacked bidirectional LSTM layers, as PyTorch's
//! // nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).
//! let mut rng = StdRng::seed_from_u64(7);
//! let l0 = LstmConfig::new(3, 4).with_return_sequences(true).init::<f32, _>(&mut rng)?;
//! let l1 = LstmConfig::new(8, 4).with_return_sequences(true).init::<f32, _>(&mut rng)?;
//! let layers: Vec<Box<dyn Layer<f32>>> = vec![
//!     Box::new(Bidirectional::new(l0, MergeMode::Concat, &mut rng)?),
//!     Box::new(Bidirectional::new(l1, MergeMode::Concat, &mut rng)?),
//! ];
//! let mut rnn = TorchRnn::from_layers(layers)?;
//! let dict = rnn.export()?;
//! assert_eq!(dict.get("weight_ih_l1_reverse").map(|t| t.shape().to_vec()), Some(vec![16, 8]));
//!
//! // Bytes PyTorch reads with safetensors.torch.load(...), and back.
//! let bytes = dict.to_bytes()?;
//! let mut back = import_lstm(&StateDict::<f32>::from_bytes(&bytes)?)?;
//! let x = Array3::<f32>::ones((2, 5, 3));
//! let (a, b) = (rnn.forward(x.view(), None, None)?, back.forward(x.view(), None, None)?);
//! assert_eq!(a.output, b.output); // (2, 5, 8)
//! assert_eq!(a.h_n.shape(), &[4, 2, 4]); // (num_layers·2, B, H)
//! # Ok::<(), recurrent::Error>(())
//! ```

use crate::layers::RecurrentLayer;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{stack, Array1, Array2, Array3, ArrayD, ArrayView3, ArrayViewD, Axis, Ix1, Ix2, Ix3, IxDyn};
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::SeedableRng;
use safetensors::{Dtype, SafeTensorError, SafeTensors, View};

use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::io::context::within;
use crate::io::file;
use crate::layers::{
    Bidirectional, Dense, DenseConfig, Dropout, Gru, GruCell, Layer, Lstm, LstmCell, MergeMode, Mode, SimpleRnn,
    SimpleRnnCell, State, Weights,
};
use crate::limits;
use crate::model::Sequential;
use crate::shape::{check_finite, fmt_shape};

// ───────────────────────────── the state dict ─────────────────────────────

/// Named tensors as in a PyTorch `state_dict`, held as arrays of `F`.
///
/// Reading converts each tensor to `F`: `F32` and `F64` tensors are accepted (an `F64` file
/// read as `f32` is rounded to nearest, as PyTorch's `load_state_dict` would copy it into a
/// float32 module); any other dtype is an error. Writing stores every tensor in `F`'s dtype
/// (`F32` for `f32`, `F64` for `f64`). Keys keep their insertion order ([`StateDict::keys`]);
/// a file read from disk lists them sorted by name (the file does not keep PyTorch's order).
///
/// # Example
/// ```
/// use ndarray::{arr1, ArrayD, IxDyn};
/// use recurrent::io::torch::StateDict;
/// let mut dict = StateDict::<f64>::new();
/// dict.insert("fc.bias", arr1(&[0.5, -1.0]).into_dyn())?;
/// let back = StateDict::<f64>::from_bytes(&dict.to_bytes()?)?;
/// assert_eq!(back.get("fc.bias"), dict.get("fc.bias"));
/// assert_eq!(back.scoped("fc").keys().collect::<Vec<_>>(), ["bias"]);
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StateDict<F: Float> {
    entries: Vec<(String, ArrayD<F>)>,
    index: BTreeMap<String, usize>,
}

impl<F: Float> Default for StateDict<F> {
    fn default() -> Self {
        StateDict { entries: Vec::new(), index: BTreeMap::new() }
    }
}

/// The safetensors dtype written for `F`.
fn dtype_of<F: Float>() -> Dtype {
    if F::DTYPE == "float32" {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

fn safetensors_error(e: SafeTensorError) -> Error {
    Error::format("safetensors file", "an 8-byte header length, a JSON header and the tensor data it describes", e)
}

/// One tensor in the byte layout safetensors writes.
struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }

    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

impl<F: Float> StateDict<F> {
    /// An empty state dict.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The tensor named `name`.
    pub fn get(&self, name: &str) -> Option<&ArrayD<F>> {
        self.index.get(name).map(|&i| &self.entries[i].1)
    }

    /// The key names, in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// `(name, tensor)` pairs, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ArrayD<F>)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Adds a tensor.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `name` is already taken (the dict is unchanged);
    /// [`Error::OutOfMemory`] if a tensor that is not row-major cannot be copied into one.
    pub fn insert(&mut self, name: impl Into<String>, tensor: ArrayD<F>) -> Result<()> {
        let name = name.into();
        if self.index.contains_key(&name) {
            return Err(Error::config("state_dict key", "a name not yet taken", format!("`{name}` twice")));
        }
        if name == "__metadata__" {
            // safetensors reserves it for the header's metadata: such a file cannot be read.
            return Err(Error::config(
                "state_dict key",
                "a name other than safetensors' reserved `__metadata__`",
                "`__metadata__`",
            ));
        }
        // Row-major as it is (moved), or copied into row-major.
        let tensor = if tensor.is_standard_layout() {
            tensor
        } else {
            limits::try_map(&tensor, |&v| v, format_args!("state_dict tensor `{name}`"))?
        };
        self.index.insert(name.clone(), self.entries.len());
        self.entries.push((name, tensor));
        Ok(())
    }

    /// The tensors under `prefix` (a submodule's name such as `"encoder.rnn"`), with
    /// `prefix.` removed from their names: what `module.encoder.rnn.state_dict()` would
    /// hold. An empty prefix gives a copy of the whole dict.
    pub fn scoped(&self, prefix: &str) -> StateDict<F> {
        let mut out = StateDict::new();
        for (name, t) in &self.entries {
            let rest = if prefix.is_empty() {
                Some(name.as_str())
            } else {
                name.strip_prefix(prefix).and_then(|r| r.strip_prefix('.'))
            };
            if let Some(rest) = rest {
                out.index.insert(rest.to_string(), out.entries.len());
                out.entries.push((rest.to_string(), t.clone()));
            }
        }
        out
    }

    /// Moves every tensor of `other` in under `prefix.` (or as they are for an empty
    /// prefix): how the state dicts of submodules make a model's.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if a resulting name is already taken; the dict is unchanged.
    pub fn extend_with_prefix(&mut self, prefix: &str, other: StateDict<F>) -> Result<()> {
        let name = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
        if let Some(k) = other.keys().map(name).find(|k| self.index.contains_key(k)) {
            return Err(Error::config("state_dict key", "a name not yet taken", format!("`{k}` twice")));
        }
        for (k, t) in other.entries {
            self.insert(name(&k), t)?;
        }
        Ok(())
    }

    /// Reads the tensors of a safetensors file held in memory.
    ///
    /// # Errors
    /// [`Error::Format`] if the bytes are not a valid safetensors file (too short, a header
    /// length beyond the file, a header that is not JSON, offsets that disagree with shapes
    /// and dtypes or do not cover the data) or hold a tensor whose dtype is not `F32` or
    /// `F64`. Nothing is allocated from a size the header claims without the data being
    /// there; [`Error::TooLarge`] or [`Error::OutOfMemory`] if a tensor's values cannot be
    /// held.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes).map_err(safetensors_error)?;
        let mut named = st.tensors();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = StateDict::new();
        for (name, view) in named {
            let data = view.data();
            // The header's shape agrees with the bytes present (safetensors checks that), but
            // an f32 file read as f64 doubles them: the count is held to the limit and the
            // memory reserved fallibly.
            let what = format_args!("safetensors tensor `{name}` {}", fmt_shape(view.shape()));
            let mut values = limits::try_with_capacity(limits::elements(what, view.shape())?, what)?;
            match view.dtype() {
                Dtype::F32 => values.extend(
                    data.chunks_exact(4).map(|c| F::of(f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))),
                ),
                Dtype::F64 => values.extend(
                    data.chunks_exact(8)
                        .map(|c| F::of(f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))),
                ),
                other => {
                    return Err(Error::format(
                        format!("dtype of safetensors tensor `{name}`"),
                        "F32 or F64",
                        format!("{other:?}"),
                    ))
                }
            }
            let tensor = ArrayD::from_shape_vec(IxDyn(view.shape()), values).map_err(|e| {
                Error::format(format!("safetensors tensor `{name}`"), fmt_shape(view.shape()), e.to_string())
            })?;
            out.index.insert(name.clone(), out.entries.len());
            out.entries.push((name, tensor));
        }
        Ok(out)
    }

    /// Reads a safetensors file (`safetensors.torch.save_file(module.state_dict(), path)`).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; otherwise as [`StateDict::from_bytes`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_bytes(&file::read(path.as_ref())?)
    }

    fn raw(&self) -> Result<Vec<(String, Raw)>> {
        let dtype = dtype_of::<F>();
        self.entries
            .iter()
            .map(|(name, t)| {
                let size = if dtype == Dtype::F32 { 4 } else { 8 };
                let what = format_args!("safetensors bytes of `{name}`");
                let mut bytes = limits::try_with_capacity(limits::mul(what, t.len(), size)?, what)?;
                for v in t.iter() {
                    let v = v.to_f64_exact();
                    if dtype == Dtype::F32 {
                        bytes.extend_from_slice(&(v as f32).to_le_bytes());
                    } else {
                        bytes.extend_from_slice(&v.to_le_bytes());
                    }
                }
                Ok((name.clone(), Raw { dtype, shape: t.shape().to_vec(), bytes }))
            })
            .collect()
    }

    /// The dict as the bytes of a safetensors file, every tensor in `F`'s dtype
    /// (PyTorch reads them with `safetensors.torch.load(bytes)`).
    ///
    /// # Errors
    /// [`Error::Format`] if the safetensors writer refuses the dict (a header over its
    /// 100 MB limit); [`Error::OutOfMemory`] if the tensors' bytes cannot be allocated.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let raw = self.raw()?;
        safetensors::serialize(raw.iter().map(|(k, r)| (k.as_str(), r)), None).map_err(safetensors_error)
    }

    /// Writes the dict as a safetensors file, atomically: a temporary file in the same
    /// folder is written and renamed over `path`, so a failure leaves an existing file as
    /// it was.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be written or renamed; as [`StateDict::to_bytes`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        file::write_atomic(path, |w| w.write_all(&bytes).map_err(|e| file::write_error(path, &e)))
    }
}

// ───────────────────────────── recurrent modules ─────────────────────────────

/// Which PyTorch recurrent module (PyTorch's own `mode` names in [`RnnMode::torch_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RnnMode {
    /// `nn.RNN(nonlinearity="tanh")` ↔ [`SimpleRnn`] with [`Activation::Tanh`].
    RnnTanh,
    /// `nn.RNN(nonlinearity="relu")` ↔ [`SimpleRnn`] with [`Activation::Relu`].
    RnnRelu,
    /// `nn.LSTM` ↔ [`Lstm`] (gate order i, f, g, o in both).
    Lstm,
    /// `nn.GRU` ↔ [`Gru`] with `reset_after = true` (gate order r, z, n in both).
    Gru,
}

impl RnnMode {
    /// Gate blocks `G`: 1, 1, 4, 3.
    pub fn gates(self) -> usize {
        match self {
            RnnMode::RnnTanh | RnnMode::RnnRelu => 1,
            RnnMode::Lstm => 4,
            RnnMode::Gru => 3,
        }
    }

    /// PyTorch's name for the mode: `"RNN_TANH"`, `"RNN_RELU"`, `"LSTM"`, `"GRU"`.
    pub fn torch_name(self) -> &'static str {
        match self {
            RnnMode::RnnTanh => "RNN_TANH",
            RnnMode::RnnRelu => "RNN_RELU",
            RnnMode::Lstm => "LSTM",
            RnnMode::Gru => "GRU",
        }
    }

    /// The mode for one of PyTorch's names (as [`RnnMode::torch_name`] gives them).
    pub fn from_torch_name(name: &str) -> Option<RnnMode> {
        [RnnMode::RnnTanh, RnnMode::RnnRelu, RnnMode::Lstm, RnnMode::Gru].into_iter().find(|m| m.torch_name() == name)
    }

    /// The PyTorch module, e.g. `"nn.LSTM"` (for messages).
    pub fn module(self) -> &'static str {
        match self {
            RnnMode::RnnTanh | RnnMode::RnnRelu => "nn.RNN",
            RnnMode::Lstm => "nn.LSTM",
            RnnMode::Gru => "nn.GRU",
        }
    }

    fn has_cell_state(self) -> bool {
        self == RnnMode::Lstm
    }
}

/// The constructor arguments of a PyTorch recurrent module, as far as its weights show
/// them (`batch_first=True` is this crate's layout). `dropout` is not in the weights: see
/// [`TorchRnn::with_dropout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RnnSpec {
    /// Which module.
    pub mode: RnnMode,
    /// `input_size`: features of the first layer's input.
    pub input_size: usize,
    /// `hidden_size` `H`.
    pub hidden_size: usize,
    /// `num_layers`.
    pub num_layers: usize,
    /// `bidirectional`.
    pub bidirectional: bool,
    /// `bias`: whether the state dict holds `bias_ih_l*` and `bias_hh_l*`.
    pub bias: bool,
}

impl RnnSpec {
    /// `D`: 2 when bidirectional, else 1.
    pub fn directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// Input features of layer `layer`: `input_size` for layer 0, `D·H` above it.
    pub fn layer_input_size(&self, layer: usize) -> usize {
        if layer == 0 {
            self.input_size
        } else {
            self.directions() * self.hidden_size
        }
    }

    /// The state dict's keys with their shapes, in PyTorch's order (layer by layer, forward
    /// before `_reverse`; `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`).
    pub fn keys(&self) -> Vec<(String, Vec<usize>)> {
        let gh = self.mode.gates() * self.hidden_size;
        let mut out = Vec::new();
        for k in 0..self.num_layers {
            for suffix in &SUFFIXES[..self.directions()] {
                out.push((format!("weight_ih_l{k}{suffix}"), vec![gh, self.layer_input_size(k)]));
                out.push((format!("weight_hh_l{k}{suffix}"), vec![gh, self.hidden_size]));
                if self.bias {
                    out.push((format!("bias_ih_l{k}{suffix}"), vec![gh]));
                    out.push((format!("bias_hh_l{k}{suffix}"), vec![gh]));
                }
            }
        }
        out
    }
}

const SUFFIXES: [&str; 2] = ["", "_reverse"];
const PARAMS: [&str; 4] = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"];

/// Splits `weight_ih_l3_reverse` into (parameter index, layer, reverse). Only PyTorch's
/// exact spelling matches (no sign, no leading zeros).
fn parse_key(name: &str) -> Option<(usize, usize, bool)> {
    let (p, rest) =
        PARAMS.iter().enumerate().find_map(|(i, p)| Some((i, name.strip_prefix(p)?.strip_prefix("_l")?)))?;
    let (digits, reverse) = match rest.strip_suffix("_reverse") {
        Some(d) => (d, true),
        None => (rest, false),
    };
    let layer: usize = digits.parse().ok()?;
    (layer.to_string() == digits).then_some((p, layer, reverse))
}

/// The output of [`TorchRnn::forward`], as PyTorch returns it with `batch_first=True`.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchRnnOutput<F> {
    /// The last layer's output at every step, `(B, T, D·H)`: forward then backward
    /// direction on the last axis.
    pub output: Array3<F>,
    /// Final hidden states, `(num_layers·D, B, H)`: index `k·D + d` is layer `k`, direction
    /// `d` (the backward direction's is its state after reading `x_1`).
    pub h_n: Array3<F>,
    /// Final cell states of an LSTM, `(num_layers·D, B, H)`; `None` for RNN and GRU.
    pub c_n: Option<Array3<F>>,
}

/// A PyTorch recurrent module (`nn.RNN`, `nn.LSTM`, `nn.GRU` with `batch_first=True`, any
/// `num_layers`, bidirectional or not) as this crate's layers: one layer per PyTorch layer,
/// each a recurrent layer with `return_sequences`, or a [`Bidirectional`] (merge concat)
/// whose backward half reads the sequence backwards.
///
/// [`TorchRnn::forward`] runs it as PyTorch does (output, `h_n`, `c_n` from optional `h0`,
/// `c0`); [`TorchRnn::into_layers`] hands the layers over for a [`Sequential`], where they
/// train like any other.
///
/// PyTorch's `dropout=p` (dropout on the output of every layer but the last, in training
/// only) is a constructor argument, not a weight, so a state dict does not say it:
/// [`TorchRnn::with_dropout`] sets it. [`TorchRnn::into_layers`] then puts a [`Dropout`] of
/// rate `p` between consecutive layers, and [`TorchRnn::from_layers`] reads such a stack
/// back. Inference ([`TorchRnn::forward`], `predict`) is the same with or without it.
///
/// # Shapes
/// input `(B, T, input_size)` → output `(B, T, D·H)`; states `(num_layers·D, B, H)`.
///
/// # Example: `nn.LSTM(2, 4, num_layers=3, dropout=0.25)`, trained here
/// ```
/// use recurrent::io::torch::{import_lstm, TorchRnn};
/// use recurrent::prelude::*;
/// # let mut rng = StdRng::seed_from_u64(0);
/// # let layers: Vec<Box<dyn Layer<f32>>> = vec![
/// #     Box::new(LstmConfig::new(2, 4).init(&mut rng)?),
/// #     Box::new(LstmConfig::new(4, 4).init(&mut rng)?),
/// #     Box::new(LstmConfig::new(4, 4).init(&mut rng)?),
/// # ];
/// # let dict = TorchRnn::from_layers(layers)?.export()?;
/// let lstm = import_lstm::<f32>(&dict)?.with_dropout(0.25)?;
/// let model = lstm.into_sequential(10)?;
/// let kinds: Vec<&str> = model.layers().iter().map(|l| l.kind()).collect();
/// assert_eq!(kinds, ["LSTM", "Dropout", "LSTM", "Dropout", "LSTM"]);
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug)]
pub struct TorchRnn<F: Float> {
    spec: RnnSpec,
    /// One per PyTorch layer (no dropout layers).
    layers: Vec<Box<dyn Layer<F>>>,
    /// PyTorch's `dropout`: the rate between layers in training.
    dropout: f64,
}

/// A recurrent layer seen through its concrete type.
enum Rec<'a, F: Float> {
    Simple(&'a SimpleRnn<F>),
    Lstm(&'a Lstm<F>),
    Gru(&'a Gru<F>),
}

impl<'a, F: Float> Rec<'a, F> {
    fn of(any: &'a dyn std::any::Any) -> Option<Self> {
        if let Some(l) = any.downcast_ref::<SimpleRnn<F>>() {
            Some(Rec::Simple(l))
        } else if let Some(l) = any.downcast_ref::<Lstm<F>>() {
            Some(Rec::Lstm(l))
        } else {
            any.downcast_ref::<Gru<F>>().map(Rec::Gru)
        }
    }

    fn weights(&self) -> Weights<F> {
        match *self {
            Rec::Simple(l) => l.weights(),
            Rec::Lstm(l) => l.weights(),
            Rec::Gru(l) => l.weights(),
        }
    }

    fn sizes(&self) -> (usize, usize, bool) {
        match *self {
            Rec::Simple(l) => (l.input_size(), l.units(), l.go_backwards()),
            Rec::Lstm(l) => (l.input_size(), l.units(), l.go_backwards()),
            Rec::Gru(l) => (l.input_size(), l.units(), l.go_backwards()),
        }
    }

    /// The PyTorch mode this layer computes exactly, or why there is none.
    fn mode(&self, what: &str) -> Result<RnnMode> {
        let refuse = |expected: &str, got: String| {
            Err(Error::config(format!("{what} for PyTorch export"), expected.to_string(), got))
        };
        match *self {
            Rec::Simple(l) => match l.cell().activation {
                Activation::Tanh => Ok(RnnMode::RnnTanh),
                Activation::Relu => Ok(RnnMode::RnnRelu),
                other => refuse("a SimpleRNN with activation tanh or relu (nn.RNN has no other)", other.to_string()),
            },
            Rec::Lstm(l) => {
                let c = l.cell();
                if c.activation == Activation::Tanh && c.recurrent_activation == Activation::Sigmoid {
                    Ok(RnnMode::Lstm)
                } else {
                    refuse(
                        "an LSTM with activation tanh and recurrent_activation sigmoid",
                        format!("activation {}, recurrent_activation {}", c.activation, c.recurrent_activation),
                    )
                }
            }
            Rec::Gru(l) => {
                let c = l.cell();
                if c.reset_after && c.activation == Activation::Tanh && c.recurrent_activation == Activation::Sigmoid {
                    Ok(RnnMode::Gru)
                } else {
                    refuse(
                        "a GRU with reset_after, activation tanh and recurrent_activation sigmoid (nn.GRU's formulation)",
                        format!(
                            "reset_after {}, activation {}, recurrent_activation {}",
                            c.reset_after, c.activation, c.recurrent_activation
                        ),
                    )
                }
            }
        }
    }
}

fn layer_what<F: Float>(k: usize, layer: &dyn Layer<F>) -> String {
    format!("layer {k} ({}, {})", layer.name(), layer.kind())
}

/// One PyTorch layer as seen in this crate: its halves and sizes.
struct Stage<'a, F: Float> {
    halves: Vec<Rec<'a, F>>,
    mode: RnnMode,
    input_size: usize,
    units: usize,
}

fn stage<'a, F: Float>(k: usize, layer: &'a dyn Layer<F>) -> Result<Stage<'a, F>> {
    let what = layer_what(k, layer);
    let not_rnn = || {
        Error::config(
            format!("{what} for PyTorch export"),
            "a SimpleRNN, LSTM or GRU, or a Bidirectional of one with merge mode concat",
            layer.kind(),
        )
    };
    let any: &'a dyn std::any::Any = layer;
    let halves = if let Some(bi) = any.downcast_ref::<Bidirectional<F>>() {
        if bi.merge_mode() != MergeMode::Concat {
            return Err(Error::config(
                format!("{what} merge mode for PyTorch export"),
                "concat (PyTorch concatenates the directions)",
                format!("{:?}", bi.merge_mode()).to_lowercase(),
            ));
        }
        let f = Rec::of(bi.forward_layer() as &dyn std::any::Any).ok_or_else(not_rnn)?;
        let b = Rec::of(bi.backward_layer() as &dyn std::any::Any).ok_or_else(not_rnn)?;
        vec![f, b]
    } else {
        vec![Rec::of(any).ok_or_else(not_rnn)?]
    };
    let mode = halves[0].mode(&what)?;
    let (input_size, units, backwards) = halves[0].sizes();
    if backwards {
        return Err(Error::config(
            format!("{what} go_backwards for PyTorch export"),
            "false for a layer or a Bidirectional's forward half (PyTorch reads forwards)",
            true,
        ));
    }
    if let Some(b) = halves.get(1) {
        let bmode = b.mode(&what)?;
        let (bi, bu, bb) = b.sizes();
        if bmode != mode || bi != input_size || bu != units || !bb {
            return Err(Error::config(
                format!("{what} backward half for PyTorch export"),
                format!("a {} like the forward half, reading backwards", mode.torch_name()),
                format!("{} with input size {bi}, {bu} units, go_backwards {bb}", bmode.torch_name()),
            ));
        }
    }
    Ok(Stage { halves, mode, input_size, units })
}

/// Checks that `layers` form one PyTorch module; returns its spec and the stages.
fn spec_of<'a, F: Float>(layers: &[&'a dyn Layer<F>]) -> Result<(RnnSpec, Vec<Stage<'a, F>>)> {
    let stages = layers.iter().enumerate().map(|(k, l)| stage(k, *l)).collect::<Result<Vec<_>>>()?;
    let first = stages
        .first()
        .ok_or_else(|| Error::config("layers for a PyTorch recurrent module", "at least one layer", "none"))?;
    let spec = RnnSpec {
        mode: first.mode,
        input_size: first.input_size,
        hidden_size: first.units,
        num_layers: stages.len(),
        bidirectional: first.halves.len() == 2,
        bias: true,
    };
    for (k, s) in stages.iter().enumerate().skip(1) {
        let what = layer_what(k, layers[k]);
        let got = (s.mode, s.units, s.halves.len() == 2, s.input_size);
        let want = (spec.mode, spec.hidden_size, spec.bidirectional, spec.layer_input_size(k));
        if got != want {
            return Err(Error::config(
                format!("{what} for a PyTorch recurrent module"),
                format!(
                    "{} with {} units, {}, on {} input features (as layer 0 and its output)",
                    want.0.torch_name(),
                    want.1,
                    if want.2 { "bidirectional" } else { "unidirectional" },
                    want.3
                ),
                format!(
                    "{} with {} units, {}, on {} input features",
                    got.0.torch_name(),
                    got.1,
                    if got.2 { "bidirectional" } else { "unidirectional" },
                    got.3
                ),
            ));
        }
    }
    Ok((spec, stages))
}

/// The state dict of recurrent `layers` that make one PyTorch module: each a SimpleRNN
/// (tanh or relu), LSTM or GRU (`reset_after`, default activations) reading forwards, or a
/// [`Bidirectional`] of one with merge mode concat; layer `k ≥ 1` must take the previous
/// layer's `D·H` features. `return_sequences` is not part of the weights and is ignored.
/// Keys, shapes and order are PyTorch's ([`RnnSpec::keys`]); see the module docs for the
/// biases.
///
/// The layers may have a [`Dropout`] between each two of them, all of one rate and without a
/// noise shape, as [`TorchRnn::into_layers`] gives them (PyTorch's `dropout`); the rate is
/// not part of a state dict: pass it to the PyTorch module's constructor. Layers are then
/// numbered in messages as PyTorch numbers them, dropout layers left out.
///
/// # Errors
/// [`Error::InvalidConfig`] naming the first layer PyTorch cannot represent and why;
/// [`Error::OutOfMemory`] if the transposed copies cannot be allocated.
pub fn export_recurrent<F: Float>(layers: &[&dyn Layer<F>]) -> Result<StateDict<F>> {
    let (rnns, _) = between_layer_dropout(layers)?;
    let (spec, stages) = spec_of(&rnns)?;
    let mut dict = StateDict::new();
    for (k, s) in stages.iter().enumerate() {
        for (half, suffix) in s.halves.iter().zip(SUFFIXES) {
            let w = half.weights();
            let copy = |key: &str, a: ArrayViewD<'_, F>| -> Result<ArrayD<F>> {
                limits::try_map(&a, |&v| v, format_args!("export of `{key}{suffix}`"))
            };
            let key = format!("weight_ih_l{k}{suffix}");
            dict.insert(key.clone(), copy(&key, w.kernel.t().into_dyn())?)?;
            let key = format!("weight_hh_l{k}{suffix}");
            dict.insert(key.clone(), copy(&key, w.recurrent_kernel.t().into_dyn())?)?;
            let key = format!("bias_ih_l{k}{suffix}");
            dict.insert(key.clone(), copy(&key, w.bias.view().into_dyn())?)?;
            let key = format!("bias_hh_l{k}{suffix}");
            let bias_hh = match &w.recurrent_bias {
                Some(b) => copy(&key, b.view().into_dyn())?,
                None => limits::try_zeros(IxDyn(&[w.bias.len()]), format_args!("export of `{key}`"))?,
            };
            dict.insert(key, bias_hh)?;
        }
    }
    debug_assert_eq!(dict.len(), spec.keys().len());
    Ok(dict)
}

/// Splits a stack written as PyTorch's `dropout` is applied, `R (Dropout R)*` or `R R …`
/// without dropout, into the recurrent layers and the rate between them (0 without).
fn between_layer_dropout<'a, F: Float>(layers: &[&'a dyn Layer<F>]) -> Result<(Vec<&'a dyn Layer<F>>, f64)> {
    let as_dropout = |l: &'a dyn Layer<F>| (l as &dyn std::any::Any).downcast_ref::<Dropout<F>>();
    if !layers.iter().any(|l| as_dropout(*l).is_some()) {
        return Ok((layers.to_vec(), 0.0));
    }
    let mut rate = None;
    let mut rnns = Vec::with_capacity(layers.len().div_ceil(2));
    for (j, &layer) in layers.iter().enumerate() {
        let what = format!("layer {j} ({}, {}) of a PyTorch recurrent module with dropout", layer.name(), layer.kind());
        let between = j % 2 == 1;
        match (as_dropout(layer), between) {
            (Some(d), true) => {
                if d.noise_shape().is_some() {
                    return Err(Error::config(
                        what,
                        "a Dropout without noise_shape (PyTorch drops each element)",
                        format!("noise_shape {:?}", d.noise_shape()),
                    ));
                }
                match rate {
                    Some(r) if r != d.rate() => {
                        return Err(Error::config(
                            what,
                            format!("rate {r}, as the first Dropout (PyTorch has one rate for every layer)"),
                            d.rate(),
                        ))
                    }
                    _ => rate = Some(d.rate()),
                }
            }
            (None, true) => return Err(Error::config(
                what,
                "a Dropout between each two recurrent layers (PyTorch applies dropout after every layer but the last)",
                layer.kind(),
            )),
            (Some(_), false) => {
                return Err(Error::config(
                    what,
                    "a recurrent layer first, last and between dropouts (PyTorch applies dropout only between layers)",
                    layer.kind(),
                ))
            }
            (None, false) => rnns.push(layer),
        }
    }
    if let Some(last) = layers.last().filter(|_| layers.len().is_multiple_of(2)) {
        return Err(Error::config(
            format!(
                "layer {} ({}, {}) of a PyTorch recurrent module with dropout",
                layers.len() - 1,
                last.name(),
                last.kind()
            ),
            "a recurrent layer last (PyTorch applies dropout only between layers, not after the last)",
            last.kind(),
        ));
    }
    Ok((rnns, rate.unwrap_or(0.0)))
}

/// The transpose of a 2-D tensor of the expected shape, finite, row-major (PyTorch's
/// `(out, in)` as this crate's `(in, out)`).
fn tensor2_t<F: Float>(dict: &StateDict<F>, key: &str, module: &str, want: [usize; 2]) -> Result<Array2<F>> {
    let t = tensor(dict, key, module, &want)?;
    let t = t
        .into_dimensionality::<Ix2>()
        .map_err(|e| Error::shape(format!("{module} state_dict `{key}`"), fmt_shape(&want), e.to_string()))?;
    limits::try_map(&t.t(), |&v| v, format_args!("{module} transpose of `{key}`"))
}

fn tensor1<F: Float>(dict: &StateDict<F>, key: &str, module: &str, len: usize) -> Result<Array1<F>> {
    let t = tensor(dict, key, module, &[len])?;
    let t = t
        .into_dimensionality::<Ix1>()
        .map_err(|e| Error::shape(format!("{module} state_dict `{key}`"), fmt_shape(&[len]), e.to_string()))?;
    limits::try_map(&t, |&v| v, format_args!("{module} copy of `{key}`"))
}

fn tensor<'a, F: Float>(dict: &'a StateDict<F>, key: &str, module: &str, want: &[usize]) -> Result<ArrayViewD<'a, F>> {
    let t = dict.get(key).ok_or_else(|| missing(key, module))?;
    if t.shape() != want {
        return Err(Error::shape(format!("{module} state_dict `{key}`"), fmt_shape(want), fmt_shape(t.shape())));
    }
    check_finite(format_args!("{module} state_dict `{key}`"), t)?;
    Ok(t.view())
}

fn missing(key: &str, module: &str) -> Error {
    Error::format(format!("{module} state_dict"), format!("a tensor named `{key}`"), "none")
}

/// A 2-D tensor's shape, or a shape error naming it.
fn shape2<F: Float>(dict: &StateDict<F>, key: &str, module: &str) -> Result<(usize, usize)> {
    let t = dict.get(key).ok_or_else(|| missing(key, module))?;
    match t.shape() {
        &[r, c] => Ok((r, c)),
        other => Err(Error::shape(format!("{module} state_dict `{key}`"), "a matrix (rank 2)", fmt_shape(other))),
    }
}

/// A fixed generator for the weights every import overwrites at once.
fn scratch_rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

/// Builds one direction of layer `k` from the dict's tensors, taking its weights as they are
/// (no initialisation drawn and thrown away: a 4096-unit layer would spend seconds on it).
fn import_half<F: Float>(
    dict: &StateDict<F>,
    spec: &RnnSpec,
    k: usize,
    reverse: bool,
) -> Result<Box<dyn RecurrentLayer<F>>> {
    let module = spec.mode.module();
    let suffix = SUFFIXES[usize::from(reverse)];
    let (h, input) = (spec.hidden_size, spec.layer_input_size(k));
    let gh = spec.mode.gates() * h;
    let kernel = tensor2_t(dict, &format!("weight_ih_l{k}{suffix}"), module, [gh, input])?;
    let recurrent_kernel = tensor2_t(dict, &format!("weight_hh_l{k}{suffix}"), module, [gh, h])?;
    let (b_ih, b_hh) = if spec.bias {
        (
            tensor1(dict, &format!("bias_ih_l{k}{suffix}"), module, gh)?,
            tensor1(dict, &format!("bias_hh_l{k}{suffix}"), module, gh)?,
        )
    } else {
        (limits::try_zeros(gh, "bias_ih")?, limits::try_zeros(gh, "bias_hh")?)
    };
    // PyTorch only ever uses b_ih + b_hh, except inside the GRU's candidate.
    let combined = |mut b_ih: Array1<F>, b_hh: Array1<F>| {
        b_ih += &b_hh;
        b_ih
    };
    let layer: Box<dyn RecurrentLayer<F>> = match spec.mode {
        RnnMode::RnnTanh | RnnMode::RnnRelu => {
            let activation = if spec.mode == RnnMode::RnnTanh { Activation::Tanh } else { Activation::Relu };
            let w = Weights { kernel, recurrent_kernel, bias: combined(b_ih, b_hh), recurrent_bias: None };
            named(SimpleRnn::from_weights(SimpleRnnCell { activation }, w, true, reverse)?, k, reverse)
        }
        RnnMode::Lstm => {
            let w = Weights { kernel, recurrent_kernel, bias: combined(b_ih, b_hh), recurrent_bias: None };
            named(Lstm::from_weights(LstmCell::default(), w, true, reverse)?, k, reverse)
        }
        RnnMode::Gru => {
            let w = Weights { kernel, recurrent_kernel, bias: b_ih, recurrent_bias: Some(b_hh) };
            named(Gru::from_weights(GruCell::default(), w, true, reverse)?, k, reverse)
        }
    };
    Ok(layer)
}

/// Boxes a layer named after its PyTorch weights: `lstm_l1`, `lstm_l1_reverse`.
fn named<F: Float, L: RecurrentLayer<F> + 'static>(
    mut layer: L,
    k: usize,
    reverse: bool,
) -> Box<dyn RecurrentLayer<F>> {
    let base = layer.name().to_string();
    layer.set_name(format!("{base}_l{k}{}", SUFFIXES[usize::from(reverse)]));
    Box::new(layer)
}

impl<F: Float> TorchRnn<F> {
    /// Imports the state dict of a PyTorch `mode` module. Its sizes, `num_layers`,
    /// `bidirectional` and `bias` are read from the tensors; every tensor must be there
    /// with PyTorch's shape, and no other key may be (use [`StateDict::scoped`] for a
    /// submodule of a larger model). The `nonlinearity` of an `nn.RNN` is not in its
    /// weights, hence `mode`.
    ///
    /// # Errors
    /// * [`Error::Format`]: an empty dict, a missing key, a key that is not one of the
    ///   module's (including `weight_hr_l*`: LSTM projections are not supported);
    /// * [`Error::ShapeMismatch`] naming the key: a tensor of the wrong rank or shape
    ///   (also what a state dict of another module gives, e.g. a GRU's imported as LSTM);
    /// * [`Error::NonFinite`] naming the key: NaN or infinite weights;
    /// * [`Error::InvalidConfig`]: `hidden_size` or `input_size` 0;
    /// * [`Error::TooLarge`] or [`Error::OutOfMemory`]: weights too large to hold.
    pub fn import(dict: &StateDict<F>, mode: RnnMode) -> Result<Self> {
        let module = mode.module();
        let mut num_layers = 0;
        let (mut bidirectional, mut bias) = (false, false);
        for name in dict.keys() {
            let Some((p, k, reverse)) = parse_key(name) else {
                let expected = if name.starts_with("weight_hr_l") {
                    "no projection weights (proj_size > 0 is not supported)".to_string()
                } else {
                    format!("only {module} keys: weight_ih_l<k>, weight_hh_l<k>, bias_ih_l<k>, bias_hh_l<k>, each optionally with _reverse")
                };
                return Err(Error::format(format!("{module} state_dict key"), expected, format!("`{name}`")));
            };
            num_layers = num_layers.max(k.saturating_add(1));
            bidirectional |= reverse;
            bias |= p >= 2;
        }
        if num_layers == 0 {
            return Err(missing("weight_ih_l0", module));
        }
        let (rows, hidden_size) = shape2(dict, "weight_hh_l0", module)?;
        let (_, input_size) = shape2(dict, "weight_ih_l0", module)?;
        if hidden_size.checked_mul(mode.gates()) != Some(rows) {
            return Err(Error::shape(
                format!(
                    "{module} state_dict `weight_hh_l0` ({} gate blocks of hidden_size = {hidden_size} rows)",
                    mode.gates()
                ),
                format!("({}, {hidden_size})", hidden_size.saturating_mul(mode.gates())),
                format!("({rows}, {hidden_size})"),
            ));
        }
        for (what, v) in [("hidden_size", hidden_size), ("input_size", input_size)] {
            if v == 0 {
                return Err(Error::config(format!("{module} {what}"), "at least 1", 0));
            }
        }
        let spec = RnnSpec { mode, input_size, hidden_size, num_layers, bidirectional, bias };
        // Every expected key present, checked before building anything; together with every
        // key parsing as one of them, that also rules out extra keys.
        for k in 0..num_layers {
            for suffix in &SUFFIXES[..spec.directions()] {
                for p in &PARAMS[..if bias { 4 } else { 2 }] {
                    let key = format!("{p}_l{k}{suffix}");
                    if dict.get(&key).is_none() {
                        return Err(missing(&key, module));
                    }
                }
            }
        }
        let mut layers = Vec::with_capacity(num_layers);
        for k in 0..num_layers {
            let forward = import_half(dict, &spec, k, false)?;
            let layer: Box<dyn Layer<F>> = if bidirectional {
                let backward = import_half(dict, &spec, k, true)?;
                let mut bi = Bidirectional::with_layers(forward, backward, MergeMode::Concat)?;
                bi.set_name(format!("bidirectional_l{k}"));
                Box::new(bi)
            } else {
                forward
            };
            layers.push(layer);
        }
        Ok(TorchRnn { spec, layers, dropout: 0.0 })
    }

    /// The same module with PyTorch's `dropout=p`: in training, a [`Dropout`] of rate `p` on
    /// the output of every layer but the last (see [`TorchRnn::into_layers`]). A state dict
    /// does not record `p`; give the one the PyTorch module was built with. `p = 0` removes it.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless `p` is in [0, 1) (PyTorch also allows 1, which zeroes
    /// every layer's input above the first in training).
    pub fn with_dropout(mut self, p: f64) -> Result<Self> {
        self.set_dropout(p)?;
        Ok(self)
    }

    /// Sets PyTorch's `dropout` (see [`TorchRnn::with_dropout`]).
    ///
    /// # Errors
    /// As [`TorchRnn::with_dropout`]; the module is unchanged.
    pub fn set_dropout(&mut self, p: f64) -> Result<()> {
        let module = self.spec.mode.module();
        if !(0.0..1.0).contains(&p) {
            return Err(Error::config(format!("{module} dropout"), "a rate in [0, 1)", p));
        }
        self.dropout = p;
        Ok(())
    }

    /// PyTorch's `dropout`: the rate applied between layers in training (0: none).
    pub fn dropout(&self) -> f64 {
        self.dropout
    }

    /// Wraps layers built in this crate as one PyTorch module (each must be exportable: see
    /// [`export_recurrent`]). Every layer is switched to `return_sequences`, as PyTorch's
    /// layers always return the whole sequence. A [`Dropout`] between each two layers, all of
    /// one rate (as [`TorchRnn::into_layers`] gives them), becomes the module's `dropout`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] as [`export_recurrent`].
    pub fn from_layers(layers: Vec<Box<dyn Layer<F>>>) -> Result<Self> {
        let (spec, dropout) = {
            let refs: Vec<&dyn Layer<F>> = layers.iter().map(|l| l.as_ref()).collect();
            let (rnns, dropout) = between_layer_dropout(&refs)?;
            (spec_of(&rnns)?.0, dropout)
        };
        let is_dropout = |l: &dyn Layer<F>| (l as &dyn std::any::Any).is::<Dropout<F>>();
        let mut layers: Vec<Box<dyn Layer<F>>> = layers.into_iter().filter(|l| !is_dropout(l.as_ref())).collect();
        for layer in &mut layers {
            if let Some(r) = layer.as_recurrent_mut() {
                r.set_return_sequences(true);
            } else if let Some(bi) = (layer.as_mut() as &mut dyn std::any::Any).downcast_mut::<Bidirectional<F>>() {
                bi.forward_layer_mut().set_return_sequences(true);
                bi.backward_layer_mut().set_return_sequences(true);
            }
        }
        Ok(TorchRnn { spec, layers, dropout })
    }

    /// The module's constructor arguments.
    pub fn spec(&self) -> &RnnSpec {
        &self.spec
    }

    /// The layers, one per PyTorch layer: a recurrent layer, or a [`Bidirectional`] (without
    /// the dropout between them: see [`TorchRnn::into_layers`]).
    pub fn layers(&self) -> &[Box<dyn Layer<F>>] {
        &self.layers
    }

    /// The layers, to add to a [`Sequential`] (with `add_boxed`) or use on their own. With a
    /// [`TorchRnn::dropout`] `p > 0`, a [`Dropout`] of rate `p` (named `dropout_l{k}`) follows
    /// every layer `k` but the last, which is where PyTorch applies it; it acts only in
    /// training, and `fit` seeds it.
    pub fn into_layers(self) -> Vec<Box<dyn Layer<F>>> {
        let n = self.layers.len();
        let mut out: Vec<Box<dyn Layer<F>>> = Vec::with_capacity(2 * n);
        for (k, layer) in self.layers.into_iter().enumerate() {
            out.push(layer);
            if self.dropout > 0.0 && k + 1 < n {
                // The rate was checked when it was set.
                if let Ok(mut d) = Dropout::new(self.dropout) {
                    d.set_name(format!("dropout_l{k}"));
                    out.push(Box::new(d));
                }
            }
        }
        out
    }

    /// A [`Sequential`] of the layers (with the dropout between them, as
    /// [`TorchRnn::into_layers`]) for sequences of `timesteps` steps (any length runs;
    /// `timesteps` is what `summary()` shows).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `timesteps` is 0.
    pub fn into_sequential(self, timesteps: usize) -> Result<Sequential<F>> {
        let mut model = Sequential::new(&[timesteps, self.spec.input_size])?;
        for layer in self.into_layers() {
            model.add_boxed(layer)?;
        }
        Ok(model)
    }

    /// The module's state dict, with PyTorch's keys, shapes and order (see
    /// [`export_recurrent`]).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if a layer was changed through [`TorchRnn::layers`]'s
    /// owner into something PyTorch cannot represent (never for an imported module).
    pub fn export(&self) -> Result<StateDict<F>> {
        let refs: Vec<&dyn Layer<F>> = self.layers.iter().map(|l| l.as_ref()).collect();
        export_recurrent(&refs)
    }

    /// Runs the module as PyTorch's `module(x, h0)` (LSTM: `module(x, (h0, c0))`) in
    /// inference mode (so without dropout, as PyTorch's `eval()`).
    ///
    /// # Shapes
    /// `x` `(B, T, input_size)`; `h0`, `c0` `(num_layers·D, B, H)`, zeros when `None`
    /// (entry `k·D + d` is layer `k`, direction `d`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for an `x`, `h0` or `c0` of the wrong shape, or a `c0` for a
    /// module without cell state; [`Error::Empty`] or [`Error::NonFinite`] as the layers'
    /// forward passes, prefixed with the layer (`"nn.RNN layer 1: ..."`). `NonFinite` also
    /// comes when one layer's output overflows to infinity (weights too large for the
    /// dtype, a relu RNN that explodes) and the next layer refuses that input.
    /// [`Error::TooLarge`] or [`Error::OutOfMemory`] when the input copy, a state or a
    /// layer's buffers cannot be held.
    pub fn forward(
        &mut self,
        x: ArrayView3<'_, F>,
        h0: Option<ArrayView3<'_, F>>,
        c0: Option<ArrayView3<'_, F>>,
    ) -> Result<TorchRnnOutput<F>> {
        let spec = self.spec;
        let module = spec.mode.module();
        let (batch, _, feats) = x.dim();
        if feats != spec.input_size {
            return Err(Error::shape(
                format!("{module} input"),
                format!("(B, T, {})", spec.input_size),
                fmt_shape(x.shape()),
            ));
        }
        let d = spec.directions();
        let want = [spec.num_layers * d, batch, spec.hidden_size];
        for (what, s) in [("h0", &h0), ("c0", &c0)] {
            if let Some(s) = s {
                if what == "c0" && !spec.mode.has_cell_state() {
                    return Err(Error::shape(
                        format!("{module} c0 (only nn.LSTM has a cell state)"),
                        "none",
                        fmt_shape(s.shape()),
                    ));
                }
                if s.shape() != want {
                    return Err(Error::shape(format!("{module} {what}"), fmt_shape(&want), fmt_shape(s.shape())));
                }
            }
        }
        let state = |i: usize| -> Result<Option<State<F>>> {
            if h0.is_none() && c0.is_none() {
                return Ok(None);
            }
            let part = |s: &Option<ArrayView3<'_, F>>, what: &str| match s {
                Some(a) => limits::try_map(&a.index_axis(Axis(0), i), |&v| v, format_args!("{module} {what}[{i}]")),
                None => limits::try_zeros((batch, spec.hidden_size), format_args!("{module} {what}[{i}] (B, H)")),
            };
            let h = part(&h0, "h0")?;
            let c = if spec.mode.has_cell_state() { Some(part(&c0, "c0")?) } else { None };
            Ok(Some(State { h, c }))
        };
        let mut input = limits::try_map(&x, |&v| v, format_args!("{module} input copy"))?;
        let mut finals: Vec<State<F>> = Vec::with_capacity(want[0]);
        for (k, layer) in self.layers.iter_mut().enumerate() {
            let ctx = format!("{module} layer {k}:");
            let out = if let Some(bi) = (layer.as_mut() as &mut dyn std::any::Any).downcast_mut::<Bidirectional<F>>() {
                let (fs, bs) = (state(k * d)?, state(k * d + 1)?);
                let out = bi
                    .forward_with_states(input.view(), fs.as_ref(), bs.as_ref(), Mode::Infer)
                    .map_err(|e| within(&ctx, e))?;
                finals.extend(bi.forward_layer().final_state().cloned());
                finals.extend(bi.backward_layer().final_state().cloned());
                out
            } else if let Some(r) = layer.as_recurrent_mut() {
                let s = state(k * d)?;
                let out = r.forward_with_state(input.view(), s.as_ref(), Mode::Infer).map_err(|e| within(&ctx, e))?;
                finals.extend(r.final_state().cloned());
                out
            } else {
                return Err(Error::config("TorchRnn layer", "a recurrent or Bidirectional layer", layer.kind()));
            };
            input = out.into_dimensionality::<Ix3>().map_err(|e| {
                Error::shape(format!("{module} layer {k} output"), "(B, T, D·H): rank 3", e.to_string())
            })?;
        }
        if finals.len() != want[0] {
            return Err(Error::shape(format!("{module} final states"), want[0].to_string(), finals.len().to_string()));
        }
        let stack_of = |parts: Vec<ndarray::ArrayView2<'_, F>>| {
            stack(Axis(0), &parts).map_err(|e| Error::shape(format!("{module} h_n"), fmt_shape(&want), e.to_string()))
        };
        let h_n = stack_of(finals.iter().map(|s| s.h.view()).collect())?;
        let c_n = if spec.mode.has_cell_state() {
            let cs = finals.iter().map(|s| s.c.as_ref().map(|c| c.view())).collect::<Option<Vec<_>>>();
            Some(stack_of(cs.ok_or_else(|| Error::shape(format!("{module} c_n"), "a cell state", "none"))?)?)
        } else {
            None
        };
        Ok(TorchRnnOutput { output: input, h_n, c_n })
    }
}

/// Imports an `nn.RNN`; `nonlinearity` is its constructor argument ([`Activation::Tanh`]
/// or [`Activation::Relu`]), which the weights do not record.
///
/// # Errors
/// [`Error::InvalidConfig`] for another activation; otherwise as [`TorchRnn::import`].
pub fn import_rnn<F: Float>(dict: &StateDict<F>, nonlinearity: Activation) -> Result<TorchRnn<F>> {
    let mode = match nonlinearity {
        Activation::Tanh => RnnMode::RnnTanh,
        Activation::Relu => RnnMode::RnnRelu,
        other => return Err(Error::config("nn.RNN nonlinearity", "tanh or relu", other)),
    };
    TorchRnn::import(dict, mode)
}

/// Imports an `nn.LSTM` (see [`TorchRnn::import`]).
///
/// # Errors
/// As [`TorchRnn::import`].
pub fn import_lstm<F: Float>(dict: &StateDict<F>) -> Result<TorchRnn<F>> {
    TorchRnn::import(dict, RnnMode::Lstm)
}

/// Imports an `nn.GRU` (see [`TorchRnn::import`]) into GRU layers with `reset_after`.
///
/// # Errors
/// As [`TorchRnn::import`].
pub fn import_gru<F: Float>(dict: &StateDict<F>) -> Result<TorchRnn<F>> {
    TorchRnn::import(dict, RnnMode::Gru)
}

// ───────────────────────────── nn.Linear ─────────────────────────────

/// Imports an `nn.Linear`: `weight` `(out, in)` becomes the kernel `(in, out)`; `bias`
/// `(out)` the bias (zeros when the module was built with `bias=False`). The layer is
/// linear (PyTorch puts activations in separate modules).
///
/// # Errors
/// [`Error::Format`] for a missing `weight` or a key other than `weight` and `bias`;
/// [`Error::ShapeMismatch`] or [`Error::NonFinite`] naming the key;
/// [`Error::InvalidConfig`] for a zero-sized weight.
pub fn import_linear<F: Float>(dict: &StateDict<F>) -> Result<Dense<F>> {
    let module = "nn.Linear";
    if let Some(k) = dict.keys().find(|k| *k != "weight" && *k != "bias") {
        return Err(Error::format(format!("{module} state_dict key"), "only `weight` and `bias`", format!("`{k}`")));
    }
    let (out, inp) = shape2(dict, "weight", module)?;
    let mut dense = DenseConfig::new(inp, out).init::<F, _>(&mut scratch_rng())?;
    let kernel = tensor2_t(dict, "weight", module, [out, inp])?;
    let bias = match dict.get("bias") {
        Some(_) => tensor1(dict, "bias", module, out)?,
        None => limits::try_zeros(out, "nn.Linear bias")?,
    };
    dense.set_kernel(kernel)?;
    dense.set_bias(bias)?;
    Ok(dense)
}

/// Exports a [`Dense`] layer as an `nn.Linear` state dict: `weight` = kernelᵀ `(out, in)`,
/// `bias` `(out)`.
///
/// # Errors
/// [`Error::InvalidConfig`] unless the layer is linear (`nn.Linear` has no activation);
/// [`Error::OutOfMemory`] if the copies cannot be allocated.
pub fn export_linear<F: Float>(dense: &Dense<F>) -> Result<StateDict<F>> {
    let act = dense.config().activation;
    if act != Activation::Linear {
        return Err(Error::config(
            format!("{} activation for PyTorch export as nn.Linear", dense.name()),
            "linear (nn.Linear has none; add the activation as its own PyTorch module)",
            act,
        ));
    }
    let mut dict = StateDict::new();
    dict.insert("weight", limits::try_map(&dense.kernel().t().into_dyn(), |&v| v, "nn.Linear export of `weight`")?)?;
    dict.insert("bias", limits::try_map(&dense.bias().view().into_dyn(), |&v| v, "nn.Linear export of `bias`")?)?;
    Ok(dict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_only_in_pytorch_spelling() {
        assert_eq!(parse_key("weight_ih_l0"), Some((0, 0, false)));
        assert_eq!(parse_key("bias_hh_l12_reverse"), Some((3, 12, true)));
        for bad in ["weight_ih_l", "weight_ih_l01", "weight_ih_l+1", "weight_ih_l0_reversed", "weight_hr_l0", "x"] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
        assert_eq!(parse_key("weight_ih_l99999999999999999999999"), None);
    }

    #[test]
    fn spec_keys_follow_pytorch_order() {
        let spec = RnnSpec {
            mode: RnnMode::Gru,
            input_size: 3,
            hidden_size: 4,
            num_layers: 2,
            bidirectional: true,
            bias: true,
        };
        let keys: Vec<String> = spec.keys().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys.len(), 16);
        assert_eq!(&keys[..5], ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse"]);
        assert_eq!(spec.keys()[8].1, vec![12, 8]);
    }
}
