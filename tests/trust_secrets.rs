//! Values read from `envFiles` never leave the controller except into the app: not in
//! `describe`, `get -o json|yaml`, the API or the controller log, even when the file is broken.
//! Values written in the manifest's own `env` may be shown.

use crate::common;

use std::fs;

use common::{env_map, manifest, Controller, SOON};

const SECRET: &str = "hunter2-s3cr3t-value";

/// Everything a user or a log reader can see about `app`.
fn everything_shown(c: &Controller, app: &str) -> String {
    let mut all = String::new();
    for args in [
        vec!["describe", app],
        vec!["get", "-o", "json"],
        vec!["get", "-o", "yaml"],
        vec!["get", "-o", "wide"],
        vec!["get", app, "-o", "json"],
    ] {
        let run = c.corral(&args);
        all.push_str(&run.stdout);
        all.push_str(&run.stderr);
    }
    all.push_str(&c.stderr());
    all
}

#[test]
fn env_file_values_reach_the_app_and_nothing_else() {
    let c = Controller::new();
    fs::write(c.manifests.join(".env"), format!("API_KEY={SECRET}\n")).expect("env");
    let spec = [
        format!("command: {}", c.sleeper()),
        "envFiles: [.env]".into(),
        "env: {SHOWN: visible-manifest-value}".into(),
    ];
    let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
    c.write_manifest("a.yaml", &manifest("a", &spec));
    c.start();
    let pid = c.wait_instances("a", 1)[&0];
    assert_eq!(
        env_map(pid).get("API_KEY").map(String::as_str),
        Some(SECRET)
    );
    let shown = everything_shown(&c, "a");
    assert!(
        shown.contains("visible-manifest-value"),
        "manifest env is shown:\n{shown}"
    );
    assert!(
        !shown.contains(SECRET),
        "the env file's value leaked:\n{shown}"
    );
}

#[test]
fn a_broken_env_file_is_reported_without_quoting_its_lines() {
    let c = Controller::new();
    let env = c.manifests.join(".env");
    fs::write(&env, format!("OK=1\nAPI_KEY {SECRET} oops\n")).expect("env");
    c.write_manifest(
        "a.yaml",
        &manifest(
            "a",
            &[&format!("command: {}", c.sleeper()), "envFiles: [.env]"],
        ),
    );
    c.start();
    c.wait_until(SOON, "describe reports the bad env file", || {
        c.corral(&["describe", "a"])
            .stdout
            .contains("is not valid dotenv at line 2")
    });
    let shown = everything_shown(&c, "a");
    assert!(
        !shown.contains(SECRET),
        "the env file's line leaked:\n{shown}"
    );
}
