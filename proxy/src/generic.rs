//! Generic error bodies: what a client sees instead of anything that describes the system.
//!
//! Chosen by the request's Accept header; they carry the status text and a correlation id,
//! nothing else.

use bytes::Bytes;
use http::header::{ACCEPT, HeaderValue};
use http::{HeaderMap, StatusCode};

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
        let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
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
        HeaderValue::from_static(match self {
            Flavor::Json => "application/json",
            Flavor::Html => "text/html; charset=utf-8",
            Flavor::Text => "text/plain; charset=utf-8",
        })
    }
}

/// The generic body for a status, e.g. `{"message":"Bad Gateway","request_id":"..."}`.
pub fn render(status: StatusCode, flavor: Flavor, request_id: Option<&str>) -> Bytes {
    let reason = status.canonical_reason().unwrap_or("Error");
    let id = request_id.filter(|id| {
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    });
    match flavor {
        Flavor::Json => match id {
            Some(id) => format!("{{\"message\":\"{reason}\",\"request_id\":\"{id}\"}}"),
            None => format!("{{\"message\":\"{reason}\"}}"),
        },
        Flavor::Text => match id {
            Some(id) => format!("{} {reason}\nrequest id: {id}\n", status.as_u16()),
            None => format!("{} {reason}\n", status.as_u16()),
        },
        Flavor::Html => {
            let code = status.as_u16();
            let id_line = id.map(|id| format!("<p>Request id: {id}</p>")).unwrap_or_default();
            format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>{code} {reason}</title></head><body><h1>{code} {reason}</h1>{id_line}</body></html>\n"
            )
        }
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn request_id_with_markup_is_not_echoed() {
        let b = render(StatusCode::FORBIDDEN, Flavor::Html, Some("<script>"));
        assert!(!String::from_utf8_lossy(&b).contains("<script>"));
    }
}
