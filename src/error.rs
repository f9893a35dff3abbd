//! Typed errors of the library. Every error names the field (or object) it is about.

use std::fmt;

/// One problem with one field of the input: `field` is a dotted path such as
/// `knowledge.docs.provider` or `user_credentials.ANTHROPIC_API_KEY`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Dotted path of the offending field, rooted at the document it came from.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    /// Control characters (newlines, NUL, escapes) that hostile input put into a field path
    /// or message are shown escaped, so an error stays one line and cannot forge log lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.field.is_empty() {
            write_escaped(f, &self.field)?;
            f.write_str(": ")?;
        }
        write_escaped(f, &self.message)
    }
}

fn write_escaped(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    use fmt::Write;
    for c in s.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_debug())?;
        } else {
            f.write_char(c)?;
        }
    }
    Ok(())
}

/// The list of problems found in one input, shown separated by `; `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A rendered object that does not fit its Kubernetes type, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}/{name}: field {field}: {message} (template {template}:{line})")]
pub struct ManifestError {
    /// Kubernetes kind of the object.
    pub kind: String,
    /// metadata.name of the object.
    pub name: String,
    /// Dotted path of the offending field inside the object.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
    /// Template that produced the object.
    pub template: String,
    /// Line in the template where the field is written (0 when unknown).
    pub line: usize,
}

/// Everything that can go wrong between reading input and producing manifests.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A document could not be read as JSON/YAML of the expected shape.
    #[error("{what}: {error}")]
    Parse {
        /// Which document: `request`, `build record`, `spec`, …
        what: String,
        /// The field that could not be read, and why.
        error: FieldError,
    },
    /// The input was read but breaks one or more rules.
    #[error("{what} is invalid: {errors}")]
    Invalid {
        /// Which document or combination was checked.
        what: String,
        /// Every rule broken, each naming its field.
        errors: FieldErrors,
    },
    /// Credentials the agent needs are absent from `user_credentials`.
    #[error("missing required credentials: {}", keys.iter().map(|k| format!("user_credentials.{k}")).collect::<Vec<_>>().join(", "))]
    MissingCredentials {
        /// Every missing key, sorted.
        keys: Vec<String>,
    },
    /// No build matches the request.
    #[error("build not found: {0}")]
    BuildNotFound(String),
    /// A template failed to render.
    #[error("template {template}:{line}: {message}")]
    Template {
        /// Template file name.
        template: String,
        /// Line in the template (0 when unknown).
        line: usize,
        /// What went wrong.
        message: String,
    },
    /// A rendered object does not match its Kubernetes type.
    #[error("{0}")]
    Manifest(Box<ManifestError>),
}

impl Error {
    /// Shorthand for a single-field [`Error::Invalid`].
    pub fn invalid(
        what: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Invalid {
            what: what.into(),
            errors: FieldErrors(vec![FieldError::new(field, message)]),
        }
    }

    /// The per-field problems behind this error, for `validation_errors` lists.
    pub fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Error::Parse { error, .. } => vec![error.clone()],
            Error::Invalid { errors, .. } => errors.0.clone(),
            Error::MissingCredentials { keys } => keys
                .iter()
                .map(|k| {
                    FieldError::new(
                        format!("user_credentials.{k}"),
                        "required credential is missing",
                    )
                })
                .collect(),
            Error::BuildNotFound(m) => vec![FieldError::new("name", m.clone())],
            Error::Template {
                template,
                line,
                message,
            } => {
                vec![FieldError::new(
                    format!("template {template}:{line}"),
                    message.clone(),
                )]
            }
            Error::Manifest(m) => vec![FieldError::new(
                format!("{}/{}.{}", m.kind, m.name, m.field),
                m.message.clone(),
            )],
        }
    }
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
