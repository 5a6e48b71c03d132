//! `corral export kubernetes`, run as the real binary on every manifest under `manifests/`:
//! each object deserializes strictly into its k8s-openapi type, and the mapping matches the
//! golden files in `tests/golden/export/` (`CORRAL_BLESS=1 cargo test --test export_kubernetes`
//! rewrites them after a deliberate change).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub(crate) const IMAGE: &str = "registry.example.com/{name}:1.0";

/// `corral export kubernetes ARGS` pinned to one CPU, so `instances: max` exports the same
/// replicas on every machine.
pub(crate) fn export(args: &[&str]) -> Output {
    Command::new("taskset")
        .args([
            "-c",
            "0",
            env!("CARGO_BIN_EXE_corral"),
            "export",
            "kubernetes",
        ])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CORRAL_MANIFESTS")
        .output()
        .expect("run corral export")
}

/// Every manifest file under `manifests/` (the demo and the reference).
pub(crate) fn manifest_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    let mut out = Vec::new();
    for dir in [root.clone(), root.join("reference")] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    assert!(out.len() >= 5, "{out:?}");
    out
}

/// `doc` deserializes into `T`, and `T` serializes back to the same document: no field was
/// unknown to the type, none was dropped.
pub(crate) fn strictly<T: DeserializeOwned + Serialize>(doc: &serde_json::Value, what: &str) {
    let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(&back, doc, "{what}: fields the type does not know");
}

#[test]
fn every_manifest_exports_to_valid_objects_as_the_golden_files_say() {
    let bless = std::env::var_os("CORRAL_BLESS").is_some();
    let golden_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/export");
    let mut mismatches = Vec::new();
    for file in manifest_files() {
        let rel = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let out = export(&["-f", &rel, "--image", IMAGE, "--profile", "production"]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(out.status.success(), "{rel}: {stderr}");
        let mut kinds = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(&stdout) {
            let value: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
            let kind = value["kind"].as_str().unwrap_or_default().to_owned();
            let what = format!("{rel}: {kind} {}", value["metadata"]["name"]);
            match kind.as_str() {
                "Deployment" => strictly::<Deployment>(&value, &what),
                "Service" => strictly::<Service>(&value, &what),
                "ConfigMap" => strictly::<ConfigMap>(&value, &what),
                other => panic!("{what}: unexpected kind {other:?}"),
            }
            kinds.push(kind);
        }
        assert!(kinds.iter().any(|k| k == "Deployment"), "{rel}: {kinds:?}");
        let golden = golden_dir.join(file.file_name().unwrap());
        let actual = format!("{stdout}# stderr:\n{stderr}");
        if bless {
            std::fs::create_dir_all(&golden_dir).unwrap();
            std::fs::write(&golden, &actual).unwrap();
        } else if std::fs::read_to_string(&golden).ok().as_deref() != Some(actual.as_str()) {
            mismatches.push(format!("{}:\n{actual}", golden.display()));
        }
    }
    assert!(
        mismatches.is_empty(),
        "exports differ from the golden files (CORRAL_BLESS=1 rewrites them):\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn a_directory_exports_every_app_and_warns_about_what_has_no_counterpart() {
    let out = export(&["manifests", "--image", IMAGE]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    for app in ["hello", "web-http", "web-inherit", "web-tcp"] {
        assert!(
            stdout.contains(&format!("  name: {app}\n")),
            "{app} missing:\n{stdout}"
        );
        assert!(
            stdout.contains(&format!("image: registry.example.com/{app}:1.0")),
            "{app}"
        );
    }
    assert!(
        stdout.contains("the app must listen on $PORT"),
        "inherit mode's comment"
    );
    assert!(
        stderr.contains("cwd apps is a folder on this host"),
        "{stderr}"
    );
}

#[test]
fn bad_input_is_an_error_that_says_what() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: corral/v1\nkind: App\nmetadata: {name: x}\nspec: {comand: [a]}\n",
    )
    .unwrap();
    let out = export(&["-f", bad.to_str().unwrap(), "--image", IMAGE]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.yaml:4:") && stderr.contains("comand"),
        "{stderr}"
    );
    let missing = export(&["-f", bad.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--image"));
}

#[test]
fn user_and_group_become_run_as_ids_and_limits_are_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let app = |name: &str, lines: &str| {
        format!(
            "apiVersion: corral/v1\nkind: App\nmetadata: {{name: {name}}}\nspec:\n  command: [sleep, '1']\n{lines}"
        )
    };
    let text = [
        app("numbers", "  user: 1000\n  group: 2000\n"),
        app("names", "  user: nobody\n  group: nogroup\n"),
        app("ghost", "  user: no-such-user-x\n"),
        app(
            "limited",
            "  ulimits: {nofile: 1024}\n  nice: 5\n  oomScoreAdjust: 10\n  umask: '0027'\n",
        ),
    ]
    .join("---\n");
    let file = dir.path().join("apps.yaml");
    std::fs::write(&file, text).unwrap();
    let out = export(&["-f", file.to_str().unwrap(), "--image", IMAGE]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    let deployments: Vec<Deployment> = serde_yaml::Deserializer::from_str(&stdout)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect();
    let context = |name: &str| {
        let d = deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some(name))
            .unwrap();
        let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        pod.containers[0].security_context.clone()
    };
    let ids = |name: &str| context(name).map(|s| (s.run_as_user, s.run_as_group));
    assert_eq!(ids("numbers"), Some((Some(1000), Some(2000))));
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let nogroup = nix::unistd::Group::from_name("nogroup").unwrap().unwrap();
    assert_eq!(
        ids("names"),
        Some((
            Some(nobody.uid.as_raw().into()),
            Some(nogroup.gid.as_raw().into())
        ))
    );
    assert!(
        stderr.contains("app/names: spec.user: nobody is uid 65534 on this host"),
        "{stderr}"
    );
    assert_eq!(ids("ghost"), None);
    assert!(
        stderr.contains("app/ghost: spec.user: no-such-user-x is not a user on this host"),
        "{stderr}"
    );
    assert_eq!(context("limited"), None);
    for field in ["ulimits", "nice", "oomScoreAdjust", "umask"] {
        assert!(
            stderr.contains(&format!("app/limited: {field} is not exported")),
            "{field}: {stderr}"
        );
    }
}
