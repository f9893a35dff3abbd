//! The HTTPS client stack: kube's own, over a connector that also speaks HTTP/2.
//!
//! kube-client 5 builds its hyper client for HTTP/1.1 only (its `rustls_https_connector`
//! enables `http1` alone, so the TLS handshake offers no ALPN). Each request in flight then
//! needs a connection of its own: a first deploy, which applies up to `--concurrency` objects
//! at once, opened 11 TLS connections, each a handshake and a client-certificate signature
//! (`docs/performance.md`). kube-apiserver, like kubectl and client-go, speaks HTTP/2: one
//! connection carries every request.
//!
//! [`client`] therefore builds what `kube::Client::try_from` builds (kube-client 5.0.0,
//! `client/builder.rs`: `make_generic_builder`, which kube keeps private), layer for layer,
//! with one difference: the TLS connector offers `h2` and `http/1.1` by ALPN. A server that
//! picks `h2` gets one shared connection; a server that picks `http/1.1` (or offers no ALPN)
//! gets exactly kube's HTTP/1.1 behaviour. From the outside in:
//!
//! * base URI (`ConfigExt::base_uri_layer`): the cluster URL and its path prefix;
//! * authentication (`ConfigExt::auth_layer`): bearer token, basic auth, token files and exec
//!   plugins with their refresh; client certificates (also those an exec plugin returns) are
//!   in the TLS configuration instead;
//! * extra headers (`ConfigExt::extra_headers_layer`): impersonation;
//! * kube's `HTTP` tracing span, the same fields and events (`-vvv`, `RUST_LOG=kube_client`);
//! * hyper-util's pooled client over `hyper-timeout` (the connect timeout only; see below for
//!   `--request-timeout`) over `hyper-rustls` with kube's rustls configuration
//!   (`ConfigExt::rustls_client_config`: CA data or file, `insecure-skip-tls-verify`, client
//!   identity) and `tls-server-name`.
//!
//! Left out on purpose: kube's retry layer (`Config::default_retry`, always off here: ours is
//! `Cluster::call`'s), gzip decompression (kube's `gzip` feature, not enabled), proxies
//! (`connect` keeps `kube::Client::try_from` when the kubeconfig names one, so proxy handling
//! stays kube's) and `Client::valid_until` (the expiry of an exec plugin's client certificate,
//! which kube computes privately and nothing here reads).
//!
//! One addition, [`FirstRequestAlone`]: until a first request has been answered, the others
//! wait for it. hyper's pool learns whether a server speaks HTTP/2 only when a connection's
//! handshake ends, so a first round of concurrent requests (a `diff` GETs every object at once)
//! would otherwise open a connection per request and keep one. Waiting costs the others one
//! round trip; it saves a TLS handshake per request, and against an HTTP/1.1-only server the
//! others then open their connections as before.
//!
//! HTTP/2 settings, as Go and client-go configure them: `TCP_NODELAY` (HTTP/2 writes a
//! request's HEADERS and DATA frames apart, and Nagle's algorithm would hold the DATA for the
//! server's delayed ACK: over 40 ms per request with a body, measured); a ping when a
//! connection with requests in flight has been silent for 30 s, and the connection is closed
//! when the ping is not answered within 15 s (client-go's `ReadIdleTimeout` and
//! `PingTimeout`), so a dead TCP connection cannot hang every request multiplexed on it.
//! `--request-timeout` is not a read timeout on the connection (which would fail every request
//! sharing it) but each request's own deadline, set where requests are sent
//! (`Cluster::send_once`), as client-go's `http.Client.Timeout` is.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderMap, Request, Response};
use hyper::body::Incoming;
use hyper_timeout::TimeoutConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::{Body, ConfigExt};
use kube::config::Config;
use tokio::sync::Semaphore;
use tower::{BoxError, Service, ServiceBuilder};
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::trace::TraceLayer;
use tracing::Span;

/// client-go's `ReadIdleTimeout`: ping a connection that has been silent this long.
const PING_AFTER_SILENCE: Duration = Duration::from_secs(30);
/// client-go's `PingTimeout`: close the connection when the ping is unanswered this long.
const PING_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether [`client`] serves `config`: an `https://` cluster reached without a proxy.
pub fn negotiates_http2(config: &Config) -> bool {
    config.cluster_url.scheme_str() == Some("https") && config.proxy_url.is_none()
}

/// A kube client for `config` (see [`negotiates_http2`]) whose TLS connections offer `h2`
/// and `http/1.1` by ALPN. Errors name the part of the configuration at fault, never a
/// credential's value.
pub fn client(config: Config) -> Result<kube::Client, String> {
    let auth = config
        .auth_layer()
        .map_err(|e| format!("authentication: {e}"))?;
    let headers = config
        .extra_headers_layer()
        .map_err(|e| format!("impersonation headers: {e}"))?;
    let tls = config
        .rustls_client_config()
        .map_err(|e| format!("TLS configuration: {e}"))?;

    let mut https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    if let Some(name) = &config.tls_server_name {
        let server_name = rustls::pki_types::ServerName::try_from(name.clone())
            .map_err(|e| format!("tls-server-name {name:?}: {e}"))?;
        https = https
            .with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(server_name));
    }
    let mut connector =
        TimeoutConnector::new(https.enable_all_versions().wrap_connector(tcp_connector()));
    // Only the connect timeout here: a read or write timeout would count silence on the whole
    // connection, and on a shared HTTP/2 connection fail every request on it at once.
    // `--request-timeout` is each request's own deadline (`Cluster::send_once`); a dead
    // connection is found by the pings.
    connector.set_connect_timeout(config.connect_timeout);

    let hyper_client = hyper_util::client::legacy::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .http2_keep_alive_interval(PING_AFTER_SILENCE)
        .http2_keep_alive_timeout(PING_TIMEOUT)
        .build::<_, Body>(connector);

    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(auth)
        .layer(headers)
        .layer(trace_layer())
        .map_err(BoxError::from)
        .service(FirstRequestAlone::new(hyper_client));
    Ok(kube::Client::new(service, config.default_namespace))
}

/// The TCP connector under TLS: any scheme (TLS is the layer above), and no Nagle, as Go dials
/// (client-go, kubectl). HTTP/1.1 writes a request in one go; HTTP/2 writes HEADERS and DATA
/// frames apart, and Nagle holds the DATA until the server's delayed ACK of the HEADERS: 40 ms
/// or more per request with a body (a first deploy took 187 ms instead of 16).
fn tcp_connector() -> HttpConnector {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp
}

/// The target of kube's `HTTP` span and events: the module that logs them in kube. Ours log
/// under it too, so `-vv` (`kube_client=info`) and `RUST_LOG=kube_client=debug` show and hide
/// them exactly as they do kube's own.
const KUBE_TARGET: &str = "kube_client::client::builder";

/// kube's `HTTP` span and events (kube-client 5.0.0 `make_generic_builder`), field for field:
/// method and URL (the path and query; never a header or a body), status, and an `ERROR`
/// event for a 5xx or a transport failure.
#[expect(
    clippy::type_complexity,
    reason = "the closures' types are what kube's inline layer has; naming them would not help"
)]
fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    impl Fn(&Request<Body>) -> Span + Clone,
    impl Fn(&Request<Body>, &Span) + Clone,
    impl Fn(&Response<Incoming>, Duration, &Span) + Clone,
    (),
    impl Fn(Option<&HeaderMap>, Duration, &Span) + Clone,
    impl Fn(ServerErrorsFailureClass, Duration, &Span) + Clone,
> {
    TraceLayer::new_for_http()
        .make_span_with(|req: &Request<Body>| {
            tracing::debug_span!(
                target: KUBE_TARGET,
                "HTTP",
                http.method = %req.method(),
                http.url = %req.uri(),
                http.status_code = tracing::field::Empty,
                otel.name = req.extensions().get::<&'static str>().unwrap_or(&"HTTP"),
                otel.kind = "client",
                otel.status_code = tracing::field::Empty,
            )
        })
        .on_request(|_req: &Request<Body>, _span: &Span| {
            tracing::debug!(target: KUBE_TARGET, "requesting");
        })
        .on_response(
            |res: &Response<Incoming>, _latency: Duration, span: &Span| {
                let status = res.status();
                span.record("http.status_code", status.as_u16());
                if status.is_client_error() || status.is_server_error() {
                    span.record("otel.status_code", "ERROR");
                }
            },
        )
        .on_body_chunk(())
        .on_eos(|_: Option<&HeaderMap>, _duration: Duration, _span: &Span| {
            tracing::debug!(target: KUBE_TARGET, "stream closed");
        })
        .on_failure(
            |ec: ServerErrorsFailureClass, _latency: Duration, span: &Span| {
                span.record("otel.status_code", "ERROR");
                match ec {
                    ServerErrorsFailureClass::StatusCode(status) => {
                        span.record("http.status_code", status.as_u16());
                        tracing::error!(target: KUBE_TARGET, "failed with status {}", status)
                    }
                    ServerErrorsFailureClass::Error(err) => {
                        tracing::error!(target: KUBE_TARGET, "failed with error {}", err)
                    }
                }
            },
        )
}

/// A service that sends one request alone, and the others only once it has been answered
/// (or has failed): by then the pool holds the connection and knows its protocol, so the
/// others share it (HTTP/2) or open their own (HTTP/1.1). A first request that is dropped
/// unanswered hands the turn to the next.
#[derive(Clone)]
pub struct FirstRequestAlone<S> {
    inner: S,
    /// One permit while the first request is out; closed (everyone passes) once answered.
    gate: Arc<Semaphore>,
}

impl<S> FirstRequestAlone<S> {
    /// Wraps `inner`; no request has been answered yet.
    pub fn new(inner: S) -> Self {
        FirstRequestAlone {
            inner,
            gate: Arc::new(Semaphore::new(1)),
        }
    }
}

impl<S, R> Service<R> for FirstRequestAlone<S>
where
    S: Service<R> + Clone + Send + 'static,
    S::Future: Send,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        // The service polled ready goes with this request; a clone stays for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = self.gate.clone();
        Box::pin(async move {
            // Err: the gate is closed, a first request has been answered.
            let first = gate.acquire().await.ok();
            let response = inner.call(request).await;
            if first.is_some() {
                gate.close();
            }
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt;

    /// The connections under TLS have Nagle off (see [`super::tcp_connector`]): without it
    /// every HTTP/2 request with a body waits for a delayed ACK, which no functional test sees.
    #[tokio::test]
    async fn connections_are_made_without_nagle() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await;
        let Ok(listener) = listener else {
            panic!("bind: {listener:?}")
        };
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let uri: http::Uri = match format!("https://{addr}").parse() {
            Ok(u) => u,
            Err(e) => panic!("{e}"),
        };
        let conn = super::tcp_connector().oneshot(uri).await;
        let Ok(conn) = conn else {
            panic!("connect: {conn:?}")
        };
        assert_eq!(conn.inner().nodelay().ok(), Some(true));
    }
}
