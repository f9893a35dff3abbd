//! `kubectl astro deploy`: render, then (without --dry-run) staged server-side apply, prune,
//! wait, and the DeployResponse.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use astro_deploy::api::{DeployRequest, DeployResponse, DeployResponseStatus};
use astro_deploy::catalog::Build;
use astro_deploy::render::{Manifest, Templates, render, to_json, to_yaml};
use astro_deploy::resolve::{MissingPasswords, ResolveOptions, ResolvedDeployment, resolve};

use crate::cli::{ClusterArgs, DeployArgs, Output, RenderArgs};
use crate::cluster::apply::{ApplyOptions, deploy};
use crate::cluster::connect::{connect, parse_timeout};
use crate::cluster::{Cluster, catalog, wait};
use crate::exit::{Failure, code};
use crate::inputs;

/// Resolve options from the render flags.
pub fn options(args: &RenderArgs) -> ResolveOptions {
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
        missing_passwords: MissingPasswords::Placeholder,
    }
}

/// Runs `deploy`; returns the exit code.
pub fn run(args: &DeployArgs) -> Result<i32, Failure> {
    let req = inputs::request(&args.request)?;
    let templates = Templates::with_overrides(inputs::template_overrides(
        args.render.templates.as_deref(),
    )?)?;
    if args.dry_run {
        let build = inputs::build(&args.request, &req)?;
        let resolved = resolve(&req, &build, &options(&args.render))?;
        warn(&resolved);
        let manifests = render(&resolved, &templates)?;
        let text = match args.output {
            Output::Yaml => to_yaml(&manifests, args.show_secrets)?,
            Output::Json => to_json(&manifests, args.show_secrets) + "\n",
        };
        print!("{text}");
        crate::leave((text, manifests, resolved, build, templates, req));
        return Ok(code::SUCCESS);
    }
    if args.show_secrets {
        return Err(Failure::invalid(
            "--show-secrets only applies to --dry-run output",
        ));
    }
    let local = inputs::local_build(&args.request, &req)?;
    let wait_for = parse_timeout(&args.timeout)
        .map_err(|e| Failure::invalid(format!("--timeout: {e}")))?
        .unwrap_or(Duration::from_secs(300));
    let runtime = crate::runtime()?;
    let code = runtime.block_on(async {
        let interrupted = on_signal();
        let cluster = cluster(&args.cluster).await?;
        let build = match local {
            Some(b) => b,
            None => cluster_build(&cluster, &req).await?,
        };
        let (resolved, manifests) = resolve_for_cluster(&req, &build, &args.render, &templates)?;
        warn(&resolved);
        if args.diff {
            let diffs =
                crate::cluster::diff::diff(&cluster, &resolved, &manifests, args.concurrency)
                    .await?;
            for d in diffs.iter().filter(|d| !d.diff.is_empty()) {
                eprint!("{}", d.diff);
            }
        }
        let opts = ApplyOptions {
            force_conflicts: args.force_conflicts,
            prune: args.prune,
            max_prune: args.max_prune,
            concurrency: args.concurrency,
            generated: resolved.store_passwords.clone(),
            interrupted: interrupted.clone(),
        };
        let mut outcome = deploy(&cluster, &resolved, &manifests, &opts).await?;
        if args.wait && !outcome.interrupted {
            tokio::select! {
                errs = wait::wait(
                    &cluster,
                    &mut outcome.resources,
                    wait_for,
                    Duration::from_millis(500),
                ) => outcome.errors.extend(errs),
                () = until(&interrupted) => {
                    outcome.interrupted = true;
                    outcome.errors.push("--wait: interrupted before the workloads were ready".into());
                }
            }
        }
        if outcome.interrupted && outcome.errors.is_empty() {
            outcome
                .errors
                .push("interrupted: the apply finished, prune did not run".into());
        }
        let status = if outcome.errors.is_empty() {
            DeployResponseStatus::Success
        } else {
            DeployResponseStatus::Partial
        };
        let response = DeployResponse {
            status,
            name: resolved.name.clone(),
            build_id: resolved.build_id.clone(),
            k8s_namespace: resolved.namespace.clone(),
            deployed_at: now(),
            resources: outcome.resources,
            service_endpoints: resolved.service_endpoints.clone(),
            errors: outcome.errors,
        };
        crate::print_json(&response);
        let code = match status {
            _ if outcome.interrupted => code::INTERRUPTED,
            DeployResponseStatus::Success => code::SUCCESS,
            DeployResponseStatus::Partial => code::PARTIAL,
        };
        crate::leave((response, manifests, resolved, build, cluster));
        Ok(code)
    });
    crate::leave((runtime, templates, req));
    code
}

/// A flag set by the first SIGINT or SIGTERM: the deploy lets the requests in flight finish,
/// sends nothing new, prunes nothing, records the inventory and prints the partial
/// DeployResponse (exit 130). A second signal abandons the requests in flight and exits 130 at
/// once; the next deploy converges (the inventory already names every object it may have
/// created).
fn on_signal() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    tokio::spawn(async move {
        if !signal().await {
            return;
        }
        set.store(true, Ordering::SeqCst);
        eprintln!(
            "interrupted: finishing the requests in flight, sending no more; interrupt again to abandon them"
        );
        if signal().await {
            crate::print_json(&astro_deploy::api::Error {
                error: "interrupted".into(),
                details: "abandoned the requests in flight; deploy again to converge".into(),
            });
            std::process::exit(code::INTERRUPTED);
        }
    });
    flag
}

/// The next SIGINT or SIGTERM; false if signals cannot be watched.
async fn signal() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return false;
        };
        tokio::select! {
            _ = int.recv() => true,
            _ = term.recv() => true,
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.is_ok()
    }
}

/// Resolves once `flag` is set.
async fn until(flag: &AtomicBool) {
    while !flag.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn warn(resolved: &ResolvedDeployment) {
    for w in &resolved.warnings {
        eprintln!("warning: spec: {w}");
    }
}

/// Connects with the cluster flags.
pub async fn cluster(args: &ClusterArgs) -> Result<Cluster, Failure> {
    let timeout = parse_timeout(&args.request_timeout)
        .map_err(|e| Failure::invalid(format!("--request-timeout: {e}")))?;
    let client = connect(args.kubeconfig.as_deref(), args.context.as_deref(), timeout).await?;
    Ok(Cluster {
        client,
        field_manager: args.field_manager.clone(),
        retry: Default::default(),
        request_timeout: timeout,
    })
}

/// The latest (or published) build from the cluster catalog.
pub async fn cluster_build(cluster: &Cluster, req: &DeployRequest) -> Result<Build, Failure> {
    let owner = req.source_account.as_deref().unwrap_or(&req.account);
    let (records, problems) = catalog::list(cluster, Some(owner), Some(&req.name))
        .await
        .map_err(|e| catalog_failure(&e))?;
    for p in problems {
        eprintln!("warning: build catalog: {p}");
    }
    let record = astro_deploy::catalog::select(
        &records,
        &req.account,
        &req.name,
        req.source_account.as_deref(),
    )?;
    Ok(record.clone().into_build()?)
}

/// A failed catalog call as a command failure.
pub fn catalog_failure(e: &crate::cluster::CallError) -> Failure {
    match e.code {
        401 => Failure::new(
            code::DENIED,
            "unauthorized",
            format!("reading the build catalog: {}", e.message),
        ),
        403 => Failure::new(
            code::DENIED,
            "forbidden",
            format!("reading the build catalog: {}", e.message),
        ),
        0 => Failure::new(code::FAILURE, "cluster unreachable", e.message.clone()),
        _ => Failure::failed(format!("build catalog: {e}")),
    }
}

/// Resolves and renders for a cluster: store passwords are left out of their Secrets (the
/// placeholder of a dry run is never sent); the apply generates each one the first time, under
/// its own field manager, so a redeploy neither rotates nor re-reads them.
pub fn resolve_for_cluster(
    req: &DeployRequest,
    build: &Build,
    render_args: &RenderArgs,
    templates: &Templates,
) -> Result<(ResolvedDeployment, Vec<Manifest>), Failure> {
    let options = ResolveOptions {
        missing_passwords: MissingPasswords::GeneratedByCluster,
        ..options(render_args)
    };
    let resolved = resolve(req, build, &options)?;
    let manifests = render(&resolved, templates)?;
    Ok((resolved, manifests))
}

/// Now, UTC RFC 3339 with second precision.
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
