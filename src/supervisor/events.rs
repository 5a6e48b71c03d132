//! Recent events per app, bounded, for `corral describe` (and mirrored to the controller log).

use std::collections::{BTreeMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use super::feed::Feed;
use crate::api::{Event, EventSubscription};

/// Events kept per app; older ones are dropped.
pub const EVENTS_PER_APP: usize = 64;

/// What an event is about: `corral events` shows it as OBJECT (`app/web`, `app/web-2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About<'a> {
    /// An app as a whole.
    App(&'a str),
    /// One instance of an app, by index.
    Instance(&'a str, u32),
    /// The controller itself: no app (a commit applied, a new file that does not parse).
    Controller,
}

/// Per-app ring buffers of events, and the numbered stream of all of them.
#[derive(Debug, Default)]
pub struct EventLog {
    apps: BTreeMap<String, VecDeque<Event>>,
    feed: Feed,
    /// Events recorded since the controller started, by `(type, reason)` (a bounded set).
    totals: BTreeMap<(String, String), u64>,
}

impl About<'_> {
    /// The app, unless the event is the controller's own.
    pub fn app(&self) -> Option<&str> {
        match self {
            Self::App(app) | Self::Instance(app, _) => Some(app),
            Self::Controller => None,
        }
    }
}

impl EventLog {
    /// Records a `Normal` event of an app.
    pub fn normal(&mut self, app: &str, reason: &str, message: String) {
        self.normal_about(About::App(app), reason, message);
    }

    /// Records a `Warning` event of an app.
    pub fn warning(&mut self, app: &str, reason: &str, message: String) {
        self.warning_about(About::App(app), reason, message);
    }

    /// Records a `Normal` event about an app, an instance or the controller.
    pub fn normal_about(&mut self, about: About, reason: &str, message: String) {
        tracing::info!(app = about.app().unwrap_or("-"), reason, "{message}");
        self.push(about, "Normal", reason, message);
    }

    /// Records a `Warning` event about an app, an instance or the controller.
    pub fn warning_about(&mut self, about: About, reason: &str, message: String) {
        tracing::warn!(app = about.app().unwrap_or("-"), reason, "{message}");
        self.push(about, "Warning", reason, message);
    }

    fn push(&mut self, about: About, kind: &str, reason: &str, message: String) {
        *self.totals.entry((kind.into(), reason.into())).or_default() += 1;
        let (app, index) = match about {
            About::App(app) => (Some(app), None),
            About::Instance(app, index) => (Some(app), Some(index)),
            About::Controller => (None, None),
        };
        let event = self.feed.publish(Event {
            seq: 0,
            at_ms: unix_ms(SystemTime::now()),
            kind: kind.into(),
            reason: reason.into(),
            app: app.map(str::to_owned),
            index,
            message,
        });
        let Some(app) = app else { return };
        let events = self.apps.entry(app.to_owned()).or_default();
        if events.len() == EVENTS_PER_APP {
            events.pop_front();
        }
        events.push_back(event);
    }

    /// The events kept so far (all apps, numbered) and a receiver of the ones to come.
    pub fn subscribe(&self) -> EventSubscription {
        self.feed.subscribe()
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

    /// The last sequence number and the kept events, for a successor (`corral upgrade`).
    pub fn export(&self) -> (u64, Vec<Event>) {
        self.feed.export()
    }

    /// Goes on from a predecessor's events: numbering continues, `describe` shows each app's
    /// last ones. Call before any event is recorded.
    pub fn import(&mut self, last_seq: u64, events: Vec<Event>) {
        for event in &events {
            let Some(app) = &event.app else { continue };
            let kept = self.apps.entry(app.clone()).or_default();
            if kept.len() == EVENTS_PER_APP {
                kept.pop_front();
            }
            kept.push_back(event.clone());
        }
        self.feed.import(last_seq, events);
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

    #[test]
    fn the_stream_numbers_every_event_and_names_what_it_is_about() {
        let mut log = EventLog::default();
        log.normal("web", "Started", "a".into());
        log.warning_about(About::Instance("web", 2), "Exited", "b".into());
        log.normal_about(About::Controller, "CommitApplied", "c".into());
        let all = log.subscribe().backlog;
        let got: Vec<_> = all
            .iter()
            .map(|e| (e.seq, e.app.as_deref(), e.index, e.kind.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Some("web"), None, "Normal"),
                (2, Some("web"), Some(2), "Warning"),
                (3, None, None, "Normal"),
            ]
        );
        assert_eq!(
            log.of("web").len(),
            2,
            "the controller's own stay out of apps"
        );
    }
}
