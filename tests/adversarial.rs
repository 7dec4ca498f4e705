//! An adversarial sweep of the public API: bad input of every kind, at every public
//! constructor, layer method, loss, optimiser, data helper, metric and loader, each case
//! asserting the specific [`Error`] variant (and, where it helps, a fragment of the message
//! naming what was expected), and that nothing the caller had changed.
//!
//! Every case runs in its own process (this test binary run again with
//! `RECURRENT_ADVERSARIAL_CASE=<name>`) under a 1 GiB address-space cap (`ulimit -v`), so a
//! case that panics, aborts on a failed allocation or hangs fails alone, with its name and
//! what happened, and a size that would need terabytes can never reach the machine's
//! memory. Under the cap, a buffer the crate tries to reserve beyond it is refused by the
//! system: the crate must say so with `Error::OutOfMemory`, or `Error::TooLarge` when the
//! size is over `recurrent::limits::MAX_ELEMENTS` before anything is reserved.
//!
//! `RECURRENT_ADVERSARIAL_ONLY=<substring>` limits the sweep to the cases whose names contain
//! it, e.g. `RECURRENT_ADVERSARIAL_ONLY=masking cargo test --release --test adversarial`. A
//! child refuses to run a case without an address-space cap (Linux), so a case that would
//! fill memory never runs uncapped by accident.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ndarray::{array, Array2, Array3, ArrayD, IxDyn};
use recurrent::io::{json, torch};
use recurrent::metrics::{self, Average, ConfusionMatrix, ZeroDivision};
use recurrent::prelude::*;
use recurrent::{clip_grad_norm, clip_grad_value, Recurrent, SimpleRnnCell};
use serde_json::{json, Value};

// ───────────────────────────── the harness ─────────────────────────────

/// What a case found: `Ok` if the API behaved as it must, else what it did instead.
type Outcome = std::result::Result<(), String>;

struct Case {
    name: &'static str,
    run: fn() -> Outcome,
}

const CASE_ENV: &str = "RECURRENT_ADVERSARIAL_CASE";
const ONLY_ENV: &str = "RECURRENT_ADVERSARIAL_ONLY";
const MARK: &str = "ADVERSARIAL-CASE-RESULT: ";
/// The child's address-space cap in KiB (1 GiB).
const CAP_KIB: u64 = 1 << 20;
/// A case still running after this long is reported as hanging (no case needs a second).
const HANG: Duration = Duration::from_secs(120);

/// `Ok(())` if `$result` is an `Err` matching `$pat` whose message contains every fragment,
/// else a description of what came instead. Returns from the enclosing case on mismatch.
macro_rules! expect_err {
    ($result:expr, $pat:pat) => {
        expect_err!($result, $pat, [])
    };
    ($result:expr, $pat:pat, [$($frag:expr),* $(,)?]) => {
        match $result {
            Err(err) => {
                if !matches!(err, $pat) {
                    return Err(format!("expected {}, got {err:?}", stringify!($pat)));
                }
                let msg = err.to_string();
                $(
                    if !msg.contains($frag) {
                        return Err(format!("the message {msg:?} should contain {:?}", $frag));
                    }
                )*
                drop(msg);
            }
            Ok(v) => return Err(format!("expected {}, got Ok({})", stringify!($pat), short_type_name(&v))),
        }
    };
}

/// Fails the case unless `$cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// The table of cases: each is a `fn() -> Outcome` of the same name.
macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        const CASES: &[Case] = &[$(Case { name: stringify!($name), run: $name }),*];
    };
}

/// `ArrayBase` for `ndarray::ArrayBase<ndarray::data_repr::OwnedRepr<f64>, …>`.
fn short_type_name<T>(_: &T) -> &'static str {
    let full = std::any::type_name::<T>();
    let head = full.split('<').next().unwrap_or(full);
    head.rsplit("::").next().unwrap_or(head)
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".into())
}

/// Whether this process runs under an address-space limit (always true where it cannot be
/// read).
fn capped() -> bool {
    match std::fs::read_to_string("/proc/self/limits") {
        Ok(limits) => limits
            .lines()
            .find(|l| l.starts_with("Max address space"))
            .is_some_and(|l| l.split_whitespace().nth(3).is_none_or(|soft| soft != "unlimited")),
        Err(_) => true,
    }
}

/// In a child: runs the named case, reports on stderr and exits.
fn run_child(name: &str) -> ! {
    if !capped() {
        let _ = writeln!(std::io::stderr(), "{MARK}refusing to run {name} without an address-space cap");
        std::process::exit(3);
    }
    let Some(case) = CASES.iter().find(|c| c.name == name) else {
        let _ = writeln!(std::io::stderr(), "{MARK}no case named {name}");
        std::process::exit(3);
    };
    // The default hook prints the panic; the result line below is what the parent reads.
    let (code, line) = match std::panic::catch_unwind(case.run) {
        Ok(Ok(())) => (0, "ok".to_string()),
        Ok(Err(what)) => (1, what),
        Err(p) => (2, format!("panicked: {}", panic_text(p.as_ref()))),
    };
    let _ = writeln!(std::io::stderr(), "{MARK}{}", line.replace('\n', " "));
    std::process::exit(code);
}

/// Runs one case in a child process under the memory cap; `Ok` if it passed.
fn run_isolated(name: &str) -> Outcome {
    let exe = std::env::current_exe().map_err(|e| format!("test binary: {e}"))?;
    let mut cmd = if cfg!(unix) {
        let mut c = Command::new("sh");
        c.arg("-c").arg(format!("ulimit -v {CAP_KIB} && exec \"$0\" \"$@\"")).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.args(["adversarial_sweep", "--exact", "--nocapture", "--test-threads=1"])
        .env(CASE_ENV, name)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("could not start the child: {e}"))?;
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > HANG => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("still running after {} s: killed", HANG.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("waiting for the child: {e}")),
        }
    };
    let err = reader.join().unwrap_or_default();
    // Where in the crate it happened: the first backtrace frame in `recurrent::`.
    let frame = err
        .lines()
        .filter_map(|l| l.trim().split_once(": "))
        .find(|(n, f)| n.parse::<usize>().is_ok() && f.contains("recurrent::") && !f.starts_with("adversarial::"))
        .map(|(_, f)| format!(" [in {f}]"))
        .unwrap_or_default();
    if let Some(line) = err.lines().find_map(|l| l.strip_prefix(MARK)) {
        return if line == "ok" && status.success() {
            Ok(())
        } else if line.starts_with("panicked") {
            Err(format!("{line}{frame}"))
        } else {
            Err(line.to_string())
        };
    }
    // No result line: the process died (an abort on a failed allocation, a stack overflow).
    let last = err
        .lines()
        .find(|l| l.contains("memory allocation") || l.contains("overflow") || l.contains("panicked"))
        .or_else(|| err.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("no output");
    let last = format!("{last}{frame}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return Err(format!("the process died on signal {sig} ({last})"));
        }
    }
    Err(format!("the process exited with {status} without a result ({last})"))
}

#[test]
fn adversarial_sweep() {
    if let Ok(name) = std::env::var(CASE_ENV) {
        run_child(&name);
    }
    let only = std::env::var(ONLY_ENV).unwrap_or_default();
    let mut names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "case names must be unique");
    let selected: Vec<&Case> = CASES.iter().filter(|c| c.name.contains(&only)).collect();
    assert!(!selected.is_empty(), "no case matches {ONLY_ENV}={only:?}");
    let failures: Vec<String> =
        selected.iter().filter_map(|c| run_isolated(c.name).err().map(|e| format!("  {}: {e}", c.name))).collect();
    assert!(
        failures.is_empty(),
        "{} of {} adversarial cases failed:\n{}",
        failures.len(),
        selected.len(),
        failures.join("\n")
    );
}

// ───────────────────────────── helpers ─────────────────────────────

fn rng() -> StdRng {
    StdRng::seed_from_u64(17)
}

fn x3(b: usize, t: usize, i: usize) -> Array3<f64> {
    Array3::from_shape_fn((b, t, i), |(p, q, r)| (0.3 * (p + 2 * q + 3 * r) as f64).sin())
}

/// Every parameter and gradient, bit for bit, in visiting order.
fn snapshot<P: Params<f64> + ?Sized>(p: &P) -> Vec<(Vec<u64>, Vec<u64>)> {
    let mut out = Vec::new();
    p.visit_params(&mut |r| {
        out.push((r.value.iter().map(|v| v.to_bits()).collect(), r.grad.iter().map(|v| v.to_bits()).collect()))
    });
    out
}

/// Every parameter value, bit for bit (gradients left out: a failed step may have computed
/// them, only the weights are the caller's).
fn weights<P: Params<f64> + ?Sized>(p: &P) -> Vec<Vec<u64>> {
    let mut out = Vec::new();
    p.visit_params(&mut |r| out.push(r.value.iter().map(|v| v.to_bits()).collect()));
    out
}

fn lstm(i: usize, h: usize, seq: bool) -> Lstm<f64> {
    LstmConfig::new(i, h).with_return_sequences(seq).init(&mut rng()).expect("lstm")
}

fn gru(i: usize, h: usize) -> Gru<f64> {
    GruConfig::new(i, h).init(&mut rng()).expect("gru")
}

fn simple(i: usize, h: usize) -> SimpleRnn<f64> {
    SimpleRnnConfig::new(i, h).init(&mut rng()).expect("simple rnn")
}

fn dense(i: usize, o: usize) -> Dense<f64> {
    DenseConfig::new(i, o).init(&mut rng()).expect("dense")
}

/// SimpleRNN(2 → 3) → Dense(3 → 1) on 4 steps: the lecture's shape of model.
fn small_model() -> Sequential<f64> {
    let mut m = Sequential::new(&[4, 2]).expect("model");
    m.add(simple(2, 3)).expect("add");
    m.add(dense(3, 1)).expect("add");
    m
}

/// Masking → LSTM (sequences) → Dense: a tagger whose output keeps the time axis.
fn tagger() -> Sequential<f64> {
    let mut m = Sequential::new(&[4, 2]).expect("model");
    m.add(lstm(2, 3, true)).expect("add");
    m.add(dense(3, 1)).expect("add");
    m
}

/// 6 samples of `small_model`'s input and targets.
fn small_data() -> (Array3<f64>, Array2<f64>) {
    (x3(6, 4, 2), Array2::from_shape_fn((6, 1), |(b, _)| 0.1 * b as f64))
}

/// A model file as a JSON value: LSTM(2 → 3) → Dense(3 → 1), f64 unless `f32`.
fn model_file(f32: bool) -> Value {
    let bytes = if f32 {
        let mut m = Sequential::<f32>::new(&[4, 2]).expect("model");
        m.add(LstmConfig::new(2, 3).init(&mut rng()).expect("lstm")).expect("add");
        m.add(DenseConfig::new(3, 1).init(&mut rng()).expect("dense")).expect("add");
        json::to_vec(&m).expect("to_vec")
    } else {
        let mut m = Sequential::<f64>::new(&[4, 2]).expect("model");
        m.add(lstm(2, 3, false)).expect("add");
        m.add(dense(3, 1)).expect("add");
        json::to_vec(&m).expect("to_vec")
    };
    serde_json::from_slice(&bytes).expect("valid JSON")
}

fn from_value(v: &Value) -> recurrent::Result<Sequential<f64>> {
    json::from_slice::<f64>(&serde_json::to_vec(v).expect("serialise"))
}

/// A one-layer `nn.GRU(3, 2)` state dict.
fn gru_dict() -> torch::StateDict<f64> {
    let g = GruConfig::new(3, 2).with_return_sequences(true).init::<f64, _>(&mut rng()).expect("gru");
    torch::export_recurrent(&[&g as &dyn Layer<f64>]).expect("export")
}

/// The bytes of a safetensors file holding one F32 tensor `t` of shape (2, 2).
fn safetensors_bytes() -> Vec<u8> {
    let mut d = torch::StateDict::<f32>::new();
    d.insert("t", ArrayD::from_elem(IxDyn(&[2, 2]), 1.5f32)).expect("insert");
    d.to_bytes().expect("to_bytes")
}

/// A safetensors file from a header (JSON) and data bytes.
fn safetensors_raw(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// A fresh, empty folder under the system's temporary folder.
fn temp_dir(tag: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("recurrent-adversarial-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).expect("temp dir");
    p
}

// ───────────────────────────── configs and constructors ─────────────────────────────
//
// Sizes: every product the crate forms from a caller's numbers is checked, before anything
// is allocated, against `limits::MAX_ELEMENTS` (2^36).

fn dense_config_units_overflow() -> Outcome {
    expect_err!(DenseConfig::new(2, usize::MAX).init::<f32, _>(&mut rng()), Error::TooLarge { .. }, ["Dense"]);
    Ok(())
}

fn dense_config_product_over_limit() -> Outcome {
    // Each factor is modest; the kernel (2^20 × 2^20) is 2^40 elements.
    expect_err!(DenseConfig::new(1 << 20, 1 << 20).init::<f32, _>(&mut rng()), Error::TooLarge { .. }, ["Dense"]);
    Ok(())
}

fn simple_rnn_config_input_size_over_limit() -> Outcome {
    expect_err!(SimpleRnnConfig::new(1 << 40, 4).init::<f32, _>(&mut rng()), Error::TooLarge { .. });
    Ok(())
}

fn lstm_config_input_times_gates_overflow() -> Outcome {
    // The kernel is (I, 4·H): I·4·H overflows usize.
    expect_err!(LstmConfig::new(usize::MAX / 2, 3).init::<f32, _>(&mut rng()), Error::TooLarge { .. });
    Ok(())
}

fn embedding_config_vocab_overflow() -> Outcome {
    expect_err!(EmbeddingConfig::new(usize::MAX, 2).init::<f32, _>(&mut rng()), Error::TooLarge { .. });
    Ok(())
}

fn recurrent_new_zero_input_size() -> Outcome {
    let cell = SimpleRnnCell { activation: Activation::Tanh };
    expect_err!(
        Recurrent::<f64, _>::new(cell, 0, 3, false, &mut rng()),
        Error::InvalidConfig { .. },
        ["input size", "at least 1"]
    );
    Ok(())
}

fn sequential_new_without_axes() -> Outcome {
    expect_err!(Sequential::<f64>::new(&[]), Error::InvalidConfig { .. });
    Ok(())
}

fn sequential_new_zero_axis() -> Outcome {
    expect_err!(Sequential::<f64>::new(&[5, 0]), Error::InvalidConfig { .. });
    Ok(())
}

fn sequential_forward_without_layers() -> Outcome {
    let mut m = Sequential::<f64>::new(&[4, 2]).expect("model");
    expect_err!(m.forward(&x3(1, 4, 2), Mode::Infer), Error::InvalidConfig { .. }, ["layer"]);
    Ok(())
}

fn sequential_add_wrong_features() -> Outcome {
    let mut m = Sequential::<f64>::new(&[4, 2]).expect("model");
    expect_err!(m.add(dense(3, 1)), Error::ShapeMismatch { .. }, ["layer at index 0"]);
    ensure!(m.layers().is_empty(), "the refused layer was added");
    Ok(())
}

fn sequential_add_embedding_after_features() -> Outcome {
    let mut m = Sequential::<f64>::new(&[4, 2]).expect("model");
    let e = EmbeddingConfig::new(5, 2).init::<f64, _>(&mut rng()).expect("embedding");
    expect_err!(m.add(e), Error::ShapeMismatch { .. });
    Ok(())
}

// ───────────────────────────── recurrent layers ─────────────────────────────

fn simple_rnn_forward_rank_two() -> Outcome {
    let mut l = simple(2, 3);
    expect_err!(l.forward(Array2::<f64>::zeros((2, 2)).into_dyn().view(), Mode::Train), Error::ShapeMismatch { .. });
    Ok(())
}

fn simple_rnn_forward_zero_steps() -> Outcome {
    let mut l = simple(2, 3);
    expect_err!(l.forward(x3(2, 0, 2).into_dyn().view(), Mode::Train), Error::Empty { .. }, ["time steps"]);
    Ok(())
}

fn lstm_forward_masked_wrong_mask() -> Outcome {
    let mut l = lstm(2, 3, true);
    let mask = Array2::from_elem((2, 5), true);
    expect_err!(
        l.forward_masked(x3(2, 4, 2).view(), Some(mask.view()), Mode::Train),
        Error::ShapeMismatch { .. },
        ["mask"]
    );
    Ok(())
}

fn gru_backward_nan_gradient_adds_nothing() -> Outcome {
    let mut l = gru(2, 3);
    let y = l.forward(x3(2, 4, 2).into_dyn().view(), Mode::Train).expect("forward");
    let before = snapshot(&l);
    let mut g = ArrayD::from_elem(y.raw_dim(), 0.5);
    g[[1, 2]] = f64::NAN;
    expect_err!(l.backward(g.view()), Error::NonFinite { .. }, ["grad_output"]);
    ensure!(snapshot(&l) == before, "gradients changed on error");
    Ok(())
}

fn simple_rnn_backward_wrong_shape() -> Outcome {
    let mut l = simple(2, 3);
    l.forward(x3(2, 4, 2).into_dyn().view(), Mode::Train).expect("forward");
    expect_err!(l.backward(ArrayD::zeros(IxDyn(&[2, 4])).view()), Error::ShapeMismatch { .. });
    Ok(())
}

fn lstm_set_weights_transposed_kernel() -> Outcome {
    let mut l = lstm(2, 3, false);
    let before = snapshot(&l);
    let mut w = l.weights().clone();
    w.kernel = w.kernel.t().to_owned();
    expect_err!(l.set_weights(w), Error::ShapeMismatch { .. }, ["kernel"]);
    ensure!(snapshot(&l) == before, "weights changed on error");
    Ok(())
}

fn gru_set_weights_without_recurrent_bias() -> Outcome {
    let mut l = gru(2, 3);
    let mut w = l.weights().clone();
    w.recurrent_bias = None;
    expect_err!(l.set_weights(w), Error::ShapeMismatch { .. }, ["recurrent_bias"]);
    Ok(())
}

fn simple_rnn_set_weights_infinite() -> Outcome {
    let mut l = simple(2, 3);
    let before = snapshot(&l);
    let mut w = l.weights().clone();
    w.recurrent_kernel[[1, 1]] = f64::INFINITY;
    expect_err!(l.set_weights(w), Error::NonFinite { .. }, ["recurrent_kernel"]);
    ensure!(snapshot(&l) == before, "weights changed on error");
    Ok(())
}

fn lstm_set_initial_state_of_another_batch() -> Outcome {
    let mut l = lstm(2, 3, false);
    l.set_initial_state(Some(State::with_cell(Array2::zeros((5, 3)), Array2::zeros((5, 3)))));
    expect_err!(l.forward(x3(2, 4, 2).into_dyn().view(), Mode::Train), Error::ShapeMismatch { .. }, ["initial state"]);
    Ok(())
}

fn gru_forward_with_nan_state() -> Outcome {
    let mut l = gru(2, 3);
    let mut h = Array2::zeros((2, 3));
    h[[0, 1]] = f64::NAN;
    expect_err!(l.forward_with_state(x3(2, 4, 2).view(), Some(&State::new(h)), Mode::Train), Error::NonFinite { .. });
    Ok(())
}

fn backward_with_state_nan_final_gradient() -> Outcome {
    let mut l = lstm(2, 3, false);
    l.forward(x3(2, 4, 2).into_dyn().view(), Mode::Train).expect("forward");
    let before = snapshot(&l);
    let gf = State::with_cell(Array2::from_elem((2, 3), f64::NAN), Array2::zeros((2, 3)));
    expect_err!(l.backward_with_state(ArrayD::zeros(IxDyn(&[2, 3])).view(), Some(&gf)), Error::NonFinite { .. });
    ensure!(snapshot(&l) == before, "gradients changed on error");
    Ok(())
}

fn recurrent_backward_after_inference() -> Outcome {
    let mut l = simple(2, 3);
    l.forward(x3(2, 4, 2).into_dyn().view(), Mode::Infer).expect("forward");
    expect_err!(l.backward(ArrayD::zeros(IxDyn(&[2, 3])).view()), Error::NoForwardCache { .. });
    Ok(())
}

fn recurrent_backward_after_a_setter_dropped_the_cache() -> Outcome {
    let mut l = simple(2, 3);
    l.forward(x3(2, 4, 2).into_dyn().view(), Mode::Train).expect("forward");
    l.set_go_backwards(true);
    expect_err!(l.backward(ArrayD::zeros(IxDyn(&[2, 3])).view()), Error::NoForwardCache { .. });
    Ok(())
}

fn recurrent_workspace_beyond_memory() -> Outcome {
    // 4M steps of a 256-unit SimpleRNN: the input is 16 MiB, but the states alone would be
    // 4M × 256 f32 = 4 GiB, beyond the cap this case runs under.
    let mut l = SimpleRnnConfig::new(1, 256).init::<f32, _>(&mut rng()).expect("simple rnn");
    let x = ArrayD::<f32>::zeros(IxDyn(&[1, 1 << 22, 1]));
    expect_err!(l.forward(x.view(), Mode::Train), Error::OutOfMemory { .. } | Error::TooLarge { .. });
    Ok(())
}

// ───────────────────────────── Dense, Embedding, Masking, Bidirectional ─────────────────────────────

fn dense_forward_rank_one() -> Outcome {
    let mut d = dense(2, 1);
    expect_err!(d.forward(array![1.0, 2.0].into_dyn().view(), Mode::Train), Error::ShapeMismatch { .. });
    Ok(())
}

fn dense_forward_infinite_input() -> Outcome {
    let mut d = dense(2, 1);
    expect_err!(d.forward(array![[1.0, f64::NEG_INFINITY]].into_dyn().view(), Mode::Train), Error::NonFinite { .. });
    Ok(())
}

fn dense_set_kernel_wrong_shape() -> Outcome {
    let mut d = dense(2, 3);
    expect_err!(d.set_kernel(Array2::zeros((3, 2))), Error::ShapeMismatch { .. }, ["kernel"]);
    Ok(())
}

fn dense_set_bias_nan() -> Outcome {
    let mut d = dense(2, 3);
    let before = snapshot(&d);
    expect_err!(d.set_bias(array![0.0, f64::NAN, 0.0]), Error::NonFinite { .. }, ["bias"]);
    ensure!(snapshot(&d) == before, "bias changed on error");
    Ok(())
}

fn dense_backward_wrong_shape() -> Outcome {
    let mut d = dense(2, 3);
    d.forward(Array2::<f64>::zeros((4, 2)).into_dyn().view(), Mode::Train).expect("forward");
    expect_err!(d.backward(ArrayD::zeros(IxDyn(&[4, 2])).view()), Error::ShapeMismatch { .. }, ["grad_output"]);
    Ok(())
}

fn dense_output_over_limit() -> Outcome {
    // 2^21 rows × 2^16 units = 2^37 output elements, from an 8 MiB input.
    let mut d = DenseConfig::new(1, 1 << 16).init::<f32, _>(&mut rng()).expect("dense");
    let x = ArrayD::<f32>::zeros(IxDyn(&[1 << 21, 1]));
    expect_err!(d.forward(x.view(), Mode::Infer), Error::TooLarge { .. });
    Ok(())
}

fn embedding_fractional_id() -> Outcome {
    let mut e = EmbeddingConfig::new(5, 2).init::<f64, _>(&mut rng()).expect("embedding");
    expect_err!(
        e.forward(array![[1.0, 2.5]].into_dyn().view(), Mode::Train),
        Error::OutOfRange { .. },
        ["whole numbers"]
    );
    Ok(())
}

fn embedding_negative_id() -> Outcome {
    let mut e = EmbeddingConfig::new(5, 2).init::<f64, _>(&mut rng()).expect("embedding");
    expect_err!(e.forward(array![[-1.0]].into_dyn().view(), Mode::Train), Error::OutOfRange { .. });
    Ok(())
}

fn embedding_id_equal_to_vocab() -> Outcome {
    let mut e = EmbeddingConfig::new(5, 2).init::<f64, _>(&mut rng()).expect("embedding");
    expect_err!(e.forward(array![[0.0, 5.0]].into_dyn().view(), Mode::Train), Error::OutOfRange { .. }, ["[0, 5)"]);
    Ok(())
}

fn embedding_rank_three_ids() -> Outcome {
    let mut e = EmbeddingConfig::new(5, 2).init::<f64, _>(&mut rng()).expect("embedding");
    expect_err!(e.forward(x3(1, 2, 1).mapv(|_| 1.0).into_dyn().view(), Mode::Train), Error::ShapeMismatch { .. });
    Ok(())
}

fn embedding_set_embeddings_wrong_shape() -> Outcome {
    let mut e = EmbeddingConfig::new(5, 2).init::<f64, _>(&mut rng()).expect("embedding");
    expect_err!(e.set_embeddings(Array2::zeros((2, 5))), Error::ShapeMismatch { .. });
    Ok(())
}

fn embedding_backward_wrong_shape() -> Outcome {
    let mut e = EmbeddingConfig::new(5, 2).init::<f64, _>(&mut rng()).expect("embedding");
    e.forward(array![[1.0, 2.0]].into_dyn().view(), Mode::Train).expect("forward");
    let before = snapshot(&e);
    expect_err!(e.backward(ArrayD::zeros(IxDyn(&[1, 2, 3])).view()), Error::ShapeMismatch { .. });
    ensure!(snapshot(&e) == before, "gradients changed on error");
    Ok(())
}

fn embedding_output_over_limit() -> Outcome {
    // 2^21 ids × 2^16 dimensions = 2^37 output elements, from an 8 MiB input.
    let mut e = EmbeddingConfig::new(1, 1 << 16).init::<f32, _>(&mut rng()).expect("embedding");
    let ids = ArrayD::<f32>::zeros(IxDyn(&[1, 1 << 21]));
    expect_err!(e.forward(ids.view(), Mode::Infer), Error::TooLarge { .. });
    Ok(())
}

fn masking_forward_rank_two() -> Outcome {
    let mut m = Masking::new(0.0f64);
    expect_err!(m.forward(Array2::<f64>::zeros((2, 2)).into_dyn().view(), Mode::Train), Error::ShapeMismatch { .. });
    Ok(())
}

fn masking_backward_wrong_feature_count() -> Outcome {
    let mut m = Masking::new(0.0f64);
    m.forward(x3(2, 4, 3).into_dyn().view(), Mode::Train).expect("forward");
    // Batch and steps match the forward pass, the feature count does not.
    expect_err!(m.backward(x3(2, 4, 5).into_dyn().view()), Error::ShapeMismatch { .. }, ["grad_output"]);
    Ok(())
}

fn masking_output_mask_of_another_shape() -> Outcome {
    let m = Masking::new(0.0f64);
    let mask = Array2::from_elem((3, 4), true);
    expect_err!(m.output_mask(x3(2, 4, 3).into_dyn().view(), Some(mask.view())), Error::ShapeMismatch { .. });
    Ok(())
}

fn masking_infinite_mask_value() -> Outcome {
    // Inputs must be finite, so an infinite mask value can never match: like NaN, it would
    // silently mask nothing.
    let mut m = Masking::new(f64::INFINITY);
    expect_err!(m.forward(x3(2, 4, 3).into_dyn().view(), Mode::Train), Error::InvalidConfig { .. }, ["mask"]);
    Ok(())
}

fn bidirectional_forward_rank_two() -> Outcome {
    let mut bi = Bidirectional::new(lstm(2, 3, true), MergeMode::Sum, &mut rng()).expect("bi");
    expect_err!(bi.forward(Array2::<f64>::zeros((2, 2)).into_dyn().view(), Mode::Train), Error::ShapeMismatch { .. });
    Ok(())
}

fn bidirectional_mask_of_another_shape() -> Outcome {
    let mut bi = Bidirectional::new(gru(2, 3), MergeMode::Concat, &mut rng()).expect("bi");
    let mask = Array2::from_elem((2, 3), true);
    expect_err!(
        bi.forward_masked_with_states(x3(2, 4, 2).view(), Some(mask.view()), None, None, Mode::Train),
        Error::ShapeMismatch { .. },
        ["mask"]
    );
    Ok(())
}

fn bidirectional_nan_backward_state() -> Outcome {
    let mut bi = Bidirectional::new(simple(2, 3), MergeMode::Average, &mut rng()).expect("bi");
    let bad = State::new(Array2::from_elem((2, 3), f64::NAN));
    expect_err!(bi.forward_with_states(x3(2, 4, 2).view(), None, Some(&bad), Mode::Train), Error::NonFinite { .. });
    Ok(())
}

fn softmax_of_a_scalar() -> Outcome {
    expect_err!(Activation::Softmax.forward(&ndarray::arr0(1.0f64).view()), Error::ShapeMismatch { .. });
    Ok(())
}

fn activation_backward_shapes_differ() -> Outcome {
    let y = Array2::<f64>::zeros((2, 3));
    let dy = Array2::<f64>::zeros((3, 2));
    expect_err!(Activation::Tanh.backward(&y.view(), &dy.view()), Error::ShapeMismatch { .. });
    Ok(())
}

fn activation_forward_nan() -> Outcome {
    expect_err!(Activation::Sigmoid.forward(&array![[0.0, f64::NAN]].view()), Error::NonFinite { .. });
    Ok(())
}

// ───────────────────────────── losses ─────────────────────────────

fn loss_of(loss: &dyn Loss<f64>, p: ArrayD<f64>, t: ArrayD<f64>) -> recurrent::Result<f64> {
    loss.compute(&p.view(), &t.view()).map(|o| o.value)
}

fn mse_shapes_differ() -> Outcome {
    expect_err!(
        loss_of(&Mse, ArrayD::zeros(IxDyn(&[2, 3])), ArrayD::zeros(IxDyn(&[3, 2]))),
        Error::ShapeMismatch { .. },
        ["target"]
    );
    Ok(())
}

fn mse_empty_batch() -> Outcome {
    expect_err!(loss_of(&Mse, ArrayD::zeros(IxDyn(&[0, 3])), ArrayD::zeros(IxDyn(&[0, 3]))), Error::Empty { .. });
    Ok(())
}

fn mae_nan_target() -> Outcome {
    let t = array![[0.0, f64::NAN]].into_dyn();
    expect_err!(loss_of(&Mae, ArrayD::zeros(IxDyn(&[1, 2])), t), Error::NonFinite { .. }, ["target"]);
    Ok(())
}

fn bce_target_above_one() -> Outcome {
    let bce = BinaryCrossEntropy::new();
    expect_err!(
        loss_of(&bce, array![[0.5]].into_dyn(), array![[2.0]].into_dyn()),
        Error::OutOfRange { .. },
        ["target"]
    );
    Ok(())
}

fn bce_negative_probability() -> Outcome {
    let bce = BinaryCrossEntropy::new();
    expect_err!(loss_of(&bce, array![[-0.1]].into_dyn(), array![[1.0]].into_dyn()), Error::OutOfRange { .. });
    Ok(())
}

fn cce_scalar_prediction() -> Outcome {
    let cce = CategoricalCrossEntropy::from_logits();
    expect_err!(
        loss_of(&cce, ndarray::arr0(1.0).into_dyn(), ndarray::arr0(1.0).into_dyn()),
        Error::ShapeMismatch { .. }
    );
    Ok(())
}

fn cce_zero_classes() -> Outcome {
    let cce = CategoricalCrossEntropy::from_logits();
    expect_err!(loss_of(&cce, ArrayD::zeros(IxDyn(&[2, 0])), ArrayD::zeros(IxDyn(&[2, 0]))), Error::Empty { .. });
    Ok(())
}

fn sparse_cce_fractional_label() -> Outcome {
    let s = SparseCategoricalCrossEntropy::from_logits();
    expect_err!(
        loss_of(&s, ArrayD::zeros(IxDyn(&[2, 3])), array![0.0, 1.5].into_dyn()),
        Error::OutOfRange { .. },
        ["class"]
    );
    Ok(())
}

fn sparse_cce_label_equal_to_classes() -> Outcome {
    let s = SparseCategoricalCrossEntropy::from_logits();
    expect_err!(loss_of(&s, ArrayD::zeros(IxDyn(&[2, 3])), array![0.0, 3.0].into_dyn()), Error::OutOfRange { .. });
    Ok(())
}

fn sparse_cce_target_of_another_shape() -> Outcome {
    let s = SparseCategoricalCrossEntropy::from_logits();
    expect_err!(loss_of(&s, ArrayD::zeros(IxDyn(&[2, 3])), ArrayD::zeros(IxDyn(&[3]))), Error::ShapeMismatch { .. });
    Ok(())
}

fn mse_overflowing_in_f32() -> Outcome {
    // Finite inputs whose difference overflows f32: an `Ok` would hand back an infinite
    // loss and gradient.
    let p = array![[3.0e38f32]].into_dyn();
    let t = array![[-3.0e38f32]].into_dyn();
    expect_err!(Loss::<f32>::compute(&Mse, &p.view(), &t.view()), Error::NonFinite { .. });
    Ok(())
}

// ───────────────────────────── optimisers and clipping ─────────────────────────────

/// A Dense layer with a gradient: the parameters an optimiser step is tried on.
fn with_gradient() -> Dense<f64> {
    let mut d = dense(2, 2);
    d.forward(array![[1.0, -2.0]].into_dyn().view(), Mode::Train).expect("forward");
    d.backward(array![[0.5, 0.25]].into_dyn().view()).expect("backward");
    d
}

/// One step of `opt` on a fresh layer must fail with `InvalidConfig` naming `what` and
/// leave the layer as it was.
fn refused_step(opt: &mut dyn Optimizer<f64>, what: &str) -> Outcome {
    let mut d = with_gradient();
    let before = snapshot(&d);
    expect_err!(opt.step(&mut d), Error::InvalidConfig { .. }, [what]);
    ensure!(snapshot(&d) == before, "the layer changed on error");
    Ok(())
}

fn sgd_negative_momentum() -> Outcome {
    refused_step(&mut Sgd::new(0.1).with_momentum(-0.5), "momentum")
}

fn sgd_dampening_above_one() -> Outcome {
    refused_step(&mut Sgd::new(0.1).with_momentum(0.9).with_dampening(1.5), "dampening")
}

fn sgd_nesterov_without_momentum() -> Outcome {
    refused_step(&mut Sgd::new(0.1).with_nesterov(true), "nesterov")
}

fn sgd_learning_rate_set_to_nan() -> Outcome {
    let mut sgd = Sgd::new(0.1);
    expect_err!(sgd.set_learning_rate(f64::NAN), Error::InvalidConfig { .. }, ["learning rate"]);
    if Optimizer::<f64>::learning_rate(&sgd) != 0.1 {
        return Err("the refused learning rate was kept".into());
    }
    Ok(())
}

fn adam_beta1_of_one() -> Outcome {
    refused_step(&mut Adam::new(0.01).with_betas(1.0, 0.999), "beta1")
}

fn adam_beta2_nan() -> Outcome {
    refused_step(&mut Adam::new(0.01).with_betas(0.9, f64::NAN), "beta2")
}

fn adam_epsilon_zero() -> Outcome {
    refused_step(&mut Adam::new(0.01).with_epsilon(0.0), "epsilon")
}

fn adamw_negative_weight_decay() -> Outcome {
    refused_step(&mut AdamW::new(0.01).with_weight_decay(-0.01), "weight decay")
}

fn rmsprop_alpha_of_one() -> Outcome {
    refused_step(&mut RmsProp::new(0.01).with_alpha(1.0), "alpha")
}

fn rmsprop_negative_momentum() -> Outcome {
    refused_step(&mut RmsProp::new(0.01).with_momentum(-0.1), "momentum")
}

fn gradient_clip_norm_zero() -> Outcome {
    refused_step(&mut Sgd::new(0.1).with_gradient_clip(GradientClip::Norm(0.0)), "max_norm")
}

fn clip_grad_value_nan() -> Outcome {
    let mut d = with_gradient();
    let before = snapshot(&d);
    expect_err!(clip_grad_value(&mut d, f64::NAN), Error::InvalidConfig { .. });
    ensure!(snapshot(&d) == before, "gradients changed on error");
    Ok(())
}

fn clip_grad_norm_of_nan_gradient() -> Outcome {
    let mut d = with_gradient();
    d.visit_params_mut(&mut |mut p| {
        if let Some(g) = p.grad.iter_mut().last() {
            *g = f64::NAN;
        }
    });
    expect_err!(clip_grad_norm(&mut d, 1.0), Error::NonFinite { .. }, ["clip_grad_norm"]);
    Ok(())
}

fn adam_state_for_another_model() -> Outcome {
    let mut adam = Adam::new(0.01);
    let mut a = with_gradient();
    adam.step(&mut a).expect("first step");
    let mut b = dense(3, 1);
    let before = snapshot(&b);
    expect_err!(adam.step(&mut b), Error::ShapeMismatch { .. }, ["reset()"]);
    ensure!(snapshot(&b) == before, "the other model changed on error");
    Ok(())
}

fn sgd_deserialised_buffers_of_other_shapes() -> Outcome {
    let state = json!({
        "learning_rate": 0.1, "momentum": 0.9,
        "momentum_buffer": [{"v": 1, "dim": [3, 3], "data": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]},
                            {"v": 1, "dim": [3], "data": [0.0, 0.0, 0.0]}]
    });
    let mut sgd: Sgd<f64> = serde_json::from_value(state).map_err(|e| format!("deserialise: {e}"))?;
    let mut d = with_gradient();
    let before = snapshot(&d);
    expect_err!(sgd.step(&mut d), Error::ShapeMismatch { .. }, ["momentum_buffer"]);
    ensure!(snapshot(&d) == before, "the layer changed on error");
    Ok(())
}

fn adam_deserialised_negative_second_moment() -> Outcome {
    // A second moment is a running mean of squares: a negative one (a corrupt file) makes
    // √v NaN, and the step would write NaN into every weight.
    let mut d = with_gradient();
    let shapes: Vec<Vec<usize>> = {
        let mut s = Vec::new();
        d.visit_params(&mut |p| s.push(p.value.shape().to_vec()));
        s
    };
    let moments = |v: f64| -> Vec<Value> {
        shapes.iter().map(|s| json!({"v": 1, "dim": s, "data": vec![v; s.iter().product::<usize>()]})).collect()
    };
    let mut adam: Adam<f64> = serde_json::from_value(json!({
        "learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weight_decay": 0.0,
        "epsilon_placement": "PyTorch", "gradient_clip": null,
        "step": 3, "exp_avg": moments(0.0), "exp_avg_sq": moments(-1.0)
    }))
    .map_err(|e| format!("deserialise: {e}"))?;
    let before = weights(&d);
    expect_err!(adam.step(&mut d), Error::OutOfRange { .. } | Error::NonFinite { .. }, ["Adam"]);
    ensure!(weights(&d) == before, "the weights changed on error");
    Ok(())
}

// ───────────────────────────── data helpers ─────────────────────────────

fn windows_of_size_zero() -> Outcome {
    expect_err!(recurrent::data::windows(&[1.0f64, 2.0, 3.0], 0), Error::InvalidConfig { .. }, ["window"]);
    Ok(())
}

fn windows_longer_than_the_series() -> Outcome {
    expect_err!(recurrent::data::windows(&[1.0f64, 2.0, 3.0], 3), Error::InvalidConfig { .. });
    Ok(())
}

fn windows_of_a_series_with_nan() -> Outcome {
    expect_err!(recurrent::data::windows(&[1.0f64, f64::NAN, 3.0, 4.0], 2), Error::NonFinite { .. }, ["series"]);
    Ok(())
}

fn windows_whose_array_is_over_limit() -> Outcome {
    // 2^19 windows of 2^19 values = 2^38 elements, from a 4 MiB series.
    let series = vec![0.5f32; 1 << 20];
    expect_err!(recurrent::data::windows(&series, 1 << 19), Error::TooLarge { .. });
    Ok(())
}

fn one_hot_of_no_labels() -> Outcome {
    expect_err!(recurrent::data::one_hot::<f64>(&[], 3), Error::Empty { .. });
    Ok(())
}

fn one_hot_label_out_of_range() -> Outcome {
    expect_err!(recurrent::data::one_hot::<f64>(&[0, 3], 3), Error::OutOfRange { .. }, ["[0, 3)"]);
    Ok(())
}

fn one_hot_rows_times_classes_over_limit() -> Outcome {
    // 2^20 labels × 2^20 classes = 2^40 elements, though each factor alone is fine.
    let labels = vec![0usize; 1 << 20];
    expect_err!(recurrent::data::one_hot::<f32>(&labels, 1 << 20), Error::TooLarge { .. });
    Ok(())
}

fn pad_ids_maxlen_over_limit() -> Outcome {
    use recurrent::data::{pad_ids, Padding, Truncating};
    expect_err!(
        pad_ids::<f32, _>(&[vec![1usize]], Some(1 << 40), Padding::Pre, Truncating::Pre, 0),
        Error::TooLarge { .. }
    );
    Ok(())
}

fn pad_ids_id_not_exact_in_f32() -> Outcome {
    use recurrent::data::{pad_ids, Padding, Truncating};
    expect_err!(
        pad_ids::<f32, _>(&[vec![(1usize << 24) + 1]], None, Padding::Pre, Truncating::Pre, 0),
        Error::OutOfRange { .. },
        ["exactly"]
    );
    Ok(())
}

fn pad_ids_all_empty_without_maxlen() -> Outcome {
    use recurrent::data::{pad_ids, Padding, Truncating};
    let empty: Vec<Vec<usize>> = vec![vec![], vec![]];
    expect_err!(pad_ids::<f64, _>(&empty, None, Padding::Post, Truncating::Post, 0), Error::InvalidConfig { .. });
    Ok(())
}

fn pad_sequences_feature_counts_differ() -> Outcome {
    use recurrent::data::{pad_sequences, Padding, Truncating};
    let seqs = [Array2::<f64>::zeros((2, 3)), Array2::<f64>::zeros((4, 2))];
    expect_err!(
        pad_sequences(&seqs, None, Padding::Pre, Truncating::Pre, 0.0),
        Error::ShapeMismatch { .. },
        ["sequence 1"]
    );
    Ok(())
}

fn pad_sequences_nan_padding_value() -> Outcome {
    use recurrent::data::{pad_sequences, Padding, Truncating};
    let seqs = [Array2::<f64>::zeros((2, 3))];
    expect_err!(pad_sequences(&seqs, Some(4), Padding::Pre, Truncating::Pre, f64::NAN), Error::InvalidConfig { .. });
    Ok(())
}

fn pad_sequences_zero_features() -> Outcome {
    use recurrent::data::{pad_sequences, Padding, Truncating};
    let seqs = [Array2::<f64>::zeros((2, 0))];
    expect_err!(pad_sequences(&seqs, None, Padding::Pre, Truncating::Pre, 0.0), Error::Empty { .. });
    Ok(())
}

fn pad_sequences_batch_times_maxlen_over_limit() -> Outcome {
    use recurrent::data::{pad_sequences, Padding, Truncating};
    // 2^20 one-step sequences padded to 2^20 steps: 2^40 elements, maxlen itself modest.
    let seqs = vec![Array2::<f32>::zeros((1, 1)); 1 << 20];
    expect_err!(pad_sequences(&seqs, Some(1 << 20), Padding::Pre, Truncating::Pre, 0.0), Error::TooLarge { .. });
    Ok(())
}

fn train_val_split_fraction_of_one() -> Outcome {
    let (x, y) = small_data();
    expect_err!(recurrent::data::train_val_split(&x, &y, 1.0), Error::InvalidConfig { .. }, ["validation_split"]);
    Ok(())
}

fn train_val_split_of_scalars() -> Outcome {
    let (x, y) = (ndarray::arr0(1.0f64), ndarray::arr0(2.0f64));
    expect_err!(recurrent::data::train_val_split(&x, &y, 0.5), Error::ShapeMismatch { .. });
    Ok(())
}

fn shuffle_sample_counts_differ() -> Outcome {
    let (x, _) = small_data();
    let y = Array2::<f64>::zeros((5, 1));
    expect_err!(recurrent::data::shuffle(&x, &y, &mut rng()), Error::ShapeMismatch { .. });
    Ok(())
}

fn batches_of_size_zero() -> Outcome {
    let (x, y) = small_data();
    expect_err!(recurrent::data::Batches::new(&x, &y, 0), Error::InvalidConfig { .. }, ["batch size"]);
    Ok(())
}

fn batches_of_an_empty_axis() -> Outcome {
    let x = Array3::<f64>::zeros((3, 0, 2));
    let y = Array2::<f64>::zeros((3, 1));
    expect_err!(recurrent::data::Batches::new(&x, &y, 2), Error::Empty { .. });
    Ok(())
}

// ───────────────────────────── metrics ─────────────────────────────

fn accuracy_shapes_differ() -> Outcome {
    expect_err!(
        metrics::accuracy(&Array2::<f64>::zeros((4, 1)), &Array2::<f64>::zeros((3, 1))),
        Error::ShapeMismatch { .. }
    );
    Ok(())
}

fn binary_accuracy_nan_threshold() -> Outcome {
    let p = array![0.2f64, 0.8];
    let t = array![0.0f64, 1.0];
    expect_err!(metrics::binary_accuracy(&p, &t, f64::NAN), Error::InvalidConfig { .. }, ["threshold"]);
    Ok(())
}

fn binary_metric_on_soft_labels() -> Outcome {
    let p = array![0.2f64, 0.8];
    let t = array![0.0f64, 0.7];
    expect_err!(
        metrics::Metric::Accuracy.compute(p.into_dyn().view(), t.into_dyn().view()),
        Error::OutOfRange { .. },
        ["0 or 1"]
    );
    Ok(())
}

fn categorical_accuracy_two_hot_row() -> Outcome {
    let p = array![[0.2f64, 0.8], [0.6, 0.4]];
    let t = array![[1.0f64, 1.0], [1.0, 0.0]];
    expect_err!(metrics::categorical_accuracy(&p, &t), Error::OutOfRange { .. }, ["one 1 per row"]);
    Ok(())
}

fn precision_binary_average_of_three_classes() -> Outcome {
    let p = array![[0.2f64, 0.7, 0.1], [0.6, 0.3, 0.1]];
    let t = array![2.0f64, 0.0];
    expect_err!(metrics::precision(&p, &t, Average::Binary, ZeroDivision::Zero), Error::InvalidConfig { .. });
    Ok(())
}

fn confusion_matrix_classes_over_limit() -> Outcome {
    // A 2^20 × 2^20 matrix of counts for one label.
    expect_err!(ConfusionMatrix::from_labels(&[0], &[0], 1 << 20), Error::TooLarge { .. });
    Ok(())
}

fn f1_on_a_huge_class_axis() -> Outcome {
    // One row of 2^20 class scores (4 MiB): its confusion matrix would be 2^40 counts.
    let p = Array2::<f32>::zeros((1, 1 << 20));
    let t = array![0.0f32];
    expect_err!(metrics::f1(&p, &t, Average::Macro, ZeroDivision::Zero), Error::TooLarge { .. });
    Ok(())
}

fn confusion_matrix_label_lengths_differ() -> Outcome {
    expect_err!(ConfusionMatrix::from_labels(&[0, 1], &[0], 2), Error::ShapeMismatch { .. });
    Ok(())
}

fn r2_of_one_sample() -> Outcome {
    expect_err!(metrics::r2(&array![[1.0f64]], &array![[2.0f64]]), Error::InvalidConfig { .. }, ["2 samples"]);
    Ok(())
}

fn rmse_with_infinite_prediction() -> Outcome {
    expect_err!(metrics::rmse(&array![1.0f64, f64::INFINITY], &array![1.0f64, 2.0]), Error::NonFinite { .. });
    Ok(())
}

// ───────────────────────────── Sequential and fit ─────────────────────────────

/// `fit` must refuse `config` with `$pat` before the first step: the weights stay as they
/// were.
macro_rules! refused_fit {
    ($config:expr, $x:expr, $y:expr, $loss:expr, $pat:pat, [$($frag:expr),*]) => {{
        let mut m = small_model();
        let before = weights(&m);
        expect_err!(m.fit(&$x, &$y, $loss, &mut Sgd::new(0.1), $config), $pat, [$($frag),*]);
        ensure!(weights(&m) == before, "fit erred but the weights changed (it trained before checking)");
        Ok(())
    }};
}

fn fit_zero_epochs() -> Outcome {
    let (x, y) = small_data();
    refused_fit!(FitConfig::new(0, 2).quiet(), x, y, &Mse, Error::InvalidConfig { .. }, ["epochs"])
}

fn fit_zero_batch_size() -> Outcome {
    let (x, y) = small_data();
    refused_fit!(FitConfig::new(1, 0).quiet(), x, y, &Mse, Error::InvalidConfig { .. }, ["batch size"])
}

fn fit_validation_split_nan() -> Outcome {
    let (x, y) = small_data();
    refused_fit!(
        FitConfig::new(1, 2).with_validation_split(f64::NAN).quiet(),
        x,
        y,
        &Mse,
        Error::InvalidConfig { .. },
        ["validation split"]
    )
}

fn fit_validation_split_leaving_no_validation() -> Outcome {
    let (x, y) = small_data();
    refused_fit!(FitConfig::new(1, 2).with_validation_split(0.01).quiet(), x, y, &Mse, Error::InvalidConfig { .. }, [])
}

fn fit_sample_counts_differ() -> Outcome {
    let (x, _) = small_data();
    let y = Array2::<f64>::zeros((5, 1));
    refused_fit!(FitConfig::new(1, 2).quiet(), x, y, &Mse, Error::ShapeMismatch { .. }, [])
}

fn fit_nan_target() -> Outcome {
    let (x, mut y) = small_data();
    y[[3, 0]] = f64::NAN;
    refused_fit!(FitConfig::new(1, 2).quiet(), x, y, &Mse, Error::NonFinite { .. }, ["targets"])
}

fn fit_targets_of_another_width() -> Outcome {
    let (x, _) = small_data();
    let y = Array2::<f64>::zeros((6, 2));
    refused_fit!(FitConfig::new(1, 2).quiet(), x, y, &Mse, Error::ShapeMismatch { .. }, [])
}

fn fit_probabilities_loss_on_unbounded_output() -> Outcome {
    // Binary cross-entropy on probabilities, but the model's Dense head is linear: its
    // outputs leave [0, 1] and the loss refuses them on the first batch.
    let (x, _) = small_data();
    let y = Array2::<f64>::ones((6, 1));
    let mut m = small_model();
    m.layer_as_mut::<Dense<f64>>(1).expect("dense").set_bias(array![5.0]).expect("bias");
    let before = weights(&m);
    expect_err!(
        m.fit(&x, &y, &BinaryCrossEntropy::new(), &mut Sgd::new(0.1), FitConfig::new(1, 2).quiet()),
        Error::OutOfRange { .. }
    );
    ensure!(weights(&m) == before, "the weights changed on error");
    Ok(())
}

fn fit_early_stopping_on_a_missing_quantity() -> Outcome {
    // No validation data, so there is no "val_loss" to monitor: fit can know that before
    // it trains.
    let (x, y) = small_data();
    refused_fit!(
        FitConfig::new(3, 2).with_callback(EarlyStopping::new(1).monitor("val_loss")).quiet(),
        x,
        y,
        &Mse,
        Error::InvalidConfig { .. },
        ["monitor"]
    )
}

fn fit_early_stopping_infinite_min_delta() -> Outcome {
    // min_delta = ∞ can never be beaten: every epoch after the first counts as no progress.
    let (x, y) = small_data();
    refused_fit!(
        FitConfig::new(3, 2).with_callback(EarlyStopping::new(1).min_delta(f64::INFINITY)).quiet(),
        x,
        y,
        &Mse,
        Error::InvalidConfig { .. },
        ["min_delta"]
    )
}

fn fit_invalid_learning_rate() -> Outcome {
    let (x, y) = small_data();
    let mut m = small_model();
    let before = weights(&m);
    expect_err!(
        m.fit(&x, &y, &Mse, &mut Sgd::new(0.0), FitConfig::new(1, 2).quiet()),
        Error::InvalidConfig { .. },
        ["learning rate"]
    );
    ensure!(weights(&m) == before, "the weights changed on error");
    Ok(())
}

fn fit_shuffle_on_a_stateful_model() -> Outcome {
    let (x, y) = small_data();
    let mut m = small_model();
    m.set_stateful(true);
    expect_err!(
        m.fit(&x, &y, &Mse, &mut Sgd::new(0.1), FitConfig::new(1, 2).quiet()),
        Error::InvalidConfig { .. },
        ["stateful"]
    );
    Ok(())
}

fn fit_stateful_with_a_partial_last_batch() -> Outcome {
    // A stateful model carries each batch's final state into the next batch, so every batch
    // must have the same size: 6 samples in batches of 4 leave a batch of 2, which fit can
    // see before it trains.
    let (x, y) = small_data();
    let mut m = small_model();
    m.set_stateful(true);
    let before = weights(&m);
    expect_err!(
        m.fit(&x, &y, &Mse, &mut Sgd::new(0.1), FitConfig::new(1, 4).with_shuffle(false).quiet()),
        Error::InvalidConfig { .. },
        ["batch"]
    );
    ensure!(weights(&m) == before, "fit erred but the weights changed (it trained before checking)");
    Ok(())
}

fn evaluate_in_batches_of_zero() -> Outcome {
    let (x, y) = small_data();
    expect_err!(small_model().evaluate_in_batches(&x, &y, &Mse, &[], 0), Error::InvalidConfig { .. });
    Ok(())
}

fn predict_in_batches_of_zero() -> Outcome {
    let (x, _) = small_data();
    expect_err!(small_model().predict_in_batches(&x, 0), Error::InvalidConfig { .. });
    Ok(())
}

fn predict_in_batches_of_no_samples() -> Outcome {
    expect_err!(small_model().predict_in_batches(&x3(0, 4, 2), 2), Error::Empty { .. });
    Ok(())
}

fn train_truncated_window_zero() -> Outcome {
    let (x, y) = small_data();
    expect_err!(small_model().train_truncated(&x, &y, 0, &Mse, &mut Sgd::new(0.1)), Error::InvalidConfig { .. });
    Ok(())
}

fn train_truncated_rank_two_input() -> Outcome {
    let x = Array2::<f64>::zeros((6, 4));
    let y = Array2::<f64>::zeros((6, 1));
    expect_err!(small_model().train_truncated(&x, &y, 2, &Mse, &mut Sgd::new(0.1)), Error::ShapeMismatch { .. });
    Ok(())
}

fn train_truncated_targets_of_another_length() -> Outcome {
    let mut m = tagger();
    let before = weights(&m);
    expect_err!(
        m.train_truncated(&x3(3, 4, 2), &Array3::<f64>::zeros((3, 5, 1)), 2, &Mse, &mut Sgd::new(0.1)),
        Error::ShapeMismatch { .. },
        ["time steps"]
    );
    ensure!(weights(&m) == before, "the weights changed on error");
    Ok(())
}

fn train_step_masked_all_padding() -> Outcome {
    let mut m = tagger();
    let before = weights(&m);
    let mask = Array2::from_elem((3, 4), false);
    let y = Array3::<f64>::zeros((3, 4, 1));
    expect_err!(
        m.train_step_masked(&x3(3, 4, 2), mask.view(), &y, &Mse, &mut Sgd::new(0.1)),
        Error::Empty { .. },
        ["unmasked"]
    );
    ensure!(weights(&m) == before, "the weights changed on error");
    Ok(())
}

fn train_step_mask_of_another_shape() -> Outcome {
    let mut m = tagger();
    let mask = Array2::from_elem((3, 5), true);
    let y = Array3::<f64>::zeros((3, 4, 1));
    expect_err!(
        m.train_step_masked(&x3(3, 4, 2), mask.view(), &y, &Mse, &mut Sgd::new(0.1)),
        Error::ShapeMismatch { .. },
        ["mask"]
    );
    Ok(())
}

fn stateful_model_given_another_batch_size() -> Outcome {
    let mut m = small_model();
    m.set_stateful(true);
    m.predict(&x3(3, 4, 2)).expect("first chunk");
    expect_err!(m.predict(&x3(2, 4, 2)), Error::ShapeMismatch { .. }, ["reset_states"]);
    Ok(())
}

fn sequential_backward_before_forward() -> Outcome {
    let mut m = small_model();
    expect_err!(m.backward(&Array2::<f64>::zeros((2, 1))), Error::NoForwardCache { .. });
    Ok(())
}

fn sequential_forward_wrong_rank() -> Outcome {
    expect_err!(small_model().predict(&Array2::<f64>::zeros((2, 4))), Error::ShapeMismatch { .. }, ["rank 3"]);
    Ok(())
}

fn sequential_forward_empty_batch() -> Outcome {
    expect_err!(small_model().predict(&x3(0, 4, 2)), Error::Empty { .. });
    Ok(())
}

fn evaluate_sample_counts_differ() -> Outcome {
    let (x, _) = small_data();
    expect_err!(small_model().evaluate(&x, &Array2::<f64>::zeros((4, 1)), &Mse), Error::ShapeMismatch { .. });
    Ok(())
}

// ───────────────────────────── model files (JSON) ─────────────────────────────

fn json_empty_bytes() -> Outcome {
    expect_err!(json::from_slice::<f64>(b""), Error::Format { .. }, ["model file"]);
    Ok(())
}

fn json_deeply_nested() -> Outcome {
    // 100 000 nested arrays: must be refused by the parser's depth limit, not overflow the
    // stack.
    let bytes = "[".repeat(100_000);
    expect_err!(json::from_slice::<f64>(bytes.as_bytes()), Error::Format { .. });
    Ok(())
}

fn json_not_utf8() -> Outcome {
    expect_err!(json::from_slice::<f64>(&[0xff, 0xfe, b'{', b'}']), Error::Format { .. });
    Ok(())
}

fn json_fractional_units() -> Outcome {
    let mut v = model_file(false);
    v["layers"][0]["config"]["units"] = json!(3.5);
    expect_err!(from_value(&v), Error::Format { .. }, ["config"]);
    Ok(())
}

fn json_negative_input_size() -> Outcome {
    let mut v = model_file(false);
    v["layers"][0]["config"]["input_size"] = json!(-2);
    expect_err!(from_value(&v), Error::Format { .. });
    Ok(())
}

fn json_units_whose_gate_width_overflows() -> Outcome {
    // 4 · 2^62 overflows usize: a size from the file, refused before any allocation.
    let mut v = model_file(false);
    v["layers"][0]["config"]["units"] = json!(1u64 << 62);
    expect_err!(from_value(&v), Error::TooLarge { .. });
    Ok(())
}

fn json_weight_shape_whose_product_overflows() -> Outcome {
    let mut v = model_file(false);
    v["layers"][1]["config"]["in_features"] = json!(1u64 << 33);
    v["layers"][1]["config"]["units"] = json!(1u64 << 33);
    v["layers"][1]["weights"][0]["shape"] = json!([1u64 << 33, 1u64 << 33]);
    v["layers"][1]["weights"][1]["shape"] = json!([1u64 << 33]);
    expect_err!(from_value(&v), Error::TooLarge { .. });
    Ok(())
}

fn json_weight_data_too_short() -> Outcome {
    let mut v = model_file(false);
    v["layers"][1]["weights"][0]["data"] = json!([0.5]);
    expect_err!(from_value(&v), Error::ShapeMismatch { .. }, ["data length"]);
    Ok(())
}

fn json_weight_beyond_f32() -> Outcome {
    let mut v = model_file(true);
    v["layers"][1]["weights"][0]["data"][0] = json!(1e300);
    let bytes = serde_json::to_vec(&v).expect("bytes");
    expect_err!(json::from_slice::<f32>(&bytes), Error::NonFinite { .. }, ["float32"]);
    Ok(())
}

fn json_masking_value_beyond_f32() -> Outcome {
    // 1e300 is a finite f64 but infinite as f32: a float32 model would get Masking(inf),
    // which masks nothing.
    let mut v = model_file(true);
    let layers = v["layers"].as_array_mut().expect("layers");
    layers.insert(0, json!({"kind": "Masking", "name": "masking", "config": {"mask_value": 1e300}, "weights": []}));
    let bytes = serde_json::to_vec(&v).expect("bytes");
    expect_err!(json::from_slice::<f32>(&bytes), Error::Format { .. }, ["mask_value"]);
    Ok(())
}

fn json_empty_input_shape() -> Outcome {
    let mut v = model_file(false);
    v["input_shape"] = json!([]);
    expect_err!(from_value(&v), Error::InvalidConfig { .. });
    Ok(())
}

fn json_duplicate_layer_names() -> Outcome {
    let mut v = model_file(false);
    v["layers"][1]["name"] = v["layers"][0]["name"].clone();
    expect_err!(from_value(&v), Error::Format { .. }, ["twice"]);
    Ok(())
}

fn json_weight_named_twice() -> Outcome {
    let mut v = model_file(false);
    let w = v["layers"][1]["weights"][1].clone();
    v["layers"][1]["weights"].as_array_mut().expect("weights").push(w);
    expect_err!(from_value(&v), Error::Format { .. }, ["twice"]);
    Ok(())
}

fn json_layers_that_do_not_chain() -> Outcome {
    let mut v = model_file(false);
    v["input_shape"] = json!([4, 3]);
    expect_err!(from_value(&v), Error::ShapeMismatch { .. });
    Ok(())
}

fn json_version_as_a_string() -> Outcome {
    let mut v = model_file(false);
    v["version"] = json!("1");
    expect_err!(from_value(&v), Error::Format { .. }, ["version"]);
    Ok(())
}

fn json_optimizer_state_of_another_shape() -> Outcome {
    let mut v = model_file(false);
    v["optimizer"] = json!("fast");
    let bytes = serde_json::to_vec(&v).expect("bytes");
    expect_err!(json::from_slice_with_optimizer::<f64, Adam<f64>>(&bytes), Error::Format { .. }, ["optimizer"]);
    Ok(())
}

fn json_load_a_folder() -> Outcome {
    let dir = temp_dir("load-folder");
    let r = json::load::<f64>(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    expect_err!(r, Error::Io { .. }, ["recurrent-adversarial-load-folder"]);
    Ok(())
}

fn json_save_onto_a_folder_keeps_it() -> Outcome {
    let dir = temp_dir("save-folder");
    let target = dir.join("model.json");
    std::fs::create_dir(&target).map_err(|e| e.to_string())?;
    let r = json::save(&small_model(), &target);
    let left: Vec<_> = std::fs::read_dir(&dir).map_err(|e| e.to_string())?.flatten().map(|e| e.file_name()).collect();
    let still_dir = target.is_dir();
    let _ = std::fs::remove_dir_all(&dir);
    expect_err!(r, Error::Io { .. }, ["model.json"]);
    ensure!(still_dir && left.len() == 1, "the folder was replaced or a temporary file was left: {left:?}");
    Ok(())
}

// ───────────────────────────── PyTorch state dicts (safetensors) ─────────────────────────────

fn safetensors_empty() -> Outcome {
    expect_err!(torch::StateDict::<f32>::from_bytes(b""), Error::Format { .. });
    Ok(())
}

fn safetensors_header_length_huge() -> Outcome {
    let mut bytes = u64::MAX.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    expect_err!(torch::StateDict::<f32>::from_bytes(&bytes), Error::Format { .. });
    Ok(())
}

fn safetensors_header_not_json() -> Outcome {
    expect_err!(torch::StateDict::<f32>::from_bytes(&safetensors_raw("not json", &[])), Error::Format { .. });
    Ok(())
}

fn safetensors_every_truncation() -> Outcome {
    let bytes = safetensors_bytes();
    for cut in 0..bytes.len() {
        match torch::StateDict::<f32>::from_bytes(&bytes[..cut]) {
            Err(Error::Format { .. }) => {}
            Err(e) => return Err(format!("cut at {cut}: expected Error::Format, got {e:?}")),
            Ok(_) => return Err(format!("cut at {cut}: Ok")),
        }
    }
    Ok(())
}

fn safetensors_integer_dtype() -> Outcome {
    let header = r#"{"t":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#;
    expect_err!(
        torch::StateDict::<f64>::from_bytes(&safetensors_raw(header, &[0; 16])),
        Error::Format { .. },
        ["F32 or F64"]
    );
    Ok(())
}

fn safetensors_offsets_beyond_the_data() -> Outcome {
    let header = r#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8000000000]}}"#;
    expect_err!(torch::StateDict::<f32>::from_bytes(&safetensors_raw(header, &[0; 8])), Error::Format { .. });
    Ok(())
}

fn safetensors_shape_disagrees_with_offsets() -> Outcome {
    let header = r#"{"t":{"dtype":"F32","shape":[1048576,1048576],"data_offsets":[0,8]}}"#;
    expect_err!(torch::StateDict::<f32>::from_bytes(&safetensors_raw(header, &[0; 8])), Error::Format { .. });
    Ok(())
}

fn safetensors_tensor_named_metadata() -> Outcome {
    // `__metadata__` is the format's reserved key: a tensor of that name makes a file that
    // no reader (this crate's included) can read back.
    let mut d = torch::StateDict::<f32>::new();
    let r = d.insert("__metadata__", ArrayD::zeros(IxDyn(&[2]))).and_then(|()| d.to_bytes());
    expect_err!(r, Error::InvalidConfig { .. }, ["__metadata__"]);
    Ok(())
}

fn safetensors_f64_beyond_f32_imported() -> Outcome {
    // A float64 file read as f32: 1e300 becomes inf, which the import must refuse.
    let mut d = torch::StateDict::<f64>::new();
    d.insert("weight", ArrayD::from_elem(IxDyn(&[1, 2]), 1e300)).expect("insert");
    d.insert("bias", ArrayD::zeros(IxDyn(&[1]))).expect("insert");
    let bytes = d.to_bytes().expect("bytes");
    let as_f32 = torch::StateDict::<f32>::from_bytes(&bytes).map_err(|e| format!("read: {e}"))?;
    expect_err!(torch::import_linear(&as_f32), Error::NonFinite { .. }, ["weight"]);
    Ok(())
}

fn state_dict_insert_twice() -> Outcome {
    let mut d = gru_dict();
    expect_err!(d.insert("weight_ih_l0", ArrayD::zeros(IxDyn(&[6, 3]))), Error::InvalidConfig { .. }, ["twice"]);
    Ok(())
}

fn state_dict_extend_with_a_taken_name() -> Outcome {
    let mut d = gru_dict().scoped("");
    let mut other = torch::StateDict::new();
    other.insert("l0", ArrayD::zeros(IxDyn(&[1]))).expect("insert");
    d.insert("rnn.l0", ArrayD::zeros(IxDyn(&[1]))).expect("insert");
    expect_err!(d.extend_with_prefix("rnn", other), Error::InvalidConfig { .. }, ["rnn.l0"]);
    Ok(())
}

fn torch_import_unknown_key() -> Outcome {
    let mut d = gru_dict();
    d.insert("weight_xx_l0", ArrayD::zeros(IxDyn(&[1]))).expect("insert");
    expect_err!(torch::import_gru(&d), Error::Format { .. }, ["weight_xx_l0"]);
    Ok(())
}

fn torch_import_layer_without_its_predecessors() -> Outcome {
    let mut d = gru_dict();
    d.insert("weight_ih_l4294967296", ArrayD::zeros(IxDyn(&[6, 2]))).expect("insert");
    expect_err!(torch::import_gru(&d), Error::Format { .. }, ["weight_ih_l1"]);
    Ok(())
}

fn torch_import_hidden_rows_not_a_gate_multiple() -> Outcome {
    let mut d = torch::StateDict::<f64>::new();
    d.insert("weight_ih_l0", ArrayD::zeros(IxDyn(&[5, 3]))).expect("insert");
    d.insert("weight_hh_l0", ArrayD::zeros(IxDyn(&[5, 2]))).expect("insert");
    expect_err!(torch::import_gru(&d), Error::ShapeMismatch { .. }, ["weight_hh_l0"]);
    Ok(())
}

fn torch_import_zero_hidden_size() -> Outcome {
    let mut d = torch::StateDict::<f64>::new();
    d.insert("weight_ih_l0", ArrayD::zeros(IxDyn(&[0, 3]))).expect("insert");
    d.insert("weight_hh_l0", ArrayD::zeros(IxDyn(&[0, 0]))).expect("insert");
    expect_err!(torch::import_lstm(&d), Error::InvalidConfig { .. }, ["hidden_size"]);
    Ok(())
}

fn torch_import_bias_of_another_length() -> Outcome {
    let d = gru_dict();
    let mut bad = torch::StateDict::new();
    for (k, v) in d.iter() {
        let v = if k == "bias_hh_l0" { ArrayD::zeros(IxDyn(&[5])) } else { v.clone() };
        bad.insert(k, v).expect("insert");
    }
    expect_err!(torch::import_gru(&bad), Error::ShapeMismatch { .. }, ["bias_hh_l0"]);
    Ok(())
}

fn torch_import_projection_weights() -> Outcome {
    let mut d = torch::StateDict::<f64>::new();
    d.insert("weight_hr_l0", ArrayD::zeros(IxDyn(&[2, 4]))).expect("insert");
    expect_err!(torch::import_lstm(&d), Error::Format { .. }, ["proj_size"]);
    Ok(())
}

fn torch_import_rnn_with_sigmoid() -> Outcome {
    expect_err!(torch::import_rnn(&gru_dict(), Activation::Sigmoid), Error::InvalidConfig { .. }, ["tanh or relu"]);
    Ok(())
}

fn torch_import_linear_vector_weight() -> Outcome {
    let mut d = torch::StateDict::<f64>::new();
    d.insert("weight", ArrayD::zeros(IxDyn(&[4]))).expect("insert");
    expect_err!(torch::import_linear(&d), Error::ShapeMismatch { .. }, ["rank 2"]);
    Ok(())
}

fn torch_forward_h0_of_another_shape() -> Outcome {
    let mut rnn = torch::import_gru(&gru_dict()).map_err(|e| e.to_string())?;
    let h0 = Array3::<f64>::zeros((2, 2, 2));
    expect_err!(rnn.forward(x3(2, 4, 3).view(), Some(h0.view()), None), Error::ShapeMismatch { .. }, ["h0"]);
    Ok(())
}

fn torch_forward_c0_for_a_gru() -> Outcome {
    let mut rnn = torch::import_gru(&gru_dict()).map_err(|e| e.to_string())?;
    let c0 = Array3::<f64>::zeros((1, 2, 2));
    expect_err!(rnn.forward(x3(2, 4, 3).view(), None, Some(c0.view())), Error::ShapeMismatch { .. }, ["c0"]);
    Ok(())
}

fn torch_forward_wrong_feature_count() -> Outcome {
    let mut rnn = torch::import_gru(&gru_dict()).map_err(|e| e.to_string())?;
    expect_err!(rnn.forward(x3(2, 4, 5).view(), None, None), Error::ShapeMismatch { .. });
    Ok(())
}

fn torch_into_sequential_zero_steps() -> Outcome {
    let rnn = torch::import_gru(&gru_dict()).map_err(|e| e.to_string())?;
    expect_err!(rnn.into_sequential(0), Error::InvalidConfig { .. });
    Ok(())
}

fn torch_export_dense_as_an_rnn() -> Outcome {
    let d = dense(2, 2);
    expect_err!(
        torch::export_recurrent(&[&d as &dyn Layer<f64>]),
        Error::InvalidConfig { .. },
        ["SimpleRNN, LSTM or GRU"]
    );
    Ok(())
}

fn torch_export_no_layers() -> Outcome {
    expect_err!(torch::export_recurrent::<f64>(&[]), Error::InvalidConfig { .. });
    Ok(())
}

fn torch_export_a_backwards_layer() -> Outcome {
    let l = SimpleRnnConfig::new(2, 3).with_go_backwards(true).init::<f64, _>(&mut rng()).expect("rnn");
    expect_err!(torch::export_recurrent(&[&l as &dyn Layer<f64>]), Error::InvalidConfig { .. }, ["go_backwards"]);
    Ok(())
}

fn torch_export_bidirectional_sum() -> Outcome {
    let bi = Bidirectional::new(lstm(2, 3, true), MergeMode::Sum, &mut rng()).expect("bi");
    expect_err!(torch::export_recurrent(&[&bi as &dyn Layer<f64>]), Error::InvalidConfig { .. }, ["concat"]);
    Ok(())
}

fn torch_export_cho_gru() -> Outcome {
    let g = GruConfig::new(2, 3).with_reset_after(false).init::<f64, _>(&mut rng()).expect("gru");
    expect_err!(torch::export_recurrent(&[&g as &dyn Layer<f64>]), Error::InvalidConfig { .. }, ["reset_after"]);
    Ok(())
}

fn torch_export_linear_with_activation() -> Outcome {
    let d = DenseConfig::new(2, 2).with_activation(Activation::Relu).init::<f64, _>(&mut rng()).expect("dense");
    expect_err!(torch::export_linear(&d), Error::InvalidConfig { .. }, ["linear"]);
    Ok(())
}

fn torch_rnn_from_layers_of_a_dense() -> Outcome {
    let layers: Vec<Box<dyn Layer<f64>>> = vec![Box::new(gru(2, 3)), Box::new(dense(3, 1))];
    expect_err!(torch::TorchRnn::from_layers(layers), Error::InvalidConfig { .. }, ["layer 1"]);
    Ok(())
}

fn torch_load_a_missing_file() -> Outcome {
    let dir = temp_dir("missing-safetensors");
    let r = torch::StateDict::<f32>::load(dir.join("nope.safetensors"));
    let _ = std::fs::remove_dir_all(&dir);
    expect_err!(r, Error::Io { kind: std::io::ErrorKind::NotFound, .. }, ["nope.safetensors"]);
    Ok(())
}

// ───────────────────────────── dropout ─────────────────────────────

fn dropout_rate_nan() -> Outcome {
    expect_err!(Dropout::<f64>::new(f64::NAN), Error::InvalidConfig { .. }, ["Dropout rate", "[0, 1)"]);
    Ok(())
}

fn dropout_rate_of_one() -> Outcome {
    // Every element dropped and the rest scaled by 1/(1 − 1): refused, not infinities.
    expect_err!(Dropout::<f32>::new(1.0), Error::InvalidConfig { .. }, ["Dropout rate"]);
    Ok(())
}

fn dropout_set_rate_negative_keeps_the_rate() -> Outcome {
    let mut d = Dropout::<f64>::new(0.25).expect("dropout");
    expect_err!(d.set_rate(-0.5), Error::InvalidConfig { .. }, ["Dropout rate"]);
    ensure!(d.rate() == 0.25, "the rate changed on error: {}", d.rate());
    Ok(())
}

fn spatial_dropout_rate_infinite() -> Outcome {
    expect_err!(SpatialDropout1D::<f64>::new(f64::INFINITY), Error::InvalidConfig { .. }, ["SpatialDropout1D rate"]);
    Ok(())
}

fn dropout_noise_shape_with_a_zero_axis() -> Outcome {
    let c = DropoutConfig::new(0.5).with_noise_shape(vec![None, Some(0)]);
    expect_err!(c.build::<f64>(), Error::InvalidConfig { .. }, ["noise_shape"]);
    Ok(())
}

fn dropout_noise_shape_of_another_rank() -> Outcome {
    let mut d = DropoutConfig::new(0.5).with_noise_shape(vec![None, Some(1)]).build::<f64>().expect("dropout");
    expect_err!(d.forward(x3(2, 3, 4).into_dyn().view(), Mode::Train), Error::ShapeMismatch { .. }, ["noise_shape"]);
    ensure!(!d.has_cache(), "a refused pass left a cache");
    Ok(())
}

fn dropout_forward_scalar() -> Outcome {
    let mut d = Dropout::<f64>::new(0.5).expect("dropout");
    expect_err!(d.forward(ndarray::arr0(1.0).into_dyn().view(), Mode::Train), Error::ShapeMismatch { .. });
    Ok(())
}

fn dropout_forward_empty_batch() -> Outcome {
    let mut d = Dropout::<f64>::new(0.5).expect("dropout");
    expect_err!(d.forward(x3(0, 3, 2).into_dyn().view(), Mode::Train), Error::Empty { .. }, ["batch size"]);
    Ok(())
}

fn dropout_forward_nan_input_in_inference() -> Outcome {
    let mut d = Dropout::<f64>::new(0.5).expect("dropout");
    let mut x = x3(2, 3, 2);
    x[[1, 2, 0]] = f64::NAN;
    expect_err!(d.forward(x.into_dyn().view(), Mode::Infer), Error::NonFinite { .. }, ["[1, 2, 0]"]);
    Ok(())
}

fn dropout_backward_after_inference() -> Outcome {
    let mut d = Dropout::<f64>::new(0.5).expect("dropout");
    let x = x3(2, 3, 2).into_dyn();
    d.forward(x.view(), Mode::Train).expect("train");
    d.forward(x.view(), Mode::Infer).expect("infer");
    expect_err!(d.backward(x.view()), Error::NoForwardCache { .. });
    Ok(())
}

fn dropout_backward_wrong_shape() -> Outcome {
    let mut d = Dropout::<f64>::new(0.5).expect("dropout");
    d.forward(x3(2, 3, 2).into_dyn().view(), Mode::Train).expect("train");
    expect_err!(d.backward(x3(2, 3, 3).into_dyn().view()), Error::ShapeMismatch { .. }, ["grad_output"]);
    Ok(())
}

fn dropout_mask_beyond_memory() -> Outcome {
    // 100M f32: the input and the output fit under the cap (800 MB), the mask beside them
    // does not. The refused pass must not use up a draw of the stream.
    let mut d = Dropout::<f32>::new(0.5).expect("dropout");
    let x = ArrayD::<f32>::zeros(IxDyn(&[100_000_000, 1]));
    expect_err!(d.forward(x.view(), Mode::Train), Error::OutOfMemory { .. }, ["dropout mask"]);
    drop(x);
    let small = ArrayD::<f32>::ones(IxDyn(&[4, 8]));
    let mut fresh = Dropout::<f32>::new(0.5).expect("dropout");
    ensure!(
        d.forward(small.view(), Mode::Train).ok() == fresh.forward(small.view(), Mode::Train).ok(),
        "the refused pass advanced the random stream"
    );
    Ok(())
}

fn spatial_dropout_rank_two() -> Outcome {
    let mut d = SpatialDropout1D::<f64>::new(0.5).expect("spatial dropout");
    expect_err!(d.forward(Array2::<f64>::zeros((2, 2)).into_dyn().view(), Mode::Train), Error::ShapeMismatch { .. });
    Ok(())
}

fn sequential_add_spatial_dropout_after_vectors() -> Outcome {
    let mut m = small_model();
    let n = m.layers().len();
    expect_err!(m.add(SpatialDropout1D::new(0.5).expect("spatial dropout")), Error::ShapeMismatch { .. });
    ensure!(m.layers().len() == n, "the refused layer was added");
    Ok(())
}

fn json_dropout_rate_of_one() -> Outcome {
    let mut v = model_file(false);
    let layers = v["layers"].as_array_mut().expect("layers");
    layers.insert(1, json!({"kind": "Dropout", "name": "dropout", "config": {"rate": 1.0}, "weights": []}));
    expect_err!(from_value(&v), Error::InvalidConfig { .. }, ["layer 1 (dropout, Dropout)", "rate"]);
    Ok(())
}

fn json_spatial_dropout_unknown_field() -> Outcome {
    let mut v = model_file(false);
    let layers = v["layers"].as_array_mut().expect("layers");
    let config = json!({"rate": 0.2, "noise_shape": [null, 1, null]});
    layers.insert(0, json!({"kind": "SpatialDropout1D", "name": "s", "config": config, "weights": []}));
    expect_err!(from_value(&v), Error::Format { .. }, ["noise_shape"]);
    Ok(())
}

fn torch_with_dropout_nan() -> Outcome {
    let rnn = torch::import_gru(&gru_dict()).expect("import");
    expect_err!(rnn.with_dropout(f64::NAN), Error::InvalidConfig { .. }, ["nn.GRU dropout"]);
    Ok(())
}

fn torch_from_layers_dropout_after_the_last() -> Outcome {
    let layers: Vec<Box<dyn Layer<f64>>> = vec![Box::new(gru(2, 3)), Box::new(Dropout::new(0.2).expect("dropout"))];
    expect_err!(torch::TorchRnn::from_layers(layers), Error::InvalidConfig { .. }, ["layer 1", "not after the last"]);
    Ok(())
}

// ───────────────────────────── a few more corners ─────────────────────────────

fn bidirectional_backward_after_a_half_reran() -> Outcome {
    // The backward half, run alone on one sample after the Bidirectional's pass on two,
    // holds a valid cache of another batch: backward must fail before either half adds a
    // gradient.
    let mut bi = Bidirectional::new(lstm(2, 3, true), MergeMode::Concat, &mut rng()).expect("bi");
    let y = bi.forward(x3(2, 4, 2).into_dyn().view(), Mode::Train).expect("forward");
    bi.backward_layer_mut().forward_with_state(x3(1, 4, 2).view(), None, Mode::Train).expect("half");
    let before = snapshot(&bi);
    expect_err!(bi.backward(ArrayD::from_elem(y.raw_dim(), 1.0).view()), Error::NoForwardCache { .. }, ["ran again"]);
    ensure!(snapshot(&bi) == before, "backward erred but the forward half had added its gradients");
    Ok(())
}

fn train_step_batch_sizes_differ() -> Outcome {
    let mut m = small_model();
    let before = weights(&m);
    expect_err!(
        m.train_step(&x3(3, 4, 2), &Array2::<f64>::zeros((2, 1)), &Mse, &mut Sgd::new(0.1)),
        Error::ShapeMismatch { .. },
        ["batch size"]
    );
    ensure!(weights(&m) == before, "the weights changed on error");
    Ok(())
}

fn adam_gradient_clip_negative_value() -> Outcome {
    refused_step(&mut Adam::new(0.01).with_gradient_clip(GradientClip::Value(-1.0)), "clip")
}

fn rmsprop_step_on_a_nan_gradient() -> Outcome {
    let mut d = with_gradient();
    d.visit_params_mut(&mut |mut p| {
        if let Some(g) = p.grad.iter_mut().next() {
            *g = f64::NAN;
        }
    });
    let before = snapshot(&d);
    let mut opt = RmsProp::new(0.01).with_momentum(0.9).with_centered(true);
    expect_err!(opt.step(&mut d), Error::NonFinite { .. }, ["RMSprop"]);
    ensure!(snapshot(&d) == before, "the layer changed on error");
    ensure!(opt.square_avg().is_empty(), "the optimiser made state on error");
    Ok(())
}

fn embedding_nan_id() -> Outcome {
    let mut e = EmbeddingConfig::new(5, 2).init::<f64, _>(&mut rng()).expect("embedding");
    expect_err!(e.forward(array![[1.0, f64::NAN]].into_dyn().view(), Mode::Train), Error::NonFinite { .. }, ["[0, 1]"]);
    Ok(())
}

fn dense_backward_infinite_gradient() -> Outcome {
    let mut d = dense(2, 3);
    d.forward(Array2::<f64>::zeros((4, 2)).into_dyn().view(), Mode::Train).expect("forward");
    let before = snapshot(&d);
    let mut g = ArrayD::zeros(IxDyn(&[4, 3]));
    g[[3, 2]] = f64::INFINITY;
    expect_err!(d.backward(g.view()), Error::NonFinite { .. });
    ensure!(snapshot(&d) == before, "gradients changed on error");
    Ok(())
}

cases! {
    // configs and constructors
    dense_config_units_overflow,
    dense_config_product_over_limit,
    simple_rnn_config_input_size_over_limit,
    lstm_config_input_times_gates_overflow,
    embedding_config_vocab_overflow,
    recurrent_new_zero_input_size,
    sequential_new_without_axes,
    sequential_new_zero_axis,
    sequential_forward_without_layers,
    sequential_add_wrong_features,
    sequential_add_embedding_after_features,
    // recurrent layers
    simple_rnn_forward_rank_two,
    simple_rnn_forward_zero_steps,
    lstm_forward_masked_wrong_mask,
    gru_backward_nan_gradient_adds_nothing,
    simple_rnn_backward_wrong_shape,
    lstm_set_weights_transposed_kernel,
    gru_set_weights_without_recurrent_bias,
    simple_rnn_set_weights_infinite,
    lstm_set_initial_state_of_another_batch,
    gru_forward_with_nan_state,
    backward_with_state_nan_final_gradient,
    recurrent_backward_after_inference,
    recurrent_backward_after_a_setter_dropped_the_cache,
    recurrent_workspace_beyond_memory,
    // Dense, Embedding, Masking, Bidirectional, activations
    dense_forward_rank_one,
    dense_forward_infinite_input,
    dense_set_kernel_wrong_shape,
    dense_set_bias_nan,
    dense_backward_wrong_shape,
    dense_backward_infinite_gradient,
    dense_output_over_limit,
    embedding_fractional_id,
    embedding_negative_id,
    embedding_id_equal_to_vocab,
    embedding_nan_id,
    embedding_rank_three_ids,
    embedding_set_embeddings_wrong_shape,
    embedding_backward_wrong_shape,
    embedding_output_over_limit,
    masking_forward_rank_two,
    masking_backward_wrong_feature_count,
    masking_output_mask_of_another_shape,
    masking_infinite_mask_value,
    bidirectional_forward_rank_two,
    bidirectional_mask_of_another_shape,
    bidirectional_nan_backward_state,
    bidirectional_backward_after_a_half_reran,
    softmax_of_a_scalar,
    activation_backward_shapes_differ,
    activation_forward_nan,
    // losses
    mse_shapes_differ,
    mse_empty_batch,
    mae_nan_target,
    bce_target_above_one,
    bce_negative_probability,
    cce_scalar_prediction,
    cce_zero_classes,
    sparse_cce_fractional_label,
    sparse_cce_label_equal_to_classes,
    sparse_cce_target_of_another_shape,
    mse_overflowing_in_f32,
    // optimisers and clipping
    sgd_negative_momentum,
    sgd_dampening_above_one,
    sgd_nesterov_without_momentum,
    sgd_learning_rate_set_to_nan,
    adam_beta1_of_one,
    adam_beta2_nan,
    adam_epsilon_zero,
    adamw_negative_weight_decay,
    adam_gradient_clip_negative_value,
    rmsprop_alpha_of_one,
    rmsprop_negative_momentum,
    rmsprop_step_on_a_nan_gradient,
    gradient_clip_norm_zero,
    clip_grad_value_nan,
    clip_grad_norm_of_nan_gradient,
    adam_state_for_another_model,
    sgd_deserialised_buffers_of_other_shapes,
    adam_deserialised_negative_second_moment,
    // data helpers
    windows_of_size_zero,
    windows_longer_than_the_series,
    windows_of_a_series_with_nan,
    windows_whose_array_is_over_limit,
    one_hot_of_no_labels,
    one_hot_label_out_of_range,
    one_hot_rows_times_classes_over_limit,
    pad_ids_maxlen_over_limit,
    pad_ids_id_not_exact_in_f32,
    pad_ids_all_empty_without_maxlen,
    pad_sequences_feature_counts_differ,
    pad_sequences_nan_padding_value,
    pad_sequences_zero_features,
    pad_sequences_batch_times_maxlen_over_limit,
    train_val_split_fraction_of_one,
    train_val_split_of_scalars,
    shuffle_sample_counts_differ,
    batches_of_size_zero,
    batches_of_an_empty_axis,
    // metrics
    accuracy_shapes_differ,
    binary_accuracy_nan_threshold,
    binary_metric_on_soft_labels,
    categorical_accuracy_two_hot_row,
    precision_binary_average_of_three_classes,
    confusion_matrix_classes_over_limit,
    f1_on_a_huge_class_axis,
    confusion_matrix_label_lengths_differ,
    r2_of_one_sample,
    rmse_with_infinite_prediction,
    // Sequential and fit
    fit_zero_epochs,
    fit_zero_batch_size,
    fit_validation_split_nan,
    fit_validation_split_leaving_no_validation,
    fit_sample_counts_differ,
    fit_nan_target,
    fit_targets_of_another_width,
    fit_probabilities_loss_on_unbounded_output,
    fit_early_stopping_on_a_missing_quantity,
    fit_early_stopping_infinite_min_delta,
    fit_invalid_learning_rate,
    fit_shuffle_on_a_stateful_model,
    fit_stateful_with_a_partial_last_batch,
    evaluate_in_batches_of_zero,
    predict_in_batches_of_zero,
    predict_in_batches_of_no_samples,
    train_truncated_window_zero,
    train_truncated_rank_two_input,
    train_truncated_targets_of_another_length,
    train_step_masked_all_padding,
    train_step_mask_of_another_shape,
    train_step_batch_sizes_differ,
    stateful_model_given_another_batch_size,
    sequential_backward_before_forward,
    sequential_forward_wrong_rank,
    sequential_forward_empty_batch,
    evaluate_sample_counts_differ,
    // model files
    json_empty_bytes,
    json_deeply_nested,
    json_not_utf8,
    json_fractional_units,
    json_negative_input_size,
    json_units_whose_gate_width_overflows,
    json_weight_shape_whose_product_overflows,
    json_weight_data_too_short,
    json_weight_beyond_f32,
    json_masking_value_beyond_f32,
    json_empty_input_shape,
    json_duplicate_layer_names,
    json_weight_named_twice,
    json_layers_that_do_not_chain,
    json_version_as_a_string,
    json_optimizer_state_of_another_shape,
    json_load_a_folder,
    json_save_onto_a_folder_keeps_it,
    // safetensors and PyTorch interchange
    safetensors_empty,
    safetensors_header_length_huge,
    safetensors_header_not_json,
    safetensors_every_truncation,
    safetensors_integer_dtype,
    safetensors_offsets_beyond_the_data,
    safetensors_shape_disagrees_with_offsets,
    safetensors_tensor_named_metadata,
    safetensors_f64_beyond_f32_imported,
    state_dict_insert_twice,
    state_dict_extend_with_a_taken_name,
    torch_import_unknown_key,
    torch_import_layer_without_its_predecessors,
    torch_import_hidden_rows_not_a_gate_multiple,
    torch_import_zero_hidden_size,
    torch_import_bias_of_another_length,
    torch_import_projection_weights,
    torch_import_rnn_with_sigmoid,
    torch_import_linear_vector_weight,
    torch_forward_h0_of_another_shape,
    torch_forward_c0_for_a_gru,
    torch_forward_wrong_feature_count,
    torch_into_sequential_zero_steps,
    torch_export_dense_as_an_rnn,
    torch_export_no_layers,
    torch_export_a_backwards_layer,
    torch_export_bidirectional_sum,
    torch_export_cho_gru,
    torch_export_linear_with_activation,
    torch_rnn_from_layers_of_a_dense,
    torch_load_a_missing_file,
    // dropout
    dropout_rate_nan,
    dropout_rate_of_one,
    dropout_set_rate_negative_keeps_the_rate,
    spatial_dropout_rate_infinite,
    dropout_noise_shape_with_a_zero_axis,
    dropout_noise_shape_of_another_rank,
    dropout_forward_scalar,
    dropout_forward_empty_batch,
    dropout_forward_nan_input_in_inference,
    dropout_backward_after_inference,
    dropout_backward_wrong_shape,
    dropout_mask_beyond_memory,
    spatial_dropout_rank_two,
    sequential_add_spatial_dropout_after_vectors,
    json_dropout_rate_of_one,
    json_spatial_dropout_unknown_field,
    torch_with_dropout_nan,
    torch_from_layers_dropout_after_the_last,
}
