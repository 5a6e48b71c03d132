//! `corral top` in a real pseudo-terminal against a real controller: it shows the apps and
//! their logs, its keys reach the controller, `q` gives the terminal back.

use crate::common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

use common::{manifest, wait_for, Controller, BIN, SOON};
use nix::pty::{openpty, Winsize};

/// Switches the terminal back from the alternate screen.
const LEAVE_ALTERNATE_SCREEN: &str = "\x1b[?1049l";

/// `corral top ARGS` on the slave side of an 80×24 pseudo-terminal; the master side read.
struct Pty {
    child: Child,
    master: File,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    /// Starts `corral top` with `CORRAL_HOME=home`, in a session of its own whose controlling
    /// terminal is the pty.
    fn spawn(home: &Path, args: &[&str]) -> Self {
        let size = Winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&size), None).expect("openpty");
        let slave = File::from(pty.slave);
        let mut cmd = Command::new(BIN);
        cmd.arg("top")
            .args(args)
            .env("CORRAL_HOME", home)
            .env("TERM", "xterm-256color")
            .env_remove("CORRAL_MANIFESTS")
            .stdin(Stdio::from(slave.try_clone().expect("dup")))
            .stdout(Stdio::from(slave.try_clone().expect("dup")))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn corral top");
        drop(cmd); // our copies of the slave side: the master reads EOF when top exits
        let master = File::from(pty.master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().expect("dup master");
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("output").extend_from_slice(&buf[..n]);
            }
        });
        Self {
            child,
            master,
            output,
        }
    }

    /// Everything top wrote so far, escape sequences included.
    fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().expect("output")).into_owned()
    }

    /// Waits until top has written `text`.
    fn wait_for_text(&self, text: &str) {
        wait_for(SOON, &format!("corral top shows {text:?}"), || {
            self.output().contains(text).then_some(())
        });
    }

    /// Types `keys`.
    fn press(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).expect("type");
    }

    /// Waits for top to exit.
    fn wait_exit(&mut self) -> ExitStatus {
        wait_for(SOON, "corral top exits", || {
            self.child.try_wait().expect("wait")
        })
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A controller running `hello`, one instance printing a numbered line every 200 ms.
fn hello() -> Controller {
    let ctl = Controller::new();
    let script = "i=0; while true; do echo hello-line-$i; i=$((i+1)); sleep 0.2; done";
    let command = format!("command: {}", ctl.sh(script));
    ctl.write_manifest("hello.yaml", &manifest("hello", &[&command]));
    ctl.start();
    ctl.wait_instances("hello", 1);
    ctl
}

#[test]
fn shows_apps_and_logs_then_q_restores_the_terminal() {
    let ctl = hello();
    let mut top = Pty::spawn(&ctl.home, &[]);
    top.wait_for_text("hello");
    top.wait_for_text("hello-line-");
    top.wait_for_text("r reload");
    assert!(
        top.output().contains("\x1b[?1049h"),
        "top switches to the alternate screen"
    );
    top.press("q");
    let status = top.wait_exit();
    assert!(status.success(), "{status:?}\n{}", top.output());
    // The reader thread may still be draining the pty after the exit.
    top.wait_for_text(LEAVE_ALTERNATE_SCREEN); // the terminal is given back
}

#[test]
fn keys_reload_and_scale_the_selected_app() {
    let ctl = hello();
    let before: Vec<u32> = ctl.wait_instances("hello", 1).into_values().collect();
    let mut top = Pty::spawn(&ctl.home, &["--interval", "250ms"]);
    top.wait_for_text("hello");

    top.press("r");
    ctl.wait_until(SOON, "reload replaced the instance", || {
        let now: Vec<u32> = ctl.instances("hello").into_keys().collect();
        now.len() == 1 && now != before
    });

    top.press("+");
    ctl.wait_instances("hello", 2);
    let text = std::fs::read_to_string(ctl.manifests.join("hello.yaml")).expect("manifest");
    assert!(text.contains("instances: 2"), "{text}");

    top.press("q");
    assert!(top.wait_exit().success(), "{}", top.output());
}

#[test]
fn refuses_a_stdout_that_is_not_a_terminal() {
    let home = tempfile::tempdir().expect("tempdir");
    let run = common::corral_in(home.path(), &["top"]);
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    assert!(
        run.stderr
            .contains("corral top needs a terminal; use corral get -w"),
        "{run:?}"
    );
}

#[test]
fn says_when_no_controller_runs() {
    let home = tempfile::tempdir().expect("tempdir");
    let mut top = Pty::spawn(home.path(), &[]);
    let status = top.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", top.output());
    top.wait_for_text("no controller is running");
    assert!(
        !top.output().contains("\x1b[?1049h"),
        "the screen is left alone"
    );
}

#[test]
fn refuses_too_short_an_interval() {
    let home = tempfile::tempdir().expect("tempdir");
    let run = common::corral_in(home.path(), &["top", "--interval", "10ms"]);
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    assert!(run.stderr.contains("shorter than 250ms"), "{run:?}");
}

#[test]
fn sigterm_restores_the_terminal() {
    let ctl = hello();
    let mut top = Pty::spawn(&ctl.home, &[]);
    top.wait_for_text("hello-line-");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(top.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let status = top.wait_exit();
    assert!(status.success(), "{status:?}");
    top.wait_for_text(LEAVE_ALTERNATE_SCREEN);
}
