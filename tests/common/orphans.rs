//! Orphans on purpose: a crash loop whose every run leaves a daemonized grandchild, and the
//! zombies among the controller's children.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{manifest, procs, wait_for, Controller, SOON};

/// Instances of the crash loop.
const LOOPING: u32 = 4;

/// The controller's children that are zombies.
pub fn zombie_children(controller: u32) -> Vec<u32> {
    procs::children(controller)
        .into_iter()
        .filter(|pid| procs::state(*pid) == Some('Z'))
        .collect()
}

/// A crash-looping app at `LOOPING` instances whose every run counts itself in `starts` and
/// leaves a daemonized grandchild (`setsid`, its parent gone) that exits by itself soon.
pub fn daemonizing_crash_loop(ctl: &Controller, starts: &Path) -> String {
    let script = format!(
        "echo >> {}; (setsid sleep 0.02 &); exit 1",
        starts.display()
    );
    manifest(
        "loop",
        &[
            &format!("command: {}", ctl.sh(&script)),
            &format!("instances: {LOOPING}"),
            "backoff: {initial: 1ms, max: 1ms}",
            "stop: {timeout: 1s}",
        ],
    )
}

/// Lines in `path` (starts so far).
pub fn count(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

/// Runs the crash loop until `starts` runs, sampling the controller's zombies meanwhile;
/// returns the most seen at once and how long it took.
pub fn run_crash_loop(ctl: &Controller, starts: usize, within: Duration) -> (usize, Duration) {
    let file = ctl.scratch().join("starts");
    let began = Instant::now();
    ctl.write_manifest("loop.yaml", &daemonizing_crash_loop(ctl, &file));
    let mut most = 0;
    wait_for(within, &format!("{starts} daemonizing starts"), || {
        most = most.max(zombie_children(ctl.pid()).len());
        (count(&file) >= starts).then_some(())
    });
    let took = began.elapsed();
    ctl.remove_manifest("loop.yaml");
    ctl.wait_until(SOON, "the crash loop is gone", || ctl.app("loop").is_none());
    ctl.wait_until(SOON, "no zombie among the controller's children", || {
        zombie_children(ctl.pid()).is_empty()
    });
    ctl.wait_until(SOON, "no process of the crash loop is left", || {
        ctl.processes().is_empty()
    });
    (most, took)
}
