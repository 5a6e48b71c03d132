//! Request and response heads as the http proxy rewrites them: hop-by-hop headers dropped,
//! `X-Forwarded-*` and `Forwarded` added, the URI pointed at the backend's loopback port.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Uri, Version};

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// `X-Forwarded-For`: the client addresses, nearest last.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`: the scheme the client used.
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`: the `Host` the client asked for.
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

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
    if let Some(connection) = headers.get(header::CONNECTION) {
        let named: Vec<HeaderName> = connection
            .to_str()
            .unwrap_or("")
            .split(',')
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .chain(
                headers
                    .get_all(header::CONNECTION)
                    .iter()
                    .skip(1)
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(','))
                    .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok()),
            )
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// What the proxy says about one client connection in the headers it adds, worked out once
/// per connection rather than per request.
#[derive(Debug)]
pub(crate) struct Client {
    /// The client's address as `X-Forwarded-For` lists it.
    ip: HeaderValue,
    /// The `for=…;proto=http` part of its `Forwarded` element.
    forwarded: String,
    /// The first `Host` seen on the connection and its `Forwarded` element (the usual case:
    /// every request of a connection names the same host).
    first: OnceLock<(HeaderValue, HeaderValue)>,
}

impl Client {
    /// The headers' view of the client at `peer`.
    pub(crate) fn new(peer: SocketAddr) -> Self {
        Self {
            ip: HeaderValue::from_str(&peer.ip().to_string()).expect("an IP is a header value"),
            forwarded: forwarded_element(peer.ip(), None),
            first: OnceLock::new(),
        }
    }

    /// The client's address as `X-Forwarded-For` lists it.
    pub(crate) fn ip(&self) -> &HeaderValue {
        &self.ip
    }

    /// The `Forwarded` element for a request with `host` (a header value's bytes).
    pub(crate) fn forwarded(&self, host: Option<&[u8]>) -> HeaderValue {
        let Some(host) = host else {
            return HeaderValue::from_str(&self.forwarded).expect("visible ASCII");
        };
        if let Some((first_host, element)) = self.first.get() {
            if first_host.as_bytes() == host {
                return element.clone();
            }
        }
        let mut element = self.forwarded.clone();
        let quotable = visible_ascii(host) && !host.iter().any(|b| matches!(b, b'"' | b'\\'));
        if let (true, Ok(host)) = (quotable, std::str::from_utf8(host)) {
            element.push_str(";host=\"");
            element.push_str(host);
            element.push('"');
        }
        let element = HeaderValue::from_str(&element).expect("visible ASCII");
        if let Ok(host) = HeaderValue::from_bytes(host) {
            let _ = self.first.set((host, element.clone()));
        }
        element
    }
}

/// True when `HeaderValue::to_str` takes these bytes (tab and visible ASCII only).
pub(crate) fn visible_ascii(value: &[u8]) -> bool {
    value.iter().all(|&b| b == b'\t' || (32..127).contains(&b))
}

/// Rewrites a client's request head for a backend: hop-by-hop out, `Host` kept (taken from
/// the h2 `:authority` if missing), `X-Forwarded-For/-Proto/-Host` and `Forwarded` added.
pub(crate) fn prepare_request(head: &mut Parts, client: &Client) {
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
    let headers = &mut head.headers;
    append(headers, X_FORWARDED_FOR, client.ip.clone());
    if !headers.contains_key(X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    let host = headers.get(header::HOST).cloned();
    if let Some(host) = &host {
        if !headers.contains_key(X_FORWARDED_HOST) {
            headers.insert(X_FORWARDED_HOST, host.clone());
        }
    }
    append(
        headers,
        header::FORWARDED,
        client.forwarded(host.as_ref().map(HeaderValue::as_bytes)),
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
fn append(headers: &mut HeaderMap, name: HeaderName, value: HeaderValue) {
    let joined = match headers.get(&name).and_then(|v| v.to_str().ok()) {
        Some(existing) if !existing.is_empty() => {
            match HeaderValue::from_str(&format!("{existing}, {}", value.to_str().unwrap_or(""))) {
                Ok(joined) => joined,
                Err(_) => return,
            }
        }
        _ => value,
    };
    headers.insert(name, joined);
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
        let client = Client::new("192.0.2.7:5555".parse().expect("addr"));
        prepare_request(&mut parts, &client);
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
