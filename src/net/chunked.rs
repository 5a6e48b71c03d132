//! A chunked body (RFC 9112 §7.1) read incrementally for the proxy's fast path: which bytes are
//! data and where the body ends, in hyper's states and with hyper's limits, so that the two
//! agree on every body (`fuzz/`'s `h1` target checks it).

/// A chunked body that does not follow RFC 9112 §7.1: what is wrong.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid chunked body: {0}")]
pub(crate) struct BadChunk(pub(crate) &'static str);

/// Bytes of the trailer section a chunked body may have (hyper's limit).
const TRAILER_LIMIT: usize = 16 * 1024;

/// Bytes of chunk extensions a chunked body may have (hyper's limit).
const EXTENSIONS_LIMIT: u64 = 16 * 1024;

/// Trailer lines a chunked body may have (hyper's header count limit).
const TRAILER_LINES: usize = 100;

/// Where a chunked body's reader stands, hyper's states (`proto/h1/decode.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Size,
    SizeLws,
    Extension,
    SizeLf,
    Body,
    BodyCr,
    BodyLf,
    Trailer,
    TrailerLf,
    EndCr,
    EndLf,
    End,
}

/// Reads a chunked body incrementally: which bytes are data and where the body ends.
#[derive(Debug)]
pub(crate) struct Chunked {
    /// Where the reader stands.
    state: State,
    /// Size of the chunk being read, then what is left of it.
    size: u64,
    /// Extension bytes seen so far.
    extensions: u64,
    /// The trailer section, once one starts (checked at the end, as hyper does).
    trailers: Option<Vec<u8>>,
    /// Trailer lines so far.
    trailer_lines: usize,
}

/// One step of [`Chunked::step`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// `n` bytes of framing (sizes, extensions, CRLFs, trailers): dropped.
    Framing(usize),
    /// `n` bytes of data: passed on.
    Data(usize),
    /// The body ended `n` bytes in (framing included).
    End(usize),
}

impl Default for Chunked {
    fn default() -> Self {
        Self {
            state: State::Start,
            size: 0,
            extensions: 0,
            trailers: None,
            trailer_lines: 0,
        }
    }
}

impl Chunked {
    /// Reads from `buf` (not empty) up to the next piece; the caller consumes that many bytes
    /// and calls again with the rest.
    pub(crate) fn step(&mut self, buf: &[u8]) -> Result<Piece, BadChunk> {
        if self.state == State::Body {
            let n = usize::try_from(self.size)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            self.size -= n as u64;
            if self.size == 0 {
                self.state = State::BodyCr;
            }
            return Ok(Piece::Data(n));
        }
        let mut used = 0;
        for &b in buf {
            used += 1;
            self.state = self.next(b)?;
            match self.state {
                State::End => {
                    self.check_trailers()?;
                    return Ok(Piece::End(used));
                }
                State::Body => return Ok(Piece::Framing(used)),
                _ => {}
            }
        }
        Ok(Piece::Framing(used))
    }

    /// The state after byte `b`.
    fn next(&mut self, b: u8) -> Result<State, BadChunk> {
        let err = |what| Err(BadChunk(what));
        Ok(match self.state {
            State::Start => match hex(b) {
                Some(d) => self.digit(d)?,
                None => return err("missing size digit"),
            },
            State::Size => match (hex(b), b) {
                (Some(d), _) => self.digit(d)?,
                (None, b'\t' | b' ') => State::SizeLws,
                (None, b';') => State::Extension,
                (None, b'\r') => State::SizeLf,
                _ => return err("invalid size"),
            },
            State::SizeLws => match b {
                b'\t' | b' ' => State::SizeLws,
                b';' => State::Extension,
                b'\r' => State::SizeLf,
                _ => return err("invalid size whitespace"),
            },
            State::Extension => match b {
                b'\r' => State::SizeLf,
                b'\n' => return err("newline in an extension"),
                _ => {
                    self.extensions += 1;
                    if self.extensions >= EXTENSIONS_LIMIT {
                        return err("extensions over limit");
                    }
                    State::Extension
                }
            },
            State::SizeLf => match (b, self.size) {
                (b'\n', 0) => State::EndCr,
                (b'\n', _) => State::Body,
                _ => return err("invalid size LF"),
            },
            // `step` takes data whole, never byte by byte.
            State::Body => return err("data read as framing"),
            State::BodyCr => match b {
                b'\r' => State::BodyLf,
                _ => return err("invalid body CR"),
            },
            State::BodyLf => match b {
                b'\n' => State::Start,
                _ => return err("invalid body LF"),
            },
            State::Trailer => {
                self.trailer_byte(b)?;
                match b {
                    b'\r' => State::TrailerLf,
                    _ => State::Trailer,
                }
            }
            State::TrailerLf => match b {
                b'\n' => {
                    if self.trailer_lines >= TRAILER_LINES {
                        return err("trailer lines over limit");
                    }
                    self.trailer_lines += 1;
                    self.trailer_byte(b)?;
                    State::EndCr
                }
                _ => return err("invalid trailer LF"),
            },
            State::EndCr => match (b, &mut self.trailers) {
                (b'\r', None) => State::EndLf,
                (b'\r', Some(_)) => {
                    self.trailer_byte(b)?;
                    State::EndLf
                }
                (_, None) => {
                    self.trailers = Some(vec![b]);
                    State::Trailer
                }
                (_, Some(_)) => {
                    self.trailer_byte(b)?;
                    State::Trailer
                }
            },
            State::EndLf => match b {
                b'\n' => {
                    if self.trailers.is_some() {
                        self.trailer_byte(b)?;
                    }
                    State::End
                }
                _ => return err("invalid end LF"),
            },
            State::End => State::End,
        })
    }

    /// Appends hex digit `d` to the chunk size.
    fn digit(&mut self, d: u8) -> Result<State, BadChunk> {
        self.size = self
            .size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(d)))
            .ok_or(BadChunk("chunk size overflows"))?;
        Ok(State::Size)
    }

    /// Keeps one byte of the trailer section, within the limit.
    fn trailer_byte(&mut self, b: u8) -> Result<(), BadChunk> {
        let trailers = self.trailers.get_or_insert_with(Vec::new);
        if trailers.len() >= TRAILER_LIMIT {
            return Err(BadChunk("trailers over limit"));
        }
        trailers.push(b);
        Ok(())
    }

    /// The trailer section, if any, must be header fields hyper would take.
    fn check_trailers(&self) -> Result<(), BadChunk> {
        let Some(trailers) = &self.trailers else {
            return Ok(());
        };
        let mut headers = vec![httparse::EMPTY_HEADER; self.trailer_lines];
        match httparse::parse_headers(trailers, &mut headers) {
            Ok(httparse::Status::Complete((_, headers))) => {
                let valid = headers.iter().all(|h| {
                    hyper::header::HeaderName::try_from(h.name).is_ok()
                        && hyper::header::HeaderValue::from_bytes(h.value).is_ok()
                });
                match valid {
                    true => Ok(()),
                    false => Err(BadChunk("invalid trailer field")),
                }
            }
            _ => Err(BadChunk("invalid trailer section")),
        }
    }
}

/// The value of a hex digit.
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a chunked body fed `split` bytes at a time: the data and where the body ended.
    fn chunked(body: &[u8], split: usize) -> Result<(Vec<u8>, usize), BadChunk> {
        let mut reader = Chunked::default();
        let (mut data, mut at) = (Vec::new(), 0);
        while at < body.len() {
            let window = &body[at..body.len().min(at + split)];
            match reader.step(window)? {
                Piece::Framing(n) => at += n,
                Piece::Data(n) => {
                    data.extend_from_slice(&window[..n]);
                    at += n;
                }
                Piece::End(n) => return Ok((data, at + n)),
            }
        }
        Err(BadChunk("no end"))
    }

    #[test]
    fn chunked_bodies_end_where_hyper_ends_them() {
        let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        for split in [1, 2, 7, body.len()] {
            let (data, end) = chunked(body, split).expect("valid");
            assert_eq!(data, b"hello world");
            assert_eq!(
                end,
                body.len() - "GET / HTTP/1.1\r\n".len(),
                "split {split}"
            );
        }
        let trailers = b"1\r\na\r\n0\r\nX-T: 1\r\n\r\nrest";
        assert_eq!(
            chunked(trailers, 3),
            Ok((b"a".to_vec(), trailers.len() - 4))
        );
        for bad in [
            &b"5\nhello\r\n0\r\n\r\n"[..],   // bare LF after the size
            b"5\r\nhello\n0\r\n\r\n",        // bare LF after the data
            b"5\r\nhelloX\r\n0\r\n\r\n",     // more data than the size
            b"5;a\nb\r\nhello\r\n0\r\n\r\n", // LF inside an extension
            b"x\r\n",
            b"-5\r\nhello\r\n",
            b"fffffffffffffffff\r\n", // overflow
            b"0\r\nBad Trailer\r\n\r\n",
        ] {
            assert!(
                chunked(bad, 4).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
