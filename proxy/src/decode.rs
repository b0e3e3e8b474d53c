//! Decoding compressed error bodies so the leak detectors see the text, with a hard cap on the
//! decoded size: a small body that inflates to gigabytes must not take the proxy's memory.

use std::io::Read;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Encoding {
    /// `None` for an encoding we cannot decode (or a stack of several).
    pub fn from_header(value: Option<&str>) -> Option<Encoding> {
        let Some(v) = value else {
            return Some(Encoding::Identity);
        };
        let mut codings = v
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"));
        let first = codings.next();
        if codings.next().is_some() {
            return None;
        }
        match first.map(str::to_ascii_lowercase).as_deref() {
            None => Some(Encoding::Identity),
            Some("gzip" | "x-gzip") => Some(Encoding::Gzip),
            Some("deflate") => Some(Encoding::Deflate),
            Some("br") => Some(Encoding::Brotli),
            Some("zstd") => Some(Encoding::Zstd),
            Some(_) => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("decoded size exceeds {0} bytes")]
    TooLarge(usize),
    #[error("the body is not valid {0:?} data")]
    Invalid(Encoding),
}

/// Decodes `input` into at most `cap` bytes.
pub fn decode(encoding: Encoding, input: &[u8], cap: usize) -> Result<Vec<u8>, DecodeError> {
    match encoding {
        Encoding::Identity => Ok(input.to_vec()),
        Encoding::Gzip => read_capped(flate2::read::MultiGzDecoder::new(input), cap, encoding),
        // "deflate" means zlib-wrapped per RFC 9110, but some servers send raw deflate.
        Encoding::Deflate => read_capped(flate2::read::ZlibDecoder::new(input), cap, encoding)
            .or_else(|e| match e {
                DecodeError::TooLarge(_) => Err(e),
                DecodeError::Invalid(_) => {
                    read_capped(flate2::read::DeflateDecoder::new(input), cap, encoding)
                }
            }),
        Encoding::Brotli => read_capped(
            brotli_decompressor::Decompressor::new(input, 4096),
            cap,
            encoding,
        ),
        Encoding::Zstd => {
            let mut src = input;
            let decoder = ruzstd::decoding::StreamingDecoder::new(&mut src)
                .map_err(|_| DecodeError::Invalid(encoding))?;
            read_capped(decoder, cap, encoding)
        }
    }
}

fn read_capped(reader: impl Read, cap: usize, encoding: Encoding) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    // One byte past the cap tells "exactly at the cap" from "beyond it".
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|_| DecodeError::Invalid(encoding))?;
    if out.len() > cap {
        return Err(DecodeError::TooLarge(cap));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn header_parsing() {
        assert_eq!(Encoding::from_header(None), Some(Encoding::Identity));
        assert_eq!(Encoding::from_header(Some("GZIP")), Some(Encoding::Gzip));
        assert_eq!(
            Encoding::from_header(Some("gzip, br")),
            None,
            "stacked codings are not decoded"
        );
        assert_eq!(Encoding::from_header(Some("compress")), None);
    }

    #[test]
    fn gzip_roundtrip_and_bomb_cap() {
        assert_eq!(
            decode(Encoding::Gzip, &gzip(b"hello"), 100).unwrap(),
            b"hello"
        );
        let bomb = gzip(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 64 * 1024);
        assert_eq!(
            decode(Encoding::Gzip, &bomb, 1 << 20),
            Err(DecodeError::TooLarge(1 << 20))
        );
    }

    #[test]
    fn garbage_is_invalid_not_a_panic() {
        for e in [
            Encoding::Gzip,
            Encoding::Deflate,
            Encoding::Brotli,
            Encoding::Zstd,
        ] {
            assert!(
                decode(e, b"definitely not compressed", 1000).is_err(),
                "{e:?}"
            );
        }
    }
}
