//! `corral version` and the API's version: the real binary against a real controller, against
//! none, and against stand-ins of an older and a newer controller that speak the control API
//! as those would (HTTP/1.1 on the home's socket; the older one without version headers, as
//! every controller before them).

use crate::common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use common::{corral_in, Controller};
use corral::api::{AppList, AppStatus};
use serde_json::{json, Value};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One raw HTTP/1.1 exchange on `socket`: the whole response, head and body.
fn raw(socket: &Path, request: &str) -> String {
    let mut stream = UnixStream::connect(socket).expect("connect");
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
}

#[test]
fn version_prints_the_client_and_the_running_controller() {
    let ctl = Controller::new();
    ctl.start();
    let text = ctl.corral(&["version"]);
    assert!(text.status.success(), "{text:?}");
    assert_eq!(
        text.stdout,
        format!(
            "Client Version: {VERSION}\nController Version: {VERSION} (pid {})\n",
            ctl.pid()
        )
    );
    assert_eq!(text.stderr, "", "same versions: no warning");

    let json: Value = serde_json::from_str(&ctl.corral(&["version", "-o", "json"]).stdout)
        .expect("version -o json");
    assert_eq!(json["clientVersion"]["version"], VERSION);
    assert_eq!(json["clientVersion"]["apiVersion"], "v1");
    assert_eq!(json["controllerVersion"]["version"], VERSION);
    assert_eq!(json["controllerVersion"]["pid"], ctl.pid());
    let yaml: Value = serde_yaml::from_str(&ctl.corral(&["version", "-o", "yaml"]).stdout)
        .expect("version -o yaml");
    assert_eq!(yaml, json);

    // Every reply names the controller's version; an unknown route says so to programs too.
    let socket = ctl.home.join("corral.sock");
    let reply = raw(
        &socket,
        "GET /v1/controller HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    assert!(
        reply
            .to_ascii_lowercase()
            .contains(&format!("\r\ncorral-version: {VERSION}\r\n")),
        "{reply}"
    );
    let reply = raw(
        &socket,
        "GET /v1/nothing HTTP/1.1\r\nhost: x\r\ncorral-version: 9.9.9\r\nconnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
    assert!(reply.contains("\"reason\":\"UnknownRoute\""), "{reply}");
    assert!(
        reply.contains(&format!(
            "this controller is corral {VERSION}, the client corral 9.9.9"
        )),
        "{reply}"
    );
}

#[test]
fn without_a_controller_version_prints_the_client_and_fails_like_kubectl() {
    let home = tempfile::tempdir().expect("tempdir");
    let run = corral_in(home.path(), &["version"]);
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert_eq!(run.stdout, format!("Client Version: {VERSION}\n"));
    assert!(run.stderr.contains("no controller is running"), "{run:?}");
    let json = corral_in(home.path(), &["version", "-o", "json"]);
    assert_eq!(json.status.code(), Some(1), "{json:?}");
    let json: Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(json["clientVersion"]["version"], VERSION);
    assert!(json.get("controllerVersion").is_none(), "{json}");
    let client = corral_in(home.path(), &["version", "--client"]);
    assert!(client.status.success(), "{client:?}");
    assert_eq!(client.stdout, format!("Client Version: {VERSION}\n"));
}

/// A stand-in controller answering on `home`'s socket with `router`; stops when dropped.
struct StandIn {
    _runtime: tokio::runtime::Runtime,
    _home: tempfile::TempDir,
}

impl StandIn {
    fn serve(router: Router) -> (Self, std::path::PathBuf) {
        let home = tempfile::tempdir().expect("tempdir");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let listener = {
            let _in = runtime.enter();
            tokio::net::UnixListener::bind(home.path().join("corral.sock")).expect("bind")
        };
        runtime.spawn(async move { axum::serve(listener, router).await });
        let path = home.path().to_path_buf();
        (
            Self {
                _runtime: runtime,
                _home: home,
            },
            path,
        )
    }
}

/// Today's answer of every controller to a route it does not have (before `reason` existed).
async fn old_unknown_route() -> impl IntoResponse {
    let error = "no such API route: the API has /v1/apps, /v1/controller, /v1/events";
    (StatusCode::NOT_FOUND, Json(json!({ "error": error })))
}

#[test]
fn an_older_controller_is_named_with_the_version_to_use() {
    // Version 0.0.9: no version header, /v1/apps without fields this corral requires, and no
    // revision history route.
    let info =
        json!({"manifests": "/m", "profile": null, "pid": std::process::id(), "version": "0.0.9"});
    let router = Router::new()
        .route("/v1/controller", get(move || async move { Json(info) }))
        .route(
            "/v1/apps",
            get(|| async { Json(json!({"apps": [{"name": "web"}], "errors": []})) }),
        )
        .fallback(old_unknown_route);
    let (_standin, home) = StandIn::serve(router);

    let version = corral_in(&home, &["version"]);
    assert!(version.status.success(), "{version:?}");
    assert_eq!(
        version.stdout,
        format!(
            "Client Version: {VERSION}\nController Version: 0.0.9 (pid {})\n",
            std::process::id()
        )
    );
    assert!(
        version
            .stderr
            .contains("the controller runs an older corral (0.0.9)"),
        "{version:?}"
    );
    let exe = std::fs::read_link("/proc/self/exe").expect("exe");

    let get = corral_in(&home, &["get"]);
    assert!(!get.status.success(), "{get:?}");
    assert!(
        get.stderr.contains(&format!(
            "runs corral 0.0.9, whose reply to GET /v1/apps this corral {VERSION} cannot read"
        )),
        "{get:?}"
    );
    let advice = format!(
        "use corral 0.0.9 (the controller runs {}) for this command, or upgrade the controller \
         to corral {VERSION}",
        exe.display()
    );
    assert!(get.stderr.contains(&advice), "{get:?}");

    let history = corral_in(&home, &["rollout", "history", "web"]);
    assert!(!history.status.success(), "{history:?}");
    assert!(
        history.stderr.contains(&format!(
            "runs corral 0.0.9, which does not serve GET /v1/apps/web/history (corral {VERSION} needs it)"
        )),
        "{history:?}"
    );
    assert!(history.stderr.contains(&advice), "{history:?}");
}

#[test]
fn a_newer_controller_works_and_names_itself_where_it_cannot() {
    // Version 99.0.0: version headers, fields this corral does not know, a route it dropped.
    let app = AppStatus {
        name: "web".into(),
        status: "Running".into(),
        desired: 1,
        ready: 1,
        ..AppStatus::default()
    };
    let mut apps = serde_json::to_value(AppList {
        jobs: Vec::new(),
        cronjobs: Vec::new(),
        apps: vec![app],
        errors: Vec::new(),
    })
    .expect("json");
    apps["apps"][0]["fromTheFuture"] = json!({"x": 1});
    apps["clusters"] = json!([]);
    let info =
        json!({"manifests": "/m", "pid": std::process::id(), "version": "99.0.0", "new": true});
    let router = Router::new()
        .route("/v1/controller", get(move || async move { Json(info) }))
        .route("/v1/apps", get(move || async move { Json(apps) }))
        .fallback(|| async {
            let error = "no such API route: the API has /v1/apps, /v1/controller";
            let body = json!({"error": error, "reason": "UnknownRoute"});
            (StatusCode::NOT_FOUND, Json(body))
        })
        .layer(axum::middleware::map_response(
            |mut r: axum::response::Response| async move {
                r.headers_mut()
                    .insert("corral-version", "99.0.0".parse().expect("header"));
                r
            },
        ));
    let (_standin, home) = StandIn::serve(router);

    let get = corral_in(&home, &["get"]);
    assert!(get.status.success(), "{get:?}");
    assert!(get.stdout.lines().any(|l| l.starts_with("web ")), "{get:?}");
    let version = corral_in(&home, &["version"]);
    assert!(
        version.stdout.contains("Controller Version: 99.0.0"),
        "{version:?}"
    );
    assert!(
        version
            .stderr
            .contains("the controller runs a newer corral (99.0.0)"),
        "{version:?}"
    );
    let history = corral_in(&home, &["rollout", "history", "web"]);
    assert!(!history.status.success(), "{history:?}");
    assert!(
        history.stderr.contains(&format!(
            "runs corral 99.0.0, which does not serve GET /v1/apps/web/history (corral {VERSION} needs it): use corral 99.0.0"
        )),
        "{history:?}"
    );
    assert!(
        history.stderr.contains(&format!(
            "or stop that controller and start it with corral {VERSION}"
        )),
        "{history:?}"
    );
}
