//! A policy's header lines rendered once at load, for writers that produce HTTP/1.1 heads
//! themselves (the proxy's fast path). Appending them costs one copy per response, where
//! putting each rule into a header map costs a hash, a probe and an insert, and then the
//! serialisation of every line again.
//!
//! The origin's own headers still decide what is sent: [`HeaderPolicy::role`] says, per origin
//! header name, whether the policy drops it, replaces it or yields to it, and the lines of rules
//! that yield are left out (`kept`).

use http::header::{DATE, HeaderName, SERVER, STRICT_TRANSPORT_SECURITY};

use crate::policy::{HeaderPolicy, HeaderRule, Mode, RemoveSet, ServerAction};

/// Rules past this many are not rendered: `kept` is a 64-bit mask.
const MAX_RENDERED_RULES: usize = 64;

/// What a policy does with an origin header of some name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRole {
    /// Dropped: on the remove list.
    Drop,
    /// `Server`, which the policy sets (the origin's is dropped) or removes.
    Server,
    /// Set by the rule at this index of [`HeaderPolicy::rules`].
    Rule { index: u8, mode: Mode },
    /// `Strict-Transport-Security`, set by the policy's HSTS rule when HSTS is sent.
    Hsts { mode: Mode },
}

/// The rendered lines and the name index; built by [`HeaderPolicy::compile`].
#[derive(Debug, Clone, Default)]
pub struct RenderedLines {
    /// `server: ...\r\n` when the policy sets `Server`, then each rule's line in rule order.
    lines: Vec<u8>,
    /// Where each rule's line starts in `lines`, and one more entry where the last one ends.
    starts: Vec<u32>,
    /// The HSTS line, empty without HSTS.
    hsts: Vec<u8>,
    /// Names with a role, bucketed by length (header names are lowercase).
    by_len: Vec<Vec<(HeaderName, NameRole)>>,
    /// False when the policy cannot be rendered (too many rules, or two rules for one name):
    /// writers apply it to the header map instead.
    usable: bool,
}

impl RenderedLines {
    pub(crate) fn build(
        rules: &[HeaderRule],
        hsts: Option<&HeaderRule>,
        server: &ServerAction,
        remove: &RemoveSet,
    ) -> RenderedLines {
        let mut r = RenderedLines::default();
        for name in remove.exact_names() {
            r.assign(name, NameRole::Drop);
        }
        if !matches!(server, ServerAction::Keep) {
            r.assign(&SERVER, NameRole::Server);
        }
        if let ServerAction::Set(v) = server {
            line(&mut r.lines, SERVER.as_str().as_bytes(), v.as_bytes());
        }
        let mut distinct = true;
        for (i, rule) in rules.iter().enumerate() {
            r.starts.push(r.lines.len() as u32);
            line(
                &mut r.lines,
                rule.name.as_str().as_bytes(),
                rule.value.as_bytes(),
            );
            let index = u8::try_from(i).unwrap_or(u8::MAX);
            distinct &= rules[..i].iter().all(|earlier| earlier.name != rule.name);
            r.assign(
                &rule.name,
                NameRole::Rule {
                    index,
                    mode: rule.mode,
                },
            );
        }
        r.starts.push(r.lines.len() as u32);
        if let Some(h) = hsts {
            line(&mut r.hsts, h.name.as_str().as_bytes(), h.value.as_bytes());
            r.assign(&STRICT_TRANSPORT_SECURITY, NameRole::Hsts { mode: h.mode });
        }
        // Names the head writer states itself (framing, Date) or that have their own place in
        // the policy must never be written a second time from here; the loader rejects most of
        // them, but a policy compiled from a spec built in code has not been through it.
        r.usable = distinct
            && rules.len() <= MAX_RENDERED_RULES
            && !rules.iter().any(|rule| {
                rule.name == SERVER
                    || rule.name == STRICT_TRANSPORT_SECURITY
                    || rule.name == DATE
                    || crate::load::is_framing_header(rule.name.as_str())
            });
        r
    }

    /// Gives `name` a role unless it has one: what comes first wins, as removal comes before
    /// the rules when a policy is applied to a map (a removed name a rule sets is simply set).
    fn assign(&mut self, name: &HeaderName, role: NameRole) {
        let len = name.as_str().len();
        if self.by_len.len() <= len {
            self.by_len.resize_with(len + 1, Vec::new);
        }
        let bucket = &mut self.by_len[len];
        if !bucket.iter().any(|(n, _)| n == name) {
            bucket.push((name.clone(), role));
        }
    }
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

impl HeaderPolicy {
    /// Whether [`HeaderPolicy::write_lines`] can stand in for applying this policy to a map.
    pub fn renders(&self) -> bool {
        self.rendered.usable
    }

    /// What this policy does with an origin header called `name` (`None`: nothing, it passes).
    #[inline]
    pub fn role(&self, name: &HeaderName) -> Option<NameRole> {
        let s = name.as_str();
        let exact = self
            .rendered
            .by_len
            .get(s.len())
            .and_then(|bucket| bucket.iter().find(|(n, _)| n == name))
            .map(|(_, role)| *role);
        match exact {
            Some(NameRole::Drop) => Some(NameRole::Drop),
            // A prefix on the remove list drops even a name a rule sets (the rule's line is
            // still sent, as when the policy is applied to a map).
            other if self.remove.matches_prefix(s.as_bytes()) => match other {
                Some(NameRole::Server) => Some(NameRole::Server),
                _ => Some(NameRole::Drop),
            },
            other => other,
        }
    }

    /// The most bytes [`HeaderPolicy::write_lines`] appends.
    pub fn lines_len(&self) -> usize {
        self.rendered.lines.len() + self.rendered.hsts.len()
    }

    /// [`HeaderPolicy::write_lines`]'s bytes as they are kept, when no rule yields to the
    /// origin (`kept` is 0): the lines, then the HSTS line or nothing. A writer can send them
    /// from here without copying them into its head.
    pub fn lines_as_kept(&self, kept: u64, hsts: bool) -> Option<[&[u8]; 2]> {
        let r = &self.rendered;
        (kept == 0).then(|| [&r.lines[..], if hsts { &r.hsts[..] } else { &[] }])
    }

    /// Appends this policy's lines: `Server` when set, every rule whose bit in `kept` is clear
    /// (bit i: the origin's header for `rules[i]` stays instead), and HSTS when `hsts`.
    #[inline]
    pub fn write_lines(&self, out: &mut Vec<u8>, kept: u64, hsts: bool) {
        let r = &self.rendered;
        if kept == 0 {
            out.extend_from_slice(&r.lines);
        } else {
            let first = r.starts.first().copied().unwrap_or(0) as usize;
            out.extend_from_slice(&r.lines[..first]);
            for (i, pair) in r.starts.windows(2).enumerate() {
                if kept & (1u64 << i) == 0 {
                    out.extend_from_slice(&r.lines[pair[0] as usize..pair[1] as usize]);
                }
            }
        }
        if hsts {
            out.extend_from_slice(&r.hsts);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::{HeaderSpec, PolicySpec, ServerSpec, TypedHeader};
    use crate::presets;

    use super::*;

    fn compile(spec: PolicySpec) -> HeaderPolicy {
        HeaderPolicy::compile("t", spec).unwrap()
    }

    fn text(p: &HeaderPolicy, kept: u64, hsts: bool) -> String {
        let mut out = Vec::new();
        p.write_lines(&mut out, kept, hsts);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lines_as_kept_are_the_written_lines_or_none_when_a_rule_yields() {
        let p = compile(presets::preset("strict").unwrap());
        for hsts in [false, true] {
            let [lines, hsts_line] = p.lines_as_kept(0, hsts).unwrap();
            assert_eq!([lines, hsts_line].concat(), text(&p, 0, hsts).into_bytes());
            assert_eq!(hsts_line.is_empty(), !hsts);
        }
        assert!(p.lines_as_kept(1, false).is_none());
    }

    #[test]
    fn strict_renders_server_then_rules_in_order_and_hsts_only_when_asked() {
        let p = compile(presets::preset("strict").unwrap());
        assert!(p.renders());
        let all = text(&p, 0, false);
        let mut expected = String::from("server: ");
        if let ServerAction::Set(v) = &p.server {
            expected.push_str(v.to_str().unwrap());
        }
        expected.push_str("\r\n");
        for r in &p.rules {
            expected.push_str(&format!("{}: {}\r\n", r.name, r.value.to_str().unwrap()));
        }
        assert_eq!(all, expected);
        assert!(!all.contains("strict-transport-security"));
        assert!(text(&p, 0, true).ends_with(&format!(
            "strict-transport-security: {}\r\n",
            p.hsts.as_ref().unwrap().value.to_str().unwrap()
        )));
    }

    #[test]
    fn kept_rules_are_left_out() {
        let p = compile(presets::preset("strict").unwrap());
        let xfo = p
            .rules
            .iter()
            .position(|r| r.name == "x-frame-options")
            .unwrap();
        let out = text(&p, 1 << xfo, false);
        assert!(!out.contains("x-frame-options"));
        assert_eq!(out.matches("\r\n").count(), p.rules.len()); // server + rules - 1
        let none = text(&p, (1u64 << p.rules.len()) - 1, false);
        assert!(none.starts_with("server: ") && none.matches("\r\n").count() == 1);
    }

    #[test]
    fn roles_follow_the_remove_list_server_and_rules() {
        let mut spec = presets::preset("strict").unwrap();
        spec.remove = vec!["x-powered-by".into(), "x-amzn-*".into()];
        spec.set(
            TypedHeader::XFrameOptions,
            Some(HeaderSpec {
                value: "DENY".into(),
                mode: Mode::IfAbsent,
            }),
        );
        let p = compile(spec);
        let role = |n: &str| p.role(&HeaderName::from_bytes(n.as_bytes()).unwrap());
        assert_eq!(role("x-powered-by"), Some(NameRole::Drop));
        assert_eq!(role("x-amzn-errortype"), Some(NameRole::Drop));
        assert_eq!(role("server"), Some(NameRole::Server));
        assert!(matches!(
            role("x-frame-options"),
            Some(NameRole::Rule {
                mode: Mode::IfAbsent,
                ..
            })
        ));
        assert!(matches!(
            role("strict-transport-security"),
            Some(NameRole::Hsts { .. })
        ));
        assert_eq!(role("content-type"), None);
        assert_eq!(role("x-powered-byx"), None);
    }

    #[test]
    fn a_remove_prefix_covering_a_rule_name_drops_the_origins_line() {
        let mut spec = presets::preset("strict").unwrap();
        spec.remove = vec!["x-*".into()];
        let p = compile(spec);
        let xfo = HeaderName::from_static("x-frame-options");
        assert_eq!(p.role(&xfo), Some(NameRole::Drop));
        assert!(text(&p, 0, false).contains("x-frame-options: "));
    }

    #[test]
    fn server_keep_gives_server_no_role_and_no_line() {
        let mut spec = presets::preset("strict").unwrap();
        spec.server = ServerSpec::Keep;
        let p = compile(spec);
        assert_eq!(p.role(&SERVER), None);
        assert!(!text(&p, 0, false).contains("server:"));
    }

    #[test]
    fn rules_for_names_the_writer_states_itself_are_not_rendered() {
        for name in ["Date", "Content-Length", "Connection", "Transfer-Encoding"] {
            let mut spec = presets::preset("strict").unwrap();
            spec.custom.push((
                name.into(),
                HeaderSpec {
                    value: "x".into(),
                    mode: Mode::Override,
                },
            ));
            assert!(!compile(spec).renders(), "{name}");
        }
    }

    #[test]
    fn two_rules_for_one_name_are_not_rendered() {
        let mut spec = presets::preset("strict").unwrap();
        spec.custom.push((
            "X-Frame-Options".into(),
            HeaderSpec {
                value: "SAMEORIGIN".into(),
                mode: Mode::Override,
            },
        ));
        assert!(!compile(spec).renders());
    }
}
