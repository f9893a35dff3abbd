//! What an operation reports while it runs — retries, stages, readiness — for whoever shows
//! it: the CLI prints lines on stderr, a server may log them or count them.

use std::time::Duration;

use astro_deploy::api::ResourceResult;
use astro_deploy::kind::Stage;

use crate::error::CallError;
use crate::wait::Readiness;

/// Something that happened during an operation.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// One attempt of a request to the API server ended: `code` is its HTTP status, 0 when
    /// no answer arrived (refused, reset, timed out).
    Attempted {
        /// The HTTP status, or 0.
        code: u16,
    },
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
    /// Something the user should know that does not fail the operation (a TLS Secret an
    /// Ingress names does not exist).
    Warning {
        /// What, in one sentence.
        message: &'a str,
    },
    /// A step of a deploy is done: the Namespace, one stage of the staged apply, or prune.
    StepDone {
        /// Which step.
        step: DeployStep<'a>,
        /// What happened to each object of the step, in order.
        results: &'a [ResourceResult],
    },
}

/// The steps of a deploy, in the order they run (a stage without objects is skipped, and
/// prune is reported only when it deleted or failed to delete something).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeployStep<'a> {
    /// The Namespace applied.
    Namespace,
    /// One stage of the staged apply: the stages whose objects were applied together.
    Apply(&'a [Stage]),
    /// Objects of the previous deploy that this one no longer renders, deleted.
    Prune,
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
