//! The `.fbin` vector file format used by ANN benchmarks: u32 count, u32 dims, then
//! count × dims little-endian f32.

use std::{fs, io, path::Path};

/// Reads a `.fbin` file into (dims, values), checking that the size matches the header.
pub(crate) fn read(path: &Path) -> io::Result<(usize, Vec<f32>)> {
    let bytes = fs::read(path)?;
    let invalid = |msg: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {msg}", path.display()),
        )
    };
    if bytes.len() < 8 {
        return Err(invalid("shorter than the 8-byte header".into()));
    }
    let count = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let dims = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    let expected = count
        .checked_mul(dims)
        .and_then(|v| v.checked_mul(4))
        .and_then(|v| v.checked_add(8));
    if dims == 0 || expected != Some(bytes.len()) {
        return Err(invalid(format!(
            "header says {count} × {dims} but the file has {} bytes",
            bytes.len()
        )));
    }
    let values = bytes[8..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((dims, values))
}

/// Writes values as a `.fbin` file.
pub(crate) fn write(path: &Path, dims: usize, values: &[f32]) -> io::Result<()> {
    let mut out = Vec::with_capacity(8 + values.len() * 4);
    out.extend_from_slice(&((values.len() / dims) as u32).to_le_bytes());
    out.extend_from_slice(&(dims as u32).to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    fs::write(path, out)
}
