//! `spec.dependsOn` in `corral export kubernetes`: an init container per dependency that waits
//! for its Service, checked strictly against k8s-openapi's Deployment, and its wait line run
//! with a real `nc -z`.

use crate::common::web::free_port;
use crate::common::{manifest, SOON};

#[test]
fn export_waits_for_the_dependency_service_in_an_init_container() {
    use k8s_openapi::api::apps::v1::Deployment;
    use serde::Deserialize;
    let dir = tempfile::tempdir().expect("tempdir");
    let cmd = "command: [sleep, '1000']";
    let port = free_port();
    let db = manifest(
        "db",
        &[cmd, &format!("listen: [{{port: {port}, mode: tcp}}]")],
    );
    let api = manifest(
        "api",
        &[
            cmd,
            "dependsOn: [{app: db, condition: Ready}, {app: cache}]",
        ],
    );
    let cache = manifest("cache", &[cmd]);
    for (file, text) in [("db.yaml", db), ("api.yaml", api), ("cache.yaml", cache)] {
        std::fs::write(dir.path().join(file), text).expect("write");
    }
    let out = crate::export_kubernetes::export(&[
        &dir.path().display().to_string(),
        "--image",
        crate::export_kubernetes::IMAGE,
    ]);
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert!(out.status.success(), "{stderr}");
    let mut found = None;
    for doc in serde_yaml::Deserializer::from_str(&stdout) {
        let value = serde_json::Value::deserialize(doc).expect("a YAML document");
        if value["kind"] == "Deployment" && value["metadata"]["name"] == "api" {
            crate::export_kubernetes::strictly::<Deployment>(&value, "api's Deployment");
            found = Some(value);
        }
    }
    let api = found.unwrap_or_else(|| panic!("no Deployment for api:\n{stdout}"));
    let init = &api["spec"]["template"]["spec"]["initContainers"];
    assert_eq!(init.as_array().map(Vec::len), Some(1), "{init}");
    assert_eq!(init[0]["name"], "wait-for-db");
    assert_eq!(init[0]["image"], "busybox:1.36");
    let wait = init[0]["command"][2].as_str().expect("a shell line");
    assert_eq!(
        wait,
        format!("until nc -z db {port}; do echo waiting for db:{port}; sleep 1; done")
    );
    assert_eq!(
        (&init[0]["command"][0], &init[0]["command"][1]),
        (&"sh".into(), &"-c".into())
    );
    waits_until_the_port_opens(&wait.replace("nc -z db ", "nc -z 127.0.0.1 "), port);
    assert!(stderr.contains("Kubernetes has no depends_on"), "{stderr}");
    assert!(
        stderr.contains("dependsOn cache: it has no listen entry"),
        "{stderr}"
    );
}

/// Runs the init container's shell line (its Service name replaced by loopback) with a real
/// `nc -z` (OpenBSD netcat, as `.ci/run` installs): it keeps waiting while nothing listens on
/// `port`, and ends with status 0 soon after something does.
fn waits_until_the_port_opens(line: &str, port: u16) {
    assert!(
        std::path::Path::new("/usr/bin/nc.openbsd").exists(),
        "nc.openbsd is installed (netcat-openbsd, see .ci/run)"
    );
    // `nc` notes each try, then is OpenBSD's.
    let shim = tempfile::tempdir().expect("tempdir");
    let tries = shim.path().join("tries");
    let nc = shim.path().join("nc");
    std::fs::write(
        &nc,
        format!(
            "#!/bin/sh\necho try >> {}\nexec /usr/bin/nc.openbsd \"$@\"\n",
            tries.display()
        ),
    )
    .expect("write the nc shim");
    std::fs::set_permissions(&nc, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod the nc shim");
    let path = format!(
        "{}:{}",
        shim.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = std::process::Command::new("sh")
        .args(["-c", line])
        .env("PATH", path)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("sh");
    crate::common::wait_for(SOON, "a second try of nc -z", || {
        let n = std::fs::read_to_string(&tries).unwrap_or_default();
        (n.lines().count() >= 2).then_some(())
    });
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "it waits while nothing listens"
    );
    let _listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    let status = crate::common::wait_for(SOON, "the wait ends", || {
        child.try_wait().expect("try_wait")
    });
    assert!(status.success(), "{status}");
}
