//! Exit codes and the error JSON every failing command prints.

use astro_deploy::Error as LibError;
use astro_deploy::api;

/// Exit codes of `kubectl astro deploy` / `validate` / `undeploy`.
pub mod code {
    /// Everything applied.
    pub const SUCCESS: i32 = 0;
    /// Failure not covered below (cluster unreachable, server error, I/O).
    pub const FAILURE: i32 = 1;
    /// Some objects failed (HTTP 207 in the platform).
    pub const PARTIAL: i32 = 2;
    /// The request, build record, spec or templates are invalid (HTTP 400).
    pub const INVALID: i32 = 3;
    /// The cluster refused our credentials or permissions (HTTP 401/403).
    pub const DENIED: i32 = 4;
    /// No build of the agent was found (HTTP 404).
    pub const NOT_FOUND: i32 = 5;
    /// `deploy` was interrupted (SIGINT or SIGTERM): the partial result was printed.
    pub const INTERRUPTED: i32 = 130;
}

/// A command failure: what to print and how to exit.
#[derive(Debug)]
pub struct Failure {
    /// Exit code.
    pub code: i32,
    /// The `{error, details}` body printed on stdout.
    pub body: api::Error,
    /// One line per problem, each naming its field (for `validate`).
    pub errors: Vec<String>,
}

impl Failure {
    /// A failure with `code`, short `error` and `details`.
    pub fn new(code: i32, error: &str, details: impl Into<String>) -> Self {
        let details = details.into();
        Failure {
            code,
            errors: vec![details.clone()],
            body: api::Error {
                error: error.to_string(),
                details,
            },
        }
    }

    /// Invalid input (exit 3).
    pub fn invalid(details: impl Into<String>) -> Self {
        Self::new(code::INVALID, "invalid request", details)
    }

    /// The same failure with `context` (a file name) in front of its details.
    pub fn with_context(mut self, context: &str) -> Self {
        self.body.details = format!("{context}: {}", self.body.details);
        for e in &mut self.errors {
            *e = format!("{context}: {e}");
        }
        self
    }

    /// Other failures (exit 1).
    pub fn failed(details: impl Into<String>) -> Self {
        Self::new(code::FAILURE, "deployment failed", details)
    }
}

impl From<LibError> for Failure {
    fn from(e: LibError) -> Self {
        let details = e.to_string();
        let errors: Vec<String> = e.field_errors().iter().map(ToString::to_string).collect();
        let mut failure = match e {
            LibError::Parse { .. } | LibError::Invalid { .. } => {
                Failure::new(code::INVALID, "invalid request", details)
            }
            LibError::MissingCredentials { .. } => {
                Failure::new(code::INVALID, "missing credentials", details)
            }
            LibError::BuildNotFound(m) => Failure::new(code::NOT_FOUND, "build not found", m),
            LibError::Template { .. } | LibError::Manifest(_) => {
                Failure::new(code::INVALID, "template error", details)
            }
        };
        failure.errors = errors;
        failure
    }
}
