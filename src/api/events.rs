//! `GET /v1/events[?app=NAME][&since=SEQ][&watch=true]`: the controller's events as a JSON
//! array, or with `watch=true` as a stream of JSON lines (`application/x-ndjson`): the events
//! kept so far, then each new one as it happens, until the controller stops.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast::{self, error::RecvError};

use super::routes::{ask, Failure, Requests};
use super::{ApiRequest, Event};

/// What a watcher gets from the controller loop: the events kept so far and the later ones,
/// taken together so that none is lost or repeated between the two.
#[derive(Debug)]
pub struct EventSubscription {
    /// The retained events (every app), oldest first.
    pub backlog: Vec<Event>,
    /// Every event published after the backlog was taken.
    pub live: broadcast::Receiver<Event>,
}

/// The query of `GET /v1/events`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventQuery {
    /// Only this app's events.
    app: Option<String>,
    /// Only events after this sequence number (to resume a watch).
    #[serde(default)]
    since: u64,
    /// Keep the response open and stream new events as JSON lines.
    #[serde(default)]
    watch: bool,
}

impl EventQuery {
    fn wants(&self, e: &Event) -> bool {
        e.seq > self.since && self.app.as_ref().is_none_or(|a| e.app.as_ref() == Some(a))
    }
}

/// `GET /v1/events`: one request to the controller loop to subscribe, then the stream runs on
/// its own (the loop never waits for a watcher).
pub(crate) async fn events(
    State(tx): Requests,
    query: Result<Query<EventQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => {
            let msg = format!("{e}; /v1/events takes app=NAME, since=SEQ and watch=true|false");
            return Failure(StatusCode::BAD_REQUEST, msg).into_response();
        }
    };
    let sub = match ask(&tx, |reply| ApiRequest::Events { reply }).await {
        Ok(sub) => sub,
        Err(f) => return f.into_response(),
    };
    if !query.watch {
        let kept: Vec<Event> = sub.backlog.into_iter().filter(|e| query.wants(e)).collect();
        return Json(kept).into_response();
    }
    let body = Body::from_stream(lines(sub, query));
    ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response()
}

/// The watch stream: the wanted backlog, then live events; a watcher that fell behind gets an
/// `EventsMissed` line saying how many it lost, and goes on. Ends when the controller drops
/// its sender (shutdown).
fn lines(
    sub: EventSubscription,
    query: EventQuery,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let backlog: Vec<Event> = sub.backlog.into_iter().filter(|e| query.wants(e)).collect();
    let kept = futures::stream::iter(backlog).map(|e| Ok(line(&e)));
    let live = futures::stream::unfold((sub.live, query), |(mut rx, query)| async move {
        loop {
            match rx.recv().await {
                Ok(e) if query.wants(&e) => return Some((Ok(line(&e)), (rx, query))),
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => return Some((Ok(line(&missed(n))), (rx, query))),
                Err(RecvError::Closed) => return None,
            }
        }
    });
    kept.chain(live)
}

/// One event as a JSON line.
fn line(e: &Event) -> Bytes {
    let mut out = serde_json::to_vec(e).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

/// The line a watcher gets in place of `n` events it read too slowly to receive.
fn missed(n: u64) -> Event {
    Event {
        at_ms: crate::supervisor::unix_ms(std::time::SystemTime::now()),
        kind: "Warning".into(),
        reason: "EventsMissed".into(),
        message: format!(
            "{n} event(s) missed: this watcher read more slowly than they came; \
             `corral events` lists the last ones kept"
        ),
        ..Event::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, app: &str) -> Event {
        Event {
            seq,
            app: Some(app.into()),
            reason: "Started".into(),
            ..Event::default()
        }
    }

    async fn collect(sub: EventSubscription, query: EventQuery) -> Vec<Event> {
        lines(sub, query)
            .map(|l| serde_json::from_slice::<Event>(&l.unwrap_or_default()).expect("json"))
            .collect()
            .await
    }

    #[tokio::test]
    async fn streams_the_wanted_backlog_then_live_events_until_the_sender_goes() {
        let (tx, live) = broadcast::channel(8);
        let sub = EventSubscription {
            backlog: vec![event(1, "web"), event(2, "api"), event(3, "web")],
            live,
        };
        tx.send(event(4, "api")).expect("send");
        tx.send(event(5, "web")).expect("send");
        drop(tx);
        let query = EventQuery {
            app: Some("web".into()),
            since: 1,
            watch: true,
        };
        let seqs: Vec<u64> = collect(sub, query).await.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![3, 5]);
    }

    #[tokio::test]
    async fn a_lagging_watcher_gets_one_line_saying_how_many_it_missed() {
        let (tx, live) = broadcast::channel(4);
        for seq in 1..=10 {
            tx.send(event(seq, "web")).expect("send");
        }
        drop(tx);
        let sub = EventSubscription {
            backlog: Vec::new(),
            live,
        };
        let got = collect(sub, EventQuery::default()).await;
        assert_eq!(got[0].reason, "EventsMissed");
        assert!(got[0].message.starts_with("6 event(s) missed"), "{got:?}");
        let seqs: Vec<u64> = got[1..].iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![7, 8, 9, 10]);
    }
}
