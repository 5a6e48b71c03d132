//! Input that validates as YAML but would hurt at run time, through the real binary: instance
//! caps in `validate`, `apply` and the controller, and `validate`'s warnings about this host.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::{manifest, wait_for, Controller, SOON};

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The manifest error `get` lists for `app` once it contains `needle`.
fn wait_for_error(c: &Controller, app: &str, needle: &str) -> String {
    wait_for(SOON, &format!("{app}'s error says {needle:?}"), || {
        c.get()
            .errors
            .into_iter()
            .find(|e| e.apps.iter().any(|a| a == app) && e.message.contains(needle))
            .map(|e| e.message)
    })
}

#[test]
fn validate_and_apply_refuse_a_fork_bomb_and_name_the_flag() {
    let c = Controller::new();
    let file = c.scratch().join("bomb.yaml");
    fs::write(
        &file,
        manifest("bomb", &["command: [sleep, '1']", "instances: 100000000"]),
    )
    .expect("write");
    let run = c.corral(&["validate", path(&file)]);
    assert!(!run.status.success(), "{run:?}");
    let expected = format!(
        "{}:7:3: spec.instances: 100000000 is over the cap of 1024 instances per app",
        file.display()
    );
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert!(
        run.stderr.contains("--max-instances-per-app 100000000"),
        "{}",
        run.stderr
    );
    let raised = [
        "--max-instances-per-app",
        "100000000",
        "--max-instances",
        "100000000",
    ];
    let run = c.corral(&[&["validate", path(&file)][..], &raised[..]].concat());
    assert!(run.status.success(), "{run:?}");

    let apply = [
        "apply",
        "-f",
        path(&file),
        "--manifests",
        path(&c.manifests),
    ];
    let run = c.corral(&apply);
    assert!(!run.status.success(), "{run:?}");
    assert!(
        run.stderr.contains("app/bomb: spec.instances: 100000000"),
        "{}",
        run.stderr
    );
    assert_eq!(
        fs::read_dir(&c.manifests).expect("ls").count(),
        0,
        "nothing written"
    );
}

#[test]
fn validate_refuses_apps_over_the_total_cap_at_the_app_that_passes_it() {
    let c = Controller::new();
    fs::write(
        c.manifests.join("a.yaml"),
        manifest("a", &["command: [x]", "instances: 2"]),
    )
    .expect("write");
    fs::write(
        c.manifests.join("b.yaml"),
        manifest("b", &["command: [x]", "instances: 2"]),
    )
    .expect("write");
    let dir = path(&c.manifests);
    assert!(c
        .corral(&["validate", dir, "--max-instances", "4"])
        .status
        .success());
    let run = c.corral(&["validate", dir, "--max-instances", "3"]);
    assert!(!run.status.success(), "{run:?}");
    let b = c.manifests.join("b.yaml");
    assert!(
        run.stderr.contains(&format!("{}:7:3:", b.display())),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--max-instances 4"), "{}", run.stderr);
}

#[test]
fn the_controller_refuses_apps_over_its_caps_and_keeps_the_rest() {
    let c = Controller::with_args(&["--max-instances-per-app", "2", "--max-instances", "3"]);
    let cmd = format!("command: {}", c.sleeper());
    c.write_manifest("a.yaml", &manifest("a", &[&cmd, "instances: 3"]));
    c.write_manifest("b.yaml", &manifest("b", &[&cmd, "instances: 2"]));
    c.start();
    c.wait_instances("b", 2);
    wait_for_error(
        &c,
        "a",
        "spec.instances: 3 is over the cap of 2 instances per app",
    );
    c.write_manifest("a.yaml", &manifest("a", &[&cmd, "instances: 2"]));
    wait_for_error(
        &c,
        "a",
        "brings the instances of all apps to 4, over the cap of 3",
    );
    assert_eq!(c.instances("b").len(), 2);
    c.write_manifest("a.yaml", &manifest("a", &[&cmd, "instances: 1"]));
    c.wait_instances("a", 1);
    assert!(c.app("a").expect("a").error.is_none());
}

#[test]
fn validate_warns_about_a_missing_or_untrusted_cwd_and_env_file() {
    let c = Controller::new();
    let shared = c.scratch().join("shared");
    fs::create_dir(&shared).expect("mkdir");
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).expect("chmod");
    let file = c.manifests.join("a.yaml");
    let spec = [
        "command: [x]".to_owned(),
        "cwd: ./nonexistent".to_owned(),
        "envFiles: [.env]".to_owned(),
    ];
    let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
    fs::write(&file, manifest("a", &spec)).expect("write");
    let b = format!("cwd: {}", shared.display());
    fs::write(
        c.manifests.join("b.yaml"),
        manifest("b", &["command: [x]", &b]),
    )
    .expect("write");
    let run = c.corral(&["validate", path(&c.manifests)]);
    assert!(run.status.success(), "warnings only: {run:?}");
    let cwd = format!(
        "{}:7:3: warning: the cwd {}/./nonexistent is not a directory on this host",
        file.display(),
        c.manifests.display()
    );
    assert!(run.stderr.contains(&cwd), "{}", run.stderr);
    let env = format!("{}:8:3: warning: the env file", file.display());
    assert!(run.stderr.contains(&env), "{}", run.stderr);
    let untrusted = format!(
        "a controller would refuse this: the cwd {} is writable",
        shared.display()
    );
    assert!(run.stderr.contains(&untrusted), "{}", run.stderr);
}
