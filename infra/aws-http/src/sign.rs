//! Where requests go and how they are signed: SigV4 headers from `aws-sigv4` on each request.

use std::time::SystemTime;

use aws_sigv4::{
    http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode, sign,
    },
    sign::v4,
};
use snapkb_store::{OutboundRequest, StoreError, StoreResult};

/// Static credentials (a Spin deployment's variables; session token for temporary ones).
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// A region, credentials and optional endpoint override (local servers in tests).
#[derive(Debug, Clone)]
pub struct AwsTarget {
    pub region: String,
    pub credentials: AwsCredentials,
    pub endpoint: Option<String>,
}

impl AwsTarget {
    /// Signs `request` for `service` (`s3` or `dynamodb`) in place.
    pub(crate) fn sign(&self, service: &str, request: &mut OutboundRequest) -> StoreResult<()> {
        let failed = |e: &dyn std::fmt::Display| StoreError::Invalid(format!("SigV4: {e}"));
        let credentials = aws_credential_types::Credentials::new(
            &self.credentials.access_key_id,
            &self.credentials.secret_access_key,
            self.credentials.session_token.clone(),
            None,
            "snapkb",
        );
        let identity = credentials.into();
        let mut settings = SigningSettings::default();
        if service == "s3" {
            // S3 signs the payload hash header and does not double-encode or normalize paths.
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| failed(&e))?
            .into();
        let signable = SignableRequest::new(
            &request.method,
            request.url.as_str(),
            request
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(&request.body),
        )
        .map_err(|e| failed(&e))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| failed(&e))?
            .into_parts();
        for (name, value) in instructions.headers() {
            request.headers.push((name.to_string(), value.to_string()));
        }
        Ok(())
    }
}

/// A response status as a storage error (after the caller handled the statuses it expects).
pub(crate) fn status_error(service: &str, status: u16, body: &[u8]) -> StoreError {
    let detail: String = String::from_utf8_lossy(body).chars().take(400).collect();
    match status {
        429 | 503 if detail.contains("SlowDown") || status == 429 => StoreError::Throttled,
        500..=599 => StoreError::Unavailable(format!("{service} answered {status}: {detail}")),
        _ => StoreError::Backend(format!("{service} answered {status}: {detail}")),
    }
}
