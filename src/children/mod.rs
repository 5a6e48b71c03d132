//! The controller's own children: it is a child subreaper, so every process its instances
//! leave behind (a daemon's double fork) is re-parented to it; every spawn goes through one
//! gate, and [`reaper`] reaps the zombies that no owner waits for.
//!
//! Why the reaper never steals an exit status: a child whose status someone waits for (an
//! instance's wait task, an exec probe) is registered as *owned* by [`spawn`] while it holds
//! the gate's read lock, from before the fork until the pid is in the registry. The reaper
//! holds the write lock while it decides and reaps, so it never sees a child between its fork
//! and its registration; it reaps only a zombie child that is not owned, with
//! `waitpid(pid, WNOHANG)` for that pid alone (never `waitpid(-1)`). An owner releases its pid
//! only after its own wait returned (the pid is then no longer our child, so a reaper that
//! finds that pid again finds another process). An owner that gives up before its wait (a
//! dropped future) leaves the pid owned until the process, identified by its start time, is no
//! longer our child (tokio's orphan queue reaps it). The rule that makes this hold: nothing in
//! the controller forks except through [`spawn`].

pub mod reaper;
pub mod spawner;

use std::collections::HashMap;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

/// Held for reading from before a fork until its child is registered; the reaper holds it for
/// writing while it reaps.
static GATE: RwLock<()> = RwLock::new(());

/// The children someone waits for: pid → how many owners (a pid reused while its previous
/// owner has not released it yet counts twice).
static OWNED: Mutex<Owners> = Mutex::new(Owners {
    live: None,
    abandoned: Vec::new(),
    helpers: Vec::new(),
});

/// The registry behind [`OWNED`].
#[derive(Debug)]
struct Owners {
    /// Owned pids and their owner counts (a `HashMap` is not const-constructible).
    live: Option<HashMap<u32, u32>>,
    /// Pids whose owner went away before its wait, with their start time: owned until that
    /// process is no longer our child.
    abandoned: Vec<(u32, u64)>,
    /// The controller's own helper processes (the spawner): nobody waits for them, the reaper
    /// reaps them when they die, and they are never taken for something an instance left.
    helpers: Vec<u32>,
}

fn owners() -> MutexGuard<'static, Owners> {
    OWNED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes the controller a child subreaper (`PR_SET_CHILD_SUBREAPER`): orphans of its
/// descendants become its children instead of init's. Call once at controller start.
pub fn become_subreaper() -> io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)
}

/// A registered child: the reaper leaves it to its owner. Keep it until the child was waited
/// for, then drop it (or drop it early: see the module comment).
#[derive(Debug)]
#[must_use = "dropping it releases the child to the reaper"]
pub struct Owned {
    pid: u32,
    /// Set once the owner's wait returned: dropping releases the pid at once.
    reaped: bool,
}

impl Owned {
    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Marks the child as waited for (its status collected): dropping then releases the pid.
    pub fn reaped(mut self) {
        self.reaped = true;
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        let mut owners = owners();
        let live = owners.live.get_or_insert_with(HashMap::new);
        if let Some(count) = live.get_mut(&self.pid) {
            *count -= 1;
            if *count == 0 {
                live.remove(&self.pid);
            }
        }
        if !self.reaped {
            // Not waited for: whoever holds the child now (tokio's orphan queue) reaps it.
            if let Some((_, ticks)) = reaper::stat(self.pid) {
                owners.abandoned.push((self.pid, ticks));
            }
        }
    }
}

/// Spawns `cmd` through the gate: the child is registered as owned before the reaper can look.
pub fn spawn(cmd: &mut tokio::process::Command) -> io::Result<(tokio::process::Child, Owned)> {
    let (owned, child) = register(|| {
        let child = cmd.spawn()?;
        Ok((child.id().unwrap_or(0), child))
    })?;
    Ok((child, owned))
}

/// Registers the child that `start` creates (its pid, and whatever else it returns) as owned,
/// with the gate held from before `start` runs: the reaper cannot see it unowned.
pub fn register<T>(start: impl FnOnce() -> io::Result<(u32, T)>) -> io::Result<(Owned, T)> {
    let _gate = GATE.read().unwrap_or_else(PoisonError::into_inner);
    let (pid, extra) = start()?;
    Ok((own(pid), extra))
}

/// Notes a helper process of the controller's (see [`Owners::helpers`]).
fn helper(pid: u32) {
    owners().helpers.push(pid);
}

/// Registers `pid` as owned (the caller holds the gate, or the child cannot exit unseen).
fn own(pid: u32) -> Owned {
    *owners()
        .live
        .get_or_insert_with(HashMap::new)
        .entry(pid)
        .or_default() += 1;
    Owned { pid, reaped: false }
}

/// Whether a child `(pid, start_ticks)` has an owner. Call with the gate held for writing.
fn is_owned(owners: &Owners, pid: u32, ticks: Option<u64>) -> bool {
    let live = owners.live.as_ref().is_some_and(|l| l.contains_key(&pid));
    live || owners
        .abandoned
        .iter()
        .any(|&(p, t)| p == pid && ticks.is_none_or(|ticks| ticks == t))
}

/// Forgets abandoned children that are no longer ours (`children`: pid and start time of
/// every child now).
fn forget_gone(owners: &mut Owners, children: &[(u32, u64)]) {
    owners
        .abandoned
        .retain(|entry| children.iter().any(|child| child == entry));
}

/// The controller's children that nobody owns and that are alive (orphans re-parented to it,
/// not zombies). Blocking (reads /proc).
pub fn unowned_live_children() -> Vec<u32> {
    let children = reaper::children();
    let owners = owners();
    let owned = |pid: &u32| {
        owners.live.as_ref().is_some_and(|l| l.contains_key(pid))
            || owners.abandoned.iter().any(|(p, _)| p == pid)
            || owners.helpers.contains(pid)
    };
    let unowned: Vec<u32> = children.into_iter().filter(|p| !owned(p)).collect();
    drop(owners);
    unowned
        .into_iter()
        .filter(|pid| reaper::stat(*pid).is_some_and(|(state, _)| !matches!(state, 'Z' | 'X')))
        .collect()
}

/// How many children are owned now (for tests and metrics).
pub fn owned_count() -> usize {
    let owners = owners();
    owners.live.as_ref().map_or(0, HashMap::len) + owners.abandoned.len()
}

#[cfg(test)]
mod tests;
