//! Failed probe checks, for people: the last reason per instance (shown by `describe`) and
//! `Unhealthy` events, at most [`BURST`] per app and probe kind in each [`WINDOW`], so a probe
//! failing every second on many instances cannot flood the controller's event ring.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::events::{About, EventLog};
use crate::probe::ProbeKind;
use crate::reconcile::InstanceId;

/// The span over which [`BURST`] events per app and probe kind are allowed.
pub const WINDOW: Duration = Duration::from_secs(60);
/// `Unhealthy` events per app and probe kind in one [`WINDOW`].
pub const BURST: u32 = 5;

/// One app's probe kind: when its window opened, events let through and held back in it.
#[derive(Debug, Clone, Copy)]
struct Window {
    opened: Instant,
    sent: u32,
    held: u32,
}

/// The last failure reason of each instance, and the per-app event windows.
#[derive(Debug, Default)]
pub struct ProbeNotes {
    /// Instance → (probe kind, what the failed check saw).
    last: BTreeMap<InstanceId, (ProbeKind, String)>,
    /// (app, kind) → its event window.
    windows: BTreeMap<(String, ProbeKind), Window>,
}

impl ProbeNotes {
    /// Records a failed check of instance `index` of `app`; an `Unhealthy` event unless the
    /// app's window for this kind is used up (the next one says how many were held back).
    pub fn failed(
        &mut self,
        events: &mut EventLog,
        (id, app, index): (InstanceId, &str, u32),
        kind: ProbeKind,
        message: &str,
        now: Instant,
    ) {
        self.remember(id, kind, message);
        let window = self
            .windows
            .entry((app.to_owned(), kind))
            .or_insert(Window {
                opened: now,
                sent: 0,
                held: 0,
            });
        if now.duration_since(window.opened) >= WINDOW {
            *window = Window {
                opened: now,
                sent: 0,
                held: window.held,
            };
        }
        if window.sent >= BURST {
            window.held += 1;
            return;
        }
        window.sent += 1;
        let held = std::mem::take(&mut window.held);
        let more = match held {
            0 => String::new(),
            n => format!(" ({n} more failed checks of {app} not shown)"),
        };
        let kind = match kind {
            ProbeKind::Readiness => "Readiness",
            ProbeKind::Liveness => "Liveness",
        };
        events.warning_about(
            About::Instance(app, index),
            "Unhealthy",
            format!("{kind} probe failed: {message}{more}"),
        );
    }

    /// Records the reason of a failed check of instance `id` without an event (a threshold
    /// crossing, which has events of its own).
    pub fn remember(&mut self, id: InstanceId, kind: ProbeKind, message: &str) {
        self.last.insert(id, (kind, message.to_owned()));
    }

    /// Forgets the reason of instance `id` (its probe passed, or it is gone).
    pub fn passed(&mut self, id: InstanceId) {
        self.last.remove(&id);
    }

    /// The last failure of instance `id`, for `describe`: `Readiness probe failed: …`.
    pub fn of(&self, id: InstanceId) -> Option<String> {
        self.last.get(&id).map(|(kind, message)| {
            let kind = match kind {
                ProbeKind::Readiness => "Readiness",
                ProbeKind::Liveness => "Liveness",
            };
            format!("{kind} probe failed: {message}")
        })
    }

    /// Keeps only what concerns live instances and apps (`live` says which).
    pub fn retain(&mut self, live: impl Fn(InstanceId) -> bool, app_live: impl Fn(&str) -> bool) {
        self.last.retain(|id, _| live(*id));
        self.windows.retain(|(app, _), _| app_live(app));
    }
}

impl super::Supervisor {
    /// Records a failed probe check of instance `id`: its reason for `describe`, and an
    /// `Unhealthy` event (rate-limited per app) when `event` (a check that crossed nothing;
    /// crossings have events of their own).
    pub fn probe_failed(
        &mut self,
        id: InstanceId,
        kind: crate::probe::ProbeKind,
        message: &str,
        (event, now): (bool, Instant),
    ) {
        let Some(inst) = self.instances.get(&id) else {
            return;
        };
        let (app, index) = (inst.app.clone(), inst.index);
        if !event {
            self.probe_notes.remember(id, kind, message);
            return;
        }
        let apps: std::collections::BTreeSet<&str> =
            self.instances.values().map(|i| i.app.as_str()).collect();
        let instances = &self.instances;
        self.probe_notes
            .retain(|id| instances.contains_key(&id), |app| apps.contains(app));
        let about = (id, app.as_str(), index);
        self.probe_notes
            .failed(&mut self.events, about, kind, message, now);
    }

    /// Forgets the probe failure of instance `id`: its probe passed.
    pub fn probe_passed(&mut self, id: InstanceId) {
        self.probe_notes.passed(id);
    }

    /// Why the probe of instance `id` last failed, unless it passed since.
    pub fn probe_failure(&self, id: InstanceId) -> Option<String> {
        self.probe_notes.of(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_failing_every_second_gives_a_few_events_a_minute() {
        let mut notes = ProbeNotes::default();
        let mut events = EventLog::default();
        let t0 = Instant::now();
        for s in 0..120u64 {
            for index in 0..10u32 {
                let at = t0 + Duration::from_secs(s);
                let id = u64::from(index) + 1;
                notes.failed(
                    &mut events,
                    (id, "web", index),
                    ProbeKind::Readiness,
                    "boom",
                    at,
                );
            }
        }
        let all = events.of("web");
        assert_eq!(all.len(), (BURST * 2) as usize, "two windows of {BURST}");
        assert!(all[0].message.starts_with("Readiness probe failed: boom"));
        assert!(
            all[BURST as usize]
                .message
                .contains("more failed checks of web not shown"),
            "{:?}",
            all[BURST as usize]
        );
        assert_eq!(notes.of(3).as_deref(), Some("Readiness probe failed: boom"));
        notes.passed(3);
        assert_eq!(notes.of(3), None);
        notes.retain(|id| id == 1, |_| false);
        assert!(notes.of(2).is_none() && notes.windows.is_empty());
    }
}
