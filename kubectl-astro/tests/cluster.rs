//! Cluster tests of `deploy`, `diff`, `undeploy` and `build`: the real binary, over real HTTP,
//! against test-apiserver (issue 4). Many assert on the server's request log.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{
    APPLY, Env, MERGE_PATCH, NS, actions, assert_same_state, deploy_past_one_stuck_apply, examples,
    patch_as_another_client, repo_root, split_lease_requests, weather_agent, with_action,
};
use test_apiserver::{AllowRule, ServerOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_deploy_creates_every_object_and_answers_a_deploy_response() {
    let env = Env::new().await;
    let (code, resp, stderr) = env.deploy("deploy-request-web.yaml", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert_eq!(resp["status"], "success");
    assert_eq!(resp["build_id"], "build-20240612-1530");
    assert_eq!(resp["k8s_namespace"], NS);
    assert_eq!(resp["errors"], serde_json::json!([]));
    let all = actions(&resp);
    // The Namespace, 3 NetworkPolicies (default deny, same namespace, the web-chat port),
    // the store Secret and the ConfigMap, 5 Services (one the StatefulSet's headless
    // governing Service), 4 workloads, the web-chat Ingress.
    assert_eq!(all.len(), 16, "{all:?}");
    let policies = all.iter().filter(|(o, _)| o.starts_with("NetworkPolicy/"));
    assert_eq!(policies.count(), 3, "{all:?}");
    assert!(all.iter().all(|(_, a)| a == "created"), "{all:?}");
    let deployed_at = resp["deployed_at"].as_str().unwrap_or("");
    assert!(
        deployed_at.ends_with('Z') && deployed_at.len() == 20,
        "{deployed_at}"
    );
    let endpoints = resp["service_endpoints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(endpoints.iter().any(|e| {
        e["type"] == "Ingress"
            && e["url"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://weather-agent-chat-"))
    }));
    assert!(endpoints.iter().any(|e| e["type"] == "ClusterIP"
        && e["url"] == format!("http://weather-agent-agent.{NS}.svc.cluster.local:8080")));
    // The objects are really there.
    let dep = env
        .get(&format!(
            "/apis/apps/v1/namespaces/{NS}/deployments/weather-agent-agent"
        ))
        .await
        .expect("agent Deployment exists");
    let managers: Vec<&str> = dep["metadata"]["managedFields"]
        .as_array()
        .map(|m| m.iter().filter_map(|e| e["manager"].as_str()).collect())
        .unwrap_or_default();
    assert!(managers.contains(&"kubectl-astro"), "{managers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_redeploy_is_unchanged_one_request_per_object_and_writes_nothing() {
    let env = Env::new().await;
    let (code, first, _) = env.deploy("deploy-request-web.yaml", &[]).await;
    assert_eq!(code, 0, "{first}");
    env.server.clear_request_log();
    let rv_before = env.server.resource_version();
    let (code, second, stderr) = env.deploy("deploy-request-web.yaml", &[]).await;
    assert_eq!(code, 0, "{second} {stderr}");
    let all = actions(&second);
    assert!(all.iter().all(|(_, a)| a == "unchanged"), "{all:?}");
    let (lease, log) = split_lease_requests(env.server.request_log());
    // The Lease: read, taken (a write), released (a write) — the only writes of the deploy.
    let verbs: Vec<&str> = lease.iter().map(|r| r.verb.as_str()).collect();
    assert_eq!(verbs, ["get", "update", "update"], "{lease:#?}");
    // One request per object (12): the Namespace apply, which returns the inventory, then one
    // GET per object, whose proof shows that applying it again would change nothing.
    assert_eq!(log.len(), all.len(), "{log:#?}");
    assert!(
        log[0].verb == "apply" && log[0].path == format!("/api/v1/namespaces/{NS}"),
        "{log:#?}"
    );
    assert!(log[1..].iter().all(|r| r.verb == "get"), "{log:#?}");
    assert!(log.iter().all(|r| !r.query.contains("dryRun")), "{log:#?}");
    assert_eq!(
        env.server.resource_version(),
        rv_before + 2,
        "a no-op redeploy wrote something besides taking and releasing its Lease"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_credential_configures_only_the_secret_and_the_workloads_that_hash_it() {
    let env = Env::new().await;
    let req = "engineering-assistant-request.yaml";
    let (code, first, stderr) = env.deploy(req, &[]).await;
    assert_eq!(code, 0, "{first} {stderr}");
    let (code, second, stderr) = env
        .deploy(req, &["--credential", "ANTHROPIC_API_KEY=sk-ant-rotated"])
        .await;
    assert_eq!(code, 0, "{second} {stderr}");
    let mut configured = with_action(&second, "configured");
    configured.sort();
    assert_eq!(
        configured,
        vec![
            "CronJob/engineering-assistant-ingestion-docs-sync".to_string(),
            "Deployment/engineering-assistant-agent".to_string(),
            "Job/engineering-assistant-ingestion-initial-load".to_string(),
            "Secret/engineering-assistant-build-20260410-0800-credentials".to_string(),
        ]
    );
    assert!(with_action(&second, "created").is_empty());
    // The generated redis password was read back, not rotated.
    assert!(
        with_action(&second, "unchanged")
            .contains(&"Secret/engineering-assistant-knowledge-cache-creds".to_string())
    );
    assert!(!second.to_string().contains("sk-ant-rotated"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_interface_prunes_its_objects_and_nothing_else() {
    let env = Env::new().await;
    let (code, _, _) = env.deploy("deploy-request-web.yaml", &[]).await;
    assert_eq!(code, 0);
    let (code, resp, stderr) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    let mut pruned = with_action(&resp, "pruned");
    pruned.sort();
    assert_eq!(
        pruned,
        vec![
            "Ingress/weather-agent-ingress-messaging".to_string(),
            "NetworkPolicy/allow-ingress-weather-agent-messaging".to_string(),
            "Service/weather-agent-messaging".to_string()
        ]
    );
    assert!(
        env.get(&format!(
            "/api/v1/namespaces/{NS}/services/weather-agent-messaging"
        ))
        .await
        .is_none()
    );
    assert!(
        env.get(&format!(
            "/api/v1/namespaces/{NS}/services/weather-agent-agent"
        ))
        .await
        .is_some()
    );
    // --prune=false keeps what the render dropped.
    let (code, _, _) = env.deploy("deploy-request-web.yaml", &[]).await;
    assert_eq!(code, 0);
    let (code, resp, _) = env.deploy("deploy-request.json", &["--prune=false"]).await;
    assert_eq!(code, 0);
    assert!(with_action(&resp, "pruned").is_empty());
    assert!(
        env.get(&format!(
            "/api/v1/namespaces/{NS}/services/weather-agent-messaging"
        ))
        .await
        .is_some()
    );
    // The budget refuses a deploy that would prune more than allowed, before writing.
    let (code, _, stderr) = env
        .deploy("deploy-request.json", &["--max-prune", "1"])
        .await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("--max-prune"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_owned_by_another_manager_is_a_named_conflict_until_forced() {
    let env = Env::new().await;
    let (code, _, _) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0);
    // Another manager takes over a field we own.
    let taken = take_over_forecast_url(&env).await;
    assert_eq!(
        taken["data"]["INTEGRATION_FORECAST_URL"], SHARED_FORECAST,
        "{taken}"
    );
    let cm = CONFIG_MAP;

    let (code, resp, _) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 2, "{resp}");
    assert_eq!(resp["status"], "partial");
    assert_eq!(
        with_action(&resp, "failed"),
        vec![format!("ConfigMap/{cm}")]
    );
    let err = resp["errors"][0].as_str().unwrap_or("");
    assert!(
        err.contains(cm)
            && err.contains("platform-team")
            && err.contains("INTEGRATION_FORECAST_URL"),
        "{err}"
    );
    // Everything else was still applied.
    assert_eq!(
        with_action(&resp, "unchanged").len(),
        actions(&resp).len() - 1
    );

    let (code, resp, _) = env
        .deploy("deploy-request.json", &["--force-conflicts"])
        .await;
    assert_eq!(code, 0, "{resp}");
    assert_eq!(
        with_action(&resp, "configured"),
        vec![format!("ConfigMap/{cm}")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_the_token_may_not_write_is_a_named_partial_failure() {
    let mut opts = ServerOptions::default();
    opts.tokens
        .insert("deployer-token".into(), "deployer".into());
    let writable = [
        "namespaces",
        "networkpolicies",
        "secrets",
        "configmaps",
        "services",
        "deployments",
        "statefulsets",
        "jobs",
        "cronjobs",
        "leases",
    ];
    opts.allow = Some(vec![
        AllowRule::new("deployer", &["*"], &writable),
        AllowRule::new("deployer", &["get", "list", "watch"], &["ingresses"]),
    ]);
    let env = Env::start(opts).await;
    let (code, resp, _) = env.deploy("deploy-request-web.yaml", &[]).await;
    assert_eq!(code, 2, "{resp}");
    assert_eq!(
        with_action(&resp, "failed"),
        vec!["Ingress/weather-agent-ingress-messaging".to_string()]
    );
    let err = resp["errors"][0].as_str().unwrap_or("");
    assert!(
        err.contains("forbidden") && err.contains("ingresses"),
        "{err}"
    );
    assert_eq!(with_action(&resp, "created").len(), 15);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_and_unreachable_clusters_answer_the_error_json_with_their_exit_codes() {
    let mut opts = ServerOptions::default();
    opts.tokens.insert("right-token".into(), "deployer".into());
    let env = Env::start(opts).await;
    let kc = std::fs::read_to_string(env.kubeconfig())
        .unwrap_or_default()
        .replace("right-token", "wrong-token");
    std::fs::write(env.kubeconfig(), kc).expect("kubeconfig");
    let (code, resp, _) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 4, "{resp}");
    assert_eq!(resp["error"], "unauthorized");

    let kc = std::fs::read_to_string(env.kubeconfig())
        .unwrap_or_default()
        .replace(&env.server.base_url(), "http://127.0.0.1:9");
    std::fs::write(env.kubeconfig(), kc).expect("kubeconfig");
    let (code, resp, _) = env
        .deploy("deploy-request.json", &["--request-timeout", "5s"])
        .await;
    assert_eq!(code, 1, "{resp}");
    assert_eq!(resp["error"], "cluster unreachable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_exit_codes_and_masked_secrets() {
    let env = Env::new().await;
    let req = examples().join("engineering-assistant-request.yaml");
    let catalog = examples().join("catalog");
    let diff = |extra: Vec<&'static str>| {
        let mut args = vec![
            "diff".to_string(),
            "-f".into(),
            req.display().to_string(),
            "--catalog".into(),
            catalog.display().to_string(),
        ];
        args.extend(extra.into_iter().map(String::from));
        args
    };
    let run = |args: Vec<String>| {
        let env = &env;
        async move {
            env.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
                .await
        }
    };
    let (code, out, err) = run(diff(vec![])).await;
    assert_eq!(code, 1, "nothing deployed yet, so everything is new: {err}");
    assert!(
        out.contains("+++ merged/Deployment/engineering-assistant-agent"),
        "{out}"
    );
    let (code, _, _) = env.deploy("engineering-assistant-request.yaml", &[]).await;
    assert_eq!(code, 0);
    let (code, out, err) = run(diff(vec![])).await;
    assert_eq!(code, 0, "no changes after deploy: {out}{err}");
    assert!(out.is_empty(), "{out}");
    let (code, out, err) = run(diff(vec![
        "--credential",
        "ANTHROPIC_API_KEY=marker-new-value-123",
    ]))
    .await;
    assert_eq!(code, 1, "{err}");
    for secret in [
        "marker-new-value-123",
        "sk-ant-example",
        "bWFya2VyLW5ldy12YWx1ZS0xMjM",
    ] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "{secret} leaked:\n{out}\n{err}"
        );
    }
    assert!(out.contains("<redacted sha256:"), "{out}");
    let (code, out, _) = run(diff(vec![
        "--credential",
        "ANTHROPIC_API_KEY=marker-new-value-123",
        "-o",
        "json",
    ]))
    .await;
    assert_eq!(code, 1);
    let parsed: Value = serde_json::from_str(&out).expect("diff -o json is JSON");
    assert!(parsed.as_array().is_some_and(|a| {
        a.iter()
            .any(|d| d["kind"] == "Secret" && d["change"] == "update")
    }));
    assert!(!out.contains("marker-new-value-123"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_catalog_picks_latest_and_published_builds() {
    let env = Env::new().await;
    let dir = examples().join("catalog/astro-team/weather-agent");
    for f in ["build-20240601-0900.yaml", "build-20240612-1530.yaml"] {
        let (code, out, err) = env
            .run(&["build", "push", dir.join(f).to_str().unwrap_or_default()])
            .await;
        assert_eq!(code, 0, "{out}{err}");
    }
    let (code, out, _) = env
        .run(&["build", "list", "--account", "astro-team", "-o", "json"])
        .await;
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(&out).expect("list is JSON");
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    // No --catalog: the cluster catalog; the newest registration wins.
    let (code, out, err) = env.run(&weather_agent(&["deploy"], &[])).await;
    assert_eq!(code, 0, "{out}{err}");
    let resp: Value = serde_json::from_str(&out).expect("response");
    assert_eq!(resp["build_id"], "build-20240612-1530");
    // Cross-account: only published builds count.
    let cross = [
        "deploy",
        "--account",
        "other-team",
        "--name",
        "weather-agent",
        "--source-account",
        "astro-team",
    ];
    let (code, out, _) = env.run(&cross).await;
    assert_eq!(code, 5, "{out}");
    let (code, _, _) = env
        .run(&weather_agent(
            &["build", "publish"],
            &["--build-id", "build-20240601-0900", "--version", "1.0.0"],
        ))
        .await;
    assert_eq!(code, 0);
    let (code, out, err) = env.run(&cross).await;
    assert_eq!(code, 0, "{out}{err}");
    let resp: Value = serde_json::from_str(&out).expect("response");
    assert_eq!(resp["build_id"], "build-20240601-0900");
    assert_eq!(resp["k8s_namespace"], "astro-other-team-weather-agent");
    // A published version never changes: the same again is a no-op; another version for
    // the build, or the version for another build, is a conflict naming them.
    let publish = |build: &str, version: &str| {
        weather_agent(
            &["build", "publish"],
            &["--build-id", build, "--version", version],
        )
    };
    let (code, _, err) = env.run(&publish("build-20240601-0900", "1.0.0")).await;
    assert_eq!(code, 0, "{err}");
    for (build, version, says) in [
        ("build-20240601-0900", "1.1.0", "already published as 1.0.0"),
        (
            "build-20240612-1530",
            "1.0.0",
            "version 1.0.0 of astro-team/weather-agent is already build build-20240601-0900",
        ),
    ] {
        let (code, out, _) = env.run(&publish(build, version)).await;
        assert_eq!(code, 1, "{out}");
        let error: Value = serde_json::from_str(&out).expect("error JSON");
        assert_eq!(error["error"], "conflict", "{error}");
        assert!(
            error["details"].as_str().is_some_and(|d| d.contains(says)),
            "{error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeploy_deletes_only_our_namespace() {
    let env = Env::new().await;
    let (code, _, _) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0);
    let (code, out, err) = env.run(&weather_agent(&["undeploy"], &["--wait"])).await;
    assert_eq!(code, 0, "{out}{err}");
    let resp: Value = serde_json::from_str(&out).expect("response");
    assert_eq!(resp["status"], "success");
    assert_eq!(resp["build_id"], "build-20240612-1530");
    assert_eq!(resp["k8s_namespace"], NS);
    assert!(env.get(&format!("/api/v1/namespaces/{NS}")).await.is_none());
    // A namespace kubectl-astro did not create is refused.
    let (code, _, err) = env
        .run(&weather_agent(&["undeploy"], &["-n", "default"]))
        .await;
    assert_eq!(code, 3, "{err}");
    assert!(env.get("/api/v1/namespaces/default").await.is_some());
    let (code, _, _) = env.run(&weather_agent(&["undeploy"], &[])).await;
    assert_eq!(code, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_reports_rollout_and_a_stuck_deployment_by_reason() {
    let env = Env::start(ServerOptions {
        controller: true,
        ..ServerOptions::default()
    })
    .await;
    let (code, resp, stderr) = env
        .deploy("deploy-request.json", &["--wait", "--timeout", "30s"])
        .await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert!(
        stderr.contains("Deployment/weather-agent-agent: ready"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Job/weather-agent-ingestion-stations: ready"),
        "{stderr}"
    );
    // Without a controller nothing becomes ready: a timeout names the reason.
    env.server.set_controller(false);
    let (code, resp, _) = env
        .deploy(
            "deploy-request.json",
            &["--credential", "X=1", "--wait", "--timeout", "1s"],
        )
        .await;
    assert_eq!(code, 2, "{resp}");
    let errors = resp["errors"].to_string();
    assert!(
        errors.contains("Deployment/weather-agent-agent") && errors.contains("not ready after 1s"),
        "{errors}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_as_a_kubectl_plugin_and_kubectl_sees_our_field_manager() {
    let env = Env::new().await;
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_kubectl-astro"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cache = env.dir.path().join("kube-cache");
    let kubectl = |args: Vec<String>| {
        let path = path.clone();
        let cache = cache.clone();
        let kubeconfig = env.kubeconfig();
        async move {
            tokio::process::Command::new("kubectl")
                .args(&args)
                .env("PATH", path)
                .env("KUBECONFIG", kubeconfig)
                .env("KUBECACHEDIR", cache)
                .output()
                .await
                .expect("kubectl runs")
        }
    };
    let req = examples().join("deploy-request.json").display().to_string();
    let catalog = examples().join("catalog").display().to_string();
    let out = kubectl(vec![
        "astro".into(),
        "deploy".into(),
        "-f".into(),
        req,
        "--catalog".into(),
        catalog,
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resp: Value = serde_json::from_str(&stdout).expect("DeployResponse through kubectl");
    assert_eq!(resp["status"], "success");
    let out = kubectl(vec![
        "--cache-dir".into(),
        cache.display().to_string(),
        "get".into(),
        "--show-managed-fields".into(),
        "deployment".into(),
        "-n".into(),
        NS.into(),
        "weather-agent-agent".into(),
        "-o".into(),
        "json".into(),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let obj: Value = serde_json::from_slice(&out.stdout).expect("kubectl get -o json");
    let managers: Vec<String> = obj["metadata"]["managedFields"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|e| e["manager"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        managers.contains(&"kubectl-astro".to_string()),
        "{managers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_and_answers_are_not() {
    use test_apiserver::Fault;
    let env = Env::new().await;
    let faults = env.server.faults();
    // 503 with Retry-After twice (on our apply of the Secret, not its generated password,
    // which is written at the same time), a dropped connection and a 429 once each: all
    // retried.
    faults.add(
        Fault::status(503, "ServiceUnavailable", "try later")
            .verb("apply")
            .kind("Secret")
            .field_manager("kubectl-astro")
            .times(2)
            .retry_after(1),
    );
    faults.add(
        Fault::drop_connection()
            .verb("apply")
            .kind("Service")
            .name("weather-agent-agent")
            .times(1),
    );
    faults.add(
        Fault::status(429, "TooManyRequests", "slow down")
            .verb("apply")
            .kind("Deployment")
            .times(1),
    );
    let started = std::time::Instant::now();
    let (code, resp, stderr) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert!(with_action(&resp, "failed").is_empty(), "{resp}");
    assert!(
        stderr.matches("retrying in").count() >= 4,
        "{stderr}\n{:#?}",
        env.server.request_log()
    );
    // Retry-After: 1 was honoured (twice).
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let secret_applies = env
        .server
        .request_log()
        .iter()
        .filter(|r| {
            r.verb == "apply"
                && r.path.contains("/secrets/")
                && !r.query.contains("kubectl-astro-generated")
        })
        .count();
    assert_eq!(secret_applies, 3, "two 503s and one success");

    // A 422 is an answer: one attempt, the object named as failed. (A new credential changes
    // the agent's Deployment, so it is applied rather than proven unchanged.)
    faults.clear();
    env.server.clear_request_log();
    faults.add(
        Fault::status(422, "Invalid", "spec.replicas: Invalid value")
            .verb("apply")
            .kind("Deployment")
            .name("weather-agent-agent"),
    );
    let (code, resp, _) = env
        .deploy(
            "deploy-request.json",
            &["--credential", "ANTHROPIC_API_KEY=sk-ant-new"],
        )
        .await;
    assert_eq!(code, 2, "{resp}");
    assert_eq!(
        with_action(&resp, "failed"),
        vec!["Deployment/weather-agent-agent".to_string()]
    );
    let attempts = env
        .server
        .request_log()
        .iter()
        .filter(|r| r.verb == "apply" && r.path.ends_with("/deployments/weather-agent-agent"))
        .count();
    assert_eq!(attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_of_first_deploy_and_diff_are_bounded_by_the_object_count() {
    let env = Env::new().await;
    let (code, resp, _) = env.deploy("deploy-request-web.yaml", &[]).await;
    assert_eq!(code, 0);
    let objects = actions(&resp).len();
    let (lease, log) = split_lease_requests(env.server.request_log());
    // The first Lease in the cluster: read (404), created (404: no astro-system yet), the
    // namespace applied, created, released.
    let verbs: Vec<(&str, u16)> = lease.iter().map(|r| (r.verb.as_str(), r.status)).collect();
    assert_eq!(
        verbs,
        [
            ("get", 404),
            ("create", 404),
            ("apply", 201),
            ("create", 201),
            ("update", 200)
        ],
        "{lease:#?}"
    );
    // One apply per object, the inventory, the one generated store password (redis) and the
    // deployment record (nothing to read of the history in a namespace just created).
    assert_eq!(log.len(), objects + 3, "{log:#?}");
    assert!(
        log.iter().all(|r| r.verb == "apply"),
        "no discovery, no GETs: {log:#?}"
    );

    env.server.clear_request_log();
    let req = examples().join("deploy-request-web.yaml");
    let catalog = examples().join("catalog");
    let (code, _, _) = env
        .run(&[
            "diff",
            "-f",
            req.to_str().unwrap_or_default(),
            "--catalog",
            catalog.to_str().unwrap_or_default(),
        ])
        .await;
    assert_eq!(code, 0);
    let log = env.server.request_log();
    // One GET per object (the Namespace's carries the inventory) and nothing else: the
    // inventory proves that re-applying any of them would change nothing, so no dry-run.
    assert_eq!(log.len(), objects, "{log:#?}");
    assert!(log.iter().all(|r| r.verb == "get"), "{log:#?}");
}

/// Runs `kubectl-astro diff` of `request`; returns (exit code, stdout, dry-run applies sent).
async fn diff_counting_dry_runs(
    env: &Env,
    request: &str,
    extra: &[&str],
) -> (i32, String, Vec<String>) {
    env.server.clear_request_log();
    let req = examples().join(request);
    let catalog = examples().join("catalog");
    let mut args = vec![
        "diff",
        "-f",
        req.to_str().unwrap_or_default(),
        "--catalog",
        catalog.to_str().unwrap_or_default(),
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = env.run(&args).await;
    assert!(code == 0 || code == 1, "{out}{err}");
    let dry_runs = env
        .server
        .request_log()
        .into_iter()
        .filter(|r| r.query.contains("dryRun=All"))
        .map(|r| r.path)
        .collect();
    (code, out, dry_runs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_dry_runs_exactly_the_objects_the_inventory_cannot_prove_unchanged() {
    let env = Env::new().await;
    let (code, _, _) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0);
    let (code, out, dry_runs) = diff_counting_dry_runs(&env, "deploy-request.json", &[]).await;
    assert_eq!((code, out.as_str()), (0, ""));
    assert!(dry_runs.is_empty(), "{dry_runs:?}");

    // Drift: another manager takes a field we own (a forced apply moves the conflicting
    // fields out of the other managers' managedFields entries: structured-merge-diff
    // merge/update.go, "Conflicts" in the Kubernetes Server-Side Apply docs). Only that object
    // is dry-run, and the diff shows the value it would restore.
    take_over_forecast_url(&env).await;
    let cm = CONFIG_MAP;
    let (code, out, dry_runs) = diff_counting_dry_runs(&env, "deploy-request.json", &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("-  INTEGRATION_FORECAST_URL: {SHARED_FORECAST}"))
            && out.contains(
                "+  INTEGRATION_FORECAST_URL: http://weather-agent-integration-forecast."
            ),
        "{out}"
    );
    // The dry-run without force answers 409, naming the would-be conflict; then the forced
    // one shows what --force-conflicts would make of it.
    assert_eq!(
        dry_runs,
        vec![format!("/api/v1/namespaces/{NS}/configmaps/{cm}"); 2]
    );
    assert!(out.contains("conflict with \"platform-team\""), "{out}");

    // A status write by a controller changes nothing of ours (it gets its own managedFields
    // entry, one per manager, operation and subresource: BuildManagerIdentifier in
    // k8s.io/apimachinery/pkg/util/managedfields/internal/managedfields.go): still proven, no
    // dry-run.
    let (code, _, _) = env
        .deploy("deploy-request.json", &["--force-conflicts"])
        .await;
    assert_eq!(code, 0);
    write_agent_status(&env).await;
    let (code, out, dry_runs) = diff_counting_dry_runs(&env, "deploy-request.json", &[]).await;
    assert_eq!(
        (code, out.as_str(), dry_runs.len()),
        (0, "", 0),
        "{dry_runs:?}"
    );

    // A changed request: the objects whose rendered body changed are dry-run, and only those.
    const NEW_KEY: &[&str] = &["--credential", "ANTHROPIC_API_KEY=another-key-value"];
    let rendered = |extra: &'static [&'static str]| {
        let env = &env;
        async move {
            let mut args = Env::deploy_args(
                "deploy-request.json",
                &["--dry-run", "--show-secrets", "-o", "json"],
            );
            args.extend(extra.iter().map(|s| s.to_string()));
            let (code, out, err) = env.run(&args).await;
            assert_eq!(code, 0, "{err}");
            let list: Value = serde_json::from_str(&out).expect("a JSON List");
            list["items"].as_array().cloned().unwrap_or_default()
        }
    };
    let (before, after) = (rendered(&[]).await, rendered(NEW_KEY).await);
    let key = |o: &Value| {
        format!(
            "{}/{}",
            o["kind"].as_str().unwrap_or(""),
            o["metadata"]["name"].as_str().unwrap_or("")
        )
    };
    // New objects and objects whose body changed.
    let changed: Vec<String> = after
        .iter()
        .filter(|a| !before.iter().any(|b| key(b) == key(a) && b == *a))
        .map(key)
        .collect();
    assert!(
        !changed.is_empty() && changed.len() < after.len(),
        "{changed:?}"
    );
    let (code, out, dry_runs) = diff_counting_dry_runs(&env, "deploy-request.json", NEW_KEY).await;
    assert_eq!(code, 1, "{out}");
    // Each changed object once: without conflicts the unforced dry-run is the whole answer.
    assert_eq!(dry_runs.len(), changed.len(), "{dry_runs:?} vs {changed:?}");
    for object in &changed {
        let name = object.split_once('/').map(|(_, n)| n).unwrap_or("");
        assert!(
            dry_runs.iter().any(|p| p.ends_with(&format!("/{name}"))),
            "{object} not dry-run: {dry_runs:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeploy_applies_exactly_what_its_proofs_do_not_cover() {
    let env = Env::new().await;
    let (code, _, _) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0);
    // Someone deletes the ConfigMap; a controller writes a Deployment's status.
    let cm = CONFIG_MAP;
    let req = http::Request::delete(format!("/api/v1/namespaces/{NS}/configmaps/{cm}"))
        .body(Vec::new())
        .expect("request");
    let client = env.server.client().await.expect("client");
    client.request::<Value>(req).await.expect("delete");
    write_agent_status(&env).await;

    env.server.clear_request_log();
    let (code, resp, stderr) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert_eq!(
        with_action(&resp, "created"),
        vec![format!("ConfigMap/{cm}")]
    );
    assert_eq!(
        with_action(&resp, "unchanged").len(),
        actions(&resp).len() - 1,
        "{resp}"
    );
    let applied: Vec<String> = env
        .server
        .request_log()
        .into_iter()
        .filter(|r| r.verb == "apply" && r.query.ends_with("fieldManager=kubectl-astro"))
        .map(|r| r.path)
        .collect();
    // The Namespace (its apply returns the inventory) and the re-created ConfigMap; the
    // Deployment whose status moved is proven unchanged and not applied (re-applying it
    // would be a no-op: an apply whose merged object equals the live one changes nothing,
    // Updater.Apply in structured-merge-diff merge/update.go).
    assert_eq!(
        applied,
        vec![
            format!("/api/v1/namespaces/{NS}"),
            format!("/api/v1/namespaces/{NS}/configmaps/{cm}"),
        ]
    );
}

/// The weather agent's ConfigMap (examples/deploy-request.json).
const CONFIG_MAP: &str = "weather-agent-build-20240612-1530-config";

/// The forecast server another team points the agent at.
const SHARED_FORECAST: &str = "http://forecast.platform.svc.cluster.local:3000";

/// Another field manager, `platform-team`, takes over `data.INTEGRATION_FORECAST_URL` of
/// [`CONFIG_MAP`] with a forced apply of [`SHARED_FORECAST`]; returns the stored ConfigMap.
async fn take_over_forecast_url(env: &Env) -> Value {
    let body = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": CONFIG_MAP, "namespace": NS},
        "data": {"INTEGRATION_FORECAST_URL": SHARED_FORECAST}});
    patch_as_another_client(
        &env.server,
        &format!(
            "/api/v1/namespaces/{NS}/configmaps/{CONFIG_MAP}?fieldManager=platform-team&force=true"
        ),
        APPLY,
        &body,
    )
    .await
}

/// A controller writes the weather agent Deployment's status (through `/status`).
async fn write_agent_status(env: &Env) {
    let status = serde_json::json!({"status": {"observedGeneration": 1, "replicas": 1}});
    patch_as_another_client(
        &env.server,
        &format!(
            "/apis/apps/v1/namespaces/{NS}/deployments/weather-agent-agent/status?fieldManager=controller"
        ),
        MERGE_PATCH,
        &status,
    )
    .await;
}

/// The apply stages, read from the order in which the server finished the requests: every
/// NetworkPolicy before any Secret or ConfigMap, those (generated password included) before
/// any Service, workload or Ingress — and those three in one stage: with every Service apply
/// held up by 300 ms, the Deployments, StatefulSets, Jobs, CronJob and Ingress are applied
/// while the Services are still pending, not after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_then_config_then_services_workloads_and_ingresses_together() {
    use test_apiserver::Fault;
    let env = Env::new().await;
    env.server.faults().add(
        Fault::delay_only(std::time::Duration::from_millis(300))
            .verb("apply")
            .kind("Service"),
    );
    let (code, resp, stderr) = env
        .deploy("support-agent-request.yaml", &["--network-policy"])
        .await;
    assert_eq!(code, 0, "{resp} {stderr}");
    let order: Vec<String> = env
        .server
        .request_log()
        .iter()
        .filter(|r| r.verb == "apply")
        // The deployment record is written after the deploy, outside its stages.
        .filter(|r| !r.path.contains("/configmaps/astro.deployment-record."))
        .filter_map(|r| r.path.split('/').rev().nth(1).map(str::to_string))
        .collect();
    let position = |plural: &str, which: fn(usize, usize) -> usize| {
        order
            .iter()
            .enumerate()
            .filter(|(_, p)| p.as_str() == plural)
            .map(|(i, _)| i)
            .reduce(which)
            .unwrap_or_else(|| panic!("no {plural} applied: {order:?}"))
    };
    let first = |plural: &str| position(plural, usize::min);
    let last = |plural: &str| position(plural, usize::max);
    let config_done = last("secrets").max(last("configmaps"));
    assert!(
        last("networkpolicies") < first("secrets").min(first("configmaps")),
        "{order:?}"
    );
    for later in [
        "services",
        "deployments",
        "statefulsets",
        "jobs",
        "cronjobs",
        "ingresses",
    ] {
        assert!(
            config_done < first(later),
            "{later} before config: {order:?}"
        );
    }
    for workload in [
        "deployments",
        "statefulsets",
        "jobs",
        "cronjobs",
        "ingresses",
    ] {
        assert!(
            last(workload) < first("services"),
            "{workload} waited for the delayed Services: {order:?}"
        );
    }
}

/// In a namespace the deploy just created, a store Secret's generated password is written
/// alongside the Secret's own apply, not one round trip after it: with our apply of the
/// Secret held up by 300 ms, the password write (field manager `kubectl-astro-generated`) is
/// answered first. The Secret is still reported created, ends up with both our keys and the
/// password, each under its own manager, and the next deploy leaves the password alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_store_secret_gets_its_password_in_the_same_round_trip() {
    use test_apiserver::Fault;
    let secret = "support-agent-knowledge-tickets-creds";
    let env = Env::new().await;
    env.server.faults().add(
        Fault::delay_only(std::time::Duration::from_millis(300))
            .verb("apply")
            .name(secret)
            .field_manager("kubectl-astro"),
    );
    let (code, resp, stderr) = env.deploy("support-agent-request.yaml", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert!(
        with_action(&resp, "created").contains(&format!("Secret/{secret}")),
        "{resp}"
    );
    let writes: Vec<String> = env
        .server
        .request_log()
        .iter()
        .filter(|r| r.verb == "apply" && r.path.ends_with(&format!("/secrets/{secret}")))
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(
        writes[0].contains("fieldManager=kubectl-astro-generated"),
        "the password waited for the Secret's apply: {writes:?}"
    );
    let ns = "astro-astro-team-support-agent";
    let path = format!("/api/v1/namespaces/{ns}/secrets/{secret}");
    let stored = env.get(&path).await.expect("the Secret");
    let mut managers: Vec<&str> = stored["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter_map(|e| e["manager"].as_str())
        .collect();
    managers.sort();
    assert_eq!(
        managers,
        ["kubectl-astro", "kubectl-astro-generated"],
        "{stored}"
    );
    let data = stored["data"].as_object().expect("data");
    assert!(data.len() > 1, "our keys and the password: {data:?}");
    let password = data
        .iter()
        .find(|(k, _)| k.to_lowercase().contains("password"))
        .map(|(_, v)| v.clone())
        .expect("a password key");

    env.server.faults().clear();
    let (code, again, stderr) = env.deploy("support-agent-request.yaml", &[]).await;
    assert_eq!(code, 0, "{again} {stderr}");
    let stored = env.get(&path).await.expect("the Secret");
    assert!(
        stored["data"]
            .as_object()
            .is_some_and(|d| d.values().any(|v| *v == password)),
        "the password was rotated: {stored}"
    );
}

/// Over plain http (HTTP/1.1, kube's own client) `--request-timeout` is the same per-request
/// deadline as over HTTPS: the held apply fails after the timeout with that message, is
/// retried, and the deploy succeeds long before the server would have answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeout_is_a_per_request_deadline_over_http() {
    let env = Env::new().await;
    deploy_past_one_stuck_apply(&env).await;
}

/// Golden case 12's account and name make a namespace and an agent label over 63 characters,
/// cut with a hash suffix: undeploy recognises the namespace deploy labelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeploy_finds_a_deployment_whose_names_were_cut() {
    let env = Env::new().await;
    let case = repo_root().join("tests/golden/12-long-names-hash-suffix");
    let path = |file: &str| case.join(file).display().to_string();
    let deploy = [
        "deploy",
        "-f",
        &path("request.yaml"),
        "--build",
        &path("build.yaml"),
    ];
    let (code, out, err) = env.run(&deploy).await;
    assert_eq!(code, 0, "{out}{err}");
    let resp: Value = serde_json::from_str(&out).expect("response");
    let ns = resp["k8s_namespace"]
        .as_str()
        .expect("namespace")
        .to_string();
    assert!(
        ns.len() <= 63 && ns.starts_with("astro-enterprise-"),
        "{ns}"
    );
    let agent = [
        "--account",
        "enterprise-customer-platform-engineering",
        "--name",
        "quarterly-financial-report-summarizer-assistant",
    ];
    let (code, out, err) = env
        .run(&[&["undeploy"][..], &agent, &["--wait"]].concat())
        .await;
    assert_eq!(code, 0, "{out}{err}");
    let resp: Value = serde_json::from_str(&out).expect("response");
    assert_eq!(resp["status"], "success", "{resp}");
    assert_eq!(resp["k8s_namespace"], ns.as_str());
    assert!(env.get(&format!("/api/v1/namespaces/{ns}")).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_finds_every_deployment_by_its_namespace_labels() {
    let env = Env::start(ServerOptions {
        controller: true,
        ..ServerOptions::default()
    })
    .await;
    let (code, out, err) = env.run(&["list", "-A"]).await;
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(err.contains("No deployments found"), "{err}");
    let (code, _, _) = env.run(&["list"]).await;
    assert_eq!(code, 2, "--account or -A is required");
    let (code, _, _) = env.run(&["list", "-A", "--account", "astro-team"]).await;
    assert_eq!(code, 2, "--account and -A exclude each other");
    let (code, out, _) = env.run(&["list", "--account", "Astro_Team"]).await;
    assert_eq!(
        code, 3,
        "an account that cannot be a label value is invalid input: {out}"
    );
    assert!(out.contains("account:"), "{out}");

    let (code, resp, stderr) = env
        .deploy("deploy-request-web.yaml", &["--wait", "--timeout", "30s"])
        .await;
    assert_eq!(code, 0, "{resp} {stderr}");
    // The same agent in another account, from a copy of its build record.
    let dir = tempfile::tempdir().expect("temp dir");
    let record = std::fs::read_to_string(
        examples().join("catalog/astro-team/weather-agent/build-20240612-1530.yaml"),
    )
    .expect("build record")
    .replace("account: astro-team", "account: other-team");
    let build = dir.path().join("build.yaml");
    std::fs::write(&build, record).expect("build written");
    let other = [
        "deploy",
        "--account",
        "other-team",
        "--name",
        "weather-agent",
        "--build",
        build.to_str().unwrap_or_default(),
    ];
    let (code, out, err) = env.run(&other).await;
    assert_eq!(code, 0, "{out}{err}");
    // Namespaces kubectl-astro did not make for an agent are not deployments.
    for (name, labels) in [
        (
            "made-by-someone-else",
            serde_json::json!({"app.kubernetes.io/managed-by": "helm", "astro.dev/agent": "a.b"}),
        ),
        (
            "no-agent",
            serde_json::json!({"app.kubernetes.io/managed-by": "kubectl-astro"}),
        ),
    ] {
        let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": labels}});
        let path = format!("/api/v1/namespaces/{name}?fieldManager=platform");
        patch_as_another_client(&env.server, &path, APPLY, &body).await;
    }

    let (code, out, err) = env.run(&["list", "-A", "-o", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let listing: Value = serde_json::from_str(&out).expect("-o json is JSON");
    assert_eq!(listing["count"], 2, "{listing}");
    let ours = &listing["deployments"][0];
    assert_eq!(ours["name"], "weather-agent");
    assert_eq!(ours["account"], "astro-team");
    assert_eq!(ours["build_id"], "build-20240612-1530");
    assert_eq!(ours["k8s_namespace"], NS);
    assert_eq!(ours["status"], "ready", "{ours}");
    assert_eq!(ours["ready"], ours["workloads"], "{ours}");
    let endpoints = ours["endpoints"].as_array().cloned().unwrap_or_default();
    assert!(
        endpoints.len() == 1
            && endpoints[0]
                .as_str()
                .is_some_and(|u| u.starts_with("http://weather-agent-chat-")),
        "{ours}"
    );
    assert_eq!(listing["deployments"][1]["account"], "other-team");
    // Without --wait nothing says it is ready yet, or the controller was quicker.
    let status = listing["deployments"][1]["status"].as_str().unwrap_or("");
    assert!(status == "progressing" || status == "ready", "{status}");

    let (code, out, err) = env
        .run(&["list", "--account", "astro-team", "-o", "json"])
        .await;
    assert_eq!(code, 0, "{err}");
    let listing: Value = serde_json::from_str(&out).expect("-o json is JSON");
    assert_eq!(listing["count"], 1, "{listing}");

    let (code, table, err) = env.run(&["list", "-A"]).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "ACCOUNT",
            "BUILD",
            "STATUS",
            "READY",
            "AGE",
            "ENDPOINTS"
        ]
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        row[..5],
        [
            "weather-agent",
            "astro-team",
            "build-20240612-1530",
            "Ready",
            "3/3"
        ],
        "{table}"
    );
    assert!(row[5].ends_with('s'), "a few seconds old: {table}");
    assert!(row[6].starts_with("http://weather-agent-chat-"), "{table}");
    assert!(lines[2].contains("other-team"), "{table}");
}

/// `kubectl-astro <args> -o json` about the example agent, parsed; exit code and stderr.
async fn json_of(env: &Env, command: &str, extra: &[&str]) -> (i32, Value, String) {
    let (code, out, err) = env
        .run(&weather_agent(
            &[command],
            &[&["-o", "json"], extra].concat(),
        ))
        .await;
    (code, serde_json::from_str(&out).unwrap_or(Value::Null), err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_workloads_pods_with_their_last_failure_and_jobs() {
    let env = Env::start(ServerOptions {
        controller: true,
        ..ServerOptions::default()
    })
    .await;
    let (code, out, _) = env.run(&weather_agent(&["status"], &[])).await;
    assert_eq!(code, 5, "no deployment yet: {out}");
    assert!(out.contains("deployment not found"), "{out}");
    let (code, out, _) = env
        .run(&["status", "--account", "astro-team", "--name", "Bad_Name"])
        .await;
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("name:"), "{out}");

    let (code, resp, stderr) = env
        .deploy("deploy-request-web.yaml", &["--wait", "--timeout", "30s"])
        .await;
    assert_eq!(code, 0, "{resp} {stderr}");
    // A pod of the agent as the kubelet reports it: its app container crash-looping after
    // an OOM kill, the messaging sidecar running.
    let pod = "weather-agent-agent-7d9f-x2x4q";
    let body = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod, "namespace": NS, "labels": {
            "app.kubernetes.io/component": "agent",
            "astro.dev/agent": "astro-team.weather-agent"}},
        "spec": {"containers": [{"name": "app", "image": "agent:1"},
                                {"name": "messaging", "image": "messaging:1"}]}});
    let path = format!("/api/v1/namespaces/{NS}/pods/{pod}?fieldManager=kubelet");
    patch_as_another_client(&env.server, &path, APPLY, &body).await;
    let status = serde_json::json!({"status": {"phase": "Running", "podIP": "10.244.0.7",
        "containerStatuses": [
            {"name": "app", "ready": false, "restartCount": 3, "image": "agent:1", "imageID": "",
             "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
             "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                 "startedAt": "2026-12-06T11:59:00Z", "finishedAt": "2026-12-06T12:00:00Z"}}},
            {"name": "messaging", "ready": true, "restartCount": 0, "image": "messaging:1",
             "imageID": "", "state": {"running": {"startedAt": "2026-12-06T11:58:00Z"}}}]}});
    let path = format!("/api/v1/namespaces/{NS}/pods/{pod}/status?fieldManager=kubelet");
    patch_as_another_client(&env.server, &path, MERGE_PATCH, &status).await;

    let (code, s, err) = json_of(&env, "status", &[]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(s["name"], "weather-agent");
    assert_eq!(s["build_id"], "build-20240612-1530");
    assert_eq!(s["k8s_namespace"], NS);
    assert_eq!(s["status"], "ready", "{s}");
    let components = s["components"].as_array().cloned().unwrap_or_default();
    assert_eq!(components.len(), 3, "{s}");
    assert!(components.iter().all(|c| c["status"] == "ready"), "{s}");
    assert_eq!(components[0]["kind"], "Deployment");
    assert_eq!(components[0]["name"], "weather-agent-agent");
    assert_eq!(components[0]["component"], "agent");
    let pods = s["pods"].as_array().cloned().unwrap_or_default();
    assert_eq!(pods.len(), 1, "{s}");
    assert_eq!(pods[0]["name"], pod);
    assert_eq!(pods[0]["phase"], "Running");
    assert_eq!(pods[0]["pod_ip"], "10.244.0.7");
    let app = &pods[0]["containers"][0];
    assert_eq!(app["state"], "Waiting", "{app}");
    assert_eq!(app["reason"], "CrashLoopBackOff");
    assert_eq!(app["restart_count"], 3);
    assert_eq!(app["last_failure"]["reason"], "OOMKilled");
    assert_eq!(app["last_failure"]["exit_code"], 137);
    let messaging = &pods[0]["containers"][1];
    assert_eq!(messaging["state"], "Running", "{messaging}");
    assert!(messaging.get("last_failure").is_none(), "{messaging}");
    let jobs = s["jobs"].as_array().cloned().unwrap_or_default();
    assert_eq!(jobs.len(), 1, "{s}");
    assert_eq!(jobs[0]["name"], "weather-agent-ingestion-stations");
    assert_eq!(jobs[0]["status"], "Succeeded");
    assert_eq!(jobs[0]["completions"], "1/1");

    let (code, text, err) = env.run(&weather_agent(&["status"], &[])).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("Status:      Ready (3/3 workloads ready)"),
        "{text}"
    );
    assert!(
        text.contains("Endpoints:   http://weather-agent-chat-"),
        "{text}"
    );
    let pod_line = text.lines().find(|l| l.starts_with(pod)).unwrap_or("");
    let cells: Vec<&str> = pod_line.split_whitespace().collect();
    assert_eq!(cells[..5], [pod, "agent", "Running", "1/2", "3"], "{text}");
    assert!(pod_line.ends_with("app: OOMKilled (exit 137)"), "{text}");
    let (code, yaml, _) = env.run(&weather_agent(&["status"], &["-o", "yaml"])).await;
    assert_eq!(code, 0);
    let from_yaml = astro_deploy::input::parse_value("status", &yaml).expect("-o yaml is YAML");
    assert_eq!(from_yaml, s);
}

/// The records of the example agent's history, newest first.
async fn history_of(env: &Env) -> Vec<Value> {
    let (code, h, err) = json_of(env, "history", &[]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(h["count"], h["deployments"].as_array().map_or(0, Vec::len));
    h["deployments"].as_array().cloned().unwrap_or_default()
}

/// A catalog directory holding the example's latest build and `older`, the same spec
/// registered earlier under another build id.
fn catalog_with_an_older_build(dir: &Path, older: &str) -> std::path::PathBuf {
    let agent = dir.join("astro-team/weather-agent");
    std::fs::create_dir_all(&agent).expect("catalog dir");
    let latest = std::fs::read_to_string(
        examples().join("catalog/astro-team/weather-agent/build-20240612-1530.yaml"),
    )
    .expect("build record");
    std::fs::write(agent.join("build-20240612-1530.yaml"), &latest).expect("record written");
    let copy = latest
        .replace("build-20240612-1530", older)
        .replace("2024-06-12T15:30:00Z", "2024-06-05T12:00:00Z");
    std::fs::write(agent.join(format!("{older}.yaml")), copy).expect("record written");
    dir.to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_restores_the_earlier_builds_objects_exactly() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let older = "build-20240605-1200";
    let catalog = catalog_with_an_older_build(dir.path(), older);
    let catalog = catalog.to_str().unwrap_or_default();
    let deploy = |request: &str, extra: &[&str]| {
        let mut args = vec!["deploy".to_string(), "-f".into()];
        args.push(examples().join(request).display().to_string());
        args.extend(
            ["--catalog", catalog]
                .iter()
                .chain(extra)
                .map(|s| s.to_string()),
        );
        args
    };
    let (code, out, err) = env
        .run(&deploy("deploy-request.json", &["--build-id", older]))
        .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("\"build_id\": \"{older}\"")), "{out}");
    let first = env.state().await;
    let credential = "API_TOKEN=rollback-credential-value";
    let (code, out, err) = env
        .run(&deploy(
            "deploy-request-web.yaml",
            &["--credential", credential],
        ))
        .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("\"build_id\": \"build-20240612-1530\""),
        "{out}"
    );
    let second = env.state().await;

    let (code, out, err) = env.run(&weather_agent(&["rollback"], &[])).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains(&format!(
            "rolling back astro-team/weather-agent to build {older} (record 1"
        )),
        "{err}"
    );
    let resp: Value = serde_json::from_str(&out).expect("a DeployResponse");
    assert_eq!(resp["status"], "success", "{resp}");
    assert_eq!(resp["build_id"], older);
    assert!(!with_action(&resp, "pruned").is_empty(), "{resp}");
    assert_same_state(&env.state().await, &first, "after the rollback");

    // Forward again to the newer build: its recorded request (web chat on) comes back, and
    // the credential, which no record keeps, is given again.
    let (code, out, err) = env
        .run(&weather_agent(
            &["rollback"],
            &["--to", "build-20240612-1530", "--credential", credential],
        ))
        .await;
    assert_eq!(code, 0, "{out}{err}");
    assert_same_state(&env.state().await, &second, "after rolling forward");

    let builds: Vec<Value> = history_of(&env)
        .await
        .iter()
        .map(|r| serde_json::json!([r["id"], r["build_id"], r["request"]["interfaces"]]))
        .collect();
    assert_eq!(
        builds,
        [
            serde_json::json!(["4", "build-20240612-1530", ["web"]]),
            serde_json::json!(["3", older, []]),
            serde_json::json!(["2", "build-20240612-1530", ["web"]]),
            serde_json::json!(["1", older, []]),
        ]
    );
    let (code, table, _) = env.run(&weather_agent(&["history"], &[])).await;
    assert_eq!(code, 0);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["ID", "BUILD", "STATUS", "DEPLOYED", "AGE", "INTERFACES"]
    );
    assert_eq!(table.lines().count(), 5, "{table}");

    // A build the history does not hold is named, with the agent; so is one the catalog
    // does not hold.
    let (code, out, _) = env
        .run(&weather_agent(
            &["rollback"],
            &["--to", "build-19990101-0000"],
        ))
        .await;
    assert_eq!(code, 5, "{out}");
    assert!(
        out.contains(
            "build build-19990101-0000 of astro-team/weather-agent is not in its deployment history"
        ),
        "{out}"
    );
    let (code, out, _) = env
        .run(&deploy(
            "deploy-request.json",
            &["--build-id", "build-19990101-0000"],
        ))
        .await;
    assert_eq!(code, 5, "{out}");
    assert!(
        out.contains(
            "no build 'build-19990101-0000' of agent 'weather-agent' in account 'astro-team'"
        ),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_keeps_the_last_ten_records_and_no_credential_value() {
    let env = Env::new().await;
    let (code, out, _) = env.run(&weather_agent(&["history"], &[])).await;
    assert_eq!(code, 5, "no deployment yet: {out}");
    const VALUE: &str = "credential-value-never-recorded";
    for i in 1..=12 {
        let credential = format!("API_TOKEN={VALUE}-{i}");
        let (code, resp, stderr) = env
            .deploy("deploy-request.json", &["--credential", &credential])
            .await;
        assert_eq!(code, 0, "deploy {i}: {resp} {stderr}");
    }
    let records = history_of(&env).await;
    let ids: Vec<&str> = records.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, ["12", "11", "10", "9", "8", "7", "6", "5", "4", "3"]);
    assert_eq!(
        records[0]["request"]["credential_keys"],
        serde_json::json!(["API_TOKEN"])
    );
    assert_eq!(records[0]["status"], "success");
    assert_eq!(records[0]["build"]["build_id"], "build-20240612-1530");
    assert!(records[0]["build"]["spec"].is_object());
    // Nothing the cluster holds of the history carries a credential value.
    let stored = env
        .get(&format!(
            "/api/v1/namespaces/{NS}/configmaps?labelSelector=astro.dev/deployment-record%3Dtrue"
        ))
        .await
        .expect("records listed");
    assert_eq!(stored["items"].as_array().map(Vec::len), Some(10));
    assert!(!stored.to_string().contains(VALUE), "{stored}");
    // A redeploy that changes nothing records nothing.
    let (code, resp, _) = env
        .deploy(
            "deploy-request.json",
            &["--credential", &format!("API_TOKEN={VALUE}-12")],
        )
        .await;
    assert_eq!(code, 0, "{resp}");
    assert_eq!(history_of(&env).await[0]["id"], "12");

    // A rollback cannot know the credentials: it says which were given before.
    let (code, out, err) = env
        .deploy(
            "deploy-request.json",
            &["--build-id", "build-20240601-0900"],
        )
        .await;
    assert_eq!(code, 0, "{out} {err}");
    let (code, out, err) = env.run(&weather_agent(&["rollback"], &[])).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains(
            "warning: credential API_TOKEN was given to the recorded deploy, not to this rollback"
        ),
        "{err}"
    );
    assert!(!out.contains(VALUE) && !err.contains(VALUE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_build_id_takes_a_named_build_of_the_cluster_catalog() {
    let env = Env::new().await;
    for build in ["build-20240601-0900", "build-20240612-1530"] {
        let record = examples().join(format!("catalog/astro-team/weather-agent/{build}.yaml"));
        let (code, out, err) = env
            .run(&["build", "push", record.to_str().unwrap_or_default()])
            .await;
        assert_eq!(code, 0, "{out}{err}");
    }
    let request = examples().join("deploy-request.json");
    let request = request.to_str().unwrap_or_default();
    let (code, out, err) = env
        .run(&["deploy", "-f", request, "--build-id", "build-20240601-0900"])
        .await;
    assert_eq!(code, 0, "{out}{err}");
    let resp: Value = serde_json::from_str(&out).expect("a DeployResponse");
    assert_eq!(resp["build_id"], "build-20240601-0900");
    let (code, out, _) = env
        .run(&["deploy", "-f", request, "--build-id", "build-nope"])
        .await;
    assert_eq!(code, 5, "{out}");
    assert!(
        out.contains("no build 'build-nope' of agent 'weather-agent' in account 'astro-team'"),
        "{out}"
    );
    // Without it, the latest.
    let (code, out, _) = env.run(&["deploy", "-f", request]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("\"build_id\": \"build-20240612-1530\""),
        "{out}"
    );
}

/// `--tls-secret` names a Secret the deploy does not create: while it is missing from the
/// agent's namespace, deploy succeeds but says so on stderr and on each Ingress's entry; once
/// it exists, neither. An issuer's Secrets (cert-manager makes them) are never reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_tls_secret_is_a_warning_on_stderr_and_on_each_ingress() {
    let env = Env::new().await;
    let flags = ["--tls-secret", "wildcard-tls", "--ingress-class", "nginx"];
    let ingress_messages = |resp: &Value| -> Vec<String> {
        let entries = resp["resources"].as_array().cloned().unwrap_or_default();
        entries
            .iter()
            .filter(|r| r["kind"] == "Ingress")
            .map(|r| r["message"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let (code, resp, stderr) = env.deploy("deploy-request-web.yaml", &flags).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert_eq!(resp["status"], "success");
    let ns = resp["k8s_namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        stderr.matches("warning: TLS Secret").count(),
        1,
        "one warning per Secret: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "warning: TLS Secret \"wildcard-tls\" does not exist in namespace \"{ns}\""
        )),
        "{stderr}"
    );
    let messages = ingress_messages(&resp);
    assert!(!messages.is_empty(), "no Ingress: {resp}");
    for m in &messages {
        assert_eq!(m, "TLS Secret \"wildcard-tls\" does not exist", "{resp}");
    }

    let secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "wildcard-tls", "namespace": ns},
        "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"},
    });
    patch_as_another_client(
        &env.server,
        &format!("/api/v1/namespaces/{ns}/secrets/wildcard-tls?fieldManager=cert-admin"),
        APPLY,
        &secret,
    )
    .await;
    let (code, resp, stderr) = env.deploy("deploy-request-web.yaml", &flags).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert!(!stderr.contains("warning:"), "{stderr}");
    assert!(
        ingress_messages(&resp).iter().all(String::is_empty),
        "{resp}"
    );

    let (code, resp, stderr) = env
        .deploy(
            "deploy-request-web.yaml",
            &["--cluster-issuer", "letsencrypt"],
        )
        .await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert!(!stderr.contains("warning:"), "{stderr}");
    assert!(
        ingress_messages(&resp).iter().all(String::is_empty),
        "{resp}"
    );
}
