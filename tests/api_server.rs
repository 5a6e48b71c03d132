//! The control API server and client, end to end over a real Unix socket.

use crate::api_common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use corral::api::{ApiError, Client, RolloutVerb, Server};
use corral::home::Home;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn mode(path: &std::path::Path) -> std::io::Result<u32> {
    Ok(std::fs::symlink_metadata(path)?.permissions().mode() & 0o777)
}

#[tokio::test]
async fn every_route_answers_through_the_client() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let home = Home::at(tmp.path().join("home"));
    let running = api_common::start(&home, "/m").await?;
    let client = Client::new(&home);

    assert_eq!(client.list().await?, api_common::list());
    assert_eq!(client.get("web").await?, api_common::web());
    let missing = client.get("nope").await.err().ok_or("get nope succeeded")?;
    assert_eq!(missing.status(), Some(404));
    assert_eq!(
        missing.to_string(),
        "app \"nope\" not found: corral get lists apps"
    );

    assert_eq!(client.restart("web").await?.message, "app/web restarted");
    let missing = client
        .restart("nope")
        .await
        .err()
        .ok_or("restart nope succeeded")?;
    assert_eq!(missing.status(), Some(404));
    let refused = client.reload("web").await.err().ok_or("reload succeeded")?;
    assert_eq!(refused.status(), Some(409));
    assert!(refused.to_string().contains("in progress"), "{refused}");
    let missing = client
        .reload("nope")
        .await
        .err()
        .ok_or("reload nope succeeded")?;
    assert_eq!(missing.status(), Some(404));

    let history = client.history("web").await?;
    assert_eq!((history.len(), history[0].current), (1, true));
    let missing = client
        .history("nope")
        .await
        .err()
        .ok_or("history nope succeeded")?;
    assert_eq!(missing.status(), Some(404));

    for verb in [
        RolloutVerb::Promote { full: false },
        RolloutVerb::Promote { full: true },
        RolloutVerb::Pause,
        RolloutVerb::Resume,
        RolloutVerb::Abort,
        RolloutVerb::Retry,
    ] {
        let reply = client.rollout("web", verb).await?;
        assert_eq!(reply.message, format!("app/web {}", verb.segment()));
    }
    let missing = client
        .rollout("nope", RolloutVerb::Pause)
        .await
        .err()
        .ok_or("rollout pause nope succeeded")?;
    assert_eq!(missing.status(), Some(404));

    assert_eq!(client.resync().await?.message, "resynced");
    let info = client.info().await?;
    assert_eq!(
        (info.pid, info.manifests.as_str()),
        (api_common::FAKE_PID, "/m")
    );

    running.shutdown.cancel();
    running.server.await??;
    assert!(!home.socket().exists(), "the socket is removed on shutdown");
    let after = client
        .list()
        .await
        .err()
        .ok_or("list after shutdown succeeded")?;
    assert!(after.is_no_controller(), "{after}");
    Ok(())
}

#[tokio::test]
async fn socket_is_owner_only_in_an_owner_only_home() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("home");
    std::fs::create_dir(&root)?;
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))?;
    let home = Home::at(&root);
    let running = api_common::start(&home, "/m").await?;
    assert_eq!(mode(&root)?, 0o700, "a wider home is tightened");
    assert_eq!(mode(&home.socket())?, 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(&root)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| !["corral.sock", "run", "history"].contains(&n.to_str().unwrap_or_default()))
        .collect();
    assert!(leftovers.is_empty(), "no temp socket left: {leftovers:?}");
    assert_eq!(
        mode(&root.join("run"))?,
        0o700,
        "state only the controller reads"
    );
    assert_eq!(mode(&root.join("history"))?, 0o700);
    running.shutdown.cancel();
    running.server.await??;
    Ok(())
}

#[tokio::test]
async fn a_second_controller_is_refused_with_the_first_ones_pid() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let home = Home::at(tmp.path().join("home"));
    let running = api_common::start(&home, "/m").await?;
    let second = Server::bind(&home).await;
    match second {
        Err(e @ ApiError::AlreadyRunning { .. }) => assert_eq!(
            e.to_string(),
            format!(
                "another controller is already running (pid {}) on {}",
                api_common::FAKE_PID,
                home.socket().display()
            )
        ),
        other => return Err(format!("expected AlreadyRunning, got {other:?}").into()),
    }
    // The refused attempt must not have disturbed the first server.
    assert_eq!(Client::new(&home).info().await?.pid, api_common::FAKE_PID);
    running.shutdown.cancel();
    running.server.await??;
    Ok(())
}

#[tokio::test]
async fn a_stale_socket_is_replaced() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let home = Home::at(tmp.path().join("home"));
    std::fs::create_dir(home.root())?;
    std::fs::set_permissions(home.root(), std::fs::Permissions::from_mode(0o700))?;
    // A socket file nobody listens on, as a crashed controller leaves behind.
    drop(std::os::unix::net::UnixListener::bind(home.socket())?);
    assert!(home.socket().exists());
    let running = api_common::start(&home, "/m").await?;
    assert_eq!(Client::new(&home).info().await?.pid, api_common::FAKE_PID);
    running.shutdown.cancel();
    running.server.await??;
    Ok(())
}

#[tokio::test]
async fn a_regular_file_in_place_of_the_socket_is_not_removed() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let home = Home::at(tmp.path().join("home"));
    std::fs::create_dir(home.root())?;
    std::fs::write(home.socket(), "precious")?;
    let err = Server::bind(&home).await.err().ok_or("bind succeeded")?;
    assert!(matches!(err, ApiError::NotASocket { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(home.socket())?, "precious");
    Ok(())
}

#[tokio::test]
async fn a_symlinked_home_is_refused() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let real = tmp.path().join("real");
    std::fs::create_dir(&real)?;
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&real, &link)?;
    let err = Server::bind(&Home::at(&link))
        .await
        .err()
        .ok_or("bind succeeded")?;
    assert!(matches!(err, ApiError::HomeIsSymlink { .. }), "{err}");
    assert!(err.to_string().contains("is a symlink"), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_gone_controller_loop_answers_503() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let home = Home::at(tmp.path().join("home"));
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    drop(rx);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = Server::bind(&home).await?;
    let task = tokio::spawn(server.run(tx, shutdown.clone()));
    let err = Client::new(&home)
        .list()
        .await
        .err()
        .ok_or("list succeeded")?;
    assert_eq!(err.status(), Some(503), "{err}");
    shutdown.cancel();
    task.await??;
    Ok(())
}

#[tokio::test]
async fn no_socket_means_no_controller() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let home = Home::at(tmp.path());
    let err = Client::new(&home)
        .list()
        .await
        .err()
        .ok_or("list succeeded")?;
    assert!(err.is_no_controller());
    assert!(err
        .to_string()
        .starts_with("no controller is running (no socket at "));
    Ok(())
}

#[tokio::test]
async fn curl_works_over_the_socket() -> TestResult {
    let Ok(curl) = which_curl() else {
        eprintln!("curl not found: skipping");
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let home = Home::at(tmp.path().join("home"));
    let running = api_common::start(&home, "/m").await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let output = tokio::time::timeout_at(
        deadline.into(),
        tokio::process::Command::new(curl)
            .arg("-sS")
            .arg("--unix-socket")
            .arg(home.socket())
            .arg("http://x/v1/apps")
            .output(),
    )
    .await??;
    assert!(output.status.success(), "{output:?}");
    let list: corral::api::AppList = serde_json::from_slice(&output.stdout)?;
    assert_eq!(list, api_common::list());
    running.shutdown.cancel();
    running.server.await??;
    Ok(())
}

fn which_curl() -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join("curl"))
        .find(|p| p.is_file())
        .ok_or(())
}

#[tokio::test]
async fn shutdown_does_not_wait_forever_for_a_stuck_client() -> TestResult {
    use tokio::io::AsyncWriteExt;
    let tmp = tempfile::tempdir()?;
    let home = Home::at(tmp.path().join("home"));
    let running = api_common::start(&home, "/m").await?;
    let mut stuck = tokio::net::UnixStream::connect(home.socket()).await?;
    stuck
        .write_all(b"GET /v1/apps HTTP/1.1\r\nHost: x\r\n")
        .await?;
    // Make sure the server has taken the connection before asking it to stop.
    assert_eq!(Client::new(&home).info().await?.pid, api_common::FAKE_PID);
    let asked = Instant::now();
    running.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(15), running.server).await???;
    assert!(asked.elapsed() < Duration::from_secs(15));
    assert!(!home.socket().exists());
    drop(stuck);
    Ok(())
}
