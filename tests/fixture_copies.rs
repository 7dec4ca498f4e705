//! The crate keeps its own copy of the PyTorch fixture data (tests/fixtures) so a fresh clone
//! tests itself. When the shared originals are present (../shared/fixtures, next to this
//! checkout), every copied file must be byte-identical to its twin, and none may be missing.

use std::fs;
use std::path::{Path, PathBuf};

fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["", "torch_state_dicts"] {
        let d = dir.join(sub);
        let Ok(entries) = fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            let data = if sub.is_empty() { ext == "json" } else { ext == "json" || ext == "safetensors" };
            if p.is_file() && data {
                out.push(p.strip_prefix(dir).expect("path under dir").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn copied_fixtures_are_identical_to_the_shared_originals() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("..").join("shared").join("fixtures");
    let ours = root.join("tests").join("fixtures");
    let mine = data_files(&ours);
    assert!(mine.len() >= 24, "tests/fixtures should hold the 8 JSON files and 16 state-dict files, found {mine:?}");
    if !shared.is_dir() {
        eprintln!("{} not found: nothing to compare against (fine on a fresh clone)", shared.display());
        return;
    }
    let theirs = data_files(&shared);
    assert_eq!(mine, theirs, "the set of fixture data files differs from {}", shared.display());
    for rel in &theirs {
        let a = fs::read(ours.join(rel)).expect("read copy");
        let b = fs::read(shared.join(rel)).expect("read original");
        assert!(a == b, "tests/fixtures/{} differs from its twin in {}", rel.display(), shared.display());
    }
}
