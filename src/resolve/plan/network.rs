//! The network family: Ingresses (with their endpoints) and the NetworkPolicies that
//! isolate the namespace.

use super::Planner;
use crate::api::ServiceEndpoint;
use crate::kind::Kind;
use crate::naming::resource_name;
use crate::resolve::model::*;

/// The label, valued `"true"`, of cert-manager's ACME HTTP-01 solver pods
/// (`SolverIdentificationLabelKey`, cert-manager `pkg/apis/acme/v1`).
const ACME_SOLVER_LABEL: &str = "acme.cert-manager.io/http01-solver";
/// The port those pods listen on (`acmeSolverListenPort`, cert-manager
/// `pkg/issuer/acme/http/http.go`).
const ACME_SOLVER_PORT: u16 = 8089;

impl Planner<'_> {
    /// An Ingress for `host` to `service`'s port `port_name`, and its endpoint.
    pub(super) fn ingress(
        &mut self,
        name: String,
        component: &str,
        host: String,
        service: String,
        port_name: &str,
    ) {
        self.endpoints.push(ServiceEndpoint {
            name: name.clone(),
            url: format!("https://{host}"),
            kind: "Ingress".into(),
        });
        // With an issuer, cert-manager writes each Ingress's certificate into the Secret its
        // TLS block names, so every Ingress names its own.
        let mut annotations = Labels::new();
        let tls_secret = match &self.options.cert_issuer {
            Some(issuer) => {
                let (key, value) = issuer.annotation();
                annotations.insert(key.into(), value.into());
                Some(resource_name(&[&name, "tls"], 253))
            }
            None => self.options.tls_secret.clone(),
        };
        let spec = IngressSpec {
            host,
            service,
            port: port_name.into(),
            class: self.options.ingress_class.clone(),
            tls_secret,
        };
        self.add(
            Kind::Ingress,
            name,
            component,
            annotations,
            ObjectSpec::Ingress(spec),
        );
    }

    /// The Service behind each Ingress: its name, pod selector and the Ingress's port.
    fn exposed(&self) -> Vec<(String, Labels, String)> {
        self.objects
            .iter()
            .filter_map(|o| match &o.spec {
                ObjectSpec::Ingress(i) => self.objects.iter().find_map(|s| match &s.spec {
                    ObjectSpec::Service(svc) if s.name == i.service => {
                        Some((s.name.clone(), svc.selector.clone(), i.port.clone()))
                    }
                    _ => None,
                }),
                _ => None,
            })
            .collect()
    }

    /// Deny ingress by default, allow it from the namespace, from anywhere to the backend
    /// port of each Ingress and, with a cert-manager issuer, to its HTTP-01 solver pods.
    pub(super) fn network_policies(&mut self) {
        let policies = [
            ("default-deny-ingress", "none"),
            ("allow-same-namespace", "namespace"),
        ];
        for (name, from) in policies {
            self.add(
                Kind::NetworkPolicy,
                name.into(),
                "network-policy",
                Labels::new(),
                ObjectSpec::NetworkPolicy(NetworkPolicySpec {
                    pod_selector: Labels::new(),
                    from: from.into(),
                    ports: Vec::new(),
                }),
            );
        }
        // Pods behind an Ingress must be reachable from the ingress controller's namespace
        // (unknown here, so any namespace) — on the Ingress's backend port only, so the
        // sidecar's gRPC port stays private to the namespace.
        let exposed = self.exposed();
        for (service, selector, port) in exposed {
            self.add(
                Kind::NetworkPolicy,
                resource_name(&["allow-ingress", &service], 253),
                "network-policy",
                Labels::new(),
                ObjectSpec::NetworkPolicy(NetworkPolicySpec {
                    pod_selector: selector,
                    from: "any".into(),
                    ports: vec![PolicyPort::Name(port)],
                }),
            );
        }
        // cert-manager answers ACME HTTP-01 challenges from solver pods it starts in the
        // Ingress's namespace; the ingress controller must reach them, as for any entry point.
        let has_ingress = self.objects.iter().any(|o| o.kind == Kind::Ingress);
        if self.options.cert_issuer.is_some() && has_ingress {
            let selector = Labels::from([(ACME_SOLVER_LABEL.into(), "true".into())]);
            self.add(
                Kind::NetworkPolicy,
                "allow-acme-http01-solver".into(),
                "network-policy",
                Labels::new(),
                ObjectSpec::NetworkPolicy(NetworkPolicySpec {
                    pod_selector: selector,
                    from: "any".into(),
                    ports: vec![PolicyPort::Number(ACME_SOLVER_PORT)],
                }),
            );
        }
    }
}
