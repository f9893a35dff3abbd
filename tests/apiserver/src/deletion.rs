//! DELETE: propagation policies with instant garbage collection, finalizers, synchronous namespace
//! cascade and namespace `/finalize` (`k8s.io/apiserver/pkg/endpoints/handlers/delete.go`,
//! `pkg/registry/generic/registry/store.go`, `pkg/registry/core/namespace/storage/storage.go`).

use crate::api::{Ctx, Reply, decode_body};
use crate::resources::{self, ResourceDef};
use crate::status::{ApiError, ApiResult, FieldError};
use crate::store::State;
use crate::util::{Pointer, now_rfc3339};
use serde_json::{Value, json};

const GC_FINALIZERS: &[&str] = &["orphan", "foregroundDeletion"];

struct DeleteOptions {
    policy: Option<String>,
    dry_run: bool,
    uid: Option<String>,
    rv: Option<String>,
}

fn parse(ctx: &Ctx) -> ApiResult<DeleteOptions> {
    let body = if ctx.body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(decode_body("application/json", ctx.body)?)
    };
    let mut o = DeleteOptions {
        policy: None,
        dry_run: false,
        uid: None,
        rv: None,
    };
    let mut errs = Vec::new();
    let orphan_dependents: Option<bool>;
    match &body {
        Some(b) => {
            o.policy = b
                .get("propagationPolicy")
                .and_then(Value::as_str)
                .map(str::to_string);
            if let Some(Value::Array(d)) = b.get("dryRun") {
                for v in d {
                    match v.as_str() {
                        Some("All") => o.dry_run = true,
                        other => errs.push(FieldError::not_supported(
                            "dryRun",
                            other.unwrap_or(""),
                            &["All"],
                        )),
                    }
                }
            }
            o.uid = b
                .ptr("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_string);
            o.rv = b
                .ptr("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
            orphan_dependents = b.get("orphanDependents").and_then(Value::as_bool);
        }
        None => {
            o.policy = ctx.query.get("propagationPolicy").map(str::to_string);
            o.dry_run = ctx.query.get("dryRun") == Some("All");
            orphan_dependents = ctx.query.get("orphanDependents").map(|v| v == "true");
        }
    }
    if let Some(p) = &o.policy {
        if !["Orphan", "Background", "Foreground"].contains(&p.as_str()) {
            errs.push(FieldError::not_supported(
                "propagationPolicy",
                p,
                &["Foreground", "Background", "Orphan", "nil"],
            ));
        }
        if orphan_dependents.is_some() {
            errs.push(FieldError::invalid(
                "propagationPolicy",
                &format!("{p:?}"),
                "orphanDependents and deletionPropagation cannot be both set",
            ));
        }
    } else if let Some(od) = orphan_dependents {
        o.policy = Some(if od { "Orphan" } else { "Background" }.into());
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid_options("DeleteOptions", &errs));
    }
    Ok(o)
}

fn success_status(res: &ResourceDef, name: &str, uid: &str) -> Value {
    let mut d = serde_json::Map::new();
    d.insert("name".into(), json!(name));
    if !res.group.is_empty() {
        d.insert("group".into(), json!(res.group));
    }
    d.insert("kind".into(), json!(res.plural));
    d.insert("uid".into(), json!(uid));
    json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":Value::Object(d)})
}

fn finalizers(o: &Value) -> Vec<String> {
    o.ptr("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// DELETE of one object.
pub fn delete(st: &mut State, ctx: &Ctx) -> ApiResult<Reply> {
    let opts = parse(ctx)?;
    let res = ctx.res;
    let Some(live) = st.get(res, ctx.ns, ctx.name).cloned() else {
        return Err(ApiError::not_found(res, ctx.name));
    };
    let uid = live
        .ptr("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let rv = live
        .ptr("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(u) = &opts.uid
        && *u != uid
    {
        return Err(ApiError::conflict(
            res,
            ctx.name,
            &format!("Precondition failed: UID in precondition: {u}, UID in object meta: {uid}"),
        ));
    }
    if let Some(r) = &opts.rv
        && *r != rv
    {
        return Err(ApiError::conflict(
            res,
            ctx.name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {r}, ResourceVersion in object meta: {rv}"
            ),
        ));
    }
    if res.kind == "Namespace" {
        return delete_namespace(st, ctx, live, opts.dry_run);
    }
    let mut warnings = Vec::new();
    let policy = match &opts.policy {
        Some(p) => p.clone(),
        None if res.kind == "Job" => {
            warnings.push("child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning".to_string());
            "Orphan".into()
        }
        None => "Background".into(),
    };
    let ns = ctx.ns.to_string();
    let user_finalizers: Vec<String> = finalizers(&live)
        .into_iter()
        .filter(|f| !GC_FINALIZERS.contains(&f.as_str()))
        .collect();
    if !user_finalizers.is_empty() {
        // Mark as deleting; keep until the finalizers are removed.
        // Upstream: apiserver `registry/generic/registry/store.go`.
        let mut obj = live.clone();
        if obj.ptr("/metadata/deletionTimestamp").is_none() {
            let md = crate::util::ensure_obj(&mut obj, &["metadata"]);
            md.insert("deletionTimestamp".into(), json!(now_rfc3339()));
            md.insert("deletionGracePeriodSeconds".into(), json!(0));
            if res.has_generation {
                let g = md.get("generation").and_then(Value::as_i64).unwrap_or(1);
                md.insert("generation".into(), json!(g + 1));
            }
            // Foreground/Orphan: the GC finalizer would be added and removed at once (apiserver
            // `registry/generic/registry/store.go` `deletionFinalizersForGarbageCollection`).
            if opts.dry_run {
                return Ok(Reply {
                    code: 200,
                    body: obj.into(),
                    warnings,
                });
            }
            gc_dependents(st, &uid, &policy);
            let stored = st.put(res, &ns, ctx.name, obj);
            return Ok(Reply {
                code: 200,
                body: stored,
                warnings,
            });
        }
        return Ok(Reply {
            code: 200,
            body: live.into(),
            warnings,
        });
    }
    // Foreground/Orphan: the store answers with the object carrying the GC finalizer (apiserver
    // `handlers/delete.go`; `registry/generic/registry/store.go`); the garbage collector then runs
    // "instantly" (apiserver `registry/generic/registry/store.go`
    // `deletionFinalizersForGarbageCollection`), so the object is already gone afterwards.
    let pending = match policy.as_str() {
        "Foreground" => Some("foregroundDeletion"),
        "Orphan" => Some("orphan"),
        _ => None,
    };
    let body = match pending {
        Some(fin) => {
            let mut o = live.clone();
            let md = crate::util::ensure_obj(&mut o, &["metadata"]);
            md.insert("deletionTimestamp".into(), json!(now_rfc3339()));
            md.insert("deletionGracePeriodSeconds".into(), json!(0));
            md.insert("finalizers".into(), json!([fin]));
            if res.has_generation {
                let g = md.get("generation").and_then(Value::as_i64).unwrap_or(1);
                md.insert("generation".into(), json!(g + 1));
            }
            o
        }
        None if res.kind == "ServiceAccount" || res.kind == "Pod" => live.clone(),
        None => success_status(res, ctx.name, &uid),
    };
    if opts.dry_run {
        return Ok(Reply {
            code: 200,
            body: body.into(),
            warnings,
        });
    }
    st.remove(res, &ns, ctx.name);
    gc_dependents(st, &uid, &policy);
    after_removal(st, res, &ns, &live);
    Ok(Reply {
        code: 200,
        body: body.into(),
        warnings,
    })
}

/// Instant garbage collection of objects owned by `uid` (apiserver
/// `registry/generic/registry/store.go` `deletionFinalizersForGarbageCollection`).
fn gc_dependents(st: &mut State, uid: &str, policy: &str) {
    let owned: Vec<(crate::store::Key, Value)> = st
        .objects
        .iter()
        .filter(|(_, o)| {
            o.ptr("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|r| r.get("uid") == Some(&json!(uid))))
        })
        .map(|(k, o)| (k.clone(), Value::clone(o)))
        .collect();
    for (key, mut o) in owned {
        let Some(res) = resources::RESOURCES.iter().find(|r| r.plural == key.0) else {
            continue;
        };
        if policy == "Orphan" {
            if let Some(Value::Array(refs)) = o.ptr_mut("/metadata/ownerReferences") {
                refs.retain(|r| r.get("uid") != Some(&json!(uid)));
            }
            st.put(res, &key.1, &key.2, o);
        } else {
            let child_uid = o
                .ptr("/metadata/uid")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if finalizers(&o).is_empty() {
                st.remove(res, &key.1, &key.2);
                gc_dependents(st, &child_uid, policy);
            } else if o.ptr("/metadata/deletionTimestamp").is_none() {
                let md = crate::util::ensure_obj(&mut o, &["metadata"]);
                md.insert("deletionTimestamp".into(), json!(now_rfc3339()));
                md.insert("deletionGracePeriodSeconds".into(), json!(0));
                st.put(res, &key.1, &key.2, o);
            }
        }
    }
}

/// After an object is gone: finish a terminating namespace that became empty.
pub fn after_removal(st: &mut State, res: &ResourceDef, ns: &str, _obj: &Value) {
    if res.namespaced
        && st.namespace_state(ns) == Some(true)
        && !st.keep_terminating
        && st.lifecycle == crate::Lifecycle::Synchronous
    {
        try_finish_namespace(st, ns);
    }
}

fn namespace_content(st: &State, ns: &str) -> usize {
    st.objects
        .keys()
        .filter(|(p, n, _)| *p != "namespaces" && n == ns)
        .count()
}

fn try_finish_namespace(st: &mut State, ns: &str) {
    let Some(nsres) = resources::by_kind("Namespace") else {
        return;
    };
    if namespace_content(st, ns) > 0 {
        return;
    }
    if let Some(n) = st.get(nsres, "", ns).cloned() {
        if finalizers(&n).is_empty() {
            st.remove(nsres, "", ns);
        } else {
            let mut n = n;
            if let Some(Value::Object(spec)) = n.get_mut("spec") {
                spec.insert("finalizers".into(), json!([]));
            }
            st.put(nsres, "", ns, n);
        }
    }
}

/// Deletes every object in namespace `ns`; objects with finalizers are marked deleting and
/// stay until those are removed (`pkg/controller/namespace/deletion/namespaced_resources_deleter.go`
/// `deleteAllContent`). Returns whether anything changed.
pub(crate) fn remove_content(st: &mut State, ns: &str) -> bool {
    let keys: Vec<crate::store::Key> = st
        .objects
        .keys()
        .filter(|(p, n, _)| *p != "namespaces" && n == ns)
        .cloned()
        .collect();
    let mut changed = false;
    for key in keys {
        let Some(r) = resources::RESOURCES.iter().find(|r| r.plural == key.0) else {
            continue;
        };
        let Some(o) = st.objects.get(&key).map(|o| Value::clone(o)) else {
            continue;
        };
        let uid = o
            .ptr("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let user_fins: Vec<String> = finalizers(&o)
            .into_iter()
            .filter(|f| !GC_FINALIZERS.contains(&f.as_str()))
            .collect();
        if user_fins.is_empty() {
            st.remove(r, &key.1, &key.2);
            gc_dependents(st, &uid, "Background");
            changed = true;
        } else if o.ptr("/metadata/deletionTimestamp").is_none() {
            let mut o = o;
            let md = crate::util::ensure_obj(&mut o, &["metadata"]);
            md.insert("deletionTimestamp".into(), json!(now_rfc3339()));
            md.insert("deletionGracePeriodSeconds".into(), json!(0));
            st.put(r, &key.1, &key.2, o);
            changed = true;
        }
    }
    changed
}

/// One step of the asynchronous namespace controller for every Terminating namespace
/// (`pkg/controller/namespace/deletion/namespaced_resources_deleter.go` `Delete`): a namespace
/// with content has it deleted; an empty one has its `kubernetes` finalizer removed and is then
/// gone, unless metadata finalizers keep it. Returns whether anything changed.
pub(crate) fn namespace_controller_step(st: &mut State) -> bool {
    if st.keep_terminating {
        return false;
    }
    let terminating: Vec<String> = st
        .objects
        .range(("namespaces", String::new(), String::new())..)
        .take_while(|((p, _, _), _)| *p == "namespaces")
        .filter(|(_, o)| o.ptr("/metadata/deletionTimestamp").is_some())
        .filter(|(_, o)| {
            o.ptr("/spec/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        })
        .map(|((_, _, n), _)| n.clone())
        .collect();
    let mut changed = false;
    for ns in terminating {
        if namespace_content(st, &ns) > 0 {
            changed |= remove_content(st, &ns);
        } else {
            try_finish_namespace(st, &ns);
            changed = true;
        }
    }
    changed
}

fn delete_namespace(st: &mut State, ctx: &Ctx, live: Value, dry_run: bool) -> ApiResult<Reply> {
    let res = ctx.res;
    if ["default", "kube-system", "kube-public"].contains(&ctx.name) {
        return Err(ApiError::new(
            403,
            Some("Forbidden"),
            &format!(
                "namespaces \"{}\" is forbidden: this namespace may not be deleted",
                ctx.name
            ),
        ));
    }
    if live.ptr("/metadata/deletionTimestamp").is_some() {
        let spec_fins = live
            .ptr("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if spec_fins {
            return Err(ApiError::conflict(
                res,
                ctx.name,
                "The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.",
            ));
        }
        return Ok(Reply {
            code: 200,
            body: live.into(),
            warnings: Vec::new(),
        });
    }
    let mut n = live;
    {
        let md = crate::util::ensure_obj(&mut n, &["metadata"]);
        md.insert("deletionTimestamp".into(), json!(now_rfc3339()));
        md.insert("deletionGracePeriodSeconds".into(), json!(0));
    }
    crate::util::ensure_obj(&mut n, &["status"]).insert("phase".into(), json!("Terminating"));
    if dry_run {
        return Ok(Reply {
            code: 200,
            body: n.into(),
            warnings: Vec::new(),
        });
    }
    let stored = st.put(res, "", ctx.name, n);
    if !st.keep_terminating && st.lifecycle == crate::Lifecycle::Synchronous {
        // The namespace controller, inside the request.
        remove_content(st, ctx.name);
        try_finish_namespace(st, ctx.name);
    }
    Ok(Reply {
        code: 200,
        body: stored,
        warnings: Vec::new(),
    })
}

/// PUT `/api/v1/namespaces/{name}/finalize` (`pkg/registry/core/namespace/storage/storage.go` step
/// 2).
pub fn finalize_namespace(
    st: &mut State,
    ctx: &Ctx,
    live: &Value,
    body: &Value,
    dry_run: bool,
) -> ApiResult<Reply> {
    let mut n = live.clone();
    let fins = body
        .ptr("/spec/finalizers")
        .cloned()
        .unwrap_or_else(|| json!([]));
    let empty = fins.as_array().is_none_or(Vec::is_empty);
    crate::util::ensure_obj(&mut n, &["spec"]).insert("finalizers".into(), fins);
    if dry_run {
        return Ok(Reply {
            code: 200,
            body: n.into(),
            warnings: Vec::new(),
        });
    }
    let deleting = n.ptr("/metadata/deletionTimestamp").is_some();
    if deleting && empty && finalizers(&n).is_empty() && namespace_content(st, ctx.name) == 0 {
        st.remove(ctx.res, "", ctx.name);
        return Ok(Reply {
            code: 200,
            body: n.into(),
            warnings: Vec::new(),
        });
    }
    let stored = st.put(ctx.res, "", ctx.name, n);
    Ok(Reply {
        code: 200,
        body: stored,
        warnings: Vec::new(),
    })
}
