//! The body types requests and responses take through the http proxy, and the proxy's own
//! plain-text answers (502, 503, 400).

use std::fmt::Display;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Response, StatusCode};

/// Request bodies as the proxy passes them on.
pub(crate) type ProxyBody = http_body_util::combinators::BoxBody<Bytes, hyper::Error>;

/// Response bodies as the proxy passes them on (they drive a backend connection: not `Sync`).
pub(crate) type ResponseBody = http_body_util::combinators::UnsyncBoxBody<Bytes, hyper::Error>;

/// The 502 for a request no backend answered.
pub(crate) fn bad_gateway(app: &str, error: &impl Display) -> Response<ResponseBody> {
    let text = format!("instance of app {app} failed: {error}\n");
    reply(StatusCode::BAD_GATEWAY, text)
}

/// A plain-text response of the proxy's own.
pub(crate) fn reply(status: StatusCode, text: String) -> Response<ResponseBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(text))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    response
}
