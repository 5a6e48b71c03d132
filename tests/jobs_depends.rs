//! A Job's own `spec.dependsOn` through the binary: the Job waits (`Waiting`, with the reason
//! in `get jobs` and `describe`) until an app that takes ~2 s to turn ready has its Ready event,
//! then runs; the refusals of `validate` and `apply` (unknown name with did-you-mean, a cycle
//! across kinds, `restart: true`, a CronJob's `jobTemplate`).

use std::time::Duration;

use corral::api::JobStatus;

use crate::common::web::free_port;
use crate::common::{first_event, flow, manifest, Controller};

const WITHIN: Duration = Duration::from_secs(20);

/// A python app that opens `port` 2 s after it starts (and is ready then: a tcp probe).
fn slow_db(ctl: &Controller, port: u16) -> String {
    let script = "import socket, sys, time\ntime.sleep(2)\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('127.0.0.1', int(sys.argv[1])))\ns.listen()\nwhile True: time.sleep(1)\n";
    let db = flow(&["python3", "-c", script, &port.to_string(), &ctl.token]);
    manifest(
        "db",
        &[
            &format!("command: {db}"),
            &format!("readiness: {{tcp: {{port: {port}}}, periodSeconds: 1}}"),
        ],
    )
}

/// A Job manifest: `deps` is the flow list of its `dependsOn`.
fn job(name: &str, deps: &str, command: &str) -> String {
    format!(
        "apiVersion: corral/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n  dependsOn: {deps}\n  template:\n    command: {command}\n"
    )
}

fn job_status(ctl: &Controller, name: &str) -> Option<JobStatus> {
    ctl.get().jobs.into_iter().find(|j| j.name == name)
}

#[test]
fn a_job_runs_only_after_its_dependency_is_ready_and_waits_with_the_reason() {
    let ctl = Controller::new();
    ctl.write_manifest("db.yaml", &slow_db(&ctl, free_port()));
    let ran = ctl.scratch().join("ran");
    let command = ctl.sh(&format!("date +%s%3N > {}", ran.display()));
    ctl.write_manifest(
        "migrate.yaml",
        &job("migrate", "[{app: db, condition: Ready}]", &command),
    );
    ctl.start();

    let waiting = crate::common::wait_for(WITHIN, "migrate Waiting", || {
        job_status(&ctl, "migrate").filter(|j| j.status == "Waiting")
    });
    assert_eq!(
        waiting.reason.as_deref(),
        Some("waiting for db to be Ready")
    );
    assert!(waiting.runs.is_empty(), "{waiting:?}");
    let get = ctl.corral(&["get", "jobs"]).stdout;
    assert!(
        get.lines()
            .any(|l| l.starts_with("migrate ") && l.contains("Waiting")),
        "{get}"
    );
    let describe = ctl.corral(&["describe", "job/migrate"]).stdout;
    assert!(
        describe.contains("Waiting (waiting for db to be Ready)"),
        "{describe}"
    );
    assert!(!ran.exists(), "the Job ran before db was ready");

    let done = crate::common::wait_for(WITHIN, "migrate Complete", || {
        job_status(&ctl, "migrate").filter(|j| j.status == "Complete")
    });
    assert_eq!((done.succeeded, done.runs.len()), (1, 1));
    let all = ctl.events();
    let db_started = first_event(&all, "db", "Started").expect("db's Started event");
    let db_ready = first_event(&all, "db", "Ready").expect("db's Ready event");
    let job_started = first_event(&all, "migrate", "JobStarted").expect("the JobStarted event");
    assert!(
        job_started.seq > db_ready.seq && job_started.at_ms >= db_ready.at_ms,
        "the Job started after db's Ready: {job_started:?} vs {db_ready:?}"
    );
    assert!(
        done.runs[0].start_ms >= db_started.at_ms + 2000,
        "db took 2 s to be ready: run at {}, db started at {}",
        done.runs[0].start_ms,
        db_started.at_ms
    );
    let wait = first_event(&all, "migrate", "Waiting").expect("a Waiting event");
    assert_eq!(wait.message, "waiting for db to be Ready");
    let met = first_event(&all, "migrate", "DependenciesMet").expect("a DependenciesMet event");
    assert!(wait.seq < met.seq && met.seq < job_started.seq);
}

#[test]
fn validate_and_apply_refuse_unknown_names_cycles_and_restart_on_a_job() {
    let ctl = Controller::new();
    let dir = ctl.scratch().join("check");
    std::fs::create_dir(&dir).expect("dir");
    let d = dir.display().to_string();
    let write = |file: &str, text: &str| std::fs::write(dir.join(file), text).expect("write");
    let validate = || ctl.corral(&["validate", &d]);
    write("db.yaml", &manifest("db", &["command: [sleep, '100']"]));

    // An unknown name, with the closest one.
    write(
        "job.yaml",
        &job("migrate", "[{app: dbb, condition: Ready}]", "[true]"),
    );
    let run = validate();
    assert!(!run.status.success());
    assert!(
        run.stderr.contains("job.yaml:6:") && run.stderr.contains(
            "spec.dependsOn[0].app: there is no app \"dbb\" in the manifests directory; did you mean `db`?"
        ),
        "{}",
        run.stderr
    );

    // A cycle across kinds: api waits for the Job, the Job for api.
    write(
        "job.yaml",
        &job("migrate", "[{app: api, condition: Ready}]", "[true]"),
    );
    write(
        "api.yaml",
        &manifest(
            "api",
            &[
                "command: [sleep, '100']",
                "dependsOn: [{app: migrate, condition: Completed}]",
            ],
        ),
    );
    let run = validate();
    assert!(!run.status.success());
    assert!(
        run.stderr.contains("api.yaml:7:")
            && run
                .stderr
                .contains("dependency cycle api -> migrate -> api: none of these could ever start"),
        "{}",
        run.stderr
    );

    // apply: the Job that would close the cycle is refused, nothing is written.
    let into = ctl.scratch().join("into");
    std::fs::create_dir(&into).expect("dir");
    let t = into.display().to_string();
    std::fs::copy(dir.join("api.yaml"), into.join("api.yaml")).expect("copy");
    let job_file = dir.join("job.yaml").display().to_string();
    let run = ctl.corral(&["apply", "-f", &job_file, "--manifests", &t]);
    assert!(!run.status.success(), "{run:?}");
    assert!(run.stderr.contains("dependency cycle"), "{}", run.stderr);
    assert!(!into.join("migrate.yaml").exists());
    std::fs::remove_file(dir.join("api.yaml")).expect("rm");

    // `restart: true` is not supported for a Job: refused at its key.
    write(
        "job.yaml",
        &job(
            "migrate",
            "[{app: db, condition: Ready, restart: true}]",
            "[true]",
        ),
    );
    let run = validate();
    assert!(!run.status.success());
    assert!(
        run.stderr.contains("job.yaml:6:")
            && run.stderr.contains(
                "spec.dependsOn[0].restart: `restart: true` is not supported yet for a Job"
            ),
        "{}",
        run.stderr
    );

    // A CronJob's jobTemplate: checked at its own path; and nothing may wait for a CronJob.
    std::fs::remove_file(dir.join("job.yaml")).expect("rm");
    write(
        "report.yaml",
        "apiVersion: corral/v1\nkind: CronJob\nmetadata:\n  name: report\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      dependsOn:\n        - {app: dbx, condition: Ready}\n      template:\n        command: [true]\n",
    );
    let run = validate();
    assert!(!run.status.success());
    assert!(
        run.stderr.contains("report.yaml:10:") && run.stderr.contains(
            "spec.jobTemplate.spec.dependsOn[0].app: there is no app \"dbx\" in the manifests directory; did you mean `db`?"
        ),
        "{}",
        run.stderr
    );
    write(
        "report.yaml",
        "apiVersion: corral/v1\nkind: CronJob\nmetadata:\n  name: report\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      dependsOn:\n        - {app: db, condition: Ready}\n      template:\n        command: [true]\n",
    );
    let run = validate();
    assert!(run.status.success(), "{run:?}");
    write(
        "api.yaml",
        &manifest(
            "api",
            &["command: [sleep, '100']", "dependsOn: [{app: report}]"],
        ),
    );
    let run = validate();
    assert!(!run.status.success());
    assert!(
        run.stderr
            .contains("spec.dependsOn[0].app: \"report\" is a CronJob, which nothing can wait for"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_job_waiting_for_a_job_starts_as_soon_as_that_one_completes() {
    let ctl = Controller::new();
    let first_job = job("schema", "[]", &ctl.sh("sleep 0.5"));
    ctl.write_manifest("schema.yaml", &first_job.replace("  dependsOn: []\n", ""));
    ctl.write_manifest(
        "migrate.yaml",
        &job("migrate", "[{app: schema, condition: Completed}]", "[true]"),
    );
    ctl.start();
    crate::common::wait_for(WITHIN, "migrate Complete", || {
        job_status(&ctl, "migrate").filter(|j| j.status == "Complete")
    });
    let all = ctl.events();
    let done = first_event(&all, "schema", "JobCompleted").expect("schema's JobCompleted event");
    let started = first_event(&all, "migrate", "JobStarted").expect("migrate's JobStarted event");
    let waited = first_event(&all, "migrate", "Waiting").expect("migrate's Waiting event");
    assert!(
        waited
            .message
            .starts_with("waiting for schema to be Completed"),
        "{waited:?}"
    );
    assert!(started.seq > done.seq, "{started:?} after {done:?}");
    // At once, not at the next 30 s resync.
    assert!(
        started.at_ms - done.at_ms < 1000,
        "migrate started {} ms after schema completed",
        started.at_ms - done.at_ms
    );
}
