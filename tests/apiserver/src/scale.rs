//! The `/scale` subresource of Deployments and StatefulSets (autoscaling/v1 `Scale`,
//! `pkg/registry/apps/deployment/storage/storage.go` `ScaleREST`).

use crate::api::{Ctx, Reply, decode_body, parse_opts};
use crate::patch;
use crate::status::{ApiError, ApiResult, FieldError};
use crate::store::State;
use crate::util::Pointer;
use crate::write::{Op, Write, commit};
use serde_json::{Value, json};

fn selector_string(obj: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(Value::Object(ml)) = obj.ptr("/spec/selector/matchLabels") {
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
        "spec":{"replicas": obj.ptr("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status":{"replicas": obj.ptr("/status/replicas").cloned().unwrap_or(json!(0)),
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
    let Some(replicas) = wanted.ptr("/spec/replicas").and_then(Value::as_i64) else {
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
            live: Some(live.into()),
            new,
            op: Op::Update,
            opts: &opts,
            post: false,
        },
    )?;
    Ok(Reply {
        code: 200,
        body: scale_of(&r.body).into(),
        warnings: Vec::new(),
    })
}
