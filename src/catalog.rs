//! Build records — what the platform registers for a build: its id, registry, image and
//! spec, and the semver it is published under — and the choice of which build a request
//! deploys (docs/astropods-spec.md §3).

use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, FieldErrors};
use crate::input::printable;
use crate::spec::{self, AstroSpec};

/// One registered build of an agent: the spec plus the image built from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildRecord {
    /// Account the build is registered under.
    pub account: String,
    /// Agent name.
    pub name: String,
    /// Build identifier, e.g. `build-20240612-1530`.
    pub build_id: String,
    /// The built agent image.
    pub image: String,
    /// OCI registry the build's images live in.
    pub registry: String,
    /// When the build was registered (RFC 3339).
    pub registered_at: String,
    /// Semver, set when the build is published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// When the build was published (RFC 3339); absent for builds published before this
    /// field existed and for unpublished ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    /// The `astropods.yml` document as a mapping.
    pub spec: serde_json::Value,
}

/// A build record whose spec has been read and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    /// The record as stored.
    pub record: BuildRecord,
    /// Its spec, validated.
    pub spec: AstroSpec,
}

impl BuildRecord {
    /// Reads a record from YAML or JSON text, checking every field.
    pub fn parse(text: &str) -> Result<BuildRecord, Error> {
        let record: BuildRecord = crate::input::parse_document("build record", text)?;
        record.check()?;
        Ok(record)
    }

    /// Checks the record's own fields (not the spec).
    pub fn check(&self) -> Result<(), Error> {
        let mut errors = Vec::new();
        if let Err(m) = crate::naming::check_account(&self.account) {
            errors.push(FieldError::new("account", m));
        }
        if let Err(m) = crate::naming::check_agent_name(&self.name) {
            errors.push(FieldError::new("name", m));
        }
        if self.build_id.is_empty()
            || self.build_id.len() > 63
            || !self
                .build_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            errors.push(FieldError::new(
                "build_id",
                "must be 1 to 63 letters, digits, '-', '.' or '_'",
            ));
        }
        if self.image.trim().is_empty() || self.image.chars().any(char::is_whitespace) {
            errors.push(FieldError::new(
                "image",
                "must be a non-empty image reference",
            ));
        }
        if self.registry.chars().any(char::is_whitespace) {
            errors.push(FieldError::new("registry", "must not contain whitespace"));
        }
        if chrono::DateTime::parse_from_rfc3339(&self.registered_at).is_err() {
            errors.push(FieldError::new(
                "registered_at",
                format!("'{}' is not an RFC 3339 timestamp", self.registered_at),
            ));
        }
        if let Some(at) = &self.published_at
            && chrono::DateTime::parse_from_rfc3339(at).is_err()
        {
            errors.push(FieldError::new(
                "published_at",
                format!("'{at}' is not an RFC 3339 timestamp"),
            ));
        }
        if let Some(v) = &self.version
            && semver::Version::parse(v).is_err()
        {
            errors.push(FieldError::new(
                "version",
                format!("'{v}' is not a semantic version"),
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid {
                what: "build record".into(),
                errors: FieldErrors(errors),
            })
        }
    }

    /// Validates the embedded spec and checks it describes this agent.
    pub fn into_build(self) -> Result<Build, Error> {
        self.check()?;
        let spec = spec::spec_from_value(self.spec.clone())
            .map_err(|e| spec::prefix_fields(e, "spec."))?;
        let (_, agent) = crate::naming::split_org(&spec.name);
        if agent != self.name {
            return Err(Error::invalid(
                "build record",
                "spec.name",
                format!(
                    "names agent '{agent}' but the record is for '{}'",
                    self.name
                ),
            ));
        }
        Ok(Build { record: self, spec })
    }

    fn registered(&self) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        chrono::DateTime::parse_from_rfc3339(&self.registered_at).ok()
    }
}

/// Picks the build a request deploys from the records available: without
/// `source_account`, the newest build of `account/name` (by `registered_at`, ties by
/// `build_id`); with it, the published build of `source_account/name` with the highest
/// semver.
pub fn select<'a>(
    records: &'a [BuildRecord],
    account: &str,
    name: &str,
    source_account: Option<&str>,
) -> Result<&'a BuildRecord, Error> {
    match source_account {
        None => records
            .iter()
            .filter(|r| r.account == account && r.name == name)
            .max_by(|a, b| (a.registered(), &a.build_id).cmp(&(b.registered(), &b.build_id)))
            .ok_or_else(|| {
                Error::BuildNotFound(format!(
                    "no build of agent '{}' in account '{}'",
                    printable(name),
                    printable(account)
                ))
            }),
        Some(source) => records
            .iter()
            .filter(|r| r.account == source && r.name == name)
            .filter_map(|r| Some((semver::Version::parse(r.version.as_deref()?).ok()?, r)))
            .max_by(|(va, a), (vb, b)| (va, &a.build_id).cmp(&(vb, &b.build_id)))
            .map(|(_, r)| r)
            .ok_or_else(|| {
                Error::BuildNotFound(format!(
                    "no published build of agent '{}' in source account '{}'",
                    printable(name),
                    printable(source)
                ))
            }),
    }
}

/// Picks build `build_id` of the agent a request deploys, from the records available:
/// without `source_account`, that build of `account/name`; with it, that build of
/// `source_account/name` if it is published (cross-account deploys take published builds
/// only). `None` picks as [`select`] does.
pub fn select_named<'a>(
    records: &'a [BuildRecord],
    account: &str,
    name: &str,
    source_account: Option<&str>,
    build_id: Option<&str>,
) -> Result<&'a BuildRecord, Error> {
    let Some(build_id) = build_id else {
        return select(records, account, name, source_account);
    };
    let owner = source_account.unwrap_or(account);
    let found = records
        .iter()
        .find(|r| r.account == owner && r.name == name && r.build_id == build_id);
    match (found, source_account) {
        (Some(r), None) => Ok(r),
        (Some(r), Some(_)) if r.version.is_some() => Ok(r),
        (Some(_), Some(source)) => Err(Error::BuildNotFound(format!(
            "build '{}' of agent '{}' in source account '{}' is not published",
            printable(build_id),
            printable(name),
            printable(source)
        ))),
        (None, _) => Err(Error::BuildNotFound(format!(
            "no build '{}' of agent '{}' in account '{}'",
            printable(build_id),
            printable(name),
            printable(owner)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(account: &str, id: &str, at: &str, version: Option<&str>) -> BuildRecord {
        BuildRecord {
            account: account.into(),
            name: "weather-agent".into(),
            build_id: id.into(),
            image: "img".into(),
            registry: "reg".into(),
            registered_at: at.into(),
            version: version.map(Into::into),
            published_at: None,
            spec: serde_json::Value::Null,
        }
    }

    #[test]
    fn latest_is_newest_registration_then_build_id() {
        let r = vec![
            rec("a", "b1", "2024-06-12T15:30:00Z", None),
            rec("a", "b3", "2024-06-12T15:30:00Z", None),
            rec("a", "b2", "2024-06-12T17:00:00+02:00", None), // 15:00Z: older
            rec("other", "b9", "2025-01-01T00:00:00Z", None),
        ];
        assert_eq!(
            select(&r, "a", "weather-agent", None)
                .map(|b| b.build_id.as_str())
                .ok(),
            Some("b3")
        );
        assert!(matches!(
            select(&r, "zzz", "weather-agent", None),
            Err(Error::BuildNotFound(_))
        ));
    }

    #[test]
    fn cross_account_takes_highest_published_semver() {
        let r = vec![
            rec("src", "b1", "2024-01-01T00:00:00Z", Some("1.10.0")),
            rec("src", "b2", "2024-02-01T00:00:00Z", Some("1.9.3")),
            rec("src", "b3", "2024-03-01T00:00:00Z", None),
        ];
        assert_eq!(
            select(&r, "me", "weather-agent", Some("src"))
                .map(|b| b.build_id.as_str())
                .ok(),
            Some("b1")
        );
        let unpublished = vec![rec("src", "b3", "2024-03-01T00:00:00Z", None)];
        let err = select(&unpublished, "me", "weather-agent", Some("src")).err();
        assert!(err.is_some_and(|e| e.to_string().contains("no published build")));
    }

    #[test]
    fn a_named_build_is_picked_or_named_as_missing() {
        let records = [
            rec("acc", "b1", "2024-01-01T00:00:00Z", Some("1.0.0")),
            rec("acc", "b2", "2024-02-01T00:00:00Z", None),
        ];
        let pick = |source, id| {
            select_named(&records, "acc", "weather-agent", source, id)
                .map(|r| r.build_id.clone())
                .map_err(|e| e.to_string())
        };
        assert_eq!(pick(None, Some("b1")), Ok("b1".into()));
        assert_eq!(pick(None, None), Ok("b2".into()));
        assert_eq!(pick(Some("acc"), Some("b1")), Ok("b1".into()));
        let unpublished = pick(Some("acc"), Some("b2")).unwrap_err();
        assert!(
            unpublished.contains("'b2'") && unpublished.contains("not published"),
            "{unpublished}"
        );
        let missing = pick(None, Some("b9")).unwrap_err();
        assert!(
            missing.contains("no build 'b9' of agent 'weather-agent' in account 'acc'"),
            "{missing}"
        );
    }
}
