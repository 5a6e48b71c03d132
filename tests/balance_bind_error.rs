//! A listen port that is taken puts only its app in error (status `Failed`, the port named in
//! `error`); the controller runs the other apps, and the app comes up once the port is free.

mod common;

use std::net::TcpListener;

use common::web::{addr, get, WebApp};
use common::{manifest, wait_for, Controller, SOON};

#[test]
fn a_taken_port_fails_its_app_only_and_recovers_when_freed() {
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

    // Free the port and touch the manifest: web comes up.
    drop(squatter);
    app.write(&ctl);
    ctl.wait_rolled_out("web", 2, &[]);
    let a = ctl.app("web").expect("listed");
    assert_eq!(a.error, None, "{a:?}");
    let r = wait_for(SOON, "web answers on its port", || {
        get(addr(port), "/").ok().filter(|r| r.status == 200)
    });
    assert_eq!(r.field("marker"), Some("v1"));
    ctl.wait_status("other", "Running");
}
