//! What an operation reports while it runs — retries, stages, readiness — for whoever shows
//! it: the CLI prints lines on stderr, a server may log them or count them.

use std::time::Duration;

use crate::error::CallError;
use crate::wait::Readiness;

/// Something that happened during an operation.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A request failed by accident and is sent again after `delay`.
    Retrying {
        /// How long until the next attempt.
        delay: Duration,
        /// Why the last attempt failed.
        error: &'a CallError,
    },
    /// While waiting, an object's readiness changed.
    Readiness {
        /// Its kind.
        kind: &'a str,
        /// Its name.
        name: &'a str,
        /// What it is now.
        readiness: &'a Readiness,
    },
}

/// Hears the [`Event`]s of the operations of a [`Cluster`](crate::Cluster).
pub trait Observer: Send + Sync {
    /// Called for each event, on the task that caused it; it should return quickly.
    fn on_event(&self, event: &Event<'_>);
}

/// An observer that ignores every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {
    fn on_event(&self, _: &Event<'_>) {}
}
