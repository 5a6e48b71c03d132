//! `corral get`: the apps table (NAME READY UP-TO-DATE AVAILABLE STATUS RESTARTS CPU MEM AGE
//! REVISION), kubectl's columns.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};

use super::client::{block_on, client};
use super::table::{age, human_bytes, human_cpu, now_ms, Table};
use crate::api::{AppList, AppStatus, Client, ClientError, ManifestProblem};

/// Arguments of `corral get`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show only this app.
    #[arg(add = super::completion::app_names())]
    pub name: Option<String>,
    /// Output format: wide (adds USER, PIDS, COMMIT and FILE), json or yaml.
    #[arg(short = 'o', long = "output", value_enum)]
    pub output: Option<Output>,
    /// Only apps with these labels: `key=value[,key=value]` (repeatable).
    #[arg(short = 'l', long = "selector", value_name = "KEY=VALUE")]
    pub selector: Vec<String>,
    /// Print again whenever something changes (polls every second; Ctrl-C to stop).
    #[arg(short = 'w', long = "watch")]
    pub watch: bool,
}

/// Output formats of `get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// The table plus USER, PIDS, COMMIT and FILE.
    Wide,
    /// JSON (`AppList`, or `AppStatus` for one app).
    Json,
    /// YAML, same shapes as JSON.
    Yaml,
}

/// Runs `corral get`: the apps (then the Jobs, if any); `get jobs` or `get job/NAME` the Jobs.
pub fn run(mut args: Args) -> anyhow::Result<ExitCode> {
    let selector = parse_selector(&args.selector)?;
    let jobs = match args.name.as_deref().map(super::jobs_view::split_kind) {
        _ if matches!(args.name.as_deref(), Some("jobs" | "job")) => Some(None),
        Some((Some("job"), name)) => Some(Some(name.to_owned())),
        Some((Some("app"), name)) => {
            args.name = Some(name.to_owned());
            None
        }
        // A bare NAME may be a Job's (names are unique across kinds).
        Some((None, name)) if is_job(name)? => Some(Some(name.to_owned())),
        _ => None,
    };
    let cronjobs = match args.name.as_deref().map(super::jobs_view::split_kind) {
        _ if matches!(args.name.as_deref(), Some("cronjobs" | "cronjob")) => Some(None),
        Some((Some("cronjob"), name)) => Some(Some(name.to_owned())),
        _ => None,
    };
    if let Some(name) = cronjobs {
        return block_on(get_cronjobs(args, name))?;
    }
    match jobs {
        Some(name) => block_on(get_jobs(args, name))?,
        None => block_on(run_async(args, selector))?,
    }
}

/// Whether the controller runs a Job named `name` (and no app of that name).
fn is_job(name: &str) -> anyhow::Result<bool> {
    let list = block_on(client().list())?.map_err(cli_error)?;
    let app = list.apps.iter().any(|a| a.name == name);
    Ok(!app && list.jobs.iter().any(|j| j.name == name))
}

/// `corral get jobs` / `corral get job/NAME`.
async fn get_jobs(args: Args, name: Option<String>) -> anyhow::Result<ExitCode> {
    let list = client().list().await.map_err(cli_error)?;
    let jobs = match &name {
        Some(name) => vec![super::jobs_view::find(&list, name)?.clone()],
        None => list.jobs,
    };
    let text = match args.output {
        Some(Output::Json) if name.is_some() => json(&jobs[0])?,
        Some(Output::Json) => json(&jobs)?,
        Some(Output::Yaml) if name.is_some() => yaml(&jobs[0])?,
        Some(Output::Yaml) => yaml(&jobs)?,
        _ if jobs.is_empty() => {
            eprintln!("No Jobs found.");
            String::new()
        }
        _ => super::jobs_view::table(&jobs, now_ms()),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// `corral get cronjobs` / `corral get cronjob/NAME`.
async fn get_cronjobs(args: Args, name: Option<String>) -> anyhow::Result<ExitCode> {
    let list = client().list().await.map_err(cli_error)?;
    let cronjobs = match &name {
        Some(name) => vec![super::cronjobs_view::find(&list, name)?.clone()],
        None => list.cronjobs,
    };
    let text = match args.output {
        Some(Output::Json) if name.is_some() => json(&cronjobs[0])?,
        Some(Output::Json) => json(&cronjobs)?,
        Some(Output::Yaml) if name.is_some() => yaml(&cronjobs[0])?,
        Some(Output::Yaml) => yaml(&cronjobs)?,
        _ if cronjobs.is_empty() => {
            eprintln!("No CronJobs found.");
            String::new()
        }
        _ => super::cronjobs_view::table(&cronjobs, now_ms()),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

async fn run_async(args: Args, selector: Vec<(String, String)>) -> anyhow::Result<ExitCode> {
    let client = client();
    let mut shown: Option<String> = None;
    let mut last_key: Option<String> = None;
    loop {
        let list = fetch(&client, args.name.as_deref(), &selector).await?;
        let key = change_key(&list);
        if last_key.as_ref() != Some(&key) {
            let text = render(&list, args.name.as_deref(), args.output)?;
            if shown.is_some() {
                println!();
            }
            print!("{text}");
            let nothing = list.apps.is_empty() && list.jobs.is_empty();
            if nothing && args.output.is_none_or(|o| o == Output::Wide) {
                eprintln!("No apps found.");
            }
            shown = Some(text);
            last_key = Some(key);
        }
        if !args.watch {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// The list (or the one app) from the controller, filtered by labels.
async fn fetch(
    client: &Client,
    name: Option<&str>,
    selector: &[(String, String)],
) -> anyhow::Result<AppList> {
    let mut list = match name {
        Some(name) => {
            let app = client.get(name).await.map_err(cli_error)?;
            let errors = match client.list().await {
                Ok(all) => all
                    .errors
                    .into_iter()
                    .filter(|p| p.apps.iter().any(|a| a == name))
                    .collect(),
                Err(_) => Vec::new(),
            };
            AppList {
                jobs: Vec::new(),
                cronjobs: Vec::new(),
                apps: vec![app],
                errors,
            }
        }
        None => client.list().await.map_err(cli_error)?,
    };
    list.apps
        .retain(|app| selector.iter().all(|(k, v)| app.labels.get(k) == Some(v)));
    Ok(list)
}

/// Client errors as CLI errors (their messages are already sentences for people).
pub fn cli_error(e: ClientError) -> anyhow::Error {
    anyhow::Error::new(e)
}

/// What `-w` compares: everything but the figures that move every second (CPU, MEM, AGE).
fn change_key(list: &AppList) -> String {
    let mut key = String::new();
    for a in &list.apps {
        key.push_str(&format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{:?}|{:?}|{:?}\n",
            a.name,
            a.ready,
            a.updated,
            a.available,
            a.desired,
            status_word(a),
            a.restarts,
            a.revision,
            a.error,
            a.instances.iter().map(|i| i.pid).collect::<Vec<_>>(),
            a.rollout,
        ));
    }
    for e in &list.errors {
        key.push_str(&format!("{e:?}\n"));
    }
    key
}

/// The output text for one fetch.
fn render(list: &AppList, name: Option<&str>, output: Option<Output>) -> anyhow::Result<String> {
    Ok(match (output, name) {
        (Some(Output::Json), Some(_)) => json(&list.apps.first())?,
        (Some(Output::Json), None) => json(list)?,
        (Some(Output::Yaml), Some(_)) => yaml(&list.apps.first())?,
        (Some(Output::Yaml), None) => yaml(list)?,
        (wide, _) => {
            let mut out = String::new();
            if !list.apps.is_empty() {
                out = table(&list.apps, wide == Some(Output::Wide), now_ms()).render();
            }
            if name.is_none() && !list.jobs.is_empty() {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&super::jobs_view::table(&list.jobs, now_ms()));
            }
            out.push_str(&problems(&list.errors));
            out
        }
    })
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(value).context("cannot print JSON")?;
    s.push('\n');
    Ok(s)
}

fn yaml<T: serde::Serialize + ?Sized>(value: &T) -> anyhow::Result<String> {
    serde_yaml::to_string(value).context("cannot print YAML")
}

/// The apps table; `wide` adds USER, PIDS, COMMIT and FILE.
pub fn table(apps: &[AppStatus], wide: bool, now: u64) -> Table {
    let mut headers = vec![
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "STATUS",
        "RESTARTS",
        "CPU",
        "MEM",
        "AGE",
        "REVISION",
    ];
    if wide {
        headers.extend(["USER", "PIDS", "COMMIT", "FILE"]);
    }
    let mut t = Table::new(&headers);
    for a in apps {
        let mut row = vec![
            a.name.clone(),
            format!("{}/{}", a.ready, a.desired),
            a.updated.to_string(),
            a.available.to_string(),
            status_word(a),
            a.restarts.to_string(),
            human_cpu(a.cpu_percent),
            human_bytes(a.memory_bytes),
            age(a.created_ms, now),
            if a.revision.is_empty() {
                "-".into()
            } else {
                a.revision.clone()
            },
        ];
        if wide {
            // The name alone: the ids are in `describe`.
            let user = a.user.as_deref().and_then(|u| u.split(' ').next());
            row.push(user.unwrap_or("-").to_owned());
            let pids: Vec<String> = a
                .instances
                .iter()
                .filter_map(|i| i.pid.map(|p| p.to_string()))
                .collect();
            row.push(if pids.is_empty() {
                "-".into()
            } else {
                pids.join(",")
            });
            // `abc1234*`: the commit applied, `*` when the work tree was dirty (git's mark).
            row.push(a.commit.as_ref().map_or_else(
                || "-".into(),
                |c| format!("{}{}", c.short, if c.dirty { "*" } else { "" }),
            ));
            row.push(a.file.clone());
        }
        t.row(row);
    }
    t
}

pub use crate::api::status_text::status_word;

/// Manifest problems under a heading, one `file:line:column: message` per line.
fn problems(errors: &[ManifestProblem]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nManifest errors (apps keep their last good version):\n");
    for p in errors {
        out.push_str(&format!(
            "  {}:{}:{}: {}",
            p.file, p.line, p.column, p.message
        ));
        if !p.apps.is_empty() {
            out.push_str(&format!(" [apps: {}]", p.apps.join(", ")));
        }
        out.push('\n');
    }
    out
}

/// `-l a=b,c=d -l e=f` as pairs.
fn parse_selector(raw: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for part in raw
        .iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.is_empty())
    {
        let Some((k, v)) = part.split_once('=') else {
            bail!("label selector {part:?} is not key=value: write it like `-l tier=front`");
        };
        out.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str) -> AppStatus {
        AppStatus {
            name: name.into(),
            revision: "abc123".into(),
            desired: 2,
            ready: 2,
            updated: 1,
            available: 2,
            status: "Progressing".into(),
            restarts: 3,
            cpu_percent: Some(1.5),
            memory_bytes: Some(24_536_678),
            created_ms: 1_000,
            ..AppStatus::default()
        }
    }

    #[test]
    fn table_has_the_design_columns() {
        let mut broken = app("api");
        broken.error = Some("bad".into());
        broken.cpu_percent = None;
        let out = table(&[app("web"), broken], false, 6_000).render();
        assert_eq!(
            out,
            "NAME   READY   UP-TO-DATE   AVAILABLE   STATUS                         RESTARTS   CPU    MEM      AGE   REVISION\n\
             web    2/2     1            2           Progressing                    3          1.5%   23.4Mi   5s    abc123\n\
             api    2/2     1            2           Progressing (manifest error)   3          -      23.4Mi   5s    abc123\n"
        );
    }

    #[test]
    fn a_canary_shows_its_weight_pause_or_abort() {
        use crate::api::RolloutStatus;
        let mut a = app("web");
        a.desired = 4;
        a.ready = 5;
        a.updated = 1;
        a.available = 5;
        a.rollout = Some(RolloutStatus::canary_at_10_percent("aaa111", "abc123"));
        let row = |a: &AppStatus| {
            let text = table(std::slice::from_ref(a), false, 6_000).render();
            text.lines().nth(1).unwrap_or_default().to_owned()
        };
        assert_eq!(
            row(&a),
            "web    5/4     1            5           Canary 10%   3          1.5%   23.4Mi   5s    abc123"
        );
        a.status = "Paused".into();
        assert!(row(&a).contains(" Paused "), "{}", row(&a));
        a.status = "Degraded".into();
        assert!(row(&a).contains(" Degraded "), "{}", row(&a));
        a.status = "CrashLoopBackOff".into();
        assert!(row(&a).contains(" CrashLoopBackOff "), "{}", row(&a));
        a.status = "Progressing".into();
        a.error = Some("bad".into());
        assert!(
            row(&a).contains(" Canary 10% (manifest error) "),
            "{}",
            row(&a)
        );
    }

    #[test]
    fn json_keeps_the_old_fields_and_adds_the_new_ones() -> anyhow::Result<()> {
        let mut a = app("web");
        let text = json(&a)?;
        for field in [
            "\"ready\": 2",
            "\"updated\": 1",
            "\"available\": 2",
            "\"desired\": 2",
        ] {
            assert!(text.contains(field), "{field} in {text}");
        }
        assert!(!text.contains("rollout"), "no canary, no field: {text}");
        a.rollout = Some(crate::api::RolloutStatus::default());
        assert!(json(&a)?.contains("\"rollout\": {"));
        // A controller from before these fields still reads.
        let old = r#"{"name":"web","file":"","labels":{},"revision":"r","desired":2,"ready":2,
            "status":"Running","restarts":0,"cpuPercent":null,"memoryBytes":null,"createdMs":0,
            "error":null,"conditions":[],"instances":[],"events":[],"specYaml":""}"#;
        let parsed: AppStatus = serde_json::from_str(old)?;
        assert_eq!((parsed.ready, parsed.updated, parsed.rollout), (2, 0, None));
        Ok(())
    }

    #[test]
    fn selector_accepts_commas_and_rejects_garbage() -> anyhow::Result<()> {
        let s = parse_selector(&["a=b,c=d".into(), "e=f".into()])?;
        assert_eq!(s.len(), 3);
        assert!(parse_selector(&["nope".into()]).is_err());
        Ok(())
    }

    #[test]
    fn problems_are_listed_with_locations() {
        let text = problems(&[ManifestProblem {
            file: "m/web.yaml".into(),
            line: 3,
            column: 5,
            message: "unknown field `comand`".into(),
            apps: vec!["web".into()],
        }]);
        assert!(text.contains("  m/web.yaml:3:5: unknown field `comand` [apps: web]\n"));
    }
}
