//! Evidence quoting: show where a leak sits without repeating it.

use std::fmt::Write as _;

use super::LeakMatch;

/// Characters of context kept on each side of the match.
const CONTEXT_CHARS: usize = 40;
/// Bytes read on each side: enough for `CONTEXT_CHARS` characters of up to
/// four bytes each.
const CONTEXT_BYTES: usize = CONTEXT_CHARS * 4;

/// Renders `m` as evidence: up to 40 characters of context on each side
/// (lossy UTF-8, control and bidi characters escaped), with the match itself
/// replaced by `[<detector> redacted: <n> chars]`.
///
/// The matched bytes never appear in the output: other copies of them inside
/// the context window are masked the same way. Text from *other* matches in
/// the window is left alone; use it together with [`super::DetectorSet::scan`]
/// if the context must be clean too. Out-of-range matches are clamped rather
/// than panicking.
pub fn redact(haystack: &[u8], m: &LeakMatch) -> String {
    let end = m.end.min(haystack.len());
    let start = m.start.min(end);
    let secret = &haystack[start..end];
    let tag = format!(
        "[{} redacted: {} chars]",
        m.detector,
        String::from_utf8_lossy(secret).chars().count()
    );

    let mut before_from = start.saturating_sub(CONTEXT_BYTES);
    // Do not start inside a multi-byte character: it would decode to U+FFFD.
    while before_from < start && before_from > 0 && is_continuation(haystack[before_from]) {
        before_from += 1;
    }
    let after_to = end.saturating_add(CONTEXT_BYTES).min(haystack.len());

    let before = pieces(&haystack[before_from..start], secret);
    let after = pieces(&haystack[end..after_to], secret);
    let skip = before.len().saturating_sub(CONTEXT_CHARS);
    let take = after.len().min(CONTEXT_CHARS);

    let mut out = String::with_capacity(tag.len() + 4 * CONTEXT_CHARS + 8);
    if skip > 0 || before_from > 0 {
        out.push('…');
    }
    render(&mut out, &before[skip..], &tag);
    out.push_str(&tag);
    render(&mut out, &after[..take], &tag);
    if take < after.len() || after_to < haystack.len() {
        out.push('…');
    }
    out
}

fn is_continuation(b: u8) -> bool {
    b & 0b1100_0000 == 0b1000_0000
}

/// A unit of context: one decoded character, or a further copy of the
/// secret (which must be masked too, and counts as one unit when trimming).
enum Piece {
    Char(char),
    Secret,
}

fn pieces(bytes: &[u8], secret: &[u8]) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = bytes;
    if !secret.is_empty() {
        while let Some(i) = find(rest, secret) {
            out.extend(String::from_utf8_lossy(&rest[..i]).chars().map(Piece::Char));
            out.push(Piece::Secret);
            rest = &rest[i + secret.len()..];
        }
    }
    out.extend(String::from_utf8_lossy(rest).chars().map(Piece::Char));
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn render(out: &mut String, pieces: &[Piece], tag: &str) {
    for p in pieces {
        match *p {
            Piece::Secret => out.push_str(tag),
            Piece::Char('\n') => out.push_str("\\n"),
            Piece::Char('\r') => out.push_str("\\r"),
            Piece::Char('\t') => out.push_str("\\t"),
            Piece::Char(c) if needs_escape(c) => {
                // Formatting into a String cannot fail.
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            Piece::Char(c) => out.push(c),
        }
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        // Bidi controls and zero-width characters can make quoted evidence
        // render differently from the bytes it describes.
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::super::{DetectorId, DetectorSet};
    use super::*;

    const WILD_APIGW_ROLE: &str = "User: arn:aws:iam::123456789012:role/your-authorized-role is not authorized to perform: execute-api:Invoke on the resource: arn:aws:execute-api:eu-west-1:123456789012:123456/prod/POST/users with an explicit deny";
    const WILD_STS: &str = "User: arn:aws:sts::123456789012:assumed-role/Admin/session";

    fn set() -> DetectorSet {
        DetectorSet::builtin()
    }

    #[test]
    fn redact_hides_the_match() {
        let t = WILD_APIGW_ROLE.as_bytes();
        for m in set().scan(t) {
            let secret = &WILD_APIGW_ROLE[m.range()];
            let r = redact(t, &m);
            assert!(!r.contains(secret), "{secret:?} leaked in {r:?}");
            assert!(r.contains(&format!("[{} redacted: ", m.detector)), "{r}");
        }
        let m = set()
            .scan(WILD_STS.as_bytes())
            .into_iter()
            .find(|m| m.detector == "aws-arn")
            .unwrap();
        assert_eq!(
            redact(WILD_STS.as_bytes(), &m),
            "User: [aws-arn redacted: 52 chars]"
        );
    }

    #[test]
    fn redact_context_is_bounded_and_escaped() {
        let before = "a".repeat(100);
        let after = "b\n\tc\u{1b}\u{202e}".to_owned() + &"d".repeat(100);
        let t = format!("{before}10.1.2.3{after}");
        let m = set().first(t.as_bytes()).unwrap();
        assert_eq!(m.detector, "private-ipv4");
        let r = redact(t.as_bytes(), &m);
        let expected_after: String = "b\\n\\tc\\u{1b}\\u{202e}".to_owned() + &"d".repeat(34);
        assert_eq!(
            r,
            format!(
                "…{}[private-ipv4 redacted: 8 chars]{expected_after}…",
                "a".repeat(40)
            )
        );
    }

    #[test]
    fn redact_masks_repeated_copies() {
        let t = "10.0.0.1,10.0.0.1";
        let m = set().first(t.as_bytes()).unwrap();
        let r = redact(t.as_bytes(), &m);
        assert!(!r.contains("10.0.0.1"), "{r}");
        assert_eq!(
            r,
            "[private-ipv4 redacted: 8 chars],[private-ipv4 redacted: 8 chars]"
        );
    }

    #[test]
    fn redact_handles_invalid_and_bogus_input() {
        let t = b"\xff\xfe 127.0.0.1 \xc3";
        let m = set().first(t).unwrap();
        let r = redact(t, &m);
        assert_eq!(
            r,
            "\u{fffd}\u{fffd} [private-ipv4 redacted: 9 chars] \u{fffd}"
        );
        // Out-of-range spans are clamped.
        let bogus = LeakMatch {
            detector: DetectorId::builtin("aws-arn"),
            start: 50,
            end: 10,
        };
        let _ = redact(t, &bogus);
        // A context window cut inside a multi-byte character.
        let t = format!("{}é10.0.0.1", "é".repeat(100));
        let m = set().first(t.as_bytes()).unwrap();
        let r = redact(t.as_bytes(), &m);
        assert!(!r.contains('\u{fffd}'), "{r}");
        assert!(r.starts_with('…'));
    }
}
