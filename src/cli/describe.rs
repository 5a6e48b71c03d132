//! `corral describe`: one app in detail, kubectl-describe style.

use std::fmt::Write as _;
use std::process::ExitCode;

use super::client::{block_on, client};
use super::get::{cli_error, status_word};
use super::table::{age, human_bytes, human_cpu, now_ms, until, Table};
use crate::api::{AppStatus, RestartScheduleStatus, RolloutStatus, WatchStatus};

/// Arguments of `corral describe`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app.
    #[arg(add = super::completion::app_names())]
    pub name: String,
}

/// Runs `corral describe`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    use super::jobs_view;
    let (kind, name) = jobs_view::split_kind(&args.name);
    if kind == Some("job") {
        let list = block_on(client().list())?.map_err(cli_error)?;
        print!(
            "{}",
            jobs_view::describe(jobs_view::find(&list, name)?, now_ms())
        );
        return Ok(ExitCode::SUCCESS);
    }
    let app = match block_on(client().get(name))? {
        Ok(app) => app,
        // A bare NAME may be a Job's (names are unique across kinds).
        Err(e) if kind.is_none() => {
            let list = block_on(client().list())?.map_err(cli_error)?;
            match list.jobs.iter().find(|j| j.name == name) {
                Some(job) => {
                    print!("{}", jobs_view::describe(job, now_ms()));
                    return Ok(ExitCode::SUCCESS);
                }
                None => return Err(cli_error(e)),
            }
        }
        Err(e) => return Err(cli_error(e)),
    };
    print!("{}", describe(&app, now_ms()));
    Ok(ExitCode::SUCCESS)
}

/// The whole description as text.
pub fn describe(app: &AppStatus, now: u64) -> String {
    let mut out = String::new();
    let labels = if app.labels.is_empty() {
        "<none>".to_string()
    } else {
        app.labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let field = |out: &mut String, key: &str, value: &str| {
        let _ = writeln!(out, "{:<16}{value}", format!("{key}:"));
    };
    field(&mut out, "Name", &app.name);
    field(&mut out, "File", &app.file);
    field(&mut out, "Labels", &labels);
    field(&mut out, "Revision", &app.revision);
    if let Some(user) = &app.user {
        field(&mut out, "User", user);
    }
    if let Some(c) = &app.commit {
        field(&mut out, "Commit", &c.to_string());
    }
    field(&mut out, "Status", &status_word(app));
    field(
        &mut out,
        "Desired/Ready",
        &format!("{}/{}", app.desired, app.ready),
    );
    field(&mut out, "Up-to-date", &app.updated.to_string());
    field(&mut out, "Available", &app.available.to_string());
    field(&mut out, "Restarts", &app.restarts.to_string());
    field(&mut out, "Age", &age(app.created_ms, now));
    if let Some(error) = &app.error {
        field(&mut out, "Error", error);
    }

    out.push_str("Conditions:\n");
    let mut t = Table::new(&["TYPE", "STATUS", "REASON", "MESSAGE"]);
    for c in &app.conditions {
        t.row(vec![
            c.kind.clone(),
            if c.status { "True" } else { "False" }.into(),
            c.reason.clone(),
            c.message.clone(),
        ]);
    }
    indented(&mut out, &t);

    out.push_str("Instances:\n");
    let mut t = Table::new(&[
        "INDEX",
        "PID",
        "PHASE",
        "READY",
        "RESTARTS",
        "AGE",
        "LAST-EXIT",
        "NEXT-RETRY",
        "CPU",
        "MEM",
        "REVISION",
    ]);
    for i in &app.instances {
        t.row(vec![
            i.index.to_string(),
            i.pid.map_or("-".into(), |p| p.to_string()),
            i.phase.clone(),
            if i.ready { "true" } else { "false" }.into(),
            i.restarts.to_string(),
            age(i.started_ms.unwrap_or(0), now),
            i.last_exit.clone().unwrap_or_else(|| "-".into()),
            until(i.next_retry_ms, now),
            human_cpu(i.cpu_percent),
            human_bytes(i.memory_bytes),
            if i.revision.is_empty() {
                "-".into()
            } else {
                i.revision.clone()
            },
        ]);
    }
    indented(&mut out, &t);
    for i in &app.instances {
        if let Some(failure) = &i.probe_failure {
            let _ = writeln!(out, "  instance {}: {failure}", i.index);
        }
    }

    if let Some(r) = &app.rollout {
        describe_rollout(&mut out, &app.name, r);
    }
    if let Some(w) = &app.watch {
        describe_watch(&mut out, w, now);
    }
    if !app.hooks.is_empty() {
        describe_hooks(&mut out, &app.hooks, now);
    }
    if let Some(r) = &app.restart_schedule {
        describe_restart_schedule(&mut out, r, now);
    }

    out.push_str("Spec:\n");
    for line in app.spec_yaml.lines() {
        let _ = writeln!(out, "  {line}");
    }

    out.push_str("Events:\n");
    let mut t = Table::new(&["AGE", "TYPE", "REASON", "MESSAGE"]);
    for e in &app.events {
        t.row(vec![
            age(e.at_ms, now),
            e.kind.clone(),
            e.reason.clone(),
            e.message.clone(),
        ]);
    }
    indented(&mut out, &t);
    out
}

/// The `Hooks:` section: the last run of each hook, its result and last lines.
fn describe_hooks(out: &mut String, hooks: &[crate::api::HookStatus], now: u64) {
    out.push_str("Hooks:\n");
    for h in hooks {
        let result = match (h.state.as_str(), h.exit_code, &h.reason) {
            ("Failed", Some(code), _) => format!("Failed, exit code {code}"),
            ("Failed", None, Some(why)) => format!("Failed: {why}"),
            (state, _, _) => state.to_owned(),
        };
        let took = h
            .finished_ms
            .map(|f| {
                format!(
                    ", took {:.1}s",
                    f.saturating_sub(h.started_ms) as f64 / 1000.0
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}: {result} (revision {}, {} ago{took})",
            h.hook,
            h.revision,
            age(h.started_ms, now)
        );
        let _ = writeln!(out, "    Command:  {}", h.command.join(" "));
        if let Some(held) = &h.holding {
            let _ = writeln!(
                out,
                "    Holding:  revision {held} starts once this hook succeeds"
            );
        }
        if !h.tail.is_empty() {
            let _ = writeln!(out, "    Last lines:");
            for line in &h.tail {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
}

/// The `Rollout:` section of a canary: its step and weight, its state, both revisions.
fn describe_rollout(out: &mut String, name: &str, r: &RolloutStatus) {
    out.push_str("Rollout:\n");
    let step = format!(
        "{}, step {} of {}, weight {}% of {}",
        r.strategy, r.step, r.steps, r.weight, r.share_of
    );
    let _ = writeln!(out, "  {:<14}{step}", "Strategy:");
    let state = match (&r.aborted, r.paused) {
        (Some(why), _) => format!(
            "Aborted: {why}; traffic is back on the stable revision, the manifest is unchanged \
             (corral rollout retry {name} tries again)"
        ),
        (None, true) => format!("Paused (corral rollout promote {name} goes on)"),
        (None, false) => "Progressing".into(),
    };
    let _ = writeln!(out, "  {:<14}{state}", "State:");
    let mut t = Table::new(&["ROLE", "REVISION", "READY", "INSTANCES", "LAST WINDOW"]);
    for (role, rev) in [("stable", &r.stable), ("canary", &r.canary)] {
        t.row(vec![
            role.into(),
            rev.revision.clone(),
            rev.ready.to_string(),
            rev.instances.to_string(),
            rev.traffic.as_ref().map_or("-".into(), |t| t.summary()),
        ]);
    }
    for line in t.render().lines() {
        let _ = writeln!(out, "  {line}");
    }
}

/// The `Restart schedule:` section: the expression, its zone, the next and last reloads.
fn describe_restart_schedule(out: &mut String, r: &RestartScheduleStatus, now: u64) {
    out.push_str("Restart schedule:\n");
    let _ = writeln!(out, "  {:<14}{} ({})", "Schedule:", r.schedule, r.time_zone);
    let next = match (&r.next, r.next_ms) {
        (Some(at), Some(ms)) => format!("{at} ({})", until(Some(ms), now)),
        _ => "never (the schedule matches no future time)".into(),
    };
    let _ = writeln!(out, "  {:<14}{next}", "Next:");
    let last = r
        .last_ms
        .map_or("<none>".into(), |ms| format!("{} ago", age(ms, now)));
    let _ = writeln!(out, "  {:<14}{last}", "Last:");
}

/// The `Watch:` section: what is watched, its state, the last trigger.
fn describe_watch(out: &mut String, w: &WatchStatus, now: u64) {
    out.push_str("Watch:\n");
    let _ = writeln!(out, "  {:<14}{}", "Paths:", w.paths.join(", "));
    let _ = writeln!(out, "  {:<14}{}", "State:", w.state);
    if let Some(e) = &w.error {
        let _ = writeln!(out, "  {:<14}{e}", "Error:");
    }
    let last = w.last_trigger.as_ref().map_or("<none>".into(), |t| {
        let more = if t.more > 0 {
            format!(" and {} more", t.more)
        } else {
            String::new()
        };
        format!("{} ago: {}{more}", age(t.at_ms, now), t.paths.join(", "))
    });
    let _ = writeln!(out, "  {:<14}{last}", "Last trigger:");
    if w.pending {
        let _ = writeln!(
            out,
            "  {:<14}one more reload after the rollout in progress",
            "Pending:"
        );
    }
}

/// A table indented two spaces, or `  <none>` when it has no rows.
fn indented(out: &mut String, table: &Table) {
    if table.is_empty() {
        out.push_str("  <none>\n");
        return;
    }
    for line in table.render().lines() {
        let _ = writeln!(out, "  {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Condition, Event, InstanceStatus, WatchTrigger};

    #[test]
    fn shows_every_section() {
        let app = AppStatus {
            name: "web".into(),
            file: "m/web.yaml".into(),
            revision: "abc".into(),
            desired: 1,
            ready: 0,
            status: "CrashLoopBackOff".into(),
            error: Some("m/web.yaml:2:1: bad".into()),
            conditions: vec![Condition {
                kind: "Available".into(),
                status: false,
                reason: "NoReadyInstances".into(),
                message: "0 of 1 ready".into(),
            }],
            instances: vec![InstanceStatus {
                index: 0,
                phase: "CrashLoopBackOff".into(),
                last_exit: Some("exit code 1".into()),
                next_retry_ms: Some(12_000),
                ..InstanceStatus::default()
            }],
            events: vec![Event {
                at_ms: 2_000,
                kind: "Warning".into(),
                reason: "BackOff".into(),
                message: "retrying in 2s".into(),
                ..Event::default()
            }],
            spec_yaml: "command: [x]\n".into(),
            ..AppStatus::default()
        };
        let text = describe(&app, 10_000);
        assert!(text.contains("Name:           web\n"), "{text}");
        assert!(text.contains("Labels:         <none>\n"), "{text}");
        assert!(
            text.contains("Error:          m/web.yaml:2:1: bad\n"),
            "{text}"
        );
        assert!(
            text.contains("Status:         CrashLoopBackOff (manifest error)\n"),
            "{text}"
        );
        assert!(
            text.contains("  Available   False    NoReadyInstances   0 of 1 ready\n"),
            "{text}"
        );
        assert!(text.contains("exit code 1   in 2s"), "{text}");
        assert!(text.contains("Spec:\n  command: [x]\n"), "{text}");
        assert!(
            text.contains("  8s    Warning   BackOff   retrying in 2s\n"),
            "{text}"
        );
        assert!(
            !text.contains("Watch:"),
            "no watch section without spec.watch: {text}"
        );
    }

    #[test]
    fn shows_the_last_watch_trigger() {
        let app = AppStatus {
            name: "web".into(),
            watch: Some(WatchStatus {
                paths: vec!["/srv/web".into()],
                state: "Watching".into(),
                last_trigger: Some(WatchTrigger {
                    at_ms: 7_000,
                    paths: vec!["src/a.js".into(), "src/b.js".into()],
                    more: 198,
                }),
                pending: true,
                ..WatchStatus::default()
            }),
            ..AppStatus::default()
        };
        let text = describe(&app, 10_000);
        assert!(
            text.contains("Watch:\n  Paths:        /srv/web\n"),
            "{text}"
        );
        assert!(text.contains("  State:        Watching\n"), "{text}");
        assert!(
            text.contains("  Last trigger: 3s ago: src/a.js, src/b.js and 198 more\n"),
            "{text}"
        );
        assert!(text.contains("  Pending:      one more reload"), "{text}");
    }

    #[test]
    fn shows_the_counts_and_a_canary_with_both_revisions() {
        let mut app = AppStatus {
            name: "web".into(),
            revision: "bbb222".into(),
            desired: 4,
            ready: 5,
            updated: 1,
            available: 5,
            status: "Progressing".into(),
            rollout: Some(RolloutStatus::canary_at_10_percent("aaa111", "bbb222")),
            ..AppStatus::default()
        };
        let text = describe(&app, 10_000);
        for needle in [
            "Status:         Canary 10%\n",
            "Desired/Ready:  4/5\n",
            "Up-to-date:     1\n",
            "Available:      5\n",
            "Rollout:\n  Strategy:     Canary, step 1 of 4, weight 10% of requests\n",
            "  State:        Progressing\n",
            "  ROLE     REVISION   READY   INSTANCES   LAST WINDOW\n",
            "  stable   aaa111     4       4           -\n",
            "  canary   bbb222     1       1           -\n",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        if let Some(r) = app.rollout.as_mut() {
            r.paused = true;
        }
        app.status = "Paused".into();
        let text = describe(&app, 10_000);
        assert!(
            text.contains("  State:        Paused (corral rollout promote web goes on)\n"),
            "{text}"
        );
        if let Some(r) = app.rollout.as_mut() {
            r.aborted = Some("error rate 21.0% against 0.2% over 412 requests".into());
        }
        app.status = "Degraded".into();
        let text = describe(&app, 10_000);
        assert!(text.contains("Status:         Degraded\n"), "{text}");
        assert!(
            text.contains(
                "  State:        Aborted: error rate 21.0% against 0.2% over 412 requests;"
            ),
            "{text}"
        );
        assert!(text.contains("corral rollout retry web"), "{text}");
        app.rollout = None;
        assert!(!describe(&app, 10_000).contains("Rollout:"));
    }
}
