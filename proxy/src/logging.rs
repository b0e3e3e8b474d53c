//! Log setup: text or JSON lines on stderr, filtered by `RUST_LOG` (default `info`).

use std::io::IsTerminal;

use rampart_config::LogFormat;
use tracing_subscriber::EnvFilter;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only help a person at a terminal; they garble files and log collectors.
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests starting several proxies) is harmless: keep the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
