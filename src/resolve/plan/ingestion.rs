//! The ingestion family: one workload per ingestion entry — a CronJob for a schedule, a
//! suspended CronJob for a manual trigger (run by `kubectl astro trigger` or `kubectl create
//! job --from=cronjob/…`), a Job at startup, a Deployment with a Service and an Ingress for a
//! webhook.

use super::Planner;
use super::agent::AgentPod;
use super::container::{
    ContainerBuilder, DRAIN_SECONDS, port, probe, restricted_pod, static_env, tmp_volumes,
};
use crate::kind::Kind;
use crate::naming::{self, resource_name, sanitize_name};
use crate::resolve::model::*;

/// The port of a webhook ingestion without its own `port`.
const WEBHOOK_PORT: u16 = 3001;

/// The schedule of a manual ingestion's suspended CronJob: valid, and never due (there is no
/// 31 February), so even a CronJob someone resumes does not start running it.
pub const MANUAL_SCHEDULE: &str = "0 0 31 2 *";

impl Planner<'_> {
    /// The ingestion workloads; returns the names of the manual ingestions, which run only
    /// when asked.
    pub(super) fn ingestion(&mut self, agent: &AgentPod) -> Vec<String> {
        let build = self.build;
        let mut manual = Vec::new();
        for (name, ing) in &build.spec.ingestion {
            let (Some(container), Some(trigger)) = (&ing.container, &ing.trigger) else {
                continue;
            };
            if trigger.kind == "manual" {
                manual.push(name.clone());
            }
            self.origin = format!("spec.ingestion.{name}");
            let component = format!("ingestion-{}", sanitize_name(name));
            // The shared credentials, then the entry's own inputs (Astropods spec §8.4),
            // each name once.
            let mut env = agent.ingestion_env.clone();
            for e in self.input_env(&ing.inputs, false) {
                if !env.iter().any(|x| x.name == e.name) {
                    env.push(e);
                }
            }
            env.extend(static_env(container));
            let webhook = trigger.kind == "webhook";
            let listen = container.port.unwrap_or(WEBHOOK_PORT);
            let c = ContainerBuilder::new(
                "ingestion",
                self.component_image(container, "ingestion", name),
            )
            .ports(if webhook {
                vec![port("http", listen)]
            } else {
                Vec::new()
            })
            .env_from_config_map(&self.config_map)
            .env(env)
            .probe(container.healthcheck.as_ref().map(|h| probe(h, "http")))
            .restricted()
            .read_only_root("tmp")
            .build();
            let pod = PodSpec {
                labels: self.selector(&component),
                annotations: agent.annotations.clone(),
                restart_policy: if webhook {
                    None
                } else {
                    Some("OnFailure".into())
                },
                empty_dirs: tmp_volumes(std::slice::from_ref(&c)),
                containers: vec![c],
                gpu_toleration: None,
                security: restricted_pod(),
                drain_seconds: webhook.then_some(DRAIN_SECONDS),
            };
            // A CronJob's name leaves room for the 11 characters its Jobs append.
            let (kind, max) = match trigger.kind.as_str() {
                "schedule" | "manual" => (Kind::CronJob, 52),
                "startup" => (Kind::Job, 63),
                _ => (Kind::Deployment, 63),
            };
            let obj_name = resource_name(&[&self.agent, "ingestion", name], max);
            let workload = WorkloadSpec {
                replicas: webhook.then_some(1),
                strategy: None,
                selector: self.selector(&component),
                service_name: None,
                volume_claim: None,
                schedule: match trigger.kind.as_str() {
                    "manual" => Some(MANUAL_SCHEDULE.into()),
                    _ => self
                        .request
                        .schedules
                        .get(name)
                        .filter(|_| kind == Kind::CronJob)
                        .cloned(),
                },
                suspend: trigger.kind == "manual",
                pod,
            };
            self.add(
                kind,
                obj_name.clone(),
                &component,
                Labels::new(),
                ObjectSpec::Workload(Box::new(workload)),
            );
            if webhook {
                self.service(obj_name.clone(), &component, vec![port("http", listen)]);
                let host = naming::endpoint_host(
                    &self.agent,
                    &self.namespace,
                    name,
                    &self.options.ingestion_domain,
                );
                self.ingress(
                    resource_name(&[&self.agent, "ingress", name], 253),
                    &component,
                    host,
                    obj_name,
                    "http",
                );
            }
        }
        manual
    }
}
