//! Any bytes given to the safetensors reader and the PyTorch importers: an `Err` or layers,
//! never a panic, an abort or an unbounded allocation. What imports must run, and export →
//! import must give back the same weights.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ndarray::Array3;
use recurrent::io::torch::{export_linear, import_linear, RnnMode, StateDict, TorchRnn};
use recurrent::{Float, Layer, Mode};

fn weights<F: Float>(layers: &[Box<dyn Layer<F>>]) -> Vec<Vec<u64>> {
    let mut out = Vec::new();
    for l in layers {
        l.visit_params(&mut |p| out.push(p.value.iter().map(|v| v.to_f64_exact().to_bits()).collect()));
    }
    out
}

fn exercise<F: Float>(data: &[u8]) {
    let Ok(dict) = StateDict::<F>::from_bytes(data) else { return };
    if let Ok(mut fc) = import_linear(&dict) {
        let back = import_linear(&export_linear(&fc).expect("an imported Linear exports")).expect("and imports");
        assert_eq!(back.kernel(), fc.kernel());
        let x = ndarray::ArrayD::<F>::zeros(ndarray::IxDyn(&[1, fc.config().in_features]));
        if fc.config().in_features.checked_mul(fc.config().units).is_some_and(|n| n <= 1 << 16) {
            fc.forward(x.view(), Mode::Infer).expect("runs");
        }
    }
    for mode in [RnnMode::RnnTanh, RnnMode::RnnRelu, RnnMode::Lstm, RnnMode::Gru] {
        let Ok(mut rnn) = TorchRnn::import(&dict, mode) else { continue };
        let exported = rnn.export().expect("an imported module exports");
        let bytes = exported.to_bytes().expect("and serialises");
        let back = TorchRnn::import(&StateDict::<F>::from_bytes(&bytes).expect("reads"), mode).expect("imports");
        assert_eq!(back.spec().num_layers, rnn.spec().num_layers);
        assert_eq!(weights(back.layers()), weights(rnn.layers()), "export → import keeps every weight");
        let s = *rnn.spec();
        let size = s.input_size.checked_mul(s.hidden_size).and_then(|n| n.checked_mul(s.num_layers));
        if size.is_some_and(|n| n <= 1 << 16) {
            let x = Array3::<F>::from_elem((2, 3, s.input_size), F::of(0.25));
            // Weights may overflow to infinity between layers, which the next layer refuses.
            match rnn.forward(x.view(), None, None) {
                Ok(out) => assert_eq!(out.output.dim(), (2, 3, s.directions() * s.hidden_size)),
                Err(recurrent::Error::NonFinite { .. }) => {}
                Err(e) => panic!("an imported module fails to run: {e}"),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    exercise::<f32>(data);
    exercise::<f64>(data);
});
