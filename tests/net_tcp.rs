//! `mode: tcp`: least-connections forwarding, rotation changes, drain, failover, waiting.

use crate::net_common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use corral::manifest::ListenMode;
use corral::net::free_port;
use net_common::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

#[tokio::test]
async fn connections_spread_by_least_connections() {
    let (listeners, addr) = bind_one(ListenMode::Tcp, quick()).await;
    let (a, b) = (EchoBackend::start(1).await, EchoBackend::start(2).await);
    listeners.set_backends(vec![a.backend(), b.backend()]);

    let mut clients = Vec::new();
    for _ in 0..6 {
        clients.push(tcp_client(addr).await.expect("served"));
    }
    let on_a = clients.iter().filter(|c| c.backend == 1).count();
    assert_eq!(on_a, 3, "open connections split evenly");

    // Close two on backend 1: the next two both go to it, the least loaded.
    clients.retain({
        let mut dropped = 0;
        move |c| {
            let drop_it = c.backend == 1 && dropped < 2;
            dropped += usize::from(drop_it);
            !drop_it
        }
    });
    wait_until("the proxy sees the closes", || {
        listeners.backend_loads() == [(1, 1), (2, 3)]
    })
    .await;
    for _ in 0..2 {
        assert_eq!(tcp_client(addr).await.expect("served").backend, 1);
    }
    assert_eq!(listeners.stats().connections, 8);
    drop(clients);
    listeners.shutdown().await;
}

#[tokio::test]
async fn a_backend_out_of_rotation_gets_no_new_connections() {
    let (listeners, addr) = bind_one(ListenMode::Tcp, quick()).await;
    let (a, b) = (EchoBackend::start(1).await, EchoBackend::start(2).await);
    listeners.set_backends(vec![a.backend(), b.backend()]);
    let kept = tcp_client(addr).await.expect("served");

    listeners.set_backends(vec![b.backend()]);
    let accepted_by_a = a.accepted.load(Ordering::SeqCst);
    for _ in 0..5 {
        assert_eq!(tcp_client(addr).await.expect("served").backend, 2);
    }
    assert_eq!(a.accepted.load(Ordering::SeqCst), accepted_by_a);
    drop(kept);
    listeners.shutdown().await;
}

#[tokio::test]
async fn drain_resolves_only_after_the_open_connection_closes() {
    let (listeners, addr) = bind_one(ListenMode::Tcp, quick()).await;
    let a = EchoBackend::start(1).await;
    listeners.set_backends(vec![a.backend()]);
    let mut client = tcp_client(addr).await.expect("served");

    let mut drained = Box::pin(listeners.drain(1));
    assert!(still_pending(&mut drained, Duration::from_millis(50)).await);
    // The drained connection still works.
    client.stream.write_all(b"ping\n").await.expect("write");
    let mut echo = String::new();
    client.stream.read_line(&mut echo).await.expect("echo");
    assert_eq!(echo, "ping\n");
    assert!(still_pending(&mut drained, Duration::from_millis(20)).await);

    drop(client);
    tokio::time::timeout(SOON, drained)
        .await
        .expect("drain resolves after the close");
    // Unknown or idle backends drain at once.
    tokio::time::timeout(SOON, listeners.drain(99))
        .await
        .expect("unknown id");
    listeners.shutdown().await;
}

#[tokio::test]
async fn a_refused_connect_is_served_by_another_backend() {
    let (listeners, addr) = bind_one(ListenMode::Tcp, quick()).await;
    let b = EchoBackend::start(2).await;
    let dead = free_port().expect("free port");
    listeners.set_backends(vec![backend(1, dead), b.backend()]);
    for _ in 0..4 {
        assert_eq!(tcp_client(addr).await.expect("served").backend, 2);
    }
    let stats = listeners.stats();
    assert!(stats.retries >= 1, "{stats:?}");
    assert_eq!(stats.failures, 0);
    listeners.shutdown().await;
}

#[tokio::test]
async fn a_client_waits_for_a_backend_to_appear() {
    let (listeners, addr) = bind_one(ListenMode::Tcp, quick()).await;
    let client = tokio::spawn(tcp_client(addr));
    wait_until("connection accepted", || listeners.stats().connections == 1).await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    let a = EchoBackend::start(1).await;
    listeners.set_backends(vec![a.backend()]);
    let client = client
        .await
        .expect("join")
        .expect("served once a backend appeared");
    assert_eq!(client.backend, 1);
    drop(client);

    // With none at all, the client is closed after `backend_wait`.
    listeners.set_backends(Vec::new());
    assert!(tcp_client(addr).await.is_none());
    assert_eq!(listeners.stats().failures, 1);
    listeners.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_open_connections_after_the_grace() {
    let (listeners, addr) = bind_one(ListenMode::Tcp, quick()).await;
    let a = EchoBackend::start(1).await;
    listeners.set_backends(vec![a.backend()]);
    let mut client = tcp_client(addr).await.expect("served");
    tokio::time::timeout(SOON, listeners.shutdown())
        .await
        .expect("shutdown ends");
    let mut rest = String::new();
    let read = tokio::time::timeout(SOON, client.stream.read_line(&mut rest))
        .await
        .expect("closed");
    assert!(matches!(read, Ok(0) | Err(_)));
    wait_until("backend sees the close", || {
        a.open.load(Ordering::SeqCst) == 0
    })
    .await;
}
