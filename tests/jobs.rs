//! `kind: Job` through the binary: runs to completion with back-off, a limit, a deadline,
//! parallel completions; the result recorded across controller restarts; a changed Job runs
//! again; refusals at file:line:column.

use std::fs;
use std::time::Duration;

use corral::api::JobStatus;
use nix::sys::signal::Signal;

use crate::common::{self, Controller};

const WITHIN: Duration = Duration::from_secs(20);

/// A Job manifest: `spec` lines under `spec:`, the template's command and `template` lines.
fn job(name: &str, spec: &[&str], command: &str, template: &[&str]) -> String {
    let mut text = format!("apiVersion: corral/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n");
    for line in spec {
        text.push_str(&format!("  {line}\n"));
    }
    text.push_str(&format!("  template:\n    command: {command}\n"));
    text.push_str("    backoff: {initial: 100ms, max: 400ms}\n");
    for line in template {
        text.push_str(&format!("    {line}\n"));
    }
    text
}

fn job_status(c: &Controller, name: &str) -> Option<JobStatus> {
    c.get().jobs.into_iter().find(|j| j.name == name)
}

fn wait_job(c: &Controller, name: &str, status: &str) -> JobStatus {
    common::wait_for(WITHIN, &format!("Job {name} {status}"), || {
        job_status(c, name).filter(|j| j.status == status)
    })
}

/// A script that counts its runs in `counter` and fails until its `succeed_at`-th run.
fn counting(c: &Controller, counter: &std::path::Path, succeed_at: u32) -> String {
    c.sh(&format!(
        "n=$(cat {f} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {f}; echo run $n; [ $n -ge {succeed_at} ]",
        f = counter.display()
    ))
}

fn runs_counted(counter: &std::path::Path) -> u32 {
    fs::read_to_string(counter)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_job_that_fails_twice_then_succeeds_completes_and_is_not_run_again_until_changed() {
    let c = Controller::new();
    let counter = c.scratch().join("runs");
    let text = job(
        "migrate",
        &["backoffLimit: 3"],
        &counting(&c, &counter, 3),
        &[],
    );
    c.write_manifest("migrate.yaml", &text);
    c.start();
    let done = wait_job(&c, "migrate", "Complete");
    assert_eq!((done.succeeded, done.failed, done.completions), (1, 2, 1));
    let exits: Vec<Option<&str>> = done.runs.iter().map(|r| r.exit.as_deref()).collect();
    assert_eq!(
        exits,
        [
            Some("exit code 1"),
            Some("exit code 1"),
            Some("exit code 0")
        ]
    );
    // The back-off between failed runs: 100ms, then 200ms.
    let gap = |a: usize| done.runs[a + 1].start_ms - done.runs[a].end_ms.unwrap_or(u64::MAX);
    assert!(gap(0) >= 100 && gap(1) >= 200, "{done:?}");

    let table = c.corral(&["get", "jobs"]);
    assert!(table.status.success(), "{table:?}");
    let header = table.stdout.lines().next().unwrap_or_default();
    assert!(header
        .split_whitespace()
        .eq(["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]));
    let row: Vec<&str> = table
        .stdout
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(row[..3], ["migrate", "Complete", "1/1"], "{}", table.stdout);

    let bare = c.corral(&["get", "migrate"]);
    assert!(bare.stdout.contains("Complete"), "{bare:?}");

    let described = c.corral(&["describe", "job/migrate"]);
    assert!(described.status.success(), "{described:?}");
    let runs: Vec<&str> = described
        .stdout
        .lines()
        .filter(|l| l.contains("ago"))
        .collect();
    assert!(
        described.stdout.contains("Status:         Complete"),
        "{}",
        described.stdout
    );
    let results: Vec<&str> = described
        .stdout
        .lines()
        .filter(|l| l.contains("Failed (exit code 1)") || l.contains("Succeeded (exit code 0)"))
        .collect();
    assert_eq!(results.len(), 3, "{}\n{runs:?}", described.stdout);

    let logs = c.corral(&["logs", "job/migrate", "--tail", "10"]);
    assert!(logs.status.success(), "{logs:?}");
    for n in 1..=3 {
        assert!(logs.stdout.contains(&format!("run {n}")), "{}", logs.stdout);
    }

    // A controller restart does not run the finished, unchanged Job again.
    c.signal(Signal::SIGTERM);
    c.wait_exit(WITHIN);
    assert!(c.home.join("jobs.json").is_file());
    c.start();
    assert_eq!(wait_job(&c, "migrate", "Complete").runs.len(), 3);
    c.assert_stays(Duration::from_millis(1500), "no new run", || {
        runs_counted(&counter) == 3
    });

    // A changed Job runs again (and succeeds at once: the counter is past 3).
    let changed = job(
        "migrate",
        &["backoffLimit: 3"],
        &counting(&c, &counter, 3),
        &["env: {V: \"2\"}"],
    );
    c.write_manifest("migrate.yaml", &changed);
    common::wait_for(WITHIN, "the changed Job's run", || {
        (runs_counted(&counter) == 4).then_some(())
    });
    let again = wait_job(&c, "migrate", "Complete");
    assert_eq!((again.succeeded, again.failed, again.runs.len()), (1, 0, 1));

    // Deleting the manifest forgets the Job.
    c.remove_manifest("migrate.yaml");
    common::wait_for(WITHIN, "the Job forgotten", || {
        job_status(&c, "migrate").is_none().then_some(())
    });
}

#[test]
fn a_job_that_never_succeeds_fails_after_its_back_off_limit() {
    let c = Controller::new();
    let text = job(
        "broken",
        &["backoffLimit: 1"],
        &c.sh("echo nope >&2; exit 7"),
        &[],
    );
    c.write_manifest("broken.yaml", &text);
    c.start();
    let failed = wait_job(&c, "broken", "Failed");
    assert_eq!(failed.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(
        (failed.succeeded, failed.failed, failed.runs.len()),
        (0, 2, 2)
    );
    assert!(failed
        .runs
        .iter()
        .all(|r| r.exit.as_deref() == Some("exit code 7")));
    c.assert_stays(Duration::from_millis(800), "no third run", || {
        job_status(&c, "broken").is_some_and(|j| j.runs.len() == 2)
    });
    let events = c.corral(&["events"]);
    assert!(events.stdout.contains("JobFailed"), "{}", events.stdout);
}

#[test]
fn completions_run_at_most_parallelism_at_once() {
    let c = Controller::new();
    let text = job(
        "batch",
        &["completions: 3", "parallelism: 2"],
        &c.sh("sleep 0.6"),
        &[],
    );
    c.write_manifest("batch.yaml", &text);
    c.start();
    let done = wait_job(&c, "batch", "Complete");
    assert_eq!((done.succeeded, done.runs.len()), (3, 3));
    let overlapping = |a: &corral::api::JobRun, b: &corral::api::JobRun| {
        a.start_ms < b.end_ms.unwrap_or(u64::MAX) && b.start_ms < a.end_ms.unwrap_or(u64::MAX)
    };
    let r = &done.runs;
    assert!(overlapping(&r[0], &r[1]), "two at once: {r:?}");
    assert!(
        !(overlapping(&r[0], &r[2]) && overlapping(&r[1], &r[2])),
        "never three at once: {r:?}"
    );
}

#[test]
fn the_active_deadline_stops_a_long_run_and_fails_the_job() {
    let c = Controller::new();
    let text = job(
        "slow",
        &["activeDeadlineSeconds: 1"],
        &c.sh("sleep 100"),
        &["stop: {timeout: 1s}"],
    );
    c.write_manifest("slow.yaml", &text);
    c.start();
    let failed = wait_job(&c, "slow", "Failed");
    assert_eq!(failed.reason.as_deref(), Some("DeadlineExceeded"));
    assert_eq!(failed.failed, 0);
    let done = common::wait_for(WITHIN, "the run stopped", || {
        job_status(&c, "slow").filter(|j| j.runs.iter().all(|r| r.end_ms.is_some()))
    });
    assert_eq!(done.runs[0].exit.as_deref(), Some("signal SIGTERM"));
    let ran = done.runs[0].end_ms.unwrap_or(0) - done.runs[0].start_ms;
    assert!((900..5000).contains(&ran), "ran {ran} ms");
    assert!(c.processes().is_empty(), "{:?}", c.processes());
}

#[test]
fn job_refusals_point_at_file_line_and_column() {
    let c = Controller::new();
    let bad = job("bad", &[], "[sh]", &["listen: [{port: 8080}]"]);
    c.write_manifest("bad.yaml", &bad);
    let run = c.corral(&["validate", c.manifests.to_str().unwrap_or_default()]);
    assert!(!run.status.success());
    assert!(
        run.stderr
            .contains("bad.yaml:9:5: spec.template.listen: a Job's template has no `listen`"),
        "{}",
        run.stderr
    );
    c.remove_manifest("bad.yaml");
    c.write_manifest("web.yaml", &common::manifest("web", &["command: [sh]"]));
    c.write_manifest("job.yaml", &job("web", &[], "[sh]", &[]));
    let run = c.corral(&["validate", c.manifests.to_str().unwrap_or_default()]);
    assert!(!run.status.success());
    assert!(
        run.stderr
            .contains("web.yaml:4:3: metadata.name: app \"web\" is also defined as a Job in"),
        "{}",
        run.stderr
    );
}

#[test]
fn export_kubernetes_writes_a_batch_v1_job() {
    let c = Controller::new();
    let text = job(
        "migrate",
        &[
            "completions: 2",
            "parallelism: 2",
            "backoffLimit: 4",
            "activeDeadlineSeconds: 60",
            "ttlSecondsAfterFinished: 30",
        ],
        "[node, migrate.js]",
        &[],
    );
    c.write_manifest("migrate.yaml", &text);
    let dir = c.manifests.to_str().unwrap_or_default();
    let out = crate::export_kubernetes::export(&["--image", crate::export_kubernetes::IMAGE, dir]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: serde_json::Value = serde_yaml::from_str(&stdout).unwrap();
    crate::export_kubernetes::strictly::<k8s_openapi::api::batch::v1::Job>(&doc, "job/migrate");
    assert_eq!(doc["apiVersion"], "batch/v1");
    assert_eq!(doc["kind"], "Job");
    let spec = &doc["spec"];
    assert_eq!(
        (
            &spec["completions"],
            &spec["parallelism"],
            &spec["backoffLimit"]
        ),
        (&2.into(), &2.into(), &4.into())
    );
    assert_eq!(spec["activeDeadlineSeconds"], 60);
    assert_eq!(spec["ttlSecondsAfterFinished"], 30);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(
        pod["containers"][0]["command"],
        serde_json::json!(["node", "migrate.js"])
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("job/migrate: template.backoff is not exported"),
        "{stderr}"
    );
}

#[test]
fn delete_job_name_removes_its_document_and_the_job_is_forgotten() {
    let c = Controller::new();
    let app = common::manifest("web", &[&format!("command: {}", c.sleeper())]);
    let text = format!("{app}---\n{}", job("once", &[], &c.sh("exit 0"), &[]));
    c.write_manifest("both.yaml", &text);
    c.start();
    wait_job(&c, "once", "Complete");
    let dir = c.manifests.to_str().unwrap_or_default();
    let out = c.corral(&["delete", "job/once", "--manifests", dir]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout.trim(), "job/once deleted");
    let left = fs::read_to_string(c.manifests.join("both.yaml")).unwrap_or_default();
    assert!(
        left.contains("name: web") && !left.contains("kind: Job"),
        "{left}"
    );
    common::wait_for(WITHIN, "the Job forgotten", || {
        job_status(&c, "once").is_none().then_some(())
    });
    assert!(c.app("web").is_some());
}

#[test]
fn a_suspended_job_starts_no_run_until_resumed_and_a_ttl_forgets_it() {
    let c = Controller::new();
    let counter = c.scratch().join("runs");
    let spec = ["suspend: true", "ttlSecondsAfterFinished: 1"];
    c.write_manifest(
        "later.yaml",
        &job("later", &spec, &counting(&c, &counter, 1), &[]),
    );
    c.start();
    wait_job(&c, "later", "Suspended");
    c.assert_stays(Duration::from_millis(600), "no run while suspended", || {
        runs_counted(&counter) == 0
    });
    let resumed = ["suspend: false", "ttlSecondsAfterFinished: 1"];
    c.write_manifest(
        "later.yaml",
        &job("later", &resumed, &counting(&c, &counter, 1), &[]),
    );
    wait_job(&c, "later", "Complete");
    assert!(c.home.join("logs/later").is_dir());
    // A second after it finished: no longer listed, its logs gone, and it does not run again.
    common::wait_for(WITHIN, "the Job forgotten after its TTL", || {
        job_status(&c, "later").is_none().then_some(())
    });
    common::wait_for(WITHIN, "its logs removed", || {
        (!c.home.join("logs/later").exists()).then_some(())
    });
    c.assert_stays(Duration::from_millis(600), "no second run", || {
        runs_counted(&counter) == 1
    });
}
