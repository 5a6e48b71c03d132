//! An instance's whole process tree, so that nothing escapes a stop: its process group, its
//! descendants, the processes carrying its mark (daemons that left the group with `setsid`),
//! and its cgroup where it has one. A stop signals all of them; after the main process exits,
//! whatever it left is ended before its exit is reported, so a replacement never starts beside
//! a daemon still holding the port.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;
use tokio::sync::mpsc;

use super::census::{self, Census, Snapshot};
use super::process;
use super::reports::LeftBehind;
use super::shared::Shared;
use crate::reconcile::InstanceId;

/// How long processes killed with SIGKILL get to disappear before the tree is looked at again.
const KILL_WAIT: Duration = Duration::from_secs(2);
/// Rounds of SIGKILL (a process forking while it is killed) before giving up with a warning.
const KILL_ROUNDS: u32 = 5;
/// How often signalled processes are checked for being gone.
const POLL: Duration = Duration::from_millis(20);

/// A fresh instance mark (`CORRAL_INSTANCE_UID`) for instance `id`: unique across controllers
/// of the same home, since it carries this controller's start time.
pub fn new_mark(id: InstanceId) -> String {
    static START: OnceLock<u128> = OnceLock::new();
    let start = START.get_or_init(|| {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    });
    format!("{start:x}-{id}")
}

/// One instance's tree, shared by the instance (stops) and its wait task (the sweep).
#[derive(Debug)]
pub struct Tree {
    /// The main process (also the process group id) and its start time.
    main: (u32, u64),
    /// Its mark, if it was started with one (not by a controller older than marks).
    mark: Option<String>,
    /// Its cgroup, if it has one.
    cgroup: Option<PathBuf>,
    census: Arc<Census>,
    /// Whether a stop was sent (then leftovers get SIGKILL as soon as the main process exits).
    planned: AtomicBool,
    /// The instance (id, app, index), for its `ProcessesLeftBehind` report.
    who: (InstanceId, String, u32),
    /// Where that report goes.
    report: mpsc::Sender<LeftBehind>,
    /// What leftovers of an unplanned exit get first, and how long before SIGKILL.
    stop: (Signal, Duration),
    /// Whether it was started by this controller (a subreaper), so that every process of it
    /// is a descendant of the controller.
    local: bool,
}

/// What a [`Tree`] is made of besides its main process.
#[derive(Debug)]
pub struct Parts<'a> {
    /// The instance's mark, if it has one.
    pub mark: Option<String>,
    /// Its cgroup, if it has one.
    pub cgroup: Option<PathBuf>,
    /// Its id, app and index.
    pub who: (InstanceId, &'a str, u32),
    /// Its stop signal and timeout.
    pub stop: (Signal, Duration),
    /// Started by this controller (not adopted): its processes all descend from it.
    pub local: bool,
}

impl Tree {
    /// The tree of the instance whose main process is `main` (pid, start time).
    pub fn new(shared: &Shared, main: (u32, u64), parts: Parts) -> Arc<Self> {
        let (id, app, index) = parts.who;
        Arc::new(Self {
            main,
            mark: parts.mark,
            cgroup: parts.cgroup,
            census: shared.census.clone(),
            planned: AtomicBool::new(false),
            who: (id, app.to_owned(), index),
            report: shared.left_behind.clone(),
            stop: parts.stop,
            local: parts.local,
        })
    }

    /// Whether nothing of this tree can be outside its process group once its main process is
    /// gone: started by this controller (every process of it descends from the controller: a
    /// process whose parent dies is re-parented to the nearest subreaper above it) and the
    /// controller has no live child that nobody owns. A process of the tree
    /// outside the group has a chain of live ancestors up to one of the controller's children,
    /// which is not the (gone) main process, nor another instance's or a probe's: one nobody
    /// owns. Blocking (reads /proc).
    fn nothing_escaped(&self) -> bool {
        if !self.local {
            return false;
        }
        let before = crate::children::unowned_live_children();
        if !before.is_empty() {
            return false;
        }
        // A child that died between the list and its check had its own children re-parented
        // to the controller before it became a zombie: they show in a second list.
        crate::children::unowned_live_children().is_empty()
    }

    /// Whether the main process's group and its cgroup have no member left.
    fn group_empty(&self) -> bool {
        let Ok(pgid) = i32::try_from(self.main.0) else {
            return true;
        };
        let cgroup_empty = self.cgroup.as_ref().is_none_or(|cgroup| {
            std::fs::read_to_string(cgroup.join("cgroup.procs"))
                .is_ok_and(|procs| procs.lines().all(|l| l.trim().parse() == Ok(self.main.0)))
        });
        cgroup_empty
            && nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), None)
                == Err(nix::errno::Errno::ESRCH)
    }

    /// The instance's mark.
    pub fn mark(&self) -> Option<&str> {
        self.mark.as_deref()
    }

    /// Its processes other than the main one, as `(pid, start)`, in `snap` and its cgroup.
    fn leftovers(&self, snap: &Snapshot) -> Vec<(u32, u64)> {
        let mut left: Vec<(u32, u64)> = snap
            .tree_of(self.main, self.mark.as_deref())
            .iter()
            .map(|p| (p.pid, p.ticks))
            .collect();
        if let Some(cgroup) = &self.cgroup {
            let procs = std::fs::read_to_string(cgroup.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
                if pid != self.main.0 && !left.iter().any(|(p, _)| *p == pid) {
                    if let Some(ticks) = process::start_ticks(pid) {
                        left.push((pid, ticks));
                    }
                }
            }
        }
        left
    }

    /// The processes outside the main process's group, found without a census while every
    /// process of the tree is below the live main process (see [`Self::nothing_escaped`]):
    /// `None` when a census is needed. Blocking (reads the main process's subtree in /proc).
    fn escaped_below_main(&self) -> Option<Vec<(u32, u64)>> {
        if !self.nothing_escaped() {
            return None;
        }
        let (main, ticks) = self.main;
        if census::stat(main).is_none_or(|m| m.ticks != ticks) {
            return Some(Vec::new()); // gone meanwhile: nothing escaped (checked above)
        }
        let (mut found, mut stack) = (Vec::new(), vec![main]);
        while let Some(pid) = stack.pop() {
            for child in crate::children::reaper::children_of(pid) {
                if let Some(seen) = census::stat(child) {
                    if seen.pgid != main {
                        found.push((seen.pid, seen.ticks));
                    }
                    stack.push(child);
                }
            }
        }
        // One that left the subtree while it was read (its parent died) is the controller's now.
        crate::children::unowned_live_children()
            .is_empty()
            .then_some(found)
    }

    /// The processes outside the main process's group, which a group signal misses.
    async fn escaped(self: &Arc<Self>) -> Vec<(u32, u64)> {
        let tree = self.clone();
        if let Ok(Some(found)) =
            tokio::task::spawn_blocking(move || tree.escaped_below_main()).await
        {
            return found;
        }
        let snap = self.census.since(Instant::now()).await;
        let main = self.main.0;
        let in_group = |pid: u32| snap.procs.get(&pid).is_some_and(|p| p.pgid == main);
        self.leftovers(&snap)
            .into_iter()
            .filter(|(pid, _)| !in_group(*pid))
            .collect()
    }

    /// Marks the stop as planned and sends `signal` to what left the group (the caller
    /// signals the group itself).
    pub async fn stop_escaped(self: Arc<Self>, signal: Signal) {
        self.planned.store(true, Ordering::SeqCst);
        let escaped = self.escaped().await;
        send(escaped, signal).await;
    }

    /// Marks the stop as planned (an instance adopted while stopping).
    pub fn set_planned(&self) {
        self.planned.store(true, Ordering::SeqCst);
    }

    /// SIGKILL to the whole tree: its cgroup (`cgroup.kill`), its group, every process of it.
    pub async fn kill(self: Arc<Self>) {
        let _ = process::signal_group(self.main.0, Signal::SIGKILL);
        if let Some(cgroup) = self.cgroup.clone() {
            let _ = tokio::task::spawn_blocking(move || crate::cgroup::kill_all(&cgroup)).await;
        }
        let escaped = self.escaped().await;
        send(escaped, Signal::SIGKILL).await;
    }

    /// Ends what the main process left behind once it has exited: after a planned stop with
    /// SIGKILL; after an unplanned exit reported (`ProcessesLeftBehind`) first, then the stop
    /// signal, and SIGKILL after the stop timeout. Returns once none is left (or after
    /// [`KILL_ROUNDS`] rounds of SIGKILL). Call before reporting the exit: the replacement
    /// starts after that.
    pub async fn sweep(self: &Arc<Self>) {
        let stop = self.stop;
        let tree = self.clone();
        if tokio::task::spawn_blocking(move || tree.group_empty() && tree.nothing_escaped())
            .await
            .unwrap_or(false)
        {
            return;
        }
        let mut rounds = 0;
        let mut first = true;
        loop {
            let snap = self.census.since(Instant::now()).await;
            let left = self.leftovers(&snap);
            drop(snap);
            if left.is_empty() {
                return;
            }
            let planned = self.planned.load(Ordering::SeqCst);
            if std::mem::take(&mut first) && !planned {
                let (id, app, index) = self.who.clone();
                let report = LeftBehind {
                    id,
                    app,
                    index,
                    main: self.main.0,
                    pids: left.iter().map(|(p, _)| *p).collect(),
                    signal: stop.0,
                    timeout: stop.1,
                };
                let _ = self.report.send(report).await;
                send(left.clone(), stop.0).await;
                gone(left, Instant::now() + stop.1).await;
                continue;
            }
            if rounds == KILL_ROUNDS {
                let pids: Vec<u32> = left.iter().map(|(p, _)| *p).collect();
                tracing::warn!(
                    main = self.main.0,
                    ?pids,
                    "processes left by an instance survive SIGKILL; giving up on them"
                );
                return;
            }
            rounds += 1;
            if let Some(cgroup) = self.cgroup.clone() {
                let _ = tokio::task::spawn_blocking(move || crate::cgroup::kill_all(&cgroup)).await;
            }
            send(left.clone(), Signal::SIGKILL).await;
            gone(left, Instant::now() + KILL_WAIT).await;
        }
    }
}

/// Sends `signal` to each `(pid, start)` still the same process (checked through a pidfd, so
/// a reused pid is never signalled). On the blocking pool.
async fn send(procs: Vec<(u32, u64)>, signal: Signal) {
    if procs.is_empty() {
        return;
    }
    let _ = tokio::task::spawn_blocking(move || {
        for (pid, ticks) in procs {
            if let Err(e) = signal_same(pid, ticks, signal) {
                tracing::debug!(pid, "cannot signal a process of an instance: {e}");
            }
        }
    })
    .await;
}

/// Sends `signal` to `pid` if it is still the process that started at `ticks`.
fn signal_same(pid: u32, ticks: u64, signal: Signal) -> std::io::Result<()> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let raw = i32::try_from(pid).map_err(std::io::Error::other)?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, raw, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // With the pidfd held the pid names this process or a zombie of it, never another one.
    if !process::is_same_process(pid, ticks) {
        return Ok(());
    }
    let sig = signal as i32;
    // SAFETY: pidfd_send_signal with a valid pidfd, a signal number, no siginfo, no flags.
    let sent = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if sent < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Waits until none of `procs` is alive (exited or a zombie), or `until`.
async fn gone(procs: Vec<(u32, u64)>, until: Instant) {
    let mut left = procs;
    while !left.is_empty() && Instant::now() < until {
        tokio::time::sleep(POLL).await;
        left = tokio::task::spawn_blocking(move || {
            left.retain(|(pid, ticks)| process::is_same_process(*pid, *ticks));
            left
        })
        .await
        .unwrap_or_default();
    }
}

/// SIGKILL to every live process carrying this controller's marker, waiting (bounded) until
/// they are gone; returns how many there were. For the controller's last moments.
pub async fn end_strays(census: &Census) -> usize {
    let mut total = 0;
    for _ in 0..KILL_ROUNDS {
        let snap = census.since(Instant::now()).await;
        let strays: Vec<(u32, u64)> = snap.ours().map(|p| (p.pid, p.ticks)).collect();
        drop(snap);
        if strays.is_empty() {
            break;
        }
        let pids: Vec<u32> = strays.iter().map(|(p, _)| *p).collect();
        tracing::warn!(?pids, "ending processes of instances that outlived them");
        total += strays.len();
        send(strays.clone(), Signal::SIGKILL).await;
        gone(strays, Instant::now() + KILL_WAIT).await;
    }
    total
}
