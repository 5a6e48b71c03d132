//! The revision of an app: a short hash of everything that shapes its processes (docs/manifest.md,
//! "Rollouts").

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::types::{AppSpec, Probe};

impl AppSpec {
    /// The revision: a short hash of everything that shapes a process (docs/manifest.md,
    /// "Rollouts"), with the chosen profile's env. `instances`, `suspend`, `memory`, `cpu`,
    /// `pids` (limits written into the live instances in place), `strategy`, `hooks` (they run
    /// around a revision change, they are not one) and labels are left out.
    pub fn revision(&self, profile: Option<&str>) -> String {
        let profile_env = profile.and_then(|p| self.profiles.get(p)).map(|p| &p.env);
        let mut shaping = json!({
            "command": self.command,
            "cwd": self.cwd,
            "env": self.env,
            "envFiles": self.env_files,
            "profileEnv": profile_env,
            "listen": self.listen,
            "readiness": self.readiness.as_ref().map(probe_shape),
            "liveness": self.liveness.as_ref().map(probe_shape),
            "restartPolicy": self.restart_policy,
            "backoff": self.backoff,
            "stop": self.stop,
            "watch": self.watch.as_ref().map(watch_shape),
            "logs": self.logs,
        });
        // Who the process is and its limits: only when set, so the revisions of apps that set
        // none stay what they were before these fields existed.
        let confinement = [
            ("user", json!(self.user)),
            ("group", json!(self.group)),
            ("ulimits", json!(self.ulimits)),
            ("nice", json!(self.nice)),
            ("oomScoreAdjust", json!(self.oom_score_adj)),
            ("umask", json!(self.umask)),
        ];
        for (key, value) in confinement {
            let unset = value.is_null() || value.as_object().is_some_and(|m| m.is_empty());
            if let (false, Value::Object(map)) = (unset, &mut shaping) {
                map.insert(key.into(), value);
            }
        }
        let mut canonical = String::new();
        write_canonical(&shaping, &mut canonical);
        let digest = Sha256::digest(canonical.as_bytes());
        digest[..6].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A probe with its timing defaults written out, so that leaving a field out and writing its
/// default give one revision (and revisions made before the fields became optional stay).
fn probe_shape(p: &Probe) -> Value {
    let mut v = json!(p);
    if let Value::Object(map) = &mut v {
        map.insert("periodSeconds".into(), p.period().into());
        map.insert("timeoutSeconds".into(), p.timeout().into());
        map.insert("successThreshold".into(), p.successes().into());
        map.insert("failureThreshold".into(), p.failures().into());
    }
    v
}

/// Writes JSON with object keys sorted, so the hash does not depend on map ordering.
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(inner) = map.get(k) {
                    write_canonical(inner, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// `watch` with the ignore globs that always apply written first, as the `ignore` default
/// used to list them: a manifest that leaves `ignore` out keeps the revision it had before the
/// built-in ignores came, and writing them out is the same spec as leaving them out.
fn watch_shape(w: &super::types::Watch) -> Value {
    let mut ignore: Vec<&str> = vec!["node_modules", ".git", "*.log"];
    for glob in &w.ignore {
        if !ignore.contains(&glob.as_str()) {
            ignore.push(glob);
        }
    }
    let mut v = json!(w);
    v["ignore"] = json!(ignore);
    v
}

#[cfg(test)]
mod tests {
    use crate::manifest::App;

    /// A spec from a YAML `spec:` body.
    fn spec(body: &str) -> crate::manifest::AppSpec {
        let doc = format!("apiVersion: corral/v1\nkind: App\nmetadata: {{name: a}}\nspec:\n{body}");
        serde_yaml::from_str::<App>(&doc).unwrap().spec
    }

    const BASE: &str =
        "  command: [node, server.js]\n  profiles: {prod: {env: {A: '1'}}, dev: {env: {A: '2'}}}\n";

    fn rev(extra: &str, profile: Option<&str>) -> String {
        spec(&format!("{BASE}{extra}")).revision(profile)
    }

    #[test]
    fn revision_is_twelve_hex_digits_and_stable() {
        let r = rev("", None);
        assert_eq!(r.len(), 12);
        assert!(r.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(r, rev("", None));
        // Writing a default explicitly is the same spec.
        assert_eq!(
            r,
            rev(
                "  restartPolicy: Always\n  backoff: {initial: 100ms}\n",
                None
            )
        );
    }

    #[test]
    fn built_in_watch_ignores_written_out_are_the_same_spec() {
        let base = rev("  watch: {}\n", None);
        let explicit = rev("  watch: {ignore: [node_modules, .git, '*.log']}\n", None);
        assert_eq!(base, explicit);
        assert_ne!(base, rev("  watch: {ignore: [dist/]}\n", None));
    }

    #[test]
    fn process_shaping_fields_change_the_revision() {
        let base = rev("", Some("prod"));
        let changes = [
            "  cwd: ./web\n",
            "  env: {X: 'y'}\n",
            "  envFiles: [.env]\n",
            "  listen: [{port: 8080}]\n",
            "  readiness: {tcp: {port: 1}}\n",
            "  liveness: {tcp: {port: 1}}\n",
            "  restartPolicy: Never\n",
            "  backoff: {max: 1m}\n",
            "  stop: {signal: SIGINT}\n",
            "  watch: {}\n",
            "  logs: {maxFiles: 2}\n",
            "  user: nobody\n",
            "  group: '65534'\n",
            "  ulimits: {nofile: 1024}\n",
            "  nice: 5\n",
            "  oomScoreAdjust: 100\n",
            "  umask: '0077'\n",
        ];
        for change in changes {
            assert_ne!(rev(change, Some("prod")), base, "{change}");
        }
        let other = spec("  command: [node, other.js]\n  profiles: {prod: {env: {A: '1'}}}\n");
        assert_ne!(other.revision(Some("prod")), base);
        assert_ne!(
            rev("", Some("dev")),
            base,
            "the selected profile's env counts"
        );
        assert_ne!(rev("", None), base);
    }

    #[test]
    fn scaling_and_in_place_fields_keep_the_revision() {
        let base = rev("", Some("prod"));
        let same = [
            "  instances: 7\n",
            "  suspend: true\n",
            "  memory: {limit: 1Gi}\n",
            "  memory: {limit: 1Gi, max: 2Gi}\n",
            "  cpu: {max: 500m}\n",
            "  pids: {max: 100}\n",
            "  strategy: {maxSurge: 1, maxUnavailable: 0}\n",
            "  hooks: {preRollout: {command: [node, migrate.js]}}\n",
            "  hooks: {postRollout: {command: 'node warm.js', timeout: 1m}}\n",
        ];
        for change in same {
            assert_eq!(rev(change, Some("prod")), base, "{change}");
        }
        // Labels live in metadata, outside the spec; other profiles do not count.
        let fewer = spec("  command: [node, server.js]\n  profiles: {prod: {env: {A: '1'}}}\n");
        assert_eq!(fewer.revision(Some("prod")), base);
    }

    /// A controller upgrade must not roll out every app: revisions of unchanged manifests stay
    /// what the first release computed (values from corral at 2eda8db).
    #[test]
    fn revisions_are_stable_across_versions() {
        let probes = "  readiness: {tcp: {port: 80}}\n  liveness: {exec: {command: [true]}, periodSeconds: 3}\n";
        let app = |name: &str, rest: &str| {
            let text = format!(
                "apiVersion: corral/v1\nkind: App\nmetadata: {{name: {name}}}\nspec:\n  command: [sleep, \"1\"]\n{rest}"
            );
            let located =
                crate::manifest::parse::parse_str(std::path::Path::new("/m/x.yaml"), &text)
                    .expect("valid");
            located[0].app.spec.revision(None)
        };
        assert_eq!(app("a", probes), "9e6d0f551e75");
        assert_eq!(app("b", "  readiness: {notify: {}}\n"), "2da33cf477a1");
    }
}
