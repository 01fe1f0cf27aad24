//! The outbound-HTTP port: requests to other services (a remote embedding endpoint; AWS APIs
//! from hosts without the AWS SDK). Each host brings its client: `fetch` on Workers, Spin's
//! outbound HTTP, a native client in tests.

use bytes::Bytes;

use crate::{MaybeSendSync, StoreError};

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The request could not be built as given (a bad URL, method or header).
    #[error("the request is invalid: {0}")]
    Invalid(String),
    /// Sending it or reading the answer failed (connection, TLS, timeout, a body cut off);
    /// the same request may succeed later.
    #[error("the request failed: {0}")]
    Transport(String),
}

/// Storage adapters over this port: a transport failure is a retryable `Unavailable`.
impl From<OutboundError> for StoreError {
    fn from(e: OutboundError) -> Self {
        match e {
            OutboundError::Invalid(reason) => StoreError::Invalid(reason),
            OutboundError::Transport(reason) => StoreError::Unavailable(reason),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl OutboundRequest {
    /// A `POST` of a JSON body.
    pub fn post_json(url: impl Into<String>, body: Vec<u8>) -> Self {
        Self {
            method: "POST".into(),
            url: url.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl OutboundResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one HTTP request. Any status is a response (callers decide what a 4xx or 5xx
/// means); only a request that got no response is an error.
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait Outbound: MaybeSendSync {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError>;
}
