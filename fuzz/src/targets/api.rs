//! The control API's axum router, in process, on arbitrary requests; the fake controller of
//! the API tests (`tests/api_common`) answers at the other end of its channel.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, Response};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tower::ServiceExt;

#[path = "../../../tests/api_common/mod.rs"]
mod api_common;

/// HTTP and the API's routes.
pub(super) const DICT: &[&str] = &[
    "GET ",
    "POST ",
    "PUT ",
    "DELETE ",
    "HEAD ",
    "OPTIONS ",
    "/v1/apps",
    "/v1/apps/web",
    "/v1/apps/nope",
    "/restart",
    "/reload",
    "/history",
    "/v1/resync",
    "/v1/controller",
    "/",
    "?",
    "&",
    "=",
    "%",
    "%2F",
    "%00",
    "%FF",
    "..",
    "//",
    "#",
    "\n",
    ": ",
    "content-type: ",
    "application/json",
    "content-length: ",
    "{}",
    "null",
    "\"",
    "web",
];

/// A runtime with the fake controller loop running on it, and the router talking to it.
struct Api {
    runtime: Runtime,
    router: axum::Router,
}

impl Api {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let (tx, rx) = mpsc::channel(16);
        let state = Arc::new(Mutex::new(api_common::list()));
        let _entered = runtime.enter();
        // Detached: it answers until the router (the sender) goes away with the process.
        drop(api_common::spawn_fake_controller(rx, "/m".into(), state));
        let router = corral::fuzzing::api_router(tx);
        Self { runtime, router }
    }
}

thread_local! {
    static API: Api = Api::new();
}

/// Reads `METHOD TARGET\nName: value\n…\n\nBODY`; `None` when `http` refuses the parts.
fn request(data: &[u8]) -> Option<Request<Body>> {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &b""[..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let space = first.iter().position(|&b| b == b' ').unwrap_or(first.len());
    let (method, target) = (&first[..space], first.get(space + 1..).unwrap_or_default());
    let mut builder = Request::builder()
        .method(axum::http::Method::from_bytes(method).ok()?)
        .uri(axum::http::Uri::try_from(target).ok()?);
    for line in lines {
        let colon = line.iter().position(|&b| b == b':')?;
        let value = line[colon + 1..].trim_ascii_start();
        builder = builder.header(&line[..colon], value);
    }
    builder.body(Body::from(body.to_vec())).ok()
}

/// Sends one request through the router; it must answer in time, without a 5xx (the fake
/// controller always answers), and a success must be JSON.
pub fn api(data: &[u8]) {
    let Some(request) = request(data) else {
        return;
    };
    let head = request.method() == axum::http::Method::HEAD; // answered without a body
    API.with(|api| {
        let answered = api.runtime.block_on(async {
            let response = tokio::time::timeout(super::HANG, api.router.clone().oneshot(request))
                .await
                .unwrap_or_else(|_| {
                    panic!("the API router did not answer within {:?}", super::HANG)
                })
                .unwrap_or_else(|never| match never {});
            read(response).await
        });
        let (status, body) = answered;
        assert!(
            !status.is_server_error(),
            "{status}: {}",
            String::from_utf8_lossy(&body)
        );
        if status.is_success() && !head {
            let parsed = serde_json::from_slice::<serde_json::Value>(&body);
            assert!(
                parsed.is_ok(),
                "{status} with a body that is not JSON: {body:?}"
            );
        }
    });
}

/// The status and the whole body (at most 16 MiB: an answer larger than that is a finding).
async fn read(response: Response<Body>) -> (axum::http::StatusCode, axum::body::Bytes) {
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 16 << 20)
        .await
        .unwrap_or_else(|error| panic!("{status}: cannot read the body: {error}"));
    (status, body)
}
