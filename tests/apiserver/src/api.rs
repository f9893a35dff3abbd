//! Resource verbs: get, list, create, update, patch (incl. server-side apply) and the shared
//! write pipeline (section 10.4): decode → merge/ownership → defaults → strategy → validation →
//! store, with dry-run and no-op handling (B26, B31-B36, B48, B53-B57).

use crate::controller;
use crate::defaults;
use crate::managed::{self, Entry};
use crate::patch;
use crate::query::Query;
use crate::resources::ResourceDef;
use crate::schema;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult, FieldError};
use crate::store::State;
use crate::strict;
use crate::util::{new_uuid, now_rfc3339, random_suffix};
use crate::validation;
use serde_json::{Map, Value, json};

/// One resource request after routing.
pub struct Ctx<'a> {
    /// The resource.
    pub res: &'static ResourceDef,
    /// Namespace from the URL ("" for cluster scope / all namespaces).
    pub ns: &'a str,
    /// Object name from the URL ("" for collections).
    pub name: &'a str,
    /// Subresource (`status`, `finalize`), if any.
    pub sub: Option<&'a str>,
    /// Query parameters.
    pub query: &'a Query,
    /// Request `Content-Type` without parameters.
    pub content_type: &'a str,
    /// `User-Agent` header.
    pub user_agent: &'a str,
    /// Request body.
    pub body: &'a [u8],
    /// Body decoded and schema-checked before the state lock was taken, if any.
    pub prepared: Option<&'a Prepared>,
}

/// Lock-free preparation of a write body: decoding and the schema check (the costly part).
pub struct Prepared {
    /// The decoded body.
    pub body: ApiResult<Value>,
    /// Schema findings for the body.
    pub findings: Option<strict::Findings>,
}

/// Decodes and schema-checks the body of a create, update or apply outside the lock.
pub fn prepare(res: &ResourceDef, verb: &str, content_type: &str, body: &[u8]) -> Option<Prepared> {
    let ct = match verb {
        "apply" => "application/yaml",
        "create" | "update" => content_type,
        _ => return None,
    };
    let decoded = decode_typed_body(res, ct, body);
    let findings = decoded.as_ref().ok().map(|v| strict::check(res.kind, v));
    Some(Prepared {
        body: decoded,
        findings,
    })
}

fn body_of(ctx: &Ctx, ct: &str) -> ApiResult<Value> {
    match ctx.prepared {
        Some(p) => p.body.clone(),
        None => decode_typed_body(ctx.res, ct, ctx.body),
    }
}

/// Decodes a create/update body: JSON, YAML, or protobuf for the kinds kubectl's typed clients send.
fn decode_typed_body(res: &ResourceDef, ct: &str, body: &[u8]) -> ApiResult<Value> {
    if ct == crate::protobuf::PROTOBUF {
        return crate::protobuf::decode(res.kind, body)
            .map_err(|_| ApiError::unsupported_body_type(ct));
    }
    decode_body(ct, body)
}

fn findings_of(ctx: &Ctx, obj: &Value) -> strict::Findings {
    match ctx.prepared.and_then(|p| p.findings.as_ref()) {
        Some(f) => f.clone(),
        None => strict::check(ctx.res.kind, obj),
    }
}

/// A successful answer.
pub struct Reply {
    /// HTTP code.
    pub code: u16,
    /// JSON body.
    pub body: Value,
    /// `Warning` header texts.
    pub warnings: Vec<String>,
}

impl Reply {
    fn ok(body: Value) -> Self {
        Self {
            code: 200,
            body,
            warnings: Vec::new(),
        }
    }
}

/// fieldValidation modes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

struct Opts {
    dry_run: bool,
    manager: String,
    fv: FieldValidation,
    force: bool,
}

fn parse_opts(ctx: &Ctx, options_kind: &str, is_apply: bool, is_patch: bool) -> ApiResult<Opts> {
    let mut errs = Vec::new();
    let mut dry_run = false;
    for d in ctx.query.all("dryRun") {
        if d == "All" {
            dry_run = true;
        } else {
            errs.push(FieldError::not_supported("dryRun", d, &["All"]));
        }
    }
    let fm = ctx.query.get("fieldManager").unwrap_or("");
    if fm.chars().count() > 128 {
        errs.push(FieldError::too_long("fieldManager", 128));
    }
    if is_apply && fm.is_empty() {
        errs.push(FieldError::required(
            "fieldManager",
            "is required for apply patch",
        ));
    }
    let force_set = ctx.query.get("force").is_some();
    let force = ctx.query.flag("force");
    if is_patch && !is_apply && force_set {
        errs.push(FieldError::forbidden(
            "force",
            "may not be specified for non-apply patch",
        ));
    }
    let fv = match ctx.query.get("fieldValidation").unwrap_or("") {
        "" | "Warn" => FieldValidation::Warn,
        "Ignore" => FieldValidation::Ignore,
        "Strict" => FieldValidation::Strict,
        other => {
            errs.push(FieldError::not_supported(
                "fieldValidation",
                other,
                &["", "Ignore", "Warn", "Strict"],
            ));
            FieldValidation::Warn
        }
    };
    if !errs.is_empty() {
        return Err(ApiError::invalid_options(options_kind, &errs));
    }
    let manager = if fm.is_empty() {
        ctx.user_agent.split('/').next().unwrap_or("").to_string()
    } else {
        fm.to_string()
    };
    Ok(Opts {
        dry_run,
        manager,
        fv,
        force,
    })
}

/// Decodes a JSON or YAML body into a value.
pub fn decode_body(ct: &str, body: &[u8]) -> ApiResult<Value> {
    let is_yaml = ct.contains("yaml");
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::bad_request(&format!("body is not UTF-8: {e}")))?;
    if !is_yaml || text.trim_start().starts_with('{') {
        if let Ok(v) = serde_json::from_str::<Value>(text) {
            return Ok(v);
        }
        if !is_yaml {
            let e = serde_json::from_str::<Value>(text).err();
            return Err(ApiError::bad_request(&format!(
                "couldn't get version/kind; json parse error: {}",
                e.map(|e| e.to_string()).unwrap_or_default()
            )));
        }
    }
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| ApiError::bad_request(&format!("error decoding YAML: {e}")))
}

fn obj_ns_name(obj: &Value) -> (String, String) {
    let s = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (s("/metadata/namespace"), s("/metadata/name"))
}

/// GET of one object.
pub fn get(st: &State, ctx: &Ctx) -> ApiResult<Reply> {
    match st.get(ctx.res, ctx.ns, ctx.name) {
        Some(o) => Ok(Reply::ok(o.clone())),
        None => Err(ApiError::not_found(ctx.res, ctx.name)),
    }
}

/// LIST with label and field selectors (B24); `limit` is ignored (allowed by the API).
pub fn list(st: &State, ctx: &Ctx) -> ApiResult<Reply> {
    let ls = LabelSelector::parse(ctx.query.get("labelSelector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(&format!("unable to parse requirement: {e}")))?;
    let fs = FieldSelector::parse(ctx.query.get("fieldSelector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(&e))?;
    let items = matching(st, ctx.res, ctx.ns, &ls, &fs);
    Ok(Reply::ok(list_body(st, ctx.res, items)))
}

fn matching(
    st: &State,
    res: &ResourceDef,
    ns: &str,
    ls: &LabelSelector,
    fs: &FieldSelector,
) -> Vec<Value> {
    st.objects
        .iter()
        .filter(|((p, n, _), _)| *p == res.plural && (ns.is_empty() || n == ns))
        .map(|(_, o)| o)
        .filter(|o| ls.matches(o) && fs.matches(o))
        .cloned()
        .collect()
}

fn list_body(st: &State, res: &ResourceDef, items: Vec<Value>) -> Value {
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut o| {
            if let Value::Object(m) = &mut o {
                m.shift_remove("kind");
                m.shift_remove("apiVersion");
            }
            o
        })
        .collect();
    json!({"kind": format!("{}List", res.kind), "apiVersion": res.api_version(),
           "metadata": {"resourceVersion": st.rv.to_string()}, "items": items})
}

/// DELETE of a collection (B88): deletes every match and returns the list of deleted objects.
pub fn delete_collection(st: &mut State, ctx: &Ctx) -> ApiResult<Reply> {
    let ls = LabelSelector::parse(ctx.query.get("labelSelector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(&e))?;
    let fs = FieldSelector::parse(ctx.query.get("fieldSelector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(&e))?;
    let items = matching(st, ctx.res, ctx.ns, &ls, &fs);
    let mut deleted = Vec::new();
    for o in items {
        let (ns, name) = obj_ns_name(&o);
        let sub = Ctx {
            ns: &ns,
            name: &name,
            ..*ctx
        };
        let r = crate::deletion::delete(st, &sub)?;
        deleted.push(if r.body.get("kind") == Some(&json!("Status")) {
            o
        } else {
            r.body
        });
    }
    Ok(Reply::ok(list_body(st, ctx.res, deleted)))
}

/// Checks the body's apiVersion/kind against the endpoint.
fn check_gvk(res: &ResourceDef, obj: &Value, required: bool) -> ApiResult<()> {
    let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if (av.is_empty() && kind.is_empty()) && !required {
        return Ok(());
    }
    if av != res.api_version() || kind != res.kind {
        let (g, v) = match av.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", av),
        };
        return Err(ApiError::bad_request(&format!(
            "invalid object type: {g}/{v}, Kind={kind}"
        )));
    }
    Ok(())
}

/// Fills/validates the namespace and name of a body against the URL (B29).
fn check_ns_name(ctx: &Ctx, obj: &mut Value, name_from_url: bool) -> ApiResult<()> {
    let md = crate::util::ensure_obj(obj, &["metadata"]);
    if ctx.res.namespaced {
        match md.get("namespace").and_then(Value::as_str) {
            None | Some("") => {
                md.insert("namespace".into(), json!(ctx.ns));
            }
            Some(n) if n != ctx.ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {}
        }
    } else {
        md.shift_remove("namespace");
    }
    if name_from_url {
        let body_name = md
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if body_name.is_empty() {
            md.insert("name".into(), json!(ctx.name));
        } else if body_name != ctx.name {
            return Err(ApiError::bad_request(&format!(
                "the name of the object ({body_name}) does not match the name on the URL ({})",
                ctx.name
            )));
        }
    }
    Ok(())
}

/// Fieldvalidation of a non-apply body (B22): Strict → 400, Warn → warnings, Ignore → silent.
fn field_validation(
    ctx: &Ctx,
    fv: FieldValidation,
    obj: &mut Value,
    prepared_ok: bool,
) -> ApiResult<Vec<String>> {
    let f = if prepared_ok {
        findings_of(ctx, obj)
    } else {
        strict::check(ctx.res.kind, obj)
    };
    if let Some(e) = f.type_error {
        return Err(ApiError::bad_request(&format!(
            "{} in body is invalid: {e}",
            ctx.res.kind
        )));
    }
    if f.unknown.is_empty() {
        return Ok(Vec::new());
    }
    strict::drop_unknown(obj, &f.unknown);
    match fv {
        FieldValidation::Strict => {
            let parts: Vec<String> = f
                .unknown
                .iter()
                .map(|p| format!("unknown field {p:?}"))
                .collect();
            Err(ApiError::bad_request(&format!(
                "strict decoding error: {}",
                parts.join(", ")
            )))
        }
        FieldValidation::Warn => Ok(f
            .unknown
            .iter()
            .map(|p| format!("unknown field {p:?}"))
            .collect()),
        FieldValidation::Ignore => Ok(Vec::new()),
    }
}

/// Zero-value skeleton of a kind, the "live" object of a create for Update ownership (B36).
fn skeleton(kind: &str) -> Value {
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
        "Namespace" => json!({"phase":"Active"}),
        _ => return None,
    })
}

/// Reset fields (B30): the main resource never changes `status` (and Namespace `spec.finalizers`).
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
            .and_then(|l| l.pointer("/spec/finalizers"))
            .cloned()
            .unwrap_or_else(|| json!(["kubernetes"]));
        let spec = crate::util::ensure_obj(new, &["spec"]);
        spec.insert("finalizers".into(), fins);
    }
}

/// The `/status` write: only status changes (B91).
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

/// Service allocation on create and preservation on update (B61).
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
            .and_then(|l| l.pointer("/spec/ports"))
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

/// System metadata (B55-B57): uid/creationTimestamp/generation on create, carried over on update.
fn system_meta(res: &ResourceDef, live: Option<&Value>, new: &mut Value) {
    let spec_changed = live.is_some_and(|l| {
        l.get("spec") != new.get("spec")
            || (res.kind == "Deployment"
                && l.pointer("/metadata/annotations") != new.pointer("/metadata/annotations"))
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

/// Rejects creates in missing or terminating namespaces (B32, B76, B82).
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

enum Op {
    /// Non-apply write (`Update` ownership).
    Update,
    /// Server-side apply with force flag.
    Apply { force: bool },
}

struct Write<'a> {
    ctx: &'a Ctx<'a>,
    live: Option<Value>,
    new: Value,
    op: Op,
    opts: &'a Opts,
    post: bool,
}

/// The common write pipeline; returns (code, object).
fn commit(st: &mut State, w: Write) -> ApiResult<Reply> {
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
                reset_main_fields(res, w.live.as_ref(), &mut new);
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
                let base = w.live.clone().unwrap_or_else(|| skeleton(res.kind));
                entries = managed::update(
                    &base,
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
                    // Through /status only status is applied (B30, B91).
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
                // B49: attribute everything to before-first-apply first.
                entries = managed::update(
                    &json!({}),
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
            let first = managed::apply(
                w.live.as_ref(),
                &config,
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
                    // B51(b): kubectl may take over fields its last-applied annotation still matches.
                    let allowed = kubectl
                        .then(|| w.live.as_ref().and_then(|l| last_applied_allowed(l, ty)))
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
                        w.live.as_ref(),
                        &config,
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
            // B51(a): kubectl keeps an existing last-applied annotation in sync with its applies.
            if w.opts.manager == "kubectl" {
                sync_last_applied(&mut new, &config);
            }
            if sub != "status" {
                reset_main_fields(res, w.live.as_ref(), &mut new);
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
            service_alloc(&mut scratch, w.live.as_ref(), &mut new);
        } else {
            service_alloc(st, w.live.as_ref(), &mut new);
        }
    }
    system_meta(res, w.live.as_ref(), &mut new);
    if is_create && res.kind == "Job" {
        job_selector(&mut new);
    }
    // Objects are defaulted again when decoded from storage (B58), e.g. a Job's labels are
    // copied from its template after the strategy generated the template labels.
    defaults::apply_defaults(res.kind, &mut new);
    tidy_meta(&mut new);
    let mut errs = validation::validate(res.kind, &new);
    if let Some(l) = &w.live {
        errs.extend(validation::validate_update(res.kind, l, &new));
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
        && (*l == new || equal_ignoring_managed_times(l, &new))
    {
        // No change, or only managedFields timestamps changed (IgnoreManagedFieldsTimestampsTransformer, B48, B57).
        return Ok(Reply::ok(l.clone()));
    }
    // B86: removing the last finalizer of an object being deleted deletes it.
    let deleting = new.pointer("/metadata/deletionTimestamp").is_some();
    let no_finalizers = new
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if w.opts.dry_run {
        if is_create && let Some(Value::Object(md)) = new.get_mut("metadata") {
            md.shift_remove("resourceVersion");
            if w.post {
                // dryrun.ResetMetadata: no uid, and no name if it was generated (B53).
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
            body: new,
            warnings: Vec::new(),
        });
    }
    if deleting && no_finalizers {
        st.remove(res, &ns, &name);
        crate::deletion::after_removal(st, res, &ns, &new);
        return Ok(Reply {
            code,
            body: new,
            warnings: Vec::new(),
        });
    }
    let stored = st.put(res, &ns, &name, new);
    if st.controller != controller::ControllerMode::Off && sub.is_empty() {
        controller::reconcile(st, res, &ns, &name);
    }
    Ok(Reply {
        code,
        body: stored,
        warnings: Vec::new(),
    })
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn last_applied(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Fields of the last-applied configuration whose value still matches the live object (B51).
fn last_applied_allowed(live: &Value, ty: schema::Ty) -> Option<crate::fieldpath::Set> {
    let la: Value = serde_json::from_str(last_applied(live)?).ok()?;
    let set = crate::typed::to_field_set(&la, ty);
    let cmp = crate::typed::compare(&la, live, ty);
    Some(set.difference(&cmp.modified))
}

/// Rewrites a present last-applied annotation to the applied config (sorted compact JSON, B51).
fn sync_last_applied(new: &mut Value, config: &Value) {
    if last_applied(new).is_none() {
        return;
    }
    let mut cfg = config.clone();
    if let Some(Value::Object(a)) = cfg.pointer_mut("/metadata/annotations") {
        a.shift_remove(LAST_APPLIED);
    }
    let text = sorted_json(&cfg);
    if text.len() > 262_144 {
        return;
    }
    if let Some(Value::Object(a)) = new.pointer_mut("/metadata/annotations") {
        a.insert(LAST_APPLIED.into(), json!(text));
    }
}

/// Compact JSON with object keys sorted, as Go's encoding/json prints maps.
fn sorted_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        Value::String((*k).clone()),
                        sorted_json(&m[k.as_str()])
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(sorted_json).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
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
        if let Some(Value::Array(mf)) = v.pointer_mut("/metadata/managedFields") {
            for e in mf.iter_mut() {
                if let Value::Object(m) = e {
                    m.shift_remove("time");
                }
            }
        }
        v
    };
    a.pointer("/metadata/managedFields").is_some() && strip(a) == strip(b)
}

/// The Job strategy's generated selector and template labels (B64).
fn job_selector(job: &mut Value) {
    let uid = job
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = job
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let manual = job.pointer("/spec/manualSelector") == Some(&json!(true));
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

/// POST (create) (B26).
pub fn create(st: &mut State, ctx: &Ctx) -> ApiResult<Reply> {
    if !ctx.content_type.is_empty()
        && !ctx.content_type.contains("json")
        && !ctx.content_type.contains("yaml")
        && ctx.content_type != crate::protobuf::PROTOBUF
    {
        return Err(ApiError::unsupported_body_type(ctx.content_type));
    }
    let opts = parse_opts(ctx, "CreateOptions", false, false)?;
    let mut obj = body_of(ctx, ctx.content_type)?;
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "Object 'Kind' is missing in the request body",
        ));
    }
    check_gvk(ctx.res, &obj, false)?;
    check_ns_name(ctx, &mut obj, false)?;
    let warnings = field_validation(ctx, opts.fv, &mut obj, true)?;
    let md = crate::util::ensure_obj(&mut obj, &["metadata"]);
    if md
        .get("resourceVersion")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
    {
        return Err(ApiError::new(
            500,
            Some("InternalError"),
            "Internal error occurred: resourceVersion should not be set on objects to be created",
        ));
    }
    let mut name = md
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if name.is_empty()
        && let Some(g) = md.get("generateName").and_then(Value::as_str)
        && !g.is_empty()
    {
        name = format!("{g}{}", random_suffix(5));
        md.insert("name".into(), json!(name));
    }
    md.shift_remove("managedFields");
    let ns = if ctx.res.namespaced { ctx.ns } else { "" };
    if let Some(existing) = st.get(ctx.res, ns, &name)
        && !name.is_empty()
    {
        let deleting = existing.pointer("/metadata/deletionTimestamp").is_some();
        return Err(ApiError::already_exists(ctx.res, &name, deleting));
    }
    let mut r = commit(
        st,
        Write {
            ctx,
            live: None,
            new: obj,
            op: Op::Update,
            opts: &opts,
            post: true,
        },
    )?;
    r.warnings = warnings;
    Ok(r)
}

/// PUT (update), including `/status` and namespace `/finalize`.
pub fn update(st: &mut State, ctx: &Ctx) -> ApiResult<Reply> {
    let opts = parse_opts(ctx, "UpdateOptions", false, false)?;
    let mut obj = body_of(ctx, ctx.content_type)?;
    check_gvk(ctx.res, &obj, false)?;
    check_ns_name(ctx, &mut obj, true)?;
    let warnings = field_validation(ctx, opts.fv, &mut obj, true)?;
    let live = st.get(ctx.res, ctx.ns, ctx.name).cloned();
    let Some(live) = live else {
        // PUT may create for kinds that allow create-on-update; the built-ins here do not.
        return Err(ApiError::not_found(ctx.res, ctx.name));
    };
    let body_rv = obj
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let live_rv = live
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !body_rv.is_empty() && body_rv != live_rv {
        return Err(ApiError::stale(ctx.res, ctx.name));
    }
    if ctx.sub == Some("finalize") && ctx.res.kind == "Namespace" {
        return crate::deletion::finalize_namespace(st, ctx, &live, &obj, opts.dry_run);
    }
    let mut r = commit(
        st,
        Write {
            ctx,
            live: Some(live),
            new: obj,
            op: Op::Update,
            opts: &opts,
            post: false,
        },
    )?;
    r.warnings = warnings;
    Ok(r)
}

/// PATCH: apply (B27-B33), merge, strategic merge and JSON patch (B21).
pub fn patch(st: &mut State, ctx: &Ctx) -> ApiResult<Reply> {
    let ct = ctx.content_type;
    let is_apply = ct == "application/apply-patch+yaml" || ct == "application/apply-patch+cbor";
    let known = is_apply
        || ct == "application/merge-patch+json"
        || ct == "application/strategic-merge-patch+json"
        || ct == "application/json-patch+json";
    if !known {
        return Err(ApiError::unsupported_patch_type());
    }
    let opts = parse_opts(ctx, "PatchOptions", is_apply, true)?;
    let live = st.get(ctx.res, ctx.ns, ctx.name).cloned();
    if is_apply {
        if ctx.sub.is_some() && live.is_none() {
            return Err(ApiError::not_found(ctx.res, ctx.name));
        }
        return apply(st, ctx, live, &opts);
    }
    let Some(live) = live else {
        return Err(ApiError::not_found(ctx.res, ctx.name));
    };
    let p = decode_body("application/json", ctx.body)?;
    let mut patched = match ct {
        "application/merge-patch+json" => patch::merge_patch(&live, &p),
        "application/strategic-merge-patch+json" => {
            patch::strategic_merge_patch(&live, &p, schema::root(ctx.res.kind))
                .map_err(|e| ApiError::bad_request(&e))?
        }
        _ => {
            if p.as_array().is_some_and(|a| a.len() > 10000) {
                return Err(ApiError::new(
                    413,
                    Some("RequestEntityTooLarge"),
                    "The allowed maximum operations in a JSON patch is 10000, got more",
                ));
            }
            patch::json_patch(&live, &p).map_err(|e| ApiError::new(422, Some("Invalid"), &e))?
        }
    };
    let live_rv = live
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let new_rv = patched
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !new_rv.is_empty() && new_rv != live_rv {
        return Err(ApiError::stale(ctx.res, ctx.name));
    }
    check_ns_name(ctx, &mut patched, true)?;
    let warnings = field_validation(ctx, opts.fv, &mut patched, false)?;
    let mut r = commit(
        st,
        Write {
            ctx,
            live: Some(live),
            new: patched,
            op: Op::Update,
            opts: &opts,
            post: false,
        },
    )?;
    r.warnings = warnings;
    Ok(r)
}

fn apply(st: &mut State, ctx: &Ctx, live: Option<Value>, opts: &Opts) -> ApiResult<Reply> {
    let mut config = body_of(ctx, "application/yaml")?;
    if !config.is_object() {
        return Err(ApiError::bad_request(&format!(
            "error decoding YAML: expected an object, got {config}"
        )));
    }
    check_gvk(ctx.res, &config, true)?;
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    check_ns_name(ctx, &mut config, true)?;
    let designation = format!(
        "({}{}; {})",
        if ctx.res.namespaced {
            format!("{}/", ctx.ns)
        } else {
            String::new()
        },
        ctx.name,
        ctx.res.gvk_string()
    );
    // B47: schema errors are 500s without a reason, before fieldValidation is consulted.
    let f = findings_of(ctx, &config);
    if let Some(e) = f.type_error {
        return Err(ApiError::internal(&format!(
            "failed to create typed patch object {designation}: {e}"
        )));
    }
    if let Some(p) = f.unknown.first() {
        return Err(ApiError::internal(&format!(
            "failed to create typed patch object {designation}: .{p}: field not declared in schema"
        )));
    }
    if let Err(d) = crate::typed::check_duplicates(&config, schema::root(ctx.res.kind)) {
        let (list, last) = d.path.split_at(d.path.len().saturating_sub(1));
        let key = last.first().map(|pe| pe.render()).unwrap_or_default();
        return Err(ApiError::internal(&format!(
            "failed to create typed patch object {designation}: {}: duplicate entries for key {key}",
            crate::fieldpath::render_path(list)
        )));
    }
    match &live {
        None => {
            if let Some(uid) = config.pointer("/metadata/uid").and_then(Value::as_str) {
                return Err(ApiError::conflict(
                    ctx.res,
                    ctx.name,
                    &format!(
                        "uid mismatch: the provided object specified uid {uid}, and no existing object was found"
                    ),
                ));
            }
        }
        Some(l) => {
            let rv = config
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or("");
            let live_rv = l
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !rv.is_empty() && rv != live_rv {
                return Err(ApiError::stale(ctx.res, ctx.name));
            }
        }
    }
    commit(
        st,
        Write {
            ctx,
            live,
            new: config,
            op: Op::Apply { force: opts.force },
            opts,
            post: false,
        },
    )
}

/// Whether a key exists in a JSON map (helper for handlers).
pub fn has_key(m: &Map<String, Value>, k: &str) -> bool {
    m.contains_key(k)
}

/// Creates the objects of a fresh cluster (B68).
pub fn bootstrap(st: &mut State) -> anyhow::Result<()> {
    let ns_res =
        crate::resources::by_kind("Namespace").ok_or_else(|| anyhow::anyhow!("no Namespace"))?;
    let svc_res =
        crate::resources::by_kind("Service").ok_or_else(|| anyhow::anyhow!("no Service"))?;
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        internal_create(
            st,
            ns_res,
            json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":ns}}),
            "kube-apiserver",
        )
        .map_err(|e| anyhow::anyhow!("bootstrap {ns}: {}", e.body))?;
    }
    internal_create(
        st,
        svc_res,
        json!({"apiVersion":"v1","kind":"Service","metadata":{"name":"kubernetes","namespace":"default",
               "labels":{"component":"apiserver","provider":"kubernetes"}},
               "spec":{"clusterIP":"10.96.0.1","ports":[{"name":"https","port":443,"targetPort":6443}]}}),
        "kube-apiserver",
    )
    .map_err(|e| anyhow::anyhow!("bootstrap kubernetes service: {}", e.body))?;
    Ok(())
}

/// Creates an object through the write pipeline on behalf of a system component.
pub fn internal_create(
    st: &mut State,
    res: &'static ResourceDef,
    obj: Value,
    manager: &str,
) -> ApiResult<Value> {
    let (ns, name) = obj_ns_name(&obj);
    let q = Query::default();
    let ctx = Ctx {
        res,
        ns: &ns,
        name: &name,
        sub: None,
        query: &q,
        content_type: "application/json",
        user_agent: manager,
        body: &[],
        prepared: None,
    };
    let opts = Opts {
        dry_run: false,
        manager: manager.into(),
        fv: FieldValidation::Ignore,
        force: false,
    };
    commit(
        st,
        Write {
            ctx: &ctx,
            live: None,
            new: obj,
            op: Op::Update,
            opts: &opts,
            post: true,
        },
    )
    .map(|r| r.body)
}

fn selector_string(obj: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(Value::Object(ml)) = obj.pointer("/spec/selector/matchLabels") {
        let mut kv: Vec<(&String, &Value)> = ml.iter().collect();
        kv.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in kv {
            parts.push(format!("{k}={}", v.as_str().unwrap_or("")));
        }
    }
    parts.join(",")
}

/// The `autoscaling/v1` Scale view of a workload.
fn scale_of(obj: &Value) -> Value {
    let md = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let pick = |k: &str| md.get(k).cloned().unwrap_or(Value::Null);
    json!({"kind":"Scale","apiVersion":"autoscaling/v1",
        "metadata":{"name":pick("name"),"namespace":pick("namespace"),"uid":pick("uid"),
                    "resourceVersion":pick("resourceVersion"),"creationTimestamp":pick("creationTimestamp")},
        "spec":{"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status":{"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
                  "selector": selector_string(obj)}})
}

/// The `/scale` subresource of Deployments and StatefulSets (GET, PUT, merge/JSON patch).
pub fn scale(st: &mut State, ctx: &Ctx, verb: &str) -> ApiResult<Reply> {
    let Some(live) = st.get(ctx.res, ctx.ns, ctx.name).cloned() else {
        return Err(ApiError::not_found(ctx.res, ctx.name));
    };
    let current = scale_of(&live);
    let wanted = match verb {
        "get" => return Ok(Reply::ok(current)),
        "update" => decode_body(ctx.content_type, ctx.body)?,
        "patch" => {
            let p = decode_body("application/json", ctx.body)?;
            match ctx.content_type {
                "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                    patch::merge_patch(&current, &p)
                }
                "application/json-patch+json" => patch::json_patch(&current, &p)
                    .map_err(|e| ApiError::new(422, Some("Invalid"), &e))?,
                _ => return Err(ApiError::unsupported_patch_type()),
            }
        }
        _ => return Err(ApiError::method_not_allowed(verb, ctx.res)),
    };
    let opts = parse_opts(ctx, "PatchOptions", false, verb == "patch")?;
    let Some(replicas) = wanted.pointer("/spec/replicas").and_then(Value::as_i64) else {
        return Err(ApiError::invalid(
            "Scale",
            "autoscaling",
            ctx.name,
            &[FieldError::required("spec.replicas", "")],
        ));
    };
    if replicas < 0 {
        return Err(ApiError::invalid(
            "Scale",
            "autoscaling",
            ctx.name,
            &[FieldError::invalid(
                "spec.replicas",
                &replicas.to_string(),
                "must be greater than or equal to 0",
            )],
        ));
    }
    let mut new = live.clone();
    crate::util::ensure_obj(&mut new, &["spec"]).insert("replicas".into(), json!(replicas));
    let r = commit(
        st,
        Write {
            ctx,
            live: Some(live),
            new,
            op: Op::Update,
            opts: &opts,
            post: false,
        },
    )?;
    Ok(Reply {
        code: 200,
        body: scale_of(&r.body),
        warnings: Vec::new(),
    })
}
