#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use rampart_verify::aws::sdk;
use rampart_verify::cli::{Args, AuditCommand, Command, EmitArgs, EmitCommand, OutputPlan};
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
            let report = runtime()?
                .block_on(probe::run(plan))
                .map_err(anyhow::Error::msg)?;
            finish(&report, &out, "probe")
        }
        Command::Audit(AuditCommand::Iac(a)) => {
            let (policy, out) = a.resolve().map_err(anyhow::Error::msg)?;
            let report = rampart_verify::iac::audit_files(&a.files, &policy.spec);
            finish(&report, &out, "audit iac")
        }
        Command::Audit(AuditCommand::Cloudfront(a)) => {
            let (plan, out) = a.resolve().map_err(anyhow::Error::msg)?;
            let report =
                runtime()?.block_on(sdk::audit_cloudfront(&plan, sdk::Progress::for_stderr()))?;
            finish(&report, &out, "audit cloudfront")
        }
        Command::Audit(AuditCommand::Apigateway(a)) => {
            let (plan, out) = a.resolve().map_err(anyhow::Error::msg)?;
            let report =
                runtime()?.block_on(sdk::audit_apigateway(&plan, sdk::Progress::for_stderr()))?;
            finish(&report, &out, "audit apigateway")
        }
        Command::Emit(EmitCommand::Cloudfront(e)) => emit(&e, rampart_verify::emit::cloudfront),
        Command::Emit(EmitCommand::Apigateway(e)) => emit(&e, rampart_verify::emit::apigateway),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

type Emitter = fn(
    &str,
    &rampart_config::PolicySpec,
    rampart_verify::emit::EmitFormat,
) -> Result<rampart_verify::emit::Emitted, rampart_verify::emit::EmitError>;

/// Writes what an emitter produced; what could not be carried over goes to stderr for JSON
/// (which has no room for comments; the templates carry them inline).
fn emit(args: &EmitArgs, emitter: Emitter) -> anyhow::Result<ExitCode> {
    let (policy, format) = args.resolve().map_err(anyhow::Error::msg)?;
    let out = emitter(&policy.name, &policy.spec, format)?;
    match &args.output {
        Some(path) => std::fs::write(path, &out.text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(out.text.as_bytes())?;
            stdout.flush()?;
        }
    }
    if format == rampart_verify::emit::EmitFormat::Json {
        for n in &out.notes {
            eprintln!("rampart-verify: note: {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
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
