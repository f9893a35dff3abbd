//! One module per subcommand.

pub mod build;
pub mod deploy;
pub mod diff;
pub mod undeploy;
pub mod validate;
