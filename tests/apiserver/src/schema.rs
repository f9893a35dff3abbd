//! Merge schema of the served kinds: which lists are atomic, sets or maps with keys, which maps
//! are free-form or atomic (the `+listType`, `+listMapKey`, `+mapType` markers of `k8s.io/api`).
//! Fields not listed are ordinary struct fields whose own children decide; unlisted lists are
//! atomic, as in the real schema.

/// Named struct types that have non-default children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StructType {
    /// Top-level object of the given kind.
    Root(&'static str),
    /// `ObjectMeta`.
    ObjectMeta,
    /// `PodTemplateSpec`.
    PodTemplateSpec,
    /// `PodSpec`.
    PodSpec,
    /// `Container`.
    Container,
    /// `ResourceRequirements` / `VolumeResourceRequirements`.
    Resources,
    /// Deployment/StatefulSet/Job spec (selector atomic, template).
    WorkloadSpec,
    /// CronJob spec.
    CronJobSpec,
    /// `JobTemplateSpec`.
    JobTemplateSpec,
    /// Service spec.
    ServiceSpec,
    /// NetworkPolicy spec.
    NetworkPolicySpec,
    /// PersistentVolumeClaim spec.
    PvcSpec,
    /// Ingress spec.
    IngressSpec,
    /// Ingress backend / default backend.
    IngressBackend,
    /// IngressServiceBackend.
    IngressServiceBackend,
    /// `EnvVar`.
    EnvVar,
    /// `EnvVarSource` (its selectors are atomic).
    EnvVarSource,
    /// `Affinity`.
    Affinity,
    /// `NodeAffinity` (its required `NodeSelector` is atomic).
    NodeAffinity,
    /// `TopologySpreadConstraint` (its `LabelSelector` is atomic).
    TopologySpreadConstraint,
    /// `Volume`.
    Volume,
    /// A volume source with a secret reference (`secretRef`, `nodePublishSecretRef`: atomic
    /// `LocalObjectReference`s).
    VolumeSource,
    /// `EphemeralVolumeSource`.
    EphemeralVolume,
    /// `PersistentVolumeClaimTemplate`.
    PvcTemplate,
    /// A status whose `conditions` are keyed by `type`.
    Status,
    /// `PodStatus`.
    PodStatus,
    /// `JobStatus`.
    JobStatus,
    /// `UncountedTerminatedPods`.
    UncountedTerminatedPods,
    /// A struct with no special children.
    Generic,
}

/// The merge type of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Granular struct; children from [`field`].
    Struct(StructType),
    /// Free-form granular map (labels, data, limits); entries are owned themselves.
    FreeMap,
    /// Whole value is one leaf (scalars, atomic structs/maps/lists).
    Atomic,
    /// `x-kubernetes-list-type: set`.
    ListSet,
    /// `x-kubernetes-list-type: map` with keys; `proto_default` makes a missing `protocol` key TCP
    /// (structured-merge-diff `typed/helpers.go`).
    ListMap {
        /// Key field names, as declared.
        keys: &'static [&'static str],
        /// Item struct type.
        elem: StructType,
        /// Items are atomic structs (ownerReferences).
        atomic_elem: bool,
    },
}

const NAME: &[&str] = &["name"];

/// A list of atomic items keyed by `name` (`LocalObjectReference`, `ObjectReference`).
const ATOMIC_BY_NAME: FieldType = FieldType::ListMap {
    keys: NAME,
    elem: StructType::Generic,
    atomic_elem: true,
};

const fn list_map(keys: &'static [&'static str], elem: StructType) -> FieldType {
    FieldType::ListMap {
        keys,
        elem,
        atomic_elem: false,
    }
}

/// Type of the root object of `kind`.
pub fn root(kind: &'static str) -> FieldType {
    FieldType::Struct(StructType::Root(kind))
}

/// Child type of a struct field. `None` means "not declared specially": the value's shape decides
/// (object → generic struct, list → atomic, scalar → leaf).
pub fn field(struct_type: StructType, name: &str) -> Option<FieldType> {
    use StructType::*;
    let t = match (struct_type, name) {
        (Root(_), "metadata") => FieldType::Struct(ObjectMeta),
        (Root("ConfigMap" | "Secret"), "data" | "binaryData" | "stringData") => FieldType::FreeMap,
        (Root("ServiceAccount"), "secrets") => ATOMIC_BY_NAME,
        (Root("Event"), "involvedObject" | "related") => FieldType::Atomic,
        (Root("Pod"), "status") => FieldType::Struct(PodStatus),
        (Root("Job"), "status") => FieldType::Struct(JobStatus),
        (
            Root("Namespace" | "Service" | "PersistentVolumeClaim" | "Deployment" | "StatefulSet"),
            "status",
        ) => FieldType::Struct(Status),
        (Status | PodStatus, "conditions") => list_map(&["type"], Generic),
        (PodStatus, "podIPs") => list_map(&["ip"], Generic),
        (PodStatus, "resourceClaimStatuses") => list_map(NAME, Generic),
        (JobStatus, "uncountedTerminatedPods") => FieldType::Struct(UncountedTerminatedPods),
        (UncountedTerminatedPods, "failed" | "succeeded") => FieldType::ListSet,
        (Root("Deployment" | "StatefulSet" | "Job"), "spec") => FieldType::Struct(WorkloadSpec),
        (Root("Pod"), "spec") => FieldType::Struct(PodSpec),
        (Root("CronJob"), "spec") => FieldType::Struct(CronJobSpec),
        (Root("Service"), "spec") => FieldType::Struct(ServiceSpec),
        (Root("NetworkPolicy"), "spec") => FieldType::Struct(NetworkPolicySpec),
        (Root("PersistentVolumeClaim"), "spec") => FieldType::Struct(PvcSpec),
        (Root("Ingress"), "spec") => FieldType::Struct(IngressSpec),
        (ObjectMeta, "labels" | "annotations") => FieldType::FreeMap,
        (ObjectMeta, "finalizers") => FieldType::ListSet,
        (ObjectMeta, "ownerReferences") => FieldType::ListMap {
            keys: &["uid"],
            elem: Generic,
            atomic_elem: true,
        },
        (WorkloadSpec, "selector") => FieldType::Atomic,
        (WorkloadSpec, "template") => FieldType::Struct(PodTemplateSpec),
        (CronJobSpec, "jobTemplate") => FieldType::Struct(JobTemplateSpec),
        (JobTemplateSpec, "metadata") => FieldType::Struct(ObjectMeta),
        (JobTemplateSpec, "spec") => FieldType::Struct(WorkloadSpec),
        (PodTemplateSpec, "metadata") => FieldType::Struct(ObjectMeta),
        (PodTemplateSpec, "spec") => FieldType::Struct(PodSpec),
        (PodSpec, "containers" | "initContainers" | "ephemeralContainers") => {
            list_map(NAME, Container)
        }
        (PodSpec, "volumes") => list_map(NAME, Volume),
        (PodSpec, "imagePullSecrets") => ATOMIC_BY_NAME,
        (PodSpec, "resourceClaims" | "schedulingGates") => list_map(NAME, Generic),
        (PodSpec, "hostAliases") => list_map(&["ip"], Generic),
        (PodSpec, "topologySpreadConstraints") => list_map(
            &["topologyKey", "whenUnsatisfiable"],
            TopologySpreadConstraint,
        ),
        (PodSpec, "nodeSelector") => FieldType::Atomic,
        (PodSpec, "overhead") => FieldType::FreeMap,
        (PodSpec, "resources") => FieldType::Struct(Resources),
        (PodSpec, "affinity") => FieldType::Struct(Affinity),
        (Affinity, "nodeAffinity") => FieldType::Struct(NodeAffinity),
        (NodeAffinity, "requiredDuringSchedulingIgnoredDuringExecution") => FieldType::Atomic,
        (TopologySpreadConstraint, "labelSelector") => FieldType::Atomic,
        (
            Volume,
            "cephfs" | "cinder" | "flexVolume" | "iscsi" | "rbd" | "scaleIO" | "storageos" | "csi",
        ) => FieldType::Struct(VolumeSource),
        (VolumeSource, "secretRef" | "nodePublishSecretRef") => FieldType::Atomic,
        (Volume, "ephemeral") => FieldType::Struct(EphemeralVolume),
        (EphemeralVolume, "volumeClaimTemplate") => FieldType::Struct(PvcTemplate),
        (PvcTemplate, "metadata") => FieldType::Struct(ObjectMeta),
        (PvcTemplate, "spec") => FieldType::Struct(PvcSpec),
        (Container, "ports") => list_map(&["containerPort", "protocol"], Generic),
        (Container, "env") => list_map(NAME, EnvVar),
        (EnvVar, "valueFrom") => FieldType::Struct(EnvVarSource),
        (EnvVarSource, "configMapKeyRef" | "secretKeyRef" | "fieldRef" | "resourceFieldRef") => {
            FieldType::Atomic
        }
        (Container, "volumeMounts") => list_map(&["mountPath"], Generic),
        (Container, "volumeDevices") => list_map(&["devicePath"], Generic),
        (Container, "resources") => FieldType::Struct(Resources),
        (Resources, "limits" | "requests") => FieldType::FreeMap,
        (Resources, "claims") => list_map(NAME, Generic),
        (ServiceSpec, "ports") => list_map(&["port", "protocol"], Generic),
        (ServiceSpec, "selector") => FieldType::Atomic,
        (NetworkPolicySpec, "podSelector") => FieldType::Atomic,
        (PvcSpec, "resources") => FieldType::Struct(Resources),
        (PvcSpec, "selector" | "dataSource") => FieldType::Atomic,
        (IngressSpec, "defaultBackend") => FieldType::Struct(IngressBackend),
        (IngressBackend, "service") => FieldType::Struct(IngressServiceBackend),
        (IngressBackend, "resource") => FieldType::Atomic,
        (IngressServiceBackend, "port") => FieldType::Atomic,
        _ => return None,
    };
    Some(t)
}

/// Whether a missing key field of list items has a default (structured-merge-diff
/// `typed/helpers.go`): `protocol` → `TCP`.
pub fn key_default(keys: &[&str], key: &str) -> Option<&'static str> {
    if key == "protocol" && keys.len() == 2 && (keys[0] == "containerPort" || keys[0] == "port") {
        Some("TCP")
    } else {
        None
    }
}

/// The strategic-merge-patch merge key of a list (`patchMergeKey`), if it merges.
pub fn strategic_merge_key(ty: FieldType) -> Option<&'static str> {
    match ty {
        FieldType::ListMap { keys, .. } => keys.first().copied(),
        _ => None,
    }
}

/// Whether a field is declared as a struct field (not a free-form map entry).
pub fn is_free_map(ty: FieldType) -> bool {
    matches!(ty, FieldType::FreeMap)
}
