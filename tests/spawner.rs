//! Instances start through the spawner, a small process of the controller's
//! (`src/children/spawner/`): each is the controller's own child, in its own process group,
//! with exactly fds 0, 1 and 2 however many fds the controller holds, and a spawner that dies
//! is replaced at the next start.

use crate::common;

use std::fs;

use common::{manifest, procs, Controller, SOON};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The controller's children whose name is `corral-spawner`.
fn spawners(ctl: &Controller) -> Vec<u32> {
    procs::children(ctl.pid())
        .into_iter()
        .filter(|pid| procs::alive(*pid))
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "corral-spawner")
        })
        .collect()
}

/// The open fd numbers of `pid`, and what each points at.
fn fds(pid: u32) -> Vec<(u32, String)> {
    let mut fds: Vec<(u32, String)> = fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fd folder")
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_str()?.parse().ok()?;
            let target = fs::read_link(e.path()).ok()?;
            Some((n, target.display().to_string()))
        })
        .collect();
    fds.sort();
    fds
}

#[test]
fn instances_are_the_controllers_children_with_only_their_own_fds() {
    let ctl = Controller::new();
    // A program of its own: a shell or an interpreter's shim would open fds of its own.
    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &["command: [sleep, \"100000\"]", "instances: 12"]),
    );
    ctl.start();
    let instances = ctl.wait_instances("web", 12);
    // Two log pipes and more per instance: far more fds than an instance may see.
    assert!(fds(ctl.pid()).len() > 30, "{:?}", fds(ctl.pid()));
    for pid in instances.values() {
        assert_eq!(
            procs::ppid(*pid),
            Some(ctl.pid()),
            "instance {pid}'s parent"
        );
        assert_eq!(
            procs::pgid(*pid),
            Some(*pid),
            "instance {pid} leads its group"
        );
        let open = fds(*pid);
        let numbers: Vec<u32> = open.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [0, 1, 2], "instance {pid}: {open:?}");
        assert_eq!(open[0].1, "/dev/null");
        assert!(
            open[1].1.starts_with("pipe:") && open[2].1.starts_with("pipe:"),
            "{open:?}"
        );
    }
    assert_eq!(spawners(&ctl).len(), 1, "one spawner");
}

#[test]
fn a_spawner_that_died_is_replaced_at_the_next_start() {
    let ctl = Controller::new();
    let cmd = ctl.sleeper();
    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {cmd}"), "instances: 1"]),
    );
    ctl.start();
    let first = ctl.wait_instances("web", 1);
    let [spawner] = spawners(&ctl)[..] else {
        panic!("one spawner: {:?}", spawners(&ctl));
    };
    kill(Pid::from_raw(spawner as i32), Signal::SIGKILL).expect("kill the spawner");
    ctl.wait_until(SOON, "the spawner gone", || {
        !spawners(&ctl).contains(&spawner)
    });
    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {cmd}"), "instances: 3"]),
    );
    let now = ctl.wait_instances("web", 3);
    assert_eq!(now[&0], first[&0], "the running instance is untouched");
    let replaced = spawners(&ctl);
    assert_eq!(replaced.len(), 1, "{replaced:?}");
    assert_ne!(replaced[0], spawner);
}
