//! HTTP/1.1 `Upgrade` (WebSocket and the like) through `mode: http`: the request goes to one
//! ready backend on a connection of its own; on `101 Switching Protocols` the client's and the
//! backend's connections are spliced together until either side closes. The splice holds a
//! lease, so the backend counts it as load and a drain waits for it like for any request.

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;

use super::backends::Lease;
use super::body::{bad_gateway, reply, ProxyBody, ResponseBody};
use super::headers;
use super::leased_body::LeasedBody;
use super::proxy::Proxy;
use super::route::Choice;
use super::tcp;
use super::upstream::UpstreamError;

/// True when an HTTP/1.1 request asks to switch protocols (`Connection: upgrade` + `Upgrade`).
pub(crate) fn requested<B>(request: &Request<B>) -> bool {
    request.version() == Version::HTTP_11
        && request.headers().contains_key(header::UPGRADE)
        && request
            .headers()
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

/// Forwards an upgrade request; a `101` answer splices the two connections in a tracked task.
pub(crate) async fn forward(
    mut request: Request<Incoming>,
    client: &headers::Client,
    proxy: &Proxy,
    received: std::time::Instant,
) -> Response<ResponseBody> {
    let client_side = hyper::upgrade::on(&mut request);
    let (mut head, body) = request.into_parts();
    let protocol = head.headers.get(header::UPGRADE).cloned();
    headers::prepare_request(&mut head, client);
    if let Some(protocol) = protocol {
        head.headers.insert(header::UPGRADE, protocol);
        head.headers
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    let Some((lease, mut sender)) = connect(proxy, &mut Choice::request(&head.headers)).await
    else {
        proxy.counters.failure();
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no ready instance of app {}\n", proxy.app),
        );
    };
    let request = headers::to_backend(head, body.boxed());
    let mut response = match sender.send_request(request).await {
        Ok(response) => response,
        Err(error) => {
            lease.backend.revision.failed();
            proxy.counters.failure();
            return bad_gateway(&proxy.app, &UpstreamError::Sent(error));
        }
    };
    let status = response.status();
    lease
        .backend
        .revision
        .responded(status.as_u16(), received.elapsed());
    if status != StatusCode::SWITCHING_PROTOCOLS {
        let (mut head, body) = response.into_parts();
        headers::strip_hop_by_hop(&mut head.headers);
        let body = LeasedBody::new(body, None, lease).boxed_unsync();
        return Response::from_parts(head, body);
    }
    let backend_side = hyper::upgrade::on(&mut response);
    let stop = proxy.tasks.stop.clone();
    let app = proxy.app.clone();
    proxy.tasks.spawn(async move {
        let (client_io, backend_io) = match tokio::join!(client_side, backend_side) {
            (Ok(c), Ok(b)) => (c, b),
            (Err(error), _) | (_, Err(error)) => {
                tracing::debug!(%app, %error, "upgrade did not complete");
                return;
            }
        };
        let (mut client_io, mut backend_io) = (TokioIo::new(client_io), TokioIo::new(backend_io));
        tokio::select! {
            _ = stop.cancelled() => {}
            copied = tokio::io::copy_bidirectional(&mut client_io, &mut backend_io) => {
                if let Err(error) = copied {
                    tracing::debug!(%app, %error, "upgraded connection ended");
                }
            }
        }
        drop(lease);
    });
    response.map(|body| body.boxed_unsync())
}

/// A lease on a ready backend and a fresh connection to it, driven by a tracked task until it
/// upgrades or closes.
async fn connect(
    proxy: &Proxy,
    choice: &mut Choice<'_>,
) -> Option<(Lease, http1::SendRequest<ProxyBody>)> {
    let (lease, stream) = tcp::connect(proxy, choice).await?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.ok()?;
    proxy.tasks.spawn(async move {
        let _ = connection.with_upgrades().await;
    });
    Some((lease, sender))
}
