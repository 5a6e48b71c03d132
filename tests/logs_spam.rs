//! An app printing as fast as it can does not hold up the controller: another app's readiness
//! probes and reload still complete, and the API still answers.

use crate::common;

use std::time::Duration;

use common::{flow, manifest, Controller, SOON};

#[test]
fn a_spamming_app_does_not_delay_another_apps_probes_or_reload() {
    let ctl = Controller::new();
    // `yes` writes as fast as the pipe takes it; small files rotate all the time.
    let spam = flow(&["sh", "-c", "exec yes spam-spam-spam-spam", &ctl.token]);
    ctl.write_manifest(
        "spam.yaml",
        &manifest(
            "spam",
            &[
                &format!("command: {spam}"),
                "logs: {maxSize: 1Mi, maxFiles: 1}",
            ],
        ),
    );
    let probe = flow(&["true"]);
    ctl.write_manifest(
        "web.yaml",
        &manifest(
            "web",
            &[
                &format!("command: {}", ctl.sleeper()),
                "instances: 2",
                &format!("readiness: {{exec: {{command: {probe}}}, periodSeconds: 1}}"),
            ],
        ),
    );
    ctl.start();
    let spam_dir = ctl.home.join("logs/spam");
    ctl.wait_until(SOON, "spam's log rotates", || {
        spam_dir.join("0.out.log.1").exists()
    });
    let before = ctl.wait_status("web", "Running");
    assert_eq!(before.instances.len(), 2);
    let old: Vec<u32> = before.instances.iter().filter_map(|i| i.pid).collect();

    let reload = ctl.corral(&["reload", "web"]);
    assert!(reload.status.success(), "{reload:?}");
    let status = ctl.corral(&["rollout", "status", "web", "-w"]);
    assert!(
        status.status.success(),
        "rollout did not complete: {status:?}"
    );
    let after = ctl.wait_status("web", "Running");
    let new: Vec<u32> = after.instances.iter().filter_map(|i| i.pid).collect();
    assert_eq!(new.len(), 2);
    assert!(new.iter().all(|p| !old.contains(p)), "{old:?} → {new:?}");

    // Still spamming, still rotating, never more than one rotated file.
    let spam_pid = ctl.wait_instances("spam", 1)[&0];
    assert!(common::alive(spam_pid));
    ctl.assert_stays(Duration::from_millis(500), "one rotated file", || {
        !spam_dir.join("0.out.log.2").exists()
    });
    let len = std::fs::metadata(spam_dir.join("0.out.log.1"))
        .expect("rotated file")
        .len();
    assert!(len <= 1 << 20, "rotated file of {len} bytes");
}
