//! The engine's errors: [`CallError`] for one request to the API server, [`Error`] for an
//! operation (deploy, diff, undeploy, a catalog call) that could not be done. Code matches on
//! [`Error::kind`]; people read the `Display` text, which names the object or the field.

use std::fmt;
use std::time::Duration;

use astro_deploy::api;

/// One cause of an API `Status` (`details.causes[]`): for a 409 of server-side apply, the
/// field another manager owns and who that manager is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCause {
    /// The field path (`.spec.replicas`), or empty.
    pub field: String,
    /// What is wrong with it (`conflict with "kubectl-edit" using apps/v1`).
    pub message: String,
}

/// An answer of the API server that is not a success: its `Status` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiStatus {
    /// HTTP status (404, 409, 422, …).
    pub code: u16,
    /// `Status.reason` (`NotFound`, `Conflict`, `Invalid`, …); empty when the body had none.
    pub reason: String,
    /// `Status.message`, or the start of the body when it was not a Status.
    pub message: String,
    /// `Status.details.causes`.
    pub causes: Vec<StatusCause>,
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

/// Why one request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// No answer arrived: the connection was refused, reset or closed, or a name did not
    /// resolve. The message starts with `cluster unreachable:` and carries the whole cause.
    Transport(String),
    /// The TLS handshake failed (an untrusted or invalid certificate): an answer, not an
    /// accident, so it is never retried.
    Tls(String),
    /// No whole answer within the request timeout.
    Timeout(Duration),
    /// The request could not be built or its body serialized; nothing was sent.
    Request(String),
    /// The API answered with a `Status`.
    Status(ApiStatus),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Transport(m) | CallError::Tls(m) => f.write_str(m),
            CallError::Timeout(limit) => write!(
                f,
                "no answer within {} ms (--request-timeout)",
                limit.as_millis()
            ),
            CallError::Request(m) => write!(f, "cannot build request: {m}"),
            CallError::Status(s) => write!(f, "{} ({}): {}", s.code, s.reason, s.message),
        }
    }
}

impl std::error::Error for CallError {}

impl CallError {
    /// The HTTP status of the answer; 0 when none arrived.
    pub fn code(&self) -> u16 {
        match self {
            CallError::Status(s) => s.code,
            _ => 0,
        }
    }

    /// The API's `Status`, when it answered.
    pub fn status(&self) -> Option<&ApiStatus> {
        match self {
            CallError::Status(s) => Some(s),
            _ => None,
        }
    }

    /// Whether trying again may succeed: no answer at all (refused, reset, timed out), too
    /// many requests, or a server-side failure. 400/401/403/404/409/422 are answers, not
    /// accidents; a TLS failure or a request that could not be built fails the same way again.
    pub fn is_transient(&self) -> bool {
        match self {
            CallError::Transport(_) | CallError::Timeout(_) => true,
            CallError::Tls(_) | CallError::Request(_) => false,
            CallError::Status(s) => matches!(s.code, 429 | 500 | 502 | 503 | 504),
        }
    }

    /// The failure in one word, for logs: the `Status` reason, or `Transport`, `TLS`,
    /// `Timeout`, `Request`.
    pub fn reason(&self) -> &str {
        match self {
            CallError::Transport(_) => "Transport",
            CallError::Tls(_) => "TLS",
            CallError::Timeout(_) => "Timeout",
            CallError::Request(_) => "Request",
            CallError::Status(s) => &s.reason,
        }
    }

    /// 404.
    pub fn is_not_found(&self) -> bool {
        self.code() == 404
    }

    /// Whether a 422 says a field cannot change (a Job's pod template, a selector).
    pub fn is_immutable_field(&self) -> bool {
        self.status()
            .is_some_and(|s| s.code == 422 && s.message.contains("immutable"))
    }

    /// The server's `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        self.status().and_then(|s| s.retry_after)
    }

    /// The failure as one line for a per-object result: a conflict names the other manager
    /// and the fields it owns.
    pub fn describe(&self) -> String {
        match self.status() {
            Some(s) if s.code == 409 && !s.causes.is_empty() => {
                let fields: Vec<String> = s
                    .causes
                    .iter()
                    .map(|c| format!("{} ({})", c.field, c.message))
                    .collect();
                format!(
                    "conflict: {}; fields: {}; rerun with --force-conflicts to take them over",
                    s.message,
                    fields.join(", ")
                )
            }
            Some(s) if s.code == 403 => format!("forbidden: {}", s.message),
            _ => self.to_string(),
        }
    }
}

/// What an [`Error`] is, for code that decides what follows (an exit code, an HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request, build record, spec, templates or options are invalid.
    InvalidInput,
    /// The cluster rejected the credentials (401).
    Unauthorized,
    /// The cluster denied the permission (403).
    Forbidden,
    /// No such build or deployment.
    NotFound,
    /// The engine would not do it: more objects to prune than allowed, a namespace it did
    /// not create.
    Refused,
    /// Another field manager owns fields this apply would set (409 with the fields), or the
    /// build catalog already holds something else under that build id or version.
    Conflict,
    /// Any other answer of the API server.
    Api,
    /// The cluster could not be reached.
    Transport,
    /// The TLS handshake failed.
    Tls,
    /// The cluster did not answer in time.
    Timeout,
    /// Another deploy or undeploy of the same deployment held its lock past the wait.
    Busy,
    /// The operation was interrupted.
    Interrupted,
    /// Something else went wrong (no randomness, an object still present after its deletion).
    Failed,
}

/// What was not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Missing {
    /// No deployment (its namespace does not exist).
    Deployment,
    /// No such ingestion that can be triggered (a CronJob of the deployment).
    Ingestion,
}

/// What the engine refused to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// A deploy that would prune more objects than its budget allows.
    Prune,
    /// An undeploy of a namespace that kubectl-astro did not create for this agent.
    Undeploy,
}

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request, build record, spec or templates are invalid, or the build is missing
    /// (the library's error, with its field paths).
    #[error(transparent)]
    Render(#[from] astro_deploy::Error),
    /// An input the engine was given is invalid; the message names the field.
    #[error("{0}")]
    InvalidInput(String),
    /// A request the operation needed failed; `context` names the object or the step.
    #[error("{context}: {}", call_detail(.source))]
    Call {
        /// The object (`Namespace/astro-x`) or step (`reading the build catalog`).
        context: String,
        /// The failed request.
        source: CallError,
    },
    /// Something does not exist.
    #[error("{details}")]
    NotFound {
        /// What is missing.
        missing: Missing,
        /// Which one, in words.
        details: String,
    },
    /// The engine refused.
    #[error("{details}")]
    Refused {
        /// What was refused.
        refusal: Refusal,
        /// Why, in words.
        details: String,
    },
    /// Another deploy or undeploy of the same deployment held its Lease past the wait; the
    /// message names the holder.
    #[error("{0}")]
    Busy(String),
    /// The build catalog already holds something else under that build id or version;
    /// the message names both.
    #[error("{0}")]
    Conflict(String),
    /// The operation was interrupted.
    #[error("{0}")]
    Interrupted(String),
    /// Anything else; the message says what.
    #[error("{0}")]
    Failed(String),
}

/// The text of a failed call inside an [`Error`]: 401 says whose credentials were rejected.
fn call_detail(e: &CallError) -> String {
    match e.status() {
        Some(s) if s.code == 401 => {
            format!("the cluster rejected our credentials: {}", s.message)
        }
        Some(s) if s.code == 403 => s.message.clone(),
        _ => e.describe(),
    }
}

impl Error {
    /// A failed call, in `context`.
    pub fn call(context: impl Into<String>, source: CallError) -> Error {
        Error::Call {
            context: context.into(),
            source,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Render(astro_deploy::Error::BuildNotFound(_)) => ErrorKind::NotFound,
            Error::Render(_) | Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::Call { source, .. } => match source {
                CallError::Transport(_) => ErrorKind::Transport,
                CallError::Tls(_) => ErrorKind::Tls,
                CallError::Timeout(_) => ErrorKind::Timeout,
                CallError::Request(_) => ErrorKind::Failed,
                CallError::Status(s) => match s.code {
                    401 => ErrorKind::Unauthorized,
                    403 => ErrorKind::Forbidden,
                    404 => ErrorKind::NotFound,
                    409 if !s.causes.is_empty() => ErrorKind::Conflict,
                    _ => ErrorKind::Api,
                },
            },
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Refused { .. } => ErrorKind::Refused,
            Error::Busy(_) => ErrorKind::Busy,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Interrupted(_) => ErrorKind::Interrupted,
            Error::Failed(_) => ErrorKind::Failed,
        }
    }

    /// The fields of a conflict: `(field, message naming the other manager)`.
    pub fn conflicts(&self) -> &[StatusCause] {
        match self {
            Error::Call {
                source: CallError::Status(s),
                ..
            } if s.code == 409 => &s.causes,
            _ => &[],
        }
    }

    /// The short `error` of the platform's `Error` body.
    pub fn title(&self) -> &'static str {
        match self {
            Error::Render(e) => match e {
                astro_deploy::Error::MissingCredentials { .. } => "missing credentials",
                astro_deploy::Error::BuildNotFound(_) => "build not found",
                astro_deploy::Error::Template { .. } | astro_deploy::Error::Manifest(_) => {
                    "template error"
                }
                _ => "invalid request",
            },
            Error::InvalidInput(_) => "invalid request",
            Error::Call { source, .. } => match source {
                CallError::Transport(_) | CallError::Tls(_) | CallError::Timeout(_) => {
                    "cluster unreachable"
                }
                CallError::Status(s) if s.code == 401 => "unauthorized",
                CallError::Status(s) if s.code == 403 => "forbidden",
                _ => "deployment failed",
            },
            Error::NotFound { missing, .. } => match missing {
                Missing::Deployment => "deployment not found",
                Missing::Ingestion => "ingestion not found",
            },
            Error::Refused { refusal, .. } => match refusal {
                Refusal::Prune => "prune refused",
                Refusal::Undeploy => "refused",
            },
            Error::Busy(_) => "busy",
            Error::Conflict(_) => "conflict",
            Error::Interrupted(_) => "interrupted",
            Error::Failed(_) => "deployment failed",
        }
    }

    /// The platform's `Error {error, details}` body. The details of a library error are its
    /// message, without the `Display` prefix of a build that was not found.
    pub fn to_api(&self) -> api::Error {
        let details = match self {
            Error::Render(astro_deploy::Error::BuildNotFound(m)) => m.clone(),
            other => other.to_string(),
        };
        api::Error {
            error: self.title().to_string(),
            details,
        }
    }

    /// One line per problem, each naming its field: the library's field errors, or the
    /// message itself.
    pub fn problems(&self) -> Vec<String> {
        match self {
            Error::Render(e) => e.field_errors().iter().map(ToString::to_string).collect(),
            other => vec![other.to_api().details],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, causes: Vec<StatusCause>) -> CallError {
        CallError::Status(ApiStatus {
            code,
            reason: "Reason".into(),
            message: "the message".into(),
            causes,
            retry_after: None,
        })
    }

    #[test]
    fn kinds_follow_the_answer_not_its_text() {
        let conflict = status(
            409,
            vec![StatusCause {
                field: ".spec.replicas".into(),
                message: "conflict with \"other\"".into(),
            }],
        );
        let cases = [
            (
                CallError::Transport("cluster unreachable: x".into()),
                ErrorKind::Transport,
            ),
            (CallError::Tls("certificate".into()), ErrorKind::Tls),
            (
                CallError::Timeout(Duration::from_secs(1)),
                ErrorKind::Timeout,
            ),
            (status(401, vec![]), ErrorKind::Unauthorized),
            (status(403, vec![]), ErrorKind::Forbidden),
            (status(404, vec![]), ErrorKind::NotFound),
            (conflict.clone(), ErrorKind::Conflict),
            (status(409, vec![]), ErrorKind::Api),
            (status(500, vec![]), ErrorKind::Api),
        ];
        for (call, kind) in cases {
            assert_eq!(Error::call("X/y", call.clone()).kind(), kind, "{call:?}");
        }
        let e = Error::call("Deployment/agent", conflict);
        assert_eq!(e.conflicts().len(), 1);
        assert!(
            e.to_string()
                .starts_with("Deployment/agent: conflict: the message")
        );
    }

    #[test]
    fn only_accidents_are_retried() {
        assert!(CallError::Transport("x".into()).is_transient());
        assert!(CallError::Timeout(Duration::from_secs(1)).is_transient());
        assert!(!CallError::Tls("x".into()).is_transient());
        assert!(!CallError::Request("x".into()).is_transient());
        for code in [429, 500, 502, 503, 504] {
            assert!(status(code, vec![]).is_transient(), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 422] {
            assert!(!status(code, vec![]).is_transient(), "{code}");
        }
    }

    #[test]
    fn titles_and_details() {
        let e = Error::call("Namespace/n", status(401, vec![]));
        assert_eq!(e.title(), "unauthorized");
        assert_eq!(
            e.to_api().details,
            "Namespace/n: the cluster rejected our credentials: the message"
        );
        let e = Error::call(
            "Namespace/n",
            CallError::Transport("cluster unreachable: refused".into()),
        );
        assert_eq!(e.title(), "cluster unreachable");
        assert_eq!(e.to_string(), "Namespace/n: cluster unreachable: refused");
        let e = Error::from(astro_deploy::Error::BuildNotFound("no build".into()));
        assert_eq!(
            (e.kind(), e.title()),
            (ErrorKind::NotFound, "build not found")
        );
        assert_eq!(e.to_api().details, "no build");
    }
}
