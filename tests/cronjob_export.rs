//! `corral export kubernetes` of a `kind: CronJob`, through the binary: a `batch/v1 CronJob`
//! read back strictly with k8s-openapi's type, its `jobTemplate` the Job export (init container
//! of a `dependsOn` included); schedules Kubernetes' cron cannot read refused at their
//! file:line:column with the fix, and nothing written.

use k8s_openapi::api::batch::v1::CronJob;
use serde::Deserialize;

use crate::common::manifest;
use crate::export_kubernetes::{export, strictly, IMAGE};

/// A CronJob manifest named `name` on `schedule`, with `spec` lines under `spec:`.
fn cronjob(name: &str, schedule: &str, spec: &[&str]) -> String {
    let mut text = format!(
        "apiVersion: corral/v1\nkind: CronJob\nmetadata:\n  name: {name}\n  labels: {{team: data}}\nspec:\n  schedule: \"{schedule}\"\n"
    );
    for line in spec {
        text.push_str(&format!("  {line}\n"));
    }
    text
}

const JOB_TEMPLATE: &str = "jobTemplate: {spec: {completions: 2, backoffLimit: 4, activeDeadlineSeconds: 600, dependsOn: [{app: db, condition: Ready}], template: {command: [node, report.js]}}}";

#[test]
fn a_cronjob_becomes_a_batch_v1_cronjob_whose_job_template_is_the_job_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = manifest(
        "db",
        &[
            "command: [sleep, '100']",
            "listen: [{port: 5432, mode: tcp}]",
        ],
    );
    std::fs::write(dir.path().join("db.yaml"), db).expect("write");
    let report = cronjob(
        "report",
        "30 3 * * 1-5",
        &[
            "timeZone: Europe/Paris",
            "concurrencyPolicy: Forbid",
            "startingDeadlineSeconds: 120",
            "suspend: true",
            "successfulJobsHistoryLimit: 5",
            "failedJobsHistoryLimit: 2",
            JOB_TEMPLATE,
        ],
    );
    std::fs::write(dir.path().join("report.yaml"), report).expect("write");
    let daily = cronjob(
        "daily",
        "@Daily",
        &["jobTemplate: {spec: {template: {command: [true]}}}"],
    );
    std::fs::write(dir.path().join("daily.yaml"), daily).expect("write");
    let out = export(&[&dir.path().display().to_string(), "--image", IMAGE]);
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert!(out.status.success(), "{stderr}");
    let mut cronjobs = std::collections::BTreeMap::new();
    for doc in serde_yaml::Deserializer::from_str(&stdout) {
        let value = serde_json::Value::deserialize(doc).expect("a YAML document");
        if value["kind"] == "CronJob" {
            let name = value["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            strictly::<CronJob>(&value, &format!("cronjob/{name}"));
            cronjobs.insert(name, value);
        }
    }
    let report = &cronjobs["report"];
    assert_eq!(report["apiVersion"], "batch/v1");
    assert_eq!(report["metadata"]["labels"]["team"], "data");
    let spec = &report["spec"];
    assert_eq!(spec["schedule"], "30 3 * * 1-5");
    assert_eq!(spec["timeZone"], "Europe/Paris");
    assert_eq!(spec["concurrencyPolicy"], "Forbid");
    assert_eq!(spec["startingDeadlineSeconds"], 120);
    assert_eq!(spec["suspend"], true);
    assert_eq!(spec["successfulJobsHistoryLimit"], 5);
    assert_eq!(spec["failedJobsHistoryLimit"], 2);
    let job = &spec["jobTemplate"]["spec"];
    assert_eq!(
        (
            &job["completions"],
            &job["backoffLimit"],
            &job["activeDeadlineSeconds"]
        ),
        (&2.into(), &4.into(), &600.into())
    );
    let pod = &job["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(
        pod["containers"][0]["command"],
        serde_json::json!(["node", "report.js"])
    );
    assert_eq!(
        pod["containers"][0]["image"],
        "registry.example.com/report:1.0"
    );
    assert_eq!(pod["initContainers"][0]["name"], "wait-for-db");
    assert_eq!(
        pod["initContainers"][0]["command"][2],
        "until nc -z db 5432; do echo waiting for db:5432; sleep 1; done"
    );
    // corral's macros are Kubernetes' descriptors, written in the lower case it matches.
    let daily = &cronjobs["daily"]["spec"];
    assert_eq!(daily["schedule"], "@daily");
    assert_eq!(daily["concurrencyPolicy"], "Allow");
    assert_eq!(daily["successfulJobsHistoryLimit"], 3);
    assert_eq!(daily["failedJobsHistoryLimit"], 1);
    assert!(daily.get("timeZone").is_none() && daily.get("suspend").is_none());
    assert!(
        stderr
            .contains("cronjob/daily: no timeZone: corral reads the schedule in this host's zone"),
        "{stderr}"
    );
    assert!(!stderr.contains("cronjob/report: no timeZone"), "{stderr}");
}

#[test]
fn schedules_kubernetes_cannot_read_are_refused_at_their_place_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tick.yaml");
    let refused = [
        (
            "*/10 * * * * *",
            "has 6 fields, seconds first: a corral extension Kubernetes' cron does not have (it takes 5: minute hour day-of-month month day-of-week); drop the seconds field (\"* * * * *\")",
        ),
        ("0 0 L * *", "has `L` in its day of month"),
        ("0 9 * * 5#2", "has `5#2` in its day of week"),
        ("0 0 * * 7", "has 7 in its day of week: Kubernetes' cron takes 0-6 (0 is Sunday); write 0 or SUN"),
    ];
    for (schedule, why) in refused {
        let text = cronjob(
            "tick",
            schedule,
            &["jobTemplate: {spec: {template: {command: [true]}}}"],
        );
        std::fs::write(&file, text).expect("write");
        let path = file.display().to_string();
        let out = export(&["-f", &path, "--image", IMAGE]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{schedule}: {stderr}");
        assert!(out.stdout.is_empty(), "{schedule}: wrote {:?}", out.stdout);
        let expected = format!("{path}:7:3: cronjob/tick: spec.schedule {schedule:?} {why}");
        assert!(
            stderr.contains(&expected),
            "{schedule}:\n{stderr}\nexpected: {expected}"
        );
    }
}
