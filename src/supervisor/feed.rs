//! The controller's event stream (`corral events`): every event numbered in order, the last
//! [`RECENT`] kept for listing, and a bounded broadcast for live watchers.

use std::collections::VecDeque;

use tokio::sync::broadcast;

use crate::api::{Event, EventSubscription as Subscription};

/// Events kept across all apps for `corral events` (older ones are dropped).
pub const RECENT: usize = 1000;
/// Events a live watcher may fall behind by before it misses some (and is told so).
pub const LIVE: usize = 256;

/// The numbered stream of events: a bounded ring for listing and a broadcast for watchers.
#[derive(Debug)]
pub struct Feed {
    last_seq: u64,
    recent: VecDeque<Event>,
    live: broadcast::Sender<Event>,
}

impl Default for Feed {
    fn default() -> Self {
        Self {
            last_seq: 0,
            recent: VecDeque::with_capacity(RECENT),
            live: broadcast::channel(LIVE).0,
        }
    }
}

impl Feed {
    /// Numbers `event`, keeps it, and sends it to the watchers; returns it numbered.
    pub fn publish(&mut self, mut event: Event) -> Event {
        self.last_seq += 1;
        event.seq = self.last_seq;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(event.clone());
        // No watcher is fine: the event is kept for the next one.
        let _ = self.live.send(event.clone());
        event
    }

    /// The last sequence number and the retained events, for a successor (`corral upgrade`).
    pub fn export(&self) -> (u64, Vec<Event>) {
        (self.last_seq, self.recent.iter().cloned().collect())
    }

    /// Goes on from a predecessor's [`Feed::export`]: numbering continues after `last_seq`.
    pub fn import(&mut self, last_seq: u64, events: Vec<Event>) {
        self.last_seq = self.last_seq.max(last_seq);
        let skip = events.len().saturating_sub(RECENT);
        self.recent = events.into_iter().skip(skip).collect();
    }

    /// The retained events and a receiver of later ones, taken together so none is lost or doubled.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            backlog: self.recent.iter().cloned().collect(),
            live: self.live.subscribe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(message: &str) -> Event {
        Event {
            kind: "Normal".into(),
            reason: "Started".into(),
            app: Some("web".into()),
            message: message.into(),
            ..Event::default()
        }
    }

    #[test]
    fn numbers_events_in_order_and_keeps_only_the_recent_ones() {
        let mut feed = Feed::default();
        for i in 0..RECENT + 5 {
            feed.publish(event(&format!("n{i}")));
        }
        let backlog = feed.subscribe().backlog;
        assert_eq!(backlog.len(), RECENT);
        assert_eq!(backlog[0].seq, 6);
        assert_eq!(backlog[0].message, "n5");
        assert!(backlog.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    }

    #[tokio::test]
    async fn a_watcher_gets_what_follows_its_backlog_without_gap_or_repeat() {
        let mut feed = Feed::default();
        feed.publish(event("before"));
        let mut sub = feed.subscribe();
        feed.publish(event("after"));
        assert_eq!(sub.backlog.len(), 1);
        let next = sub.live.recv().await.expect("live event");
        assert_eq!((next.seq, next.message.as_str()), (2, "after"));
    }

    #[tokio::test]
    async fn a_slow_watcher_is_told_how_many_it_missed_and_memory_stays_bounded() {
        let mut feed = Feed::default();
        let mut sub = feed.subscribe();
        for i in 0..LIVE * 4 {
            feed.publish(event(&format!("n{i}")));
        }
        match sub.live.recv().await {
            Err(broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, (LIVE * 3) as u64),
            other => panic!("expected Lagged, got {other:?}"),
        }
        let next = sub.live.recv().await.expect("the watcher goes on");
        assert_eq!(next.seq, (LIVE * 3 + 1) as u64);
        assert_eq!(feed.recent.len(), RECENT.min(LIVE * 4));
        assert!(feed.live.len() <= LIVE);
    }
}
