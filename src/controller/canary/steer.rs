//! Before each plan: every run's steps advance, its canary is judged, and the planner and the
//! proxy are told what the run wants now.

use std::time::{Duration, Instant};

use super::analysis::{judge, Figures, Verdict};
use super::run::{BlueGreenTimes, Note};
use super::{Kind, Window};
use crate::controller::{now_ms, Controller};
use crate::manifest::{Analysis, ListenMode, Strategy};
use crate::net::CanaryRoute;
use crate::reconcile::Phase;

/// How long a BlueGreen keeps the old revision after the switch, unless `scaleDownDelay` says.
const DEFAULT_SCALE_DOWN_DELAY: Duration = Duration::from_secs(30);

impl Controller {
    /// Hands each BlueGreen preview the new revision's ready instances.
    pub(in crate::controller) fn update_previews(&mut self) {
        let runs: Vec<(String, String)> = self
            .canaries
            .runs
            .iter()
            .filter(|(name, _)| self.previews.has(name))
            .map(|(name, r)| (name.clone(), r.canary.clone()))
            .collect();
        for (name, canary) in runs {
            let ready = self
                .supervisor
                .instances_of(&name)
                .filter(|i| i.revision == canary && matches!(i.phase, Phase::Ready { .. }))
                .map(|i| crate::net::Backend {
                    id: i.id,
                    ports: i.ports.clone(),
                    revision: i.revision.clone(),
                })
                .collect();
            self.previews.set_backends(&name, ready);
        }
    }

    /// Steers every run; returns when one wants looking at again (a pause ends, a check is due).
    pub(in crate::controller) fn steer_canaries(&mut self, now: Instant) -> Option<Instant> {
        let names: Vec<String> = self.canaries.runs.keys().cloned().collect();
        let mut wake: Option<Instant> = None;
        for name in names {
            let at = self.steer(&name, now);
            wake = [wake, at].into_iter().flatten().min();
        }
        wake
    }

    pub(in crate::controller) fn steer(&mut self, name: &str, now: Instant) -> Option<Instant> {
        let spec = &self.store.apps.get(name)?.app.spec;
        let strategy = spec.strategy.clone();
        // With a readiness probe, ready means the app said so; by the 1 s rule, maybe not yet.
        let probed = spec.readiness.is_some();
        // What the proxy's counters can judge: every listen entry behind the http proxy.
        let http =
            !spec.listen.is_empty() && spec.listen.iter().all(|l| l.mode == ListenMode::Http);
        let replicas = self.desired.get(name)?.replicas;
        let run = self.canaries.runs.get(name)?;
        let (canary, stable) = (run.canary.clone(), run.stable.clone());
        let (mut canary_ready, mut others) = (0, 0);
        for inst in self.supervisor.instances_of(name) {
            match inst.phase {
                Phase::Ready { .. } if inst.revision == canary => canary_ready += 1,
                _ if inst.revision == canary && inst.phase != Phase::Stopping => {}
                _ => others += 1,
            }
        }
        let run = self.canaries.runs.get_mut(name)?;
        // A promoted run ends once the new revision runs alone and in full.
        if run.aborted.is_none() && run.promoted && others == 0 && canary_ready >= replicas {
            self.end_run(name);
            return None;
        }
        let now_ms = now_ms();
        let (notes, pause_end) = match run.kind {
            Kind::BlueGreen => {
                let times = BlueGreenTimes {
                    auto_promotion: strategy
                        .auto_promotion_seconds
                        .map(|s| Duration::from_secs(s.into())),
                    scale_down_delay: strategy
                        .scale_down_delay
                        .map_or(DEFAULT_SCALE_DOWN_DELAY, |d| d.0),
                    needs_analysis: strategy.analysis.is_some() && http,
                };
                run.advance_blue_green(&times, replicas, canary_ready, now_ms)
            }
            _ => run.advance(&strategy.steps, replicas, canary_ready, now_ms),
        };
        if !notes.is_empty() {
            self.canaries.dirty = true;
            self.rollouts.progressed(name, now);
        }
        for note in notes {
            self.note_step(name, note, replicas);
        }
        let mut wake = pause_end.map(|end| now + Duration::from_millis(end.saturating_sub(now_ms)));
        if run_kind(self, name) == Some(Kind::Rolling) {
            self.roll_back_when_stalled(name, &strategy, now);
        }
        // A BlueGreen is judged on its preview traffic before the switch, when analysis is
        // written; a canary always.
        let judged = self.canaries.runs.get(name).is_some_and(|r| match r.kind {
            Kind::BlueGreen => r.switched_ms.is_none() && strategy.analysis.is_some(),
            _ => true,
        });
        let wanted = self.canaries.runs.get(name).and_then(|r| r.hold(replicas));
        match wanted {
            // Judged once every canary instance of the step is ready, from a fresh window.
            Some(hold) if http && judged && canary_ready >= hold.instances => {
                let check = self.analyse(name, &stable, &canary, &strategy, probed, now);
                wake = [wake, check].into_iter().flatten().min();
            }
            _ => {
                self.canaries.windows.remove(name);
            }
        }
        let run = self.canaries.runs.get(name)?;
        let (revision, hold, holding) =
            (run.revision().to_owned(), run.hold(replicas), run.holding());
        let route = holding.then(|| CanaryRoute {
            revision: canary.clone(),
            weight: run.weight,
            header: strategy
                .canary_header
                .as_ref()
                .map(|h| (h.name.to_ascii_lowercase(), h.value.clone())),
        });
        if let Some(d) = self.desired.get_mut(name) {
            d.revision = revision;
            d.canary = hold;
        }
        self.listening.set_canary(name, route);
        wake
    }

    /// Compares canary and stable over the window in force once `interval` passed; returns
    /// when the next check is due. Without a readiness probe (`probed` false), the first
    /// window is a grace window, not judged.
    fn analyse(
        &mut self,
        name: &str,
        stable: &str,
        canary: &str,
        strategy: &Strategy,
        probed: bool,
        now: Instant,
    ) -> Option<Instant> {
        let analysis = strategy.analysis.clone().unwrap_or_default();
        let interval = analysis.interval.0;
        let mut stats = self.listening.revision_stats(name);
        // A BlueGreen's new revision takes its requests on the preview port.
        if let Some(preview) = self.previews.revision_stats(name).remove(canary) {
            stats.insert(canary.to_owned(), preview);
        }
        let window = self
            .canaries
            .windows
            .entry(name.to_owned())
            .or_insert_with(|| Window {
                since: now,
                start: stats.clone(),
                grace: !probed,
            });
        if now < window.since + interval {
            return Some(window.since + interval);
        }
        if window.grace {
            *window = Window {
                since: now,
                start: stats,
                grace: false,
            };
            return Some(now + interval);
        }
        let figures = |rev: &str| -> Figures {
            let (Some(end), start) = (stats.get(rev), window.start.get(rev)) else {
                return Figures::default();
            };
            let w = match start {
                Some(start) => end.since(start),
                None => end.since(&Default::default()),
            };
            Figures {
                requests: w.requests,
                errors: w.errors,
                latency: w.percentile(analysis.latency_percentile / 100.0),
            }
        };
        let (s, c) = (figures(stable), figures(canary));
        let verdict = judge(&analysis, &s, &c);
        for (rev, f) in [(stable, &s), (canary, &c)] {
            let traffic = crate::api::Traffic {
                requests: f.requests,
                errors: f.errors,
                latency_ms: f.latency.map(|l| l.as_secs_f64() * 1000.0),
                percentile: analysis.latency_percentile,
            };
            self.canaries
                .traffic
                .insert((name.to_owned(), rev.to_owned()), traffic);
        }
        match verdict {
            Verdict::TooFew => {
                // The window goes on until the canary has had enough requests.
                window.since = now;
                return Some(now + interval);
            }
            Verdict::Pass => {
                if let Some(run) = self.canaries.runs.get_mut(name) {
                    run.passed_checks += 1;
                }
            }
            Verdict::Fail(why) => self.canary_failed(name, &analysis, why),
        }
        self.canaries.windows.insert(
            name.to_owned(),
            Window {
                since: now,
                start: stats,
                grace: false,
            },
        );
        Some(now + interval)
    }

    /// Counts a failed check (or a canary crash); past `failureLimit` the run is aborted.
    pub(in crate::controller) fn canary_failed(
        &mut self,
        name: &str,
        analysis: &Analysis,
        why: String,
    ) {
        let Some(run) = self.canaries.runs.get_mut(name).filter(|r| r.holding()) else {
            return;
        };
        run.failed_checks += 1;
        self.canaries.dirty = true;
        if run.failed_checks <= analysis.failure_limit {
            let msg = format!(
                "check {} of {} allowed failed: {why}",
                run.failed_checks, analysis.failure_limit
            );
            self.supervisor.events.warning(name, "AnalysisFailed", msg);
            return;
        }
        self.abort_run(name, format!("analysis failed: {why}"));
    }

    /// Aborts `name`'s run: traffic back to stable at once, canary instances stopped by the
    /// next plan, `RolloutAborted` with why.
    pub(in crate::controller) fn abort_run(&mut self, name: &str, why: String) {
        let Some(run) = self.canaries.runs.get_mut(name) else {
            return;
        };
        let msg = format!(
            "back to revision {} (the manifest's {} is not running): {why}",
            run.stable, run.canary
        );
        run.abort(why);
        self.canaries.dirty = true;
        self.canaries.windows.remove(name);
        self.listening.set_canary(name, None);
        self.previews.remove(name);
        self.supervisor.events.warning(name, "RolloutAborted", msg);
    }

    /// A rolling update with `autoRollback` past its `progressDeadline` goes back to stable.
    fn roll_back_when_stalled(&mut self, name: &str, strategy: &Strategy, now: Instant) {
        let aborted = self
            .canaries
            .runs
            .get(name)
            .is_some_and(|r| r.aborted.is_some());
        if aborted
            || !self
                .rollouts
                .stalled(name, strategy.progress_deadline.0, now)
        {
            return;
        }
        let why = format!(
            "progress deadline ({}) exceeded and autoRollback is set",
            strategy.progress_deadline
        );
        self.abort_run(name, why);
    }

    /// Reports a step as an event.
    fn note_step(&mut self, name: &str, note: Note, replicas: u32) {
        let events = &mut self.supervisor.events;
        match note {
            Note::Weight(w) => {
                let n = crate::reconcile::CanaryHold::instances_for(w, replicas);
                let msg = format!("canary weight {w}% ({n} canary instance(s))");
                events.normal(name, "CanaryWeight", msg);
            }
            Note::AwaitingPromotion => events.normal(
                name,
                "CanaryPaused",
                "waiting for `corral rollout promote`".into(),
            ),
            Note::Switched => events.normal(
                name,
                "Switched",
                "the public port serves the new revision; the old one stays for scaleDownDelay"
                    .into(),
            ),
            Note::Promoted => events.normal(
                name,
                "CanaryPromoted",
                "every step done: the new revision rolls out in full".into(),
            ),
        }
    }

    /// A canary instance exited unplanned or failed its liveness probe: a failed check.
    pub(in crate::controller) fn canary_instance_failed(
        &mut self,
        name: &str,
        revision: &str,
        what: String,
    ) {
        let holding = self.canaries.runs.get(name);
        if !holding.is_some_and(|r| r.holding() && r.canary == revision) {
            return;
        }
        let analysis = self
            .store
            .apps
            .get(name)
            .and_then(|l| l.app.spec.strategy.analysis.clone())
            .unwrap_or_default();
        self.canary_failed(name, &analysis, what);
    }
}

fn run_kind(ctl: &Controller, name: &str) -> Option<Kind> {
    ctl.canaries.runs.get(name).map(|r| r.kind)
}
