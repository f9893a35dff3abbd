//! `/version` (`apimachinery/pkg/version` `Info`), legacy and aggregated discovery (meta/v1
//! `APIVersions`, `APIGroupList`, `APIResourceList`; `k8s.io/api/apidiscovery/v2`; chosen by
//! `Accept` as client-go's `discovery_client.go` asks), and OpenAPI v3 as kubectl's
//! `query_param_verifier_v3.go` reads it.

use crate::resources::{self, GROUPS, ResourceDef};
use serde_json::{Value, json};

/// Content type of aggregated discovery v2 answers (client-go `discovery_client.go`;
/// `apidiscovery/v2`).
pub const AGGREGATED_V2: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
/// Content type of aggregated discovery v2beta1 answers.
pub const AGGREGATED_V2BETA1: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

/// `version.Info` of a 1.32 server, all nine fields (apimachinery `version.Info`).
pub fn version() -> Value {
    json!({"major":"1","minor":"32","gitVersion":"v1.32.0",
           "gitCommit":"70d3cc986aa8221cd1dfb1121852688902d3bf53","gitTreeState":"clean",
           "buildDate":"2024-12-11T17:58:09Z","goVersion":"go1.23.3","compiler":"gc",
           "platform":"linux/amd64"})
}

/// Which aggregated version the `Accept` header asks for, if any (client-go `discovery_client.go`;
/// `apidiscovery/v2`).
pub fn wants_aggregated(accept: &str) -> Option<&'static str> {
    for part in accept.split(',') {
        let p = part.replace(' ', "");
        if p.contains("as=APIGroupDiscoveryList") && p.contains("g=apidiscovery.k8s.io") {
            if p.contains("v=v2beta1") {
                return Some(AGGREGATED_V2BETA1);
            }
            if p.contains("v=v2") {
                return Some(AGGREGATED_V2);
            }
        }
    }
    None
}

/// Legacy `/api` (meta/v1 `APIVersions`).
pub fn api_versions(host: &str) -> Value {
    json!({"kind":"APIVersions","versions":["v1"],
           "serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":host}]})
}

fn group_entry(g: &str) -> Value {
    let gv = json!({"groupVersion": format!("{g}/v1"), "version":"v1"});
    json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
}

/// Legacy `/apis` (meta/v1 `APIGroupList`).
pub fn api_group_list() -> Value {
    let groups: Vec<Value> = GROUPS.iter().map(|g| group_entry(g)).collect();
    json!({"kind":"APIGroupList","apiVersion":"v1","groups":groups})
}

/// `/apis/{group}`.
pub fn api_group(g: &str) -> Option<Value> {
    if !GROUPS.contains(&g) {
        return None;
    }
    let mut e = group_entry(g);
    e["kind"] = json!("APIGroup");
    e["apiVersion"] = json!("v1");
    Some(e)
}

fn sub_verbs() -> Value {
    json!(["get", "patch", "update"])
}

/// `/api/v1` and `/apis/{g}/{v}` (meta/v1 `APIResourceList`).
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let rs = resources::in_group_version(group, version);
    if rs.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for r in rs {
        let mut e = json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                           "kind": r.kind, "verbs": r.verbs()});
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        out.push(e);
        if r.kind == "Namespace" {
            out.push(json!({"name":"namespaces/finalize","singularName":"","namespaced":false,"kind":"Namespace","verbs":["update"]}));
        }
        if r.has_scale {
            out.push(json!({"name": format!("{}/scale", r.plural), "singularName":"", "namespaced": r.namespaced,
                            "group":"autoscaling","version":"v1","kind":"Scale","verbs": sub_verbs()}));
        }
        if r.has_status {
            out.push(json!({"name": format!("{}/status", r.plural), "singularName":"", "namespaced": r.namespaced,
                            "kind": r.kind, "verbs": sub_verbs()}));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({"kind":"APIResourceList","apiVersion":"v1","groupVersion":gv,"resources":out}))
}

fn aggregated_resource(r: &ResourceDef) -> Value {
    let mut subs = Vec::new();
    if r.has_scale {
        subs.push(json!({"subresource":"scale","responseKind":{"group":"autoscaling","version":"v1","kind":"Scale"},"verbs":sub_verbs()}));
    }
    if r.has_status {
        subs.push(json!({"subresource":"status","responseKind":{"group":"","version":"","kind":r.kind},"verbs":sub_verbs()}));
    }
    if r.kind == "Namespace" {
        subs.push(json!({"subresource":"finalize","responseKind":{"group":"","version":"","kind":"Namespace"},"verbs":["update"]}));
    }
    let mut e = json!({"resource": r.plural, "responseKind": {"group":"","version":"","kind": r.kind},
        "scope": if r.namespaced {"Namespaced"} else {"Cluster"}, "singularResource": r.singular,
        "verbs": r.verbs()});
    if !r.short_names.is_empty() {
        e["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        e["categories"] = json!(r.categories);
    }
    if !subs.is_empty() {
        e["subresources"] = json!(subs);
    }
    e
}

/// Aggregated discovery for `/api` (core) or `/apis` (groups) (client-go `discovery_client.go`;
/// `apidiscovery/v2`).
pub fn aggregated(core: bool, content_type: &str) -> Value {
    let api_version = if content_type == AGGREGATED_V2BETA1 {
        "apidiscovery.k8s.io/v2beta1"
    } else {
        "apidiscovery.k8s.io/v2"
    };
    let groups: Vec<&str> = if core { vec![""] } else { GROUPS.to_vec() };
    let items: Vec<Value> = groups
        .iter()
        .map(|g| {
            let rs: Vec<Value> = resources::in_group_version(g, "v1")
                .into_iter()
                .map(aggregated_resource)
                .collect();
            let md = if g.is_empty() {
                json!({"creationTimestamp":null})
            } else {
                json!({"name": g, "creationTimestamp": null})
            };
            json!({"metadata": md, "versions":[{"version":"v1","resources":rs,"freshness":"Current"}]})
        })
        .collect();
    json!({"kind":"APIGroupDiscoveryList","apiVersion":api_version,"metadata":{},"items":items})
}

fn gv_path(group: &str) -> String {
    if group.is_empty() {
        "api/v1".into()
    } else {
        format!("apis/{group}/v1")
    }
}

fn hash_of(group: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in group.bytes().chain("v1.32.0".bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016X}")
}

/// `/openapi/v3` root (kube-openapi `handler3`).
pub fn openapi_root() -> Value {
    let mut paths = serde_json::Map::new();
    for g in std::iter::once("").chain(GROUPS.iter().copied()) {
        let p = gv_path(g);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={}", hash_of(g))}),
        );
    }
    json!({ "paths": paths })
}

fn param(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

/// Per group-version OpenAPI v3 document with a PATCH operation per kind (cli-runtime
/// `query_param_verifier_v3.go`).
pub fn openapi_gv(group: &str, version: &str) -> Option<Value> {
    let rs = resources::in_group_version(group, version);
    if rs.is_empty() {
        return None;
    }
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for r in rs {
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let base = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("{prefix}/{}", r.plural)
        };
        let write_params = vec![
            param("dryRun"),
            param("fieldManager"),
            param("fieldValidation"),
        ];
        let mut patch_params = write_params.clone();
        patch_params.push(param("force"));
        let op = |action: &str, params: &Vec<Value>| {
            json!({"x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk,
                   "parameters": params, "responses": {}})
        };
        paths.insert(
            base.clone(),
            json!({"get": op("list", &vec![]), "post": op("post", &write_params),
                   "delete": op("deletecollection", &vec![])}),
        );
        paths.insert(
            format!("{base}/{{name}}"),
            json!({"get": op("get", &vec![]), "put": op("put", &write_params),
                   "patch": op("patch", &patch_params), "delete": op("delete", &vec![])}),
        );
        let schema_group = if r.group.is_empty() {
            "core"
        } else {
            r.group.split('.').next().unwrap_or(r.group)
        };
        schemas.insert(
            format!("io.k8s.api.{schema_group}.{}.{}", r.version, r.kind),
            json!({"type":"object","x-kubernetes-group-version-kind":[gvk]}),
        );
    }
    Some(
        json!({"openapi":"3.0.0","info":{"title":"Kubernetes","version":"v1.32.0"},
                "paths": paths, "components": {"schemas": schemas}}),
    )
}
