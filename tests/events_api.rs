//! `GET /v1/events` over a real Unix socket, with a fake controller loop: the typed client's
//! list and stream, the raw HTTP shape (JSON lines, chunked), and a bad query.

use crate::api_common;

use corral::api::Client;
use corral::home::Home;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test]
async fn the_client_lists_and_streams_events_filtered_by_app() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let home = Home::at(tmp.path().join("home"));
    let running = api_common::start(&home, "/m").await?;
    let client = Client::new(&home);

    let all = client.events(None).await?;
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2]);
    let web = client.events(Some("web")).await?;
    assert_eq!(web, vec![api_common::stream_event(1, "web")]);

    let mut stream = client.watch_events(Some("web")).await?;
    let mut got = Vec::new();
    while let Some(event) = stream.next().await? {
        got.push(event);
    }
    let want = vec![
        api_common::stream_event(1, "web"),
        api_common::stream_event(3, "web"),
    ];
    assert_eq!(got, want, "the backlog, then the live event, then the end");

    running.shutdown.cancel();
    running.server.await??;
    Ok(())
}

/// One raw HTTP/1.1 request on the socket; the whole answer as text.
async fn raw(home: &Home, target: &str) -> Result<String, Box<dyn std::error::Error>> {
    let mut stream = tokio::net::UnixStream::connect(home.socket()).await?;
    let request = format!("GET {target} HTTP/1.1\r\nHost: corral\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(answer)
}

#[tokio::test]
async fn the_stream_is_chunked_json_lines_and_a_bad_query_is_refused() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let home = Home::at(tmp.path().join("home"));
    let running = api_common::start(&home, "/m").await?;

    let answer = raw(&home, "/v1/events?since=1&watch=true").await?;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/x-ndjson"),
        "{answer}"
    );
    assert!(lower.contains("transfer-encoding: chunked"), "{answer}");
    let lines: Vec<&str> = answer.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(lines.len(), 2, "events 2 and 3 only (since=1): {answer}");
    assert!(lines[0].contains(r#""seq":2,"#) && lines[0].contains(r#""app":"api""#));
    assert!(lines[1].contains(r#""seq":3,"#) && lines[1].contains(r#""index":0"#));

    let answer = raw(&home, "/v1/events?watch=yes").await?;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("/v1/events takes app=NAME, since=SEQ and watch=true|false"),
        "{answer}"
    );

    let answer = raw(&home, "/v1/nothing").await?;
    assert!(answer.contains("/v1/events[?app=NAME&since=SEQ&watch=true]"));

    running.shutdown.cancel();
    running.server.await??;
    Ok(())
}
