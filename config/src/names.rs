//! Header names compared in any case a word (8 bytes) at a time: the remove list and both
//! HTTP/1.1 parsers ask "is this name X?" for every header line of every message, and the
//! standard library's byte-at-a-time `eq_ignore_ascii_case` was a visible part of that.

/// True when `name`, in any case, is `lowercase` (which must be lowercase already, as header
/// names and the literals compared with them are). Names up to 16 bytes, nearly all, take two
/// word comparisons at most. Always inlined: most calls compare with a literal, which then folds
/// into constants, and a length that differs ends it in one comparison.
#[inline(always)]
pub fn eq_lowercase(name: &[u8], lowercase: &[u8]) -> bool {
    let n = name.len();
    if n != lowercase.len() {
        return false;
    }
    if n <= 8 {
        return lower_word(first_word(name)) == first_word(lowercase);
    }
    // The first and the last 8 bytes, overlapping below 16.
    let last = n - 8;
    lower_word(first_word(name)) == first_word(lowercase)
        && lower_word(first_word(&name[last..])) == first_word(&lowercase[last..])
        && (n <= 16
            || name[8..last]
                .chunks(8)
                .zip(lowercase[8..last].chunks(8))
                .all(|(a, b)| lower_word(first_word(a)) == first_word(b)))
}

/// `word` with its ASCII capitals made lowercase and every other byte left as it is, all 8
/// bytes at once: a byte gets its case bit when its low 7 bits are at least `A`, not past
/// `Z`, and its high bit is clear. The low 7 bits plus at most 0x3f never carry into the next
/// byte.
#[inline(always)]
pub fn lower_word(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low = word & LOW7;
    let from_a = low.wrapping_add(0x3f3f_3f3f_3f3f_3f3f); // 0x80 - b'A'
    let past_z = low.wrapping_add(0x2525_2525_2525_2525); // 0x80 - (b'Z' + 1)
    let capitals = from_a & !past_z & !word & HIGH;
    word | (capitals >> 2)
}

/// The first 8 bytes of `b` as a little-endian word, zero-padded. Shorter names are read as
/// two overlapping pieces instead of byte by byte (`date`, `server` and `vary` are short).
#[inline(always)]
pub fn first_word(b: &[u8]) -> u64 {
    if let Some(chunk) = b.first_chunk::<8>() {
        return u64::from_le_bytes(*chunk);
    }
    let n = b.len();
    match (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        (Some(lo), Some(hi)) => {
            u64::from(u32::from_le_bytes(*lo))
                | (u64::from(u32::from_le_bytes(*hi)) << (8 * (n - 4)))
        }
        _ => match (b.first(), b.last()) {
            (Some(&first), Some(&last)) => {
                u64::from(first)
                    | (u64::from(b[n / 2]) << (8 * (n / 2)))
                    | (u64::from(last) << (8 * (n - 1)))
            }
            _ => 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_word_lowercases_capitals_only_in_every_byte_position() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                // The byte under test among neighbours that could carry into it.
                let mut bytes = [0xffu8, b'Z', b'A', 0x7f, b'@', b'[', 0x80, b'a'];
                bytes[pos] = b;
                let want = u64::from_le_bytes(bytes.map(|c| c.to_ascii_lowercase()));
                assert_eq!(
                    lower_word(u64::from_le_bytes(bytes)),
                    want,
                    "{b:#x} at {pos}"
                );
            }
        }
    }

    #[test]
    fn first_word_reads_every_length() {
        let text = b"abcdefghijk";
        for n in 0..=text.len() {
            let mut padded = [0u8; 8];
            let m = n.min(8);
            padded[..m].copy_from_slice(&text[..m]);
            assert_eq!(
                first_word(&text[..n]),
                u64::from_le_bytes(padded),
                "length {n}"
            );
        }
    }

    #[test]
    fn eq_lowercase_agrees_with_the_standard_library() {
        let lowercase: [&[u8]; 6] = [
            b"",
            b"te",
            b"date",
            b"content-length",
            b"connection",
            b"x-drupal-dynamic-cache",
        ];
        for l in lowercase {
            let mut names: Vec<Vec<u8>> =
                vec![l.to_vec(), l.to_ascii_uppercase(), [l, b"x"].concat()];
            for i in 0..l.len() {
                for flip in [0x20u8, 0x01, 0x80] {
                    let mut v = l.to_vec();
                    v[i] ^= flip;
                    names.push(v);
                }
            }
            for name in names {
                assert_eq!(
                    eq_lowercase(&name, l),
                    name.eq_ignore_ascii_case(l),
                    "{:?} vs {:?}",
                    String::from_utf8_lossy(&name),
                    String::from_utf8_lossy(l)
                );
            }
        }
    }
}
