//! Progress lines for people watching a long multi-account run. Only on a terminal: in CI and in
//! pipes stderr carries nothing but errors, so logs stay diffable.

use std::fmt::Display;
use std::io::IsTerminal;

#[derive(Debug, Clone, Copy)]
pub struct Progress {
    on: bool,
}

impl Progress {
    /// On when stderr is a terminal.
    pub fn for_stderr() -> Progress {
        Progress {
            on: std::io::stderr().is_terminal(),
        }
    }

    pub fn off() -> Progress {
        Progress { on: false }
    }

    pub fn line(&self, msg: impl Display) {
        if self.on {
            eprintln!("rampart-verify: {msg}");
        }
    }
}
