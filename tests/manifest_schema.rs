//! The committed JSON Schema matches the code, and every manifest under `manifests/` obeys it.

use std::path::{Path, PathBuf};

use corral::manifest::{documents, parse_file, schema_json};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn committed_schema() -> String {
    std::fs::read_to_string(root().join("schemas/app.schema.json")).unwrap_or_default()
}

/// Every `*.yaml`/`*.yml` file under `dir`, recursively.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

fn manifests() -> Vec<PathBuf> {
    let mut files = Vec::new();
    yaml_files(&root().join("manifests"), &mut files);
    files.sort();
    files
}

#[test]
fn committed_schema_matches_the_code() {
    assert!(
        committed_schema() == schema_json(),
        "schemas/app.schema.json is out of date: run `cargo run -- schema > schemas/app.schema.json`"
    );
}

#[test]
fn every_manifest_validates_against_the_committed_schema() {
    let schema: serde_json::Value = serde_json::from_str(&committed_schema()).expect(
        "schemas/app.schema.json is not JSON: run `cargo run -- schema > schemas/app.schema.json`",
    );
    let validator = jsonschema::validator_for(&schema).unwrap();
    let files = manifests();
    assert!(files.iter().any(|f| f.ends_with("manifests/hello.yaml")));
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for doc in documents(&text) {
            let value: serde_json::Value = serde_yaml::from_str(&text[doc.range.clone()]).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| format!("{} at {}", e, e.instance_path))
                .collect();
            assert!(
                errors.is_empty(),
                "{}:{}: {}",
                file.display(),
                doc.start_line,
                errors.join("; ")
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} documents checked");
}

#[test]
fn every_manifest_parses_and_starts_with_the_schema_modeline() {
    for file in manifests() {
        parse_file(&file).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&file).unwrap();
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("# yaml-language-server: $schema=")
                && first.ends_with("schemas/app.schema.json"),
            "{}: first line must be the schema modeline",
            file.display()
        );
    }
}

#[test]
fn only_the_demo_apps_run_in_the_demo_directory() {
    let mut top: Vec<String> = std::fs::read_dir(root().join("manifests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| corral::manifest::is_manifest_path(p))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(
        top,
        [
            "hello.yaml",
            "web-http.yaml",
            "web-inherit.yaml",
            "web-tcp.yaml"
        ]
    );
}

#[test]
fn the_schema_rejects_what_the_parser_rejects() {
    let schema: serde_json::Value = serde_json::from_str(&schema_json()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let app = |spec: serde_json::Value| serde_json::json!({"apiVersion": "corral/v1", "kind": "App", "metadata": {"name": "web"}, "spec": spec});
    assert!(validator.is_valid(&app(serde_json::json!({"command": ["node"]}))));
    let canary = serde_json::json!({"command": ["node"], "strategy": {"type": "Canary", "steps": [{"setWeight": 10}, {"pause": {"duration": "1m"}}, {"pause": {}}], "analysis": {"maxLatencyRatio": 1.5}}});
    assert!(validator.is_valid(&app(canary)));
    for bad in [
        serde_json::json!({"command": []}),
        serde_json::json!({"command": ["node"], "instnces": 2}),
        serde_json::json!({"command": ["node"], "instances": -1}),
        serde_json::json!({"command": ["node"], "instances": "lots"}),
        serde_json::json!({"command": ["node"], "listen": [{"port": 0}]}),
        serde_json::json!({"command": ["node"], "stop": {"timeout": "10"}}),
        serde_json::json!({"command": ["node"], "memory": {"limit": "300MB"}}),
        serde_json::json!({"command": ["node"], "env": {"1BAD": "x"}}),
        serde_json::json!({"command": ["node"], "stop": {"signal": "SIGFOO"}}),
        serde_json::json!({"command": ["node"], "readiness": {"http": {}, "tcp": {}}}),
        serde_json::json!({"command": ["node"], "readiness": {"periodSeconds": 1}}),
        serde_json::json!({"command": ["node"], "strategy": {"type": "Blue"}}),
        serde_json::json!({"command": ["node"], "strategy": {"steps": [{"setWeight": 101}]}}),
        serde_json::json!({"command": ["node"], "strategy": {"steps": [{"setWeight": 10, "pause": {}}]}}),
        serde_json::json!({"command": ["node"], "strategy": {"steps": [{"pause": {"for": "1m"}}]}}),
        serde_json::json!({"command": ["node"], "strategy": {"steps": [{"pause": {"duration": "5"}}]}}),
        serde_json::json!({"command": ["node"], "strategy": {"analysis": {"latencyPercentile": 100}}}),
        serde_json::json!({"command": ["node"], "strategy": {"analysis": {"maxErrorRate": 101}}}),
        serde_json::json!({"command": ["node"], "strategy": {"analysis": {"maxLatencyRatio": 1}}}),
        serde_json::json!({"command": ["node"], "strategy": {"analysis": {"minRequests": 0}}}),
        serde_json::json!({"command": ["node"], "strategy": {"canaryHeader": {"name": "X"}}}),
    ] {
        assert!(
            !validator.is_valid(&app(bad.clone())),
            "schema accepts {bad}"
        );
    }
    let bad_name = serde_json::json!({"apiVersion": "corral/v1", "kind": "App", "metadata": {"name": "Web"}, "spec": {"command": ["x"]}});
    assert!(!validator.is_valid(&bad_name));
}

#[test]
fn the_schema_checks_each_kind_by_its_kind() {
    let schema: serde_json::Value = serde_json::from_str(&schema_json()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let doc = |kind: &str, spec: serde_json::Value| serde_json::json!({"apiVersion": "corral/v1", "kind": kind, "metadata": {"name": "migrate"}, "spec": spec});
    let template =
        serde_json::json!({"command": ["node", "migrate.js"], "backoff": {"initial": "100ms"}});
    let job = serde_json::json!({"completions": 3, "parallelism": 2, "backoffLimit": 3, "activeDeadlineSeconds": 60, "ttlSecondsAfterFinished": 10, "template": template});
    assert!(validator.is_valid(&doc("Job", job.clone())));
    let cron = serde_json::json!({"schedule": "0 3 * * *", "jobTemplate": {"spec": job}});
    assert!(validator.is_valid(&doc("CronJob", cron)));
    for bad in [
        serde_json::json!({"template": {"command": ["x"], "listen": [{"port": 8080}]}}),
        serde_json::json!({"template": {"command": ["x"], "instances": 2}}),
        serde_json::json!({"template": {"command": ["x"], "restartPolicy": "Never"}}),
        serde_json::json!({"completions": 0, "template": {"command": ["x"]}}),
        serde_json::json!({"parallelism": 0, "template": {"command": ["x"]}}),
        serde_json::json!({"activeDeadlineSeconds": 0, "template": {"command": ["x"]}}),
        serde_json::json!({"backoffLimit": -1, "template": {"command": ["x"]}}),
        serde_json::json!({"paralelism": 2, "template": {"command": ["x"]}}),
        serde_json::json!({"template": {"command": []}}),
        serde_json::json!({"command": ["x"]}),
    ] {
        assert!(
            !validator.is_valid(&doc("Job", bad.clone())),
            "schema accepts Job {bad}"
        );
    }
    // An App's spec is not a Job's, nor the other way round; an unknown kind is refused.
    assert!(!validator.is_valid(&doc(
        "App",
        serde_json::json!({"template": {"command": ["x"]}})
    )));
    assert!(!validator.is_valid(&doc("Job", serde_json::json!({"command": ["x"]}))));
    assert!(!validator.is_valid(&doc("Deployment", serde_json::json!({"command": ["x"]}))));
}
