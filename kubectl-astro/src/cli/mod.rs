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
pub mod signals;
pub mod table;
pub mod trigger;
pub mod undeploy;
pub mod validate;

use exit::Failure;
pub use output::print_json;

/// A single-threaded async runtime for the cluster commands (requests are I/O bound).
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            kubectl_astro::Error::Failed(format!("cannot start the async runtime: {e}")).into()
        })
}
