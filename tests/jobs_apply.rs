//! `corral apply`, `diff` and `delete` of Jobs and CronJobs through the binary: written into the
//! manifests directory as Apps are (a new one as `DIR/NAME.yaml`, an existing one replaced in the
//! file that defines it), `--dry-run` and the diff, names unique across kinds, `job/NAME` and
//! `cronjob/NAME` checked against the name's kind; a running controller runs what is applied.

use std::fs;
use std::time::Duration;

use crate::common::{self, manifest, Controller};

fn job(name: &str, command: &str) -> String {
    format!(
        "# the nightly migration\napiVersion: corral/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n  backoffLimit: 2\n  template:\n    command: {command}\n"
    )
}

fn cronjob(name: &str, schedule: &str) -> String {
    format!(
        "apiVersion: corral/v1\nkind: CronJob\nmetadata:\n  name: {name}\nspec:\n  schedule: \"{schedule}\"\n  timeZone: UTC\n  jobTemplate:\n    spec:\n      template:\n        command: [true]\n"
    )
}

#[test]
fn apply_writes_jobs_and_cronjobs_like_apps_and_diff_and_delete_know_them() {
    let ctl = Controller::new();
    let input = ctl.scratch().join("input");
    fs::create_dir(&input).expect("dir");
    let dir = ctl.manifests.display().to_string();
    let put = |file: &str, text: &str| {
        let path = input.join(file);
        fs::write(&path, text).expect("write");
        path.display().to_string()
    };
    let corral = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--manifests", dir.as_str()]);
        ctl.corral(&all)
    };

    // New: DIR/NAME.yaml, the text as written; again: unchanged.
    let migrate = put("migrate.yaml", &job("migrate", "[sh, -c, 'exit 0']"));
    let run = corral(&["apply", "-f", &migrate, "--dry-run"]);
    assert_eq!(run.stdout, "job/migrate created (dry run)\n", "{run:?}");
    assert!(!ctl.manifests.join("migrate.yaml").exists());
    let run = corral(&["apply", "-f", &migrate]);
    assert_eq!(run.stdout, "job/migrate created\n", "{run:?}");
    let written = fs::read_to_string(ctl.manifests.join("migrate.yaml")).expect("written");
    assert_eq!(written, job("migrate", "[sh, -c, 'exit 0']"));
    let run = corral(&["apply", "-f", &migrate]);
    assert_eq!(run.stdout, "job/migrate unchanged\n", "{run:?}");

    // Defined in a file with other documents: replaced there, the others kept byte for byte.
    let web = manifest("web", &["command: [sleep, '100']"]);
    let both = format!("{web}---\n{}", cronjob("report", "0 3 * * *"));
    ctl.write_manifest("both.yaml", &both);
    let changed = put("report.yaml", &cronjob("report", "30 4 * * *"));
    let run = corral(&["diff", "-f", &changed]);
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(
        run.stdout.contains("-  schedule: \"0 3 * * *\"")
            && run.stdout.contains("+  schedule: \"30 4 * * *\""),
        "{}",
        run.stdout
    );
    let run = corral(&["apply", "-f", &changed]);
    assert_eq!(run.stdout, "cronjob/report configured\n", "{run:?}");
    let after = fs::read_to_string(ctl.manifests.join("both.yaml")).expect("both");
    assert_eq!(
        after,
        format!("{web}---\n{}", cronjob("report", "30 4 * * *"))
    );
    assert!(!ctl.manifests.join("report.yaml").exists());
    let run = corral(&["diff", "-f", &changed]);
    assert_eq!((run.status.code(), run.stdout.as_str()), (Some(0), ""));

    // Names are unique across kinds: a Job named like the App is refused, nothing written.
    let clash = put("web.yaml", &job("web", "[true]"));
    let run = corral(&["apply", "-f", &clash]);
    assert!(!run.status.success());
    assert!(
        run.stderr.contains("Job \"web\" cannot be applied:")
            && run.stderr.contains("both.yaml defines an App of that name, and names are unique across Apps, Jobs and CronJobs"),
        "{}",
        run.stderr
    );
    assert_eq!(
        fs::read_to_string(ctl.manifests.join("both.yaml")).expect("both"),
        after
    );
    assert!(!ctl.manifests.join("web.yaml").exists());

    // delete: a kind given must be the name's; cronjob/NAME removes its document only.
    let run = corral(&["delete", "job/web"]);
    assert!(!run.status.success());
    assert!(
        run.stderr.contains("job/web: \"web\" is an App (")
            && run.stderr.contains("not a job; write app/web"),
        "{}",
        run.stderr
    );
    assert!(ctl.manifests.join("both.yaml").exists());
    let run = corral(&["delete", "cronjob/report"]);
    assert_eq!(run.stdout, "cronjob/report deleted\n", "{run:?}");
    let left = fs::read_to_string(ctl.manifests.join("both.yaml")).expect("both");
    assert!(
        left.starts_with(&web) && !left.contains("kind: CronJob"),
        "{left}"
    );
}

#[test]
fn a_job_applied_to_a_running_controller_runs() {
    let ctl = Controller::new();
    ctl.start();
    let ran = ctl.scratch().join("ran");
    let file = ctl.scratch().join("once.yaml");
    let command = ctl.sh(&format!("touch {}", ran.display()));
    fs::write(&file, job("once", &command)).expect("write");
    let dir = ctl.manifests.display().to_string();
    let run = ctl.corral(&[
        "apply",
        "-f",
        &file.display().to_string(),
        "--manifests",
        &dir,
    ]);
    assert_eq!(run.stdout, "job/once created\n", "{run:?}");
    common::wait_for(Duration::from_secs(20), "the applied Job Complete", || {
        ctl.get()
            .jobs
            .into_iter()
            .find(|j| j.name == "once" && j.status == "Complete")
    });
    assert!(ran.exists());
}
