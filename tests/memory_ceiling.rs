//! `memory.max`: a kernel-enforced ceiling per instance where the controller has
//! a delegated cgroup v2 subtree; elsewhere `validate` and `describe` say why not. The cgroup
//! writes are checked on a directory standing in for the controller's cgroup
//! (`CORRAL_CGROUP_ROOT`); "not available" is checked on this host as it is.

use crate::common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{manifest, wait_for, Controller, BIN, SOON};

/// A directory laid out like a cgroup v2 group offering `controllers`.
fn fake_cgroup(dir: &Path, controllers: &str) {
    fs::create_dir_all(dir).expect("mkdir");
    fs::write(dir.join("cgroup.controllers"), controllers).expect("write");
    fs::write(dir.join("cgroup.subtree_control"), "").expect("write");
}

fn app_with_max(ctl: &Controller, max: &str) -> String {
    let spec = [
        format!("command: {}", ctl.sleeper()),
        format!("memory: {{limit: 100Mi, max: {max}}}"),
    ];
    let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
    manifest("capped", &spec)
}

/// `corral validate FILE` with `CORRAL_CGROUP_ROOT` set to `root` (or unset): its stderr.
fn validate(file: &Path, root: Option<&Path>) -> String {
    let mut cmd = Command::new(BIN);
    cmd.arg("validate")
        .arg(file)
        .env_remove("CORRAL_CGROUP_ROOT");
    if let Some(root) = root {
        cmd.env("CORRAL_CGROUP_ROOT", root);
    }
    let out = cmd.output().expect("run corral validate");
    assert!(out.status.success(), "a warning is not an error: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `CgroupLimits` condition of `app` (which covers `memory.max`): (status, message).
fn ceiling(ctl: &Controller, app: &str) -> Option<(bool, String)> {
    let c = ctl
        .app(app)?
        .conditions
        .into_iter()
        .find(|c| c.kind == "CgroupLimits")?;
    Some((c.status, c.message))
}

#[test]
fn validate_warns_at_the_key_where_the_ceiling_is_not_available() {
    let ctl = Controller::new();
    let file = ctl.scratch().join("capped.yaml");
    fs::write(&file, app_with_max(&ctl, "200Mi")).expect("write");
    let without = ctl.scratch().join("no-memory");
    fake_cgroup(&without, "cpu pids\n");
    let err = validate(&file, Some(&without));
    let line = err
        .lines()
        .find(|l| l.contains("warning"))
        .unwrap_or_default();
    assert!(
        line.starts_with(&format!("{}:", file.display()))
            && line.contains("hard memory ceiling (memory.max) not available here")
            && line.contains("memory controller is not delegated"),
        "{err}"
    );
    let with = ctl.scratch().join("memory");
    fake_cgroup(&with, "cpu memory pids\n");
    assert!(!validate(&file, Some(&with)).contains("warning"));
}

#[test]
fn an_instance_gets_its_own_cgroup_with_memory_max_and_it_goes_when_the_instance_does() {
    let mut ctl = Controller::new();
    let root = ctl.scratch().join("cgroup");
    fake_cgroup(&root, "cpu memory pids\n");
    ctl.envs
        .push(("CORRAL_CGROUP_ROOT".into(), root.display().to_string()));
    ctl.write_manifest("capped.yaml", &app_with_max(&ctl, "200Mi"));
    ctl.start();
    let pid = ctl.wait_instances("capped", 1)[&0];
    // ROOT/corral/HOME: one folder per controller home.
    let instances = wait_for(SOON, "the home's cgroup folder", || {
        let dirs = fs::read_dir(root.join("corral")).ok()?;
        dirs.flatten().map(|e| e.path()).find(|p| p.is_dir())
    });
    for dir in [&root, &root.join("corral"), &instances] {
        assert_eq!(
            fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap(),
            "+memory +pids +cpu"
        );
    }
    let dir = wait_for(SOON, "the instance's cgroup", || {
        fs::read_dir(&instances)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.is_dir())
    });
    assert!(
        dir.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("capped-0-"),
        "{dir:?}"
    );
    assert_eq!(
        fs::read_to_string(dir.join("memory.max")).unwrap(),
        (200u64 << 20).to_string()
    );
    // The child wrote itself ("0") into cgroup.procs between fork and exec.
    assert_eq!(fs::read_to_string(dir.join("cgroup.procs")).unwrap(), "0\n");
    let (enforced, message) = ceiling(&ctl, "capped").expect("a CgroupLimits condition");
    assert!(enforced && message.contains("200Mi"), "{message}");

    // An edit applies in place: same process, new ceiling.
    ctl.write_manifest("capped.yaml", &app_with_max(&ctl, "300Mi"));
    ctl.wait_until(SOON, "memory.max rewritten", || {
        fs::read_to_string(dir.join("memory.max")).is_ok_and(|m| m == (300u64 << 20).to_string())
    });
    assert_eq!(ctl.pids("capped"), vec![pid]);

    ctl.remove_manifest("capped.yaml");
    ctl.wait_until(SOON, "the cgroup removed after the instance exited", || {
        !dir.exists()
    });
}

#[test]
fn where_the_ceiling_is_not_available_the_app_runs_and_describe_says_why() {
    let ctl = Controller::new();
    let file = ctl.manifests.join("capped.yaml");
    ctl.write_manifest("capped.yaml", &app_with_max(&ctl, "200Mi"));
    // This host as it is: `validate` and the controller must agree.
    let warned = validate(&file, None).contains("warning");
    ctl.start();
    ctl.wait_instances("capped", 1);
    let (enforced, message) =
        wait_for(SOON, "a CgroupLimits condition", || ceiling(&ctl, "capped"));
    assert_eq!(
        enforced, !warned,
        "validate and describe disagree: {message}"
    );
    if !enforced {
        assert!(
            message.contains("not available here:")
                && message.contains("memory.limit still applies"),
            "{message}"
        );
        let describe = ctl.corral_ok(&["describe", "capped"]);
        assert!(describe.contains("CgroupUnavailable"), "{describe}");
    }
}

#[test]
fn an_instance_the_kernel_killed_at_its_ceiling_says_oom_killed() {
    let mut ctl = Controller::new();
    let root = ctl.scratch().join("cgroup");
    fake_cgroup(&root, "memory\n");
    ctl.envs
        .push(("CORRAL_CGROUP_ROOT".into(), root.display().to_string()));
    ctl.write_manifest("capped.yaml", &app_with_max(&ctl, "200Mi"));
    ctl.start();
    let pid = ctl.wait_instances("capped", 1)[&0];
    let dir = wait_for(SOON, "the instance's cgroup", || {
        // The home's folder, not a control file beside it (read_dir's order is the disk's).
        let home = fs::read_dir(root.join("corral"))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.is_dir())?;
        let dirs = fs::read_dir(home).ok()?;
        dirs.flatten().map(|e| e.path()).find(|p| p.is_dir())
    });
    // What the kernel does at memory.max: count the kill in memory.events, SIGKILL the process.
    fs::write(
        dir.join("memory.events"),
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
    )
    .unwrap();
    common::kill_pid(pid);
    let event = wait_for(SOON, "an OOMKilled event", || {
        ctl.app("capped")?
            .events
            .into_iter()
            .find(|e| e.reason == "OOMKilled")
    });
    assert!(
        event.message.contains(&format!("pid {pid}"))
            && event
                .message
                .contains("OOMKilled (memory.max 200.0Mi), then signal SIGKILL"),
        "{event:?}"
    );
    ctl.wait_instances("capped", 1); // restarted like any crash
    let status = ctl.app("capped").expect("listed");
    let last = status.instances[0].last_exit.clone().unwrap_or_default();
    assert!(last.starts_with("OOMKilled"), "{last}");
}
