//! `spec.user`, `spec.group`, `ulimits`, `nice`, `oomScoreAdjust` and `umask` through the real
//! binary, as root (CI runs as root): what the kernel says about the instance in /proc, exec
//! probes and notify readiness as the app's user, the controller's own oom_score_adj, and each
//! refusal with its location.

use crate::common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{corral_in, env_map, flow, manifest, wait_for, Controller, SOON};

/// python3 where every user can run it (the PATH of a test run may find one under /root).
const PYTHON: &str = "/usr/bin/python3";

/// An argv (YAML flow list) of a python3 that sleeps forever, with the test's token.
fn sleeper(c: &Controller) -> String {
    flow(&[PYTHON, "-c", "import time; time.sleep(100000)", &c.token])
}

/// A folder under /tmp that `nobody` can enter (0755; the fixture's temp dirs are 0700).
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("corral-confine")
        .tempdir_in("/tmp")
        .expect("tempdir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// A line of `/proc/PID/status`, after its `Key:`, trimmed.
fn status(pid: u32, key: &str) -> String {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// `/proc/PID/oom_score_adj`.
fn oom_score_adj(pid: u32) -> i32 {
    fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
        .expect("oom_score_adj")
        .trim()
        .parse()
        .expect("a number")
}

/// Soft and hard of the `/proc/PID/limits` row starting with `name`.
fn limit(pid: u32, name: &str) -> (String, String) {
    let text = fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let row = text.lines().find(|l| l.starts_with(name)).expect(name);
    let cols: Vec<&str> = row[name.len()..].split_whitespace().collect();
    (cols[0].to_owned(), cols[1].to_owned())
}

/// The gid of group `nogroup` (or whatever nobody's primary group is called here).
fn nobody_ids() -> (u32, u32) {
    let user = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("user nobody");
    (user.uid.as_raw(), user.gid.as_raw())
}

#[test]
fn an_app_as_nobody_runs_with_its_user_groups_limits_nice_oom_and_umask() {
    let dir = open_dir();
    let c = Controller::new();
    c.start();
    let spec = [
        format!("command: {}", sleeper(&c)),
        format!("cwd: {}", dir.path().display()),
        "user: nobody".into(),
        "ulimits: {nofile: {soft: 1000, hard: 2000}, nproc: 500, core: 0, memlock: 65536, stack: {soft: 4194304, hard: 8388608}}".into(),
        "nice: 7".into(),
        "oomScoreAdjust: 250".into(),
        "umask: '0027'".into(),
        "env: {SHELL: /bin/sh}".into(),
    ];
    let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
    c.write_manifest("a.yaml", &manifest("a", &spec));
    let pid = c.wait_instances("a", 1)[&0];
    let (uid, gid) = nobody_ids();
    assert_eq!(status(pid, "Uid"), format!("{uid} {uid} {uid} {uid}"));
    assert_eq!(status(pid, "Gid"), format!("{gid} {gid} {gid} {gid}"));
    assert_eq!(status(pid, "Groups"), gid.to_string(), "initgroups(nobody)");
    assert_eq!(status(pid, "Umask"), "0027");
    let env = env_map(pid);
    assert_eq!(env.get("USER").map(String::as_str), Some("nobody"));
    assert_eq!(env.get("LOGNAME").map(String::as_str), Some("nobody"));
    let home = nix::unistd::User::from_name("nobody").unwrap().unwrap().dir;
    assert_eq!(env.get("HOME").map(PathBuf::from), Some(home));
    assert_eq!(
        env.get("SHELL").map(String::as_str),
        Some("/bin/sh"),
        "env wins"
    );
    assert_eq!(limit(pid, "Max open files"), ("1000".into(), "2000".into()));
    assert_eq!(limit(pid, "Max processes"), ("500".into(), "500".into()));
    assert_eq!(limit(pid, "Max core file size"), ("0".into(), "0".into()));
    assert_eq!(
        limit(pid, "Max locked memory"),
        ("65536".into(), "65536".into())
    );
    assert_eq!(
        limit(pid, "Max stack size"),
        ("4194304".into(), "8388608".into())
    );
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    // Field 19 of stat is nice; fields 3.. follow the name.
    assert_eq!(after_name.split(' ').nth(19 - 3), Some("7"), "{stat}");
    assert_eq!(oom_score_adj(pid), 250);
    assert!(oom_score_adj(c.pid()) < oom_score_adj(pid));
    let described = c.corral(&["describe", "a"]);
    let line = format!("User:           nobody ({uid}:{gid})");
    assert!(described.stdout.contains(&line), "{}", described.stdout);
    let wide = c.corral(&["get", "-o", "wide"]);
    assert!(
        wide.stdout.contains("USER") && wide.stdout.contains(" nobody "),
        "{}",
        wide.stdout
    );
}

#[test]
fn the_controller_keeps_its_oom_score_adj_below_its_apps() {
    let c = Controller::new();
    c.start();
    let sleeper = sleeper(&c);
    c.write_manifest("b.yaml", &manifest("b", &[&format!("command: {sleeper}")]));
    let pid = c.wait_instances("b", 1)[&0];
    let own = oom_score_adj(c.pid());
    let app = oom_score_adj(pid);
    assert!(own < app, "controller {own}, app {app}");
    // Set explicitly, not inherited: 0, or the controller's plus 100 when it could not lower
    // itself (no CAP_SYS_RESOURCE in a sandbox).
    assert_eq!(app, (own + 100).clamp(0, 1000));
    if own != 0 {
        assert_eq!(own, -900, "the default --oom-score-adj");
    }
}

#[test]
fn exec_probes_and_notify_readiness_work_as_the_apps_user() {
    let dir = open_dir();
    let c = Controller::new();
    c.start();
    let (uid, _) = nobody_ids();
    let cwd = format!("cwd: {}", dir.path().display());
    let probe = flow(&["sh", "-c", &format!("test \"$(id -u)\" = {uid}")]);
    let exec = manifest(
        "probed",
        &[
            &format!("command: {}", sleeper(&c)),
            &cwd,
            "user: nobody",
            &format!("readiness: {{exec: {{command: {probe}}}, periodSeconds: 1}}"),
        ],
    );
    let notify_script = "import os, socket, sys, time; \
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); \
        s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET']); time.sleep(100000)";
    let notify = manifest(
        "notified",
        &[
            &format!(
                "command: {}",
                flow(&[PYTHON, "-c", notify_script, &c.token])
            ),
            &cwd,
            "user: nobody",
            "readiness: {notify: {}}",
        ],
    );
    c.write_manifest("probed.yaml", &exec);
    c.write_manifest("notified.yaml", &notify);
    c.wait_status("probed", "Running");
    let app = c.wait_status("notified", "Running");
    assert_eq!(app.ready, 1);
    // The socket is in a folder of its own, the user's and closed to everyone else; it goes
    // with the instance.
    let pid = c.wait_instances("notified", 1)[&0];
    let socket = PathBuf::from(&env_map(pid)["NOTIFY_SOCKET"]);
    let folder = socket.parent().unwrap().to_path_buf();
    let meta = fs::metadata(&folder).unwrap();
    assert_eq!(
        (meta.uid(), meta.permissions().mode() & 0o777),
        (uid, 0o700)
    );
    assert!(!folder.starts_with(&c.home), "{}", folder.display());
    c.remove_manifest("notified.yaml");
    c.wait_until(SOON, "the socket folder is removed", || !folder.exists());
}

#[test]
fn an_inherit_mode_app_as_nobody_gets_its_socket_and_listen_pid() {
    let dir = open_dir();
    let c = Controller::new();
    c.start();
    let port = common::web::free_port();
    c.write_manifest(
        "i.yaml",
        &manifest(
            "i",
            &[
                &format!("command: {}", sleeper(&c)),
                &format!("cwd: {}", dir.path().display()),
                "user: nobody",
                &format!("listen: [{{port: {port}, mode: inherit}}]"),
            ],
        ),
    );
    let pid = c.wait_instances("i", 1)[&0];
    let env = env_map(pid);
    assert_eq!(env.get("LISTEN_PID"), Some(&pid.to_string()));
    assert_eq!(env.get("LISTEN_FDS").map(String::as_str), Some("1"));
    assert_eq!(
        status(pid, "Uid").split(' ').next(),
        Some(nobody_ids().0.to_string().as_str())
    );
}

#[test]
fn a_cwd_the_user_cannot_enter_fails_the_start_with_a_sentence_and_validate_warns() {
    let open = open_dir();
    let closed = open.path().join("closed");
    fs::create_dir(&closed).unwrap();
    fs::set_permissions(&closed, fs::Permissions::from_mode(0o700)).unwrap();
    let c = Controller::new();
    let text = manifest(
        "shut",
        &[
            &format!("command: {}", sleeper(&c)),
            &format!("cwd: {}", closed.display()),
            "user: nobody",
        ],
    );
    c.write_manifest("shut.yaml", &text);
    let path = c.manifests.join("shut.yaml");
    let run = c.corral(&["validate", path.to_str().unwrap()]);
    assert!(run.status.success(), "a warning, not an error: {run:?}");
    let warning = format!(
        "{}:7:3: warning: user nobody ({}:{}) cannot read the cwd {}",
        path.display(),
        nobody_ids().0,
        nobody_ids().1,
        closed.display()
    );
    assert!(run.stderr.contains(&warning), "{}", run.stderr);
    c.start();
    wait_for(SOON, "the failed start's event", || {
        let described = c.corral(&["describe", "shut"]).stdout;
        described
            .contains(&format!(
                "spec.cwd: user nobody ({}:{}) cannot enter {}",
                nobody_ids().0,
                nobody_ids().1,
                closed.display()
            ))
            .then_some(())
    });
    assert!(c.instances("shut").is_empty());
}

/// Writes `text` to `dir/m.yaml` and runs `corral validate` on it; returns stderr.
fn validate(dir: &Path, text: &str) -> (bool, String) {
    let file = dir.join("m.yaml");
    fs::write(&file, text).unwrap();
    let run = corral_in(&dir.join("home"), &["validate", file.to_str().unwrap()]);
    (run.status.success(), run.stderr)
}

#[test]
fn unknown_users_and_groups_and_bad_values_are_refused_where_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("m.yaml").display().to_string();
    let app = |line: &str| manifest("a", &["command: [sleep, '1']", line]);
    let cases = [
        (
            "user: no-such-user-x",
            "7:3: spec.user: user no-such-user-x does not exist on this host",
        ),
        (
            "group: 4000000000",
            "7:3: spec.group: group 4000000000 does not exist on this host",
        ),
        (
            "nice: -21",
            "7:9: spec.nice: expected a nice value from -20 (most favoured) to 19, got -21",
        ),
        (
            "oomScoreAdjust: 1001",
            "7:19: spec.oomScoreAdjust: expected an oom_score_adj from -1000",
        ),
        (
            "umask: '0999'",
            "7:10: spec.umask: expected an octal string",
        ),
        (
            "ulimits: {nofile: {soft: 9, hard: 8}}",
            "7:13: spec.ulimits.nofile: soft limit 9 is above hard limit 8",
        ),
        (
            "ulimits: {nofile: -5}",
            "7:21: spec.ulimits.nofile: expected an integer ≥ 0, or unlimited",
        ),
    ];
    for (line, want) in cases {
        let (ok, stderr) = validate(tmp.path(), &app(line));
        assert!(!ok, "{line}: accepted");
        assert!(
            stderr.contains(&format!("{file}:{want}")),
            "{line}: {stderr}"
        );
    }
    // For another host, an unknown user is a warning.
    let text = app("user: no-such-user-x");
    fs::write(tmp.path().join("m.yaml"), &text).unwrap();
    let run = corral_in(
        &tmp.path().join("home"),
        &["validate", "--other-host", &file],
    );
    assert!(run.status.success(), "{run:?}");
    assert!(
        run.stderr
            .contains("warning: spec.user: user no-such-user-x"),
        "{}",
        run.stderr
    );
}

#[test]
fn apply_and_the_controller_refuse_an_unknown_user_at_the_field() {
    let c = Controller::new();
    c.start();
    let text = manifest(
        "ghost",
        &["command: [sleep, '100']", "user: no-such-user-x"],
    );
    let input = c.scratch().join("ghost.yaml");
    fs::write(&input, &text).unwrap();
    let applied = c.corral(&[
        "apply",
        "-f",
        input.to_str().unwrap(),
        "--manifests",
        c.manifests.to_str().unwrap(),
    ]);
    assert!(!applied.status.success(), "{applied:?}");
    assert!(
        applied.stderr.contains(&format!(
            "{}:7:3: spec.user: user no-such-user-x",
            input.display()
        )),
        "{}",
        applied.stderr
    );
    // Written by hand: the controller refuses it like any invalid manifest.
    c.write_manifest("ghost.yaml", &text);
    let problem = wait_for(SOON, "the manifest error", || {
        c.get()
            .errors
            .into_iter()
            .find(|e| e.file.ends_with("ghost.yaml"))
    });
    assert_eq!((problem.line, problem.column), (7, 3));
    assert!(
        problem.message.contains("does not exist on this host"),
        "{problem:?}"
    );
}

#[test]
fn a_controller_that_is_not_root_refuses_any_other_user() {
    let dir = open_dir();
    let file = dir.path().join("m.yaml");
    fs::write(
        &file,
        manifest("a", &["command: [sleep, '1']", "user: root"]),
    )
    .unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let (uid, gid) = nobody_ids();
    let out = Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
            common::BIN,
            "validate",
            file.to_str().unwrap(),
        ])
        .env("CORRAL_HOME", dir.path().join("home"))
        .output()
        .expect("setpriv");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let want = format!(
        "{}:7:3: spec.user: the controller runs as user nobody (uid {uid}), not root, so it can only run apps as itself",
        file.display()
    );
    assert!(stderr.contains(&want), "{stderr}");
}

#[test]
fn a_nofile_below_the_controllers_open_fds_still_starts() {
    let c = Controller::new();
    c.start();
    let own_fds = fs::read_dir(format!("/proc/{}/fd", c.pid()))
        .unwrap()
        .count();
    assert!(own_fds > 8, "the controller holds {own_fds} fds");
    let spec = [
        format!("command: {}", sleeper(&c)),
        "ulimits: {nofile: 8}".into(),
    ];
    let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
    c.write_manifest("few.yaml", &manifest("few", &spec));
    let pid = c.wait_instances("few", 1)[&0];
    assert_eq!(limit(pid, "Max open files"), ("8".into(), "8".into()));
    assert_eq!(
        oom_score_adj(pid),
        (oom_score_adj(c.pid()) + 100).clamp(0, 1000)
    );
}
