//! `GET /api/apps/{name}` for a Job or a CronJob: the same shape as an app's (`kind` says
//! which), its runs as the instances, its events; no charts, rollout or revision history.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::history::INTERVAL;
use super::server::Shared;
use crate::api::routes::{ask, Failure};
use crate::api::{ApiRequest, CronJobStatus, Event, JobStatus};

/// The Job or CronJob `name`, or 404 when there is none either.
pub(super) async fn job_view(shared: &Arc<Shared>, name: &str) -> Response {
    let requests = &shared.ctx.requests;
    let list = match ask(requests, |reply| ApiRequest::List { reply }).await {
        Ok(list) => list,
        Err(f) => return f.into_response(),
    };
    let events = match ask(requests, |reply| ApiRequest::Events { reply }).await {
        Ok(sub) => (sub.backlog.into_iter())
            .filter(|e| e.app.as_deref() == Some(name))
            .collect(),
        Err(f) => return f.into_response(),
    };
    if let Some(job) = list.jobs.iter().find(|j| j.name == name) {
        return Json(job_json(job, events)).into_response();
    }
    if let Some(cron) = list.cronjobs.iter().find(|c| c.name == name) {
        return Json(cronjob_json(cron, events)).into_response();
    }
    let why = format!("app {name:?} not found: the overview lists the apps");
    Failure(StatusCode::NOT_FOUND, why).into_response()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A Job: its runs are its instances.
fn job_json(job: &JobStatus, events: Vec<Event>) -> Value {
    let now = now_ms();
    let runs: Vec<Value> = (job.runs.iter())
        .map(|r| {
            let running = r.end_ms.is_none();
            json!({
                "id": r.index,
                "pid": r.pid,
                "revision": job.revision,
                "phase": if running { "Running".to_owned() } else { r.exit.clone().unwrap_or_else(|| "Ended".into()) },
                "ready": r.succeeded == Some(true),
                "uptimeSeconds": running.then(|| now.saturating_sub(r.start_ms) / 1000),
                "restarts": 0,
                "cpuPercent": null,
                "memoryBytes": null,
            })
        })
        .collect();
    json!({
        "name": job.name,
        "kind": "Job",
        "status": job.status,
        "ready": job.succeeded,
        "desired": job.completions,
        "memoryLimitBytes": null,
        "instances": runs,
        "charts": {"interval": INTERVAL.as_secs(), "cpu": [], "memory": []},
        "rollout": null,
        "history": [],
        "events": events,
    })
}

/// A CronJob's one word: `Suspended`, `Active` (a Job of it runs) or `Scheduled`.
pub(super) fn cronjob_status(cron: &CronJobStatus) -> &'static str {
    match (cron.suspend, cron.active.is_empty()) {
        (true, _) => "Suspended",
        (false, true) => "Scheduled",
        (false, false) => "Active",
    }
}

/// A CronJob: its Jobs run as other names; it has none of its own instances.
fn cronjob_json(cron: &CronJobStatus, events: Vec<Event>) -> Value {
    let status = cronjob_status(cron);
    json!({
        "name": cron.name,
        "kind": "CronJob",
        "status": status,
        "ready": cron.active.len(),
        "desired": 0,
        "memoryLimitBytes": null,
        "instances": [],
        "charts": {"interval": INTERVAL.as_secs(), "cpu": [], "memory": []},
        "rollout": null,
        "history": [],
        "events": events,
        "schedule": cron.schedule,
        "timeZone": cron.time_zone,
        "jobs": cron.jobs,
        "nextMs": cron.next_ms,
    })
}
