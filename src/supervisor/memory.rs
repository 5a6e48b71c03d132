//! Memory limits, the supervisor's part: flag an instance a sample found over its limit (the
//! planner decides what to do), record the failure, and say so in events and exits.

use std::time::{Duration, Instant};

use super::{Instance, Supervisor};
use crate::cgroup;
use crate::reconcile::{BackoffPolicy, InstanceId, MemoryState, SlotHistory, StopReason};

impl Supervisor {
    /// Flags instance `id` over its memory limit (`rss` > `limit`, bytes): counts a failed run at
    /// its index and emits `MemoryLimitExceeded`. Once flagged it stays so until it is gone.
    pub fn exceed_memory(
        &mut self,
        id: InstanceId,
        rss: u64,
        limit: u64,
        backoff: &BackoffPolicy,
        max_surge: u32,
        now: Instant,
    ) {
        let Some(inst) = self.instances.get_mut(&id) else {
            return;
        };
        if inst.memory != MemoryState::Within || inst.stop_reason.is_some() {
            return;
        }
        let ran_for = now.saturating_duration_since(inst.started);
        let slot = self
            .slots
            .entry(inst.app.clone())
            .or_default()
            .entry(inst.index)
            .or_default();
        let again = slot.record_memory_exceeded(backoff, ran_for);
        inst.memory = if again {
            MemoryState::ExceededAgain
        } else {
            MemoryState::Exceeded
        };
        inst.memory_exceeded = Some((rss, limit));
        let then = if again {
            format!(
                "over it again {} after starting: it is stopped and restarts after back-off \
                 (CrashLoopBackOff)",
                humantime::format_duration(Duration::from_millis(ran_for.as_millis() as u64))
            )
        } else if max_surge == 0 {
            "replacing it: strategy.maxSurge is 0, so it is stopped before its replacement starts"
                .to_string()
        } else {
            "replacing it without downtime: a new instance starts first".to_string()
        };
        let msg = format!(
            "instance {} (pid {}) uses {} of memory, over its limit of {}; {then}",
            inst.index,
            inst.pid,
            mebibytes(rss),
            mebibytes(limit),
        );
        let about = super::About::Instance(&inst.app, inst.index);
        self.events.warning_about(about, "MemoryLimitExceeded", msg);
    }
}

/// `OOMKilled (memory.max …)` when the kernel OOM-killed `inst`'s cgroup (`oom_kill` in
/// `memory.events`; with `memory.oom.group` every process of it), Kubernetes' word for it.
pub(super) fn oom_killed(inst: &Instance) -> Option<String> {
    let group = inst.cgroup.as_ref()?;
    let kills = cgroup::oom_kills(&group.path)?;
    let max = group.written.and_then(|l| l.memory_max);
    (kills > 0).then(|| match max {
        Some(max) => format!("OOMKilled (memory.max {})", mebibytes(max)),
        None => "OOMKilled".to_owned(),
    })
}

/// Records the planned exit of a process stopped over its memory limit; returns how it ended,
/// for people (`MemoryLimitExceeded`, Kubernetes' `OOMKilled` analogue).
pub(super) fn memory_exit(
    slot: &mut SlotHistory,
    reason: StopReason,
    exceeded: Option<(u64, u64)>,
    at: Instant,
    exit: &str,
) -> Option<String> {
    let backing_off = match reason {
        StopReason::MemoryLimit => false,
        StopReason::MemoryLimitBackOff => true,
        _ => return None,
    };
    slot.record_memory_exit(at, backing_off);
    let figures = exceeded.map_or_else(String::new, |(rss, limit)| {
        format!(" (RSS {} over limit {})", mebibytes(rss), mebibytes(limit))
    });
    Some(format!("MemoryLimitExceeded{figures}, then {exit}"))
}

/// `bytes` in MiB with one decimal, the unit `memory.limit` is usually written in.
fn mebibytes(bytes: u64) -> String {
    format!("{:.1}Mi", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_in_mebibytes() {
        assert_eq!(mebibytes(100 << 20), "100.0Mi");
        assert_eq!(mebibytes(3 << 19), "1.5Mi");
    }

    #[test]
    fn a_memory_exit_says_why_and_counts() {
        let mut slot = SlotHistory::default();
        let t = Instant::now();
        let note = memory_exit(
            &mut slot,
            StopReason::MemoryLimit,
            Some((120 << 20, 100 << 20)),
            t,
            "signal SIGTERM",
        );
        assert_eq!(
            note.as_deref(),
            Some("MemoryLimitExceeded (RSS 120.0Mi over limit 100.0Mi), then signal SIGTERM")
        );
        assert_eq!(slot.restarts, 1);
        assert!(memory_exit(&mut slot, StopReason::Replaced, None, t, "x").is_none());
    }
}
