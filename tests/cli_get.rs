//! `get`, `describe`, `restart` and `apply` with the real binary against a fake controller.

use crate::api_common;

use std::process::Output;
use std::time::Duration;

use corral::home::Home;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Runs the binary with `CORRAL_HOME` set, without blocking the runtime.
async fn corral(home: &Home, args: &[&str]) -> std::io::Result<Output> {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(args)
        .env("CORRAL_HOME", home.root())
        .env_remove("CORRAL_MANIFESTS")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .map_err(|_| std::io::Error::other("corral did not finish within 20s"))?
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_describe_restart_talk_to_the_controller() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let home = Home::at(tmp.path().join("home"));
    let running = api_common::start(&home, "/m").await?;

    let out = corral(&home, &["get"]).await?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with(
            "NAME   READY   UP-TO-DATE   AVAILABLE   STATUS    RESTARTS   CPU    MEM      AGE"
        ),
        "{stdout}"
    );
    assert!(header.ends_with("REVISION"), "{stdout}");
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row[..8],
        ["web", "2/2", "2", "2", "Running", "1", "1.5%", "23.4Mi"],
        "{stdout}"
    );
    assert_eq!(row[9], "5f2c9a1b");
    assert!(
        stdout.contains("Manifest errors")
            && stdout.contains("/m/api.yaml:4:3: unknown field `comand`"),
        "{stdout}"
    );

    let out = corral(&home, &["get", "-o", "wide"]).await?;
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("1111,2222") && stdout.contains("/m/web.yaml"),
        "{stdout}"
    );

    let out = corral(&home, &["get", "-o", "json"]).await?;
    let list: corral::api::AppList = serde_json::from_slice(&out.stdout)?;
    assert_eq!(list, api_common::list());

    let out = corral(&home, &["get", "-l", "tier=back"]).await?;
    assert!(
        !text(&out.stdout).contains("web"),
        "label filter: {}",
        text(&out.stdout)
    );

    let out = corral(&home, &["get", "nope"]).await?;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: app \"nope\" not found: corral get lists apps\n"
    );

    let out = corral(&home, &["describe", "web"]).await?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for needle in [
        "Name:           web\n",
        "Labels:         tier=front\n",
        "Desired/Ready:  2/2\nUp-to-date:     2\nAvailable:      2\n",
        "MinimumReplicasAvailable",
        "INDEX   PID    PHASE",
        "exit code 1",
        "Spec:\n  command: [node, server.js]\n",
        "instance 0 started (pid 1111)",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }

    let out = corral(&home, &["restart", "web"]).await?;
    assert_eq!(
        text(&out.stdout),
        "app/web restarted\n",
        "{}",
        text(&out.stderr)
    );
    let out = corral(&home, &["reload", "web"]).await?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("in progress"),
        "{}",
        text(&out.stderr)
    );

    running.shutdown.cancel();
    running.server.await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_asks_the_controller_for_its_manifests_directory() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let home = Home::at(tmp.path().join("home"));
    let manifests = tmp.path().join("manifests");
    let running = api_common::start(&home, &manifests.to_string_lossy()).await?;
    let input = tmp.path().join("web.yaml");
    std::fs::write(
        &input,
        "apiVersion: corral/v1\nkind: App\nmetadata:\n  name: web\nspec:\n  command: x\n",
    )?;
    let out = corral(&home, &["apply", "-f", &input.to_string_lossy()]).await?;
    assert_eq!(
        text(&out.stdout),
        "app/web created\n",
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).is_empty(),
        "resync succeeded quietly: {}",
        text(&out.stderr)
    );
    assert!(manifests.join("web.yaml").is_file());
    running.shutdown.cancel();
    running.server.await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_again_when_an_app_changes() -> TestResult {
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncBufReadExt, BufReader};

    let tmp = tempfile::tempdir()?;
    let home = Home::at(tmp.path().join("home"));
    let state = Arc::new(Mutex::new(api_common::list()));
    let running = api_common::start_with(&home, "/m", state.clone()).await?;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["get", "-w"])
        .env("CORRAL_HOME", home.root())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    // Reads lines until one starting with `web` contains `want`.
    let mut wait_for_row = async |want: &str| -> Result<(), Box<dyn std::error::Error>> {
        loop {
            let line = tokio::time::timeout_at(deadline, lines.next_line())
                .await??
                .ok_or("corral get -w ended")?;
            if line.starts_with("web ") && line.contains(want) {
                return Ok(());
            }
        }
    };
    wait_for_row(" Running ").await?;
    state.lock().map_err(|_| "poisoned")?.apps[0].status = "CrashLoopBackOff".into();
    wait_for_row(" CrashLoopBackOff ").await?;
    child.kill().await?;
    running.shutdown.cancel();
    running.server.await??;
    Ok(())
}
