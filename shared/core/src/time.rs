//! Wall-clock time in Unix milliseconds, the one clock every record and window uses.

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    // `web_time` is std's clock on servers and the JS clock on wasm32-unknown-unknown, where
    // std's would panic.
    web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
