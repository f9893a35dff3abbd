//! The template set: embedded at build time, each file overridable by name.

use std::collections::BTreeMap;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use super::filters;
use crate::error::Error;

/// The templates shipped in the binary, by file name.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("_common.yaml", include_str!("../../templates/_common.yaml")),
    (
        "namespace.yaml",
        include_str!("../../templates/namespace.yaml"),
    ),
    (
        "networkpolicy.yaml",
        include_str!("../../templates/networkpolicy.yaml"),
    ),
    ("secret.yaml", include_str!("../../templates/secret.yaml")),
    (
        "configmap.yaml",
        include_str!("../../templates/configmap.yaml"),
    ),
    ("service.yaml", include_str!("../../templates/service.yaml")),
    (
        "deployment.yaml",
        include_str!("../../templates/deployment.yaml"),
    ),
    (
        "statefulset.yaml",
        include_str!("../../templates/statefulset.yaml"),
    ),
    ("job.yaml", include_str!("../../templates/job.yaml")),
    ("cronjob.yaml", include_str!("../../templates/cronjob.yaml")),
    ("ingress.yaml", include_str!("../../templates/ingress.yaml")),
];

/// A compiled template set. Build it once and render many deployments with it.
pub struct Templates {
    env: Environment<'static>,
    sources: BTreeMap<String, String>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("files", &self.sources.keys())
            .finish()
    }
}

impl Templates {
    /// The embedded templates.
    pub fn embedded() -> Result<Templates, Error> {
        Self::with_overrides(BTreeMap::new())
    }

    /// The embedded templates, with files of the same name replaced by `overrides`
    /// (file name → source). Names the embedded set does not have are rejected.
    pub fn with_overrides(overrides: BTreeMap<String, String>) -> Result<Templates, Error> {
        let mut sources: BTreeMap<String, String> = EMBEDDED
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect();
        for (name, source) in overrides {
            if !sources.contains_key(&name) {
                return Err(Error::Template {
                    template: name,
                    line: 0,
                    message: format!(
                        "no such template; overridable files are {}",
                        EMBEDDED
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            sources.insert(name, source);
        }
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::Json);
        env.set_formatter(yaml_safe_json_formatter);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.add_filter("b64values", filters::b64values);
        for (name, source) in &sources {
            env.add_template_owned(name.clone(), source.clone())
                .map_err(|e| template_error(name, &e))?;
        }
        Ok(Templates { env, sources })
    }

    /// Renders `template` with `ctx`.
    pub fn render(&self, template: &str, ctx: Value) -> Result<String, Error> {
        let t = self
            .env
            .get_template(template)
            .map_err(|e| template_error(template, &e))?;
        t.render(ctx).map_err(|e| template_error(template, &e))
    }

    /// Source of a template, for locating fields in errors.
    pub fn source(&self, template: &str) -> Option<&str> {
        self.sources.get(template).map(String::as_str)
    }

    /// The template file and 1-based line where `key:` is written, searching `template` and
    /// then the shared `_common.yaml`.
    pub fn locate(&self, template: &str, key: &str) -> (String, usize) {
        let needle = format!("{key}:");
        for name in [template, "_common.yaml"] {
            if let Some(src) = self.source(name) {
                for (i, line) in src.lines().enumerate() {
                    let t = line.trim_start().trim_start_matches("- ");
                    if t.starts_with(&needle) {
                        return (name.to_string(), i + 1);
                    }
                }
            }
        }
        (template.to_string(), 0)
    }
}

fn template_error(name: &str, e: &minijinja::Error) -> Error {
    Error::Template {
        template: e.name().unwrap_or(name).to_string(),
        line: e.line().unwrap_or(0),
        message: match e.detail() {
            Some(d) => format!("{}: {d}", e.kind()),
            None => e.kind().to_string(),
        },
    }
}

/// minijinja's JSON auto-escape, plus `\uXXXX` escapes for characters that JSON allows raw
/// but YAML does not (DEL, C1 controls, BOM, non-characters) or that YAML 1.1 readers treat
/// as line breaks (NEL, LS, PS). Such characters only occur inside JSON strings, where the
/// escape means the same character, so any string value renders as valid YAML unchanged.
fn yaml_safe_json_formatter(
    out: &mut minijinja::Output<'_>,
    state: &minijinja::State<'_, '_>,
    value: &Value,
) -> Result<(), minijinja::Error> {
    use std::fmt::Write;
    if value.is_safe() || state.auto_escape() != AutoEscape::Json {
        return minijinja::escape_formatter(out, state, value);
    }
    let json = serde_json::to_string(value).map_err(|e| {
        minijinja::Error::new(
            minijinja::ErrorKind::BadSerialization,
            "unable to format to JSON",
        )
        .with_source(e)
    })?;
    // Almost every value is printable ASCII: write it whole.
    if json
        .bytes()
        .all(|b| matches!(b, b'\t' | b'\n' | b'\r' | b' '..=b'~'))
    {
        return out.write_str(&json).map_err(minijinja::Error::from);
    }
    for c in json.chars() {
        let yaml_printable = matches!(c, '\t' | '\n' | '\r' | ' '..='~')
            || matches!(c, '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
                && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}');
        if yaml_printable {
            out.write_char(c)?;
        } else {
            write!(out, "\\u{:04x}", u32::from(c))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::EMBEDDED;
    use crate::kind::Kind;

    /// The embedded set is the shared macros plus exactly one template per kind.
    #[test]
    fn embedded_templates_are_the_kind_table_s() {
        let mut embedded: Vec<&str> = EMBEDDED.iter().map(|(n, _)| *n).collect();
        let mut expected: Vec<&str> = Kind::ALL.iter().map(|k| k.template()).collect();
        expected.push("_common.yaml");
        embedded.sort_unstable();
        expected.sort_unstable();
        assert_eq!(embedded, expected);
    }
}
