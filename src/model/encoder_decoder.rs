//! [`EncoderDecoder`]: many-to-many with different input and output lengths (translation,
//! the lecture's fourth architecture). An encoder reads the whole input; the final state of
//! each of its recurrent layers starts the matching recurrent layer of a decoder, which
//! emits the output one token at a time.
//!
//! ```text
//! training (teacher forcing)                 inference (greedy)
//!   x ─ encoder ─ (h, c) ─┐                    x ─ encoder ─ (h, c) ─┐
//!   [start, y₀ … y_{T−2}] ─ decoder ─ p(y_t)     start ─ decoder ─ p ─ argmax ─ y₀ ─ decoder ─ … until end
//! ```
//!
//! Backward, the decoder's initial-state gradient is the encoder's final-state gradient
//! ([`crate::RecurrentLayer::backward_with_state`]), so one loss trains both.

use ndarray::{Array2, Array3, ArrayD, ArrayViewD, Axis, IxDyn};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::{Embedding, Mode, ParamMut, ParamRef, Params, State};
use crate::limits::{try_full, try_zeros};
use crate::model::traits::{Model, ModelOutput};
use crate::model::Sequential;
use crate::shape::{check_finite, check_nonempty, fmt_index, fmt_shape};

/// How an [`EncoderDecoder`] reads targets and decodes: the ids of the start and end tokens
/// and the longest output of greedy decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decoding {
    /// The token the decoder reads first, before any output (in training and in inference).
    /// An input id of the decoder; it need not be an output class.
    pub start_token: usize,
    /// The token that ends an output: in the targets, positions after the first end token are
    /// padding (left out of the loss); in inference, decoding of a sequence stops once it has
    /// emitted it. An output class of the decoder.
    pub end_token: usize,
    /// The most tokens greedy decoding emits per sequence (the end token included).
    pub max_len: usize,
}

impl Decoding {
    /// Start and end token ids, and the longest output.
    pub fn new(start_token: usize, end_token: usize, max_len: usize) -> Self {
        Decoding { start_token, end_token, max_len }
    }
}

/// An encoder–decoder (sequence-to-sequence) model: two [`Sequential`] stacks joined by their
/// recurrent states.
///
/// * **Encoder**: any stack whose last layer is recurrent, for example `Embedding →
///   LSTM`. Its output is not used: what it passes on is the final state of each of its
///   recurrent layers (with a padding mask, the state after each sequence's last real step).
/// * **Decoder**: a stack with as many recurrent layers, run over time step by step in
///   inference, for example `Embedding → LSTM(return_sequences) → Dense(softmax)`. Its
///   `k`-th recurrent layer starts from the final state of the encoder's `k`-th (same units,
///   same state parts). Its input is token ids `(B, T)` (per-sample shape `[T]`, an
///   [`crate::Embedding`] first) or one-hot rows `(B, T, W)`; its output is a distribution
///   over `V` tokens per step, `(B, T, V)`.
/// * **Targets** `y`: token ids `(B, T_y)`, each sequence ending with
///   [`Decoding::end_token`]; positions after it are padding (any id in range) and are left out
///   of the loss and the metrics. `T_y` may differ from the input's length.
///
/// Training ([`Model::forward_with_targets`], hence [`crate::model::ModelExt::fit`]) uses
/// teacher forcing: the decoder reads the start token followed by the targets shifted right,
/// `[start, y₀, …, y_{T_y−2}]`, and its predictions `(B, T_y, V)` are compared with `y`
/// (use [`crate::SparseCategoricalCrossEntropy`]). Inference ([`Model::predict`],
/// [`EncoderDecoder::decode`]) decodes greedily: from the start token, each step's most
/// probable token is fed back, until every sequence has emitted the end token or
/// [`Decoding::max_len`] tokens.
///
/// The decoder must read its input one step at a time: its recurrent layers run forwards
/// with `return_sequences`, no [`crate::Bidirectional`], and every other layer acts on each
/// position on its own (Dense, Embedding, Dropout...).
///
/// # Example: reverse a sequence of digits
/// ```
/// use ndarray::Array2;
/// use recurrent::prelude::*;
/// use recurrent::model::{Decoding, EncoderDecoder, ModelExt};
///
/// // Tokens: 0 padding, 1 start, 2 end, 3..=6 the digits 0..=3.
/// let mut rng = StdRng::seed_from_u64(5);
/// let mut encoder = Sequential::<f64>::new(&[3])?;
/// encoder.add(EmbeddingConfig::new(7, 4).with_mask_zero(true).init(&mut rng)?)?;
/// encoder.add(LstmConfig::new(4, 8).init(&mut rng)?)?;
/// let mut decoder = Sequential::<f64>::new(&[4])?;
/// decoder.add(EmbeddingConfig::new(7, 4).init(&mut rng)?)?;
/// decoder.add(LstmConfig::new(4, 8).with_return_sequences(true).init(&mut rng)?)?;
/// decoder.add(DenseConfig::new(8, 7).with_activation(Activation::Softmax).init(&mut rng)?)?;
/// let mut model = EncoderDecoder::new(encoder, decoder, Decoding::new(1, 2, 4))?;
///
/// let x = Array2::from_shape_vec((2, 3), vec![3.0, 4.0, 5.0, 6.0, 3.0, 0.0]).unwrap();
/// let y = Array2::from_shape_vec((2, 4), vec![5.0, 4.0, 3.0, 2.0, 3.0, 6.0, 2.0, 0.0]).unwrap();
/// let history = model.fit(&x, &y, &SparseCategoricalCrossEntropy::new(), &mut Adam::new(0.05),
///     FitConfig::new(60, 2).quiet())?;
/// assert!(history.loss()[59] < 0.1 * history.loss()[0]);
/// assert_eq!(model.decode(&x)?, vec![vec![5, 4, 3], vec![3, 6]]);
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug)]
pub struct EncoderDecoder<F: Float> {
    name: String,
    encoder: Sequential<F>,
    decoder: Sequential<F>,
    decoding: Decoding,
    /// The encoder's output shape in the last training forward pass: its last layer's output
    /// is not used, so backward starts it from zeros of this shape.
    encoder_out: Option<Vec<usize>>,
}

/// What the decoder reads.
#[derive(Debug, Clone, Copy)]
enum DecoderInput {
    /// Token ids `(B, T)`; the vocabulary of its first layer when that is an `Embedding`.
    Ids(Option<usize>),
    /// One-hot rows `(B, T, W)`.
    OneHot(usize),
}

/// The checked structure of an encoder–decoder.
struct Structure {
    /// `(encoder layer, decoder layer)` index pairs of the recurrent layers joined by states.
    bridges: Vec<(usize, usize)>,
    /// Output tokens `V`.
    vocab: usize,
    input: DecoderInput,
}

impl<F: Float> EncoderDecoder<F> {
    /// Joins `encoder` and `decoder` (see the type's docs for what each must be).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if either stack is empty or stateful, the encoder's last layer
    /// is not recurrent, the two have different numbers of recurrent layers or a pair differs
    /// in units or state parts, a decoder recurrent layer reads backwards or returns only its
    /// last step, the decoder holds a `Bidirectional`, its input is not ids `[T]` or one-hot
    /// `[T, W]`, its output is not `[T, V]` with `V ≥ 2`, the end token is not below `V`, the
    /// start token or an output token is not an id the decoder reads, or `max_len` is 0.
    pub fn new(encoder: Sequential<F>, decoder: Sequential<F>, decoding: Decoding) -> Result<Self> {
        Self::named("encoder_decoder".to_string(), encoder, decoder, decoding)
    }

    /// As [`EncoderDecoder::new`], named `name` (in its errors too).
    pub(crate) fn named(
        name: String,
        encoder: Sequential<F>,
        decoder: Sequential<F>,
        decoding: Decoding,
    ) -> Result<Self> {
        let model = EncoderDecoder { name, encoder, decoder, decoding, encoder_out: None };
        model.structure()?;
        Ok(model)
    }

    /// The model's name (`"encoder_decoder"` unless renamed).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the model.
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// The encoder.
    pub fn encoder(&self) -> &Sequential<F> {
        &self.encoder
    }

    /// The decoder.
    pub fn decoder(&self) -> &Sequential<F> {
        &self.decoder
    }

    /// The encoder, mutably (weights, names, initial states). A change that breaks what
    /// [`EncoderDecoder::new`] checks makes the next forward pass an error.
    pub fn encoder_mut(&mut self) -> &mut Sequential<F> {
        self.encoder_out = None;
        &mut self.encoder
    }

    /// The decoder, mutably (see [`EncoderDecoder::encoder_mut`]).
    pub fn decoder_mut(&mut self) -> &mut Sequential<F> {
        self.encoder_out = None;
        &mut self.decoder
    }

    /// The start and end tokens and the longest output.
    pub fn decoding(&self) -> Decoding {
        self.decoding
    }

    /// Changes the start and end tokens or the longest output.
    ///
    /// # Errors
    /// As [`EncoderDecoder::new`]; the model is unchanged on error.
    pub fn set_decoding(&mut self, decoding: Decoding) -> Result<()> {
        let old = std::mem::replace(&mut self.decoding, decoding);
        if let Err(e) = self.structure() {
            self.decoding = old;
            return Err(e);
        }
        Ok(())
    }

    /// The encoder's and the decoder's summaries (see [`Sequential::summary`]), one after the
    /// other, with the decoding settings.
    pub fn summary(&self) -> String {
        let d = self.decoding;
        format!(
            "Model: \"{}\" (EncoderDecoder: start token {}, end token {}, at most {} output tokens)\n\nEncoder\n{}\nDecoder\n{}",
            self.name,
            d.start_token,
            d.end_token,
            d.max_len,
            self.encoder.summary(),
            self.decoder.summary()
        )
    }

    /// Greedy decoding of `x` (as [`Model::predict`]), as token ids per sequence, the end
    /// token left out.
    ///
    /// # Errors
    /// As [`Model::predict`].
    pub fn decode<'a, V, D>(&mut self, x: V) -> Result<Vec<Vec<usize>>>
    where
        V: ndarray::AsArray<'a, F, D>,
        D: ndarray::Dimension,
        F: 'a,
    {
        let ids = Model::predict(self, x.into().into_dyn())?;
        let end = self.decoding.end_token;
        Ok(ids
            .outer_iter()
            .map(|row| row.iter().map(|v| v.to_f64_exact() as usize).take_while(|&t| t != end).collect())
            .collect())
    }

    fn config_error(&self, what: &str, expected: impl Into<String>, got: impl ToString) -> Error {
        Error::config(format!("{} {what}", self.name), expected, got)
    }

    /// Checks how the parts fit together (see [`EncoderDecoder::new`]).
    fn structure(&self) -> Result<Structure> {
        let (enc, dec) = (&self.encoder, &self.decoder);
        if enc.layers().is_empty() || dec.layers().is_empty() {
            let which = if enc.layers().is_empty() { "encoder" } else { "decoder" };
            return Err(self.config_error(which, "at least one layer", "no layers"));
        }
        if enc.is_stateful() || dec.is_stateful() {
            let which = if enc.is_stateful() { "encoder" } else { "decoder" };
            return Err(self.config_error(which, "not stateful (the encoder's states start the decoder)", "stateful"));
        }
        if enc.layers().last().is_some_and(|l| l.as_recurrent().is_none()) {
            let last = enc.layers().last().map(|l| format!("{} ({})", l.name(), l.kind())).unwrap_or_default();
            return Err(self.config_error(
                "encoder's last layer",
                "a recurrent layer (its final state starts the decoder)",
                last,
            ));
        }
        let recurrent = |s: &Sequential<F>| -> Vec<usize> {
            s.layers().iter().enumerate().filter(|(_, l)| l.as_recurrent().is_some()).map(|(i, _)| i).collect()
        };
        let (er, dr) = (recurrent(enc), recurrent(dec));
        if er.len() != dr.len() {
            return Err(self.config_error(
                "decoder recurrent layers",
                format!("{} (one per encoder recurrent layer, whose final state starts it)", er.len()),
                dr.len(),
            ));
        }
        for (&e, &d) in er.iter().zip(&dr) {
            let (el, dl) = (&enc.layers()[e], &dec.layers()[d]);
            let (Some(a), Some(b)) = (el.as_recurrent(), dl.as_recurrent()) else { continue };
            if a.units() != b.units() || a.has_cell_state() != b.has_cell_state() {
                let state =
                    |units: usize, c: bool| format!("{units} units{}", if c { " with a cell state" } else { "" });
                return Err(self.config_error(
                    &format!("decoder layer {} ({})", dl.name(), dl.kind()),
                    format!(
                        "the state of encoder layer {} ({}): {}",
                        el.name(),
                        el.kind(),
                        state(a.units(), a.has_cell_state())
                    ),
                    state(b.units(), b.has_cell_state()),
                ));
            }
            if b.go_backwards() || !b.return_sequences() {
                return Err(self.config_error(
                    &format!("decoder layer {} ({})", dl.name(), dl.kind()),
                    "forwards, with return_sequences (the decoder runs one step at a time)",
                    if b.go_backwards() { "go_backwards" } else { "return_sequences off" },
                ));
            }
        }
        if let Some(l) = dec.layers().iter().find(|l| l.kind() == "Bidirectional") {
            return Err(self.config_error(
                &format!("decoder layer {}", l.name()),
                "layers that read one step at a time",
                "Bidirectional (reads whole sequences)",
            ));
        }
        let input = match dec.input_shape() {
            [_] => DecoderInput::Ids(dec.layer_as::<Embedding<F>>(0).map(|e| e.config().vocab_size)),
            [_, w] => DecoderInput::OneHot(*w),
            other => {
                return Err(self.config_error(
                    "decoder input shape",
                    "[T] (token ids) or [T, W] (one-hot rows)",
                    fmt_shape(other),
                ))
            }
        };
        let vocab = match dec.output_shape() {
            [_, v] if *v >= 2 => *v,
            other => {
                return Err(self.config_error(
                    "decoder output shape",
                    "[T, V] with V ≥ 2 (a distribution over the output tokens per step)",
                    fmt_shape(other),
                ))
            }
        };
        let d = self.decoding;
        if d.end_token >= vocab {
            return Err(self.config_error("end token", format!("an output token, below {vocab}"), d.end_token));
        }
        let reads = match input {
            DecoderInput::Ids(v) => v,
            DecoderInput::OneHot(w) => Some(w),
        };
        if let Some(n) = reads {
            if d.start_token >= n {
                return Err(self.config_error(
                    "start token",
                    format!("an input id of the decoder, below {n}"),
                    d.start_token,
                ));
            }
            if vocab > n {
                return Err(self.config_error(
                    "decoder input vocabulary",
                    format!("at least the {vocab} output tokens (each one emitted is read next)"),
                    n,
                ));
            }
        }
        if d.max_len == 0 {
            return Err(self.config_error("max_len", "at least 1", 0));
        }
        Ok(Structure { bridges: er.into_iter().zip(dr).collect(), vocab, input })
    }

    /// The number of samples of `x` (checked through the encoder, token ids in range when it
    /// starts with an `Embedding`).
    fn check_x(&self, x: &ArrayViewD<'_, F>) -> Result<usize> {
        self.encoder.output_shape_for(x.shape())?;
        if let Some(e) = self.encoder.layer_as::<Embedding<F>>(0) {
            check_ids(&format!("{} input x (token ids)", self.name), x, e.config().vocab_size)?;
        }
        Ok(x.shape()[0])
    }

    /// Checks targets `(B, T_y)` of output token ids for `b` samples.
    fn check_y(&self, st: &Structure, b: usize, y: &ArrayViewD<'_, F>) -> Result<()> {
        let what = format!("{} targets y (output token ids)", self.name);
        if y.ndim() != 2 || y.shape()[0] != b {
            return Err(Error::shape(what, format!("({b}, T_y)"), fmt_shape(y.shape())));
        }
        check_nonempty(&what, y.shape(), &["batch size", "time steps"])?;
        check_ids(&what, y, st.vocab)
    }

    /// The decoder's teacher-forcing input: the start token, then `y` shifted right.
    fn teacher_input(&self, st: &Structure, y: &ArrayViewD<'_, F>) -> Result<ArrayD<F>> {
        let (b, t) = (y.shape()[0], y.shape()[1]);
        let start = self.decoding.start_token;
        let id = |i: usize, j: usize| if j == 0 { start } else { y[[i, j - 1]].to_f64_exact() as usize };
        self.decoder_input(st, b, t, id)
    }

    /// The decoder's input for `(b, t)` positions holding token `id(i, j)`.
    fn decoder_input(
        &self,
        st: &Structure,
        b: usize,
        t: usize,
        id: impl Fn(usize, usize) -> usize,
    ) -> Result<ArrayD<F>> {
        let what = format!("{} decoder input", self.name);
        match st.input {
            DecoderInput::Ids(_) => {
                let mut a: Array2<F> = try_zeros((b, t), &what)?;
                a.indexed_iter_mut().for_each(|((i, j), v)| *v = F::of(id(i, j) as f64));
                Ok(a.into_dyn())
            }
            DecoderInput::OneHot(w) => {
                let mut a: Array3<F> = try_zeros((b, t, w), &what)?;
                for i in 0..b {
                    for j in 0..t {
                        if let Some(v) = a.get_mut((i, j, id(i, j))) {
                            *v = F::one();
                        }
                    }
                }
                Ok(a.into_dyn())
            }
        }
    }

    /// Runs the encoder; returns its output shape and the final state of each joined layer.
    fn encode(&mut self, st: &Structure, x: ArrayViewD<'_, F>, mode: Mode) -> Result<(Vec<usize>, Vec<State<F>>)> {
        let out = self.encoder.forward(x, mode)?;
        let states = st
            .bridges
            .iter()
            .map(|&(e, _)| {
                let layer = &self.encoder.layers()[e];
                layer
                    .as_recurrent()
                    .and_then(|r| r.final_state().cloned())
                    .ok_or_else(|| Error::NoForwardCache { layer: layer.name().to_string() })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((out.shape().to_vec(), states))
    }

    /// Runs the decoder on `input` from `states`; returns its output and the final state of
    /// each joined layer. The decoder's initial states are cleared afterwards, error or not.
    fn run_decoder(
        &mut self,
        st: &Structure,
        states: Vec<State<F>>,
        input: ArrayViewD<'_, F>,
        mode: Mode,
    ) -> Result<(ArrayD<F>, Vec<State<F>>)> {
        for (&(_, d), s) in st.bridges.iter().zip(states) {
            if let Some(r) = self.decoder.layers_mut()[d].as_recurrent_mut() {
                r.set_initial_state(Some(s));
            }
        }
        let out = self.decoder.forward(input, mode);
        let mut finals = Vec::with_capacity(st.bridges.len());
        for &(_, d) in &st.bridges {
            if let Some(r) = self.decoder.layers_mut()[d].as_recurrent_mut() {
                r.set_initial_state(None);
                finals.push(r.final_state().cloned());
            }
        }
        let out = out?;
        let finals = finals
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::NoForwardCache { layer: format!("{} decoder", self.name) })?;
        Ok((out, finals))
    }

    /// Drops every training cache, so a backward after a failed forward pass is refused.
    fn clear_caches(&mut self) {
        self.encoder_out = None;
        for l in self.encoder.layers_mut().iter_mut().chain(self.decoder.layers_mut().iter_mut()) {
            l.clear_cache();
        }
    }

    fn forward_checked(
        &mut self,
        st: &Structure,
        x: ArrayViewD<'_, F>,
        y: ArrayViewD<'_, F>,
        mode: Mode,
    ) -> Result<ModelOutput<F>> {
        let b = self.check_x(&x)?;
        self.check_y(st, b, &y)?;
        let (enc_shape, states) = self.encode(st, x, mode)?;
        let input = self.teacher_input(st, &y)?;
        let (pred, _) = self.run_decoder(st, states, input.view(), mode)?;
        // Real positions: up to and including each row's first end token.
        let end = F::of(self.decoding.end_token as f64);
        let mut mask = Array2::from_elem((y.shape()[0], y.shape()[1]), true);
        for (row, mut m) in y.outer_iter().zip(mask.outer_iter_mut()) {
            if let Some(k) = row.iter().position(|&v| v == end) {
                m.iter_mut().skip(k + 1).for_each(|v| *v = false);
            }
        }
        if let Some(dm) = self.decoder.output_mask() {
            if dm.shape() == mask.shape() {
                mask.zip_mut_with(dm, |a, &b| *a &= b);
            }
        }
        if mode == Mode::Train {
            self.encoder_out = Some(enc_shape);
        }
        Ok(ModelOutput { pred, mask: Some(mask) })
    }
}

/// Checks that every element of `a` is a token id: a whole number in `[0, limit)`.
fn check_ids<F: Float>(what: &str, a: &ArrayViewD<'_, F>, limit: usize) -> Result<()> {
    check_finite(what, a)?;
    let top = limit as f64;
    if let Some((flat, v)) = a.iter().enumerate().find(|(_, v)| {
        let x = v.to_f64_exact();
        !(x >= 0.0 && x < top && x.fract() == 0.0)
    }) {
        return Err(Error::OutOfRange {
            what: what.to_string(),
            expected: format!("whole numbers in [0, {limit})"),
            got: v.to_string(),
            index: fmt_index(a.shape(), flat),
        });
    }
    Ok(())
}

impl<F: Float> Params<F> for EncoderDecoder<F> {
    fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, F>)) {
        self.encoder.visit_params(f);
        self.decoder.visit_params(f);
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, F>)) {
        self.encoder.visit_params_mut(f);
        self.decoder.visit_params_mut(f);
    }

    /// The encoder's layers' flags, then the decoder's (freeze a layer through
    /// [`EncoderDecoder::encoder_mut`] or [`EncoderDecoder::decoder_mut`]).
    fn visit_trainable(&self, f: &mut dyn FnMut(bool)) {
        self.encoder.visit_trainable(f);
        self.decoder.visit_trainable(f);
    }
}

impl<F: Float> Model<F> for EncoderDecoder<F> {
    fn name(&self) -> &str {
        &self.name
    }

    /// The input through the encoder's layers (token ids in range when it starts with an
    /// `Embedding`).
    fn check_input(&self, x: ArrayViewD<'_, F>) -> Result<()> {
        self.structure()?;
        self.check_x(&x).map(|_| ())
    }

    /// Targets `(B, T_y)` of output token ids; the predictions are `[T_y, V]` per sample.
    fn check_targets(&self, x: ArrayViewD<'_, F>, y: ArrayViewD<'_, F>) -> Result<Vec<usize>> {
        let st = self.structure()?;
        self.check_y(&st, x.shape().first().copied().unwrap_or(0), &y)?;
        Ok(vec![y.shape()[1], st.vocab])
    }

    /// Teacher forcing: the encoder reads `x`, the decoder reads `[start, y₀, …, y_{T_y−2}]`
    /// from the encoder's final states. Predictions `(B, T_y, V)`; the mask leaves out the
    /// positions after each row's first end token.
    fn forward_with_targets(
        &mut self,
        x: ArrayViewD<'_, F>,
        y: ArrayViewD<'_, F>,
        mode: Mode,
    ) -> Result<ModelOutput<F>> {
        self.encoder_out = None;
        let st = self.structure()?;
        let out = self.forward_checked(&st, x, y, mode);
        if out.is_err() {
            self.clear_caches();
        }
        out
    }

    /// Through the decoder, then from the decoder's initial-state gradients into the
    /// encoder's final states ([`crate::RecurrentLayer::backward_with_state`]) and back
    /// through the encoder. dL/dx when the encoder takes features.
    fn backward(&mut self, grad: ArrayViewD<'_, F>) -> Result<Option<ArrayD<F>>> {
        let st = self.structure()?;
        let no_cache = || Error::NoForwardCache { layer: self.name.clone() };
        let enc_shape = self.encoder_out.clone().ok_or_else(no_cache)?;
        if let Some(l) = self.encoder.layers().iter().chain(self.decoder.layers()).find(|l| !l.has_cache()) {
            return Err(Error::NoForwardCache { layer: l.name().to_string() });
        }
        self.decoder.backward(grad)?;
        let grads = st
            .bridges
            .iter()
            .map(|&(_, d)| self.decoder.layers()[d].as_recurrent().and_then(|r| r.initial_state_grad().cloned()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(no_cache)?;
        // The encoder's output is not used: only its final states carry gradient.
        let mut g: ArrayD<F> = try_zeros(IxDyn(&enc_shape), format!("{} encoder output gradient", self.name))?;
        for (i, layer) in self.encoder.layers_mut().iter_mut().enumerate().rev() {
            g = match st.bridges.iter().position(|&(e, _)| e == i) {
                Some(k) => match layer.as_recurrent_mut() {
                    Some(r) => r.backward_with_state(g.view(), Some(&grads[k]))?.into_dyn(),
                    None => return Err(Error::NoForwardCache { layer: layer.name().to_string() }),
                },
                None => layer.backward(g.view())?,
            };
        }
        Ok(self.encoder.takes_features().then_some(g))
    }

    /// Greedy decoding: token ids `(B, max_len)`, each row the emitted tokens up to and
    /// including the end token, then the end token repeated (so batches stack).
    fn predict(&mut self, x: ArrayViewD<'_, F>) -> Result<ArrayD<F>> {
        let st = self.structure()?;
        let b = self.check_x(&x)?;
        let Decoding { start_token, end_token, max_len } = self.decoding;
        let mut out: Array2<F> = try_full((b, max_len), F::of(end_token as f64), format!("{} decoded ids", self.name))?;
        let (_, mut states) = self.encode(&st, x, Mode::Infer)?;
        let mut tokens = vec![start_token; b];
        let mut done = vec![false; b];
        for step in 0..max_len {
            let input = self.decoder_input(&st, b, 1, |i, _| tokens[i])?;
            let (p, finals) = self.run_decoder(&st, states, input.view(), Mode::Infer)?;
            states = finals;
            if p.shape() != [b, 1, st.vocab] {
                return Err(Error::shape(
                    format!("{} decoder output for one step", self.name),
                    format!("({b}, 1, {})", st.vocab),
                    fmt_shape(p.shape()),
                ));
            }
            for (i, probs) in p.index_axis(Axis(1), 0).outer_iter().enumerate() {
                let mut best = 0;
                for (k, &v) in probs.iter().enumerate() {
                    if v > probs[best] {
                        best = k;
                    }
                }
                tokens[i] = best;
                if !done[i] {
                    out[[i, step]] = F::of(best as f64);
                    done[i] = best == end_token;
                }
            }
            if done.iter().all(|&d| d) {
                break;
            }
        }
        Ok(out.into_dyn())
    }

    /// The encoder and the decoder each get their own stream from `seed`.
    fn reseed(&mut self, seed: u64) {
        self.encoder.reseed(crate::random::mix(seed, 0));
        self.decoder.reseed(crate::random::mix(seed, 1));
    }

    /// `encoder/layer/parameter` and `decoder/layer/parameter`.
    fn param_paths(&self) -> Vec<String> {
        let enc = self.encoder.param_paths().into_iter().map(|p| format!("encoder/{p}"));
        enc.chain(self.decoder.param_paths().into_iter().map(|p| format!("decoder/{p}"))).collect()
    }
}
