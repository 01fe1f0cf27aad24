//! The Spin HTTP component: one engine per instance over S3 + DynamoDB through Spin's
//! outbound HTTP, serving the query group and ingest (caller vectors; text with an
//! embedding URL).

use std::{cell::RefCell, rc::Rc, sync::Arc};

use bytes::Bytes;
use snapkb_aws_http::{HttpDynamoMeta, HttpS3Objects};
use snapkb_engine::{Engine, Pause, RemoteEmbedder, TableRateLimiter};
use snapkb_http::{ApiError, Group};
use snapkb_store::{Outbound, OutboundError, OutboundRequest, OutboundResponse};
use spin_sdk::http_component;
use tower::Service;

use crate::settings_from;

/// Route groups a Spin component mounts.
const GROUPS: [Group; 2] = [Group::Query, Group::Ingest];

/// Spin's outbound HTTP (hosts must be in `allowed_outbound_hosts`).
struct SpinOutbound;

#[async_trait::async_trait(?Send)]
impl Outbound for SpinOutbound {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let failed = |e: &dyn std::fmt::Display| {
            OutboundError::Transport(format!("{} {}: {e}", request.method, request.url))
        };
        let mut builder = http::Request::builder()
            .method(request.method.as_str())
            .uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let outgoing = builder.body(request.body.to_vec()).map_err(|e| {
            OutboundError::Invalid(format!("{} {}: {e}", request.method, request.url))
        })?;
        let response: http::Response<Vec<u8>> = spin_sdk::http::send(outgoing)
            .await
            .map_err(|e| failed(&e))?;
        Ok(OutboundResponse {
            status: response.status().as_u16(),
            headers: response
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect(),
            body: Bytes::from(response.into_body()),
        })
    }
}

/// A lost commit race waits by blocking the instance: it serves one request, so nothing else
/// waits behind it.
struct BlockingPause;

#[async_trait::async_trait(?Send)]
impl Pause for BlockingPause {
    async fn pause(&self, duration: std::time::Duration) {
        std::thread::sleep(duration);
    }
}

thread_local! {
    static ROUTER: RefCell<Option<Rc<axum::Router>>> = const { RefCell::new(None) };
}

fn router() -> Result<Rc<axum::Router>, String> {
    if let Some(router) = ROUTER.with(|r| r.borrow().clone()) {
        return Ok(router);
    }
    let settings = settings_from(|name| spin_sdk::variables::get(name).ok())?;
    let outbound: Arc<dyn Outbound> = Arc::new(SpinOutbound);
    let meta: Arc<dyn snapkb_store::MetaStore> = Arc::new(HttpDynamoMeta::new(
        outbound.clone(),
        settings.dynamodb.clone(),
        settings.table.clone(),
    ));
    let objects = Arc::new(HttpS3Objects::new(
        outbound.clone(),
        settings.s3.clone(),
        settings.bucket.clone(),
    ));
    let mut engine = Engine::new(objects, meta.clone(), settings.config)
        .with_rate_limiter(Arc::new(TableRateLimiter { meta }))
        .with_pause(Arc::new(BlockingPause));
    if let Some(embedder) = RemoteEmbedder::from_config(outbound, engine.config()) {
        engine = engine.with_embedder(Arc::new(embedder));
    }
    let router = Rc::new(snapkb_http::router(Arc::new(engine), &GROUPS));
    ROUTER.with(|r| *r.borrow_mut() = Some(router.clone()));
    Ok(router)
}

/// A 500 problem naming what is missing, in the Router's own problem+json shape.
fn misconfigured(reason: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    ApiError::new(
        http::StatusCode::INTERNAL_SERVER_ERROR,
        "misconfigured",
        "The Spin component is misconfigured",
        reason,
    )
    .into_response()
}

/// An axum response as the byte-bodied response Spin sends.
async fn buffered(
    response: axum::response::Response,
) -> Result<http::Response<Vec<u8>>, axum::Error> {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await?;
    Ok(http::Response::from_parts(parts, bytes.to_vec()))
}

#[http_component]
async fn handle(request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    let response = match router() {
        Ok(router) => {
            let (parts, body) = request.into_parts();
            let request = http::Request::from_parts(parts, axum::body::Body::from(body));
            match (*router).clone().call(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
        Err(reason) => {
            eprintln!("snapkb: {reason}");
            misconfigured(&reason)
        }
    };
    match buffered(response).await {
        Ok(response) => response,
        // A problem body is in memory and cannot fail to read.
        Err(e) => buffered(misconfigured(&format!("reading the response: {e}")))
            .await
            .unwrap_or_default(),
    }
}
