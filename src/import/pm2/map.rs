//! One PM2 app (an ecosystem entry) → one App manifest, each setting commented with its source.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

use super::units::{duration, interpreter_for, size, text, words};
use crate::import::yaml::{map as flow_map, scalar, seq};
use crate::import::Imported;

/// PM2 caps `exp_backoff_restart_delay`'s growth at 15 s.
const PM2_MAX_BACKOFF: &str = "15s";

/// Where the import reads from and writes to.
#[derive(Debug, Clone)]
pub struct Context {
    /// The ecosystem file's folder (absolute): PM2 resolves `cwd` and `script` from there.
    pub eco_dir: PathBuf,
    /// The folder the manifests go to (absolute): their paths are written relative to it.
    pub out_dir: PathBuf,
    /// Online CPUs, for `instances: -1` (all but one).
    pub cpus: u32,
}

/// Keys with no corral meaning, and what to do instead.
const NO_MEANING: &[(&str, &str)] = &[
    ("cron_restart", "corral has no scheduled restarts; a systemd timer running `corral restart NAME` does that"),
    ("wait_ready", "corral's way is `readiness: {notify: {}}`: the app sends READY=1 on $NOTIFY_SOCKET instead of process.send('ready')"),
    ("shutdown_with_message", "corral stops apps with stop.signal, not an IPC message"),
    ("pid_file", "corral records pids in $CORRAL_HOME/instances.json"),
    ("instance_var", "corral always sets NODE_APP_INSTANCE and CORRAL_INSTANCE"),
    ("increment_var", "corral gives each instance CORRAL_INSTANCE; derive the value from it"),
    ("treekill", "corral always signals the whole process group"),
    ("log_file", "corral keeps stdout and stderr in separate files; `corral logs NAME` shows both interleaved"),
    ("log_type", "corral writes plain lines"),
    ("source_map_support", "a Node option: put --enable-source-maps in interpreter_args"),
    ("vizion", "corral does not track versions; the manifests directory does (git)"),
    ("post_update", "corral does not track versions; the manifests directory does (git)"),
    ("namespace", "corral has one namespace per manifests directory; use labels to group apps"),
    ("filter_env", "corral passes only the environment the manifest gives"),
    ("append_env_to_name", "one app name per manifest; use profiles"),
    ("stop_exit_codes", "use restartPolicy: OnFailure to restart only after a failure"),
    ("force", "not needed: corral never starts an app twice"),
    ("uid", "run the controller as that user"),
    ("gid", "run the controller as that user"),
    ("user", "run the controller as that user"),
    ("node_version", "put the node binary's path in interpreter"),
    ("max_restarts", "corral never gives up: restarts back off up to backoff.max and show CrashLoopBackOff"),
];

/// Builds a manifest: spec lines with their comments, warnings, leftover keys.
struct Manifest<'a> {
    app: &'a Map<String, Value>,
    ctx: &'a Context,
    used: BTreeSet<&'static str>,
    lines: Vec<String>,
    warnings: Vec<String>,
}

impl<'a> Manifest<'a> {
    /// The value of the first of `keys` the app has, marking all of them used.
    fn get(&mut self, keys: &[&'static str]) -> Option<&'a Value> {
        let mut found = None;
        for k in keys {
            self.used.insert(k);
            if found.is_none() {
                found = self.app.get(*k).filter(|v| !v.is_null());
            }
        }
        found
    }

    /// Adds `  key: value` with a trailing `# comment`.
    fn line(&mut self, key_value: String, comment: &str) {
        let body = format!("  {key_value}");
        if comment.is_empty() {
            self.lines.push(body);
        } else {
            self.lines.push(format!("{body:<38} # {comment}"));
        }
    }

    /// Adds a comment line to the spec.
    fn note(&mut self, comment: String) {
        self.lines.push(format!("  # {comment}"));
    }

    /// A key whose value could not be read.
    fn unreadable(&mut self, key: &str, v: &Value, want: &str) {
        self.warnings
            .push(format!("{key}: {v} is not {want}; left out"));
        self.note(format!("{key}: {v} was left out: not {want}"));
    }
}

/// Maps one PM2 app; `i` is its position in the file (for messages), `source` the file name.
pub fn map_app(app: &Map<String, Value>, i: usize, source: &str, ctx: &Context) -> Imported {
    let mut m = Manifest {
        app,
        ctx,
        used: BTreeSet::new(),
        lines: Vec::new(),
        warnings: Vec::new(),
    };
    let cwd = app_cwd(&mut m);
    let script = m.get(&["script", "exec"]).and_then(text);
    let pm2_name = m.get(&["name"]).and_then(text);
    let name = app_name(pm2_name.as_deref(), script.as_deref(), i);
    if pm2_name.as_deref() != Some(name.as_str()) {
        let why = match &pm2_name {
            Some(n) => format!("PM2 name {n:?} is not a DNS label; named {name:?}"),
            None => format!("no name: named {name:?} after the script, as PM2 does"),
        };
        m.warnings.push(why);
    }
    command(&mut m, script.as_deref(), &cwd);
    m.line(
        format!("cwd: {}", scalar(&relative(&ctx.out_dir, &cwd))),
        "cwd (relative to this file)",
    );
    let port = cluster_port(&mut m);
    instances(&mut m);
    env(&mut m, port.is_some());
    profiles(&mut m);
    if let Some(port) = port {
        m.line(
            format!("listen: [{{port: {port}, mode: http}}]"),
            "exec_mode: cluster on env.PORT; each instance gets its own PORT",
        );
    }
    memory(&mut m);
    restarts(&mut m);
    stop(&mut m);
    strategy(&mut m);
    watch(&mut m);
    logs(&mut m, &name);
    let leftovers = leftovers(&mut m);
    let mut text = format!(
        "# Imported from PM2 ({source}, app {}) by `corral import pm2`.\n# Check it with `corral validate`; the comments say which PM2 key each setting came from.\napiVersion: corral/v1\nkind: App\nmetadata:\n  name: {name}\nspec:\n",
        pm2_name.as_deref().map_or_else(|| format!("#{i}"), |n| format!("{n:?}")),
    );
    for l in &m.lines {
        text.push_str(l);
        text.push('\n');
    }
    if !leftovers.is_empty() {
        text.push_str("# PM2 keys with no corral meaning, not imported:\n");
        for l in leftovers {
            text.push_str(&format!("#   {l}\n"));
        }
    }
    Imported {
        name,
        text,
        warnings: m.warnings,
    }
}

/// The app's folder: `cwd` resolved from the ecosystem file's folder (PM2's rule).
fn app_cwd(m: &mut Manifest<'_>) -> PathBuf {
    match m.get(&["cwd"]).and_then(text) {
        Some(dir) => normalize(&m.ctx.eco_dir.join(dir)),
        None => m.ctx.eco_dir.clone(),
    }
}

/// A DNS-label name from PM2's name, else the script's file name without extension.
fn app_name(name: Option<&str>, script: Option<&str>, i: usize) -> String {
    let raw = match (name, script) {
        (Some(n), _) => n.to_owned(),
        (None, Some(s)) => Path::new(s)
            .file_stem()
            .map_or_else(|| s.to_owned(), |f| f.to_string_lossy().into_owned()),
        (None, None) => format!("app-{i}"),
    };
    let mut label: String = raw
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while label.contains("--") {
        label = label.replace("--", "-");
    }
    let label = label.trim_matches('-');
    let label = &label[..label.len().min(63)];
    let label = label.trim_end_matches('-');
    if label.is_empty() {
        format!("app-{i}")
    } else {
        label.to_owned()
    }
}

/// `command` from `script`, `args`, `interpreter` and `interpreter_args`.
fn command(m: &mut Manifest<'_>, script: Option<&str>, cwd: &Path) {
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
fn cluster_port(m: &mut Manifest<'_>) -> Option<u16> {
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
fn instances(m: &mut Manifest<'_>) {
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
fn env(m: &mut Manifest<'_>, drop_port: bool) {
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
fn profiles(m: &mut Manifest<'_>) {
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
fn memory(m: &mut Manifest<'_>) {
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
fn restarts(m: &mut Manifest<'_>) {
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
fn stop(m: &mut Manifest<'_>) {
    if let Some(t) = m.get(&["kill_timeout"]).and_then(duration) {
        m.line(
            format!("stop: {{timeout: {t}}}"),
            "kill_timeout, then SIGKILL",
        );
    }
}

/// `listen_timeout` → `strategy.progressDeadline`.
fn strategy(m: &mut Manifest<'_>) {
    if let Some(t) = m.get(&["listen_timeout"]).and_then(duration) {
        m.line(
            format!("strategy: {{progressDeadline: {t}}}"),
            "listen_timeout: a reload not ready by then is reported, old instances keep serving",
        );
    }
}

/// `watch`, `ignore_watch`, `watch_delay` → `watch`.
fn watch(m: &mut Manifest<'_>) {
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

/// `out_file`, `error_file`, `merge_logs`, `log_date_format`, `time` → `logs`.
fn logs(m: &mut Manifest<'_>, name: &str) {
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

/// Keys not mapped above: a comment line each, and a warning naming the key.
fn leftovers(m: &mut Manifest<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for (key, v) in m.app {
        if m.used.contains(key.as_str()) || key.starts_with("env_") || v.is_null() {
            continue;
        }
        let hint = NO_MEANING
            .iter()
            .find(|(k, _)| k == key)
            .map_or("unknown to corral", |(_, h)| h);
        let shown = serde_json::to_string(v).unwrap_or_default();
        let shown = if shown.len() > 60 {
            format!("{}…", &shown[..shown.floor_char_boundary(60)])
        } else {
            shown
        };
        out.push(format!("{key}: {shown} — {hint}"));
        m.warnings.push(format!("{key} is not imported: {hint}"));
    }
    out
}

/// `path` without `.` and `..` components (no filesystem access, no symlinks followed).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `to` relative to the folder `from` (both absolute and normalized); `.` when equal.
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to_parts: Vec<_> = to.components().collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    if common == 0 {
        return to.display().to_string();
    }
    let mut rel = PathBuf::new();
    for _ in common..from.len() {
        rel.push("..");
    }
    for c in &to_parts[common..] {
        rel.push(c);
    }
    if rel.as_os_str().is_empty() {
        ".".into()
    } else {
        rel.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context {
        Context {
            eco_dir: "/srv/eco".into(),
            out_dir: "/srv/eco/manifests".into(),
            cpus: 8,
        }
    }

    fn map(app: Value) -> Imported {
        map_app(app.as_object().unwrap(), 0, "eco.json", &ctx())
    }

    fn spec(app: Value) -> crate::manifest::AppSpec {
        let imported = map(app);
        crate::manifest::parse_str(Path::new("/srv/eco/manifests/x.yaml"), &imported.text)
            .unwrap_or_else(|e| panic!("{e}\n{}", imported.text))
            .remove(0)
            .app
            .spec
    }

    #[test]
    fn instances_as_pm2_counts_them() {
        use crate::manifest::Instances::*;
        let n = |v: Value| spec(json!({"script": "a.js", "instances": v})).instances;
        assert_eq!(n(json!(3)), Count(3));
        assert_eq!(n(json!("3")), Count(3));
        assert_eq!(n(json!("max")), Max);
        assert_eq!(n(json!(0)), Max);
        assert_eq!(n(json!(-1)), Count(7), "all CPUs but one");
        assert_eq!(n(json!(-20)), Count(1), "never below one");
    }

    #[test]
    fn names_come_from_the_script_and_become_dns_labels() {
        assert_eq!(app_name(None, Some("./src/My_App.js"), 0), "my-app");
        assert_eq!(app_name(Some("API  Server!"), None, 0), "api-server");
        assert_eq!(app_name(Some("---"), None, 4), "app-4");
        assert_eq!(app_name(None, None, 2), "app-2");
        assert_eq!(app_name(Some(&"x".repeat(80)), None, 0).len(), 63);
    }

    #[test]
    fn cluster_without_a_known_port_says_what_to_add() {
        let imported = map(json!({"script": "a.js", "exec_mode": "cluster", "instances": 2}));
        assert!(
            imported
                .text
                .contains("# with a listen entry: add `listen: [{port: PORT, mode: http}]`"),
            "{}",
            imported.text
        );
        assert!(imported.warnings.iter().any(|w| w.contains("exec_mode")));
        assert!(spec(json!({"script": "a.js", "exec_mode": "cluster"}))
            .listen
            .is_empty());
        let fork = spec(json!({"script": "a.js", "exec_mode": "fork", "env": {"PORT": 80}}));
        assert!(fork.listen.is_empty());
        assert_eq!(fork.env["PORT"], "80", "fork mode keeps PORT as it was");
    }

    #[test]
    fn interpreters_and_binaries() {
        let argv = |app: Value| match spec(app).command {
            crate::manifest::Command::Argv(a) => a,
            other => panic!("{other:?}"),
        };
        assert_eq!(argv(json!({"script": "w.py"})), ["python3", "w.py"]);
        assert_eq!(
            argv(json!({"script": "srv", "args": ["-p", 1]})),
            ["srv", "-p", "1"]
        );
        assert_eq!(
            argv(json!({"script": "a.js", "interpreter": "/usr/bin/bun"})),
            ["/usr/bin/bun", "a.js"]
        );
        assert_eq!(
            argv(json!({"script": "a.py", "interpreter": "none"})),
            ["a.py"]
        );
        assert_eq!(
            argv(json!({"script": "a.js", "interpreter_args": ["--inspect"]})),
            ["node", "--inspect", "a.js"]
        );
    }

    #[test]
    fn unknown_keys_are_comments_and_warnings() {
        let imported = map(json!({"script": "a.js", "cron_restart": "* * * * *", "frobnicate": 1}));
        assert!(
            imported
                .text
                .contains("#   frobnicate: 1 — unknown to corral"),
            "{}",
            imported.text
        );
        assert!(imported
            .warnings
            .iter()
            .any(|w| w.starts_with("cron_restart is not imported")));
        assert!(imported
            .warnings
            .iter()
            .any(|w| w.starts_with("frobnicate is not imported")));
    }

    #[test]
    fn relative_paths() {
        let r = |a: &str, b: &str| relative(Path::new(a), Path::new(b));
        assert_eq!(r("/a/b", "/a/b"), ".");
        assert_eq!(r("/a/b", "/a/b/c"), "c");
        assert_eq!(r("/a/b", "/a/c"), "../c");
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    }
}
