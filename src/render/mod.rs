//! Render: a resolved deployment becomes Kubernetes objects, one template per kind, each
//! parsed and checked against its k8s-openapi type, in apply order.

mod output;
mod schema;
mod templates;

pub use output::{
    REDACTED_PREFIX, mask_secret_value, redact_secret, to_json, to_yaml, yaml_document,
};
pub use templates::{EMBEDDED, Templates};

use minijinja::Value as Ctx;
use serde_json::Value;

use crate::error::Error;
use crate::resolve::{Kind, ResolvedDeployment, Stage};

/// One rendered, validated Kubernetes object.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Its kind.
    pub kind: Kind,
    /// metadata.name
    pub name: String,
    /// metadata.namespace (empty for the Namespace itself).
    pub namespace: String,
    /// Apply stage.
    pub stage: Stage,
    /// The object, keys in template order.
    pub object: Value,
}

impl Manifest {
    /// `apiVersion` of the object.
    pub fn api_version(&self) -> &str {
        self.object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// Renders every object of `resolved` with `templates`.
pub fn render(
    resolved: &ResolvedDeployment,
    templates: &Templates,
) -> Result<Vec<Manifest>, Error> {
    resolved
        .objects
        .iter()
        .map(|obj| {
            let template = obj.kind.template();
            let ctx =
                minijinja::context! { ns => &resolved.namespace, obj => Ctx::from_serialize(obj) };
            let text = templates.render(template, ctx)?;
            let value = parse_rendered(template, &text)?;
            let manifest_err = |field: String, message: String| {
                let key = field.rsplit('.').next().unwrap_or(&field);
                let key = key.split('[').next().unwrap_or(key);
                let (file, line) = templates.locate(template, key);
                Error::Manifest(Box::new(crate::error::ManifestError {
                    kind: obj.kind.as_str().to_string(),
                    name: obj.name.clone(),
                    field,
                    message,
                    template: file,
                    line,
                }))
            };
            let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
            if kind != obj.kind.as_str() {
                return Err(manifest_err(
                    "kind".into(),
                    format!("template produced kind '{kind}'"),
                ));
            }
            let name = value
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if name != obj.name {
                return Err(manifest_err(
                    "metadata.name".into(),
                    format!("template produced name '{name}'"),
                ));
            }
            schema::check(obj.kind, &value).map_err(|e| manifest_err(e.field, e.message))?;
            let namespace = if obj.kind == Kind::Namespace {
                String::new()
            } else {
                let ns = value
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if ns != resolved.namespace {
                    return Err(manifest_err(
                        "metadata.namespace".into(),
                        format!(
                            "objects must be in namespace '{}', template wrote '{ns}'",
                            resolved.namespace
                        ),
                    ));
                }
                ns.to_string()
            };
            Ok(Manifest {
                kind: obj.kind,
                name: obj.name.clone(),
                namespace,
                stage: obj.kind.stage(),
                object: value,
            })
        })
        .collect()
}

fn parse_rendered(template: &str, text: &str) -> Result<Value, Error> {
    let value: Value = serde_saphyr::from_str(text).map_err(|e| Error::Template {
        template: template.to_string(),
        line: 0,
        message: format!(
            "rendered output is not one YAML document: {}",
            e.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        ),
    })?;
    if !value.is_object() {
        return Err(Error::Template {
            template: template.to_string(),
            line: 0,
            message: "rendered output is not a mapping".into(),
        });
    }
    Ok(value)
}
