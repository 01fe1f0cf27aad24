//! The operation log: who (key id), what, when and at which version, per project, newest
//! first. Index changes write their entry in the same transaction as the commit.

use serde::{Deserialize, Serialize};
use snapkb_core::now_ms;
use snapkb_store::{Condition, Item, TransactWrite};

use crate::{Engine, EngineError, layout, records::encode};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Operation {
    pub at: u64,
    /// Key id, or `admin` for the deployment admin key.
    pub actor: String,
    pub action: String,
    /// Manifest version the operation produced, if it changed the index.
    pub version: Option<u64>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// A page of operations, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OperationPage {
    pub operations: Vec<Operation>,
    pub next: Option<String>,
}

pub(crate) fn op_write(
    project: &str,
    actor: &str,
    action: &str,
    version: Option<u64>,
    detail: serde_json::Value,
) -> Result<TransactWrite, EngineError> {
    let op = Operation {
        at: now_ms(),
        actor: actor.to_string(),
        action: action.to_string(),
        version,
        detail,
    };
    Ok(TransactWrite::Put {
        item: Item::new(
            layout::project_pk(project),
            layout::op_sk(op.at),
            1,
            encode("operation", &op)?,
        ),
        condition: Condition::Absent,
    })
}

impl Engine {
    /// Writes one log entry on its own (for operations that do not commit an index change).
    pub(crate) async fn log_op(
        &self,
        project: &str,
        actor: &str,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<(), EngineError> {
        self.meta
            .transact(vec![op_write(project, actor, action, None, detail)?])
            .await?;
        Ok(())
    }

    pub async fn operations(
        &self,
        principal: &snapkb_core::Principal,
        project: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<OperationPage, EngineError> {
        self.authorize(principal, project, snapkb_core::Scope::Admin)
            .await?;
        let page = self.list_page(project, "op#", after, limit).await?;
        let operations = page
            .items
            .iter()
            .filter_map(|i| serde_json::from_slice(&i.value).ok())
            .collect();
        Ok(OperationPage {
            operations,
            next: page.next_after,
        })
    }
}
