//! Every failed start says why, in the app's words: the field and the fix in `describe`'s last
//! exit, a `FailedToStart` event and the controller log, and a `validate` warning (or error,
//! with file:line:column) before anything runs.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::{manifest, Controller, SOON};

fn write(path: &Path, bytes: &[u8], mode: u32) {
    std::fs::write(path, bytes).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The events of `app` with `reason` so far (`-o json` prints one object per line).
fn events(ctl: &Controller, app: &str, reason: &str) -> Vec<corral::api::Event> {
    let run = ctl.corral(&["events", app, "-o", "json"]);
    assert!(run.status.success(), "{run:?}");
    run.stdout
        .lines()
        .map(|line| serde_json::from_str::<corral::api::Event>(line).expect("an event"))
        .filter(|e| e.reason == reason)
        .collect()
}

/// The `FailedToStart` messages of `app` so far.
fn failed_to_start(ctl: &Controller, app: &str) -> Vec<String> {
    events(ctl, app, "FailedToStart")
        .into_iter()
        .map(|e| e.message)
        .collect()
}

/// Waits for `app` to have failed to start with a message containing `says`, then checks
/// `get`, `describe` and the controller log say the same.
fn assert_fails_saying(ctl: &Controller, app: &str, says: &str) {
    common::wait_for(
        SOON,
        &format!("{app} fails to start saying {says:?}"),
        || {
            failed_to_start(ctl, app)
                .iter()
                .any(|m| m.contains(says))
                .then_some(())
        },
    );
    let status = ctl.wait_status(app, "CrashLoopBackOff");
    let last_exit = status.instances[0].last_exit.clone().unwrap_or_default();
    assert!(last_exit.contains(says), "{app}: last exit {last_exit:?}");
    let describe = ctl.corral(&["describe", app]);
    assert!(describe.stdout.contains(says), "{describe:?}");
    assert!(
        ctl.stderr().contains(says),
        "the controller log says it too"
    );
}

/// `corral validate FILE`'s stderr; it must succeed (warnings only).
fn validate_warnings(ctl: &Controller, file: &str) -> String {
    let path = ctl.manifests.join(file);
    let run = ctl.corral(&["validate", path.to_str().expect("utf-8")]);
    assert!(run.status.success(), "{run:?}");
    run.stderr
}

#[test]
fn programs_that_cannot_run_are_named_with_the_fix() {
    let ctl = Controller::new();
    let dir = &ctl.manifests;
    write(
        &dir.join("interp.sh"),
        b"#!/nonexistent/python9\nprint(1)\n",
        0o755,
    );
    write(&dir.join("junk"), b"\x01\x02\x03 not a program", 0o755);
    std::fs::write(dir.join("logsfile"), "").expect("write");
    let apps: [(&str, &str, &str); 4] = [
        (
            "passwd",
            "command: [\"/etc/passwd\"]",
            "spec.command: /etc/passwd is not executable (mode 0644): make it executable with `chmod +x /etc/passwd`",
        ),
        (
            "folder",
            "command: [\"/tmp\"]",
            "spec.command: /tmp is a directory, not a program",
        ),
        (
            "interp",
            "command: [\"./interp.sh\"]",
            "starts with #!/nonexistent/python9, and /nonexistent/python9 does not exist",
        ),
        (
            "logsdir",
            "command: [\"sleep\", \"100000\"]\n  logs: {dir: logsfile}",
            "spec.logs.dir: ",
        ),
    ];
    for (app, spec, _) in apps {
        ctl.write_manifest(&format!("{app}.yaml"), &manifest(app, &[spec]));
    }
    ctl.start();
    for (app, _, says) in apps {
        assert_fails_saying(&ctl, app, says);
    }
    let logs_dir = failed_to_start(&ctl, "logsdir").join("\n");
    assert!(
        logs_dir.contains(&format!(
            "{} is not a directory, so no logs can be written",
            dir.join("logsfile").display()
        )),
        "{logs_dir}"
    );
    assert!(!logs_dir.contains("os error"), "{logs_dir}");

    // validate sees the host: a warning at the field, before anything runs.
    let warned = validate_warnings(&ctl, "passwd.yaml");
    assert!(warned.contains("passwd.yaml:6:"), "{warned}");
    assert!(
        warned.contains("warning: spec.command: /etc/passwd is not executable"),
        "{warned}"
    );
    let warned = validate_warnings(&ctl, "folder.yaml");
    assert!(
        warned.contains("warning: spec.command: /tmp is a directory"),
        "{warned}"
    );
    let warned = validate_warnings(&ctl, "interp.yaml");
    assert!(
        warned.contains("/nonexistent/python9 does not exist"),
        "{warned}"
    );
    let warned = validate_warnings(&ctl, "logsdir.yaml");
    assert!(warned.contains("logsdir.yaml:7:"), "at logs.dir: {warned}");
    assert!(warned.contains("warning: spec.logs.dir: "), "{warned}");
}

#[test]
fn an_exec_probe_whose_program_is_missing_says_so_in_events_and_describe() {
    let ctl = Controller::new();
    let command = ctl.sleeper();
    ctl.write_manifest(
        "web.yaml",
        &manifest(
            "web",
            &[
                &format!("command: {command}"),
                "readiness: {exec: {command: [\"/nonexistent/check\"]}, periodSeconds: 1, failureThreshold: 100}",
            ],
        ),
    );
    ctl.start();
    let says = "Readiness probe failed: exec /nonexistent/check: spec.readiness.exec.command: \
                /nonexistent/check does not exist";
    let unhealthy = || events(&ctl, "web", "Unhealthy");
    common::wait_for(SOON, "an Unhealthy event with the reason", || {
        unhealthy()
            .iter()
            .any(|e| e.message.starts_with(says))
            .then_some(())
    });
    let describe = ctl.corral(&["describe", "web"]);
    assert!(
        describe.stdout.contains(&format!("instance 0: {says}")),
        "{describe:?}"
    );
    // A check failing every second with the same reason is not an event every second.
    ctl.assert_stays(
        Duration::from_secs(3),
        "one event for the same reason",
        || unhealthy().len() == 1,
    );
    assert_eq!(
        ctl.app("web").expect("listed").instances[0].phase,
        "Starting"
    );

    let warned = validate_warnings(&ctl, "web.yaml");
    assert!(
        warned.contains("warning: spec.readiness.exec.command: /nonexistent/check does not exist"),
        "{warned}"
    );
    assert!(warned.contains("web.yaml:7:"), "{warned}");
}

#[test]
fn an_env_value_over_the_kernel_limit_is_named_never_shown() {
    let ctl = Controller::new();
    let dir = &ctl.manifests;
    // In the manifest: refused at validate, with its place.
    let huge = "v".repeat(131_072);
    let text = manifest(
        "inline",
        &[
            "command: [\"sleep\", \"100000\"]",
            "env:",
            &format!("  HUGE: {huge}"),
        ],
    );
    std::fs::write(dir.join("inline.yaml"), &text).expect("write");
    let run = ctl.corral(&["validate", dir.join("inline.yaml").to_str().expect("utf-8")]);
    assert!(!run.status.success(), "{run:?}");
    assert!(
        run.stderr
            .contains("inline.yaml:8:5: spec.env.HUGE: HUGE={…} takes 131078 bytes"),
        "{run:?}"
    );
    assert!(run.stderr.contains("MAX_ARG_STRLEN"), "{run:?}");
    assert!(!run.stderr.contains("vvvvvvvv"), "never the value: {run:?}");
    std::fs::remove_file(dir.join("inline.yaml")).expect("rm");

    // From an env file: the start says which variable of which file, not its value.
    write(
        &dir.join("big.env"),
        format!("SMALL=1\nSECRET_BLOB={}\n", "s".repeat(140_000)).as_bytes(),
        0o600,
    );
    // Many values each under the limit, together over ARG_MAX.
    let mut many = String::new();
    let arg_max = nix::unistd::sysconf(nix::unistd::SysconfVar::ARG_MAX)
        .expect("sysconf")
        .expect("ARG_MAX") as usize;
    for i in 0..(arg_max / 100_000 + 2) {
        many.push_str(&format!("PART_{i}={}\n", "p".repeat(100_000)));
    }
    write(&dir.join("many.env"), many.as_bytes(), 0o600);
    let sleep = "command: [\"sleep\", \"100000\"]";
    ctl.write_manifest(
        "one.yaml",
        &manifest("one", &[sleep, "envFiles: [big.env]"]),
    );
    ctl.write_manifest(
        "all.yaml",
        &manifest("all", &[sleep, "envFiles: [many.env]"]),
    );
    ctl.start();
    assert_fails_saying(
        &ctl,
        "one",
        &format!(
            "env variable SECRET_BLOB from env file {} takes 140013 bytes",
            dir.join("big.env").display()
        ),
    );
    assert_fails_saying(&ctl, "all", "over what the kernel takes at once");
    let said = failed_to_start(&ctl, "all").join("\n");
    assert!(said.contains("ARG_MAX"), "{said}");
    assert!(!ctl.stderr().contains("ssssssss"), "never the value");
    let warned = validate_warnings(&ctl, "one.yaml");
    assert!(warned.contains("one.yaml:7:"), "{warned}");
    assert!(
        warned.contains("env variable SECRET_BLOB from env file"),
        "{warned}"
    );
    assert!(!warned.contains("ssssssss"), "{warned}");
}
