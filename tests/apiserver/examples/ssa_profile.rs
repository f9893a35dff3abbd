//! Where test-apiserver's time goes on a server-side apply: applies every object of a
//! `kind: List` JSON file (e.g. `kubectl-astro deploy --dry-run --show-secrets -o json`)
//! `ROUNDS` times over one kept-alive connection, sequentially, and prints the mean per PATCH.
//! The first round creates, the rest are no-ops — what a redeploy costs the server. With
//! `--create`, every round applies into a namespace of its own, so every PATCH creates — what a
//! first deploy costs the server.
//!
//! ```text
//! target/release/kubectl-astro deploy --dry-run --show-secrets -o json \
//!     -f examples/support-agent-request.yaml --catalog examples/catalog > /tmp/typical.json
//! cargo run --release -p test-apiserver --example ssa_profile -- /tmp/typical.json 200
//! valgrind --tool=callgrind target/release/examples/ssa_profile /tmp/typical.json 20
//! cargo run --release -p test-apiserver --example ssa_profile -- /tmp/typical.json 200 --create
//! ```

use std::time::Instant;

use test_apiserver::TestApiServer;

fn path(obj: &serde_json::Value) -> anyhow::Result<String> {
    let kind = obj["kind"].as_str().unwrap_or("");
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
    let (prefix, plural) = match kind {
        "Namespace" => return Ok(format!("/api/v1/namespaces/{name}")),
        "Secret" => ("/api/v1", "secrets"),
        "ConfigMap" => ("/api/v1", "configmaps"),
        "Service" => ("/api/v1", "services"),
        "ServiceAccount" => ("/api/v1", "serviceaccounts"),
        "PersistentVolumeClaim" => ("/api/v1", "persistentvolumeclaims"),
        "Deployment" => ("/apis/apps/v1", "deployments"),
        "StatefulSet" => ("/apis/apps/v1", "statefulsets"),
        "Job" => ("/apis/batch/v1", "jobs"),
        "CronJob" => ("/apis/batch/v1", "cronjobs"),
        "Ingress" => ("/apis/networking.k8s.io/v1", "ingresses"),
        "NetworkPolicy" => ("/apis/networking.k8s.io/v1", "networkpolicies"),
        other => anyhow::bail!("kind {other} not handled"),
    };
    Ok(format!("{prefix}/namespaces/{ns}/{plural}/{name}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: ssa_profile LIST.json [ROUNDS]"))?;
    let rounds: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(100);
    let create = args.next().as_deref() == Some("--create");
    let list: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file)?)?;
    let items = list["items"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("not a kind: List"))?;
    let server = TestApiServer::start().await?;
    let client = server.client().await?;
    let namespace = items
        .iter()
        .find(|o| o["kind"] == "Namespace")
        .and_then(|o| o["metadata"]["name"].as_str())
        .ok_or_else(|| anyhow::anyhow!("the list has no Namespace"))?
        .to_string();
    // Every round's requests, built before the clock starts.
    let mut rounds_of_requests = Vec::new();
    for round in 0..if create { rounds } else { 1 } {
        let mut requests = Vec::new();
        for obj in items {
            let mut obj = obj.clone();
            if create {
                let ns = format!("{namespace}-{round}");
                let key = if obj["kind"] == "Namespace" {
                    "name"
                } else {
                    "namespace"
                };
                obj["metadata"][key] = serde_json::Value::String(ns);
            }
            requests.push((path(&obj)?, serde_json::to_vec(&obj)?));
        }
        rounds_of_requests.push(requests);
    }
    let start = Instant::now();
    for round in 0..rounds {
        let requests = &rounds_of_requests[if create { round } else { 0 }];
        if round == 1 && !create {
            // Time only the no-ops.
            let created = start.elapsed();
            println!("create round: {:.3} ms", created.as_secs_f64() * 1e3);
        }
        for (p, body) in requests {
            let req = http::Request::patch(format!("{p}?fieldManager=kubectl-astro&force=true"))
                .header("Content-Type", "application/apply-patch+yaml")
                .body(body.clone())?;
            client.request_text(req).await?;
        }
    }
    let per_round = rounds_of_requests[0].len();
    let n = (rounds * per_round) as f64;
    println!(
        "{per_round} objects × {rounds} rounds{}: {:.3} ms per PATCH (mean, all rounds)",
        if create { ", each creating" } else { "" },
        start.elapsed().as_secs_f64() * 1e3 / n
    );
    Ok(())
}
