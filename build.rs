//! Compiles ONNX's own schema (`proto/onnx.proto`, vendored) into Rust types for
//! `recurrent::io::onnx`, with the feature `onnx` only: without it this does nothing.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "onnx")]
    onnx::compile();
}

#[cfg(feature = "onnx")]
mod onnx {
    pub fn compile() {
        println!("cargo:rerun-if-changed=proto/onnx.proto");
        // protox parses and checks the schema in Rust (no system protoc); prost-build turns
        // the descriptors into prost structs in OUT_DIR/onnx.rs.
        let fds = match protox::compile(["onnx.proto"], ["proto"]) {
            Ok(fds) => fds,
            Err(e) => panic!("proto/onnx.proto does not compile: {e}"),
        };
        // The schema's comments would become doc comments, and rustdoc would try their
        // indented examples as doctests.
        if let Err(e) = prost_build::Config::new().disable_comments(["."]).compile_fds(fds) {
            panic!("generating the ONNX types failed: {e}");
        }
    }
}
