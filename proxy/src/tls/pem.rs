//! Certificate chains and private keys from PEM files, with errors that name the file.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rampart_config::CertificateSource;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a certificate or key could not be used. Every variant names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not valid PEM: {reason}")]
    Pem { path: PathBuf, reason: String },
    #[error("{path}: no certificate (-----BEGIN CERTIFICATE-----) in the file")]
    NoCertificate { path: PathBuf },
    #[error("{path}: the first certificate is not a valid X.509 certificate: {reason}")]
    BadCertificate { path: PathBuf, reason: String },
    #[error("{path}: no private key (PKCS#8, PKCS#1 or SEC1 PEM) in the file")]
    NoKey { path: PathBuf },
    #[error("{path}: the private key cannot be used: {source}")]
    BadKey {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("{key}: the private key does not belong to the certificate in {cert}")]
    Mismatch { cert: PathBuf, key: PathBuf },
}

impl PemError {
    /// The file at fault (for log fields).
    pub fn path(&self) -> &Path {
        match self {
            PemError::Read { path, .. }
            | PemError::Pem { path, .. }
            | PemError::NoCertificate { path }
            | PemError::BadCertificate { path, .. }
            | PemError::NoKey { path }
            | PemError::BadKey { path, .. } => path,
            PemError::Mismatch { key, .. } => key,
        }
    }
}

/// The raw bytes of a certificate file and its key file, read together so that a change to
/// either is seen.
pub struct PemPair {
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl PemPair {
    pub fn read(source: &CertificateSource) -> Result<PemPair, PemError> {
        Ok(PemPair {
            cert: read(&source.cert)?,
            key: read(&source.key)?,
        })
    }

    /// Identifies the content for change detection, without keeping the key material around.
    pub fn fingerprint(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.cert.hash(&mut h);
        self.key.hash(&mut h);
        h.finish()
    }

    /// Parses and checks the pair: a chain, a key the provider can sign with, and the key
    /// belonging to the chain's first certificate.
    pub fn certified_key(
        &self,
        source: &CertificateSource,
        provider: &CryptoProvider,
    ) -> Result<Loaded, PemError> {
        let chain = chain_from(&self.cert, &source.cert)?;
        let names = dns_names(&chain[0], &source.cert)?;
        let key = key_from(&self.key, &source.key)?;
        let certified = CertifiedKey::from_der(chain, key, provider).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => PemError::Mismatch {
                cert: source.cert.clone(),
                key: source.key.clone(),
            },
            other => PemError::BadKey {
                path: source.key.clone(),
                source: other,
            },
        })?;
        Ok(Loaded {
            key: Arc::new(certified),
            names,
        })
    }
}

/// A usable certificate and the DNS names it carries.
#[derive(Clone)]
pub struct Loaded {
    pub key: Arc<CertifiedKey>,
    /// The leaf's DNS subject alternative names, lowercased (`*.example.com` kept as written).
    pub names: Vec<String>,
}

fn read(path: &Path) -> Result<Vec<u8>, PemError> {
    std::fs::read(path).map_err(|source| PemError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate in a PEM file, in order (leaf first).
pub fn chain_from(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PemError::Pem {
            path: path.to_path_buf(),
            reason: pem_reason(&e),
        })?;
    if chain.is_empty() {
        return Err(PemError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(chain)
}

/// The first private key in a PEM file.
pub fn key_from(pem: &[u8], path: &Path) -> Result<PrivateKeyDer<'static>, PemError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => PemError::NoKey {
            path: path.to_path_buf(),
        },
        e => PemError::Pem {
            path: path.to_path_buf(),
            reason: pem_reason(&e),
        },
    })
}

/// The parser's own messages print markers as byte arrays; say it in words instead.
fn pem_reason(e: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error as E;
    match e {
        E::MissingSectionEnd { end_marker } => format!(
            "a section has no -----END {}----- line (truncated or half-written file?)",
            String::from_utf8_lossy(end_marker).trim()
        ),
        E::IllegalSectionStart { line } => format!(
            "malformed section start {:?}",
            String::from_utf8_lossy(line).trim()
        ),
        E::Base64Decode(m) => format!("bad base64 inside a section: {m}"),
        other => other.to_string(),
    }
}

fn dns_names(leaf: &CertificateDer<'_>, path: &Path) -> Result<Vec<String>, PemError> {
    let cert = webpki::EndEntityCert::try_from(leaf).map_err(|e| PemError::BadCertificate {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(cert
        .valid_dns_names()
        .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
        .collect())
}
