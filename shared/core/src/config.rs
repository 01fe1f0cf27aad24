//! Typed configuration. Entry points read `SNAPKB_*` environment variables (or flags) once and
//! hand the shared crates a [`Config`]; nothing in `shared/` reads the environment itself. The
//! parser knows the shared crates' settings; each host names its own (storage, endpoints, logs)
//! and gets them back as [`HostSettings`], so a misspelt name is an error on every host.

use std::collections::BTreeMap;

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("`{field}` is invalid: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("unknown setting `{0}`")]
    Unknown(String),
}

/// What the shared crates are configured with: limits, caches, the deployment admin key and the
/// embedding endpoint. Where a host's data lives (bucket, table, data directory), its endpoints
/// and its logs are the host's own settings ([`HostSettings`]), parsed by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// SHA-256 (hex) of the deployment admin key's secret.
    pub admin_key_sha256: Option<String>,
    /// An embeddings endpoint speaking OpenAI's `POST /v1/embeddings` shape (another snapkb
    /// deployment's `/v1/embed`, or an OpenAI-compatible server running all-MiniLM-L6-v2): how
    /// hosts without the model (edge functions) embed text.
    pub embed_url: Option<String>,
    /// Bearer token sent to `embed_url` (a snapkb API key with read scope, or the server's key).
    pub embed_token: Option<String>,
    /// The model name sent to `embed_url`; it must be all-MiniLM-L6-v2 under that server's name.
    pub embed_model: String,
    /// Largest request body accepted, except imports.
    pub max_body_bytes: usize,
    /// Largest import archive accepted.
    pub max_import_bytes: usize,
    /// Documents per ingest request.
    pub max_batch_documents: usize,
    /// How long a verified key is trusted before it is read again (revocation delay on other
    /// instances).
    pub key_cache_ms: u64,
    /// Largest manifest a commit may write. DynamoDB items stop at 400 KB; past this, writes
    /// answer 503 (retry) and compaction is forced until the write-ahead log is folded.
    pub max_manifest_bytes: usize,
    /// Unreferenced objects younger than this are left alone by GC (an ingest may be about to
    /// commit them), and a writer commits objects it wrote only within half of it. 0 lets GC
    /// take every unreferenced object at once: only for tests, with no writer running.
    pub gc_grace_ms: u64,
    /// Accepted clock difference for signed webhooks.
    pub webhook_window_seconds: u64,
    /// What one request may ask of the engine, whoever sends it.
    pub limits: Limits,
}

/// Bounds on the work one request can cause: every one is checked before anything is written
/// or searched, and a request past one gets a 4xx problem naming the field. Set through
/// `SNAPKB_<NAME>` (the names are in [`Limits::NAMES`]); docs/security.md has the reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Keys in a document's metadata.
    pub max_metadata_keys: usize,
    /// A document's metadata, as compact JSON.
    pub max_metadata_bytes: usize,
    /// Tags on a document.
    pub max_tags: usize,
    /// Chunks one document may have (given by the caller or made by the chunker).
    pub max_chunks_per_document: usize,
    /// Clauses (every `eq`, `in`, `range`, `and`, … node) in a query filter.
    pub max_filter_clauses: usize,
    /// Nesting depth of a query filter.
    pub max_filter_depth: usize,
    /// Values in one `in` clause.
    pub max_filter_values: usize,
    /// A query still searching after this long is stopped and answered 503 `timeout`.
    pub query_deadline_ms: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_metadata_keys: 64,
            max_metadata_bytes: 8 << 10,
            max_tags: 32,
            max_chunks_per_document: 10_000,
            max_filter_clauses: 256,
            max_filter_depth: 16,
            max_filter_values: 1024,
            query_deadline_ms: 10_000,
        }
    }
}

impl Limits {
    /// Every limit's variable name.
    pub const NAMES: [&'static str; 8] = [
        "SNAPKB_MAX_METADATA_KEYS",
        "SNAPKB_MAX_METADATA_BYTES",
        "SNAPKB_MAX_TAGS",
        "SNAPKB_MAX_CHUNKS_PER_DOCUMENT",
        "SNAPKB_MAX_FILTER_CLAUSES",
        "SNAPKB_MAX_FILTER_DEPTH",
        "SNAPKB_MAX_FILTER_VALUES",
        "SNAPKB_QUERY_DEADLINE_MS",
    ];

    /// The limit a variable sets, with the variable's name as a `'static` string.
    fn field(&mut self, name: &str) -> Option<(&'static str, &mut usize)> {
        let index = Self::NAMES.iter().position(|n| *n == name)?;
        let slot = match index {
            0 => &mut self.max_metadata_keys,
            1 => &mut self.max_metadata_bytes,
            2 => &mut self.max_tags,
            3 => &mut self.max_chunks_per_document,
            4 => &mut self.max_filter_clauses,
            5 => &mut self.max_filter_depth,
            6 => &mut self.max_filter_values,
            _ => &mut self.query_deadline_ms,
        };
        Some((Self::NAMES[index], slot))
    }
}

/// The `SNAPKB_*` settings a host reads for itself, set apart by [`Config::from_vars_with_host`]
/// (empty values are left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostSettings(BTreeMap<String, String>);

impl HostSettings {
    /// The value of `name` (a full name, `SNAPKB_BUCKET`), if set and not empty.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            admin_key_sha256: None,
            embed_url: None,
            embed_token: None,
            embed_model: "all-MiniLM-L6-v2".into(),
            max_body_bytes: 16 << 20,
            max_import_bytes: 1 << 30,
            max_batch_documents: 10_000,
            key_cache_ms: 10_000,
            max_manifest_bytes: 256 << 10,
            gc_grace_ms: 15 * 60_000,
            webhook_window_seconds: 300,
            limits: Limits::default(),
        }
    }
}

const PREFIX: &str = "SNAPKB_";

fn number<T: std::str::FromStr>(field: &'static str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::Invalid {
        field,
        reason: format!("`{value}` is not a non-negative integer"),
    })
}

impl Config {
    /// Reads `SNAPKB_*` variables from `vars` on top of the defaults; other variables are
    /// ignored, unknown `SNAPKB_` names are errors (a typo should not silently do nothing).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        Self::from_vars_with_host(vars, &[]).map(|(config, _)| config)
    }

    /// As [`Config::from_vars`], with the variables named in `host_names` (the host's own
    /// settings) set apart instead of refused.
    pub fn from_vars_with_host(
        vars: impl IntoIterator<Item = (String, String)>,
        host_names: &[&str],
    ) -> Result<(Self, HostSettings), ConfigError> {
        let mut config = Config::default();
        let mut host = HostSettings::default();
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with(PREFIX))
            .collect();
        for (name, value) in vars {
            let key = &name[PREFIX.len()..];
            let text = || Some(value.clone()).filter(|v| !v.is_empty());
            if host_names.contains(&name.as_str()) {
                if let Some(value) = text() {
                    host.0.insert(name, value);
                }
                continue;
            }
            match key {
                "EMBED_URL" => {
                    if !(value.is_empty()
                        || value.starts_with("https://")
                        || value.starts_with("http://"))
                    {
                        return Err(ConfigError::Invalid {
                            field: "SNAPKB_EMBED_URL",
                            reason: "must be an http:// or https:// URL".into(),
                        });
                    }
                    config.embed_url = text();
                }
                "EMBED_TOKEN" => config.embed_token = text(),
                "EMBED_MODEL" => {
                    config.embed_model = text().ok_or(ConfigError::Invalid {
                        field: "SNAPKB_EMBED_MODEL",
                        reason: "must not be empty".into(),
                    })?
                }
                "ADMIN_KEY_SHA256" => {
                    let v = value.trim().to_ascii_lowercase();
                    if v.len() != 64 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(ConfigError::Invalid {
                            field: "SNAPKB_ADMIN_KEY_SHA256",
                            reason: "must be 64 hex digits".into(),
                        });
                    }
                    config.admin_key_sha256 = Some(v);
                }
                "MAX_BODY_BYTES" => {
                    config.max_body_bytes = number("SNAPKB_MAX_BODY_BYTES", &value)?
                }
                "MAX_IMPORT_BYTES" => {
                    config.max_import_bytes = number("SNAPKB_MAX_IMPORT_BYTES", &value)?
                }
                "MAX_BATCH_DOCUMENTS" => {
                    config.max_batch_documents = number("SNAPKB_MAX_BATCH_DOCUMENTS", &value)?
                }
                "KEY_CACHE_MS" => config.key_cache_ms = number("SNAPKB_KEY_CACHE_MS", &value)?,
                "MAX_MANIFEST_BYTES" => {
                    config.max_manifest_bytes = number("SNAPKB_MAX_MANIFEST_BYTES", &value)?
                }
                "GC_GRACE_MS" => config.gc_grace_ms = number("SNAPKB_GC_GRACE_MS", &value)?,
                "WEBHOOK_WINDOW_SECONDS" => {
                    config.webhook_window_seconds = number("SNAPKB_WEBHOOK_WINDOW_SECONDS", &value)?
                }
                _ => match config.limits.field(&name) {
                    Some((field, slot)) => {
                        *slot = number(field, &value)?;
                        if *slot == 0 {
                            return Err(ConfigError::Invalid {
                                field,
                                reason: "must be at least 1".into(),
                            });
                        }
                    }
                    None => return Err(ConfigError::Unknown(name)),
                },
            }
        }
        Ok((config, host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn variables_override_defaults_and_others_are_ignored() {
        let (c, host) = Config::from_vars_with_host(
            vars(&[
                ("SNAPKB_BUCKET", "kb"),
                ("SNAPKB_TABLE", ""),
                ("SNAPKB_MAX_BODY_BYTES", "1024"),
                ("HOME", "/root"),
            ]),
            &["SNAPKB_BUCKET", "SNAPKB_TABLE"],
        )
        .unwrap();
        assert_eq!(host.get("SNAPKB_BUCKET").as_deref(), Some("kb"));
        assert_eq!(host.get("SNAPKB_TABLE"), None, "empty means unset");
        assert_eq!(c.max_body_bytes, 1024);
        assert_eq!(c.key_cache_ms, Config::default().key_cache_ms);
        assert_eq!(
            Config::from_vars(vars(&[("SNAPKB_BUCKET", "kb")])),
            Err(ConfigError::Unknown("SNAPKB_BUCKET".into())),
            "a host setting is unknown to a host that does not read it"
        );
    }

    #[test]
    fn an_embedding_url_must_be_http_and_empty_means_none() {
        let c = Config::from_vars(vars(&[
            ("SNAPKB_EMBED_URL", "https://kb.example/v1/embed"),
            ("SNAPKB_EMBED_TOKEN", "sk_1"),
        ]))
        .unwrap();
        assert_eq!(c.embed_url.as_deref(), Some("https://kb.example/v1/embed"));
        assert_eq!(c.embed_model, "all-MiniLM-L6-v2");
        let c = Config::from_vars(vars(&[("SNAPKB_EMBED_URL", "")])).unwrap();
        assert_eq!(c.embed_url, None);
        assert!(matches!(
            Config::from_vars(vars(&[("SNAPKB_EMBED_URL", "kb.example")])),
            Err(ConfigError::Invalid {
                field: "SNAPKB_EMBED_URL",
                ..
            })
        ));
    }

    #[test]
    fn every_limit_is_set_by_its_variable_and_zero_is_refused() {
        for (i, name) in Limits::NAMES.iter().enumerate() {
            let c = Config::from_vars(vars(&[(name, "7")])).unwrap();
            let mut limits = c.limits;
            let (field, value) = limits.field(name).unwrap();
            assert_eq!((field, *value), (*name, 7), "limit {i}");
            assert_ne!(c.limits, Limits::default(), "{name} changed a limit");
            assert!(matches!(
                Config::from_vars(vars(&[(name, "0")])),
                Err(ConfigError::Invalid { .. })
            ));
        }
    }

    #[test]
    fn typos_and_bad_numbers_are_errors_naming_the_variable() {
        assert_eq!(
            Config::from_vars(vars(&[("SNAPKB_BUCKIT", "x")])),
            Err(ConfigError::Unknown("SNAPKB_BUCKIT".into()))
        );
        assert!(matches!(
            Config::from_vars(vars(&[("SNAPKB_KEY_CACHE_MS", "soon")])),
            Err(ConfigError::Invalid {
                field: "SNAPKB_KEY_CACHE_MS",
                ..
            })
        ));
    }
}
