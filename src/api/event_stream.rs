//! The client side of `GET /v1/events?watch=true`: events one JSON line at a time, for
//! `corral events -w` and other tools.

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::Method;

use super::client::{api_error, events_path, request, CALL_TIMEOUT};
use super::{Client, ClientError, Event};

/// A line longer than this is not an event: the stream is given up rather than buffered forever.
const MAX_LINE: usize = 1 << 20;

/// Events as the controller sends them, oldest kept first, then live; see [`Client::watch_events`].
#[derive(Debug)]
pub struct EventStream {
    client: Client,
    body: Incoming,
    /// Bytes received after the last complete line.
    pending: Vec<u8>,
    /// Drives the connection; aborted when the stream is dropped.
    conn: tokio::task::JoinHandle<()>,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

impl Client {
    /// `GET /v1/events?watch=true`: the events kept so far, then each new one (of `app` only,
    /// if given) until the controller stops.
    pub async fn watch_events(&self, app: Option<&str>) -> Result<EventStream, ClientError> {
        let (mut sender, conn) = self.connect().await?;
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        let request =
            request(Method::GET, &events_path(app, true)).map_err(|e| self.transport(e.into()))?;
        let response = match tokio::time::timeout(CALL_TIMEOUT, sender.send_request(request)).await
        {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Err(self.transport(e.into())),
            Err(_) => {
                let why = format!("no answer within {}s", CALL_TIMEOUT.as_secs());
                return Err(self.transport(why.into()));
            }
        };
        let status = response.status();
        if !status.is_success() {
            let body = response.into_body().collect().await;
            let body = body.map(|b| b.to_bytes()).unwrap_or_default();
            return Err(api_error(status, &body));
        }
        Ok(EventStream {
            client: self.clone(),
            body: response.into_body(),
            pending: Vec::new(),
            conn,
        })
    }
}

impl EventStream {
    /// The next event; `Ok(None)` once the controller has ended the stream (it stopped).
    pub async fn next(&mut self) -> Result<Option<Event>, ClientError> {
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let event = serde_json::from_slice(&line).map_err(|e| self.client.decode(e))?;
                return Ok(Some(event));
            }
            if self.pending.len() > MAX_LINE {
                let why = format!("an event line longer than {MAX_LINE} bytes");
                return Err(self.client.transport(why.into()));
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(self.client.transport(e.into())),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.pending.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}
