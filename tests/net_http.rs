//! `mode: http`: request balancing, keep-alive clients across backend swaps, retry, 503.

use crate::net_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use corral::manifest::ListenMode;
use corral::net::free_port;
use net_common::*;

#[tokio::test]
async fn requests_on_one_connection_are_balanced_over_backends() {
    let (listeners, addr) = bind_one(ListenMode::Http, quick()).await;
    let (a, b) = (HttpBackend::start(1).await, HttpBackend::start(2).await);
    listeners.set_backends(vec![a.backend(), b.backend()]);
    let mut client = KeepAlive::open(addr).await;
    let mut bodies = Vec::new();
    for _ in 0..10 {
        let answer = client.send("GET").await.expect("request");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.xff.as_deref(), Some("127.0.0.1"));
        bodies.push(answer.body);
    }
    assert_eq!(bodies.iter().filter(|b| *b == "1").count(), 5, "{bodies:?}");
    assert_eq!(listeners.stats().requests, 10);
    assert_eq!(listeners.stats().connections, 1);
    drop(client);
    listeners.shutdown().await;
}

/// The key property of http mode: a client looping over one keep-alive connection sees no
/// failure while the backends behind it are replaced, drained and shut down several times.
#[tokio::test]
async fn a_keep_alive_client_sees_no_failure_while_backends_are_swapped() {
    let (listeners, addr) = bind_one(ListenMode::Http, quick()).await;
    let mut current = HttpBackend::start(0).await;
    listeners.set_backends(vec![current.backend()]);

    let stop = Arc::new(AtomicBool::new(false));
    // Four clients, each on its own keep-alive connection; half of them POST.
    let loops: Vec<_> = ["GET", "POST", "GET", "POST"]
        .into_iter()
        .map(|method| {
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut client = KeepAlive::open(addr).await;
                let (mut served, mut seen) = (0u32, std::collections::BTreeSet::new());
                while !stop.load(Ordering::SeqCst) {
                    let answer = client.send_body(method, "hello".into()).await?;
                    if answer.status != 200 || answer.body_len != Some(5) {
                        return Err(format!("{answer:?} after {served} {method} requests"));
                    }
                    seen.insert(answer.body);
                    served += 1;
                }
                Ok::<_, String>((served, seen))
            })
        })
        .collect();

    for id in 1..=5 {
        let before = listeners.stats().requests;
        wait_until("a few requests on the current backend", || {
            listeners.stats().requests >= before + 20
        })
        .await;
        let next = HttpBackend::start(id).await;
        listeners.set_backends(vec![current.backend(), next.backend()]);
        listeners.set_backends(vec![next.backend()]);
        tokio::time::timeout(SOON, listeners.drain(current.id))
            .await
            .expect("drained");
        std::mem::replace(&mut current, next).stop();
    }
    let before = listeners.stats().requests;
    wait_until("requests on the last backend", || {
        listeners.stats().requests >= before + 5
    })
    .await;
    stop.store(true, Ordering::SeqCst);

    let mut seen = std::collections::BTreeSet::new();
    for looping in loops {
        let (served, by) = looping.await.expect("join").expect("no failed request");
        assert!(served >= 5, "served {served}");
        seen.extend(by);
    }
    assert_eq!(seen.len(), 6, "every backend served: {seen:?}");
    let stats = listeners.stats();
    assert_eq!(
        (stats.connections, stats.failures, stats.retries),
        (4, 0, 0),
        "{stats:?}"
    );
    listeners.shutdown().await;
}

#[tokio::test]
async fn a_request_to_a_closed_port_is_retried_on_another_backend() {
    let (listeners, addr) = bind_one(ListenMode::Http, quick()).await;
    let b = HttpBackend::start(2).await;
    let dead = free_port().expect("free port");
    listeners.set_backends(vec![backend(1, dead), b.backend()]);
    let mut client = KeepAlive::open(addr).await;
    for method in ["GET", "PUT", "POST", "DELETE"] {
        let answer = client.send(method).await.expect("request");
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (200, "2"),
            "{method}"
        );
    }
    let stats = listeners.stats();
    assert!(stats.retries >= 1, "{stats:?}");
    assert_eq!(stats.failures, 0);
    listeners.shutdown().await;
}

#[tokio::test]
async fn no_ready_backend_waits_then_answers_503() {
    let (listeners, addr) = bind_one(ListenMode::Http, quick()).await;
    let mut client = KeepAlive::open(addr).await;
    let answer = client.send("GET").await.expect("request");
    assert_eq!(answer.status, 503);
    assert!(
        answer.body.contains("no ready instance of app web"),
        "{}",
        answer.body
    );
    assert_eq!(listeners.stats().failures, 1);

    // A backend that appears while the request waits serves it.
    let waiting = tokio::spawn(async move { (client.send("GET").await, client) });
    wait_until("request waiting", || listeners.stats().requests == 2).await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    let a = HttpBackend::start(1).await;
    listeners.set_backends(vec![a.backend()]);
    let (answer, client) = waiting.await.expect("join");
    assert_eq!(answer.expect("request").status, 200);
    drop(client);
    listeners.shutdown().await;
}

#[tokio::test]
async fn drain_waits_for_the_request_in_flight() {
    let (listeners, addr) = bind_one(ListenMode::Http, quick()).await;
    // A backend that accepts but answers only when told to: a raw socket.
    let slow = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = slow.local_addr().expect("addr").port();
    listeners.set_backends(vec![backend(7, port)]);
    let request = tokio::spawn(async move { KeepAlive::open(addr).await.send("GET").await });
    let (mut conn, _) = tokio::time::timeout(SOON, slow.accept())
        .await
        .expect("proxied")
        .expect("accept");
    wait_until("request in flight", || {
        listeners.backend_loads() == [(7, 1)]
    })
    .await;

    let mut drained = Box::pin(listeners.drain(7));
    assert!(still_pending(&mut drained, Duration::from_millis(50)).await);
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = [0u8; 1024];
    let _ = conn.read(&mut head).await.expect("request head");
    conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nslow")
        .await
        .expect("answer");
    tokio::time::timeout(SOON, drained)
        .await
        .expect("drain resolves after the response");
    let answer = request.await.expect("join").expect("request");
    assert_eq!((answer.status, answer.body.as_str()), (200, "slow"));
    listeners.shutdown().await;
}

#[tokio::test]
async fn large_bodies_stream_through_and_h2c_clients_are_served() {
    let (listeners, addr) = bind_one(ListenMode::Http, quick()).await;
    let a = HttpBackend::start(1).await;
    listeners.set_backends(vec![a.backend()]);
    let mut client = KeepAlive::open(addr).await;
    let big = hyper::body::Bytes::from(vec![b'x'; 1 << 20]);
    let answer = client.send_body("POST", big).await.expect("request");
    assert_eq!((answer.status, answer.body_len), (200, Some(1 << 20)));

    // HTTP/2 with prior knowledge (h2c) on the same port.
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2 handshake");
    let driver = tokio::spawn(connection);
    let request = hyper::Request::get("http://app.test/")
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("h2 request");
    assert_eq!(response.version(), hyper::Version::HTTP_2);
    let answer = Answer::read(response).await.expect("h2 body");
    assert_eq!((answer.status, answer.body.as_str()), (200, "1"));
    driver.abort();
    drop(client);
    listeners.shutdown().await;
}

#[tokio::test]
async fn a_backend_failing_after_the_send_retries_only_idempotent_requests() {
    let (listeners, addr) = bind_one(ListenMode::Http, quick()).await;
    // Accepts, reads the request, closes without a response byte.
    let closer = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let closer_port = closer.local_addr().expect("addr").port();
    let closing = tokio::spawn(async move {
        while let Ok((mut conn, _)) = closer.accept().await {
            use tokio::io::AsyncReadExt;
            let mut head = [0u8; 4096];
            let _ = conn.read(&mut head).await;
        }
    });
    let b = HttpBackend::start(2).await;
    listeners.set_backends(vec![backend(1, closer_port), b.backend()]);
    let mut client = KeepAlive::open(addr).await;
    for _ in 0..4 {
        let answer = client.send("GET").await.expect("request");
        assert_eq!((answer.status, answer.body.as_str()), (200, "2"));
    }
    let retries = listeners.stats().retries;
    assert!(retries >= 1, "{:?}", listeners.stats());
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(client.send("POST").await.expect("request").status);
    }
    assert!(
        statuses.contains(&502) && statuses.contains(&200),
        "{statuses:?}"
    );
    assert_eq!(listeners.stats().retries, retries, "POST is not resent");
    closing.abort();
    drop(client);
    listeners.shutdown().await;
}

/// Plain requests are served without hyper (`net/fast.rs`); the first one with a body hands
/// the connection to hyper with every byte read so far, pipelined requests included.
#[tokio::test]
async fn a_connection_moves_from_the_fast_path_to_hyper_without_losing_a_byte() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (listeners, addr) = bind_one(ListenMode::Http, quick()).await;
    let b = HttpBackend::start(7).await;
    listeners.set_backends(vec![b.backend()]);
    let mut client = KeepAlive::open(addr).await;
    for (method, body) in [("GET", ""), ("POST", ""), ("POST", "hello"), ("GET", "")] {
        let answer = client
            .send_body(method, body.into())
            .await
            .expect("request");
        assert_eq!(
            (answer.status, answer.body.as_str(), answer.body_len),
            (200, "7", Some(body.len())),
            "{method} {body:?}"
        );
        assert_eq!(answer.xff.as_deref(), Some("127.0.0.1"));
    }
    let mut raw = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let pipelined = "GET / HTTP/1.1\r\nHost: a\r\n\r\n\
                     POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
                     GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    raw.write_all(pipelined.as_bytes()).await.expect("write");
    let mut all = Vec::new();
    tokio::time::timeout(SOON, raw.read_to_end(&mut all))
        .await
        .expect("the proxy closes after Connection: close")
        .expect("read");
    let text = String::from_utf8_lossy(&all);
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{text}");
    assert_eq!(text.matches("x-body-len: 5\r\n").count(), 1, "{text}");
    assert_eq!(listeners.stats().requests, 7);
    assert_eq!(b.requests.load(Ordering::SeqCst), 7);
    drop(client);
    listeners.shutdown().await;
}

/// A response of `Content-Length: 0` ends with its head (the fast path once waited for a body).
#[tokio::test]
async fn an_empty_response_with_a_length_ends_with_its_head() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (listeners, addr) = bind_one(ListenMode::Http, quick()).await;
    let server = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = server.local_addr().expect("addr").port();
    let serving = tokio::spawn(async move {
        while let Ok((mut conn, _)) = server.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {
                    let empty = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if conn.write_all(empty).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    listeners.set_backends(vec![backend(1, port)]);
    let mut client = KeepAlive::open(addr).await;
    for _ in 0..3 {
        let answer = tokio::time::timeout(SOON, client.send("GET"))
            .await
            .expect("answered")
            .expect("request");
        assert_eq!((answer.status, answer.body.as_str()), (200, ""));
    }
    serving.abort();
    drop(client);
    listeners.shutdown().await;
}
