//! `corral export kubernetes --rollouts`: a canary app becomes an Argo Rollouts `Rollout` that
//! Argo Rollouts' own CRD schema accepts (vendored in `tests/fixtures/argo-rollouts/`, with
//! unknown fields forbidden as kubeconform's `-strict` does), its pod template a strict
//! `PodTemplateSpec`; without the flag a Deployment and a warning; rolling apps unchanged.

use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{PodTemplateSpec, Service};
use serde_json::{json, Value};

use crate::export_kubernetes::{export, manifest_files, strictly, IMAGE};

const CANARY: &str = "manifests/reference/canary.yaml";

/// Argo Rollouts' Rollout schema, with `additionalProperties: false` on every object that lists
/// its properties and does not keep unknown fields (what the API server would prune).
fn rollout_schema() -> jsonschema::Validator {
    fn strict(node: &mut Value) {
        match node {
            Value::Object(map) => {
                let closed = map.contains_key("properties")
                    && !map.contains_key("additionalProperties")
                    && !map.contains_key("x-kubernetes-preserve-unknown-fields");
                if closed {
                    map.insert("additionalProperties".into(), Value::Bool(false));
                }
                map.values_mut().for_each(strict);
            }
            Value::Array(items) => items.iter_mut().for_each(strict),
            _ => {}
        }
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/argo-rollouts/rollout.schema.json");
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    strict(&mut schema);
    // Kubernetes' structural schemas are OpenAPI v3, a JSON Schema draft 4 dialect (and draft 4
    // builds here in a tenth of the time 2020-12 takes).
    jsonschema::draft4::new(&schema).unwrap()
}

/// The documents of an export, with the comment lines above each.
fn documents(stdout: &str) -> Vec<(Vec<String>, Value)> {
    stdout
        .split("\n---\n")
        .map(|text| {
            let comments = text
                .lines()
                .filter_map(|l| l.strip_prefix("# "))
                .map(str::to_owned)
                .collect();
            (comments, serde_yaml::from_str(text).unwrap())
        })
        .collect()
}

/// A Rollout passes the strict CRD schema and its template is a strict PodTemplateSpec.
fn assert_valid_rollout(validator: &jsonschema::Validator, rollout: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(rollout)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "Argo Rollouts' schema: {errors:?}\n{rollout:#}"
    );
    strictly::<PodTemplateSpec>(&rollout["spec"]["template"], "Rollout template");
}

#[test]
fn a_canary_becomes_a_rollout_that_argo_rollouts_schema_accepts() {
    let out = export(&["-f", CANARY, "--image", IMAGE, "--rollouts"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    let docs = documents(&stdout);
    let kinds: Vec<&str> = docs
        .iter()
        .map(|(_, d)| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Rollout", "Service"], "{stdout}");
    let (comments, rollout) = &docs[0];
    assert_valid_rollout(&rollout_schema(), rollout);
    strictly::<Service>(&docs[1].1, "Service");
    assert_eq!(rollout["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(rollout["metadata"]["name"], "web-canary");
    assert_eq!(rollout["spec"]["replicas"], 4);
    let canary = &rollout["spec"]["strategy"]["canary"];
    assert_eq!(
        canary["steps"],
        json!([{"setWeight": 10}, {"pause": {"duration": "2m"}}, {"setWeight": 50}, {"pause": {}}])
    );
    assert_eq!(
        (&canary["maxSurge"], &canary["maxUnavailable"]),
        (&json!(1), &json!(0))
    );
    assert!(
        canary.get("analysis").is_none(),
        "no AnalysisTemplate to point at"
    );
    let said = comments.join("\n");
    for what in [
        "every 10s",
        "at most stable's + 1 percentage point(s)",
        "at least 100 requests",
        "p95 latency at most 2× stable's",
        "AnalysisTemplate",
        "by pod count",
        "canaryHeader X-Corral-Canary: always",
    ] {
        assert!(said.contains(what), "{what:?} not in the comments:\n{said}");
    }
    assert!(
        stderr.contains("app/web-canary: the canary's analysis is not exported"),
        "{stderr}"
    );
    assert!(
        stderr.contains("app/web-canary: canaryHeader is not exported"),
        "{stderr}"
    );
}

#[test]
fn without_the_flag_a_canary_is_a_deployment_and_a_warning_names_the_flag() {
    let out = export(&["-f", CANARY, "--image", IMAGE]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    let docs = documents(&stdout);
    assert_eq!(docs[0].1["kind"], "Deployment", "{stdout}");
    strictly::<Deployment>(&docs[0].1, "Deployment");
    assert_eq!(docs[0].1["spec"]["strategy"]["type"], "RollingUpdate");
    assert!(
        stderr.contains("app/web-canary: strategy Canary became a rolling Deployment")
            && stderr.contains("pass --rollouts"),
        "{stderr}"
    );
}

#[test]
fn rolling_apps_export_the_same_with_the_flag() {
    for file in manifest_files() {
        if file.ends_with(CANARY) {
            continue;
        }
        let file = file.to_str().unwrap();
        let plain = export(&["-f", file, "--image", IMAGE]);
        let flagged = export(&["-f", file, "--image", IMAGE, "--rollouts"]);
        assert!(plain.status.success() && flagged.status.success(), "{file}");
        assert_eq!(plain.stdout, flagged.stdout, "{file}");
        assert_eq!(plain.stderr, flagged.stderr, "{file}");
        assert!(
            !String::from_utf8_lossy(&plain.stdout).contains("Rollout"),
            "{file}"
        );
    }
}

#[test]
fn every_step_shape_maps_one_to_one_and_the_schema_check_can_fail() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tcp.yaml");
    std::fs::write(
        &file,
        "apiVersion: corral/v1\nkind: App\nmetadata: {name: worker}\nspec:\n  command: [sleep, '9']\n  instances: 10\n  listen: [{port: 7000, mode: tcp}]\n  strategy:\n    type: Canary\n    maxSurge: 20%\n    steps: [{setWeight: 0}, {pause: {duration: 1h30m}}, {setWeight: 30}, {pause: {duration: 250ms}}, {setWeight: 100}]\n    analysis: {failureLimit: 2}\n",
    )
    .unwrap();
    let out = export(&["-f", file.to_str().unwrap(), "--image", IMAGE, "--rollouts"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    let docs = documents(&String::from_utf8(out.stdout).unwrap());
    let (comments, rollout) = &docs[0];
    let validator = rollout_schema();
    assert_valid_rollout(&validator, rollout);
    let canary = &rollout["spec"]["strategy"]["canary"];
    assert_eq!(
        canary["steps"],
        json!([{"setWeight": 0}, {"pause": {"duration": "1h30m"}}, {"setWeight": 30}, {"pause": {"duration": "250ms"}}, {"setWeight": 100}])
    );
    assert_eq!(
        (&canary["maxSurge"], &canary["maxUnavailable"]),
        (&json!("20%"), &json!("25%"))
    );
    let said = comments.join("\n");
    assert!(
        said.contains(
            "by what this mode sees (exits, readiness, liveness); failureLimit 2: one more failed check aborts"
        ),
        "{said}"
    );
    assert!(
        !said.contains("by pod count") && !stderr.contains("canaryHeader"),
        "{said}\n{stderr}"
    );
    // The check is not vacuous: a misspelt step, an unknown canary field or a string weight fail.
    for (pointer, bad) in [
        ("/spec/strategy/canary/steps/0", json!({"setWeigth": 10})),
        ("/spec/strategy/canary/analyses", json!({})),
        ("/spec/strategy/canary/steps/0/setWeight", json!("10")),
    ] {
        let mut broken = rollout.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        match broken.pointer_mut(parent).unwrap() {
            Value::Array(a) => a[key.parse::<usize>().unwrap()] = bad,
            Value::Object(o) => {
                o.insert(key.to_owned(), bad);
            }
            _ => unreachable!(),
        }
        assert!(!validator.is_valid(&broken), "{pointer} accepted");
    }
}

#[test]
fn auto_rollback_on_a_rolling_app_is_a_warning_with_or_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.yaml");
    std::fs::write(
        &file,
        "apiVersion: corral/v1\nkind: App\nmetadata: {name: web}\nspec:\n  command: [sleep, '9']\n  strategy: {autoRollback: true}\n",
    )
    .unwrap();
    for flag in [None, Some("--rollouts")] {
        let mut args = vec!["-f", file.to_str().unwrap(), "--image", IMAGE];
        args.extend(flag);
        let out = export(&args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(out.status.success(), "{stderr}");
        let docs = documents(&String::from_utf8(out.stdout).unwrap());
        assert_eq!(docs[0].1["kind"], "Deployment");
        assert!(
            stderr.contains("app/web: autoRollback is not exported"),
            "{stderr}"
        );
    }
}

#[test]
fn a_blue_green_becomes_a_rollout_with_its_preview_service_and_without_the_flag_a_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.yaml");
    std::fs::write(
        &file,
        "apiVersion: corral/v1\nkind: App\nmetadata: {name: web}\nspec:\n  command: [sleep, '9']\n  \
         listen: [{port: 8080, mode: http}]\n  \
         strategy: {type: BlueGreen, previewPort: 8081, scaleDownDelay: 5m}\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let out = export(&["-f", path, "--image", IMAGE, "--rollouts"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    let docs = documents(&String::from_utf8(out.stdout).unwrap());
    let kinds: Vec<&str> = docs
        .iter()
        .map(|(_, d)| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Rollout", "Service", "Service"]);
    let rollout = &docs[0].1;
    assert_valid_rollout(&rollout_schema(), rollout);
    assert_eq!(
        rollout["spec"]["strategy"],
        json!({"blueGreen": {"activeService": "web", "previewService": "web-preview",
            "autoPromotionEnabled": false, "scaleDownDelaySeconds": 300}})
    );
    let preview = &docs[2].1;
    strictly::<Service>(preview, "Service");
    assert_eq!(preview["metadata"]["name"], "web-preview");
    assert_eq!(preview["spec"]["ports"][0]["port"], 8081);
    assert_eq!(preview["spec"]["ports"][0]["targetPort"], 8080);

    let out = export(&["-f", path, "--image", IMAGE]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let docs = documents(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(docs[0].1["kind"], "Deployment");
    assert!(
        stderr.contains("app/web: strategy BlueGreen became a rolling Deployment"),
        "{stderr}"
    );
}
