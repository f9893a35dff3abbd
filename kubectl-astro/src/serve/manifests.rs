//! `kubectl astro serve --print-manifests`: the objects that run the server in a cluster —
//! Namespace, ServiceAccount, ClusterRole (the rules of `docs/rbac.yaml`) and its binding,
//! Deployment, Service — rendered from `manifests.yaml` with minijinja, as the library renders
//! an agent's objects. The tokens Secret is referred to, never printed.

use std::time::Duration;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::{Value, json};

use super::listen::FINISH;
use crate::cli::args::{ManifestArgs, ServeArgs};
use crate::cli::exit::Failure;

/// The template of the manifests.
const TEMPLATE: &str = include_str!("manifests.yaml");

/// The permissions of every command, which are all the server needs (its routes call the
/// same engine functions): the ClusterRole copies them, so the two cannot drift apart.
const RBAC: &str = include_str!("../../../docs/rbac.yaml");

/// What `--token-review` adds to the ClusterRole: sending the callers' tokens to the cluster
/// as TokenReviews.
fn token_review_rule() -> Value {
    json!({
        "apiGroups": ["authentication.k8s.io"],
        "resources": ["tokenreviews"],
        "verbs": ["create"],
    })
}

/// The name of every object, and the label that selects the server's pods.
const NAME: &str = "kubectl-astro-serve";

/// The Secret holding `tokens.yaml`, which the user creates.
const TOKENS_SECRET: &str = "kubectl-astro-serve-tokens";

/// Where the tokens Secret is mounted.
const TOKENS_DIR: &str = "/etc/kubectl-astro/tokens";

/// The port the server listens on in the pod.
const PORT: u16 = 8080;

/// How long the pod's preStop hook sleeps before the server gets SIGTERM, so that the
/// endpoints controller and every node's proxy stop sending it new connections first.
const PRE_STOP: Duration = Duration::from_secs(5);

/// Kept beyond preStop, the grace and [`FINISH`] before the kubelet kills the container.
const MARGIN: Duration = Duration::from_secs(5);

/// The manifests, as one multi-document YAML text; `serve`'s `--shutdown-grace` goes into
/// the server's flags and the pod's termination grace period.
pub fn render(manifests: &ManifestArgs, serve: &ServeArgs) -> Result<String, Failure> {
    if !astro_deploy::naming::is_dns_label(&manifests.server_namespace) {
        return Err(Failure::invalid(format!(
            "--server-namespace {:?}: not a DNS label (lower-case letters, digits and '-', at most 63)",
            manifests.server_namespace
        )));
    }
    let image = manifests.image.as_str();
    if image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Failure::invalid(format!(
            "--image {image:?}: not an image reference"
        )));
    }
    let rbac = astro_deploy::input::parse_value("docs/rbac.yaml", RBAC).map_err(Failure::from)?;
    let mut rules = rbac.get("rules").cloned().unwrap_or(Value::Null);
    if serve.token_review
        && let Some(list) = rules.as_array_mut()
    {
        list.push(token_review_rule());
    }
    let grace = serve.shutdown_grace;
    let termination = PRE_STOP + grace + FINISH + MARGIN;
    let tokens_file = format!("{TOKENS_DIR}/tokens.yaml");
    let mut args = vec![
        "serve".to_string(),
        "--listen".into(),
        format!("0.0.0.0:{PORT}"),
        "--insecure-listen".into(),
        "--tokens".into(),
        tokens_file,
        "--shutdown-grace".into(),
        duration_flag(grace),
    ];
    if serve.token_review {
        args.push("--token-review".into());
    }
    let ctx = json!({
        "name": NAME,
        "namespace": manifests.server_namespace,
        "image": image,
        "replicas": manifests.replicas,
        "rules": rules,
        "token_review": serve.token_review,
        "args": args,
        "port": PORT,
        "tokens_secret": TOKENS_SECRET,
        "tokens_dir": TOKENS_DIR,
        "pre_stop_seconds": PRE_STOP.as_secs(),
        "termination_grace_seconds": termination.as_secs_f64().ceil() as u64,
    });
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Json);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    let failed = |e: minijinja::Error| {
        Failure::from(kubectl_astro::Error::Failed(format!(
            "serve --print-manifests: the template: {e}"
        )))
    };
    env.add_template("manifests.yaml", TEMPLATE)
        .map_err(failed)?;
    env.get_template("manifests.yaml")
        .and_then(|t| t.render(ctx))
        .map_err(failed)
}

/// `d` as the flag value `serve` reads back: whole seconds as `20s`, else milliseconds.
fn duration_flag(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_back_as_given() {
        assert_eq!(duration_flag(Duration::from_secs(20)), "20s");
        assert_eq!(duration_flag(Duration::from_millis(1500)), "1500ms");
        for d in [Duration::from_secs(20), Duration::from_millis(1500)] {
            assert_eq!(crate::cli::args::parse_duration(&duration_flag(d)), Ok(d));
        }
    }
}
