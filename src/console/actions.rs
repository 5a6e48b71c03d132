//! `POST /api/apps/{name}/{reload|restart|stop|start|undo}` and `/scale`: the CLI's own code.
//! `reload` and `restart` are the control API's requests (the route `corral reload` reaches);
//! `stop`, `start`, `scale` and `undo` edit the manifest with the CLI's functions (on the
//! blocking pool), then ask the loop to resync, as the CLI does.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::server::Shared;
use super::ManifestEdits;
use crate::api::routes::{ask, command, Failure};
use crate::api::{ApiRequest, Reply};

/// The body of `POST /api/apps/{name}/scale`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Scale {
    instances: u32,
}

/// `POST /api/apps/{name}/scale` with `{"instances": N}`.
pub(super) async fn scale(
    State(shared): State<Arc<Shared>>,
    UrlPath(name): UrlPath<String>,
    body: Result<Json<Scale>, JsonRejection>,
) -> Response {
    let n = match body {
        Ok(Json(s)) => s.instances,
        Err(e) => {
            let why = format!("{e}: send {{\"instances\": N}} as application/json");
            return Failure(StatusCode::BAD_REQUEST, why).into_response();
        }
    };
    edit(&shared, name, move |edits, dir, app, _| {
        edits.scale(dir, app, n)
    })
    .await
}

/// `POST /api/apps/{name}/{verb}`.
pub(super) async fn verb(
    State(shared): State<Arc<Shared>>,
    UrlPath((name, verb)): UrlPath<(String, String)>,
) -> Response {
    let requests = &shared.ctx.requests;
    match verb.as_str() {
        "reload" => {
            command(requests, name, |name, reply| ApiRequest::Reload {
                name,
                reply,
            })
            .await
        }
        "restart" => {
            command(requests, name, |name, reply| ApiRequest::Restart {
                name,
                reply,
            })
            .await
        }
        "stop" => edit(&shared, name, |e, dir, app, _| e.suspend(dir, app, true)).await,
        "start" => edit(&shared, name, |e, dir, app, _| e.suspend(dir, app, false)).await,
        "undo" => {
            edit(&shared, name, |e, dir, app, history| {
                e.undo(dir, app, history)
            })
            .await
        }
        other => Failure(
            StatusCode::NOT_FOUND,
            format!(
                "no action {other:?}: the actions are reload, restart, stop, start, scale and undo"
            ),
        )
        .into_response(),
    }
}

/// One manifest edit: the app must be known; the manifests directory and (for `undo`) the
/// app's history come from the loop; the edit runs on the blocking pool; then a resync.
async fn edit(
    shared: &Arc<Shared>,
    name: String,
    run: impl FnOnce(
            &dyn ManifestEdits,
            &std::path::Path,
            &str,
            &[crate::api::RevisionInfo],
        ) -> Result<String, String>
        + Send
        + 'static,
) -> Response {
    let requests = &shared.ctx.requests;
    let asked = name.clone();
    let history = match ask(requests, |reply| ApiRequest::History { name: asked, reply }).await {
        Ok(Some(history)) => history,
        Ok(None) => {
            let why = format!("app {name:?} not found: the overview lists the apps");
            return Failure(StatusCode::NOT_FOUND, why).into_response();
        }
        Err(f) => return f.into_response(),
    };
    let info = match ask(requests, |reply| ApiRequest::Info { reply }).await {
        Ok(info) => info,
        Err(f) => return f.into_response(),
    };
    let edits = Arc::clone(&shared.ctx.edits);
    let dir = std::path::PathBuf::from(info.manifests);
    let done =
        tokio::task::spawn_blocking(move || run(edits.as_ref(), &dir, &name, &history)).await;
    let message = match done {
        Ok(Ok(message)) => message,
        Ok(Err(why)) => return Failure(StatusCode::CONFLICT, why).into_response(),
        Err(e) => return Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    if let Err(f) = ask(requests, |reply| ApiRequest::Resync { reply }).await {
        return f.into_response();
    }
    Json(Reply { message }).into_response()
}
