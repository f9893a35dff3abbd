//! `kubectl-astro`: the kubectl plugin that deploys Astropods agents.

mod cli;
mod serve;

use std::io::Write;

use clap::Parser;

use cli::args::{Cli, Command};
use cli::exit::Failure;
use cli::output;

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
        Command::List(args) => cli::list::run(args),
        Command::Trigger(args) => cli::trigger::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Completion { shell } => completion(*shell),
    };
    let code = match result {
        Ok(code) => code,
        Err(failure) => report(&failure),
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
    std::process::exit(report(&failure));
}

/// Prints a failure — its JSON on stdout, one line on stderr — and returns its exit code. A
/// stdout that cannot take the JSON changes neither: the failure is what happened.
fn report(failure: &Failure) -> i32 {
    let _ = cli::print_json(&failure.body);
    output::err_line(format_args!(
        "error: {}: {}",
        failure.body.error, failure.body.details
    ));
    failure.code
}

/// `completion SHELL`: the script, rendered in memory (clap_complete panics when its writer
/// fails) and printed like any other output.
fn completion(shell: clap_complete::Shell) -> Result<i32, Failure> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "kubectl-astro", &mut script);
    output::out(&String::from_utf8_lossy(&script))?;
    Ok(cli::exit::code::SUCCESS)
}
