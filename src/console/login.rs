//! Getting in: `POST /v1/console/login` on the control socket (so only who may use the socket
//! gets a link) hands out a one-time token; `GET /login?token=T` on the console turns it into a
//! session cookie and sends the browser to `/`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::auth::{Auth, COOKIE, TOKEN_TTL};
use super::server::Shared;
use crate::api::routes::Failure;
use crate::api::ConsoleLogin;

/// What the control socket's route needs: the tokens, and the console's URL.
#[derive(Debug, Clone)]
pub struct Logins {
    /// Tokens and sessions, shared with the console.
    pub auth: Arc<Auth>,
    /// `http(s)://HOST:PORT`.
    pub base: String,
}

/// The query of `POST /v1/console/login`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginQuery {
    #[serde(default)]
    read_only: bool,
}

/// `POST /v1/console/login[?readOnly=true]`, for the control socket: a login link, or 404
/// saying the controller serves no console (`logins` is `None`).
pub fn socket_routes(logins: Option<Logins>) -> Router {
    Router::new().route(
        "/v1/console/login",
        post(move |query: Result<Query<LoginQuery>, QueryRejection>| {
            let logins = logins.clone();
            async move {
                match query {
                    Ok(Query(q)) => issue(logins, q),
                    Err(e) => Failure(
                        StatusCode::BAD_REQUEST,
                        format!("{e}: the route takes readOnly=true|false"),
                    )
                    .into_response(),
                }
            }
        }),
    )
}

fn issue(logins: Option<Logins>, query: LoginQuery) -> Response {
    let Some(logins) = logins else {
        return Failure(
            StatusCode::NOT_FOUND,
            "this controller serves no web console: start it with --console-addr 127.0.0.1:PORT"
                .into(),
        )
        .into_response();
    };
    match logins.auth.issue(query.read_only, Instant::now()) {
        Ok(token) => Json(ConsoleLogin {
            url: format!("{}/login?token={token}", logins.base),
            expires_seconds: TOKEN_TTL.as_secs(),
            read_only: query.read_only,
        })
        .into_response(),
        Err(e) => Failure(StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// The query of `GET /login`.
#[derive(Debug, Deserialize)]
pub(super) struct TokenQuery {
    token: Option<String>,
}

/// `GET /login?token=T`: a session cookie and `303` to `/`; a used, expired or unknown token
/// gets `401` and the page that says how to get a new one.
pub(super) async fn login(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let token = query.ok().and_then(|q| q.0.token).unwrap_or_default();
    let refused = |sentence: &str| {
        let page = super::assets::login_page(shared.assets.hashed("app.css"), sentence);
        (StatusCode::UNAUTHORIZED, Html(page)).into_response()
    };
    let id = match shared.auth.redeem(&token, Instant::now()) {
        Ok(Some(id)) => id,
        Ok(None) => return refused(
            "This login link was used already, has expired (links last 5 minutes) or is not one.",
        ),
        Err(e) => return Failure(StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    };
    let secure = if shared.secure { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/{secure}");
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
