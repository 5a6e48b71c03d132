//! Request and response heads as the http proxy rewrites them: hop-by-hop headers dropped,
//! `X-Forwarded-*` and `Forwarded` added, the URI pointed at the backend's loopback port.

use std::net::{IpAddr, SocketAddr};

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Uri, Version};

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Methods whose request may be sent twice with the same effect (RFC 9110 §9.2.2).
pub(crate) fn is_idempotent(method: &Method) -> bool {
    [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::PUT,
        Method::DELETE,
        Method::TRACE,
    ]
    .contains(method)
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Rewrites a client's request head for a backend: hop-by-hop out, `Host` kept (taken from
/// the h2 `:authority` if missing), `X-Forwarded-For/-Proto/-Host` and `Forwarded` added.
pub(crate) fn prepare_request(head: &mut Parts, peer: SocketAddr) {
    strip_hop_by_hop(&mut head.headers);
    if !head.headers.contains_key(header::HOST) {
        if let Some(value) = head
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            head.headers.insert(header::HOST, value);
        }
    }
    let ip = peer.ip();
    append(&mut head.headers, "x-forwarded-for", &ip.to_string());
    if !head.headers.contains_key("x-forwarded-proto") {
        head.headers
            .insert("x-forwarded-proto", HeaderValue::from_static("http"));
    }
    let host = head
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    if let Some(host) = &host {
        if !head.headers.contains_key("x-forwarded-host") {
            if let Ok(value) = HeaderValue::from_str(host) {
                head.headers.insert("x-forwarded-host", value);
            }
        }
    }
    append(
        &mut head.headers,
        "forwarded",
        &forwarded_element(ip, host.as_deref()),
    );
}

/// One `Forwarded` element (RFC 7239): `for=…;proto=http[;host="…"]`.
fn forwarded_element(ip: IpAddr, host: Option<&str>) -> String {
    let node = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("\"[{v6}]\""),
    };
    let mut element = format!("for={node};proto=http");
    if let Some(host) = host.filter(|h| !h.contains(['"', '\\'])) {
        element.push_str(&format!(";host=\"{host}\""));
    }
    element
}

/// Appends `value` to a comma-separated header, creating it if absent.
fn append(headers: &mut HeaderMap, name: &'static str, value: &str) {
    let joined = match headers.get(name).and_then(|v| v.to_str().ok()) {
        Some(existing) if !existing.is_empty() => format!("{existing}, {value}"),
        _ => value.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&joined) {
        headers.insert(name, value);
    }
}

/// The request for a backend, always HTTP/1.1 in origin form (`/path?query`).
pub(crate) fn to_backend<B>(mut head: Parts, body: B) -> Request<B> {
    if head.uri.scheme().is_some() || head.uri.authority().is_some() {
        head.uri = match head.uri.path_and_query() {
            Some(path) => Uri::from(path.clone()),
            None => Uri::from_static("/"),
        };
    }
    head.version = Version::HTTP_11;
    Request::from_parts(head, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(request: Request<()>) -> Parts {
        request.into_parts().0
    }

    #[test]
    fn forwarded_headers_append_to_existing_ones() {
        let mut parts = head(
            Request::get("/a?b=1")
                .header("host", "example.com")
                .header("x-forwarded-for", "10.0.0.1")
                .header("connection", "keep-alive, x-secret")
                .header("x-secret", "1")
                .body(())
                .expect("request"),
        );
        prepare_request(&mut parts, "192.0.2.7:5555".parse().expect("addr"));
        let h = &parts.headers;
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 192.0.2.7");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "example.com");
        assert_eq!(
            h["forwarded"],
            "for=192.0.2.7;proto=http;host=\"example.com\""
        );
        assert!(!h.contains_key("connection") && !h.contains_key("x-secret"));
        let request = to_backend(parts, ());
        assert_eq!(request.uri(), "/a?b=1");
        let absolute = head(Request::get("http://example.com/c?d").body(()).expect("h2"));
        assert_eq!(to_backend(absolute, ()).uri(), "/c?d");
    }

    #[test]
    fn ipv6_peers_are_quoted_in_forwarded() {
        assert_eq!(
            forwarded_element("::1".parse().expect("ip"), None),
            "for=\"[::1]\";proto=http"
        );
    }

    #[test]
    fn post_is_not_idempotent() {
        assert!(is_idempotent(&Method::PUT));
        assert!(!is_idempotent(&Method::POST));
    }
}
