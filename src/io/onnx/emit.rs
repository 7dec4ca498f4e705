//! What each layer of a `Sequential` becomes in the graph.

use std::any::Any;

use ndarray::{Array1, Array2};

use super::graph::{
    attr_graph, attr_int, attr_ints, attr_string, attr_strings, attr_tensor, elem_of, tensor_f, value_info, Dim, Graph,
};
use super::pb::tensor_proto::DataType;
use super::pb::{ModelProto, OperatorSetIdProto};
use super::{ExportOptions, Recurrence, IR_VERSION, OPSET};
use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::{Bidirectional, Dense, Embedding, Gru, Layer, Lstm, Masking, MergeMode, SimpleRnn, State};
use crate::model::Sequential;
use crate::shape::check_finite;

/// Layer kinds that are the identity at inference (dropout): exported as nothing.
const IDENTITY_KINDS: [&str; 2] = ["Dropout", "SpatialDropout1D"];

/// The value flowing from one layer to the next.
struct Flow {
    name: String,
    /// Whether it has a time axis: `(B, T, …)` rather than `(B, …)`.
    time: bool,
    /// The `(B, T)` bool mask riding along, as the crate's `output_mask` passes it on.
    mask: Option<String>,
}

/// A layer or name made safe for ONNX value names: ASCII letters, digits and `_`.
pub(super) fn sanitize(name: &str) -> String {
    let s: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.is_empty() {
        "layer".to_string()
    } else {
        s
    }
}

fn refuse(what: String, expected: &str, got: impl ToString) -> Error {
    Error::config(format!("{what} for ONNX export"), expected, got)
}

/// The cell of a recurrent layer and its options, as far as the graph depends on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CellKind {
    Simple { act: Activation },
    Lstm { act: Activation, ract: Activation },
    Gru { act: Activation, ract: Activation, reset_after: bool },
}

impl CellKind {
    fn gates(self) -> usize {
        match self {
            CellKind::Simple { .. } => 1,
            CellKind::Lstm { .. } => 4,
            CellKind::Gru { .. } => 3,
        }
    }

    /// For native block `j` (ONNX's order: LSTM i, o, f, c; GRU z, r, h), the crate's
    /// block (LSTM i, f, g, o; GRU r, z, n).
    fn onnx_blocks(self) -> &'static [usize] {
        match self {
            CellKind::Simple { .. } => &[0],
            CellKind::Lstm { .. } => &[0, 3, 1, 2],
            CellKind::Gru { .. } => &[1, 0, 2],
        }
    }

    fn op(self) -> &'static str {
        match self {
            CellKind::Simple { .. } => "RNN",
            CellKind::Lstm { .. } => "LSTM",
            CellKind::Gru { .. } => "GRU",
        }
    }

    /// The ONNX `activations` list for one direction, in the op's order (RNN f; LSTM f, g,
    /// h; GRU f, g), and whether it is the op's default.
    fn activations(self) -> (Vec<Activation>, bool) {
        use Activation::{Sigmoid, Tanh};
        match self {
            CellKind::Simple { act } => (vec![act], act == Tanh),
            CellKind::Lstm { act, ract } => (vec![ract, act, act], act == Tanh && ract == Sigmoid),
            CellKind::Gru { act, ract, .. } => (vec![ract, act], act == Tanh && ract == Sigmoid),
        }
    }
}

/// One recurrent half (a layer, or a side of a `Bidirectional`).
struct Half<F: Float> {
    kind: CellKind,
    units: usize,
    input: usize,
    backwards: bool,
    /// The backward side of a `Bidirectional`: its output is flipped back to input order.
    aligned: bool,
    kernel: Array2<F>,
    recurrent_kernel: Array2<F>,
    bias: Array1<F>,
    recurrent_bias: Option<Array1<F>>,
    initial: Option<State<F>>,
}

impl<F: Float> Half<F> {
    fn of(layer: &dyn Any, aligned: bool, what: &str) -> Result<Self> {
        let (kind, w, units, input, backwards, initial) = if let Some(l) = layer.downcast_ref::<SimpleRnn<F>>() {
            let k = CellKind::Simple { act: l.cell().activation };
            (k, l.weights(), l.units(), l.input_size(), l.go_backwards(), l.initial_state().cloned())
        } else if let Some(l) = layer.downcast_ref::<Lstm<F>>() {
            let c = l.cell();
            let k = CellKind::Lstm { act: c.activation, ract: c.recurrent_activation };
            (k, l.weights(), l.units(), l.input_size(), l.go_backwards(), l.initial_state().cloned())
        } else if let Some(l) = layer.downcast_ref::<Gru<F>>() {
            let c = l.cell();
            let k = CellKind::Gru { act: c.activation, ract: c.recurrent_activation, reset_after: c.reset_after };
            (k, l.weights(), l.units(), l.input_size(), l.go_backwards(), l.initial_state().cloned())
        } else {
            return Err(refuse(
                what.to_string(),
                "a SimpleRNN, LSTM or GRU (a recurrent layer on a cell of your own has no ONNX form)",
                "another cell",
            ));
        };
        for (name, a) in
            [("kernel", w.kernel.view().into_dyn()), ("recurrent_kernel", w.recurrent_kernel.view().into_dyn())]
        {
            check_finite(format_args!("{what} {name}"), &a)?;
        }
        check_finite(format_args!("{what} bias"), &w.bias)?;
        if let Some(b) = &w.recurrent_bias {
            check_finite(format_args!("{what} recurrent_bias"), b)?;
        }
        let (act, ract) = match kind {
            CellKind::Simple { act } => (act, act),
            CellKind::Lstm { act, ract } | CellKind::Gru { act, ract, .. } => (act, ract),
        };
        for a in [act, ract] {
            if a == Activation::Softmax {
                return Err(refuse(format!("{what} activation"), "linear, tanh, sigmoid or relu", a));
            }
        }
        Ok(Half {
            kind,
            units,
            input,
            backwards,
            aligned,
            kernel: w.kernel,
            recurrent_kernel: w.recurrent_kernel,
            bias: w.bias,
            recurrent_bias: w.recurrent_bias,
            initial,
        })
    }

    /// Whether this half's output runs against input order (reversed time), which the
    /// native ops (always in input order) must undo.
    fn reversed(&self) -> bool {
        self.backwards != self.aligned
    }
}

/// Builds the whole model.
pub(super) fn model<F: Float>(model: &Sequential<F>, opts: &ExportOptions) -> Result<ModelProto> {
    if model.layers().is_empty() {
        return Err(Error::config("Sequential for ONNX export", "at least one layer", "none"));
    }
    if model.is_stateful() {
        return Err(refuse(
            format!("{} (a stateful model)", model.name()),
            "a model that is not stateful (an ONNX graph keeps no state between runs: set_stateful(false), and \
             export with initial-state inputs to feed states yourself)",
            "stateful",
        ));
    }
    let mut ex = Exporter { g: Graph::default(), opts, f: std::marker::PhantomData::<F> };
    let elem = elem_of::<F>();
    let per_sample = model.input_shape();
    let first_is_embedding = (model.layers()[0].as_ref() as &dyn Any).downcast_ref::<Embedding<F>>().is_some();
    let mut dims = vec![Dim::Named("batch")];
    for (i, &d) in per_sample.iter().enumerate() {
        dims.push(if i == 0 && (per_sample.len() >= 2 || first_is_embedding) {
            Dim::Named("time")
        } else {
            Dim::Fixed(d)
        });
    }
    let input = ex.g.fresh(super::INPUT);
    let in_elem = if first_is_embedding { DataType::Int64 } else { elem };
    ex.g.inputs.push(value_info(&input, in_elem, &dims));
    let mut flow = Flow { name: input, time: per_sample.len() >= 2 || first_is_embedding, mask: None };

    let shapes = model.layer_output_shapes();
    let mut in_shape = per_sample.to_vec();
    for (k, layer) in model.layers().iter().enumerate() {
        let what = format!("layer {k} ({}, {})", layer.name(), layer.kind());
        flow = ex.layer(k, layer.as_ref(), flow, &in_shape, &what)?;
        in_shape.clone_from(&shapes[k]);
    }

    // The output's declared shape: batch, then the time axis if the output kept it.
    let out_per_sample = model.output_shape();
    let mut out_dims = vec![Dim::Named("batch")];
    for (i, &d) in out_per_sample.iter().enumerate() {
        out_dims.push(if i == 0 && flow.time { Dim::Named("time") } else { Dim::Fixed(d) });
    }
    // The output is a named value of its own, so its name is `output` whatever made it.
    let output = ex.g.fresh(super::OUTPUT);
    ex.g.push("Identity", &[&flow.name], std::slice::from_ref(&output), vec![], "output");
    ex.g.outputs.push(value_info(&output, elem, &out_dims));

    let graph = ex.g.into_proto(&sanitize(model.name()));
    Ok(ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(OPSET) }],
        producer_name: Some("recurrent".to_string()),
        producer_version: Some(env!("CARGO_PKG_VERSION").to_string()),
        doc_string: Some(format!("{} exported by recurrent {}", model.name(), env!("CARGO_PKG_VERSION"))),
        graph: Some(graph),
        ..Default::default()
    })
}

struct Exporter<'a, F: Float> {
    g: Graph,
    opts: &'a ExportOptions,
    f: std::marker::PhantomData<F>,
}

impl<F: Float> Exporter<'_, F> {
    fn layer(&mut self, k: usize, layer: &dyn Layer<F>, flow: Flow, in_shape: &[usize], what: &str) -> Result<Flow> {
        let any: &dyn Any = layer;
        let base = sanitize(layer.name());
        if let Some(d) = any.downcast_ref::<Dense<F>>() {
            return self.dense(d, flow, &base, what);
        }
        if let Some(e) = any.downcast_ref::<Embedding<F>>() {
            if k != 0 {
                return Err(refuse(what.to_string(), "an Embedding as the first layer (it reads token ids)", k));
            }
            return self.embedding(e, flow, &base, what);
        }
        if let Some(m) = any.downcast_ref::<Masking<F>>() {
            return self.masking(m, flow, &base, what);
        }
        if let Some(bi) = any.downcast_ref::<Bidirectional<F>>() {
            let f = Half::of(bi.forward_layer() as &dyn Any, false, &format!("{what} forward half"))?;
            let b = Half::of(bi.backward_layer() as &dyn Any, true, &format!("{what} backward half"))?;
            let seq = bi.forward_layer().return_sequences();
            return self.recurrent(vec![f, b], Some(bi.merge_mode()), seq, flow, &base, what);
        }
        if let Some(r) = layer.as_recurrent() {
            let h = Half::of(any, false, what)?;
            let seq = r.return_sequences();
            return self.recurrent(vec![h], None, seq, flow, &base, what);
        }
        if IDENTITY_KINDS.contains(&layer.kind()) {
            let out = layer.output_shape(in_shape)?;
            if out != in_shape {
                return Err(refuse(
                    what.to_string(),
                    "a dropout layer that keeps its input's shape",
                    format!("{out:?}"),
                ));
            }
            // Dropout acts only in training: at inference it passes its input (and mask) on.
            return Ok(flow);
        }
        Err(refuse(
            what.to_string(),
            "Dense, Embedding, Masking, SimpleRNN, LSTM, GRU, Bidirectional or a dropout layer",
            layer.kind(),
        ))
    }

    /// `φ(x)` as a node, or `x` itself for linear.
    fn act(g: &mut Graph, a: Activation, x: &str, base: &str) -> Result<String> {
        Ok(match a {
            Activation::Linear => x.to_string(),
            Activation::Tanh => g.node("Tanh", &[x], vec![], base),
            Activation::Sigmoid => g.node("Sigmoid", &[x], vec![], base),
            Activation::Relu => g.node("Relu", &[x], vec![], base),
            Activation::Softmax => g.node("Softmax", &[x], vec![attr_int("axis", -1)], base),
        })
    }

    fn dense(&mut self, d: &Dense<F>, flow: Flow, base: &str, what: &str) -> Result<Flow> {
        check_finite(format_args!("{what} kernel"), d.kernel())?;
        check_finite(format_args!("{what} bias"), d.bias())?;
        let (i, u) = d.kernel().dim();
        let w = self.g.init_f(&format!("{base}.kernel"), &[i, u], d.kernel().iter().copied());
        let b = self.g.init_f(&format!("{base}.bias"), &[u], d.bias().iter().copied());
        // MatMul broadcasts over the leading axes: (B, I) and (B, T, I) alike.
        let y = self.g.node("MatMul", &[&flow.name, &w], vec![], base);
        let y = self.g.node("Add", &[&y, &b], vec![], base);
        let y = Self::act(&mut self.g, d.config().activation, &y, base)?;
        Ok(Flow { name: y, ..flow })
    }

    fn embedding(&mut self, e: &Embedding<F>, flow: Flow, base: &str, what: &str) -> Result<Flow> {
        check_finite(format_args!("{what} embeddings"), e.embeddings())?;
        let (v, dim) = e.embeddings().dim();
        let table = self.g.init_f(&format!("{base}.embeddings"), &[v, dim], e.embeddings().iter().copied());
        let y = self.g.node("Gather", &[&table, &flow.name], vec![attr_int("axis", 0)], base);
        let mask = if e.config().mask_zero {
            let zero = self.g.init_i64(&format!("{base}.pad_id"), &[], &[0]);
            let eq = self.g.node("Equal", &[&flow.name, &zero], vec![], base);
            Some(self.g.node("Not", &[&eq], vec![], &format!("{base}.mask")))
        } else {
            flow.mask
        };
        Ok(Flow { name: y, time: true, mask })
    }

    fn masking(&mut self, m: &Masking<F>, flow: Flow, base: &str, what: &str) -> Result<Flow> {
        if !m.mask_value().is_finite() {
            return Err(refuse(format!("{what} mask_value"), "a finite number", m.mask_value()));
        }
        if !flow.time {
            return Err(refuse(what.to_string(), "an input with a time axis (B, T, features)", "(B, features)"));
        }
        let mv = self.g.scalar_f(&format!("{base}.mask_value"), m.mask_value());
        // A step is real when any feature differs from mask_value.
        let eq = self.g.node("Equal", &[&flow.name, &mv], vec![], base);
        let ne = self.g.node("Not", &[&eq], vec![], base);
        let nef = self.g.node("Cast", &[&ne], vec![attr_int("to", elem_of::<F>() as i64)], base);
        let any = self.g.node("ReduceMax", &[&nef], vec![attr_ints("axes", &[-1]), attr_int("keepdims", 0)], base);
        let own = self.g.node("Cast", &[&any], vec![attr_int("to", DataType::Bool as i64)], &format!("{base}.mask"));
        let mask = match &flow.mask {
            Some(m) => self.g.node("And", &[&own, m], vec![], &format!("{base}.mask")),
            None => own,
        };
        // Masked steps' features become 0, as the crate's Masking outputs them.
        let axis = self.g.ints(&format!("{base}.axis"), &[2]);
        let m3 = self.g.node("Unsqueeze", &[&mask, &axis], vec![], base);
        let zero = self.g.scalar_f(&format!("{base}.zero"), F::zero());
        let y = self.g.node("Where", &[&m3, &flow.name, &zero], vec![], base);
        Ok(Flow { name: y, time: true, mask: Some(mask) })
    }

    /// A recurrent layer (one half) or a `Bidirectional` (two halves and their merge).
    fn recurrent(
        &mut self,
        halves: Vec<Half<F>>,
        merge: Option<MergeMode>,
        seq: bool,
        flow: Flow,
        base: &str,
        what: &str,
    ) -> Result<Flow> {
        if !flow.time {
            return Err(refuse(what.to_string(), "an input with a time axis (B, T, features)", "(B, features)"));
        }
        let kind = halves[0].kind;
        let same = halves.iter().all(|h| h.kind == kind);
        let standard = halves.iter().all(|h| h.kind.activations().1);
        let native = match self.opts.recurrence {
            // ONNX Runtime's CPU RNN, LSTM and GRU have no double kernels: f64 layers are Scans.
            Recurrence::Auto => same && standard && flow.mask.is_none() && F::DTYPE == "float32",
            Recurrence::Native => {
                if !same {
                    return Err(refuse(
                        what.to_string(),
                        "two halves of one cell kind and options (one native op runs both directions); \
                         Recurrence::Auto or Scan exports the others",
                        "halves that differ",
                    ));
                }
                for a in halves[0].kind.activations().0 {
                    if !matches!(a, Activation::Tanh | Activation::Sigmoid | Activation::Relu) {
                        return Err(refuse(
                            format!("{what} activation"),
                            "tanh, sigmoid or relu for a native op (Recurrence::Auto or Scan exports the others)",
                            a,
                        ));
                    }
                }
                true
            }
            Recurrence::Scan => false,
        };
        // Initial states: graph inputs (D, B, H) in ONNX's direction order (the half reading
        // forwards first), or zeros.
        let d = halves.len();
        let h = halves[0].units;
        let has_c = halves.iter().any(|h| matches!(h.kind, CellKind::Lstm { .. }));
        let (init_h, init_c) = if self.opts.initial_states {
            let mk = |ex: &mut Self, part: &str| {
                let name = ex.g.fresh(&format!("{base}.initial_{part}"));
                ex.g.inputs.push(value_info(
                    &name,
                    elem_of::<F>(),
                    &[Dim::Fixed(d), Dim::Named("batch"), Dim::Fixed(h)],
                ));
                name
            };
            let ih = mk(self, "h");
            let ic = if has_c { Some(mk(self, "c")) } else { None };
            (Some(ih), ic)
        } else {
            if let Some(half) = halves.iter().find(|h| h.initial.is_some()) {
                let side = if d == 2 && half.aligned { " (backward half)" } else { "" };
                return Err(refuse(
                    format!("{what}{side} initial state"),
                    "none set (the exported graph starts from zeros), or ExportOptions::with_initial_states(true) \
                     to make initial states graph inputs",
                    "a state set with set_initial_state",
                ));
            }
            (None, None)
        };
        let outs = if native {
            self.native(&halves, &flow, seq, init_h.as_deref(), init_c.as_deref(), base)?
        } else {
            let mut outs = Vec::with_capacity(d);
            let zeros = if init_h.is_none() { Some(self.zeros(&flow.name, None, h, base)) } else { None };
            let mask3 = match &flow.mask {
                Some(m) => {
                    let axis = self.g.ints(&format!("{base}.axis"), &[2]);
                    Some(self.g.node("Unsqueeze", &[m, &axis], vec![], &format!("{base}.mask")))
                }
                None => None,
            };
            for half in &halves {
                let index = usize::from(d == 2 && half.backwards);
                let pick = |ex: &mut Self, s: &Option<String>| -> Option<String> {
                    s.as_ref().map(|s| {
                        let i = ex.g.init_i64(&format!("{base}.direction"), &[], &[index as i64]);
                        ex.g.node("Gather", &[s, &i], vec![attr_int("axis", 0)], base)
                    })
                };
                let h0 = pick(self, &init_h).or_else(|| zeros.clone()).unwrap_or_default();
                let c0 = if matches!(half.kind, CellKind::Lstm { .. }) {
                    pick(self, &init_c).or_else(|| zeros.clone())
                } else {
                    None
                };
                let hb = if d == 2 {
                    format!("{base}.{}", if half.aligned { "backward" } else { "forward" })
                } else {
                    base.to_string()
                };
                outs.push(self.scan(half, &flow.name, mask3.as_deref(), &h0, c0.as_deref(), seq, &hb)?);
            }
            outs
        };
        let y = match (merge, outs.as_slice()) {
            (None, [y]) => y.clone(),
            (Some(m), [f, b]) => {
                let mb = format!("{base}.merge");
                match m {
                    MergeMode::Concat => self.g.node("Concat", &[f, b], vec![attr_int("axis", -1)], &mb),
                    MergeMode::Sum => self.g.node("Add", &[f, b], vec![], &mb),
                    MergeMode::Mul => self.g.node("Mul", &[f, b], vec![], &mb),
                    MergeMode::Average => {
                        let s = self.g.node("Add", &[f, b], vec![], &mb);
                        let half = self.g.scalar_f(&format!("{mb}.half"), F::of(0.5));
                        self.g.node("Mul", &[&s, &half], vec![], &mb)
                    }
                }
            }
            _ => return Err(refuse(what.to_string(), "one or two halves", outs.len())),
        };
        // A layer without return_sequences ends the mask, as in the crate.
        let mask = if seq { flow.mask } else { None };
        Ok(Flow { name: y, time: seq, mask })
    }

    /// Zeros `(B, H)`, or `(D, B, H)` with `lead = Some(D)`, for a batch read off `x` `(B, T, I)`.
    fn zeros(&mut self, x: &str, lead: Option<usize>, h: usize, base: &str) -> String {
        let shape = self.g.node("Shape", &[x], vec![], base);
        let (s0, s1) = (self.g.ints(&format!("{base}.start"), &[0]), self.g.ints(&format!("{base}.end"), &[1]));
        let b = self.g.node("Slice", &[&shape, &s0, &s1], vec![], base);
        let hh = self.g.ints(&format!("{base}.units"), &[h as i64]);
        let bh = match lead {
            Some(d) => {
                let dd = self.g.ints(&format!("{base}.directions"), &[d as i64]);
                self.g.node("Concat", &[&dd, &b, &hh], vec![attr_int("axis", 0)], base)
            }
            None => self.g.node("Concat", &[&b, &hh], vec![attr_int("axis", 0)], base),
        };
        let zero = tensor_f::<F>("value", &[1], std::iter::once(F::zero()));
        self.g.node("ConstantOfShape", &[&bh], vec![attr_tensor("value", zero)], &format!("{base}.zeros"))
    }

    /// Reverses axis 1 (time) of `x`.
    fn reverse_time(&mut self, x: &str, base: &str) -> String {
        let starts = self.g.ints(&format!("{base}.rev_start"), &[-1]);
        let ends = self.g.ints(&format!("{base}.rev_end"), &[i64::MIN]);
        let axes = self.g.ints(&format!("{base}.rev_axis"), &[1]);
        let steps = self.g.ints(&format!("{base}.rev_step"), &[-1]);
        self.g.node("Slice", &[x, &starts, &ends, &axes, &steps], vec![], &format!("{base}.reverse"))
    }

    /// One native RNN/LSTM/GRU op for all halves; returns each half's output in the
    /// crate's order and alignment: `(B, T, H)` with return_sequences, else `(B, H)`.
    fn native(
        &mut self,
        halves: &[Half<F>],
        flow: &Flow,
        seq: bool,
        init_h: Option<&str>,
        init_c: Option<&str>,
        base: &str,
    ) -> Result<Vec<String>> {
        let kind = halves[0].kind;
        let (h, i, g) = (halves[0].units, halves[0].input, kind.gates());
        // ONNX's direction order: the half reading forwards first.
        let mut order: Vec<usize> = (0..halves.len()).collect();
        order.sort_by_key(|&k| halves[k].backwards);
        let d = halves.len();
        // A lone backwards layer reads the time-reversed input forwards: its outputs then come
        // in the crate's processing order as they are, and runtimes that ignore `direction`
        // for one direction (tract) still compute it. With sequence_lens the padding must stay
        // at the end, so there it is direction "reverse" and the outputs are flipped instead.
        let flip_input = d == 1 && halves[0].backwards && flow.mask.is_none();
        let direction = match (d, halves[0].backwards) {
            (2, _) => "bidirectional",
            (_, false) => "forward",
            (_, true) if flip_input => "forward",
            (_, true) => "reverse",
        };
        if d == 2 && halves[order[0]].backwards == halves[order[1]].backwards {
            return Err(refuse(base.to_string(), "halves reading in opposite directions", "both the same way"));
        }
        let blocks = kind.onnx_blocks();
        let (mut w, mut r, mut b) = (Vec::new(), Vec::new(), Vec::new());
        for &k in &order {
            let half = &halves[k];
            // W (G·H, I): row j·H + u is the crate's kernel column p·H + u, p = blocks[j].
            for &p in blocks {
                for u in 0..h {
                    w.extend((0..i).map(|ii| half.kernel[[ii, p * h + u]]));
                }
            }
            for &p in blocks {
                for u in 0..h {
                    r.extend((0..h).map(|hh| half.recurrent_kernel[[hh, p * h + u]]));
                }
            }
            // B = [Wb | Rb]: the crate's combined bias as Wb; the GRU's recurrent bias (or 0) as Rb.
            for &p in blocks {
                b.extend((0..h).map(|u| half.bias[p * h + u]));
            }
            for &p in blocks {
                b.extend((0..h).map(|u| half.recurrent_bias.as_ref().map_or(F::zero(), |rb| rb[p * h + u])));
            }
        }
        let w = self.g.init_f(&format!("{base}.W"), &[d, g * h, i], w.into_iter());
        let r = self.g.init_f(&format!("{base}.R"), &[d, g * h, h], r.into_iter());
        let b = self.g.init_f(&format!("{base}.B"), &[d, 2 * g * h], b.into_iter());
        let x = if flip_input { self.reverse_time(&flow.name, base) } else { flow.name.clone() };
        let xt = self.g.node("Transpose", &[&x], vec![attr_ints("perm", &[1, 0, 2])], base);
        let seq_lens = match &flow.mask {
            Some(m) => {
                let mi = self.g.node("Cast", &[m], vec![attr_int("to", DataType::Int32 as i64)], base);
                let axes = self.g.ints(&format!("{base}.axis"), &[1]);
                Some(self.g.node(
                    "ReduceSum",
                    &[&mi, &axes],
                    vec![attr_int("keepdims", 0)],
                    &format!("{base}.sequence_lens"),
                ))
            }
            None => None,
        };
        let mut attrs = vec![attr_int("hidden_size", h as i64), attr_string("direction", direction)];
        let (acts, standard) = kind.activations();
        if !standard {
            let names: Vec<&str> = (0..d)
                .flat_map(|_| acts.iter())
                .map(|a| match a {
                    Activation::Sigmoid => "Sigmoid",
                    Activation::Relu => "Relu",
                    _ => "Tanh",
                })
                .collect();
            attrs.push(attr_strings("activations", &names));
        }
        if let CellKind::Gru { reset_after, .. } = kind {
            attrs.push(attr_int("linear_before_reset", i64::from(reset_after)));
        }
        // Explicit zero initial states when none are given: a runtime's own default may be
        // float32 whatever X is (tract's is), or need a batch size known in advance.
        let zeros = if init_h.is_none() { Some(self.zeros(&flow.name, Some(d), h, base)) } else { None };
        let init_h = init_h.or(zeros.as_deref()).unwrap_or_default();
        let init_c = match kind {
            CellKind::Lstm { .. } => init_c.or(zeros.as_deref()),
            _ => None,
        };
        let mut inputs: Vec<&str> =
            vec![xt.as_str(), w.as_str(), r.as_str(), b.as_str(), seq_lens.as_deref().unwrap_or(""), init_h];
        if let Some(c) = init_c {
            inputs.push(c);
        }
        let y = self.g.fresh(&format!("{base}.Y"));
        let y_h = self.g.fresh(&format!("{base}.Y_h"));
        let outputs = if seq { vec![y.clone()] } else { vec![String::new(), y_h.clone()] };
        self.g.push(kind.op(), &inputs, &outputs, attrs, base);

        // Per ONNX direction: (B, T, H) from Y (T, D, B, H), or (B, H) from Y_h (D, B, H).
        let per_dir: Vec<String> = if seq {
            let yb = self.g.node("Transpose", &[&y], vec![attr_ints("perm", &[2, 0, 1, 3])], base);
            self.split_squeeze(&yb, 2, d, base)
        } else {
            self.split_squeeze(&y_h, 0, d, base)
        };
        let mut outs = vec![String::new(); d];
        for (dir, &k) in order.iter().enumerate() {
            let mut o = per_dir[dir].clone();
            if seq && halves[k].reversed() && !flip_input {
                o = self.reverse_time(&o, base);
            }
            outs[k] = o;
        }
        Ok(outs)
    }

    /// Splits `x` into `n` along `axis` and drops that axis.
    fn split_squeeze(&mut self, x: &str, axis: i64, n: usize, base: &str) -> Vec<String> {
        let axes = self.g.ints(&format!("{base}.axis"), &[axis]);
        let parts = if n == 1 {
            vec![x.to_string()]
        } else {
            self.g.node_n("Split", &[x], vec![attr_int("axis", axis)], base, n)
        };
        parts.iter().map(|p| self.g.node("Squeeze", &[p, &axes], vec![], base)).collect()
    }

    /// One half as a `Scan` whose body is the cell written out in ONNX ops (the crate's
    /// layout and gate order, weights read from the enclosing graph). Masked steps carry the
    /// state and output zeros, exactly as the crate skips them, for any mask.
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &mut self,
        half: &Half<F>,
        x: &str,
        mask3: Option<&str>,
        h0: &str,
        c0: Option<&str>,
        seq: bool,
        base: &str,
    ) -> Result<String> {
        let (h, i) = (half.units, half.input);
        let gh = half.kind.gates() * h;
        let wx = self.g.init_f(&format!("{base}.kernel"), &[i, gh], half.kernel.iter().copied());
        let bias = self.g.init_f(&format!("{base}.bias"), &[gh], half.bias.iter().copied());
        let cho = matches!(half.kind, CellKind::Gru { reset_after: false, .. });
        // Cho's GRU multiplies its candidate block itself: W_h as (H, 2H) and (H, H).
        let (wh, wh_n) = if cho {
            let rz = half.recurrent_kernel.slice(ndarray::s![.., ..2 * h]);
            let n = half.recurrent_kernel.slice(ndarray::s![.., 2 * h..]);
            (
                self.g.init_f(&format!("{base}.recurrent_kernel_rz"), &[h, 2 * h], rz.iter().copied()),
                Some(self.g.init_f(&format!("{base}.recurrent_kernel_n"), &[h, h], n.iter().copied())),
            )
        } else {
            (self.g.init_f(&format!("{base}.recurrent_kernel"), &[h, gh], half.recurrent_kernel.iter().copied()), None)
        };
        let rbias = half
            .recurrent_bias
            .as_ref()
            .map(|rb| self.g.init_f(&format!("{base}.recurrent_bias"), &[gh], rb.iter().copied()));
        // Constants only where the body uses them (runtimes warn about unused initialisers).
        let one = match half.kind {
            CellKind::Gru { .. } => self.g.scalar_f(&format!("{base}.one"), F::one()),
            _ => String::new(),
        };
        let zero = if mask3.is_some() { self.g.scalar_f(&format!("{base}.zero"), F::zero()) } else { String::new() };

        // The body shares the name set, so no body value shadows an outer one.
        let mut body = Graph { names: std::mem::take(&mut self.g.names), ..Graph::default() };
        let elem = elem_of::<F>();
        let bh = [Dim::Unknown, Dim::Fixed(h)];
        let b = format!("{base}.step");
        let h_prev = body.fresh(&format!("{b}.h_prev"));
        body.inputs.push(value_info(&h_prev, elem, &bh));
        let c_prev = c0.map(|_| {
            let n = body.fresh(&format!("{b}.c_prev"));
            body.inputs.push(value_info(&n, elem, &bh));
            n
        });
        let x_t = body.fresh(&format!("{b}.x"));
        body.inputs.push(value_info(&x_t, elem, &[Dim::Unknown, Dim::Fixed(i)]));
        let m_t = mask3.map(|_| {
            let n = body.fresh(&format!("{b}.mask"));
            body.inputs.push(value_info(&n, DataType::Bool, &[Dim::Unknown, Dim::Fixed(1)]));
            n
        });

        let gx = body.node("MatMul", &[&x_t, &wx], vec![], &b);
        let gx = body.node("Add", &[&gx, &bias], vec![], &b);
        let (h_new, c_new) = match half.kind {
            CellKind::Simple { act } => {
                let a = body.node("MatMul", &[&h_prev, &wh], vec![], &b);
                let a = body.node("Add", &[&gx, &a], vec![], &b);
                (Self::act(&mut body, act, &a, &b)?, None)
            }
            CellKind::Lstm { act, ract } => {
                let c_prev = c_prev.as_deref().unwrap_or_default();
                let z = body.node("MatMul", &[&h_prev, &wh], vec![], &b);
                let z = body.node("Add", &[&gx, &z], vec![], &b);
                let p = body.node_n("Split", &[&z], vec![attr_int("axis", 1)], &b, 4);
                let ig = Self::act(&mut body, ract, &p[0], &b)?;
                let fg = Self::act(&mut body, ract, &p[1], &b)?;
                let gg = Self::act(&mut body, act, &p[2], &b)?;
                let og = Self::act(&mut body, ract, &p[3], &b)?;
                let fc = body.node("Mul", &[&fg, c_prev], vec![], &b);
                let ig_gg = body.node("Mul", &[&ig, &gg], vec![], &b);
                let c = body.node("Add", &[&fc, &ig_gg], vec![], &b);
                let phi = Self::act(&mut body, act, &c, &b)?;
                (body.node("Mul", &[&og, &phi], vec![], &b), Some(c))
            }
            CellKind::Gru { act, ract, reset_after } => {
                let px = body.node_n("Split", &[&gx], vec![attr_int("axis", 1)], &b, 3);
                let ghh = body.node("MatMul", &[&h_prev, &wh], vec![], &b);
                let (r, z, n) = if reset_after {
                    let ghh = match &rbias {
                        Some(rb) => body.node("Add", &[&ghh, rb], vec![], &b),
                        None => ghh,
                    };
                    let ph = body.node_n("Split", &[&ghh], vec![attr_int("axis", 1)], &b, 3);
                    let r = body.node("Add", &[&px[0], &ph[0]], vec![], &b);
                    let r = Self::act(&mut body, ract, &r, &b)?;
                    let z = body.node("Add", &[&px[1], &ph[1]], vec![], &b);
                    let z = Self::act(&mut body, ract, &z, &b)?;
                    let rn = body.node("Mul", &[&r, &ph[2]], vec![], &b);
                    let n = body.node("Add", &[&px[2], &rn], vec![], &b);
                    (r, z, Self::act(&mut body, act, &n, &b)?)
                } else {
                    let ph = body.node_n("Split", &[&ghh], vec![attr_int("axis", 1)], &b, 2);
                    let r = body.node("Add", &[&px[0], &ph[0]], vec![], &b);
                    let r = Self::act(&mut body, ract, &r, &b)?;
                    let z = body.node("Add", &[&px[1], &ph[1]], vec![], &b);
                    let z = Self::act(&mut body, ract, &z, &b)?;
                    let rh = body.node("Mul", &[&r, &h_prev], vec![], &b);
                    let rhn = body.node("MatMul", &[&rh, wh_n.as_deref().unwrap_or_default()], vec![], &b);
                    let n = body.node("Add", &[&px[2], &rhn], vec![], &b);
                    (r, z, Self::act(&mut body, act, &n, &b)?)
                };
                let _ = r;
                // h' = (1 − z) ⊙ n + z ⊙ h
                let omz = body.node("Sub", &[&one, &z], vec![], &b);
                let a = body.node("Mul", &[&omz, &n], vec![], &b);
                let zh = body.node("Mul", &[&z, &h_prev], vec![], &b);
                (body.node("Add", &[&a, &zh], vec![], &b), None)
            }
        };
        // Masked steps: the state carries over and the output row is 0.
        let (h_out, c_out, y_t) = match &m_t {
            Some(m) => {
                let ho = body.node("Where", &[m, &h_new, &h_prev], vec![], &format!("{b}.h"));
                let co = match (&c_new, &c_prev) {
                    (Some(c), Some(cp)) => Some(body.node("Where", &[m, c, cp], vec![], &format!("{b}.c"))),
                    _ => None,
                };
                let y = body.node("Where", &[m, &h_new, &zero], vec![], &format!("{b}.y"));
                (ho, co, y)
            }
            None => {
                // Graph outputs are distinct values: the state and the output row.
                let y = body.node("Identity", &[&h_new], vec![], &format!("{b}.y"));
                (h_new, c_new, y)
            }
        };
        body.outputs.push(value_info(&h_out, elem, &bh));
        if let Some(c) = &c_out {
            body.outputs.push(value_info(c, elem, &bh));
        }
        if seq {
            body.outputs.push(value_info(&y_t, elem, &bh));
        }
        let n_states = 1 + usize::from(c_out.is_some());
        self.g.names = std::mem::take(&mut body.names);
        let body = body.into_proto(&format!("{base}_step"));

        let mut inputs: Vec<&str> = vec![h0];
        if let Some(c) = c0 {
            inputs.push(c);
        }
        inputs.push(x);
        if let Some(m) = mask3 {
            inputs.push(m);
        }
        let n_scan_in = 1 + usize::from(mask3.is_some());
        let dir_in = i64::from(half.backwards);
        let mut attrs = vec![
            attr_graph("body", body),
            attr_int("num_scan_inputs", n_scan_in as i64),
            attr_ints("scan_input_axes", &vec![1; n_scan_in]),
            attr_ints("scan_input_directions", &vec![dir_in; n_scan_in]),
        ];
        if seq {
            attrs.push(attr_ints("scan_output_axes", &[1]));
            // Processing order, or flipped back to input order for a Bidirectional's backward half.
            attrs.push(attr_ints("scan_output_directions", &[i64::from(half.aligned)]));
        }
        let outs = self.g.node_n("Scan", &inputs, attrs, base, n_states + usize::from(seq));
        Ok(if seq { outs[n_states].clone() } else { outs[0].clone() })
    }
}
