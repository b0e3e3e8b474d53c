//! Response headers as the Observatory sees them.
//!
//! The Observatory reads headers through Node's HTTP client, which folds a header sent several
//! times into one value joined with `", "` (so `X-Content-Type-Options` sent twice reads
//! `nosniff, nosniff` and is invalid), keeps only the first of a few headers such as
//! `Content-Type`, and keeps `Set-Cookie` as a list. Grading the raw list instead would give
//! different results for duplicated headers, so every test reads headers through this view.

/// Headers whose duplicates Node discards, keeping the first (Node's `IncomingMessage.headers`).
const FIRST_ONLY: &[&str] = &[
    "age",
    "authorization",
    "content-length",
    "content-type",
    "etag",
    "expires",
    "from",
    "host",
    "if-modified-since",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "proxy-authorization",
    "referer",
    "retry-after",
    "server",
    "user-agent",
];

#[derive(Clone, Copy)]
pub(crate) struct NodeHeaders<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> NodeHeaders<'a> {
    pub(crate) fn new(pairs: &'a [(String, String)]) -> Self {
        NodeHeaders { pairs }
    }

    /// Every value sent under `name`, in order.
    pub(crate) fn all(&self, name: &str) -> Vec<&'a str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The single value Node reports for `name`, or `None` when it was not sent.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        let values = self.all(name);
        let first = values.first()?;
        if FIRST_ONLY.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            return Some((*first).to_owned());
        }
        Some(values.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn duplicates_are_joined_except_first_only_headers() {
        let pairs = h(&[
            ("X-Frame-Options", "DENY"),
            ("x-frame-options", "SAMEORIGIN"),
            ("Content-Type", "text/html"),
            ("content-type", "text/plain"),
        ]);
        let v = NodeHeaders::new(&pairs);
        assert_eq!(
            v.get("x-frame-options").as_deref(),
            Some("DENY, SAMEORIGIN")
        );
        assert_eq!(v.get("content-type").as_deref(), Some("text/html"));
        assert_eq!(v.get("referrer-policy"), None);
        assert_eq!(v.all("X-FRAME-OPTIONS").len(), 2);
    }
}
