//! Golden files: a snapshot and a WAL segment written on x86-64 and committed, in each format
//! version this build reads. The same tests run natively and on wasm32-wasip1
//! (infra/dev/wasm-test.sh), proving both targets decode the bytes to the same values, that
//! files written by an older build stay readable, and guarding the format against accidental
//! change (a current-format file re-encodes byte for byte).

use bytes::Bytes;

use super::tests::{sample_snapshot, sample_wal};
use crate::{SearchParams, Snapshot, WalSegment};

const SNAPSHOT_V1: &[u8] = include_bytes!("../../tests/fixtures/golden-v1.snapshot");
const WAL_V1: &[u8] = include_bytes!("../../tests/fixtures/golden-v1.wal");
const SNAPSHOT: &[u8] = include_bytes!("../../tests/fixtures/golden-v2.snapshot");
const WAL: &[u8] = include_bytes!("../../tests/fixtures/golden-v2.wal");

fn xxh3_of_floats(values: &[f32]) -> u64 {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

#[test]
fn golden_snapshot_decodes_to_the_same_values_on_every_target() {
    let snapshot = Snapshot::decode(Bytes::from_static(SNAPSHOT)).expect("golden snapshot decodes");
    assert_eq!(
        snapshot.encode(),
        SNAPSHOT,
        "re-encoding reproduces the file byte for byte"
    );
    check_snapshot(&snapshot);
    assert_eq!(snapshot.chunks.record(13).unwrap().ordinal, 1);
    assert_eq!(snapshot.chunks.context(12), Some("Doc 4 › Section 0"));
    assert_eq!(snapshot.chunks.context(13), Some(""));
    assert!(snapshot.chunks.attribute_slots() < snapshot.chunks.len());
}

#[test]
fn format_1_snapshots_still_decode_and_upgrade_on_encode() {
    let old = Snapshot::decode(Bytes::from_static(SNAPSHOT_V1)).expect("format-1 snapshot");
    check_snapshot(&old);
    let upgraded = Snapshot::decode(Bytes::from(old.encode())).expect("re-encoded in format 2");
    check_snapshot(&upgraded);
    for row in 0..old.chunks.len() as u32 {
        assert_eq!(old.chunks.record(row), upgraded.chunks.record(row));
    }
}

fn check_snapshot(snapshot: &Snapshot) {
    assert_eq!(snapshot.info.project_id, "p1");
    assert_eq!(snapshot.info.manifest_version, 7);
    assert_eq!(snapshot.vectors.len(), 40);
    assert_eq!(snapshot.live_len(), 39);
    assert!(snapshot.vectors.is_deleted(1));
    assert_eq!(
        xxh3_of_floats(snapshot.vectors.vectors()),
        GOLDEN_VECTORS_XXH3
    );
    let record = snapshot.chunks.record(13).expect("row 13");
    assert_eq!(record.id, "doc4#1");
    assert_eq!(record.text, "chunk 13 about dogs and ünïcode");
    assert_eq!(snapshot.chunks.find("doc12#2"), Some(38));
    let query = snapshot.vectors.vector(21).expect("row 21").to_vec();
    let found = snapshot
        .vectors
        .search(&query, SearchParams::new(3, 16), None)
        .unwrap();
    assert_eq!(found[0].id, 21);
    assert!(found[0].distance.abs() < 1e-5);
    let hits = snapshot.keywords.search("trains", 3, |_| true).unwrap();
    assert_eq!(
        hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![3, 7, 11]
    );
}

#[test]
fn golden_wal_decodes_to_the_same_values_on_every_target() {
    let wal = WalSegment::decode(Bytes::from_static(WAL)).expect("golden WAL decodes");
    assert_eq!(wal.encode(), WAL);
    check_wal(&wal);
}

#[test]
fn format_1_wal_segments_still_decode() {
    let wal = WalSegment::decode(Bytes::from_static(WAL_V1)).expect("format-1 WAL decodes");
    check_wal(&wal);
    let upgraded = WalSegment::decode(Bytes::from(wal.encode())).expect("re-encoded");
    check_wal(&upgraded);
}

fn check_wal(wal: &WalSegment) {
    assert_eq!(wal.header.sequence, 12);
    assert_eq!(
        wal.tombstones,
        vec!["old#1".to_string(), "old#2".to_string()]
    );
    assert_eq!(wal.chunks.record(4).unwrap().document_id, "doc1");
    assert_eq!(xxh3_of_floats(&wal.vectors), GOLDEN_WAL_VECTORS_XXH3);
}

const GOLDEN_VECTORS_XXH3: u64 = 0x535e_f923_a13e_1ce3;
const GOLDEN_WAL_VECTORS_XXH3: u64 = 0xa5df_ef98_d602_4515;

/// Rewrites the golden files. Run on x86-64 only when the format version changes:
/// `cargo test -p snapkb-index write_golden_fixtures -- --ignored`
#[test]
#[ignore = "writes the committed fixtures; run by hand when the format version changes"]
fn write_golden_fixtures() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    std::fs::write(
        format!("{dir}/golden-v2.snapshot"),
        sample_snapshot(40, 8).encode(),
    )
    .unwrap();
    std::fs::write(format!("{dir}/golden-v2.wal"), sample_wal().encode()).unwrap();
    let snapshot = sample_snapshot(40, 8);
    eprintln!(
        "vectors xxh3 {:#x}",
        xxh3_of_floats(snapshot.vectors.vectors())
    );
    eprintln!(
        "wal vectors xxh3 {:#x}",
        xxh3_of_floats(&sample_wal().vectors)
    );
}
