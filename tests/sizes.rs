//! Sizes a caller chooses: each case from the robustness sweep (issue 10) that panicked in
//! ndarray or aborted on a failed allocation is now a specific `Err`, returned without
//! allocating anything large. A terabyte request that did allocate would crash the test
//! process, so reaching the assertion is part of what is checked.
//!
//! `TooLarge` is a count over `limits::MAX_ELEMENTS` (2^36) or an overflowing product;
//! `OutOfMemory` a count within it that no machine this runs on can reserve (128 GiB and
//! more: Linux refuses a single reservation beyond its RAM and swap).

use ndarray::{Array1, Array2, Array3, ArrayView2, ArrayView3};
use recurrent::data::{one_hot, pad_ids, pad_sequences, windows, Padding, Truncating};
use recurrent::prelude::*;
use recurrent::rand::Rng;

fn too_large<T: std::fmt::Debug>(r: Result<T>, what: &str) {
    match r {
        Err(Error::TooLarge { .. }) => {}
        other => panic!("{what}: expected Error::TooLarge, got {other:?}"),
    }
}

fn out_of_memory<T: std::fmt::Debug>(r: Result<T>, what: &str) {
    match r {
        Err(Error::OutOfMemory { bytes, .. }) => assert!(bytes >= 1 << 37, "{what}: {bytes} bytes"),
        other => panic!("{what}: expected Error::OutOfMemory, got {other:?}"),
    }
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

#[test]
fn configs_with_huge_sizes_are_refused_before_drawing() {
    // Overflowing products (these panicked inside ndarray).
    too_large(DenseConfig::new(usize::MAX, 2).init::<f32, _>(&mut rng()), "Dense usize::MAX inputs");
    too_large(GruConfig::new(1, 1 << 62).init::<f32, _>(&mut rng()), "GRU 2^62 units");
    // Over the limit (these aborted the process).
    too_large(LstmConfig::new(1, 1 << 40).init::<f32, _>(&mut rng()), "LSTM 2^40 units");
    too_large(SimpleRnnConfig::new(1, 1 << 20).init::<f32, _>(&mut rng()), "SimpleRNN 2^20 units");
    too_large(EmbeddingConfig::new(1 << 40, 1 << 20).init::<f32, _>(&mut rng()), "Embedding 2^40 × 2^20");
    too_large(DenseConfig::new(1 << 30, 1 << 30).init::<f64, _>(&mut rng()), "Dense 2^30 × 2^30");
    // Within the limit, beyond any memory: 2^36 f64 = 512 GiB.
    out_of_memory(DenseConfig::new(1 << 18, 1 << 18).init::<f64, _>(&mut rng()), "Dense 2^18 × 2^18");
    out_of_memory(EmbeddingConfig::new(1 << 26, 1 << 10).init::<f64, _>(&mut rng()), "Embedding 2^26 × 2^10");
    // The huge layer's RNG was never advanced: the size check comes before any draw.
    let mut a = rng();
    let _ = SimpleRnnConfig::new(1, 1 << 20).init::<f32, _>(&mut a);
    assert_eq!(a.random::<u64>(), rng().random::<u64>());
}

#[test]
fn the_error_names_the_parameter_and_its_size() {
    let e = LstmConfig::new(3, 1 << 40).init::<f32, _>(&mut rng()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("LSTM") && msg.contains("kernel"), "{msg}");
    assert!(msg.contains(&(1u64 << 40).to_string()), "{msg}");
    let e = DenseConfig::new(1 << 18, 1 << 18).init::<f64, _>(&mut rng()).unwrap_err();
    assert!(e.to_string().contains("Dense kernel"), "{e}");
}

#[test]
fn initialisers_refuse_huge_sizes() {
    too_large(recurrent::init::orthogonal::<f32, _>(&mut rng(), 1 << 20, 1 << 20), "orthogonal 2^20 × 2^20");
    too_large(recurrent::init::glorot_uniform::<f32, _>(&mut rng(), usize::MAX, 3), "glorot usize::MAX × 3");
    out_of_memory(recurrent::init::orthogonal::<f32, _>(&mut rng(), 1 << 18, 1 << 17), "orthogonal 2^18 × 2^17");
}

#[test]
fn data_helpers_refuse_huge_sizes() {
    let seqs = [Array2::<f32>::zeros((3, 2))];
    too_large(pad_sequences(&seqs, Some(1 << 40), Padding::Pre, Truncating::Pre, 0.0), "pad_sequences maxlen 2^40");
    too_large(pad_ids::<f32, _>(&[vec![1, 2]], Some(1 << 40), Padding::Post, Truncating::Post, 0), "pad_ids 2^40");
    // 2^30 classes for 2^10 labels is 2^40 elements; for 64 labels exactly the limit,
    // 2^36 f32 = 256 GiB.
    too_large(one_hot::<f32>(&vec![0; 1 << 10], 1 << 30), "one_hot 2^10 × 2^30");
    out_of_memory(one_hot::<f32>(&[0; 64], 1 << 30), "one_hot 64 × 2^30");
    // Overlapping windows: (N − size)·size grows with the square of the series.
    let series = vec![0.0f32; (1 << 20) + 1];
    too_large(windows(&series, 1 << 19), "windows 2^19 of 2^20");
    let series = vec![0.0f32; 1 << 19];
    out_of_memory(windows(&series, 1 << 18), "windows 2^18 of 2^19");
}

/// A `(b, t, i)` input of zeros that occupies no memory (every element is one zero).
fn broadcast(b: usize, t: usize, i: usize) -> (Array3<f32>, [usize; 3]) {
    (Array3::zeros((1, 1, i)), [b, t, i])
}

fn view<'a>(a: &'a Array3<f32>, shape: [usize; 3]) -> ArrayView3<'a, f32> {
    a.broadcast(shape).unwrap()
}

#[test]
fn a_forward_pass_whose_workspace_cannot_exist_errs_and_changes_nothing() {
    // LSTM(1, 1024): G·H = 4096 gate columns, so B·T input rows need B·T·4096 elements of gx.
    let mut lstm = LstmConfig::new(1, 1024).with_return_sequences(true).init::<f32, _>(&mut rng()).unwrap();
    let before = lstm.weights().clone();
    let small = Array3::<f32>::from_elem((2, 3, 1), 0.5);
    lstm.forward(small.view().into_dyn(), Mode::Train).unwrap();
    assert!(lstm.has_cache());

    // B·T = 2^25: gx is 2^37 elements, over the limit.
    let (x, shape) = broadcast(1 << 13, 1 << 12, 1);
    too_large(lstm.forward(view(&x, shape).into_dyn(), Mode::Train), "LSTM forward, gx 2^37");
    assert!(!lstm.has_cache(), "a failed forward leaves no cache");
    assert!(matches!(
        lstm.backward(Array3::<f32>::zeros((2, 3, 1024)).view().into_dyn()),
        Err(Error::NoForwardCache { .. })
    ));
    // B·T = 2^23: gx is 2^35 f32 = 128 GiB, within the limit.
    let (x, shape) = broadcast(1 << 12, 1 << 11, 1);
    out_of_memory(lstm.forward(view(&x, shape).into_dyn(), Mode::Train), "LSTM forward, gx 2^35");
    assert_eq!(lstm.weights(), before, "weights unchanged");
    assert!(!lstm.has_cache());

    // The layer still works, with the same result as before.
    let y1 = lstm.forward(small.view().into_dyn(), Mode::Infer).unwrap();
    let mut fresh = LstmConfig::new(1, 1024).with_return_sequences(true).init::<f32, _>(&mut rng()).unwrap();
    assert_eq!(y1, fresh.forward(small.view().into_dyn(), Mode::Infer).unwrap());
}

#[test]
fn dense_and_embedding_outputs_are_sized_before_computing() {
    let mut dense = DenseConfig::new(1, 1 << 12).init::<f32, _>(&mut rng()).unwrap();
    let kernel = dense.kernel().clone();
    // rows · units = 2^25 · 2^12 = 2^37.
    let x = Array2::<f32>::zeros((1, 1));
    too_large(dense.forward(x.broadcast((1 << 25, 1)).unwrap().into_dyn(), Mode::Train), "Dense output 2^37");
    // 2^24 · 2^12 = 2^36 f32 = 256 GiB.
    out_of_memory(dense.forward(x.broadcast((1 << 24, 1)).unwrap().into_dyn(), Mode::Train), "Dense output 2^36");
    assert_eq!(dense.kernel(), &kernel);

    let mut emb = EmbeddingConfig::new(4, 1 << 20).init::<f32, _>(&mut rng()).unwrap();
    let table = emb.embeddings().clone();
    let ids = Array2::<f32>::zeros((1, 1));
    let ids_of = |b: usize, t: usize| -> ArrayView2<'_, f32> { ids.broadcast((b, t)).unwrap() };
    // B·T·dim = 2^17 · 2^20 = 2^37.
    too_large(emb.forward(ids_of(1 << 8, 1 << 9).into_dyn(), Mode::Train), "Embedding output 2^37");
    // 2^16 · 2^20 = 2^36 f32.
    out_of_memory(emb.forward(ids_of(1 << 8, 1 << 8).into_dyn(), Mode::Train), "Embedding output 2^36");
    assert_eq!(emb.embeddings(), &table);
}

#[test]
fn loaders_refuse_a_file_larger_than_any_buffer() {
    // A sparse 1 TiB file: nothing is written to disk, and nothing may be read into memory.
    let path = std::env::temp_dir().join(format!("recurrent-sizes-{}.bin", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(1 << 40).unwrap();
    drop(file);
    let torch = recurrent::io::torch::StateDict::<f32>::load(&path);
    let json = recurrent::io::json::load::<f32>(&path);
    std::fs::remove_file(&path).unwrap();
    too_large(torch, "safetensors load of a 1 TiB file");
    too_large(json, "model load of a 1 TiB file");
}

#[test]
fn orthogonal_init_of_4096_units_is_orthonormal() {
    let rnn = SimpleRnnConfig::new(1, 4096).init::<f32, _>(&mut rng()).unwrap();
    let w = &rnn.weights().recurrent_kernel;
    assert_eq!(w.shape(), &[4096, 4096]);
    let mut pick = StdRng::seed_from_u64(1);
    let col = |j: usize| -> Array1<f64> { w.column(j).mapv(f64::from) };
    let row = |j: usize| -> Array1<f64> { w.row(j).mapv(f64::from) };
    // A few random pairs of distinct columns (and rows: a square result is orthogonal both
    // ways), rather than the whole 4096 × 4096 Gram matrix.
    for _ in 0..12 {
        let i = pick.random_range(0..4096);
        let j = (i + pick.random_range(1..4096)) % 4096;
        for (what, a, b) in [("columns", col(i), col(j)), ("rows", row(i), row(j))] {
            assert!((a.dot(&a) - 1.0).abs() < 1e-5, "{what} {i}: norm² {}", a.dot(&a));
            assert!(a.dot(&b).abs() < 1e-5, "{what} {i} · {j} = {}", a.dot(&b));
        }
    }
}
