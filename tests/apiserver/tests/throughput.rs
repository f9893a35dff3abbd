//! Throughput of concurrent server-side apply requests over loopback (issue 3, item 8).
//! Run with: `cargo nextest run -p test-apiserver --run-ignored only throughput` (add
//! `--release` for the number that matters for benchmarks).

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use std::time::Instant;
use test_apiserver::TestApiServer;

/// Concurrent SSA requests per second (kube client, 16 tasks, Deployments, mixed
/// create/no-op/update).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, prints requests/s"]
async fn throughput_concurrent_ssa() {
    let s = TestApiServer::start().await.expect("start");
    let client = s.client().await.expect("client");
    let tasks = 16;
    let per_task = 250;
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let api: Api<Deployment> = Api::default_namespaced(client.clone());
        handles.push(tokio::spawn(async move {
            for i in 0..per_task {
                let name = format!("web-{t}-{}", i % 10);
                let d = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":name},
                  "spec":{"replicas": (i / 10) % 3 + 1,"selector":{"matchLabels":{"app":"web"}},
                    "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[
                      {"name":"nginx","image":"nginx:1.27","ports":[{"containerPort":80}],
                       "env":[{"name":"A","value":"1"}]}]}}}});
                api.patch(
                    &name,
                    &PatchParams::apply("bench").force(),
                    &Patch::Apply(&d),
                )
                .await
                .expect("apply");
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    let n = tasks * per_task;
    let secs = start.elapsed().as_secs_f64();
    let rate = n as f64 / secs;
    println!("throughput: {n} SSA requests in {secs:.2}s = {rate:.0} requests/s");
    assert!(rate > 0.0);
}
