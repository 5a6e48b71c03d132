//! How Jobs show in the CLI: `corral get jobs` (kubectl's NAME STATUS COMPLETIONS DURATION AGE),
//! `corral describe job/NAME` (the runs: start, end, how each ended), and kubectl's
//! `job/NAME`, `app/NAME`, `cronjob/NAME` spellings of a name.

use std::fmt::Write;

use anyhow::bail;

use super::table::{age, Table};
use crate::api::{AppList, JobStatus};

/// A name as kubectl spells it: `job/NAME` → (Some("job"), NAME); a bare NAME → (None, NAME).
pub fn split_kind(name: &str) -> (Option<&str>, &str) {
    for kind in ["job", "jobs", "app", "apps", "cronjob", "cronjobs"] {
        if let Some(rest) = name.strip_prefix(kind).and_then(|r| r.strip_prefix('/')) {
            return (Some(kind.trim_end_matches('s')), rest);
        }
    }
    (None, name)
}

/// The Jobs table.
pub fn table(jobs: &[JobStatus], now: u64) -> String {
    let mut table = Table::new(&["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]);
    for job in jobs {
        let duration = match job.start_ms {
            Some(start) => age(start, job.completion_ms.unwrap_or(now)),
            None => "<none>".into(),
        };
        let since = job
            .start_ms
            .map_or_else(|| "<none>".into(), |s| age(s, now));
        table.row(vec![
            job.name.clone(),
            job.status.clone(),
            format!("{}/{}", job.succeeded, job.completions),
            duration,
            since,
        ]);
    }
    table.render()
}

/// The Job `name` of a list, or an error that says which Jobs there are.
pub fn find<'a>(list: &'a AppList, name: &str) -> anyhow::Result<&'a JobStatus> {
    match list.jobs.iter().find(|j| j.name == name) {
        Some(job) => Ok(job),
        None if list.jobs.is_empty() => bail!("no Job named {name:?}: this controller runs no Job"),
        None => {
            let names: Vec<&str> = list.jobs.iter().map(|j| j.name.as_str()).collect();
            bail!("no Job named {name:?}; the Jobs are: {}", names.join(", "))
        }
    }
}

/// `corral describe job/NAME`: the Job's counts and each run.
pub fn describe(job: &JobStatus, now: u64) -> String {
    let mut out = String::new();
    let field = |out: &mut String, key: &str, value: &str| {
        let _ = writeln!(out, "{:<16}{value}", format!("{key}:"));
    };
    field(&mut out, "Name", &job.name);
    field(&mut out, "Kind", "Job");
    field(&mut out, "File", &job.file);
    field(&mut out, "Revision", &job.revision);
    let status = match &job.reason {
        Some(reason) => format!("{} ({reason})", job.status),
        None => job.status.clone(),
    };
    field(&mut out, "Status", &status);
    field(
        &mut out,
        "Completions",
        &format!("{}/{}", job.succeeded, job.completions),
    );
    let active = job.runs.iter().filter(|r| r.end_ms.is_none()).count();
    let counts = format!(
        "{active} Active / {} Succeeded / {} Failed",
        job.succeeded, job.failed
    );
    field(&mut out, "Runs Statuses", &counts);
    if let Some(start) = job.start_ms {
        field(&mut out, "Start Time", &format!("{} ago", age(start, now)));
    }
    if let Some(done) = job.completion_ms {
        field(&mut out, "Completed At", &format!("{} ago", age(done, now)));
    }
    out.push_str("Runs:\n");
    if job.runs.is_empty() {
        out.push_str("  <none>\n");
        return out;
    }
    let mut table = Table::new(&["RUN", "PID", "STARTED", "ENDED", "RESULT"]);
    for run in &job.runs {
        let result = match (&run.exit, run.succeeded) {
            (Some(exit), Some(true)) => format!("Succeeded ({exit})"),
            (Some(exit), Some(false)) => format!("Failed ({exit})"),
            (Some(exit), None) => format!("Stopped ({exit})"),
            (None, _) => "Running".into(),
        };
        table.row(vec![
            run.index.to_string(),
            run.pid.map_or_else(|| "-".into(), |p| p.to_string()),
            format!("{} ago", age(run.start_ms, now)),
            run.end_ms
                .map_or_else(|| "-".into(), |e| format!("{} ago", age(e, now))),
            result,
        ]);
    }
    for line in table.render().lines() {
        let _ = writeln!(out, "  {line}");
    }
    out
}
