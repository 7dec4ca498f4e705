//! The benchmark shapes of ../shared/bench/workloads.json, kept here so `cargo bench` works
//! in any checkout. B = batch, T = time steps, I = input features, H = units; the output is
//! every step's state (B, T, H), as in the PyTorch reference script.

/// One benchmark shape.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    pub name: &'static str,
    pub b: usize,
    pub t: usize,
    pub i: usize,
    pub h: usize,
    /// Whether the reference also measures float64 on this shape.
    pub f64_too: bool,
}

pub const WORKLOADS: [Workload; 4] = [
    Workload { name: "seed", b: 1, t: 5, i: 1, h: 3, f64_too: true },
    Workload { name: "small", b: 32, t: 50, i: 16, h: 64, f64_too: true },
    Workload { name: "medium", b: 64, t: 100, i: 128, h: 256, f64_too: false },
    Workload { name: "large", b: 64, t: 100, i: 512, h: 512, f64_too: false },
];
