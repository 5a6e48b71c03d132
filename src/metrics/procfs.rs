//! One process's figures as Linux's /proc shows them: CPU ticks and RSS from
//! `/proc/PID/stat`, children from `/proc/PID/task/TID/children`.
//!
//! Reading only the processes of our own trees (instead of every process on the host) is what
//! keeps sampling cheap with a thousand instances. Buffers are the caller's, reused.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// What a sample needs of one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Parent pid.
    pub ppid: u32,
    /// CPU time in clock ticks: its own (user + system) and that of the children it reaped.
    pub cpu_ticks: u64,
    /// Resident pages.
    pub rss_pages: u64,
    /// Number of threads (each may have children of its own).
    pub threads: u32,
}

/// Reads the whole of `path` into `buf` (cleared first); false when it cannot be read.
fn read_into(path: &Path, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    match File::open(path) {
        Ok(mut f) => f.read_to_end(buf).is_ok(),
        Err(_) => false,
    }
}

/// `/proc/PID/stat` of `pid`, or None when it is gone (or a zombie without figures).
pub fn stat(pid: u32, path: &mut String, buf: &mut Vec<u8>) -> Option<Stat> {
    path.clear();
    use std::fmt::Write;
    let _ = write!(path, "/proc/{pid}/stat");
    if !read_into(Path::new(path), buf) {
        return None;
    }
    parse_stat(buf)
}

/// Parses the text of `/proc/PID/stat` (`pid (comm) state ppid …`; comm may hold spaces and
/// parentheses, so fields are counted from the last `)`).
pub fn parse_stat(text: &[u8]) -> Option<Stat> {
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    // Fields after comm, numbered as in proc(5) from 3 (state).
    let mut fields = rest.split_ascii_whitespace();
    let mut field = |n: usize| -> Option<u64> {
        // `nth` consumes: callers ask in increasing order, each n relative to the last.
        fields.nth(n)?.parse().ok()
    };
    let _state = field(0); // 3: a letter, not a number
    let ppid = field(0)?; // 4
    let utime = field(9)?; // 14
    let stime = field(0)?; // 15
    let cutime = field(0)?; // 16
    let cstime = field(0)?; // 17
    let threads = field(2)?; // 20
    let rss = field(3)?; // 24
    Some(Stat {
        ppid: u32::try_from(ppid).ok()?,
        cpu_ticks: utime + stime + cutime + cstime,
        rss_pages: rss,
        threads: u32::try_from(threads).unwrap_or(u32::MAX),
    })
}

/// Appends the children of `pid` to `out`: those of each of its `threads` threads (a child
/// belongs to the thread that forked it). Needs [`has_children_files`].
pub fn children(pid: u32, threads: u32, path: &mut String, buf: &mut Vec<u8>, out: &mut Vec<u32>) {
    use std::fmt::Write;
    if threads <= 1 {
        path.clear();
        let _ = write!(path, "/proc/{pid}/task/{pid}/children");
        read_children(path, buf, out);
        return;
    }
    path.clear();
    let _ = write!(path, "/proc/{pid}/task");
    let Ok(tasks) = std::fs::read_dir(&*path) else {
        return; // gone meanwhile
    };
    for tid in tasks.flatten() {
        let Some(tid) = tid.file_name().to_str().and_then(|t| t.parse::<u32>().ok()) else {
            continue;
        };
        path.clear();
        let _ = write!(path, "/proc/{pid}/task/{tid}/children");
        read_children(path, buf, out);
    }
}

/// Reads one `children` file into `out` (nothing when the thread is gone).
fn read_children(path: &str, buf: &mut Vec<u8>, out: &mut Vec<u32>) {
    if read_into(Path::new(path), buf) {
        let text = std::str::from_utf8(buf).unwrap_or("");
        out.extend(
            text.split_ascii_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
}

/// Whether the kernel has `children` files (CONFIG_PROC_CHILDREN, set by every common
/// distribution); without them children are found by scanning all of /proc.
pub fn has_children_files() -> bool {
    let me = std::process::id();
    Path::new(&format!("/proc/{me}/task/{me}/children")).exists()
}

/// Every process on the host with its parent, from a scan of /proc: the fallback when the
/// kernel has no `children` files.
pub fn all_parents(path: &mut String, buf: &mut Vec<u8>) -> Vec<(u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some(s) = stat(pid, path, buf) {
            out.push((pid, s.ppid));
        }
    }
    out
}

/// The kernel's clock ticks per second (`CLK_TCK`), what `/proc/PID/stat` counts CPU time in.
pub fn ticks_per_second() -> u64 {
    sysconf(libc::_SC_CLK_TCK, 100)
}

/// Bytes per memory page (what RSS is counted in).
pub fn page_size() -> u64 {
    sysconf(libc::_SC_PAGESIZE, 4096)
}

/// A positive `sysconf` value, else `default`.
fn sysconf(name: libc::c_int, default: u64) -> u64 {
    // SAFETY: sysconf only reads a configuration value; any name is valid input.
    let value = unsafe { libc::sysconf(name) };
    u64::try_from(value)
        .ok()
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_a_tricky_name() {
        let line = b"4242 (a) b (c) S 17 4242 4242 0 -1 4194560 100 0 0 0 \
                     250 30 7 3 20 0 3 0 123456 10485760 2048 18446744073709551615";
        let s = parse_stat(line).expect("parses");
        assert_eq!(
            s,
            Stat {
                ppid: 17,
                cpu_ticks: 250 + 30 + 7 + 3,
                rss_pages: 2048,
                threads: 3,
            }
        );
    }

    #[test]
    fn a_truncated_stat_line_is_none() {
        assert!(parse_stat(b"1 (init) S 0 1 1").is_none());
        assert!(parse_stat(b"garbage").is_none());
    }

    #[test]
    fn reads_our_own_stat_and_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("spawn");
        let (mut path, mut buf) = (String::new(), Vec::new());
        let me = std::process::id();
        let own = stat(me, &mut path, &mut buf).expect("our own stat");
        assert!(own.rss_pages > 0 && own.threads >= 1);
        let mut kids = Vec::new();
        children(me, own.threads, &mut path, &mut buf, &mut kids);
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            has_children_files(),
            "this kernel has no /proc/PID/task/TID/children"
        );
        assert!(kids.contains(&child.id()), "{kids:?} lacks {}", child.id());
    }
}
