//! One module per subcommand.

pub mod deploy;
pub mod validate;
