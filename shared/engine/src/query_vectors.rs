//! Per-process LRU of query-text embeddings: a question asked again of the same project is
//! not embedded again (the model is most of a text query's time).

use std::{num::NonZeroUsize, sync::Mutex};

use lru::LruCache;

/// Entries kept: at 384 dimensions and [`MAX_CACHED_QUERY_BYTES`] of text, at most about 10 MiB.
pub(crate) const QUERY_VECTOR_ENTRIES: usize = 4096;
/// Longer query texts are embedded every time: they are rarely asked twice, and the cache's
/// memory stays bounded whoever sends them.
pub(crate) const MAX_CACHED_QUERY_BYTES: usize = 1024;

/// Which project (and incarnation of its id) asked, with which model, what text.
type Key = (String, String, String, String);

/// Vectors by project, model and text. Keyed by the project and its generation too, so no
/// tenant can learn from a query's speed what another tenant (or a deleted project of the
/// same id, on any instance) asked.
#[derive(Debug)]
pub(crate) struct QueryVectors {
    cache: Mutex<LruCache<Key, Vec<f32>>>,
}

/// Who asks: a project id and its generation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asker<'a> {
    pub(crate) project: &'a str,
    pub(crate) generation: &'a str,
}

impl Default for QueryVectors {
    fn default() -> Self {
        Self::with_capacity(QUERY_VECTOR_ENTRIES)
    }
}

impl QueryVectors {
    pub(crate) fn with_capacity(entries: usize) -> Self {
        Self {
            cache: Mutex::new(LruCache::new(
                NonZeroUsize::new(entries).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    fn key(asker: Asker<'_>, model: &str, text: &str) -> Option<Key> {
        (text.len() <= MAX_CACHED_QUERY_BYTES).then(|| {
            (
                asker.project.to_string(),
                asker.generation.to_string(),
                model.to_string(),
                text.to_string(),
            )
        })
    }

    /// The vector embedded for this text before, if it is still kept.
    pub(crate) fn get(&self, asker: Asker<'_>, model: &str, text: &str) -> Option<Vec<f32>> {
        let key = Self::key(asker, model, text)?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(&key).cloned()
    }

    pub(crate) fn put(&self, asker: Asker<'_>, model: &str, text: &str, vector: &[f32]) {
        if let Some(key) = Self::key(asker, model, text) {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.put(key, vector.to_vec());
        }
    }

    /// Forgets a project's entries (it was deleted: a project created again under its id
    /// starts with nothing of the old one's).
    pub(crate) fn forget_project(&self, project: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let keys: Vec<_> = cache
            .iter()
            .filter(|((p, _, _, _), _)| p == project)
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            cache.pop(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use snapkb_core::Principal;

    use super::*;
    use crate::{
        QueryRequest,
        testing::{engine_with_embedder, project},
    };

    #[tokio::test]
    async fn a_question_asked_again_is_not_embedded_again_but_another_projects_is() {
        let (engine, embedder) = engine_with_embedder();
        project(&engine, "p", true).await;
        project(&engine, "q", true).await;
        let ask = |project: &'static str, text: &'static str| {
            let engine = &engine;
            async move {
                let request = QueryRequest {
                    text: Some(text.into()),
                    ..Default::default()
                };
                engine
                    .query(&Principal::DeploymentAdmin, project, request)
                    .await
                    .unwrap()
            }
        };
        let embedded = || embedder.texts.load(Ordering::SeqCst);
        let before = embedded();
        let first = ask("p", "how much holiday").await;
        assert_eq!(embedded() - before, 1);
        let again = ask("p", "how much holiday").await;
        assert_eq!(
            embedded() - before,
            1,
            "the second time came from the cache"
        );
        assert_eq!(first, again);
        ask("q", "how much holiday").await;
        assert_eq!(embedded() - before, 2, "another project embeds its own");
        ask("p", "parental leave").await;
        assert_eq!(embedded() - before, 3);
    }

    #[test]
    fn vectors_are_kept_per_project_and_model_and_the_oldest_go_first() {
        let p = Asker {
            project: "p",
            generation: "g1",
        };
        let cache = QueryVectors::with_capacity(2);
        cache.put(p, "m", "a", &[1.0]);
        cache.put(p, "m", "b", &[2.0]);
        assert_eq!(cache.get(p, "m", "a"), Some(vec![1.0]));
        let q = Asker { project: "q", ..p };
        let p_again = Asker {
            generation: "g2",
            ..p
        };
        assert_eq!(cache.get(q, "m", "a"), None);
        assert_eq!(cache.get(p_again, "m", "a"), None);
        assert_eq!(cache.get(p, "other", "a"), None);
        // `b` is now the least recently used.
        cache.put(p, "m", "c", &[3.0]);
        assert_eq!(cache.get(p, "m", "b"), None);
        assert_eq!(cache.get(p, "m", "c"), Some(vec![3.0]));
        cache.forget_project("p");
        assert_eq!(cache.get(p, "m", "a"), None);
    }

    #[test]
    fn long_texts_are_not_kept() {
        let p = Asker {
            project: "p",
            generation: "g",
        };
        let cache = QueryVectors::default();
        let long = "x".repeat(MAX_CACHED_QUERY_BYTES + 1);
        cache.put(p, "m", &long, &[1.0]);
        assert_eq!(cache.get(p, "m", &long), None);
    }
}
