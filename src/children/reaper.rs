//! The reaper: collects the zombie children of the controller that no owner waits for (the
//! orphans of instances, re-parented to the controller), on SIGCHLD and at least every
//! [`PERIOD`] (signals coalesce), each pass a short task on the blocking pool.

use std::time::Duration;

use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use super::{forget_gone, is_owned, owners, GATE};

/// A pass runs at least this often, whether or not a SIGCHLD came.
pub const PERIOD: Duration = Duration::from_secs(1);

/// Passes are at least this far apart: a burst of exits is one pass, not one per signal.
const MIN_GAP: Duration = Duration::from_millis(50);

/// Reaps orphans until `stop` is cancelled, then once more.
pub async fn run(stop: CancellationToken) {
    let mut sigchld = match signal(SignalKind::child()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("cannot watch SIGCHLD ({e}); orphans are reaped every second");
            None
        }
    };
    let mut every = tokio::time::interval(PERIOD);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = every.tick() => {}
            Some(()) = async {
                match sigchld.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            } => {}
        }
        reap_on_pool().await;
        tokio::time::sleep(MIN_GAP).await;
    }
    reap_on_pool().await;
}

/// One pass on the blocking pool; returns the pids reaped.
pub async fn reap_on_pool() -> Vec<u32> {
    tokio::task::spawn_blocking(reap_orphans)
        .await
        .unwrap_or_default()
}

/// Reaps every zombie child that has no owner; returns their pids. Blocking (reads /proc).
pub fn reap_orphans() -> Vec<u32> {
    let children = children();
    let unowned: Vec<u32> = {
        let owners = owners();
        let live = owners.live.as_ref();
        children
            .iter()
            .copied()
            .filter(|pid| !live.is_some_and(|l| l.contains_key(pid)))
            .collect()
    };
    let stats: Vec<(u32, u64, bool)> = unowned
        .iter()
        .filter_map(|&pid| stat(pid).map(|(state, ticks)| (pid, ticks, state == 'Z')))
        .collect();
    {
        let mut owners = owners();
        if !owners.abandoned.is_empty() {
            let now: Vec<(u32, u64)> = stats.iter().map(|&(p, t, _)| (p, t)).collect();
            forget_gone(&mut owners, &now);
        }
    }
    let zombies: Vec<(u32, u64)> = stats
        .iter()
        .filter(|s| s.2)
        .map(|&(p, t, _)| (p, t))
        .collect();
    if zombies.is_empty() {
        return Vec::new();
    }
    // From here no child can be forked and not yet registered (spawns hold the read lock).
    let _gate = GATE
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut reaped = Vec::new();
    for (pid, ticks) in zombies {
        // Still the same zombie (a zombie stays until its parent reaps it), and still unowned.
        if stat(pid) != Some(('Z', ticks)) || is_owned(&owners(), pid, Some(ticks)) {
            continue;
        }
        let Ok(raw) = i32::try_from(pid) else {
            continue;
        };
        if waitpid(Pid::from_raw(raw), Some(WaitPidFlag::WNOHANG)).is_ok() {
            owners().helpers.retain(|p| *p != pid);
            reaped.push(pid);
        }
    }
    if !reaped.is_empty() {
        tracing::debug!(?reaped, "reaped orphans");
    }
    reaped
}

/// The controller's children, from `/proc/self/task/*/children` (each thread's own).
pub fn children() -> Vec<u32> {
    children_of("self")
}

/// The children of process `pid` (a pid or `self`), from `/proc/PID/task/*/children`.
pub fn children_of(pid: impl std::fmt::Display) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// The state letter and the start time (clock ticks since boot) of `pid`, from
/// `/proc/PID/stat`.
pub fn stat(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ticks = fields.nth(18)?.parse().ok()?;
    Some((state, ticks))
}
