//! `strategy` mistakes through the real binary: `corral validate` and `corral apply` refuse them
//! with file:line:column and the fix, and a running controller reports them and keeps the last
//! good version running.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::common::{self, manifest, Controller, SOON};

/// A canary whose steps never reach a promotion (line 11 is the last step).
const NEVER_PROMOTED: &str = "apiVersion: corral/v1\nkind: App\nmetadata:\n  name: web\nspec:\n  command: [sleep, '60']\n  strategy:\n    type: Canary\n    steps:\n      - setWeight: 10\n      - setWeight: 50\n";

fn corral(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(args)
        .current_dir(dir)
        .env("CORRAL_HOME", dir.join("home"))
        .env_remove("CORRAL_MANIFESTS")
        .output()
        .expect("run corral")
}

#[test]
fn validate_and_apply_refuse_a_canary_that_is_never_promoted_and_say_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    std::fs::write(dir.path().join("web.yaml"), NEVER_PROMOTED).unwrap();
    let want = "web.yaml:11:7: spec.strategy.steps[1]: the steps end with setWeight: 50, so the \
                canary would never be promoted; add `- setWeight: 100` to promote by itself, or \
                `- pause: {}` to wait for `corral rollout promote`";
    let out = corral(dir.path(), &["validate", "web.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(want), "{stderr}");

    let out = corral(
        dir.path(),
        &["apply", "-f", "web.yaml", "--manifests", "manifests"],
    );
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(want), "{stderr}");
    assert_eq!(
        std::fs::read_dir(&manifests).unwrap().count(),
        0,
        "nothing written"
    );

    // Fixed the first way the message says, it passes both.
    let fixed = format!("{NEVER_PROMOTED}      - setWeight: 100\n");
    std::fs::write(dir.path().join("web.yaml"), fixed).unwrap();
    let out = corral(dir.path(), &["validate", "web.yaml"]);
    assert!(out.status.success(), "{out:?}");
    let out = corral(
        dir.path(),
        &["apply", "-f", "web.yaml", "--manifests", "manifests"],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(manifests.join("web.yaml").is_file());
}

#[test]
fn the_controller_reports_a_bad_strategy_where_it_is_and_keeps_the_app_running() {
    let ctl = Controller::new();
    let cmd = ctl.sleeper();
    ctl.write_manifest("web.yaml", &manifest("web", &[&format!("command: {cmd}")]));
    ctl.start();
    let pid = ctl.wait_instances("web", 1)[&0];
    ctl.wait_status("web", "Running");

    // Line 7 column 14: the `type` key, inside a flow mapping.
    let bad = manifest(
        "web",
        &[&format!("command: {cmd}"), "strategy: {type: BlueGreen}"],
    );
    ctl.write_manifest("web.yaml", &bad);
    let list = common::wait_for(SOON, "the error shows in get", || {
        Some(ctl.get()).filter(|l| !l.errors.is_empty())
    });
    let problem = &list.errors[0];
    assert_eq!((problem.line, problem.column), (7, 14), "{problem:?}");
    assert!(
        problem
            .message
            .contains("spec.strategy.type: a BlueGreen needs `previewPort: N`"),
        "{problem:?}"
    );
    ctl.assert_stays(
        Duration::from_millis(300),
        "the old process runs on",
        || ctl.instances("web").into_keys().collect::<Vec<_>>() == [pid],
    );
}
