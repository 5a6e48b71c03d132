//! Shared by the API and CLI tests: a fake controller loop answering `ApiRequest`s with canned data.
#![allow(dead_code)]

use corral::api::{
    ApiError, ApiRequest, AppList, AppStatus, Condition, ControllerInfo, Event, InstanceStatus,
    ManifestProblem, Reply, Server,
};
use std::sync::{Arc, Mutex};

use corral::home::Home;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The pid the fake controller claims.
pub const FAKE_PID: u32 = 4242;

/// The one app the fake controller knows.
pub fn web() -> AppStatus {
    AppStatus {
        name: "web".into(),
        file: "/m/web.yaml".into(),
        labels: [("tier".to_string(), "front".to_string())].into(),
        revision: "5f2c9a1b".into(),
        desired: 2,
        ready: 2,
        updated: 2,
        available: 2,
        status: "Running".into(),
        restarts: 1,
        cpu_percent: Some(1.5),
        memory_bytes: Some(24_536_678),
        created_ms: 1,
        error: None,
        conditions: vec![Condition {
            kind: "Available".into(),
            status: true,
            reason: "MinimumReplicasAvailable".into(),
            message: "2 of 2 instances ready".into(),
        }],
        instances: vec![
            InstanceStatus {
                index: 0,
                pid: Some(1111),
                revision: "5f2c9a1b".into(),
                phase: "Running".into(),
                ready: true,
                restarts: 1,
                started_ms: Some(1),
                last_exit: Some("exit code 1".into()),
                ..InstanceStatus::default()
            },
            InstanceStatus {
                index: 1,
                pid: Some(2222),
                revision: "5f2c9a1b".into(),
                phase: "Running".into(),
                ready: true,
                ..InstanceStatus::default()
            },
        ],
        events: vec![Event {
            at_ms: 1,
            kind: "Normal".into(),
            reason: "Started".into(),
            message: "instance 0 started (pid 1111)".into(),
            ..Event::default()
        }],
        spec_yaml: "command: [node, server.js]\ninstances: 2\n".into(),
        watch: None,
        commit: None,
        user: Some("www-data (33:33)".into()),
        rollout: None,
        hooks: Vec::new(),
        restart_schedule: None,
    }
}

/// What `GET /v1/apps` answers.
pub fn list() -> AppList {
    AppList {
        jobs: Vec::new(),
        cronjobs: Vec::new(),
        apps: vec![web()],
        errors: vec![ManifestProblem {
            file: "/m/api.yaml".into(),
            line: 4,
            column: 3,
            message: "unknown field `comand`, expected one of `command`, …".into(),
            apps: vec!["api".into()],
        }],
    }
}

/// Answers requests until the sender side closes; reload is refused to exercise 409.
pub fn spawn_fake_controller(
    mut rx: mpsc::Receiver<ApiRequest>,
    manifests: String,
    state: Arc<Mutex<AppList>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(request) = rx.recv().await {
            let now = state.lock().map(|s| s.clone()).unwrap_or_default();
            match request {
                ApiRequest::List { reply } => drop(reply.send(now)),
                ApiRequest::Get { name, reply } => {
                    drop(reply.send(now.apps.into_iter().find(|a| a.name == name)));
                }
                ApiRequest::Restart { name, reply } => drop(reply.send(Ok(Reply {
                    message: format!("app/{name} restarted"),
                }))),
                ApiRequest::Reload { reply, .. } => drop(reply.send(Err(
                    "a rollout of app \"web\" is in progress: wait for it, then reload".into(),
                ))),
                ApiRequest::History { name, reply } => {
                    let known = now.apps.iter().any(|a| a.name == name);
                    drop(reply.send(known.then(|| vec![corral::api::RevisionInfo {
                        number: 1,
                        revision: "abc".into(),
                        created_ms: 0,
                        current: true,
                        manifest: format!("apiVersion: corral/v1\nkind: App\nmetadata: {{name: {name}}}\nspec: {{command: [x]}}\n"),
                    }])));
                }
                ApiRequest::Rollout { name, verb, reply } => drop(reply.send(Ok(Reply {
                    message: format!("app/{name} {}", verb.segment()),
                }))),
                ApiRequest::Resync { reply } => drop(reply.send(Reply {
                    message: "resynced".into(),
                })),
                ApiRequest::Events { reply } => {
                    let (tx, live) = tokio::sync::broadcast::channel(4);
                    let backlog = vec![stream_event(1, "web"), stream_event(2, "api")];
                    drop(reply.send(corral::api::EventSubscription { backlog, live }));
                    // One live event, then the stream ends as when the controller stops.
                    let _ = tx.send(stream_event(3, "web"));
                }
                ApiRequest::Shutdown { reply } => drop(reply.send(Reply {
                    message: "stopping".into(),
                })),
                ApiRequest::Upgrade { reply } => {
                    drop(reply.send(Err("/tmp/corral does not exist".into())))
                }
                ApiRequest::Info { reply } => drop(reply.send(ControllerInfo {
                    manifests: manifests.clone(),
                    profile: None,
                    pid: FAKE_PID,
                    version: "test".into(),
                    commit: None,
                })),
            }
        }
    })
}

/// An event of the fake controller's stream: `Started` of instance 0 of `app`.
pub fn stream_event(seq: u64, app: &str) -> Event {
    Event {
        seq,
        at_ms: 1_000 + seq,
        kind: "Normal".into(),
        reason: "Started".into(),
        app: Some(app.into()),
        index: Some(0),
        message: format!("instance 0 of {app} started"),
    }
}

/// A running API server with its fake controller; cancel `shutdown` and join `server` to stop.
pub struct Running {
    /// Stops the server.
    pub shutdown: CancellationToken,
    /// The server task.
    pub server: JoinHandle<Result<(), ApiError>>,
    /// The fake controller task.
    pub controller: JoinHandle<()>,
}

/// Binds on `home` and serves with a fake controller that reports `manifests`.
pub async fn start(home: &Home, manifests: &str) -> Result<Running, ApiError> {
    start_with(home, manifests, Arc::new(Mutex::new(list()))).await
}

/// Like [`start`], answering `List` and `Get` from `state`, which the test may change.
pub async fn start_with(
    home: &Home,
    manifests: &str,
    state: Arc<Mutex<AppList>>,
) -> Result<Running, ApiError> {
    let (tx, rx) = mpsc::channel(16);
    let server = Server::bind(home).await?;
    let shutdown = CancellationToken::new();
    let controller = spawn_fake_controller(rx, manifests.to_string(), state);
    let server = tokio::spawn(server.run(tx, shutdown.clone()));
    Ok(Running {
        shutdown,
        server,
        controller,
    })
}
