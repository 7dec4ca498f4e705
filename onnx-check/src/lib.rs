//! Nothing here: this package only holds `recurrent`'s ONNX checks (`tests/onnx.rs`, which
//! runs every exported file in tract, and `examples/onnx_export.rs`). See `Cargo.toml` for
//! why they live outside the main crate.
