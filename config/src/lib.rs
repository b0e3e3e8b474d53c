//! Rampart's policy: the model a user writes once in `rampart.toml`, the presets, validation with
//! file:line:column errors, and the leak detectors shared by the proxy and the verifier.
//!
//! Pure by design: no async runtime, no sockets. The proxy and the verifier both build on it.
#![forbid(unsafe_code)]

pub mod error;
pub mod errors_policy;
pub mod leak;
pub mod lines;
pub mod load;
pub mod names;
pub mod policy;
pub mod presets;
mod raw;
pub mod route;
pub mod settings;
pub mod values;

pub use error::{ConfigError, ConfigErrors};
pub use errors_policy::{ErrorBodyMode, ErrorBodyPolicy, OverLimit, StatusSet, Templates};
pub use lines::NameRole;
pub use load::{Config, Overrides, parse_admin_addr};
pub use policy::{
    HeaderPolicy, HeaderRule, HeaderSpec, HstsSpec, Mode, PolicySpec, RemoveSet, ServerAction,
    ServerSpec, TypedHeader,
};
pub use route::{ClientCert, HostHeader, HostMatch, Route, RouteTable, Upstream};
pub use settings::{
    AdminSettings, CertificateSource, Limits, LogFormat, Readiness, ServerSettings, Timeouts,
    TlsSettings, UpstreamCheck,
};
