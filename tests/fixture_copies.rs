//! The crate keeps its own copy of the PyTorch fixture data (tests/fixtures) so a fresh clone
//! tests itself. Two things are checked on every run, clone or not:
//!
//! * every data file is byte for byte the shared original: its size and SHA-256 are recorded
//!   below (taken from the shared set, `sha256sum *.json torch_state_dicts/*` there), and no
//!   data file is missing or extra;
//! * every file holds the cases the fixture tests iterate over, with the fields they read, so
//!   a truncated or emptied file cannot make those tests pass by having nothing to compare.
//!
//! When the shared originals are also present (`$RECURRENT_SHARED_FIXTURES`, else
//! `../shared/fixtures` next to the checkout), each copy is compared with its twin as well.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// `(path under tests/fixtures, size in bytes, SHA-256)` of every data file.
const MANIFEST: [(&str, u64, &str); 24] = [
    ("activations_losses.json", 14896, "e5170b1147f0bb24fd61cc6d2ba3ed50f8eab102cd0163c5c6a8e4ba5130e131"),
    ("dense.json", 10652, "7107a6f58ee4442ed289dc403ea788ec4fc4ee93a58a53f1c3d8deef34556095"),
    ("gru.json", 53127, "1aeed3e08e9c2a730fe90f24c3f1d8d4f54ab686ab97851644b04436465fe7d9"),
    ("lstm.json", 61362, "5384316bd20992dd1905952559c818e5f0b9765075a6825ec2b2358402402fad"),
    ("masked.json", 161974, "4e3750b00274c7a5da565f06fdc0eddc7d45f42243f4ac594a95aafb84a0a404"),
    ("optimizers.json", 59873, "70347b474bad71eec06702b93baaeb3ca7ca5985aa3b139f2645ff1326607609"),
    ("seed_model.json", 9860, "cadf4e0dc8a3e5047660e314c490ffc70a318ae6f84534ff205cbdad65096392"),
    ("simple_rnn.json", 30734, "31587f7c4199aef8e5166bf9a29d9d9fce5f412a43fa6fa9d6823d3609f41b5f"),
    ("torch_state_dicts/gru_1layer.json", 5482, "05861c559a32ee995f736ed02f9320847db92e584deefac723805d6d131a7cb4"),
    (
        "torch_state_dicts/gru_1layer.safetensors",
        712,
        "86782ad47129996ad0eb06b25245be6baf8f18f9eb7e307a9668b6572eac2c63",
    ),
    (
        "torch_state_dicts/gru_2layer_bidirectional.json",
        12075,
        "f0c1fdddfaa80192327d1d302b450b0a695710ea4c415ca0f94597abb09293a8",
    ),
    (
        "torch_state_dicts/gru_2layer_bidirectional.safetensors",
        3392,
        "277e2e3b676685365fd2545737ab403429217765ac640d23bdef0391690b0ea1",
    ),
    ("torch_state_dicts/linear.json", 2012, "9c7d807556ff30563d6d59bf5323c78adf93615a20d43be58e2af84f8840c059"),
    ("torch_state_dicts/linear.safetensors", 168, "bf328be14d1914591a50f4700aeb8495e1463923cc379129b07adda6953d43e4"),
    (
        "torch_state_dicts/lstm_1layer_float64.json",
        3995,
        "6adaf804d3783b6591dca416b972d2bca39fa19f2f9be636c039b8d71f301f81",
    ),
    (
        "torch_state_dicts/lstm_1layer_float64.safetensors",
        1440,
        "95877f07072f6664bfd535f10ddce7f5cfedb013d8d45fed0f1a9dfc5206458f",
    ),
    ("torch_state_dicts/lstm_2layer.json", 9879, "86c2bbc9638401092126b93e74ed8c69e7cd278d5d5389d20c1632d4b4cdeaff"),
    (
        "torch_state_dicts/lstm_2layer.safetensors",
        2328,
        "03fab0eacefa87ffd636f6b91eaa848d6350bdc04812c0f1b9a906c384f16496",
    ),
    (
        "torch_state_dicts/lstm_bidirectional.json",
        11572,
        "5219bd2f3d5748f1fbe7f14b6bc4b7110bb82da7e6fcd1910850c716d92b25f3",
    ),
    (
        "torch_state_dicts/lstm_bidirectional.safetensors",
        1744,
        "cfe260e588c3606d70cb4a8445dc97cf36066c7fb2d0a685ea84067400300eae",
    ),
    (
        "torch_state_dicts/rnn_relu_2layer_bidirectional.json",
        7565,
        "5234f49026671777e12454c3a44c3c41b25e1f884864c941c7123240371d35b9",
    ),
    (
        "torch_state_dicts/rnn_relu_2layer_bidirectional.safetensors",
        1888,
        "83dc97489101dd0a4ae153f3c073b49cdbf8c41f9f8543ce8ce0b4ee8c4810f1",
    ),
    (
        "torch_state_dicts/rnn_tanh_1layer.json",
        5478,
        "ae29d5758e2c3cb9c33b72495d4bdfc8b59e2b88c7bfd2f04ad932636dde82fd",
    ),
    (
        "torch_state_dicts/rnn_tanh_1layer.safetensors",
        424,
        "9de8064d27bf3745b042c8d951508d2e2055ca128625daad769d789ecf39a759",
    ),
];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures")
}

/// The data files under `dir` (JSON at the top, JSON and safetensors in torch_state_dicts),
/// as sorted paths relative to `dir` with `/` separators.
fn data_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["", "torch_state_dicts"] {
        let entries = fs::read_dir(dir.join(sub)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(sub).display()));
        for e in entries {
            let p = e.expect("folder entry").path();
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            let data = ext == "json" || (!sub.is_empty() && ext == "safetensors");
            if p.is_file() && data {
                let name = p.file_name().and_then(|n| n.to_str()).expect("UTF-8 file name");
                out.push(if sub.is_empty() { name.to_string() } else { format!("{sub}/{name}") });
            }
        }
    }
    out.sort();
    out
}

/// SHA-256 (FIPS 180-4), so the manifest can be checked with `sha256sum` and needs no crate.
fn sha256(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh.wrapping_add(s1).wrapping_add(ch).wrapping_add(K[i]).wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            (hh, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[test]
fn the_checksum_is_sha256() {
    // FIPS 180-4's examples: one block, two blocks, and the empty message.
    assert_eq!(sha256(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!(
        sha256(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
    assert_eq!(sha256(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

#[test]
fn every_fixture_file_is_the_recorded_original() {
    let ours = fixtures();
    let listed: Vec<&str> = MANIFEST.iter().map(|(p, _, _)| *p).collect();
    assert_eq!(data_files(&ours), listed, "the data files in tests/fixtures differ from the manifest");
    for (rel, size, hash) in MANIFEST {
        let bytes = fs::read(ours.join(rel)).unwrap_or_else(|e| panic!("tests/fixtures/{rel}: {e}"));
        assert_eq!(bytes.len() as u64, size, "tests/fixtures/{rel}: size");
        assert_eq!(sha256(&bytes), hash, "tests/fixtures/{rel}: SHA-256 differs from the shared original's");
    }

    // The originals themselves, where this checkout sits next to them.
    let shared = std::env::var_os("RECURRENT_SHARED_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("shared").join("fixtures"));
    if shared.is_dir() {
        assert_eq!(data_files(&shared), listed, "the data files in {} differ", shared.display());
        for rel in &listed {
            let a = fs::read(ours.join(rel)).expect("read copy");
            let b = fs::read(shared.join(rel)).expect("read original");
            assert!(a == b, "tests/fixtures/{rel} differs from its twin in {}", shared.display());
        }
    }
}

fn read_json(rel: &str) -> Value {
    let path = fixtures().join(rel);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn list<'a>(v: &'a Value, what: &str) -> &'a Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("{what}: expected a JSON list"))
}

/// Asserts `case` has every field in `fields` (not null unless `nullable` names it).
fn has_fields(case: &Value, what: &str, fields: &[&str], nullable: &[&str]) {
    for f in fields {
        match case.get(f) {
            None => panic!("{what}: no field `{f}`"),
            Some(Value::Null) if !nullable.contains(f) => panic!("{what}: field `{f}` is null"),
            Some(_) => {}
        }
    }
}

#[test]
fn the_fixtures_hold_the_cases_the_tests_iterate_over() {
    // Layer cases (README sections 4 and 11): counts, kinds, and what the fixture tests read.
    let common = ["name", "x", "output", "grad_output", "grads", "params", "shapes"];
    let recurrent = ["batch", "timesteps", "input_size", "units", "return_sequences", "h0", "h_final"];
    for (file, layer, count) in [("simple_rnn.json", "simple_rnn", 8), ("lstm.json", "lstm", 8), ("gru.json", "gru", 8)]
    {
        let cases = read_json(file);
        let cases = list(&cases, file);
        assert_eq!(cases.len(), count, "{file}: number of cases");
        for case in cases {
            let what = format!("{file} {}", case["name"]);
            assert_eq!(case["layer"], layer, "{what}");
            has_fields(case, &what, &common, &[]);
            has_fields(case, &what, &recurrent, &["h0"]);
            if layer == "lstm" {
                has_fields(case, &what, &["c0", "c_final"], &["c0"]);
            }
            let grads = case["grads"].as_object().expect("grads object");
            assert!(grads.contains_key("x") && grads.contains_key("h0"), "{what}: grads of x and h0");
            let params = case["params"].as_object().expect("params object");
            for name in params.keys() {
                assert!(grads.contains_key(name), "{what}: no gradient for parameter {name}");
            }
        }
    }
    let dense = read_json("dense.json");
    let dense = list(&dense, "dense.json");
    assert_eq!(dense.len(), 6, "dense.json: number of cases");
    for case in dense {
        has_fields(case, &format!("dense.json {}", case["name"]), &common, &[]);
    }
    let masked = read_json("masked.json");
    let masked = list(&masked, "masked.json");
    assert_eq!(masked.len(), 18, "masked.json: six cases per layer");
    for (k, case) in masked.iter().enumerate() {
        let what = format!("masked.json {}", case["name"]);
        assert_eq!(case["layer"], ["simple_rnn", "lstm", "gru"][k / 6], "{what}: in layer order");
        has_fields(case, &what, &common, &[]);
        has_fields(case, &what, &recurrent, &["h0"]);
        has_fields(case, &what, &["mask", "lengths", "padding", "state_sequence"], &[]);
    }

    // Activations and losses (section 6).
    let al = read_json("activations_losses.json");
    for name in ["sigmoid", "tanh", "relu", "softmax"] {
        has_fields(&al["activations"][name], &format!("activation {name}"), &["x", "y", "grad_output", "grad_x"], &[]);
    }
    for (kind, count) in [("mse", 2), ("bce", 4), ("bce_with_logits", 2), ("cce", 2), ("cce_with_logits", 2)] {
        let cases = list(&al["losses"][kind], kind);
        assert_eq!(cases.len(), count, "losses.{kind}: number of cases");
        for case in cases {
            has_fields(
                case,
                &format!("losses.{kind} {}", case["name"]),
                &["input", "target", "loss", "grad_input"],
                &[],
            );
        }
    }

    // The lecture's model: five SGD steps.
    let seed = read_json("seed_model.json");
    has_fields(&seed, "seed_model.json", &["series", "X", "y", "initial_params", "initial_loss", "initial_grads"], &[]);
    assert_eq!(list(&seed["steps"], "seed_model.json steps").len(), 5, "seed_model.json: five SGD steps");
    assert_eq!(list(&seed["series"], "seed_model.json series").len(), 20, "the lecture's 20 points");

    // Optimisers (section 10): five gradients, 11 torch settings, 2 Keras formulas, clipping.
    let opt = read_json("optimizers.json");
    assert_eq!(list(&opt["grads"], "optimizers.json grads").len(), 5);
    assert_eq!(list(&opt["optimizers"], "optimizers.json optimizers").len(), 11);
    assert_eq!(list(&opt["keras_formulas"], "optimizers.json keras_formulas").len(), 2);
    has_fields(&opt["clipping"], "optimizers.json clipping", &["clip_grad_norm", "clip_grad_value"], &[]);

    // PyTorch state dicts (section 12): eight sidecars, each naming its weights file.
    let sidecars: Vec<&str> = MANIFEST
        .iter()
        .map(|(p, _, _)| *p)
        .filter(|p| p.starts_with("torch_state_dicts/") && p.ends_with(".json"))
        .collect();
    assert_eq!(sidecars.len(), 8);
    for rel in sidecars {
        let s = read_json(rel);
        has_fields(&s, rel, &["file", "module", "constructor", "dtype", "keys", "x", "output"], &[]);
        let file = s["file"].as_str().expect("file name");
        assert_eq!(
            rel.strip_suffix(".json").map(|stem| format!("{stem}.safetensors")),
            Some(format!("torch_state_dicts/{file}"))
        );
        assert!(!list(&s["keys"], rel).is_empty(), "{rel}: keys");
    }
}
