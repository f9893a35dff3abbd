//! Resource verbs: get, list, create, update, patch (with the request checks of
//! `k8s.io/apiserver/pkg/endpoints/handlers/{get,create,update,patch}.go`); the write pipeline
//! itself is in [`crate::write`].

use crate::patch;
use crate::query::Query;
use crate::resources::ResourceDef;
use crate::schema;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult, FieldError};
use crate::store::State;
use crate::strict;
use crate::util::{Pointer, random_suffix};
use crate::write::{Op, Write, commit};
use serde_json::{Value, json};
use std::sync::Arc;

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
    /// The decoded body (taken by the handler that uses it).
    pub body: std::sync::Mutex<Option<ApiResult<Value>>>,
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
        body: std::sync::Mutex::new(Some(decoded)),
        findings,
    })
}

fn body_of(ctx: &Ctx, ct: &str) -> ApiResult<Value> {
    match ctx.prepared.and_then(|p| crate::util::lock(&p.body).take()) {
        Some(b) => b,
        None => decode_typed_body(ctx.res, ct, ctx.body),
    }
}

/// Decodes a create/update body: JSON, YAML, or protobuf for the kinds kubectl's typed clients
/// send.
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
    /// JSON body (often the stored object itself, shared).
    pub body: Arc<Value>,
    /// `Warning` header texts.
    pub warnings: Vec<String>,
}

impl Reply {
    pub(crate) fn ok(body: impl Into<Arc<Value>>) -> Self {
        Self {
            code: 200,
            body: body.into(),
            warnings: Vec::new(),
        }
    }
}

/// fieldValidation modes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

pub(crate) struct Opts {
    pub(crate) dry_run: bool,
    pub(crate) manager: String,
    pub(crate) fv: FieldValidation,
    pub(crate) force: bool,
}

pub(crate) fn parse_opts(
    ctx: &Ctx,
    options_kind: &str,
    is_apply: bool,
    is_patch: bool,
) -> ApiResult<Opts> {
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

pub(crate) fn obj_ns_name(obj: &Value) -> (String, String) {
    let s = |p: &str| obj.ptr(p).and_then(Value::as_str).unwrap_or("").to_string();
    (s("/metadata/namespace"), s("/metadata/name"))
}

/// GET of one object.
pub fn get(st: &State, ctx: &Ctx) -> ApiResult<Reply> {
    match st.get_shared(ctx.res, ctx.ns, ctx.name) {
        Some(o) => Ok(Reply::ok(o)),
        None => Err(ApiError::not_found(ctx.res, ctx.name)),
    }
}

/// LIST with label and field selectors (meta/v1 `ListMeta`); `limit` is ignored (allowed by the
/// API).
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
        .map(|(_, o)| &**o)
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

/// DELETE of a collection (apiserver `registry/generic/registry/store.go` `DeleteCollection`):
/// deletes every match and returns the list of deleted objects.
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
            Arc::unwrap_or_clone(r.body)
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

/// Fills/validates the namespace and name of a body against the URL (apiserver
/// `handlers/patch.go`).
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

/// Fieldvalidation of a non-apply body (apiserver `handlers/patch.go`; meta/v1 `validation.go`
/// `ValidatePatchOptions`): Strict → 400, Warn → warnings, Ignore → silent. A create or update
/// body (`prepared_ok`) is decoded by the request decoder, whose strict errors get
/// `transformDecodeError`'s prefix (apiserver `handlers/rest.go`); a patched object does not.
fn field_validation(
    ctx: &Ctx,
    fv: FieldValidation,
    obj: &mut Value,
    prepared_ok: bool,
) -> ApiResult<Vec<String>> {
    // `<Kind> in version "<v>" cannot be handled as a <Kind>: ` (`transformDecodeError`): the
    // body's kind was checked against the URL's, or defaulted from it.
    let decode_prefix = if prepared_ok {
        format!(
            "{} in version {:?} cannot be handled as a {}: ",
            ctx.res.kind, ctx.res.version, ctx.res.kind
        )
    } else {
        String::new()
    };
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
                "{decode_prefix}strict decoding error: {}",
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

/// POST (create) (apiserver `handlers/create.go`; `rest.BeforeCreate`).
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
        let deleting = existing.ptr("/metadata/deletionTimestamp").is_some();
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
    let live = st.get_shared(ctx.res, ctx.ns, ctx.name);
    let Some(live) = live else {
        // PUT may create for kinds that allow create-on-update; the built-ins here do not.
        return Err(ApiError::not_found(ctx.res, ctx.name));
    };
    let body_rv = obj
        .ptr("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let live_rv = live
        .ptr("/metadata/resourceVersion")
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

/// PATCH: apply (apiserver `handlers/patch.go` `applyPatcher`; managedfields `versioncheck.go`;
/// apiserver `handlers/patch.go`; `GetResetFields` of the registry strategies), merge, strategic
/// merge and JSON patch (apiserver `handlers/patch.go`).
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
    let live = st.get_shared(ctx.res, ctx.ns, ctx.name);
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
        .ptr("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let new_rv = patched
        .ptr("/metadata/resourceVersion")
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

fn apply(st: &mut State, ctx: &Ctx, live: Option<Arc<Value>>, opts: &Opts) -> ApiResult<Reply> {
    let mut config = body_of(ctx, "application/yaml")?;
    if !config.is_object() {
        return Err(ApiError::bad_request(&format!(
            "error decoding YAML: expected an object, got {config}"
        )));
    }
    check_gvk(ctx.res, &config, true)?;
    if config
        .ptr("/metadata/managedFields")
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    check_ns_name(ctx, &mut config, true)?;
    // Only error messages name the object.
    let designation = || {
        format!(
            "({}{}; {})",
            if ctx.res.namespaced {
                format!("{}/", ctx.ns)
            } else {
                String::new()
            },
            ctx.name,
            ctx.res.gvk_string()
        )
    };
    // Schema errors are 500s without a reason, before fieldValidation is consulted.
    // Upstream: managedfields `structuredmerge.go`; kubernetes#113482.
    let f = findings_of(ctx, &config);
    if let Some(e) = f.type_error {
        return Err(ApiError::internal(&format!(
            "failed to create typed patch object {}: {e}",
            designation()
        )));
    }
    if let Some(p) = f.unknown.first() {
        return Err(ApiError::internal(&format!(
            "failed to create typed patch object {}: .{p}: field not declared in schema",
            designation()
        )));
    }
    if let Err(d) = crate::typed::check_duplicates(&config, schema::root(ctx.res.kind)) {
        let (list, last) = d.path.split_at(d.path.len().saturating_sub(1));
        let key = last
            .first()
            .map(|element| element.render())
            .unwrap_or_default();
        return Err(ApiError::internal(&format!(
            "failed to create typed patch object {}: {}: duplicate entries for key {key}",
            designation(),
            crate::fieldpath::render_path(list)
        )));
    }
    match &live {
        None => {
            if let Some(uid) = config.ptr("/metadata/uid").and_then(Value::as_str) {
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
                .ptr("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or("");
            let live_rv = l
                .ptr("/metadata/resourceVersion")
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
