//! http probes against a tiny real server: status codes, Host header, a server that never answers.

use crate::probe_common;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use corral::manifest::Probe;
use corral::probe::ProbeKind;
use probe_common::{http, target, Harness};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A server answering every request with the status in `status`; 0 means never answer.
struct Server {
    port: u16,
    status: Arc<AtomicU16>,
    last_head: Arc<Mutex<String>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(status: u16) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let status = Arc::new(AtomicU16::new(status));
        let last_head = Arc::new(Mutex::new(String::new()));
        let (s, h) = (status.clone(), last_head.clone());
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                let code = s.load(Ordering::SeqCst);
                if code == 0 {
                    held.push(stream);
                } else {
                    tokio::spawn(answer(stream, code, h.clone()));
                }
            }
        });
        Server {
            port,
            status,
            last_head,
            task,
        }
    }
}

/// Reads the request head, records it, and writes a response with `code`.
async fn answer(mut stream: TcpStream, code: u16, last_head: Arc<Mutex<String>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    if let Ok(mut last) = last_head.lock() {
        *last = String::from_utf8_lossy(&head).into_owned();
    }
    let response = format!("HTTP/1.1 {code} X\r\nLocation: /elsewhere\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    let _ = stream.write_all(response.as_bytes()).await;
}

#[tokio::test]
async fn passes_on_200_then_fails_on_500() {
    let server = Server::start(200).await;
    let port = server.port;
    let mut h =
        Harness::start(ProbeKind::Readiness, &http(port, "/healthz"), target()).expect("valid");
    let report = h.next().await;
    assert!(report.passing, "{report:?}");
    assert_eq!(
        report.message,
        format!("HTTP GET http://127.0.0.1:{port}/healthz: 200")
    );
    let head = server.last_head.lock().expect("lock").to_lowercase();
    assert!(head.starts_with("get /healthz http/1.1\r\n"), "{head}");
    assert!(
        head.contains(&format!("\r\nhost: 127.0.0.1:{port}\r\n")),
        "{head}"
    );

    server.status.store(500, Ordering::SeqCst);
    let report = h.next().await;
    assert!(!report.passing, "{report:?}");
    assert_eq!(
        report.message,
        format!("HTTP GET http://127.0.0.1:{port}/healthz: 500")
    );
    h.finish().await;
    server.task.abort();
}

#[tokio::test]
async fn redirect_passes_without_following() {
    let server = Server::start(302).await;
    let mut h = Harness::start(
        ProbeKind::Readiness,
        &http(server.port, "healthz"),
        target(),
    )
    .expect("valid");
    let report = h.next().await;
    assert!(report.passing, "{report:?}");
    assert!(report.message.ends_with("/healthz: 302"), "{report:?}");
    h.finish().await;
    server.task.abort();
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = Server::start(0).await;
    let port = server.port;
    let mut h = Harness::start(ProbeKind::Readiness, &http(port, "/"), target()).expect("valid");
    let report = h.next().await;
    assert!(!report.passing, "{report:?}");
    assert_eq!(
        report.message,
        format!("HTTP GET http://127.0.0.1:{port}/: timed out after 1s")
    );
    h.finish().await;
    server.task.abort();
}

#[tokio::test]
async fn a_closed_port_fails_with_connection_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let probe = Probe {
        failure_threshold: Some(1),
        ..http(port, "/")
    };
    let mut h = Harness::start(ProbeKind::Readiness, &probe, target()).expect("valid");
    let report = h.next().await;
    assert!(!report.passing);
    assert!(
        report.message.ends_with(": connect: connection refused"),
        "{report:?}"
    );
    h.finish().await;
}
