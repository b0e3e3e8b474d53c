//! The few JavaScript string semantics the Observatory's results depend on.
//!
//! The Observatory is written in JavaScript and some of its verdicts hinge on exactly how
//! `String.prototype.trim`, `split(/\s+/)`, `slice` and `parseInt` behave (a header padded with a
//! no-break space, a `max-age` that is not a number). Rust's own helpers differ in small ways, so
//! the grader uses these instead wherever the outcome could differ.

/// JavaScript's `WhiteSpace` and `LineTerminator` characters: what `trim()` strips and `\s`
/// matches. Rust's `char::is_whitespace` differs (it has U+0085, lacks U+FEFF).
pub(crate) fn is_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{d}'
            | ' '
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
            | '\u{feff}'
    )
}

/// `s.trim()`.
pub(crate) fn trim(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// `s.split(/\s+/)` on a string that is already trimmed: an empty string gives one empty
/// token, as in JavaScript.
pub(crate) fn split_ws(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return vec![""];
    }
    s.split(is_space).filter(|t| !t.is_empty()).collect()
}

/// `s.slice(0, units)`, where JavaScript counts UTF-16 code units. A surrogate pair cut in
/// half is dropped entirely (JavaScript would keep a lone surrogate, which no comparison the
/// grader makes can match anyway).
pub(crate) fn slice_units(s: &str, units: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > units {
            return &s[..i];
        }
    }
    s
}

/// Length in UTF-16 code units, as `s.length` reports it.
pub(crate) fn len_units(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// `parseInt(s, 10)`: leading whitespace skipped, an optional sign, then as many decimal digits
/// as there are; `NaN` when there are none.
pub(crate) fn parse_int(s: &str) -> f64 {
    let s = s.trim_start_matches(is_space);
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits_end = rest
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    let digits = &rest[..digits_end];
    if digits.is_empty() {
        return f64::NAN;
    }
    // A run of ASCII digits always parses; the fallback only keeps the function total.
    let value = digits.parse::<f64>().unwrap_or(f64::NAN);
    if negative { -value } else { value }
}

/// `decodeURIComponent(s)`, which throws `URIError` on a malformed escape or on escapes that do
/// not form UTF-8: the Observatory lets that error make the whole CSP invalid.
pub(crate) fn decode_uri_component(s: &str) -> Result<String, ()> {
    let bytes = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let first = hex_byte(bytes, i)?;
        i += 3;
        let width = match first {
            0x00..=0x7f => 1,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => return Err(()),
        };
        let mut seq = vec![first];
        for _ in 1..width {
            if bytes.get(i) != Some(&b'%') {
                return Err(());
            }
            let b = hex_byte(bytes, i)?;
            if b & 0xc0 != 0x80 {
                return Err(());
            }
            seq.push(b);
            i += 3;
        }
        // Overlong forms, surrogates and code points past U+10FFFF are rejected by JavaScript
        // just as by a strict UTF-8 decoder.
        if std::str::from_utf8(&seq).is_err() {
            return Err(());
        }
        out.extend_from_slice(&seq);
    }
    String::from_utf8(out).map_err(|_| ())
}

fn hex_byte(bytes: &[u8], at: usize) -> Result<u8, ()> {
    let hi = bytes.get(at + 1).and_then(|b| (*b as char).to_digit(16));
    let lo = bytes.get(at + 2).and_then(|b| (*b as char).to_digit(16));
    match (hi, lo) {
        (Some(h), Some(l)) => u8::try_from(h * 16 + l).map_err(|_| ()),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_and_split_follow_javascript() {
        assert_eq!(trim("\u{feff}\u{a0} a b\t"), "a b");
        assert_eq!(trim("\u{85}a"), "\u{85}a");
        assert_eq!(split_ws(""), vec![""]);
        assert_eq!(split_ws("a \u{a0} b"), vec!["a", "b"]);
    }

    #[test]
    fn parse_int_follows_javascript() {
        assert_eq!(parse_int(" 42abc"), 42.0);
        assert_eq!(parse_int("-5"), -5.0);
        assert_eq!(parse_int("+7"), 7.0);
        assert!(parse_int("\"31536000\"").is_nan());
        assert!(parse_int("").is_nan());
        assert!(parse_int("-").is_nan());
        assert_eq!(parse_int("99999999999999999999"), 1e20);
    }

    #[test]
    fn slices_count_utf16_units() {
        assert_eq!(slice_units("abc", 2), "ab");
        assert_eq!(slice_units("a😀b", 2), "a");
        assert_eq!(slice_units("a😀b", 3), "a😀");
        assert_eq!(len_units("a😀"), 3);
    }

    #[test]
    fn decode_uri_component_rejects_what_javascript_rejects() {
        assert_eq!(decode_uri_component("a%20b%2F").as_deref(), Ok("a b/"));
        assert_eq!(decode_uri_component("%C3%A9").as_deref(), Ok("é"));
        assert!(decode_uri_component("%zz").is_err());
        assert!(decode_uri_component("%4").is_err());
        assert!(decode_uri_component("%C3").is_err());
        assert!(decode_uri_component("%C0%80").is_err());
        assert!(decode_uri_component("%ED%A0%80").is_err());
        assert!(decode_uri_component("%80").is_err());
    }
}
