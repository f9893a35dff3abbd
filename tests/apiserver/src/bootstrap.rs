//! The objects of a fresh cluster (what kube-apiserver's `pkg/controlplane/controller`
//! creates at start) and system-component creates.

use crate::api::obj_ns_name;
use crate::api::{Ctx, FieldValidation, Opts};
use crate::query::Query;
use crate::resources::ResourceDef;
use crate::status::ApiResult;
use crate::store::State;
use crate::write::{Op, Write, commit};
use serde_json::{Value, json};

/// Creates the objects of a fresh cluster (`pkg/controlplane/controller`).
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
    .map(|r| std::sync::Arc::unwrap_or_clone(r.body))
}
