//! The hand-over conversation between a controller and its successor (`corral upgrade`): one
//! JSON line per message over a Unix stream socket the old controller passes to the new one
//! as the fd named [`HANDOVER`].
//!
//! old → new: [`Message::State`] (what is not on disk), new → old: [`Message::Ready`] (its
//! sockets and instances are taken, nothing accepted yet), old → new: [`Message::Go`] (the old
//! one no longer accepts: the new one does from now on). The socket closing instead of the
//! next message means the other side gave up: the new one exits, the old one keeps everything.

use std::collections::BTreeMap;
use std::io;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

use crate::api::Event;

/// The name of the hand-over socket among the passed fds (`LISTEN_FDNAMES`).
pub const HANDOVER: &str = "corral-handover";

/// The name of the control socket (`corral.sock`) among the passed fds.
pub const CONTROL: &str = "corral-control";

/// A message is refused beyond this size (the state holds at most a thousand events).
const MAX_LINE: usize = 64 << 20;

/// The controller's memory that no file holds, handed to its successor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The pid of the controller handing over.
    pub from_pid: u32,
    /// Its version.
    pub from_version: String,
    /// The last event's sequence number: the successor numbers on from it.
    pub last_seq: u64,
    /// The events kept for `corral events` (and, per app, for `describe`), oldest first.
    pub events: Vec<Event>,
    /// `corral reload` count per app, part of the revision its instances run.
    pub reloads: BTreeMap<String, u32>,
    /// When each app was first seen (unix ms), for AGE.
    pub created: BTreeMap<String, u64>,
    /// Rollouts: those settled and those in flight.
    pub rollouts: Rollouts,
}

/// The rollout state of every app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollouts {
    /// The revision and instance count each app last completed a rollout at.
    pub settled: BTreeMap<String, (String, u32)>,
    /// Rollouts under way.
    pub in_flight: Vec<InFlight>,
}

/// One rollout under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InFlight {
    /// The app.
    pub app: String,
    /// The revision rolled out.
    pub revision: String,
    /// How long ago it last progressed (ms): its deadline counts from there.
    pub since_progress_ms: u64,
    /// New instances ready.
    pub ready_new: u32,
    /// The most new instances ready at once so far.
    pub best: u32,
    /// Whether its steps are events.
    pub announced: bool,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Message {
    /// old → new, first: the state to start from.
    State(Box<State>),
    /// new → old: ready to take over.
    Ready {
        /// The new controller's pid.
        pid: u32,
        /// Its version.
        version: String,
    },
    /// old → new: take over now.
    Go,
}

/// One end of the conversation.
#[derive(Debug)]
pub struct Channel {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Channel {
    /// Talks over `stream`.
    pub fn new(stream: UnixStream) -> Self {
        let (read, writer) = stream.into_split();
        Self {
            reader: BufReader::new(read),
            writer,
        }
    }

    /// Sends one message.
    pub async fn send(&mut self, message: &Message) -> io::Result<()> {
        let mut line = serde_json::to_vec(message).map_err(io::Error::other)?;
        line.push(b'\n');
        self.writer.write_all(&line).await?;
        self.writer.flush().await
    }

    /// The next message; `None` when the other side closed the socket.
    pub async fn recv(&mut self) -> io::Result<Option<Message>> {
        let mut line = Vec::new();
        loop {
            let buf = self.reader.fill_buf().await?;
            if buf.is_empty() {
                return Ok(None);
            }
            match buf.iter().position(|b| *b == b'\n') {
                Some(end) => {
                    line.extend_from_slice(&buf[..end]);
                    self.reader.consume(end + 1);
                    break;
                }
                None => {
                    let n = buf.len();
                    line.extend_from_slice(buf);
                    self.reader.consume(n);
                }
            }
            if line.len() > MAX_LINE {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "hand-over message too long",
                ));
            }
        }
        serde_json::from_slice(&line)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_cross_in_order_and_a_close_ends_the_conversation() {
        let (a, b) = UnixStream::pair().expect("pair");
        let (mut old, mut new) = (Channel::new(a), Channel::new(b));
        let state = State {
            last_seq: 41,
            reloads: [("web".to_owned(), 2)].into(),
            ..State::default()
        };
        old.send(&Message::State(Box::new(state.clone())))
            .await
            .expect("send");
        old.send(&Message::Go).await.expect("send");
        assert_eq!(
            new.recv().await.expect("recv"),
            Some(Message::State(Box::new(state)))
        );
        assert_eq!(new.recv().await.expect("recv"), Some(Message::Go));
        drop(old);
        assert_eq!(new.recv().await.expect("recv"), None);
    }
}
