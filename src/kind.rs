//! The kinds of Kubernetes object the library renders, and the one table that says, for
//! each, its API group and version, its resource plural, whether it is namespaced, its apply
//! stage and its template file. The engine, the benches and the tests read it from here.

use serde::Serialize;

/// The order objects are listed and applied in; objects of one stage do not depend on each
/// other. A client may apply several stages at once where nothing in the later ones needs
/// the earlier ones to exist first (kubectl-astro applies Services, workloads and Ingresses
/// together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The Namespace.
    Namespace,
    /// NetworkPolicies (before anything can run).
    Policy,
    /// Secrets and ConfigMaps.
    Config,
    /// Services.
    Service,
    /// Deployments, StatefulSets, Jobs, CronJobs.
    Workload,
    /// Ingresses.
    Ingress,
}

/// The kinds of object the library renders, one template each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    /// core/v1 Namespace
    Namespace,
    /// networking.k8s.io/v1 NetworkPolicy
    NetworkPolicy,
    /// core/v1 Secret
    Secret,
    /// core/v1 ConfigMap
    ConfigMap,
    /// core/v1 Service
    Service,
    /// apps/v1 Deployment
    Deployment,
    /// apps/v1 StatefulSet
    StatefulSet,
    /// batch/v1 Job
    Job,
    /// batch/v1 CronJob
    CronJob,
    /// networking.k8s.io/v1 Ingress
    Ingress,
}

/// What the library knows of one kind: one row of [`Kind`]'s table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KindInfo {
    /// The Kubernetes `kind`, e.g. `Deployment`.
    pub name: &'static str,
    /// The object's `apiVersion`: `v1` for the core group, else `group/version`.
    pub api_version: &'static str,
    /// Resource name in API paths, e.g. `deployments`.
    pub plural: &'static str,
    /// Whether objects of this kind live in a namespace.
    pub namespaced: bool,
    /// When it is applied.
    pub stage: Stage,
    /// The template file that renders it.
    pub template: &'static str,
}

/// The table: one row per kind, in [`Kind::ALL`] order.
const TABLE: [KindInfo; 10] = {
    use Stage::*;
    const fn row(
        name: &'static str,
        api_version: &'static str,
        plural: &'static str,
        namespaced: bool,
        stage: Stage,
        template: &'static str,
    ) -> KindInfo {
        KindInfo {
            name,
            api_version,
            plural,
            namespaced,
            stage,
            template,
        }
    }
    #[rustfmt::skip]
    let table = [
        row("Namespace", "v1", "namespaces", false, Namespace, "namespace.yaml"),
        row("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies", true, Policy, "networkpolicy.yaml"),
        row("Secret", "v1", "secrets", true, Config, "secret.yaml"),
        row("ConfigMap", "v1", "configmaps", true, Config, "configmap.yaml"),
        row("Service", "v1", "services", true, Service, "service.yaml"),
        row("Deployment", "apps/v1", "deployments", true, Workload, "deployment.yaml"),
        row("StatefulSet", "apps/v1", "statefulsets", true, Workload, "statefulset.yaml"),
        row("Job", "batch/v1", "jobs", true, Workload, "job.yaml"),
        row("CronJob", "batch/v1", "cronjobs", true, Workload, "cronjob.yaml"),
        row("Ingress", "networking.k8s.io/v1", "ingresses", true, Ingress, "ingress.yaml"),
    ];
    table
};

impl Kind {
    /// Every kind, in apply order.
    pub const ALL: [Kind; 10] = [
        Kind::Namespace,
        Kind::NetworkPolicy,
        Kind::Secret,
        Kind::ConfigMap,
        Kind::Service,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::Job,
        Kind::CronJob,
        Kind::Ingress,
    ];

    /// This kind's row of the table.
    pub const fn info(self) -> KindInfo {
        TABLE[self as usize]
    }

    /// The Kubernetes `kind`.
    pub const fn as_str(self) -> &'static str {
        self.info().name
    }

    /// The kind whose Kubernetes `kind` is `name` (case-sensitive), if the library renders it.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The object's `apiVersion`: `v1` for the core group, else `group/version`.
    pub const fn api_version(self) -> &'static str {
        self.info().api_version
    }

    /// The API group, empty for the core group.
    pub fn group(self) -> &'static str {
        self.info()
            .api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// The resource plural in API paths, e.g. `deployments`.
    pub const fn plural(self) -> &'static str {
        self.info().plural
    }

    /// Whether objects of this kind live in a namespace.
    pub const fn namespaced(self) -> bool {
        self.info().namespaced
    }

    /// The template that renders this kind.
    pub const fn template(self) -> &'static str {
        self.info().template
    }

    /// The apply stage of this kind.
    pub const fn stage(self) -> Stage {
        self.info().stage
    }

    /// The API path of this kind's collection: `/api/v1/namespaces` for Namespaces, else
    /// `/api/v1/namespaces/{ns}/{plural}` or `/apis/{group}/{version}/namespaces/{ns}/{plural}`.
    pub fn collection_path(self, ns: &str) -> String {
        let info = self.info();
        // The core group is served under /api, the named groups under /apis.
        let root = if self.group().is_empty() {
            format!("/api/{}", info.api_version)
        } else {
            format!("/apis/{}", info.api_version)
        };
        if info.namespaced {
            format!("{root}/namespaces/{ns}/{}", info.plural)
        } else {
            format!("{root}/{}", info.plural)
        }
    }

    /// The API path of one object: [`Kind::collection_path`] followed by `/{name}`.
    pub fn object_path(self, ns: &str, name: &str) -> String {
        format!("{}/{name}", self.collection_path(ns))
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_name() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::from_name("deployment"), None);
        assert_eq!(Kind::from_name("Pod"), None);
    }

    #[test]
    fn all_is_in_apply_order_and_complete() {
        let mut sorted = Kind::ALL;
        sorted.sort_by_key(|k| (k.stage(), *k));
        assert_eq!(sorted, Kind::ALL);
        assert!(Kind::ALL.windows(2).all(|w| w[0] < w[1]));
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, i, "{kind} is out of place in the table");
            assert_eq!(format!("{kind:?}"), kind.as_str());
        }
    }

    #[test]
    fn api_paths_follow_the_group_and_scope() {
        assert_eq!(Kind::Namespace.collection_path("x"), "/api/v1/namespaces");
        assert_eq!(
            Kind::Namespace.object_path("x", "ns1"),
            "/api/v1/namespaces/ns1"
        );
        assert_eq!(
            Kind::Secret.collection_path("ns1"),
            "/api/v1/namespaces/ns1/secrets"
        );
        assert_eq!(
            Kind::CronJob.object_path("ns1", "job"),
            "/apis/batch/v1/namespaces/ns1/cronjobs/job"
        );
        assert_eq!(
            Kind::NetworkPolicy.collection_path("ns1"),
            "/apis/networking.k8s.io/v1/namespaces/ns1/networkpolicies"
        );
        assert_eq!(Kind::Ingress.api_version(), "networking.k8s.io/v1");
        assert_eq!(Kind::StatefulSet.api_version(), "apps/v1");
        assert_eq!(Kind::ConfigMap.api_version(), "v1");
        assert_eq!(Kind::ConfigMap.group(), "");
        assert_eq!(Kind::Job.group(), "batch");
    }
}
