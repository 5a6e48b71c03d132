//! The last hour of each app's CPU and memory, for the console's charts: one point every
//! [`INTERVAL`] read from the metrics snapshot the controller publishes (never waiting on
//! its loop), at most [`POINTS`] per app, forgotten with the app.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::metrics::snapshot::Snapshot;
use crate::metrics::Published;

/// One point every this often.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// An hour of points.
pub const POINTS: usize = 360;

/// One point: unix seconds, CPU percent (of one core, summed over instances), memory bytes.
pub type Point = (u64, f32, u64);

/// One app's series, and what CPU% is worked out from.
#[derive(Debug, Default)]
struct Series {
    points: VecDeque<Point>,
    /// CPU seconds of each live process at the last point, by (index, start time).
    cpu: HashMap<(u32, u64), f64>,
}

/// Every app's series.
#[derive(Debug, Default)]
pub struct History {
    apps: Mutex<HashMap<String, Series>>,
    last: Mutex<Option<Instant>>,
}

impl History {
    fn apps(&self) -> std::sync::MutexGuard<'_, HashMap<String, Series>> {
        self.apps.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds one point per app of `snapshot`, taken at `at` (`elapsed` since the last one);
    /// apps no longer in it are forgotten.
    pub fn record(&self, snapshot: &Snapshot, unix: u64, elapsed: Option<Duration>) {
        let mut apps = self.apps();
        apps.retain(|name, _| snapshot.apps.iter().any(|a| &a.name == name));
        for app in &snapshot.apps {
            let series = apps.entry(app.name.clone()).or_default();
            let mut cpu = HashMap::new();
            let (mut used, mut memory) = (0.0, 0);
            for i in snapshot
                .instances
                .iter()
                .filter(|i| i.app == app.name && i.up)
            {
                memory += i.resident_memory_bytes.unwrap_or(0);
                let Some(seconds) = i.cpu_seconds else {
                    continue;
                };
                let key = (i.index, i.start_time_seconds.unwrap_or(0.0).to_bits());
                if let Some(before) = series.cpu.get(&key) {
                    used += (seconds - before).max(0.0);
                }
                cpu.insert(key, seconds);
            }
            let percent = match elapsed {
                Some(e) if !e.is_zero() => (used / e.as_secs_f64() * 100.0) as f32,
                _ => 0.0,
            };
            series.cpu = cpu;
            if series.points.len() == POINTS {
                series.points.pop_front();
            }
            series.points.push_back((unix, percent, memory));
        }
    }

    /// The app's points, oldest first (the last `n` at most).
    pub fn points(&self, app: &str, n: usize) -> Vec<Point> {
        let apps = self.apps();
        let Some(series) = apps.get(app) else {
            return Vec::new();
        };
        let skip = series.points.len().saturating_sub(n);
        series.points.iter().skip(skip).copied().collect()
    }
}

/// Records a point every [`INTERVAL`] (the first at once) until `shutdown`.
pub async fn run(history: Arc<History>, published: Published, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let now = Instant::now();
        let elapsed = {
            let mut last = history.last.lock().unwrap_or_else(|e| e.into_inner());
            last.replace(now).map(|l| now - l)
        };
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        history.record(&published.snapshot(), unix, elapsed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::snapshot::{AppSample, InstanceSample};

    fn snapshot(cpu_seconds: f64, memory: u64) -> Snapshot {
        Snapshot {
            apps: vec![AppSample {
                name: "web".into(),
                ..AppSample::default()
            }],
            instances: vec![InstanceSample {
                app: "web".into(),
                up: true,
                start_time_seconds: Some(100.0),
                cpu_seconds: Some(cpu_seconds),
                resident_memory_bytes: Some(memory),
                ..InstanceSample::default()
            }],
            ..Snapshot::default()
        }
    }

    #[test]
    fn cpu_is_the_difference_over_the_interval() {
        let h = History::default();
        h.record(&snapshot(1.0, 10), 1, None);
        h.record(&snapshot(6.0, 20), 11, Some(Duration::from_secs(10)));
        assert_eq!(h.points("web", 10), vec![(1, 0.0, 10), (11, 50.0, 20)]);
        assert_eq!(h.points("web", 1), vec![(11, 50.0, 20)]);
        assert!(h.points("other", 10).is_empty());
    }

    #[test]
    fn bounded_and_forgotten_with_the_app() {
        let h = History::default();
        for i in 0..(POINTS as u64 + 10) {
            h.record(&snapshot(0.0, i), i, Some(INTERVAL));
        }
        let points = h.points("web", usize::MAX);
        assert_eq!(points.len(), POINTS);
        assert_eq!(points[0].0, 10);
        h.record(&Snapshot::default(), 0, None);
        assert!(h.points("web", usize::MAX).is_empty());
    }
}
