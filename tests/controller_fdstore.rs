//! The controller under systemd (DESIGN §12), against a stand-in for the service manager that
//! speaks its protocol as systemd does (no systemd runs here): a datagram socket in
//! `NOTIFY_SOCKET` that checks each sender's pid (`SO_PASSCRED`, `NotifyAccess=main`) and takes
//! `READY=1`, `STOPPING=1`, `MAINPID=`, `FDSTORE=1`/`FDNAME=` with the fds as `SCM_RIGHTS`
//! (kept once per socket) and `FDSTOREREMOVE=1`; it starts the next controller with the stored
//! fds from 3 and `LISTEN_FDS`, `LISTEN_FDNAMES` and its own pid in `LISTEN_PID`.
//!
//! With `--live-restore` (what `corral startup`'s unit runs): after a SIGKILL or a SIGTERM
//! (`systemctl restart`), the apps keep running, and clients that connect while no controller
//! runs wait in the backlog and are answered; `corral upgrade` moves the main pid;
//! `corral shutdown` stops every app.

use crate::common;

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::web::{addr, get, WebApp};
use common::{try_corral_in, wait_for, Controller, BIN, SOON};
use nix::sys::socket::{
    recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, UnixAddr, UnixCredentials,
};

/// The service manager's side, as systemd keeps it for one `Type=notify` service.
struct Manager {
    socket: UnixDatagram,
    path: PathBuf,
    /// The service's main pid: only its messages count (`NotifyAccess=main`).
    main_pid: u32,
    /// The fd store: name and fd, one entry per socket.
    store: Vec<(String, OwnedFd)>,
    /// Messages taken, as `pid: text`; those of other pids are refused.
    taken: Vec<String>,
    refused: Vec<String>,
}

impl Manager {
    fn new(ctl: &Controller) -> Self {
        let path = ctl.scratch().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        setsockopt(&socket, sockopt::PassCred, &true).expect("SO_PASSCRED");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        Self {
            socket,
            path,
            main_pid: 0,
            store: Vec::new(),
            taken: Vec::new(),
            refused: Vec::new(),
        }
    }

    /// Reads every datagram waiting and applies it, as systemd's manager_dispatch_notify_fd does.
    fn pump(&mut self) {
        loop {
            let mut buf = [0u8; 4096];
            let mut iov = [IoSliceMut::new(&mut buf)];
            let mut cmsg = nix::cmsg_space!(UnixCredentials, [RawFd; 16]);
            let flags = MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT;
            let Ok(msg) =
                recvmsg::<UnixAddr>(self.socket.as_raw_fd(), &mut iov, Some(&mut cmsg), flags)
            else {
                return;
            };
            let mut pid = 0;
            let mut fds = Vec::new();
            for c in msg.cmsgs().expect("cmsgs") {
                match c {
                    ControlMessageOwned::ScmCredentials(cred) => pid = cred.pid() as u32,
                    // SAFETY: fds the kernel just installed for us.
                    ControlMessageOwned::ScmRights(raw) => fds.extend(
                        raw.into_iter()
                            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                    ),
                    _ => {}
                }
            }
            let len = msg.bytes;
            let text = String::from_utf8_lossy(&buf[..len]).into_owned();
            if pid != self.main_pid {
                self.refused.push(format!("{pid}: {text}"));
                continue; // the fds close here, as systemd closes them
            }
            self.apply(&text, fds);
            self.taken.push(format!("{pid}: {text}"));
        }
    }

    fn apply(&mut self, text: &str, fds: Vec<OwnedFd>) {
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::to_owned)
        };
        if let Some(pid) = field("MAINPID=").and_then(|p| p.parse().ok()) {
            self.main_pid = pid;
        }
        let name = field("FDNAME=").unwrap_or_else(|| "stored".into());
        if field("FDSTOREREMOVE=").as_deref() == Some("1") {
            self.store.retain(|(n, _)| *n != name);
        }
        if field("FDSTORE=").as_deref() == Some("1") {
            for fd in fds {
                // An fd already stored is kept once (systemd's same_fd()).
                let id = |fd: &OwnedFd| nix::sys::stat::fstat(fd).map(|s| (s.st_dev, s.st_ino));
                let known = self.store.iter().any(|(_, f)| id(f).ok() == id(&fd).ok());
                if !known {
                    self.store.push((name.clone(), fd));
                }
            }
        }
    }

    /// Waits until a message of the (then) main pid had the line `line`.
    fn wait_message(&mut self, line: &str) {
        let deadline = Instant::now() + SOON;
        loop {
            self.pump();
            let main = format!("{}: ", self.main_pid);
            let said = |m: &String| {
                m.strip_prefix(&main)
                    .is_some_and(|text| text.lines().any(|l| l == line))
            };
            if self.taken.iter().any(said) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {line:?} from main pid {}: taken {:#?}, refused {:#?}",
                self.main_pid,
                self.taken,
                self.refused
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn names(&mut self) -> Vec<String> {
        self.pump();
        let mut names: Vec<String> = self.store.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        names
    }

    /// Starts the service: the controller with the stored fds from fd 3, `LISTEN_FDS`,
    /// `LISTEN_FDNAMES`, and `LISTEN_PID` its own pid (a shell sets it, then execs corral:
    /// same pid, as systemd sets it in the child between fork and exec).
    fn start(&mut self, ctl: &mut Controller) {
        self.pump();
        self.taken.clear();
        let wrapper = ctl.scratch().join("service-exec");
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nexport LISTEN_PID=$$\nexec {BIN} \"$@\"\n"),
        )
        .expect("wrapper");
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&wrapper, mode).expect("chmod");
        ctl.binary = wrapper;
        let raw: Vec<RawFd> = self.store.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
        let names: Vec<&str> = self.store.iter().map(|(n, _)| n.as_str()).collect();
        let names = names.join(":");
        let count = raw.len();
        ctl.start_with(move |cmd: &mut Command| {
            if count > 0 {
                cmd.env("LISTEN_FDS", count.to_string())
                    .env("LISTEN_FDNAMES", names);
            }
            // SAFETY: fcntl and dup2 only, on fds this process holds, between fork and exec.
            // First every fd above the range, then each to its place, so none is overwritten
            // before it is copied (no allocation between fork and exec: a fixed array).
            unsafe {
                cmd.pre_exec(move || {
                    let above = 3 + raw.len() as RawFd;
                    let mut high = [-1 as RawFd; 16];
                    for (fd, h) in raw.iter().zip(high.iter_mut()) {
                        *h = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, above);
                        if *h < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    for (i, h) in high.iter().take(raw.len()).enumerate() {
                        if libc::dup2(*h, 3 + i as RawFd) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
        });
        self.main_pid = ctl.pid();
        self.wait_message("READY=1");
    }
}

/// `GET /` sent while no controller runs: it must connect (the socket stays in the fd store)
/// and be answered once the next controller accepts.
/// Connections waiting in the accept queue of the listening TCP socket on `port`: for a
/// listener, the `rx_queue` of `/proc/net/tcp{,6}` is its backlog.
fn tcp_backlog(port: u16) -> u64 {
    let local = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| text.lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let listening = fields.get(3) == Some(&"0A") && fields.get(1)?.ends_with(&local);
            let queue = fields.get(4)?.split_once(':')?.1;
            listening.then(|| u64::from_str_radix(queue, 16).ok())?
        })
        .sum()
}

/// Sockets of `/proc/net/unix` bound in folder `dir`: the control socket's listener (bound
/// under a temporary name, then renamed), and one per connection waiting in its accept queue
/// (the server side of a connection takes the listener's address).
fn unix_sockets_in(dir: &std::path::Path) -> usize {
    let prefix = format!("{}/", dir.display());
    std::fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(7)
                .is_some_and(|p| p.starts_with(&prefix))
        })
        .count()
}

fn request_in_the_gap(port: u16) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || match get(addr(port), "/") {
        Ok(r) if r.status == 200 => "ok".into(),
        Ok(r) => format!("status {}", r.status),
        Err(e) => format!("{:?}: {e}", e.kind()),
    })
}

#[test]
fn sockets_and_apps_outlive_the_controller_under_a_service_manager() {
    let mut ctl = Controller::with_args(&["--live-restore"]);
    let mut manager = Manager::new(&ctl);
    ctl.envs
        .push(("NOTIFY_SOCKET".into(), manager.path.display().to_string()));
    let mut app = WebApp::new("web", "http");
    app.extra
        .push("readiness: {tcp: {}, periodSeconds: 1}".into());
    app.write(&ctl);
    manager.start(&mut ctl);
    ctl.wait_rolled_out("web", 2, &[]);
    let pids = ctl.wait_instances("web", 2);
    let listen = format!("listen.web.{}", app.port);
    wait_for(SOON, "the sockets are in the fd store", || {
        let names = manager.names();
        (names == ["corral-control".to_owned(), listen.clone()]).then_some(())
    });

    // A crash: connections wait, `corral get` waits, the next controller answers both.
    ctl.crash();
    let waiting = request_in_the_gap(app.port);
    let home = ctl.home.clone();
    let asking = std::thread::spawn(move || try_corral_in(&home, &["get"]));
    wait_for(
        SOON,
        "the request and corral get waiting in the backlogs",
        || (tcp_backlog(app.port) >= 1 && unix_sockets_in(&ctl.home) >= 2).then_some(()),
    );
    manager.start(&mut ctl);
    assert_eq!(
        waiting.join().expect("client"),
        "ok",
        "a request during the crash"
    );
    let get = asking.join().expect("get").expect("corral get finished");
    assert!(get.status.success(), "corral get during the crash: {get:?}");
    assert_eq!(
        ctl.wait_instances("web", 2),
        pids,
        "the crash restarted an app"
    );
    assert_eq!(manager.names().len(), 2, "each socket stored once");

    // `systemctl restart`: SIGTERM leaves every app running; the same again.
    ctl.signal(nix::sys::signal::Signal::SIGTERM);
    manager.wait_message("STOPPING=1");
    assert!(ctl.wait_exit(SOON).success());
    let waiting = request_in_the_gap(app.port);
    wait_for(SOON, "the request waiting in the backlog", || {
        (tcp_backlog(app.port) >= 1).then_some(())
    });
    let running: Vec<u32> = ctl.instances("web").into_keys().collect();
    let before: Vec<u32> = pids
        .values()
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(running, before, "a stop stopped an app");
    manager.start(&mut ctl);
    assert_eq!(
        waiting.join().expect("client"),
        "ok",
        "a request during the restart"
    );
    assert_eq!(ctl.wait_instances("web", 2), pids);

    // `corral upgrade`: the main pid moves to the new controller, whose READY=1 counts.
    let old = ctl.pid();
    let run = ctl.corral(&["upgrade"]);
    assert!(run.status.success(), "{run:?}");
    let new = wait_for(SOON, "MAINPID= of the new controller", || {
        manager.pump();
        (manager.main_pid != old).then_some(manager.main_pid)
    });
    ctl.took_over(new);
    let line = run.stdout.clone();
    assert!(line.contains(&format!("(pid {new})")), "{line}");
    manager.wait_message("READY=1");
    assert!(ctl.wait_exit(Duration::from_secs(40)).success());
    assert_eq!(ctl.wait_instances("web", 2), pids);

    // `corral shutdown` stops every app, whatever --live-restore says.
    let run = ctl.corral(&["shutdown"]);
    assert!(run.status.success(), "{run:?}");
    manager.wait_message("STOPPING=1");
    wait_for(SOON, "every app stopped", || {
        ctl.processes().is_empty().then_some(())
    });
}
