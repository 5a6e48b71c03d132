//! How an app's state reads for people, shared by the CLI (`corral get`'s STATUS, `corral
//! rollout status`) and the web console: one wording everywhere.

use super::{AppStatus, RolloutStatus};

/// STATUS: a canary in flight shows its weight (`Canary 10%`), and the word is marked when a
/// manifest error keeps the app on its last good version.
pub fn status_word(app: &AppStatus) -> String {
    let word = match &app.rollout {
        Some(r) if app.status == "Progressing" => format!("Canary {}%", r.weight),
        _ => app.status.clone(),
    };
    match app.error {
        Some(_) => format!("{word} (manifest error)"),
        None => word,
    }
}

/// Where a rollout stands, as one sentence in kubectl's words; `Some(true)` done, `Some(false)`
/// failed, `None` going.
pub fn progress(app: &AppStatus) -> (String, Option<bool>) {
    let name = &app.name;
    if app.status == "ProgressDeadlineExceeded" {
        return (
            format!(
                "app \"{name}\" exceeded its progress deadline: corral describe {name} says why"
            ),
            Some(false),
        );
    }
    // A revision held back for its preRollout hook: the one in force is not the news.
    match app.status.as_str() {
        "HookFailed" => {
            let line = format!(
                "app \"{name}\" rollout held: its preRollout hook failed (corral describe {name} shows its exit and last lines; corral rollout retry {name} runs it again)"
            );
            return (line, Some(false));
        }
        "HookRunning" => {
            let line = format!("Waiting for app \"{name}\" preRollout hook to finish...");
            return (line, None);
        }
        _ => {}
    }
    if let Some(r) = &app.rollout {
        return canary_progress(name, r);
    }
    let waiting = format!("Waiting for app \"{name}\" rollout to finish");
    let old = app
        .instances
        .iter()
        .filter(|i| i.pid.is_some() && i.revision != app.revision)
        .count();
    if app.updated < app.desired {
        let line = format!(
            "{waiting}: {} out of {} new instances have been updated...",
            app.updated, app.desired
        );
        return (line, None);
    }
    if old > 0 {
        let line = format!("{waiting}: {old} old instances are pending termination...");
        return (line, None);
    }
    let available = app.available.min(app.updated);
    if available < app.updated || app.status == "Progressing" {
        let line = format!(
            "{waiting}: {available} of {} updated instances are available...",
            app.updated
        );
        return (line, None);
    }
    (
        format!(
            "app \"{name}\" successfully rolled out (revision {})",
            app.revision
        ),
        Some(true),
    )
}

/// A canary's step, weight and both revisions; an abort fails, a pause waits for `promote`.
fn canary_progress(name: &str, r: &RolloutStatus) -> (String, Option<bool>) {
    let figures = format!(
        "step {} of {}, weight {}%: canary {} {}/{} ready, stable {} {}/{} ready",
        r.step,
        r.steps,
        r.weight,
        r.canary.revision,
        r.canary.ready,
        r.canary.instances,
        r.stable.revision,
        r.stable.ready,
        r.stable.instances
    );
    let mut figures = figures;
    let kind = match r.strategy.as_str() {
        "BlueGreen" => "blue-green rollout",
        _ => "canary",
    };
    for (role, rev) in [("canary", &r.canary), ("stable", &r.stable)] {
        if let Some(t) = &rev.traffic {
            figures.push_str(&format!("; {role} {}", t.summary()));
        }
    }
    if let Some(why) = &r.aborted {
        let line = format!(
            "app \"{name}\" {kind} was aborted ({why}): traffic is back on revision {}; \
             corral rollout retry {name} tries again",
            r.stable.revision
        );
        return (line, Some(false));
    }
    if r.paused {
        let line = format!(
            "app \"{name}\" {kind} is paused at {figures}: corral rollout promote {name} goes on"
        );
        return (line, None);
    }
    (
        format!("Waiting for app \"{name}\" {kind} to finish: {figures}..."),
        None,
    )
}
