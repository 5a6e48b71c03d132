//! The `/v1` routes: each request becomes an [`ApiRequest`] for the controller loop, whose
//! answer is sent back as JSON (errors as [`ErrorReply`]: 404, 409, 503).

use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::{mpsc, oneshot};

use super::version::{
    peer_version, UNKNOWN_ROUTE, UNKNOWN_ROUTE_SENTENCE, VERSION, VERSION_HEADER,
};
use super::{ApiRequest, ErrorReply, Reply};

/// How long a request waits for the controller loop before answering 503.
const CONTROLLER_TIMEOUT: Duration = Duration::from_secs(10);

/// The routes of `/v1`, each turned into an [`ApiRequest`] for the controller loop.
pub(crate) fn router(requests: mpsc::Sender<ApiRequest>) -> Router {
    Router::new()
        .route("/v1/apps", get(list))
        .route("/v1/apps/{name}", get(get_app))
        .route("/v1/apps/{name}/restart", post(restart))
        .route("/v1/apps/{name}/reload", post(reload))
        .route("/v1/apps/{name}/history", get(history))
        .route("/v1/apps/{name}/rollout/{verb}", post(rollout))
        .route("/v1/resync", post(resync))
        .route("/v1/controller", get(info))
        .route("/v1/upgrade", post(upgrade))
        .route("/v1/shutdown", post(shutdown))
        .route("/v1/events", get(super::events::events))
        .fallback(unknown_route)
        .with_state(requests)
        .layer(axum::middleware::map_response(say_version))
}

/// Every reply names this controller's corral version ([`VERSION_HEADER`]).
async fn say_version(mut response: Response) -> Response {
    response.headers_mut().insert(
        VERSION_HEADER,
        axum::http::HeaderValue::from_static(VERSION),
    );
    response
}

/// The routes `/v1` has, for people who asked for another.
const ROUTES: &str = "/v1/apps, /v1/apps/NAME, /v1/apps/NAME/restart|reload|history, /v1/apps/NAME/rollout/promote|promote-full|pause|resume|abort|retry, /v1/resync, /v1/controller, /v1/upgrade, /v1/shutdown, /v1/events[?app=NAME&since=SEQ&watch=true], /v1/console/login[?readOnly=true], /metrics";

/// 404 for a route this controller does not know, saying so to programs (`reason`) and, when
/// the client is another corral version, to people.
async fn unknown_route(headers: axum::http::HeaderMap) -> Response {
    let mut error = format!("{UNKNOWN_ROUTE_SENTENCE}: the API has {ROUTES}");
    if let Some(client) = peer_version(&headers).filter(|v| v != VERSION) {
        error.push_str(&format!(
            " (this controller is corral {VERSION}, the client corral {client})"
        ));
    }
    let reason = Some(UNKNOWN_ROUTE.to_owned());
    (StatusCode::NOT_FOUND, Json(ErrorReply { error, reason })).into_response()
}

/// An error answer: status code and an [`ErrorReply`] body.
pub(crate) struct Failure(pub(crate) StatusCode, pub(crate) String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let reply = ErrorReply {
            error: self.1,
            reason: None,
        };
        (self.0, Json(reply)).into_response()
    }
}

pub(super) type Requests = State<mpsc::Sender<ApiRequest>>;

/// How long `POST /v1/upgrade` waits: the controller's own deadline for its successor comes first.
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(600);

/// `POST /v1/upgrade`: hands over to the binary on disk; 409 with the reason when it cannot.
async fn upgrade(State(requests): Requests) -> Result<Json<super::UpgradeReply>, Failure> {
    let asked = ask_within(&requests, UPGRADE_TIMEOUT, |reply| ApiRequest::Upgrade {
        reply,
    });
    match asked.await? {
        Ok(done) => Ok(Json(done)),
        Err(why) => Err(Failure(StatusCode::CONFLICT, why)),
    }
}

/// `POST /v1/shutdown`: stops every app, then the controller exits.
async fn shutdown(State(requests): Requests) -> Result<Json<Reply>, Failure> {
    ask(&requests, |reply| ApiRequest::Shutdown { reply })
        .await
        .map(Json)
}

/// Sends one request to the controller loop and waits (bounded) for its answer.
pub(crate) async fn ask<T>(
    requests: &mpsc::Sender<ApiRequest>,
    make: impl FnOnce(oneshot::Sender<T>) -> ApiRequest,
) -> Result<T, Failure> {
    ask_within(requests, CONTROLLER_TIMEOUT, make).await
}

/// [`ask`], waiting up to `within`.
async fn ask_within<T>(
    requests: &mpsc::Sender<ApiRequest>,
    within: Duration,
    make: impl FnOnce(oneshot::Sender<T>) -> ApiRequest,
) -> Result<T, Failure> {
    let gone = || {
        Failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "the controller is shutting down and no longer takes requests".into(),
        )
    };
    let (tx, rx) = oneshot::channel();
    requests.send(make(tx)).await.map_err(|_| gone())?;
    match tokio::time::timeout(within, rx).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(_)) => Err(gone()),
        Err(_) => Err(Failure(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the controller did not answer within {}s; it may be overloaded, try again",
                within.as_secs()
            ),
        )),
    }
}

fn not_found(name: &str) -> Failure {
    Failure(
        StatusCode::NOT_FOUND,
        format!("app {name:?} not found: corral get lists apps"),
    )
}

async fn list(State(tx): Requests) -> Response {
    match ask(&tx, |reply| ApiRequest::List { reply }).await {
        Ok(list) => Json(list).into_response(),
        Err(f) => f.into_response(),
    }
}

async fn get_app(State(tx): Requests, UrlPath(name): UrlPath<String>) -> Response {
    let asked = name.clone();
    match ask(&tx, |reply| ApiRequest::Get { name: asked, reply }).await {
        Ok(Some(app)) => Json(app).into_response(),
        Ok(None) => not_found(&name).into_response(),
        Err(f) => f.into_response(),
    }
}

/// Restart or reload: 404 for an unknown app, 409 when the controller refuses (also what the
/// web console's actions run).
pub(crate) async fn command(
    tx: &mpsc::Sender<ApiRequest>,
    name: String,
    make: fn(String, oneshot::Sender<Result<Reply, String>>) -> ApiRequest,
) -> Response {
    let asked = name.clone();
    match ask(tx, |reply| ApiRequest::Get { name: asked, reply }).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(&name).into_response(),
        Err(f) => return f.into_response(),
    }
    match ask(tx, |reply| make(name, reply)).await {
        Ok(Ok(reply)) => Json(reply).into_response(),
        Ok(Err(message)) => Failure(StatusCode::CONFLICT, message).into_response(),
        Err(f) => f.into_response(),
    }
}

async fn restart(State(tx): Requests, UrlPath(name): UrlPath<String>) -> Response {
    command(&tx, name, |name, reply| ApiRequest::Restart { name, reply }).await
}

async fn reload(State(tx): Requests, UrlPath(name): UrlPath<String>) -> Response {
    command(&tx, name, |name, reply| ApiRequest::Reload { name, reply }).await
}

async fn rollout(
    State(tx): Requests,
    UrlPath((name, verb)): UrlPath<(String, String)>,
) -> Response {
    let Some(verb) = super::RolloutVerb::parse(&verb) else {
        let message = format!(
            "unknown rollout verb {verb:?}: use promote, promote-full, pause, resume, abort or retry"
        );
        return Failure(StatusCode::NOT_FOUND, message).into_response();
    };
    let asked = name.clone();
    match ask(&tx, |reply| ApiRequest::Get { name: asked, reply }).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(&name).into_response(),
        Err(f) => return f.into_response(),
    }
    match ask(&tx, |reply| ApiRequest::Rollout { name, verb, reply }).await {
        Ok(Ok(reply)) => Json(reply).into_response(),
        Ok(Err(message)) => Failure(StatusCode::CONFLICT, message).into_response(),
        Err(f) => f.into_response(),
    }
}

async fn history(State(tx): Requests, UrlPath(name): UrlPath<String>) -> Response {
    let asked = name.clone();
    match ask(&tx, |reply| ApiRequest::History { name: asked, reply }).await {
        Ok(Some(entries)) => Json(entries).into_response(),
        Ok(None) => not_found(&name).into_response(),
        Err(f) => f.into_response(),
    }
}

async fn resync(State(tx): Requests) -> Response {
    match ask(&tx, |reply| ApiRequest::Resync { reply }).await {
        Ok(reply) => Json(reply).into_response(),
        Err(f) => f.into_response(),
    }
}

async fn info(State(tx): Requests) -> Response {
    match ask(&tx, |reply| ApiRequest::Info { reply }).await {
        Ok(info) => Json(info).into_response(),
        Err(f) => f.into_response(),
    }
}
