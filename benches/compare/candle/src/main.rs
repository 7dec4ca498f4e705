//! candle (CPU) timings of single-layer recurrent cells, for comparison with
//! the `recurrent` crate and the PyTorch reference.
//!
//! Cells (all: one layer, unidirectional, batch-first input (B, T, I), zero
//! initial state, output = hidden state at every step (B, T, H), f32, CPU):
//!
//!   rnn_tanh  candle has no vanilla RNN module, so the Elman step
//!             h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)
//!             is written here with candle ops, as a `candle_nn::rnn::RNN`
//!             implementation, so it runs through the same `seq` loop as
//!             candle's own LSTM and GRU.
//!   lstm      candle_nn::rnn::LSTM (gate order i, f, g, o, like PyTorch)
//!   gru       candle_nn::rnn::GRU  (gate order r, z, n; b_hn inside r * (..),
//!             like PyTorch)
//!
//! Modes:
//!
//!   forward   plain tensors (no Var anywhere), so candle records no graph.
//!   fwd_bwd   W_ih, W_hh, b_ih, b_hh and the input x are `Var`s; one step is
//!             out = model(x); loss = out.sum(); grads = loss.backward().
//!             Building the graph, the backward pass and dropping the graph and
//!             the gradient store are all inside the timed step.
//!
//! Timing: warm-up / calibration for at least --warmup-time seconds and at
//! least 3 runs gives n = ceil(--min-time / estimate) iterations per
//! measurement; --repeats measurements of n back-to-back iterations each;
//! ms_per_iter is the median of the per-iteration means.
//!
//! FLOPs: forward = 2*B*T*G*H*(I+H) with G = 1 (rnn_tanh), 4 (lstm), 3 (gru);
//! fwd_bwd = 3 * forward. gflops = FLOPs / seconds per iteration / 1e9.
//!
//! Output: one JSON object per line on stdout; progress on stderr.

use std::collections::HashMap;
use std::hint::black_box;
use std::process::exit;
use std::time::Instant;

use candle_core::{DType, Device, Result, Tensor, Var};
use candle_nn::rnn::{GRUConfig, LSTMConfig, GRU, LSTM, RNN};
use candle_nn::{VarBuilder, VarMap};
use serde::Serialize;

/// Must match the `=` pin in Cargo.toml.
const CANDLE_VERSION: &str = "0.11.1";

struct Workload {
    name: &'static str,
    b: usize,
    t: usize,
    i: usize,
    h: usize,
}

/// The float32 workloads of /work/shared/bench/workloads.json.
const WORKLOADS: [Workload; 4] = [
    Workload { name: "seed", b: 1, t: 5, i: 1, h: 3 },
    Workload { name: "small", b: 32, t: 50, i: 16, h: 64 },
    Workload { name: "medium", b: 64, t: 100, i: 128, h: 256 },
    Workload { name: "large", b: 64, t: 100, i: 512, h: 512 },
];

const CELLS: [&str; 3] = ["rnn_tanh", "lstm", "gru"];
const MODES: [&str; 2] = ["forward", "fwd_bwd"];

fn gate_blocks(cell: &str) -> usize {
    match cell {
        "rnn_tanh" => 1,
        "lstm" => 4,
        "gru" => 3,
        _ => unreachable!(),
    }
}

// ---------------------------------------------------------------------------
// Elman RNN (tanh) written with candle ops.

struct ElmanRnn {
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    hidden_dim: usize,
}

impl ElmanRnn {
    fn new(in_dim: usize, hidden_dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            w_ih: vb.get((hidden_dim, in_dim), "weight_ih_l0")?,
            w_hh: vb.get((hidden_dim, hidden_dim), "weight_hh_l0")?,
            b_ih: vb.get(hidden_dim, "bias_ih_l0")?,
            b_hh: vb.get(hidden_dim, "bias_hh_l0")?,
            hidden_dim,
        })
    }
}

impl RNN for ElmanRnn {
    type State = Tensor;

    fn zero_state(&self, batch_dim: usize) -> Result<Tensor> {
        Tensor::zeros((batch_dim, self.hidden_dim), self.w_hh.dtype(), self.w_hh.device())
    }

    fn step(&self, input: &Tensor, h: &Tensor) -> Result<Tensor> {
        let xi = input.matmul(&self.w_ih.t()?)?.broadcast_add(&self.b_ih)?;
        let hh = h.matmul(&self.w_hh.t()?)?.broadcast_add(&self.b_hh)?;
        (xi + hh)?.tanh()
    }

    fn states_to_tensor(&self, states: &[Tensor]) -> Result<Tensor> {
        Tensor::stack(states, 1)
    }
}

enum Model {
    Rnn(ElmanRnn),
    Lstm(LSTM),
    Gru(GRU),
}

impl Model {
    fn new(cell: &str, in_dim: usize, hidden_dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(match cell {
            "rnn_tanh" => Model::Rnn(ElmanRnn::new(in_dim, hidden_dim, vb)?),
            "lstm" => Model::Lstm(LSTM::new(in_dim, hidden_dim, LSTMConfig::default(), vb)?),
            "gru" => Model::Gru(GRU::new(in_dim, hidden_dim, GRUConfig::default(), vb)?),
            _ => unreachable!(),
        })
    }

    /// Hidden state of every timestep, shape (B, T, H).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Model::Rnn(m) => m.states_to_tensor(&m.seq(x)?),
            Model::Lstm(m) => m.states_to_tensor(&m.seq(x)?),
            Model::Gru(m) => {
                // GRU::states_to_tensor concatenates along dim 1, giving
                // (B, T*H); stack instead to get (B, T, H) like LSTM.
                let hs: Vec<Tensor> = m.seq(x)?.into_iter().map(|s| s.h).collect();
                Tensor::stack(&hs, 1)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Deterministic data (candle's CPU RNG cannot be seeded).

struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f32 {
        (lo + (hi - lo) * self.unit()) as f32
    }
    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f32 {
        let u1 = 1.0 - self.unit(); // (0, 1]
        let u2 = self.unit();
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
}

/// PyTorch-style initial parameters: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)).
fn init_params(
    rng: &mut SplitMix64,
    g: usize,
    i: usize,
    h: usize,
    dev: &Device,
) -> Result<Vec<(&'static str, Tensor)>> {
    let k = 1.0 / (h as f64).sqrt();
    let mut mk = |shape: &[usize]| -> Result<Tensor> {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.uniform(-k, k)).collect();
        Tensor::from_vec(v, shape, dev)
    };
    Ok(vec![
        ("weight_ih_l0", mk(&[g * h, i])?),
        ("weight_hh_l0", mk(&[g * h, h])?),
        ("bias_ih_l0", mk(&[g * h])?),
        ("bias_hh_l0", mk(&[g * h])?),
    ])
}

// ---------------------------------------------------------------------------
// Timing.

struct Timing {
    sec_per_iter: f64,
    iters_per_repeat: usize,
}

fn time_step<F: FnMut() -> Result<()>>(mut step: F, min_time: f64, repeats: usize, warmup_time: f64) -> Result<Timing> {
    let mut count = 0usize;
    let t0 = Instant::now();
    let elapsed = loop {
        step()?;
        count += 1;
        let e = t0.elapsed().as_secs_f64();
        if count >= 3 && e >= warmup_time {
            break e;
        }
    };
    let per_iter = elapsed / count as f64;
    let n = ((min_time / per_iter).ceil() as usize).max(1);

    let mut means = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let t0 = Instant::now();
        for _ in 0..n {
            step()?;
        }
        means.push(t0.elapsed().as_secs_f64() / n as f64);
    }
    means.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mid = means.len() / 2;
    let median = if means.len() % 2 == 1 { means[mid] } else { 0.5 * (means[mid - 1] + means[mid]) };
    Ok(Timing { sec_per_iter: median, iters_per_repeat: n })
}

/// Round to `digits` significant digits (like Python's float(f"{x:.{digits}g}")).
fn round_sig(x: f64, digits: usize) -> f64 {
    format!("{:.*e}", digits - 1, x).parse().unwrap()
}

#[derive(Serialize)]
struct Record {
    framework: &'static str,
    version: &'static str,
    cell: String,
    workload: &'static str,
    dtype: &'static str,
    threads: usize,
    mode: String,
    ms_per_iter: f64,
    gflops: f64,
    iters_per_repeat: usize,
    repeats: usize,
}

fn bench_one(cell: &str, wl: &Workload, mode: &str, args: &Args) -> Result<Record> {
    let dev = Device::Cpu;
    let (b, t, i, h) = (wl.b, wl.t, wl.i, wl.h);
    let g = gate_blocks(cell);
    let mut rng = SplitMix64(0);
    let params = init_params(&mut rng, g, i, h, &dev)?;
    let x_data: Vec<f32> = (0..b * t * i).map(|_| rng.normal()).collect();
    let x = Tensor::from_vec(x_data, (b, t, i), &dev)?;

    let timing = if mode == "forward" {
        let map: HashMap<String, Tensor> = params.into_iter().map(|(n, p)| (n.to_string(), p)).collect();
        let vb = VarBuilder::from_tensors(map, DType::F32, &dev);
        let model = Model::new(cell, i, h, vb)?;

        // Sanity check outside the timing.
        let out = model.forward(&x)?;
        assert_eq!(out.dims(), &[b, t, h], "output shape");
        assert!(!out.track_op(), "forward mode must not record a graph");

        time_step(
            || {
                let out = model.forward(&x)?;
                black_box(out);
                Ok(())
            },
            args.min_time,
            args.repeats,
            args.warmup_time,
        )?
    } else {
        let varmap = VarMap::new();
        let mut vars = Vec::new();
        {
            let mut data = varmap.data().lock().unwrap();
            for (name, p) in params {
                let v = Var::from_tensor(&p)?;
                vars.push(v.clone());
                data.insert(name.to_string(), v);
            }
        }
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let model = Model::new(cell, i, h, vb)?;
        let x = Var::from_tensor(&x)?;

        // Sanity check outside the timing: gradients reach x and every parameter.
        let grads = model.forward(x.as_tensor())?.sum_all()?.backward()?;
        let gx = grads.get(x.as_tensor()).expect("no gradient for x");
        assert_eq!(gx.dims(), &[b, t, i], "dL/dx shape");
        for v in &vars {
            let gv = grads.get(v.as_tensor()).expect("no gradient for a parameter");
            assert_eq!(gv.dims(), v.dims(), "parameter gradient shape");
        }
        drop(grads);

        time_step(
            || {
                let out = model.forward(x.as_tensor())?;
                let loss = out.sum_all()?;
                let grads = loss.backward()?;
                black_box(grads);
                Ok(())
            },
            args.min_time,
            args.repeats,
            args.warmup_time,
        )?
    };

    let fwd_flops = 2.0 * (b * t * g * h * (i + h)) as f64;
    let flops = if mode == "forward" { fwd_flops } else { 3.0 * fwd_flops };
    let sec = timing.sec_per_iter;
    Ok(Record {
        framework: "candle",
        version: CANDLE_VERSION,
        cell: cell.to_string(),
        workload: wl.name,
        dtype: "float32",
        threads: args.threads,
        mode: mode.to_string(),
        ms_per_iter: round_sig(sec * 1e3, 6),
        gflops: round_sig(flops / sec / 1e9, 4),
        iters_per_repeat: timing.iters_per_repeat,
        repeats: args.repeats,
    })
}

// ---------------------------------------------------------------------------
// --check: compare the candle forward pass with a plain-loop implementation of
// PyTorch's equations (nn.RNN tanh, nn.LSTM, nn.GRU), in f64.

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// Reference forward in PyTorch's formulation; returns (B, T, H) row-major.
fn reference_forward(cell: &str, p: &[Vec<f32>], x: &[f32], b: usize, t: usize, i: usize, h: usize) -> Vec<f64> {
    let g = gate_blocks(cell);
    let (w_ih, w_hh, b_ih, b_hh) = (&p[0], &p[1], &p[2], &p[3]);
    let mut out = vec![0.0; b * t * h];
    for bi in 0..b {
        let mut hs = vec![0.0f64; h];
        let mut cs = vec![0.0f64; h];
        for ti in 0..t {
            let xt = &x[(bi * t + ti) * i..(bi * t + ti + 1) * i];
            // gi = W_ih x + b_ih, gh = W_hh h + b_hh, each of length G*H.
            let gi: Vec<f64> = (0..g * h)
                .map(|r| b_ih[r] as f64 + (0..i).map(|k| w_ih[r * i + k] as f64 * xt[k] as f64).sum::<f64>())
                .collect();
            let gh: Vec<f64> = (0..g * h)
                .map(|r| b_hh[r] as f64 + (0..h).map(|k| w_hh[r * h + k] as f64 * hs[k]).sum::<f64>())
                .collect();
            let new_h: Vec<f64> = match cell {
                "rnn_tanh" => (0..h).map(|j| (gi[j] + gh[j]).tanh()).collect(),
                "lstm" => (0..h)
                    .map(|j| {
                        let ig = sigmoid(gi[j] + gh[j]);
                        let fg = sigmoid(gi[h + j] + gh[h + j]);
                        let gg = (gi[2 * h + j] + gh[2 * h + j]).tanh();
                        let og = sigmoid(gi[3 * h + j] + gh[3 * h + j]);
                        cs[j] = fg * cs[j] + ig * gg;
                        og * cs[j].tanh()
                    })
                    .collect(),
                "gru" => (0..h)
                    .map(|j| {
                        let r = sigmoid(gi[j] + gh[j]);
                        let z = sigmoid(gi[h + j] + gh[h + j]);
                        let n = (gi[2 * h + j] + r * gh[2 * h + j]).tanh();
                        (1.0 - z) * n + z * hs[j]
                    })
                    .collect(),
                _ => unreachable!(),
            };
            hs = new_h;
            out[(bi * t + ti) * h..(bi * t + ti + 1) * h].copy_from_slice(&hs);
        }
    }
    out
}

fn run_check() -> Result<bool> {
    let dev = Device::Cpu;
    let (b, t, i, h) = (2, 4, 3, 5);
    let mut ok = true;
    for cell in CELLS {
        let mut rng = SplitMix64(42);
        let params = init_params(&mut rng, gate_blocks(cell), i, h, &dev)?;
        let x_data: Vec<f32> = (0..b * t * i).map(|_| rng.normal()).collect();
        let flat: Vec<Vec<f32>> =
            params.iter().map(|(_, p)| p.flatten_all()?.to_vec1::<f32>()).collect::<Result<_>>()?;
        let want = reference_forward(cell, &flat, &x_data, b, t, i, h);
        let map: HashMap<String, Tensor> = params.into_iter().map(|(n, p)| (n.to_string(), p)).collect();
        let model = Model::new(cell, i, h, VarBuilder::from_tensors(map, DType::F32, &dev))?;
        let x = Tensor::from_vec(x_data, (b, t, i), &dev)?;
        let got = model.forward(&x)?.flatten_all()?.to_vec1::<f32>()?;
        let err = got.iter().zip(&want).map(|(a, w)| (*a as f64 - w).abs()).fold(0.0, f64::max);
        let pass = err < 1e-5;
        ok &= pass;
        eprintln!("check {cell}: max |candle - reference| = {err:.3e} {}", if pass { "ok" } else { "FAIL" });
    }
    Ok(ok)
}

// ---------------------------------------------------------------------------
// Command line.

struct Args {
    cells: Vec<String>,
    workloads: Vec<String>,
    modes: Vec<String>,
    min_time: f64,
    repeats: usize,
    warmup_time: f64,
    threads: usize,
    check: bool,
}

const USAGE: &str = "\
usage: candle-rnn-bench [--cells LIST] [--workloads LIST] [--modes LIST]
                        [--min-time SEC] [--repeats N] [--warmup-time SEC] [--threads N]
       candle-rnn-bench --check

  --cells        comma list of rnn_tanh,lstm,gru          (default: all)
  --workloads    comma list of seed,small,medium,large    (default: all)
  --modes        comma list of forward,fwd_bwd            (default: both)
  --min-time     minimum seconds per measurement           (default 0.5)
  --repeats      measurements per configuration (median)   (default 5)
  --warmup-time  warm-up / calibration seconds              (default 0.2)
  --threads      CPU threads for candle (sets RAYON_NUM_THREADS and
                 CANDLE_NUM_THREADS)                        (default 1)
  --check        only compare candle's forward output with a plain-loop
                 implementation of PyTorch's equations, then exit";

fn die(msg: &str) -> ! {
    eprintln!("error: {msg}\n\n{USAGE}");
    exit(2)
}

fn parse_list(value: &str, allowed: &[&str], what: &str) -> Vec<String> {
    let items: Vec<String> = value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
    for it in &items {
        if !allowed.contains(&it.as_str()) {
            die(&format!("unknown {what}: {it} (choose from {})", allowed.join(",")));
        }
    }
    items
}

fn parse_args() -> Args {
    let wl_names: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
    let mut args = Args {
        cells: CELLS.iter().map(|s| s.to_string()).collect(),
        workloads: wl_names.iter().map(|s| s.to_string()).collect(),
        modes: MODES.iter().map(|s| s.to_string()).collect(),
        min_time: 0.5,
        repeats: 5,
        warmup_time: 0.2,
        threads: 1,
        check: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            exit(0);
        }
        if arg == "--check" {
            args.check = true;
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value =
            || inline.clone().or_else(|| it.next()).unwrap_or_else(|| die(&format!("{flag} needs a value")));
        let num = |v: String| -> f64 { v.parse().unwrap_or_else(|_| die(&format!("bad number for {flag}: {v}"))) };
        match flag.as_str() {
            "--cells" => args.cells = parse_list(&value(), &CELLS, "cell"),
            "--workloads" => args.workloads = parse_list(&value(), &wl_names, "workload"),
            "--modes" => args.modes = parse_list(&value(), &MODES, "mode"),
            "--min-time" => args.min_time = num(value()),
            "--warmup-time" => args.warmup_time = num(value()),
            "--repeats" => args.repeats = num(value()) as usize,
            "--threads" => args.threads = num(value()) as usize,
            _ => die(&format!("unknown argument: {arg}")),
        }
    }
    if args.repeats == 0 || args.threads == 0 {
        die("--repeats and --threads must be >= 1");
    }
    args
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn main() {
    let args = parse_args();

    // candle's CPU backend reads these on use: RAYON_NUM_THREADS decides the
    // gemm parallelism of matmul (1 => gemm::Parallelism::None) and
    // CANDLE_NUM_THREADS (falling back to RAYON_NUM_THREADS) sizes the barrier
    // pool used by large elementwise ops. candle 0.11 has no set_num_threads.
    // Set before any candle call, while this is the only thread.
    std::env::set_var("RAYON_NUM_THREADS", args.threads.to_string());
    std::env::set_var("CANDLE_NUM_THREADS", args.threads.to_string());

    if args.check {
        match run_check() {
            Ok(true) => exit(0),
            Ok(false) => exit(1),
            Err(e) => {
                eprintln!("error: {e}");
                exit(1)
            }
        }
    }

    eprintln!(
        "# {}",
        serde_json::json!({
            "framework": "candle",
            "candle_version": CANDLE_VERSION,
            "cpu_model": cpu_model(),
            "logical_cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "threads": args.threads,
            "candle_get_num_threads": candle_core::utils::get_num_threads(),
            "with_avx": candle_core::utils::with_avx(),
            "with_f16c": candle_core::utils::with_f16c(),
            "has_mkl": candle_core::utils::has_mkl(),
        })
    );

    for wl in WORKLOADS.iter().filter(|w| args.workloads.iter().any(|n| n == w.name)) {
        for cell in CELLS.iter().filter(|c| args.cells.iter().any(|n| n == *c)) {
            for mode in MODES.iter().filter(|m| args.modes.iter().any(|n| n == *m)) {
                let started = Instant::now();
                match bench_one(cell, wl, mode, &args) {
                    Ok(rec) => {
                        println!("{}", serde_json::to_string(&rec).unwrap());
                        eprintln!("# {cell} {} {mode}: {:.1} s wall", wl.name, started.elapsed().as_secs_f64());
                    }
                    Err(e) => {
                        eprintln!("error: {cell} {} {mode}: {e}", wl.name);
                        exit(1);
                    }
                }
            }
        }
    }
}
