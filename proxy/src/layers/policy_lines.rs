//! The header policy's lines handed to a writer that renders HTTP/1.1 heads itself (the fast
//! path in `h1.rs`) instead of being put into the response's header map.
//!
//! Why: putting a dozen policy headers into a map (a hash, a probe and an insert each) and
//! serialising them again was about an eighth of the instructions of a whole proxied request.
//! The policy renders its lines once at load ([`HeaderPolicy::write_lines`]); per response, the
//! layer only walks the origin's few header names, drops what the policy replaces or removes,
//! notes which `IfAbsent` rules yield to the origin, and leaves the rest to the writer.
//!
//! The hand-off is per connection and per request: the writer arms [`DeferredLines`] right
//! before calling the service, the layer claims it in `call` (so only a request the writer
//! itself will answer is deferred; hyper's connections never arm it) and puts the result back
//! when the response is ready, and the writer takes it when it writes the head.

use std::sync::{Arc, Mutex, MutexGuard};

use http::HeaderMap;
use http::header::HeaderName;
use rampart_config::{HeaderPolicy, Mode, NameRole, ServerAction};

use super::header_policy::Applied;

/// Origin headers one response can have dropped here; more and the policy is applied to the
/// map as usual (a name list on the stack keeps this path free of allocations).
const MAX_DROPPED: usize = 16;

/// A connection's hand-off slot between the header-policy layer and its head writer.
#[derive(Debug, Default)]
pub struct DeferredLines {
    slot: Mutex<Slot>,
}

#[derive(Debug, Default)]
struct Slot {
    armed: bool,
    ready: Option<Lines>,
}

impl DeferredLines {
    pub fn new() -> Arc<DeferredLines> {
        Arc::new(DeferredLines::default())
    }

    fn slot(&self) -> MutexGuard<'_, Slot> {
        // A panic while holding this lock cannot leave the slot inconsistent (two plain fields).
        self.slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next request's policy lines are the caller's to write.
    pub fn arm(&self) {
        let mut s = self.slot();
        s.armed = true;
        s.ready = None;
    }

    /// Disarms, and returns the lines the policy left to the caller (`None`: everything is in
    /// the response's map already).
    pub fn take(&self) -> Option<Lines> {
        let mut s = self.slot();
        s.armed = false;
        s.ready.take()
    }

    /// The layer's side: true (and disarmed) when the caller will write this request's lines.
    pub(crate) fn claim(&self) -> bool {
        std::mem::take(&mut self.slot().armed)
    }

    pub(crate) fn put(&self, lines: Lines) {
        self.slot().ready = Some(lines);
    }
}

/// The policy lines one response still needs.
#[derive(Debug)]
pub struct Lines {
    policy: Arc<HeaderPolicy>,
    /// Bit i: the origin sent `rules[i]`'s header and the rule yields to it.
    kept: u64,
    hsts: bool,
}

impl Lines {
    /// Appends the lines to a head being written.
    pub fn write(&self, out: &mut Vec<u8>) {
        self.policy.write_lines(out, self.kept, self.hsts);
    }

    /// The lines as the policy keeps them, when they need no picking (see
    /// [`HeaderPolicy::lines_as_kept`]).
    pub fn as_kept(&self) -> Option<[&[u8]; 2]> {
        self.policy.lines_as_kept(self.kept, self.hsts)
    }

    /// The most bytes [`Lines::write`] appends.
    pub fn len(&self) -> usize {
        self.policy.lines_len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Does to `headers` what applying the policy would, except adding its lines: drops what it
/// removes or replaces, and returns the lines to write with what was done. `None` (nothing
/// changed) when the policy cannot be rendered or the response has too many headers to drop;
/// the caller then applies the policy to the map.
pub fn strip_for_lines(
    policy: &Arc<HeaderPolicy>,
    headers: &mut HeaderMap,
    https: bool,
) -> Option<(Lines, Applied)> {
    if !policy.renders() {
        return None;
    }
    let hsts = policy.hsts.is_some() && (https || policy.hsts_force);
    let mut a = Applied::default();
    let mut kept = 0u64;
    let mut hsts_line = hsts;
    let mut server_seen = false;
    let mut hsts_seen = false;
    let mut rules_present = 0u16;
    let mut doomed: [Option<HeaderName>; MAX_DROPPED] = Default::default();
    let mut n = 0;
    for name in headers.keys() {
        let drop = match policy.role(name) {
            None => false,
            Some(NameRole::Drop) => {
                a.removed += 1;
                true
            }
            Some(NameRole::Server) => {
                server_seen = true;
                true
            }
            Some(NameRole::Rule { index, mode }) => {
                rules_present += 1;
                match mode {
                    Mode::Override => a.overridden += 1,
                    Mode::IfAbsent => {
                        a.kept += 1;
                        kept |= 1u64 << index;
                    }
                }
                mode == Mode::Override
            }
            Some(NameRole::Hsts { mode }) if hsts => match mode {
                Mode::Override => {
                    hsts_seen = true;
                    a.overridden += 1;
                    true
                }
                Mode::IfAbsent => {
                    hsts_seen = true;
                    a.kept += 1;
                    hsts_line = false;
                    false
                }
            },
            Some(NameRole::Hsts { .. }) => false,
        };
        if drop {
            if n == MAX_DROPPED {
                return None;
            }
            doomed[n] = Some(name.clone());
            n += 1;
        }
    }
    for name in doomed.iter().take(n).flatten() {
        headers.remove(name);
    }
    match &policy.server {
        ServerAction::Keep => {}
        ServerAction::Remove => a.removed += u16::from(server_seen),
        ServerAction::Set(_) if server_seen => a.overridden += 1,
        ServerAction::Set(_) => a.injected += 1,
    }
    a.injected += policy.rules.len() as u16 - rules_present;
    if hsts && !hsts_seen {
        a.injected += 1;
    }
    Some((
        Lines {
            policy: policy.clone(),
            kept,
            hsts: hsts_line,
        },
        a,
    ))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use rampart_config::{HeaderSpec, PolicySpec, TypedHeader, presets};

    use super::super::header_policy::apply;
    use super::*;

    fn policy(spec: PolicySpec) -> Arc<HeaderPolicy> {
        Arc::new(HeaderPolicy::compile("p", spec).unwrap())
    }

    fn strict() -> Arc<HeaderPolicy> {
        policy(presets::preset("strict").unwrap())
    }

    fn map(lines: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in lines {
            h.append(*n, HeaderValue::from_static(v));
        }
        h
    }

    /// The head lines a response ends up with, sorted: the map's lines plus the written ones.
    fn head(headers: &HeaderMap, lines: Option<&Lines>) -> Vec<String> {
        let mut out = Vec::new();
        for (n, v) in headers {
            out.extend_from_slice(n.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(l) = lines {
            l.write(&mut out);
        }
        let mut v: Vec<String> = String::from_utf8(out)
            .unwrap()
            .split_terminator("\r\n")
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    }

    /// Deferring must send exactly what applying to the map sends, and count the same.
    fn same_as_apply(p: &Arc<HeaderPolicy>, origin: &[(&'static str, &'static str)], https: bool) {
        let mut applied_map = map(origin);
        let expected_counts = apply(p, &mut applied_map, https);
        let mut deferred_map = map(origin);
        let (lines, counts) = strip_for_lines(p, &mut deferred_map, https).unwrap();
        assert_eq!(
            head(&deferred_map, Some(&lines)),
            head(&applied_map, None),
            "origin {origin:?}, https {https}"
        );
        assert_eq!(counts, expected_counts, "origin {origin:?}, https {https}");
    }

    const ORIGINS: &[&[(&str, &str)]] = &[
        &[],
        &[
            ("content-type", "application/json"),
            ("content-length", "2"),
        ],
        &[
            ("server", "nginx/1.18.0"),
            ("server", "gunicorn"),
            ("x-powered-by", "PHP/8.1"),
            ("x-amzn-errortype", "AccessDeniedException"),
            ("x-amzn-requestid", "1"),
        ],
        &[
            ("x-frame-options", "SAMEORIGIN"),
            ("content-security-policy", "default-src 'self'"),
            ("strict-transport-security", "max-age=1"),
            ("referrer-policy", "origin"),
        ],
    ];

    #[test]
    fn strict_defers_exactly_what_apply_sets() {
        for origin in ORIGINS {
            for https in [false, true] {
                same_as_apply(&strict(), origin, https);
            }
        }
    }

    #[test]
    fn if_absent_rules_and_hsts_yield_to_the_origin_like_apply() {
        let mut spec = presets::preset("strict").unwrap();
        for t in [
            TypedHeader::XFrameOptions,
            TypedHeader::ContentSecurityPolicy,
        ] {
            let value = spec.get(t).unwrap().value.clone();
            spec.set(
                t,
                Some(HeaderSpec {
                    value,
                    mode: Mode::IfAbsent,
                }),
            );
        }
        if let Some(h) = spec.hsts.as_mut() {
            h.mode = Mode::IfAbsent;
        }
        let p = policy(spec);
        for origin in ORIGINS {
            for https in [false, true] {
                same_as_apply(&p, origin, https);
            }
        }
    }

    #[test]
    fn server_removal_and_no_policy_match_apply() {
        let mut spec = presets::preset("strict").unwrap();
        spec.server = rampart_config::ServerSpec::Remove;
        for p in [policy(spec), policy(PolicySpec::empty())] {
            for origin in ORIGINS {
                same_as_apply(&p, origin, true);
            }
        }
    }

    #[test]
    fn too_many_headers_to_drop_leaves_the_map_alone() {
        let mut spec = PolicySpec::empty();
        spec.remove = vec!["x-*".into()];
        let p = policy(spec);
        let names: Vec<String> = (0..=MAX_DROPPED).map(|i| format!("x-h{i}")).collect();
        let mut h = HeaderMap::new();
        for n in &names {
            h.insert(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_static("1"),
            );
        }
        assert!(strip_for_lines(&p, &mut h, false).is_none());
        assert_eq!(h.len(), names.len());
    }

    #[test]
    fn the_slot_hands_lines_only_to_an_armed_request() {
        let slot = DeferredLines::new();
        assert!(!slot.claim(), "not armed");
        slot.arm();
        assert!(slot.claim());
        assert!(!slot.claim(), "one claim per arming");
        let (lines, _) = strip_for_lines(&strict(), &mut HeaderMap::new(), false).unwrap();
        slot.put(lines);
        assert!(slot.take().is_some());
        assert!(slot.take().is_none());
    }
}
