//! The validation rules of Astropods spec §9 (plus the platform's "unsupported provider" and name
//! checks). Every problem is collected, each naming its field path.

use std::collections::BTreeMap;

use super::providers::{Section, builtin, is_builtin_anywhere};
use super::types::{AstroSpec, BuildConfig, ContainerConfig, Healthcheck, Input};
use crate::error::FieldError;
use crate::naming;

/// Spec identifiers accepted in `spec:`.
pub const ACCEPTED_SPEC_IDS: &[&str] = &["astro/v1", "package/v1", "blueprint/v1"];

const DATATYPES: &[&str] = &["string", "boolean", "number", "array", "object"];
const DISPLAY_AS: &[&str] = &["short-text", "long-text", "select"];
const TRIGGERS: &[&str] = &["schedule", "startup", "manual", "webhook"];
const GPU_RUNTIMES: &[&str] = &["cuda", "rocm"];
const SCOPES: &[&str] = &["models", "knowledge", "integrations"];

/// Result of validating a spec: hard errors, and warnings (deprecated fields).
#[derive(Debug, Default)]
pub struct Report {
    /// Rule violations; the spec cannot be deployed while any remain.
    pub errors: Vec<FieldError>,
    /// Deprecations and other advice.
    pub warnings: Vec<FieldError>,
}

/// Checks every rule and returns all problems found.
pub fn validate(spec: &AstroSpec) -> Report {
    let mut r = Report::default();
    // Rule 1: spec identifier.
    if spec.spec.trim().is_empty() {
        r.err("spec", "must be a non-empty string");
    } else if !ACCEPTED_SPEC_IDS.contains(&spec.spec.as_str()) {
        r.err(
            "spec",
            format!(
                "unsupported spec identifier '{}'; expected one of {}",
                spec.spec,
                ACCEPTED_SPEC_IDS.join(", ")
            ),
        );
    }
    // Rule 2 + naming rules.
    if spec.name.is_empty() {
        r.err("name", "must be a non-empty string");
    } else {
        let (org, agent) = naming::split_org(&spec.name);
        if let Some(org) = org
            && let Err(m) = naming::check_account(org)
        {
            r.err("name", format!("org part '{org}' {m}"));
        }
        if let Err(m) = naming::check_agent_name(agent) {
            r.err("name", format!("agent name '{agent}' {m}"));
        }
    }
    // Rule 3 (+10): agent image | build.
    match (&spec.agent.image, &spec.agent.build) {
        (Some(_), Some(_)) => r.err("agent", "exactly one of image or build, not both"),
        (None, None) => r.err("agent", "exactly one of image or build is required"),
        (Some(image), None) => check_image(&mut r, "agent.image", image),
        (None, Some(b)) => check_build(&mut r, "agent.build", b),
    }
    if let Some(h) = &spec.agent.healthcheck {
        check_healthcheck(&mut r, "agent.healthcheck", h);
    }
    check_inputs(&mut r, "agent.inputs", &spec.agent.inputs);
    if spec.agent.ai_gateway.is_some() && spec.agent.astro_ai_gateway.is_some() {
        r.err(
            "agent.ai_gateway",
            "set only one of ai_gateway or astro_ai_gateway",
        );
    }
    let gateway_model = spec
        .models
        .values()
        .any(|m| m.provider.as_deref() == Some("gateway"));
    if spec.agent.gateway_enabled() && gateway_model {
        r.err(
            "agent.ai_gateway",
            "the AI gateway flag and a model with provider 'gateway' are mutually exclusive",
        );
    }

    // Rule 7: custom providers.
    for (name, p) in &spec.providers {
        let path = format!("providers.{name}");
        if naming::env_key_part(name).is_empty() {
            r.err(&path, "provider name must contain a letter or digit");
        }
        if p.scope.is_empty() {
            r.err(
                format!("{path}.scope"),
                "must list at least one of models, knowledge, integrations",
            );
        }
        for (i, s) in p.scope.iter().enumerate() {
            if !SCOPES.contains(&s.as_str()) {
                r.err(
                    format!("{path}.scope[{i}]"),
                    format!("'{s}' is not one of models, knowledge, integrations"),
                );
            }
        }
        if p.variables.is_empty() {
            r.err(
                format!("{path}.variables"),
                "must have at least one variable",
            );
        }
        check_inputs(&mut r, &format!("{path}.variables"), &p.variables);
    }

    // Rules 4–6 and 8: component sections.
    for (name, m) in &spec.models {
        let path = format!("models.{name}");
        check_entry_name(&mut r, &path, name);
        check_component(
            &mut r,
            spec,
            Section::Models,
            &path,
            m.provider.as_deref(),
            m.container.as_ref(),
        );
        // Rule 12.
        if m.models.is_some() && m.model.is_some() {
            r.err(&path, "models and model are mutually exclusive");
        } else if m.model.is_some() {
            r.warn(format!("{path}.model"), "deprecated; use models: [ ... ]");
        }
        check_inputs(&mut r, &format!("{path}.inputs"), &m.inputs);
    }
    for (name, k) in &spec.knowledge {
        let path = format!("knowledge.{name}");
        check_entry_name(&mut r, &path, name);
        check_component(
            &mut r,
            spec,
            Section::Knowledge,
            &path,
            k.provider.as_deref(),
            k.container.as_ref(),
        );
        check_inputs(&mut r, &format!("{path}.inputs"), &k.inputs);
    }
    for (name, i) in &spec.integrations {
        let path = format!("integrations.{name}");
        check_entry_name(&mut r, &path, name);
        check_component(
            &mut r,
            spec,
            Section::Integrations,
            &path,
            i.provider.as_deref(),
            i.container.as_ref(),
        );
        check_inputs(&mut r, &format!("{path}.inputs"), &i.inputs);
    }

    // Top-level inputs (map form).
    for (id, input) in &spec.inputs {
        check_input(&mut r, &format!("inputs.{id}"), input);
    }

    // Rule 9: ingestion.
    for (name, ing) in &spec.ingestion {
        let path = format!("ingestion.{name}");
        check_entry_name(&mut r, &path, name);
        match &ing.container {
            None => r.err(format!("{path}.container"), "required"),
            Some(c) => check_container(&mut r, &format!("{path}.container"), c),
        }
        match &ing.trigger {
            None => r.err(format!("{path}.trigger"), "required"),
            Some(t) if !TRIGGERS.contains(&t.kind.as_str()) => r.err(
                format!("{path}.trigger.type"),
                format!(
                    "'{}' is not one of schedule, startup, manual, webhook",
                    t.kind
                ),
            ),
            Some(_) => {}
        }
        check_inputs(&mut r, &format!("{path}.inputs"), &ing.inputs);
    }

    check_unique_env_targets(&mut r, spec);
    r
}

impl Report {
    fn err(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }
    fn warn(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(FieldError::new(field, message));
    }
}

fn check_entry_name(r: &mut Report, path: &str, name: &str) {
    if naming::sanitize_name(name).is_empty() || naming::env_key_part(name).is_empty() {
        r.err(path, "entry name must contain a letter or digit");
    } else if name.len() > 63 {
        r.err(path, "entry name must be at most 63 characters");
    }
}

/// Rules 4–6 (exactly one mode) and 8 (custom provider scope), plus unknown providers.
fn check_component(
    r: &mut Report,
    spec: &AstroSpec,
    section: Section,
    path: &str,
    provider: Option<&str>,
    container: Option<&ContainerConfig>,
) {
    match (provider, container) {
        (Some(_), Some(_)) | (None, None) => r.err(path, "exactly one of provider or container"),
        (None, Some(c)) => check_container(r, &format!("{path}.container"), c),
        (Some(p), None) => {
            if builtin(section, p).is_some() {
                return;
            }
            match spec.providers.get(p) {
                Some(custom) if !is_builtin_anywhere(p) => {
                    if !custom.scope.iter().any(|s| s == section.key()) {
                        r.err(
                            format!("{path}.provider"),
                            format!("custom provider '{p}' is not scoped to {}", section.key()),
                        );
                    }
                }
                _ if is_builtin_anywhere(p) => r.err(
                    format!("{path}.provider"),
                    format!(
                        "built-in provider '{p}' cannot be used in {}",
                        section.key()
                    ),
                ),
                _ => r.err(
                    format!("{path}.provider"),
                    format!(
                        "unsupported provider '{p}': not built in and not declared under providers"
                    ),
                ),
            }
        }
    }
}

/// ContainerConfig: image | build (rule 10), port, volume, gpu (rule 11), env names, health.
fn check_container(r: &mut Report, path: &str, c: &ContainerConfig) {
    match (&c.image, &c.build) {
        (Some(_), Some(_)) => r.err(path, "set only one of image or build"),
        (None, None) => r.err(path, "one of image or build is required"),
        (Some(image), None) => check_image(r, &format!("{path}.image"), image),
        (None, Some(b)) => check_build(r, &format!("{path}.build"), b),
    }
    if c.port == Some(0) {
        r.err(format!("{path}.port"), "must be between 1 and 65535");
    }
    if let Some(v) = &c.volume
        && !v.starts_with('/')
    {
        r.err(format!("{path}.volume"), "must be an absolute mount path");
    }
    if let Some(g) = &c.gpu
        && let Some(rt) = &g.runtime
        && !GPU_RUNTIMES.contains(&rt.as_str())
    {
        r.err(
            format!("{path}.gpu.runtime"),
            format!("'{rt}' is not one of cuda, rocm"),
        );
    }
    for key in c.environment.keys() {
        if !naming::is_env_name(key) {
            r.err(
                format!("{path}.environment.{key}"),
                "is not a valid environment variable name",
            );
        }
    }
    if let Some(h) = &c.healthcheck {
        check_healthcheck(r, &format!("{path}.healthcheck"), h);
    }
}

fn check_image(r: &mut Report, path: &str, image: &str) {
    if image.trim().is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        r.err(
            path,
            "must be a non-empty image reference without whitespace",
        );
    }
}

/// Rule 10.
fn check_build(r: &mut Report, path: &str, b: &BuildConfig) {
    if b.context.is_empty() {
        r.err(format!("{path}.context"), "required");
    }
    if b.dockerfile.is_empty() {
        r.err(format!("{path}.dockerfile"), "required");
    }
    for (i, s) in b.secrets.iter().enumerate() {
        if s.id.is_empty() {
            r.err(format!("{path}.secrets[{i}].id"), "required");
        }
    }
}

fn check_healthcheck(r: &mut Report, path: &str, h: &Healthcheck) {
    for (field, value) in [("interval", &h.interval), ("timeout", &h.timeout)] {
        if let Some(v) = value
            && parse_duration_seconds(v).is_none()
        {
            r.err(
                format!("{path}.{field}"),
                format!("'{v}' is not a duration like 10s, 1m or 1m30s"),
            );
        }
    }
    if !h.test.is_empty() && h.path.is_some() {
        r.err(path, "set only one of test or path");
    }
    if let Some(p) = &h.path
        && !p.starts_with('/')
    {
        r.err(format!("{path}.path"), "must start with '/'");
    }
}

/// Parses `10s`, `1m`, `1m30s`, `2h` into whole seconds (≥ 1).
pub fn parse_duration_seconds(s: &str) -> Option<i32> {
    let mut total: i64 = 0;
    let mut num = String::new();
    let mut seen_unit = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
        } else {
            let n: i64 = num.parse().ok()?;
            num.clear();
            let mult = match c {
                'h' => 3600,
                'm' => 60,
                's' => 1,
                _ => return None,
            };
            total = total.checked_add(n.checked_mul(mult)?)?;
            seen_unit = true;
        }
    }
    if !num.is_empty() || !seen_unit || total < 1 {
        return None;
    }
    i32::try_from(total).ok()
}

fn check_inputs(r: &mut Report, path: &str, inputs: &[Input]) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, input) in inputs.iter().enumerate() {
        let p = format!("{path}[{i}]");
        check_input(r, &p, input);
        if let Some(first) = seen.insert(input.name.as_str(), i)
            && !input.name.is_empty()
        {
            r.err(
                format!("{p}.name"),
                format!("duplicate input '{}' (also at [{first}])", input.name),
            );
        }
    }
}

/// Rules 13 and 14, plus the code's select-default and secret-default rules.
fn check_input(r: &mut Report, path: &str, input: &Input) {
    if input.name.is_empty() {
        r.err(format!("{path}.name"), "required");
    } else if !naming::is_env_name(&input.name) {
        r.err(
            format!("{path}.name"),
            format!("'{}' is not a valid environment variable name", input.name),
        );
    }
    if !DATATYPES.contains(&input.datatype.as_str()) {
        r.err(
            format!("{path}.datatype"),
            format!(
                "'{}' is not one of string, boolean, number, array, object",
                input.datatype
            ),
        );
    }
    if let Some(d) = &input.display_as {
        if !DISPLAY_AS.contains(&d.as_str()) {
            r.err(
                format!("{path}.display-as"),
                format!("'{d}' is not one of short-text, long-text, select"),
            );
        }
        if d == "select" {
            match &input.options {
                Some(o) if !o.is_empty() => {
                    if let Some(def) = input.default.as_deref().filter(|d| !d.is_empty())
                        && !o.iter().any(|x| x == def)
                    {
                        r.err(
                            format!("{path}.default"),
                            format!("'{def}' is not one of the options"),
                        );
                    }
                }
                _ => r.err(
                    format!("{path}.options"),
                    "display-as: select needs a non-empty options list",
                ),
            }
        }
    }
    if input.secret && input.default.is_some() {
        r.err(
            format!("{path}.default"),
            "a secret input must not carry a default",
        );
    }
}

/// Two containers' env keys must not collide in the agent: e.g. two inputs named alike at
/// top level and in `agent.inputs` with different secrecy.
fn check_unique_env_targets(r: &mut Report, spec: &AstroSpec) {
    for (i, input) in spec.agent.inputs.iter().enumerate() {
        if let Some((id, top)) = spec.inputs.iter().find(|(_, t)| t.name == input.name)
            && top.secret != input.secret
        {
            r.err(
                format!("agent.inputs[{i}].name"),
                format!(
                    "'{}' is also declared in inputs.{id} with a different secret flag",
                    input.name
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration_seconds;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_seconds("10s"), Some(10));
        assert_eq!(parse_duration_seconds("1m30s"), Some(90));
        assert_eq!(parse_duration_seconds("2h"), Some(7200));
        assert_eq!(parse_duration_seconds("10"), None);
        assert_eq!(parse_duration_seconds("0s"), None);
        assert_eq!(parse_duration_seconds("1x"), None);
    }
}
