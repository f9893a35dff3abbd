//! `kubectl astro serve`: the platform's Deploy API over HTTP, answered by the same engine
//! functions the commands call (`Plan::new`, `kubectl_astro::deploy`, `undeploy`, the build
//! catalog). This module is the HTTP face only: flags and tokens are read at start, each
//! route authenticates, reads its JSON body, calls the engine and answers its typed result.
//!
//! * [`auth`]: the tokens file and bearer tokens (digests compared in constant time).
//! * [`review`]: `--token-review`, Kubernetes identities through TokenReviews.
//! * [`catalog`]: the build catalog routes (an agent's builds, register, publish).
//! * [`locks`]: one deploy or undeploy per agent at a time in this process.
//! * [`metrics`]: the Prometheus metrics of `GET /metrics`.
//! * [`tls`]: HTTPS with `--tls-cert`/`--tls-key`.
//! * [`listen`]: the connections, plain or TLS: header and body deadlines, the graceful stop.
//! * [`manifests`]: `--print-manifests`, the objects that run the server in a cluster.
//! * [`routes`]: the routes, the access log, and the one place where an engine error kind
//!   becomes an HTTP status.

pub mod auth;
pub mod catalog;
pub mod listen;
pub mod locks;
pub mod manifests;
pub mod metrics;
pub mod review;
pub mod routes;
pub mod tls;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use astro_deploy::render::Templates;
use astro_deploy::resolve::ResolveOptions;
use kubectl_astro::{Cluster, Interrupt, Settings, settings};

use crate::cli::args::ServeArgs;
use crate::cli::exit::{Failure, code};
use crate::cli::output::err_line;
use crate::cli::signals;

/// What every request of a server shares: read once at start.
pub struct App {
    /// The cluster every deploy goes to.
    pub cluster: Cluster,
    /// The templates (embedded, with `--templates` over them).
    pub templates: Templates,
    /// The per-deploy render flags (namespace, replicas) over the built-in defaults.
    pub resolve: ResolveOptions,
    /// What the render flags say of the cluster-wide settings; the rest comes from the
    /// settings ConfigMap, read again for every deploy and validation.
    pub settings: Settings,
    /// `--catalog DIR`; the in-cluster catalog when `None`.
    pub catalog: Option<PathBuf>,
    /// `--namespace`, which undeploy needs too.
    pub namespace: Option<String>,
    /// Who may call: the tokens file, read again when it changes.
    pub tokens: Arc<auth::TokenFile>,
    /// With `--token-review`: who the cluster says an unknown token is.
    pub reviewer: Option<review::Reviewer>,
    /// One deploy or undeploy per agent at a time.
    pub locks: locks::AgentLocks,
    /// How long a request waits for its agent's lock (`--lock-wait`).
    pub lock_wait: Duration,
    /// What `GET /metrics` answers.
    pub metrics: Arc<metrics::Metrics>,
    /// Each request's deadline (`--request-deadline`).
    pub request_deadline: Duration,
    /// How long a client may take to send a request body (`--read-timeout`).
    pub read_timeout: Duration,
    /// Set when the shutdown grace period has passed: the deploys in flight stop and answer
    /// their partial result.
    pub stopping: Interrupt,
    /// The deploys and undeploys running, which a stop waits for even when their clients
    /// have hung up.
    pub tasks: listen::Tasks,
}

impl App {
    /// The resolve options of one request: the flags over the cluster's settings ConfigMap
    /// (one GET per request, so a changed ConfigMap applies without a restart) over the
    /// built-in defaults. An invalid ConfigMap is the operator's to fix: its error kind
    /// answers 500, naming the ConfigMap and the key.
    pub async fn resolve_options(&self) -> Result<ResolveOptions, kubectl_astro::Error> {
        let read = settings::read(&self.cluster).await?;
        let (options, origins) =
            settings::resolve(&self.settings, Some(&read), self.resolve.clone());
        settings::log(&origins, true);
        Ok(options)
    }
}

/// Runs `serve` until SIGINT or SIGTERM; returns the exit code.
pub fn run(args: &ServeArgs) -> Result<i32, Failure> {
    if args.print_manifests {
        let text = manifests::render(&args.manifests, args)?;
        crate::cli::output::out(&text)?;
        return Ok(code::SUCCESS);
    }
    let Some(tokens) = &args.tokens else {
        return Err(Failure::invalid("--tokens FILE is required"));
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::config(cert, key).map_err(Failure::invalid)?),
        _ => None,
    };
    if !args.listen.ip().is_loopback() && tls.is_none() && !args.insecure_listen {
        return Err(Failure::invalid(format!(
            "--listen {}: not a loopback address, and no --tls-cert/--tls-key: bearer tokens \
             would cross the network in clear text; serve HTTPS with --tls-cert and --tls-key, \
             or put a TLS-terminating proxy in front and pass --insecure-listen, or listen on \
             127.0.0.1",
            args.listen
        )));
    }
    let tokens = Arc::new(auth::TokenFile::load(tokens)?);
    if tokens.current().has_kubernetes() && !args.token_review {
        err_line(format_args!(
            "warning: --tokens {}: the kubernetes section is used only with --token-review",
            tokens.path().display()
        ));
    }
    let templates = args.render.templates()?;
    if let Some(dir) = &args.catalog
        && !dir.is_dir()
    {
        return Err(Failure::invalid(format!(
            "--catalog {}: not a directory",
            dir.display()
        )));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::from(kubectl_astro::Error::Failed(format!(
                "cannot start the async runtime: {e}"
            )))
        })?;
    runtime.block_on(async {
        tokio::spawn(auth::watch(tokens.clone(), auth::RELOAD_EVERY));
        let cluster = args.cluster.connect().await?;
        let metrics = Arc::new(metrics::Metrics::default());
        let counting = metrics::Counting {
            metrics: metrics.clone(),
            inner: cluster.observer.clone(),
        };
        let cluster = cluster.observer(Arc::new(counting));
        let reviewer = args.token_review.then(|| review::Reviewer::new(&cluster));
        let app = Arc::new(App {
            cluster,
            templates,
            resolve: args.render.base_options(),
            settings: args.render.settings(),
            catalog: args.catalog.clone(),
            namespace: args.render.namespace.clone(),
            tokens,
            reviewer,
            locks: locks::AgentLocks::default(),
            lock_wait: args.lock_wait,
            metrics,
            request_deadline: args.request_deadline,
            read_timeout: args.read_timeout,
            stopping: Interrupt::new(),
            tasks: listen::Tasks::default(),
        });
        let failed = |what: &str, e: std::io::Error| {
            Failure::from(kubectl_astro::Error::Failed(format!(
                "--listen {}: {what}: {e}",
                args.listen
            )))
        };
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| failed("cannot listen", e))?;
        let bound = listener
            .local_addr()
            .map_err(|e| failed("no local address", e))?;
        let router = routes::router(app.clone());
        let limits = listen::Limits {
            header_timeout: args.read_timeout,
            grace: args.shutdown_grace,
        };
        let grace = args.shutdown_grace;
        let tasks = app.tasks.clone();
        let interrupt = move || {
            err_line(format_args!(
                "shutting down: --shutdown-grace {} ms passed: interrupting the deploys in flight, which answer their partial result",
                grace.as_millis()
            ));
            app.stopping.trigger();
        };
        let stopped = match tls {
            Some(config) => {
                let listener =
                    tls::TlsListener::new(listener, config).map_err(|e| failed("TLS", e))?;
                err_line(format_args!("serving the Deploy API on https://{bound}"));
                listen::serve(listener, router, limits, &tasks, shutdown(), interrupt).await
            }
            None => {
                err_line(format_args!("serving the Deploy API on http://{bound}"));
                listen::serve(listener, router, limits, &tasks, shutdown(), interrupt).await
            }
        };
        let (line, exit) = match stopped {
            listen::Stopped::Finished => (
                "stopped: every request in flight finished",
                code::SUCCESS,
            ),
            listen::Stopped::Interrupted => (
                "stopped: the requests still in flight were interrupted and answered",
                code::SUCCESS,
            ),
            listen::Stopped::Abandoned => (
                "stopped: some requests in flight did not answer in time after the interrupt; they were abandoned (deploy those agents again to converge)",
                code::FAILURE,
            ),
        };
        err_line(line);
        Ok(exit)
    })
}

/// Completes at the first SIGINT or SIGTERM: the server then accepts nothing new and lets
/// the requests in flight finish. A second signal ends the process at once (exit 130).
async fn shutdown() {
    if !signals::next().await {
        // Signals cannot be watched: serve until killed.
        std::future::pending::<()>().await;
    }
    err_line(
        "shutting down: accepting nothing new, letting the requests in flight finish within --shutdown-grace; interrupt again to stop at once",
    );
    tokio::spawn(async {
        if signals::next().await {
            err_line("stopped at once: the requests in flight were abandoned");
            std::process::exit(code::INTERRUPTED);
        }
    });
}
