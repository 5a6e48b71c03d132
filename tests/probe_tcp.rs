//! tcp probes against real listeners: pass, fail after failureThreshold, flip back.

use crate::probe_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use corral::manifest::Probe;
use corral::probe::{ProbeKind, ProbeTarget};
use probe_common::{target, tcp, wait_until, Harness};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Accepts (and drops) connections on `listener`, counting them.
fn accept_counting(listener: TcpListener) -> (Arc<AtomicUsize>, JoinHandle<()>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let task = tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (count, task)
}

#[tokio::test]
async fn readiness_passes_fails_after_threshold_and_flips_back() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (_, accepting) = accept_counting(listener);
    let probe = Probe {
        failure_threshold: Some(2),
        ..tcp(port)
    };
    let mut h = Harness::start(ProbeKind::Readiness, &probe, target()).expect("valid probe");

    let report = h.next().await;
    assert!(report.passing, "{report:?}");
    assert_eq!(report.kind, ProbeKind::Readiness);
    assert_eq!(
        report.message,
        format!("connect 127.0.0.1:{port}: connected")
    );

    accepting.abort();
    let _ = accepting.await;
    let closed_at = tokio::time::Instant::now();
    let report = h.next().await;
    assert!(!report.passing, "{report:?}");
    assert_eq!(
        report.message,
        format!("connect 127.0.0.1:{port}: connection refused")
    );
    // Two failures one period apart: the second comes at least ~1 s after the first.
    assert!(
        closed_at.elapsed() >= Duration::from_millis(900),
        "reported after one failure"
    );

    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("rebind");
    let (_, accepting) = accept_counting(listener);
    let report = h.next().await;
    assert!(report.passing, "{report:?}");
    h.finish().await;
    accepting.abort();
}

#[tokio::test]
async fn default_port_is_used_when_the_probe_has_none() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (count, accepting) = accept_counting(listener);
    let mut probe = tcp(port);
    if let Some(tcp) = probe.tcp.as_mut() {
        tcp.port = None;
    }
    let target = ProbeTarget {
        default_port: Some(port),
        ..target()
    };
    let mut h = Harness::start(ProbeKind::Readiness, &probe, target).expect("valid probe");
    assert!(h.next().await.passing);
    wait_until(Duration::from_secs(5), "the probe's connection", || {
        count.load(Ordering::SeqCst) >= 1
    })
    .await;
    h.finish().await;
    accepting.abort();
}

#[tokio::test]
async fn liveness_starts_passing_and_reports_only_the_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (count, accepting) = accept_counting(listener);
    let probe = Probe {
        failure_threshold: Some(2),
        ..tcp(port)
    };
    let mut h = Harness::start(ProbeKind::Liveness, &probe, target()).expect("valid probe");

    // Two passing checks, and no report for them.
    wait_until(Duration::from_secs(5), "two checks", || {
        count.load(Ordering::SeqCst) >= 2
    })
    .await;
    assert_eq!(h.rx.try_recv().ok(), None);

    accepting.abort();
    let _ = accepting.await;
    let report = h.next().await;
    assert_eq!(report.kind, ProbeKind::Liveness);
    assert!(!report.passing, "{report:?}");
    assert!(report.message.ends_with("connection refused"), "{report:?}");
    h.finish().await;
}

#[tokio::test]
async fn initial_delay_is_respected() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (count, accepting) = accept_counting(listener);
    let probe = Probe {
        initial_delay_seconds: 1,
        ..tcp(port)
    };
    let mut h = Harness::start(ProbeKind::Readiness, &probe, target()).expect("valid probe");
    let report = h.next().await;
    assert!(report.passing);
    assert!(
        h.started.elapsed() >= Duration::from_secs(1),
        "reported before initialDelaySeconds"
    );
    assert!(count.load(Ordering::SeqCst) >= 1);
    h.finish().await;
    accepting.abort();
}
