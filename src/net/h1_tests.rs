use super::*;

/// What `request` makes of `text`: the head's length if the fast path takes it.
fn take(text: &str) -> Parsed<usize> {
    let mut headers = lines();
    match request(text.as_bytes(), &mut headers) {
        Parsed::Done(r) => Parsed::Done(r.len),
        Parsed::Partial => Parsed::Partial,
        Parsed::Other => Parsed::Other,
    }
}

#[test]
fn a_plain_get_is_taken_and_ends_with_its_head() {
    let get = "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\n\r\n";
    assert_eq!(take(get), Parsed::Done(get.len()));
    let pipelined = format!("{get}GET /next HTTP/1.1\r\n\r\n");
    assert_eq!(take(&pipelined), Parsed::Done(get.len()));
    assert_eq!(take(&get[..get.len() - 1]), Parsed::Partial);
    let zero = "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(take(zero), Parsed::Done(zero.len()));
}

/// Request smuggling (CL.TE, TE.CL, TE.TE, duplicate or odd Content-Length): every request
/// with a body or two ways to frame one goes to hyper, whatever the spelling.
#[test]
fn requests_with_a_body_or_two_framings_go_to_hyper() {
    for text in [
        // CL.TE and TE.CL
        "POST / HTTP/1.1\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        // TE.TE: obfuscated codings
        "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
        "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-encoding: identity\r\n\r\n",
        // duplicate, listed or non-zero Content-Length
        "POST / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nContent-Length: 0, 0\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nContent-Length: +0\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 00\r\n\r\n",
    ] {
        assert_eq!(take(text), Parsed::Other, "{text:?}");
    }
}

/// Syntax that some parsers take and others refuse goes to hyper (which answers 400 where it
/// must); bare LF line ends are taken because hyper takes them too (same httparse).
#[test]
fn obs_fold_bad_syntax_and_odd_requests_go_to_hyper() {
    for text in [
        // obs-fold: a header continued on the next line
        "GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",
        "GET / HTTP/1.1\r\nX-A: 1\r\n\tTransfer-Encoding: chunked\r\n\r\n",
        // whitespace before the colon, a bare CR, NUL
        "GET / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\0\r\n\r\n",
        // not plain: version, method, target, upgrade, expect, close, hop-by-hop, duplicates
        "GET / HTTP/1.0\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "CONNECT a:443 HTTP/1.1\r\n\r\n",
        "BREW / HTTP/1.1\r\n\r\n",
        "GET http://a/ HTTP/1.1\r\n\r\n",
        "GET /a#b HTTP/1.1\r\n\r\n",
        "GET /a\"b HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
        "PUT / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
        "GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nConnection: keep-alive, x-secret\r\n\r\n",
        "GET / HTTP/1.1\r\nKeep-Alive: timeout=5\r\n\r\n",
        "GET / HTTP/1.1\r\nTE: trailers\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\nx-forwarded-for: 5.6.7.8\r\n\r\n",
    ] {
        assert_eq!(take(text), Parsed::Other, "{text:?}");
    }
    let bare_lf = "GET / HTTP/1.1\nHost: a\n\n";
    assert_eq!(take(bare_lf), Parsed::Done(bare_lf.len()));
}

#[test]
fn more_header_lines_than_the_fast_path_reads_go_to_hyper() {
    let many: String = (0..MAX_HEADERS + 1)
        .map(|i| format!("X-{i}: 1\r\n"))
        .collect();
    assert_eq!(
        take(&format!("GET / HTTP/1.1\r\n{many}\r\n")),
        Parsed::Other
    );
}

/// `(status, framing, keep_alive, head length)` of a response, or why it is refused.
fn head_of(text: &str, head: bool) -> Result<Option<(u16, Framing, bool, usize)>, Invalid> {
    let mut headers = lines();
    Ok(match response(text.as_bytes(), &mut headers, head)? {
        ResponseHead::Final(r) => Some((r.status, r.framing, r.keep_alive, r.len)),
        ResponseHead::Informational(_) | ResponseHead::Partial => None,
    })
}

fn framing(text: &str) -> Result<Framing, Invalid> {
    Ok(head_of(text, false)?.expect("a final head").1)
}

#[test]
fn responses_are_framed_by_hyper_s_rules() {
    let ok = "HTTP/1.1 200 OK\r\n";
    assert_eq!(
        framing(&format!("{ok}Content-Length: 5\r\n\r\n")),
        Ok(Framing::Length(5))
    );
    assert_eq!(
        framing(&format!("{ok}Content-Length: 5, 5\r\n\r\n")),
        Ok(Framing::Length(5))
    );
    assert_eq!(
        framing(&format!("{ok}Transfer-Encoding: chunked\r\n\r\n")),
        Ok(Framing::Chunked)
    );
    // TE wins over CL; a last coding other than chunked is read to the close.
    let both = format!("{ok}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(framing(&both), Ok(Framing::Chunked));
    let gzip = format!("{ok}Transfer-Encoding: chunked, gzip\r\n\r\n");
    assert_eq!(framing(&gzip), Ok(Framing::Close));
    assert_eq!(framing(&format!("{ok}\r\n")), Ok(Framing::Close));
    for bad in ["5, 6", "-1", "0x5", "", "5 5"] {
        let text = format!("{ok}Content-Length: {bad}\r\n\r\n");
        assert_eq!(framing(&text), Err(Invalid::ContentLength), "{bad:?}");
    }
    let twice = format!("{ok}Content-Length: 5\r\nContent-Length: 6\r\n\r\n");
    assert_eq!(framing(&twice), Err(Invalid::ContentLength));
    let te10 = "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(framing(te10), Err(Invalid::TransferEncoding));
    assert_eq!(
        framing("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"),
        Ok(Framing::Empty)
    );
    let head = head_of(&format!("{ok}Content-Length: 5\r\n\r\n"), true);
    assert_eq!(head.map(|h| h.map(|h| h.1)), Ok(Some(Framing::Empty)));
}

#[test]
fn keep_alive_and_informational_responses() {
    let close = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n";
    assert_eq!(
        head_of(close, false).map(|h| h.map(|h| h.2)),
        Ok(Some(false))
    );
    let old = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(head_of(old, false).map(|h| h.map(|h| h.2)), Ok(Some(true)));
    let mut headers = lines();
    let early = "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n";
    assert_eq!(
        response(early.as_bytes(), &mut headers, false),
        Ok(ResponseHead::Informational(
            early.find("HTTP/1.1 200").expect("200")
        ))
    );
    let switching = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
    assert_eq!(framing(switching), Err(Invalid::Status(101)));
    // obs-fold in a response: refused (httparse's default, and hyper's).
    assert!(framing("HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n").is_err());
}
