//! An instance's start as a request to the spawner process ([`crate::children::spawner`]):
//! the program, its arguments and environment as exec takes them, and the fds it gets.

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use crate::children::spawner::{Fds, Request};
use crate::confine::ChildSteps;

/// What the child runs: the program's path and argv (`argv[0]` as the manifest wrote it), or,
/// with sockets to inherit, the corral shim that gives them `LISTEN_PID`.
pub struct Program<'a> {
    /// The program as found in `PATH`, when it was.
    pub found: Option<&'a Path>,
    /// The manifest's command.
    pub argv: &'a [String],
    /// Whether it starts through the `LISTEN_PID` shim.
    pub shim: bool,
}

/// The environment as exec takes it: one `KEY=VALUE` per key, the last value given winning
/// (as `Command::env` does), in first-seen order.
fn envp<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let mut keys: Vec<&str> = Vec::new();
    let mut values: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for (k, v) in vars {
        if values.insert(k, v).is_none() {
            keys.push(k);
        }
    }
    keys.into_iter()
        .map(|k| format!("{k}={}", values[k]))
        .collect()
}

/// The request for one instance. `env` is its whole environment (later entries win);
/// `inherit` the sockets to place at fd 3… with their names; `out`/`err` the log pipes' ends.
pub fn build(
    program: Program<'_>,
    (env, cwd): (&[(String, String)], &Path),
    confine: &ChildSteps,
    (out, err): (OwnedFd, OwnedFd),
    inherit: Vec<(OwnedFd, String)>,
    cgroup: Option<&Path>,
) -> io::Result<(Request, Fds)> {
    let names: Vec<&str> = inherit.iter().map(|(_, n)| n.as_str()).collect();
    let (count, joined) = (names.len().to_string(), names.join(":"));
    let mut vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    if !inherit.is_empty() {
        vars.push(("LISTEN_FDS", &count));
        vars.push(("LISTEN_FDNAMES", &joined));
    }
    let Some((first, _)) = program.argv.split_first() else {
        return Err(io::Error::other("the command is empty"));
    };
    let (path, argv): (String, Vec<String>) = if program.shim {
        let exe = utf8(&std::env::current_exe()?)?;
        let mut argv = vec![exe.clone(), crate::net::EXEC_SUBCOMMAND.into(), "--".into()];
        argv.extend(program.argv.iter().cloned());
        (exe, argv)
    } else {
        let path = match program.found {
            Some(found) => utf8(found)?,
            None => first.clone(),
        };
        (path, program.argv.to_vec())
    };
    let cgroup = match cgroup {
        Some(dir) => Some(open_dir(dir)?),
        None => None,
    };
    let mut targets = vec![out, err];
    targets.extend(inherit.into_iter().map(|(fd, _)| fd));
    let request = Request {
        program: path,
        argv,
        env: envp(vars),
        cwd: utf8(cwd)?,
        confine: Some(confine.clone()),
        targets: targets.len(),
        cgroup: cgroup.is_some(),
    };
    Ok((request, Fds { targets, cgroup }))
}

/// `path` as UTF-8 (manifests are; a path found on the way may not be).
fn utf8(path: &Path) -> io::Result<String> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other(format!("{} is not UTF-8", path.display())))
}

/// A folder opened `O_PATH`, as `CLONE_INTO_CGROUP` takes it.
fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(dir)?;
    Ok(file.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_value_of_a_key_wins_in_first_seen_order() {
        let env = envp([("A", "1"), ("B", "2"), ("A", "3")]);
        assert_eq!(env, vec!["A=3".to_owned(), "B=2".to_owned()]);
    }
}
