//! `GET /` (the page, or how to log in) and `GET /assets/NAME`, with their caching headers:
//! hashed names are immutable for a year, everything else is revalidated.

use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;

use super::auth::Session;
use super::server::Shared;
use crate::api::routes::Failure;

/// A year, and never changing: the name changes with the bytes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Ask again every time.
const NO_CACHE: &str = "no-cache";

/// `GET /`: the console page with a session, else the page saying how to get one.
pub(super) async fn index(
    State(shared): State<Arc<Shared>>,
    session: Option<Extension<Session>>,
) -> Response {
    let page = match session {
        Some(_) => shared.assets.index.clone(),
        None => super::assets::login_page(
            shared.assets.hashed("app.css"),
            "You are not logged in to this console.",
        ),
    };
    ([(header::CACHE_CONTROL, NO_CACHE)], Html(page)).into_response()
}

/// `GET /assets/NAME`: an embedded file; its hashed name is cached for a year.
pub(super) async fn asset(
    State(shared): State<Arc<Shared>>,
    UrlPath(file): UrlPath<String>,
) -> Response {
    let Some((asset, immutable)) = shared.assets.find(&file) else {
        return Failure(StatusCode::NOT_FOUND, format!("no asset {file:?}")).into_response();
    };
    let cache = if immutable { IMMUTABLE } else { NO_CACHE };
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, cache),
        ],
        asset.bytes,
    )
        .into_response()
}
