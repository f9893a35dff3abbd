//! Cluster-wide settings (issue 18, item 5): the ConfigMap `astro-system/astro-settings`
//! holds the defaults of the render flags; a flag given beats it, it beats the built-in
//! default; `-v` says where each setting came from; `--dry-run` reads no cluster; `serve`
//! reads it for every request. Against test-apiserver with the real binary.

mod support;

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{Env, NS, SETTINGS, examples, put_settings, serve_started, without_settings_read};

const INGRESS: &str = "weather-agent-ingress-messaging";

/// Settings for every key but the TLS Secret.
fn cluster_settings() -> Value {
    json!({
        "ingress-domain": "agents.example.com",
        "ingress-class": "nginx",
        "cluster-issuer": "letsencrypt",
        "network-policy": "false",
        "messaging-image": "registry.example.com/messaging:1.2",
        "storage-class": "fast-ssd",
    })
}

async fn ingress(env: &Env) -> Value {
    let path = format!("/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses/{INGRESS}");
    env.get(&path).await.expect("the Ingress exists")
}

async fn network_policies(env: &Env) -> usize {
    let path = format!("/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies");
    env.get(&path).await.expect("list")["items"]
        .as_array()
        .map_or(0, Vec::len)
}

fn host(ingress: &Value) -> String {
    ingress["spec"]["rules"][0]["host"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The `setting …` lines `-v` printed, without their log prefix.
fn setting_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.split_once(" setting ").map(|(_, s)| s.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configmap_gives_the_render_defaults_with_one_get() {
    let env = Env::new().await;
    put_settings(&env.server, cluster_settings()).await;
    env.server.clear_request_log();
    let (code, resp, stderr) = env.deploy("deploy-request-web.yaml", &["-v"]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    let settings_reads: Vec<_> = env
        .server
        .request_log()
        .into_iter()
        .filter(|r| r.path == SETTINGS)
        .map(|r| (r.verb, r.status))
        .collect();
    assert_eq!(settings_reads, [("get".to_string(), 200)]);

    let ing = ingress(&env).await;
    assert!(host(&ing).ends_with(".agents.example.com"), "{ing}");
    assert_eq!(ing["spec"]["ingressClassName"], "nginx");
    assert_eq!(
        ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "letsencrypt"
    );
    assert_eq!(
        ing["spec"]["tls"][0]["secretName"],
        format!("{INGRESS}-tls")
    );
    assert_eq!(network_policies(&env).await, 0, "network-policy: false");
    let agent = env
        .get(&format!(
            "/apis/apps/v1/namespaces/{NS}/deployments/weather-agent-agent"
        ))
        .await
        .expect("agent Deployment");
    let images: Vec<&str> = agent["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["image"].as_str())
        .collect();
    assert!(
        images.contains(&"registry.example.com/messaging:1.2"),
        "{images:?}"
    );
    let cache = env
        .get(&format!(
            "/apis/apps/v1/namespaces/{NS}/statefulsets/weather-agent-knowledge-cache"
        ))
        .await
        .expect("StatefulSet");
    assert_eq!(
        cache["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"],
        "fast-ssd"
    );

    let lines = setting_lines(&stderr);
    for want in [
        "ingress-domain: agents.example.com (astro-system/astro-settings)",
        "ingestion-domain: ingestion.localtest.me (default)",
        "ingress-class: nginx (astro-system/astro-settings)",
        "tls-secret: (unset) (astro-system/astro-settings)",
        "cluster-issuer: letsencrypt (astro-system/astro-settings)",
        "network-policy: false (astro-system/astro-settings)",
        "storage-class: fast-ssd (astro-system/astro-settings)",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want}: {lines:#?}");
    }
    assert_eq!(lines.len(), 9, "one line per setting: {lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_beats_the_configmap_and_any_tls_flag_replaces_its_tls() {
    let env = Env::new().await;
    put_settings(&env.server, cluster_settings()).await;
    let (code, resp, stderr) = env
        .deploy(
            "deploy-request-web.yaml",
            &[
                "-v",
                "--ingress-class",
                "traefik",
                "--tls-secret",
                "wildcard",
                "--network-policy",
            ],
        )
        .await;
    assert_eq!(code, 0, "{resp} {stderr}");
    let ing = ingress(&env).await;
    assert_eq!(ing["spec"]["ingressClassName"], "traefik");
    assert!(host(&ing).ends_with(".agents.example.com"), "{ing}");
    // The TLS flag decided the whole group: the ConfigMap's cluster-issuer is not used, and
    // is no conflict.
    assert_eq!(ing["spec"]["tls"][0]["secretName"], "wildcard");
    assert!(
        ing["metadata"]["annotations"]
            .get("cert-manager.io/cluster-issuer")
            .is_none(),
        "{ing}"
    );
    assert!(network_policies(&env).await > 0);
    let lines = setting_lines(&stderr);
    for want in [
        "ingress-class: traefik (--ingress-class flag)",
        "ingress-domain: agents.example.com (astro-system/astro-settings)",
        "tls-secret: wildcard (--tls-secret flag)",
        "cluster-issuer: (unset) (--tls-secret flag)",
        "issuer: (unset) (--tls-secret flag)",
        "network-policy: true (--network-policy flag)",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want}: {lines:#?}");
    }
    // The flags' own conflicts stay.
    let (code, _, stderr) = env
        .deploy(
            "deploy-request-web.yaml",
            &["--tls-secret", "wildcard", "--issuer", "local"],
        )
        .await;
    assert_eq!(code, 2, "clap's usage error: {stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_configmap_the_built_in_defaults_apply() {
    let env = Env::new().await;
    let (code, resp, stderr) = env.deploy("deploy-request-web.yaml", &["-v"]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    let ing = ingress(&env).await;
    assert!(host(&ing).ends_with(".agents.localtest.me"), "{ing}");
    assert!(ing["spec"].get("ingressClassName").is_none(), "{ing}");
    assert!(network_policies(&env).await > 0);
    let lines = setting_lines(&stderr);
    assert_eq!(lines.len(), 9, "{lines:#?}");
    assert!(
        lines.iter().all(|l| l.ends_with(" (default)")),
        "{lines:#?}"
    );
    // The namespace astro-system exists now (the Lease's), the ConfigMap still does not.
    env.server.clear_request_log();
    let (code, resp, stderr) = env.deploy("deploy-request-web.yaml", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    let reads: Vec<u16> = env
        .server
        .request_log()
        .iter()
        .filter(|r| r.path == SETTINGS)
        .map(|r| r.status)
        .collect();
    assert_eq!(reads, [404]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configmap_fails_naming_the_key_and_applies_nothing() {
    let env = Env::new().await;
    put_settings(
        &env.server,
        json!({"ingress-domain": "Not A Domain", "colour": "blue", "ingress-class": "nginx"}),
    )
    .await;
    env.server.clear_request_log();
    let (code, resp, stderr) = env.deploy("deploy-request-web.yaml", &[]).await;
    assert_eq!(code, 3, "{resp} {stderr}");
    assert_eq!(resp["error"], "invalid cluster settings", "{resp}");
    let details = resp["details"].as_str().unwrap_or_default();
    for part in [
        "ConfigMap astro-system/astro-settings",
        "key 'ingress-domain': 'Not A Domain' is not a DNS name",
        "key 'colour': unknown key",
    ] {
        assert!(details.contains(part), "{part}: {details}");
    }
    let log = env.server.request_log();
    assert!(log.iter().all(|r| r.verb == "get"), "{log:#?}");
    assert!(env.get(&format!("/api/v1/namespaces/{NS}")).await.is_none());

    // diff and a flag-only deploy too: a bad ConfigMap is reported even where a flag would
    // override the key.
    let req = examples().join("deploy-request-web.yaml");
    let catalog = examples().join("catalog");
    let (code, out, _) = env
        .run(&[
            "diff",
            "-f",
            req.to_str().unwrap_or_default(),
            "--catalog",
            catalog.to_str().unwrap_or_default(),
        ])
        .await;
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("key 'colour'"), "{out}");
    let (code, resp, _) = env
        .deploy(
            "deploy-request-web.yaml",
            &["--ingress-domain", "agents.example.com"],
        )
        .await;
    assert_eq!(code, 3, "{resp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_reads_no_cluster() {
    let env = Env::new().await;
    put_settings(&env.server, cluster_settings()).await;
    env.server.clear_request_log();
    let mut args = Env::deploy_args("deploy-request-web.yaml", &["--dry-run", "-o", "json"]);
    args.push("-v".into());
    let (code, out, stderr) = env.run(&args).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        env.server.request_log().is_empty(),
        "a dry run sent requests"
    );
    assert!(
        stderr.contains("cluster settings astro-system/astro-settings not read"),
        "{stderr}"
    );
    let list: Value = serde_json::from_str(&out).expect("JSON List");
    let ing = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["kind"] == "Ingress")
        .expect("an Ingress");
    assert!(host(ing).ends_with(".agents.localtest.me"), "{ing}");
    assert!(
        setting_lines(&stderr)
            .iter()
            .all(|l| l.ends_with(" (default)")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_op_redeploy_reads_the_settings_once() {
    let env = Env::new().await;
    put_settings(&env.server, cluster_settings()).await;
    let (code, _, stderr) = env.deploy("deploy-request-web.yaml", &[]).await;
    assert_eq!(code, 0, "{stderr}");
    env.server.clear_request_log();
    let (code, resp, stderr) = env.deploy("deploy-request-web.yaml", &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let unchanged = support::with_action(&resp, "unchanged").len();
    assert_eq!(unchanged, support::actions(&resp).len(), "{resp}");
    let (_, rest) = support::split_lease_requests(without_settings_read(env.server.request_log()));
    assert_eq!(rest.len(), unchanged, "one request per object: {rest:#?}");
}

/// A token of astro-team's deployer, and a tokens file for it in `env`'s temp dir.
fn deployer_token(env: &Env) -> (String, std::path::PathBuf) {
    let token = "settings-test-token".to_string();
    let digest: String = Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = env.dir.path().join("tokens.yaml");
    let text =
        format!("tokens:\n- name: ci\n  sha256: {digest}\n  accounts: {{astro-team: deployer}}\n");
    std::fs::write(&path, text).expect("tokens file");
    (token, path)
}

/// POSTs `body` to `url` with `token`; the status and the JSON answer.
async fn post(url: &str, token: &str, body: &Value) -> (u16, Value) {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let req = hyper::Request::post(url)
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let response = client.request(req).await.expect("an answer");
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reads_the_configmap_for_every_request() {
    let env = Env::new().await;
    put_settings(&env.server, json!({"ingress-class": "nginx"})).await;
    let (token, tokens) = deployer_token(&env);
    let catalog = examples().join("catalog");
    let mut child = env
        .command(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tokens",
            tokens.to_str().unwrap_or_default(),
            "--catalog",
            catalog.to_str().unwrap_or_default(),
        ])
        .spawn()
        .expect("serve starts");
    let (base, _output) = serve_started(&mut child, Duration::from_secs(30)).await;
    let request = json!({"account": "astro-team", "name": "weather-agent", "interfaces": ["web"]});
    let deploy = format!("{base}/api/v1/deploy");

    let (status, body) = post(&deploy, &token, &request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ingress(&env).await["spec"]["ingressClassName"], "nginx");

    // The operator changes the ConfigMap: the next request uses it, no restart.
    put_settings(&env.server, json!({"ingress-class": "traefik"})).await;
    let (status, body) = post(&deploy, &token, &request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ingress(&env).await["spec"]["ingressClassName"], "traefik");

    // A bad ConfigMap is the operator's fault, not the caller's: 500, naming the key; for
    // validate too (not `valid: false`).
    put_settings(&env.server, json!({"network-policy": "sometimes"})).await;
    for path in ["/api/v1/deploy", "/api/v1/deploy/validate"] {
        let (status, body) = post(&format!("{base}{path}"), &token, &request).await;
        assert_eq!(status, 500, "{path}: {body}");
        assert_eq!(body["error"], "invalid cluster settings", "{path}: {body}");
        let details = body["details"].as_str().unwrap_or_default();
        assert!(
            details.contains("ConfigMap astro-system/astro-settings")
                && details.contains("key 'network-policy': 'sometimes' is not true or false"),
            "{path}: {details}"
        );
    }
    assert_eq!(ingress(&env).await["spec"]["ingressClassName"], "traefik");
    let _ = child.start_kill();
}
