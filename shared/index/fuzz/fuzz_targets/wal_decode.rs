//! Fuzz target: arbitrary bytes into the WAL-segment decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapkb_index::WalSegment;

fuzz_target!(|data: &[u8]| {
    if let Ok(wal) = WalSegment::decode(bytes::Bytes::copy_from_slice(data)) {
        for row in 0..wal.chunks.len() as u32 {
            let _ = wal.chunks.record(row);
            let _ = wal.vector(row);
        }
        let _ = wal.encode();
    }
});
