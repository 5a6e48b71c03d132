//! The JSON the page reads (camelCase): `GET /api/session`, `/api/overview`,
//! `/api/apps/{name}`, each built from the controller's answers to the requests the control
//! API sends, its metrics snapshot and the console's chart history.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;

use super::auth::Session;
use super::history::{INTERVAL, POINTS};
use super::host::HostFigures;
use super::server::Shared;
use crate::api::routes::{ask, Failure};
use crate::api::status_text::{progress, status_word};
use crate::api::{ApiRequest, AppList, AppStatus, ControllerInfo, Event};

/// Points in an overview sparkline.
const SPARKLINE: usize = 60;

/// `GET /api/session`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionView {
    csrf: String,
    read_only: bool,
    version: &'static str,
}

/// `GET /api/session`: the CSRF token, whether the session is read-only, the version.
pub(super) async fn session(Extension(session): Extension<Session>) -> Response {
    Json(SessionView {
        csrf: session.csrf,
        read_only: session.read_only,
        version: env!("CARGO_PKG_VERSION"),
    })
    .into_response()
}

/// The overview: the controller, the host, every app.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Overview {
    controller: ControllerView,
    host: HostFigures,
    apps: Vec<AppRow>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ControllerView {
    version: String,
    pid: u32,
    uptime_seconds: u64,
    cpu_percent: f32,
    memory_bytes: u64,
    manifests: String,
    git: Option<GitView>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct GitView {
    commit: String,
    subject: String,
    /// The work tree is clean and every app runs the definition of that commit.
    in_sync: bool,
    error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct AppRow {
    kind: &'static str,
    name: String,
    ready: u32,
    desired: u32,
    status: String,
    restarts: u32,
    cpu_percent: Option<f32>,
    memory_bytes: Option<u64>,
    cpu_history: Vec<f32>,
    memory_history: Vec<u64>,
}

/// Builds the overview: two requests to the loop, the host's figures on the blocking pool.
pub(super) async fn build_overview(shared: &Arc<Shared>) -> Result<Overview, Failure> {
    let (list, info) = ask_state(shared).await?;
    assemble(shared, &list, &info).await
}

/// What the overview needs from the loop: every app, and the controller's facts.
pub(super) async fn ask_state(shared: &Shared) -> Result<(AppList, ControllerInfo), Failure> {
    let requests = &shared.ctx.requests;
    let list: AppList = ask(requests, |reply| ApiRequest::List { reply }).await?;
    let info: ControllerInfo = ask(requests, |reply| ApiRequest::Info { reply }).await?;
    Ok((list, info))
}

/// The overview of `list` and `info`, with the host's figures read now.
pub(super) async fn assemble(
    shared: &Arc<Shared>,
    list: &AppList,
    info: &ControllerInfo,
) -> Result<Overview, Failure> {
    let sampler = Arc::clone(shared);
    let (host, own) = tokio::task::spawn_blocking(move || {
        let home = sampler.ctx.home.root().to_path_buf();
        let mut host = sampler.host.lock().unwrap_or_else(|e| e.into_inner());
        host.sample(&home)
    })
    .await
    .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let git = info.commit.as_ref().map(|c| GitView {
        commit: c.short.clone(),
        subject: c.subject.clone(),
        in_sync: !c.dirty
            && list.errors.is_empty()
            && list
                .apps
                .iter()
                .all(|a| a.commit.as_ref().is_none_or(|ac| ac.hash == c.hash)),
        error: None,
    });
    let mut apps: Vec<AppRow> = list.apps.iter().map(|a| app_row(shared, a)).collect();
    apps.extend(list.jobs.iter().map(|j| AppRow {
        kind: "Job",
        name: j.name.clone(),
        ready: j.succeeded,
        desired: j.completions,
        status: j.status.clone(),
        restarts: j.failed,
        cpu_percent: None,
        memory_bytes: None,
        cpu_history: Vec::new(),
        memory_history: Vec::new(),
    }));
    apps.extend(list.cronjobs.iter().map(|c| AppRow {
        kind: "CronJob",
        name: c.name.clone(),
        ready: c.active.len() as u32,
        desired: 0,
        status: super::jobs::cronjob_status(c).into(),
        restarts: 0,
        cpu_percent: None,
        memory_bytes: None,
        cpu_history: Vec::new(),
        memory_history: Vec::new(),
    }));
    Ok(Overview {
        controller: ControllerView {
            version: info.version.clone(),
            pid: info.pid,
            uptime_seconds: shared.started.elapsed().as_secs(),
            cpu_percent: own.cpu_percent,
            memory_bytes: own.memory_bytes,
            manifests: info.manifests.clone(),
            git,
        },
        host,
        apps,
    })
}

fn app_row(shared: &Shared, a: &AppStatus) -> AppRow {
    let points = shared.history.points(&a.name, SPARKLINE);
    AppRow {
        kind: "App",
        name: a.name.clone(),
        ready: a.ready,
        desired: a.desired,
        status: status_word(a),
        restarts: a.restarts,
        cpu_percent: a.cpu_percent,
        memory_bytes: a.memory_bytes,
        cpu_history: points.iter().map(|p| p.1).collect(),
        memory_history: points.iter().map(|p| p.2).collect(),
    }
}

/// `GET /api/overview`.
pub(super) async fn overview(State(shared): State<Arc<Shared>>) -> Response {
    match build_overview(&shared).await {
        Ok(o) => Json(o).into_response(),
        Err(f) => f.into_response(),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AppView {
    name: String,
    kind: &'static str,
    status: String,
    ready: u32,
    desired: u32,
    memory_limit_bytes: Option<u64>,
    instances: Vec<InstanceView>,
    charts: Charts,
    rollout: Option<serde_json::Value>,
    history: Vec<RevisionRow>,
    events: Vec<Event>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InstanceView {
    id: u32,
    pid: Option<u32>,
    revision: String,
    phase: String,
    ready: bool,
    uptime_seconds: Option<u64>,
    restarts: u32,
    cpu_percent: Option<f32>,
    memory_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Charts {
    interval: u64,
    cpu: Vec<(u64, f32)>,
    memory: Vec<(u64, u64)>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RevisionRow {
    number: u64,
    revision: String,
    created_ms: u64,
    current: bool,
}

/// `GET /api/apps/{name}`: one app with its instances, charts, rollout, history and events.
pub(super) async fn app(
    State(shared): State<Arc<Shared>>,
    UrlPath(name): UrlPath<String>,
) -> Response {
    let requests = &shared.ctx.requests;
    let asked = name.clone();
    let app = match ask(requests, |reply| ApiRequest::Get { name: asked, reply }).await {
        Ok(Some(app)) => app,
        Ok(None) => return super::jobs::job_view(&shared, &name).await,
        Err(f) => return f.into_response(),
    };
    let asked = name.clone();
    let history = match ask(requests, |reply| ApiRequest::History { name: asked, reply }).await {
        Ok(entries) => entries.unwrap_or_default(),
        Err(f) => return f.into_response(),
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let snapshot = shared.ctx.published.snapshot();
    let memory_limit_bytes = (snapshot.apps.iter())
        .find(|a| a.name == name)
        .and_then(|a| a.memory_limit_bytes);
    let points = shared.history.points(&name, POINTS);
    let view = AppView {
        kind: "App",
        status: status_word(&app),
        ready: app.ready,
        desired: app.desired,
        memory_limit_bytes,
        instances: (app.instances.iter())
            .map(|i| InstanceView {
                id: i.index,
                pid: i.pid,
                revision: i.revision.clone(),
                phase: i.phase.clone(),
                ready: i.ready,
                uptime_seconds: i.started_ms.map(|s| now_ms.saturating_sub(s) / 1000),
                restarts: i.restarts,
                cpu_percent: i.cpu_percent,
                memory_bytes: i.memory_bytes,
            })
            .collect(),
        charts: Charts {
            interval: INTERVAL.as_secs(),
            cpu: points.iter().map(|p| (p.0, p.1)).collect(),
            memory: points.iter().map(|p| (p.0, p.2)).collect(),
        },
        rollout: rollout(&app),
        history: (history.iter())
            .map(|r| RevisionRow {
                number: r.number,
                revision: r.revision.clone(),
                created_ms: r.created_ms,
                current: r.current,
            })
            .collect(),
        events: app.events.clone(),
        name: app.name,
    };
    Json(view).into_response()
}

/// The rollout in flight: a canary's or blue-green's steps as `corral rollout status` reads
/// them, or a rolling update's counts; `None` when nothing rolls.
fn rollout(app: &AppStatus) -> Option<serde_json::Value> {
    let (message, done) = progress(app);
    let mut value = match &app.rollout {
        Some(r) => serde_json::to_value(r).ok()?,
        None if done.is_none() => serde_json::json!({
            "strategy": "RollingUpdate",
            "updated": app.updated,
            "available": app.available,
            "desired": app.desired,
        }),
        None => return None,
    };
    if let Some(object) = value.as_object_mut() {
        object.insert("message".into(), message.into());
        object.insert("done".into(), done.into());
    }
    Some(value)
}

/// Any other path: a JSON 404.
pub(super) async fn not_found(uri: axum::http::Uri) -> Response {
    Failure(
        StatusCode::NOT_FOUND,
        format!("{} is not a console route", uri.path()),
    )
    .into_response()
}

/// A known path asked with another method: a JSON 405.
pub(super) async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let why = format!(
        "{} does not take {method}: the API's reads are GET, its actions POST",
        uri.path()
    );
    Failure(StatusCode::METHOD_NOT_ALLOWED, why).into_response()
}
