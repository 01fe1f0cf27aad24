//! Signed inbound webhooks: `X-Snapkb-Signature: sha256=<hex HMAC-SHA256(secret,
//! "{timestamp}.{body}")>` with `X-Snapkb-Timestamp: <unix seconds>`. A signature is accepted
//! once, within the configured window of the timestamp; a replay is refused. The claim that
//! makes it once is written in the same transaction as the ingest's commit.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use snapkb_core::{ApiKey, Principal, Scope, now_ms};
use snapkb_store::{Condition, Item, StoreError};

use crate::{Engine, EngineError, layout};

pub const SIGNATURE_HEADER: &str = "x-snapkb-signature";
pub const TIMESTAMP_HEADER: &str = "x-snapkb-timestamp";

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header value for a body (what senders compute).
pub fn sign_webhook(secret: &str, timestamp: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// A webhook delivery whose signature checked out: who it acts as (write access to its project
/// only) and the claim its ingest commits ([`Engine::ingest_webhook`]).
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    pub principal: Principal,
    pub project: String,
    pub(crate) claim: Item,
}

/// The answer to a delivery whose claim is already taken.
pub(crate) fn replayed() -> EngineError {
    EngineError::Conflict("this webhook delivery was already accepted (replay)".into())
}

impl Engine {
    /// Checks a webhook's signature and timestamp. An unknown project answers exactly like a
    /// bad signature, so the route tells nobody which projects exist. Nothing is written here:
    /// the delivery is claimed by the ingest that accepts it.
    pub async fn verify_webhook(
        &self,
        project: &str,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<WebhookDelivery, EngineError> {
        let timestamp = timestamp
            .ok_or_else(|| EngineError::BadSignature(format!("missing {TIMESTAMP_HEADER}")))?;
        let signature = signature
            .ok_or_else(|| EngineError::BadSignature(format!("missing {SIGNATURE_HEADER}")))?;
        let sent: u64 = timestamp.trim().parse().map_err(|_| {
            EngineError::BadSignature(format!("{TIMESTAMP_HEADER} must be Unix seconds"))
        })?;
        let now = now_ms() / 1000;
        let window = self.config.webhook_window_seconds;
        if sent.abs_diff(now) > window {
            return Err(EngineError::BadSignature(format!(
                "timestamp is more than {window} s from now"
            )));
        }
        let digest = signature
            .trim()
            .strip_prefix("sha256=")
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| EngineError::BadSignature("signature must be sha256=<hex>".into()))?;
        let mismatch = || EngineError::BadSignature("signature does not match".into());
        let config = match self.project(project).await {
            Ok(config) => config,
            Err(EngineError::NotFound { .. }) => return Err(mismatch()),
            Err(e) => return Err(e),
        };
        mac(&config.webhook_secret, timestamp.trim(), body)
            .verify_slice(&digest)
            .map_err(|_| mismatch())?;
        let mut claim = Item::new(
            layout::project_pk(project),
            layout::hook_sk(&hex::encode(&digest)),
            1,
            Vec::new(),
        );
        claim.ttl = Some(now + 2 * window + 60);
        if self.meta.get(&claim.pk, &claim.sk).await?.is_some() {
            return Err(replayed());
        }
        let principal = Principal::Key(ApiKey {
            // Its own rate counter per project: one project's deliveries never use up another's.
            id: format!("webhook-{project}"),
            project: project.to_string(),
            name: "signed webhook".into(),
            scopes: vec![Scope::Write],
            created_at: 0,
            expires_at: None,
            revoked_at: None,
            secret_sha256: String::new(),
            generation: config.generation.clone(),
        });
        Ok(WebhookDelivery {
            principal,
            project: project.to_string(),
            claim,
        })
    }

    /// Claims a delivery that committed nothing (its content was unchanged).
    pub(crate) async fn claim_delivery(&self, claim: Item) -> Result<(), EngineError> {
        match self.meta.put(claim, Condition::Absent).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { .. }) => Err(replayed()),
            Err(e) => Err(e.into()),
        }
    }
}
