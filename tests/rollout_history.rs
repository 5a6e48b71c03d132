//! `corral rollout history` lists the revisions that ran; `corral rollout undo` writes the
//! previous spec back into the manifest file, and the controller rolls back to it.

use crate::common;

use std::collections::BTreeSet;

use common::web::{addr, assert_clean, get, Load, WebApp};
use common::Controller;

/// The rows of `rollout history` under its header: (number, hash, current).
fn history(ctl: &Controller) -> Vec<(String, String, bool)> {
    let out = ctl.corral_ok(&["rollout", "history", "web"]);
    let mut lines = out.lines();
    let header = lines.next().expect("a header");
    assert!(header.contains("REVISION"), "{out}");
    lines
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let current = cols.last() == Some(&"*");
            (cols[0].to_owned(), cols[1].to_owned(), current)
        })
        .collect()
}

#[test]
fn history_lists_revisions_and_undo_writes_the_previous_spec_back() {
    let ctl = Controller::new();
    let mut app = WebApp::new("web", "http");
    app.write(&ctl);
    ctl.start();
    let first: Vec<u32> = ctl.wait_rolled_out("web", 2, &[]).into_values().collect();
    let v1 = ctl.app("web").expect("listed").revision;
    let public = addr(app.port);
    let load = Load::per_request(public, 2);
    load.wait_ok(20);

    app.set_env("MARKER", "v2");
    app.write(&ctl);
    let second: Vec<u32> = ctl
        .wait_rolled_out("web", 2, &first)
        .into_values()
        .collect();
    let v2 = ctl.app("web").expect("listed").revision;
    assert_ne!(v1, v2);
    let rows = history(&ctl);
    let hashes: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(hashes, [v1.as_str(), v2.as_str()], "{rows:?}");
    assert!(rows[1].2 && !rows[0].2, "the newest is current: {rows:?}");

    let file = ctl.manifests.join("web.yaml");
    let before = std::fs::read_to_string(&file).expect("manifest");
    let out = ctl.corral_ok(&["rollout", "undo", "web"]);
    assert!(out.contains("rolled back"), "{out}");
    let after = std::fs::read_to_string(&file).expect("manifest");
    assert_ne!(before, after, "undo rewrites the manifest file");
    assert!(
        after.contains("v1") && !after.contains("v2"),
        "the file holds the previous env again:\n{after}"
    );

    ctl.wait_rolled_out("web", 2, &second);
    assert_eq!(ctl.app("web").expect("listed").revision, v1);
    load.wait_marker("v1");
    load.wait_ok(20);
    let stale = load.tally().markers.get("v2").copied();
    load.wait_ok(20);
    let tally = load.finish();
    assert_eq!(
        tally.markers.get("v2").copied(),
        stale,
        "v2 served after the undo"
    );
    assert_eq!(
        get(public, "/").expect("request").field("marker"),
        Some("v1")
    );
    let current: BTreeSet<String> = history(&ctl)
        .into_iter()
        .filter(|r| r.2)
        .map(|r| r.1)
        .collect();
    assert_eq!(
        current,
        BTreeSet::from([v1]),
        "history's current is v1 again"
    );
    assert_clean(&tally, 80);
}
