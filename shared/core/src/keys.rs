//! API keys: random secrets shown once, stored as SHA-256 hashes, each bound to one project
//! with a set of scopes. A token reads `skb_{key id}_{secret}`, so a lookup needs the key id
//! only and the secret is compared by hash in constant time.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a key may do. `Admin` implies the others within its project.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Write,
    Export,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Write, Scope::Export, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Export => "export",
            Scope::Admin => "admin",
        }
    }
}

/// A stored key: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub project: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: u64,
    /// Unix milliseconds after which the key is rejected.
    pub expires_at: Option<u64>,
    pub revoked_at: Option<u64>,
    /// Lowercase hex SHA-256 of the secret part of the token.
    pub secret_sha256: String,
    /// The project incarnation the key was made for ([`crate::Project::generation`]); empty
    /// for keys made before generations.
    #[serde(default)]
    pub generation: String,
}

impl ApiKey {
    pub fn is_active(&self, now_ms: u64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|t| now_ms < t)
    }

    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }
}

/// Who is calling: the deployment admin (every project) or a project key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    DeploymentAdmin,
    Key(ApiKey),
}

impl Principal {
    /// The key id written to the operation log.
    pub fn actor(&self) -> &str {
        match self {
            Principal::DeploymentAdmin => "admin",
            Principal::Key(k) => &k.id,
        }
    }

    /// Whether this principal can see `project` at all (a key of another project cannot).
    pub fn sees(&self, project: &str) -> bool {
        match self {
            Principal::DeploymentAdmin => true,
            Principal::Key(k) => k.project == project,
        }
    }

    pub fn allows(&self, project: &str, scope: Scope) -> bool {
        match self {
            Principal::DeploymentAdmin => true,
            Principal::Key(k) => k.project == project && k.allows(scope),
        }
    }
}

/// The parts of a presented token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyToken<'a> {
    pub key_id: &'a str,
    pub secret: &'a str,
}

const TOKEN_PREFIX: &str = "skb_";

/// Splits `skb_{id}_{secret}`; `None` for anything else.
pub fn parse_token(token: &str) -> Option<KeyToken<'_>> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (key_id, secret) = rest.split_once('_')?;
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(key_id, 16) && hex(secret, 64)).then_some(KeyToken { key_id, secret })
}

/// `bytes` random bytes from the OS, as lowercase hex (keys, secrets, object-name suffixes).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS random source failing is not recoverable and never expected; a key made of zeros
    // would be worse than stopping.
    getrandom::fill(&mut buf).expect("the operating system's random source is unavailable");
    hex::encode(buf)
}

/// 64 random bits from the OS (jitter that must differ between processes).
pub fn random_u64() -> u64 {
    getrandom::u64().expect("the operating system's random source is unavailable")
}

/// A new key id: 64 random bits, 16 hex digits.
pub fn new_key_id() -> String {
    random_hex(8)
}

/// A new token for `key_id`: 256 random bits. Returns (token, hash of its secret).
pub fn generate_secret(key_id: &str) -> (String, String) {
    let secret = random_hex(32);
    let hash = hash_secret(&secret);
    (format!("{TOKEN_PREFIX}{key_id}_{secret}"), hash)
}

/// SHA-256 of a secret, lowercase hex. Secrets are 256 random bits, so a fast hash is enough
/// (no dictionary to guess from).
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two hashes without an early exit, so timing says nothing about where they differ.
pub fn secrets_match(presented_secret: &str, stored_sha256: &str) -> bool {
    let presented = hash_secret(presented_secret);
    presented.len() == stored_sha256.len()
        && presented
            .bytes()
            .zip(stored_sha256.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_match_only_their_own_hash() {
        let id = new_key_id();
        let (token, hash) = generate_secret(&id);
        let parsed = parse_token(&token).unwrap();
        assert_eq!(parsed.key_id, id);
        assert!(secrets_match(parsed.secret, &hash));
        let (other, _) = generate_secret(&id);
        assert!(!secrets_match(parse_token(&other).unwrap().secret, &hash));
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for bad in [
            "",
            "skb_",
            "skb_abc_def",
            "Bearer skb_0123456789abcdef_00",
            "xyz_0123456789abcdef_0000000000000000000000000000000000000000000000000000000000000000",
            "skb_0123456789abcdeg_0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn expiry_revocation_and_admin_scope_are_honoured() {
        let key = ApiKey {
            id: "k".into(),
            project: "p".into(),
            name: "n".into(),
            scopes: vec![Scope::Read],
            created_at: 0,
            expires_at: Some(100),
            revoked_at: None,
            secret_sha256: String::new(),
            generation: String::new(),
        };
        assert!(key.is_active(99));
        assert!(!key.is_active(100));
        assert!(key.allows(Scope::Read) && !key.allows(Scope::Write));
        let principal = Principal::Key(key.clone());
        assert!(principal.sees("p") && !principal.sees("q"));
        assert!(!principal.allows("q", Scope::Read));
        let admin = ApiKey {
            scopes: vec![Scope::Admin],
            ..key
        };
        assert!(admin.allows(Scope::Export));
    }
}
