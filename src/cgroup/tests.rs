//! Cgroup detection and the files written, on a temp directory standing in for the controller's
//! cgroup (the kernel's cgroupfs is not available to every test machine), and the "not
//! available" path for real on this host.

use super::detect::cgroup2_mount;
use super::*;

const MOUNTINFO: &str = "\
22 1 0:21 / /proc rw,nosuid - proc proc rw
30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
";

#[test]
fn finds_the_cgroup2_mount() {
    assert_eq!(
        cgroup2_mount(MOUNTINFO),
        Some(PathBuf::from("/sys/fs/cgroup/unified"))
    );
    let escaped = "30 25 0:26 / /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw\n";
    assert_eq!(
        cgroup2_mount(escaped),
        Some(PathBuf::from("/mnt/my cgroups"))
    );
    assert_eq!(cgroup2_mount("22 1 0:21 / /proc rw - proc proc rw\n"), None);
}

/// A directory laid out like a cgroup offering `controllers`.
fn fake_cgroup(controllers: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("cgroup.controllers"), controllers).expect("write");
    fs::write(dir.path().join("cgroup.subtree_control"), "").expect("write");
    dir
}

#[test]
fn a_cgroup_with_the_memory_controller_is_found() {
    let own = fake_cgroup("cpu memory\n");
    assert_eq!(detect_in(Some(own.path().into())), Ok(own.path().into()));
}

#[test]
fn prepares_the_instances_cgroup_and_writes_memory_max() {
    let own = fake_cgroup("cpu io memory pids\n");
    let cgroups = prepare(own.path()).expect("prepared");
    assert_eq!(cgroups.dir, own.path().join("corral"));
    let enabled = |dir: &Path| fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap();
    assert_eq!(enabled(own.path()), "+memory");
    assert_eq!(enabled(&cgroups.dir), "+memory");
    let inst = cgroups.create("web", 0, 7, 64 << 20).expect("created");
    assert_eq!(inst.path, own.path().join("corral/web-0-7"));
    let max = fs::read_to_string(inst.path.join("memory.max")).unwrap();
    assert_eq!(max, (64u64 << 20).to_string());
    // The child moves itself in between fork and exec.
    let mut child = std::process::Command::new("true");
    let procs = inst.procs.clone();
    // SAFETY: the closure only calls the async-signal-safe `enter_from_child`.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut child, move || {
            InstanceCgroup::enter_from_child(&procs)
        });
    }
    assert!(child.status().expect("spawn").success());
    assert_eq!(
        fs::read_to_string(inst.path.join("cgroup.procs")).unwrap(),
        "0\n"
    );
    remove(&inst.path);
    assert!(!inst.path.exists(), "removed after exit");
}

#[test]
fn a_cgroup_without_the_memory_controller_says_so() {
    let own = fake_cgroup("cpu pids\n");
    let err = detect_in(Some(own.path().to_path_buf())).expect_err("no memory controller");
    assert!(
        err.to_string()
            .contains("memory controller is not delegated"),
        "{err}"
    );
}
