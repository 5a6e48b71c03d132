//! Last-good and conflict rules of the store, on real files in a temp dir.

use std::fs;

use super::*;

fn strict() -> Rules {
    Rules::default()
}

fn manifest(name: &str, cmd: &str) -> String {
    format!("apiVersion: corral/v1\nkind: App\nmetadata:\n  name: {name}\nspec:\n  command: [\"{cmd}\"]\n")
}

fn command_of(store: &Store, app: &str) -> String {
    match &store.apps[app].app.spec.command {
        crate::manifest::Command::Argv(argv) => argv[0].clone(),
        crate::manifest::Command::Shell(line) => line.clone(),
    }
}

#[test]
fn loads_manifests_and_skips_other_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("a.yaml"), manifest("a", "x")).expect("write");
    fs::write(dir.path().join("b.yml"), manifest("b", "x")).expect("write");
    fs::write(dir.path().join(".hidden.yaml"), manifest("h", "x")).expect("write");
    fs::write(dir.path().join("c.yaml~"), manifest("c", "x")).expect("write");
    fs::write(dir.path().join("notes.txt"), "not yaml: [").expect("write");
    let store = Store::default().reload(dir.path(), strict()).expect("load");
    assert_eq!(store.apps.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert!(store.problems.is_empty(), "{:?}", store.problems);
}

#[test]
fn a_broken_file_keeps_the_last_good_version_of_its_apps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.yaml");
    fs::write(&file, manifest("a", "v1")).expect("write");
    let good = Store::default().reload(dir.path(), strict()).expect("load");
    fs::write(
        &file,
        "apiVersion: corral/v1\nkind: App\nmetadata: {name: a}\nspec: {command: [v2], bogus: 1}\n",
    )
    .expect("write");
    let next = good.reload(dir.path(), strict()).expect("load");
    assert_eq!(command_of(&next, "a"), "v1");
    assert_eq!(next.problems.len(), 1);
    assert_eq!(next.problems[0].apps, ["a"]);
    assert!(next.problem_for("a").is_some());
    fs::write(&file, manifest("a", "v3")).expect("write");
    let fixed = next.reload(dir.path(), strict()).expect("load");
    assert_eq!(command_of(&fixed, "a"), "v3");
    assert!(fixed.problems.is_empty());
}

#[test]
fn a_name_defined_twice_keeps_its_last_good_version_and_reports_both_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("a.yaml"), manifest("web", "v1")).expect("write");
    let good = Store::default().reload(dir.path(), strict()).expect("load");
    fs::write(dir.path().join("b.yaml"), manifest("web", "v2")).expect("write");
    let next = good.reload(dir.path(), strict()).expect("load");
    assert_eq!(command_of(&next, "web"), "v1");
    let problem = next.problem_for("web").expect("conflict reported");
    assert!(
        problem.message.contains("a.yaml") && problem.message.contains("b.yaml"),
        "{}",
        problem.message
    );
    // A new name defined twice does not run at all.
    let fresh = Store::default().reload(dir.path(), strict()).expect("load");
    assert!(fresh.apps.is_empty());
    assert_eq!(fresh.problems.len(), 1);
}

#[test]
fn a_deleted_file_removes_its_apps() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("a.yaml"), manifest("a", "v1")).expect("write");
    let good = Store::default().reload(dir.path(), strict()).expect("load");
    fs::remove_file(dir.path().join("a.yaml")).expect("rm");
    assert!(good
        .reload(dir.path(), strict())
        .expect("load")
        .apps
        .is_empty());
}

#[test]
fn a_missing_directory_is_an_error_that_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gone = dir.path().join("nope");
    let err = Store::default()
        .reload(&gone, strict())
        .expect_err("missing dir");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn an_untrusted_file_keeps_the_last_good_version_and_says_how_to_fix_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.yaml");
    fs::write(&file, manifest("a", "good")).expect("write");
    let good = Store::default().reload(dir.path(), strict()).expect("load");
    fs::write(&file, manifest("a", "evil")).expect("write");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o646)).expect("chmod");
    let next = good.reload(dir.path(), strict()).expect("load");
    assert_eq!(command_of(&next, "a"), "good");
    let p = next.problem_for("a").expect("problem");
    assert!(p.message.contains("writable by others"), "{}", p.message);
    assert!(p.message.contains("chmod o-w"), "{}", p.message);
    let shared = good
        .reload(
            dir.path(),
            Rules {
                trust: Trust::Shared,
                ..strict()
            },
        )
        .expect("load");
    assert_eq!(command_of(&shared, "a"), "evil");
    assert!(shared.problems.is_empty());
}

#[test]
fn an_untrusted_directory_changes_nothing_and_puts_its_problem_on_every_app() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("a.yaml"), manifest("a", "good")).expect("write");
    let good = Store::default().reload(dir.path(), strict()).expect("load");
    fs::write(dir.path().join("a.yaml"), manifest("a", "evil")).expect("write");
    fs::write(dir.path().join("b.yaml"), manifest("b", "evil")).expect("write");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o770)).expect("chmod");
    let next = good.reload(dir.path(), strict()).expect("load");
    assert_eq!(next.apps.keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(command_of(&next, "a"), "good");
    let p = next.problem_for("a").expect("problem");
    assert!(p.message.contains("chmod g-w"), "{}", p.message);
}

fn job(name: &str, cmd: &str) -> String {
    format!("apiVersion: corral/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n  template:\n    command: [\"{cmd}\"]\n")
}

#[test]
fn jobs_load_beside_apps_and_a_name_is_one_across_kinds() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("a.yaml"), manifest("web", "v1")).expect("write");
    fs::write(dir.path().join("b.yaml"), job("migrate", "m1")).expect("write");
    let good = Store::default().reload(dir.path(), strict()).expect("load");
    assert_eq!(good.apps.keys().collect::<Vec<_>>(), ["web"]);
    assert_eq!(good.jobs.keys().collect::<Vec<_>>(), ["migrate"]);
    // A Job named as the app: a conflict; each keeps its last good definition.
    fs::write(dir.path().join("c.yaml"), job("web", "j")).expect("write");
    let next = good.reload(dir.path(), strict()).expect("load");
    assert_eq!(command_of(&next, "web"), "v1");
    assert!(!next.jobs.contains_key("web"));
    let p = next.problem_for("web").expect("a problem");
    assert!(
        p.message.contains("defined in more than one file"),
        "{}",
        p.message
    );
    // A broken Job file keeps the Job's last good definition.
    fs::remove_file(dir.path().join("c.yaml")).expect("rm");
    fs::write(dir.path().join("b.yaml"), "kind: Job\nspec: [").expect("write");
    let broken = next.reload(dir.path(), strict()).expect("load");
    assert!(broken.jobs.contains_key("migrate"));
    assert_eq!(broken.problem_for("migrate").map(|p| p.apps.len()), Some(1));
}
