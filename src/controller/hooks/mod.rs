//! `spec.hooks` on the controller (DESIGN §14): a `preRollout` hook holds a new revision back
//! until it succeeds, for every strategy (the new template is not put in force, so neither the
//! planner nor a canary sees it), and a `postRollout` hook runs once the rollout completed.
//! Each hook's last run is kept in `$CORRAL_HOME/hooks.json` (`saved.rs`).

mod saved;
mod status;

use std::collections::BTreeMap;
use std::path::PathBuf;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::controller::{now_ms, Controller};
use crate::manifest::Hook;
use crate::supervisor::{HookDone, HookKind, HookRun, Template};
pub(super) use saved::{HookRecord, HookState};

/// Hook runs ending, at most this many waiting for the loop.
pub(super) const CHANNEL: usize = 16;

/// The hooks' state on the controller.
#[derive(Debug)]
pub(super) struct Hooks {
    /// The last run of each app's hooks, saved.
    records: saved::Records,
    /// The hooks running now, by app and kind: the revision each runs for.
    running: BTreeMap<(String, HookKind), String>,
    /// A new revision's template held back until its `preRollout` succeeds, per app.
    pending: BTreeMap<String, Template>,
    /// The revision each app's rollout (a new revision, not a scale) is going to: its
    /// `postRollout` runs when it completes.
    rolling: BTreeMap<String, String>,
    /// Where hook runs report their end.
    done: mpsc::Sender<HookDone>,
    /// Kills every hook running (the controller is leaving).
    stop: CancellationToken,
    /// Where the records are saved.
    path: PathBuf,
    /// The records changed since they were last saved.
    dirty: bool,
}

/// A revision without its reload count (`HASH.N` → `HASH`): `corral reload` runs no hook.
pub(super) fn base(revision: &str) -> &str {
    revision.split('.').next().unwrap_or(revision)
}

impl Hooks {
    /// The records saved under `home_root`; hook ends are sent on `done`.
    pub(super) async fn load(home_root: &std::path::Path, done: mpsc::Sender<HookDone>) -> Self {
        let path = saved::path(home_root);
        Self {
            records: saved::load(&path).await,
            running: BTreeMap::new(),
            pending: BTreeMap::new(),
            rolling: BTreeMap::new(),
            done,
            stop: CancellationToken::new(),
            path,
            dirty: false,
        }
    }

    /// The template held back for `app`'s `preRollout`, if any.
    pub(super) fn pending(&self, app: &str) -> Option<&Template> {
        self.pending.get(app)
    }

    /// Apps with a revision held back (they show in `get` even before anything runs).
    pub(super) fn pending_apps(&self) -> impl Iterator<Item = &String> {
        self.pending.keys()
    }

    fn record(&self, app: &str, kind: HookKind) -> Option<&HookRecord> {
        self.records.get(app)?.get(&kind)
    }

    /// Kills every hook running (the controller is leaving: they run again at its next start).
    pub(super) fn stop_all(&self) {
        self.stop.cancel();
    }

    /// A hook killed because the controller is leaving: no longer running, its record left
    /// as `Running` (interrupted) for the next controller.
    pub(super) fn interrupted(&mut self, done: &HookDone) {
        self.running.remove(&(done.app.clone(), done.kind));
        tracing::info!(app = %done.app, "{} interrupted: it runs again at the next start", done.kind.name());
    }

    /// How many hooks are running.
    pub(super) fn running_count(&self) -> usize {
        self.running.len()
    }

    /// Whether a hook of `app` is running.
    pub(super) fn any_running(&self, app: &str) -> bool {
        self.running.keys().any(|(a, _)| a == app)
    }

    /// Forgets a deleted app.
    pub(super) fn forget(&mut self, app: &str) {
        self.dirty |= self.records.remove(app).is_some();
        self.pending.remove(app);
        self.rolling.remove(app);
    }

    /// Forgets what is held for apps `known` no longer knows: their held revision, and their
    /// records unless a hook of theirs still runs (its end is recorded, then forgotten here).
    pub(super) fn retain_apps(&mut self, known: impl Fn(&str) -> bool) {
        self.pending.retain(|app, _| known(app));
        self.rolling.retain(|app, _| known(app));
        let running: Vec<String> = self.running.keys().map(|(a, _)| a.clone()).collect();
        let before = self.records.len();
        self.records
            .retain(|app, _| known(app) || running.contains(app));
        self.dirty |= self.records.len() != before;
    }

    /// Writes the records if they changed (a failure is logged; written again next time).
    pub(super) async fn save(&mut self) {
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        if let Err(e) = saved::save(&self.path, &self.records).await {
            tracing::warn!("cannot write {}: {e}", self.path.display());
            self.dirty = true;
        }
    }
}

impl Controller {
    /// Whether `new` (the manifest's template for `name`) must wait for its `preRollout` hook:
    /// it has one, the revision differs from the one in force (also at the first deployment),
    /// and the hook has not succeeded for it. Starts the hook when it is due (never two hooks of
    /// one app at once); a failed one waits for a new manifest or `corral rollout retry`.
    pub(super) async fn hold_for_hook(&mut self, name: &str, new: &Template) -> bool {
        let hook = self
            .store
            .apps
            .get(name)
            .and_then(|l| l.app.spec.hooks.pre_rollout.clone());
        let Some(hook) = hook else {
            self.hooks.pending.remove(name);
            return false;
        };
        let revision = base(&new.revision);
        let in_force = match self.templates.get(name) {
            Some(old) => base(&old.revision) == revision,
            // At start-up: instances of this revision adopted (it was rolled out already).
            None => self
                .supervisor
                .instances_of(name)
                .any(|i| base(&i.revision) == revision),
        };
        let command = hook.command.argv();
        let record = self.hooks.record(name, HookKind::PreRollout);
        let state = record
            .filter(|r| r.is_for(revision, &command))
            .map(|r| r.state);
        if in_force || state == Some(HookState::Succeeded) {
            self.hooks.pending.remove(name);
            return false;
        }
        self.hooks.pending.insert(name.to_owned(), new.clone());
        if state != Some(HookState::Failed) && !self.hooks.any_running(name) {
            self.start_hook(name, new, HookKind::PreRollout, (&hook, command));
        }
        true
    }

    /// Starts `kind` of `name` with `template` and records it as running.
    fn start_hook(
        &mut self,
        name: &str,
        template: &Template,
        kind: HookKind,
        (hook, command): (&Hook, Vec<String>),
    ) {
        let revision = base(&template.revision).to_owned();
        let msg = format!(
            "{} of revision {revision} started: {}",
            kind.name(),
            shell_words(&command)
        );
        self.supervisor.events.normal(name, "HookStarted", msg);
        let record = HookRecord {
            revision: revision.clone(),
            command: command.clone(),
            state: HookState::Running,
            exit_code: None,
            reason: None,
            tail: Vec::new(),
            started_ms: now_ms(),
            finished_ms: None,
        };
        self.hooks
            .records
            .entry(name.to_owned())
            .or_default()
            .insert(kind, record);
        self.hooks.dirty = true;
        self.hooks.running.insert((name.to_owned(), kind), revision);
        let run = HookRun {
            kind,
            argv: command,
            timeout: hook.timeout.0,
        };
        let channels = (self.hooks.done.clone(), self.hooks.stop.child_token());
        self.supervisor.run_hook(template, run, channels);
    }

    /// A hook run ended: its record and event. Returns whether the manifests should be read
    /// again (a `preRollout` succeeded: its revision goes in force; or another is due).
    pub(super) async fn on_hook_done(&mut self, done: HookDone) -> bool {
        let key = (done.app.clone(), done.kind);
        self.hooks.running.remove(&key);
        let (name, kind) = (done.app.as_str(), done.kind);
        let revision = base(&done.revision).to_owned();
        if let Some(record) = self
            .hooks
            .records
            .get_mut(name)
            .and_then(|r| r.get_mut(&kind))
            .filter(|r| r.revision == revision && r.state == HookState::Running)
        {
            record.state = match done.result {
                Ok(()) => HookState::Succeeded,
                Err(_) => HookState::Failed,
            };
            record.exit_code = done.result.as_ref().err().and_then(|f| f.exit_code);
            record.reason = done.result.as_ref().err().map(|f| f.reason.clone());
            record.tail = done.tail.clone();
            record.finished_ms = Some(now_ms());
            self.hooks.dirty = true;
        }
        let took = self
            .hooks
            .record(name, kind)
            .and_then(|r| Some(r.finished_ms?.saturating_sub(r.started_ms)))
            .map(|ms| format!(" in {:.1}s", ms as f64 / 1000.0))
            .unwrap_or_default();
        match &done.result {
            Ok(()) => {
                let msg = format!("{} of revision {revision} succeeded{took}", kind.name());
                self.supervisor.events.normal(name, "HookSucceeded", msg);
            }
            Err(failure) => {
                let consequence = match kind {
                    HookKind::PreRollout => {
                        let running = self.templates.get(name).map(|t| t.revision.clone());
                        match running {
                            Some(r) => format!("the rollout does not start; revision {r} keeps running; fix the hook or the manifest, or `corral rollout retry {name}`"),
                            None => format!("the app does not start; fix the hook or the manifest, or `corral rollout retry {name}`"),
                        }
                    }
                    HookKind::PostRollout => {
                        "nothing is rolled back (revision {revision} keeps running)"
                            .replace("{revision}", &revision)
                    }
                };
                let last = if done.tail.is_empty() {
                    "no output".to_owned()
                } else {
                    format!("last lines: {}", done.tail.join(" ⏎ "))
                };
                let msg = format!(
                    "{} of revision {revision} failed{took}: {}; {consequence}; {last}",
                    kind.name(),
                    failure.reason
                );
                self.supervisor.events.warning(name, "HookFailed", msg);
            }
        }
        self.hooks.save().await;
        kind == HookKind::PreRollout
    }

    /// After a rollout step of `name` at `revision`: a rollout to a new revision began (its
    /// `postRollout` is due when it completes), or completed (the hook runs now, once).
    pub(super) fn hooks_after_step(&mut self, name: &str, revision: &str, complete: bool) {
        let revision = base(revision).to_owned();
        let hook = self
            .store
            .apps
            .get(name)
            .and_then(|l| l.app.spec.hooks.post_rollout.clone());
        let Some(hook) = hook else {
            self.hooks.rolling.remove(name);
            return;
        };
        if !complete {
            self.hooks.rolling.insert(name.to_owned(), revision);
            return;
        }
        let command = hook.command.argv();
        let record = self.hooks.record(name, HookKind::PostRollout);
        let ran = record.filter(|r| r.is_for(&revision, &command));
        // Due after a rollout to this revision, or interrupted (a controller restart) in it.
        let due = match ran.map(|r| r.state) {
            Some(HookState::Succeeded | HookState::Failed) => false,
            Some(HookState::Running) => true,
            None => self.hooks.rolling.get(name) == Some(&revision),
        };
        if !due || self.hooks.any_running(name) {
            return;
        }
        self.hooks.rolling.remove(name);
        let Some(template) = self
            .templates
            .get(name)
            .filter(|t| base(&t.revision) == revision)
            .cloned()
        else {
            return;
        };
        self.start_hook(name, &template, HookKind::PostRollout, (&hook, command));
    }

    /// The controller is leaving: kills the hooks still running and waits for them, answering
    /// the API meanwhile. Their ends are not recorded: their records still say `Running`, so
    /// the next controller runs them again, never beside them.
    pub(super) async fn end_hooks(
        &mut self,
        done: &mut mpsc::Receiver<HookDone>,
        api: &mut mpsc::Receiver<crate::api::ApiRequest>,
        handed: bool,
    ) {
        self.hooks.stop_all();
        while self.hooks.running_count() > 0 {
            tokio::select! {
                Some(ended) = done.recv() => self.hooks.interrupted(&ended),
                Some(req) = api.recv() => match handed {
                    true => self.answer_while_upgrading(req).await,
                    false => self.on_api(req).await,
                },
                else => break,
            }
        }
    }

    /// `corral rollout retry NAME` on an app whose `preRollout` failed: runs it again.
    /// `None` when no hook of the app failed (the verb is a canary's, then).
    pub(super) async fn retry_hook(&mut self, name: &str) -> Option<crate::api::Reply> {
        self.hooks.pending.get(name)?;
        let failed = self
            .hooks
            .record(name, HookKind::PreRollout)
            .is_some_and(|r| r.state == HookState::Failed);
        if !failed {
            return None;
        }
        if let Some(records) = self.hooks.records.get_mut(name) {
            records.remove(&HookKind::PreRollout);
            self.hooks.dirty = true;
        }
        self.reload_logged().await;
        Some(crate::api::Reply {
            message: format!("app/{name}: its preRollout hook runs again"),
        })
    }
}

/// An argv as a shell would read it, for events.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
