//! The messaging family: the sidecar that carries Slack and web chat to the agent over
//! gRPC, its Service and its web-chat Ingress.

use super::Planner;
use super::container::{ContainerBuilder, literal, port, secret_env, sidecar_resources};
use crate::kind::Kind;
use crate::naming::{self, resource_name};
use crate::resolve::model::*;

/// The sidecar's gRPC port, which the agent dials on localhost.
pub(super) const GRPC_PORT: u16 = 9090;
/// The sidecar's web-chat port: not its default 8080, which the agent container uses in the
/// same pod; named `web` so Services never resolve it by the agent's port name `http`.
const WEB_CHAT_PORT: u16 = 8090;

/// The uid of the messaging image's user `astro` (astropods/messaging Dockerfile:
/// `useradd -u 1000 -g astro astro`, `USER astro`).
const MESSAGING_UID: i64 = 1000;

/// Which chat interfaces the sidecar serves.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sidecar {
    /// Slack, with the tokens from the messaging Secret.
    pub(super) slack: bool,
    /// Web chat, behind its own Ingress.
    pub(super) web: bool,
}

impl Planner<'_> {
    /// The sidecar container of the agent pod.
    pub(super) fn messaging_container(&self, sidecar: Sidecar) -> Container {
        let mut env = vec![
            literal("GRPC_ENABLED", "true"),
            literal("GRPC_LISTEN_ADDR", &format!(":{GRPC_PORT}")),
            literal("STORAGE_TYPE", "memory"),
            literal("DEPLOYMENT_MODE", "all"),
        ];
        let mut ports = vec![port("grpc", GRPC_PORT)];
        if sidecar.slack {
            env.push(literal("SLACK_ENABLED", "true"));
            for key in ["SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"] {
                env.push(secret_env(key, &self.messaging_secret, key));
            }
            if let Some(cfg) = self.spec().slack_config() {
                env.push(literal(
                    "SLACK_CONFIG",
                    &serde_json::Value::Object(cfg.clone()).to_string(),
                ));
            }
        }
        if sidecar.web {
            env.push(literal("WEB_ENABLED", "true"));
            env.push(literal("WEB_LISTEN_ADDR", &format!(":{WEB_CHAT_PORT}")));
            ports.push(port("web", WEB_CHAT_PORT));
        }
        ContainerBuilder::new("messaging", self.options.messaging_image.clone())
            .ports(ports)
            .env(env)
            .resources(sidecar_resources())
            .restricted()
            .read_only_root("messaging-tmp")
            // The image's USER is the name `astro`, uid 1000 (astropods/messaging
            // Dockerfile); the kubelet refuses to start a runAsNonRoot container whose user
            // is a name it cannot check, so the number is given.
            .run_as_user(MESSAGING_UID)
            .build()
    }

    /// The sidecar's Service (publishing not-ready pods) and, for web chat, its Ingress.
    pub(super) fn messaging_service(&mut self, sidecar: Sidecar) {
        let mut ports = vec![port("grpc", GRPC_PORT)];
        if sidecar.web {
            ports.push(port("web", WEB_CHAT_PORT));
        }
        let name = resource_name(&[&self.agent, "messaging"], 63);
        let mut service = self.service_spec("agent", ports);
        service.publish_not_ready = true;
        self.add(
            Kind::Service,
            name.clone(),
            "messaging",
            Labels::new(),
            ObjectSpec::Service(service),
        );
        self.cluster_endpoint(&name, GRPC_PORT);
        if sidecar.web {
            let host = naming::endpoint_host(
                &self.agent,
                &self.namespace,
                "chat",
                &self.options.ingress_domain,
            );
            self.ingress(
                resource_name(&[&self.agent, "ingress-messaging"], 253),
                "messaging",
                host,
                name,
                "web",
            );
        }
    }
}
