//! A flag that asks a running operation to stop sending new requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Set once (by a signal handler, a server shutting down): a deploy lets the requests in
/// flight finish, sends nothing new, prunes nothing, records the inventory and answers with
/// its partial result. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// A flag that is not set.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Sets the flag.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the flag is set.
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Resolves once the flag is set.
    pub async fn triggered(&self) {
        while !self.is_triggered() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
