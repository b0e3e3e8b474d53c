//! Picks the certificate for a handshake from the client's SNI.
//!
//! The set lives behind an `ArcSwap`: a reload swaps in a whole new set, handshakes in progress
//! finish with the one they loaded, and established connections are untouched (their keys were
//! agreed at their handshake).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Server name -> certificate, built once per (re)load.
pub struct CertSet {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// `*.example.com` stored as `example.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl CertSet {
    pub fn new(default: Arc<CertifiedKey>) -> CertSet {
        CertSet {
            exact: HashMap::new(),
            wildcard: HashMap::new(),
            default,
        }
    }

    /// Adds `name` (lowercase; `*.example.com` for a wildcard) unless an earlier certificate
    /// already claimed it: configuration order decides between overlapping certificates.
    pub fn insert(&mut self, name: &str, key: &Arc<CertifiedKey>) {
        let (map, name) = match name.strip_prefix("*.") {
            Some(parent) => (&mut self.wildcard, parent),
            None => (&mut self.exact, name),
        };
        map.entry(name.to_owned()).or_insert_with(|| key.clone());
    }

    pub fn default_key(&self) -> &Arc<CertifiedKey> {
        &self.default
    }

    /// An exact name first, then a wildcard for its parent (one label only, as RFC 6125 has
    /// it: `*.example.com` serves `a.example.com`, not `a.b.example.com` nor `example.com`),
    /// then the default.
    pub fn pick(&self, sni: Option<&str>) -> &Arc<CertifiedKey> {
        let Some(name) = sni else {
            return &self.default;
        };
        let lower;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        if let Some(k) = self.exact.get(name) {
            return k;
        }
        name.split_once('.')
            .and_then(|(_, parent)| self.wildcard.get(parent))
            .unwrap_or(&self.default)
    }
}

/// The rustls hook: one per listener, shared by every connection's handshake.
pub struct SniResolver {
    set: ArcSwap<CertSet>,
}

impl SniResolver {
    pub fn new(set: CertSet) -> SniResolver {
        SniResolver {
            set: ArcSwap::from_pointee(set),
        }
    }

    pub fn current(&self) -> Arc<CertSet> {
        self.set.load_full()
    }

    pub fn swap(&self, set: CertSet) {
        self.set.store(Arc::new(set));
    }
}

impl fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.set.load();
        f.debug_struct("SniResolver")
            .field("names", &(set.exact.len() + set.wildcard.len()))
            .finish()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.set.load().pick(hello.server_name()).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::sign::SigningKey;

    #[derive(Debug)]
    struct NoKey;
    impl SigningKey for NoKey {
        fn choose_scheme(
            &self,
            _offered: &[rustls::SignatureScheme],
        ) -> Option<Box<dyn rustls::sign::Signer>> {
            None
        }
        fn algorithm(&self) -> rustls::SignatureAlgorithm {
            rustls::SignatureAlgorithm::ECDSA
        }
    }

    fn key(tag: u8) -> Arc<CertifiedKey> {
        Arc::new(CertifiedKey::new(
            vec![rustls_pki_types::CertificateDer::from(vec![tag])],
            Arc::new(NoKey),
        ))
    }

    fn tag(k: &Arc<CertifiedKey>) -> u8 {
        k.cert[0].as_ref()[0]
    }

    #[test]
    fn exact_then_one_label_wildcard_then_default() {
        let mut set = CertSet::new(key(0));
        set.insert("api.example.com", &key(1));
        set.insert("*.example.com", &key(2));
        set.insert("api.example.com", &key(3));
        assert_eq!(
            tag(set.pick(Some("api.example.com"))),
            1,
            "first claim wins"
        );
        assert_eq!(tag(set.pick(Some("API.Example.COM"))), 1);
        assert_eq!(tag(set.pick(Some("www.example.com"))), 2);
        assert_eq!(tag(set.pick(Some("a.b.example.com"))), 0);
        assert_eq!(tag(set.pick(Some("example.com"))), 0);
        assert_eq!(tag(set.pick(None)), 0);
    }
}
