//! API keys: create (shown once), list without secrets, revoke, rotate, and authentication of
//! a presented token. Verified keys are cached for `key_cache_ms`; revoking through this
//! process takes effect at once, through another instance within that time.

use serde::{Deserialize, Serialize};
use snapkb_core::{ApiKey, Principal, Scope, generate_secret, new_key_id, now_ms};
use snapkb_store::{Condition, Item, StoreError, TransactWrite};

use crate::{
    Engine, EngineError, layout,
    oplog::op_write,
    records::{encode, parse_key, parse_project},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub name: String,
    pub scopes: Vec<Scope>,
    /// Seconds from now after which the key stops working.
    pub expires_in_seconds: Option<u64>,
}

/// A key as listed: never its secret or hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyView {
    pub id: String,
    pub project: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: u64,
    pub expires_at: Option<u64>,
    pub revoked_at: Option<u64>,
}

impl From<&ApiKey> for KeyView {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id.clone(),
            project: k.project.clone(),
            name: k.name.clone(),
            scopes: k.scopes.clone(),
            created_at: k.created_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A new key with its token, which is shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedKey {
    pub key: KeyView,
    pub token: String,
}

/// A key's two items (under its project, and by id for authentication) at `version`, each
/// written on `condition`. Changes condition on the version they read, so a revoke and a
/// rotate racing each other cannot undo one another.
fn key_items(
    key: &ApiKey,
    version: u64,
    condition: Condition,
) -> Result<Vec<TransactWrite>, EngineError> {
    let value = encode("key", key)?;
    Ok(vec![
        TransactWrite::Put {
            item: Item::new(
                layout::project_pk(&key.project),
                layout::key_sk(&key.id),
                version,
                value.clone(),
            ),
            condition,
        },
        TransactWrite::Put {
            item: Item::new(layout::key_pk(&key.id), layout::KEY_SK, version, value),
            condition,
        },
    ])
}

impl Engine {
    /// Creates the deployment admin key of a local deployment if there is none yet and returns
    /// its token (to print once); `None` when one exists or configuration supplies it.
    pub async fn ensure_admin_key(&self) -> Result<Option<String>, EngineError> {
        if self.config.admin_key_sha256.is_some() {
            return Ok(None);
        }
        let (token, hash) = generate_secret(&new_key_id());
        match self
            .meta
            .put(
                Item::new(
                    layout::DEPLOYMENT_PK,
                    layout::ADMIN_SK,
                    1,
                    hash.into_bytes(),
                ),
                Condition::Absent,
            )
            .await
        {
            Ok(()) => Ok(Some(token)),
            Err(StoreError::ConditionFailed { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn create_key(
        &self,
        principal: &Principal,
        project: &str,
        request: CreateKey,
    ) -> Result<CreatedKey, EngineError> {
        self.authorize(principal, project, Scope::Admin).await?;
        if request.name.is_empty() || request.name.len() > 200 {
            return Err(EngineError::invalid("name", "must be 1 to 200 bytes"));
        }
        if request.scopes.is_empty() {
            return Err(EngineError::invalid(
                "scopes",
                "give at least one of read, write, export, admin",
            ));
        }
        if request.expires_in_seconds == Some(0) {
            return Err(EngineError::invalid(
                "expires_in_seconds",
                "must be at least 1",
            ));
        }
        // Read the project's item itself, not the cache: a key must not be made for a project
        // being deleted (it would outlive the purge and work for a later project of the same
        // id), and the commit below checks the item is still this one.
        let item = self.project_item(project).await?;
        let current = parse_project(&item)?;
        if current.deleted_at.is_some() {
            return Err(EngineError::not_found(format!("project `{project}`")));
        }
        let now = now_ms();
        let id = new_key_id();
        let (token, hash) = generate_secret(&id);
        let mut scopes = request.scopes;
        scopes.sort();
        scopes.dedup();
        let key = ApiKey {
            id,
            project: project.to_string(),
            name: request.name,
            scopes,
            created_at: now,
            expires_at: request
                .expires_in_seconds
                .map(|s| now.saturating_add(s.saturating_mul(1000))),
            revoked_at: None,
            secret_sha256: hash,
            generation: current.generation.clone(),
        };
        let mut writes = key_items(&key, 1, Condition::Absent)?;
        writes.push(TransactWrite::Check {
            pk: layout::PROJECTS_PK.into(),
            sk: project.to_string(),
            condition: Condition::VersionEquals(item.version),
        });
        writes.push(op_write(
            project,
            principal.actor(),
            "key.create",
            None,
            serde_json::json!({"key": key.id, "scopes": key.scopes}),
        )?);
        match self.meta.transact(writes).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed { .. }) => {
                return Err(EngineError::Conflict(
                    "the project changed meanwhile (or is being deleted); retry".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(CreatedKey {
            key: KeyView::from(&key),
            token,
        })
    }

    pub async fn list_keys(
        &self,
        principal: &Principal,
        project: &str,
    ) -> Result<Vec<KeyView>, EngineError> {
        self.authorize(principal, project, Scope::Admin).await?;
        self.query_all(&layout::project_pk(project), "key#")
            .await?
            .iter()
            .map(|item| parse_key(item).map(|k| KeyView::from(&k)))
            .collect()
    }

    /// A key of `project` with its item version.
    async fn project_key(&self, project: &str, id: &str) -> Result<(ApiKey, u64), EngineError> {
        let item = self
            .meta
            .get(&layout::project_pk(project), &layout::key_sk(id))
            .await?
            .ok_or_else(|| EngineError::not_found(format!("key `{id}`")))?;
        Ok((parse_key(&item)?, item.version))
    }

    /// Writes a changed key over the version it was read at; a conflict when another change
    /// of the key landed first.
    async fn rewrite_key(
        &self,
        principal: &Principal,
        key: &ApiKey,
        version: u64,
        action: &str,
    ) -> Result<(), EngineError> {
        let mut writes = key_items(key, version + 1, Condition::VersionEquals(version))?;
        writes.push(op_write(
            &key.project,
            principal.actor(),
            action,
            None,
            serde_json::json!({"key": key.id}),
        )?);
        let result = self.meta.transact(writes).await;
        self.access.forget_key(&key.id);
        match result {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { .. }) => Err(EngineError::Conflict(format!(
                "key `{}` changed meanwhile; retry",
                key.id
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn revoke_key(
        &self,
        principal: &Principal,
        project: &str,
        id: &str,
    ) -> Result<KeyView, EngineError> {
        self.authorize(principal, project, Scope::Admin).await?;
        let (mut key, version) = self.project_key(project, id).await?;
        if key.revoked_at.is_none() {
            key.revoked_at = Some(now_ms());
            self.rewrite_key(principal, &key, version, "key.revoke")
                .await?;
        }
        self.access.forget_key(id);
        Ok(KeyView::from(&key))
    }

    /// A new secret for the same key id and scopes; the old secret stops working at once.
    pub async fn rotate_key(
        &self,
        principal: &Principal,
        project: &str,
        id: &str,
    ) -> Result<CreatedKey, EngineError> {
        self.authorize(principal, project, Scope::Admin).await?;
        let (mut key, version) = self.project_key(project, id).await?;
        if key.revoked_at.is_some() {
            return Err(EngineError::Conflict(format!("key `{id}` is revoked")));
        }
        let (token, hash) = generate_secret(id);
        key.secret_sha256 = hash;
        self.rewrite_key(principal, &key, version, "key.rotate")
            .await?;
        Ok(CreatedKey {
            key: KeyView::from(&key),
            token,
        })
    }
}
