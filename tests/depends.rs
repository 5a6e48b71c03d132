//! `spec.dependsOn` through the real binary: a dependent starts after its dependency's Ready
//! event, waits with the reason meanwhile, unrelated apps start at once, shutdown goes in
//! reverse order; a missing dependency at run time; `restart: true`; the refusals of
//! `validate` and `apply`.

use std::time::Duration;

use crate::common::web::free_port;
use crate::common::{first_event, flow, manifest, Controller, SOON};

/// A python app: turns ready (opens `port`, when not 0) `ready_after` seconds after it
/// starts; on SIGTERM it waits `exit_delay` seconds, appends its name to `out`, and exits.
/// `out.NAME` exists once it handles SIGTERM.
const APP: &str = r#"
import signal, socket, sys, time
name, out, port, ready_after, exit_delay = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
def term(*_):
    time.sleep(exit_delay)
    with open(out, 'a') as f:
        f.write(name + '\n')
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
open(out + '.' + name, 'w').close()
time.sleep(ready_after)
if port:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', port))
    s.listen()
while True:
    time.sleep(1)
"#;

/// The argv of [`APP`] as `name`.
fn app(ctl: &Controller, name: &str, port: u16, ready_after: f64, exit_delay: f64) -> String {
    let out = ctl.scratch().join("stopped");
    flow(&[
        "python3",
        "-c",
        APP,
        name,
        &out.display().to_string(),
        &port.to_string(),
        &ready_after.to_string(),
        &exit_delay.to_string(),
        &ctl.token,
    ])
}

/// Writes `db`: it opens a free port 2 s after it starts, and is ready (a tcp probe) then.
fn write_db(ctl: &Controller) {
    let port = free_port();
    let db = app(ctl, "db", port, 2.0, 0.0);
    ctl.write_manifest(
        "db.yaml",
        &manifest(
            "db",
            &[
                &format!("command: {db}"),
                &format!("readiness: {{tcp: {{port: {port}}}, periodSeconds: 1}}"),
            ],
        ),
    );
}

#[test]
fn a_dependent_starts_after_the_ready_event_and_stops_first() {
    let ctl = Controller::new();
    // db turns ready 2 s after it starts; api needs it Ready, front needs api Started;
    // other has no relation. On SIGTERM, front takes 0.5 s to go: without the order, api and
    // db would be gone before it.
    write_db(&ctl);
    let api = app(&ctl, "api", 0, 0.0, 0.2);
    ctl.write_manifest(
        "api.yaml",
        &manifest(
            "api",
            &[
                &format!("command: {api}"),
                "dependsOn: [{app: db, condition: Ready}]",
            ],
        ),
    );
    let front = app(&ctl, "front", 0, 0.0, 0.5);
    ctl.write_manifest(
        "front.yaml",
        &manifest(
            "front",
            &[&format!("command: {front}"), "dependsOn: [{app: api}]"],
        ),
    );
    let other = app(&ctl, "other", 0, 0.0, 0.0);
    ctl.write_manifest(
        "other.yaml",
        &manifest("other", &[&format!("command: {other}")]),
    );
    ctl.start();

    // While db is not ready: api and front wait, with the reason.
    let api_status = ctl.wait_status("api", "Waiting");
    let cond = api_status
        .conditions
        .iter()
        .find(|c| c.kind == "DependenciesMet")
        .expect("a DependenciesMet condition");
    assert!(!cond.status);
    assert_eq!(cond.message, "waiting for db to be Ready");
    let describe = ctl.corral(&["describe", "front"]);
    assert!(
        describe.stdout.contains("waiting for api to be Started"),
        "{}",
        describe.stdout
    );
    let get = ctl.corral(&["get"]).stdout;
    assert!(
        get.lines()
            .any(|l| l.starts_with("api ") && l.contains("Waiting")),
        "{get}"
    );
    assert!(ctl.instances("api").is_empty(), "api started too early");

    ctl.wait_status("front", "Running");
    let all = ctl.events();
    let db_ready = first_event(&all, "db", "Ready").expect("db's Ready event");
    let db_started = first_event(&all, "db", "Started").expect("db's Started event");
    let api_started = first_event(&all, "api", "Started").expect("api's Started event");
    let front_started = first_event(&all, "front", "Started").expect("front's Started event");
    let other_started = first_event(&all, "other", "Started").expect("other's Started event");
    assert!(
        api_started.seq > db_ready.seq && api_started.at_ms >= db_ready.at_ms,
        "api started after db's Ready: {api_started:?} vs {db_ready:?}"
    );
    assert!(
        api_started.at_ms >= db_started.at_ms + 2000,
        "db took 2 s to be ready"
    );
    assert!(front_started.seq > api_started.seq);
    // No relation: other starts with db, long before db is ready.
    assert!(
        other_started.seq < db_ready.seq && other_started.at_ms < db_started.at_ms + 1000,
        "other started at once: {other_started:?} vs {db_started:?}"
    );
    assert!(first_event(&all, "api", "Waiting").is_some_and(|e| e.message.contains("db")));
    assert!(first_event(&all, "api", "DependenciesMet").is_some());

    // Shutdown: front (and other) first, then api once front has exited, then db.
    let out = ctl.scratch().join("stopped");
    ctl.wait_until(SOON, "every app handles SIGTERM", || {
        ["db", "api", "front", "other"]
            .iter()
            .all(|n| out.with_extension(n).exists())
    });
    ctl.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(ctl.wait_exit(SOON).success());
    let order = std::fs::read_to_string(ctl.scratch().join("stopped")).expect("stop records");
    let order: Vec<&str> = order.lines().filter(|l| *l != "other").collect();
    assert_eq!(order, ["front", "api", "db"], "reverse dependency order");
}

#[test]
fn without_a_relation_both_start_at_once() {
    let ctl = Controller::new();
    write_db(&ctl);
    let api = app(&ctl, "api", 0, 0.0, 0.0);
    ctl.write_manifest("api.yaml", &manifest("api", &[&format!("command: {api}")]));
    ctl.start();
    ctl.wait_status("db", "Running");
    let all = ctl.events();
    let db_ready = first_event(&all, "db", "Ready").expect("db's Ready event");
    let api_started = first_event(&all, "api", "Started").expect("api's Started event");
    assert!(
        api_started.seq < db_ready.seq,
        "{api_started:?} {db_ready:?}"
    );
}

#[test]
fn a_missing_dependency_waits_and_restart_true_follows_it() {
    let ctl = Controller::new();
    let cmd = ctl.sleeper();
    let db = manifest("db", &[&format!("command: {cmd}")]);
    ctl.write_manifest("db.yaml", &db);
    ctl.write_manifest(
        "api.yaml",
        &manifest(
            "api",
            &[
                &format!("command: {cmd}"),
                "dependsOn: [{app: db, restart: true}]",
            ],
        ),
    );
    ctl.write_manifest(
        "worker.yaml",
        &manifest(
            "worker",
            &[&format!("command: {cmd}"), "dependsOn: [{app: db}]"],
        ),
    );
    // Written past `validate`: a dependency nobody defines.
    ctl.write_manifest(
        "lost.yaml",
        &manifest(
            "lost",
            &[&format!("command: {cmd}"), "dependsOn: [{app: ghost}]"],
        ),
    );
    ctl.start();
    ctl.wait_status("api", "Running");
    ctl.wait_status("worker", "Running");
    let lost = ctl.wait_status("lost", "Waiting");
    assert!(
        lost.conditions
            .iter()
            .any(|c| c.message.contains("there is no app \"ghost\"")),
        "{:?}",
        lost.conditions
    );
    ctl.wait_instances("worker", 1);
    let worker = ctl.instances("worker");

    // db's manifest goes: api (restart: true) is stopped and waits; worker runs on.
    ctl.remove_manifest("db.yaml");
    let api = ctl.wait_status("api", "Waiting");
    assert!(
        api.conditions
            .iter()
            .any(|c| c.message.contains("there is no app \"db\"")),
        "{:?}",
        api.conditions
    );
    ctl.wait_until(SOON, "api's instance is stopped", || {
        ctl.instances("api").is_empty()
    });
    assert_eq!(ctl.instances("worker"), worker, "worker keeps running");
    assert!(ctl
        .events()
        .iter()
        .any(|e| e.app.as_deref() == Some("api") && e.message.contains("restart: true")));

    // db is back: api starts again.
    ctl.write_manifest("db.yaml", &db);
    ctl.wait_status("api", "Running");
    ctl.assert_stays(Duration::from_millis(300), "worker keeps its pid", || {
        ctl.instances("worker") == worker
    });
}

#[test]
fn validate_and_apply_refuse_unknown_names_cycles_and_completed_on_an_app() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |file: &str, text: String| {
        let path = dir.path().join(file);
        std::fs::write(&path, text).expect("write");
        path
    };
    let cmd = "command: [sleep, '1000']";
    write("db.yaml", manifest("db", &[cmd]));
    let api = write(
        "api.yaml",
        manifest(
            "api",
            &[cmd, "dependsOn:", "  - {app: dbb, condition: Ready}"],
        ),
    );
    let home = dir.path().join("home");
    let run = crate::common::corral_in(&home, &["validate", &api.display().to_string()]);
    assert!(!run.status.success());
    assert!(
        run.stderr.contains(&format!(
            "{}:8:8: spec.dependsOn[0].app: there is no app \"dbb\" in the manifests directory; did you mean `db`?",
            api.display()
        )),
        "{}",
        run.stderr
    );

    // A cycle across files, named, at the entry that leads into it.
    write(
        "api.yaml",
        manifest("api", &[cmd, "dependsOn: [{app: web}]"]),
    );
    write(
        "web.yaml",
        manifest("web", &[cmd, "dependsOn: [{app: api}]"]),
    );
    let d = dir.path().display().to_string();
    let run = crate::common::corral_in(&home, &["validate", &d]);
    assert!(!run.status.success());
    assert!(
        run.stderr
            .contains("api.yaml:7:3: spec.dependsOn[0]: dependency cycle api -> web -> api"),
        "{}",
        run.stderr
    );

    // `Completed` waits for a Job, not an App.
    let job = write(
        "job.yaml",
        manifest(
            "job",
            &[cmd, "dependsOn: [{app: db, condition: Completed}]"],
        ),
    );
    let run = crate::common::corral_in(&home, &["validate", &job.display().to_string()]);
    assert!(
        run.stderr.contains(
            "spec.dependsOn[0].condition: \"db\" is an App: `Completed` waits for a Job to finish"
        ),
        "{}",
        run.stderr
    );
    std::fs::remove_file(job).expect("rm");
    std::fs::remove_file(dir.path().join("web.yaml")).expect("rm");
    write(
        "api.yaml",
        manifest("api", &[cmd, "dependsOn: [{app: db}]"]),
    );

    // apply into a directory: a cycle it would close is refused, nothing written.
    let target = dir.path().join("target");
    std::fs::create_dir(&target).expect("mkdir");
    let t = target.display().to_string();
    let run = crate::common::corral_in(&home, &["apply", "-f", &d, "--manifests", &t]);
    assert!(run.status.success(), "{run:?}");
    let db2 = write(
        "db2.yaml",
        manifest("db", &[cmd, "dependsOn:", "  - {app: api}"]),
    );
    let run = crate::common::corral_in(
        &home,
        &["apply", "-f", &db2.display().to_string(), "--manifests", &t],
    );
    assert!(!run.status.success());
    assert!(
        run.stderr.contains(&format!(
            "{}:7:7: spec.dependsOn[0]: dependency cycle api -> db -> api",
            db2.display()
        )) || run.stderr.contains("dependency cycle api -> db -> api"),
        "{}",
        run.stderr
    );
    let kept = std::fs::read_to_string(target.join("db.yaml")).expect("db.yaml");
    assert!(!kept.contains("dependsOn"), "nothing written: {kept}");
    let unknown = write("x.yaml", manifest("x", &[cmd, "dependsOn: [{app: apii}]"]));
    let run = crate::common::corral_in(
        &home,
        &[
            "apply",
            "-f",
            &unknown.display().to_string(),
            "--manifests",
            &t,
        ],
    );
    assert!(
        run.stderr.contains("did you mean `api`?") && !target.join("x.yaml").exists(),
        "{}",
        run.stderr
    );
}

#[test]
fn a_dependent_waits_for_a_job_to_complete() {
    let ctl = Controller::new();
    // The migration fails once, then succeeds after a second.
    let marker = ctl.scratch().join("tried");
    let script = format!(
        "if [ -e {m} ]; then sleep 1; exit 0; else touch {m}; exit 3; fi",
        m = marker.display()
    );
    ctl.write_manifest(
        "migrate.yaml",
        &format!(
            "apiVersion: corral/v1\nkind: Job\nmetadata:\n  name: migrate\nspec:\n  backoffLimit: 3\n  template:\n    command: {}\n    backoff: {{initial: 100ms}}\n",
            ctl.sh(&script)
        ),
    );
    let cmd = ctl.sleeper();
    ctl.write_manifest(
        "api.yaml",
        &manifest(
            "api",
            &[
                &format!("command: {cmd}"),
                "dependsOn: [{app: migrate, condition: Completed}]",
            ],
        ),
    );
    ctl.start();
    let api = ctl.wait_status("api", "Waiting");
    assert!(
        api.conditions
            .iter()
            .any(|c| c.message.starts_with("waiting for migrate to be Completed")),
        "{:?}",
        api.conditions
    );
    ctl.wait_status("api", "Running");
    let all = ctl.events();
    let done = first_event(&all, "migrate", "JobCompleted").expect("the Job's JobCompleted event");
    let started = first_event(&all, "api", "Started").expect("api's Started event");
    assert!(started.seq > done.seq, "{started:?} after {done:?}");

    // validate: `Completed` waits for a Job, and a Job only for `Completed`.
    let dir = ctl.scratch().join("check");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::copy(ctl.manifests.join("migrate.yaml"), dir.join("migrate.yaml")).expect("copy");
    let ready = manifest(
        "web",
        &[
            &format!("command: {cmd}"),
            "dependsOn: [{app: migrate, condition: Ready}]",
        ],
    );
    std::fs::write(dir.join("web.yaml"), ready).expect("write");
    let run = ctl.corral(&["validate", &dir.display().to_string()]);
    assert!(
        run.stderr.contains(
            "\"migrate\" is a Job, which never is Ready: wait for it with `condition: Completed`"
        ),
        "{}",
        run.stderr
    );
}
