//! Exit codes and the error JSON every failing command prints: the one place where an
//! engine error becomes an exit code.

use astro_deploy::api;
use kubectl_astro::{Deployed, Error, ErrorKind};

/// Exit codes of `kubectl astro deploy` / `validate` / `undeploy`.
pub mod code {
    /// Everything applied.
    pub const SUCCESS: i32 = 0;
    /// Failure not covered below (cluster unreachable, server error, I/O).
    pub const FAILURE: i32 = 1;
    /// Some objects failed (HTTP 207 in the platform).
    pub const PARTIAL: i32 = 2;
    /// The request, build record, spec, templates or flags are invalid (HTTP 400), or the
    /// cluster settings ConfigMap is (HTTP 500: the server's operator's to fix).
    pub const INVALID: i32 = 3;
    /// The cluster refused our credentials or permissions (HTTP 401/403).
    pub const DENIED: i32 = 4;
    /// No build of the agent, or no such deployment (HTTP 404).
    pub const NOT_FOUND: i32 = 5;
    /// Another deploy or undeploy of the agent held its Lease past `--lock-wait` (HTTP 409).
    pub const BUSY: i32 = 6;
    /// `deploy` was interrupted (SIGINT or SIGTERM): the partial result was printed.
    pub const INTERRUPTED: i32 = 130;
}

/// The exit code of an engine error.
fn code_of(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::InvalidInput | ErrorKind::InvalidSettings | ErrorKind::Refused => code::INVALID,
        ErrorKind::Unauthorized | ErrorKind::Forbidden => code::DENIED,
        ErrorKind::NotFound => code::NOT_FOUND,
        ErrorKind::Busy => code::BUSY,
        ErrorKind::Interrupted => code::INTERRUPTED,
        _ => code::FAILURE,
    }
}

/// The exit code of a deploy that ran: interrupted, success or partial.
pub fn of_deploy(deployed: &Deployed) -> i32 {
    use astro_deploy::api::DeployResponseStatus;
    match deployed.response.status {
        _ if deployed.interrupted => code::INTERRUPTED,
        DeployResponseStatus::Success => code::SUCCESS,
        DeployResponseStatus::Partial => code::PARTIAL,
    }
}

/// A command failure: what to print and how to exit.
#[derive(Debug)]
pub struct Failure {
    /// What kind of failure it is (the server's HTTP status follows from it).
    pub kind: ErrorKind,
    /// Exit code.
    pub code: i32,
    /// The `{error, details}` body printed on stdout.
    pub body: api::Error,
    /// One line per problem, each naming its field (for `validate`).
    pub errors: Vec<String>,
}

impl Failure {
    /// Invalid input (exit 3): a flag, a file or a value the user gave.
    pub fn invalid(details: impl Into<String>) -> Self {
        Error::InvalidInput(details.into()).into()
    }

    /// The same failure with `context` (a file name) in front of its details.
    pub fn with_context(mut self, context: &str) -> Self {
        self.body.details = format!("{context}: {}", self.body.details);
        for e in &mut self.errors {
            *e = format!("{context}: {e}");
        }
        self
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure {
            kind: e.kind(),
            code: code_of(e.kind()),
            body: e.to_api(),
            errors: e.problems(),
        }
    }
}

impl From<astro_deploy::Error> for Failure {
    fn from(e: astro_deploy::Error) -> Self {
        Error::from(e).into()
    }
}
