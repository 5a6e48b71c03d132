//! `GET /api/apps/{name}/logs?tail=N`: server-sent `line` events, `{"time", "instance",
//! "stream", "line"}`, read by the code `corral logs -f` runs (`logs::follow_lines`) on a
//! thread of its own while the page listens; a closed page stops it at its next poll.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::sse::Event as SseEvent;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::server::Shared;
use crate::api::routes::Failure;
use crate::logs::{Entry, LineSink, LogsError, Query as LogQuery, Source, Stream, Tail};

/// At most this many log streams at once (each holds a thread while open).
const MAX_STREAMS: usize = 8;
/// Lines shown first when the page does not say.
const DEFAULT_TAIL: usize = 100;
/// At most this many lines first.
const MAX_TAIL: usize = 5000;
/// How often the files are looked at for new lines (as `corral logs -f`).
const POLL: Duration = Duration::from_millis(150);

/// The query of the logs route.
#[derive(Debug, Deserialize)]
pub(super) struct LogsQuery {
    tail: Option<usize>,
}

/// One line, as the page gets it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    /// The capture time (RFC 3339), when the line has one.
    time: Option<String>,
    /// The instance index; none for a merged file or a hook's.
    instance: Option<u32>,
    /// The hook whose output it is (`preRollout`), if a hook's.
    #[serde(skip_serializing_if = "Option::is_none")]
    hook: Option<&'static str>,
    /// `out` or `err`.
    stream: &'static str,
    /// The text.
    line: String,
}

/// Sends each line to the page; a page gone reads as a closed output.
struct Sink {
    tx: mpsc::Sender<Line>,
}

impl LineSink for Sink {
    fn line(&mut self, source: &Source, entry: &Entry) -> Result<(), LogsError> {
        let stamp = entry.line[..entry.message_at].trim_end();
        let line = Line {
            time: (!stamp.is_empty()).then(|| stamp.to_owned()),
            instance: source.index,
            hook: source.hook,
            stream: match source.stream {
                Stream::Out => "out",
                Stream::Err => "err",
            },
            line: entry.line[entry.message_at..].to_owned(),
        };
        self.tx
            .blocking_send(line)
            .map_err(|_| LogsError::Output(std::io::Error::from(std::io::ErrorKind::BrokenPipe)))
    }
}

/// Ends the follower and frees its slot when the page's stream is dropped.
struct Open {
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.shared.log_streams.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `GET /api/apps/{name}/logs?tail=N`.
pub(super) async fn logs(
    State(shared): State<Arc<Shared>>,
    UrlPath(name): UrlPath<String>,
    query: Result<Query<LogsQuery>, QueryRejection>,
) -> Response {
    let tail = match query {
        Ok(Query(q)) => q.tail.unwrap_or(DEFAULT_TAIL).min(MAX_TAIL),
        Err(e) => {
            let why = format!("{e}: the logs route takes tail=N");
            return Failure(StatusCode::BAD_REQUEST, why).into_response();
        }
    };
    if let Err(e) = crate::logs::app_dir(&shared.ctx.home, &name) {
        return Failure(StatusCode::NOT_FOUND, e.to_string()).into_response();
    }
    if shared.log_streams.fetch_add(1, Ordering::Relaxed) >= MAX_STREAMS {
        shared.log_streams.fetch_sub(1, Ordering::Relaxed);
        let why = format!("{MAX_STREAMS} log streams are open already: close one and try again");
        return Failure(StatusCode::SERVICE_UNAVAILABLE, why).into_response();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let open = Open {
        stop: Arc::clone(&stop),
        shared: Arc::clone(&shared),
    };
    let (tx, rx) = mpsc::channel(256);
    let home = shared.ctx.home.clone();
    let query = LogQuery {
        tail: Tail::Last(tail),
        instance: None,
        stream: None,
        since: None,
        timestamps: true,
    };
    let follower = std::thread::Builder::new()
        .name("console-logs".into())
        .spawn(move || {
            let mut sink = Sink { tx };
            if let Err(e) = crate::logs::follow_lines(&home, &name, &query, &mut sink, &stop, POLL)
            {
                tracing::debug!("console: following the logs of {name} ended: {e}");
            }
        });
    if let Err(e) = follower {
        let why = format!("cannot start a thread to follow the logs: {e}");
        return Failure(StatusCode::SERVICE_UNAVAILABLE, why).into_response();
    }
    let stopped = shared.shutdown.clone().cancelled_owned();
    let lines = futures::stream::unfold((rx, open), |(mut rx, open)| async move {
        let line = rx.recv().await?;
        let data = serde_json::to_string(&line).unwrap_or_default();
        Some((
            Ok::<_, Infallible>(SseEvent::default().event("line").data(data)),
            (rx, open),
        ))
    })
    .take_until(stopped);
    super::stream::sse_response(lines)
}
