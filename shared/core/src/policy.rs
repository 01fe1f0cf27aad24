//! Quotas and fixed-window rate limits: the arithmetic every backend shares, so a limit means
//! the same thing on one machine and on Lambda.

use crate::Quotas;

/// A quota a write would pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaExceeded {
    /// `quotas.max_documents`, `quotas.max_chunks` or `quotas.max_bytes`.
    pub field: &'static str,
    pub limit: u64,
    pub requested: u64,
}

/// Checks the counts a commit would leave behind.
pub fn check_quotas(
    quotas: &Quotas,
    documents: u64,
    chunks: u64,
    bytes: u64,
) -> Result<(), QuotaExceeded> {
    for (field, limit, requested) in [
        ("quotas.max_documents", quotas.max_documents, documents),
        ("quotas.max_chunks", quotas.max_chunks, chunks),
        ("quotas.max_bytes", quotas.max_bytes, bytes),
    ] {
        if requested > limit {
            return Err(QuotaExceeded {
                field,
                limit,
                requested,
            });
        }
    }
    Ok(())
}

/// The fixed window a moment falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    /// Window start, Unix seconds (part of the counter's key).
    pub start: u64,
    /// Seconds until the next window.
    pub reset_after: u64,
}

impl RateWindow {
    pub fn at(now_ms: u64, window_seconds: u32) -> Self {
        let window = u64::from(window_seconds.max(1));
        let now = now_ms / 1000;
        let start = now - now % window;
        Self {
            start,
            reset_after: (start + window - now).max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_name_the_first_limit_passed() {
        let q = Quotas {
            max_documents: 10,
            max_chunks: 100,
            max_bytes: 1000,
        };
        assert!(check_quotas(&q, 10, 100, 1000).is_ok());
        let e = check_quotas(&q, 10, 101, 2000).unwrap_err();
        assert_eq!(e.field, "quotas.max_chunks");
        assert_eq!((e.limit, e.requested), (100, 101));
    }

    #[test]
    fn windows_align_to_their_length() {
        let w = RateWindow::at(125_500, 60);
        assert_eq!(w.start, 120);
        assert_eq!(w.reset_after, 55);
        assert_eq!(RateWindow::at(120_000, 60).reset_after, 60);
    }
}
