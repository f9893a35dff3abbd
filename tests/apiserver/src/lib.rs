//! test-apiserver: an in-process Kubernetes API server for tests, faithful to kube-apiserver 1.32
//! as kubectl 1.32 and kube-rs see it; `docs/apiserver-fidelity.md` lists what it implements and
//! the upstream code each behaviour follows.
//!
//! Start one per test with [`TestApiServer::start`]; point `kubectl` at it with
//! [`TestApiServer::write_kubeconfig`] or use [`TestApiServer::client`].
#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod controller;
pub mod defaults;
mod delay;
pub mod deletion;
pub mod discovery;
pub mod faults;
pub mod fieldpath;
mod http;
pub mod lastapplied;
pub mod lifecycle;
pub mod managed;
mod optimistic;
pub mod patch;
pub mod protobuf;
pub mod query;
pub mod resources;
pub mod scale;
pub mod schema;
pub mod selector;
pub mod status;
pub mod store;
pub mod strict;
pub mod table;
pub mod tls;
pub mod tokenreview;
pub mod typed;
pub mod util;
pub mod validation;
mod watch;
pub mod write;

pub use auth::AllowRule;
pub use controller::ControllerMode;
pub use faults::{Fault, FaultAction, FaultController, LoggedRequest};
pub use lifecycle::Lifecycle;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Options for [`TestApiServer::start_with`].
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Port to listen on (0 = random).
    pub port: u16,
    /// Bearer token → user name; empty disables token authentication (apiserver
    /// `authentication/request/x509`; `filters/authentication.go`): requests without a client
    /// certificate are then `system:anonymous`. A client certificate signed by the server's CA
    /// ([`TestApiServer::client_certificate`], TLS only) authenticates its CN either way.
    pub tokens: BTreeMap<String, String>,
    /// Accept requests without a token as `system:anonymous` when tokens are set.
    pub allow_anonymous: bool,
    /// Allow-list authorizer; `None` allows everything (apiserver `responsewriters/errors.go`
    /// `forbiddenMessage`).
    pub allow: Option<Vec<AllowRule>>,
    /// Start with the workload controller on
    /// (`pkg/controller/deployment/util/deployment_util.go`).
    pub controller: bool,
    /// Whether namespace deletion and workload status happen in the background, a moment
    /// after the request, as on a cluster (the default), or inside the request.
    pub lifecycle: Lifecycle,
    /// How often the background controllers look (asynchronous lifecycle).
    pub controller_interval: std::time::Duration,
    /// Create the bootstrap objects of a fresh cluster (`pkg/controlplane/controller`): namespaces
    /// `default`, `kube-system`, `kube-public`, `kube-node-lease` and Service `default/kubernetes`.
    pub bootstrap: bool,
    /// Keep deleted namespaces in `Terminating` until `PUT .../finalize`
    /// (`pkg/registry/core/namespace/storage/storage.go` opt-in).
    pub keep_terminating_namespaces: bool,
    /// Serve HTTPS with a fresh per-server CA and a serving certificate it signed (the
    /// kubeconfig carries the CA as `certificate-authority-data`). Client certificates are
    /// requested, not required; see [`tls`]. ALPN offers `h2` and `http/1.1`, and each
    /// connection is served in the protocol its client chose (plain HTTP is HTTP/1.1 only).
    pub tls: bool,
    /// With `tls`, offer `http/1.1` alone by ALPN: every connection is HTTP/1.1
    /// (kube-apiserver's `--disable-http2-serving`).
    pub disable_http2: bool,
    /// A network round trip added to every exchange, as a cluster that is not on loopback
    /// has one (zero, the default: loopback). Every answer — a get, a list, the first bytes of
    /// a watch, an error, a fault's status — is held this long after the request was handled
    /// before it is sent, and every new connection waits this long before its first request
    /// is read (the TCP handshake; over TLS, once more after the TLS handshake). The request
    /// itself takes effect when it arrives; events of a watch already open are not delayed.
    /// The waits are timed by a thread of their own to within tens of microseconds (tokio's
    /// timer would add up to a millisecond).
    pub rtt: std::time::Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            port: 0,
            tokens: BTreeMap::new(),
            allow_anonymous: false,
            allow: None,
            controller: false,
            lifecycle: Lifecycle::Asynchronous,
            controller_interval: lifecycle::DEFAULT_INTERVAL,
            bootstrap: true,
            keep_terminating_namespaces: false,
            tls: false,
            disable_http2: false,
            rtt: std::time::Duration::ZERO,
        }
    }
}

/// A running in-process API server; stops when dropped.
pub struct TestApiServer {
    inner: Arc<http::Inner>,
    port: u16,
    task: JoinHandle<()>,
    controllers: JoinHandle<()>,
    token: Option<String>,
    tls: Option<Arc<tls::Tls>>,
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        self.task.abort();
        self.controllers.abort();
    }
}

impl TestApiServer {
    /// Starts a server on a random 127.0.0.1 port, plain HTTP, no auth, with bootstrap objects.
    pub async fn start() -> anyhow::Result<TestApiServer> {
        Self::start_with(ServerOptions::default()).await
    }

    /// Starts a server with options (auth tokens/allow-list, controller on/off, port).
    pub async fn start_with(opts: ServerOptions) -> anyhow::Result<TestApiServer> {
        let listener = TcpListener::bind(("127.0.0.1", opts.port)).await?;
        let port = listener.local_addr()?.port();
        let state = store::State {
            controller: if opts.controller {
                ControllerMode::Ready
            } else {
                ControllerMode::Off
            },
            keep_terminating: opts.keep_terminating_namespaces,
            lifecycle: opts.lifecycle,
            ..store::State::default()
        };
        let inner = Arc::new(http::Inner {
            state: Mutex::new(state),
            log: Mutex::new(Vec::new()),
            faults: FaultController {
                inner: Arc::new(Mutex::new(Default::default())),
            },
            auth: auth::AuthConfig {
                tokens: opts.tokens.clone(),
                allow_anonymous: opts.allow_anonymous,
                allow: opts.allow.clone(),
            },
            host: format!("127.0.0.1:{port}"),
            notify: tokio::sync::Notify::new(),
            connections: std::sync::atomic::AtomicU64::new(0),
            requests: std::sync::atomic::AtomicU64::new(0),
            rtt: opts.rtt,
            delay: if opts.rtt.is_zero() {
                None
            } else {
                Some(delay::DelayLine::start()?)
            },
        });
        if opts.bootstrap {
            let mut st = inner
                .state
                .lock()
                .map_err(|_| anyhow::anyhow!("state lock poisoned"))?;
            bootstrap::bootstrap(&mut st)?;
        }
        let tls = if opts.tls {
            Some(Arc::new(tls::Tls::generate_with(!opts.disable_http2)?))
        } else {
            None
        };
        let task = tokio::spawn(http::serve(listener, inner.clone(), tls.clone()));
        let controllers = tokio::spawn(lifecycle::run(inner.clone(), opts.controller_interval));
        Ok(TestApiServer {
            inner,
            port,
            task,
            controllers,
            token: opts.tokens.keys().next().cloned(),
            tls,
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// A kubeconfig whose cluster, context and user are all named `test-apiserver` (client-go
    /// `clientcmd`). If tokens are configured, the user carries the first token.
    pub fn kubeconfig_yaml(&self) -> String {
        let user = match &self.token {
            Some(t) => format!("  user:\n    token: {t}\n"),
            None => "  user: {}\n".to_string(),
        };
        self.kubeconfig_with_user(&user)
    }

    /// Like [`Self::kubeconfig_yaml`], but the user authenticates with a client certificate
    /// only (`client-certificate-data` / `client-key-data`, base64 of the PEMs; no token).
    /// Get one with [`Self::client_certificate`].
    pub fn kubeconfig_yaml_with_client_cert(&self, cert_pem: &str, key_pem: &str) -> String {
        let user = format!(
            "  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
            base64_text(cert_pem),
            base64_text(key_pem)
        );
        self.kubeconfig_with_user(&user)
    }

    fn kubeconfig_with_user(&self, user: &str) -> String {
        let ca = match &self.tls {
            Some(tls) => format!(
                "    certificate-authority-data: {}\n",
                base64_text(&tls.ca_pem)
            ),
            None => String::new(),
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test-apiserver\n  cluster:\n    server: {}\n{ca}contexts:\n- name: test-apiserver\n  context:\n    cluster: test-apiserver\n    user: test-apiserver\n    namespace: default\ncurrent-context: test-apiserver\nusers:\n- name: test-apiserver\n{user}preferences: {{}}\n",
            self.base_url()
        )
    }

    /// Writes [`Self::kubeconfig_yaml`] to `path`.
    pub fn write_kubeconfig(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    /// The per-server CA certificate as PEM (what a client must trust), when serving TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// A client certificate signed by this server's CA, as `(certificate PEM, key PEM)`:
    /// subject CN = `user`, O = each of `groups` (at most two). Like kube-apiserver, the server
    /// authenticates it as user `user` in `groups` + `system:authenticated`, before any bearer
    /// token; [`AllowRule::new`] (user) and [`AllowRule::for_group`] rules then apply. A
    /// certificate from another CA (e.g. another server's) is a 401 unless a valid token comes
    /// with it. Errors when the server does not serve TLS.
    pub fn client_certificate(
        &self,
        user: &str,
        groups: &[&str],
    ) -> anyhow::Result<(String, String)> {
        match &self.tls {
            Some(tls) => tls.client_certificate(user, groups),
            None => anyhow::bail!(
                "client certificates need a TLS server (ServerOptions {{ tls: true, .. }})"
            ),
        }
    }

    fn kube_config(&self) -> anyhow::Result<kube::Config> {
        let mut cfg = kube::Config::new(self.base_url().parse()?);
        if let Some(tls) = &self.tls {
            cfg.root_cert = Some(vec![tls.ca_der.clone()]);
        }
        cfg.default_namespace = "default".into();
        Ok(cfg)
    }

    /// A real `kube::Client` pointed at this server.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let mut cfg = self.kube_config()?;
        if let Some(t) = &self.token {
            cfg.auth_info.token = Some(t.clone().into());
        }
        Ok(kube::Client::try_from(cfg)?)
    }

    /// A `kube::Client` that presents the client certificate `cert_pem` with key `key_pem`
    /// (and no token), trusting this server's CA.
    pub async fn client_with_certificate(
        &self,
        cert_pem: &str,
        key_pem: &str,
    ) -> anyhow::Result<kube::Client> {
        let mut cfg = self.kube_config()?;
        cfg.auth_info.client_certificate_data = Some(base64_text(cert_pem));
        cfg.auth_info.client_key_data = Some(base64_text(key_pem).into());
        Ok(kube::Client::try_from(cfg)?)
    }

    /// Every request handled so far, in order.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.inner.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The `(protocol, connection)` of every request handled so far, in order: which HTTP
    /// version each came over (`HTTP/1.1`, `HTTP/2.0`) and on which connection.
    pub fn request_protocols(&self) -> Vec<(String, u64)> {
        self.request_log()
            .into_iter()
            .map(|r| (r.protocol, r.connection))
            .collect()
    }

    /// How many TCP connections the server has accepted since it started (with TLS, each one
    /// a handshake). Requests name theirs in [`LoggedRequest::connection`].
    pub fn connections(&self) -> u64 {
        self.inner
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Empties the request log.
    pub fn clear_request_log(&self) {
        if let Ok(mut l) = self.inner.log.lock() {
            l.clear();
        }
    }

    /// The fault controller of this server.
    pub fn faults(&self) -> FaultController {
        self.inner.faults.clone()
    }

    /// Turns the Deployment/StatefulSet/Job status writer on or off
    /// (`pkg/controller/deployment/util/deployment_util.go`).
    pub fn set_controller(&self, on: bool) {
        self.set_controller_mode(if on {
            ControllerMode::Ready
        } else {
            ControllerMode::Off
        });
    }

    /// Sets the controller behaviour: off, ready, or stalled (failing workloads,
    /// `pkg/controller/deployment/util/deployment_util.go`).
    pub fn set_controller_mode(&self, mode: ControllerMode) {
        util::lock(&self.inner.state).controller = mode;
    }

    /// The current cluster-wide resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.inner.state.lock().map(|s| s.rv).unwrap_or(0)
    }
}

/// Standard base64, as kubeconfig `*-data` fields carry PEM.
fn base64_text(text: &str) -> String {
    util::base64_encode(text.as_bytes())
}
