//! The spec's own guards that need the request and the spec together, or the planned
//! objects: platform-managed variable names nobody may set (RFC-2 §11), and two entries that
//! would render one object.

use std::collections::BTreeMap;

use crate::api::DeployRequest;
use crate::error::FieldError;
use crate::input::printable;
use crate::kind::Kind;
use crate::spec::{AstroSpec, ContainerConfig, Input};

/// Environment variables the platform manages and user configuration must not override:
/// the list of RFC-2 (the resolved deployment spec) §11, "Platform-Managed Environment
/// Variables". `GRPC_SERVER_ADDR` is the messaging sidecar's address the agent dials;
/// `OTEL_EXPORTER_OTLP_ENDPOINT` the collector's (not deployed by this library, still
/// reserved).
pub const PLATFORM_MANAGED_ENV: &[&str] = &["GRPC_SERVER_ADDR", "OTEL_EXPORTER_OTLP_ENDPOINT"];

fn reserved(name: &str, field: String) -> Option<FieldError> {
    PLATFORM_MANAGED_ENV.contains(&name).then(|| {
        FieldError::new(
            field,
            format!(
                "'{name}' is a platform-managed environment variable (set by the platform, \
                 RFC-2 §11) and cannot be set by an input, a credential or a container's \
                 environment; rename it"
            ),
        )
    })
}

/// Every credential key, input name and container `environment` key that names a
/// platform-managed variable ([`PLATFORM_MANAGED_ENV`]), one error each, with its field.
pub fn platform_managed_names(request: &DeployRequest, spec: &AstroSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for key in request.user_credentials.keys() {
        errors.extend(reserved(
            key,
            format!("user_credentials.{}", printable(key)),
        ));
    }
    let mut inputs = |path: String, list: &[Input]| {
        for (i, input) in list.iter().enumerate() {
            errors.extend(reserved(&input.name, format!("{path}[{i}].name")));
        }
    };
    inputs("spec.agent.inputs".into(), &spec.agent.inputs);
    for (name, m) in &spec.models {
        inputs(format!("spec.models.{name}.inputs"), &m.inputs);
    }
    for (name, k) in &spec.knowledge {
        inputs(format!("spec.knowledge.{name}.inputs"), &k.inputs);
    }
    for (name, i) in &spec.integrations {
        inputs(format!("spec.integrations.{name}.inputs"), &i.inputs);
    }
    for (name, i) in &spec.ingestion {
        inputs(format!("spec.ingestion.{name}.inputs"), &i.inputs);
    }
    for (id, input) in &spec.inputs {
        errors.extend(reserved(&input.name, format!("spec.inputs.{id}.name")));
    }
    let containers = spec
        .models
        .iter()
        .map(|(n, m)| (format!("spec.models.{n}"), m.container.as_ref()))
        .chain(
            spec.knowledge
                .iter()
                .map(|(n, k)| (format!("spec.knowledge.{n}"), k.container.as_ref())),
        )
        .chain(
            spec.integrations
                .iter()
                .map(|(n, i)| (format!("spec.integrations.{n}"), i.container.as_ref())),
        )
        .chain(
            spec.ingestion
                .iter()
                .map(|(n, i)| (format!("spec.ingestion.{n}"), i.container.as_ref())),
        );
    for (path, container) in containers {
        let Some(ContainerConfig { environment, .. }) = container else {
            continue;
        };
        for key in environment.keys() {
            errors.extend(reserved(key, format!("{path}.container.environment.{key}")));
        }
    }
    errors
}

/// Two planned objects of one kind and name: one error naming both origins (the spec or
/// request fields that asked for them) — e.g. ingestion entries `berth-log` and `berth_log`,
/// whose names sanitise alike; one error per pair of origins, for the first object they
/// share. `objects` yields (kind, name, origin).
pub fn unique_objects<'a>(
    objects: impl IntoIterator<Item = (Kind, &'a str, &'a str)>,
) -> Vec<FieldError> {
    let mut seen: BTreeMap<(Kind, &str), &str> = BTreeMap::new();
    let mut reported = std::collections::BTreeSet::new();
    let mut errors = Vec::new();
    for (kind, name, origin) in objects {
        if let Some(first) = seen.insert((kind, name), origin) {
            let (a, b) = if first <= origin {
                (first, origin)
            } else {
                (origin, first)
            };
            if !reported.insert((a, b)) {
                continue;
            }
            errors.push(FieldError::new(
                b,
                format!(
                    "renders {kind} '{name}', the same object as {a}: their names become \
                     the same Kubernetes name (lowercase, '_' and '.' become '-'); rename \
                     one of them"
                ),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(doc: serde_json::Value) -> AstroSpec {
        match serde_json::from_value(doc) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    fn base() -> serde_json::Value {
        serde_json::json!({"spec": "package/v1", "name": "bot", "agent": {"image": "bot:1"}})
    }

    fn request(keys: &[&str]) -> DeployRequest {
        DeployRequest {
            account: "acme".into(),
            name: "bot".into(),
            user_credentials: keys.iter().map(|k| (k.to_string(), "x".into())).collect(),
            ..Default::default()
        }
    }

    /// Every name of the list is refused as a credential, an input of each scope and a
    /// container's environment, each with its own field.
    #[test]
    fn every_platform_managed_name_is_refused_everywhere() {
        for name in PLATFORM_MANAGED_ENV {
            let input =
                serde_json::json!([{"name": name, "datatype": "string", "default": "evil:1"}]);
            let mut doc = base();
            doc["agent"]["inputs"] = input.clone();
            doc["inputs"] = serde_json::json!({"top": {"name": name, "datatype": "string"}});
            doc["ingestion"] = serde_json::json!({"log": {
                "container": {"image": "log:1", "environment": {*name: "x"}},
                "trigger": {"type": "startup"},
                "inputs": input,
            }});
            doc["knowledge"] =
                serde_json::json!({"db": {"container": {"image": "db:1"}, "inputs": input}});
            let errors = platform_managed_names(&request(&[name, "OTHER"]), &spec(doc));
            let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            let log_env = format!("spec.ingestion.log.container.environment.{name}");
            let credential = format!("user_credentials.{name}");
            assert_eq!(
                fields,
                [
                    credential.as_str(),
                    "spec.agent.inputs[0].name",
                    "spec.knowledge.db.inputs[0].name",
                    "spec.ingestion.log.inputs[0].name",
                    "spec.inputs.top.name",
                    log_env.as_str(),
                ]
            );
            assert!(errors.iter().all(|e| e.message.contains(name)));
        }
    }

    #[test]
    fn ordinary_names_pass() {
        let mut doc = base();
        doc["agent"]["inputs"] =
            serde_json::json!([{"name": "GRPC_SERVER", "datatype": "string", "default": "x"}]);
        assert!(platform_managed_names(&request(&["ANTHROPIC_API_KEY"]), &spec(doc)).is_empty());
    }

    #[test]
    fn a_repeated_kind_and_name_names_both_origins() {
        let objects = [
            (
                Kind::Deployment,
                "bot-ingestion-berth-log",
                "spec.ingestion.berth_log",
            ),
            (
                Kind::Service,
                "bot-ingestion-berth-log",
                "spec.ingestion.berth_log",
            ),
            (
                Kind::Deployment,
                "bot-ingestion-berth-log",
                "spec.ingestion.berth-log",
            ),
            (
                Kind::Service,
                "bot-ingestion-berth-log",
                "spec.ingestion.berth-log",
            ),
            (Kind::Service, "bot-agent", "spec.agent"),
        ];
        let errors = unique_objects(objects);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "spec.ingestion.berth_log");
        assert!(errors[0].message.contains("spec.ingestion.berth-log"));
        assert!(
            errors[0]
                .message
                .contains("Deployment 'bot-ingestion-berth-log'")
        );
    }
}
