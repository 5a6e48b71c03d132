//! `mode: http` and HTTP/1.1 `Upgrade` (what WebSocket uses): the 101 comes through, bytes flow
//! both ways over the spliced connections, the backend counts as busy until the client closes,
//! and an upgrade the backend declines is an ordinary response.

use crate::net_common;

use std::convert::Infallible;
use std::time::Duration;

use corral::manifest::ListenMode;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use net_common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// A backend that switches to an echo protocol on `Upgrade: echo` (echoes prefixed `ID:`) and
/// declines any other upgrade with a plain 200 answering `ID`.
struct UpgradeBackend {
    id: u64,
    port: u16,
    tasks: JoinSet<()>,
}

impl UpgradeBackend {
    async fn start(id: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let service =
                    hyper::service::service_fn(move |req: Request<Incoming>| async move {
                        Ok::<_, Infallible>(answer(id, req))
                    });
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Self { id, port, tasks }
    }
}

impl Drop for UpgradeBackend {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

/// 101 + an echo task for `Upgrade: echo` sent with `Connection: upgrade`; else 200 `ID`.
fn answer(id: u64, mut req: Request<Incoming>) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    let wants_echo = header("upgrade").as_deref() == Some("echo")
        && header("connection").is_some_and(|c| c.contains("upgrade"));
    if !wants_echo {
        return Response::new(Full::new(Bytes::from(id.to_string())));
    }
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut io = TokioIo::new(upgraded);
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = io.read(&mut buf).await {
            let mut echo = format!("{id}:").into_bytes();
            echo.extend_from_slice(&buf[..n]);
            if io.write_all(&echo).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("upgrade", "echo")
        .header("connection", "upgrade")
        .body(Full::new(Bytes::new()))
        .expect("101")
}

/// Sends an upgrade request for `protocol` over a raw connection; returns the stream and the
/// response head.
async fn upgrade(addr: std::net::SocketAddr, protocol: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET /chat HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: {protocol}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(SOON, stream.read(&mut byte))
            .await
            .expect("response head in time")
            .expect("read");
        assert_eq!(n, 1, "closed after {:?}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    (stream, String::from_utf8_lossy(&head).into_owned())
}

/// Writes `text` and reads what comes back (one short message).
async fn roundtrip(stream: &mut TcpStream, text: &str) -> String {
    stream.write_all(text.as_bytes()).await.expect("write");
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(SOON, stream.read(&mut buf))
        .await
        .expect("echo in time")
        .expect("read");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn an_upgraded_connection_is_spliced_to_one_backend_until_the_client_closes() {
    let (listeners, addr) = bind_one(ListenMode::Http, quick()).await;
    let backend_1 = UpgradeBackend::start(1).await;
    listeners.set_backends(vec![backend(backend_1.id, backend_1.port)]);

    let (mut stream, head) = upgrade(addr, "echo").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("upgrade: echo"),
        "{head}"
    );
    assert_eq!(roundtrip(&mut stream, "hello").await, "1:hello");
    assert_eq!(roundtrip(&mut stream, "again").await, "1:again");

    // The open upgraded connection is load on its backend: a drain waits for it...
    let mut drain = Box::pin(listeners.drain(backend_1.id));
    assert!(still_pending(&mut drain, Duration::from_millis(300)).await);
    assert_eq!(roundtrip(&mut stream, "still").await, "1:still");
    // ...and ends once the client closes it.
    drop(stream);
    tokio::time::timeout(SOON, drain)
        .await
        .expect("drained after the client closed");
    listeners.shutdown().await;
}

#[tokio::test]
async fn a_declined_upgrade_is_an_ordinary_response() {
    let (listeners, addr) = bind_one(ListenMode::Http, quick()).await;
    let backend_2 = UpgradeBackend::start(2).await;
    listeners.set_backends(vec![backend(backend_2.id, backend_2.port)]);
    let (mut stream, head) = upgrade(addr, "something-else").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut body = [0u8; 1];
    stream.read_exact(&mut body).await.expect("body");
    assert_eq!(&body, b"2");
    assert_eq!(listeners.stats().requests, 1);
    drop(stream);
    let drain = listeners.drain(backend_2.id);
    tokio::time::timeout(SOON, drain)
        .await
        .expect("the lease was released with the response");
    listeners.shutdown().await;
}
