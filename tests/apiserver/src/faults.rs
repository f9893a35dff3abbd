//! Programmable faults and the request log (test hooks).

use crate::util::splitmix;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One logged request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string ("" if none).
    pub query: String,
    /// Request `Content-Type` ("" if none).
    pub content_type: String,
    /// Response status code: 0 when a [`FaultAction::DropConnection`] closed the connection
    /// before the request was handled; after a [`FaultAction::DropAfterCommit`], the status the
    /// server computed (the write happened) although the client never received it — see
    /// `dropped`.
    pub status: u16,
    /// The connection was closed without sending the answer (either drop fault).
    pub dropped: bool,
    /// Kubernetes verb (`get`, `list`, `create`, `update`, `patch`, `apply`, `delete`, ...), "" for
    /// non-resource paths.
    pub verb: String,
    /// The authenticated user (from the client certificate, the bearer token, or
    /// `system:anonymous`); "" when authentication failed (401).
    pub user: String,
    /// The HTTP version the request came in: `HTTP/1.1`, or `HTTP/2.0` on a TLS connection
    /// whose client chose `h2` by ALPN.
    pub protocol: String,
    /// Which connection carried the request: the server numbers accepted TCP connections
    /// from 1 ([`crate::TestApiServer::connections`] counts them).
    pub connection: u64,
    /// When the request came in, relative to the others: the server numbers requests from 1
    /// in the order their handling starts. The log is in the order they finish, so a request
    /// its client gave up on (a client-side timeout, then a retry) may be logged after the
    /// retry; sorting by `arrived` gives the order the client sent them.
    pub arrived: u64,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// Answer with this status code and `Status` body (reason/message), optional `Retry-After`.
    Status {
        /// HTTP code.
        code: u16,
        /// Status reason (e.g. `TooManyRequests`, `InternalError`).
        reason: String,
        /// Status message.
        message: String,
        /// `Retry-After` seconds; also sets `details.retryAfterSeconds`.
        retry_after: Option<u64>,
    },
    /// Close the connection without answering; the request is not handled (nothing is written).
    /// Over HTTP/2 the request's stream is reset instead (`RST_STREAM` `INTERNAL_ERROR`) and the
    /// connection, shared by other requests, stays up — what Go's HTTP/2 server, and so
    /// kube-apiserver, does when a handler panics or aborts (`http.ErrAbortHandler`, which the
    /// timeout filter raises), where HTTP/1.1 closes the connection. Either way the client sees
    /// the request fail without an answer.
    DropConnection,
    /// Handle the request normally — a write is committed, the resourceVersion moves, watchers
    /// see the event, the log records the real status with `dropped: true` — then close the
    /// connection without sending the answer: the client sees a connection error for a write
    /// that happened (an API server whose reply is lost to a dead connection or a proxy
    /// timeout). A client that retries must cope with its write already being there. Over
    /// HTTP/2 the stream is reset rather than the connection closed, as for
    /// [`FaultAction::DropConnection`].
    DropAfterCommit,
    /// Only delay, then handle normally.
    DelayOnly,
}

/// A programmable fault: which requests it matches and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Verb to match (`get`, `list`, `create`, `update`, `patch`, `apply`, `delete`); `patch` also
    /// matches applies.
    pub verb: Option<String>,
    /// Kind (`Deployment`) or plural (`deployments`) to match.
    pub kind: Option<String>,
    /// Object name to match.
    pub name: Option<String>,
    /// Namespace to match.
    pub namespace: Option<String>,
    /// `fieldManager` query parameter to match (writes of one field manager).
    pub field_manager: Option<String>,
    /// Chance (0.0 to 1.0) that a matching request is hit (drawn from the seeded generator).
    pub probability: f64,
    /// How many hits at most (None = unlimited).
    pub times: Option<u32>,
    /// Delay before acting.
    pub delay: Option<Duration>,
    /// The action.
    pub action: FaultAction,
}

impl Fault {
    fn with(action: FaultAction) -> Self {
        Self {
            verb: None,
            kind: None,
            name: None,
            namespace: None,
            field_manager: None,
            probability: 1.0,
            times: None,
            delay: None,
            action,
        }
    }
    /// Answer matching requests with `code`, a `Status` with `reason` and `message`.
    pub fn status(code: u16, reason: &str, message: &str) -> Self {
        Self::with(FaultAction::Status {
            code,
            reason: reason.into(),
            message: message.into(),
            retry_after: None,
        })
    }
    /// Drop the connection of matching requests.
    pub fn drop_connection() -> Self {
        Self::with(FaultAction::DropConnection)
    }
    /// Handle matching requests (commit their writes), then drop the connection without
    /// sending the answer (see [`FaultAction::DropAfterCommit`]).
    pub fn drop_after_commit() -> Self {
        Self::with(FaultAction::DropAfterCommit)
    }
    /// Only delay matching requests.
    pub fn delay_only(d: Duration) -> Self {
        let mut f = Self::with(FaultAction::DelayOnly);
        f.delay = Some(d);
        f
    }
    /// Restrict to a verb.
    pub fn verb(mut self, v: &str) -> Self {
        self.verb = Some(v.into());
        self
    }
    /// Restrict to a kind or plural.
    pub fn kind(mut self, k: &str) -> Self {
        self.kind = Some(k.into());
        self
    }
    /// Restrict to an object name.
    pub fn name(mut self, n: &str) -> Self {
        self.name = Some(n.into());
        self
    }
    /// Restrict to a namespace.
    pub fn namespace(mut self, n: &str) -> Self {
        self.namespace = Some(n.into());
        self
    }
    /// Restrict to writes whose `fieldManager` query parameter is `m`.
    pub fn field_manager(mut self, m: &str) -> Self {
        self.field_manager = Some(m.into());
        self
    }
    /// Hit only with this probability.
    pub fn probability(mut self, p: f64) -> Self {
        self.probability = p;
        self
    }
    /// Hit at most `n` times.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
    /// Delay before acting.
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
    }
    /// Add `Retry-After` (only for status faults).
    pub fn retry_after(mut self, secs: u64) -> Self {
        if let FaultAction::Status { retry_after, .. } = &mut self.action {
            *retry_after = Some(secs);
        }
        self
    }
}

#[derive(Debug, Default)]
pub(crate) struct FaultState {
    faults: Vec<(Fault, u32)>,
    rng: u64,
}

/// What the server should do with a request, decided by the faults.
pub(crate) struct Decision {
    pub delay: Option<Duration>,
    pub action: Option<FaultAction>,
}

/// The request facts a fault matches on.
pub(crate) struct Target<'a> {
    pub verb: &'a str,
    pub kind: &'a str,
    pub plural: &'a str,
    pub name: &'a str,
    pub namespace: &'a str,
    pub field_manager: &'a str,
}

/// Handle to add and clear faults of a running server.
#[derive(Debug, Clone)]
pub struct FaultController {
    pub(crate) inner: Arc<Mutex<FaultState>>,
}

impl FaultController {
    /// Adds a fault; faults are checked in the order added.
    pub fn add(&self, f: Fault) {
        if let Ok(mut s) = self.inner.lock() {
            s.faults.push((f, 0));
        }
    }
    /// Removes all faults.
    pub fn clear(&self) {
        if let Ok(mut s) = self.inner.lock() {
            s.faults.clear();
        }
    }
    /// Seeds the generator used for probabilities (same seed → same hits).
    pub fn seed(&self, seed: u64) {
        if let Ok(mut s) = self.inner.lock() {
            s.rng = seed;
        }
    }
    /// How often each fault has hit, in the order added.
    pub fn hits(&self) -> Vec<u32> {
        self.inner
            .lock()
            .map(|s| s.faults.iter().map(|(_, n)| *n).collect())
            .unwrap_or_default()
    }

    pub(crate) fn decide(&self, t: &Target) -> Decision {
        let Ok(mut s) = self.inner.lock() else {
            return Decision {
                delay: None,
                action: None,
            };
        };
        let FaultState { faults, rng } = &mut *s;
        for (f, hits) in faults.iter_mut() {
            let verb_ok = match f.verb.as_deref() {
                None => true,
                Some("patch") => t.verb == "patch" || t.verb == "apply",
                Some(v) => v == t.verb,
            };
            let kind_ok = f
                .kind
                .as_deref()
                .is_none_or(|k| k.eq_ignore_ascii_case(t.kind) || k == t.plural);
            let name_ok = f.name.as_deref().is_none_or(|n| n == t.name);
            let ns_ok = f.namespace.as_deref().is_none_or(|n| n == t.namespace);
            let manager_ok = f
                .field_manager
                .as_deref()
                .is_none_or(|m| m == t.field_manager);
            let left = f.times.is_none_or(|n| *hits < n);
            if !(verb_ok && kind_ok && name_ok && ns_ok && manager_ok && left) {
                continue;
            }
            *rng = splitmix(*rng);
            let draw = (*rng >> 11) as f64 / (1u64 << 53) as f64;
            if draw >= f.probability {
                continue;
            }
            *hits += 1;
            let action = match f.action {
                FaultAction::DelayOnly => None,
                ref a => Some(a.clone()),
            };
            return Decision {
                delay: f.delay,
                action,
            };
        }
        Decision {
            delay: None,
            action: None,
        }
    }
}

/// The `Status` body of a status fault.
pub(crate) fn fault_body(
    code: u16,
    reason: &str,
    message: &str,
    retry_after: Option<u64>,
) -> Value {
    let mut b = json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":message});
    if !reason.is_empty() {
        b["reason"] = json!(reason);
    }
    if let Some(s) = retry_after {
        b["details"] = json!({"retryAfterSeconds": s});
    }
    b["code"] = json!(code);
    b
}
