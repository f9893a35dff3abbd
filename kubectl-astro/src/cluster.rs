//! One connected cluster: every request the engine sends, each retried when it failed by
//! accident, and the paths of the kinds we render (known statically, so no discovery round
//! trips).

use std::sync::Arc;
use std::time::Duration;

use astro_deploy::resolve::Kind;
use hyper::body::Bytes;
use kube::client::Body;
use kube::core::params::{DeleteParams, GetParams, ListParams, Patch, PatchParams};
use kube::core::request::Error::SerializeBody;
use serde_json::Value;

use crate::body::ApplyBody;
use crate::error::{ApiStatus, CallError, StatusCause};
use crate::events::{Event, Observer};
use crate::stored::Stored;

/// A successful reply: HTTP status and the body, parsed by whoever reads it as much as it
/// needs (see [`Stored`]).
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status (200, 201, …).
    pub code: u16,
    /// Response body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON; `null` when it is not JSON.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// What deploy reads of the object in the body, for field manager `manager`.
    pub fn stored(&self, manager: &str) -> Stored {
        Stored::parse(&self.body, manager)
    }
}

/// How transient failures are retried: capped exponential backoff with jitter.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub retries: usize,
    /// First delay.
    pub min_delay: Duration,
    /// Largest delay between two attempts.
    pub max_delay: Duration,
    /// Largest sum of delays for one request.
    pub total_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 6,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(4),
            total_delay: Duration::from_secs(30),
        }
    }
}

/// A connected cluster and the identity we write with.
#[derive(Clone)]
pub struct Cluster {
    /// The kube client.
    pub client: kube::Client,
    /// Field manager of our applies.
    pub field_manager: String,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Longest wait for one request's whole answer; each attempt gets its own. None: no limit.
    pub request_timeout: Option<Duration>,
    /// Who hears of retries and progress.
    pub observer: Arc<dyn Observer>,
}

impl Cluster {
    /// A cluster reached through `client`, written to as field manager `kubectl-astro`, with
    /// the default retries, no request timeout and nobody told of progress.
    pub fn new(client: kube::Client) -> Cluster {
        Cluster {
            client,
            field_manager: crate::FIELD_MANAGER.to_string(),
            retry: RetryPolicy::default(),
            request_timeout: None,
            observer: Arc::new(crate::events::Silent),
        }
    }

    /// The same, writing as `manager`.
    pub fn field_manager(mut self, manager: impl Into<String>) -> Cluster {
        self.field_manager = manager.into();
        self
    }

    /// The same, with each request's answer bounded by `limit`.
    pub fn request_timeout(mut self, limit: Option<Duration>) -> Cluster {
        self.request_timeout = limit;
        self
    }

    /// The same, telling `observer` of retries and progress.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Cluster {
        self.observer = observer;
        self
    }

    /// The field manager of the inventory annotation (`<manager>-inventory`).
    pub fn inventory_manager(&self) -> String {
        format!("{}-inventory", self.field_manager)
    }

    /// The field manager of generated store passwords (`<manager>-generated`).
    pub fn generated_manager(&self) -> String {
        format!("{}-generated", self.field_manager)
    }

    /// The field manager of deployment records (`<manager>-history`).
    pub fn history_manager(&self) -> String {
        format!("{}-history", self.field_manager)
    }
}

impl Cluster {
    /// Sends one request, retrying transient failures, and returns the reply or the API's
    /// Status. Every request we send is safe to repeat: GET and LIST read; server-side apply
    /// is idempotent (the same body merged twice gives the same object, and a no-op stores
    /// nothing); DELETE either deletes or answers 404, which callers treat as done, and prune
    /// deletes carry a resourceVersion precondition.
    pub async fn call(
        &self,
        request: Result<http::Request<Bytes>, kube::core::request::Error>,
    ) -> Result<Reply, CallError> {
        use backon::{ExponentialBuilder, Retryable};
        let request = request.map_err(request_error)?;
        let policy = self.retry;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.retries)
            .with_total_delay(Some(policy.total_delay))
            .with_jitter();
        let attempts = std::sync::atomic::AtomicUsize::new(0);
        // Logged by method and path (kind, namespace, name, query) only: never headers or body.
        let (method, path) = (request.method(), request.uri());
        (|| async {
            let attempt = attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let started = std::time::Instant::now();
            let result = self.send_once(clone_request(&request)).await;
            let ms = started.elapsed().as_millis() as u64;
            let code = match &result {
                Ok(r) => r.code,
                Err(e) => e.code(),
            };
            self.observer.on_event(&Event::Attempted { code });
            match &result {
                Ok(r) => {
                    tracing::debug!(%method, %path, status = r.code, ms, attempt, "request done")
                }
                Err(e) => {
                    let (status, reason) = (e.code(), e.reason());
                    tracing::debug!(%method, %path, status, %reason, ms, attempt, "request failed")
                }
            }
            result
        })
        .retry(backoff)
        .when(CallError::is_transient)
        // Honour Retry-After, capped so one answer cannot stall a deploy.
        .adjust(|e, delay| {
            delay.map(|d| {
                e.retry_after()
                    .map_or(d, |a| a.min(Duration::from_secs(30)))
            })
        })
        .notify(|e, delay| {
            let attempt = attempts.load(std::sync::atomic::Ordering::Relaxed);
            let (status, reason, backoff_ms) = (e.code(), e.reason(), delay.as_millis() as u64);
            let retry_after_s = e.retry_after().map(|d| d.as_secs());
            // Debug, not info: the observer already tells every user; -vv adds which request,
            // which attempt and why.
            tracing::debug!(
                %method, %path, attempt, backoff_ms, retry_after_s, status, %reason, "retrying"
            );
            self.observer.on_event(&Event::Retrying { delay, error: e });
        })
        .await
    }

    /// One attempt, within `request_timeout` when there is one. The deadline is the request's
    /// own: over HTTP/2 a stuck request fails alone, and the connection it shares stays up.
    async fn send_once(&self, request: http::Request<Bytes>) -> Result<Reply, CallError> {
        let Some(limit) = self.request_timeout else {
            return self.exchange(request).await;
        };
        tokio::time::timeout(limit, self.exchange(request))
            .await
            .unwrap_or(Err(CallError::Timeout(limit)))
    }

    /// Sends `request` and reads its whole answer.
    async fn exchange(&self, request: http::Request<Bytes>) -> Result<Reply, CallError> {
        let response = self
            .client
            .send(request.map(Body::from))
            .await
            .map_err(|e| {
                let message = transport_message(&e);
                if is_tls_failure(&e) {
                    CallError::Tls(message)
                } else {
                    CallError::Transport(message)
                }
            })?;
        let code = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response
            .into_body()
            .collect_bytes()
            .await
            .map_err(|e| CallError::Transport(format!("reading response: {e}")))?;
        if (200..300).contains(&code) {
            return Ok(Reply { code, body: bytes });
        }
        let object: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let causes = object
            .pointer("/details/causes")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .map(|c| StatusCause {
                        field: text(c, "field"),
                        message: text(c, "message"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut message = text(&object, "message");
        if message.is_empty() {
            message = String::from_utf8_lossy(&bytes).chars().take(300).collect();
        }
        Err(CallError::Status(ApiStatus {
            code,
            reason: text(&object, "reason"),
            message,
            causes,
            retry_after,
        }))
    }

    /// GET one object.
    pub async fn get(&self, kind: Kind, ns: &str, name: &str) -> Result<Reply, CallError> {
        self.call(
            kube::core::Request::new(kind.collection_path(ns))
                .get(name, &GetParams::default())
                .map(bytes_body),
        )
        .await
    }

    /// LIST objects of `kind` in `ns` matching `selector`.
    pub async fn list(
        &self,
        kind: Kind,
        ns: &str,
        selector: &str,
    ) -> Result<Vec<Value>, CallError> {
        self.list_at(kind.collection_path(ns), selector).await
    }

    /// LIST the objects of the collection at `path` (`/api/v1/namespaces/{ns}/pods`: a kind
    /// the library does not render) matching `selector`.
    pub async fn list_at(&self, path: String, selector: &str) -> Result<Vec<Value>, CallError> {
        let lp = ListParams::default().labels(selector);
        let reply = self
            .call(kube::core::Request::new(path).list(&lp).map(bytes_body))
            .await?;
        Ok(reply
            .value()
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// Server-side apply of `object`; `dry_run` asks the server to merge without storing.
    pub async fn apply(
        &self,
        kind: Kind,
        ns: &str,
        name: &str,
        object: &Value,
        force: bool,
        dry_run: bool,
    ) -> Result<Reply, CallError> {
        let body = ApplyBody::new(object)?;
        self.apply_body(kind, ns, name, &body, force, dry_run).await
    }

    /// Server-side apply of a body already serialized (see [`ApplyBody`]).
    pub async fn apply_body(
        &self,
        kind: Kind,
        ns: &str,
        name: &str,
        body: &ApplyBody,
        force: bool,
        dry_run: bool,
    ) -> Result<Reply, CallError> {
        let mut pp = PatchParams::apply(&self.field_manager);
        pp.force = force;
        pp.dry_run = dry_run;
        self.call(apply_request(kind, ns, name, &pp, body.bytes()))
            .await
    }

    /// Server-side apply under another field manager (the inventory, generated passwords).
    pub async fn apply_as(
        &self,
        manager: &str,
        kind: Kind,
        ns: &str,
        name: &str,
        object: &Value,
    ) -> Result<Reply, CallError> {
        let pp = PatchParams::apply(manager).force();
        let request = serde_json::to_vec(object)
            .map_err(SerializeBody)
            .and_then(|body| apply_request(kind, ns, name, &pp, Bytes::from(body)));
        self.call(request).await
    }

    /// DELETE one object, optionally only if its resourceVersion is still `rv`.
    pub async fn delete(
        &self,
        kind: Kind,
        ns: &str,
        name: &str,
        rv: Option<&str>,
    ) -> Result<Reply, CallError> {
        let mut dp = DeleteParams::background();
        if let Some(rv) = rv {
            dp.preconditions = Some(kube::core::params::Preconditions {
                resource_version: Some(rv.to_string()),
                uid: None,
            });
        }
        self.call(
            kube::core::Request::new(kind.collection_path(ns))
                .delete(name, &dp)
                .map(bytes_body),
        )
        .await
    }
}

/// A request that could not be built, as the failure of its call (never retried).
pub(crate) fn request_error(e: kube::core::request::Error) -> CallError {
    CallError::Request(e.to_string())
}

/// An apply request as kube builds it (path, query, headers, validation), carrying `body`:
/// the object serialized once by the caller instead of again by kube.
fn apply_request(
    kind: Kind,
    ns: &str,
    name: &str,
    pp: &PatchParams,
    body: Bytes,
) -> Result<http::Request<Bytes>, kube::core::request::Error> {
    let request =
        kube::core::Request::new(kind.collection_path(ns)).patch(name, pp, &Patch::Apply(()))?;
    Ok(request.map(|_| body))
}

/// A request kube built, its body as [`Bytes`] (shared, not copied, by each retry).
fn bytes_body(request: http::Request<Vec<u8>>) -> http::Request<Bytes> {
    request.map(Bytes::from)
}

/// A copy of a request (http::Request is not Clone) for another attempt.
fn clone_request(r: &http::Request<Bytes>) -> http::Request<Bytes> {
    let mut copy = http::Request::new(r.body().clone());
    *copy.method_mut() = r.method().clone();
    *copy.uri_mut() = r.uri().clone();
    *copy.version_mut() = r.version();
    *copy.headers_mut() = r.headers().clone();
    copy
}

/// A transport error in one line, naming what could not be reached.
fn transport_message(e: &kube::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    format!("cluster unreachable: {msg}")
}

/// Whether a failure to send comes from the TLS handshake: a `rustls::Error` somewhere in
/// its chain of causes (hyper-rustls hands it up inside `io::Error`s, whose inner error is
/// reached through `get_ref`, not `source`).
fn is_tls_failure(e: &kube::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<rustls::Error>() {
            return true;
        }
        cause = match c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner),
            None => c.source(),
        };
    }
    false
}

/// `metadata.resourceVersion` of an object.
pub fn resource_version(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chain hyper-util and hyper-rustls build for an untrusted server certificate, and
    /// one for a refused connection.
    #[test]
    fn tls_failures_are_told_by_type() {
        use std::io::{Error as IoError, ErrorKind};
        let rustls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let nested = IoError::other(IoError::new(ErrorKind::InvalidData, rustls));
        assert!(is_tls_failure(&kube::Error::Service(Box::new(nested))));
        let refused = IoError::new(ErrorKind::ConnectionRefused, "certificate in the message");
        assert!(!is_tls_failure(&kube::Error::Service(Box::new(refused))));
    }
}
