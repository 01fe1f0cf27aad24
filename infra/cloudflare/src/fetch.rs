//! The outbound-HTTP port on the Workers `fetch` API (the remote embedding endpoint).

use bytes::Bytes;
use snapkb_store::{Outbound, OutboundError, OutboundRequest, OutboundResponse};
use worker::{Fetch, Headers, Method, Request, RequestInit};

#[derive(Debug, Default)]
pub struct WorkerFetch;

#[async_trait::async_trait(?Send)]
impl Outbound for WorkerFetch {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let failed = |e: worker::Error| OutboundError::Transport(format!("{}: {e}", request.url));
        let headers = Headers::new();
        for (name, value) in &request.headers {
            headers.set(name, value).map_err(failed)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(request.method.clone()))
            .with_headers(headers);
        if !request.body.is_empty() {
            init.with_body(Some(js_sys::Uint8Array::from(request.body.as_ref()).into()));
        }
        let outgoing = Request::new_with_init(&request.url, &init).map_err(failed)?;
        let mut response = Fetch::Request(outgoing).send().await.map_err(failed)?;
        let headers = response.headers().entries().collect();
        let body = response.bytes().await.map_err(failed)?;
        Ok(OutboundResponse {
            status: response.status_code(),
            headers,
            body: Bytes::from(body),
        })
    }
}
