//! Connecting like kubectl: a kubeconfig file and context, else `KUBECONFIG`,
//! `~/.kube/config` or the in-cluster configuration, and a per-request timeout. https clusters
//! get an HTTP/2-capable client ([`crate::transport`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{Config, KubeConfigOptions, Kubeconfig};

use crate::cluster::Cluster;
use crate::error::Error;

/// Where the cluster is and how long a request may take.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// Kubeconfig file (kubectl's `--kubeconfig`); none: `KUBECONFIG`, `~/.kube/config`, then
    /// the in-cluster configuration.
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (kubectl's `--context`); none: the current one.
    pub context: Option<String>,
    /// Longest wait for one request's whole answer (kubectl's `--request-timeout`).
    pub request_timeout: Option<Duration>,
}

impl ConnectOptions {
    /// The same, reading `path` as the kubeconfig.
    pub fn kubeconfig(mut self, path: impl Into<PathBuf>) -> Self {
        self.kubeconfig = Some(path.into());
        self
    }

    /// The same, with context `name`.
    pub fn context(mut self, name: impl Into<String>) -> Self {
        self.context = Some(name.into());
        self
    }

    /// The same, with each request bounded by `limit`.
    pub fn request_timeout(mut self, limit: Option<Duration>) -> Self {
        self.request_timeout = limit;
        self
    }
}

/// Connects to the cluster `options` name; the [`Cluster`] writes as `kubectl-astro`.
pub async fn connect(options: &ConnectOptions) -> Result<Cluster, Error> {
    let client = client(
        options.kubeconfig.as_deref(),
        options.context.as_deref(),
        options.request_timeout,
    )
    .await?;
    Ok(Cluster::new(client).request_timeout(options.request_timeout))
}

/// A kube client for the chosen kubeconfig and context.
async fn client(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    timeout: Option<Duration>,
) -> Result<kube::Client, Error> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| {
                Error::Failed(format!("--kubeconfig {}: {}", path.display(), one_line(&e)))
            })?;
            Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| {
                    Error::Failed(format!("--kubeconfig {}: {}", path.display(), one_line(&e)))
                })?
        }
        None if context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| Error::Failed(format!("kubeconfig: {}", one_line(&e))))?,
        None => Config::infer().await.map_err(|e| {
            Error::Failed(format!(
                "no cluster configuration found (KUBECONFIG, ~/.kube/config or in-cluster): {}",
                one_line(&e)
            ))
        })?,
    };
    let mut config = config;
    // One retry layer, ours (cluster::Cluster::call): it also covers resets, 500 and 502, and
    // honours Retry-After. kube's own layer would multiply the attempts.
    config.default_retry = false;
    // A plain-http cluster (a local test server) uses no TLS: give the unused TLS setup an
    // empty trust store instead of letting it load every system CA certificate, which was half
    // of a deploy's CPU (docs/performance.md). https clusters are untouched: the kubeconfig's
    // CA, or the platform verifier when it has none.
    if config.cluster_url.scheme_str() == Some("http") {
        config.root_cert = Some(Vec::new());
        config.root_cert_file = None;
    }
    // `--request-timeout` bounds each request's whole answer where requests are sent
    // (`Cluster::send_once`); a read or write timeout of the same length on the connection
    // would only race it with a vaguer error.
    if let Some(t) = timeout {
        config.connect_timeout = Some(t);
        config.read_timeout = None;
        config.write_timeout = None;
    }
    if tracing::enabled!(tracing::Level::INFO) {
        tracing::info!(
            server = %server(&config.cluster_url),
            kubeconfig = %source(kubeconfig),
            context = %context.map_or_else(|| current_context(kubeconfig), str::to_string),
            auth = %auth_kind(&config.auth_info),
            proxy = config.proxy_url.is_some(),
            http2 = crate::transport::negotiates_http2(&config),
            timeout_ms = timeout.map(|t| t.as_millis() as u64),
            "connecting"
        );
    }
    // https without a proxy: kube's stack, but offering HTTP/2 (see `transport`).
    if crate::transport::negotiates_http2(&config) {
        return crate::transport::client(config)
            .map_err(|e| Error::Failed(format!("cannot create a client: {e}")));
    }
    kube::Client::try_from(config)
        .map_err(|e| Error::Failed(format!("cannot create a client: {e}")))
}

/// The server URL without any user info (`https://user:password@host` is valid).
fn server(url: &http::Uri) -> String {
    let host = url.authority().map_or("", |a| a.host());
    let port = url.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
    let scheme = url.scheme_str().unwrap_or("https");
    format!(
        "{scheme}://{host}{port}{}",
        url.path().trim_end_matches('/')
    )
}

/// Which kubeconfig is read, for the log: a path, never its content.
fn source(kubeconfig: Option<&Path>) -> String {
    match (kubeconfig, std::env::var_os("KUBECONFIG")) {
        (Some(path), _) => format!("--kubeconfig {}", path.display()),
        (None, Some(env)) => format!("KUBECONFIG={}", env.to_string_lossy()),
        (None, None) => "~/.kube/config, else in-cluster".into(),
    }
}

/// The kubeconfig's current-context, for the log (read again: only when logging).
fn current_context(kubeconfig: Option<&Path>) -> String {
    let kc = match kubeconfig {
        Some(path) => Kubeconfig::read_from(path),
        None => Kubeconfig::read(),
    };
    match kc {
        Ok(kc) => kc.current_context.unwrap_or_else(|| "(none)".into()),
        Err(_) => "(no kubeconfig: in-cluster)".into(),
    }
}

/// How the client authenticates, named without the secret itself.
fn auth_kind(a: &kube::config::AuthInfo) -> String {
    if let Some(exec) = &a.exec {
        let command = exec.command.as_deref().unwrap_or("?");
        let name = Path::new(command)
            .file_name()
            .map_or(command.into(), |n| n.to_string_lossy());
        return format!("exec plugin {name}");
    }
    if let Some(provider) = &a.auth_provider {
        return format!("auth provider {}", provider.name);
    }
    let cert = a.client_certificate.is_some() || a.client_certificate_data.is_some();
    let token = a.token.is_some() || a.token_file.is_some();
    match (cert, token, a.username.is_some()) {
        (true, true, _) => "client certificate and bearer token".into(),
        (true, false, _) => "client certificate".into(),
        (false, true, _) if a.token_file.is_some() => "bearer token (from a file)".into(),
        (false, true, _) => "bearer token".into(),
        (false, false, true) => "basic auth".into(),
        (false, false, false) => "none".into(),
    }
}

/// The first line of a configuration error. The YAML parser appends the lines around the
/// mistake, and a kubeconfig's lines hold tokens, client keys and passwords.
fn one_line(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    match text.split_once('\n') {
        Some((first, _)) => format!(
            "{} (source lines hidden: they may hold credentials)",
            first.trim_end()
        ),
        None => text,
    }
}
