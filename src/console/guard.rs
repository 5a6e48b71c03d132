//! The checks every console request passes, in order: `Host` names the console (else 421:
//! DNS rebinding), `Origin`, when sent, is the console's own (else 403), `/api/*` needs a
//! session (else 401), and a POST the session's CSRF token and a session that may act (else
//! 403). Every answer gets the security headers.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::{same_secret, Session, COOKIE};
use super::server::Shared;
use super::tls::Tls;
use crate::api::routes::Failure;

/// The header a POST carries its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The names a `Host` header may give: the console's own.
#[derive(Debug, Clone)]
pub struct Hosts {
    /// Host parts accepted (lower case, IPv6 without brackets).
    pub names: Vec<String>,
    /// The port the console listens on.
    pub port: u16,
    /// Any port (or none) goes with an accepted name: behind a proxy, the public port.
    pub any_port: bool,
    /// With TLS, every name the certificate is valid for is accepted too.
    pub tls: Option<Tls>,
}

impl Hosts {
    /// Whether a `Host` header value names this console.
    pub fn allows(&self, value: &str) -> bool {
        let (host, port) = split_host(value);
        let host = host.to_ascii_lowercase();
        let port_ok = match port {
            Some(p) => self.any_port || p == Some(self.port),
            None => self.any_port || matches!((self.port, &self.tls), (443, Some(_)) | (80, None)),
        };
        port_ok && (self.names.contains(&host) || self.tls.as_ref().is_some_and(|t| t.names(&host)))
    }
}

/// `name:80` → (`name`, Some(Some(80))); `[::1]:80` → (`::1`, …); `name` → (`name`, None); a
/// port that is not a number is `Some(None)` (never allowed).
fn split_host(value: &str) -> (&str, Option<Option<u16>>) {
    if let Some(rest) = value.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((ip, "")) => (ip, None),
            Some((ip, port)) => (
                ip,
                Some(port.strip_prefix(':').and_then(|p| p.parse().ok())),
            ),
            None => ("", Some(None)),
        };
    }
    match value.rsplit_once(':') {
        Some((host, port)) => (host, Some(port.parse().ok())),
        None => (value, None),
    }
}

/// The value of the session cookie in a `Cookie` header, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The middleware: the checks above; a valid session goes into the request's extensions.
pub async fn check(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let mut response = match checked(&shared, &mut request) {
        Ok(()) => next.run(request).await,
        Err(failure) => failure.into_response(),
    };
    secure_headers(response.headers_mut());
    response
}

fn checked(shared: &Shared, request: &mut Request) -> Result<(), Failure> {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !shared.hosts.allows(&host) {
        return Err(Failure(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "Host {host:?} is not this console's address: open the link `corral console-url` prints"
            ),
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let want = format!("{}://{host}", shared.scheme());
        if origin.to_str().ok() != Some(want.as_str()) {
            return Err(Failure(
                StatusCode::FORBIDDEN,
                format!("requests from another origin than {want} are refused"),
            ));
        }
    }
    let session = session_cookie(headers).and_then(|id| shared.auth.session(id, Instant::now()));
    let api = request.uri().path().starts_with("/api/");
    if api {
        let Some(session) = &session else {
            return Err(Failure(
                StatusCode::UNAUTHORIZED,
                "no console session: run `corral console-url` and open the link it prints".into(),
            ));
        };
        if request.method() == Method::POST {
            let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if !sent.is_some_and(|t| same_secret(t, &session.csrf)) {
                return Err(Failure(
                    StatusCode::FORBIDDEN,
                    "a POST needs the header X-CSRF-Token with the session's token (GET /api/session has it)".into(),
                ));
            }
            if session.read_only {
                return Err(Failure(
                    StatusCode::FORBIDDEN,
                    "this console session is read-only: actions need a session from `corral console-url` without --read-only, on a controller without --console-read-only".into(),
                ));
            }
        }
    }
    if let Some(session) = session {
        request.extensions_mut().insert::<Session>(session);
    }
    Ok(())
}

/// What every answer says about itself: scripts only from here, never framed, no sniffing,
/// no referrer (the login link carries a token).
fn secure_headers(headers: &mut HeaderMap) {
    let set = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(port: u16) -> Hosts {
        Hosts {
            names: vec!["127.0.0.1".into(), "localhost".into(), "::1".into()],
            port,
            any_port: false,
            tls: None,
        }
    }

    #[test]
    fn host_must_name_the_console() {
        let h = hosts(9090);
        for good in [
            "127.0.0.1:9090",
            "localhost:9090",
            "LOCALHOST:9090",
            "[::1]:9090",
        ] {
            assert!(h.allows(good), "{good}");
        }
        for bad in [
            "",
            "evil.example:9090",
            "127.0.0.1:9091",
            "127.0.0.1",
            "localhost:x",
            "[::1]",
            "127.0.0.1.evil.example:9090",
            "[::1]x:9090",
        ] {
            assert!(!h.allows(bad), "{bad}");
        }
        assert!(hosts(80).allows("localhost"));
    }

    #[test]
    fn behind_a_proxy_any_port_goes() {
        let mut h = hosts(9090);
        h.any_port = true;
        assert!(h.allows("localhost") && h.allows("localhost:443"));
        assert!(!h.allows("evil.example"));
    }

    #[test]
    fn finds_the_session_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; corral_session=abc; b=2"),
        );
        assert_eq!(session_cookie(&headers), Some("abc"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("corral_sessionx=abc"),
        );
        assert_eq!(session_cookie(&headers), None);
    }
}
