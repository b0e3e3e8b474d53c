//! Content Security Policy parsing as the Observatory does it, and a strictness comparison.
//!
//! The Observatory's parser has rules of its own that decide grades, so they are reproduced
//! rather than "fixed": a repeated directive makes the policy invalid (except `report-uri` and
//! `report-to`), a policy shorter than six characters is invalid, a `*-src` directive with no
//! value means `'none'`, sources are lower-cased, a source that starts with an earlier source of
//! the same policy is dropped as superfluous, and several policies (repeated headers,
//! comma-separated lists, `<meta>` tags) are intersected by sorting every directive's sources and
//! keeping one only when its neighbour from another policy matches it.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::js;

/// Key the Observatory adds to a parsed policy when `report-uri`/`report-to` repeat.
pub(crate) const DUPLICATE_WARNINGS_KEY: &str = "_observatory_duplicate_key_warnings";

/// Shorter policies are rejected: the shortest useful one, `img-src`, minus one character.
const SHORTEST_POLICY: usize = 6;
const ALLOWED_DUPLICATES: [&str; 2] = ["report-uri", "report-to"];
const DISALLOWED_IN_META: [&str; 3] = ["frame-ancestors", "report-uri", "sandbox"];
const NONE: &str = "'none'";

/// Why a policy could not be parsed. Any of these grades as `csp-header-invalid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CspError {
    #[error("CSP policy {0:?} is empty or shorter than 6 characters")]
    TooShort(String),
    #[error("CSP directive {directive} appears more than once in policy {policy}")]
    DuplicateDirective { directive: String, policy: usize },
    #[error("CSP source {0:?} has a malformed percent-encoding")]
    BadEncoding(String),
}

/// Keeps error messages readable when a header is megabytes long.
fn excerpt(s: &str) -> String {
    js::slice_units(s, 80).to_owned()
}

/// A parsed policy in the Observatory's own shape: directives in first-seen order with their
/// (deduplicated) sources, possibly including [`DUPLICATE_WARNINGS_KEY`].
pub(crate) type RawPolicy = Vec<(String, Vec<String>)>;

/// A parsed (and, for several policies, intersected) Content Security Policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Lower-cased directive names in first-seen order, each with its sources (lower-cased).
    directives: Vec<(String, Vec<String>)>,
    /// `report-uri`/`report-to` directives that were repeated (allowed, but costs the bonus).
    duplicate_warnings: Vec<String>,
}

impl Policy {
    pub(crate) fn from_raw(raw: RawPolicy) -> Policy {
        let mut policy = Policy::default();
        for (name, sources) in raw {
            if name == DUPLICATE_WARNINGS_KEY {
                policy.duplicate_warnings = sources;
            } else {
                policy.directives.push((name, sources));
            }
        }
        policy
    }

    /// Every directive with its sources, in the order first seen.
    pub fn directives(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.directives
            .iter()
            .map(|(d, s)| (d.as_str(), s.as_slice()))
    }

    /// The sources of exactly this directive (no fallback).
    pub fn get(&self, directive: &str) -> Option<&[String]> {
        let directive = directive.to_ascii_lowercase();
        self.directives
            .iter()
            .find(|(d, _)| *d == directive)
            .map(|(_, s)| s.as_slice())
    }

    pub fn has(&self, directive: &str) -> bool {
        self.get(directive).is_some()
    }

    /// The sources that govern `directive`, following CSP Level 3 fallbacks for fetch
    /// directives (`script-src-elem` → `script-src` → `default-src`, `worker-src` →
    /// `child-src` → `script-src` → `default-src`, `frame-src` → `child-src` → `default-src`,
    /// other `*-src` → `default-src`). Other directives (`base-uri`, `form-action`,
    /// `frame-ancestors`, ...) have no fallback: `None` means unrestricted.
    pub fn effective(&self, directive: &str) -> Option<&[String]> {
        let directive = directive.to_ascii_lowercase();
        fallback_chain(&directive).iter().find_map(|d| self.get(d))
    }

    /// Repeated `report-uri`/`report-to` directives (the Observatory accepts them but then
    /// reports `csp-implemented-but-duplicate-directives`).
    pub fn duplicate_warnings(&self) -> &[String] {
        &self.duplicate_warnings
    }

    /// True when no directive was found (e.g. a value made only of `;`).
    pub fn is_empty(&self) -> bool {
        self.directives.is_empty()
    }
}

fn fallback_chain(directive: &str) -> Vec<&str> {
    let rest: &[&str] = match directive {
        "script-src-elem" | "script-src-attr" => &["script-src", "default-src"],
        "style-src-elem" | "style-src-attr" => &["style-src", "default-src"],
        "worker-src" => &["child-src", "script-src", "default-src"],
        "frame-src" => &["child-src", "default-src"],
        "fenced-frame-src" => &["frame-src", "child-src", "default-src"],
        "default-src" => &[],
        d if d.ends_with("-src") => &["default-src"],
        _ => &[],
    };
    let mut chain = vec![directive];
    chain.extend_from_slice(rest);
    chain
}

/// Parses one header value. A value holding several comma-separated policies is treated as the
/// Observatory treats it: as that many policies, intersected.
pub fn parse(header_value: &str) -> Result<Policy, CspError> {
    parse_all(&[header_value])
}

/// Parses several header values (each possibly a comma-separated list of policies) into one
/// effective policy, intersected the way the Observatory intersects them. No values at all
/// gives an empty policy.
pub fn parse_all(values: &[&str]) -> Result<Policy, CspError> {
    parse_list(&split_policies(values)).map(Policy::from_raw)
}

/// Splits raw header values into policies. CSP forbids commas inside a policy, so a comma
/// always separates policies (which is also what folding repeated headers produces).
pub(crate) fn split_policies<S: AsRef<str>>(values: &[S]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.as_ref().split(',').map(|p| js::trim(p).to_owned()))
        .collect()
}

/// One source while policies are being intersected.
#[derive(Clone)]
struct Entry {
    source: String,
    /// Which policy of the list it came from.
    policy: usize,
    keep: bool,
}

/// The Observatory's `parseCsp`: a list of policies to one (intersected) policy.
pub(crate) fn parse_list(policies: &[String]) -> Result<RawPolicy, CspError> {
    let clean: Vec<String> = policies
        .iter()
        .map(|p| js::trim(&p.replace(['\r', '\n'], "")).to_owned())
        .collect();
    if clean.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(bad) = clean
        .iter()
        .find(|p| p.is_empty() || js::len_units(p) < SHORTEST_POLICY)
    {
        return Err(CspError::TooShort(excerpt(bad)));
    }
    let several = clean.len() > 1;

    let mut directives: Vec<(String, Vec<Entry>)> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    let mut warnings: Vec<String> = Vec::new();

    for (index, policy) in clean.iter().enumerate() {
        let mut seen: HashSet<String> = HashSet::new();
        for raw in policy.split(';') {
            let tokens = js::split_ws(js::trim(raw));
            let Some((first, values)) = tokens.split_first() else {
                continue;
            };
            if first.is_empty() {
                continue;
            }
            let directive = first.to_lowercase();
            if !seen.insert(directive.clone()) {
                if !ALLOWED_DUPLICATES.contains(&directive.as_str()) {
                    return Err(CspError::DuplicateDirective {
                        directive: excerpt(&directive),
                        policy: index,
                    });
                }
                if !warnings.contains(&directive) {
                    warnings.push(directive.clone());
                }
            }

            let keep = index == 0;
            let mut fresh: Vec<Entry> = values
                .iter()
                .map(|s| Entry {
                    source: js::trim(s).to_lowercase(),
                    policy: index,
                    keep,
                })
                .collect();
            if values.is_empty() && directive.ends_with("-src") {
                fresh.push(Entry {
                    source: NONE.to_owned(),
                    policy: index,
                    keep,
                });
            }
            let slot = position.get(&directive).copied();
            // The first policy replaces (a repeated report-uri keeps its last value); later
            // policies are merged with what is already there.
            let mut combined = match slot {
                Some(i) if index > 0 => {
                    let mut c = directives[i].1.clone();
                    c.extend(fresh);
                    c
                }
                _ => fresh,
            };
            combined.sort_by(|a, b| collate(&a.source, &b.source));
            for i in 1..combined.len() {
                let (before, after) = combined.split_at_mut(i);
                let (prev, cur) = (&before[i - 1], &mut after[0]);
                if cur.policy == prev.policy && cur.source.starts_with(&prev.source) {
                    cur.keep = false;
                }
                if cur.policy != prev.policy && path_part_match(&prev.source, &cur.source)? {
                    cur.keep = true;
                }
            }
            combined.retain(|e| e.keep);
            // Sources of the first policy survive only if a later policy has them too.
            if index == 0 && several {
                for e in &mut combined {
                    e.keep = false;
                }
            }
            match slot {
                Some(i) => directives[i].1 = combined,
                None => {
                    position.insert(directive.clone(), directives.len());
                    directives.push((directive, combined));
                }
            }
        }
    }

    let mut out: RawPolicy = directives
        .into_iter()
        .map(|(name, entries)| {
            let mut seen = HashSet::new();
            let mut sources: Vec<String> = entries
                .into_iter()
                .filter(|e| seen.insert(e.source.clone()))
                .map(|e| e.source)
                .collect();
            if sources.is_empty() {
                sources.push(NONE.to_owned());
            }
            (name, sources)
        })
        .collect();
    if !warnings.is_empty() {
        match out.iter_mut().find(|(d, _)| d == DUPLICATE_WARNINGS_KEY) {
            Some(slot) => slot.1 = warnings,
            None => out.push((DUPLICATE_WARNINGS_KEY.to_owned(), warnings)),
        }
    }
    Ok(out)
}

/// `parseCspMeta`: like [`parse_list`], minus the directives a `<meta>` policy may not set.
pub(crate) fn parse_meta(policies: &[String]) -> Result<RawPolicy, CspError> {
    let mut raw = parse_list(policies)?;
    raw.retain(|(d, _)| !DISALLOWED_IN_META.contains(&d.as_str()));
    Ok(raw)
}

/// The comparison the Observatory sorts sources with, `Intl.Collator("en").compare` (ICU root
/// collation): punctuation and symbols first in ICU's order, then digits, then letters, case
/// compared only when everything else is equal. Characters outside printable ASCII are put
/// after all of them by code point, an approximation that only matters for where such a
/// source lands while intersecting several policies.
fn collate(a: &str, b: &str) -> Ordering {
    const ORDER: &str = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz";
    fn primary(c: char) -> u32 {
        let lower = c.to_ascii_lowercase();
        match ORDER.find(lower) {
            Some(i) if lower.is_ascii() => u32::try_from(i).unwrap_or(u32::MAX),
            _ => 0x100 + u32::from(c),
        }
    }
    a.chars()
        .map(primary)
        .cmp(b.chars().map(primary))
        .then_with(|| {
            a.chars()
                .map(|c| c.is_ascii_uppercase())
                .cmp(b.chars().map(|c| c.is_ascii_uppercase()))
        })
}

/// The Observatory's `pathPartMatch`, applied (as it is) to whole sources: `a` matches `b` when
/// they are equal piece by piece between slashes after percent-decoding, or `a` ends with `/`
/// and is a prefix of `b` that way. A malformed escape is an error, as `decodeURIComponent`
/// throws.
fn path_part_match(a: &str, b: &str) -> Result<bool, CspError> {
    if a.is_empty() || (a == "/" && b.is_empty()) {
        return Ok(true);
    }
    let exact = !a.ends_with('/');
    let mut pieces_a: Vec<&str> = a.split('/').collect();
    let pieces_b: Vec<&str> = b.split('/').collect();
    if pieces_a.len() > pieces_b.len() || (exact && pieces_a.len() != pieces_b.len()) {
        return Ok(false);
    }
    if !exact {
        pieces_a.pop();
    }
    for (pa, pb) in pieces_a.iter().zip(&pieces_b) {
        let da = js::decode_uri_component(pa).map_err(|_| CspError::BadEncoding(excerpt(a)))?;
        let db = js::decode_uri_component(pb).map_err(|_| CspError::BadEncoding(excerpt(b)))?;
        if da != db {
            return Ok(false);
        }
    }
    Ok(true)
}

pub(crate) fn is_nonce_or_hash(source: &str) -> bool {
    ["'sha256-", "'sha384-", "'sha512-", "'nonce-"]
        .iter()
        .any(|p| source.starts_with(p))
}

/// Directives compared by [`at_least_as_strict`].
const COMPARED: [&str; 7] = [
    "script-src",
    "object-src",
    "style-src",
    "frame-ancestors",
    "base-uri",
    "form-action",
    "default-src",
];

/// True when `candidate` allows nothing that `reference` forbids in `script-src`, `object-src`,
/// `style-src`, `frame-ancestors`, `base-uri`, `form-action` and `default-src`, each taken with
/// its CSP3 fallback (a directive the reference leaves unrestricted is not compared).
///
/// The approximation: every source the candidate allows must be covered by one the reference
/// allows. Sources are first normalised as browsers treat them (`'report-sample'` dropped,
/// `'none'` ignored next to other sources, `'unsafe-inline'` ignored next to a nonce or hash,
/// host sources and `'self'` ignored in a `script-src` with `'strict-dynamic'` and a
/// nonce/hash). Then: equal sources cover each other; any nonce covers any nonce (nonces change
/// per response); `'unsafe-eval'` covers `'wasm-unsafe-eval'`; other keywords and hashes need
/// an exact match; `*` covers `http(s):`/`ws(s):` and host sources; `http:` covers `https:`;
/// scheme sources cover host sources of their scheme; a host source covers another when
/// scheme, host (`*.` wildcards), port (`*`, default ports) and path (prefix when it ends in
/// `/`) match. The page's own origin is unknown, so `'self'` is only covered by `'self'`, `*`
/// or `http:`/`https:`, and the page is assumed to be served over HTTPS.
pub fn at_least_as_strict(candidate: &Policy, reference: &Policy) -> bool {
    COMPARED
        .iter()
        .all(|d| match (allowed(reference, d), allowed(candidate, d)) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(r), Some(c)) => c.iter().all(|s| covered(s, &r)),
        })
}

/// What `directive` effectively allows, normalised; `None` when unrestricted.
fn allowed(policy: &Policy, directive: &str) -> Option<Vec<String>> {
    let mut sources: Vec<String> = policy
        .effective(directive)?
        .iter()
        .filter(|s| *s != "'report-sample'")
        .cloned()
        .collect();
    if sources.len() > 1 {
        sources.retain(|s| s != NONE);
    }
    if sources.iter().all(|s| s == NONE) {
        return Some(Vec::new());
    }
    let nonce_or_hash = sources.iter().any(|s| is_nonce_or_hash(s));
    if nonce_or_hash && matches!(directive, "script-src" | "style-src" | "default-src") {
        sources.retain(|s| s != "'unsafe-inline'");
    }
    if nonce_or_hash && directive == "script-src" && sources.iter().any(|s| s == "'strict-dynamic'")
    {
        sources.retain(|s| s.starts_with('\'') && s != "'self'");
    }
    Some(sources)
}

fn covered(source: &str, by: &[String]) -> bool {
    if by.iter().any(|b| b == source) {
        return true;
    }
    if source.starts_with("'nonce-") {
        return by.iter().any(|b| b.starts_with("'nonce-"));
    }
    if source == "'wasm-unsafe-eval'" {
        return by.iter().any(|b| b == "'unsafe-eval'");
    }
    if source == "'self'" {
        return by.iter().any(|b| b == "*" || b == "https:" || b == "http:");
    }
    if source.starts_with('\'') {
        return false;
    }
    let Some(cand) = Source::parse(source) else {
        return false;
    };
    by.iter()
        .filter_map(|b| Source::parse(b))
        .any(|b| b.covers(&cand))
}

/// A non-keyword source expression.
#[derive(Debug, PartialEq, Eq)]
enum Source {
    Star,
    Scheme(String),
    Host {
        scheme: Option<String>,
        host: String,
        port: Option<String>,
        path: String,
    },
}

fn network_scheme(s: &str) -> bool {
    matches!(s, "http" | "https" | "ws" | "wss")
}

/// `wider` allows everything `narrower` does (same scheme, or the secure upgrade of it).
fn scheme_covers(wider: &str, narrower: &str) -> bool {
    wider == narrower
        || (wider == "http" && narrower == "https")
        || (wider == "ws" && narrower == "wss")
}

fn default_port(scheme: Option<&str>) -> &'static str {
    match scheme {
        Some("http" | "ws") => "80",
        _ => "443",
    }
}

impl Source {
    fn parse(s: &str) -> Option<Source> {
        if s == "*" {
            return Some(Source::Star);
        }
        let valid_scheme = |x: &str| {
            x.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && x.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        };
        if let Some(scheme) = s.strip_suffix(':') {
            if valid_scheme(scheme) {
                return Some(Source::Scheme(scheme.to_owned()));
            }
        }
        let (scheme, rest) = match s.split_once("://") {
            Some((sc, rest)) if valid_scheme(sc) => (Some(sc.to_owned()), rest),
            Some(_) => return None,
            None => (None, s),
        };
        let host_end = rest.find([':', '/']).unwrap_or(rest.len());
        let host = &rest[..host_end];
        let after = &rest[host_end..];
        let (port, path) = match after.strip_prefix(':') {
            Some(p) => {
                let end = p.find('/').unwrap_or(p.len());
                (Some(p[..end].to_owned()), &p[end..])
            }
            None => (None, after),
        };
        let host_ok = !host.is_empty()
            && host
                .strip_prefix("*.")
                .unwrap_or(host)
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        if !host_ok && host != "*" {
            return None;
        }
        Some(Source::Host {
            scheme,
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    fn covers(&self, other: &Source) -> bool {
        match (self, other) {
            (Source::Star, Source::Star) => true,
            (Source::Star, Source::Scheme(s)) => network_scheme(s),
            (Source::Star, Source::Host { scheme, .. }) => {
                scheme.as_deref().is_none_or(network_scheme)
            }
            (Source::Scheme(w), Source::Scheme(n)) => scheme_covers(w, n),
            (Source::Scheme(w), Source::Host { scheme, .. }) => match scheme {
                Some(n) => scheme_covers(w, n),
                // A scheme-less host source takes the (assumed HTTPS) page's scheme.
                None => w == "https" || w == "http",
            },
            (
                Source::Host {
                    scheme: ws,
                    host: wh,
                    port: wp,
                    path: wpath,
                },
                Source::Host {
                    scheme: ns,
                    host: nh,
                    port: np,
                    path: npath,
                },
            ) => {
                let scheme_ok = match (ws.as_deref(), ns.as_deref()) {
                    (None, None) => true,
                    (None, Some(n)) => n == "https" || n == "wss",
                    (Some(w), None) => w == "https" || w == "http",
                    (Some(w), Some(n)) => scheme_covers(w, n),
                };
                let host_ok = wh == "*"
                    || wh.eq_ignore_ascii_case(nh)
                    || wh
                        .strip_prefix('*')
                        .is_some_and(|suffix| suffix.starts_with('.') && nh.ends_with(suffix));
                let n_port = np.as_deref().unwrap_or(default_port(ns.as_deref()));
                let port_ok = match wp.as_deref() {
                    Some("*") => true,
                    Some(p) => p == n_port,
                    None => n_port == default_port(ws.as_deref().or(ns.as_deref())),
                };
                let path_ok = wpath.is_empty()
                    || wpath == "/"
                    || if wpath.ends_with('/') {
                        npath.starts_with(wpath.as_str())
                    } else {
                        wpath == npath
                    };
                scheme_ok && host_ok && port_ok && path_ok
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(list: &[&str]) -> Result<RawPolicy, CspError> {
        let v: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
        parse_list(&v)
    }

    fn map(pairs: &[(&str, &[&str])]) -> RawPolicy {
        pairs
            .iter()
            .map(|(d, s)| {
                (
                    (*d).to_owned(),
                    s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>(),
                )
            })
            .collect()
    }

    fn sorted(mut r: RawPolicy) -> RawPolicy {
        for (_, s) in &mut r {
            s.sort();
        }
        r
    }

    #[test]
    fn parses_single_policies() {
        assert_eq!(
            raw(&["default-src 'none'"]),
            Ok(map(&[("default-src", &["'none'"])]))
        );
        assert_eq!(
            sorted(raw(&["default-src 'none'; script-src 'self' https://mozilla.org"]).unwrap()),
            map(&[
                ("default-src", &["'none'"]),
                ("script-src", &["'self'", "https://mozilla.org"])
            ])
        );
        // Names and sources are lower-cased; a bare *-src means 'none'.
        assert_eq!(
            raw(&["DEFAULT-SRC 'UNSAFE-INLINE'; Script-Src"]),
            Ok(map(&[
                ("default-src", &["'unsafe-inline'"]),
                ("script-src", &["'none'"])
            ]))
        );
        // A bare non-source directive keeps no value and reads as 'none'.
        assert_eq!(
            raw(&["upgrade-insecure-requests"]),
            Ok(map(&[("upgrade-insecure-requests", &["'none'"])]))
        );
        // Repeated sources and sources extending an earlier one collapse.
        assert_eq!(
            raw(&["default-src http: http: http://a.example"]),
            Ok(map(&[("default-src", &["http:"])]))
        );
    }

    #[test]
    fn intersects_several_policies_like_the_observatory() {
        let cases: &[(&[&str], RawPolicy)] = &[
            (
                &[
                    "default-src 'none'; script-src 'self' https://mozilla.org",
                    "default-src 'none'; script-src 'self' https://mozilla.org",
                ],
                map(&[
                    ("default-src", &["'none'"]),
                    ("script-src", &["'self'", "https://mozilla.org"]),
                ]),
            ),
            (
                &[
                    "default-src 'none'; script-src 'self' https://mozilla.org",
                    "default-src 'none'; script-src https://example.com 'self' https://mozilla.org",
                ],
                map(&[
                    ("default-src", &["'none'"]),
                    ("script-src", &["'self'", "https://mozilla.org"]),
                ]),
            ),
            (
                &[
                    "default-src https://mozilla.org",
                    "default-src https://mozilla.com",
                ],
                map(&[("default-src", &["'none'"])]),
            ),
            (
                &[
                    "default-src https://mozilla.org https://mozilla.net https://mozilla.com https://mozilla.io",
                    "default-src https://mozilla.pizza https://mozilla.ninja https://mozilla.net https://mozilla.org",
                    "default-src https://mozilla.net https://mozilla.fox https://mozilla.fire https://mozilla.org",
                    "default-src https://mozilla.browser https://mozilla.web https://mozilla.net https://mozilla.org",
                ],
                map(&[(
                    "default-src",
                    &["https://mozilla.net", "https://mozilla.org"],
                )]),
            ),
            (
                &[
                    "default-src https://mozilla.org/fire",
                    "default-src https://mozilla.org/firefox/",
                ],
                map(&[("default-src", &["'none'"])]),
            ),
            (
                &[
                    "default-src https://mozilla.org/firefox/",
                    "default-src https://mozilla.org/firefox/download/",
                ],
                map(&[("default-src", &["https://mozilla.org/firefox/download/"])]),
            ),
            (
                &[
                    "default-src https://mozilla.org/firefox/download/",
                    "default-src https://mozilla.org/firefox/",
                ],
                map(&[("default-src", &["https://mozilla.org/firefox/download/"])]),
            ),
            (
                &["default-src http: http:", "default-src https: https:"],
                map(&[("default-src", &["'none'"])]),
            ),
            // A directive only a later policy sets ends up 'none' (the Observatory's rule).
            (
                &["default-src 'self'", "script-src 'unsafe-inline'"],
                map(&[("default-src", &["'self'"]), ("script-src", &["'none'"])]),
            ),
            // ...and one only the first policy sets is kept as it is.
            (
                &["default-src 'self'; img-src *", "default-src 'self'"],
                map(&[("default-src", &["'self'"]), ("img-src", &["*"])]),
            ),
            // Percent-decoding makes equal paths match.
            (
                &[
                    "img-src https://a.example/x%61",
                    "img-src https://a.example/xA",
                ],
                map(&[("img-src", &["https://a.example/xa"])]),
            ),
        ];
        for (list, want) in cases {
            assert_eq!(sorted(raw(list).unwrap()), sorted(want.clone()), "{list:?}");
        }
    }

    #[test]
    fn rejects_invalid_policies() {
        for bad in [
            "  ",
            "\r\n",
            "\r\n\r\n\r\n\r\n\r\n\r\n",
            "",
            "default-src 'none'; default-src 'none'",
            "default-src 'none'; img-src 'self'; DEFAULT-src 'none'",
            "defa",
        ] {
            assert!(raw(&[bad]).is_err(), "{bad:?}");
        }
        assert!(matches!(
            parse("img-src 'self'; img-src *"),
            Err(CspError::DuplicateDirective { .. })
        ));
        assert!(matches!(parse("a"), Err(CspError::TooShort(_))));
        // A trailing comma is an empty second policy.
        assert!(parse("default-src 'none',").is_err());
        // A malformed escape only fails when two policies have to be compared.
        assert!(parse("img-src https://a.example/%zz").is_ok());
        assert!(matches!(
            parse_all(&[
                "img-src https://a.example/%zz",
                "img-src https://a.example/%zz"
            ]),
            Err(CspError::BadEncoding(_))
        ));
    }

    #[test]
    fn repeated_report_directives_are_allowed_but_recorded() {
        let p = parse(
            "report-uri https://a.example/one ; report-uri https://a.example/two; default-src 'none'",
        )
        .unwrap();
        assert_eq!(p.duplicate_warnings(), ["report-uri".to_owned()]);
        // The last repetition wins, as in the Observatory.
        assert_eq!(
            p.get("report-uri"),
            Some(&["https://a.example/two".to_owned()][..])
        );
        let p = parse("report-to a ; report-to b").unwrap();
        assert_eq!(p.duplicate_warnings(), ["report-to".to_owned()]);
        assert!(!p.has(DUPLICATE_WARNINGS_KEY));
    }

    #[test]
    fn effective_follows_fallbacks() {
        let p =
            parse("default-src 'self'; script-src 'none'; child-src https://c.example").unwrap();
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(p.effective("script-src"), Some(&s(&["'none'"])[..]));
        assert_eq!(p.effective("script-src-elem"), Some(&s(&["'none'"])[..]));
        assert_eq!(p.effective("OBJECT-SRC"), Some(&s(&["'self'"])[..]));
        assert_eq!(
            p.effective("frame-src"),
            Some(&s(&["https://c.example"])[..])
        );
        assert_eq!(
            p.effective("worker-src"),
            Some(&s(&["https://c.example"])[..])
        );
        assert_eq!(p.effective("base-uri"), None);
        assert_eq!(p.effective("frame-ancestors"), None);
        assert!(p.has("default-src") && !p.has("img-src"));
        assert!(parse(";;;;;;;").unwrap().is_empty());
        assert!(parse_all(&[]).unwrap().is_empty());
    }

    #[test]
    fn collation_matches_icu_for_ascii() {
        let mut v = vec!["ab", "a0", "a/", "a'", "a.b", "a:1", "a-", "a_", "A", "a"];
        v.sort_by(|a, b| collate(a, b));
        assert_eq!(
            v,
            vec!["a", "A", "a_", "a-", "a:1", "a.b", "a'", "a/", "a0", "ab"]
        );
        assert_eq!(collate("'self'", "*"), Ordering::Less);
        assert_eq!(
            collate("example.com:443", "example.com.evil"),
            Ordering::Less
        );
    }

    #[test]
    fn strictness_comparison() {
        let p = |s: &str| parse(s).unwrap();
        let reference = p(
            "default-src 'self'; script-src 'self' https://cdn.example; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        );
        assert!(at_least_as_strict(&reference, &reference));
        // Stricter: fewer sources, 'none' everywhere.
        assert!(at_least_as_strict(
            &p("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
            &reference
        ));
        assert!(at_least_as_strict(
            &p(
                "default-src 'self'; script-src https://cdn.example/js/; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
            ),
            &reference
        ));
        // Weaker: extra unsafe source, a missing directive, a broader host.
        assert!(!at_least_as_strict(
            &p(
                "default-src 'self'; script-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
            ),
            &reference
        ));
        assert!(!at_least_as_strict(
            &p(
                "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'"
            ),
            &reference
        ));
        assert!(!at_least_as_strict(
            &p(
                "default-src 'self'; script-src 'self' https:; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
            ),
            &reference
        ));
        // An unrestricted reference accepts anything; nonces match any nonce; a nonce
        // neutralises 'unsafe-inline'.
        assert!(at_least_as_strict(&p("img-src *"), &Policy::default()));
        let nonce_ref = p("script-src 'nonce-abc' 'strict-dynamic'");
        assert!(at_least_as_strict(
            &p("script-src 'nonce-xyz' 'strict-dynamic' 'unsafe-inline' https:"),
            &nonce_ref
        ));
        assert!(!at_least_as_strict(
            &p("script-src 'unsafe-inline'"),
            &nonce_ref
        ));
        // Wildcards, schemes, ports.
        let hosts = p("default-src *.example.com https://static.example:8443 http:");
        assert!(at_least_as_strict(
            &p(
                "default-src a.example.com https://*.b.example.com https://static.example:8443/x https: http://x.example"
            ),
            &hosts
        ));
        assert!(!at_least_as_strict(
            &p("default-src data:"),
            &p("default-src *")
        ));
        assert!(at_least_as_strict(
            &p("default-src https:"),
            &p("default-src *")
        ));
        let no_scheme = p("default-src *.example.com https://static.example:8443");
        assert!(!at_least_as_strict(
            &p("default-src https://static.example:9000"),
            &no_scheme
        ));
        assert!(!at_least_as_strict(
            &p("default-src http://a.example.com"),
            &no_scheme
        ));
        assert!(at_least_as_strict(
            &p("default-src https://a.example.com:443"),
            &no_scheme
        ));
        // `http:` allows any HTTPS host too; nothing here allows ftp.
        assert!(at_least_as_strict(
            &p("default-src https://other.example"),
            &hosts
        ));
        assert!(!at_least_as_strict(
            &p("default-src ftp://x.example"),
            &hosts
        ));
        assert!(at_least_as_strict(
            &p("script-src 'wasm-unsafe-eval'"),
            &p("script-src 'unsafe-eval'")
        ));
    }
}
