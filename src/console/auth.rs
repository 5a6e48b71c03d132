//! Who may use the console: one-time login tokens (asked for through the control socket) and
//! the sessions they open, each with its CSRF token. All in the controller's memory, bounded:
//! a controller restart logs everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a login token stays valid.
pub const TOKEN_TTL: Duration = Duration::from_secs(5 * 60);
/// A session unused this long is gone.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 60 * 60);
/// At most this many sessions; the least recently used one goes first.
pub const MAX_SESSIONS: usize = 64;
/// At most this many unused login tokens; the oldest goes first.
pub const MAX_TOKENS: usize = 64;

/// The session cookie's name.
pub const COOKIE: &str = "corral_session";

/// The kernel's random source failed (it does not, on a working Linux).
#[derive(Debug, thiserror::Error)]
#[error("cannot read random bytes from the kernel: {0}")]
pub struct NoRandom(String);

/// 32 random bytes as 64 hex digits.
pub fn random_hex() -> Result<String, NoRandom> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| NoRandom(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// What a request's session allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The token every POST must carry in `X-CSRF-Token`.
    pub csrf: String,
    /// No action allowed.
    pub read_only: bool,
}

struct Token {
    expires: Instant,
    read_only: bool,
}

struct Live {
    session: Session,
    last_used: Instant,
}

#[derive(Default)]
struct State {
    tokens: HashMap<String, Token>,
    sessions: HashMap<String, Live>,
}

/// The tokens and sessions; shared by the console and its control-socket route.
#[derive(Default)]
pub struct Auth {
    state: Mutex<State>,
    /// `--console-read-only`: every session is read-only.
    all_read_only: bool,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("all_read_only", &self.all_read_only)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Empty; `all_read_only` makes every session read-only.
    pub fn new(all_read_only: bool) -> Self {
        Self {
            state: Mutex::default(),
            all_read_only,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new one-time login token, valid for [`TOKEN_TTL`] from `now`.
    pub fn issue(&self, read_only: bool, now: Instant) -> Result<String, NoRandom> {
        let token = random_hex()?;
        let mut state = self.state();
        state.tokens.retain(|_, t| t.expires > now);
        while state.tokens.len() >= MAX_TOKENS {
            let oldest = state
                .tokens
                .iter()
                .min_by_key(|(_, t)| t.expires)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => state.tokens.remove(&k),
                None => break,
            };
        }
        state.tokens.insert(
            token.clone(),
            Token {
                expires: now + TOKEN_TTL,
                read_only: read_only || self.all_read_only,
            },
        );
        Ok(token)
    }

    /// Uses up `token`: a new session's id, or `None` when the token is unknown, used or
    /// expired.
    pub fn redeem(&self, token: &str, now: Instant) -> Result<Option<String>, NoRandom> {
        let (id, csrf) = (random_hex()?, random_hex()?);
        let mut state = self.state();
        let Some(t) = state.tokens.remove(token) else {
            return Ok(None);
        };
        if t.expires <= now {
            return Ok(None);
        }
        state
            .sessions
            .retain(|_, s| now.saturating_duration_since(s.last_used) < SESSION_IDLE);
        while state.sessions.len() >= MAX_SESSIONS {
            let oldest = state
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => state.sessions.remove(&k),
                None => break,
            };
        }
        let session = Session {
            csrf,
            read_only: t.read_only,
        };
        state.sessions.insert(
            id.clone(),
            Live {
                session,
                last_used: now,
            },
        );
        Ok(Some(id))
    }

    /// The session `id` names, if it is live (its idle time starts again).
    pub fn session(&self, id: &str, now: Instant) -> Option<Session> {
        let mut state = self.state();
        let live = state.sessions.get_mut(id)?;
        if now.saturating_duration_since(live.last_used) >= SESSION_IDLE {
            state.sessions.remove(id);
            return None;
        }
        live.last_used = now;
        Some(live.session.clone())
    }
}

/// Equality that takes as long whatever the first difference (for the CSRF token).
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_one_session_once() {
        let auth = Auth::new(false);
        let now = Instant::now();
        let token = auth.issue(false, now).expect("token");
        assert_eq!(token.len(), 64);
        let id = auth.redeem(&token, now).expect("rng").expect("session");
        assert_eq!(auth.redeem(&token, now).expect("rng"), None, "single use");
        let session = auth.session(&id, now).expect("live");
        assert!(!session.read_only);
        assert_eq!(session.csrf.len(), 64);
        assert_eq!(auth.session("nope", now), None);
    }

    #[test]
    fn tokens_expire_and_sessions_idle_out() {
        let auth = Auth::new(false);
        let now = Instant::now();
        let token = auth.issue(false, now).expect("token");
        assert_eq!(auth.redeem(&token, now + TOKEN_TTL).expect("rng"), None);
        let token = auth.issue(false, now).expect("token");
        let id = auth.redeem(&token, now).expect("rng").expect("session");
        assert!(auth.session(&id, now + SESSION_IDLE / 2).is_some());
        assert!(
            auth.session(&id, now + SESSION_IDLE).is_some(),
            "used: idle again"
        );
        assert!(auth
            .session(&id, now + SESSION_IDLE * 2 + SESSION_IDLE / 2)
            .is_none());
    }

    #[test]
    fn read_only_comes_from_the_token_or_the_flag() {
        let now = Instant::now();
        let auth = Auth::new(false);
        let id = auth
            .redeem(&auth.issue(true, now).expect("t"), now)
            .expect("rng")
            .expect("s");
        assert!(auth.session(&id, now).expect("live").read_only);
        let all = Auth::new(true);
        let id = all
            .redeem(&all.issue(false, now).expect("t"), now)
            .expect("rng")
            .expect("s");
        assert!(all.session(&id, now).expect("live").read_only);
    }

    #[test]
    fn sessions_and_tokens_are_bounded() {
        let auth = Auth::new(false);
        let start = Instant::now();
        let mut ids = Vec::new();
        for i in 0..(MAX_SESSIONS + 5) {
            let now = start + Duration::from_secs(i as u64);
            let token = auth.issue(false, now).expect("t");
            ids.push(auth.redeem(&token, now).expect("rng").expect("s"));
        }
        let later = start + Duration::from_secs(1000);
        let live = ids
            .iter()
            .filter(|id| auth.session(id, later).is_some())
            .count();
        assert_eq!(live, MAX_SESSIONS);
        assert!(auth.session(&ids[0], later).is_none(), "the oldest went");
        for _ in 0..(MAX_TOKENS * 2) {
            auth.issue(false, start).expect("t");
        }
        assert!(auth.state().tokens.len() <= MAX_TOKENS);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
