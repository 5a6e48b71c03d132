//! `mode: inherit`: sockets reach a real child as fd 3, 4, … with `LISTEN_*` set, through
//! `pass_fds` and the `__exec` shim, and stay open while the child is replaced.
//!
//! The shim normally is `corral __exec -- CMD…`; here this test binary re-runs itself into
//! [`shim_entry_point`], which calls the same library function.

use crate::net_common;

use std::process::Stdio;

use corral::manifest::ListenMode;
use corral::net::{exec_with_listen_pid, pass_fds, AppListeners};
use net_common::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// Env var carrying the JSON argv the shim entry point should exec.
const SHIM_ARGV: &str = "CORRAL_NET_TEST_SHIM_ARGV";

/// The child: checks its `LISTEN_*` env and fds, reports, answers one connection on fd 3.
const CHILD: &str = r#"
import os, socket
n = int(os.environ["LISTEN_FDS"])
assert os.environ.get("LISTEN_PID") == str(os.getpid()), "LISTEN_PID is not my pid"
fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
def is_socket(fd):
    try:
        return os.readlink("/proc/self/fd/%d" % fd).startswith("socket:")
    except OSError:
        return False  # the fd listdir used, closed since
sockets = [f for f in fds if is_socket(f)]
socks = [socket.socket(fileno=3 + i) for i in range(n)]
assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1 for s in socks)
ports = ",".join(str(s.getsockname()[1]) for s in socks)
print("ready", n, os.environ["LISTEN_FDNAMES"], ports, ",".join(map(str, sockets)), flush=True)
conn, _ = socks[0].accept()
conn.sendall(b"hello from %d\n" % os.getpid())
conn.close()
"#;

/// Prints the child's socket fds.
const SOCKETS: &str = r#"
import os
def is_socket(fd):
    try:
        return os.readlink("/proc/self/fd/%d" % fd).startswith("socket:")
    except OSError:
        return False
print([f for f in (int(f) for f in os.listdir("/proc/self/fd")) if is_socket(f)])
"#;

/// Not a test of its own: the shim's body when this binary is re-run by [`spawn_child`].
#[test]
fn shim_entry_point() {
    let Ok(argv) = std::env::var(SHIM_ARGV) else {
        return;
    };
    let argv: Vec<String> = serde_json::from_str(&argv).expect("argv json");
    let error = exec_with_listen_pid(&argv);
    eprintln!("exec failed: {error}");
    std::process::exit(127);
}

/// Spawns the Python child through the shim with `listeners`' inherit sockets.
fn spawn_child(listeners: &AppListeners) -> Child {
    let argv = ["python3".to_string(), "-c".to_string(), CHILD.to_string()];
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    // The test's full name in the one test binary (tests/it.rs): `MODULE::shim_entry_point`.
    let name = module_path!()
        .split_once("::")
        .map_or("", |(_, m)| m)
        .to_owned()
        + "::shim_entry_point";
    cmd.args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(SHIM_ARGV, serde_json::to_string(&argv).expect("json"))
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    pass_fds(&mut cmd, listeners.dup_inherit_fds().expect("dup"));
    cmd.spawn().expect("spawn child")
}

/// Reads the child's `ready …` line (skipping the test harness's own output).
async fn ready_line(child: &mut Child) -> (BufReader<tokio::process::ChildStdout>, Vec<String>) {
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(SOON, out.read_line(&mut line))
            .await
            .expect("ready in time");
        assert!(n.expect("read") > 0, "child ended before it was ready");
        // libtest prints `test shim_entry_point ... ` without a newline before the exec.
        if let Some((_, rest)) = line.split_once("ready ") {
            return (out, rest.split_whitespace().map(str::to_string).collect());
        }
    }
}

/// Reads everything `stream` sends until it closes.
async fn read_all(stream: &mut TcpStream) -> String {
    let mut text = String::new();
    tokio::time::timeout(SOON, stream.read_to_string(&mut text))
        .await
        .expect("answer in time")
        .expect("read");
    text
}

#[tokio::test]
async fn a_child_gets_the_sockets_as_fd_3_on_with_listen_env_and_its_own_pid() {
    let listen = [
        listen("web", ListenMode::Inherit),
        listen("api", ListenMode::Tcp),
        listen("admin", ListenMode::Inherit),
    ];
    let listeners = AppListeners::bind_with("web", &listen, quick())
        .await
        .expect("bind");
    let addrs = listeners.local_addrs();
    let names: Vec<String> = listeners
        .inherit_fds()
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(names, ["web", "admin"]);

    let mut child = spawn_child(&listeners);
    let (_out, ready) = ready_line(&mut child).await;
    assert_eq!(ready[..2], ["2", "web:admin"]);
    assert_eq!(
        ready[2],
        format!("{},{}", addrs[0].1.port(), addrs[2].1.port())
    );
    // The child's only sockets are fd 3 and 4: the intermediate dups did not survive exec.
    assert_eq!(ready[3], "3,4");

    let mut conn = TcpStream::connect(addrs[0].1).await.expect("connect");
    let pid = child.id().expect("pid");
    assert_eq!(read_all(&mut conn).await, format!("hello from {pid}\n"));
    assert!(child.wait().await.expect("wait").success());
    listeners.shutdown().await;
}

#[tokio::test]
async fn the_port_stays_open_while_the_child_is_replaced() {
    let listeners = AppListeners::bind_with("web", &[listen("web", ListenMode::Inherit)], quick())
        .await
        .expect("bind");
    let addr = listeners.local_addrs()[0].1;
    let mut first = spawn_child(&listeners);
    ready_line(&mut first).await;
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    read_all(&mut conn).await;
    assert!(first.wait().await.expect("wait").success());

    // No child now: the controller's socket still queues the connection…
    let mut waiting = TcpStream::connect(addr)
        .await
        .expect("connect while no child runs");
    // …and the next child answers it.
    let mut second = spawn_child(&listeners);
    let pid = second.id().expect("pid");
    assert_eq!(read_all(&mut waiting).await, format!("hello from {pid}\n"));
    assert!(second.wait().await.expect("wait").success());
    listeners.shutdown().await;
}

#[tokio::test]
async fn other_children_do_not_inherit_the_sockets() {
    let listeners = AppListeners::bind_with("web", &[listen("web", ListenMode::Inherit)], quick())
        .await
        .expect("bind");
    // A command holding dups, not spawned yet, while another child starts.
    let mut holder = Command::new("true");
    pass_fds(&mut holder, listeners.dup_inherit_fds().expect("dup"));
    let out = Command::new("python3")
        .args(["-c", SOCKETS])
        .output()
        .await
        .expect("run python");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[]",
        "no socket fd leaked"
    );
    drop(holder);
    listeners.shutdown().await;
}
