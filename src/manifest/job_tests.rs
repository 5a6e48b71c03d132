//! Parsing and validating Jobs: defaults, refused template fields, errors at file:line:column.

use std::path::Path;

use super::*;
use crate::manifest::{parse_all, ManifestError, Parsed};

const JOB: &str = "\
apiVersion: corral/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    command: [node, migrate.js]
";

fn parse(text: &str) -> Result<Parsed, ManifestError> {
    parse_all(Path::new("f.yaml"), text)
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn a_job_takes_kubernetes_defaults() {
    let parsed = parse(JOB).unwrap();
    assert!(parsed.apps.is_empty());
    let spec = &parsed.jobs[0].job.spec;
    assert_eq!(
        (spec.completions, spec.parallelism, spec.backoff_limit),
        (1, 1, 6)
    );
    assert_eq!(spec.active_deadline_seconds, None);
    assert_eq!(spec.ttl_seconds_after_finished, None);
    assert!(!spec.suspend);
    let app = parsed.jobs[0].template_app();
    assert_eq!(app.app.metadata.name.as_str(), "migrate");
    assert_eq!(app.app.kind, Kind::App);
}

#[test]
fn app_fields_meaningless_for_a_job_are_refused_where_written() {
    for (field, line) in [
        ("listen: [{port: 8080}]", "listen"),
        ("instances: 2", "instances"),
        ("restartPolicy: Never", "restartPolicy"),
        ("readiness: {tcp: {port: 1}}", "readiness"),
        ("dependsOn: [{app: db}]", "dependsOn"),
    ] {
        let text = format!("{JOB}    {field}\n");
        let e = err(&text);
        assert!(
            e.starts_with(&format!(
                "f.yaml:8:5: spec.template.{line}: a Job's template has no `{line}`"
            )),
            "{e}"
        );
    }
}

#[test]
fn template_checks_point_under_spec_template() {
    let text = format!("{JOB}    backoff: {{initial: 2s, max: 1s}}\n");
    let e = err(&text);
    assert!(e.contains("spec.template.backoff"), "{e}");
    assert!(e.starts_with("f.yaml:8:"), "{e}");
    let e = err(&JOB.replace("spec:\n", "spec:\n  completions: 0\n"));
    assert!(
        e.starts_with("f.yaml:6:16: spec.completions: expected an integer ≥ 1"),
        "{e}"
    );
    let e = err(&JOB.replace("spec:\n", "spec:\n  paralelism: 2\n"));
    assert!(
        e.starts_with("f.yaml:6:3: spec: unknown field `paralelism`"),
        "{e}"
    );
    assert!(e.contains("did you mean `parallelism`?"), "{e}");
    let e = err(&JOB.replace("  template:\n    command: [node, migrate.js]\n", ""));
    assert!(
        e.starts_with("f.yaml:5:1: spec: missing field `template`"),
        "{e}"
    );
}

#[test]
fn names_are_unique_across_kinds_in_a_file() {
    let app = JOB.replace("kind: Job", "kind: App").replace(
        "  template:\n    command: [node, migrate.js]\n",
        "  command: [node]\n",
    );
    let text = format!("{app}---\n{JOB}");
    let e = err(&text);
    assert!(
        e.starts_with(
            "f.yaml:11:3: metadata.name: Job \"migrate\" is already defined in this file at line 1"
        ),
        "{e}"
    );
}

#[test]
fn a_changed_run_changes_the_revision_and_a_ttl_does_not() {
    let spec = |text: &str| parse(text).unwrap().jobs.remove(0).job.spec;
    let base = spec(JOB).revision();
    let ttl = spec(&JOB.replace("spec:\n", "spec:\n  ttlSecondsAfterFinished: 5\n"));
    assert_eq!(ttl.revision(), base);
    let more = spec(&JOB.replace("spec:\n", "spec:\n  completions: 2\n"));
    assert_ne!(more.revision(), base);
    let other = spec(&JOB.replace("migrate.js", "other.js"));
    assert_ne!(other.revision(), base);
}

#[test]
fn unknown_kinds_say_which_exist() {
    let e = err(&JOB.replace("kind: Job", "kind: Deployment"));
    assert!(
        e.starts_with("f.yaml:2:7: kind must be App, Job or CronJob, got \"Deployment\""),
        "{e}"
    );
}
