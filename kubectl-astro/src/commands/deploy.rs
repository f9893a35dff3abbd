//! `kubectl astro deploy`.

use astro_deploy::render::{Templates, render, to_json, to_yaml};
use astro_deploy::resolve::{ResolveOptions, resolve};

use crate::cli::{DeployArgs, Output};
use crate::exit::{Failure, code};
use crate::inputs;

/// Resolve options from the flags.
pub fn options(args: &DeployArgs) -> ResolveOptions {
    ResolveOptions {
        namespace: args.namespace.clone(),
        ingress_domain: args.ingress_domain.clone(),
        ingestion_domain: args.ingestion_domain.clone(),
        ingress_class: args.ingress_class.clone(),
        tls_secret: args.tls_secret.clone(),
        network_policy: args.network_policy,
        messaging_image: args.messaging_image.clone(),
        omit_replicas: args.no_replicas,
        storage_class: args.storage_class.clone(),
        store_passwords: Default::default(),
    }
}

/// Runs `deploy`; returns the exit code.
pub fn run(args: &DeployArgs) -> Result<i32, Failure> {
    let req = inputs::request(&args.request)?;
    let build = inputs::build(&args.request, &req)?;
    let templates =
        Templates::with_overrides(inputs::template_overrides(args.templates.as_deref())?)?;
    let resolved = resolve(&req, &build, &options(args))?;
    for w in &resolved.warnings {
        eprintln!("warning: spec: {w}");
    }
    let manifests = render(&resolved, &templates)?;
    if !args.dry_run {
        return Err(Failure::failed(
            "applying to a cluster is not available in this version; use --dry-run to print the manifests",
        ));
    }
    let text = match args.output {
        Output::Yaml => to_yaml(&manifests, args.show_secrets)?,
        Output::Json => to_json(&manifests, args.show_secrets) + "\n",
    };
    print!("{text}");
    Ok(code::SUCCESS)
}
