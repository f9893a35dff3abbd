//! One deploy or undeploy of an agent at a time in this process: an async lock per agent,
//! created on first use and dropped once nobody holds or waits for it. Different agents never
//! wait for each other.
//!
//! Across processes (two replicas of the server, a CLI deploy beside it) the engine's Lease
//! per deployment ([`kubectl_astro::lock`]) serializes them; this lock keeps the requests of
//! one server from polling that Lease against each other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;

/// Each agent's lock, by key.
type Map = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

/// The per-agent locks of a server.
#[derive(Debug, Default, Clone)]
pub struct AgentLocks {
    locks: Arc<Map>,
}

/// An agent's lock, held until dropped (it may move to another task).
#[derive(Debug)]
pub struct Held {
    locks: AgentLocks,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl AgentLocks {
    /// Takes the lock of `key` (an agent), waiting at most `wait`; `None` if another holder
    /// kept it that long.
    pub async fn hold(&self, key: &str, wait: Duration) -> Option<Held> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            locks.entry(key.to_string()).or_default().clone()
        };
        let guard = tokio::time::timeout(wait, lock.lock_owned()).await.ok();
        match guard {
            Some(guard) => Some(Held {
                locks: self.clone(),
                key: key.to_string(),
                guard: Some(guard),
            }),
            None => {
                self.forget_if_unused(key);
                None
            }
        }
    }

    /// Drops the lock of `key` when nobody holds or waits for it. Every clone of a lock is
    /// made under the map's mutex, so a count of one there (the map's own) means unused.
    fn forget_if_unused(&self, key: &str) {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        if locks.get(key).is_some_and(|l| Arc::strong_count(l) == 1) {
            locks.remove(key);
        }
    }

    /// How many agents have a lock (held or waited for).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // Release first: the guard holds a clone of the lock.
        self.guard.take();
        self.locks.forget_if_unused(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_per_agent_and_none_across_agents() {
        let locks = AgentLocks::default();
        let short = Duration::from_millis(20);
        let a = locks.hold("acme/a", short).await;
        assert!(a.is_some());
        assert!(locks.hold("acme/b", short).await.is_some(), "other agent");
        assert!(locks.hold("acme/a", short).await.is_none(), "same agent");
        drop(a);
        assert_eq!(locks.len(), 0, "unused locks are dropped");
        assert!(locks.hold("acme/a", short).await.is_some());
    }

    #[tokio::test]
    async fn a_waiter_gets_the_lock_when_it_is_released() {
        let locks = AgentLocks::default();
        let held = locks.hold("acme/a", Duration::from_millis(10)).await;
        let waiter = locks.hold("acme/a", Duration::from_secs(5));
        let release = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(held);
        };
        let (got, ()) = tokio::join!(waiter, release);
        assert!(got.is_some());
        drop(got);
        assert_eq!(locks.len(), 0);
    }
}
