//! The command-line face of the engine: flags parsed into typed arguments, one engine call
//! per command, the result printed, and the exit code chosen in [`exit`].

pub mod args;
pub mod build;
pub mod colour;
pub mod deploy;
pub mod diff;
pub mod exit;
pub mod inputs;
pub mod list;
pub mod logging;
pub mod output;
pub mod table;
pub mod undeploy;
pub mod validate;

use exit::Failure;
pub use output::print_json;

/// Leaves `value` to the operating system instead of dropping it. Every command ends the
/// process as soon as it returns (`main` calls `std::process::exit`), and freeing what a
/// cluster command built — the rendered manifests, the templates, the async runtime with its
/// connections — piece by piece only costs time: at exit the kernel takes the memory back and
/// closes the sockets. Only for values whose drop does nothing else (no buffered output).
pub fn leave<T>(value: T) {
    std::mem::forget(value);
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
