#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use rampart_verify::cli::{Args, Command, OutputPlan};
use rampart_verify::model::Report;
use rampart_verify::output::{self, Format, RenderOptions};
use rampart_verify::probe;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rampart-verify: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    match args.command {
        Command::Probe(p) => {
            let (plan, out) = p.resolve().map_err(anyhow::Error::msg)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let report = runtime
                .block_on(probe::run(plan))
                .map_err(anyhow::Error::msg)?;
            finish(&report, &out, "probe")
        }
    }
}

/// Writes the report and turns it into the exit code: 2 when any target could not be examined,
/// 1 when a finding reaches --fail-on, else 0.
fn finish(report: &Report, out: &OutputPlan, command: &str) -> anyhow::Result<ExitCode> {
    let to_terminal = out.output.is_none() && std::io::stdout().is_terminal();
    let opts = RenderOptions {
        fail_on: out.fail_on,
        color: to_terminal && out.format == Format::Table,
        tool_version: env!("CARGO_PKG_VERSION"),
        command: command.to_owned(),
    };
    let text = output::render(report, out.format, &opts);
    match &out.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
        }
    }
    let errors: Vec<&str> = report
        .targets
        .iter()
        .filter_map(|t| t.error.as_deref())
        .collect();
    for e in &errors {
        eprintln!("rampart-verify: {e}");
    }
    Ok(if !errors.is_empty() {
        ExitCode::from(2)
    } else if report.fails(out.fail_on) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
