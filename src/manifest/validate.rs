//! Checks that span several fields, run after an app deserialized; each names the key to blame.

use std::collections::BTreeMap;

use super::locate::Seg::{self, Index, Key};
use super::types::{App, Memory, Probe};

/// A cross-field mistake: the key path to point at, and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where to point, most specific key last.
    pub path: Vec<Seg<'static>>,
    /// What is wrong and how to fix it, starting with the dotted path.
    pub message: String,
}

impl Problem {
    /// A problem at `path`, its message prefixed with the dotted path.
    pub(super) fn at(path: Vec<Seg<'static>>, message: impl std::fmt::Display) -> Self {
        Self {
            message: format!("{}: {message}", dotted(&path)),
            path,
        }
    }
}

/// `spec.listen[0].port` for a key path.
pub fn dotted(path: &[Seg<'_>]) -> String {
    let mut dotted = String::new();
    for seg in path {
        match seg {
            Key(k) if dotted.is_empty() => dotted.push_str(k),
            Key(k) => {
                dotted.push('.');
                dotted.push_str(k);
            }
            Index(i) => dotted.push_str(&format!("[{i}]")),
        }
    }
    dotted
}

/// The key path of the first string (a key or a value) holding a NUL character, which no
/// program argument, path, environment variable or header can carry (`execve` would refuse it
/// at every start).
pub fn nul_at(value: &serde_yaml::Value) -> Option<Vec<Seg<'_>>> {
    use serde_yaml::Value;
    match value {
        Value::String(s) => s.contains('\0').then(Vec::new),
        Value::Sequence(items) => items.iter().enumerate().find_map(|(i, v)| {
            let mut path = nul_at(v)?;
            path.insert(0, Index(i));
            Some(path)
        }),
        Value::Mapping(map) => map.iter().find_map(|(k, v)| {
            let key = k.as_str()?;
            if key.contains('\0') {
                return Some(vec![Key(key)]);
            }
            let mut path = nul_at(v)?;
            path.insert(0, Key(key));
            Some(path)
        }),
        Value::Tagged(t) => nul_at(&t.value),
        _ => None,
    }
}

/// The first cross-field problem of an app, if any.
pub fn check(app: &App) -> Option<Problem> {
    let spec = &app.spec;
    if let Some(problem) = super::depends::check_own(app.metadata.name.as_str(), &spec.depends_on) {
        return Some(problem);
    }
    for (probe, field) in [(&spec.readiness, "readiness"), (&spec.liveness, "liveness")] {
        if let Some(problem) = probe
            .as_ref()
            .and_then(|p| probe_port(p, field, !spec.listen.is_empty()))
        {
            return Some(problem);
        }
    }
    if let Some(problem) = spec
        .readiness
        .as_ref()
        .and_then(|p| check_probe(p, "readiness"))
    {
        return Some(problem);
    }
    if let Some(p) = &spec.liveness {
        if let Some(problem) = check_probe(p, "liveness") {
            return Some(problem);
        }
        if p.notify.is_some() {
            return Some(Problem::at(
                vec![Key("spec"), Key("liveness"), Key("notify")],
                "notify is only valid for readiness; use http, tcp or exec for liveness",
            ));
        }
        if p.success_threshold.is_some_and(|n| n != 1) {
            return Some(Problem::at(
                vec![Key("spec"), Key("liveness"), Key("successThreshold")],
                "must be 1 for liveness (one pass means alive, as in Kubernetes); remove it or set it to 1",
            ));
        }
    }
    if spec.restart_time_zone.is_some() && spec.restart_schedule.is_none() {
        return Some(Problem::at(
            vec![Key("spec"), Key("restartTimeZone")],
            "has no effect without spec.restartSchedule; add a schedule such as \"0 3 * * *\" or remove it",
        ));
    }
    let s = &spec.strategy;
    if s.max_surge.is_zero() && s.max_unavailable.is_zero() {
        return Some(Problem::at(
            vec![Key("spec"), Key("strategy"), Key("maxSurge")],
            "maxSurge and maxUnavailable cannot both be 0, or a rollout could never progress; set maxSurge to 1",
        ));
    }
    let b = &spec.backoff;
    if b.initial.0.is_zero() {
        return Some(Problem::at(
            vec![Key("spec"), Key("backoff"), Key("initial")],
            "0 would restart a crashing app in a tight loop forever (each delay doubles the last); give at least 1ms, e.g. 100ms",
        ));
    }
    if b.initial.0 > b.max.0 {
        return Some(Problem::at(
            vec![Key("spec"), Key("backoff"), Key("initial")],
            format!(
                "initial ({}) is longer than max ({}); make initial ≤ max",
                b.initial, b.max
            ),
        ));
    }
    if b.reset_after.0 < MIN_BACKOFF_RESET {
        return Some(Problem::at(
            vec![Key("spec"), Key("backoff"), Key("resetAfter")],
            format!(
                "{} would count even a run that crashes at once as a good one, so a crashing app \
                 would restart every {} forever; give at least 1s (default 60s)",
                b.reset_after, b.initial
            ),
        ));
    }
    if let Some(problem) = spec.memory.as_ref().and_then(check_memory) {
        return Some(problem);
    }
    if let Some(problem) = check_ulimits(app) {
        return Some(problem);
    }
    if let Some(problem) = check_watch(app) {
        return Some(problem);
    }
    if let Some(problem) = super::hooks::check(spec) {
        return Some(problem);
    }
    let deadline = s.progress_deadline.0;
    if deadline <= std::time::Duration::from_secs(s.min_ready_seconds.into()) {
        return Some(Problem::at(
            vec![Key("spec"), Key("strategy"), Key("progressDeadline")],
            format!(
                "{} is not longer than minReadySeconds ({}s), so every rollout would be reported stuck; make it longer (default 10m)",
                s.progress_deadline, s.min_ready_seconds
            ),
        ));
    }
    if spec.logs.max_size.0 < MIN_LOG_SIZE {
        return Some(Problem::at(
            vec![Key("spec"), Key("logs"), Key("maxSize")],
            format!(
                "{} holds only a few lines, so maxFiles rotated files would keep almost nothing; give at least 1Ki (default 10Mi)",
                spec.logs.max_size
            ),
        ));
    }
    check_listen(app)
}

/// The smallest `logs.maxSize` accepted: a few lines.
const MIN_LOG_SIZE: u64 = 1 << 10;
/// The shortest `backoff.resetAfter` accepted: shorter, a crash at start would reset the delay.
const MIN_BACKOFF_RESET: std::time::Duration = std::time::Duration::from_secs(1);
/// The shortest `watch.debounce` accepted: an editor's save (write, rename) must be one burst.
const MIN_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(50);

/// `limit` is at least 1Mi (no process runs in less), and `max` is at least `limit`.
fn check_memory(m: &Memory) -> Option<Problem> {
    if m.limit.0 < 1 << 20 {
        return Some(Problem::at(
            vec![Key("spec"), Key("memory"), Key("limit")],
            format!("a limit of {} would replace every instance as soon as it starts (no process runs in less than 1Mi); give a size such as 300Mi, or remove memory for no limit", m.limit),
        ));
    }
    match m.max {
        Some(max) if max.0 < m.limit.0 => Some(Problem::at(
            vec![Key("spec"), Key("memory"), Key("max")],
            format!(
                "max ({max}) is below limit ({}): the kernel would kill instances before corral could replace them; make max ≥ limit",
                m.limit
            ),
        )),
        _ => None,
    }
}

/// Each ulimit's soft limit is at most its hard limit (`setrlimit` refuses anything else).
fn check_ulimits(app: &App) -> Option<Problem> {
    let (name, limit) = app
        .spec
        .ulimits
        .iter()
        .find(|(_, l)| l.soft.raw() > l.hard.raw())?;
    Some(Problem::at(
        vec![Key("spec"), Key("ulimits"), Key(name)],
        format!(
            "soft limit {} is above hard limit {}; the soft limit must be ≤ the hard one (give \
             one value to set both)",
            limit.soft, limit.hard
        ),
    ))
}

/// Watched paths are listed and ignore globs parse.
fn check_watch(app: &App) -> Option<Problem> {
    let w = app.spec.watch.as_ref()?;
    if w.paths.is_empty() {
        return Some(Problem::at(
            vec![Key("spec"), Key("watch"), Key("paths")],
            "no path to watch; list one (e.g. [.]) or remove watch",
        ));
    }
    if w.debounce.0 < MIN_DEBOUNCE {
        return Some(Problem::at(
            vec![Key("spec"), Key("watch"), Key("debounce")],
            format!(
                "{} would turn one save or one git pull into several reloads; give at least 50ms (default 500ms)",
                w.debounce
            ),
        ));
    }
    for (i, path) in w.paths.iter().enumerate() {
        if let Some(why) = crate::watch::host_wide(std::path::Path::new(path)) {
            return Some(Problem::at(
                vec![Key("spec"), Key("watch"), Key("paths"), Index(i)],
                why,
            ));
        }
    }
    for (i, glob) in w.ignore.iter().enumerate() {
        let mut b = ignore::gitignore::GitignoreBuilder::new("/");
        if let Err(e) = b.add_line(None, glob) {
            return Some(Problem::at(
                vec![Key("spec"), Key("watch"), Key("ignore"), Index(i)],
                format!("{e}; write a gitignore-style glob such as dist/ or \"*.tmp\""),
            ));
        }
    }
    None
}

/// Exactly one probe kind must be set.
fn check_probe(p: &Probe, field: &'static str) -> Option<Problem> {
    let kinds: Vec<&str> = [
        ("http", p.http.is_some()),
        ("tcp", p.tcp.is_some()),
        ("exec", p.exec.is_some()),
        ("notify", p.notify.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    match kinds.as_slice() {
        ["notify"] => notify_timing(p, field),
        [_] => None,
        [] => Some(Problem::at(
            vec![Key("spec"), Key(field)],
            "set exactly one of http, tcp, exec or notify, e.g. {tcp: {port: 8080}}",
        )),
        [_, second, ..] => Some(Problem::at(
            vec![Key("spec"), Key(field), Key(second)],
            format!(
                "set exactly one of http, tcp, exec or notify, found {}; keep one",
                kinds.join(" and ")
            ),
        )),
    }
}

/// An http or tcp probe without a port takes it from `listen`: without one it has none to probe.
fn probe_port(p: &Probe, field: &'static str, has_listen: bool) -> Option<Problem> {
    let kind = match (&p.http, &p.tcp) {
        (Some(h), _) if h.port.is_none() => "http",
        (_, Some(t)) if t.port.is_none() => "tcp",
        _ => return None,
    };
    (!has_listen).then(|| {
        Problem::at(
            vec![Key("spec"), Key(field), Key(kind)],
            format!(
                "has no port, and the app has no listen entry to take one from (the probe would \
                 never succeed); set the port the app serves on, e.g. {{{kind}: {{port: 8080}}}}"
            ),
        )
    })
}

/// A notify probe has no checks to time: only `initialDelaySeconds` means something there.
fn notify_timing(p: &Probe, field: &'static str) -> Option<Problem> {
    let set = [
        ("periodSeconds", p.period_seconds.is_some()),
        ("timeoutSeconds", p.timeout_seconds.is_some()),
        ("successThreshold", p.success_threshold.is_some()),
        ("failureThreshold", p.failure_threshold.is_some()),
    ];
    let (key, _) = set.into_iter().find(|(_, is_set)| *is_set)?;
    Some(Problem::at(
        vec![Key("spec"), Key(field), Key(key)],
        "has no meaning for a notify probe (the app is ready when it sends READY=1, nothing is checked periodically); remove it",
    ))
}

/// Listen names and ports are unique within an app.
fn check_listen(app: &App) -> Option<Problem> {
    let mut names = BTreeMap::new();
    let mut ports = BTreeMap::new();
    for (i, l) in app.spec.listen.iter().enumerate() {
        if let Some(first) = names.insert(l.name.as_str(), i) {
            return Some(Problem::at(
                vec![Key("spec"), Key("listen"), Index(i), Key("name")],
                format!(
                    "the name {:?} is already used by listen[{first}]; give each listen entry its own name",
                    l.name
                ),
            ));
        }
        if let Some(first) = ports.insert(l.port, i) {
            return Some(Problem::at(
                vec![Key("spec"), Key("listen"), Index(i), Key("port")],
                format!(
                    "port {} is already used by listen[{first}]; give each listen entry its own port",
                    l.port
                ),
            ));
        }
    }
    None
}
