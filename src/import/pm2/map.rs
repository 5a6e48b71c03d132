//! One PM2 app (an ecosystem entry) → one App manifest, each setting commented with its source:
//! the manifest being built, the app's name and folder, and the keys left over. How each key
//! maps is in `keys.rs`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::keys::{
    cluster_port, command, cron_restart, env, identity, instances, logs, memory, profiles,
    restarts, stop, strategy, watch,
};
use super::paths::{normalize, relative};
use super::units::text;
use crate::import::yaml::scalar;
use crate::import::Imported;

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
    ("user", "corral runs an app as a user with spec.user (PM2 calls it uid)"),
    ("node_version", "put the node binary's path in interpreter"),
    ("max_restarts", "corral never gives up: restarts back off up to backoff.max and show CrashLoopBackOff"),
];

/// Builds a manifest: spec lines with their comments, warnings, leftover keys.
pub(super) struct Manifest<'a> {
    pub(super) app: &'a Map<String, Value>,
    pub(super) ctx: &'a Context,
    pub(super) used: BTreeSet<&'static str>,
    pub(super) lines: Vec<String>,
    pub(super) warnings: Vec<String>,
}

impl<'a> Manifest<'a> {
    /// The value of the first of `keys` the app has, marking all of them used.
    pub(super) fn get(&mut self, keys: &[&'static str]) -> Option<&'a Value> {
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
    pub(super) fn line(&mut self, key_value: String, comment: &str) {
        let body = format!("  {key_value}");
        if comment.is_empty() {
            self.lines.push(body);
        } else {
            self.lines.push(format!("{body:<38} # {comment}"));
        }
    }

    /// Adds a comment line to the spec.
    pub(super) fn note(&mut self, comment: String) {
        self.lines.push(format!("  # {comment}"));
    }

    /// A key whose value could not be read.
    pub(super) fn unreadable(&mut self, key: &str, v: &Value, want: &str) {
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
    identity(&mut m);
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
    cron_restart(&mut m);
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
        let imported = map(json!({"script": "a.js", "frobnicate": 1}));
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
            .any(|w| w.starts_with("frobnicate is not imported")));
    }

    #[test]
    fn cron_restart_is_a_restart_schedule() {
        let imported = map(json!({"script": "a.js", "cron_restart": "0 3 * * *"}));
        assert!(
            imported.text.contains("  restartSchedule: \"0 3 * * *\""),
            "{}",
            imported.text
        );
        assert!(
            !imported.warnings.iter().any(|w| w.contains("cron_restart")),
            "{:?}",
            imported.warnings
        );
        let six = map(json!({"script": "a.js", "cron_restart": "*/30 * * * * *"}));
        assert!(six.text.contains("restartSchedule: \"*/30 * * * * *\""));
        let none = map(json!({"script": "a.js", "cron_restart": "0"}));
        assert!(!none.text.contains("restartSchedule"), "{}", none.text);
        assert!(!none.warnings.iter().any(|w| w.contains("cron_restart")));
        let bad = map(json!({"script": "a.js", "cron_restart": "0 25 * * *"}));
        assert!(!bad.text.contains("restartSchedule:"), "{}", bad.text);
        assert!(
            bad.warnings
                .iter()
                .any(|w| w.contains("field 2 (hour): `25` is out of 0-23")),
            "{:?}",
            bad.warnings
        );
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
