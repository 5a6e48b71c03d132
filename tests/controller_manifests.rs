//! Broken manifests and name conflicts change nothing that runs, and are reported.

use crate::common;

use std::time::Duration;

use common::{manifest, Controller, SOON};

#[test]
fn invalid_manifest_keeps_the_last_good_version_running() {
    let ctl = Controller::new();
    let cmd = ctl.sleeper();
    let good = manifest("web", &[&format!("command: {cmd}")]);
    ctl.write_manifest("web.yaml", &good);
    ctl.start();
    let pid = ctl.wait_instances("web", 1)[&0];
    ctl.wait_status("web", "Running");

    // Line 7: a typo'd field (unknown fields are errors).
    let bad = manifest("web", &[&format!("command: {cmd}"), "instancez: 2"]);
    assert_eq!(bad.lines().nth(6), Some("  instancez: 2"));
    ctl.write_manifest("web.yaml", &bad);
    let list = common::wait_for(SOON, "the error shows in get", || {
        Some(ctl.get()).filter(|l| !l.errors.is_empty())
    });
    let problem = &list.errors[0];
    assert!(problem.file.ends_with("web.yaml"), "{problem:?}");
    assert_eq!(
        (problem.line, problem.column),
        (7, 3),
        "where the typo is: {problem:?}"
    );
    assert!(problem.message.contains("instancez"), "{problem:?}");
    assert_eq!(problem.apps, ["web"], "{problem:?}");
    let app = list.apps.iter().find(|a| a.name == "web").expect("web");
    let error = app.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("web.yaml") && error.contains("instancez"),
        "{app:#?}"
    );
    assert_eq!(app.status, "Running", "{app:#?}");

    let describe = ctl.corral(&["describe", "web"]);
    assert!(describe.status.success(), "{describe:?}");
    assert!(
        describe.stdout.contains("web.yaml:") && describe.stdout.contains("instancez"),
        "{}",
        describe.stdout
    );
    ctl.assert_stays(
        Duration::from_millis(500),
        "the old process runs on",
        || ctl.instances("web").into_keys().collect::<Vec<_>>() == [pid],
    );

    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {cmd}"), "instances: 2"]),
    );
    ctl.wait_until(SOON, "the error clears", || {
        let list = ctl.get();
        list.errors.is_empty() && list.apps.iter().all(|a| a.error.is_none())
    });
    let now = ctl.wait_instances("web", 2);
    assert_eq!(now[&0], pid, "the fixed manifest applies; 0 keeps its pid");
}

#[test]
fn a_name_defined_twice_keeps_the_last_good_version_and_starts_nothing_new() {
    let ctl = Controller::new();
    let cmd = ctl.sleeper();
    ctl.write_manifest("a.yaml", &manifest("web", &[&format!("command: {cmd}")]));
    for file in ["c.yaml", "d.yaml"] {
        ctl.write_manifest(file, &manifest("twin", &[&format!("command: {cmd}")]));
    }
    ctl.start();
    let pid = ctl.wait_instances("web", 1)[&0];
    ctl.wait_status("web", "Running");

    let twin_error = |list: &corral::api::AppList| {
        list.errors.iter().any(|p| {
            p.message.contains("c.yaml") && p.message.contains("d.yaml") && p.apps == ["twin"]
        })
    };
    assert!(twin_error(&ctl.get()), "{:#?}", ctl.get());

    ctl.write_manifest(
        "b.yaml",
        &manifest("web", &[&format!("command: {cmd}"), "instances: 2"]),
    );
    let list = common::wait_for(SOON, "the conflict shows", || {
        Some(ctl.get()).filter(|l| l.errors.iter().any(|p| p.apps == ["web"]))
    });
    let problem = list.errors.iter().find(|p| p.apps == ["web"]).expect("web");
    assert!(
        problem.message.contains("a.yaml") && problem.message.contains("b.yaml"),
        "both files named: {problem:?}"
    );
    let web = list.apps.iter().find(|a| a.name == "web").expect("web");
    assert!(web.error.is_some(), "{web:#?}");
    assert_eq!(web.desired, 1, "the last good version: {web:#?}");
    assert!(twin_error(&list), "{list:#?}");

    ctl.assert_stays(
        Duration::from_millis(500),
        "web unchanged, twin never starts",
        || {
            ctl.instances("web").into_keys().collect::<Vec<_>>() == [pid]
                && ctl.instances("twin").is_empty()
        },
    );
    let twin = ctl.app("twin");
    assert!(
        twin.as_ref().is_none_or(|t| t.instances.is_empty()),
        "{twin:#?}"
    );

    ctl.remove_manifest("b.yaml");
    ctl.wait_until(SOON, "web's conflict clears", || {
        ctl.app("web").is_some_and(|a| a.error.is_none())
    });
    assert_eq!(ctl.instances("web").into_keys().collect::<Vec<_>>(), [pid]);
}

#[test]
fn a_manifest_broken_from_the_start_runs_nothing_and_says_where() {
    let ctl = Controller::new();
    let cmd = ctl.sleeper();
    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {cmd}"), "instances: lots"]),
    );
    ctl.write_manifest("ok.yaml", &manifest("ok", &[&format!("command: {cmd}")]));
    ctl.start();
    ctl.wait_instances("ok", 1);
    let list = ctl.get();
    let problem = list
        .errors
        .iter()
        .find(|p| p.file.ends_with("web.yaml"))
        .unwrap_or_else(|| panic!("web.yaml's error is listed: {list:#?}"));
    assert_eq!(problem.line, 7, "{problem:?}");
    assert!(problem.column > 0, "{problem:?}");
    assert!(list.apps.iter().all(|a| a.name != "web"), "{list:#?}");
    ctl.assert_stays(Duration::from_millis(300), "web never starts", || {
        ctl.instances("web").is_empty()
    });
}
