//! What feeds `corral top`'s screen, each on its own thread sending [`Msg`]s to the screen
//! loop: the terminal's keys, the control API's snapshots (and the commands sent to it), and
//! the selected app's log lines.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use ratatui::crossterm::event::{self, Event, KeyEvent};

use super::model::{Command, LOG_LINES};
use crate::api::{AppList, Client};
use crate::cli::signals;
use crate::cli::table::now_ms;
use crate::cli::ManifestsDir;
use crate::home::Home;
use crate::logs::{self, Query, Tail};
use crate::manifest::Instances;

/// How long the key reader waits for a key before it looks at its stop flag again.
const KEY_WAIT: Duration = Duration::from_millis(200);
/// How often the log files are checked for new lines.
const LOG_POLL: Duration = Duration::from_millis(250);
/// How long to wait before looking again for an app's logs that are not there yet.
const LOG_RETRY: Duration = Duration::from_secs(1);

/// One thing for the screen loop.
#[derive(Debug)]
pub enum Msg {
    /// A key was pressed.
    Key(KeyEvent),
    /// The terminal changed size (or needs drawing again).
    Redraw,
    /// A fresh snapshot of the apps, taken at unix ms.
    Snapshot(AppList, u64),
    /// A refresh failed: why.
    RefreshFailed(String),
    /// A command finished: what it did, or why it failed.
    Done(String),
    /// New log lines of an app.
    Logs(String, Vec<String>),
    /// SIGTERM or SIGINT: leave.
    Quit,
    /// The terminal cannot be read (gone?): leave with this error.
    TerminalFailed(String),
}

/// Reads the terminal's keys until `stop` is set or the screen loop is gone.
pub fn spawn_keys(tx: SyncSender<Msg>, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if signals::STOPPED.load(Ordering::Relaxed) {
                let _ = tx.send(Msg::Quit);
                return;
            }
            let msg = match event::poll(KEY_WAIT) {
                Ok(false) => continue,
                Ok(true) => match event::read() {
                    Ok(Event::Key(key)) => Msg::Key(key),
                    Ok(Event::Resize(..)) => Msg::Redraw,
                    Ok(_) => continue,
                    Err(e) => Msg::TerminalFailed(e.to_string()),
                },
                Err(e) => Msg::TerminalFailed(e.to_string()),
            };
            let failed = matches!(msg, Msg::TerminalFailed(_));
            if tx.send(msg).is_err() || failed {
                return;
            }
        }
    })
}

/// Asks the controller for every app each `interval`, and runs the commands it receives (then
/// refreshes at once); ends when the command sender or the screen loop is gone.
pub fn spawn_poller(
    client: Client,
    interval: Duration,
    commands: Receiver<Command>,
    dir: ManifestsDir,
    tx: SyncSender<Msg>,
) -> anyhow::Result<JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(std::thread::spawn(move || loop {
        let msg = match runtime.block_on(client.list()) {
            Ok(list) => Msg::Snapshot(list, now_ms()),
            Err(e) => Msg::RefreshFailed(e.to_string()),
        };
        if tx.send(msg).is_err() {
            return;
        }
        let done = match commands.recv_timeout(interval) {
            Ok(command) => execute(&runtime, &client, &dir, command),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if tx.send(Msg::Done(done)).is_err() {
            return;
        }
    }))
}

/// Runs one command; what it did, or why it failed, as one sentence.
fn execute(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    dir: &ManifestsDir,
    command: Command,
) -> String {
    let answer = match &command {
        Command::Reload(name) => runtime.block_on(client.reload(name)).map(|r| r.message),
        Command::Restart(name) => runtime.block_on(client.restart(name)).map(|r| r.message),
        Command::Scale(name, n) => {
            // Outside the runtime: `scale` runs its own client calls.
            return crate::cli::scale::scale(name, Instances::Count(*n), dir)
                .unwrap_or_else(|e| format!("cannot scale {name}: {e:#}"));
        }
    };
    answer.unwrap_or_else(|e| format!("{e}"))
}

/// The selected app's log lines, followed on a thread of their own the way `corral logs -f`
/// follows them.
pub struct LogStream {
    /// Tells the follower to end.
    stop: Arc<AtomicBool>,
    /// The follower.
    thread: JoinHandle<()>,
}

impl LogStream {
    /// Follows `app`'s logs from their last [`LOG_LINES`] lines, sending them as [`Msg::Logs`];
    /// an app without logs yet is looked for again every second.
    pub fn start(home: Home, app: String, tx: SyncSender<Msg>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let query = Query {
                tail: Tail::Last(LOG_LINES),
                instance: None,
                stream: None,
                since: None,
                timestamps: false,
            };
            let mut sink = LineSink {
                app: app.clone(),
                pending: Vec::new(),
                lines: Vec::new(),
                tx,
            };
            while !flag.load(Ordering::Relaxed) {
                match logs::follow(&home, &app, &query, &mut sink, &flag, LOG_POLL) {
                    Ok(()) => return, // stopped, or the screen loop is gone
                    Err(_) => sleep_unless(&flag, LOG_RETRY),
                }
            }
        });
        Self { stop, thread }
    }

    /// Tells the follower to end; its thread, to join.
    pub fn stop(self) -> JoinHandle<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
    }
}

/// Sleeps `period` in short steps, returning early when `stop` is set.
fn sleep_unless(stop: &AtomicBool, period: Duration) {
    let step = Duration::from_millis(50);
    let mut slept = Duration::ZERO;
    while slept < period && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step);
        slept += step;
    }
}

/// Collects what the log printer writes into lines, sent to the screen loop on each flush.
struct LineSink {
    app: String,
    pending: Vec<u8>,
    lines: Vec<String>,
    tx: SyncSender<Msg>,
}

impl Write for LineSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &b in buf {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&self.pending).into_owned();
                self.pending.clear();
                if self.lines.len() == LOG_LINES {
                    self.lines.remove(0);
                }
                self.lines.push(line);
            } else {
                self.pending.push(b);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.lines.is_empty() {
            return Ok(());
        }
        let lines = std::mem::take(&mut self.lines);
        self.tx
            .send(Msg::Logs(self.app.clone(), lines))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}
