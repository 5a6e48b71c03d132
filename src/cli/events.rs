//! `corral events [NAME] [-w] [-o json]`: the controller's events (`kubectl get events -w`),
//! as a table (LAST SEEN TYPE REASON OBJECT MESSAGE) or as JSON lines for log shippers.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::bail;
use serde::Serialize;

use super::client::{block_on, client};
use super::get::cli_error;
use super::table::{age, now_ms, Table};
use crate::api::Event;

/// Arguments of `corral events`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this app's events (a name the controller does not know shows none, and is no error).
    #[arg(add = super::completion::app_names())]
    pub name: Option<String>,
    /// Keep printing events as they happen, until Ctrl-C or until the controller stops.
    #[arg(short = 'w', long = "watch")]
    pub watch: bool,
    /// Output format: json prints one JSON object per line (with `time` as RFC 3339).
    #[arg(short = 'o', long = "output", value_enum)]
    pub output: Option<Output>,
}

/// Output formats of `events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// One JSON object per line: seq, time, atMs, kind, reason, app, index, message.
    Json,
}

/// Column widths of the `-w` table: rows come one at a time, so they cannot be measured first.
const WIDTHS: [usize; 4] = [9, 7, 19, 15];
/// The table's columns.
const HEADERS: [&str; 5] = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"];

/// Runs `corral events`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    block_on(run_async(args))?
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    let client = client();
    let json = args.output == Some(Output::Json);
    let name = args.name.as_deref();
    if !args.watch {
        let events = client.events(name).await.map_err(cli_error)?;
        if json {
            for e in &events {
                print_line(&json_line(e)?);
            }
        } else if events.is_empty() {
            eprintln!("No events found.");
        } else {
            print!("{}", table(&events, now_ms()));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut stream = client.watch_events(name).await.map_err(cli_error)?;
    if !json {
        print_line(&row(HEADERS.map(str::to_string)));
    }
    loop {
        let next = tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            next = stream.next() => next,
        };
        match next {
            Ok(Some(e)) if json => print_line(&json_line(&e)?),
            Ok(Some(e)) => print_line(&row(cells(&e, now_ms()))),
            Ok(None) => bail!(
                "the controller ended the event stream: it stopped; \
                 run `corral events -w` again once it runs"
            ),
            Err(e) => bail!("lost the controller while watching events: {e}"),
        }
    }
}

/// Writes one line to stdout; a closed stdout (`| head`) ends the command quietly.
fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// The list, aligned.
fn table(events: &[Event], now: u64) -> String {
    let mut t = Table::new(&HEADERS);
    for e in events {
        t.row(cells(e, now).to_vec());
    }
    t.render()
}

/// One `-w` row at the fixed widths (a longer cell pushes the rest right).
fn row(cells: [String; 5]) -> String {
    let mut line = String::new();
    for (cell, width) in cells.iter().zip(WIDTHS) {
        line.push_str(&format!("{cell:<width$}   "));
    }
    line.push_str(&cells[4]);
    line.trim_end().to_string()
}

/// LAST SEEN, TYPE, REASON, OBJECT, MESSAGE of one event.
fn cells(e: &Event, now: u64) -> [String; 5] {
    [
        age(e.at_ms, now),
        e.kind.clone(),
        e.reason.clone(),
        object(e),
        e.message.clone(),
    ]
}

/// `app/web`, `app/web-2` for instance 2, `controller` for the controller's own events.
fn object(e: &Event) -> String {
    match (&e.app, e.index) {
        (Some(app), Some(index)) => format!("app/{app}-{index}"),
        (Some(app), None) => format!("app/{app}"),
        (None, _) => "controller".into(),
    }
}

/// One event for programs: the API's fields plus `time` (RFC 3339, UTC).
#[derive(Serialize)]
struct JsonLine<'a> {
    time: String,
    #[serde(flatten)]
    event: &'a Event,
}

fn json_line(e: &Event) -> anyhow::Result<String> {
    let at = UNIX_EPOCH + Duration::from_millis(e.at_ms);
    let time = humantime::format_rfc3339_millis(at).to_string();
    Ok(serde_json::to_string(&JsonLine { time, event: e })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(app: Option<&str>, index: Option<u32>) -> Event {
        Event {
            seq: 7,
            at_ms: 1_700_000_000_123,
            kind: "Warning".into(),
            reason: "Exited".into(),
            app: app.map(str::to_owned),
            index,
            message: "instance 2 (pid 9) exited: exit code 3".into(),
        }
    }

    #[test]
    fn objects_name_the_app_the_instance_or_the_controller() {
        assert_eq!(object(&event(Some("web"), Some(2))), "app/web-2");
        assert_eq!(object(&event(Some("web"), None)), "app/web");
        assert_eq!(object(&event(None, None)), "controller");
    }

    #[test]
    fn json_lines_carry_seq_time_app_and_index() {
        let line = json_line(&event(Some("web"), Some(2))).expect("json");
        assert_eq!(
            line,
            r#"{"time":"2023-11-14T22:13:20.123Z","seq":7,"atMs":1700000000123,"kind":"Warning","reason":"Exited","app":"web","index":2,"message":"instance 2 (pid 9) exited: exit code 3"}"#
        );
    }

    #[test]
    fn watch_rows_keep_their_columns() {
        let now = 1_700_000_005_000;
        let line = row(cells(&event(Some("web"), Some(2)), now));
        assert_eq!(
            line,
            "4s          Warning   Exited                app/web-2         instance 2 (pid 9) exited: exit code 3"
        );
        let header = row(HEADERS.map(str::to_string));
        assert_eq!(header.find("OBJECT"), line.find("app/web-2"));
    }
}
