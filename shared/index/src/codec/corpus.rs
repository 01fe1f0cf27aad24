//! Replays the fuzz seed corpus (shared/index/fuzz/corpus) through both decoders, with
//! truncations and byte edits of every seed, so CI exercises what the fuzzer starts from.

use bytes::Bytes;

use crate::{SearchParams, Snapshot, WalSegment};

fn seeds() -> Vec<(String, Vec<u8>)> {
    // Relative to the package root, where cargo runs tests (natively and under the WASI runner,
    // which exposes only the current directory).
    let root = "fuzz/corpus";
    let mut out = Vec::new();
    for kind in ["snapshot", "wal"] {
        let dir = format!("{root}/{kind}");
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
        for entry in entries {
            let path = entry.expect("dir entry").path();
            out.push((
                path.display().to_string(),
                std::fs::read(&path).expect("seed readable"),
            ));
        }
    }
    out
}

fn exercise(bytes: &[u8]) {
    if let Ok(s) = Snapshot::decode(Bytes::copy_from_slice(bytes)) {
        let q = vec![0.5f32; s.vectors.dims()];
        let _ = s.vectors.search(&q, SearchParams::new(5, 16), None);
        let _ = s.keywords.search("chunk cats", 5, |_| true);
    }
    if let Ok(w) = WalSegment::decode(Bytes::copy_from_slice(bytes)) {
        let _ = w.chunks.record(0);
    }
}

#[test]
fn seed_corpus_decodes_and_its_mutations_never_panic() {
    let seeds = seeds();
    assert!(seeds.len() >= 2, "seed corpus missing");
    for (name, bytes) in &seeds {
        let ok = Snapshot::decode(Bytes::copy_from_slice(bytes)).is_ok()
            || WalSegment::decode(Bytes::copy_from_slice(bytes)).is_ok();
        assert!(ok, "seed {name} no longer decodes");
        for cut in (0..bytes.len()).step_by(7) {
            exercise(&bytes[..cut]);
        }
        for i in (0..bytes.len()).step_by(3) {
            let mut edited = bytes.clone();
            edited[i] = edited[i].wrapping_add(0x5b);
            exercise(&edited);
        }
    }
}
