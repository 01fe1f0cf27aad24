//! Codec tests: round trips, corruption, truncation and hostile inputs with valid checksums.

use bytes::Bytes;
use proptest::prelude::*;

use crate::{
    Attributes, ChunkRecord, DecodeError, HnswParams, MetaValue, Metadata, Metric, SearchParams,
    Snapshot, SnapshotInfo, WalHeader, WalSegment, synthetic::Clustered,
};

/// Chunks of documents of three chunks each; a document's chunks have equal attributes.
pub(crate) fn sample_records(n: usize) -> Vec<ChunkRecord> {
    (0..n)
        .map(|i| ChunkRecord {
            id: format!("doc{}#{}", i / 3, i % 3),
            document_id: format!("doc{}", i / 3),
            text: format!(
                "chunk {i} about {} and ünïcode",
                ["cats", "dogs", "boats", "trains"][i % 4]
            ),
            context: if i % 2 == 0 {
                format!("Doc {} › Section {}", i / 3, i % 3)
            } else {
                String::new()
            },
            ordinal: (i % 3) as u32,
            attributes: Attributes::new(
                Metadata::from([
                    ("n".to_string(), MetaValue::Int((i / 3) as i64)),
                    (
                        "kind".to_string(),
                        MetaValue::Text(["a", "b"][i / 3 % 2].into()),
                    ),
                ]),
                if i / 3 % 5 == 0 {
                    vec!["five".into()]
                } else {
                    vec![]
                },
            ),
        })
        .collect()
}

pub(crate) fn sample_snapshot(n: usize, dims: usize) -> Snapshot {
    let info = SnapshotInfo {
        project_id: "p1".into(),
        shard: 0,
        manifest_version: 7,
        model_id: "test-model".into(),
    };
    let vectors = Clustered::new(dims, 8, 1).spread(0.5).generate(n, 0);
    let params = HnswParams {
        m: 4,
        m0: 8,
        ef_construction: 32,
        seed: 3,
    };
    let mut snapshot = Snapshot::build(
        info,
        dims,
        Metric::Cosine,
        params,
        &sample_records(n),
        &vectors,
    )
    .unwrap();
    snapshot.vectors.delete(1).unwrap();
    snapshot
}

pub(crate) fn sample_wal() -> WalSegment {
    let header = WalHeader {
        project_id: "p1".into(),
        shard: 0,
        sequence: 12,
        model_id: "test-model".into(),
        dims: 4,
        metric: Metric::Cosine,
    };
    let vectors = Clustered::new(4, 2, 1).spread(0.5).generate(5, 0);
    WalSegment::new(
        header,
        &sample_records(5),
        vectors,
        vec!["old#1".into(), "old#2".into()],
    )
    .unwrap()
}

/// Rewrites the trailing checksum so a deliberately edited file passes the first check and
/// reaches the structural validation.
fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    let body = bytes.len() - 9;
    let sum = xxhash_rust::xxh3::xxh3_64(&bytes[..body]).to_le_bytes();
    bytes[body + 1..].copy_from_slice(&sum);
    bytes
}

/// The byte range of a section's data in an encoded file.
fn section(bytes: &[u8], magic: &'static str, name: &str) -> std::ops::Range<usize> {
    let env = super::envelope::decode::<serde::de::IgnoredAny>(
        Bytes::copy_from_slice(bytes),
        "test",
        magic,
        1..=2,
    )
    .expect("valid file");
    env.section_range(name).expect("section present")
}

/// Edits a copy of `good` and reseals it.
fn forge(good: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Bytes {
    let mut bad = good.to_vec();
    edit(&mut bad);
    Bytes::from(reseal(bad))
}

#[test]
fn snapshot_round_trip_is_byte_identical_and_answers_the_same() {
    let original = sample_snapshot(60, 8);
    let bytes = original.encode();
    let decoded = Snapshot::decode(Bytes::from(bytes.clone())).unwrap();
    assert_eq!(
        decoded.encode(),
        bytes,
        "re-encoding a decoded snapshot changes nothing"
    );
    assert_eq!(decoded.info, original.info);
    assert_eq!(decoded.live_len(), 59);
    for row in 0..60 {
        assert_eq!(decoded.chunks.record(row), original.chunks.record(row));
        assert_eq!(decoded.vectors.vector(row), original.vectors.vector(row));
    }
    assert_eq!(decoded.chunks.find("doc3#1"), Some(10));
    let q = original.vectors.vector(10).unwrap().to_vec();
    let params = SearchParams::new(5, 16);
    assert_eq!(
        decoded.vectors.search(&q, params, None),
        original.vectors.search(&q, params, None)
    );
    let kw = |s: &Snapshot| s.keywords.search("boats ünïcode", 10, |_| true).unwrap();
    assert_eq!(kw(&decoded), kw(&original));
    assert!(!kw(&decoded).is_empty());
}

#[test]
fn decoded_snapshot_borrows_its_arrays_and_accepts_inserts() {
    let bytes = Bytes::from(sample_snapshot(40, 8).encode());
    let mut decoded = Snapshot::decode(bytes).unwrap();
    let before = decoded.vectors.len();
    let v = decoded.vectors.vector(3).unwrap().to_vec();
    let id = decoded.vectors.insert(&v).unwrap();
    assert_eq!(id as usize, before);
    let found = decoded
        .vectors
        .search(&v, SearchParams::new(2, 16), None)
        .unwrap();
    assert!(found.iter().any(|n| n.id == id));
}

#[test]
fn empty_snapshot_round_trips() {
    let info = SnapshotInfo {
        project_id: "p".into(),
        shard: 1,
        manifest_version: 0,
        model_id: "m".into(),
    };
    let empty = Snapshot::build(info, 3, Metric::L2, HnswParams::default(), &[], &[]).unwrap();
    let decoded = Snapshot::decode(Bytes::from(empty.encode())).unwrap();
    assert_eq!(decoded.vectors.len(), 0);
    assert!(
        decoded
            .vectors
            .search(&[1.0, 0.0, 0.0], SearchParams::new(3, 8), None)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn every_bit_flip_and_truncation_of_a_snapshot_is_rejected() {
    let good = sample_snapshot(12, 4).encode();
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 1 << (i % 8);
        assert!(
            Snapshot::decode(Bytes::from(bad)).is_err(),
            "flip at byte {i} accepted"
        );
    }
    for len in 0..good.len() {
        assert!(
            Snapshot::decode(Bytes::copy_from_slice(&good[..len])).is_err(),
            "prefix {len} accepted"
        );
    }
}

#[test]
fn hostile_snapshots_with_valid_checksums_are_rejected_without_panicking() {
    use crate::SNAPSHOT_MAGIC as M;
    let good = sample_snapshot(12, 4).encode();
    let put_u32 = |bytes: &mut Vec<u8>, at: usize, v: u32| {
        bytes[at..at + 4].copy_from_slice(&v.to_le_bytes())
    };

    let layer0 = section(&good, M, "hnsw.layer0");
    // Row 0: a neighbour id far past the end of the graph, then a count above m0.
    let forged = forge(&good, |b| put_u32(b, layer0.start + 4, u32::MAX));
    assert!(matches!(
        Snapshot::decode(forged),
        Err(DecodeError::InvalidSection {
            section: "hnsw",
            ..
        })
    ));
    let forged = forge(&good, |b| put_u32(b, layer0.start, 1000));
    assert!(matches!(
        Snapshot::decode(forged),
        Err(DecodeError::InvalidSection {
            section: "hnsw",
            ..
        })
    ));

    // An upper-layer level the graph does not have room for.
    let levels = section(&good, M, "hnsw.levels");
    let forged = forge(&good, |b| b[levels.start] = 9);
    assert!(Snapshot::decode(forged).is_err());

    // A text offset pointing past the data, and offsets out of order.
    let offsets = section(&good, M, "chunks.texts.offsets");
    let forged = forge(&good, |b| put_u32(b, offsets.start + 4, 0x7fff_ffff));
    assert!(matches!(
        Snapshot::decode(forged),
        Err(DecodeError::InvalidSection {
            section: "chunks.texts",
            ..
        })
    ));

    // Invalid UTF-8 inside a chunk id.
    let ids = section(&good, M, "chunks.ids.data");
    let forged = forge(&good, |b| b[ids.start] = 0xff);
    assert!(matches!(
        Snapshot::decode(forged),
        Err(DecodeError::InvalidSection {
            section: "chunks.ids",
            ..
        })
    ));

    // The id order no longer a permutation.
    let order = section(&good, M, "chunks.id_order");
    let forged = forge(&good, |b| put_u32(b, order.start, 11_000));
    assert!(matches!(
        Snapshot::decode(forged),
        Err(DecodeError::InvalidSection {
            section: "chunks.id_order",
            ..
        })
    ));

    // A byte-string header claiming far more bytes than exist: rejected before any allocation.
    let vectors = section(&good, M, "hnsw.vectors");
    let forged = forge(&good, |b| {
        let header = vectors.start - 2; // 12 × 4 × 4 = 192 bytes: a 2-byte header
        b[header] = 0x5b;
        b[header + 1] = 0xff;
    });
    assert!(matches!(
        Snapshot::decode(forged),
        Err(DecodeError::Cbor { .. })
    ));

    // Postings that decode past the document count are ignored at query time, not a panic.
    let postings = section(&good, M, "bm25.postings.data");
    let forged = forge(&good, |b| b[postings.start] = 0x7f);
    if let Ok(s) = Snapshot::decode(forged) {
        let _ = s
            .keywords
            .search("about cats dogs boats trains chunk", 10, |_| true)
            .unwrap();
    }
}

#[test]
fn wal_round_trips_and_rejects_bad_vectors() {
    let wal = sample_wal();
    let bytes = wal.encode();
    let decoded = WalSegment::decode(Bytes::from(bytes.clone())).unwrap();
    assert_eq!(decoded.encode(), bytes);
    assert_eq!(decoded.header, wal.header);
    assert_eq!(
        decoded.tombstones,
        vec!["old#1".to_string(), "old#2".to_string()]
    );
    assert_eq!(decoded.vector(4), wal.vector(4));
    assert_eq!(decoded.chunks.record(2), wal.chunks.record(2));

    // NaN smuggled into the vectors section behind a valid checksum.
    let vectors = section(&bytes, crate::WAL_MAGIC, "vectors");
    let forged = forge(&bytes, |b| {
        b[vectors.start..vectors.start + 4].copy_from_slice(&f32::NAN.to_le_bytes())
    });
    let err = WalSegment::decode(forged).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::InvalidSection {
                section: "vectors",
                ..
            }
        ),
        "{err:?}"
    );

    // Wrong vector count and bad values are refused when building, too.
    let header = wal.header.clone();
    assert!(WalSegment::new(header.clone(), &sample_records(2), vec![0.5; 7], vec![]).is_err());
    assert!(
        WalSegment::new(
            header,
            &sample_records(1),
            vec![f32::INFINITY, 0.0, 0.0, 1.0],
            vec![]
        )
        .is_err()
    );
}

#[test]
fn a_snapshot_is_not_a_wal_segment() {
    let snapshot = sample_snapshot(3, 4).encode();
    assert!(matches!(
        WalSegment::decode(Bytes::from(snapshot)),
        Err(DecodeError::WrongMagic { .. })
    ));
    let wal = sample_wal().encode();
    assert!(matches!(
        Snapshot::decode(Bytes::from(wal)),
        Err(DecodeError::WrongMagic { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary edits, resealed so they get past the checksum, never panic either decoder.
    #[test]
    fn resealed_mutations_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        wal in any::<bool>(),
    ) {
        let good = if wal { sample_wal().encode() } else { sample_snapshot(10, 4).encode() };
        let mut bad = good.clone();
        let body = bad.len() - 9;
        for (at, value) in &edits {
            let i = at.index(body);
            bad[i] = *value;
        }
        let keep = body - cut.index(body / 4 + 1);
        bad.drain(keep..body);
        let bad = Bytes::from(reseal(bad));
        let _ = Snapshot::decode(bad.clone());
        let _ = WalSegment::decode(bad);
    }

    /// Random bytes are rejected (almost always by the checksum) and never panic.
    #[test]
    fn random_bytes_are_rejected(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert!(Snapshot::decode(Bytes::from(bytes.clone())).is_err());
        prop_assert!(WalSegment::decode(Bytes::from(bytes)).is_err());
    }
}
