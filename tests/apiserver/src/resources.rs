//! The table of served resources (kinds, plurals, scopes, subresources).

/// One served resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDef {
    /// API group (`""` for core).
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Kind, e.g. `Deployment`.
    pub kind: &'static str,
    /// Plural resource name, e.g. `deployments`.
    pub plural: &'static str,
    /// Singular resource name.
    pub singular: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: &'static [&'static str],
    /// Categories (`all`).
    pub categories: &'static [&'static str],
    /// Whether a `/status` subresource exists (status is a reset field, `GetResetFields` of the
    /// registry strategies).
    pub has_status: bool,
    /// Whether the strategy maintains `metadata.generation` (`PrepareForUpdate` of the registry
    /// strategies).
    pub has_generation: bool,
    /// Whether a `/scale` subresource is advertised.
    pub has_scale: bool,
}

impl ResourceDef {
    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    /// `deployments.apps` or `configmaps` (used in NotFound/Conflict messages).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
    /// `apps/v1, Kind=Deployment` or `/v1, Kind=Service` (managedfields `versioncheck.go`;
    /// managedfields `structuredmerge.go`; kubernetes#113482).
    pub fn gvk_string(&self) -> String {
        format!("{}/{}, Kind={}", self.group, self.version, self.kind)
    }
    /// Discovery verbs.
    pub fn verbs(&self) -> Vec<&'static str> {
        if self.kind == "Namespace" {
            vec![
                "create", "delete", "get", "list", "patch", "update", "watch",
            ]
        } else {
            vec![
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ]
        }
    }
}

macro_rules! res {
    ($g:expr, $k:expr, $p:expr, $s:expr, $ns:expr, $short:expr, $cat:expr, $st:expr, $gen:expr, $scale:expr) => {
        ResourceDef {
            group: $g,
            version: "v1",
            kind: $k,
            plural: $p,
            singular: $s,
            namespaced: $ns,
            short_names: $short,
            categories: $cat,
            has_status: $st,
            has_generation: $gen,
            has_scale: $scale,
        }
    };
}

/// Every resource this server serves.
pub static RESOURCES: &[ResourceDef] = &[
    res!(
        "",
        "Namespace",
        "namespaces",
        "namespace",
        false,
        &["ns"],
        &[],
        true,
        false,
        false
    ),
    res!(
        "",
        "ConfigMap",
        "configmaps",
        "configmap",
        true,
        &["cm"],
        &[],
        false,
        false,
        false
    ),
    res!(
        "",
        "Secret",
        "secrets",
        "secret",
        true,
        &[],
        &[],
        false,
        false,
        false
    ),
    res!(
        "",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        true,
        &["sa"],
        &[],
        false,
        false,
        false
    ),
    res!(
        "",
        "Service",
        "services",
        "service",
        true,
        &["svc"],
        &["all"],
        true,
        false,
        false
    ),
    res!(
        "",
        "Pod",
        "pods",
        "pod",
        true,
        &["po"],
        &["all"],
        true,
        false,
        false
    ),
    res!(
        "",
        "Event",
        "events",
        "event",
        true,
        &["ev"],
        &[],
        false,
        false,
        false
    ),
    res!(
        "",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        true,
        &["pvc"],
        &[],
        true,
        false,
        false
    ),
    res!(
        "apps",
        "Deployment",
        "deployments",
        "deployment",
        true,
        &["deploy"],
        &["all"],
        true,
        true,
        true
    ),
    res!(
        "apps",
        "StatefulSet",
        "statefulsets",
        "statefulset",
        true,
        &["sts"],
        &["all"],
        true,
        true,
        true
    ),
    res!(
        "batch",
        "Job",
        "jobs",
        "job",
        true,
        &[],
        &["all"],
        true,
        true,
        false
    ),
    res!(
        "batch",
        "CronJob",
        "cronjobs",
        "cronjob",
        true,
        &["cj"],
        &["all"],
        true,
        true,
        false
    ),
    res!(
        "networking.k8s.io",
        "Ingress",
        "ingresses",
        "ingress",
        true,
        &["ing"],
        &[],
        true,
        true,
        false
    ),
    res!(
        "networking.k8s.io",
        "NetworkPolicy",
        "networkpolicies",
        "networkpolicy",
        true,
        &["netpol"],
        &[],
        false,
        true,
        false
    ),
    res!(
        "coordination.k8s.io",
        "Lease",
        "leases",
        "lease",
        true,
        &[],
        &[],
        false,
        false,
        false
    ),
    // The server's own objects (`kubectl astro serve --print-manifests`): stored and
    // validated by their types, not enforced (the authorizer has its own allow-list).
    res!(
        "rbac.authorization.k8s.io",
        "ClusterRole",
        "clusterroles",
        "clusterrole",
        false,
        &[],
        &[],
        false,
        false,
        false
    ),
    res!(
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        "clusterrolebindings",
        "clusterrolebinding",
        false,
        &[],
        &[],
        false,
        false,
        false
    ),
];

/// Served API groups in discovery order (core excluded).
pub static GROUPS: &[&str] = &[
    "apps",
    "batch",
    "networking.k8s.io",
    "coordination.k8s.io",
    "rbac.authorization.k8s.io",
];

/// Finds a resource by group/version/plural.
pub fn by_plural(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Finds a resource by its kind.
pub fn by_kind(kind: &str) -> Option<&'static ResourceDef> {
    RESOURCES.iter().find(|r| r.kind == kind)
}

/// All resources of one group-version.
pub fn in_group_version(group: &str, version: &str) -> Vec<&'static ResourceDef> {
    RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect()
}
