//! `corral upgrade`: the running controller hands everything over to the corral binary now at
//! the path it was started from (nginx's binary upgrade): no app restarted, no connection lost.

use std::process::ExitCode;
use std::time::Duration;

use super::client::{block_on, client};

/// Arguments of `corral upgrade`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// How long to look for the new controller when the old one's answer got lost on the way.
const FIND_SUCCESSOR: Duration = Duration::from_secs(10);

/// Runs `corral upgrade`: waits until the new controller took over, or says why it did not.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    let client = client();
    block_on(async {
        let before = client.info().await?;
        let error = match client.upgrade().await {
            Ok(done) => {
                println!(
                    "upgraded: corral {} (pid {}) → corral {} (pid {}), ready in {} ms; the old controller finishes what is in flight and exits, every app keeps running",
                    done.old_version, done.old_pid, done.new_version, done.new_pid, done.took_ms
                );
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) if e.status().is_some() => e,
            // The old controller exits right after answering: an answer lost on the way is
            // told apart by asking who answers now.
            Err(e) => match successor(&client, before.pid).await {
                Some(after) => {
                    println!(
                        "upgraded: corral {} (pid {}) → corral {} (pid {}); the old controller finishes what is in flight and exits, every app keeps running",
                        before.version, before.pid, after.version, after.pid
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                None => e,
            },
        };
        eprintln!("error: upgrade failed, nothing changed: {error}");
        Ok(ExitCode::FAILURE)
    })?
}

/// The controller answering instead of `old`, if one does within [`FIND_SUCCESSOR`].
async fn successor(client: &crate::api::Client, old: u32) -> Option<crate::api::ControllerInfo> {
    let deadline = tokio::time::Instant::now() + FIND_SUCCESSOR;
    while tokio::time::Instant::now() < deadline {
        match client.info().await {
            Ok(info) if info.pid != old => return Some(info),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    None
}
