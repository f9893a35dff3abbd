//! The Astropods spec: types, the provider registry, and validation.

pub mod providers;
pub mod types;
pub mod validate;

pub use types::*;

use crate::error::{Error, FieldError, FieldErrors};

/// Reads an `astropods.yml` (YAML or JSON text) and validates it.
pub fn parse_spec(text: &str) -> Result<AstroSpec, Error> {
    let value = crate::input::parse_value("spec", text)?;
    spec_from_value(value)
}

/// Validates an already-parsed spec document (as embedded in a build record).
pub fn spec_from_value(value: serde_json::Value) -> Result<AstroSpec, Error> {
    let spec: AstroSpec = crate::input::from_value("spec", value)?;
    let report = validate::validate(&spec);
    if report.errors.is_empty() {
        Ok(spec)
    } else {
        Err(Error::Invalid {
            what: "spec".into(),
            errors: FieldErrors(report.errors),
        })
    }
}

/// Prefixes every field of a spec error with `prefix` (e.g. `spec.` inside a build record).
pub fn prefix_fields(err: Error, prefix: &str) -> Error {
    let fix = |e: FieldError| FieldError::new(join(prefix, &e.field), e.message);
    match err {
        Error::Parse { what, error } => Error::Parse {
            what,
            error: fix(error),
        },
        Error::Invalid { what, errors } => Error::Invalid {
            what,
            errors: FieldErrors(errors.0.into_iter().map(fix).collect()),
        },
        other => other,
    }
}

fn join(prefix: &str, field: &str) -> String {
    if field.is_empty() {
        prefix.trim_end_matches('.').to_string()
    } else {
        format!("{prefix}{field}")
    }
}
