//! `kubectl-astro`: the kubectl plugin that deploys Astropods agents.

mod cli;

use std::io::Write;

use clap::Parser;

use cli::args::{Cli, Command};
use cli::exit::Failure;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => usage_error(e),
    };
    cli::logging::init(cli.verbose);
    let result = match &cli.command {
        Command::Deploy(args) => cli::deploy::run(args),
        Command::Validate(args) => cli::validate::run(args),
        Command::Diff(args) => cli::diff::run(args),
        Command::Undeploy(args) => cli::undeploy::run(args),
        Command::Build(cmd) => cli::build::run(cmd),
        Command::Completion { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "kubectl-astro", &mut std::io::stdout());
            Ok(0)
        }
    };
    let code = match result {
        Ok(code) => code,
        Err(failure) => {
            cli::print_json(&failure.body);
            eprintln!("error: {}: {}", failure.body.error, failure.body.details);
            failure.code
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// Ends the process for a command line clap could not take. A value that a typed flag
/// rejects (a duration, a version) is invalid input like any other: the error JSON and exit
/// 3. Everything else — help, version, an unknown flag, a missing argument — is clap's own
/// answer and exit code.
fn usage_error(e: clap::Error) -> ! {
    if e.kind() != clap::error::ErrorKind::ValueValidation {
        e.exit();
    }
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    let failure = Failure::invalid(first.trim_start_matches("error: ").to_string());
    cli::print_json(&failure.body);
    eprintln!("error: {}: {}", failure.body.error, failure.body.details);
    std::process::exit(failure.code);
}
