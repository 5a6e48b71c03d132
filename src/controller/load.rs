//! Reading the manifests directory into the controller: the store, templates, desired state,
//! listening sockets and revision history.

use super::{desired, history, now_ms, Controller, ControllerError};
use crate::manifest::JobSpec;
use crate::store;
use crate::supervisor::About;
use crate::supervisor::Template;

impl Controller {
    /// Re-reads the manifests directory and recomputes the desired state.
    pub(super) async fn reload(&mut self) -> Result<(), ControllerError> {
        let (prev, dir, profile, rules) = (
            self.store.clone(),
            self.config.manifests.clone(),
            self.config.profile.clone(),
            self.config.rules,
        );
        let known_runs = self.cronjobs.known_runs();
        let joined = tokio::task::spawn_blocking(move || {
            let store = prev.reload(&dir, rules)?;
            let commit = std::fs::canonicalize(&dir)
                .ok()
                .and_then(|d| crate::gitops::applied_commit(&d));
            let templates: Vec<Template> = store
                .apps
                .values()
                .map(|l| Template::resolve(l, profile.as_deref(), rules.trust))
                .collect();
            let cron_runs: Vec<super::cronjobs::CronRun> = (store.cronjobs.iter())
                .flat_map(|(cj, l)| {
                    let runs = known_runs.get(cj).cloned().unwrap_or_default();
                    let now = l.cronjob.spec.job_template.spec.revision();
                    runs.into_iter().filter_map(move |(job, revision)| {
                        // Made from another template: not taken up (it would run again).
                        if revision != now {
                            return None;
                        }
                        let app = super::cronjobs::run_app(l, &job)?;
                        let template = Template::resolve(&app, None, rules.trust);
                        let spec = l.cronjob.spec.job_template.spec.clone();
                        Some((
                            cj.clone(),
                            job,
                            spec,
                            template,
                            l.file.display().to_string(),
                        ))
                    })
                })
                .collect();
            let jobs: Vec<(String, JobSpec, Template, String)> = (store.jobs.iter())
                .map(|(name, l)| {
                    let template = Template::resolve(&l.template_app(), None, rules.trust);
                    let file = l.file.display().to_string();
                    (name.clone(), l.job.spec.clone(), template, file)
                })
                .collect();
            Ok::<_, store::DirError>((store, (templates, jobs, cron_runs), commit))
        })
        .await;
        // A swapped symlink on the way changes what to watch; a vanished directory too.
        self.manifests_watch.follow(&self.config.manifests);
        let (store, (templates, jobs, cron_runs), commit) = match joined {
            Ok(result) => result?,
            Err(e) => {
                tracing::error!("manifest loading task failed: {e}");
                return Ok(());
            }
        };
        for p in &store.problems {
            if !self.store.problems.contains(p) {
                let events = &mut self.supervisor.events;
                for app in &p.apps {
                    events.warning(app, "InvalidManifest", p.to_string());
                }
                if p.apps.is_empty() {
                    // No app known from this file yet: the controller's own event.
                    events.warning_about(About::Controller, "InvalidManifest", p.to_string());
                }
            }
        }
        if self
            .store
            .problems
            .iter()
            .any(|p| p.line == 0 && p.file == self.config.manifests.display().to_string())
        {
            tracing::info!("the manifests directory can be read again");
        }
        self.store = store;
        // A CronJob's Jobs first: the Job runtime then forgets what jobs.json held unclaimed.
        self.sync_cronjobs(cron_runs);
        self.sync_jobs(jobs);
        self.note_commit(commit);
        let mut previous = std::mem::take(&mut self.desired);
        for mut template in templates {
            let name = template.app.clone();
            if let Err(message) = self.listening.ensure(&name, &template.listen).await {
                // The ports can't be had: the app keeps what runs (if anything), in error.
                let msg = format!("cannot listen: {message}");
                self.supervisor.events.warning(&name, "BindFailed", msg);
                match previous.remove(&name) {
                    Some(d) => {
                        self.desired.insert(name, d);
                    }
                    None => {
                        self.created.entry(name.clone()).or_insert_with(now_ms);
                        self.templates.insert(name, template);
                    }
                }
                continue;
            }
            if self.hold_for_hook(&name, &template).await {
                // The revision in force keeps running as it is until the hook succeeds.
                match previous.remove(&name) {
                    Some(d) => {
                        self.desired.insert(name.clone(), d);
                    }
                    None => self.hold_adopted(&name).await,
                }
                self.created.entry(name).or_insert_with(now_ms);
                continue;
            }
            if let Some(located) = self.store.apps.get(&name) {
                self.record_history(&name, &template.revision, &located.app.clone())
                    .await;
            }
            if let Some(n) = self.reloads.get(&name).filter(|n| **n > 0) {
                template.revision = format!("{}.{n}", template.revision);
            }
            if let Some(located) = self.store.apps.get(&name) {
                self.desired.insert(
                    name.clone(),
                    desired::desired_app(located, &template.revision, self.cpus),
                );
            }
            self.created.entry(name.clone()).or_insert_with(now_ms);
            let old = self.templates.remove(&name);
            self.canary_on_load(&name, old.as_ref(), &template).await;
            self.templates.insert(name, template);
        }
        previous.clear();
        self.cycles = crate::reconcile::depends::cycles(&self.desired);
        // A held revision whose app left the directory is forgotten with it.
        let known =
            |app: &str| self.store.apps.contains_key(app) || self.templates.contains_key(app);
        self.hooks.retain_apps(known);
        self.probe_adopted().await;
        self.apply_limits();
        self.sync_watches();
        self.sync_restart_schedules();
        Ok(())
    }

    /// Starts the probes of adopted instances, each with its own revision's template: the
    /// manifest's, a canary's stable one, or (a rollout the previous controller left halfway,
    /// a manifest changed while none ran) the one in the revision history; an instance of a
    /// revision probed with none of them could never turn ready again.
    async fn probe_adopted(&mut self) {
        let mut older = std::collections::BTreeMap::new();
        for (app, revision) in self.supervisor.unprobed_revisions() {
            let known = self
                .templates
                .get(&app)
                .is_some_and(|t| t.revision == revision)
                || self.canaries.stable_template(&app, &revision).is_some();
            if known {
                continue;
            }
            if let Some(t) = self.template_from_history(&app, &revision).await {
                older.insert((app, revision), t);
            }
        }
        let canaries = &self.canaries;
        self.supervisor.probe_adopted(&self.templates, |app, rev| {
            canaries
                .stable_template(app, rev)
                .or_else(|| older.get(&(app.to_owned(), rev.to_owned())))
        });
    }

    /// At start-up, with a new revision held back for its hook: the instances adopted keep
    /// running at their revision (its template and count from the revision history).
    async fn hold_adopted(&mut self, name: &str) {
        if self.templates.contains_key(name) {
            return;
        }
        let Some(revision) = self.supervisor.sole_revision(name) else {
            return;
        };
        self.read_history(name).await;
        let (Some(template), Some(located)) = (
            self.template_from_history(name, &revision).await,
            self.located_from_history(name, &revision),
        ) else {
            return;
        };
        self.desired.insert(
            name.to_owned(),
            desired::desired_app(&located, &revision, self.cpus),
        );
        self.templates.insert(name.to_owned(), template);
    }

    /// Reads `app`'s revision history from disk, the first time it is needed.
    async fn read_history(&mut self, app: &str) {
        if !self.histories.contains_key(app) {
            let path = history::path(self.config.home.root(), app);
            let loaded = history::load(&path).await;
            self.histories.insert(app.to_owned(), loaded);
        }
    }

    /// Adds `revision` to `app`'s history (read from disk the first time) and saves it.
    async fn record_history(&mut self, app: &str, revision: &str, manifest: &crate::manifest::App) {
        self.read_history(app).await;
        let path = history::path(self.config.home.root(), app);
        let Some(h) = self.histories.get_mut(app) else {
            return;
        };
        if h.record(revision, manifest, now_ms()) {
            if let Err(e) = history::save(&path, h).await {
                tracing::warn!(
                    app,
                    "cannot save the revision history to {}: {e}",
                    path.display()
                );
            }
        }
    }

    /// [`Controller::reload`], logging a failure instead of stopping (the directory may come back).
    pub(super) async fn reload_logged(&mut self) {
        match self.reload().await {
            Ok(()) => {}
            Err(ControllerError::Manifests(e)) => self.on_dir_error(e.to_string()),
            Err(e) => tracing::error!("{e}; apps keep running as they are"),
        }
    }
}
