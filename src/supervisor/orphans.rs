//! Instances no record names (the controller was killed between starting them and writing
//! `instances.json`, or the record is corrupt): found in `/proc` by the marker each carries.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::events::unix_ms;
use super::process;
use super::record::RecordEntry;
use crate::home::Home;
use crate::manifest::{Listen, ListenMode};

/// The environment variable marking an instance with the home of the controller that started
/// it; never passed on from the controller's own environment.
pub const MARKER: &str = "CORRAL_OWNER";

/// The environment variable marking every process of one instance with that instance's own
/// mark ([`super::tree::new_mark`]): two instances at one index (a surge, a reload) differ by
/// it. Instances started by a controller older than it have none.
pub const INSTANCE_MARK: &str = "CORRAL_INSTANCE_UID";

/// Clock ticks per second in `/proc/PID/stat` (`USER_HZ`, fixed at 100 in the Linux ABI).
const TICKS_PER_SECOND: u64 = 100;

/// The marker's value for `home`: its canonical path.
pub fn owner(home: &Home) -> String {
    std::fs::canonicalize(home.root())
        .or_else(|_| std::path::absolute(home.root()))
        .unwrap_or_else(|_| home.root().to_owned())
        .display()
        .to_string()
}

/// Live process-group leaders marked with `owner`, except `known` pids, as record entries
/// (id 0 unless their log FIFO names one; not ready; ports named by variable until
/// [`name_ports`]). Of the leaders that carry one instance mark only the oldest is that
/// instance (the others are daemons of it that called `setsid`), and none if a `known`
/// instance has that mark. Reads `/proc`: blocking.
pub fn scan(
    owner: &str,
    run_dir: &Path,
    (known, known_marks): (&BTreeSet<u32>, &BTreeSet<String>),
) -> Vec<RecordEntry> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<RecordEntry> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| !known.contains(pid))
        .filter_map(|pid| orphan(pid, owner, run_dir))
        .collect();
    found.sort_by_key(|e| e.start_ticks);
    let mut marks = known_marks.clone();
    found.retain(|e| e.mark.as_ref().is_none_or(|m| marks.insert(m.clone())));
    found.sort_by_key(|e| e.pid);
    found
}

/// The entry of `pid` if it is a live instance marked with `owner`.
fn orphan(pid: u32, owner: &str, run_dir: &Path) -> Option<RecordEntry> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let env: Vec<(&str, &str)> = environ
        .split(|b| *b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok()?.split_once('='))
        .collect();
    let var = |key: &str| env.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    if var(MARKER) != Some(owner) || !leads_its_group(pid) {
        return None;
    }
    let start_ticks = process::start_ticks(pid)?;
    if !process::is_same_process(pid, start_ticks) {
        return None; // a zombie
    }
    let (pipes, inodes): (Vec<PathBuf>, Vec<Option<u64>>) = [1, 2]
        .iter()
        .filter_map(|fd| log_pipe(pid, *fd, run_dir))
        .unzip();
    let id = pipes.first().and_then(|p| fifo_id(p)).unwrap_or(0);
    let pipe_inodes: Vec<u64> = inodes.iter().flatten().copied().collect();
    let (pipes, pipe_inodes) = match (pipes.len(), pipe_inodes.len()) {
        (2, 0 | 2) => (pipes, pipe_inodes),
        _ => (Vec::new(), Vec::new()),
    };
    let first = var("PORT");
    let mut ports: Vec<(String, u16)> = env
        .iter()
        .filter(|(k, _)| k.starts_with("PORT_"))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect();
    // `PORT` is the first listen entry's: keep it first (the default probe port).
    ports.sort_by_key(|(_, p)| Some(p.to_string().as_str()) != first);
    Some(RecordEntry {
        id,
        app: var("CORRAL_APP")?.to_owned(),
        index: var("CORRAL_INSTANCE")?.parse().ok()?,
        revision: var("CORRAL_REVISION")?.to_owned(),
        pid,
        start_ticks,
        started_ms: started_ms(start_ticks).unwrap_or_else(|| unix_ms(SystemTime::now())),
        ready: false,
        stopping: false,
        pipes,
        pipe_inodes,
        timestamps: true,
        // Unknown without the record: the default layout and rotation (an older record's).
        rotation: Default::default(),
        log_files: Vec::new(),
        ports,
        mark: var(INSTANCE_MARK).map(str::to_owned),
    })
}

/// Whether `pid` leads its process group (an instance; its children do not).
fn leads_its_group(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let pgid = stat
        .rfind(')')
        .and_then(|close| stat[close + 1..].split_whitespace().nth(2))
        .and_then(|f| f.parse::<u32>().ok());
    pgid == Some(pid)
}

/// Where to re-open what `pid`'s `fd` writes to, if it is a log pipe: an anonymous pipe
/// (`/proc/PID/fd/FD` and its inode), or a log FIFO under `run_dir` (older controllers').
fn log_pipe(pid: u32, fd: u32, run_dir: &Path) -> Option<(PathBuf, Option<u64>)> {
    let link = PathBuf::from(format!("/proc/{pid}/fd/{fd}"));
    let target = std::fs::read_link(&link).ok()?;
    let anonymous = target
        .to_str()
        .and_then(|t| t.strip_prefix("pipe:[")?.strip_suffix(']')?.parse().ok());
    if let Some(inode) = anonymous {
        return Some((link, Some(inode)));
    }
    let name = target.file_name()?.to_str()?;
    let stream = if fd == 1 { ".out" } else { ".err" };
    (target.parent() == Some(run_dir) && name.ends_with(stream) && target.exists())
        .then_some((target, None))
}

/// The instance id in a FIFO name `APP.INDEX.ID.out`.
fn fifo_id(path: &Path) -> Option<u64> {
    path.file_name()?.to_str()?.rsplit('.').nth(1)?.parse().ok()
}

/// Wall-clock start of a process that started `ticks` after boot.
fn started_ms(ticks: u64) -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let boot: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let at = Duration::from_secs(boot) + Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND);
    Some(at.as_millis() as u64)
}

/// Names the ports of an instance found by its marker after the listen entries of its app
/// (`PORT_ADMIN_API` → `admin-api`), in their order; already named ports stay as they are.
pub fn name_ports(ports: &mut Vec<(String, u16)>, listen: &[Listen]) {
    if ports.iter().all(|(name, _)| !name.starts_with("PORT_")) {
        return;
    }
    *ports = listen
        .iter()
        .filter(|l| l.mode != ListenMode::Inherit)
        .filter_map(|l| {
            let var = crate::net::port_var(&l.name);
            let port = ports.iter().find(|(k, _)| *k == var)?.1;
            Some((l.name.clone(), port))
        })
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_id_from_a_fifo_name() {
        assert_eq!(fifo_id(Path::new("/h/run/web-1.3.42.out")), Some(42));
        assert_eq!(fifo_id(Path::new("/h/run/odd")), None);
    }

    #[test]
    fn finds_a_marked_group_leader_and_not_an_unmarked_one() {
        use std::os::unix::process::CommandExt;
        let home = tempfile::tempdir().expect("tempdir");
        let owner = owner(&Home::at(home.path()));
        let spawn = |marked: bool| {
            let mut cmd = std::process::Command::new("sleep");
            cmd.arg("30")
                .env("CORRAL_APP", "web")
                .env("CORRAL_INSTANCE", "3")
                .env("CORRAL_REVISION", "abc")
                .env("PORT", "9001")
                .env("PORT_ADMIN_API", "9002")
                .env("PORT_HTTP", "9001")
                .process_group(0);
            if marked {
                cmd.env(MARKER, &owner);
            }
            cmd.spawn().expect("spawn sleep")
        };
        let (mut marked, mut unmarked) = (spawn(true), spawn(false));
        let found = scan(
            &owner,
            &home.path().join("run"),
            (&BTreeSet::new(), &BTreeSet::new()),
        );
        let pids: Vec<u32> = found.iter().map(|e| e.pid).collect();
        for child in [&mut marked, &mut unmarked] {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert_eq!(pids, vec![marked.id()], "{found:?}");
        let entry = &found[0];
        assert_eq!((entry.app.as_str(), entry.index), ("web", 3));
        assert_eq!(entry.revision, "abc");
        assert_eq!(entry.ports[0], ("PORT_HTTP".to_owned(), 9001));
        let mut ports = entry.ports.clone();
        let listen: Vec<Listen> = serde_yaml::from_str(
            "[{name: admin-api, port: 1, mode: tcp}, {name: http, port: 2, mode: http}]",
        )
        .expect("listen");
        name_ports(&mut ports, &listen);
        assert_eq!(
            ports,
            vec![("admin-api".to_owned(), 9002), ("http".to_owned(), 9001)]
        );
    }

    #[test]
    fn of_group_leaders_with_one_mark_only_the_oldest_is_the_instance() {
        use std::os::unix::process::CommandExt;
        let home = tempfile::tempdir().expect("tempdir");
        let owner = owner(&Home::at(home.path()));
        let spawn = || {
            std::process::Command::new("sleep")
                .arg("30")
                .env("CORRAL_APP", "web")
                .env("CORRAL_INSTANCE", "0")
                .env("CORRAL_REVISION", "abc")
                .env(MARKER, &owner)
                .env(INSTANCE_MARK, "18c-1")
                .process_group(0)
                .spawn()
                .expect("spawn sleep")
        };
        let mut instance = spawn();
        let first = process::start_ticks(instance.id()).expect("ticks");
        // A daemon of it that called setsid: started later (a later clock tick).
        let mut daemon = loop {
            let mut child = spawn();
            if process::start_ticks(child.id()) > Some(first) {
                break child;
            }
            let _ = child.kill();
            let _ = child.wait();
        };
        let run = home.path().join("run");
        let (none, no_marks) = (BTreeSet::new(), BTreeSet::new());
        let found: Vec<u32> = scan(&owner, &run, (&none, &no_marks))
            .iter()
            .map(|e| e.pid)
            .collect();
        let marks = BTreeSet::from(["18c-1".to_owned()]);
        let known = scan(&owner, &run, (&none, &marks));
        for child in [&mut instance, &mut daemon] {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert_eq!(found, vec![instance.id()]);
        assert!(known.is_empty(), "{known:?}");
    }
}
