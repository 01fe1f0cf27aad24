//! `snapkb eval`: retrieval quality of a project on judged questions. Each question names the
//! documents that answer it (and optionally passages a right chunk contains); every mode asked
//! for is queried over HTTP like any client would, and scored at document level (hits folded
//! to their documents in rank order) and, where passages are given, at chunk level.

use std::{collections::HashSet, path::Path, time::Instant};

use serde::{Deserialize, Serialize};
use snapkb_engine::{QueryMode, QueryRequest, QueryResponse};

use crate::{CliError, client::Client};

/// Ranks scored: MRR@10, Hit@k and nDCG@10 look at the first ten.
const CUTOFF: usize = 10;
/// Chunks fetched per question, so that ten distinct documents are usually among them.
const CHUNKS_FETCHED: usize = 100;

/// One judged question (a line of the questions file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Question {
    pub(crate) id: String,
    pub(crate) question: String,
    /// Ids of the documents that answer it.
    pub(crate) relevant: Vec<String>,
    /// Passages a right chunk contains (compared ignoring case and runs of white space); a
    /// chunk counts when it is in a relevant document and holds one of them. Chunk-level nDCG
    /// takes every such chunk among those fetched as the ideal.
    #[serde(default)]
    pub(crate) answers: Vec<String>,
}

/// Scores of one mode at one level, averaged over its questions.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Scores {
    pub(crate) questions: usize,
    pub(crate) mrr_at_10: f64,
    pub(crate) hit_at_1: f64,
    pub(crate) hit_at_5: f64,
    pub(crate) hit_at_10: f64,
    pub(crate) ndcg_at_10: f64,
}

/// What one mode scored.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ModeReport {
    pub(crate) mode: String,
    pub(crate) documents: Scores,
    /// Present when some questions give answer passages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) chunks: Option<Scores>,
    /// Median query time as the client saw it.
    pub(crate) p50_ms: f64,
    /// Questions whose relevant documents were not in the first ten.
    pub(crate) missed: Vec<String>,
}

/// Reads a questions file (JSON lines; blank lines and `//` comments skipped).
pub(crate) fn read_questions(path: &Path) -> Result<Vec<Question>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Io(format!("{}: {e}", path.display())))?;
    let mut questions = Vec::new();
    let mut seen = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let at = format!("{}:{}", path.display(), n + 1);
        let q: Question =
            serde_json::from_str(line).map_err(|e| CliError::Usage(format!("{at}: {e}")))?;
        if q.relevant.is_empty() {
            return Err(CliError::Usage(format!("{at}: `relevant` is empty")));
        }
        if !seen.insert(q.id.clone()) {
            return Err(CliError::Usage(format!("{at}: id `{}` repeats", q.id)));
        }
        questions.push(q);
    }
    if questions.is_empty() {
        return Err(CliError::Usage(format!(
            "{}: no questions in the file",
            path.display()
        )));
    }
    Ok(questions)
}

/// Asks every question in `mode` and scores the answers.
pub(crate) fn run_mode(
    client: &Client,
    project: &str,
    mode: QueryMode,
    questions: &[Question],
    extra: &serde_json::Map<String, serde_json::Value>,
) -> Result<ModeReport, CliError> {
    let mut documents = Vec::with_capacity(questions.len());
    let mut chunks = Vec::new();
    let mut times = Vec::with_capacity(questions.len());
    let mut missed = Vec::new();
    for q in questions {
        let mut request = serde_json::to_value(QueryRequest {
            text: Some(q.question.clone()),
            top_k: CHUNKS_FETCHED,
            mode: Some(mode),
            ..QueryRequest::default()
        })
        .map_err(|e| CliError::Io(e.to_string()))?;
        if let Some(fields) = request.as_object_mut() {
            fields.extend(extra.clone());
        }
        let started = Instant::now();
        let response: QueryResponse =
            client.post(&format!("/v1/projects/{project}/query"), &request)?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        let relevant: HashSet<&str> = q.relevant.iter().map(String::as_str).collect();
        let ranked = document_ranking(&response);
        let judged: Vec<bool> = ranked.iter().map(|d| relevant.contains(d)).collect();
        if !judged.iter().take(CUTOFF).any(|r| *r) {
            missed.push(q.id.clone());
        }
        documents.push(score(&judged, relevant.len()));
        if !q.answers.is_empty() {
            let answers: Vec<String> = q.answers.iter().map(|a| normalized(a)).collect();
            let judged: Vec<bool> = response
                .results
                .iter()
                .map(|h| {
                    let text = normalized(&h.text);
                    relevant.contains(h.document_id.as_str())
                        && answers.iter().any(|a| text.contains(a.as_str()))
                })
                .collect();
            // Several chunks may hold a passage: the ideal ranks every one found first.
            let found = judged.iter().filter(|r| **r).count();
            chunks.push(score(&judged, found.max(1)));
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(ModeReport {
        mode: mode_name(mode).into(),
        documents: mean(&documents),
        chunks: (!chunks.is_empty()).then(|| mean(&chunks)),
        p50_ms: times.get(times.len() / 2).copied().unwrap_or_default(),
        missed,
    })
}

pub(crate) fn mode_name(mode: QueryMode) -> &'static str {
    match mode {
        QueryMode::Vector => "vector",
        QueryMode::Keyword => "keyword",
        QueryMode::Hybrid => "hybrid",
    }
}

/// Documents in the order of their best chunk.
fn document_ranking(response: &QueryResponse) -> Vec<&str> {
    let mut seen = HashSet::new();
    response
        .results
        .iter()
        .map(|h| h.document_id.as_str())
        .filter(|d| seen.insert(*d))
        .collect()
}

/// Lower case with runs of white space made one space, for passage matching.
fn normalized(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// One question's scores from its ranking judged relevant or not, and how many relevant items
/// it has (binary nDCG: the ideal ranks them all first).
fn score(judged: &[bool], relevant: usize) -> Scores {
    let top = &judged[..judged.len().min(CUTOFF)];
    let first = top.iter().position(|r| *r);
    let hit = |k: usize| f64::from(u8::from(first.is_some_and(|p| p < k)));
    let gain = |rank: usize| 1.0 / ((rank + 2) as f64).log2();
    let dcg: f64 = top
        .iter()
        .enumerate()
        .filter(|(_, r)| **r)
        .map(|(i, _)| gain(i))
        .sum();
    let ideal: f64 = (0..relevant.min(CUTOFF)).map(gain).sum();
    Scores {
        questions: 1,
        mrr_at_10: first.map_or(0.0, |p| 1.0 / (p + 1) as f64),
        hit_at_1: hit(1),
        hit_at_5: hit(5),
        hit_at_10: hit(10),
        ndcg_at_10: if ideal > 0.0 { dcg / ideal } else { 0.0 },
    }
}

fn mean(all: &[Scores]) -> Scores {
    let n = all.len().max(1) as f64;
    let avg = |f: fn(&Scores) -> f64| all.iter().map(f).sum::<f64>() / n;
    Scores {
        questions: all.len(),
        mrr_at_10: avg(|s| s.mrr_at_10),
        hit_at_1: avg(|s| s.hit_at_1),
        hit_at_5: avg(|s| s.hit_at_5),
        hit_at_10: avg(|s| s.hit_at_10),
        ndcg_at_10: avg(|s| s.ndcg_at_10),
    }
}

/// The reports as a markdown table.
pub(crate) fn table(reports: &[ModeReport]) -> String {
    let mut out = String::from(
        "| mode | level | questions | MRR@10 | Hit@1 | Hit@5 | Hit@10 | nDCG@10 | p50 ms |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in reports {
        let levels = std::iter::once(("document", &r.documents))
            .chain(r.chunks.as_ref().map(|c| ("chunk", c)));
        for (level, s) in levels {
            out.push_str(&format!(
                "| {} | {level} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.1} |\n",
                r.mode,
                s.questions,
                s.mrr_at_10,
                s.hit_at_1,
                s.hit_at_5,
                s.hit_at_10,
                s.ndcg_at_10,
                r.p50_ms
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_place_hit_scores_one_and_a_third_place_hit_a_third() {
        let first = score(&[true, false, false], 1);
        assert_eq!(first.mrr_at_10, 1.0);
        assert_eq!(first.ndcg_at_10, 1.0);
        let third = score(&[false, false, true], 1);
        assert!((third.mrr_at_10 - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!((third.hit_at_1, third.hit_at_5), (0.0, 1.0));
        assert!((third.ndcg_at_10 - 0.5).abs() < 1e-12, "1 / log2(4)");
    }

    #[test]
    fn a_hit_past_the_tenth_rank_counts_for_nothing() {
        let mut judged = vec![false; 10];
        judged.push(true);
        let s = score(&judged, 1);
        assert_eq!((s.mrr_at_10, s.hit_at_10, s.ndcg_at_10), (0.0, 0.0, 0.0));
    }

    #[test]
    fn ndcg_compares_with_every_relevant_document_ranked_first() {
        // Two relevant documents, one found at rank 1: DCG 1, ideal 1 + 1/log2(3).
        let s = score(&[true, false, false], 2);
        let ideal = 1.0 + 1.0 / 3f64.log2();
        assert!((s.ndcg_at_10 - 1.0 / ideal).abs() < 1e-12);
    }

    #[test]
    fn means_average_every_question() {
        let m = mean(&[score(&[true], 1), score(&[false], 1)]);
        assert_eq!(m.questions, 2);
        assert_eq!(m.mrr_at_10, 0.5);
        assert_eq!(m.hit_at_1, 0.5);
    }

    #[test]
    fn passages_match_ignoring_case_and_white_space() {
        assert!(normalized("The  VACUUM\ncommand").contains(&normalized("vacuum command")));
    }

    #[test]
    fn questions_files_refuse_repeats_and_empty_judgments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.jsonl");
        std::fs::write(
            &path,
            "// a comment\n{\"id\":\"a\",\"question\":\"x?\",\"relevant\":[\"d\"]}\n\n",
        )
        .unwrap();
        assert_eq!(read_questions(&path).unwrap().len(), 1);
        std::fs::write(
            &path,
            "{\"id\":\"a\",\"question\":\"x?\",\"relevant\":[]}\n",
        )
        .unwrap();
        assert!(read_questions(&path).is_err());
        std::fs::write(
            &path,
            "{\"id\":\"a\",\"question\":\"x?\",\"relevant\":[\"d\"]}\n\
             {\"id\":\"a\",\"question\":\"y?\",\"relevant\":[\"d\"]}\n",
        )
        .unwrap();
        assert!(read_questions(&path).is_err());
    }
}
