//! Recent events per app, bounded, for `corral describe` (and mirrored to the controller log).

use std::collections::{BTreeMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::api::Event;

/// Events kept per app; older ones are dropped.
pub const EVENTS_PER_APP: usize = 64;

/// Per-app ring buffers of events.
#[derive(Debug, Default)]
pub struct EventLog {
    apps: BTreeMap<String, VecDeque<Event>>,
    /// Events recorded since the controller started, by `(type, reason)` (a bounded set).
    totals: BTreeMap<(String, String), u64>,
}

impl EventLog {
    /// Records a `Normal` event.
    pub fn normal(&mut self, app: &str, reason: &str, message: String) {
        tracing::info!(app, reason, "{message}");
        self.push(app, "Normal", reason, message);
    }

    /// Records a `Warning` event.
    pub fn warning(&mut self, app: &str, reason: &str, message: String) {
        tracing::warn!(app, reason, "{message}");
        self.push(app, "Warning", reason, message);
    }

    fn push(&mut self, app: &str, kind: &str, reason: &str, message: String) {
        *self.totals.entry((kind.into(), reason.into())).or_default() += 1;
        let events = self.apps.entry(app.to_owned()).or_default();
        if events.len() == EVENTS_PER_APP {
            events.pop_front();
        }
        events.push_back(Event {
            at_ms: unix_ms(SystemTime::now()),
            kind: kind.into(),
            reason: reason.into(),
            message,
        });
    }

    /// Events of `app`, oldest first.
    pub fn of(&self, app: &str) -> Vec<Event> {
        self.apps
            .get(app)
            .map(|e| e.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Events recorded since the controller started, by `(type, reason)`, for `/metrics`.
    pub fn totals(&self) -> &BTreeMap<(String, String), u64> {
        &self.totals
    }

    /// Forgets an app that is gone.
    pub fn forget(&mut self, app: &str) {
        self.apps.remove(app);
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_most_recent_events() {
        let mut log = EventLog::default();
        for i in 0..EVENTS_PER_APP + 10 {
            log.normal("web", "Started", format!("n{i}"));
        }
        let events = log.of("web");
        assert_eq!(events.len(), EVENTS_PER_APP);
        assert_eq!(events[0].message, "n10");
        let started = ("Normal".to_string(), "Started".to_string());
        assert_eq!(log.totals()[&started], (EVENTS_PER_APP + 10) as u64);
    }
}
