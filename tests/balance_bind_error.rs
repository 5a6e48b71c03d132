//! A listen port that is taken puts only its app in error (status `Failed`, the port named in
//! `error`); the controller runs the other apps, and the app comes up once the port is free.

use crate::common;

use std::net::TcpListener;

use common::web::{addr, get, WebApp};
use common::{manifest, wait_for, Controller, SOON};

/// How the test tells the controller to look again once the port is free.
#[derive(Debug, Clone, Copy)]
enum Nudge {
    /// Rewrite the manifest file (same content).
    Touch,
    /// `corral apply -f` of the manifest with a new env value (`configured`).
    Apply,
    /// Nothing: the controller tries failed binds again by itself every few seconds.
    Nothing,
    /// `curl -X POST --unix-socket $CORRAL_HOME/corral.sock http://corral/v1/resync`.
    Resync,
}

#[test]
fn a_taken_port_fails_its_app_only_and_recovers_on_a_manifest_touch() {
    taken_port_then_freed(Nudge::Touch);
}

#[test]
fn a_taken_port_recovers_on_corral_apply() {
    taken_port_then_freed(Nudge::Apply);
}

#[test]
fn a_taken_port_recovers_by_itself_once_freed() {
    taken_port_then_freed(Nudge::Nothing);
}

#[test]
fn a_taken_port_recovers_on_an_api_resync() {
    taken_port_then_freed(Nudge::Resync);
}

fn taken_port_then_freed(nudge: Nudge) {
    let ctl = Controller::new();
    let squatter = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = squatter.local_addr().expect("addr").port();
    let mut app = WebApp::new("web", "http");
    app.port = port;
    app.write(&ctl);
    let other = format!("command: {}", ctl.sleeper());
    ctl.write_manifest("other.yaml", &manifest("other", &[&other]));
    ctl.start();

    let failed = ctl.wait_status("web", "Failed");
    let error = failed.error.clone().unwrap_or_default();
    assert!(
        error.contains(&port.to_string()),
        "the error names port {port}: {failed:?}"
    );
    ctl.wait_instances("other", 1);
    ctl.wait_status("other", "Running");
    assert!(
        ctl.instances("web").is_empty(),
        "no web instance without its port"
    );

    // Free the port and nudge the controller: web comes up.
    drop(squatter);
    match nudge {
        Nudge::Nothing => {}
        Nudge::Touch => app.write(&ctl),
        Nudge::Apply => {
            app.set_env("MARKER", "v2");
            let file = ctl.scratch().join("web.yaml");
            std::fs::write(&file, app.manifest(&ctl)).expect("write");
            let out = ctl.corral_ok(&["apply", "-f", file.to_str().expect("utf-8")]);
            assert!(out.contains("app/web configured"), "{out}");
        }
        Nudge::Resync => {
            let socket = ctl.home.join("corral.sock");
            let out = std::process::Command::new("curl")
                .args(["-sS", "-f", "-X", "POST", "--unix-socket"])
                .arg(&socket)
                .arg("http://corral/v1/resync")
                .output()
                .expect("run curl");
            assert!(out.status.success(), "{out:?}");
        }
    }
    ctl.wait_rolled_out("web", 2, &[]);
    let a = ctl.app("web").expect("listed");
    assert_eq!(a.error, None, "{a:?}");
    let r = wait_for(SOON, "web answers on its port", || {
        get(addr(port), "/").ok().filter(|r| r.status == 200)
    });
    let marker = app
        .env
        .iter()
        .find(|(k, _)| k == "MARKER")
        .map(|(_, v)| v.as_str());
    assert_eq!(r.field("marker"), marker);
    ctl.wait_status("other", "Running");
}
