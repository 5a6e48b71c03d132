use std::time::{Duration, Instant};

use super::reaper::{reap_orphans, stat};
use super::*;

/// Set in the environment of the test binary re-run for one test alone.
const ALONE: &str = "CORRAL_REAPER_TEST_ALONE";

/// Runs `test` in a fresh copy of this test binary where it is the only test: reaping every
/// unowned zombie would take the statuses of other tests' children in this process.
fn alone(test: &str) {
    if std::env::var_os(ALONE).is_some() {
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ALONE, "1")
        .output()
        .expect("run the test alone");
    assert!(
        out.status.success(),
        "{test} alone: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until `pid` is a zombie.
fn until_zombie(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while stat(pid).map(|s| s.0) != Some('Z') {
        assert!(Instant::now() < deadline, "{pid} never exited");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_reaper_takes_an_unowned_zombie_and_leaves_an_owned_one_to_its_owner() {
    alone(
        "children::tests::the_reaper_takes_an_unowned_zombie_and_leaves_an_owned_one_to_its_owner",
    );
    if std::env::var_os(ALONE).is_none() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", "exit 7"]);
        let (mut owned_child, owned) = spawn(&mut cmd).expect("spawn through the gate");
        // Reaped by `reap_orphans` below, which the test checks.
        #[allow(clippy::zombie_processes)]
        let unowned = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        until_zombie(owned.pid());
        until_zombie(unowned.id());
        assert_eq!(owned_count(), 1);
        let reaped = reap_orphans();
        assert_eq!(reaped, vec![unowned.id()], "only the unowned zombie");
        let status = owned_child
            .wait()
            .await
            .expect("the owner still has its status");
        owned.reaped();
        assert_eq!(status.code(), Some(7));
        assert_eq!(owned_count(), 0);
        assert!(reap_orphans().is_empty());
    });
}

#[test]
fn a_child_dropped_before_its_wait_stays_owned_until_it_is_no_longer_ours() {
    alone(
        "children::tests::a_child_dropped_before_its_wait_stays_owned_until_it_is_no_longer_ours",
    );
    if std::env::var_os(ALONE).is_none() {
        return;
    }
    let mut cmd = std::process::Command::new("true");
    let child = {
        let _gate = GATE.read().unwrap_or_else(PoisonError::into_inner);
        let child = cmd.spawn().expect("spawn true");
        *owners()
            .live
            .get_or_insert_with(HashMap::new)
            .entry(child.id())
            .or_default() += 1;
        child
    };
    let owned = Owned {
        pid: child.id(),
        reaped: false,
    };
    until_zombie(child.id());
    drop(owned); // its owner gave up without waiting: the child is abandoned, not unowned
    assert_eq!(owned_count(), 1);
    assert!(
        reap_orphans().is_empty(),
        "an abandoned child is not reaped"
    );
    let mut child = child;
    assert!(child.wait().expect("still ours to wait").success());
    assert!(reap_orphans().is_empty());
    assert_eq!(owned_count(), 0, "forgotten once it is no longer our child");
}
