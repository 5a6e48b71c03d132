//! Reading a PM2 ecosystem file into its list of apps, the way PM2 reads it.
//!
//! `.js`/`.cjs`/`.mjs` are evaluated by the host's Node.js (`import()`, which loads CommonJS and
//! ES modules alike); `.json` is JSON, or failing that a JavaScript expression as PM2 evaluates it
//! (comments allowed); `.yaml`/`.yml` is YAML.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::ImportError;

/// How long evaluating an ecosystem file may take (one that starts a server never ends).
const NODE_TIMEOUT: Duration = Duration::from_secs(20);

/// Loads `module.exports` (or the default export) of an ecosystem file, as JSON.
const EVALUATE: &str = r#"
const { pathToFileURL } = require("url");
const file = process.argv[1];
const load = file.endsWith(".json")
  ? Promise.resolve().then(() => require("vm").runInThisContext("(" + require("fs").readFileSync(file, "utf8") + ")"))
  : import(pathToFileURL(file).href).then((m) => m.default ?? m);
load
  .then((c) => process.stdout.write(JSON.stringify(c ?? null)))
  .catch((e) => { process.stderr.write(String((e && e.stack) || e)); process.exit(1); });
"#;

/// The apps an ecosystem file declares, each a JSON object, and its other top-level keys
/// (`deploy`…).
pub fn apps(file: &Path) -> Result<(Vec<Value>, Vec<String>), ImportError> {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let read = || {
        std::fs::read_to_string(file).map_err(|source| ImportError::Read {
            file: file.to_path_buf(),
            source,
        })
    };
    let config = match ext.as_str() {
        "js" | "cjs" | "mjs" => evaluate(file)?,
        "json" => match serde_json::from_str(&read()?) {
            Ok(v) => v,
            Err(_) => evaluate(file)?,
        },
        "yaml" | "yml" => serde_yaml::from_str(&read()?).map_err(|e| ImportError::Invalid {
            file: file.to_path_buf(),
            why: format!("not valid YAML: {e}"),
        })?,
        _ => {
            return Err(ImportError::Invalid {
                file: file.to_path_buf(),
                why: "unknown kind of file: PM2 ecosystem files end in .js, .cjs, .mjs, .json, .yaml or .yml".into(),
            })
        }
    };
    let others = match &config {
        Value::Object(map) if map.contains_key("apps") => {
            map.keys().filter(|k| *k != "apps").cloned().collect()
        }
        _ => Vec::new(),
    };
    let apps = app_list(config).ok_or_else(|| ImportError::Invalid {
        file: file.to_path_buf(),
        why: "no apps found: an ecosystem file exports {apps: [{name, script, …}]}".into(),
    })?;
    Ok((apps, others))
}

/// `{apps: [...]}`, `{apps: {...}}`, `[...]` or a single app object.
fn app_list(config: Value) -> Option<Vec<Value>> {
    let list = match config {
        Value::Object(mut map) if map.contains_key("apps") => map.remove("apps")?,
        other => other,
    };
    let apps = match list {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => return None,
    };
    (!apps.is_empty() && apps.iter().all(Value::is_object)).then_some(apps)
}

/// Runs Node.js on `file` and parses what it prints.
fn evaluate(file: &Path) -> Result<Value, ImportError> {
    let node_err = |why: String| ImportError::Node {
        file: file.to_path_buf(),
        why,
    };
    let mut child = Command::new("node")
        .arg("-e")
        .arg(EVALUATE)
        .arg(file)
        .current_dir(file.parent().unwrap_or(Path::new(".")))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            node_err(format!(
                "cannot run node ({e}); install Node.js or convert the file to .json"
            ))
        })?;
    // Read both pipes on threads so a chatty file cannot fill one and stall.
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = stdout.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = stderr.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + NODE_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(node_err(format!(
                    "node did not finish evaluating it within {}s (does the file start something?)",
                    NODE_TIMEOUT.as_secs()
                )));
            }
            Err(e) => return Err(node_err(format!("cannot wait for node: {e}"))),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if !status.success() {
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(node_err(format!("node could not load it: {first}")));
    }
    serde_json::from_str(&out).map_err(|e| node_err(format!("its export is not plain data: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_shapes_pm2_accepts() {
        let app = json!({"script": "a.js"});
        assert_eq!(
            app_list(json!({"apps": [app.clone()]})),
            Some(vec![app.clone()])
        );
        assert_eq!(
            app_list(json!({"apps": app.clone()})),
            Some(vec![app.clone()])
        );
        assert_eq!(app_list(json!([app.clone()])), Some(vec![app.clone()]));
        assert_eq!(app_list(app.clone()), Some(vec![app]));
        assert_eq!(app_list(json!({"apps": []})), None);
        assert_eq!(app_list(json!("x")), None);
        assert_eq!(app_list(json!([1])), None);
    }
}
