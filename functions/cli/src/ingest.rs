//! `snapkb ingest`: walks files and folders (respecting .gitignore, .ignore and .snapkbignore,
//! plus `--exclude` globs), sends text, markdown and HTML files in batches, and shows progress.
//! Re-running is cheap: the server skips documents whose content did not change.

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use ignore::{WalkBuilder, overrides::OverrideBuilder};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use snapkb_embed::TextFormat;
use snapkb_engine::{DocumentInput, DocumentStatus, IngestRequest, IngestResponse};

use crate::{CliError, client::Client};

/// Requests carry at most this many documents or bytes.
const BATCH_DOCUMENTS: usize = 64;
const BATCH_BYTES: usize = 4 << 20;

fn format_of(path: &Path) -> Option<TextFormat> {
    TextFormat::from_extension(path.extension()?.to_str()?)
}

/// Files to send, with their document ids (paths relative to the argument they came from).
pub(crate) fn collect(
    paths: &[PathBuf],
    excludes: &[String],
) -> Result<(Vec<(PathBuf, String)>, usize), CliError> {
    let mut files = Vec::new();
    let mut skipped = 0;
    for root in paths {
        if root.is_file() {
            let id = root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match format_of(root) {
                Some(_) => files.push((root.clone(), id)),
                None => skipped += 1,
            }
            continue;
        }
        if !root.is_dir() {
            return Err(CliError::Usage(format!(
                "{} is neither a file nor a folder",
                root.display()
            )));
        }
        let mut overrides = OverrideBuilder::new(root);
        for glob in excludes {
            overrides
                .add(&format!("!{glob}"))
                .map_err(|e| CliError::Usage(format!("--exclude {glob}: {e}")))?;
        }
        let walker = WalkBuilder::new(root)
            .require_git(false)
            .add_custom_ignore_filename(".snapkbignore")
            .overrides(
                overrides
                    .build()
                    .map_err(|e| CliError::Usage(e.to_string()))?,
            )
            .sort_by_file_path(|a, b| a.cmp(b))
            .build();
        for entry in walker {
            let entry = entry.map_err(|e| CliError::Io(e.to_string()))?;
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let path = entry.path();
            if format_of(path).is_none() {
                skipped += 1;
                continue;
            }
            let rel = path.strip_prefix(root).unwrap_or(path);
            let id = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().replace('#', "%23"))
                .collect::<Vec<_>>()
                .join("/");
            files.push((path.to_path_buf(), id));
        }
    }
    Ok((files, skipped))
}

/// Counts of what the server did.
#[derive(Debug, Default, serde::Serialize)]
pub(crate) struct IngestSummary {
    pub(crate) created: u64,
    pub(crate) updated: u64,
    pub(crate) unchanged: u64,
    pub(crate) skipped: usize,
    /// Chunks the server embedded, and chunks whose stored vectors it reused.
    pub(crate) embedded: u64,
    pub(crate) reused: u64,
    pub(crate) version: u64,
    /// Wall-clock seconds the ingest took.
    pub(crate) seconds: f64,
}

pub(crate) fn run(
    client: &Client,
    project: &str,
    paths: &[PathBuf],
    excludes: &[String],
    quiet: bool,
) -> Result<IngestSummary, CliError> {
    let (files, skipped) = collect(paths, excludes)?;
    // Progress is in bytes, which track the server's work (chunks to embed) far better than a
    // file count does when file sizes differ, so the ETA holds.
    let total_bytes: u64 = files
        .iter()
        .map(|(path, _)| std::fs::metadata(path).map_or(0, |m| m.len()))
        .sum();
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total_bytes)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {percent:>3}% {binary_bytes}/{binary_total_bytes}  ETA {eta}  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let files_total = files.len();
    let mut files_sent = 0usize;
    let started = Instant::now();
    let mut summary = IngestSummary {
        skipped,
        ..Default::default()
    };
    let mut batch: Vec<DocumentInput> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut send = |batch: &mut Vec<DocumentInput>,
                    batch_bytes: usize,
                    summary: &mut IngestSummary|
     -> Result<(), CliError> {
        if batch.is_empty() {
            return Ok(());
        }
        files_sent += batch.len();
        let request = IngestRequest {
            documents: std::mem::take(batch),
        };
        let response: IngestResponse =
            client.post(&format!("/v1/projects/{project}/documents"), &request)?;
        for doc in &response.documents {
            match doc.status {
                DocumentStatus::Created => summary.created += 1,
                DocumentStatus::Updated => summary.updated += 1,
                DocumentStatus::Unchanged | DocumentStatus::Deleted => summary.unchanged += 1,
            }
        }
        summary.version = response.version;
        summary.embedded += response.embedded as u64;
        summary.reused += response.reused as u64;
        bar.inc(batch_bytes as u64);
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!(
                "{files_sent}/{files_total} files, {} chunks embedded ({:.1}/s), {} reused; {} new, {} updated, {} unchanged",
                summary.embedded,
                summary.embedded as f64 / secs,
                summary.reused,
                summary.created,
                summary.updated,
                summary.unchanged
            ));
        Ok(())
    };
    for (path, id) in files {
        let bytes =
            std::fs::read(&path).map_err(|e| CliError::Io(format!("{}: {e}", path.display())))?;
        let file_bytes = bytes.len() as u64;
        let Ok(text) = String::from_utf8(bytes) else {
            bar.println(format!("skipped {} (not UTF-8)", path.display()));
            bar.inc(file_bytes);
            summary.skipped += 1;
            continue;
        };
        if text.trim().is_empty() {
            bar.inc(file_bytes);
            summary.skipped += 1;
            continue;
        }
        let format = format_of(&path).unwrap_or(TextFormat::Plain);
        batch_bytes += text.len();
        let metadata = json!({ "path": id, "format": format });
        batch.push(DocumentInput {
            metadata: metadata.as_object().cloned().unwrap_or_default(),
            id,
            text: Some(text),
            format: Some(format),
            ..Default::default()
        });
        if batch.len() >= BATCH_DOCUMENTS || batch_bytes >= BATCH_BYTES {
            send(&mut batch, batch_bytes, &mut summary)?;
            batch_bytes = 0;
        }
    }
    send(&mut batch, batch_bytes, &mut summary)?;
    bar.finish_and_clear();
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}
