//! The sampler against real processes.

use std::fs;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::*;

/// A child leading its own process group, the group killed and the child reaped when the test
/// ends, pass or fail (its own children too: none is left holding the test's output).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(-(self.0.id() as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

fn spawn(program: &str, args: &[&str]) -> Reaped {
    use std::os::unix::process::CommandExt;
    let child = Command::new(program)
        .args(args)
        .process_group(0)
        .spawn()
        .expect("spawn");
    Reaped(child)
}

/// The process's own RSS, from /proc.
fn own_rss(pid: u32) -> u64 {
    let (mut path, mut buf) = (String::new(), Vec::new());
    procfs::stat(pid, &mut path, &mut buf).map_or(0, |s| s.rss_pages * procfs::page_size())
}

/// Polls `sampler` until the tree of `root` holds more than its root; (tree, root) RSS.
fn tree_and_root(sampler: &mut Sampler, root: u32) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let tree = sampler
            .sample(&[root])
            .get(&root)
            .map_or(0, |u| u.rss_bytes);
        let alone = own_rss(root);
        if (tree > alone && alone > 0) || Instant::now() > deadline {
            return (tree, alone);
        }
        std::thread::yield_now();
    }
}

#[test]
fn measures_a_tree_including_children() {
    let child = spawn("sh", &["-c", "sleep 5 & sleep 5; wait"]);
    let (tree, alone) = tree_and_root(&mut Sampler::default(), child.0.id());
    assert!(tree > alone && alone > 0, "tree {tree} vs root {alone}");
}

#[test]
fn finds_children_by_scanning_proc_without_children_files() {
    let child = spawn("sh", &["-c", "sleep 5 & sleep 5; wait"]);
    let mut sampler = Sampler {
        children_files: false,
        ..Sampler::default()
    };
    let (tree, alone) = tree_and_root(&mut sampler, child.0.id());
    assert!(tree > alone && alone > 0, "tree {tree} vs root {alone}");
}

#[test]
fn threads_are_not_counted_as_processes() {
    let child = spawn(
        "python3",
        &["-c", "import threading,time\n[threading.Thread(target=time.sleep,args=(5,)).start() for _ in range(8)]\ntime.sleep(5)"],
    );
    let root = child.0.id();
    let deadline = Instant::now() + Duration::from_secs(5);
    let threads = || std::fs::read_dir(format!("/proc/{root}/task")).map_or(0, |d| d.count());
    while threads() < 9 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    let tree = Sampler::default()
        .sample(&[root])
        .get(&root)
        .map_or(0, |u| u.rss_bytes);
    let own = own_rss(root);
    assert!(
        own > 0 && tree < 2 * own,
        "tree {tree} vs own {own}: threads were summed"
    );
}

#[test]
fn a_missing_pid_has_no_sample() {
    let mut sampler = Sampler::default();
    assert!(sampler.sample(&[u32::MAX - 1]).is_empty());
}

#[test]
fn a_busy_tree_shows_cpu_and_a_growing_counter() {
    let child = spawn("sh", &["-c", "while :; do :; done"]);
    let root = child.0.id();
    let mut sampler = Sampler::default();
    let first = sampler.sample(&[root])[&root];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = first;
    while Instant::now() < deadline
        && (last.cpu_percent <= 0.0 || last.cpu_seconds <= first.cpu_seconds)
    {
        std::thread::sleep(Duration::from_millis(50)); // CPU time needs wall time to pass
        last = sampler.sample(&[root])[&root];
    }
    assert!(last.cpu_percent > 0.0, "{last:?}");
    assert!(
        last.cpu_seconds > first.cpu_seconds,
        "{first:?} then {last:?}"
    );
}

#[test]
fn unlimited_trees_are_read_every_few_intervals_limited_ones_always() {
    let busy = spawn("sh", &["-c", "while :; do :; done"]);
    let idle = spawn("sleep", &["30"]);
    let unlimited = Root {
        pid: busy.0.id(),
        limited: false,
        cgroup: None,
    };
    let limited = Root {
        pid: idle.0.id(),
        limited: true,
        cgroup: None,
    };
    let mut sampler = Sampler::default();
    // Only an unlimited tree: read on the first call, then not until UNLIMITED_EVERY calls on.
    assert!(sampler
        .sample_due(std::slice::from_ref(&unlimited))
        .is_some());
    for _ in 1..UNLIMITED_EVERY {
        assert_eq!(sampler.sample_due(std::slice::from_ref(&unlimited)), None);
    }
    assert!(sampler
        .sample_due(std::slice::from_ref(&unlimited))
        .is_some());
    // With a limited tree beside it: a sample on every call; the unlimited tree keeps its last
    // figures in between (the very same, though it is busy), the limited one is read anew.
    let mut before = sampler
        .sample_due(&[unlimited.clone(), limited.clone()])
        .expect("limited is due");
    for _ in 2..UNLIMITED_EVERY {
        std::thread::sleep(Duration::from_millis(20)); // let the busy tree's CPU time move
        let now = sampler
            .sample_due(&[unlimited.clone(), limited.clone()])
            .expect("limited is due");
        assert_eq!(
            now[&unlimited.pid], before[&unlimited.pid],
            "read too early"
        );
        assert!(now.contains_key(&limited.pid));
        before = now;
    }
}

#[test]
fn a_new_tree_is_read_at_once_and_a_forgotten_one_dropped() {
    let a = spawn("sleep", &["30"]);
    let b = spawn("sleep", &["30"]);
    let ra = Root {
        pid: a.0.id(),
        limited: false,
        cgroup: None,
    };
    let rb = Root {
        pid: b.0.id(),
        limited: false,
        cgroup: None,
    };
    let mut sampler = Sampler::default();
    assert!(sampler.sample_due(std::slice::from_ref(&ra)).is_some());
    let both = sampler
        .sample_due(&[ra.clone(), rb.clone()])
        .expect("the new tree is due");
    assert!(both.contains_key(&ra.pid) && both.contains_key(&rb.pid));
    assert_eq!(sampler.sample_due(std::slice::from_ref(&rb)), None);
    assert!(
        !sampler.seen.contains_key(&ra.pid),
        "a root no longer asked for is forgotten"
    );
}

#[test]
fn an_instance_with_a_cgroup_is_read_from_it_not_from_its_tree() {
    let busy = spawn("sleep", &["30"]);
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("memory.current"), "104857600\n").unwrap();
    fs::write(
        dir.path().join("cpu.stat"),
        "usage_usec 1000000\nuser_usec 1\n",
    )
    .unwrap();
    let root = Root {
        pid: busy.0.id(),
        limited: true,
        cgroup: Some(dir.path().into()),
    };
    let mut sampler = Sampler::default();
    let first = sampler.sample_due(std::slice::from_ref(&root)).unwrap()[&root.pid];
    assert_eq!(first.rss_bytes, 100 << 20);
    assert_eq!(first.cpu_seconds, 1.0);
    std::thread::sleep(Duration::from_millis(100));
    fs::write(dir.path().join("cpu.stat"), "usage_usec 1050000\n").unwrap();
    let next = sampler.sample_due(std::slice::from_ref(&root)).unwrap()[&root.pid];
    assert_eq!(next.cpu_seconds, 1.05);
    assert!(
        next.cpu_percent > 5.0 && next.cpu_percent <= 50.0,
        "50ms over ≥100ms: {}",
        next.cpu_percent
    );
    // Its files gone (the memory controller not enabled): its tree is read instead.
    fs::remove_file(dir.path().join("memory.current")).unwrap();
    let tree = sampler.sample_due(std::slice::from_ref(&root)).unwrap()[&root.pid];
    assert!(tree.rss_bytes > 0 && tree.rss_bytes < 100 << 20, "{tree:?}");
}
