//! Spin variables → snapkb settings and AWS credentials. Spin variable names are lower case,
//! so `SNAPKB_BUCKET` is `snapkb_bucket`; spin.toml declares exactly [`spin_variables`] (a test
//! checks it).

use snapkb_aws_http::{AwsCredentials, AwsTarget};
use snapkb_core::{Config, Limits};

/// The component's own settings: where the Lambda deployment's data is.
const SPIN_STORAGE_SETTINGS: [&str; 5] = [
    "SNAPKB_BUCKET",
    "SNAPKB_TABLE",
    "SNAPKB_REGION",
    "SNAPKB_S3_ENDPOINT",
    "SNAPKB_DYNAMODB_ENDPOINT",
];

/// The SNAPKB_* settings a Spin component reads besides the request limits
/// ([`Limits::NAMES`], read everywhere).
const SPIN_OWN_SETTINGS: [&str; 11] = [
    "SNAPKB_BUCKET",
    "SNAPKB_TABLE",
    "SNAPKB_REGION",
    "SNAPKB_S3_ENDPOINT",
    "SNAPKB_DYNAMODB_ENDPOINT",
    "SNAPKB_ADMIN_KEY_SHA256",
    "SNAPKB_EMBED_URL",
    "SNAPKB_EMBED_TOKEN",
    "SNAPKB_EMBED_MODEL",
    "SNAPKB_KEY_CACHE_MS",
    "SNAPKB_MAX_BODY_BYTES",
];

/// The credentials, read as Spin variables of these names.
const SPIN_CREDENTIALS: [&str; 3] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
];

/// The SNAPKB_* settings a Spin component reads.
pub(crate) fn spin_settings() -> impl Iterator<Item = &'static str> {
    SPIN_OWN_SETTINGS.into_iter().chain(Limits::NAMES)
}

/// Every Spin variable the component reads: the settings in lower case, and the credentials.
pub fn spin_variables() -> Vec<String> {
    spin_settings()
        .map(str::to_ascii_lowercase)
        .chain(SPIN_CREDENTIALS.map(String::from))
        .collect()
}

/// What the component runs on.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    pub bucket: String,
    pub table: String,
    pub s3: AwsTarget,
    pub dynamodb: AwsTarget,
}

/// Settings from a variable lookup (`spin_sdk::variables::get` in the component); errors name
/// the variable.
pub fn settings_from(get: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
    let vars = spin_settings().filter_map(|name| {
        get(&name.to_ascii_lowercase())
            .filter(|v| !v.is_empty())
            .map(|v| (name.to_string(), v))
    });
    let (config, host) =
        Config::from_vars_with_host(vars, &SPIN_STORAGE_SETTINGS).map_err(|e| e.to_string())?;
    let required = |value: Option<String>, name: &str| {
        value.ok_or_else(|| format!("the Spin variable `{name}` is not set"))
    };
    let credentials = AwsCredentials {
        access_key_id: required(get("aws_access_key_id"), "aws_access_key_id")?,
        secret_access_key: required(get("aws_secret_access_key"), "aws_secret_access_key")?,
        session_token: get("aws_session_token").filter(|t| !t.is_empty()),
    };
    let region = required(host.get("SNAPKB_REGION"), "snapkb_region")?;
    let target = |endpoint: &Option<String>| AwsTarget {
        region: region.clone(),
        credentials: credentials.clone(),
        endpoint: endpoint.clone(),
    };
    Ok(Settings {
        bucket: required(host.get("SNAPKB_BUCKET"), "snapkb_bucket")?,
        table: required(host.get("SNAPKB_TABLE"), "snapkb_table")?,
        s3: target(&host.get("SNAPKB_S3_ENDPOINT")),
        dynamodb: target(&host.get("SNAPKB_DYNAMODB_ENDPOINT")),
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn spin_variables_are_the_settings_in_lower_case_and_the_credentials() {
        let variables = spin_variables();
        for setting in spin_settings() {
            assert!(variables.contains(&setting.to_ascii_lowercase()));
        }
        assert_eq!(variables.len(), spin_settings().count() + 3);
    }

    #[test]
    fn a_request_limit_set_as_a_spin_variable_reaches_the_config() {
        let s = settings_from(lookup(&[
            ("snapkb_bucket", "kb"),
            ("snapkb_table", "kb-meta"),
            ("snapkb_region", "eu-west-1"),
            ("snapkb_max_filter_clauses", "7"),
            ("snapkb_query_deadline_ms", "250"),
            ("aws_access_key_id", "AKIA"),
            ("aws_secret_access_key", "secret"),
        ]))
        .unwrap();
        assert_eq!(s.config.limits.max_filter_clauses, 7);
        assert_eq!(s.config.limits.query_deadline_ms, 250);
        assert_eq!(
            s.config.limits.max_tags,
            Limits::default().max_tags,
            "unset limits keep their defaults"
        );
    }

    #[test]
    fn settings_read_the_bucket_table_region_and_credentials() {
        let s = settings_from(lookup(&[
            ("snapkb_bucket", "kb"),
            ("snapkb_table", "kb-meta"),
            ("snapkb_region", "eu-west-1"),
            ("snapkb_embed_url", ""),
            ("aws_access_key_id", "AKIA"),
            ("aws_secret_access_key", "secret"),
        ]))
        .unwrap();
        assert_eq!((s.bucket.as_str(), s.table.as_str()), ("kb", "kb-meta"));
        assert_eq!(s.s3.region, "eu-west-1");
        assert_eq!(s.dynamodb.endpoint, None);
        assert_eq!(s.config.embed_url, None);
        assert_eq!(s.s3.credentials.session_token, None);
    }

    #[test]
    fn missing_and_bad_variables_are_named() {
        let err = settings_from(lookup(&[("snapkb_bucket", "kb")])).unwrap_err();
        assert!(err.contains("aws_access_key_id"), "{err}");
        let err = settings_from(lookup(&[
            ("snapkb_key_cache_ms", "soon"),
            ("aws_access_key_id", "a"),
            ("aws_secret_access_key", "b"),
        ]))
        .unwrap_err();
        assert!(err.contains("SNAPKB_KEY_CACHE_MS"), "{err}");
    }
}
