//! The host's figures and the controller's own (CPU, memory, load with `sysinfo`; the disk of
//! `$CORRAL_HOME` with statvfs), read when an overview is built, so only while somebody
//! looks. Blocking (it reads /proc): called on the blocking pool.

use std::path::Path;

use serde::Serialize;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// What the overview shows of the host.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostFigures {
    /// All CPUs, since the previous reading, 0–100.
    pub cpu_percent: f32,
    /// Memory in use (total less available).
    pub memory_used_bytes: u64,
    /// All memory.
    pub memory_total_bytes: u64,
    /// Load averages over 1, 5 and 15 minutes.
    pub load: [f64; 3],
    /// Used space on the file system of `$CORRAL_HOME`.
    pub disk_used_bytes: u64,
    /// Its size.
    pub disk_total_bytes: u64,
}

/// The controller process's own CPU (percent of one core) and resident memory.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OwnFigures {
    /// CPU since the previous reading, percent of one core.
    pub cpu_percent: f32,
    /// Resident memory.
    pub memory_bytes: u64,
}

/// sysinfo's state between two readings (CPU figures are differences).
pub struct HostSampler {
    system: System,
    pid: Pid,
}

impl Default for HostSampler {
    fn default() -> Self {
        Self {
            system: System::new(),
            pid: Pid::from_u32(std::process::id()),
        }
    }
}

impl HostSampler {
    /// Reads everything now; `home` picks the disk.
    pub fn sample(&mut self, home: &Path) -> (HostFigures, OwnFigures) {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            true,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
        let load = System::load_average();
        // The file system of the home: statvfs says exactly (sysinfo's disk list leaves out
        // overlay and tmpfs mounts).
        let (disk_total, disk_free) = nix::sys::statvfs::statvfs(home).map_or((0, 0), |v| {
            let unit = v.fragment_size();
            (v.blocks() * unit, v.blocks_available() * unit)
        });
        let own = self
            .system
            .process(self.pid)
            .map_or(OwnFigures::default(), |p| OwnFigures {
                cpu_percent: p.cpu_usage(),
                memory_bytes: p.memory(),
            });
        let host = HostFigures {
            cpu_percent: self.system.global_cpu_usage(),
            memory_used_bytes: self.system.used_memory(),
            memory_total_bytes: self.system.total_memory(),
            load: [load.one, load.five, load.fifteen],
            disk_used_bytes: disk_total.saturating_sub(disk_free),
            disk_total_bytes: disk_total,
        };
        (host, own)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_host() {
        let mut sampler = HostSampler::default();
        let (host, own) = sampler.sample(Path::new("/"));
        assert!(host.memory_total_bytes > 0);
        assert!(host.memory_used_bytes <= host.memory_total_bytes);
        assert!(host.disk_total_bytes > 0, "the root file system has a size");
        assert!(
            own.memory_bytes > 0,
            "this test process has resident memory"
        );
    }
}
