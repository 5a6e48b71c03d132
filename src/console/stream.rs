//! `GET /api/stream`: server-sent events, `overview` (the overview JSON, at every tick and
//! soon after each event) and `event` (each app event as the control socket's event stream
//! has it). One producer builds the overview for every watcher, and only while there is one:
//! the last watcher gone (a closed tab is noticed at the next write), it stops.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use super::server::Shared;
use super::views::{ask_state, assemble};
use crate::api::routes::ask;
use crate::api::{ApiRequest, AppList, ControllerInfo, Event};

/// The overview is built at least this often while somebody watches (and at most this often
/// plus once after each burst of events).
const MIN_TICK: Duration = Duration::from_secs(1);
/// Events this close together cause one rebuild.
const SETTLE: Duration = Duration::from_millis(150);
/// The apps are asked for again after an event, else this often: between two, only the host's
/// and the controller's figures are read anew (what `corral get` shows changes with events,
/// and the figures of apps without a memory limit are sampled every 5 intervals anyway).
const APPS_EVERY: Duration = Duration::from_secs(5);
/// Two overviews at least this far apart, however fast events come.
const MIN_GAP: Duration = Duration::from_millis(500);

/// The overview stream: its latest JSON (empty when none is fresh) and its producer.
pub(super) struct Hub {
    latest: watch::Sender<Arc<str>>,
    producer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            latest: watch::Sender::new(Arc::from("")),
            producer: Mutex::default(),
        }
    }
}

impl Hub {
    /// A receiver of the overview JSON; starts the producer if none runs.
    fn subscribe(shared: &Arc<Shared>) -> watch::Receiver<Arc<str>> {
        let hub = &shared.hub;
        let mut producer = hub.producer.lock().unwrap_or_else(|e| e.into_inner());
        let rx = hub.latest.subscribe();
        if producer.as_ref().is_none_or(|p| p.is_finished()) {
            *producer = Some(shared.tasks.spawn(produce(Arc::clone(shared))));
        }
        rx
    }

    /// Whether nobody watches; if so, the producer is forgotten (it is the caller and ends).
    fn abandoned(&self) -> bool {
        let mut producer = self.producer.lock().unwrap_or_else(|e| e.into_inner());
        if self.latest.receiver_count() > 0 {
            return false;
        }
        *producer = None;
        self.latest.send_replace(Arc::from(""));
        true
    }
}

/// Builds the overview at every tick and after events, while anybody watches.
async fn produce(shared: Arc<Shared>) {
    let tick_every = shared.ctx.sample_interval.max(MIN_TICK);
    let mut tick = tokio::time::interval(tick_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut events = ask(&shared.ctx.requests, |reply| ApiRequest::Events { reply })
        .await
        .ok()
        .map(|sub| sub.live);
    let mut state: Option<(Instant, AppList, ControllerInfo)> = None;
    let mut last_build = Instant::now() - MIN_GAP;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Some(()) = next_event(&mut events) => {
                tokio::time::sleep(SETTLE).await;
                state = None;
            }
            () = shared.shutdown.cancelled() => return,
        }
        if shared.hub.abandoned() {
            return;
        }
        tokio::time::sleep(MIN_GAP.saturating_sub(last_build.elapsed())).await;
        last_build = Instant::now();
        if state
            .as_ref()
            .is_none_or(|(at, _, _)| at.elapsed() >= APPS_EVERY)
        {
            match ask_state(&shared).await {
                Ok((list, info)) => state = Some((Instant::now(), list, info)),
                Err(f) => {
                    tracing::debug!("console: no overview: {}", f.1);
                    continue;
                }
            }
        }
        let Some((_, list, info)) = &state else {
            continue;
        };
        match assemble(&shared, list, info).await {
            Ok(overview) => match serde_json::to_string(&overview) {
                Ok(json) => {
                    shared.hub.latest.send_replace(Arc::from(json));
                }
                Err(e) => tracing::warn!("console: cannot encode the overview: {e}"),
            },
            Err(f) => tracing::debug!("console: no overview: {}", f.1),
        }
    }
}

/// The next event's arrival (its content does not matter here); `None` once the stream ended.
async fn next_event(events: &mut Option<tokio::sync::broadcast::Receiver<Event>>) -> Option<()> {
    let rx = events.as_mut()?;
    match rx.recv().await {
        Ok(_) | Err(RecvError::Lagged(_)) => {
            // Drain what else came at once.
            while rx.try_recv().is_ok() {}
            Some(())
        }
        Err(RecvError::Closed) => {
            *events = None;
            None
        }
    }
}

/// One piece of the stream.
enum Item {
    Overview(Arc<str>),
    Event(Event),
}

/// `GET /api/stream`.
pub(super) async fn stream(State(shared): State<Arc<Shared>>) -> Response {
    let sub = match ask(&shared.ctx.requests, |reply| ApiRequest::Events { reply }).await {
        Ok(sub) => sub,
        Err(f) => return f.into_response(),
    };
    let mut overviews = Hub::subscribe(&shared);
    // The latest overview, if one is fresh, goes out at once.
    overviews.mark_changed();
    let overviews = futures::stream::unfold(overviews, |mut rx| async move {
        loop {
            rx.changed().await.ok()?;
            let json = rx.borrow_and_update().clone();
            if !json.is_empty() {
                return Some((Item::Overview(json), rx));
            }
        }
    });
    let events = futures::stream::unfold(sub.live, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) => return Some((Item::Event(e), rx)),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    let stopped = shared.shutdown.clone().cancelled_owned();
    let items = futures::stream::select(overviews, events)
        .take_until(stopped)
        .map(|item| Ok::<_, Infallible>(sse(item)));
    sse_response(items)
}

fn sse(item: Item) -> SseEvent {
    match item {
        Item::Overview(json) => SseEvent::default().event("overview").data(&*json),
        Item::Event(e) => SseEvent::default()
            .event("event")
            .data(serde_json::to_string(&e).unwrap_or_default()),
    }
}

/// An SSE answer that is never cached, with a comment every 5 s so a closed page is noticed.
pub(super) fn sse_response(
    items: impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static,
) -> Response {
    let mut response = Sse::new(items)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(5)))
        .into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}
