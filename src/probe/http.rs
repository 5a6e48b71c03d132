//! `http` probes: `GET http://host:port/path` over HTTP/1.1; 200–399 passes.

use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::header::{CONNECTION, HOST, USER_AGENT};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time;

use super::tcp::host_port;
use super::{describe_io, show_duration, Outcome};

/// One HTTP GET, on a fresh connection each time (as the kubelet does).
#[derive(Debug, Clone)]
pub(crate) struct HttpCheck {
    /// Host to connect to.
    host: String,
    /// Port to connect to.
    port: u16,
    /// Path and query, starting with `/`.
    path: String,
    /// `host:port`, for the `Host` header and messages.
    authority: String,
    /// Bound on connect, request and response head.
    timeout: Duration,
}

impl HttpCheck {
    /// A check of `http://host:port/path`; a path without a leading `/` gets one.
    pub fn new(host: &str, port: u16, path: &str, timeout: Duration) -> HttpCheck {
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        HttpCheck {
            host: host.to_string(),
            port,
            path,
            authority: host_port(host, port),
            timeout,
        }
    }

    /// Sends the request once; only the status line counts, the body is not read.
    pub async fn run(&self) -> Outcome {
        let what = format!("HTTP GET http://{}{}", self.authority, self.path);
        match time::timeout(self.timeout, self.get()).await {
            Ok(Ok(status)) => Outcome {
                passed: (200..400).contains(&status.as_u16()),
                message: format!("{what}: {}", status.as_u16()),
            },
            Ok(Err(why)) => Outcome {
                passed: false,
                message: format!("{what}: {why}"),
            },
            Err(_) => Outcome {
                passed: false,
                message: format!("{what}: timed out after {}", show_duration(self.timeout)),
            },
        }
    }

    /// Connects, sends the GET and returns the response status, or why there is none.
    async fn get(&self) -> Result<StatusCode, String> {
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("connect: {}", describe_io(&e)))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let request = Request::get(self.path.as_str())
            .header(HOST, self.authority.as_str())
            .header(
                USER_AGENT,
                concat!("corral-probe/", env!("CARGO_PKG_VERSION")),
            )
            .header(CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("bad request: {e}"))?;
        // The connection is driven here rather than in a spawned task, so nothing outlives
        // the check; it is dropped (closed) as soon as the response head is in.
        let mut conn = std::pin::pin!(conn);
        let mut response = std::pin::pin!(sender.send_request(request));
        let response = tokio::select! {
            biased;
            response = &mut response => response,
            done = &mut conn => match done {
                // A `Connection: close` response can end the connection before the
                // response future is polled; it still holds the response.
                Ok(()) => response.await,
                Err(e) => return Err(describe_hyper(&e)),
            },
        };
        response.map(|r| r.status()).map_err(|e| describe_hyper(&e))
    }
}

/// A hyper error with its source, e.g. `connection closed before message completed`.
fn describe_hyper(err: &hyper::Error) -> String {
    match std::error::Error::source(err) {
        Some(source) => format!("{err}: {source}"),
        None => err.to_string(),
    }
}
