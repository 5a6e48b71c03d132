//! Doors for the fuzz harness (`fuzz/`) into crate-private code: not an API, may change any time.

use tokio::sync::mpsc;

use crate::api::ApiRequest;

/// The control API's axum router; each request goes to `requests` (the controller loop's end).
pub fn api_router(requests: mpsc::Sender<ApiRequest>) -> axum::Router {
    crate::api::routes::router(requests)
}

/// The log capture's line splitter (`logs/line.rs`), as the capture task uses it.
#[derive(Debug)]
pub struct LineSplitter(crate::logs::LineSplitter);

impl LineSplitter {
    /// A splitter cutting lines longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Self(crate::logs::LineSplitter::new(max))
    }

    /// Feeds a chunk; `emit` gets each complete line (without `\n` or a trailing `\r`).
    pub fn push(&mut self, chunk: &[u8], emit: &mut impl FnMut(&[u8])) {
        self.0.push(chunk, emit);
    }

    /// Emits the partial last line, if any (at EOF).
    pub fn finish(&mut self, emit: &mut impl FnMut(&[u8])) {
        self.0.finish(emit);
    }
}

/// Appends one log file line: `STAMP message\n` (or `message\n`), invalid UTF-8 replaced.
pub fn format_line(out: &mut Vec<u8>, stamp: Option<&str>, line: &[u8]) {
    crate::logs::format_line(out, stamp, line);
}
