//! How each PM2 key with a corral meaning becomes manifest lines: the command, instances and
//! cluster mode, env and profiles, memory, restarts, stop, strategy, watch, logs and the user.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::map::Manifest;
use super::paths::{normalize, relative};
use super::units::{duration, interpreter_for, size, text, words};
use crate::import::yaml::{map as flow_map, scalar, seq};

/// PM2 caps `exp_backoff_restart_delay`'s growth at 15 s.
const PM2_MAX_BACKOFF: &str = "15s";

/// `command` from `script`, `args`, `interpreter` and `interpreter_args`.
pub(super) fn command(m: &mut Manifest<'_>, script: Option<&str>, cwd: &Path) {
    let args = match m.get(&["args"]) {
        Some(v) => words(v).unwrap_or_else(|| {
            m.unreadable("args", v, "a string or a list of strings");
            Vec::new()
        }),
        None => Vec::new(),
    };
    let interpreter = m.get(&["interpreter", "exec_interpreter"]).and_then(text);
    let interpreter_args = match m.get(&["interpreter_args", "node_args", "interpreterArgs"]) {
        Some(v) => words(v).unwrap_or_default(),
        None => Vec::new(),
    };
    let Some(script) = script else {
        m.warnings
            .push("no script: the command is a placeholder, edit it".into());
        m.line(
            "command: [\"true\"]".into(),
            "PM2 app without a script: put the command here",
        );
        return;
    };
    let mut path = normalize(&cwd.join(script));
    let mut how = String::new();
    let mut named = script.to_owned();
    if path.is_dir() {
        let main = std::fs::read_to_string(path.join("package.json"))
            .ok()
            .and_then(|p| serde_json::from_str::<Value>(&p).ok())
            .and_then(|p| p.get("main").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| "index.js".into());
        path = normalize(&path.join(main));
        named = format!("{script} (a folder: its package.json main)");
    }
    let exists = path.is_file();
    let shown = if exists {
        let rel = relative(cwd, &path);
        if rel.contains('/') || interpreter.is_some() || interpreter_for(&rel).is_some() {
            rel
        } else {
            format!("./{rel}")
        }
    } else {
        script.to_owned()
    };
    let interp = match interpreter.as_deref() {
        Some("none") => None,
        Some(i) => Some(i.to_owned()),
        None => interpreter_for(&shown).map(str::to_owned),
    };
    let mut argv = Vec::new();
    match &interp {
        Some(i) => {
            argv.push(i.clone());
            argv.extend(interpreter_args);
            how.push_str(&match &interpreter {
                Some(_) => format!("script {named} run by interpreter {i}"),
                None => format!("script {named}, run by {i} (its extension)"),
            });
        }
        None => how.push_str(&format!("script {named}, run directly")),
    }
    argv.push(shown);
    argv.extend(args);
    if !exists && !script.contains('/') && interp.is_none() {
        how.push_str(", found in PATH");
    } else if !exists {
        m.warnings.push(format!(
            "script {script} not found at {}; check the command",
            path.display()
        ));
    }
    m.line(format!("command: {}", seq(&argv)), &how);
}

/// The port for `exec_mode: cluster`, from `env.PORT`; `None` when not cluster or not known.
pub(super) fn cluster_port(m: &mut Manifest<'_>) -> Option<u16> {
    let mode = m.get(&["exec_mode"]).and_then(text)?;
    if !mode.starts_with("cluster") {
        return None;
    }
    let port = m
        .app
        .get("env")
        .and_then(|e| e.get("PORT"))
        .and_then(text)
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|p| *p > 0);
    if port.is_none() {
        m.warnings.push(
            "exec_mode: cluster without env.PORT: add a listen entry for the app's port".into(),
        );
        m.note(
            "exec_mode: cluster — PM2 shared the app's port between instances. corral does it"
                .into(),
        );
        m.note(
            "with a listen entry: add `listen: [{port: PORT, mode: http}]` (tcp for non-HTTP)"
                .into(),
        );
        m.note("and have the app listen on $PORT, which corral sets for each instance.".into());
    }
    port
}

/// `instances`: numbers, `max`/0 (one per CPU), -1 (all CPUs but one).
pub(super) fn instances(m: &mut Manifest<'_>) {
    let Some(v) = m.get(&["instances"]) else {
        return;
    };
    let n = match v {
        Value::String(s) if s == "max" => {
            m.line("instances: max".into(), "instances: max (one per CPU)");
            return;
        }
        other => text(other).and_then(|s| s.parse::<i64>().ok()),
    };
    match n {
        Some(0) => m.line("instances: max".into(), "instances: 0 (PM2: one per CPU)"),
        Some(n) if n > 0 => m.line(format!("instances: {n}"), ""),
        Some(n) => {
            let count = (i64::from(m.ctx.cpus) + n).max(1);
            m.line(
                format!("instances: {count}"),
                &format!(
                    "instances: {n} (PM2: all CPUs but {}): {count} on this host",
                    -n
                ),
            );
        }
        None => m.unreadable("instances", v, "a number or \"max\""),
    }
}

/// An env object as (name, value) pairs; values that are not scalars are warned about.
fn env_pairs(m: &mut Manifest<'_>, key: &str, v: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(obj) = v.as_object() else {
        m.unreadable(key, v, "an object of variables");
        return out;
    };
    for (k, v) in obj {
        match text(v) {
            Some(t) => {
                out.insert(k.clone(), t);
            }
            None => m
                .warnings
                .push(format!("{key}.{k} is not a string or number; left out")),
        }
    }
    out
}

/// `env`, less `PORT` when corral assigns it (cluster on a listen port).
pub(super) fn env(m: &mut Manifest<'_>, drop_port: bool) {
    let Some(v) = m.get(&["env"]) else { return };
    let mut pairs = env_pairs(m, "env", v);
    if drop_port {
        pairs.remove("PORT");
    }
    if !pairs.is_empty() {
        m.line(
            format!("env: {}", flow_map(&pairs)),
            if drop_port {
                "env (PORT is set by corral)"
            } else {
                "env"
            },
        );
    }
}

/// `env_<name>` → `profiles.<name>.env`.
pub(super) fn profiles(m: &mut Manifest<'_>) {
    let app = m.app;
    let mut lines = Vec::new();
    for (key, v) in app.iter().filter(|(k, _)| k.starts_with("env_")) {
        let profile = &key["env_".len()..];
        let pairs = env_pairs(m, key, v);
        lines.push(format!(
            "    {}: {{env: {}}}",
            scalar(profile),
            flow_map(&pairs)
        ));
    }
    if !lines.is_empty() {
        m.line(
            "profiles:".into(),
            "env_<name>: `corral controller --profile <name>`",
        );
        m.lines.extend(lines);
    }
}

/// `max_memory_restart` → `memory.limit`.
pub(super) fn memory(m: &mut Manifest<'_>) {
    if let Some(v) = m.get(&["max_memory_restart"]) {
        match size(v) {
            Some(limit) => m.line(
                format!("memory: {{limit: {limit}}}"),
                "max_memory_restart (replaced without downtime)",
            ),
            None => m.unreadable("max_memory_restart", v, "a size such as 200M"),
        }
    }
}

/// `autorestart`, `restart_delay`, `exp_backoff_restart_delay`, `min_uptime`.
pub(super) fn restarts(m: &mut Manifest<'_>) {
    if m.get(&["autorestart"])
        .is_some_and(|v| v == &Value::Bool(false))
    {
        m.line("restartPolicy: Never".into(), "autorestart: false");
    }
    let mut parts = Vec::new();
    let mut from = Vec::new();
    let exp = m.get(&["exp_backoff_restart_delay"]).and_then(duration);
    let fixed = m.get(&["restart_delay"]).and_then(duration);
    match (exp, fixed) {
        (Some(initial), fixed) => {
            parts.push(format!("initial: {initial}"));
            parts.push(format!("max: {PM2_MAX_BACKOFF}"));
            from.push("exp_backoff_restart_delay (PM2 grows it to 15s)");
            if fixed.is_some() {
                m.warnings.push("restart_delay and exp_backoff_restart_delay both set: the exponential one is used, as PM2 does".into());
            }
        }
        (None, Some(delay)) => {
            parts.push(format!("initial: {delay}"));
            parts.push(format!("max: {delay}"));
            from.push("restart_delay (a fixed delay)");
        }
        (None, None) => {}
    }
    if let Some(uptime) = m.get(&["min_uptime"]).and_then(duration) {
        parts.push(format!("resetAfter: {uptime}"));
        from.push("min_uptime");
    }
    if !parts.is_empty() {
        m.line(
            format!("backoff: {{{}}}", parts.join(", ")),
            &from.join(", "),
        );
    }
}

/// `kill_timeout` → `stop.timeout`.
pub(super) fn stop(m: &mut Manifest<'_>) {
    if let Some(t) = m.get(&["kill_timeout"]).and_then(duration) {
        m.line(
            format!("stop: {{timeout: {t}}}"),
            "kill_timeout, then SIGKILL",
        );
    }
}

/// `listen_timeout` → `strategy.progressDeadline`.
pub(super) fn strategy(m: &mut Manifest<'_>) {
    if let Some(t) = m.get(&["listen_timeout"]).and_then(duration) {
        m.line(
            format!("strategy: {{progressDeadline: {t}}}"),
            "listen_timeout: a reload not ready by then is reported, old instances keep serving",
        );
    }
}

/// `uid`, `gid` → `user`, `group` (names or numbers, as PM2 takes them).
pub(super) fn identity(m: &mut Manifest<'_>) {
    for (pm2, ours) in [("uid", "user"), ("gid", "group")] {
        let Some(v) = m.get(&[pm2]) else { continue };
        match serde_json::from_value::<crate::manifest::IdRef>(v.clone()) {
            Ok(crate::manifest::IdRef::Id(n)) => m.line(
                format!("{ours}: {n}"),
                &format!("{pm2} (the controller must run as root)"),
            ),
            Ok(crate::manifest::IdRef::Name(name)) => m.line(
                format!("{ours}: {}", scalar(&name)),
                &format!("{pm2} (the controller must run as root)"),
            ),
            Err(_) => m.unreadable(pm2, v, "a user or group name or a numeric id"),
        }
    }
}

/// `watch`, `ignore_watch`, `watch_delay` → `watch`.
pub(super) fn watch(m: &mut Manifest<'_>) {
    let paths = match m.get(&["watch"]) {
        None | Some(Value::Bool(false)) => {
            m.get(&["ignore_watch", "watch_delay"]);
            return;
        }
        Some(Value::Bool(true)) => vec![".".to_owned()],
        Some(v) => match words(v) {
            Some(p) => p,
            None => return m.unreadable("watch", v, "true or a list of paths"),
        },
    };
    let mut parts = vec![format!("paths: {}", seq(&paths))];
    if let Some(ignore) = m.get(&["ignore_watch"]).and_then(|v| match v {
        Value::String(s) => Some(vec![s.clone()]),
        other => words(other),
    }) {
        parts.push(format!("ignore: {}", seq(&ignore)));
    }
    if let Some(delay) = m.get(&["watch_delay"]).and_then(duration) {
        parts.push(format!("debounce: {delay}"));
    }
    m.line(
        format!("watch: {{{}}}", parts.join(", ")),
        "watch, ignore_watch, watch_delay (a rolling reload, not a restart)",
    );
}

/// `cron_restart` → `restartSchedule`: PM2 restarts every instance at once; corral does a
/// rolling reload. Both read the expression with croner (5 fields, or 6 with seconds first) in
/// the host's zone. `0` (PM2's "none") imports nothing.
pub(super) fn cron_restart(m: &mut Manifest<'_>) {
    let Some(v) = m.get(&["cron_restart"]) else {
        return;
    };
    let expr = match v {
        Value::String(s) if s.trim() == "0" => return,
        Value::Number(n) if n.as_u64() == Some(0) => return,
        Value::String(s) => s.trim().to_owned(),
        other => return m.unreadable("cron_restart", other, "a cron expression"),
    };
    match serde_json::from_value::<crate::manifest::CronSchedule>(Value::String(expr.clone())) {
        Ok(_) => m.line(
            format!("restartSchedule: {}", scalar(&expr)),
            "cron_restart (a rolling reload, zero downtime, in the host's time zone)",
        ),
        Err(e) => {
            m.warnings.push(format!(
                "cron_restart: {e}; left out, fix it in restartSchedule"
            ));
            m.note(format!("cron_restart: {} was left out: {e}", scalar(&expr)));
        }
    }
}

/// `out_file`, `error_file`, `merge_logs`, `log_date_format`, `time` → `logs`.
pub(super) fn logs(m: &mut Manifest<'_>, name: &str) {
    let out = m
        .get(&["out_file", "out", "output", "out_log"])
        .and_then(text);
    let err = m
        .get(&["error_file", "err_file", "error", "err_log"])
        .and_then(text);
    let merge = m
        .get(&["merge_logs", "combine_logs"])
        .is_some_and(|v| v == &Value::Bool(true));
    let stamped = m.get(&["log_date_format", "time"]).is_some();
    let mut parts = Vec::new();
    let mut from = Vec::new();
    let dirs: Vec<PathBuf> = [&out, &err]
        .into_iter()
        .flatten()
        .filter(|f| f.as_str() != "/dev/null")
        .map(|f| normalize(&m.ctx.eco_dir.join(f)))
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    if let Some(dir) = dirs.first() {
        // A log folder belongs to one app in corral: each app gets its own below PM2's.
        let own = dir.join(name);
        parts.push(format!("dir: {}", scalar(&relative(&m.ctx.out_dir, &own))));
        from.push("a folder of its own beside out_file/error_file (files are INDEX.out.log, INDEX.err.log)");
        if dirs.iter().any(|d| d != dir) {
            m.warnings.push("out_file and error_file are in different folders: corral keeps both streams in the out_file's".into());
        }
    }
    if [&out, &err].into_iter().flatten().any(|f| f == "/dev/null") {
        m.warnings.push("a log file is /dev/null: corral keeps every log, bounded by logs.maxSize × logs.maxFiles".into());
    }
    if merge {
        parts.push("merge: true".into());
        from.push("merge_logs");
    }
    if stamped {
        from.push("log_date_format/time: corral stamps lines in RFC 3339 UTC");
    }
    if !parts.is_empty() {
        m.line(format!("logs: {{{}}}", parts.join(", ")), &from.join("; "));
    } else if stamped {
        m.note("log_date_format/time: corral stamps every line in RFC 3339 UTC by default".into());
    }
}
