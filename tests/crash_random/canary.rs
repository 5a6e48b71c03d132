//! The canary app of the chaos test: what its rollout should be after each action (a model of
//! markers, `MARKER` being what changes its revision), the check of that model against the
//! real processes and `get -o json`, and the sampler that watches its processes the whole time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::common;

use common::procs::{alive, env_map, pgid};
use common::web::{addr, get, get_with_header, WebApp};
use common::Controller;
use corral::api::AppList;

/// The canary's weight (of 3 instances: ceil(3 × 34 / 100) = 2 canary instances).
pub const WEIGHT: u32 = 34;
/// Its steps: the weight, then a pause until `corral rollout promote`.
const STEPS: &str = "[{setWeight: 34}, {pause: {}}]";
/// The header that reaches the canary.
const HEADER: (&str, &str) = ("X-Corral-Canary", "always");

/// Where the canary app's rollout stands once it converged, by `MARKER` value.
#[derive(Debug, Clone, PartialEq)]
pub enum Rollout {
    /// One revision alone, no run.
    Settled(String),
    /// Stable in full and the canary beside it, at the pause (step 2 of 2, weight 34).
    Holding { stable: String, canary: String },
    /// Aborted: stable alone, `Degraded`.
    Aborted { stable: String, canary: String },
}

/// The canary app: 3 instances in mode http, a Canary strategy with a header.
pub fn app() -> WebApp {
    let mut app = WebApp::new("canary", "http");
    app.instances = 3;
    app.extra = vec![
        "stop: {timeout: 2s}".into(),
        // No analysis verdict in this test (an hour-long window): only the test steers.
        format!(
            "strategy: {{type: Canary, steps: {STEPS}, analysis: {{interval: 1h}}, \
             canaryHeader: {{name: {}, value: {}}}}}",
            HEADER.0, HEADER.1
        ),
    ];
    app
}

/// Canary instances for `instances` at the weight: rounded up, at least one.
pub fn canary_count(instances: u32) -> u32 {
    (instances * WEIGHT).div_ceil(100).max(1)
}

/// Checks the canary app against `model`; returns how many processes it runs.
pub fn check(
    ctl: &Controller,
    list: &AppList,
    app: &WebApp,
    model: &Rollout,
) -> Result<usize, String> {
    let status = list
        .apps
        .iter()
        .find(|a| a.name == app.name)
        .ok_or("canary is not listed")?;
    let procs = ctl.instances(&app.name);
    // marker → (revision, indexes)
    let mut by_marker: BTreeMap<String, (String, Vec<u32>)> = BTreeMap::new();
    for (pid, index) in &procs {
        let env = env_map(*pid);
        let marker = env.get("MARKER").cloned().unwrap_or_default();
        let revision = env.get("CORRAL_REVISION").cloned().unwrap_or_default();
        let entry = by_marker
            .entry(marker.clone())
            .or_insert((revision.clone(), Vec::new()));
        if entry.0 != revision {
            return Err(format!(
                "canary: marker {marker} runs as {} and {revision}",
                entry.0
            ));
        }
        entry.1.push(*index);
    }
    for (_, indexes) in by_marker.values_mut() {
        indexes.sort_unstable();
    }
    let full: Vec<u32> = (0..app.instances).collect();
    let some: Vec<u32> = (0..canary_count(app.instances)).collect();
    let (want, status_word): (Vec<(&String, &Vec<u32>)>, Option<&str>) = match model {
        Rollout::Settled(m) => (vec![(m, &full)], Some("Running")),
        Rollout::Holding { stable, canary } => (vec![(stable, &full), (canary, &some)], None),
        Rollout::Aborted { stable, .. } => (vec![(stable, &full)], Some("Degraded")),
    };
    let seen: Vec<(&String, &Vec<u32>)> = by_marker.iter().map(|(m, (_, i))| (m, i)).collect();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    if seen != want_sorted {
        return Err(format!(
            "canary ({model:?}): instances by marker {seen:?}, want {want_sorted:?}"
        ));
    }
    if let Some(word) = status_word.filter(|w| status.status != *w) {
        return Err(format!(
            "canary ({model:?}): status {}, want {word}",
            status.status
        ));
    }
    let revision_of = |m: &String| by_marker.get(m).map(|(r, _)| r.clone()).unwrap_or_default();
    match (model, &status.rollout) {
        (Rollout::Settled(_), None) => {}
        (Rollout::Holding { stable, canary }, Some(r)) => {
            let got = (
                r.step,
                r.steps,
                u32::from(r.weight),
                r.paused,
                r.aborted.is_some(),
            );
            if got != (2, 2, WEIGHT, true, false)
                || r.stable.revision != revision_of(stable)
                || r.canary.revision != revision_of(canary)
            {
                return Err(format!("canary ({model:?}): the run is {r:?}"));
            }
            let answer = get_with_header(addr(app.port), "/", HEADER)
                .map_err(|e| format!("canary by header: {e}"))?;
            if answer.field("marker") != Some(canary.as_str()) {
                return Err(format!("canary header reached {answer:?}"));
            }
        }
        (Rollout::Aborted { stable, canary }, Some(r)) => {
            if r.aborted.is_none() || r.stable.revision != revision_of(stable) || r.weight != 0 {
                return Err(format!("canary ({model:?}): the run is {r:?}"));
            }
            if status.revision == revision_of(stable) {
                return Err(format!(
                    "canary: the manifest's revision (of {canary}) is said to run"
                ));
            }
        }
        (_, r) => return Err(format!("canary ({model:?}): the run is {r:?}")),
    }
    let mut listed: Vec<u32> = status.instances.iter().filter_map(|i| i.pid).collect();
    listed.sort_unstable();
    let all_ready = status.instances.iter().all(|i| i.ready);
    if listed != procs.keys().copied().collect::<Vec<_>>() || !all_ready {
        return Err(format!(
            "canary: get lists {listed:?} (all ready: {all_ready})"
        ));
    }
    let answer = get(addr(app.port), "/").map_err(|e| format!("canary: {e}"))?;
    if answer.status != 200 {
        return Err(format!("canary: port {} said {}", app.port, answer.status));
    }
    Ok(procs.len())
}

/// Watches the canary app's processes every 50 ms, by their `CORRAL_REVISION`: never two
/// revisions at full size at once, never none.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    /// The app's full size now (the larger of before and after while a scale is in flight).
    pub full: Arc<AtomicU32>,
    /// The round in progress, for the messages.
    pub round: Arc<AtomicU32>,
    seen: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<u64>>,
}

impl Sampler {
    /// Starts watching the processes of `app` carrying `token`; the app runs `full` instances.
    pub fn start(token: &str, app: &str, full: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let full = Arc::new(AtomicU32::new(full));
        let round = Arc::new(AtomicU32::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (token, app) = (token.to_owned(), app.to_owned());
        let thread = {
            let (stop, full, round, seen) =
                (stop.clone(), full.clone(), round.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut samples = 0;
                while !stop.load(Ordering::Relaxed) {
                    let counts = revisions(&token, &app);
                    let n = full.load(Ordering::Relaxed) as usize;
                    let at_full = counts.values().filter(|c| **c >= n).count();
                    if counts.is_empty() || at_full > 1 {
                        let r = round.load(Ordering::Relaxed);
                        let mut seen = seen.lock().expect("sampler");
                        if seen.len() < 20 {
                            seen.push(format!("round {r}: {counts:?} (full size {n})"));
                        }
                    }
                    samples += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                samples
            })
        };
        Self {
            stop,
            full,
            round,
            seen,
            thread: Some(thread),
        }
    }

    /// What broke the invariants so far (at most 20 samples).
    pub fn violations(&self) -> Vec<String> {
        self.seen.lock().expect("sampler").clone()
    }

    /// Stops watching; returns how many samples were taken.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map(|t| t.join().expect("sampler thread"))
            .unwrap_or(0)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The live instance processes of `app` (process-group leaders whose argv holds the token) by
/// `CORRAL_REVISION`. Reads the environment of those only, so that a scan of the host's
/// processes stays well under the 50 ms period.
fn revisions(token: &str, app: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if !argv.split(|b| *b == 0).any(|a| a == token.as_bytes())
            || pgid(pid) != Some(pid)
            || !alive(pid)
        {
            continue;
        }
        let env = env_map(pid);
        if env.get("CORRAL_APP").map(String::as_str) != Some(app) {
            continue;
        }
        let revision = env.get("CORRAL_REVISION").cloned().unwrap_or_default();
        *counts.entry(revision).or_insert(0) += 1;
    }
    counts
}
