//! `--token-review`: a bearer token the tokens file does not know is sent to the cluster as an
//! `authentication.k8s.io/v1` TokenReview, with the server's own credentials, and the answer —
//! authenticated as a user in groups, or not — is kept for a while by the token's SHA-256, so
//! that a caller's requests do not each cost a review.
//!
//! The token goes only into the review's body; the engine's client logs a request's method
//! and path, never its body, and nothing here prints the token or the review's answer (which
//! echoes it).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use kube::core::params::PostParams;
use kubectl_astro::{CallError, Cluster, RetryPolicy};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// How long an authenticated answer is kept: kube-apiserver's default for the answers of a
/// webhook token authenticator (`--authentication-token-webhook-cache-ttl`, 2m).
pub const AUTHENTICATED_FOR: Duration = Duration::from_secs(120);

/// How long a rejection is kept: short, so that a token created a moment ago works soon. The
/// default of the servers built on `k8s.io/apiserver` that delegate to TokenReview (10s).
pub const REJECTED_FOR: Duration = Duration::from_secs(10);

/// Past this many cached answers, the expired ones are dropped (and, if still as many, all):
/// a flood of made-up tokens cannot grow the cache without bound.
const MAX_CACHED: usize = 10_000;

/// What the cluster said of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Authenticated as `user` in `groups`.
    User {
        /// `status.user.username`.
        user: String,
        /// `status.user.groups`.
        groups: Vec<String>,
    },
    /// Not authenticated.
    Rejected,
}

/// Why no answer could be had; the message never holds the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewFailed {
    /// Whether asking again later may work (the cluster did not answer, or answered 429/5xx)
    /// rather than the server's own configuration being wrong (403: no `create` on
    /// `tokenreviews`).
    pub transient: bool,
    /// What went wrong.
    pub message: String,
}

/// Sends TokenReviews and keeps their answers.
pub struct Reviewer {
    cluster: Cluster,
    cache: Mutex<HashMap<[u8; 32], (Instant, Identity)>>,
}

/// The part of a TokenReview's answer we read.
#[derive(Debug, Default, Deserialize)]
struct Review {
    #[serde(default)]
    status: ReviewStatus,
}

#[derive(Debug, Default, Deserialize)]
struct ReviewStatus {
    #[serde(default)]
    authenticated: bool,
    #[serde(default)]
    user: ReviewUser,
}

#[derive(Debug, Default, Deserialize)]
struct ReviewUser {
    #[serde(default)]
    username: String,
    #[serde(default)]
    groups: Vec<String>,
}

impl Reviewer {
    /// Reviews through `cluster`, with retries short enough for a request that waits on them
    /// (two more attempts within two seconds).
    pub fn new(cluster: &Cluster) -> Reviewer {
        let mut cluster = cluster.clone();
        cluster.retry = RetryPolicy {
            retries: 2,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            total_delay: Duration::from_secs(2),
        };
        Reviewer {
            cluster,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Who `token` is, from the cache while its answer is fresh, else from a TokenReview.
    pub async fn review(&self, token: &[u8]) -> Result<Identity, ReviewFailed> {
        let digest: [u8; 32] = Sha256::digest(token).into();
        if let Some(identity) = self.cached(&digest) {
            return Ok(identity);
        }
        let identity = self.ask(token).await?;
        let keep = match identity {
            Identity::User { .. } => AUTHENTICATED_FOR,
            Identity::Rejected => REJECTED_FOR,
        };
        let now = Instant::now();
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (until, _)| *until > now);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(digest, (now + keep, identity.clone()));
        Ok(identity)
    }

    /// The fresh cached answer for `digest`, if any.
    fn cached(&self, digest: &[u8; 32]) -> Option<Identity> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(digest)
            .filter(|(until, _)| *until > Instant::now())
            .map(|(_, identity)| identity.clone())
    }

    /// One TokenReview (`POST /apis/authentication.k8s.io/v1/tokenreviews`, no audiences:
    /// the API server's own).
    async fn ask(&self, token: &[u8]) -> Result<Identity, ReviewFailed> {
        let token = std::str::from_utf8(token).map_err(|_| ReviewFailed {
            transient: false,
            message: "the token is not text".into(),
        })?;
        let body = serde_json::json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        });
        let request = kube::core::Request::new("/apis/authentication.k8s.io/v1/tokenreviews")
            .create(
                &PostParams::default(),
                serde_json::to_vec(&body).unwrap_or_default(),
            )
            .map(|r| r.map(Bytes::from));
        let reply = self
            .cluster
            .call(request)
            .await
            .map_err(|e| failed(&e, token))?;
        let review: Review = serde_json::from_slice(&reply.body).map_err(|e| ReviewFailed {
            transient: false,
            // serde's message names the field and the type, never the value.
            message: format!("the TokenReview answer does not read: {e}"),
        })?;
        let status = review.status;
        if !status.authenticated {
            return Ok(Identity::Rejected);
        }
        if status.user.username.is_empty() {
            return Err(ReviewFailed {
                transient: false,
                message: "the TokenReview answer is authenticated without status.user.username"
                    .into(),
            });
        }
        Ok(Identity::User {
            user: status.user.username,
            groups: status.user.groups,
        })
    }
}

/// The failure of a TokenReview call, its message with any trace of `token` removed.
fn failed(e: &CallError, token: &str) -> ReviewFailed {
    let transient = matches!(e, CallError::Transport(_) | CallError::Timeout(_))
        || e.code() == 429
        || e.code() >= 500;
    ReviewFailed {
        transient,
        message: format!("TokenReview failed: {e}").replace(token, "<token>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_never_holds_the_token() {
        let e = CallError::Transport("cluster unreachable: the-token refused".into());
        let f = failed(&e, "the-token");
        assert!(f.transient);
        assert!(!f.message.contains("the-token"), "{}", f.message);
    }

    #[test]
    fn an_answer_without_authenticated_is_a_rejection() {
        let review: Review =
            serde_json::from_str(r#"{"status": {"user": {}}}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(!review.status.authenticated);
    }
}
