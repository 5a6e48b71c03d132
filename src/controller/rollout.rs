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
}

/// Rollouts in flight, by app.
#[derive(Debug, Default)]
pub struct Rollouts {
    apps: BTreeMap<String, Progress>,
}

impl Rollouts {
    /// Updates `app`'s rollout to `revision` with `ready_new` new instances ready; `complete`
    /// ends it.
    pub fn observe(
        &mut self,
        app: &str,
        revision: &str,
        ready_new: u32,
        complete: bool,
        now: Instant,
    ) {
        if complete {
            self.apps.remove(app);
            return;
        }
        let p = self.apps.entry(app.to_owned()).or_insert_with(|| Progress {
            revision: revision.to_owned(),
            last_progress: now,
            ready_new,
        });
        if p.revision != revision {
            *p = Progress {
                revision: revision.to_owned(),
                last_progress: now,
                ready_new,
            };
        } else if ready_new > p.ready_new {
            p.last_progress = now;
            p.ready_new = ready_new;
        } else {
            p.ready_new = ready_new;
        }
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
}
