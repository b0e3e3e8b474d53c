//! rampart-verify: proves a deployment is hardened. Probes live endpoints and grades them like
//! the MDN HTTP Observatory, checks them against the rampart policy, and catches leaks.
#![forbid(unsafe_code)]

pub mod cli;
pub mod model;
pub mod observatory;
pub mod output;
pub mod probe;
