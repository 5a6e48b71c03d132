//! What goes into an instance's cgroup files: the limits (`memory.max`, `cpu.max`, `pids.max`),
//! the controllers each needs, and the exact text each file gets.

use std::io;
use std::path::Path;

use super::{write, write_optional};
use crate::manifest::AppSpec;

/// `cpu.max`'s period: 100 ms, the kernel's default and Kubernetes'.
pub const CPU_PERIOD_US: u64 = 100_000;
/// The smallest quota `cpu.max` takes (the kernel refuses less than 1 ms).
pub const CPU_MIN_QUOTA_US: u64 = 1_000;

/// The limits of one instance's cgroup (None: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// `memory.max` in bytes.
    pub memory_max: Option<u64>,
    /// `cpu.max` in millicores.
    pub cpu_max: Option<u32>,
    /// `pids.max`.
    pub pids_max: Option<u32>,
}

/// A manifest field that needs a cgroup controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// `spec.memory.max`.
    MemoryMax,
    /// `spec.cpu.max`.
    CpuMax,
    /// `spec.pids.max`.
    PidsMax,
}

impl Field {
    /// Every field, in manifest order.
    pub const ALL: [Field; 3] = [Field::MemoryMax, Field::CpuMax, Field::PidsMax];

    /// The controller the field needs.
    pub fn controller(self) -> Controller {
        match self {
            Field::MemoryMax => Controller::Memory,
            Field::CpuMax => Controller::Cpu,
            Field::PidsMax => Controller::Pids,
        }
    }

    /// Its path under `spec` (also the name of the cgroup file it becomes): `memory.max`.
    pub fn key(self) -> &'static str {
        match self {
            Field::MemoryMax => "memory.max",
            Field::CpuMax => "cpu.max",
            Field::PidsMax => "pids.max",
        }
    }

    /// What it is, for people: `hard memory ceiling (memory.max)`.
    pub fn what(self) -> &'static str {
        match self {
            Field::MemoryMax => "hard memory ceiling (memory.max)",
            Field::CpuMax => "CPU limit (cpu.max)",
            Field::PidsMax => "process limit (pids.max)",
        }
    }

    /// What happens instead where it cannot apply.
    pub fn fallback(self) -> &'static str {
        match self {
            Field::MemoryMax => "memory.limit still applies",
            Field::CpuMax => "the app runs without a CPU limit",
            Field::PidsMax => "the app runs without a process limit",
        }
    }
}

/// A cgroup v2 controller corral uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Controller {
    /// `memory`: `memory.max`, `memory.oom.group`, `memory.current`.
    Memory,
    /// `pids`: `pids.max`.
    Pids,
    /// `cpu`: `cpu.max`.
    Cpu,
}

impl Controller {
    /// Every controller corral enables for its instances, in the order they are enabled.
    pub const ALL: [Controller; 3] = [Controller::Memory, Controller::Pids, Controller::Cpu];

    /// Its name in `cgroup.controllers`.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
        }
    }
}

impl Limits {
    /// The limits an app's spec sets.
    pub fn of(spec: &AppSpec) -> Limits {
        Limits {
            memory_max: spec.memory.as_ref().and_then(|m| m.max).map(|m| m.0),
            cpu_max: spec.cpu.map(|c| c.max.0),
            pids_max: spec.pids.map(|p| p.max),
        }
    }

    /// The fields set.
    pub fn fields(&self) -> Vec<Field> {
        let set = [
            self.memory_max.is_some(),
            self.cpu_max.is_some(),
            self.pids_max.is_some(),
        ];
        Field::ALL
            .into_iter()
            .zip(set)
            .filter_map(|(f, on)| on.then_some(f))
            .collect()
    }
}

/// `cpu.max`'s text for `millicores`: `QUOTA PERIOD` in µs (quota = cores × period, at least
/// 1 ms), or `max PERIOD` for no limit.
pub fn cpu_max_line(millicores: Option<u32>) -> String {
    match millicores {
        Some(m) => {
            let quota = (u64::from(m) * CPU_PERIOD_US / 1000).max(CPU_MIN_QUOTA_US);
            format!("{quota} {CPU_PERIOD_US}")
        }
        None => format!("max {CPU_PERIOD_US}"),
    }
}

/// A number, or `max` for no limit (`memory.max`, `pids.max`).
fn number_or_max(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "max".to_owned(), |v| v.to_string())
}

/// Writes `want` into the cgroup at `path`: the fields that differ from `had` (None: unknown,
/// so every field), skipping those whose controller `enabled` says is off. A changed
/// `memory.max` also sets `memory.swap.max` (0 under a ceiling; where the kernel has it).
pub fn write_limits(
    path: &Path,
    want: &Limits,
    had: Option<&Limits>,
    enabled: impl Fn(Controller) -> bool,
) -> io::Result<()> {
    let changed = |field: Field| {
        enabled(field.controller())
            && had.is_none_or(|had| match field {
                Field::MemoryMax => had.memory_max != want.memory_max,
                Field::CpuMax => had.cpu_max != want.cpu_max,
                Field::PidsMax => had.pids_max != want.pids_max,
            })
    };
    if changed(Field::MemoryMax) {
        write(&path.join("memory.max"), &number_or_max(want.memory_max))?;
        let swap = if want.memory_max.is_some() {
            "0"
        } else {
            "max"
        };
        write_optional(&path.join("memory.swap.max"), swap)?;
    }
    if changed(Field::CpuMax) {
        write(&path.join("cpu.max"), &cpu_max_line(want.cpu_max))?;
    }
    if changed(Field::PidsMax) {
        write(&path.join("pids.max"), &number_or_max(want.pids_max))?;
    }
    Ok(())
}

/// Sets `memory.oom.group` to 1: an OOM kill takes every process of the instance, not one
/// (kernels before 4.19 lack the file: skipped).
pub fn oom_group(path: &Path) -> io::Result<()> {
    write_optional(&path.join("memory.oom.group"), "1")
}
