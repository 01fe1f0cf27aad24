//! Fuzz target: arbitrary bytes into the snapshot decoder, and anything it accepts searched.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapkb_index::{SearchParams, Snapshot};

fuzz_target!(|data: &[u8]| {
    if let Ok(snapshot) = Snapshot::decode(bytes::Bytes::copy_from_slice(data)) {
        let dims = snapshot.vectors.dims();
        let query = vec![0.5f32; dims];
        let _ = snapshot.vectors.search(&query, SearchParams::new(10, 32), None);
        let _ = snapshot.keywords.search("a b c", 10, |_| true);
        for row in 0..snapshot.chunks.len().min(16) as u32 {
            let _ = snapshot.chunks.record(row);
        }
        let _ = snapshot.encode();
    }
});
