//! What the engine's integration tests share: caller-vector projects on the in-memory stores.

use snapkb_core::{EmbeddingConfig, Principal};
use snapkb_engine::{CreateProject, Engine};

pub(crate) const DIMS: usize = 8;

pub(crate) fn vector(seed: u64) -> Vec<f32> {
    snapkb_index::synthetic::seeded_vector(seed, DIMS)
}

/// The request for a project of `DIMS`-dimensional caller vectors; other settings default.
pub(crate) fn caller_project(id: &str) -> CreateProject {
    CreateProject {
        id: id.into(),
        embedding: Some(EmbeddingConfig {
            model: None,
            dims: DIMS as u32,
            metric: snapkb_core::Metric::Cosine,
        }),
        ..Default::default()
    }
}

/// A project of `DIMS`-dimensional caller vectors, created by the deployment admin.
pub(crate) async fn project(engine: &Engine, id: &str) {
    engine
        .create_project(&Principal::DeploymentAdmin, caller_project(id))
        .await
        .unwrap();
}
