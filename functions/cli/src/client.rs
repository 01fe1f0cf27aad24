//! A small client for the snapkb HTTP API (any URL: `snapkb serve` or a deployment), speaking
//! the API's own request and response types. Problems come back as errors carrying the
//! server's detail and field.

use std::time::Duration;

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::CliError;

#[derive(Debug)]
pub(crate) struct Client {
    base: String,
    key: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    pub(crate) fn new(base: &str, key: Option<String>) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(600)))
            .build()
            .into();
        Self {
            base: base.trim_end_matches('/').to_string(),
            key,
            agent,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn finish(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Vec<u8>, CliError> {
        let mut response = result.map_err(|e| CliError::Http(format!("{}: {e}", self.base)))?;
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(|e| CliError::Http(e.to_string()))?;
        if status.is_success() {
            return Ok(body);
        }
        let problem: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let detail = problem
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or("no detail");
        let field = problem
            .get("field")
            .and_then(Value::as_str)
            .map(|f| format!(" (field `{f}`)"))
            .unwrap_or_default();
        Err(CliError::Api(format!(
            "{} {}: {detail}{field}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )))
    }

    fn auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.key {
            Some(k) => req.header("Authorization", format!("Bearer {k}")),
            None => req,
        }
    }

    /// A response body as `T` (an empty body reads as `null`: `()` or `None`).
    fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CliError> {
        let bytes = if bytes.is_empty() { b"null" } else { bytes };
        serde_json::from_slice(bytes)
            .map_err(|e| CliError::Http(format!("the server sent an unexpected answer: {e}")))
    }

    pub(crate) fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        let r = self.auth(self.agent.get(self.url(path))).call();
        Self::parse(&self.finish(r)?)
    }

    pub(crate) fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        let r = self.auth(self.agent.delete(self.url(path))).call();
        Self::parse(&self.finish(r)?)
    }

    pub(crate) fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CliError> {
        let r = self.auth(self.agent.post(self.url(path))).send_json(body);
        Self::parse(&self.finish(r)?)
    }

    /// A plain GET of a full URL, without the API key: how an export link (a presigned URL to
    /// the deployment's bucket) is fetched.
    pub(crate) fn download(&self, url: &str) -> Result<Vec<u8>, CliError> {
        let r = self.agent.get(url).call();
        self.finish(r)
    }

    /// POST with a raw body; returns raw bytes.
    pub(crate) fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, CliError> {
        let r = self
            .auth(self.agent.post(self.url(path)))
            .header("Content-Type", content_type)
            .send(body);
        self.finish(r)
    }
}
