//! Who is calling, admitted before any body is read: the API key from `Authorization: Bearer`
//! or `X-API-Key`, checked by the engine against the [`Access`] rule each route in the table
//! names (projects the key cannot see are 404, missing scopes 403), then counted against the
//! project's rate limits, whose state goes back in `RateLimit-*` headers ([`Rated`]).

use axum::{
    extract::{FromRequestParts, RawPathParams},
    http::{HeaderMap, HeaderName, HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
};
use snapkb_core::{Principal, Scope};
use snapkb_engine::{EngineError, RateStatus};

use crate::{AppState, problem::ApiError, send::send};

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

/// Who may call a route. Checked before any body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: liveness and the OpenAPI document.
    Public,
    /// A request signed with the project's webhook secret (the signature covers the body, so
    /// the handler checks it).
    Signature,
    /// The deployment admin key.
    DeploymentAdmin,
    /// Any valid key; the handler shows it only what it sees.
    AnyKey,
    /// A key with this scope on the `{project}` of the path (on its own project where the path
    /// names none), or the deployment admin. Counted against the project's rate limits.
    Project(Scope),
    /// As [`Access::Project`], without counting against the rate limits: reading them.
    ProjectUnmetered(Scope),
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "none",
            Access::Signature => "signature",
            Access::DeploymentAdmin => "deployment-admin",
            Access::AnyKey => "any-key",
            Access::Project(scope) | Access::ProjectUnmetered(scope) => scope.as_str(),
        }
    }
}

/// An authenticated caller admitted to its route: the key, the project it acts on (the path's
/// `{project}`, else the key's own) and that project's rate-limit state.
#[derive(Debug)]
pub(crate) struct Caller {
    pub(crate) principal: Principal,
    project: Option<String>,
    rate: Option<RateStatus>,
}

impl Caller {
    /// The project this call acts on. Routes with [`Access::Project`] and a `{project}` in the
    /// path always have one.
    pub(crate) fn project(&self) -> &str {
        self.project.as_deref().unwrap_or_default()
    }

    /// The principal, the project and the rate-limit state, for handlers that hand the first
    /// two to the engine.
    pub(crate) fn into_parts(self) -> (Principal, String, Option<RateStatus>) {
        let project = self.project.unwrap_or_default();
        (self.principal, project, self.rate)
    }

    /// `response` with this call's rate-limit headers.
    pub(crate) fn rated<T: IntoResponse>(&self, response: T) -> Rated<T> {
        Rated::new(self.rate, response)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> impl Future<Output = Result<Self, ApiError>> + Send {
        send(admit(parts, state))
    }
}

/// Authenticates and admits a call to its route's rule (see [`Caller`]).
async fn admit(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
    // The router puts each route's rule on its requests (`crate::router`).
    let access = parts.extensions.get::<Access>().copied().ok_or_else(|| {
        ApiError::from(EngineError::Internal(
            "a route without an access rule".into(),
        ))
    })?;
    let token = token(&parts.headers).ok_or(EngineError::Unauthorized)?;
    let engine = &state.engine;
    let principal = engine.authenticate(token).await?;
    let path_project = RawPathParams::from_request_parts(parts, state)
        .await
        .ok()
        .and_then(|params| {
            params
                .iter()
                .find(|(name, _)| *name == "project")
                .map(|(_, value)| value.to_string())
        });
    let project = match (path_project, &principal) {
        (Some(project), _) => Some(project),
        (None, Principal::Key(key)) => Some(key.project.clone()),
        (None, Principal::DeploymentAdmin) => None,
    };
    let rate = match access {
        Access::Public | Access::Signature => {
            return Err(EngineError::Internal(format!(
                "route with {} access asked for a key",
                access.as_str()
            ))
            .into());
        }
        Access::AnyKey => None,
        Access::DeploymentAdmin => {
            engine.require_deployment_admin(&principal)?;
            None
        }
        Access::Project(scope) => match &project {
            Some(project) => {
                engine.authorize(&principal, project, scope).await?;
                Some(engine.check_rate(&principal, project).await?)
            }
            None => None,
        },
        Access::ProjectUnmetered(scope) => match &project {
            Some(project) => {
                engine.authorize(&principal, project, scope).await?;
                Some(engine.rate_status(&principal, project).await?)
            }
            None => None,
        },
    };
    Ok(Caller {
        principal,
        project,
        rate,
    })
}

/// A response with `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers
/// (none for calls outside any project's limits, such as the deployment admin's).
#[derive(Debug)]
pub(crate) struct Rated<T> {
    rate: Option<RateStatus>,
    response: T,
}

impl<T> Rated<T> {
    pub(crate) fn new(rate: Option<RateStatus>, response: T) -> Self {
        Rated { rate, response }
    }
}

impl<T: IntoResponse> IntoResponse for Rated<T> {
    fn into_response(self) -> Response {
        let mut response = self.response.into_response();
        if let Some(rate) = self.rate {
            let headers = response.headers_mut();
            for (name, value) in [
                ("ratelimit-limit", u64::from(rate.limit)),
                ("ratelimit-remaining", u64::from(rate.remaining)),
                ("ratelimit-reset", rate.reset_after),
            ] {
                headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
            }
        }
        response
    }
}
