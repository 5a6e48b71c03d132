//! Shared by the `net_*` tests: listen entries on free ports, tiny real backends, polling.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use corral::manifest::{Listen, ListenMode};
use corral::net::{AppListeners, Backend, Options};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Generous bound for anything that should happen "soon".
pub const SOON: Duration = Duration::from_secs(5);

/// A listen entry on 127.0.0.1 with a kernel-chosen port.
pub fn listen(name: &str, mode: ListenMode) -> Listen {
    Listen {
        name: name.into(),
        port: 0,
        host: "127.0.0.1".into(),
        mode,
    }
}

/// Short timeouts so waiting paths are quick to test.
pub fn quick() -> Options {
    Options {
        backend_wait: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(1),
        shutdown_grace: Duration::from_millis(300),
    }
}

/// Binds `mode` on a free port and returns the listeners and the public address.
pub async fn bind_one(mode: ListenMode, options: Options) -> (AppListeners, SocketAddr) {
    let listeners = AppListeners::bind_with("web", &[listen("main", mode)], options)
        .await
        .expect("bind");
    let addr = listeners.local_addrs()[0].1;
    (listeners, addr)
}

/// The revision of the backends of [`backend`].
pub const REVISION: &str = "r1";

/// A backend of revision [`REVISION`] with one port for the `main` entry.
pub fn backend(id: u64, port: u16) -> Backend {
    backend_of(id, port, REVISION)
}

/// A backend of `revision` with one port for the `main` entry.
pub fn backend_of(id: u64, port: u16, revision: &str) -> Backend {
    Backend {
        id,
        ports: vec![("main".into(), port)],
        revision: revision.into(),
    }
}

/// Polls `check` every 10 ms until it holds, panicking after [`SOON`].
pub async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + SOON;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// True when `fut` is still pending after `within`.
pub async fn still_pending(fut: &mut (impl Future + Unpin), within: Duration) -> bool {
    tokio::time::timeout(within, fut).await.is_err()
}

/// A TCP backend: greets each connection with `<id>\n`, then echoes. Dropping it closes all.
pub struct EchoBackend {
    /// Its id, also the greeting.
    pub id: u64,
    /// Its loopback port.
    pub port: u16,
    /// Connections open right now.
    pub open: Arc<AtomicUsize>,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
    tasks: JoinSet<()>,
}

impl EchoBackend {
    /// Starts one on a free port.
    pub async fn start(id: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind backend");
        let port = listener.local_addr().expect("addr").port();
        let (open, accepted) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut tasks = JoinSet::new();
        let (o, a) = (Arc::clone(&open), Arc::clone(&accepted));
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                o.fetch_add(1, Ordering::SeqCst);
                let o = Arc::clone(&o);
                connections.spawn(async move {
                    let _ = stream.write_all(format!("{id}\n").as_bytes()).await;
                    let (mut r, mut w) = stream.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            id,
            port,
            open,
            accepted,
            tasks,
        }
    }

    /// This backend as a rotation entry.
    pub fn backend(&self) -> Backend {
        backend(self.id, self.port)
    }

    /// Stops it: listener and connections close (the JoinSets abort on drop).
    pub fn stop(mut self) {
        self.tasks.abort_all();
    }
}

/// A client connection through the proxy that has read its backend's greeting.
pub struct TcpClient {
    /// Which backend answered.
    pub backend: u64,
    /// The connection, greeting consumed.
    pub stream: BufReader<TcpStream>,
}

/// Connects to `addr` and reads the greeting line; `None` if the proxy closed the connection.
pub async fn tcp_client(addr: SocketAddr) -> Option<TcpClient> {
    let stream = TcpStream::connect(addr).await.expect("connect to proxy");
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    let read = tokio::time::timeout(SOON, stream.read_line(&mut line))
        .await
        .expect("greeting in time");
    match read {
        Ok(n) if n > 0 => Some(TcpClient {
            backend: line.trim().parse().expect("id"),
            stream,
        }),
        _ => None,
    }
}

/// An HTTP/1.1 backend answering every request with its id; counts requests.
pub struct HttpBackend {
    /// Its id, also the response body.
    pub id: u64,
    /// Its loopback port.
    pub port: u16,
    /// Requests answered.
    pub requests: Arc<AtomicUsize>,
    tasks: JoinSet<()>,
}

impl HttpBackend {
    /// Starts one on a free port; it echoes `X-Forwarded-For` in `x-seen-xff`.
    pub async fn start(id: u64) -> Self {
        Self::answering(id, 200).await
    }

    /// Like [`start`](Self::start), answering every request with `status`.
    pub async fn answering(id: u64, status: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind backend");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let counter = Arc::clone(&counter);
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let xff = req.headers().get("x-forwarded-for").cloned();
                        async move {
                            let body = req.into_body().collect().await;
                            let len = body.map(|b| b.to_bytes().len()).unwrap_or(0);
                            let mut response =
                                Response::new(Full::new(Bytes::from(id.to_string())));
                            *response.status_mut() =
                                hyper::StatusCode::from_u16(status).expect("status");
                            let headers = response.headers_mut();
                            if let Some(xff) = xff {
                                headers.insert("x-seen-xff", xff);
                            }
                            headers.insert("x-body-len", len.into());
                            Ok::<_, Infallible>(response)
                        }
                    });
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            id,
            port,
            requests,
            tasks,
        }
    }

    /// This backend as a rotation entry.
    pub fn backend(&self) -> Backend {
        backend(self.id, self.port)
    }

    /// Stops it: listener and every connection close.
    pub fn stop(mut self) {
        self.tasks.abort_all();
    }
}

/// One keep-alive HTTP/1.1 connection to the proxy; every request goes over it.
pub struct KeepAlive {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    driver: tokio::task::JoinHandle<()>,
}

/// A finished response: status, body text, `x-seen-xff`.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// The body as text (a backend's id on success).
    pub body: String,
    /// What the backend saw as `X-Forwarded-For`.
    pub xff: Option<String>,
    /// The request body length the backend read.
    pub body_len: Option<usize>,
}

impl Answer {
    /// Reads a response through, keeping what the tests look at.
    pub async fn read(response: Response<hyper::body::Incoming>) -> Result<Self, String> {
        let status = response.status().as_u16();
        let headers = response.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let xff = header("x-seen-xff");
        let body_len = header("x-body-len").and_then(|v| v.parse().ok());
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Self {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
            xff,
            body_len,
        })
    }
}

impl KeepAlive {
    /// Opens the connection.
    pub async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect to proxy");
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        Self { sender, driver }
    }

    /// Sends `method /` without a body and reads the whole response; `Err` if it failed.
    pub async fn send(&mut self, method: &str) -> Result<Answer, String> {
        self.send_body(method, Bytes::new()).await
    }

    /// Sends `method /` with `body` and reads the whole response.
    pub async fn send_body(&mut self, method: &str, body: Bytes) -> Result<Answer, String> {
        self.send_full(method, None, body).await
    }

    /// Sends `GET /` with the header `name: value` and reads the whole response.
    pub async fn send_header(&mut self, name: &str, value: &str) -> Result<Answer, String> {
        self.send_full("GET", Some((name, value)), Bytes::new())
            .await
    }

    /// Sends `method /` with an optional extra header and `body`; reads the whole response.
    async fn send_full(
        &mut self,
        method: &str,
        header: Option<(&str, &str)>,
        body: Bytes,
    ) -> Result<Answer, String> {
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let mut request = Request::builder()
            .method(method)
            .uri("/")
            .header("host", "app.test");
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(body)).expect("request");
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        Answer::read(response).await
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.driver.abort();
    }
}
