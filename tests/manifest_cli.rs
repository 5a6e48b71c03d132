//! `corral validate`, `corral schema` and `corral init`, run as the real binary.

use std::path::Path;
use std::process::{Command, Output};

const GOOD: &str = "apiVersion: corral/v1\nkind: App\nmetadata:\n  name: NAME\nspec:\n  command: [node, server.js]\n";

fn corral(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(args)
        .current_dir(dir)
        .env_remove("CORRAL_MANIFESTS")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

#[test]
fn validate_accepts_a_good_directory() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &GOOD.replace("NAME", "a"));
    let two = format!(
        "{}---\n{}",
        GOOD.replace("NAME", "b"),
        GOOD.replace("NAME", "c")
    );
    write(dir.path(), "bc.yml", &two);
    write(dir.path(), "notes.txt", "not a manifest");
    write(dir.path(), ".hidden.yaml", "garbage: [");
    let out = corral(dir.path(), &["validate", "."]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("a.yaml: ok (1 app)"), "{stdout}");
    assert!(stdout.contains("bc.yml: ok (2 apps)"), "{stdout}");
    assert!(!stdout.contains("hidden"), "{stdout}");
}

#[test]
fn validate_reports_the_location_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.yaml", &GOOD.replace("NAME", "good"));
    write(
        dir.path(),
        "bad.yaml",
        &format!("{}  instances: lots\n", GOOD.replace("NAME", "bad")),
    );
    let out = corral(dir.path(), &["validate", "good.yaml", "bad.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("good.yaml: ok (1 app)"));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "bad.yaml:7:14: spec.instances: expected an integer ≥ 0 or \"max\", got \"lots\""
        ),
        "{stderr}"
    );
}

#[test]
fn validate_reports_an_app_defined_in_two_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "one.yaml", &GOOD.replace("NAME", "web"));
    write(
        dir.path(),
        "two.yaml",
        &format!("# second copy\n{}", GOOD.replace("NAME", "web")),
    );
    let out = corral(dir.path(), &["validate", "."]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("two.yaml:5:3: metadata.name: app \"web\" is also defined in ./one.yaml:1"),
        "{stderr}"
    );
}

#[test]
fn validate_defaults_to_corral_manifests_then_manifests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("manifests")).unwrap();
    write(
        &dir.path().join("manifests"),
        "a.yaml",
        &GOOD.replace("NAME", "a"),
    );
    let out = corral(dir.path(), &["validate"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("a.yaml: ok (1 app)"));

    let other = tempfile::tempdir().unwrap();
    write(other.path(), "b.yaml", "kind: [");
    let out = Command::new(env!("CARGO_BIN_EXE_corral"))
        .arg("validate")
        .current_dir(dir.path())
        .env("CORRAL_MANIFESTS", other.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("b.yaml:2:1: YAML syntax error"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn validate_fails_on_a_missing_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = corral(dir.path(), &["validate", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("nope: no such file or directory"));
}

#[test]
fn schema_prints_the_committed_schema() {
    let dir = tempfile::tempdir().unwrap();
    let out = corral(dir.path(), &["schema"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), corral::manifest::schema_json());
}

#[test]
fn init_writes_a_valid_starter_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = corral(dir.path(), &["init"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(dir.path().join("app.yaml")).unwrap();
    assert!(written.starts_with("# yaml-language-server: $schema=../schemas/app.schema.json\n"));
    assert!(written.contains("command: [\"node\", \"server.js\"]"));
    assert!(corral(dir.path(), &["validate", "app.yaml"])
        .status
        .success());

    let again = corral(dir.path(), &["init"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("app.yaml already exists"),
        "{}",
        text(&again.stderr)
    );
    assert!(corral(dir.path(), &["init", "--force"]).status.success());
}

#[test]
fn init_takes_a_name_and_a_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = corral(
        dir.path(),
        &[
            "init",
            "api",
            "--schema-path",
            "s.json",
            "--",
            "python3",
            "-m",
            "http.server",
            "8000",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let apps = corral::manifest::parse_file(&dir.path().join("api.yaml")).unwrap();
    assert_eq!(apps[0].app.metadata.name.as_str(), "api");
    assert_eq!(
        apps[0].app.spec.command,
        corral::manifest::Command::Argv(
            ["python3", "-m", "http.server", "8000"]
                .map(String::from)
                .to_vec()
        )
    );
    let bad = corral(dir.path(), &["init", "Bad_Name"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stderr).contains("not a valid app name"));
}

#[test]
fn init_kind_job_writes_a_job_that_validates_against_the_parser_and_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let out = corral(
        dir.path(),
        &[
            "init",
            "migrate",
            "--kind",
            "job",
            "--",
            "node",
            "migrate.js",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("(job/migrate)"),
        "{}",
        text(&out.stdout)
    );
    let written = std::fs::read_to_string(dir.path().join("migrate.yaml")).unwrap();
    assert!(written.contains("kind: Job\n"), "{written}");
    let check = corral(dir.path(), &["validate", "migrate.yaml"]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(text(&check.stdout).contains("migrate.yaml: ok (1 Job)"));
    let schema: serde_json::Value = serde_json::from_str(&corral::manifest::schema_json()).unwrap();
    let doc: serde_json::Value = serde_yaml::from_str(&written).unwrap();
    assert!(jsonschema::validator_for(&schema).unwrap().is_valid(&doc));
}

#[test]
fn init_kind_cronjob_writes_a_cronjob_that_validates() {
    let dir = tempfile::tempdir().unwrap();
    let out = corral(dir.path(), &["init", "nightly", "--kind", "cronjob"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(dir.path().join("nightly.yaml")).unwrap();
    assert!(written.contains("kind: CronJob\n"), "{written}");
    let check = corral(dir.path(), &["validate", "nightly.yaml"]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(text(&check.stdout).contains("nightly.yaml: ok (1 CronJob)"));
    let schema: serde_json::Value = serde_json::from_str(&corral::manifest::schema_json()).unwrap();
    let doc: serde_json::Value = serde_yaml::from_str(&written).unwrap();
    assert!(jsonschema::validator_for(&schema).unwrap().is_valid(&doc));
}
