//! Merge schema of the served kinds: which lists are atomic, sets or maps with keys, which maps
//! are free-form or atomic (B52). Fields not listed are ordinary struct fields whose own
//! children decide; unlisted lists are atomic, as in the real schema.

/// Named struct types that have non-default children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum St {
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
    /// A struct with no special children.
    Generic,
}

/// The merge type of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// Granular struct; children from [`field`].
    Obj(St),
    /// Free-form granular map (labels, data, limits); entries are owned themselves.
    FreeMap,
    /// Whole value is one leaf (scalars, atomic structs/maps/lists).
    Atomic,
    /// `x-kubernetes-list-type: set`.
    ListSet,
    /// `x-kubernetes-list-type: map` with keys; `proto_default` makes a missing `protocol` key TCP (B40).
    ListMap {
        /// Key field names, as declared.
        keys: &'static [&'static str],
        /// Item struct type.
        elem: St,
        /// Items are atomic structs (ownerReferences).
        atomic_elem: bool,
    },
}

const NAME: &[&str] = &["name"];

const fn lm(keys: &'static [&'static str], elem: St) -> Ty {
    Ty::ListMap {
        keys,
        elem,
        atomic_elem: false,
    }
}

/// Type of the root object of `kind`.
pub fn root(kind: &'static str) -> Ty {
    Ty::Obj(St::Root(kind))
}

/// Child type of a struct field. `None` means "not declared specially": the value's shape decides
/// (object → generic struct, list → atomic, scalar → leaf).
pub fn field(st: St, name: &str) -> Option<Ty> {
    use St::*;
    let t = match (st, name) {
        (Root(_), "metadata") => Ty::Obj(ObjectMeta),
        (Root("ConfigMap" | "Secret"), "data" | "binaryData" | "stringData") => Ty::FreeMap,
        (Root("ServiceAccount"), "secrets") => lm(NAME, Generic),
        (Root("Deployment" | "StatefulSet" | "Job"), "spec") => Ty::Obj(WorkloadSpec),
        (Root("Pod"), "spec") => Ty::Obj(PodSpec),
        (Root("CronJob"), "spec") => Ty::Obj(CronJobSpec),
        (Root("Service"), "spec") => Ty::Obj(ServiceSpec),
        (Root("NetworkPolicy"), "spec") => Ty::Obj(NetworkPolicySpec),
        (Root("PersistentVolumeClaim"), "spec") => Ty::Obj(PvcSpec),
        (Root("Ingress"), "spec") => Ty::Obj(IngressSpec),
        (ObjectMeta, "labels" | "annotations") => Ty::FreeMap,
        (ObjectMeta, "finalizers") => Ty::ListSet,
        (ObjectMeta, "ownerReferences") => Ty::ListMap {
            keys: &["uid"],
            elem: Generic,
            atomic_elem: true,
        },
        (WorkloadSpec, "selector") => Ty::Atomic,
        (WorkloadSpec, "template") => Ty::Obj(PodTemplateSpec),
        (CronJobSpec, "jobTemplate") => Ty::Obj(JobTemplateSpec),
        (JobTemplateSpec, "metadata") => Ty::Obj(ObjectMeta),
        (JobTemplateSpec, "spec") => Ty::Obj(WorkloadSpec),
        (PodTemplateSpec, "metadata") => Ty::Obj(ObjectMeta),
        (PodTemplateSpec, "spec") => Ty::Obj(PodSpec),
        (PodSpec, "containers" | "initContainers" | "ephemeralContainers") => lm(NAME, Container),
        (PodSpec, "volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates") => {
            lm(NAME, Generic)
        }
        (PodSpec, "hostAliases") => lm(&["ip"], Generic),
        (PodSpec, "topologySpreadConstraints") => {
            lm(&["topologyKey", "whenUnsatisfiable"], Generic)
        }
        (PodSpec, "nodeSelector" | "overhead") => Ty::FreeMap,
        (Container, "ports") => lm(&["containerPort", "protocol"], Generic),
        (Container, "env") => lm(NAME, Generic),
        (Container, "volumeMounts") => lm(&["mountPath"], Generic),
        (Container, "volumeDevices") => lm(&["devicePath"], Generic),
        (Container, "resources") => Ty::Obj(Resources),
        (Resources, "limits" | "requests") => Ty::FreeMap,
        (Resources, "claims") => lm(NAME, Generic),
        (ServiceSpec, "ports") => lm(&["port", "protocol"], Generic),
        (ServiceSpec, "selector") => Ty::Atomic,
        (NetworkPolicySpec, "podSelector") => Ty::Atomic,
        (PvcSpec, "resources") => Ty::Obj(Resources),
        (PvcSpec, "selector") => Ty::Atomic,
        (IngressSpec, "defaultBackend") => Ty::Obj(IngressBackend),
        (IngressBackend, "service") => Ty::Obj(IngressServiceBackend),
        (IngressServiceBackend, "port") => Ty::Atomic,
        _ => return None,
    };
    Some(t)
}

/// Whether a missing key field of list items has a default (B40): `protocol` → `TCP`.
pub fn key_default(keys: &[&str], key: &str) -> Option<&'static str> {
    if key == "protocol" && keys.len() == 2 && (keys[0] == "containerPort" || keys[0] == "port") {
        Some("TCP")
    } else {
        None
    }
}

/// The strategic-merge-patch merge key of a list (`patchMergeKey`), if it merges.
pub fn smp_merge_key(ty: Ty) -> Option<&'static str> {
    match ty {
        Ty::ListMap { keys, .. } => keys.first().copied(),
        _ => None,
    }
}

/// Whether a field is declared as a struct field (not a free-form map entry).
pub fn is_free_map(ty: Ty) -> bool {
    matches!(ty, Ty::FreeMap)
}
