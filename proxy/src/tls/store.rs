//! The listener's certificates: loaded at start (any failure stops the start), re-read on
//! reload, where a broken new file is logged and the certificate in service stays.

use std::sync::{Arc, Mutex, PoisonError};

use rampart_config::{CertificateSource, TlsSettings};
use rustls::crypto::CryptoProvider;

use super::TlsError;
use super::pem::{Loaded, PemPair};
use super::resolver::{CertSet, SniResolver};

/// One configured certificate and what reloads have seen of its files.
struct Entry {
    source: CertificateSource,
    /// What handshakes get; `None` for a certificate added by a configuration reload whose
    /// files have not loaded yet.
    in_service: Option<(Loaded, u64)>,
    /// The content last examined, so that a rejected file is logged once, not on every poll.
    last_seen: Seen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Never,
    Unreadable,
    Content(u64),
}

struct State {
    entries: Vec<Entry>,
    settings: TlsSettings,
    generation: u64,
}

pub struct Certificates {
    resolver: Arc<SniResolver>,
    provider: Arc<CryptoProvider>,
    state: Mutex<State>,
}

impl Certificates {
    /// Reads every certificate; the first that fails is the error (it names the file).
    pub fn load(
        settings: &TlsSettings,
        provider: Arc<CryptoProvider>,
    ) -> Result<Certificates, TlsError> {
        let mut entries = Vec::with_capacity(settings.certificates.len());
        for source in &settings.certificates {
            let pem = PemPair::read(source)?;
            let fp = pem.fingerprint();
            let loaded = pem.certified_key(source, &provider)?;
            entries.push(Entry {
                source: source.clone(),
                in_service: Some((loaded, fp)),
                last_seen: Seen::Content(fp),
            });
        }
        let set = build_set(&entries, settings.default, None).ok_or(TlsError::NoCertificates)?;
        Ok(Certificates {
            resolver: Arc::new(SniResolver::new(set)),
            provider,
            state: Mutex::new(State {
                entries,
                settings: settings.clone(),
                generation: 1,
            }),
        })
    }

    pub fn resolver(&self) -> Arc<SniResolver> {
        self.resolver.clone()
    }

    /// Re-reads the files of `settings` (the running configuration's: it may list other
    /// certificates than before) and swaps in a new set if anything changed. Returns the
    /// certificate generation in service afterwards.
    pub fn refresh(&self, settings: &TlsSettings) -> u64 {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut changed = *settings != state.settings;
        let mut old: Vec<Entry> = std::mem::take(&mut state.entries);
        let mut entries = Vec::with_capacity(settings.certificates.len());
        let mut reloaded = Vec::new();
        for source in &settings.certificates {
            let previous = old
                .iter()
                .position(|e| e.source.cert == source.cert && e.source.key == source.key)
                .map(|i| old.swap_remove(i));
            let mut entry = previous.unwrap_or(Entry {
                source: source.clone(),
                in_service: None,
                last_seen: Seen::Never,
            });
            entry.source = source.clone();
            if self.check(&mut entry) {
                reloaded.push(entries.len());
            }
            entries.push(entry);
        }
        changed |= !reloaded.is_empty();
        if changed {
            let fallback = self.resolver.current().default_key().clone();
            if let Some(set) = build_set(&entries, settings.default, Some(fallback)) {
                self.resolver.swap(set);
                state.generation += 1;
            }
        }
        // Logged once in service: whoever reads this line and connects gets the new one.
        for e in reloaded.iter().filter_map(|&i| entries.get(i)) {
            let names = e.in_service.as_ref().map(|(l, _)| l.names.join(","));
            tracing::info!(
                cert = %e.source.cert.display(),
                key = %e.source.key.display(),
                names = names.as_deref().unwrap_or(""),
                cert_generation = state.generation,
                "TLS certificate reloaded"
            );
        }
        state.entries = entries;
        state.settings = settings.clone();
        state.generation
    }

    /// Looks at one certificate's files; true when what it serves changed. Rejections are
    /// logged here.
    fn check(&self, entry: &mut Entry) -> bool {
        let source = &entry.source;
        let pem = PemPair::read(source);
        let fingerprint = pem.as_ref().ok().map(PemPair::fingerprint);
        let seen = fingerprint.map_or(Seen::Unreadable, Seen::Content);
        if seen == entry.last_seen {
            return false;
        }
        entry.last_seen = seen;
        let in_service_fp = entry.in_service.as_ref().map(|(_, fp)| *fp);
        let result = pem.and_then(|pem| {
            if fingerprint.is_some() && fingerprint == in_service_fp {
                return Ok(None);
            }
            pem.certified_key(source, &self.provider).map(Some)
        });
        match result {
            // Back to the content already in service (e.g. a rejected edit was reverted).
            Ok(None) => false,
            Ok(Some(loaded)) => {
                entry.in_service = fingerprint.map(|fp| (loaded, fp));
                true
            }
            Err(e) => {
                let keeping = if entry.in_service.is_some() {
                    "the certificate in service stays"
                } else {
                    "this certificate is not served until its files load"
                };
                tracing::error!(
                    file = %e.path().display(),
                    error = %e,
                    "TLS certificate rejected; {keeping}"
                );
                false
            }
        }
    }
}

/// The name -> key map for a set of entries. The default is the configured one if it loaded,
/// else `fallback` (the default in service before this reload).
fn build_set(
    entries: &[Entry],
    default: usize,
    fallback: Option<Arc<rustls::sign::CertifiedKey>>,
) -> Option<CertSet> {
    let default_key = entries
        .get(default)
        .and_then(|e| e.in_service.as_ref())
        .map(|(l, _)| l.key.clone())
        .or(fallback)
        .or_else(|| {
            entries
                .iter()
                .find_map(|e| e.in_service.as_ref().map(|(l, _)| l.key.clone()))
        })?;
    let mut set = CertSet::new(default_key);
    for e in entries {
        let Some((loaded, _)) = &e.in_service else {
            continue;
        };
        let names = if e.source.sni.is_empty() {
            &loaded.names
        } else {
            &e.source.sni
        };
        for n in names {
            set.insert(n, &loaded.key);
        }
    }
    Some(set)
}
