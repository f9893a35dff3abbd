//! One deploy or undeploy of a deployment at a time across processes: a
//! `coordination.k8s.io/v1` Lease per deployment namespace, held with client-go's
//! leader-election rules (`tools/leaderelection/leaderelection.go`, `tryAcquireOrRenew`).
//!
//! The Lease lives in namespace `astro-system` (created when missing) and is named after the
//! namespace the deploy writes, which holds the inventory it guards. It is not in that
//! namespace itself: a first deploy has no namespace to put it in yet, and undeploy deletes
//! it. A holder renews it every [`LockOptions::renew_every`]; a waiter takes it over when it
//! is released (no holder), or when its record has not changed for its
//! `leaseDurationSeconds` (the holder died), or when its `renewTime` is older than twice
//! that by this machine's clock. Every write carries the `resourceVersion` it read, so of two
//! waiters only one wins; the other reads again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use astro_deploy::resolve::Kind;
use hyper::body::Bytes;
use kube::core::params::{DeleteParams, GetParams, PostParams, Preconditions};
use serde_json::{Value, json};

use crate::catalog;
use crate::cluster::Cluster;
use crate::error::{CallError, Error};

/// Namespace of the Leases (the build catalog's).
pub const NAMESPACE: &str = catalog::NAMESPACE;

/// How a lock is taken and kept. `LockOptions::default()`: wait up to 60 s for another
/// holder, a 30 s lease renewed every 10 s, a look every 500 ms while waiting.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LockOptions {
    /// Who holds it: `holderIdentity`, unique per process (host, pid, random suffix).
    pub identity: String,
    /// How long to wait for another holder to release it or for its lease to expire.
    pub wait: Duration,
    /// `leaseDurationSeconds` of our lease: how long others wait after our last renewal
    /// before they take it over.
    pub lease_duration: Duration,
    /// How often the holder renews it.
    pub renew_every: Duration,
    /// How often a waiter reads it again.
    pub retry_every: Duration,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            identity: identity(),
            wait: Duration::from_secs(60),
            lease_duration: Duration::from_secs(30),
            renew_every: Duration::from_secs(10),
            retry_every: Duration::from_millis(500),
        }
    }
}

impl LockOptions {
    /// The same, waiting at most `wait` for another holder.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The same, with a lease of `duration` renewed every `renew_every`.
    pub fn lease(mut self, duration: Duration, renew_every: Duration) -> Self {
        self.lease_duration = duration;
        self.renew_every = renew_every;
        self
    }

    /// The same, reading the lease every `every` while waiting.
    pub fn retry_every(mut self, every: Duration) -> Self {
        self.retry_every = every;
        self
    }
}

/// A unique holder identity for this process: `kubectl-astro@<host>/<pid>-<8 hex>`.
pub fn identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    let mut random = [0u8; 4];
    // Without randomness the pid alone still tells processes of one host apart.
    let _ = getrandom::fill(&mut random);
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("kubectl-astro@{host}/{}-{suffix}", std::process::id())
}

/// A held lock: renewed in the background until [`Held::release`] or [`Held::delete`].
/// Dropped without either, it stops being renewed and expires.
#[derive(Debug)]
pub struct Held {
    name: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

/// What the holder and its renewer share.
#[derive(Debug)]
struct Shared {
    /// The lease as last written by us (its resourceVersion is the precondition of the next
    /// write); `None` once it is lost.
    lease: tokio::sync::Mutex<Option<Value>>,
    /// Why the lease was lost, when it was.
    lost: std::sync::Mutex<Option<String>>,
}

/// The path of the Leases.
fn collection() -> String {
    format!("/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases")
}

/// A MicroTime now: RFC 3339 with microseconds, UTC.
fn micro_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// Seconds as the API's integer, at least 1.
fn seconds(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX).max(1)
}

/// A spec field of a lease as text.
fn spec_str<'a>(lease: &'a Value, field: &str) -> &'a str {
    lease
        .pointer(&format!("/spec/{field}"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// A spec field of a lease as a number.
fn spec_int(lease: &Value, field: &str) -> i64 {
    lease
        .pointer(&format!("/spec/{field}"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Takes the lock of deployment namespace `name`, waiting up to `options.wait` for another
/// holder. `Error::Busy` names the holder when it is still held after the wait.
pub async fn acquire(cluster: &Cluster, name: &str, options: &LockOptions) -> Result<Held, Error> {
    let started = Instant::now();
    let context = format!("Lease {NAMESPACE}/{name}");
    let failed = |e: CallError| Error::call(&context, e);
    // The record last seen and when it was first seen (client-go's observedRecord and
    // observedTime): a holder that stops renewing leaves it unchanged.
    let mut observed: Option<(Value, Instant)> = None;
    loop {
        let live = match get(cluster, name).await {
            Ok(lease) => Some(lease),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(failed(e)),
        };
        let Some(live) = live else {
            let mut created = create(cluster, name, options).await;
            if created.as_ref().is_err_and(CallError::is_not_found) {
                // The first Lease of the cluster: astro-system does not exist yet.
                make_namespace(cluster).await.map_err(failed)?;
                created = create(cluster, name, options).await;
            }
            match created {
                Ok(lease) => return Ok(Held::start(cluster, name, lease, options)),
                // Someone else created it first: read it again.
                Err(e) if e.code() == 409 => continue,
                Err(e) => return Err(failed(e)),
            }
        };
        let spec = live.get("spec").cloned().unwrap_or(Value::Null);
        if observed.as_ref().is_none_or(|(seen, _)| *seen != spec) {
            observed = Some((spec, Instant::now()));
        }
        let holder = spec_str(&live, "holderIdentity").to_string();
        let duration = Duration::from_secs(spec_int(&live, "leaseDurationSeconds").max(0) as u64);
        let unchanged_for = observed
            .as_ref()
            .map_or(Duration::ZERO, |(_, at)| at.elapsed());
        let free = holder.is_empty()
            || holder == options.identity
            || unchanged_for >= duration
            || renewed_long_ago(&live, duration);
        if free {
            match take(cluster, name, &live, options).await {
                Ok(lease) => {
                    if !holder.is_empty() && holder != options.identity {
                        tracing::info!(lease = name, previous = %holder, "took over an expired lease");
                    }
                    return Ok(Held::start(cluster, name, lease, options));
                }
                // Another waiter won, or the holder renewed: read it again.
                Err(e) if e.code() == 409 || e.is_not_found() => continue,
                Err(e) => return Err(failed(e)),
            }
        }
        let waited = started.elapsed();
        if waited >= options.wait {
            let renewed = spec_str(&live, "renewTime");
            return Err(Error::Busy(format!(
                "another deploy or undeploy of namespace {name} holds {context}: holder {holder}, \
                 renewed {renewed}, lease {} s; gave up after {} ms (it is taken over once its \
                 holder stops renewing it for the lease's duration)",
                duration.as_secs(),
                waited.as_millis()
            )));
        }
        tracing::debug!(lease = name, %holder, "waiting for the lease");
        tokio::time::sleep(options.retry_every.min(options.wait - waited)).await;
    }
}

/// Whether `lease`'s `renewTime` is older than twice its duration by this machine's clock:
/// taken over at once, without waiting a whole duration, while clocks that differ by less
/// than one duration never take over a live lease.
fn renewed_long_ago(lease: &Value, duration: Duration) -> bool {
    let Ok(renewed) = chrono::DateTime::parse_from_rfc3339(spec_str(lease, "renewTime")) else {
        return false;
    };
    let Ok(twice) = chrono::Duration::from_std(duration * 2) else {
        return false;
    };
    renewed.with_timezone(&chrono::Utc) + twice < chrono::Utc::now()
}

/// GET the lease.
async fn get(cluster: &Cluster, name: &str) -> Result<Value, CallError> {
    let request = kube::core::Request::new(collection())
        .get(name, &GetParams::default())
        .map(|r| r.map(Bytes::from));
    Ok(cluster.call(request).await?.value())
}

/// The lease held by us, now.
fn our_spec(options: &LockOptions, acquired: &str, transitions: i64) -> Value {
    json!({
        "holderIdentity": options.identity,
        "leaseDurationSeconds": seconds(options.lease_duration),
        "acquireTime": acquired,
        "renewTime": micro_now(),
        "leaseTransitions": transitions,
    })
}

/// Creates the lease, held by us.
async fn create(cluster: &Cluster, name: &str, options: &LockOptions) -> Result<Value, CallError> {
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": NAMESPACE,
                     "labels": {"app.kubernetes.io/managed-by": crate::FIELD_MANAGER}},
        "spec": our_spec(options, &micro_now(), 0),
    });
    let body = serde_json::to_vec(&lease).unwrap_or_default();
    let request = kube::core::Request::new(collection())
        .create(&PostParams::default(), body)
        .map(|r| r.map(Bytes::from));
    Ok(cluster.call(request).await?.value())
}

/// Replaces `live` (with its resourceVersion as the precondition) by our record: renewed
/// when we hold it, taken over otherwise (one more transition).
async fn take(
    cluster: &Cluster,
    name: &str,
    live: &Value,
    options: &LockOptions,
) -> Result<Value, CallError> {
    let ours = spec_str(live, "holderIdentity") == options.identity;
    let transitions = spec_int(live, "leaseTransitions") + i64::from(!ours);
    let acquired = if ours {
        spec_str(live, "acquireTime").to_string()
    } else {
        micro_now()
    };
    let mut lease = live.clone();
    lease["spec"] = our_spec(options, &acquired, transitions);
    replace(cluster, name, &lease).await
}

/// PUT `lease`, whose resourceVersion is the precondition.
async fn replace(cluster: &Cluster, name: &str, lease: &Value) -> Result<Value, CallError> {
    let body = serde_json::to_vec(lease).unwrap_or_default();
    let request = kube::core::Request::new(collection())
        .replace(name, &PostParams::default(), body)
        .map(|r| r.map(Bytes::from));
    Ok(cluster.call(request).await?.value())
}

/// Creates namespace `astro-system` (as `build push` does) for a first lease.
async fn make_namespace(cluster: &Cluster) -> Result<(), CallError> {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE,
        "labels": {"app.kubernetes.io/managed-by": crate::FIELD_MANAGER}}});
    cluster
        .apply(Kind::Namespace, "", NAMESPACE, &ns, false, false)
        .await
        .map(|_| ())
}

impl Held {
    /// Starts renewing `lease`, which we hold.
    fn start(cluster: &Cluster, name: &str, lease: Value, options: &LockOptions) -> Held {
        let shared = Arc::new(Shared {
            lease: tokio::sync::Mutex::new(Some(lease)),
            lost: std::sync::Mutex::new(None),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let renewer = tokio::spawn(renew(
            cluster.clone(),
            name.to_string(),
            options.clone(),
            shared.clone(),
            stopped,
        ));
        tracing::debug!(lease = name, identity = %options.identity, "lease held");
        Held {
            name: name.to_string(),
            shared,
            stop: Some(stop),
            renewer: Some(renewer),
        }
    }

    /// Why the lease was lost while held (another process took it over after we failed to
    /// renew it in time), or `None` while we still hold it.
    pub fn lost(&self) -> Option<String> {
        self.shared
            .lost
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Stops renewing and returns the lease as last written, unless it was lost.
    async fn stop(&mut self) -> Option<Value> {
        drop(self.stop.take());
        if let Some(renewer) = self.renewer.take() {
            // It finishes a renewal in flight first, so the resourceVersion below is current.
            let _ = renewer.await;
        }
        self.shared.lease.lock().await.take()
    }

    /// Releases the lease as client-go's `ReleaseOnCancel` does: no holder, so the next
    /// waiter takes it at once. A failure is only logged: the lease then expires.
    pub async fn release(mut self, cluster: &Cluster) {
        let Some(mut lease) = self.stop().await else {
            return;
        };
        let transitions = spec_int(&lease, "leaseTransitions");
        lease["spec"] = json!({
            "leaseDurationSeconds": 1,
            "acquireTime": micro_now(),
            "renewTime": micro_now(),
            "leaseTransitions": transitions,
        });
        if let Err(e) = replace(cluster, &self.name, &lease).await {
            tracing::warn!(lease = %self.name, error = %e, "releasing the lease failed; it expires instead");
        }
    }

    /// Deletes the lease (undeploy: nothing is left to guard), on the condition that it is
    /// still the version we wrote. When that fails, the lease is released instead (so nobody
    /// waits for it) and the failure returned.
    pub async fn delete(mut self, cluster: &Cluster) -> Result<(), Error> {
        let Some(lease) = self.stop().await else {
            return Ok(());
        };
        let rv = crate::cluster::resource_version(&lease).map(String::from);
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: rv,
                uid: None,
            }),
            ..DeleteParams::default()
        };
        let request = kube::core::Request::new(collection())
            .delete(&self.name, &params)
            .map(|r| r.map(Bytes::from));
        match cluster.call(request).await {
            Err(e) if !e.is_not_found() => {
                let context = format!("Lease {NAMESPACE}/{}: deleting it", self.name);
                // Released with what we last wrote, as release() does.
                let mut released = lease;
                let transitions = spec_int(&released, "leaseTransitions");
                released["spec"] = json!({"leaseDurationSeconds": 1, "leaseTransitions": transitions,
                    "acquireTime": micro_now(), "renewTime": micro_now()});
                let _ = replace(cluster, &self.name, &released).await;
                Err(Error::call(context, e))
            }
            _ => Ok(()),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
    }
}

/// Renews the lease every `renew_every` until told to stop. A renewal that fails for good
/// (after the cluster's retries), or finds another holder, marks the lease lost.
async fn renew(
    cluster: Cluster,
    name: String,
    options: LockOptions,
    shared: Arc<Shared>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            () = tokio::time::sleep(options.renew_every) => {}
        }
        let mut lease = shared.lease.lock().await;
        let Some(live) = lease.as_ref() else { return };
        let outcome = match take(&cluster, &name, live, &options).await {
            // A stale resourceVersion: our own earlier write whose answer was lost, or
            // another holder. Read it again to tell.
            Err(e) if e.code() == 409 => match get(&cluster, &name).await {
                Ok(now) if spec_str(&now, "holderIdentity") == options.identity => {
                    take(&cluster, &name, &now, &options)
                        .await
                        .map_err(|e| e.to_string())
                }
                Ok(now) => Err(format!(
                    "taken over by {}",
                    spec_str(&now, "holderIdentity")
                )),
                Err(e) => Err(e.to_string()),
            },
            other => other.map_err(|e| e.to_string()),
        };
        match outcome {
            Ok(renewed) => *lease = Some(renewed),
            Err(why) => {
                tracing::warn!(lease = %name, %why, "lost the lease");
                *lease = None;
                *shared
                    .lost
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some(format!("Lease {NAMESPACE}/{name}: {why}"));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn renewed(ago: chrono::Duration) -> Value {
        let at = (chrono::Utc::now() - ago).format("%Y-%m-%dT%H:%M:%S%.6fZ");
        json!({"spec": {"renewTime": at.to_string()}})
    }

    #[test]
    fn only_a_renewal_older_than_twice_the_duration_is_expired_by_the_clock() {
        let thirty = Duration::from_secs(30);
        assert!(!renewed_long_ago(
            &renewed(chrono::Duration::seconds(45)),
            thirty
        ));
        assert!(renewed_long_ago(
            &renewed(chrono::Duration::seconds(61)),
            thirty
        ));
        assert!(
            !renewed_long_ago(&json!({"spec": {}}), thirty),
            "no renewTime"
        );
        assert!(!renewed_long_ago(
            &json!({"spec": {"renewTime": "yesterday"}}),
            thirty
        ));
    }

    #[test]
    fn identities_differ_per_call_and_name_the_process() {
        let (a, b) = (identity(), identity());
        assert_ne!(a, b);
        assert!(a.starts_with("kubectl-astro@"), "{a}");
        assert!(a.contains(&format!("/{}-", std::process::id())), "{a}");
    }
}
