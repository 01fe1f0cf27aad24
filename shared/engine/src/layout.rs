//! Where everything lives. One table (DynamoDB-shaped) and one bucket; this module is the only
//! place that spells item keys and object keys, so the layout is documented in one spot
//! (docs/storage.md repeats it).
//!
//! | pk | sk | value |
//! |---|---|---|
//! | `projects` | `{project}` | project configuration |
//! | `p#{project}` | `manifest` | current manifest (item version = manifest version) |
//! | `p#{project}` | `ver#{inverted version}` | the manifest of each version, newest first |
//! | `p#{project}` | `op#{inverted ms}#{rand}` | operation log, newest first |
//! | `p#{project}` | `key#{key id}` | API key of the project (listing) |
//! | `key#{key id}` | `key` | the same API key (authentication by id) |
//! | `p#{project}` | `hook#{signature}` | seen webhook signatures (replay guard, TTL) |
//! | `rate#{scope}#{id}` | `{window start}` | rate-limit counter (TTL) |
//! | `deployment` | `admin` | the admin key hash of a local deployment |
//!
//! Objects: `projects/{project}/s{shard}/wal/{ms}-{rand}.wal` and
//! `projects/{project}/s{shard}/snap/{ms}-{rand}.snap`; the creation time in the name lets GC
//! leave young unreferenced objects (an ingest about to commit) alone.

pub const PROJECTS_PK: &str = "projects";
pub const MANIFEST_SK: &str = "manifest";
pub const DEPLOYMENT_PK: &str = "deployment";
pub const ADMIN_SK: &str = "admin";

pub fn project_pk(project: &str) -> String {
    format!("p#{project}")
}

pub fn version_sk(version: u64) -> String {
    format!("ver#{:020}", u64::MAX - version)
}

pub fn version_from_sk(sk: &str) -> Option<u64> {
    sk.strip_prefix("ver#")?
        .parse::<u64>()
        .ok()
        .map(|v| u64::MAX - v)
}

pub fn op_sk(at_ms: u64) -> String {
    format!("op#{:020}#{}", u64::MAX - at_ms, random_suffix())
}

pub fn key_sk(key_id: &str) -> String {
    format!("key#{key_id}")
}

pub fn key_pk(key_id: &str) -> String {
    format!("key#{key_id}")
}

pub const KEY_SK: &str = "key";

pub fn hook_sk(signature: &str) -> String {
    format!("hook#{signature}")
}

pub fn rate_pk(scope: &str, id: &str) -> String {
    format!("rate#{scope}#{id}")
}

pub fn project_prefix(project: &str) -> String {
    format!("projects/{project}/")
}

pub fn wal_key(project: &str, shard: u32, at_ms: u64) -> String {
    format!(
        "projects/{project}/s{shard}/wal/{at_ms:013}-{}.wal",
        random_suffix()
    )
}

pub fn snapshot_key(project: &str, shard: u32, at_ms: u64) -> String {
    format!(
        "projects/{project}/s{shard}/snap/{at_ms:013}-{}.snap",
        random_suffix()
    )
}

/// The creation time written into an object key, if it has one.
pub fn object_created_ms(key: &str) -> Option<u64> {
    let name = key.rsplit('/').next()?;
    name.split('-').next()?.parse().ok()
}

pub(crate) fn random_suffix() -> String {
    snapkb_core::random_hex(6)
}

/// The shard a chunk lives in: a stable hash of its id.
pub fn shard_of(chunk_id: &str, shards: usize) -> usize {
    if shards <= 1 {
        0
    } else {
        (xxhash_rust::xxh3::xxh3_64(chunk_id.as_bytes()) % shards as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverted_keys_sort_newest_first_and_round_trip() {
        assert!(version_sk(10) < version_sk(9));
        assert_eq!(version_from_sk(&version_sk(42)), Some(42));
        assert!(op_sk(2000) < op_sk(1000));
        let key = wal_key("p", 0, 1_700_000_000_123);
        assert_eq!(object_created_ms(&key), Some(1_700_000_000_123));
        assert!(key.starts_with(&project_prefix("p")));
    }
}
