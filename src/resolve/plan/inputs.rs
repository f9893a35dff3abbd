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

/// Names of inputs declared only by components or ingestion (never shown to the agent).
pub(super) fn component_only_inputs(spec: &AstroSpec) -> BTreeSet<&str> {
    let agent: BTreeSet<&str> = spec
        .inputs
        .values()
        .chain(&spec.agent.inputs)
        .map(|i| i.name.as_str())
        .collect();
    all_inputs(spec)
        .map(|i| i.name.as_str())
        .filter(|n| !agent.contains(n))
        .collect()
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
