//! `make bench`'s yardstick for what hyper itself costs: a plain HTTP/1.1 reverse proxy put
//! together from hyper's server and client the way hyper's guides do (the client connection
//! driven by a task of its own), doing nothing else. Each client connection gets one upstream
//! keep-alive connection of its own; requests and responses pass through unchanged (no header
//! rewriting, no balancing, no retries, no pool); tokio's multi-thread runtime, as in corral.
//!
//!   cargo run --release --example hyper_floor -- LISTEN_PORT UPSTREAM_PORT
//!
//! Not a product: it has no timeouts and gives up on a connection at the first error.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

type Body = BoxBody<Bytes, hyper::Error>;

fn main() -> std::io::Result<()> {
    let ports: Vec<u16> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let [listen, upstream] = ports[..] else {
        eprintln!("usage: hyper_floor LISTEN_PORT UPSTREAM_PORT");
        std::process::exit(2);
    };
    tokio::runtime::Runtime::new()?.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", listen)).await?;
        loop {
            let (client, _) = listener.accept().await?;
            tokio::spawn(async move {
                if let Err(error) = serve(client, upstream).await {
                    eprintln!("connection ended: {error}");
                }
            });
        }
    })
}

/// Serves one client connection over one upstream connection of its own.
async fn serve(client: TcpStream, upstream: u16) -> Result<(), Box<dyn std::error::Error>> {
    client.set_nodelay(true)?;
    let backend = TcpStream::connect(("127.0.0.1", upstream)).await?;
    backend.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(backend)).await?;
    tokio::spawn(connection);
    let sender = Arc::new(Mutex::new(sender));
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let sender = Arc::clone(&sender);
        async move { Ok::<_, Infallible>(forward(&sender, request).await) }
    });
    hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(client), service)
        .await?;
    Ok(())
}

/// Sends `request` upstream and passes the response back, or answers 502.
async fn forward(
    sender: &Mutex<SendRequest<Incoming>>,
    request: Request<Incoming>,
) -> Response<Body> {
    let mut sender = sender.lock().await;
    let sent = match sender.ready().await {
        Ok(()) => sender.send_request(request).await,
        Err(error) => Err(error),
    };
    match sent {
        Ok(response) => response.map(BodyExt::boxed),
        Err(error) => {
            let body = Full::new(Bytes::from(format!("upstream failed: {error}\n")));
            let mut response = Response::new(body.map_err(|never| match never {}).boxed());
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            response
        }
    }
}
