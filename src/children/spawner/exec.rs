//! In the spawner: one instance from a request, by `clone3` with `CLONE_PARENT` (the new
//! process is the controller's child, not the spawner's) and, when it has one, straight into
//! its cgroup (`CLONE_INTO_CGROUP`); then, in the new process, the steps before exec. Only the
//! spawner runs this: a single-threaded process with a handful of fds, so the clone copies
//! almost nothing and the exec closes almost nothing.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::Request;
use crate::confine::ChildSteps;

/// `CLONE_INTO_CGROUP` (Linux 5.7), as clone3 takes it.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The kernel's `struct clone_args` (`CLONE_ARGS_SIZE_VER2`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// A request's strings as exec takes them, built before the clone (the child allocates nothing).
struct Prepared {
    /// The paths to try in turn: the program itself when it has a `/`, else each folder of the
    /// request's `PATH` (relative ones from the cwd), as execvp searches.
    candidates: Vec<CString>,
    argv: Vec<CString>,
    env: Vec<CString>,
    cwd: CString,
    /// `/bin/sh PROGRAM ARGS…`, for a program the kernel cannot run itself (ENOEXEC), as
    /// execvp does (`PROGRAM` is replaced by the candidate that needs it).
    shell: Vec<CString>,
}

/// NUL-terminated pointer arrays into [`Prepared`]'s strings.
fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    let mut ptrs: Vec<_> = strings.iter().map(|s| s.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    ptrs
}

fn c_string(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

impl Prepared {
    fn of(req: &Request) -> io::Result<Prepared> {
        let all = |v: &[String]| {
            v.iter()
                .map(|s| c_string(s.as_bytes()))
                .collect::<io::Result<Vec<_>>>()
        };
        let argv = all(&req.argv)?;
        let candidates = candidates(req)
            .iter()
            .map(|c| c_string(c))
            .collect::<io::Result<Vec<_>>>()?;
        let mut shell = vec![c"/bin/sh".to_owned(), c"".to_owned()];
        shell.extend(argv.iter().skip(1).cloned());
        Ok(Prepared {
            candidates,
            argv,
            env: all(&req.env)?,
            cwd: c_string(req.cwd.as_bytes())?,
            shell,
        })
    }
}

/// Where execvp would look for the request's program, in order.
fn candidates(req: &Request) -> Vec<Vec<u8>> {
    if req.program.contains('/') {
        return vec![req.program.clone().into_bytes()];
    }
    let path = req
        .env
        .iter()
        .rev()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or("/bin:/usr/bin");
    path.split(':')
        .map(|dir| {
            let folder = match dir {
                "" => req.cwd.clone(),
                _ if dir.starts_with('/') => dir.to_owned(),
                _ => format!("{}/{dir}", req.cwd),
            };
            format!("{folder}/{}", req.program).into_bytes()
        })
        .collect()
}

/// The fds a request came with, in the order [`super::Fds`] sends them.
pub struct Received {
    /// Sources for fd 1, 2, 3….
    pub targets: Vec<OwnedFd>,
    /// The instance's cgroup folder.
    pub cgroup: Option<OwnedFd>,
}

/// Starts the process of `req`: its pid and the read end of a pipe that ends (EOF) when it
/// has exec'd, or brings a 4-byte error code (`step << 16 | errno`) when it could not.
pub fn start(req: &Request, fds: Received) -> io::Result<(u32, OwnedFd)> {
    let prepared = Prepared::of(req)?;
    let (argv, env, mut shell) = (
        pointers(&prepared.argv),
        pointers(&prepared.env),
        pointers(&prepared.shell),
    );
    let shell = &mut shell[..];
    let mut pipe = [0; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds are fresh and ours.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };
    // Sources go above every target, so no target overwrites a source not yet placed.
    let scratch = 3 + fds.targets.len() as RawFd + 1;
    let cgroup = fds.cgroup.as_ref().map(AsRawFd::as_raw_fd);
    let mut entered = cgroup.is_some();
    let mut pid = clone(cgroup);
    if pid < 0 && cgroup.is_some() {
        // No CLONE_INTO_CGROUP (kernel < 5.7, or not a v2 folder): the child moves itself.
        entered = false;
        pid = clone(None);
    }
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        let child = Child {
            prepared: &prepared,
            ptrs: (&argv, &env),
            shell: std::cell::RefCell::new(shell),
            targets: &fds.targets,
            scratch,
            cgroup: cgroup.filter(|_| !entered),
            confine: req.confine.as_ref(),
            report: write.as_raw_fd(),
        };
        child.run();
    }
    drop(write);
    Ok((pid as u32, read))
}

/// clone3 with fork's semantics, the controller as parent, optionally into a cgroup. The
/// exit signal must be 0 with `CLONE_PARENT`: the child gets the spawner's own (SIGCHLD, as
/// the controller forked it).
fn clone(cgroup: Option<RawFd>) -> libc::c_long {
    let mut args = CloneArgs {
        flags: libc::CLONE_PARENT as u64,
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 reads `args` (size given); without CLONE_VM the child gets a copy of this
    // single-threaded process and returns 0 here.
    unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    }
}

/// What the new process needs, all prepared by the spawner.
struct Child<'a> {
    prepared: &'a Prepared,
    /// argv, envp, and the shell's argv (its `[1]` set to the candidate that needs it).
    ptrs: (&'a [*const libc::c_char], &'a [*const libc::c_char]),
    shell: std::cell::RefCell<&'a mut [*const libc::c_char]>,
    targets: &'a [OwnedFd],
    scratch: RawFd,
    /// The cgroup folder to enter by writing `cgroup.procs` (when the clone could not).
    cgroup: Option<RawFd>,
    /// The user, limits and the like to take on last.
    confine: Option<&'a ChildSteps>,
    /// The write end of the report pipe.
    report: RawFd,
}

impl Child<'_> {
    /// In the new process: the steps, then exec; never returns.
    fn run(&self) -> ! {
        // Above every fd number the steps write to, so placing fd 1, 2, 3… cannot close it.
        // SAFETY: fcntl on a fd of ours.
        let report = match unsafe { libc::fcntl(self.report, libc::F_DUPFD_CLOEXEC, self.scratch) }
        {
            -1 => self.report,
            fd => fd,
        };
        let code = match self.steps() {
            Ok(()) => self.exec(),
            Err(e) => e.raw_os_error().unwrap_or(libc::EINVAL),
        };
        // SAFETY: write and _exit are async-signal-safe; `code` is a live i32.
        unsafe {
            libc::write(report, (&code as *const i32).cast(), 4);
            libc::_exit(127)
        }
    }

    /// Everything before exec, in std's order (cgroup, signals, process group, fds, cwd),
    /// then the confinement's steps.
    fn steps(&self) -> io::Result<()> {
        // SAFETY: each call below is a plain syscall on fds and memory prepared before the
        // clone; nothing allocates.
        unsafe {
            if let Some(dir) = self.cgroup {
                // O_CREAT as `InstanceCgroup::enter_from_child`: tests stand in a plain folder.
                let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC;
                let fd = libc::openat(dir, c"cgroup.procs".as_ptr(), flags, 0o644);
                if fd < 0 || libc::write(fd, b"0\n".as_ptr().cast(), 2) != 2 {
                    return Err(io::Error::last_os_error());
                }
                libc::close(fd);
            }
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            if libc::setpgid(0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
            if null < 0 || libc::dup2(null, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut copies = [0 as RawFd; super::wire::MAX_FDS];
            for (fd, copy) in self.targets.iter().zip(copies.iter_mut()) {
                *copy = libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, self.scratch);
                if *copy < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            for (n, copy) in copies.iter().take(self.targets.len()).enumerate() {
                if libc::dup2(*copy, n as RawFd + 1) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            if libc::chdir(self.prepared.cwd.as_ptr()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        match self.confine {
            Some(steps) => steps.apply(),
            None => Ok(()),
        }
    }

    /// Execs the program as execvp does: each candidate in turn, one the kernel cannot run
    /// itself under `/bin/sh`; returns the errno (EACCES if any candidate said so).
    fn exec(&self) -> i32 {
        let (argv, env) = self.ptrs;
        let mut shell = self.shell.borrow_mut();
        let mut result = libc::ENOENT;
        let mut denied = false;
        for candidate in &self.prepared.candidates {
            // SAFETY: NUL-terminated arrays of pointers into strings that outlive the call.
            let errno = unsafe {
                libc::execve(candidate.as_ptr(), argv.as_ptr(), env.as_ptr());
                *libc::__errno_location()
            };
            result = match errno {
                libc::ENOEXEC => {
                    shell[1] = candidate.as_ptr();
                    // SAFETY: as above.
                    unsafe {
                        libc::execve(c"/bin/sh".as_ptr(), shell.as_ptr(), env.as_ptr());
                        *libc::__errno_location()
                    }
                }
                libc::EACCES => {
                    denied = true;
                    errno
                }
                libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {
                    errno
                }
                other => return other,
            };
        }
        if denied {
            libc::EACCES
        } else {
            result
        }
    }
}
