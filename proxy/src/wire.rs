//! Small pieces both HTTP/1.1 codecs (the client-facing fast path and the upstream client)
//! share.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::HeaderName;
use rampart_config::names::eq_lowercase;
use tokio::io::AsyncWrite;

/// Writes `parts` in order, in as few system calls as the socket allows (a head, the policy's
/// lines, a body piece and a chunk trailer leave together, none copied next to another).
/// A poll function rather than an `async fn`, whose state would hold the pieces twice over.
pub(crate) fn write_all_parts<'a, T, const N: usize>(
    io: &'a mut T,
    mut parts: [&'a [u8]; N],
) -> impl Future<Output = io::Result<()>> + 'a
where
    T: AsyncWrite + Unpin,
{
    std::future::poll_fn(move |cx| poll_write_parts(&mut *io, cx, &mut parts))
}

/// Polls the writing of `parts`, each advanced past what has gone out, until all are empty.
pub(crate) fn poll_write_parts<T>(
    io: &mut T,
    cx: &mut Context<'_>,
    parts: &mut [&[u8]],
) -> Poll<io::Result<()>>
where
    T: AsyncWrite + Unpin,
{
    const MAX_SLICES: usize = 8;
    loop {
        let Some(first) = parts.iter().position(|p| !p.is_empty()) else {
            return Poll::Ready(Ok(()));
        };
        let rest = &mut parts[first..];
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        for (slice, part) in slices.iter_mut().zip(rest.iter()) {
            *slice = IoSlice::new(part);
        }
        let count = rest.len().min(MAX_SLICES);
        let mut n = ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count]))?;
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        for part in rest.iter_mut() {
            let used = n.min(part.len());
            *part = &part[used..];
            n -= used;
        }
    }
}

/// The `HeaderName` of a header line's name when it is one of the names most messages carry,
/// found by length and a word-wise comparison; `None` for any other (the caller then parses
/// it). `HeaderName::from_bytes` lowercases into a buffer and matches every standard name for
/// each line, several times the cost of this for the usual few lines of a message.
pub(crate) fn known_name(name: &[u8]) -> Option<HeaderName> {
    use http::header as h;
    type Known = (HeaderName, &'static [u8]);
    static LEN_3: [Known; 2] = [(h::AGE, b"age"), (h::VIA, b"via")];
    static LEN_4: [Known; 4] = [
        (h::DATE, b"date"),
        (h::HOST, b"host"),
        (h::VARY, b"vary"),
        (h::ETAG, b"etag"),
    ];
    static LEN_6: [Known; 5] = [
        (h::SERVER, b"server"),
        (h::ACCEPT, b"accept"),
        (h::COOKIE, b"cookie"),
        (h::ORIGIN, b"origin"),
        (h::PRAGMA, b"pragma"),
    ];
    static LEN_7: [Known; 2] = [(h::EXPIRES, b"expires"), (h::REFERER, b"referer")];
    static LEN_8: [Known; 1] = [(h::LOCATION, b"location")];
    static LEN_10: [Known; 2] = [
        (h::USER_AGENT, b"user-agent"),
        (h::SET_COOKIE, b"set-cookie"),
    ];
    static LEN_12: [Known; 2] = [
        (h::CONTENT_TYPE, b"content-type"),
        (HeaderName::from_static("x-request-id"), b"x-request-id"),
    ];
    static LEN_13: [Known; 5] = [
        (h::CACHE_CONTROL, b"cache-control"),
        (h::LAST_MODIFIED, b"last-modified"),
        (h::AUTHORIZATION, b"authorization"),
        (h::ACCEPT_RANGES, b"accept-ranges"),
        (h::IF_NONE_MATCH, b"if-none-match"),
    ];
    static LEN_14: [Known; 1] = [(h::CONTENT_LENGTH, b"content-length")];
    static LEN_15: [Known; 4] = [
        (h::ACCEPT_ENCODING, b"accept-encoding"),
        (h::ACCEPT_LANGUAGE, b"accept-language"),
        (h::X_FRAME_OPTIONS, b"x-frame-options"),
        (
            HeaderName::from_static("x-forwarded-for"),
            b"x-forwarded-for",
        ),
    ];
    static LEN_16: [Known; 3] = [
        (h::CONTENT_ENCODING, b"content-encoding"),
        (h::CONTENT_LANGUAGE, b"content-language"),
        (h::WWW_AUTHENTICATE, b"www-authenticate"),
    ];
    static LEN_17: [Known; 2] = [
        (h::IF_MODIFIED_SINCE, b"if-modified-since"),
        (
            HeaderName::from_static("x-forwarded-proto"),
            b"x-forwarded-proto",
        ),
    ];
    static LEN_22: [Known; 1] = [(h::X_CONTENT_TYPE_OPTIONS, b"x-content-type-options")];
    static LEN_23: [Known; 1] = [(h::CONTENT_SECURITY_POLICY, b"content-security-policy")];
    static LEN_25: [Known; 1] = [(h::STRICT_TRANSPORT_SECURITY, b"strict-transport-security")];
    static LEN_27: [Known; 1] = [(
        h::ACCESS_CONTROL_ALLOW_ORIGIN,
        b"access-control-allow-origin",
    )];
    let candidates: &[Known] = match name.len() {
        3 => &LEN_3,
        4 => &LEN_4,
        6 => &LEN_6,
        7 => &LEN_7,
        8 => &LEN_8,
        10 => &LEN_10,
        12 => &LEN_12,
        13 => &LEN_13,
        14 => &LEN_14,
        15 => &LEN_15,
        16 => &LEN_16,
        17 => &LEN_17,
        22 => &LEN_22,
        23 => &LEN_23,
        25 => &LEN_25,
        27 => &LEN_27,
        _ => &[],
    };
    candidates
        .iter()
        .find(|(_, text)| eq_lowercase(name, text))
        .map(|(known, _)| known.clone())
}

/// A header line's name as a `HeaderName`: [`known_name`], else parsed.
pub(crate) fn header_name(name: &[u8]) -> Result<HeaderName, http::header::InvalidHeaderName> {
    match known_name(name) {
        Some(known) => Ok(known),
        None => HeaderName::from_bytes(name),
    }
}

/// Where a parsed header's name and value sit in the buffer that starts at `base`, so they can
/// be taken from the frozen head once the parser's borrow ends. Heads are capped far below
/// 4 GiB, so the offsets fit.
pub(crate) fn header_span(base: *const u8, name: &[u8], value: &[u8]) -> (u32, u32, u32, u32) {
    let ns = name.as_ptr() as usize - base as usize;
    let vs = value.as_ptr() as usize - base as usize;
    (
        ns as u32,
        (ns + name.len()) as u32,
        vs as u32,
        (vs + value.len()) as u32,
    )
}

/// Appends a chunked-encoding size line (`1a2b\r\n`) for a chunk of `len` bytes.
pub(crate) fn chunk_size_line(out: &mut Vec<u8>, len: usize) {
    // Writing into a Vec cannot fail.
    let _ = io::Write::write_fmt(out, format_args!("{len:x}\r\n"));
}

/// `name: value\r\n`. The separators are pushed, not copied: a head has a couple of dozen
/// lines, and a copy call per two-byte separator cost more than the names and values.
#[inline]
pub(crate) fn header_line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.reserve(name.len() + value.len() + 4);
    out.extend_from_slice(name);
    out.push(b':');
    out.push(b' ');
    out.extend_from_slice(value);
    out.push(b'\r');
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capitalised(text: &str) -> String {
        text.split('-')
            .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
            .collect::<Vec<_>>()
            .join("-")
    }

    #[test]
    fn known_names_are_the_parsed_names_in_any_case() {
        // Every name the tables hold, in three spellings.
        for text in [
            "age",
            "via",
            "date",
            "host",
            "vary",
            "etag",
            "server",
            "accept",
            "cookie",
            "origin",
            "pragma",
            "expires",
            "referer",
            "location",
            "user-agent",
            "set-cookie",
            "content-type",
            "x-request-id",
            "cache-control",
            "last-modified",
            "authorization",
            "accept-ranges",
            "if-none-match",
            "content-length",
            "accept-encoding",
            "accept-language",
            "x-frame-options",
            "content-encoding",
            "content-language",
            "www-authenticate",
            "if-modified-since",
            "x-content-type-options",
            "content-security-policy",
            "strict-transport-security",
        ] {
            for spelling in [
                text.to_owned(),
                text.to_ascii_uppercase(),
                capitalised(text),
            ] {
                let known = known_name(spelling.as_bytes());
                assert_eq!(
                    known,
                    HeaderName::from_bytes(text.as_bytes()).ok(),
                    "{spelling}"
                );
                assert!(known.is_some(), "{spelling}");
            }
        }
        // Near misses fall through to the parser.
        for text in [
            "dat",
            "datf",
            "content-lengtH2",
            "x-request-ie",
            "servér",
            "hos\0",
        ] {
            assert_eq!(known_name(text.as_bytes()), None, "{text}");
        }
        assert_eq!(header_name(b"X-Custom").unwrap(), "x-custom");
        assert!(header_name(b"bad name").is_err());
    }
}
