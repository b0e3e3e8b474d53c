//! Leak detectors: find text in HTTP error bodies and headers that maps a
//! system for an attacker (cloud account ids, ARNs, stack traces, SQL errors,
//! private addresses, internal host names, file paths, version banners,
//! framework debug pages).
//!
//! The proxy asks [`DetectorSet::is_leaky`] to decide whether to replace an
//! error body; the verifier uses [`DetectorSet::scan`] and [`redact`] to quote
//! evidence without repeating the secret.
//!
//! All patterns live in one [`regex::bytes::RegexSet`], so the common "clean
//! body" case costs a single pass over the bytes. Only the patterns that the
//! set reports as matching are then run on their own to find positions.

mod patterns;
mod redact;

pub use redact::redact;

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::{Arc, LazyLock};

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use regex_automata::{meta, util::syntax};

use patterns::BUILTINS;

/// Compiled-program budget for one pattern. Built-ins need at most ~32 KiB;
/// this bounds what a single user regex can cost.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;
/// Compiled-program budget for the whole set. Built-ins take ~256 KiB, the
/// rest is room for custom patterns; beyond it `with_custom` fails with
/// [`LeakError::TooLarge`] rather than building a huge automaton.
const SET_SIZE_LIMIT: usize = 8 << 20;
/// Lazy-DFA cache per thread that searches with the set. Measured: larger
/// caches (4 and 16 MiB) were no faster on text, random bytes or digit runs,
/// and this memory is paid once per proxy worker thread.
const SET_DFA_SIZE_LIMIT: usize = 2 << 20;

/// Which detector produced a match.
///
/// Built-in ids are static strings such as `aws-arn`; custom ones are
/// `custom:<name>`. Cloning is a pointer copy (or a refcount bump for custom
/// ids). Equality, ordering and hashing are those of [`DetectorId::as_str`],
/// so a `HashMap<DetectorId, _>` can be looked up by `&str`.
#[derive(Clone)]
pub struct DetectorId(IdRepr);

#[derive(Clone)]
enum IdRepr {
    Builtin(&'static str),
    Custom(Arc<str>),
}

impl DetectorId {
    fn builtin(id: &'static str) -> Self {
        DetectorId(IdRepr::Builtin(id))
    }

    fn custom(name: &str) -> Self {
        DetectorId(IdRepr::Custom(Arc::from(format!("custom:{name}"))))
    }

    /// The id as text, e.g. `aws-arn` or `custom:internal-ticket`.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            IdRepr::Builtin(s) => s,
            IdRepr::Custom(s) => s,
        }
    }

    /// Whether this id names a user-supplied detector.
    pub fn is_custom(&self) -> bool {
        matches!(self.0, IdRepr::Custom(_))
    }
}

impl fmt::Display for DetectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for DetectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for DetectorId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for DetectorId {}

impl PartialEq<str> for DetectorId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for DetectorId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for DetectorId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DetectorId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for DetectorId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Borrow<str> for DetectorId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for DetectorId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// A user-supplied detector, reported as `custom:<name>`.
///
/// `pattern` is `regex` crate syntax matched against raw bytes, with the
/// crate's default Unicode mode. If it has a group named `m`, that group is
/// the reported (and redacted) span instead of the whole match, which lets a
/// pattern require context it does not report. Prefer `(?-u:\b)` over `\b`:
/// a Unicode word boundary makes the shared automaton fall back to a much
/// slower engine on bodies containing non-ASCII bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomDetector {
    pub name: String,
    pub pattern: String,
}

/// One finding: `haystack[start..end]` is the leaking text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeakMatch {
    pub detector: DetectorId,
    pub start: usize,
    pub end: usize,
}

impl LeakMatch {
    /// The byte range of the match.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}

/// Why a detector set could not be built.
#[derive(thiserror::Error, Debug)]
pub enum LeakError {
    #[error("custom leak detector {name:?}: invalid regex: {source}")]
    InvalidRegex {
        name: String,
        #[source]
        source: regex::Error,
    },
    #[error("custom leak detector {name:?}: pattern matches the empty string")]
    MatchesEmpty { name: String },
    #[error("custom leak detector has an empty name")]
    EmptyName,
    #[error("custom leak detector name {name:?} contains control characters")]
    InvalidName { name: String },
    #[error("duplicate custom leak detector name {name:?}")]
    DuplicateName { name: String },
    #[error("leak detectors are too large to compile together: {source}")]
    TooLarge {
        #[source]
        source: regex::Error,
    },
    #[error("leak detectors are too large to compile together: {source}")]
    FirstMatchTooLarge {
        #[source]
        source: Box<meta::BuildError>,
    },
}

/// A compiled group of detectors. Cloning is cheap (one `Arc`), and the set
/// is `Send + Sync`, so it can be shared across request handlers.
#[derive(Clone)]
pub struct DetectorSet {
    inner: Arc<Inner>,
}

struct Inner {
    /// Every primary and gating pattern, in one automaton.
    set: RegexSet,
    rules: Vec<CompiledRule>,
    ids: Vec<DetectorId>,
    /// For [`DetectorSet::which`]: the primary patterns of the rules that fire on their own
    /// match (no gate, nothing to confirm), as one leftmost-first automaton. It stops at the
    /// first leak in the text instead of running every pattern over all of it.
    first: meta::Regex,
    /// The rule (index into `rules`) of each pattern of `first`.
    first_rules: Vec<usize>,
    /// The other rules (gated, or custom ones needing confirmation) with just the patterns they
    /// need; `None` when there are none.
    rest: Option<Rest>,
}

/// Gated and confirmed rules, searched when `first` found nothing.
struct Rest {
    set: RegexSet,
    /// (rule index, primary, requires), the pattern indices being `set`'s.
    rules: Vec<(usize, usize, Vec<usize>)>,
}

struct CompiledRule {
    /// Index into `Inner::ids`.
    detector: usize,
    /// Index of the primary pattern in `Inner::set`.
    primary: usize,
    /// Set indices that must all match too.
    requires: Vec<usize>,
    regex: Regex,
    /// Capture group that carries the reported span, if the pattern uses one.
    span_group: Option<usize>,
    /// Custom patterns may match the empty string at some positions (`\b`,
    /// `$`); empty matches are never reported, so a set hit on such a rule
    /// has to be confirmed by finding a non-empty match.
    confirm: bool,
}

impl fmt::Debug for DetectorSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DetectorSet")
            .field("ids", &self.inner.ids)
            .finish_non_exhaustive()
    }
}

static BUILTIN: LazyLock<DetectorSet> = LazyLock::new(|| {
    // The built-in table is constant and `tests::builtins_compile` compiles
    // it, so failure here is a programming error caught by the test suite,
    // not a runtime condition.
    #[allow(clippy::expect_used)]
    DetectorSet::compile(&[]).expect("built-in leak detectors compile")
});

impl DetectorSet {
    /// All built-in detectors. Compiled once per process; later calls clone
    /// an `Arc`.
    pub fn builtin() -> DetectorSet {
        BUILTIN.clone()
    }

    /// Built-in detectors plus `custom`, reported as `custom:<name>`.
    pub fn with_custom(custom: &[CustomDetector]) -> Result<DetectorSet, LeakError> {
        if custom.is_empty() {
            return Ok(Self::builtin());
        }
        Self::compile(custom)
    }

    fn compile(custom: &[CustomDetector]) -> Result<DetectorSet, LeakError> {
        let mut b = Builder::default();
        for d in BUILTINS {
            let detector = b.push_id(DetectorId::builtin(d.id));
            for rule in d.rules {
                // Built-ins are written for ASCII semantics; see patterns.rs.
                let primary = format!("(?-u){}", rule.pattern);
                let regex = single_regex(&primary).map_err(|source| LeakError::InvalidRegex {
                    name: d.id.to_owned(),
                    source,
                })?;
                let requires = rule
                    .requires
                    .iter()
                    .map(|p| b.pattern(format!("(?-u){p}")))
                    .collect();
                b.push_rule(detector, primary, regex, requires, false);
            }
        }

        let mut seen = HashSet::new();
        for c in custom {
            if c.name.trim().is_empty() {
                return Err(LeakError::EmptyName);
            }
            if c.name.chars().any(char::is_control) {
                return Err(LeakError::InvalidName {
                    name: c.name.clone(),
                });
            }
            if !seen.insert(c.name.as_str()) {
                return Err(LeakError::DuplicateName {
                    name: c.name.clone(),
                });
            }
            let regex = single_regex(&c.pattern).map_err(|source| LeakError::InvalidRegex {
                name: c.name.clone(),
                source,
            })?;
            // A pattern that matches nothing-at-all would flag every body.
            if regex.is_match(b"") {
                return Err(LeakError::MatchesEmpty {
                    name: c.name.clone(),
                });
            }
            let detector = b.push_id(DetectorId::custom(&c.name));
            b.push_rule(detector, c.pattern.clone(), regex, Vec::new(), true);
        }

        let set = build_set(&b.patterns)?;
        let (first_rules, rest_rules): (Vec<usize>, Vec<usize>) = (0..b.rules.len())
            .partition(|&i| b.rules[i].requires.is_empty() && !b.rules[i].confirm);
        let first_patterns: Vec<&str> = first_rules
            .iter()
            .map(|&i| b.patterns[b.rules[i].primary].as_str())
            .collect();
        let first = meta::Regex::builder()
            // Bytes, not text: the built-ins are written with `(?-u)` and bodies need not be
            // UTF-8 (the same settings as regex::bytes).
            .syntax(syntax::Config::new().utf8(false))
            .configure(
                meta::Config::new()
                    .utf8_empty(false)
                    .nfa_size_limit(Some(SET_SIZE_LIMIT))
                    .hybrid_cache_capacity(SET_DFA_SIZE_LIMIT),
            )
            .build_many(&first_patterns)
            .map_err(|e| LeakError::FirstMatchTooLarge {
                source: Box::new(e),
            })?;
        let rest = if rest_rules.is_empty() {
            None
        } else {
            let mut patterns: Vec<String> = Vec::new();
            let mut index = |p: usize| {
                let text = &b.patterns[p];
                match patterns.iter().position(|q| q == text) {
                    Some(i) => i,
                    None => {
                        patterns.push(text.clone());
                        patterns.len() - 1
                    }
                }
            };
            let rules = rest_rules
                .iter()
                .map(|&i| {
                    let r = &b.rules[i];
                    let primary = index(r.primary);
                    let requires = r.requires.iter().map(|&q| index(q)).collect();
                    (i, primary, requires)
                })
                .collect();
            Some(Rest {
                set: build_set(&patterns)?,
                rules,
            })
        };
        Ok(DetectorSet {
            inner: Arc::new(Inner {
                set,
                rules: b.rules,
                ids: b.ids,
                first,
                first_rules,
                rest,
            }),
        })
    }

    /// Whether any detector matches. One pass over `haystack` when nothing
    /// matches, which is the case that has to be fast.
    pub fn is_leaky(&self, haystack: &[u8]) -> bool {
        let inner = &*self.inner;
        // Always `matches`, never `is_match` first: `is_match` is ~15% faster
        // on clean input, but a hit would then need a second, full
        // `matches` pass (gated and custom rules must know which patterns
        // hit), doubling the cost for a leak near the end of a body. One
        // pass keeps the worst case bounded.
        let hits = inner.set.matches(haystack);
        if !hits.matched_any() {
            return false;
        }
        inner
            .rules
            .iter()
            .any(|r| r.fires(&hits) && (!r.confirm || r.first_span(haystack, 0).is_some()))
    }

    /// A detector that matches, if any: the detector of the leak that ends first in the text (gated
    /// and custom detectors, which need more than one pattern's match, are looked at when no
    /// other detector fires). For callers that must decide (and say why) but need no position:
    /// the search stops at the first leak. [`DetectorSet::first`] also finds where.
    pub fn which(&self, haystack: &[u8]) -> Option<&DetectorId> {
        let inner = &*self.inner;
        // Which pattern matched is all this needs: a half search skips the reverse pass that
        // would find where the leak starts, and `earliest` stops at the first byte that
        // completes any match instead of scanning on for the longest one.
        if let Some(m) = inner
            .first
            .search_half(&regex_automata::Input::new(haystack).earliest(true))
        {
            let rule = inner.first_rules[m.pattern().as_usize()];
            return Some(&inner.ids[inner.rules[rule].detector]);
        }
        let rest = inner.rest.as_ref()?;
        let hits = rest.set.matches(haystack);
        if !hits.matched_any() {
            return None;
        }
        rest.rules
            .iter()
            .find(|(rule, primary, requires)| {
                hits.matched(*primary)
                    && requires.iter().all(|&i| hits.matched(i))
                    && (!inner.rules[*rule].confirm
                        || inner.rules[*rule].first_span(haystack, 0).is_some())
            })
            .map(|(rule, _, _)| &inner.ids[inner.rules[*rule].detector])
    }

    /// Every match, sorted by start, then detector id, then end. Overlapping
    /// matches of the same detector are merged into one span; matches of
    /// different detectors may overlap (an ARN also contains an account id).
    pub fn scan(&self, haystack: &[u8]) -> Vec<LeakMatch> {
        let inner = &*self.inner;
        let hits = inner.set.matches(haystack);
        if !hits.matched_any() {
            return Vec::new();
        }
        // Spans per detector, merged below so that two rules of one detector
        // hitting the same text are reported once.
        let mut per_detector: Vec<Vec<Range<usize>>> = vec![Vec::new(); inner.ids.len()];
        for rule in inner.rules.iter().filter(|r| r.fires(&hits)) {
            rule.all_spans(haystack, &mut per_detector[rule.detector]);
        }
        let mut out = Vec::new();
        for (detector, mut spans) in per_detector.into_iter().enumerate() {
            if spans.is_empty() {
                continue;
            }
            spans.sort_unstable_by_key(|s| (s.start, s.end));
            let mut merged: Option<Range<usize>> = None;
            for s in spans {
                match &mut merged {
                    Some(cur) if s.start < cur.end => cur.end = cur.end.max(s.end),
                    _ => {
                        if let Some(done) = merged.replace(s) {
                            out.push(inner.leak_match(detector, done));
                        }
                    }
                }
            }
            if let Some(done) = merged {
                out.push(inner.leak_match(detector, done));
            }
        }
        out.sort_unstable_by(|a, b| {
            (a.start, &a.detector, a.end).cmp(&(b.start, &b.detector, b.end))
        });
        out
    }

    /// The match `scan` would list first, without collecting the others.
    pub fn first(&self, haystack: &[u8]) -> Option<LeakMatch> {
        let inner = &*self.inner;
        let hits = inner.set.matches(haystack);
        if !hits.matched_any() {
            return None;
        }
        // Merging in `scan` only ever extends a span's end, so the earliest
        // (start, id) over all rules' first spans is `scan`'s first entry.
        let mut best: Option<(usize, usize)> = None; // (start, detector)
        for rule in inner.rules.iter().filter(|r| r.fires(&hits)) {
            if let Some(s) = rule.first_span(haystack, 0) {
                let cand = (s.start, rule.detector);
                let better = match best {
                    None => true,
                    Some((bs, bd)) => {
                        (s.start, inner.ids[rule.detector].as_str()) < (bs, inner.ids[bd].as_str())
                    }
                };
                if better {
                    best = Some(cand);
                }
            }
        }
        let (_, detector) = best?;
        // `scan` merges overlapping spans of one detector, so the end has to
        // come from the same merge; only this one detector's rules are rerun.
        let mut spans = Vec::new();
        for rule in inner
            .rules
            .iter()
            .filter(|r| r.detector == detector && r.fires(&hits))
        {
            rule.all_spans(haystack, &mut spans);
        }
        spans.sort_unstable_by_key(|s| (s.start, s.end));
        let mut spans = spans.into_iter();
        let first = spans.next()?;
        let (start, mut end) = (first.start, first.end);
        for s in spans {
            if s.start >= end {
                break;
            }
            end = end.max(s.end);
        }
        Some(inner.leak_match(detector, start..end))
    }

    /// Ids of the detectors in this set: built-ins in table order, then
    /// custom ones in the order given.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.inner.ids.iter().map(DetectorId::as_str)
    }
}

impl Inner {
    fn leak_match(&self, detector: usize, span: Range<usize>) -> LeakMatch {
        LeakMatch {
            detector: self.ids[detector].clone(),
            start: span.start,
            end: span.end,
        }
    }
}

impl CompiledRule {
    fn fires(&self, hits: &regex::bytes::SetMatches) -> bool {
        hits.matched(self.primary) && self.requires.iter().all(|&i| hits.matched(i))
    }

    /// The first non-empty reported span at or after `from`.
    fn first_span(&self, haystack: &[u8], from: usize) -> Option<Range<usize>> {
        let mut pos = from;
        while pos <= haystack.len() {
            let (whole, span) = match self.span_group {
                Some(g) => {
                    let caps = self.regex.captures_at(haystack, pos)?;
                    let whole = caps.get(0)?.range();
                    (whole.clone(), caps.get(g).map_or(whole, |m| m.range()))
                }
                None => {
                    let m = self.regex.find_at(haystack, pos)?;
                    (m.range(), m.range())
                }
            };
            if !span.is_empty() {
                return Some(span);
            }
            pos = whole.end.max(pos + 1);
        }
        None
    }

    fn all_spans(&self, haystack: &[u8], out: &mut Vec<Range<usize>>) {
        let mut pos = 0;
        while let Some(span) = self.first_span(haystack, pos) {
            // Resume at the end of the reported span, not of the whole match:
            // the boundary byte consumed after it may be the boundary before
            // the next one (`123456789012 210987654321`). Searching with
            // `*_at` keeps the bytes before `pos` visible to `^` and
            // boundaries.
            pos = span.end;
            out.push(span);
        }
    }
}

#[derive(Default)]
struct Builder {
    patterns: Vec<String>,
    rules: Vec<CompiledRule>,
    ids: Vec<DetectorId>,
}

impl Builder {
    fn push_id(&mut self, id: DetectorId) -> usize {
        self.ids.push(id);
        self.ids.len() - 1
    }

    /// Adds a set-only pattern, sharing an entry when the same gate is used
    /// by several rules.
    fn pattern(&mut self, pattern: String) -> usize {
        if let Some(i) = self.patterns.iter().position(|p| *p == pattern) {
            return i;
        }
        self.patterns.push(pattern);
        self.patterns.len() - 1
    }

    fn push_rule(
        &mut self,
        detector: usize,
        pattern: String,
        regex: Regex,
        requires: Vec<usize>,
        confirm: bool,
    ) {
        // Primaries are never shared: each needs its own set index so that a
        // hit can be attributed to its rule.
        self.patterns.push(pattern);
        let primary = self.patterns.len() - 1;
        let span_group = regex.capture_names().position(|n| n == Some("m"));
        self.rules.push(CompiledRule {
            detector,
            primary,
            requires,
            regex,
            span_group,
            confirm,
        });
    }
}

fn build_set(patterns: &[String]) -> Result<RegexSet, LeakError> {
    RegexSetBuilder::new(patterns)
        .size_limit(SET_SIZE_LIMIT)
        .dfa_size_limit(SET_DFA_SIZE_LIMIT)
        .build()
        .map_err(|source| LeakError::TooLarge { source })
}

fn single_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
}

#[cfg(test)]
mod tests;
