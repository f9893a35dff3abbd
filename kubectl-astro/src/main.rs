//! `kubectl-astro`: the kubectl plugin that deploys Astropods agents.

mod cli;
mod cluster;
mod commands;
mod exit;
mod inputs;
mod logging;

use std::io::Write;

use clap::Parser;

use cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    logging::init(cli.verbose);
    let result = match &cli.command {
        Command::Deploy(args) => commands::deploy::run(args),
        Command::Validate(args) => commands::validate::run(args),
        Command::Diff(args) => commands::diff::run(args),
        Command::Undeploy(args) => commands::undeploy::run(args),
        Command::Build(cmd) => commands::build::run(cmd),
        Command::Completion { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "kubectl-astro", &mut std::io::stdout());
            Ok(0)
        }
    };
    let code = match result {
        Ok(code) => code,
        Err(failure) => {
            print_json(&failure.body);
            eprintln!("error: {}: {}", failure.body.error, failure.body.details);
            failure.code
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

/// Leaves `value` to the operating system instead of dropping it. Every command ends the
/// process as soon as it returns (`main` calls `std::process::exit`), and freeing what a
/// cluster command built — the rendered manifests, the templates, the async runtime with its
/// connections — piece by piece only costs time: at exit the kernel takes the memory back and
/// closes the sockets. Only for values whose drop does nothing else (no buffered output).
pub fn leave<T>(value: T) {
    std::mem::forget(value);
}

/// A single-threaded async runtime for the cluster commands (requests are I/O bound).
pub fn runtime() -> Result<tokio::runtime::Runtime, exit::Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| exit::Failure::failed(format!("cannot start the async runtime: {e}")))
}
