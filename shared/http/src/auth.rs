//! Who is calling: the API key from `Authorization: Bearer` or `X-API-Key`, checked by the
//! engine; then the project's rate limits, whose state goes back in `RateLimit-*` headers.

use axum::{
    http::{HeaderMap, HeaderName, HeaderValue, header},
    response::{IntoResponse, Response},
};
use snapkb_core::Principal;
use snapkb_engine::{EngineError, RateStatus};

use crate::{AppState, problem::ApiError};

fn token(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = v.trim().split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The caller, or 401.
pub(crate) async fn principal(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Principal, ApiError> {
    let token = token(headers).ok_or(EngineError::Unauthorized)?;
    Ok(state.engine.authenticate(token).await?)
}

/// The caller, admitted to `project`'s rate limits. Projects the key cannot see are 404 before
/// anything is counted.
pub(crate) async fn enter(
    state: &AppState,
    headers: &HeaderMap,
    project: &str,
) -> Result<(Principal, RateStatus), ApiError> {
    let principal = principal(state, headers).await?;
    if !principal.sees(project) {
        return Err(EngineError::not_found(format!("project `{project}`")).into());
    }
    let rate = state.engine.check_rate(&principal, project).await?;
    Ok((principal, rate))
}

/// Adds `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` to a response.
pub(crate) fn rated(response: impl IntoResponse, rate: RateStatus) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("ratelimit-limit", rate.limit.to_string()),
        ("ratelimit-remaining", rate.remaining.to_string()),
        ("ratelimit-reset", rate.reset_after.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    response
}
