//! The command-line face of the engine: flags parsed into typed arguments, one engine call
//! per command, the result printed, and the exit code chosen in [`exit`].

pub mod args;
pub mod build;
pub mod deploy;
pub mod diff;
pub mod exit;
pub mod inputs;
pub mod logging;
pub mod undeploy;
pub mod validate;

use exit::Failure;

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

/// A single-threaded async runtime for the cluster commands (requests are I/O bound).
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            kubectl_astro::Error::Failed(format!("cannot start the async runtime: {e}")).into()
        })
}
