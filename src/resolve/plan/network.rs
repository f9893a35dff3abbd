//! The network family: Ingresses (with their endpoints) and the NetworkPolicies that
//! isolate the namespace.

use super::Planner;
use crate::api::ServiceEndpoint;
use crate::kind::Kind;
use crate::naming::resource_name;
use crate::resolve::model::*;

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
        let spec = IngressSpec {
            host,
            service,
            port: port_name.into(),
            class: self.options.ingress_class.clone(),
            tls_secret: self.options.tls_secret.clone(),
        };
        self.add(
            Kind::Ingress,
            name,
            component,
            Labels::new(),
            ObjectSpec::Ingress(spec),
        );
    }

    /// Deny ingress by default, allow it from the namespace, and from anywhere to the
    /// backend port of each Ingress.
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
        let exposed: Vec<(String, Labels, String)> = self
            .objects
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
            .collect();
        for (service, selector, port) in exposed {
            self.add(
                Kind::NetworkPolicy,
                resource_name(&["allow-ingress", &service], 253),
                "network-policy",
                Labels::new(),
                ObjectSpec::NetworkPolicy(NetworkPolicySpec {
                    pod_selector: selector,
                    from: "any".into(),
                    ports: vec![port],
                }),
            );
        }
    }
}
