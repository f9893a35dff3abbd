//! Render: a resolved deployment becomes Kubernetes objects, one template per kind, each
//! parsed and checked against its k8s-openapi type, in apply order.

mod fast_yaml;
mod filters;
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
use crate::kind::{Kind, Stage};
use crate::resolve::ResolvedDeployment;

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
            let value = render_value(resolved, obj, templates)?;
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
            let metadata = value.get("metadata");
            let name = metadata
                .and_then(|m| m.get("name"))
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
                let ns = metadata
                    .and_then(|m| m.get("namespace"))
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

/// The value `obj`'s template renders to.
fn render_value(
    resolved: &ResolvedDeployment,
    obj: &crate::resolve::PlannedObject,
    templates: &Templates,
) -> Result<Value, Error> {
    let text = render_text(resolved, obj, templates)?;
    parse_rendered(obj.kind.template(), &text)
}

/// The text `obj`'s template renders to.
fn render_text(
    resolved: &ResolvedDeployment,
    obj: &crate::resolve::PlannedObject,
    templates: &Templates,
) -> Result<String, Error> {
    let ctx = minijinja::context! { ns => &resolved.namespace, obj => Ctx::from_serialize(obj) };
    templates.render(obj.kind.template(), ctx)
}

fn parse_rendered(template: &str, text: &str) -> Result<Value, Error> {
    // Rendered templates are almost always in the subset the fast reader handles; it
    // declines everything else, and serde-saphyr stays the authority (and the error source).
    if let Some(value) = fast_yaml::parse(text) {
        #[cfg(debug_assertions)]
        debug_assert_eq!(
            serde_saphyr::from_str::<Value>(text).ok().as_ref(),
            Some(&value),
            "fast YAML reader disagrees with serde-saphyr on {template}:\n{text}"
        );
        return Ok(value);
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::BuildRecord;
    use crate::resolve::{ResolveOptions, resolve};

    /// The resolved deployments of every golden case and of the typical example, with an
    /// ingress class, once with a TLS Secret and no NetworkPolicies, once with NetworkPolicies
    /// and a cert-manager issuer.
    pub(super) fn golden_deployments() -> Vec<ResolvedDeployment> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut cases = Vec::new();
        if let Ok(dirs) = std::fs::read_dir(root.join("tests/golden")) {
            for d in dirs.flatten() {
                let p = d.path();
                if p.join("build.yaml").is_file() {
                    cases.push((p.join("request.yaml"), p.join("build.yaml")));
                }
            }
        }
        cases.push((
            root.join("examples/support-agent-request.yaml"),
            root.join("examples/catalog/astro-team/support-agent/build-20260301-1200.yaml"),
        ));
        assert!(cases.len() > 10, "golden cases not found");
        let mut deployments = Vec::new();
        for (request, build) in &cases {
            let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
            let Ok(req) = crate::input::parse_document::<crate::api::DeployRequest>(
                "request",
                &read(request),
            ) else {
                continue; // bad-input cases
            };
            let Ok(b) = BuildRecord::parse(&read(build)).and_then(BuildRecord::into_build) else {
                continue;
            };
            let issuer = Some(crate::resolve::CertIssuer::Cluster("letsencrypt".into()));
            for (network_policy, cert_issuer) in [(false, None), (true, issuer)] {
                let options = ResolveOptions {
                    network_policy,
                    ingress_class: Some("nginx".into()),
                    tls_secret: cert_issuer.is_none().then(|| "tls".into()),
                    cert_issuer,
                    ..ResolveOptions::default()
                };
                if let Ok(resolved) = resolve(&req, &b, &options) {
                    deployments.push(resolved);
                }
            }
        }
        deployments
    }

    fn embedded() -> Templates {
        match Templates::embedded() {
            Ok(t) => t,
            Err(e) => panic!("templates: {e}"),
        }
    }

    /// Every object of every golden case renders to text the fast YAML reader accepts, with
    /// exactly serde-saphyr's value.
    #[test]
    fn fast_reader_reads_every_golden_object_like_serde_saphyr() {
        let templates = embedded();
        let mut checked = 0;
        for resolved in golden_deployments() {
            for obj in &resolved.objects {
                let text = render_text(&resolved, obj, &templates).map_err(|e| e.to_string());
                let Ok(text) = text else {
                    panic!("{}: {text:?}", obj.name)
                };
                let slow: Option<Value> = serde_saphyr::from_str(&text).ok();
                assert!(slow.is_some(), "{}: not YAML:\n{text}", obj.name);
                let fast = fast_yaml::parse(&text);
                assert!(fast.is_some(), "fast path declined {}:\n{text}", obj.name);
                assert_eq!(fast, slow, "{}", obj.name);
                checked += 1;
            }
        }
        assert!(checked > 200, "only {checked} objects checked");
    }
}
