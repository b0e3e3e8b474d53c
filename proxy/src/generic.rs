//! Generic error bodies: what a client sees instead of anything that describes the system.
//!
//! Chosen by the request's Accept header; they carry the status text and a correlation id,
//! nothing else.

use bytes::Bytes;
use http::header::{ACCEPT, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use rampart_config::Templates;

pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What a request says about the error body it would want, kept as the raw header values:
/// nearly every request succeeds, so the parsing waits until an error needs it.
#[derive(Debug, Clone, Default)]
pub struct ClientPrefs {
    accept: Option<HeaderValue>,
    request_id: Option<HeaderValue>,
}

impl ClientPrefs {
    pub fn of(headers: &HeaderMap) -> ClientPrefs {
        let mut prefs = ClientPrefs::default();
        for (name, value) in headers {
            prefs.offer(name, value);
        }
        prefs
    }

    /// Keeps `value` when it is the first Accept or X-Request-Id: for a caller that walks the
    /// request's headers anyway (one walk costs less than two hashed lookups, and this runs
    /// for every request).
    pub fn offer(&mut self, name: &HeaderName, value: &HeaderValue) {
        if self.accept.is_none() && name == ACCEPT {
            self.accept = Some(value.clone());
        } else if self.request_id.is_none() && name == X_REQUEST_ID {
            self.request_id = Some(value.clone());
        }
    }

    /// For tests and callers that know the request id already.
    pub fn with_request_id(id: &str) -> ClientPrefs {
        ClientPrefs {
            accept: None,
            request_id: HeaderValue::from_str(id).ok(),
        }
    }

    pub fn flavor(&self) -> Flavor {
        match &self.accept {
            Some(v) => Flavor::negotiate_value(v),
            None => Flavor::Json,
        }
    }

    /// The client's X-Request-Id when it is safe to echo.
    pub fn request_id(&self) -> Option<RequestId> {
        self.request_id
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .and_then(RequestId::parse)
    }
}

/// A correlation id that is safe to put into JSON, HTML and a header: 1 to 128 of ASCII
/// letters, digits, `-`, `_`, `.`. Checked once when made, so nothing that writes it checks
/// again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// A client's id, when it is safe to echo.
    pub fn parse(id: &str) -> Option<RequestId> {
        is_safe_id(id).then(|| RequestId(id.to_owned()))
    }

    /// A new id: 32 hex digits, a mix of a counter under a per-process random key, then a
    /// random half fixed for the process's life. Unique within the process and practically
    /// across processes; a correlation id, not a secret: it decides nothing.
    pub fn generate() -> RequestId {
        use std::hash::BuildHasher;
        use std::sync::LazyLock;
        use std::sync::atomic::{AtomicU64, Ordering};
        static KEY: LazyLock<(u64, [u8; 16])> = LazyLock::new(|| {
            let random = std::collections::hash_map::RandomState::new();
            (random.hash_one(0u8), hex16(random.hash_one(1u8)))
        });
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let (key, process) = &*KEY;
        let mut id = [0u8; 32];
        id[..16].copy_from_slice(&hex16(mix(n ^ key)));
        id[16..].copy_from_slice(process);
        // Every byte is an ASCII hex digit, so this never falls back.
        RequestId(std::str::from_utf8(&id).unwrap_or_default().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a header value; its own bytes, no copy.
    pub fn into_header_value(self) -> Option<HeaderValue> {
        HeaderValue::from_maybe_shared(Bytes::from(self.0)).ok()
    }
}

/// A bijection on 64-bit words that spreads every input bit over the output (the SplitMix64
/// finaliser): distinct counters give distinct, unordered-looking ids for a few instructions.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Json,
    Html,
    Text,
}

impl Flavor {
    /// JSON unless the client prefers HTML or plain text: API clients rarely send Accept, and
    /// browsers always list text/html first.
    pub fn negotiate(headers: &HeaderMap) -> Flavor {
        match headers.get(ACCEPT) {
            Some(v) => Flavor::negotiate_value(v),
            None => Flavor::Json,
        }
    }

    /// [`Flavor::negotiate`] over one Accept value.
    pub fn negotiate_value(accept: &HeaderValue) -> Flavor {
        let Ok(accept) = accept.to_str() else {
            return Flavor::Json;
        };
        let mut best = (Flavor::Json, -1i32);
        for (i, item) in accept.split(',').enumerate() {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q <= 0.0 {
                continue;
            }
            let flavor = match media.as_str() {
                "application/json" | "application/problem+json" => Flavor::Json,
                "text/html" | "application/xhtml+xml" => Flavor::Html,
                "text/plain" => Flavor::Text,
                m if m.ends_with("+json") => Flavor::Json,
                _ => continue,
            };
            // Higher q wins; among equal q, the earlier entry wins.
            let score = (q * 1000.0) as i32 * 64 - i as i32;
            if score > best.1 {
                best = (flavor, score);
            }
        }
        best.0
    }

    pub fn content_type(self) -> HeaderValue {
        // Constants: `from_static` checks its bytes when it runs, and in a `const` that happens
        // at compile time, not for every generic body.
        const JSON: HeaderValue = HeaderValue::from_static("application/json");
        const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
        const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
        match self {
            Flavor::Json => JSON,
            Flavor::Html => HTML,
            Flavor::Text => TEXT,
        }
    }
}

/// The generic body for a status: the policy's template for it when there is one, else the
/// built-in body.
pub fn render_for(
    templates: &std::collections::BTreeMap<u16, Templates>,
    status: StatusCode,
    flavor: Flavor,
    request_id: Option<&RequestId>,
) -> Bytes {
    let custom = templates.get(&status.as_u16()).and_then(|t| match flavor {
        Flavor::Json => t.json.as_deref(),
        Flavor::Html => t.html.as_deref(),
        Flavor::Text => t.text.as_deref(),
    });
    match custom {
        Some(t) => t
            .replace("{status}", status.as_str())
            .replace("{reason}", status.canonical_reason().unwrap_or("Error"))
            .replace("{request_id}", request_id.map_or("", RequestId::as_str))
            .into(),
        None => render(status, flavor, request_id),
    }
}

/// Request ids end up inside JSON and HTML: only a conservative alphabet is echoed.
fn is_safe_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(is_id_byte)
}

/// Bytes an echoed request id may hold: ASCII letters, digits, `-`, `_`, `.`. A table, because
/// a client's id is checked byte by byte.
#[inline]
fn is_id_byte(b: u8) -> bool {
    const TABLE: [bool; 256] = {
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            let c = i as u8;
            t[i] = c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.';
            i += 1;
        }
        t
    };
    TABLE[b as usize]
}

/// `word` as 16 lowercase hex digits. By hand: this runs for every replaced body, and the
/// formatter costs more than the rest of making an id.
fn hex16(word: u64) -> [u8; 16] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 16];
    for (pair, byte) in out.chunks_exact_mut(2).zip(word.to_be_bytes()) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
    out
}

/// The built-in generic body for a status, e.g. `{"message":"Bad Gateway","request_id":"..."}`.
pub fn render(status: StatusCode, flavor: Flavor, request_id: Option<&RequestId>) -> Bytes {
    let reason = status.canonical_reason().unwrap_or("Error");
    let code = status.as_str();
    let id = request_id.map(RequestId::as_str);
    // Pieces appended into one buffer sized up front: this runs for every replaced body, and
    // the formatting machinery costs more than the copying.
    let pieces: [&str; 7] = match (flavor, id) {
        (Flavor::Json, Some(id)) => [
            "{\"message\":\"",
            reason,
            "\",\"request_id\":\"",
            id,
            "\"}",
            "",
            "",
        ],
        (Flavor::Json, None) => ["{\"message\":\"", reason, "\"}", "", "", "", ""],
        (Flavor::Text, Some(id)) => [code, " ", reason, "\nrequest id: ", id, "\n", ""],
        (Flavor::Text, None) => [code, " ", reason, "\n", "", "", ""],
        (Flavor::Html, id) => {
            let page = format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>{code} {reason}</title></head><body><h1>{code} {reason}</h1>{}</body></html>\n",
                id.map(|id| format!("<p>Request id: {id}</p>"))
                    .unwrap_or_default()
            );
            return page.into();
        }
    };
    let mut out = Vec::with_capacity(pieces.iter().map(|p| p.len()).sum());
    for p in pieces {
        out.extend_from_slice(p.as_bytes());
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Option<RequestId> {
        RequestId::parse(s)
    }

    fn accept(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn negotiation_prefers_quality_then_order() {
        assert_eq!(Flavor::negotiate(&HeaderMap::new()), Flavor::Json);
        assert_eq!(
            Flavor::negotiate(&accept("text/html,application/xhtml+xml,*/*;q=0.8")),
            Flavor::Html
        );
        assert_eq!(Flavor::negotiate(&accept("text/plain")), Flavor::Text);
        assert_eq!(
            Flavor::negotiate(&accept("text/html;q=0.5, application/json")),
            Flavor::Json
        );
        assert_eq!(Flavor::negotiate(&accept("image/png")), Flavor::Json);
    }

    #[test]
    fn json_body_is_generic() {
        let b = render(StatusCode::BAD_GATEWAY, Flavor::Json, None);
        assert_eq!(&b[..], br#"{"message":"Bad Gateway"}"#);
        let b = render(StatusCode::FORBIDDEN, Flavor::Json, id("r-1").as_ref());
        assert_eq!(&b[..], br#"{"message":"Forbidden","request_id":"r-1"}"#);
    }

    #[test]
    fn text_body_names_status_and_id() {
        let b = render(StatusCode::FORBIDDEN, Flavor::Text, id("r-1").as_ref());
        assert_eq!(&b[..], b"403 Forbidden\nrequest id: r-1\n");
        let b = render(StatusCode::GATEWAY_TIMEOUT, Flavor::Text, None);
        assert_eq!(&b[..], b"504 Gateway Timeout\n");
    }

    #[test]
    fn templates_fill_placeholders_and_fall_back() {
        let mut t = std::collections::BTreeMap::new();
        t.insert(
            403,
            Templates {
                json: Some(r#"{"error":"{reason}","code":{status},"id":"{request_id}"}"#.into()),
                ..Default::default()
            },
        );
        let b = render_for(&t, StatusCode::FORBIDDEN, Flavor::Json, id("abc").as_ref());
        assert_eq!(&b[..], br#"{"error":"Forbidden","code":403,"id":"abc"}"#);
        let b = render_for(&t, StatusCode::FORBIDDEN, Flavor::Text, None);
        assert_eq!(&b[..], b"403 Forbidden\n");
    }

    #[test]
    fn hex16_is_big_endian_lowercase() {
        assert_eq!(&hex16(0x0123_4567_89ab_cdef), b"0123456789abcdef");
        assert_eq!(&hex16(0), b"0000000000000000");
    }

    #[test]
    fn generated_ids_differ_and_are_safe() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        let a = a.as_str();
        assert!(is_safe_id(a) && a.len() == 32);
        // The process half is shared, the counter half differs.
        assert_eq!(a[16..], b.as_str()[16..]);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
            "{a}"
        );
    }

    #[test]
    fn request_id_with_markup_is_not_echoed() {
        for unsafe_id in ["<script>", "a\"b", "", &"x".repeat(129)] {
            assert_eq!(RequestId::parse(unsafe_id), None, "{unsafe_id}");
        }
        assert!(RequestId::parse(&"x".repeat(128)).is_some());
    }
}
