//! `mode: http`'s server side: arbitrary client bytes into a real proxy (`AppListeners` on
//! loopback) balancing over one trivial backend; it must answer or close within [`super::HANG`].

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use corral::manifest::{Listen, ListenMode};
use corral::net::{AppListeners, Backend, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

/// HTTP/1.1 and h2c framing, and headers the proxy treats specially.
pub(super) const DICT: &[&str] = &[
    "GET / HTTP/1.1\r\n",
    "POST / HTTP/1.1\r\n",
    "HTTP/1.0",
    "HTTP/1.1",
    "\r\n",
    "\r\n\r\n",
    "Host: a\r\n",
    "Content-Length: ",
    "Transfer-Encoding: chunked\r\n",
    "0\r\n\r\n",
    "ffffffff",
    "Connection: close\r\n",
    "Connection: keep-alive\r\n",
    "Connection: upgrade\r\n",
    "Upgrade: websocket\r\n",
    "Expect: 100-continue\r\n",
    "X-Forwarded-For: ",
    "Forwarded: ",
    "Te: trailers\r\n",
    "Keep-Alive: ",
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "CONNECT ",
    "OPTIONS * ",
    " ",
    ":",
    "\t",
    "\n",
    "\0",
    "%",
    "?",
    "/",
];

/// The most a response may hold before it counts as a finding (the backend echoes the body).
const MAX_RESPONSE: usize = 16 << 20;

/// A runtime running a backend that echoes request bodies and a proxy in front of it.
struct Proxy {
    runtime: Runtime,
    addr: SocketAddr,
    /// Kept for the process's lifetime: dropping it closes the public port.
    _listeners: AppListeners,
}

impl Proxy {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let (addr, listeners) = runtime.block_on(async {
            let backend = TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind the backend");
            let port = backend.local_addr().expect("backend address").port();
            let echo = axum::Router::new().fallback(|body: Bytes| async move { body });
            tokio::spawn(async move { axum::serve(backend, echo).await });
            let listen = Listen {
                name: "http".into(),
                port: corral::net::free_port().expect("a free port"),
                host: "127.0.0.1".into(),
                mode: ListenMode::Http,
            };
            let options = Options {
                backend_wait: Duration::from_secs(1),
                connect_timeout: Duration::from_secs(1),
                shutdown_grace: Duration::from_secs(1),
            };
            let listeners = AppListeners::bind_with("fuzz", &[listen], options)
                .await
                .expect("bind the proxy");
            listeners.set_backends(vec![Backend {
                id: 1,
                ports: vec![("http".into(), port)],
                revision: "fuzz".into(),
            }]);
            (listeners.local_addrs()[0].1, listeners)
        });
        Self {
            runtime,
            addr,
            _listeners: listeners,
        }
    }
}

thread_local! {
    static PROXY: Proxy = Proxy::new();
}

/// Sends `data` on a fresh connection, closes the sending side, and reads until the proxy
/// closes: it must within [`super::HANG`], with a bounded answer.
pub fn proxy(data: &[u8]) {
    PROXY.with(|proxy| {
        proxy.runtime.block_on(async {
            tokio::time::timeout(super::HANG, exchange(proxy.addr, data))
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "the proxy neither answered nor closed within {:?}",
                        super::HANG
                    )
                });
        });
    });
}

/// One connection's exchange; I/O errors (a reset after a refused request) are fine.
async fn exchange(addr: SocketAddr, data: &[u8]) {
    let mut client = TcpStream::connect(addr)
        .await
        .expect("connect to the proxy");
    // Reset on close: thousands of connections a second must not pile up in TIME_WAIT.
    let _ = socket_linger_zero(&client);
    let _ = client.write_all(data).await;
    let _ = client.shutdown().await;
    let mut total = 0;
    let mut buf = vec![0; 64 * 1024];
    while let Ok(n @ 1..) = client.read(&mut buf).await {
        total += n;
        assert!(
            total <= MAX_RESPONSE,
            "the proxy sent more than {MAX_RESPONSE} bytes"
        );
    }
}

#[allow(deprecated)] // set_linger is deprecated only because a zero linger blocks on close; it does not here
fn socket_linger_zero(stream: &TcpStream) -> std::io::Result<()> {
    stream.set_linger(Some(Duration::ZERO))
}
