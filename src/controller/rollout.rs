//! Rollout progress per app, for `corral rollout status` and `ProgressDeadlineExceeded`:
//! like a Deployment, the deadline counts from the last progress (a new instance ready).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Progress of the rollout in flight for one app.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Progress {
    revision: String,
    last_progress: Instant,
    ready_new: u32,
    /// The most new instances ready at once so far (progress events report only new highs).
    best: u32,
}

/// What an observation changed, for the `Rollout*` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A rollout to a new revision (or instance count) began.
    Started,
    /// More new instances are ready than ever before in this rollout.
    Progressed,
    /// Every wanted instance runs the revision and is ready; nothing old is left.
    Complete,
}

/// Rollouts in flight, by app.
#[derive(Debug, Default)]
pub struct Rollouts {
    apps: BTreeMap<String, Progress>,
}

impl Rollouts {
    /// Updates `app`'s rollout to `revision` with `ready_new` new instances ready; `complete`
    /// ends it. Returns what changed, if anything.
    pub fn observe(
        &mut self,
        app: &str,
        revision: &str,
        ready_new: u32,
        complete: bool,
        now: Instant,
    ) -> Option<Step> {
        if complete {
            return self.apps.remove(app).map(|_| Step::Complete);
        }
        let fresh = Progress {
            revision: revision.to_owned(),
            last_progress: now,
            ready_new,
            best: ready_new,
        };
        let Some(p) = self.apps.get_mut(app) else {
            self.apps.insert(app.to_owned(), fresh);
            return Some(Step::Started);
        };
        if p.revision != revision {
            *p = fresh;
            return Some(Step::Started);
        }
        let step = (ready_new > p.best).then_some(Step::Progressed);
        p.best = p.best.max(ready_new);
        if ready_new > p.ready_new {
            p.last_progress = now;
            p.ready_new = ready_new;
        } else {
            p.ready_new = ready_new;
        }
        step
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

    /// Forgets an app.
    pub fn forget(&mut self, app: &str) {
        self.apps.remove(app);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_counts_from_the_last_progress() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut r = Rollouts::default();
        r.observe("web", "b", 0, false, t0);
        assert!(!r.stalled("web", 10 * s, t0 + 9 * s));
        r.observe("web", "b", 1, false, t0 + 9 * s);
        assert!(!r.stalled("web", 10 * s, t0 + 15 * s));
        assert!(r.stalled("web", 10 * s, t0 + 19 * s));
        r.observe("web", "c", 0, false, t0 + 19 * s);
        assert!(!r.stalled("web", 10 * s, t0 + 20 * s));
        r.observe("web", "c", 4, true, t0 + 21 * s);
        assert!(!r.in_flight("web"));
    }

    #[test]
    fn steps_report_start_new_highs_and_completion_once() {
        let t = Instant::now();
        let mut r = Rollouts::default();
        assert_eq!(
            r.observe("web", "a", 4, true, t),
            None,
            "steady, nothing to say"
        );
        assert_eq!(r.observe("web", "b", 0, false, t), Some(Step::Started));
        assert_eq!(r.observe("web", "b", 0, false, t), None);
        assert_eq!(r.observe("web", "b", 1, false, t), Some(Step::Progressed));
        assert_eq!(r.observe("web", "b", 0, false, t), None, "a dip is no news");
        assert_eq!(
            r.observe("web", "b", 1, false, t),
            None,
            "nor is its recovery"
        );
        assert_eq!(r.observe("web", "b", 2, false, t), Some(Step::Progressed));
        assert_eq!(r.observe("web", "c", 0, false, t), Some(Step::Started));
        assert_eq!(r.observe("web", "c", 4, true, t), Some(Step::Complete));
        assert_eq!(r.observe("web", "c", 4, true, t), None);
    }
}
