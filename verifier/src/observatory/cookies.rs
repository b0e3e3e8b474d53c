//! Which cookies end up in the Observatory's cookie jar, and with which attributes.
//!
//! The Observatory does not grade `Set-Cookie` lines directly: it grades the cookies its
//! client's jar (the `tough-cookie` library) accepted. That drops lines without `name=value`,
//! cookies for another domain, `__Secure-`/`__Host-` cookies that break their prefix rules,
//! and lets a later cookie with the same name, domain and path replace an earlier one. An
//! unrecognised `SameSite` value counts as no `SameSite` at all. This module reproduces that.

use url::Url;

use super::js;

/// A cookie as stored in the jar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JarCookie {
    pub key: String,
    pub secure: bool,
    pub http_only: bool,
    /// `strict`, `lax` or `none`; `None` when absent or not one of those.
    pub same_site: Option<&'static str>,
    domain: String,
    path: String,
}

/// A `Set-Cookie` line parsed the way `tough-cookie` parses it (non-loose mode).
struct Parsed {
    key: String,
    secure: bool,
    http_only: bool,
    same_site: Option<&'static str>,
    domain: Option<String>,
    path: Option<String>,
}

fn parse(line: &str) -> Option<Parsed> {
    let line = js::trim(line);
    if line.is_empty() {
        return None;
    }
    let (pair, attributes) = match line.split_once(';') {
        Some((p, a)) => (p, Some(a)),
        None => (line, None),
    };
    // `\n`, `\r` and NUL end the name=value pair.
    let pair = pair.split(['\n', '\r', '\0']).next().unwrap_or_default();
    let eq = pair.find('=')?;
    if eq == 0 {
        return None;
    }
    let key = js::trim(&pair[..eq]);
    let value = js::trim(&pair[eq + 1..]);
    let control = |s: &str| s.chars().any(|c| c <= '\u{1f}');
    if control(key) || control(value) {
        return None;
    }
    let mut parsed = Parsed {
        key: key.to_owned(),
        secure: false,
        http_only: false,
        same_site: None,
        domain: None,
        path: None,
    };
    for av in js::trim(attributes.unwrap_or_default()).split(';') {
        let av = js::trim(av);
        if av.is_empty() {
            continue;
        }
        let (name, value) = match av.split_once('=') {
            Some((n, v)) => (n, Some(js::trim(v))),
            None => (av, None),
        };
        let value = value.filter(|v| !v.is_empty());
        match js::trim(name).to_lowercase().as_str() {
            "secure" => parsed.secure = true,
            "httponly" => parsed.http_only = true,
            "samesite" => {
                parsed.same_site = match value.map(str::to_lowercase).as_deref() {
                    Some("strict") => Some("strict"),
                    Some("lax") => Some("lax"),
                    Some("none") => Some("none"),
                    _ => None,
                };
            }
            "domain" => {
                if let Some(v) = value {
                    let d = js::trim(v);
                    let d = d.strip_prefix('.').unwrap_or(d);
                    if !d.is_empty() {
                        parsed.domain = Some(d.to_lowercase());
                    }
                }
            }
            "path" => parsed.path = value.filter(|v| v.starts_with('/')).map(str::to_owned),
            _ => {}
        }
    }
    Some(parsed)
}

/// `canonicalDomain`: trimmed, leading dot dropped, lower-cased, IDNA-encoded when not ASCII.
fn canonical_domain(domain: &str) -> String {
    let d = js::trim(domain);
    let d = d.strip_prefix('.').unwrap_or(d);
    if d.is_ascii() {
        return d.to_ascii_lowercase();
    }
    Url::parse(&format!("http://{d}/"))
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| d.to_lowercase())
}

fn is_ip(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
        || host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok())
}

/// Whether the jar refuses `Domain=domain` as a public suffix. Without the public suffix list
/// only the certain cases are caught: a single label (`com`; `localhost` and `invalid` are
/// allowed as special-use names) and IPv4 literals, which have no registrable domain.
/// Multi-label suffixes such as `co.uk` are accepted here.
fn is_public_suffix(domain: &str) -> bool {
    if domain.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    if domain.parse::<std::net::Ipv6Addr>().is_ok() {
        return false;
    }
    !domain.contains('.') && domain != "localhost" && domain != "invalid"
}

/// RFC 6265 domain-match as `tough-cookie` implements it.
fn domain_match(host: &str, domain: &str) -> bool {
    if host == domain {
        return true;
    }
    host.strip_suffix(domain)
        .is_some_and(|prefix| prefix.ends_with('.'))
        && !is_ip(host)
}

/// RFC 6265 default-path of a request path.
fn default_path(path: &str) -> String {
    if !path.starts_with('/') || path == "/" {
        return "/".to_owned();
    }
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}

/// The jar after storing every `Set-Cookie` line received from `url`, in order.
pub(crate) fn jar(lines: &[&str], url: Option<&Url>) -> Vec<JarCookie> {
    let host = url
        .and_then(Url::host_str)
        .map(canonical_domain)
        .unwrap_or_default();
    let request_path = url.map_or("/", Url::path);
    let mut jar: Vec<JarCookie> = Vec::new();
    for line in lines {
        let Some(c) = parse(line) else { continue };
        let (domain, host_only) = match &c.domain {
            Some(d) => {
                let d = canonical_domain(d);
                if is_public_suffix(&d) || !domain_match(&host, &d) {
                    continue;
                }
                (d, false)
            }
            None => (host.clone(), true),
        };
        let path = c.path.unwrap_or_else(|| default_path(request_path));
        // Prefix rules are enforced silently: a cookie breaking them is dropped.
        if c.key.starts_with("__Secure-") && !c.secure {
            continue;
        }
        if c.key.starts_with("__Host-") && !(c.secure && host_only && path == "/") {
            continue;
        }
        let cookie = JarCookie {
            key: c.key,
            secure: c.secure,
            http_only: c.http_only,
            same_site: c.same_site,
            domain,
            path,
        };
        match jar
            .iter_mut()
            .find(|j| j.domain == cookie.domain && j.path == cookie.path && j.key == cookie.key)
        {
            Some(old) => *old = cookie,
            None => jar.push(cookie),
        }
    }
    jar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(lines: &[&str], url: &str) -> Vec<JarCookie> {
        jar(lines, Url::parse(url).ok().as_ref())
    }

    #[test]
    fn parses_attributes_like_tough_cookie() {
        let j = stored(
            &["SID=x; secure=false; HTTPONLY; SameSite=LAX; Path=/a"],
            "https://example.com/",
        );
        assert_eq!(j.len(), 1);
        assert!(j[0].secure && j[0].http_only);
        assert_eq!(j[0].same_site, Some("lax"));
        // An unknown SameSite value, or a later bad one, leaves no SameSite.
        let j = stored(
            &["a=1; SameSite=Lax; SameSite=bogus"],
            "https://example.com/",
        );
        assert_eq!(j[0].same_site, None);
        let j = stored(&["a=1; SameSite"], "https://example.com/");
        assert_eq!(j[0].same_site, None);
    }

    #[test]
    fn drops_what_the_jar_refuses() {
        let url = "https://www.example.com/app/page";
        for bad in [
            "",
            "novalue",
            "=value",
            "a=b\u{1}c",
            "a=1; Domain=other.com",
            "a=1; Domain=com",
            "a=1; Domain=ample.com",
            "__Secure-a=1",
            "__Host-a=1; Secure; Path=/; Domain=example.com",
            "__Host-a=1; Secure",
        ] {
            assert!(stored(&[bad], url).is_empty(), "{bad:?}");
        }
        for good in [
            "a=1; Domain=.Example.COM",
            "a=1; Domain=www.example.com",
            "__Secure-a=1; Secure",
            "__Host-a=1; Secure; Path=/",
            "a=b\nignored=1",
            "a=",
        ] {
            assert_eq!(stored(&[good], url).len(), 1, "{good:?}");
        }
        assert!(stored(&["a=1; Domain=127.0.0.1"], "http://127.0.0.1/").is_empty());
        assert_eq!(stored(&["a=1"], "http://127.0.0.1/").len(), 1);
    }

    #[test]
    fn same_name_domain_and_path_replace() {
        let j = stored(
            &["a=1", "a=2; Secure", "a=3; Path=/other", "b=1"],
            "https://example.com/x/y",
        );
        assert_eq!(j.len(), 3);
        assert!(j[0].secure);
        assert_eq!(j[0].path, "/x");
        assert_eq!(j[1].path, "/other");
    }

    #[test]
    fn default_paths() {
        assert_eq!(default_path(""), "/");
        assert_eq!(default_path("/"), "/");
        assert_eq!(default_path("/a"), "/");
        assert_eq!(default_path("/a/b"), "/a");
        assert_eq!(default_path("/a/b/"), "/a/b");
    }
}
