//! Binary formats: the checksummed CBOR envelope, index snapshots and WAL segments.

mod columns;
mod envelope;
pub(crate) mod snapshot;
pub(crate) mod wal;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod golden;

#[cfg(test)]
mod corpus;
