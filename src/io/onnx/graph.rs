//! A small ONNX graph builder over the prost types: unique value names, nodes, initialisers,
//! constants and typed inputs and outputs, and the structural check run before writing.

use std::collections::HashSet;

use super::pb::attribute_proto::AttributeType;
use super::pb::tensor_proto::DataType;
use super::pb::tensor_shape_proto::{dimension, Dimension};
use super::pb::type_proto;
use super::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use crate::error::{Error, Result};
use crate::float::Float;

/// One axis of a declared shape: a fixed size or a named dynamic one (`"batch"`, `"time"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dim {
    Fixed(usize),
    Named(&'static str),
    /// Left open (a `Scan` body's batch axis: a runtime may fix the outer `batch` to a size).
    Unknown,
}

/// The ONNX element type of `F`.
pub(super) fn elem_of<F: Float>() -> DataType {
    if F::DTYPE == "float32" {
        DataType::Float
    } else {
        DataType::Double
    }
}

fn to_i64(v: usize) -> i64 {
    // Sizes come from arrays that exist, so they are far below i64::MAX.
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn value_info(name: &str, elem: DataType, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: match *d {
                Dim::Fixed(n) => Some(dimension::Value::DimValue(to_i64(n))),
                Dim::Named(s) => Some(dimension::Value::DimParam(s.to_string())),
                Dim::Unknown => None,
            },
            denotation: None,
        })
        .collect();
    ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(TypeProto {
            denotation: None,
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
        }),
        ..Default::default()
    }
}

fn attr(name: &str, kind: AttributeType) -> AttributeProto {
    AttributeProto { name: Some(name.to_string()), r#type: Some(kind as i32), ..Default::default() }
}

pub(super) fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { i: Some(v), ..attr(name, AttributeType::Int) }
}

pub(super) fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { ints: v.to_vec(), ..attr(name, AttributeType::Ints) }
}

pub(super) fn attr_string(name: &str, v: &str) -> AttributeProto {
    AttributeProto { s: Some(v.as_bytes().to_vec()), ..attr(name, AttributeType::String) }
}

pub(super) fn attr_strings(name: &str, v: &[&str]) -> AttributeProto {
    AttributeProto { strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(), ..attr(name, AttributeType::Strings) }
}

pub(super) fn attr_graph(name: &str, g: GraphProto) -> AttributeProto {
    AttributeProto { g: Some(g), ..attr(name, AttributeType::Graph) }
}

pub(super) fn attr_tensor(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto { t: Some(t), ..attr(name, AttributeType::Tensor) }
}

/// A tensor of `F` (little-endian raw data, as ONNX stores it).
pub(super) fn tensor_f<F: Float>(name: &str, shape: &[usize], values: impl Iterator<Item = F>) -> TensorProto {
    let mut raw = Vec::with_capacity(shape.iter().product::<usize>() * if F::DTYPE == "float32" { 4 } else { 8 });
    for v in values {
        let v = v.to_f64_exact();
        if F::DTYPE == "float32" {
            // Exact: the value is an f32 widened to f64.
            raw.extend_from_slice(&(v as f32).to_le_bytes());
        } else {
            raw.extend_from_slice(&v.to_le_bytes());
        }
    }
    TensorProto {
        name: Some(name.to_string()),
        dims: shape.iter().map(|&d| to_i64(d)).collect(),
        data_type: Some(elem_of::<F>() as i32),
        raw_data: Some(raw),
        ..Default::default()
    }
}

pub(super) fn tensor_i64(name: &str, shape: &[usize], values: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.to_string()),
        dims: shape.iter().map(|&d| to_i64(d)).collect(),
        data_type: Some(DataType::Int64 as i32),
        raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

/// A graph (the main one or a `Scan` body) under construction. Value names are unique
/// across the main graph and its bodies: bodies borrow the main graph's name set.
#[derive(Debug, Default)]
pub(super) struct Graph {
    pub names: HashSet<String>,
    pub nodes: Vec<NodeProto>,
    pub initializers: Vec<TensorProto>,
    pub inputs: Vec<ValueInfoProto>,
    pub outputs: Vec<ValueInfoProto>,
}

impl Graph {
    /// A name not yet used, `base` itself when free, else `base_1`, `base_2`, …
    pub fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut i = 0usize;
        while self.names.contains(&name) {
            i += 1;
            name = format!("{base}_{i}");
        }
        self.names.insert(name.clone());
        name
    }

    /// Adds a node with `n_out` outputs named after `base`; returns the output names.
    pub fn node_n(
        &mut self,
        op: &str,
        inputs: &[&str],
        attrs: Vec<AttributeProto>,
        base: &str,
        n_out: usize,
    ) -> Vec<String> {
        let outputs: Vec<String> = (0..n_out)
            .map(|i| self.fresh(&if n_out == 1 { base.to_string() } else { format!("{base}_{i}") }))
            .collect();
        self.push(op, inputs, &outputs, attrs, base);
        outputs
    }

    /// Adds a node whose output names are given (`""` leaves an optional output out).
    pub fn push(&mut self, op: &str, inputs: &[&str], outputs: &[String], attrs: Vec<AttributeProto>, base: &str) {
        let name = self.fresh(&format!("{base}/{op}"));
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.to_vec(),
            name: Some(name),
            op_type: Some(op.to_string()),
            domain: None,
            attribute: attrs,
            ..Default::default()
        });
    }

    /// Adds a one-output node.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>, base: &str) -> String {
        self.node_n(op, inputs, attrs, base, 1).remove(0)
    }

    /// A weight or constant of `F`.
    pub fn init_f<F: Float>(&mut self, base: &str, shape: &[usize], values: impl Iterator<Item = F>) -> String {
        let name = self.fresh(base);
        self.initializers.push(tensor_f(&name, shape, values));
        name
    }

    /// A scalar of `F`.
    pub fn scalar_f<F: Float>(&mut self, base: &str, v: F) -> String {
        self.init_f(base, &[], std::iter::once(v))
    }

    /// An int64 constant.
    pub fn init_i64(&mut self, base: &str, shape: &[usize], values: &[i64]) -> String {
        let name = self.fresh(base);
        self.initializers.push(tensor_i64(&name, shape, values));
        name
    }

    /// An int64 vector constant.
    pub fn ints(&mut self, base: &str, values: &[i64]) -> String {
        self.init_i64(base, &[values.len()], values)
    }

    pub fn into_proto(self, name: &str) -> GraphProto {
        GraphProto {
            node: self.nodes,
            name: Some(name.to_string()),
            initializer: self.initializers,
            input: self.inputs,
            output: self.outputs,
            ..Default::default()
        }
    }
}

/// Checks ONNX's structural rules on a finished model: an opset import for the default
/// domain; in every graph (bodies included) values defined once (static single assignment,
/// no body value shadowing an outer one), every node input defined before the node (in
/// the graph or an enclosing one), node names unique, and every graph input and output
/// with an element type and a shape. A violation is a bug of the exporter, reported as
/// [`Error::Format`] rather than written out.
pub(super) fn check_model(model: &ModelProto) -> Result<()> {
    if !model.opset_import.iter().any(|o| o.domain.as_deref().unwrap_or("").is_empty() && o.version.is_some()) {
        return Err(Error::format("ONNX model", "an opset import for the default domain", "none"));
    }
    let graph = model.graph.as_ref().ok_or_else(|| Error::format("ONNX model", "a graph", "none"))?;
    let mut node_names = HashSet::new();
    check_graph(graph, &HashSet::new(), &mut node_names)
}

fn bad(what: &str, expected: &str, got: impl ToString) -> Error {
    Error::format(format!("exported ONNX graph {what}"), expected, got)
}

fn check_typed(v: &ValueInfoProto, what: &str) -> Result<String> {
    let name = v.name.clone().unwrap_or_default();
    let typed = matches!(
        v.r#type.as_ref().and_then(|t| t.value.as_ref()),
        Some(type_proto::Value::TensorType(type_proto::Tensor { elem_type: Some(e), shape: Some(_) })) if *e != 0
    );
    if name.is_empty() || !typed {
        return Err(bad(what, "a name, an element type and a shape", format!("`{name}` untyped")));
    }
    Ok(name)
}

fn check_graph(g: &GraphProto, outer: &HashSet<String>, node_names: &mut HashSet<String>) -> Result<()> {
    let mut defined: HashSet<String> = HashSet::new();
    let define = |name: &str, defined: &mut HashSet<String>| -> Result<()> {
        if name.is_empty() || outer.contains(name) || !defined.insert(name.to_string()) {
            return Err(bad("value", "a name defined once (SSA)", format!("`{name}` again")));
        }
        Ok(())
    };
    for v in &g.input {
        let name = check_typed(v, "input")?;
        define(&name, &mut defined)?;
    }
    for t in &g.initializer {
        let name = t.name.clone().unwrap_or_default();
        if t.data_type.unwrap_or(0) == 0 {
            return Err(bad("initializer", "an element type", format!("`{name}` without one")));
        }
        define(&name, &mut defined)?;
    }
    for n in &g.node {
        let node = n.name.clone().unwrap_or_default();
        if node.is_empty() || !node_names.insert(node.clone()) {
            return Err(bad("node name", "a unique name", format!("`{node}`")));
        }
        for i in &n.input {
            if !i.is_empty() && !defined.contains(i) && !outer.contains(i) {
                return Err(bad("node input", "a value defined before its use", format!("`{i}` in {node}")));
            }
        }
        let mut scope: HashSet<String> = outer.clone();
        scope.extend(defined.iter().cloned());
        for a in &n.attribute {
            if let Some(body) = &a.g {
                check_graph(body, &scope, node_names)?;
            }
        }
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            define(o, &mut defined)?;
        }
    }
    for v in &g.output {
        let name = check_typed(v, "output")?;
        if !defined.contains(&name) {
            return Err(bad("output", "a value the graph defines", format!("`{name}`")));
        }
    }
    Ok(())
}
