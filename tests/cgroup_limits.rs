//! Per-instance cgroups: every instance in its own group where the controller has
//! a delegated cgroup v2 subtree, carrying `cpu.max` (`spec.cpu.max`), `pids.max`
//! (`spec.pids.max`) and `memory.oom.group`; edits apply in place; figures come from the group;
//! elsewhere `validate` and `describe` say which fields cannot apply and why, and the app runs.
//! The cgroup writes are checked on a directory standing in for the controller's cgroup
//! (`CORRAL_CGROUP_ROOT`); "not available" on this host as it is. What the kernel then does
//! with these files is checked in a VM (`make test-vm`).

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{manifest, wait_for, Controller, BIN, SOON};

/// A directory laid out like a cgroup v2 group offering `controllers`.
fn fake_cgroup(dir: &Path, controllers: &str) {
    fs::create_dir_all(dir).expect("mkdir");
    fs::write(dir.join("cgroup.controllers"), controllers).expect("write");
    fs::write(dir.join("cgroup.subtree_control"), "").expect("write");
}

/// A controller whose cgroup is the fake one at `scratch/cgroup` offering `controllers`.
fn controller_in_fake_cgroup(controllers: &str, args: &[&str]) -> (Controller, PathBuf) {
    let mut ctl = Controller::with_args(args);
    let root = ctl.scratch().join("cgroup");
    fake_cgroup(&root, controllers);
    ctl.envs
        .push(("CORRAL_CGROUP_ROOT".into(), root.display().to_string()));
    (ctl, root)
}

/// An app of `instances` sleepers with `limits` lines under spec.
fn app(ctl: &Controller, name: &str, instances: u32, limits: &[&str]) -> String {
    let mut spec = vec![
        format!("command: {}", ctl.sleeper()),
        format!("instances: {instances}"),
    ];
    spec.extend(limits.iter().map(|l| l.to_string()));
    let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
    manifest(name, &spec)
}

/// The directories in `dir`.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let entries = fs::read_dir(dir).into_iter().flatten().flatten();
    entries.map(|e| e.path()).filter(|p| p.is_dir()).collect()
}

/// The folder of this controller's instance groups: `ROOT/corral/HOME`.
fn home_dir(root: &Path) -> PathBuf {
    wait_for(SOON, "the home's cgroup folder", || {
        subdirs(&root.join("corral")).into_iter().next()
    })
}

/// The cgroup directory of instance `index` of `app` under `root`, once it exists.
fn group_of(root: &Path, app: &str, index: u32) -> PathBuf {
    let prefix = format!("{app}-{index}-");
    wait_for(SOON, &format!("the cgroup of {app} {index}"), || {
        subdirs(&home_dir(root)).into_iter().find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        })
    })
}

fn read(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

/// The `CgroupLimits` condition of `app`: (status, reason, message).
fn condition(ctl: &Controller, app: &str) -> Option<(bool, String, String)> {
    let c = ctl
        .app(app)?
        .conditions
        .into_iter()
        .find(|c| c.kind == "CgroupLimits")?;
    Some((c.status, c.reason, c.message))
}

/// `corral validate FILE` with `CORRAL_CGROUP_ROOT` set to `root` (or unset): its warnings.
fn validate(file: &Path, root: Option<&Path>) -> Vec<String> {
    let mut cmd = Command::new(BIN);
    cmd.arg("validate")
        .arg(file)
        .env_remove("CORRAL_CGROUP_ROOT");
    if let Some(root) = root {
        cmd.env("CORRAL_CGROUP_ROOT", root);
    }
    let out = cmd.output().expect("run corral validate");
    assert!(out.status.success(), "a warning is not an error: {out:?}");
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("warning"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_instance_gets_a_group_with_its_limits_and_edits_apply_in_place() {
    let (ctl, root) = controller_in_fake_cgroup("cpuset cpu io memory pids\n", &[]);
    let limits = ["cpu: {max: 500m}", "pids: {max: 100}"];
    ctl.write_manifest("capped.yaml", &app(&ctl, "capped", 2, &limits));
    ctl.write_manifest("plain.yaml", &app(&ctl, "plain", 1, &[]));
    ctl.start();
    let pids = ctl.wait_instances("capped", 2);
    ctl.wait_instances("plain", 1);
    for dir in [root.clone(), root.join("corral"), home_dir(&root)] {
        assert_eq!(
            read(&dir.join("cgroup.subtree_control")).as_deref(),
            Some("+memory +pids +cpu")
        );
    }
    let groups = [group_of(&root, "capped", 0), group_of(&root, "capped", 1)];
    for dir in &groups {
        assert_eq!(
            read(&dir.join("cpu.max")).as_deref(),
            Some("50000 100000"),
            "{dir:?}"
        );
        assert_eq!(read(&dir.join("pids.max")).as_deref(), Some("100"));
        assert_eq!(read(&dir.join("memory.oom.group")).as_deref(), Some("1"));
        // The child wrote itself ("0") into cgroup.procs between fork and exec.
        assert_eq!(read(&dir.join("cgroup.procs")).as_deref(), Some("0\n"));
        assert!(!dir.join("memory.max").exists(), "no memory.max asked for");
    }
    assert_ne!(groups[0], groups[1], "one group per instance");
    // An app without limits still gets a group per instance (figures, OOM group kill).
    let plain = group_of(&root, "plain", 0);
    assert_eq!(read(&plain.join("memory.oom.group")).as_deref(), Some("1"));
    assert_eq!(read(&plain.join("cgroup.procs")).as_deref(), Some("0\n"));
    assert!(!plain.join("cpu.max").exists() && !plain.join("pids.max").exists());
    let (enforced, reason, message) = condition(&ctl, "capped").expect("a CgroupLimits condition");
    assert!(
        enforced && reason == "Enforced" && message.starts_with("cpu.max 500m, pids.max 100 "),
        "{message}"
    );
    assert!(
        condition(&ctl, "plain").is_none(),
        "no limits, no condition"
    );

    // Edits apply in place: same processes, same revision, new files.
    let revision = ctl.app("capped").expect("listed").revision;
    let edited = ["cpu: {max: 1.5}", "pids: {max: 200}"];
    ctl.write_manifest("capped.yaml", &app(&ctl, "capped", 2, &edited));
    ctl.wait_until(SOON, "cpu.max and pids.max rewritten", || {
        groups.iter().all(|d| {
            read(&d.join("cpu.max")).as_deref() == Some("150000 100000")
                && read(&d.join("pids.max")).as_deref() == Some("200")
        })
    });
    let same: std::collections::BTreeMap<u32, u32> = pids.iter().map(|(i, p)| (*p, *i)).collect();
    assert_eq!(ctl.instances("capped"), same, "the same processes");
    assert_eq!(ctl.app("capped").expect("listed").revision, revision);
    // A limit removed is lifted.
    ctl.write_manifest(
        "capped.yaml",
        &app(&ctl, "capped", 2, &["pids: {max: 200}"]),
    );
    ctl.wait_until(SOON, "cpu.max lifted", || {
        groups
            .iter()
            .all(|d| read(&d.join("cpu.max")).as_deref() == Some("max 100000"))
    });
    assert_eq!(ctl.instances("capped").len(), 2);

    ctl.remove_manifest("capped.yaml");
    ctl.remove_manifest("plain.yaml");
    ctl.wait_until(
        SOON,
        "every group removed after its instance exited",
        || groups.iter().all(|d| !d.exists()) && !plain.exists(),
    );
}

#[test]
fn figures_come_from_the_instance_cgroup() {
    let (ctl, root) =
        controller_in_fake_cgroup("cpu memory pids\n", &["--sample-interval", "100ms"]);
    ctl.write_manifest("plain.yaml", &app(&ctl, "plain", 1, &[]));
    ctl.start();
    ctl.wait_instances("plain", 1);
    let dir = group_of(&root, "plain", 0);
    // What the kernel keeps in these files, with figures no sleeper's RSS could have.
    fs::write(dir.join("memory.current"), "734003200\n").expect("write");
    fs::write(
        dir.join("cpu.stat"),
        "usage_usec 2500000\nuser_usec 2000000\n",
    )
    .expect("write");
    let status = wait_for(SOON, "the cgroup's memory.current in get", || {
        let status = ctl.app("plain")?;
        (status.instances[0].memory_bytes == Some(734_003_200)).then_some(status)
    });
    assert_eq!(status.memory_bytes, Some(734_003_200), "the app's sum too");
    // `/metrics` publishes the same sample a moment later.
    let cpu = wait_for(SOON, "cpu seconds from usage_usec in /metrics", || {
        let metrics = common::scrape::scrape_socket(&ctl.home);
        let cpu = metrics.sum("corral_instance_cpu_seconds_total", &[("app", "plain")]);
        ((cpu - 2.5).abs() < 1e-9).then_some(cpu)
    });
    assert_eq!(cpu, 2.5);
}

#[test]
fn validate_warns_at_each_field_whose_controller_is_missing_and_describe_names_them() {
    let (ctl, root) = controller_in_fake_cgroup("memory\n", &[]);
    let limits = [
        "memory: {limit: 100Mi, max: 200Mi}",
        "cpu: {max: 250m}",
        "pids:",
        "  max: 50",
    ];
    ctl.write_manifest("capped.yaml", &app(&ctl, "capped", 1, &limits));
    let file = ctl.manifests.join("capped.yaml");
    let warnings = validate(&file, Some(&root));
    let at = |line: usize, column: usize| format!("{}:{line}:{column}: warning: ", file.display());
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with(&at(9, 9))
            && warnings[0].contains(
                "CPU limit (cpu.max) not available here: the cpu controller is not delegated"
            )
            && warnings[0].ends_with("; the app runs without a CPU limit"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].starts_with(&at(11, 5))
            && warnings[1].contains(
                "process limit (pids.max) not available here: the pids controller is not delegated"
            ),
        "{warnings:?}"
    );
    ctl.start();
    let pid = ctl.wait_instances("capped", 1)[&0];
    let dir = group_of(&root, "capped", 0);
    assert_eq!(
        read(&dir.join("memory.max")).as_deref(),
        Some("209715200"),
        "memory.max still applies"
    );
    assert!(!dir.join("cpu.max").exists() && !dir.join("pids.max").exists());
    let (enforced, reason, message) = condition(&ctl, "capped").expect("a CgroupLimits condition");
    assert!(
        !enforced
            && reason == "CgroupUnavailable"
            && message.starts_with("CPU limit (cpu.max) not available here: the cpu controller")
            && message
                .contains("; process limit (pids.max) not available here: the pids controller")
            && !message.contains("memory.max"),
        "{message}"
    );
    assert!(common::alive(pid), "the app runs");
}

#[test]
fn where_cgroups_are_not_available_the_app_runs_and_validate_and_describe_say_why() {
    let ctl = Controller::new();
    let limits = ["cpu: {max: 500m}", "pids: {max: 100}"];
    ctl.write_manifest("capped.yaml", &app(&ctl, "capped", 1, &limits));
    let file = ctl.manifests.join("capped.yaml");
    // This host as it is (cgroup v1 or hybrid on the build machines; CI may differ):
    // `validate` and the controller must agree.
    let warnings = validate(&file, None);
    ctl.start();
    let pid = ctl.wait_instances("capped", 1)[&0];
    let (enforced, reason, message) = wait_for(SOON, "a CgroupLimits condition", || {
        condition(&ctl, "capped")
    });
    assert_eq!(
        enforced,
        warnings.is_empty(),
        "validate and describe disagree: {message}"
    );
    if !enforced {
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        for (warning, field) in warnings.iter().zip(["cpu.max", "pids.max"]) {
            assert!(
                warning.contains(&format!("({field}) not available here: ")),
                "{warning}"
            );
            assert!(
                message.contains(&format!("({field}) not available here: ")),
                "{message}"
            );
        }
        assert_eq!(reason, "CgroupUnavailable");
        let describe = ctl.corral_ok(&["describe", "capped"]);
        assert!(describe.contains("CgroupUnavailable"), "{describe}");
        assert!(common::alive(pid), "the app runs");
    }
}

#[test]
fn an_adopted_instance_keeps_its_group_its_limits_and_its_removal() {
    let (ctl, root) = controller_in_fake_cgroup("cpu memory pids\n", &[]);
    ctl.write_manifest(
        "capped.yaml",
        &app(&ctl, "capped", 1, &["pids: {max: 100}"]),
    );
    ctl.start();
    let pid = ctl.wait_instances("capped", 1)[&0];
    let dir = group_of(&root, "capped", 0);
    ctl.crash();
    // Edited while no controller runs: the next one writes it into the adopted group.
    ctl.write_manifest("capped.yaml", &app(&ctl, "capped", 1, &["pids: {max: 42}"]));
    ctl.start();
    ctl.wait_until(SOON, "pids.max written into the adopted group", || {
        read(&dir.join("pids.max")).as_deref() == Some("42")
    });
    assert_eq!(
        ctl.wait_instances("capped", 1)[&0],
        pid,
        "adopted, not restarted"
    );
    ctl.remove_manifest("capped.yaml");
    ctl.wait_until(SOON, "the adopted group removed", || !dir.exists());
}

#[test]
fn an_oom_kill_of_an_instance_without_memory_max_is_reported_too() {
    let (ctl, root) = controller_in_fake_cgroup("memory\n", &[]);
    ctl.write_manifest("plain.yaml", &app(&ctl, "plain", 1, &[]));
    ctl.start();
    let pid = ctl.wait_instances("plain", 1)[&0];
    let dir = group_of(&root, "plain", 0);
    // What the kernel does on a host-wide (or parent's) OOM, with memory.oom.group set: count
    // the kill in memory.events and SIGKILL every process of the group.
    fs::write(dir.join("memory.events"), "oom 1\noom_kill 1\n").expect("write");
    common::kill_pid(pid);
    let event = wait_for(SOON, "an OOMKilled event", || {
        let events = ctl.app("plain")?.events;
        events.into_iter().find(|e| e.reason == "OOMKilled")
    });
    assert!(
        event.message.contains(&format!("pid {pid}"))
            && event.message.contains("OOMKilled, then signal SIGKILL"),
        "{event:?}"
    );
}
