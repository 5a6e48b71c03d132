//! The spawner: a small process of the controller's (`corral __spawner`) that starts every
//! instance. Forking the controller itself gets slower with every instance it runs: the fork
//! copies its page tables and its fd table (two log pipes and a pidfd per instance), and the
//! child then closes each of those fds again at exec, so starting N instances costs N². The
//! spawner is single-threaded and holds five fds: its clone copies almost nothing and puts the
//! new process straight into its cgroup (`CLONE_INTO_CGROUP`), and `CLONE_PARENT` makes it the
//! controller's child, which waits for it and reaps it as before ([`super::register`]).
//!
//! A request is a frame of JSON ([`Request`]) with the fds the process gets; the answer is its
//! pid and a pipe that closes at its exec, or brings the error that stopped it
//! ([`crate::confine::Confinement::explain`] reads the code).

mod exec;
mod serve;
mod wire;

use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::sync::{Mutex, OnceLock, PoisonError};

use serde::{Deserialize, Serialize};

pub use serve::run;

use crate::confine::ChildSteps;

/// The hidden subcommand the spawner runs as.
pub const SUBCOMMAND: &str = "__spawner";

/// `CORRAL_SPAWNER=0` in the controller's environment: no spawner, the controller forks its
/// instances itself (slower with many instances; for comparing, or if clone3 misbehaves).
pub const SWITCH_ENV: &str = "CORRAL_SPAWNER";

/// The fd the spawner finds its socket at.
const SOCKET_FD: RawFd = 3;

/// One process to start.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Request {
    /// The program's path, as exec takes it (manifests are UTF-8, and so are the paths here).
    pub program: String,
    /// The arguments, `argv[0]` first.
    pub argv: Vec<String>,
    /// The whole environment, `KEY=VALUE` each.
    pub env: Vec<String>,
    /// The working directory.
    pub cwd: String,
    /// The user, limits and the like the process takes on before exec.
    pub confine: Option<ChildSteps>,
    /// How many fds of the frame become fd 1, 2, 3…; one more, when `cgroup`, is its cgroup
    /// folder.
    pub targets: usize,
    /// Whether the last fd of the frame is the cgroup folder to start in.
    pub cgroup: bool,
}

/// The spawner's answer.
#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    /// Cloned; the frame carries the read end of the exec report pipe.
    Started { pid: u32 },
    /// Not cloned: an errno.
    Failed { code: i32 },
}

/// The fds a new process gets: its stdout, stderr and further fds at 3…, and the cgroup folder
/// it starts in.
#[derive(Debug)]
pub struct Fds {
    /// Becomes fd 1, 2, 3… in that order.
    pub targets: Vec<OwnedFd>,
    /// The instance's cgroup folder (opened `O_PATH`), if it has one.
    pub cgroup: Option<OwnedFd>,
}

/// The controller's end: one request at a time.
struct Spawner {
    /// The socket to the spawner process (another is started when it died).
    state: Mutex<Option<UnixStream>>,
}

static SPAWNER: Spawner = Spawner {
    state: Mutex::new(None),
};

/// Whether the spawner serves this process (the controller enables it at start).
static ENABLED: OnceLock<()> = OnceLock::new();

/// Makes [`start`] use the spawner from now on. The spawner itself starts with the first
/// request: after the controller settled in its cgroup (a cgroup v2 parent with a process in
/// it cannot enable controllers for its children, so the spawner must not stay behind there).
pub fn enable() {
    let _ = ENABLED.set(());
}

/// Whether [`enable`] was called in this process.
pub fn enabled() -> bool {
    ENABLED.get().is_some()
}

/// Runs `corral __spawner` with its end of a new socket pair at fd 3. Nobody waits for it: it
/// is a helper, which the reaper reaps once it exits (when our end closes, or the controller
/// dies).
fn launch() -> io::Result<UnixStream> {
    let (ours, theirs) = UnixStream::pair()?;
    let theirs_fd = theirs.as_raw_fd();
    let mut cmd = std::process::Command::new("/proc/self/exe");
    // It needs no environment: every request carries the whole of its process's.
    cmd.arg(SUBCOMMAND)
        .env_clear()
        .env(serve::PARENT_ENV, std::process::id().to_string())
        .stdin(std::process::Stdio::null());
    // SAFETY: dup2 is async-signal-safe; it gives the child the socket at fd 3 without CLOEXEC.
    unsafe {
        cmd.pre_exec(move || match libc::dup2(theirs_fd, SOCKET_FD) {
            -1 => Err(io::Error::last_os_error()),
            _ => Ok(()),
        });
    }
    // Between the spawn and this line the reaper could take it for an orphan only if it
    // already died, which the first request notices.
    let child = cmd.spawn()?;
    super::helper(child.id());
    drop(theirs);
    Ok(ours)
}

/// Starts the process of `req` through the spawner and waits for its exec: the process,
/// owned (see [`super::Owned`]), or why it could not start (`step << 16 | errno`, as a
/// `pre_exec` failure reads). Blocking.
pub fn start(req: &Request, fds: Fds) -> io::Result<super::Owned> {
    let body = serde_json::to_vec(req).map_err(io::Error::other)?;
    let mut raw: Vec<RawFd> = fds.targets.iter().map(AsRawFd::as_raw_fd).collect();
    raw.extend(fds.cgroup.as_ref().map(AsRawFd::as_raw_fd));
    let (owned, report) = super::register(|| ask(&body, &raw))?;
    drop(fds);
    let mut code = [0u8; 4];
    let mut got = 0;
    let mut report = std::fs::File::from(report);
    while got < code.len() {
        match report.read(&mut code[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if got == 0 {
        return Ok(owned);
    }
    // It exits at once: collect it here, so nothing is left for the reaper.
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(owned.pid() as i32), None);
    owned.reaped();
    Err(io::Error::from_raw_os_error(i32::from_le_bytes(code)))
}

/// Sends one request; its pid and exec report pipe. Restarts a spawner that died, once.
fn ask(body: &[u8], fds: &[RawFd]) -> io::Result<(u32, OwnedFd)> {
    let mut state = SPAWNER.state.lock().unwrap_or_else(PoisonError::into_inner);
    for attempt in 0..2 {
        if state.is_none() || attempt > 0 {
            // Closing our end ends the old one if it still runs.
            *state = Some(launch()?);
        }
        let Some(socket) = state.as_ref() else {
            continue;
        };
        let answer = wire::send(socket, body, fds).and_then(|()| wire::receive(socket));
        let (reply, mut fds) = match answer {
            Ok(Some(frame)) => frame,
            // The spawner is gone: start another.
            Ok(None) => continue,
            Err(e) if attempt == 0 && is_gone(&e) => continue,
            Err(e) => return Err(e),
        };
        return match serde_json::from_slice(&reply).map_err(io::Error::other)? {
            Reply::Started { pid } => match fds.pop() {
                Some(report) => Ok((pid, report)),
                None => Err(io::Error::other("the spawner sent no exec report pipe")),
            },
            Reply::Failed { code } => Err(io::Error::from_raw_os_error(code)),
        };
    }
    Err(io::Error::other("the spawner process keeps exiting"))
}

/// Whether `e` says the other end of the socket is gone.
fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
    )
}
