//! An instance's figures as its cgroup counts them: memory in use (`memory.current`) and CPU
//! time used (`usage_usec` in `cpu.stat`). Two small reads, whatever the number of processes.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// What a cgroup has used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of memory charged to it now (`memory.current`: anonymous memory, page cache and
    /// kernel memory of all its processes, each page once).
    pub memory_bytes: u64,
    /// CPU time its processes have used, live or gone, in µs (`cpu.stat` `usage_usec`).
    pub cpu_usec: u64,
}

/// The usage of the cgroup at `dir`, or None when its files cannot be read (gone, or the
/// memory controller is not enabled for it); `buf` is the caller's, reused.
pub fn usage(dir: &Path, buf: &mut Vec<u8>) -> Option<Usage> {
    let memory_bytes = read(&dir.join("memory.current"), buf)?
        .trim()
        .parse()
        .ok()?;
    let stat = read(&dir.join("cpu.stat"), buf)?;
    let cpu_usec = stat
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))?
        .trim()
        .parse()
        .ok()?;
    Some(Usage {
        memory_bytes,
        cpu_usec,
    })
}

/// The text of `path`, read into `buf`.
fn read<'a>(path: &Path, buf: &'a mut Vec<u8>) -> Option<&'a str> {
    buf.clear();
    File::open(path).ok()?.read_to_end(buf).ok()?;
    std::str::from_utf8(buf).ok()
}
