//! One `corral top` session: the terminal taken over (and given back on exit, error or panic),
//! and the loop that applies what the feeds send and redraws.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::feed::{self, LogStream, Msg};
use super::input::{self, Outcome};
use super::model::{Model, HISTORY_SECONDS};
use super::view;
use crate::api::{AppList, Client};
use crate::cli::table::now_ms;
use crate::cli::ManifestsDir;
use crate::home::Home;

/// Messages the feeds may queue before they wait for the screen loop.
const QUEUE: usize = 64;

/// Gives the terminal back (cooked mode, main screen) when dropped.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Runs the view until `q`, Ctrl-C, SIGTERM or a terminal error.
pub fn run(
    client: Client,
    first: AppList,
    interval: Duration,
    dir: ManifestsDir,
) -> anyhow::Result<()> {
    let samples = (HISTORY_SECONDS * 1000).div_ceil(interval.as_millis().max(1) as u64);
    let mut model = Model::new(samples as usize);
    model.update(first, now_ms());
    // SIGINT/SIGTERM end the loop (Ctrl-C in raw mode is a key, not a signal).
    crate::cli::signals::catch_stop()?;
    // Before the set-up, so that a set-up failing half-way is undone too; `try_init` also
    // installs a panic hook that restores the terminal.
    let _restore = Restore;
    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    let (tx, rx) = mpsc::sync_channel(QUEUE);
    let (commands, command_rx) = mpsc::sync_channel(4);
    let stop_keys = Arc::new(AtomicBool::new(false));
    let keys = feed::spawn_keys(tx.clone(), stop_keys.clone());
    let poller = feed::spawn_poller(client, interval, command_rx, dir, tx.clone())?;
    let home = Home::from_env();
    let mut stream: Option<(String, LogStream)> = None;
    let mut stopped_streams = Vec::new();
    let interval_text = humantime::format_duration(interval).to_string();
    let result = (|| -> anyhow::Result<()> {
        loop {
            if stream.as_ref().map(|(app, _)| app) != model.selected.as_ref() {
                if let Some((_, old)) = stream.take() {
                    stopped_streams.push(old.stop());
                }
                stopped_streams.retain(|t: &std::thread::JoinHandle<()>| !t.is_finished());
                model.logs.clear();
                if let Some(app) = model.selected.clone() {
                    let follower = LogStream::start(home.clone(), app.clone(), tx.clone());
                    stream = Some((app, follower));
                }
            }
            terminal
                .draw(|frame| view::render(frame, &model, &interval_text))
                .context("cannot draw on the terminal")?;
            if !next(&rx, &mut model, &commands)? {
                return Ok(());
            }
        }
    })();
    // Dropping the receiver first unblocks any feed waiting to send.
    drop(rx);
    drop(commands);
    stop_keys.store(true, Ordering::Relaxed);
    if let Some((_, old)) = stream.take() {
        stopped_streams.push(old.stop());
    }
    for thread in stopped_streams.into_iter().chain([keys, poller]) {
        let _ = thread.join();
    }
    result
}

/// Waits for a message, then applies it and every other one already queued; false to quit.
fn next(
    rx: &Receiver<Msg>,
    model: &mut Model,
    commands: &mpsc::SyncSender<super::model::Command>,
) -> anyhow::Result<bool> {
    let mut msg = rx.recv().context("every feed of corral top ended")?;
    loop {
        match msg {
            Msg::Key(key) => match input::handle(model, key) {
                Outcome::Redraw => {}
                Outcome::Quit => return Ok(false),
                Outcome::Send(command) => {
                    model.message = Some("working…".into());
                    if commands.try_send(command).is_err() {
                        model.message = Some("busy with the last command: try again".into());
                    }
                }
            },
            Msg::Redraw => {}
            Msg::Snapshot(list, at) => model.update(list, at),
            Msg::RefreshFailed(error) => model.refresh_failed(error),
            Msg::Done(message) => model.message = Some(message),
            Msg::Logs(app, lines) => model.push_logs(&app, lines),
            Msg::Quit => return Ok(false),
            Msg::TerminalFailed(e) => anyhow::bail!("cannot read the terminal: {e}"),
        }
        match rx.try_recv() {
            Ok(more) => msg = more,
            Err(_) => return Ok(true),
        }
    }
}
