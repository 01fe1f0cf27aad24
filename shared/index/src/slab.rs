//! Flat arrays that are either owned or borrowed straight from a decoded snapshot's bytes.
//!
//! A snapshot stores each array as little-endian bytes aligned in the file, so on little-endian
//! targets a loaded index reads its vectors and adjacency in place: loading is a checksum and a
//! validation pass, not a copy. The first mutation (an insert after load) copies into a `Vec`.

use std::borrow::Cow;

use bytemuck::Pod;
use bytes::Bytes;

/// An element type that has a fixed little-endian encoding.
pub(crate) trait LeElement: Pod {
    fn le_to_native(self) -> Self;
}

impl LeElement for u8 {
    fn le_to_native(self) -> Self {
        self
    }
}

impl LeElement for u32 {
    fn le_to_native(self) -> Self {
        u32::from_le(self)
    }
}

impl LeElement for f32 {
    fn le_to_native(self) -> Self {
        f32::from_bits(u32::from_le(self.to_bits()))
    }
}

#[derive(Clone)]
pub(crate) enum Slab<T: LeElement> {
    Owned(Vec<T>),
    /// Bytes whose length is a multiple of `size_of::<T>()` and whose start is aligned for `T`
    /// (checked in [`Slab::from_le_bytes`]).
    Shared(Bytes),
}

impl<T: LeElement> std::fmt::Debug for Slab<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Slab::Owned(_) => "owned",
            Slab::Shared(_) => "shared",
        };
        write!(f, "Slab({kind}, {} elements)", self.len())
    }
}

impl<T: LeElement> Default for Slab<T> {
    fn default() -> Self {
        Slab::Owned(Vec::new())
    }
}

impl<T: LeElement> From<Vec<T>> for Slab<T> {
    fn from(v: Vec<T>) -> Self {
        Slab::Owned(v)
    }
}

impl<T: LeElement> Slab<T> {
    /// Wraps little-endian bytes, borrowing them when the layout allows and copying otherwise.
    /// Returns `None` when the length is not a whole number of elements.
    pub(crate) fn from_le_bytes(bytes: Bytes) -> Option<Self> {
        let size = std::mem::size_of::<T>();
        if !bytes.len().is_multiple_of(size) {
            return None;
        }
        let aligned = bytemuck::try_cast_slice::<u8, T>(&bytes).is_ok();
        if cfg!(target_endian = "little") && aligned {
            return Some(Slab::Shared(bytes));
        }
        let values: Vec<T> = bytemuck::pod_collect_to_vec::<u8, T>(&bytes);
        Some(Slab::Owned(
            values.into_iter().map(T::le_to_native).collect(),
        ))
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            Slab::Owned(v) => v,
            // Length and alignment were checked when the slab was made.
            Slab::Shared(b) => bytemuck::cast_slice(b),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// The owned vector, copying the borrowed bytes on first use.
    pub(crate) fn make_mut(&mut self) -> &mut Vec<T> {
        if let Slab::Shared(_) = self {
            *self = Slab::Owned(self.as_slice().to_vec());
        }
        match self {
            Slab::Owned(v) => v,
            Slab::Shared(_) => unreachable!("converted to owned above"),
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Slab::Owned(v) => v.capacity() * std::mem::size_of::<T>(),
            Slab::Shared(b) => b.len(),
        }
    }
}

/// The little-endian encoding of `values`: the values' own bytes on little-endian targets.
pub(crate) fn le_bytes<T: LeElement>(values: &[T]) -> Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        Cow::Borrowed(bytemuck::cast_slice(values))
    } else {
        Cow::Owned(
            values
                .iter()
                .flat_map(|v| bytemuck::bytes_of(&v.le_to_native()).to_vec())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_bytes_are_borrowed_and_copied_on_first_write() {
        let le = le_bytes(&[1.5f32, -2.0, 3.25]).into_owned();
        let mut slab = Slab::<f32>::from_le_bytes(Bytes::from(le)).unwrap();
        assert_eq!(slab.as_slice(), &[1.5, -2.0, 3.25]);
        slab.make_mut().push(4.0);
        assert!(matches!(slab, Slab::Owned(_)));
        assert_eq!(slab.as_slice(), &[1.5, -2.0, 3.25, 4.0]);
    }

    #[test]
    fn misaligned_bytes_are_copied_and_ragged_lengths_rejected() {
        let mut le = vec![0u8];
        le.extend_from_slice(&le_bytes(&[7u32, 9]));
        let shifted = Bytes::from(le).slice(1..);
        let slab = Slab::<u32>::from_le_bytes(shifted.clone()).unwrap();
        assert_eq!(slab.as_slice(), &[7, 9]);
        assert!(Slab::<u32>::from_le_bytes(shifted.slice(1..)).is_none());
    }
}
