//! `mode: http` with a canary route: requests split by revision at the exact weight (also on
//! one keep-alive connection), the canary header, and the per-revision counters the canary's
//! analysis reads, against real backends over real sockets.

use crate::net_common;

use corral::manifest::ListenMode;
use corral::net::{free_port, AppListeners, CanaryRoute, RevisionWindow};
use net_common::*;

/// The route to revision `canary` at `weight`, with the header `X-Corral-Canary: always`.
fn route(weight: u8) -> Option<CanaryRoute> {
    Some(CanaryRoute {
        revision: "canary".into(),
        weight,
        header: Some(("X-Corral-Canary".into(), "always".into())),
    })
}

/// `revision`'s window between two `revision_stats` reads.
fn window(
    listeners: &AppListeners,
    before: &std::collections::BTreeMap<String, corral::net::RevisionSnapshot>,
    revision: &str,
) -> RevisionWindow {
    let now = listeners.revision_stats();
    let now = now.get(revision).cloned().unwrap_or_default();
    now.since(&before.get(revision).cloned().unwrap_or_default())
}

#[tokio::test]
async fn weight_10_sends_exactly_100_of_1000_keep_alive_requests_to_the_canary() {
    let (listeners, addr) = bind_one(ListenMode::Http, quick()).await;
    let stable = [HttpBackend::start(1).await, HttpBackend::start(2).await];
    let canary = [HttpBackend::start(11).await, HttpBackend::start(12).await];
    let mut backends: Vec<_> = stable
        .iter()
        .map(|b| backend_of(b.id, b.port, "stable"))
        .collect();
    backends.extend(canary.iter().map(|b| backend_of(b.id, b.port, "canary")));
    listeners.set_backends(backends);
    listeners.set_canary(route(10));
    let before = listeners.revision_stats();
    let mut client = KeepAlive::open(addr).await;
    let mut ids = Vec::new();
    for _ in 0..1000 {
        let answer = client.send("GET").await.expect("request");
        assert_eq!(answer.status, 200);
        ids.push(answer.body.parse::<u64>().expect("an id"));
    }
    for hundred in ids.chunks(100) {
        let to_canary = hundred.iter().filter(|&&id| id > 10).count();
        assert_eq!(to_canary, 10, "every 100 requests: {hundred:?}");
    }
    let count = |id| ids.iter().filter(|&&i| i == id).count();
    assert_eq!([count(11), count(12)], [50, 50], "spread within the canary");
    assert_eq!([count(1), count(2)], [450, 450], "and within stable");
    let (c, s) = (
        window(&listeners, &before, "canary"),
        window(&listeners, &before, "stable"),
    );
    assert_eq!((c.requests, c.errors), (100, 0));
    assert_eq!((s.requests, s.errors), (900, 0));
    assert!(c.percentile(95.0).is_some() && s.percentile(50.0).is_some());
    assert_eq!(
        listeners.stats().connections,
        1,
        "one keep-alive connection"
    );
    // Promoted or aborted: no route, every request over every backend as before.
    listeners.set_canary(None);
    let mut after = Vec::new();
    for _ in 0..40 {
        after.push(client.send("GET").await.expect("request").body);
    }
    for id in ["1", "2", "11", "12"] {
        assert_eq!(after.iter().filter(|b| *b == id).count(), 10, "{after:?}");
    }
    drop(client);
    listeners.shutdown().await;
}

#[tokio::test]
async fn the_canary_header_sends_a_request_to_the_canary_at_weight_0() {
    let (listeners, addr) = bind_one(ListenMode::Http, quick()).await;
    let (stable, canary) = (HttpBackend::start(1).await, HttpBackend::start(2).await);
    listeners.set_backends(vec![
        backend_of(1, stable.port, "stable"),
        backend_of(2, canary.port, "canary"),
    ]);
    listeners.set_canary(route(0));
    let mut client = KeepAlive::open(addr).await;
    for _ in 0..5 {
        let tester = client.send_header("x-corral-canary", "always").await;
        assert_eq!(tester.expect("tester's request").body, "2");
        let user = client.send("GET").await.expect("user's request");
        assert_eq!(user.body, "1");
        let other = client.send_header("x-corral-canary", "sometimes").await;
        assert_eq!(other.expect("another value").body, "1");
    }
    assert_eq!(canary.requests.load(std::sync::atomic::Ordering::SeqCst), 5);
    drop(client);
    listeners.shutdown().await;
}

#[tokio::test]
async fn revision_windows_count_5xx_and_failed_connections_of_the_canary() {
    let (listeners, addr) = bind_one(ListenMode::Http, quick()).await;
    let stable = HttpBackend::start(1).await;
    let failing = HttpBackend::answering(2, 500).await;
    listeners.set_backends(vec![
        backend_of(1, stable.port, "stable"),
        backend_of(2, failing.port, "canary"),
    ]);
    listeners.set_canary(route(50));
    let before = listeners.revision_stats();
    let mut client = KeepAlive::open(addr).await;
    let mut statuses = Vec::new();
    for _ in 0..100 {
        statuses.push(client.send("GET").await.expect("request").status);
    }
    assert_eq!(statuses.iter().filter(|&&s| s == 500).count(), 50);
    let (c, s) = (
        window(&listeners, &before, "canary"),
        window(&listeners, &before, "stable"),
    );
    assert_eq!((c.requests, c.errors, c.error_rate()), (50, 50, 1.0));
    assert_eq!((s.requests, s.errors, s.error_rate()), (50, 0, 0.0));

    // A canary nothing listens on: each of its turns fails to connect and is retried on
    // stable, so clients see no error, but the canary's window counts every failed attempt.
    let closed = free_port().expect("a free port");
    listeners.set_backends(vec![
        backend_of(1, stable.port, "stable"),
        backend_of(3, closed, "canary"),
    ]);
    let before = listeners.revision_stats();
    for _ in 0..20 {
        let answer = client.send("GET").await.expect("request");
        assert_eq!((answer.status, answer.body.as_str()), (200, "1"));
    }
    let (c, s) = (
        window(&listeners, &before, "canary"),
        window(&listeners, &before, "stable"),
    );
    assert_eq!((c.requests, c.errors), (10, 10), "{c:?}");
    assert_eq!((s.requests, s.errors), (20, 0), "{s:?}");
    assert_eq!(listeners.stats().retries, 10);
    drop(client);
    listeners.shutdown().await;
}
