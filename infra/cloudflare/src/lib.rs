//! snapkb's storage ports on Cloudflare: [`R2Objects`] (the object store on an R2 bucket),
//! [`D1Meta`] (the metadata table on a D1 database) and [`WorkerFetch`] (outbound HTTP through
//! the Workers `fetch` API). They run inside a Worker (functions/worker), where the conformance
//! suite runs against them under workerd (tests/worker.rs).
//!
//! Natively this crate is empty: it only builds for wasm32.
#![cfg(target_arch = "wasm32")]

mod d1;
mod fetch;
mod r2;

pub use crate::{d1::D1Meta, fetch::WorkerFetch, r2::R2Objects};
