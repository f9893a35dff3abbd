//! What happens after a request, as a cluster's controllers do it: the namespace controller
//! empties and removes Terminating namespaces, the workload controllers roll Deployments,
//! StatefulSets and Jobs to ready. By default this runs in the background a moment later
//! ([`Lifecycle::Asynchronous`]); tests that need everything settled when a request returns
//! choose [`Lifecycle::Synchronous`].

use std::sync::Arc;
use std::time::Duration;

use crate::controller::{self, ControllerMode};
use crate::store::State;

/// When deletions and workload status progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lifecycle {
    /// As on a cluster: a deleted namespace stays `Terminating` until the background namespace
    /// controller has emptied it, a moment later; workloads become ready over a few controller
    /// steps (`pkg/controller/namespace`, `pkg/controller/deployment`).
    #[default]
    Asynchronous,
    /// Inside the request: a namespace's content and the namespace are gone when the DELETE
    /// returns, and a workload's final status is written with the write that changed it.
    Synchronous,
}

/// How often the background controllers look, unless [`crate::ServerOptions`] says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);

/// One pass of the background controllers over `st`; returns whether anything changed.
pub(crate) fn step(st: &mut State) -> bool {
    if st.lifecycle == Lifecycle::Synchronous {
        return false;
    }
    let mut changed = crate::deletion::namespace_controller_step(st);
    if st.controller == ControllerMode::Off {
        return changed;
    }
    for plural in ["deployments", "statefulsets", "jobs"] {
        let Some(res) = crate::resources::RESOURCES
            .iter()
            .find(|r| r.plural == plural)
        else {
            continue;
        };
        let keys: Vec<(String, String)> = st
            .objects
            .range((plural, String::new(), String::new())..)
            .take_while(|((p, _, _), _)| *p == plural)
            .map(|((_, ns, name), _)| (ns.clone(), name.clone()))
            .collect();
        for (ns, name) in keys {
            changed |= controller::step(st, res, &ns, &name);
        }
    }
    changed
}

/// The background loop: a pass every `interval`, waking watches after a change.
pub(crate) async fn run(inner: Arc<crate::http::Inner>, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let changed = step(&mut crate::util::lock(&inner.state));
        if changed {
            inner.notify.notify_waiters();
        }
    }
}
