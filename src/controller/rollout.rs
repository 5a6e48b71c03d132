//! Rollout progress per app, for `corral rollout status` and `ProgressDeadlineExceeded`:
//! like a Deployment, the deadline counts from the last progress (a new instance ready).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::lifecycle::protocol::{InFlight, Rollouts as HandedRollouts};

/// Progress of the rollout in flight for one app.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Progress {
    revision: String,
    last_progress: Instant,
    ready_new: u32,
    /// The most new instances ready at once so far (progress events report only new highs).
    best: u32,
    /// Whether it changes what was last rolled out (a crash and its recovery do not): only
    /// then are its steps events.
    announced: bool,
}

impl Progress {
    fn new(revision: &str, now: Instant, ready_new: u32, announced: bool) -> Self {
        Self {
            revision: revision.to_owned(),
            last_progress: now,
            ready_new,
            best: ready_new,
            announced,
        }
    }
}

/// What an observation changed, for the `Rollout*` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A rollout to a new revision began.
    Started,
    /// A change of instance count at the revision in force began.
    Scaling,
    /// More new instances are ready than ever before in this rollout.
    Progressed,
    /// Every wanted instance runs the revision and is ready; nothing old is left.
    Complete,
}

/// Progress events per rollout, at most (besides its start and completion).
const PROGRESS_STEPS: u32 = 10;

/// Rollouts in flight, by app.
#[derive(Debug, Default)]
pub struct Rollouts {
    apps: BTreeMap<String, Progress>,
    /// The revision and instance count each app last completed a rollout at.
    settled: BTreeMap<String, (String, u32)>,
}

impl Rollouts {
    /// Updates `app`'s rollout to `revision` of `replicas` instances with `ready_new` new ones
    /// ready; `complete` ends it. Returns the step to report, if any: a rollout that only
    /// replaces a crashed instance at the revision and count in force reports none.
    pub fn observe(
        &mut self,
        app: &str,
        (revision, replicas): (&str, u32),
        ready_new: u32,
        complete: bool,
        now: Instant,
    ) -> Option<Step> {
        if complete {
            self.settled
                .insert(app.to_owned(), (revision.to_owned(), replicas));
            let ended = self.apps.remove(app);
            return ended.filter(|p| p.announced).map(|_| Step::Complete);
        }
        // A change while nothing is in flight is news unless it only restores what was settled
        // (a crashed instance replaced); a new revision in flight always is.
        let step = match self.settled.get(app) {
            Some((r, n)) if r == revision && *n == replicas => None,
            Some((r, _)) if r == revision => Some(Step::Scaling),
            _ => Some(Step::Started),
        };
        let Some(p) = self.apps.get_mut(app) else {
            let fresh = Progress::new(revision, now, ready_new, step.is_some());
            self.apps.insert(app.to_owned(), fresh);
            return step;
        };
        if p.revision != revision {
            *p = Progress::new(revision, now, ready_new, true);
            return Some(Step::Started);
        }
        // A big app reports every tenth of the way, not every instance (a thousand instances
        // would otherwise fill the event ring with progress lines).
        let stride = (replicas / PROGRESS_STEPS).max(1);
        let step =
            (ready_new / stride > p.best / stride && p.announced).then_some(Step::Progressed);
        p.best = p.best.max(ready_new);
        if ready_new > p.ready_new {
            p.last_progress = now;
            p.ready_new = ready_new;
        } else {
            p.ready_new = ready_new;
        }
        step
    }

    /// Counts a canary's step as progress (its progress deadline restarts from `now`).
    pub fn progressed(&mut self, app: &str, now: Instant) {
        if let Some(p) = self.apps.get_mut(app) {
            p.last_progress = now;
        }
    }

    /// The revision `app` last completed a rollout at, if any.
    pub fn settled_revision(&self, app: &str) -> Option<&str> {
        self.settled.get(app).map(|(revision, _)| revision.as_str())
    }

    /// Whether `app`'s rollout made no progress for `deadline`.
    pub fn stalled(&self, app: &str, deadline: Duration, now: Instant) -> bool {
        self.apps
            .get(app)
            .is_some_and(|p| now.saturating_duration_since(p.last_progress) >= deadline)
    }

    /// Whether a rollout is in flight for `app`.
    pub fn in_flight(&self, app: &str) -> bool {
        self.apps.contains_key(app)
    }

    /// Whether a rollout to a revision other than the one last completed is in flight (not a
    /// first start, a scale, or a crashed instance replaced): `Progressing` until it completes.
    pub fn updating(&self, app: &str) -> bool {
        let settled = self.settled.get(app).map(|(r, _)| r);
        self.apps
            .get(app)
            .is_some_and(|p| settled.is_some_and(|r| *r != p.revision))
    }

    /// Forgets an app.
    pub fn forget(&mut self, app: &str) {
        self.apps.remove(app);
        self.settled.remove(app);
    }

    /// Everything, for the controller that takes over (`corral upgrade`).
    pub fn export(&self, now: Instant) -> HandedRollouts {
        let in_flight = self
            .apps
            .iter()
            .map(|(app, p)| InFlight {
                app: app.clone(),
                revision: p.revision.clone(),
                since_progress_ms: now.saturating_duration_since(p.last_progress).as_millis()
                    as u64,
                ready_new: p.ready_new,
                best: p.best,
                announced: p.announced,
            })
            .collect();
        HandedRollouts {
            settled: self.settled.clone(),
            in_flight,
        }
    }

    /// Takes over what [`Rollouts::export`] handed over.
    pub fn import(handed: HandedRollouts, now: Instant) -> Self {
        let apps = handed
            .in_flight
            .into_iter()
            .map(|f| {
                let since = Duration::from_millis(f.since_progress_ms);
                let progress = Progress {
                    revision: f.revision,
                    last_progress: now.checked_sub(since).unwrap_or(now),
                    ready_new: f.ready_new,
                    best: f.best,
                    announced: f.announced,
                };
                (f.app, progress)
            })
            .collect();
        Self {
            apps,
            settled: handed.settled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollout_in_flight_survives_a_hand_over_with_its_deadline() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut r = Rollouts::default();
        r.observe("web", ("a", 2), 2, true, t0);
        r.observe("api", ("b", 4), 1, false, t0);
        let handed = r.export(t0 + 5 * s);
        let later = t0 + 100 * s;
        let mut next = Rollouts::import(handed, later);
        assert!(next.in_flight("api") && !next.in_flight("web"));
        assert!(next.stalled("api", 5 * s, later));
        assert!(!next.stalled("api", 6 * s, later));
        assert_eq!(next.observe("web", ("a", 2), 2, true, later), None);
        assert_eq!(
            next.observe("api", ("b", 4), 2, false, later),
            Some(Step::Progressed)
        );
    }

    #[test]
    fn the_deadline_counts_from_the_last_progress() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut r = Rollouts::default();
        r.observe("web", ("b", 4), 0, false, t0);
        assert!(!r.stalled("web", 10 * s, t0 + 9 * s));
        r.observe("web", ("b", 4), 1, false, t0 + 9 * s);
        assert!(!r.stalled("web", 10 * s, t0 + 15 * s));
        assert!(r.stalled("web", 10 * s, t0 + 19 * s));
        r.observe("web", ("c", 4), 0, false, t0 + 19 * s);
        assert!(!r.stalled("web", 10 * s, t0 + 20 * s));
        r.observe("web", ("c", 4), 4, true, t0 + 21 * s);
        assert!(!r.in_flight("web"));
    }

    #[test]
    fn steps_report_start_new_highs_and_completion_once() {
        let t = Instant::now();
        let mut r = Rollouts::default();
        let (a, b, c) = (("a", 4), ("b", 4), ("c", 4));
        assert_eq!(
            r.observe("web", a, 4, true, t),
            None,
            "steady: nothing to say"
        );
        assert_eq!(r.observe("web", b, 0, false, t), Some(Step::Started));
        assert_eq!(r.observe("web", b, 0, false, t), None);
        assert_eq!(r.observe("web", b, 1, false, t), Some(Step::Progressed));
        assert_eq!(r.observe("web", b, 0, false, t), None, "a dip is no news");
        assert_eq!(r.observe("web", b, 1, false, t), None, "nor its recovery");
        assert_eq!(r.observe("web", b, 2, false, t), Some(Step::Progressed));
        assert_eq!(r.observe("web", c, 0, false, t), Some(Step::Started));
        assert_eq!(r.observe("web", c, 4, true, t), Some(Step::Complete));
        assert_eq!(r.observe("web", c, 4, true, t), None);
    }

    #[test]
    fn a_big_rollout_reports_progress_every_tenth_of_the_way() {
        let t = Instant::now();
        let mut r = Rollouts::default();
        let b = ("b", 1000);
        assert_eq!(r.observe("web", b, 0, false, t), Some(Step::Started));
        let progressed: Vec<u32> = (1..1000)
            .filter(|&n| r.observe("web", b, n, false, t) == Some(Step::Progressed))
            .collect();
        assert_eq!(progressed, (1..10).map(|k| k * 100).collect::<Vec<_>>());
        assert_eq!(r.observe("web", b, 1000, true, t), Some(Step::Complete));
        // Jumps report once per jump; a count under ten reports every instance.
        assert_eq!(
            r.observe("web", ("c", 1000), 0, false, t),
            Some(Step::Started)
        );
        assert_eq!(
            r.observe("web", ("c", 1000), 450, false, t),
            Some(Step::Progressed)
        );
        assert_eq!(r.observe("web", ("c", 1000), 499, false, t), None);
        assert_eq!(r.observe("web", ("d", 7), 0, false, t), Some(Step::Started));
        for n in 1..7 {
            assert_eq!(
                r.observe("web", ("d", 7), n, false, t),
                Some(Step::Progressed)
            );
        }
    }

    #[test]
    fn a_crash_at_the_revision_in_force_is_no_rollout_but_a_new_count_is_scaling() {
        let t = Instant::now();
        let mut r = Rollouts::default();
        assert_eq!(r.observe("web", ("a", 2), 0, false, t), Some(Step::Started));
        assert_eq!(r.observe("web", ("a", 2), 2, true, t), Some(Step::Complete));
        // Instance 1 crashed and comes back: in flight for the deadline, silent for events.
        assert_eq!(r.observe("web", ("a", 2), 1, false, t), None);
        assert!(r.in_flight("web"));
        assert_eq!(r.observe("web", ("a", 2), 2, true, t), None);
        assert_eq!(r.observe("web", ("a", 4), 2, false, t), Some(Step::Scaling));
        assert_eq!(
            r.observe("web", ("a", 4), 3, false, t),
            Some(Step::Progressed)
        );
        assert_eq!(r.observe("web", ("a", 4), 4, true, t), Some(Step::Complete));
        // Edited to b, then back to a before b completes: both are rollouts.
        assert_eq!(r.observe("web", ("b", 4), 0, false, t), Some(Step::Started));
        assert_eq!(r.observe("web", ("a", 4), 3, false, t), Some(Step::Started));
        assert_eq!(r.observe("web", ("a", 4), 4, true, t), Some(Step::Complete));
    }

    #[test]
    fn updating_means_a_new_revision_in_flight_not_a_first_start_a_scale_or_a_crash() {
        let t = Instant::now();
        let mut r = Rollouts::default();
        r.observe("web", ("a", 2), 0, false, t);
        assert!(r.in_flight("web") && !r.updating("web"), "a first start");
        r.observe("web", ("a", 2), 2, true, t);
        r.observe("web", ("a", 2), 1, false, t);
        assert!(!r.updating("web"), "a crashed instance replaced");
        r.observe("web", ("a", 4), 2, true, t);
        r.observe("web", ("a", 5), 4, false, t);
        assert!(!r.updating("web"), "a scale");
        r.observe("web", ("b", 5), 0, false, t);
        assert!(r.updating("web"));
        r.observe("web", ("b", 5), 5, false, t);
        assert!(r.updating("web"), "until it completes");
        r.observe("web", ("b", 5), 5, true, t);
        assert!(!r.updating("web"));
    }
}
