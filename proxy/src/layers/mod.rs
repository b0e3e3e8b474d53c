//! The proxy's per-request layers. `docs/pipeline.md` lists them in order.

pub mod access_log;
pub mod error_body;
pub mod header_policy;
pub mod policy_lines;
pub mod request_filter;
pub mod rescue;
pub mod route_metrics;
