//! Facts about live processes from `/proc`: liveness, process group, environment, and the
//! processes a test marked with its token.

use std::collections::BTreeMap;
use std::fs;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Live processes whose environment holds `CORRAL_TEST_TOKEN=token` or whose argv holds
/// `token`, except `exclude`; sorted.
pub fn marked(token: &str, exclude: &[u32]) -> Vec<u32> {
    let marker = format!("CORRAL_TEST_TOKEN={token}");
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if exclude.contains(&pid) || !alive(pid) {
            continue;
        }
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        // A child of ours or of a controller may be mid-exec: read its environment with care.
        let ours = ppid(pid).is_some_and(|p| p == std::process::id() || exclude.contains(&p));
        let env = if ours {
            environ(pid)
        } else {
            environ_once(pid)
        };
        if env.contains(&marker) || cmdline.split(|b| *b == 0).any(|a| a == token.as_bytes()) {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    pids
}

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace()
                .next()
                .map(|st| st != "Z" && st != "X")
        })
        .unwrap_or(false)
}

/// Process group of `pid`.
pub fn pgid(pid: u32) -> Option<u32> {
    stat_number(pid, 2)
}

/// Field `n` counting the state as 0 (1: ppid, 2: pgrp…) of `/proc/PID/stat`, as a number.
fn stat_number(pid: u32, n: usize) -> Option<u32> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 1..]
        .split_whitespace()
        .nth(n)?
        .parse()
        .ok()
}

/// The raw `KEY=VALUE` entries of a process's initial environment.
///
/// A process in the middle of `execve` (python3 here is a pyenv shim that execs the interpreter)
/// briefly shows an empty environment; that is read again rather than taken as "no variables".
fn environ(pid: u32) -> Vec<String> {
    let mut entries = environ_once(pid);
    for _ in 0..50 {
        if !entries.is_empty() || !alive(pid) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        entries = environ_once(pid);
    }
    entries
}

/// `environ` read once: for scanning every process of the host, kernel threads included (their
/// environment is always empty).
fn environ_once(pid: u32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect()
}

/// Parent of `pid`.
pub fn ppid(pid: u32) -> Option<u32> {
    stat_number(pid, 1)
}

/// The state letter of `pid` (`S`, `R`, `Z` …) from `/proc/PID/stat`.
pub fn state(pid: u32) -> Option<char> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// The children of `pid` (of each of its threads), zombies included.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out: Vec<u32> = tasks
        .flatten()
        .filter_map(|t| fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|l| {
            l.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    out.sort_unstable();
    out
}

/// A process's initial environment as a map.
pub fn env_map(pid: u32) -> BTreeMap<String, String> {
    environ(pid)
        .into_iter()
        .filter_map(|e| e.split_once('=').map(|(k, v)| (k.into(), v.into())))
        .collect()
}

/// The lines a child writes to `stdout`, on a channel fed by a thread (for commands that follow,
/// like `logs -f` and `events -w`); the channel closes when the child's stdout does.
pub fn stdout_lines(stdout: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// Sends SIGKILL to one process.
pub fn kill_pid(pid: u32) {
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("kill");
}

/// A process's argv, space-separated (empty once it is gone).
pub fn cmdline(pid: u32) -> String {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw)
        .replace('\0', " ")
        .trim_end()
        .to_owned()
}
