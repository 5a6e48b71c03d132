//! `logs.dir` (relative to the manifest) and `logs.merge` (one file per stream for all
//! instances) with a real controller; `corral logs` finds them without being told.

use crate::common;

use common::{flow, manifest, Controller, SOON};

/// Prints `hello from INSTANCE` on stdout and `oops INSTANCE` on stderr, then sleeps.
const HELLO: &str =
    "echo hello from $CORRAL_INSTANCE; echo oops $CORRAL_INSTANCE >&2; exec sleep 100000";

#[test]
fn merged_logs_in_a_dir_next_to_the_manifest_are_read_by_corral_logs() {
    let ctl = Controller::new();
    let cmd = flow(&["sh", "-c", HELLO, &ctl.token]);
    ctl.write_manifest(
        "web.yaml",
        &manifest(
            "web",
            &[
                &format!("command: {cmd}"),
                "instances: 2",
                "logs: {dir: ./weblogs, merge: true, timestamps: false}",
            ],
        ),
    );
    ctl.start();
    let dir = ctl.manifests.join("weblogs");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    ctl.wait_until(SOON, "both instances wrote to the merged files", || {
        read("out.log").lines().count() == 2 && read("err.log").lines().count() == 2
    });
    let mut out: Vec<&str> = Vec::new();
    let text = read("out.log");
    out.extend(text.lines());
    out.sort_unstable();
    assert_eq!(
        out,
        ["hello from 0", "hello from 1"],
        "raw lines, no timestamps"
    );
    assert!(!dir.join("0.out.log").exists(), "no per-instance files");
    assert_eq!(
        std::fs::read_link(ctl.home.join("logs/web")).expect("a link in CORRAL_HOME"),
        dir
    );
    let run = ctl.corral(&["logs", "web", "--tail", "all", "--err"]);
    assert!(run.status.success(), "{run:?}");
    let mut shown: Vec<&str> = run.stdout.lines().collect();
    shown.sort_unstable();
    assert_eq!(shown, ["web ! oops 0", "web ! oops 1"]);

    // A second app pointed at the same folder is refused, and says why.
    let cmd = flow(&["sh", "-c", HELLO, &ctl.token]);
    ctl.write_manifest(
        "api.yaml",
        &manifest("api", &[&format!("command: {cmd}"), "logs: {dir: weblogs}"]),
    );
    common::wait_for(SOON, "api refused", || {
        let api = ctl.app("api")?;
        api.events
            .iter()
            .any(|e| e.message.contains("holds the logs of app \"web\""))
            .then_some(())
    });
    assert!(ctl.instances("api").is_empty());
    assert_eq!(read("out.log").lines().count(), 2, "web's files untouched");
    assert_eq!(ctl.wait_instances("web", 2).len(), 2);
}
