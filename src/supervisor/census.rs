//! A census of the processes that may belong to instances: every process's parent and group
//! from `/proc/PID/stat`, and the instance marks in `/proc/PID/environ` of those that carry
//! this controller's marker. One census serves every caller that asked before it began, so a
//! thousand instances stopping at once read `/proc` a few times, not a thousand.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use super::orphans::{INSTANCE_MARK, MARKER};

/// A process seen by a census.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid.
    pub ppid: u32,
    /// Its process group.
    pub pgid: u32,
    /// Its start time (clock ticks since boot): with the pid, its identity.
    pub ticks: u64,
    /// Its instance mark (`CORRAL_INSTANCE_UID`), if it carries this controller's marker.
    pub mark: Option<Arc<str>>,
    /// Whether it carries this controller's marker at all.
    pub ours: bool,
}

/// The live processes at one moment (zombies and kernel threads left out).
#[derive(Debug, Default)]
pub struct Snapshot {
    /// When reading began: a process that existed then is in it (or had exited).
    pub taken: Option<Instant>,
    /// Every live process, by pid.
    pub procs: HashMap<u32, Seen>,
}

/// Takes censuses for many callers at once.
#[derive(Debug)]
pub struct Census {
    /// The value of [`MARKER`] that makes a process ours.
    owner: Arc<str>,
    /// The latest snapshot; callers queue here while one is taken.
    latest: tokio::sync::Mutex<Arc<Snapshot>>,
}

impl Census {
    /// A census of the processes marked with `owner`.
    pub fn new(owner: String) -> Self {
        Self {
            owner: owner.into(),
            latest: tokio::sync::Mutex::new(Arc::new(Snapshot::default())),
        }
    }

    /// A snapshot begun at or after `since` (taken on the blocking pool if none is).
    pub async fn since(&self, since: Instant) -> Arc<Snapshot> {
        let mut latest = self.latest.lock().await;
        if latest.taken.is_some_and(|t| t >= since) {
            return latest.clone();
        }
        *latest = Arc::new(take(self.owner.clone()).await);
        latest.clone()
    }
}

/// Processes read per task on the blocking pool: each task stays short on a busy host.
const CHUNK: usize = 128;

/// Reads `/proc` now, in short tasks on the blocking pool.
pub async fn take(owner: Arc<str>) -> Snapshot {
    let taken = Some(Instant::now());
    let pids = tokio::task::spawn_blocking(list).await.unwrap_or_default();
    let mut procs = HashMap::with_capacity(pids.len());
    for chunk in pids.chunks(CHUNK) {
        let chunk = chunk.to_vec();
        let seen = tokio::task::spawn_blocking(move || {
            chunk.into_iter().filter_map(stat).collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        procs.extend(seen.into_iter().map(|s| (s.pid, s)));
    }
    let ours = Arc::new(descendants(&procs, std::process::id()));
    let all: Vec<Seen> = procs.into_values().collect();
    let mut procs = HashMap::with_capacity(all.len());
    let mut all = all.into_iter().peekable();
    while all.peek().is_some() {
        let mut chunk: Vec<Seen> = all.by_ref().take(CHUNK).collect();
        let (owner, ours) = (owner.clone(), ours.clone());
        let marked = tokio::task::spawn_blocking(move || {
            for seen in &mut chunk {
                read_marks(seen, &owner, ours.contains(&seen.pid));
            }
            chunk
        })
        .await
        .unwrap_or_default();
        procs.extend(marked.into_iter().map(|s| (s.pid, s)));
    }
    Snapshot { taken, procs }
}

/// Every pid in `/proc` but the controller's own.
fn list() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .collect()
}

/// The pids under `root` in `procs`, by parentage.
fn descendants(procs: &HashMap<u32, Seen>, root: u32) -> HashSet<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in procs.values() {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut found = HashSet::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        for &child in children.get(&pid).into_iter().flatten() {
            if found.insert(child) {
                stack.push(child);
            }
        }
    }
    found
}

/// A kernel thread (`PF_KTHREAD` in the flags of `/proc/PID/stat`).
const PF_KTHREAD: u64 = 0x0020_0000;

/// `pid`'s parent, group and start, unless it is a zombie or a kernel thread.
pub(super) fn stat(pid: u32) -> Option<Seen> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // Fields from 3 (state) on: state ppid pgrp session tty tpgid flags … starttime (22).
    let field = |n: usize| fields.get(n - 3).copied();
    if matches!(field(3), Some("Z" | "X")) {
        return None;
    }
    let flags: u64 = field(9)?.parse().ok()?;
    if flags & PF_KTHREAD != 0 {
        return None;
    }
    Some(Seen {
        pid,
        ppid: field(4)?.parse().ok()?,
        pgid: field(5)?.parse().ok()?,
        ticks: field(22)?.parse().ok()?,
        mark: None,
        ours: false,
    })
}

/// How often, and how far apart, an empty `environ` of a descendant is read again.
const EXECVE_RETRIES: (u32, std::time::Duration) = (20, std::time::Duration::from_millis(1));

/// Fills in whether `seen` carries `owner`'s marker and its instance mark. `environ` reads
/// empty while a process is in the middle of `execve`: for a descendant of the controller
/// (where every orphan of an instance lands) it is read again for a few milliseconds then.
fn read_marks(seen: &mut Seen, owner: &str, descendant: bool) {
    let path = format!("/proc/{}/environ", seen.pid);
    let mut environ = Vec::new();
    let tries = if descendant { EXECVE_RETRIES.0 } else { 1 };
    for n in 0..tries {
        match std::fs::read(&path) {
            Ok(bytes) if bytes.is_empty() => {
                if n + 1 < tries {
                    std::thread::sleep(EXECVE_RETRIES.1);
                }
            }
            Ok(bytes) => {
                environ = bytes;
                break;
            }
            Err(_) => return,
        }
    }
    let (mut ours, mut mark) = (false, None);
    for kv in environ.split(|b| *b == 0) {
        let Some((k, v)) = std::str::from_utf8(kv).ok().and_then(|s| s.split_once('=')) else {
            continue;
        };
        if k == MARKER {
            ours = v == owner;
        } else if k == INSTANCE_MARK {
            mark = Some(v);
        }
    }
    seen.ours = ours;
    seen.mark = mark.filter(|_| ours).map(Arc::from);
}

impl Snapshot {
    /// Every live process of the instance whose main process is `main` (started at
    /// `main_ticks`) and whose mark is `mark`, other than `main`: its process group (a group id
    /// is not reused while the group has members), the processes that carry its mark (those
    /// that left the group: daemons), and the descendants of all of these and of `main` while
    /// it is that same process.
    pub fn tree_of(&self, (main, main_ticks): (u32, u64), mark: Option<&str>) -> Vec<&Seen> {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for p in self.procs.values() {
            children.entry(p.ppid).or_default().push(p.pid);
        }
        let mut found: HashSet<u32> = self
            .procs
            .values()
            .filter(|p| p.pgid == main || (mark.is_some() && p.mark.as_deref() == mark))
            .map(|p| p.pid)
            .collect();
        // Their descendants by parentage too (they may have cleared their environment).
        let main_alive = self.procs.get(&main).is_some_and(|p| p.ticks == main_ticks);
        let mut stack: Vec<u32> = found.iter().copied().collect();
        if main_alive {
            stack.push(main);
        }
        while let Some(pid) = stack.pop() {
            for &child in children.get(&pid).into_iter().flatten() {
                if found.insert(child) {
                    stack.push(child);
                }
            }
        }
        found.remove(&main);
        let mut tree: Vec<&Seen> = found.iter().filter_map(|p| self.procs.get(p)).collect();
        tree.sort_by_key(|p| p.pid);
        tree
    }

    /// Every live process carrying this controller's marker.
    pub fn ours(&self) -> impl Iterator<Item = &Seen> {
        self.procs.values().filter(|p| p.ours)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn finds_a_marked_process_outside_the_group_and_the_group_and_children() {
        let owner = format!("/test/owner/{}", std::process::id());
        let spawn = |mark: &str, group: bool| {
            let mut cmd = std::process::Command::new("sleep");
            cmd.arg("30").env(MARKER, &owner).env(INSTANCE_MARK, mark);
            if group {
                cmd.process_group(0);
            }
            cmd.spawn().expect("spawn sleep")
        };
        let mut main = spawn("a-1", true);
        let mut escaped = spawn("a-1", true);
        let mut other = spawn("b-2", true);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let snap = runtime.block_on(take(owner.as_str().into()));
        let main_ticks = snap.procs[&main.id()].ticks;
        let tree: Vec<u32> = snap
            .tree_of((main.id(), main_ticks), Some("a-1"))
            .iter()
            .map(|p| p.pid)
            .collect();
        let ours = snap.ours().count();
        for child in [&mut main, &mut escaped, &mut other] {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert_eq!(tree, vec![escaped.id()]);
        assert_eq!(ours, 3);
        let seen = &snap.procs[&other.id()];
        assert_eq!(seen.mark.as_deref(), Some("b-2"));
        assert_eq!(seen.pgid, other.id());
        assert_eq!(seen.ppid, std::process::id());
    }
}
