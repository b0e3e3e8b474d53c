//! rampart-verify: proves a deployment is hardened. Probes live endpoints and grades them like
//! the MDN HTTP Observatory, checks them against the rampart policy, and catches leaks.
#![forbid(unsafe_code)]

pub mod aws;
pub mod cli;
pub mod emit;
pub mod iac;
pub mod model;
pub mod observatory;
pub mod output;
pub mod probe;
