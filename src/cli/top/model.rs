//! What `corral top` shows, as plain state: the latest snapshot of the control API, bounded
//! CPU/memory histories, the selection, the open panel and the selected app's last log lines.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::api::{AppList, AppStatus};
use crate::manifest::AppSpec;

/// How far back the sparklines reach.
pub const HISTORY_SECONDS: u64 = 300;
/// Log lines kept for the panel (the newest).
pub const LOG_LINES: usize = 200;

/// A bounded FIFO: pushing past the capacity drops the oldest value.
#[derive(Debug, Clone, PartialEq)]
pub struct Ring<T> {
    values: VecDeque<T>,
    capacity: usize,
}

impl<T> Ring<T> {
    /// An empty ring holding at most `capacity` (at least 1) values.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            values: VecDeque::with_capacity(capacity.min(64)),
            capacity,
        }
    }

    /// Appends `value`, dropping the oldest one when full.
    pub fn push(&mut self, value: T) {
        if self.values.len() == self.capacity {
            self.values.pop_front();
        }
        self.values.push_back(value);
    }

    /// The values, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.values.iter()
    }

    /// How many values it holds.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether it holds none.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Forgets every value.
    pub fn clear(&mut self) {
        self.values.clear();
    }
}

/// CPU and memory samples of one app (`index` None) or one instance slot.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// CPU percent per refresh.
    pub cpu: Ring<f32>,
    /// RSS bytes per refresh.
    pub memory: Ring<u64>,
}

/// The panel under the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// The selected app's log lines, streaming.
    Logs,
    /// The selected app's recent events.
    Events,
    /// The keys.
    Help,
    /// None: the table takes the whole screen.
    Hidden,
}

/// Something the user asked for that `top` itself cannot do: it goes to the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `corral reload NAME`.
    Reload(String),
    /// `corral restart NAME`.
    Restart(String),
    /// `corral scale NAME N`.
    Scale(String, u32),
}

/// Everything on screen.
#[derive(Debug, Clone)]
pub struct Model {
    /// Apps of the latest snapshot, sorted by name.
    pub apps: Vec<AppStatus>,
    /// Manifest problems of the latest snapshot.
    pub problems: usize,
    /// When the latest snapshot was taken (unix ms).
    pub now_ms: u64,
    /// Why the latest refresh failed (the previous snapshot stays on screen).
    pub error: Option<String>,
    /// The selected app's name.
    pub selected: Option<String>,
    /// The open panel.
    pub panel: Panel,
    /// The instance count being typed after `s`.
    pub prompt: Option<String>,
    /// The outcome of the last command, for the footer.
    pub message: Option<String>,
    /// Samples per app (`None`) and instance slot (`Some(index)`).
    histories: HashMap<(String, Option<u32>), History>,
    /// Samples each history keeps.
    capacity: usize,
    /// `spec.memory.limit` per app that has one (read once per snapshot, not per draw).
    limits: HashMap<String, u64>,
    /// The selected app's newest log lines.
    pub logs: Ring<String>,
}

impl Model {
    /// An empty model keeping `capacity` samples per history (HISTORY_SECONDS at the refresh
    /// interval).
    pub fn new(capacity: usize) -> Self {
        Self {
            apps: Vec::new(),
            problems: 0,
            now_ms: 0,
            error: None,
            selected: None,
            panel: Panel::Logs,
            prompt: None,
            message: None,
            histories: HashMap::new(),
            capacity: capacity.max(1),
            limits: HashMap::new(),
            logs: Ring::new(LOG_LINES),
        }
    }

    /// Takes a new snapshot: records a sample per app and instance, forgets what is gone, and
    /// keeps the selection on the same app (the first one when it went away).
    pub fn update(&mut self, list: AppList, now_ms: u64) {
        self.apps = list.apps;
        self.apps.sort_by(|a, b| a.name.cmp(&b.name));
        self.problems = list.errors.len();
        self.now_ms = now_ms;
        self.error = None;
        let capacity = self.capacity;
        let mut seen = HashSet::new();
        for app in &self.apps {
            let mut record = |index: Option<u32>, cpu: Option<f32>, memory: Option<u64>| {
                let key = (app.name.clone(), index);
                let h = self
                    .histories
                    .entry(key.clone())
                    .or_insert_with(|| History {
                        cpu: Ring::new(capacity),
                        memory: Ring::new(capacity),
                    });
                if let Some(cpu) = cpu {
                    h.cpu.push(cpu);
                }
                if let Some(memory) = memory {
                    h.memory.push(memory);
                }
                seen.insert(key);
            };
            record(None, app.cpu_percent, app.memory_bytes);
            for i in &app.instances {
                record(Some(i.index), i.cpu_percent, i.memory_bytes);
            }
        }
        self.histories.retain(|key, _| seen.contains(key));
        self.limits = self
            .apps
            .iter()
            .filter_map(|a| Some((a.name.clone(), memory_limit(a)?)))
            .collect();
        let still_there = |name: &String| self.apps.iter().any(|a| &a.name == name);
        if !self.selected.as_ref().is_some_and(still_there) {
            self.selected = self.apps.first().map(|a| a.name.clone());
        }
    }

    /// A refresh failed: say why, keep the last snapshot.
    pub fn refresh_failed(&mut self, error: String) {
        self.error = Some(error);
    }

    /// The samples of an app (`None`) or an instance slot.
    pub fn history(&self, app: &str, index: Option<u32>) -> Option<&History> {
        self.histories.get(&(app.to_string(), index))
    }

    /// How many histories are kept (one per app and instance slot listed).
    #[cfg(test)]
    pub fn history_count(&self) -> usize {
        self.histories.len()
    }

    /// `spec.memory.limit` of `app`, when it has one.
    pub fn memory_limit(&self, app: &str) -> Option<u64> {
        self.limits.get(app).copied()
    }

    /// The selected app, if any.
    pub fn selected_app(&self) -> Option<&AppStatus> {
        let name = self.selected.as_ref()?;
        self.apps.iter().find(|a| &a.name == name)
    }

    /// Moves the selection `by` apps (negative: up), stopping at the ends.
    pub fn select_by(&mut self, by: isize) {
        if self.apps.is_empty() {
            return;
        }
        let at = self
            .selected
            .as_ref()
            .and_then(|name| self.apps.iter().position(|a| &a.name == name))
            .unwrap_or(0);
        let to = at.saturating_add_signed(by).min(self.apps.len() - 1);
        self.selected = Some(self.apps[to].name.clone());
    }

    /// Appends log lines of `app`, when it is still the selected one (control characters
    /// become spaces, so a line cannot move the cursor or change colours).
    pub fn push_logs(&mut self, app: &str, lines: Vec<String>) {
        if self.selected.as_deref() != Some(app) {
            return;
        }
        for line in lines {
            let clean: String = line
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            self.logs.push(clean);
        }
    }

    /// Opens `panel`, or closes it (back to the logs) when it is open.
    pub fn toggle(&mut self, panel: Panel) {
        self.panel = match (self.panel, panel) {
            (open, wanted) if open == wanted && wanted == Panel::Logs => Panel::Hidden,
            (open, wanted) if open == wanted => Panel::Logs,
            (_, wanted) => wanted,
        };
    }

    /// The command scaling the selected app by `by` instances from its desired count.
    pub fn scale_by(&mut self, by: i64) -> Option<Command> {
        let app = self.selected_app()?;
        if app.status == "Suspended" {
            self.message = Some(format!(
                "{} is stopped: corral start {} first",
                app.name, app.name
            ));
            return None;
        }
        let to = (i64::from(app.desired) + by).clamp(0, i64::from(u32::MAX));
        Some(Command::Scale(app.name.clone(), to as u32))
    }

    /// Ends the `s` prompt: the command it asks for, or why it asks for none.
    pub fn submit_prompt(&mut self) -> Option<Command> {
        let typed = self.prompt.take()?;
        let name = self.selected.clone()?;
        match typed.trim().parse::<u32>() {
            Ok(n) => Some(Command::Scale(name, n)),
            Err(_) => {
                self.message = Some(format!(
                    "{typed:?} is not an instance count: type a whole number after s"
                ));
                None
            }
        }
    }
}

/// `spec.memory.limit` of an app, from the spec YAML the API gives.
fn memory_limit(app: &AppStatus) -> Option<u64> {
    let spec: AppSpec = serde_yaml::from_str(&app.spec_yaml).ok()?;
    spec.memory.map(|m| m.limit.0)
}

/// Rollout progress while a rolling update runs: (instances at the new revision and ready,
/// desired).
pub fn rollout(app: &AppStatus) -> Option<(u32, u32)> {
    let rolling = app.conditions.iter().any(|c| {
        c.kind == "Progressing"
            && matches!(
                c.reason.as_str(),
                "ReplicaSetUpdating" | "ProgressDeadlineExceeded"
            )
    });
    if !rolling {
        return None;
    }
    let updated = app
        .instances
        .iter()
        .filter(|i| i.revision == app.revision && i.ready)
        .count() as u32;
    Some((updated, app.desired))
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
