//! The configuration file exactly as written: every field optional, unknown fields rejected, spans
//! kept so validation can point at the offending value.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub policies: BTreeMap<Spanned<String>, RawPolicy>,
    #[serde(default)]
    pub routes: Vec<Spanned<RawRoute>>,
    pub admin: Option<Spanned<RawAdmin>>,
}

/// `[admin]`: the health/readiness/metrics listener.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    pub listen: Option<Spanned<String>>,
    #[serde(default)]
    pub readiness: RawReadiness,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReadiness {
    pub check: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<Spanned<String>>,
    pub workers: Option<Spanned<usize>>,
    pub default_policy: Option<Spanned<String>>,
    pub trusted_proxies: Option<Vec<Spanned<String>>>,
    pub access_log: Option<bool>,
    pub log_format: Option<Spanned<String>>,
    #[serde(default)]
    pub timeouts: RawTimeouts,
    #[serde(default)]
    pub limits: RawLimits,
    /// A plain-HTTP listener that redirects every request to the HTTPS one.
    pub redirect_http: Option<Spanned<String>>,
    /// The port in the redirect's Location when it is not the HTTPS listener's own (a port
    /// mapping in front of the proxy).
    pub redirect_https_port: Option<Spanned<u16>>,
    pub tls: Option<Spanned<RawTls>>,
    /// How often the file is checked for changes; "0s" reloads on SIGHUP only.
    pub config_watch_interval: Option<Spanned<String>>,
}

/// `[server.tls]`: the main listener terminates TLS with these certificates.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    #[serde(default)]
    pub certificates: Vec<Spanned<RawCertificate>>,
    pub reload_interval: Option<Spanned<String>>,
}

/// One certificate chain and its key (PEM paths), and the server names it answers for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCertificate {
    pub cert: Spanned<String>,
    pub key: Spanned<String>,
    pub sni: Option<Vec<Spanned<String>>>,
    pub default: Option<Spanned<bool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    pub client_header: Option<Spanned<String>>,
    pub upstream_connect: Option<Spanned<String>>,
    pub upstream_response: Option<Spanned<String>>,
    pub idle: Option<Spanned<String>>,
    pub drain: Option<Spanned<String>>,
    pub drain_delay: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_request_header_bytes: Option<Spanned<usize>>,
    pub max_connections: Option<Spanned<usize>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub extends: Option<Spanned<String>>,
    pub server: Option<Spanned<RawServerHeader>>,
    pub remove: Option<Vec<Spanned<String>>>,
    pub also_remove: Option<Vec<Spanned<String>>>,
    pub strict_transport_security: Option<Spanned<Toggle<RawHsts>>>,
    pub content_security_policy: Option<Spanned<Toggle<RawHeader>>>,
    pub content_security_policy_report_only: Option<Spanned<Toggle<RawHeader>>>,
    pub x_frame_options: Option<Spanned<Toggle<RawHeader>>>,
    pub x_content_type_options: Option<Spanned<Toggle<RawHeader>>>,
    pub referrer_policy: Option<Spanned<Toggle<RawHeader>>>,
    pub permissions_policy: Option<Spanned<Toggle<RawHeader>>>,
    pub cross_origin_opener_policy: Option<Spanned<Toggle<RawHeader>>>,
    pub cross_origin_resource_policy: Option<Spanned<Toggle<RawHeader>>>,
    pub cross_origin_embedder_policy: Option<Spanned<Toggle<RawHeader>>>,
    pub x_permitted_cross_domain_policies: Option<Spanned<Toggle<RawHeader>>>,
    pub x_xss_protection: Option<Spanned<Toggle<RawHeader>>>,
    #[serde(default)]
    pub custom: Vec<Spanned<RawCustom>>,
    pub error_bodies: Option<Spanned<RawErrorBodies>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawErrorBodies {
    pub mode: Option<Spanned<String>>,
    pub statuses: Option<Vec<Spanned<RawStatus>>>,
    pub inspect_limit: Option<Spanned<RawSize>>,
    pub over_limit: Option<Spanned<String>>,
    pub decoded_limit: Option<Spanned<RawSize>>,
    #[serde(default)]
    pub detectors: Vec<Spanned<RawDetector>>,
    #[serde(default)]
    pub templates: BTreeMap<Spanned<String>, Spanned<RawTemplates>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDetector {
    pub name: Spanned<String>,
    pub pattern: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTemplates {
    pub json: Option<Spanned<String>>,
    pub html: Option<Spanned<String>>,
    pub text: Option<Spanned<String>>,
}

/// `403` or `"4xx"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawStatus {
    Code(u16),
    Text(String),
}

/// `65536` or `"64KiB"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawSize {
    Bytes(u64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    pub value: Option<Spanned<String>>,
    #[serde(rename = "override")]
    pub override_: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHsts {
    pub max_age: Option<Spanned<u64>>,
    pub include_subdomains: Option<Spanned<bool>>,
    pub preload: Option<Spanned<bool>>,
    #[serde(rename = "override")]
    pub override_: Option<bool>,
    pub force: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustom {
    pub name: Spanned<String>,
    pub value: Option<Spanned<String>>,
    #[serde(rename = "override")]
    pub override_: Option<bool>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub name: Option<Spanned<String>>,
    pub host: Option<Spanned<String>>,
    pub path_prefix: Option<Spanned<String>>,
    pub upstream: Spanned<String>,
    pub policy: Option<Spanned<String>>,
    pub preserve_host: Option<bool>,
    pub host_rewrite: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<String>>,
    /// A client certificate chain and key (PEM) presented to an HTTPS upstream (mTLS).
    pub client_cert: Option<Spanned<String>>,
    pub client_key: Option<Spanned<String>>,
    /// Overrides the policy's error-body mode for this route.
    pub error_bodies: Option<Spanned<String>>,
}

/// `server = "name"` sets the header, `server = false` removes it, `server = true` keeps the
/// origin's (pass-through).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawServerHeader {
    Value(String),
    Flag(bool),
}

impl<'de> Deserialize<'de> for RawServerHeader {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawServerHeader;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a header value string, or false to remove Server, or true to keep the origin's")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawServerHeader::Value(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(RawServerHeader::Flag(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A header rule that may be switched off with `= false` (e.g. to drop a preset's header) or
/// given as a table of settings.
#[derive(Debug)]
pub enum Toggle<T> {
    Off,
    On(T),
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Toggle<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for V<T> {
            type Value = Toggle<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table of settings, or false to switch the header off, or true for the preset's")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(if v {
                    Toggle::On(T::default())
                } else {
                    Toggle::Off
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Toggle::On)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}
