//! Spec inputs: which exist, which only components read, and the env vars they become.

use std::collections::BTreeSet;

use super::Planner;
use super::container::{literal, secret_env};
use crate::resolve::model::EnvVar;
use crate::spec::{AstroSpec, Input};

/// Every input of the spec (top level, agent, components, ingestion).
pub fn all_inputs(spec: &AstroSpec) -> impl Iterator<Item = &Input> {
    spec.inputs
        .values()
        .chain(&spec.agent.inputs)
        .chain(spec.models.values().flat_map(|m| &m.inputs))
        .chain(spec.knowledge.values().flat_map(|k| &k.inputs))
        .chain(spec.integrations.values().flat_map(|i| &i.inputs))
        .chain(spec.ingestion.values().flat_map(|i| &i.inputs))
}

/// The containers a credential key is for (Astropods spec §8.4): a key that names an input
/// goes where the spec targets that input — top-level inputs to every container,
/// `agent.inputs` to the agent, a component's or ingestion's inputs to its own container
/// (added there by [`Planner::input_env`]); any other key (provider credentials, the
/// gateway's) to the agent and every ingestion container, as the platform injects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Targets {
    /// The agent container.
    pub(super) agent: bool,
    /// Every ingestion container.
    pub(super) ingestion: bool,
}

/// Where credential `key` goes, by the rule of [`Targets`].
pub(super) fn credential_targets(spec: &AstroSpec, key: &str) -> Targets {
    let top = spec.inputs.values().any(|i| i.name == key);
    let agent = spec.agent.inputs.iter().any(|i| i.name == key);
    let input = top || agent || all_inputs(spec).any(|i| i.name == key);
    Targets {
        agent: !input || top || agent,
        ingestion: !input || top,
    }
}

impl Planner<'_> {
    /// Env vars for `inputs` (plus top-level inputs when `with_top_level`): credential values
    /// by Secret reference, defaults as literals, absent optional inputs left out.
    pub(super) fn input_env(&self, inputs: &[Input], with_top_level: bool) -> Vec<EnvVar> {
        let spec = self.spec();
        let top: Vec<&Input> = if with_top_level {
            spec.inputs.values().collect()
        } else {
            Vec::new()
        };
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for input in top.into_iter().chain(inputs) {
            if !seen.insert(input.name.clone()) {
                continue;
            }
            if self.request.user_credentials.contains_key(&input.name) {
                out.push(secret_env(
                    &input.name,
                    &self.credentials_secret,
                    &input.name,
                ));
            } else if let Some(d) = &input.default {
                out.push(literal(&input.name, d));
            }
        }
        out
    }
}
