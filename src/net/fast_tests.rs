use super::*;

fn head_for(text: &str, who: &Client) -> String {
    let mut lines = h1::lines();
    let Parsed::Done(request) = h1::request(text.as_bytes(), &mut lines) else {
        panic!("not plain: {text:?}");
    };
    let mut out = Vec::new();
    write_request(&mut out, &request, who);
    String::from_utf8(out).expect("ASCII")
}

/// The same forwarding headers as `headers::prepare_request` (its test has the same inputs).
#[test]
fn the_backend_gets_the_forwarding_headers_of_the_hyper_path() {
    let who = Client::new("192.0.2.7:5555".parse().expect("addr"));
    let head = head_for(
        "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 10.0.0.1\r\nConnection: keep-alive\r\n\r\n",
        &who,
    );
    assert_eq!(
        head,
        "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nx-forwarded-for: 10.0.0.1, 192.0.2.7\r\n\
         x-forwarded-proto: http\r\nx-forwarded-host: example.com\r\n\
         forwarded: for=192.0.2.7;proto=http;host=\"example.com\"\r\n\r\n"
    );
    // Set by the client: kept; no Host: no X-Forwarded-Host and no host= element.
    let head = head_for(
        "GET / HTTP/1.1\nX-Forwarded-Proto: https\nForwarded: for=10.0.0.1\n\n",
        &who,
    );
    assert_eq!(
        head,
        "GET / HTTP/1.1\r\nX-Forwarded-Proto: https\r\nx-forwarded-for: 192.0.2.7\r\n\
         forwarded: for=10.0.0.1, for=192.0.2.7;proto=http\r\n\r\n"
    );
}

fn response_head(text: &str, head_only: bool, closing: bool) -> String {
    let mut lines = h1::lines();
    let Ok(ResponseHead::Final(head)) = h1::response(text.as_bytes(), &mut lines, head_only) else {
        panic!("not a final head: {text:?}");
    };
    let mut out = Vec::new();
    write_response_head(&mut out, &head, closing);
    String::from_utf8(out).expect("ASCII")
}

#[test]
fn the_client_gets_the_response_without_hop_by_hop_headers_and_framed_again() {
    let node =
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nDate: Fri, 04 Dec 2026 22:52:11 GMT\r\n\
                Connection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    assert_eq!(
        response_head(node, false, false),
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nDate: Fri, 04 Dec 2026 22:52:11 GMT\r\n\
         transfer-encoding: chunked\r\n\r\n"
    );
    let sized = "HTTP/1.0 404 Nope\r\nContent-Length: 3, 3\r\nDate: x\r\n\r\n";
    assert_eq!(
        response_head(sized, false, true),
        "HTTP/1.1 404 Nope\r\nDate: x\r\ncontent-length: 3\r\nconnection: close\r\n\r\n"
    );
    // HEAD: the length of the body a GET would get is passed on as it is.
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 42\r\nDate: x\r\n\r\n";
    assert_eq!(
        response_head(head, true, false),
        "HTTP/1.1 200 OK\r\nContent-Length: 42\r\nDate: x\r\n\r\n"
    );
    let no_date = response_head("HTTP/1.1 204 No Content\r\n\r\n", false, false);
    assert!(
        no_date.starts_with("HTTP/1.1 204 No Content\r\ndate: "),
        "{no_date}"
    );
}

#[test]
fn chunks_are_framed_by_their_size_in_hex() {
    let mut out = Vec::new();
    chunk(&mut out, b"");
    chunk(&mut out, &[b'a'; 26]);
    assert_eq!(out, [&b"1a\r\n"[..], &[b'a'; 26], b"\r\n"].concat());
    out.clear();
    chunk(&mut out, &[b'b'; 4096]);
    assert!(out.starts_with(b"1000\r\nbbb"));
    out.clear();
    decimal(&mut out, 0);
    decimal(&mut out, 18_446_744_073_709_551_615);
    assert_eq!(out, b"018446744073709551615");
}
