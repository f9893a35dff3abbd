//! `Status` error bodies exactly as kube-apiserver builds them
//! (`apimachinery/pkg/api/errors/errors.go`, `pkg/endpoints/handlers/responsewriters/errors.go`).

use crate::resources::ResourceDef;
use serde_json::{Value, json};

/// An error answer: HTTP code plus a `Status` JSON body and optional extra headers.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// The `Status` body.
    pub body: Value,
    /// Extra response headers (e.g. `Retry-After`).
    pub headers: Vec<(String, String)>,
}

/// Result type for request handling.
pub type ApiResult<T> = Result<T, ApiError>;

/// The kind of one field error (`StatusCause.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorType {
    /// `FieldValueRequired`
    Required,
    /// `FieldValueInvalid`
    Invalid,
    /// `FieldValueNotSupported`
    NotSupported,
    /// `FieldValueForbidden`
    Forbidden,
    /// `FieldValueDuplicate`
    Duplicate,
    /// `FieldValueTooLong`
    TooLong,
    /// `FieldValueNotFound`
    NotFound,
}

/// One validation error (`field.Error`).
#[derive(Debug, Clone)]
pub struct FieldError {
    /// Error type.
    pub kind: FieldErrorType,
    /// Field path, e.g. `spec.selector`.
    pub field: String,
    /// Body text without the field (`Required value`, `Invalid value: "x": detail`, ...).
    pub body: String,
}

impl FieldError {
    /// `Required value[: detail]`.
    pub fn required(field: &str, detail: &str) -> Self {
        let body = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        Self {
            kind: FieldErrorType::Required,
            field: field.into(),
            body,
        }
    }
    /// `Invalid value: <rendered value>: detail` (value already rendered Go-style).
    pub fn invalid(field: &str, rendered_value: &str, detail: &str) -> Self {
        let body = if detail.is_empty() {
            format!("Invalid value: {rendered_value}")
        } else {
            format!("Invalid value: {rendered_value}: {detail}")
        };
        Self {
            kind: FieldErrorType::Invalid,
            field: field.into(),
            body,
        }
    }
    /// `Unsupported value: "X": supported values: "a", "b"`.
    pub fn not_supported(field: &str, value: &str, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Self {
            kind: FieldErrorType::NotSupported,
            field: field.into(),
            body: format!(
                "Unsupported value: {value:?}: supported values: {}",
                list.join(", ")
            ),
        }
    }
    /// `Forbidden: detail`.
    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self {
            kind: FieldErrorType::Forbidden,
            field: field.into(),
            body: format!("Forbidden: {detail}"),
        }
    }
    /// `Duplicate value: <value>`.
    pub fn duplicate(field: &str, rendered_value: &str) -> Self {
        Self {
            kind: FieldErrorType::Duplicate,
            field: field.into(),
            body: format!("Duplicate value: {rendered_value}"),
        }
    }
    /// `Too long: may not be longer than N`.
    pub fn too_long(field: &str, max: usize) -> Self {
        Self {
            kind: FieldErrorType::TooLong,
            field: field.into(),
            body: format!("Too long: may not be longer than {max}"),
        }
    }
    /// `Too long: must have at most N bytes` (`field.TooLong`; the value is not printed).
    pub fn too_long_bytes(field: &str, max: usize) -> Self {
        Self {
            kind: FieldErrorType::TooLong,
            field: field.into(),
            body: format!("Too long: must have at most {max} bytes"),
        }
    }
    /// `Not found: <value>` (`field.NotFound`).
    pub fn not_found(field: &str, rendered_value: &str) -> Self {
        Self {
            kind: FieldErrorType::NotFound,
            field: field.into(),
            body: format!("Not found: {rendered_value}"),
        }
    }
    fn reason(&self) -> &'static str {
        match self.kind {
            FieldErrorType::Required => "FieldValueRequired",
            FieldErrorType::Invalid => "FieldValueInvalid",
            FieldErrorType::NotSupported => "FieldValueNotSupported",
            FieldErrorType::Forbidden => "FieldValueForbidden",
            FieldErrorType::Duplicate => "FieldValueDuplicate",
            FieldErrorType::TooLong => "FieldValueTooLong",
            FieldErrorType::NotFound => "FieldValueNotFound",
        }
    }
}

fn status(code: u16, reason: Option<&str>, message: &str, details: Option<Value>) -> ApiError {
    let mut body = json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":message});
    if let Some(r) = reason {
        body["reason"] = json!(r);
    }
    if let Some(d) = details {
        body["details"] = d;
    }
    body["code"] = json!(code);
    ApiError {
        code,
        body,
        headers: Vec::new(),
    }
}

fn details(name: &str, res: &ResourceDef) -> Value {
    let mut d = serde_json::Map::new();
    if !name.is_empty() {
        d.insert("name".into(), json!(name));
    }
    if !res.group.is_empty() {
        d.insert("group".into(), json!(res.group));
    }
    d.insert("kind".into(), json!(res.plural));
    Value::Object(d)
}

impl ApiError {
    /// Builds an error with an arbitrary code, reason and message.
    pub fn new(code: u16, reason: Option<&str>, message: &str) -> Self {
        status(code, reason, message, None)
    }
    /// 404 `<resource> "<name>" not found` (apimachinery `errors.NewNotFound`).
    pub fn not_found(res: &ResourceDef, name: &str) -> Self {
        status(
            404,
            Some("NotFound"),
            &format!("{} \"{name}\" not found", res.qualified()),
            Some(details(name, res)),
        )
    }
    /// 404 for an unknown resource under a served group-version (apimachinery
    /// `errors.NewNotFound`).
    pub fn unknown_resource() -> Self {
        status(
            404,
            Some("NotFound"),
            "the server could not find the requested resource",
            Some(json!({})),
        )
    }
    /// 409 `<resource> "<name>" already exists` (apimachinery `errors.NewAlreadyExists`).
    pub fn already_exists(res: &ResourceDef, name: &str, being_deleted: bool) -> Self {
        let prefix = if being_deleted {
            "object is being deleted: "
        } else {
            ""
        };
        status(
            409,
            Some("AlreadyExists"),
            &format!("{prefix}{} \"{name}\" already exists", res.qualified()),
            Some(details(name, res)),
        )
    }
    /// 409 `Operation cannot be fulfilled on <resource> "<name>": <msg>` (apimachinery
    /// `errors.NewConflict`).
    pub fn conflict(res: &ResourceDef, name: &str, msg: &str) -> Self {
        status(
            409,
            Some("Conflict"),
            &format!(
                "Operation cannot be fulfilled on {} \"{name}\": {msg}",
                res.qualified()
            ),
            Some(details(name, res)),
        )
    }
    /// 409 for a stale resourceVersion (apiserver `registry/generic/registry/store.go`;
    /// apimachinery `errors.NewConflict`).
    pub fn stale(res: &ResourceDef, name: &str) -> Self {
        Self::conflict(
            res,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }
    /// 422 Invalid for `<Kind>[.<group>] "<name>"` (apimachinery `errors.NewInvalid`).
    pub fn invalid(kind: &str, group: &str, name: &str, errs: &[FieldError]) -> Self {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        Self::invalid_qualified(&qualified, kind, group, name, errs)
    }
    /// 422 Invalid with an explicit qualified name (resource-based for store checks).
    pub fn invalid_qualified(
        qualified: &str,
        kind: &str,
        group: &str,
        name: &str,
        errs: &[FieldError],
    ) -> Self {
        let mut seen: Vec<String> = Vec::new();
        for e in errs {
            let s = format!("{}: {}", e.field, e.body);
            if !seen.contains(&s) {
                seen.push(s);
            }
        }
        let joined = if seen.len() == 1 {
            seen[0].clone()
        } else {
            format!("[{}]", seen.join(", "))
        };
        let causes: Vec<Value> = errs
            .iter()
            .map(|e| {
                let msg = e.body.clone();
                json!({"reason": e.reason(), "message": msg, "field": e.field})
            })
            .collect();
        let mut d = serde_json::Map::new();
        d.insert("name".into(), json!(name));
        if !group.is_empty() {
            d.insert("group".into(), json!(group));
        }
        d.insert("kind".into(), json!(kind));
        d.insert("causes".into(), Value::Array(causes));
        status(
            422,
            Some("Invalid"),
            &format!("{qualified} \"{name}\" is invalid: {joined}"),
            Some(Value::Object(d)),
        )
    }
    /// 400 BadRequest with a message.
    pub fn bad_request(msg: &str) -> Self {
        status(400, Some("BadRequest"), msg, None)
    }
    /// 415 for unknown patch content types (apiserver `handlers/patch.go`).
    pub fn unsupported_patch_type() -> Self {
        status(
            415,
            Some("UnsupportedMediaType"),
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json",
            None,
        )
    }
    /// 415 for unknown body content types on create/update.
    pub fn unsupported_body_type(ct: &str) -> Self {
        status(
            415,
            Some("UnsupportedMediaType"),
            &format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/cbor ({ct})"
            ),
            None,
        )
    }
    /// 405 MethodNotAllowed (apimachinery `api/errors/errors.go`).
    pub fn method_not_allowed(verb: &str, res: &ResourceDef) -> Self {
        status(
            405,
            Some("MethodNotAllowed"),
            &format!(
                "{verb} is not supported on resources of kind {:?}",
                res.plural
            ),
            Some(json!({"kind": res.plural})),
        )
    }
    /// 403 Forbidden with the RBAC message (apiserver `responsewriters/errors.go`
    /// `forbiddenMessage`).
    pub fn forbidden_rbac(
        user: &str,
        verb: &str,
        res: &ResourceDef,
        sub: Option<&str>,
        ns: Option<&str>,
        name: &str,
    ) -> Self {
        let resource = match sub {
            Some(s) => format!("{}/{s}", res.plural),
            None => res.plural.to_string(),
        };
        let who = if name.is_empty() {
            format!("{} is forbidden", res.qualified())
        } else {
            format!("{} \"{name}\" is forbidden", res.qualified())
        };
        let scope = match ns {
            Some(n) if !n.is_empty() => format!("in the namespace \"{n}\""),
            _ => "at the cluster scope".to_string(),
        };
        status(
            403,
            Some("Forbidden"),
            &format!(
                "{who}: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{}\" {scope}",
                res.group
            ),
            Some(details(name, res)),
        )
    }
    /// 403 for creates in a terminating namespace (apiserver
    /// `admission/plugin/namespace/lifecycle`).
    pub fn namespace_terminating(res: &ResourceDef, name: &str, ns: &str) -> Self {
        let mut d = details(name, res);
        d["causes"] = json!([{"reason":"NamespaceTerminating","message":format!("namespace {ns} is being terminated"),"field":"metadata.namespace"}]);
        status(
            403,
            Some("Forbidden"),
            &format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                res.qualified()
            ),
            Some(d),
        )
    }
    /// 401 Unauthorized (apiserver `authentication/request/x509`; `filters/authentication.go`).
    pub fn unauthorized() -> Self {
        status(401, Some("Unauthorized"), "Unauthorized", None)
    }
    /// 500 without a reason (managedfields `structuredmerge.go`; kubernetes#113482).
    pub fn internal(msg: &str) -> Self {
        status(500, None, msg, None)
    }
    /// 422 for invalid request options such as PatchOptions (apiserver `handlers/patch.go`; meta/v1
    /// `validation.go` `ValidatePatchOptions`).
    pub fn invalid_options(kind: &str, errs: &[FieldError]) -> Self {
        Self::invalid(kind, "meta.k8s.io", "", errs)
    }
}

/// Renders a JSON value the way Go's `%#v`/field.Invalid prints simple values.
pub fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}
