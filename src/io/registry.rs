//! The layer kinds a model file can hold: a [`Registry`] maps each kind name to the functions
//! that write a layer's configuration, check a file's weights against it and build the layer
//! back. [`Registry::new`] holds the crate's own kinds, registered through the same public
//! methods a program uses for its own:
//!
//! * [`Registry::register_cell`] for a [`Cell`] of your own: its layer, `Recurrent<F, MyCell>`,
//!   is saved under the cell's kind with [`RecurrentConfig<MyCell>`] as its configuration, and
//!   can be a [`crate::Bidirectional`]'s half. This is how the LSTM and the GRU are registered.
//! * [`Registry::register`] for a layer type of your own that implements [`Persist`] (how
//!   `Dense`, `Embedding`, `Masking` and `Bidirectional` are registered), or
//!   [`Registry::register_recurrent`] if it is a [`RecurrentLayer`] that may be a
//!   Bidirectional's half (how `SimpleRNN` is registered).
//!
//! Then [`Registry::save`] and [`Registry::load`] (and the `to_vec`/`from_slice` and
//! `_with_optimizer` variants) read and write the format of [`crate::io::json`], with the
//! same checks for every kind: unknown configuration fields refused, every weight's name and
//! shape checked against the configuration before anything is allocated, every value finite.
//! The free functions of [`crate::io::json`] use `Registry::new()`; a file holding a kind the
//! registry does not know is an [`Error::Format`] that lists the kinds it does.
//!
//! # Example: a cell of your own, saved and loaded
//!
//! A cell needs `Default` (the registry asks it its kind) and serde (its options are the
//! `"cell"` field of the layer's configuration). Here, an Elman cell with a fixed `tanh`:
//!
//! ```
//! use recurrent::io::Registry;
//! use recurrent::layers::recurrent::{BackwardStep, Cell, ForwardStep, Init, ParamSpec, RecurrentConfig, Role};
//! use recurrent::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, Default, Serialize, Deserialize)]
//! struct Elman {}
//!
//! impl<F: Float> Cell<F> for Elman {
//!     fn kind(&self) -> &'static str {
//!         "Elman"
//!     }
//!     fn default_name(&self) -> &'static str {
//!         "elman"
//!     }
//!     fn gates(&self) -> usize {
//!         1
//!     }
//!     fn params(&self, input_size: usize, units: usize) -> Vec<ParamSpec> {
//!         vec![
//!             ParamSpec::new("kernel", vec![input_size, units], Init::GlorotUniform, Role::InputKernel),
//!             ParamSpec::new("recurrent_kernel", vec![units, units], Init::Orthogonal, Role::RecurrentKernel),
//!             ParamSpec::new("bias", vec![units], Init::Zeros, Role::InputBias),
//!         ]
//!     }
//!     fn forward_step(&self, s: ForwardStep<'_, F>) {
//!         // gx = x_t W_x + b + h_{t−1} W_h, summed by the loop.
//!         Activation::Tanh.apply_rows_into(s.gx, s.h, s.units);
//!     }
//!     fn backward_step(&self, s: BackwardStep<'_, F>) {
//!         s.dgx.copy_from_slice(s.dh);
//!         Activation::Tanh.backward_rows_inplace(s.h, s.dgx, s.units);
//!         s.dh_prev.fill(F::zero()); // h_{t−1} reaches h_t only through W_h (the loop's part)
//!     }
//! }
//!
//! let mut registry = Registry::<f64>::new();
//! registry.register_cell::<Elman>()?;
//!
//! let mut rng = StdRng::seed_from_u64(0);
//! let mut model = Sequential::<f64>::new(&[4, 2])?;
//! model.add(RecurrentConfig::of(Elman::default(), 2, 3).with_return_sequences(true).init(&mut rng)?)?;
//! // A cell of your own can be a Bidirectional's half too.
//! let half = RecurrentConfig::of(Elman::default(), 3, 2).init::<f64, _>(&mut rng)?;
//! model.add(Bidirectional::new(half, MergeMode::Concat, &mut rng)?)?;
//!
//! let bytes = registry.to_vec(&model)?;
//! let mut back = registry.from_slice(&bytes)?;
//! let x = ndarray::Array3::from_shape_fn((2, 4, 2), |(b, t, i)| (b + t + i) as f64 / 4.0);
//! assert_eq!(back.predict(&x)?, model.predict(&x)?);
//!
//! // The crate's own loader does not know the kind, and says which ones it does.
//! let err = recurrent::io::json::from_slice::<f64>(&bytes).unwrap_err();
//! assert!(err.to_string().contains("\"Elman\""), "{err}");
//! # Ok::<(), recurrent::Error>(())
//! ```

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::io::context::within;
use crate::io::json;
use crate::layers::recurrent::{Cell, Recurrent, RecurrentConfig};
use crate::layers::{Layer, RecurrentLayer};
use crate::limits;
use crate::model::Sequential;

/// The name and shape of each parameter of a layer, in the order of its parameter visitor
/// ([`crate::Params::visit_params`]): what a model file's `"weights"` must hold.
pub type ParamShapes = Vec<(String, Vec<usize>)>;

/// What a layer type needs to be saved in and loaded from a model file: its kind, its
/// configuration (which rebuilds it, weights aside), the shapes of its parameters for a
/// configuration, and a layer built from a configuration.
///
/// Loading runs `param_shapes` first and checks the file's weights against it, so a
/// configuration claiming huge sizes is refused before `from_config` allocates anything;
/// then `from_config` builds the layer and the file's weights are copied into it through
/// the parameter visitor. Saving runs `config` and `param_shapes` and checks the layer's
/// parameters against the shapes before anything is written.
///
/// Every method gets the [`Registry`] the file is read or written with, for layers that hold
/// other layers (a [`crate::Bidirectional`] looks its halves up there with
/// [`Registry::describe`], [`Registry::param_shapes`] and [`Registry::build_recurrent`]).
/// Layers that hold none ignore it.
///
/// For a [`Cell`] of your own there is nothing to implement: see [`Registry::register_cell`].
///
/// A frozen layer's flag ([`Layer::set_trainable`]) is written beside the configuration, not
/// in it, and set again after loading, so the configuration never carries it. A layer type of
/// your own is frozen, and saved frozen, if it implements [`Layer::trainable`] and
/// [`Layer::set_trainable`]; with their defaults it is always trainable.
///
/// # Example
/// ```
/// use ndarray::{ArrayD, ArrayViewD};
/// use recurrent::io::{ParamShapes, Persist, Registry};
/// use recurrent::layers::{ParamMut, ParamRef};
/// use recurrent::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// /// Multiplies each feature by a learned scale.
/// #[derive(Debug)]
/// struct Scale {
///     name: String,
///     scale: ArrayD<f64>,
///     grad: ArrayD<f64>,
///     input: Option<ArrayD<f64>>,
/// }
///
/// #[derive(Serialize, Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct ScaleConfig {
///     features: usize,
/// }
///
/// impl Params<f64> for Scale {
///     fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, f64>)) {
///         f(ParamRef { name: "scale", value: self.scale.view(), grad: self.grad.view() });
///     }
///     fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, f64>)) {
///         f(ParamMut { name: "scale", value: self.scale.view_mut(), grad: self.grad.view_mut() });
///     }
/// }
///
/// impl Layer<f64> for Scale {
///     fn kind(&self) -> &'static str {
///         "Scale"
///     }
///     fn name(&self) -> &str {
///         &self.name
///     }
///     fn set_name(&mut self, name: String) {
///         self.name = name;
///     }
///     fn input_spec(&self) -> Vec<Option<usize>> {
///         vec![Some(self.scale.len())]
///     }
///     fn output_shape(&self, input: &[usize]) -> recurrent::Result<Vec<usize>> {
///         Ok(input.to_vec()) // a real layer checks it
///     }
///     fn forward(&mut self, x: ArrayViewD<'_, f64>, mode: Mode) -> recurrent::Result<ArrayD<f64>> {
///         self.input = (mode == Mode::Train).then(|| x.to_owned());
///         Ok(&x * &self.scale)
///     }
///     fn backward(&mut self, dy: ArrayViewD<'_, f64>) -> recurrent::Result<ArrayD<f64>> {
///         let x = self.input.as_ref().ok_or(recurrent::Error::NoForwardCache { layer: self.name.clone() })?;
///         self.grad += &(&dy * x).sum_axis(ndarray::Axis(0));
///         Ok(&dy * &self.scale)
///     }
///     fn clear_cache(&mut self) {
///         self.input = None;
///     }
///     fn has_cache(&self) -> bool {
///         self.input.is_some()
///     }
/// }
///
/// impl Persist<f64> for Scale {
///     const KIND: &'static str = "Scale";
///     type Config = ScaleConfig;
///
///     fn config(&self, _: &Registry<f64>) -> recurrent::Result<ScaleConfig> {
///         Ok(ScaleConfig { features: self.scale.len() })
///     }
///     fn param_shapes(c: &ScaleConfig, _: &Registry<f64>) -> recurrent::Result<ParamShapes> {
///         Ok(vec![("scale".to_string(), vec![c.features])])
///     }
///     fn from_config(c: &ScaleConfig, _: &Registry<f64>) -> recurrent::Result<Self> {
///         // Placeholder weights: loading sets them from the file right after.
///         let zeros = ArrayD::zeros(vec![c.features]);
///         Ok(Scale { name: "scale".into(), scale: zeros.clone(), grad: zeros, input: None })
///     }
/// }
///
/// let mut registry = Registry::new();
/// registry.register::<Scale>()?;
/// let mut model = Sequential::<f64>::new(&[2])?;
/// let scale = ndarray::arr1(&[0.5, -2.0]).into_dyn();
/// model.add(Scale { name: "scale".into(), grad: scale.clone() * 0.0, scale, input: None })?;
/// let back = registry.from_slice(&registry.to_vec(&model)?)?;
/// assert_eq!(back.layer_as::<Scale>(0).map(|s| s.scale.clone()), Some(ndarray::arr1(&[0.5, -2.0]).into_dyn()));
/// # Ok::<(), recurrent::Error>(())
/// ```
pub trait Persist<F: Float>: Layer<F> + Sized {
    /// The kind the file names, the same as [`Layer::kind`] returns for every layer of the
    /// type (a layer built for a kind that says another is refused on load).
    const KIND: &'static str;

    /// The serde form of the configuration. Fields serde would skip as unknown are refused on
    /// load whether or not the type says `#[serde(deny_unknown_fields)]`.
    type Config: Serialize + DeserializeOwned;

    /// The configuration that rebuilds this layer (weights aside).
    ///
    /// # Errors
    /// Whatever keeps the layer from being described (for a wrapper, an inner layer of a
    /// kind the registry does not know).
    fn config(&self, registry: &Registry<F>) -> Result<Self::Config>;

    /// Name and shape of every parameter for `config`, in the order of the parameter
    /// visitor. Must not allocate in proportion to the sizes (loading calls it before it
    /// trusts them).
    ///
    /// # Errors
    /// A configuration whose sizes cannot be held ([`Error::TooLarge`], see
    /// [`crate::limits`]) or that is otherwise refused.
    fn param_shapes(config: &Self::Config, registry: &Registry<F>) -> Result<ParamShapes>;

    /// A layer of this configuration with placeholder weights (zeros, say): loading sets
    /// every parameter from the file right after.
    ///
    /// # Errors
    /// A configuration the layer refuses ([`Error::InvalidConfig`] for zero units...).
    fn from_config(config: &Self::Config, registry: &Registry<F>) -> Result<Self>;
}

type Describe<F> = fn(&Registry<F>, &dyn Any) -> Option<Result<Value>>;
type Shapes<F> = fn(&Registry<F>, &Value) -> Result<ParamShapes>;
type Build<F> = fn(&Registry<F>, &Value) -> Result<Box<dyn Layer<F>>>;
type BuildRecurrent<F> = fn(&Registry<F>, &Value) -> Result<Box<dyn RecurrentLayer<F>>>;

/// One kind's persistence functions, without the type.
struct Codec<F: Float> {
    kind: &'static str,
    /// The configuration of a layer of this kind (`None` if it is not of the registered type).
    describe: Describe<F>,
    /// Parameter names and shapes for a configuration.
    shapes: Shapes<F>,
    /// A fresh layer for a configuration.
    build: Build<F>,
    /// The same as a recurrent layer, for kinds that can be a Bidirectional's half.
    build_recurrent: Option<BuildRecurrent<F>>,
}

impl<F: Float> Clone for Codec<F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F: Float> Copy for Codec<F> {}

/// How a kind is persisted, as types: a [`Persist`] layer, or a cell's [`Recurrent`] layer.
/// (A blanket impl over `Persist` next to one over cells would overlap for the compiler, so
/// each path has its own marker type.)
trait Scheme<F: Float>: 'static {
    type Layer: Layer<F>;
    type Config: Serialize + DeserializeOwned;
    fn config(layer: &Self::Layer, r: &Registry<F>) -> Result<Self::Config>;
    fn shapes(config: &Self::Config, r: &Registry<F>) -> Result<ParamShapes>;
    fn build(config: &Self::Config, r: &Registry<F>) -> Result<Self::Layer>;
}

struct ByTrait<L>(PhantomData<fn() -> L>);

impl<F: Float, L: Persist<F>> Scheme<F> for ByTrait<L> {
    type Layer = L;
    type Config = L::Config;

    fn config(layer: &L, r: &Registry<F>) -> Result<L::Config> {
        layer.config(r)
    }

    fn shapes(config: &L::Config, r: &Registry<F>) -> Result<ParamShapes> {
        L::param_shapes(config, r)
    }

    fn build(config: &L::Config, r: &Registry<F>) -> Result<L> {
        L::from_config(config, r)
    }
}

struct ByCell<C>(PhantomData<fn() -> C>);

impl<F: Float, C: Cell<F> + Serialize + DeserializeOwned> Scheme<F> for ByCell<C> {
    type Layer = Recurrent<F, C>;
    type Config = RecurrentConfig<C>;

    fn config(layer: &Recurrent<F, C>, _: &Registry<F>) -> Result<RecurrentConfig<C>> {
        Ok(layer.config())
    }

    fn shapes(c: &RecurrentConfig<C>, _: &Registry<F>) -> Result<ParamShapes> {
        cell_shapes::<F, C>(&c.cell, c.input_size, c.units)
    }

    fn build(c: &RecurrentConfig<C>, _: &Registry<F>) -> Result<Recurrent<F, C>> {
        c.zeroed()
    }
}

/// A cell's parameter list for `input` features and `units` units, every size checked
/// against the limit first (the cell computes its shapes from these sizes).
pub(crate) fn cell_shapes<F: Float, C: Cell<F>>(cell: &C, input: usize, units: usize) -> Result<ParamShapes> {
    limits::mul(format_args!("{} gate columns (G·H)", cell.kind()), cell.gates(), units)?;
    cell.params(input, units)
        .into_iter()
        .map(|s| {
            limits::elements(format_args!("{} {}", cell.kind(), s.name), &s.shape)?;
            Ok((s.name, s.shape))
        })
        .collect()
}

fn describe_as<F: Float, S: Scheme<F>>(r: &Registry<F>, any: &dyn Any) -> Option<Result<Value>> {
    let layer = any.downcast_ref::<S::Layer>()?;
    Some(
        S::config(layer, r).and_then(|c| {
            serde_json::to_value(c).map_err(|e| Error::format("layer config", "a value JSON can hold", e))
        }),
    )
}

/// The configuration in `v`, refusing fields serde would skip.
fn parse_as<F: Float, S: Scheme<F>>(v: &Value) -> Result<S::Config> {
    let name = json::short_type_name::<S::Config>();
    let config: S::Config =
        serde_json::from_value(v.clone()).map_err(|e| Error::format("config", format!("a valid {name}"), e))?;
    let again = serde_json::to_value(&config).map_err(|e| Error::format("config", "a value JSON can hold", e))?;
    let extra = json::ignored_fields::<S::Config>(v, &again);
    if !extra.is_empty() {
        return Err(Error::format("config", format!("only the fields of {name}"), format!("unknown {extra:?}")));
    }
    Ok(config)
}

fn shapes_as<F: Float, S: Scheme<F>>(r: &Registry<F>, v: &Value) -> Result<ParamShapes> {
    S::shapes(&parse_as::<F, S>(v)?, r)
}

fn build_as<F: Float, S: Scheme<F>>(r: &Registry<F>, v: &Value) -> Result<Box<dyn Layer<F>>> {
    Ok(Box::new(S::build(&parse_as::<F, S>(v)?, r)?))
}

fn build_recurrent_as<F: Float, S: Scheme<F>>(r: &Registry<F>, v: &Value) -> Result<Box<dyn RecurrentLayer<F>>>
where
    S::Layer: RecurrentLayer<F>,
{
    Ok(Box::new(S::build(&parse_as::<F, S>(v)?, r)?))
}

/// The layer kinds a model file may hold, and how each is written and read back.
///
/// [`Registry::new`] (also `Default`) knows the crate's kinds ([`json::KINDS`]); add yours
/// with [`Registry::register_cell`], [`Registry::register`] or
/// [`Registry::register_recurrent`], then save and load with the registry's methods. See the
/// [module docs](self) for an example.
pub struct Registry<F: Float> {
    /// In registration order (the order error messages list them in).
    codecs: Vec<Codec<F>>,
}

impl<F: Float> Clone for Registry<F> {
    fn clone(&self) -> Self {
        Registry { codecs: self.codecs.clone() }
    }
}

impl<F: Float> fmt::Debug for Registry<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").field("dtype", &F::DTYPE).field("kinds", &self.kinds()).finish()
    }
}

impl<F: Float> Default for Registry<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Float> Registry<F> {
    /// A registry of the crate's own layer kinds ([`json::KINDS`]).
    pub fn new() -> Self {
        let mut registry = Self::empty();
        let built_in = json::register_built_ins(&mut registry);
        // The built-in kinds are distinct (a unit test registers them): this cannot fail.
        debug_assert!(built_in.is_ok(), "{built_in:?}");
        registry
    }

    /// A registry that knows no kind: for a program that accepts only the kinds it registers.
    pub fn empty() -> Self {
        Registry { codecs: Vec::new() }
    }

    fn add(&mut self, codec: Codec<F>) -> Result<&mut Self> {
        let kind = codec.kind;
        if kind.is_empty() {
            return Err(Error::config("registered layer kind", "a non-empty name", "\"\""));
        }
        if self.contains(kind) {
            return Err(Error::config(
                "registered layer kind",
                "a kind not registered yet",
                format!("{kind:?}, which is registered already"),
            ));
        }
        self.codecs.push(codec);
        Ok(self)
    }

    /// Registers the layer type `L` under [`Persist::KIND`].
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the kind if it is registered already (or empty).
    pub fn register<L: Persist<F>>(&mut self) -> Result<&mut Self> {
        self.add(Codec {
            kind: L::KIND,
            describe: describe_as::<F, ByTrait<L>>,
            shapes: shapes_as::<F, ByTrait<L>>,
            build: build_as::<F, ByTrait<L>>,
            build_recurrent: None,
        })
    }

    /// Registers the recurrent layer type `L` under [`Persist::KIND`], as a kind that can
    /// also be a [`crate::Bidirectional`]'s half.
    ///
    /// # Errors
    /// As [`Registry::register`].
    pub fn register_recurrent<L: Persist<F> + RecurrentLayer<F>>(&mut self) -> Result<&mut Self> {
        self.add(Codec {
            kind: L::KIND,
            describe: describe_as::<F, ByTrait<L>>,
            shapes: shapes_as::<F, ByTrait<L>>,
            build: build_as::<F, ByTrait<L>>,
            build_recurrent: Some(build_recurrent_as::<F, ByTrait<L>>),
        })
    }

    /// Registers the layer of the cell `C`, [`Recurrent<F, C>`], under the cell's kind
    /// (`C::default().kind()`, which must not depend on the cell's options), as a kind that
    /// can also be a [`crate::Bidirectional`]'s half.
    ///
    /// Its configuration in a file is [`RecurrentConfig<C>`] (the cell's options under
    /// `"cell"`), its weights are the cell's [`Cell::params`] for the configuration's sizes,
    /// and a loaded layer starts from zeros before the file's weights are set, so nothing is
    /// drawn. This is the path for cells written outside the crate, for which the orphan
    /// rule forbids implementing [`Persist`] on `Recurrent<F, C>`.
    ///
    /// # Errors
    /// As [`Registry::register`].
    pub fn register_cell<C>(&mut self) -> Result<&mut Self>
    where
        C: Cell<F> + Default + Serialize + DeserializeOwned,
    {
        self.add(Codec {
            kind: C::default().kind(),
            describe: describe_as::<F, ByCell<C>>,
            shapes: shapes_as::<F, ByCell<C>>,
            build: build_as::<F, ByCell<C>>,
            build_recurrent: Some(build_recurrent_as::<F, ByCell<C>>),
        })
    }

    /// The registered kinds, in registration order.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.codecs.iter().map(|c| c.kind).collect()
    }

    /// Whether `kind` is registered.
    pub fn contains(&self, kind: &str) -> bool {
        self.codec(kind).is_some()
    }

    /// Whether `kind` is registered as a recurrent kind (one that can be a
    /// [`crate::Bidirectional`]'s half).
    pub fn is_recurrent(&self, kind: &str) -> bool {
        self.codec(kind).is_some_and(|c| c.build_recurrent.is_some())
    }

    fn codec(&self, kind: &str) -> Option<&Codec<F>> {
        self.codecs.iter().find(|c| c.kind == kind)
    }

    fn unknown(&self, kind: &str) -> Error {
        Error::format("kind", format!("one of {:?}", self.kinds()), format!("{kind:?}"))
    }

    /// The configuration of `layer` as it goes into a file, found by its [`Layer::kind`].
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the kind is not registered, or is registered for another
    /// type; whatever the kind's [`Persist::config`] returns.
    pub fn describe(&self, layer: &dyn Layer<F>) -> Result<Value> {
        self.describe_at(&format!("layer {} ({})", layer.name(), layer.kind()), layer)
    }

    /// [`Registry::describe`], errors prefixed with `ctx`.
    pub(crate) fn describe_at(&self, ctx: &str, layer: &dyn Layer<F>) -> Result<Value> {
        let kind = layer.kind();
        let codec = self.codec(kind).ok_or_else(|| {
            Error::config(
                format!("{ctx} for a model file"),
                format!("a layer of a registered kind, one of {:?}", self.kinds()),
                format!("{kind:?}"),
            )
        })?;
        let described = (codec.describe)(self, layer as &dyn Any).unwrap_or_else(|| {
            Err(Error::config(
                "for a model file",
                format!("a layer of the type registered for kind {kind:?}"),
                "a layer of another type with that kind",
            ))
        });
        described.map_err(|e| within(ctx, e))
    }

    /// The parameter names and shapes a layer of `kind` with `config` has, in visiting order,
    /// each size checked against the limit; nothing in proportion to them is allocated.
    ///
    /// # Errors
    /// [`Error::Format`] for an unknown kind, a configuration serde cannot read or with
    /// fields the kind does not know; [`Error::TooLarge`] for sizes over the limit;
    /// whatever the kind's [`Persist::param_shapes`] returns.
    pub fn param_shapes(&self, kind: &str, config: &Value) -> Result<ParamShapes> {
        let codec = self.codec(kind).ok_or_else(|| self.unknown(kind))?;
        (codec.shapes)(self, config)
    }

    /// A layer of `kind` built from `config`, with placeholder weights.
    ///
    /// # Errors
    /// As [`Registry::param_shapes`], and whatever the kind's [`Persist::from_config`]
    /// returns; [`Error::Format`] if the layer built says another kind.
    pub fn build(&self, kind: &str, config: &Value) -> Result<Box<dyn Layer<F>>> {
        let codec = self.codec(kind).ok_or_else(|| self.unknown(kind))?;
        let layer = (codec.build)(self, config)?;
        check_kind(kind, layer.kind())?;
        Ok(layer)
    }

    /// A recurrent layer of `kind` built from `config`, with placeholder weights (a
    /// [`crate::Bidirectional`]'s half).
    ///
    /// # Errors
    /// As [`Registry::build`]; [`Error::Format`] if `kind` is not registered as recurrent.
    pub fn build_recurrent(&self, kind: &str, config: &Value) -> Result<Box<dyn RecurrentLayer<F>>> {
        let build = self.codec(kind).and_then(|c| c.build_recurrent).ok_or_else(|| self.not_recurrent(kind))?;
        let layer = build(self, config)?;
        check_kind(kind, layer.kind())?;
        Ok(layer)
    }

    /// The error for a kind that is not a registered recurrent kind.
    pub(crate) fn not_recurrent(&self, kind: &str) -> Error {
        let recurrent: Vec<&str> = self.codecs.iter().filter(|c| c.build_recurrent.is_some()).map(|c| c.kind).collect();
        Error::format("kind", format!("a recurrent layer kind, one of {recurrent:?}"), format!("{kind:?}"))
    }

    /// Saves `model` to `path` in the format of [`crate::io::json`], atomically (as
    /// [`json::save`], which is this with `Registry::new()`).
    ///
    /// # Errors
    /// As [`json::save`]; [`Error::InvalidConfig`] for a layer of a kind this registry does
    /// not know.
    pub fn save(&self, model: &Sequential<F>, path: impl AsRef<Path>) -> Result<()> {
        json::save_with(self, model, None::<&()>, path.as_ref())
    }

    /// As [`Registry::save`], with an optimiser's state (see [`json::save_with_optimizer`]).
    ///
    /// # Errors
    /// As [`json::save_with_optimizer`].
    pub fn save_with_optimizer<S: Serialize + ?Sized>(
        &self,
        model: &Sequential<F>,
        optimizer: &S,
        path: impl AsRef<Path>,
    ) -> Result<()> {
        json::save_with(self, model, Some(optimizer), path.as_ref())
    }

    /// The bytes [`Registry::save`] would write.
    ///
    /// # Errors
    /// As [`Registry::save`], without the I/O.
    pub fn to_vec(&self, model: &Sequential<F>) -> Result<Vec<u8>> {
        json::to_vec_with(self, model, None::<&()>)
    }

    /// The bytes [`Registry::save_with_optimizer`] would write.
    ///
    /// # Errors
    /// As [`Registry::save_with_optimizer`], without the I/O.
    pub fn to_vec_with_optimizer<S: Serialize + ?Sized>(
        &self,
        model: &Sequential<F>,
        optimizer: &S,
    ) -> Result<Vec<u8>> {
        json::to_vec_with(self, model, Some(optimizer))
    }

    /// Loads a model file whose kinds this registry knows (see [`json::load`]).
    ///
    /// # Errors
    /// As [`json::load`]; a kind this registry does not know is an [`Error::Format`]
    /// listing the ones it does.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Sequential<F>> {
        self.from_slice(&crate::io::file::read(path.as_ref())?)
    }

    /// Loads a model and the optimiser state saved with it (see [`json::load_with_optimizer`]).
    ///
    /// # Errors
    /// As [`json::load_with_optimizer`] and [`Registry::load`].
    pub fn load_with_optimizer<S: Serialize + DeserializeOwned>(
        &self,
        path: impl AsRef<Path>,
    ) -> Result<(Sequential<F>, Option<S>)> {
        self.from_slice_with_optimizer(&crate::io::file::read(path.as_ref())?)
    }

    /// Reads a model from the bytes of a model file (see [`json::from_slice`]).
    ///
    /// # Errors
    /// As [`json::from_slice`] and [`Registry::load`].
    pub fn from_slice(&self, bytes: &[u8]) -> Result<Sequential<F>> {
        Ok(json::read_model(self, bytes)?.0)
    }

    /// Reads a model and its optimiser state from the bytes of a model file.
    ///
    /// # Errors
    /// As [`json::from_slice_with_optimizer`] and [`Registry::load`].
    pub fn from_slice_with_optimizer<S: Serialize + DeserializeOwned>(
        &self,
        bytes: &[u8],
    ) -> Result<(Sequential<F>, Option<S>)> {
        let (model, state) = json::read_model(self, bytes)?;
        let state = match state {
            Some(v) => Some(json::optimizer_state(v)?),
            None => None,
        };
        Ok((model, state))
    }
}

fn check_kind(kind: &str, built: &str) -> Result<()> {
    if built == kind {
        Ok(())
    } else {
        Err(Error::format(
            "layer built for its kind",
            format!("a layer that says kind {kind:?}"),
            format!("one that says {built:?} (a registered type whose Layer::kind disagrees with its registration)"),
        ))
    }
}
