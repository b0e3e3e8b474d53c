//! Header-map edits more than one phase needs.

use http::HeaderMap;
use http::header::HeaderName;

/// Names collected per pass of [`remove_matching`].
const BATCH: usize = 8;

/// Removes every header whose name `doomed` picks and returns how many names went (each with
/// all its values). The map cannot shrink while its names are borrowed, so the names are
/// collected first, a few at a time, into an array on the stack: no allocation, and one pass
/// over the map when fewer than a batch match (the usual case is none).
pub(crate) fn remove_matching(
    headers: &mut HeaderMap,
    doomed: impl Fn(&HeaderName) -> bool,
) -> usize {
    let mut removed = 0;
    loop {
        let mut found: [Option<HeaderName>; BATCH] = Default::default();
        let mut n = 0;
        for name in headers.keys().filter(|name| doomed(name)) {
            found[n] = Some(name.clone());
            n += 1;
            if n == BATCH {
                break;
            }
        }
        for name in found.iter().flatten() {
            headers.remove(name);
        }
        removed += n;
        if n < BATCH {
            return removed;
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn removes_every_match_with_all_its_values_in_as_many_passes_as_it_takes() {
        for matching in [0, 1, BATCH - 1, BATCH, BATCH + 1, 3 * BATCH + 2] {
            let mut h = HeaderMap::new();
            for i in 0..matching {
                let name = HeaderName::from_bytes(format!("x-gone-{i}").as_bytes()).unwrap();
                h.append(&name, HeaderValue::from_static("1"));
                h.append(&name, HeaderValue::from_static("2"));
            }
            h.insert("x-kept", HeaderValue::from_static("k"));
            let removed = remove_matching(&mut h, |n| n.as_str().starts_with("x-gone-"));
            assert_eq!(removed, matching);
            assert_eq!(h.len(), 1, "{matching} matching");
            assert_eq!(h["x-kept"], "k");
        }
    }
}
