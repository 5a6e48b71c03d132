//! GitOps: a manifests directory published through a symlink swap (git-sync's
//! `--link`, Kubernetes' `..data`) is followed; a vanished one keeps the last good state with the
//! error shown; inside a git work tree the applied commit is reported.

use crate::common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use common::{manifest, Controller, SOON};

/// Points `link` at `target` atomically, as git-sync does: a new link beside it, renamed over.
fn swap_link(link: &Path, target: &str) {
    let tmp = link.with_extension("tmp-link");
    let _ = fs::remove_file(&tmp);
    symlink(target, &tmp).unwrap();
    fs::rename(&tmp, link).unwrap();
}

/// Runs `git ARGS` in `dir` (test set-up only: corral reads git with gitoxide).
fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The fixture's manifests path becomes `manifests -> current/manifests`, `current -> rev1`:
/// git-sync's layout, two symlinks deep.
fn publish(c: &Controller, revs: &[(&str, &str)]) {
    for (rev, text) in revs {
        let dir = c.scratch().join(rev).join("manifests");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("app.yaml"), text).unwrap();
    }
    fs::remove_dir(&c.manifests).unwrap();
    symlink("current/manifests", &c.manifests).unwrap();
    symlink(revs[0].0, c.scratch().join("current")).unwrap();
}

#[test]
fn a_symlink_swap_is_applied_and_the_old_app_stopped() {
    let c = Controller::new();
    let one = manifest("one", &[&format!("  command: {}", c.sleeper())]);
    let two = manifest("two", &[&format!("  command: {}", c.sleeper())]);
    publish(&c, &[("rev1", &one), ("rev2", &two)]);
    c.start();
    c.wait_instances("one", 1);
    swap_link(&c.scratch().join("current"), "rev2");
    fs::remove_dir_all(c.scratch().join("rev1")).unwrap();
    c.wait_instances("two", 1);
    c.wait_until(SOON, "app one stopped and forgotten", || {
        c.instances("one").is_empty() && c.app("one").is_none()
    });
    // The new target is watched too: an edit there is applied.
    let three = manifest("three", &[&format!("  command: {}", c.sleeper())]);
    fs::write(c.scratch().join("rev2/manifests/three.yaml"), three).unwrap();
    c.wait_instances("three", 1);
}

#[test]
fn a_vanished_directory_keeps_the_apps_running_with_the_error_shown() {
    let c = Controller::new();
    let one = manifest("one", &[&format!("  command: {}", c.sleeper())]);
    publish(&c, &[("rev1", &one)]);
    c.start();
    let before = c.wait_instances("one", 1);
    swap_link(&c.scratch().join("current"), "rev-missing");
    let app = common::wait_for(SOON, "the error in get", || {
        c.app("one").filter(|a| {
            a.error
                .as_deref()
                .is_some_and(|e| e.contains("cannot read the manifests directory"))
        })
    });
    assert!(
        app.conditions
            .iter()
            .any(|k| k.kind == "ManifestValid" && !k.status),
        "{app:?}"
    );
    assert_eq!(
        c.instances("one").keys().collect::<Vec<_>>(),
        before.values().collect::<Vec<_>>(),
        "still the same process"
    );
    let describe = c.corral(&["describe", "one"]);
    assert!(
        describe
            .stdout
            .contains("cannot read the manifests directory"),
        "{}",
        describe.stdout
    );
    assert!(
        c.stderr().contains("cannot read the manifests directory"),
        "logged"
    );
    // It comes back: the error goes.
    fs::create_dir_all(c.scratch().join("rev-missing/manifests")).unwrap();
    fs::write(c.scratch().join("rev-missing/manifests/app.yaml"), &one).unwrap();
    c.wait_until(SOON, "the error cleared", || {
        c.app("one").is_some_and(|a| a.error.is_none())
    });
}

#[test]
fn the_applied_commit_is_reported_after_a_commit_and_pull() {
    let c = Controller::new();
    // The controller reads a clone; the test commits upstream and pulls, as a timer would.
    let upstream = c.scratch().join("upstream");
    fs::create_dir_all(upstream.join("manifests")).unwrap();
    let one = manifest("one", &[&format!("  command: {}", c.sleeper())]);
    fs::write(upstream.join("manifests/one.yaml"), &one).unwrap();
    git(&upstream, &["init", "-q"]);
    git(&upstream, &["add", "."]);
    git(&upstream, &["commit", "-q", "-m", "Add one"]);
    fs::remove_dir(&c.manifests).unwrap();
    let clone = c.scratch().join("clone");
    git(
        c.scratch(),
        &[
            "clone",
            "-q",
            upstream.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    symlink(clone.join("manifests"), &c.manifests).unwrap();
    c.start();
    let first = common::wait_for(SOON, "a commit reported", || {
        c.app("one").and_then(|a| a.commit)
    });
    assert_eq!(first.subject, "Add one");
    assert!(!first.dirty);
    let app = c.app("one").unwrap();
    let synced = app
        .conditions
        .iter()
        .find(|k| k.kind == "Synced")
        .expect("Synced condition");
    assert!(
        synced.status && synced.message.contains(&first.short),
        "{synced:?}"
    );

    fs::write(
        upstream.join("manifests/one.yaml"),
        one.replace("name: one", "name: one\n  labels: {v: '2'}"),
    )
    .unwrap();
    git(&upstream, &["commit", "-q", "-am", "Label one"]);
    git(&clone, &["pull", "-q", "--ff-only"]);
    let second = common::wait_for(SOON, "the new commit reported", || {
        c.app("one")
            .and_then(|a| a.commit)
            .filter(|k| k.subject == "Label one")
    });
    assert_ne!(second.hash, first.hash);
    let wide = c.corral(&["get", "-o", "wide"]);
    assert!(
        wide.stdout.contains("COMMIT") && wide.stdout.contains(&second.short),
        "{}",
        wide.stdout
    );
    let describe = c.corral(&["describe", "one"]);
    assert!(
        describe
            .stdout
            .contains(&format!("{} \"Label one\"", second.short)),
        "{}",
        describe.stdout
    );
    let api = c.corral(&["get", "one", "-o", "json"]);
    assert!(api.stdout.contains(&second.hash), "{}", api.stdout);
    // Each commit applied is an event of the controller's own (no app), in order.
    let events = c.corral(&["events", "-o", "json"]).stdout;
    let applied: Vec<&str> = events
        .lines()
        .filter(|l| l.contains(r#""reason":"CommitApplied""#))
        .collect();
    assert!(
        applied.first().is_some_and(|l| l.contains(&first.short))
            && applied.last().is_some_and(|l| l.contains(&second.short))
            && applied.iter().all(|l| !l.contains(r#""app":"#)),
        "{events}"
    );

    // A broken manifest at a new commit: the app runs the old one, and Synced says so.
    fs::write(
        upstream.join("manifests/one.yaml"),
        "apiVersion: corral/v1\nkind: App\nmetadata: {name: one}\nspec: {}\n",
    )
    .unwrap();
    git(&upstream, &["commit", "-q", "-am", "Break one"]);
    git(&clone, &["pull", "-q", "--ff-only"]);
    c.wait_until(SOON, "Synced false", || {
        c.app("one").is_some_and(|a| {
            a.conditions
                .iter()
                .any(|k| k.kind == "Synced" && !k.status && k.message.contains("Break one"))
                && a.commit.as_ref().is_some_and(|k| k.subject == "Label one")
        })
    });
}
