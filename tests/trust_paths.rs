//! The trust rule through the real binary: an untrusted manifests directory stops the
//! controller from starting, an untrusted manifest keeps its last good version, and an untrusted
//! `cwd` or `envFiles` entry fails the start; `--allow-shared-manifests` turns it all off.
//! Tests run as root: files are chmod'ed/chown'ed to be untrusted for real.

use crate::common;

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::Path;

use common::{corral_in, manifest, Controller, SOON};

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The text of `describe APP` once it mentions `needle`.
fn describe_until(c: &Controller, app: &str, needle: &str) -> String {
    let mut last = String::new();
    c.wait_until(SOON, &format!("describe {app} says {needle:?}"), || {
        last = c.corral(&["describe", app]).stdout;
        last.contains(needle)
    });
    last
}

#[test]
fn a_group_writable_manifests_directory_stops_the_controller_from_starting() {
    let c = Controller::new();
    chmod(&c.manifests, 0o775);
    let dir = c.manifests.to_str().expect("utf-8");
    let run = corral_in(&c.home, &["controller", "--manifests", dir]);
    assert!(!run.status.success(), "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "the manifests directory {dir} is writable by its group (mode 0775)"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("`chmod g-w {dir}`")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--allow-shared-manifests"),
        "{}",
        run.stderr
    );

    let shared = Controller::with_args(&["--allow-shared-manifests"]);
    chmod(&shared.manifests, 0o777);
    shared.write_manifest(
        "a.yaml",
        &manifest("a", &[&format!("command: {}", shared.sleeper())]),
    );
    shared.start();
    shared.wait_instances("a", 1);
}

#[test]
fn a_writable_directory_above_the_manifests_is_refused_too() {
    let c = Controller::new();
    let parent = c.manifests.parent().expect("parent").to_path_buf();
    chmod(&parent, 0o757);
    let dir = c.manifests.to_str().expect("utf-8");
    let run = corral_in(&c.home, &["controller", "--manifests", dir]);
    chmod(&parent, 0o700);
    assert!(!run.status.success(), "{run:?}");
    let expected = format!(
        "{}, a directory above the manifests directory",
        parent.display()
    );
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert!(
        run.stderr.contains("writable by others (mode 0757)"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_untrusted_manifest_keeps_the_last_good_version_running() {
    let c = Controller::new();
    c.write_manifest(
        "a.yaml",
        &manifest("a", &[&format!("command: {}", c.sleeper())]),
    );
    c.start();
    let before = c.wait_instances("a", 1);
    let file = c.manifests.join("a.yaml");
    fs::write(
        &file,
        manifest("a", &[&format!("command: {}", c.sleeper()), "instances: 2"]),
    )
    .expect("write");
    chmod(&file, 0o666);
    let text = describe_until(&c, "a", "writable by its group and others");
    assert!(
        text.contains(&format!("`chmod go-w {}`", file.display())),
        "{text}"
    );
    c.assert_stays(
        std::time::Duration::from_millis(600),
        "a keeps one instance",
        || c.instances("a").keys().eq(before.values()),
    );
    if is_root() {
        chmod(&file, 0o644);
        chown(&file, Some(65534), None).expect("chown nobody");
        describe_until(&c, "a", "is owned by uid 65534");
        c.corral(&["get"]); // still answers
        chown(&file, Some(0), None).expect("chown root");
        c.wait_instances("a", 2);
    }
}

#[test]
fn an_untrusted_cwd_or_env_file_fails_the_start_until_fixed() {
    let c = Controller::new();
    let work = c.scratch().join("work");
    fs::create_dir(&work).expect("mkdir");
    chmod(&work, 0o777);
    fs::write(c.manifests.join(".env"), "X=1\n").expect("env");
    chmod(&c.manifests.join(".env"), 0o622);
    let cmd = format!("command: {}", c.sleeper());
    c.write_manifest(
        "a.yaml",
        &manifest("a", &[&cmd, &format!("cwd: {}", work.display())]),
    );
    c.write_manifest("b.yaml", &manifest("b", &[&cmd, "envFiles: [.env]"]));
    c.start();
    let text = describe_until(&c, "a", "writable by its group and others");
    assert!(
        text.contains(&format!("the cwd {}", work.display())),
        "{text}"
    );
    let text = describe_until(&c, "b", "the env file");
    assert!(text.contains("`chmod go-w"), "{text}");
    assert!(c.instances("a").is_empty() && c.instances("b").is_empty());
    chmod(&work, 0o755);
    chmod(&c.manifests.join(".env"), 0o600);
    c.wait_instances("a", 1);
    c.wait_instances("b", 1);
}

#[test]
fn a_missing_cwd_is_named_apart_from_a_missing_program() {
    let c = Controller::new();
    let gone = c.scratch().join("nonexistent");
    c.write_manifest(
        "a.yaml",
        &manifest(
            "a",
            &[
                &format!("command: {}", c.sleeper()),
                &format!("cwd: {}", gone.display()),
            ],
        ),
    );
    c.write_manifest(
        "b.yaml",
        &manifest("b", &["command: [corral-no-such-program]"]),
    );
    c.start();
    describe_until(&c, "a", &format!("cwd {} does not exist", gone.display()));
    let text = describe_until(&c, "b", "\"corral-no-such-program\" not found");
    assert!(!text.contains("cwd"), "{text}");
}

#[test]
fn a_manifests_directory_made_writable_while_running_changes_nothing_until_fixed() {
    let c = Controller::new();
    let cmd = format!("command: {}", c.sleeper());
    c.write_manifest("a.yaml", &manifest("a", &[&cmd]));
    c.start();
    let before = c.wait_instances("a", 1);
    chmod(&c.manifests, 0o777);
    c.write_manifest("a.yaml", &manifest("a", &[&cmd, "instances: 2"]));
    c.wait_until(SOON, "get lists the directory's problem", || {
        c.get().errors.iter().any(|e| {
            e.apps == ["a"]
                && e.message.contains("the manifests directory")
                && e.message.contains("chmod go-w")
        })
    });
    c.assert_stays(
        std::time::Duration::from_millis(600),
        "a keeps its one instance",
        || c.instances("a").keys().eq(before.values()),
    );
    chmod(&c.manifests, 0o755);
    c.wait_instances("a", 2);
}
