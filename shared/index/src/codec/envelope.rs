//! The container both snapshots and WAL segments use: one CBOR array
//!
//! ```text
//! [ magic: text, format_version: uint, header: map,
//!   sections: [ [name: text, padding: bytes, data: bytes], ... ],
//!   checksum: bytes(8) ]
//! ```
//!
//! Each section's data starts at a multiple of 16 bytes from the start of the file (the padding
//! byte string before it makes it so), so arrays of u32 and f32 can be read in place. The
//! checksum is xxh3-64 (little-endian) of every byte before the checksum item, which is always
//! the last 9 bytes. Decoding checks it before parsing anything, then checks every header.

use std::ops::{Range, RangeInclusive};

use bytes::Bytes;
use ciborium_ll::{Decoder, Encoder, Header};
use serde::{Serialize, de::DeserializeOwned};

use crate::DecodeError;

const ALIGN: usize = 16;
const CHECKSUM_ITEM_LEN: usize = 9;
const MAX_SECTIONS: usize = 64;
const MAX_NAME_LEN: usize = 64;

/// Length of the CBOR header that introduces a byte string of `len` bytes.
fn bytes_header_len(len: usize) -> usize {
    match len {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Encodes an envelope. `sections` are (name, little-endian bytes).
pub(crate) fn encode(
    magic: &str,
    version: u64,
    header: &impl Serialize,
    sections: &[(&str, &[u8])],
) -> Vec<u8> {
    let payload: usize = sections.iter().map(|(_, d)| d.len() + ALIGN + 16).sum();
    let mut out = Vec::with_capacity(payload + 4096);
    // Writing into a Vec cannot fail; the results are checked anyway to avoid any panic path.
    let ok = write_all(&mut out, magic, version, header, sections);
    debug_assert!(ok.is_ok(), "encoding into memory failed: {ok:?}");
    let checksum = xxhash_rust::xxh3::xxh3_64(&out);
    out.push(0x48); // byte string of length 8
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

fn push(out: &mut Vec<u8>, header: Header) -> Result<(), String> {
    Encoder::from(out).push(header).map_err(|e| e.to_string())
}

fn write_all(
    out: &mut Vec<u8>,
    magic: &str,
    version: u64,
    header: &impl Serialize,
    sections: &[(&str, &[u8])],
) -> Result<(), String> {
    push(out, Header::Array(Some(5)))?;
    push(out, Header::Text(Some(magic.len())))?;
    out.extend_from_slice(magic.as_bytes());
    push(out, Header::Positive(version))?;
    ciborium::into_writer(header, &mut *out).map_err(|err| err.to_string())?;
    push(out, Header::Array(Some(sections.len())))?;
    for (name, data) in sections {
        push(out, Header::Array(Some(3)))?;
        push(out, Header::Text(Some(name.len())))?;
        out.extend_from_slice(name.as_bytes());
        let after_padding_header = out.len() + 1 + bytes_header_len(data.len());
        let padding = (ALIGN - after_padding_header % ALIGN) % ALIGN;
        push(out, Header::Bytes(Some(padding)))?;
        out.extend_from_slice(&[0u8; ALIGN][..padding]);
        push(out, Header::Bytes(Some(data.len())))?;
        out.extend_from_slice(data);
    }
    Ok(())
}

/// A parsed envelope: the header and where each section's data lies in the input.
#[derive(Debug)]
pub(crate) struct Envelope<H> {
    /// The format version the file was written in.
    pub(crate) version: u64,
    pub(crate) header: H,
    bytes: Bytes,
    sections: Vec<(String, Range<usize>)>,
}

impl<H> Envelope<H> {
    /// The data of a required section (zero-copy slice of the input).
    pub(crate) fn section(&self, name: &'static str) -> Result<Bytes, DecodeError> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, range)| self.bytes.slice(range.clone()))
            .ok_or(DecodeError::MissingSection(name))
    }

    /// Where a section's data lies in the input (tests use it to forge hostile files).
    #[cfg(test)]
    pub(crate) fn section_range(&self, name: &str) -> Option<Range<usize>> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.clone())
    }
}

/// Reads one CBOR header at `pos`; returns it and the position after it.
fn next_header(bytes: &[u8], pos: usize) -> Result<(Header, usize), DecodeError> {
    let mut decoder = Decoder::from(bytes.get(pos..).unwrap_or_default());
    let header = decoder.pull().map_err(|err| DecodeError::Cbor {
        offset: pos,
        reason: format!("{err:?}"),
    })?;
    Ok((header, pos + decoder.offset()))
}

/// Reads a definite-length text or byte string at `pos`; returns its range and the end.
fn next_string(bytes: &[u8], pos: usize, text: bool) -> Result<(Range<usize>, usize), DecodeError> {
    let (header, start) = next_header(bytes, pos)?;
    let len = match (header, text) {
        (Header::Text(Some(len)), true) | (Header::Bytes(Some(len)), false) => len,
        (other, _) => {
            let want = if text {
                "a text string"
            } else {
                "a byte string"
            };
            return Err(DecodeError::Cbor {
                offset: pos,
                reason: format!("expected {want}, found {other:?}"),
            });
        }
    };
    let end = start
        .checked_add(len)
        .filter(|&end| end <= bytes.len())
        .ok_or(DecodeError::Cbor {
            offset: pos,
            reason: format!("a string of {len} bytes runs past the end of the input"),
        })?;
    Ok((start..end, end))
}

fn expect_array(
    bytes: &[u8],
    pos: usize,
    len: Option<usize>,
) -> Result<(usize, usize), DecodeError> {
    match next_header(bytes, pos)? {
        (Header::Array(Some(n)), next) if len.is_none_or(|l| l == n) => Ok((n, next)),
        (other, _) => Err(DecodeError::Cbor {
            offset: pos,
            reason: format!("expected an array, found {other:?}"),
        }),
    }
}

/// Checks the checksum, magic and version (one of `versions`), decodes the header and locates
/// every section.
pub(crate) fn decode<H: DeserializeOwned>(
    input: Bytes,
    kind: &'static str,
    magic: &'static str,
    versions: RangeInclusive<u64>,
) -> Result<Envelope<H>, DecodeError> {
    let len = input.len();
    if len < CHECKSUM_ITEM_LEN + 8 {
        return Err(DecodeError::TooShort { kind, len });
    }
    let body_len = len - CHECKSUM_ITEM_LEN;
    let stored = &input[body_len..];
    let expected = xxhash_rust::xxh3::xxh3_64(&input[..body_len]).to_le_bytes();
    if stored[0] != 0x48 || stored[1..] != expected {
        return Err(DecodeError::Checksum);
    }
    let body = &input[..body_len];

    let (_, pos) = expect_array(body, 0, Some(5))?;
    let (magic_range, pos) = next_string(body, pos, true)?;
    if &body[magic_range.clone()] != magic.as_bytes() {
        let found = String::from_utf8_lossy(&body[magic_range])
            .chars()
            .take(32)
            .collect();
        return Err(DecodeError::WrongMagic {
            expected: magic,
            found,
        });
    }
    let (found_version, pos) = match next_header(body, pos)? {
        (Header::Positive(v), next) => (v, next),
        (other, _) => {
            return Err(DecodeError::Cbor {
                offset: pos,
                reason: format!("expected a version, found {other:?}"),
            });
        }
    };
    if !versions.contains(&found_version) {
        return Err(DecodeError::UnsupportedVersion {
            kind,
            found: found_version,
            supported: *versions.end(),
        });
    }

    let mut rest = &body[pos..];
    let header: H = ciborium::from_reader(&mut rest).map_err(|err| DecodeError::Cbor {
        offset: pos,
        reason: format!("header: {err}"),
    })?;
    let pos = body_len - rest.len();

    let (count, mut pos) = expect_array(body, pos, None)?;
    if count > MAX_SECTIONS {
        return Err(DecodeError::Cbor {
            offset: pos,
            reason: format!("{count} sections is more than {MAX_SECTIONS}"),
        });
    }
    let mut sections: Vec<(String, Range<usize>)> = Vec::with_capacity(count);
    for _ in 0..count {
        let (_, next) = expect_array(body, pos, Some(3))?;
        let (name_range, next) = next_string(body, next, true)?;
        if name_range.len() > MAX_NAME_LEN {
            return Err(DecodeError::Cbor {
                offset: next,
                reason: "section name too long".into(),
            });
        }
        let name = std::str::from_utf8(&body[name_range])
            .map_err(|_| DecodeError::Cbor {
                offset: next,
                reason: "section name is not UTF-8".into(),
            })?
            .to_string();
        let (padding, next) = next_string(body, next, false)?;
        if padding.len() >= ALIGN {
            return Err(DecodeError::Cbor {
                offset: next,
                reason: "section padding too long".into(),
            });
        }
        let (data, next) = next_string(body, next, false)?;
        if sections.iter().any(|(n, _)| *n == name) {
            return Err(DecodeError::DuplicateSection { name });
        }
        sections.push((name, data));
        pos = next;
    }
    if pos != body_len {
        return Err(DecodeError::Cbor {
            offset: pos,
            reason: "unexpected bytes after the sections".into(),
        });
    }
    Ok(Envelope {
        version: found_version,
        header,
        bytes: input,
        sections,
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Head {
        name: String,
        count: u32,
    }

    fn sample() -> Vec<u8> {
        let data: Vec<u8> = (0..=255u8).collect();
        let head = Head {
            name: "x".into(),
            count: 2,
        };
        encode(
            "test.magic",
            1,
            &head,
            &[("a", &data[..3]), ("b", &data), ("empty", &[])],
        )
    }

    #[test]
    fn sections_round_trip_aligned_to_16_bytes() {
        let bytes = Bytes::from(sample());
        let env: Envelope<Head> = decode(bytes.clone(), "test", "test.magic", 1..=1).unwrap();
        assert_eq!(
            env.header,
            Head {
                name: "x".into(),
                count: 2
            }
        );
        assert_eq!(&env.section("a").unwrap()[..], &[0, 1, 2]);
        assert_eq!(env.section("b").unwrap().len(), 256);
        assert!(env.section("empty").unwrap().is_empty());
        assert_eq!(env.section("zzz"), Err(DecodeError::MissingSection("zzz")));
        for (_, range) in &env.sections {
            assert_eq!(range.start % ALIGN, 0, "section data must be aligned");
        }
    }

    #[test]
    fn every_single_bit_flip_is_caught() {
        let good = sample();
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[i] ^= 1 << bit;
                assert!(
                    decode::<Head>(Bytes::from(bad), "test", "test.magic", 1..=1).is_err(),
                    "byte {i} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn every_truncation_is_rejected() {
        let good = sample();
        for len in 0..good.len() {
            assert!(
                decode::<Head>(
                    Bytes::copy_from_slice(&good[..len]),
                    "test",
                    "test.magic",
                    1..=1
                )
                .is_err()
            );
        }
    }

    #[test]
    fn wrong_magic_and_version_are_named() {
        let bytes = Bytes::from(sample());
        assert!(matches!(
            decode::<Head>(bytes.clone(), "test", "other.magic", 1..=1),
            Err(DecodeError::WrongMagic { .. })
        ));
        assert!(matches!(
            decode::<Head>(bytes, "test", "test.magic", 2..=3),
            Err(DecodeError::UnsupportedVersion {
                found: 1,
                supported: 3,
                ..
            })
        ));
    }
}
