//! Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection and must not be forwarded.

use http::header::{self, HeaderMap, HeaderName};

/// Headers that are always connection-specific.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
];

/// Removes hop-by-hop headers, including any header the Connection header names.
pub fn strip(headers: &mut HeaderMap) {
    // Most messages carry none of these: one pass over the (few) names present is cheaper than
    // hashing nine names to remove nothing.
    let present = headers
        .keys()
        .any(|k| HOP_BY_HOP.contains(k) || k.as_str() == "proxy-connection");
    if !present {
        return;
    }
    if let Some(named) = connection_named(headers) {
        for name in named {
            headers.remove(&name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove("proxy-connection");
}

/// The extra headers a Connection header names (excluding the common tokens).
fn connection_named(headers: &HeaderMap) -> Option<Vec<HeaderName>> {
    let mut out: Option<Vec<HeaderName>> = None;
    for v in headers.get_all(header::CONNECTION) {
        let Ok(s) = v.to_str() else { continue };
        for token in s.split(',').map(str::trim) {
            if token.is_empty()
                || token.eq_ignore_ascii_case("close")
                || token.eq_ignore_ascii_case("keep-alive")
            {
                continue;
            }
            if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
                out.get_or_insert_with(Vec::new).push(name);
            }
        }
    }
    out
}

/// True when the request asks to switch protocols (WebSocket and friends) over HTTP/1.1.
pub fn is_upgrade_request(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|s| s.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn strips_standard_and_connection_named_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, X-Secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.insert("proxy-connection", HeaderValue::from_static("keep-alive"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn detects_upgrade_among_connection_tokens() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(is_upgrade_request(&h));
    }
}
