//! The shared write pipeline: merge/ownership → defaults → strategy (status, generation,
//! allocation) → validation → store, with dry-run and no-op handling (as
//! `k8s.io/apiserver/pkg/endpoints/handlers/patch.go` and `pkg/registry/generic/registry/store.go`
//! run create, update and patch).

use crate::api::Ctx;
use crate::api::{Opts, Reply, obj_ns_name};
use crate::controller;
use crate::defaults;
use crate::lastapplied::{last_applied_allowed, sync_last_applied};
use crate::managed::{self, Entry};
use crate::resources::ResourceDef;
use crate::schema;
use crate::status::{ApiError, ApiResult};
use crate::store::State;
use crate::util::{Pointer, new_uuid, now_rfc3339};
use crate::validation;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::sync::Arc;

/// Zero-value skeleton of a kind, the "live" object of a create for Update ownership
/// (structured-merge-diff `merge.Updater.Update`).
pub fn skeleton(kind: &str) -> Value {
    let tmpl = json!({"metadata":{},"spec":{}});
    match kind {
        "Deployment" => json!({"spec":{"template":tmpl,"strategy":{}},"status":{}}),
        "StatefulSet" => json!({"spec":{"template":tmpl,"updateStrategy":{}},"status":{}}),
        "Job" => json!({"spec":{"template":tmpl},"status":{}}),
        "CronJob" => {
            json!({"spec":{"jobTemplate":{"metadata":{},"spec":{"template":tmpl}}},"status":{}})
        }
        "Service" | "Ingress" => json!({"spec":{},"status":{"loadBalancer":{}}}),
        "NetworkPolicy" => json!({"spec":{}}),
        "PersistentVolumeClaim" => json!({"spec":{"resources":{}},"status":{}}),
        "Namespace" => json!({"spec":{},"status":{}}),
        _ => json!({}),
    }
}

/// Initial status set by the create strategy.
fn initial_status(kind: &str) -> Option<Value> {
    Some(match kind {
        "Deployment" | "Job" | "CronJob" => json!({}),
        "StatefulSet" => json!({"replicas":0,"availableReplicas":0}),
        "Service" | "Ingress" => json!({"loadBalancer":{}}),
        "PersistentVolumeClaim" => json!({"phase":"Pending"}),
        "Pod" => json!({"phase":"Pending","qosClass":"BestEffort"}),
        "Namespace" => json!({"phase":"Active"}),
        _ => return None,
    })
}

/// Reset fields (`GetResetFields` of the registry strategies): the main resource never changes
/// `status` (and Namespace `spec.finalizers`).
fn reset_main_fields(res: &ResourceDef, live: Option<&Value>, new: &mut Value) {
    let Value::Object(m) = new else { return };
    if res.has_status {
        match live.and_then(|l| l.get("status")) {
            Some(s) => {
                m.insert("status".into(), s.clone());
            }
            None => match initial_status(res.kind) {
                Some(s) => {
                    m.insert("status".into(), s);
                }
                None => {
                    m.shift_remove("status");
                }
            },
        }
    }
    if res.kind == "Namespace" {
        let fins = live
            .and_then(|l| l.ptr("/spec/finalizers"))
            .cloned()
            .unwrap_or_else(|| json!(["kubernetes"]));
        let spec = crate::util::ensure_obj(new, &["spec"]);
        spec.insert("finalizers".into(), fins);
    }
}

/// The `/status` write: only status changes (the registry status strategies).
fn status_only(live: &Value, new: &Value) -> Value {
    let mut out = live.clone();
    if let (Value::Object(o), Some(s)) = (&mut out, new.get("status")) {
        o.insert("status".into(), s.clone());
    }
    if let (Some(Value::Object(md)), Some(nmd)) = (out.get_mut("metadata"), new.get("metadata")) {
        if let Some(mf) = nmd.get("managedFields") {
            md.insert("managedFields".into(), mf.clone());
        }
        if let Some(rv) = nmd.get("resourceVersion") {
            md.insert("resourceVersion".into(), rv.clone());
        }
    }
    out
}

/// Service allocation on create and preservation on update (`pkg/apis/core/v1/defaults.go`;
/// `pkg/registry/core/service/storage`).
fn service_alloc(st: &mut State, live: Option<&Value>, new: &mut Value) {
    let spec = crate::util::ensure_obj(new, &["spec"]);
    if let Some(l) = live.and_then(|l| l.get("spec")) {
        for k in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            if spec.get(k).is_none_or(Value::is_null)
                && let Some(v) = l.get(k)
            {
                spec.insert(k.into(), v.clone());
            }
        }
    }
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if ty == "ExternalName" {
        return;
    }
    let ip = match spec.get("clusterIP").and_then(Value::as_str) {
        Some(ip) if !ip.is_empty() => ip.to_string(),
        _ => {
            let ip = st.alloc_cluster_ip();
            spec.insert("clusterIP".into(), json!(ip));
            ip
        }
    };
    if spec.get("clusterIPs").is_none_or(Value::is_null) {
        spec.insert("clusterIPs".into(), json!([ip]));
    }
    crate::util::default_field(spec, "ipFamilies", json!(["IPv4"]));
    crate::util::default_field(spec, "ipFamilyPolicy", json!("SingleStack"));
    if ty == "NodePort" || ty == "LoadBalancer" {
        let live_ports = live
            .and_then(|l| l.ptr("/spec/ports"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(Value::Array(ports)) = spec.get_mut("ports") {
            for p in ports.iter_mut() {
                if p.get("nodePort")
                    .is_none_or(|v| v.is_null() || v == &json!(0))
                {
                    let prev = live_ports
                        .iter()
                        .find(|lp| lp.get("port") == p.get("port"))
                        .and_then(|lp| lp.get("nodePort"))
                        .cloned();
                    let np = prev.unwrap_or_else(|| json!(st.alloc_node_port()));
                    if let Value::Object(pm) = p {
                        pm.insert("nodePort".into(), np);
                    }
                }
            }
        }
    }
}

/// System metadata (`PrepareForUpdate` of the registry strategies; apiserver
/// `rest.FillObjectMetaSystemFields`): uid/creationTimestamp/generation on create, carried over on
/// update.
fn system_meta(res: &ResourceDef, live: Option<&Value>, new: &mut Value) {
    let spec_changed = live.is_some_and(|l| {
        l.get("spec") != new.get("spec")
            || (res.kind == "Deployment"
                && l.ptr("/metadata/annotations") != new.ptr("/metadata/annotations"))
    });
    if let Value::Object(m) = new {
        m.insert("kind".into(), json!(res.kind));
        m.insert("apiVersion".into(), json!(res.api_version()));
    }
    let md = crate::util::ensure_obj(new, &["metadata"]);
    md.shift_remove("selfLink");
    match live {
        None => {
            md.insert("uid".into(), json!(new_uuid()));
            md.insert("creationTimestamp".into(), json!(now_rfc3339()));
            md.shift_remove("deletionTimestamp");
            md.shift_remove("deletionGracePeriodSeconds");
            md.shift_remove("resourceVersion");
            if res.has_generation {
                md.insert("generation".into(), json!(1));
            } else {
                md.shift_remove("generation");
            }
        }
        Some(l) => {
            let empty = json!({});
            let lmd = l.get("metadata").unwrap_or(&empty);
            for k in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "resourceVersion",
            ] {
                match lmd.get(k) {
                    Some(v) => {
                        md.insert(k.into(), v.clone());
                    }
                    None => {
                        md.shift_remove(k);
                    }
                }
            }
            if res.has_generation {
                let g = lmd.get("generation").and_then(Value::as_i64).unwrap_or(1);
                md.insert(
                    "generation".into(),
                    json!(if spec_changed { g + 1 } else { g }),
                );
            } else {
                md.shift_remove("generation");
            }
        }
    }
}

/// Drops empty metadata maps/lists the way Go's omitempty does.
fn tidy_meta(obj: &mut Value) {
    if let Some(Value::Object(md)) = obj.get_mut("metadata") {
        for k in [
            "labels",
            "annotations",
            "finalizers",
            "ownerReferences",
            "managedFields",
        ] {
            let empty = match md.get(k) {
                Some(Value::Object(m)) => m.is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                Some(Value::Null) => true,
                _ => false,
            };
            if empty {
                md.shift_remove(k);
            }
        }
    }
}

/// Rejects creates in missing or terminating namespaces (apiserver `handlers/patch.go`; apiserver
/// `admission/plugin/namespace/lifecycle`).
fn check_namespace_for_create(
    st: &State,
    res: &ResourceDef,
    ns: &str,
    name: &str,
) -> ApiResult<()> {
    if !res.namespaced {
        return Ok(());
    }
    match st.namespace_state(ns) {
        None => Err(ApiError::not_found(
            crate::resources::by_kind("Namespace").unwrap_or(res),
            ns,
        )),
        Some(true) => Err(ApiError::namespace_terminating(res, name, ns)),
        Some(false) => Ok(()),
    }
}

pub(crate) enum Op {
    /// Non-apply write (`Update` ownership).
    Update,
    /// Server-side apply with force flag.
    Apply { force: bool },
}

pub(crate) struct Write<'a> {
    pub(crate) ctx: &'a Ctx<'a>,
    pub(crate) live: Option<Arc<Value>>,
    pub(crate) new: Value,
    pub(crate) op: Op,
    pub(crate) opts: &'a Opts,
    pub(crate) post: bool,
}

/// The common write pipeline; returns (code, object).
pub(crate) fn commit(st: &mut State, w: Write) -> ApiResult<Reply> {
    let res = w.ctx.res;
    let ty = schema::root(res.kind);
    let now = now_rfc3339();
    let api_version = res.api_version();
    let (ns, name) = obj_ns_name(&w.new);
    let is_create = w.live.is_none();
    let sub = w.ctx.sub.unwrap_or("");
    if is_create {
        check_namespace_for_create(st, res, &ns, &name)?;
    }
    let live_entries = match &w.live {
        Some(l) => managed::decode(l).ok().flatten().unwrap_or_default(),
        None => Vec::new(),
    };
    let (mut new, entries): (Value, Vec<Entry>) = match w.op {
        Op::Update => {
            let mut new = w.new;
            if sub == "status" {
                if let Some(l) = &w.live {
                    new = status_only(l, &new);
                }
            } else {
                reset_main_fields(res, w.live.as_deref(), &mut new);
            }
            defaults::apply_defaults(res.kind, &mut new);
            let reset = managed::is_reset(&new);
            let mut entries = live_entries;
            let mut track = is_create || !entries.is_empty();
            if reset {
                entries.clear();
                track = false;
            } else if let Ok(Some(from_new)) = managed::decode(&new)
                && !from_new.is_empty()
            {
                entries = from_new;
                track = true;
            }
            if track {
                let skeleton_of_kind;
                let base = match w.live.as_deref() {
                    Some(l) => l,
                    None => {
                        skeleton_of_kind = skeleton(res.kind);
                        &skeleton_of_kind
                    }
                };
                entries = managed::update(
                    base,
                    &new,
                    ty,
                    entries,
                    &w.opts.manager,
                    &api_version,
                    sub,
                    &now,
                );
            }
            (new, entries)
        }
        Op::Apply { force } => {
            let mut config = w.new;
            if let Value::Object(m) = &mut config {
                if sub == "status" {
                    // Through /status only status is applied (`GetResetFields` of the registry
                    // strategies; the registry status strategies).
                    m.retain(|k, _| {
                        matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status")
                    });
                    if let Some(Value::Object(md)) = m.get_mut("metadata") {
                        md.retain(|k, _| k == "name" || k == "namespace");
                    }
                } else if res.has_status {
                    m.shift_remove("status");
                }
                if let Some(Value::Object(md)) = m.get_mut("metadata") {
                    for k in [
                        "uid",
                        "creationTimestamp",
                        "deletionTimestamp",
                        "deletionGracePeriodSeconds",
                        "selfLink",
                        "resourceVersion",
                        "generation",
                    ] {
                        md.shift_remove(k);
                    }
                }
            }
            if res.kind == "Namespace"
                && let Some(Value::Object(spec)) = config.get_mut("spec")
            {
                spec.shift_remove("finalizers");
            }
            let mut entries = live_entries;
            if let Some(l) = &w.live
                && entries.is_empty()
            {
                // Attribute everything to before-first-apply first, as an Update from the
                // kind's zero value (`objectCreater.New`). Upstream: managedfields
                // `skipnonapplied.go`.
                entries = managed::update(
                    &skeleton(res.kind),
                    l,
                    ty,
                    Vec::new(),
                    "before-first-apply",
                    &api_version,
                    "",
                    &now,
                );
            }
            let kubectl = w.opts.manager == "kubectl";
            let retry_entries = if kubectl { entries.clone() } else { Vec::new() };
            // Only kubectl needs the config after the apply (to sync its last-applied
            // annotation, to retry after a conflict); anyone else hands it over.
            let given = if kubectl {
                Cow::Borrowed(&config)
            } else {
                Cow::Owned(std::mem::take(&mut config))
            };
            let first = managed::apply(
                w.live.as_deref(),
                given,
                ty,
                entries,
                &w.opts.manager,
                &api_version,
                sub,
                force,
                &now,
            );
            let out = match first {
                Ok(o) => o,
                Err(c) => {
                    // kubectl may take over fields its last-applied annotation still matches.
                    // Upstream: managedfields `lastappliedupdater.go`; `lastappliedmanager.go`.
                    let allowed = kubectl
                        .then(|| w.live.as_deref().and_then(|l| last_applied_allowed(l, ty)))
                        .flatten();
                    let Some(allowed) = allowed else {
                        return Err(c.to_error());
                    };
                    let remaining: Vec<_> = c
                        .items
                        .iter()
                        .filter(|(_, p)| !allowed.has(p))
                        .cloned()
                        .collect();
                    if !remaining.is_empty() {
                        return Err(managed::Conflicts { items: remaining }.to_error());
                    }
                    managed::apply(
                        w.live.as_deref(),
                        Cow::Borrowed(&config),
                        ty,
                        retry_entries,
                        &w.opts.manager,
                        &api_version,
                        sub,
                        true,
                        &now,
                    )
                    .map_err(|c| c.to_error())?
                }
            };
            let mut new = out.object;
            if sub == "status"
                && let Some(l) = &w.live
            {
                new = status_only(l, &new);
            }
            // kubectl keeps an existing last-applied annotation in sync with its applies.
            // Upstream: managedfields `lastappliedupdater.go`; `lastappliedmanager.go`.
            if w.opts.manager == "kubectl" {
                sync_last_applied(&mut new, &config);
            }
            if sub != "status" {
                reset_main_fields(res, w.live.as_deref(), &mut new);
            }
            defaults::apply_defaults(res.kind, &mut new);
            (new, out.entries)
        }
    };
    if res.kind == "Service" && sub.is_empty() {
        if w.opts.dry_run && is_create {
            let mut scratch = State {
                next_ip: st.next_ip,
                next_node_port: st.next_node_port,
                ..State::default()
            };
            service_alloc(&mut scratch, w.live.as_deref(), &mut new);
        } else {
            service_alloc(st, w.live.as_deref(), &mut new);
        }
    }
    system_meta(res, w.live.as_deref(), &mut new);
    if is_create && res.kind == "Job" {
        job_selector(&mut new);
    }
    // Objects are defaulted again when decoded from storage (`zz_generated.defaults.go`), e.g. a
    // Job's labels are copied from its template after the strategy generated the template labels.
    defaults::apply_defaults(res.kind, &mut new);
    tidy_meta(&mut new);
    let mut errs = validation::validate(res.kind, &new);
    if let Some(l) = &w.live {
        let update = validation::validate_update(res.kind, l, &new);
        if matches!(res.kind, "Secret" | "ConfigMap") {
            // `ValidateSecretUpdate`, `ValidateConfigMapUpdate`: the immutable fields first,
            // then the object.
            errs.splice(0..0, update);
        } else {
            errs.extend(update);
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid(res.kind, res.group, &name, &errs));
    }
    let md = crate::util::ensure_obj(&mut new, &["metadata"]);
    let enc = managed::encode(&entries);
    if enc.as_array().is_some_and(|a| !a.is_empty()) {
        md.insert("managedFields".into(), enc);
    } else {
        md.shift_remove("managedFields");
    }
    let code = if is_create { 201 } else { 200 };
    if let Some(l) = &w.live
        && (**l == new || equal_ignoring_managed_times(l, &new))
    {
        // No change, or only managedFields timestamps changed
        // (`IgnoreManagedFieldsTimestampsTransformer`).
        return Ok(Reply::ok(l.clone()));
    }
    // Removing the last finalizer of an object being deleted deletes it.
    // Upstream: apiserver `registry/generic/registry/store.go`.
    let deleting = new.ptr("/metadata/deletionTimestamp").is_some();
    let no_finalizers = new
        .ptr("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if w.opts.dry_run {
        if is_create && let Some(Value::Object(md)) = new.get_mut("metadata") {
            md.shift_remove("resourceVersion");
            if w.post {
                // dryrun.ResetMetadata: no uid, and no name if it was generated (apiserver
                // `registry/generic/registry/dryrun.go`).
                md.shift_remove("uid");
                if md
                    .get("generateName")
                    .and_then(Value::as_str)
                    .is_some_and(|g| !g.is_empty())
                {
                    md.shift_remove("name");
                }
            }
        }
        return Ok(Reply {
            code,
            body: new.into(),
            warnings: Vec::new(),
        });
    }
    if deleting && no_finalizers {
        st.remove(res, &ns, &name);
        crate::deletion::after_removal(st, res, &ns, &new);
        return Ok(Reply {
            code,
            body: new.into(),
            warnings: Vec::new(),
        });
    }
    let stored = st.put(res, &ns, &name, new);
    if st.controller != controller::ControllerMode::Off
        && sub.is_empty()
        && st.lifecycle == crate::Lifecycle::Synchronous
    {
        controller::reconcile(st, res, &ns, &name);
    }
    Ok(Reply {
        code,
        body: stored,
        warnings: Vec::new(),
    })
}

/// Whether two objects differ at most in `metadata.managedFields[].time`.
fn equal_ignoring_managed_times(a: &Value, b: &Value) -> bool {
    let (Value::Object(am), Value::Object(bm)) = (a, b) else {
        return false;
    };
    if am.len() != bm.len()
        || am
            .iter()
            .any(|(k, v)| k != "metadata" && bm.get(k) != Some(v))
    {
        return false;
    }
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(Value::Array(mf)) = v.ptr_mut("/metadata/managedFields") {
            for e in mf.iter_mut() {
                if let Value::Object(m) = e {
                    m.shift_remove("time");
                }
            }
        }
        v
    };
    a.ptr("/metadata/managedFields").is_some() && strip(a) == strip(b)
}

/// The Job strategy's generated selector and template labels
/// (`pkg/registry/batch/job/strategy.go`).
fn job_selector(job: &mut Value) {
    let uid = job
        .ptr("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = job
        .ptr("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let manual = job.ptr("/spec/manualSelector") == Some(&json!(true));
    if manual {
        return;
    }
    let spec = crate::util::ensure_obj(job, &["spec"]);
    if spec.get("selector").is_none_or(Value::is_null) {
        spec.insert(
            "selector".into(),
            json!({"matchLabels":{"batch.kubernetes.io/controller-uid": uid}}),
        );
    }
    let labels = crate::util::ensure_obj(job, &["spec", "template", "metadata", "labels"]);
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", uid.as_str()),
        ("batch.kubernetes.io/job-name", name.as_str()),
        ("controller-uid", uid.as_str()),
        ("job-name", name.as_str()),
    ] {
        labels.entry(k.to_string()).or_insert_with(|| json!(v));
    }
}
