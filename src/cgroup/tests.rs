//! Cgroup detection and the files written, on a temp directory standing in for the controller's
//! cgroup (the kernel's cgroupfs is not available to every test machine), and the "not
//! available" path for real on this host.

use super::detect::{cgroup2_mount, delegated_root, under, v1_controllers};
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

#[test]
fn finds_the_controllers_a_hybrid_host_binds_to_cgroup_v1() {
    let v1 = v1_controllers(MOUNTINFO);
    assert!(v1.contains(&"memory".to_owned()), "{v1:?}");
    assert!(!v1.contains(&"cgroup2".to_owned()) && !v1.contains(&"proc".to_owned()));
    assert!(v1_controllers("30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n").is_empty());
}

#[test]
fn a_controller_started_in_the_leaf_manages_the_delegated_cgroup_above_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let service = tmp.path().join("corral.service");
    std::fs::create_dir_all(service.join("controller")).expect("mkdir");
    assert_eq!(delegated_root(service.join("controller")), service);
    // Any other cgroup is its own.
    std::fs::create_dir_all(service.join("other")).expect("mkdir");
    assert_eq!(delegated_root(service.join("other")), service.join("other"));
}

#[test]
fn a_proc_cgroup_text_names_a_directory_under_the_mount() {
    let mount = Path::new("/sys/fs/cgroup");
    let hybrid = "12:pids:/x\n1:name=systemd:/y\n0::/system.slice/corral.service/corral/web-0-7\n";
    assert_eq!(
        under(mount, hybrid),
        Some(mount.join("system.slice/corral.service/corral/web-0-7"))
    );
    assert_eq!(under(mount, "0::/\n"), Some(mount.to_path_buf()));
    assert_eq!(under(mount, "12:pids:/x\n"), None);
}

/// A directory laid out like a cgroup offering `controllers`.
fn fake_cgroup(controllers: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("cgroup.controllers"), controllers).expect("write");
    fs::write(dir.path().join("cgroup.subtree_control"), "").expect("write");
    dir
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_delegated_cgroup_is_found_with_the_controllers_it_offers() {
    let own = fake_cgroup("cpuset cpu io memory\n");
    let found = detect_in(Some(own.path().into())).expect("found");
    assert_eq!(found.own, own.path());
    assert_eq!(
        found.support.enabled,
        vec![Controller::Memory, Controller::Cpu]
    );
    assert_eq!(found.support.why_not(Field::CpuMax), None);
    assert_eq!(found.support.why_not(Field::MemoryMax), None);
    let why = found.support.why_not(Field::PidsMax).expect("no pids");
    assert!(
        why.contains("the pids controller is not delegated") && why.contains("Delegate=yes"),
        "{why}"
    );
}

#[test]
fn prepares_the_instances_cgroup_with_every_offered_controller() {
    let own = fake_cgroup("cpu io memory pids\n");
    let cgroups = prepare(&detect_in(Some(own.path().into())).unwrap(), "h").expect("prepared");
    assert_eq!(cgroups.dir, own.path().join("corral/h"));
    let enabled = |dir: &Path| read(&dir.join("cgroup.subtree_control"));
    assert_eq!(enabled(own.path()), "+memory +pids +cpu");
    assert_eq!(enabled(&own.path().join("corral")), "+memory +pids +cpu");
    assert_eq!(enabled(&cgroups.dir), "+memory +pids +cpu");
}

#[test]
fn without_controllers_instances_still_get_groups_and_nothing_is_enabled() {
    let own = fake_cgroup("\n");
    let cgroups = prepare(&detect_in(Some(own.path().into())).unwrap(), "h").expect("prepared");
    assert_eq!(read(&own.path().join("cgroup.subtree_control")), "");
    let inst = cgroups
        .create("web", 0, 1, &Limits::default())
        .expect("created");
    assert!(inst.path.is_dir());
    assert!(!inst.path.join("memory.oom.group").exists());
}

#[test]
fn an_instance_group_gets_its_limits_and_oom_group_and_the_child_enters_it() {
    let own = fake_cgroup("cpu io memory pids\n");
    let cgroups = prepare(&detect_in(Some(own.path().into())).unwrap(), "h").unwrap();
    let limits = Limits {
        memory_max: Some(64 << 20),
        cpu_max: Some(500),
        pids_max: Some(100),
    };
    let inst = cgroups.create("web", 0, 7, &limits).expect("created");
    assert_eq!(inst.path, own.path().join("corral/h/web-0-7"));
    assert_eq!(
        read(&inst.path.join("memory.max")),
        (64u64 << 20).to_string()
    );
    assert_eq!(read(&inst.path.join("memory.swap.max")), "0");
    assert_eq!(read(&inst.path.join("cpu.max")), "50000 100000");
    assert_eq!(read(&inst.path.join("pids.max")), "100");
    assert_eq!(read(&inst.path.join("memory.oom.group")), "1");
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
    assert_eq!(read(&inst.path.join("cgroup.procs")), "0\n");
    let path = inst.path.clone();
    remove(&path);
    assert!(!path.exists(), "removed after exit");
}

#[test]
fn unset_limits_are_not_written_and_missing_controllers_are_skipped() {
    let own = fake_cgroup("memory\n");
    let cgroups = prepare(&detect_in(Some(own.path().into())).unwrap(), "h").unwrap();
    let limits = Limits {
        memory_max: None,
        cpu_max: Some(1500),
        pids_max: Some(10),
    };
    let inst = cgroups.create("web", 1, 2, &limits).expect("created");
    for absent in ["memory.max", "cpu.max", "pids.max"] {
        assert!(!inst.path.join(absent).exists(), "{absent} written");
    }
    assert_eq!(read(&inst.path.join("memory.oom.group")), "1");
}

#[test]
fn an_update_writes_what_changed_and_lifts_what_was_removed() {
    let own = fake_cgroup("cpu memory pids\n");
    let cgroups = prepare(&detect_in(Some(own.path().into())).unwrap(), "h").unwrap();
    let first = Limits {
        memory_max: Some(100 << 20),
        cpu_max: Some(250),
        pids_max: None,
    };
    let mut group = cgroups.create("web", 0, 3, &first).unwrap().into_group();
    fs::write(group.path.join("memory.max"), "sentinel").unwrap();
    let second = Limits {
        memory_max: Some(100 << 20),
        cpu_max: None,
        pids_max: Some(64),
    };
    cgroups.update(&mut group, &second).expect("updated");
    assert_eq!(
        read(&group.path.join("memory.max")),
        "sentinel",
        "unchanged"
    );
    assert_eq!(read(&group.path.join("cpu.max")), "max 100000");
    assert_eq!(read(&group.path.join("pids.max")), "64");
    assert_eq!(group.written, Some(second));
    // An adopted group (limits unknown) gets every file written.
    group.written = None;
    cgroups.update(&mut group, &second).expect("updated");
    assert_eq!(
        read(&group.path.join("memory.max")),
        (100u64 << 20).to_string()
    );
}

#[test]
fn empty_groups_left_by_a_previous_controller_of_the_home_are_removed() {
    let own = fake_cgroup("memory\n");
    let found = detect_in(Some(own.path().into())).unwrap();
    let first = prepare(&found, "h").unwrap();
    let busy = first.create("web", 0, 1, &Limits::default()).unwrap();
    let empty = first.dir.join("web-1-2");
    fs::create_dir(&empty).unwrap();
    let other_home = prepare(&found, "other").unwrap().dir.join("web-1-2");
    fs::create_dir(&other_home).unwrap();
    prepare(&found, "h").unwrap();
    assert!(!empty.exists(), "an empty group is swept");
    assert!(
        busy.path.is_dir(),
        "a group with files (processes, here) stays"
    );
    assert!(other_home.is_dir(), "another home's groups are left alone");
    assert_ne!(home_key("/root/.corral"), home_key("/tmp/x/home"));
    assert_eq!(home_key("/root/.corral").len(), 12);
}

#[test]
fn cpu_max_is_cores_times_the_period_and_at_least_a_millisecond() {
    assert_eq!(cpu_max_line(Some(500)), "50000 100000");
    assert_eq!(cpu_max_line(Some(1500)), "150000 100000");
    assert_eq!(cpu_max_line(Some(2000)), "200000 100000");
    assert_eq!(cpu_max_line(Some(10)), "1000 100000");
    assert_eq!(cpu_max_line(Some(1)), "1000 100000", "the kernel's minimum");
    assert_eq!(cpu_max_line(None), "max 100000");
}

#[test]
fn figures_come_from_memory_current_and_cpu_stat() {
    let dir = tempfile::tempdir().unwrap();
    let mut buf = Vec::new();
    assert_eq!(usage(dir.path(), &mut buf), None, "no files: no figures");
    fs::write(dir.path().join("memory.current"), "123456789\n").unwrap();
    fs::write(
        dir.path().join("cpu.stat"),
        "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
    )
    .unwrap();
    assert_eq!(
        usage(dir.path(), &mut buf),
        Some(Usage {
            memory_bytes: 123_456_789,
            cpu_usec: 2_500_000
        })
    );
}

#[test]
fn an_adopted_instance_finds_its_group_by_name_without_a_mount() {
    let own = fake_cgroup("memory\n");
    let cgroups = prepare(&detect_in(Some(own.path().into())).unwrap(), "h").unwrap();
    assert_eq!(cgroups.adopted(std::process::id(), "web", 0, 9), None);
    let made = cgroups.create("web", 0, 9, &Limits::default()).unwrap();
    assert_eq!(
        cgroups.adopted(std::process::id(), "web", 0, 9),
        Some(made.path)
    );
}

#[test]
fn a_field_that_cannot_apply_says_which_why_and_what_happens_instead() {
    let own = fake_cgroup("cpu pids\n");
    let found = detect_in(Some(own.path().to_path_buf())).expect("found");
    let memory = field_unavailable(Ok(&found.support), Field::MemoryMax).expect("no memory");
    assert!(
        memory.starts_with("hard memory ceiling (memory.max) not available here: ")
            && memory.contains("memory controller is not delegated")
            && memory.ends_with("; memory.limit still applies"),
        "{memory}"
    );
    assert_eq!(field_unavailable(Ok(&found.support), Field::CpuMax), None);
    let none = Unavailable("no cgroup v2 file system is mounted (a cgroup v1 host)".into());
    let pids = field_unavailable(Err(&none), Field::PidsMax).expect("no cgroups");
    assert_eq!(
        pids,
        "process limit (pids.max) not available here: no cgroup v2 file system is mounted \
         (a cgroup v1 host); the app runs without a process limit"
    );
}

#[test]
fn an_unreadable_cgroup_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let err = detect_in(Some(dir.path().into())).expect_err("no cgroup.controllers");
    assert!(err.to_string().contains("cannot read"), "{err}");
}
