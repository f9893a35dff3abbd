//! `kubectl astro serve` over real HTTP: the real binary listens on a free loopback port
//! (`--listen 127.0.0.1:0`, the bound address read from its stderr), pointed at a
//! test-apiserver through a kubeconfig and at a tokens file in the test's temp dir; the
//! requests go through hyper's client.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{Env, NS, ServeOutput, actions, examples, serve_started, with_action};
use test_apiserver::Fault;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// Every token holds this string: it must never appear in anything the server prints.
const MARKER: &str = "s3cr3t-marker";
const DEPLOYER: &str = "deployer-s3cr3t-marker-1";
const VIEWER: &str = "viewer-s3cr3t-marker-2";
const OTHER: &str = "other-s3cr3t-marker-3";
const UNKNOWN: &str = "unknown-s3cr3t-marker-4";
const ADMIN: &str = "admin-s3cr3t-marker-5";

fn sha(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A tokens file in `env`'s temp dir: a deployer, a viewer and an admin of astro-team, and an
/// admin of another account only.
fn tokens_file(env: &Env) -> PathBuf {
    let text = format!(
        "tokens:\n\
         - name: ci\n  sha256: {}\n  accounts: {{astro-team: deployer}}\n\
         - name: dashboard\n  sha256: {}\n  accounts: {{astro-team: viewer}}\n\
         - name: other-team\n  sha256: {}\n  accounts: {{other-team: admin}}\n\
         - name: release\n  sha256: {}\n  accounts: {{astro-team: admin}}\n",
        sha(DEPLOYER),
        sha(VIEWER),
        sha(OTHER),
        sha(ADMIN)
    );
    let path = env.dir.path().join("tokens.yaml");
    std::fs::write(&path, text).expect("tokens file written");
    path
}

/// A running `kubectl-astro serve` and everything it printed so far.
struct Server {
    child: tokio::process::Child,
    base: String,
    output: ServeOutput,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// An answer: status and JSON body (`Null` when the body is not JSON).
struct Answer {
    status: u16,
    body: Value,
}

impl Server {
    /// Starts `serve` against `env` with the example catalog and `extra` flags; waits until
    /// it prints the address it listens on.
    async fn start(env: &Env, extra: &[&str]) -> Server {
        let catalog = examples().join("catalog").display().to_string();
        let mut args = vec!["--catalog", catalog.as_str()];
        args.extend_from_slice(extra);
        Server::launch(env, &args).await
    }

    /// Starts `serve` against `env` with the in-cluster catalog and `extra` flags.
    async fn start_in_cluster(env: &Env, extra: &[&str]) -> Server {
        Server::launch(env, extra).await
    }

    async fn launch(env: &Env, extra: &[&str]) -> Server {
        Server::launch_with_tokens(env, tokens_file(env), extra).await
    }

    /// Starts `serve` against `env` with the tokens file `tokens` and `extra` flags.
    async fn launch_with_tokens(env: &Env, tokens: PathBuf, extra: &[&str]) -> Server {
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--tokens".into(),
            tokens.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = env.command(&args).spawn().expect("serve starts");
        let (base, output) = serve_started(&mut child, Duration::from_secs(30)).await;
        // The server closes a connection idle for --read-timeout (1 s in some tests); a client
        // that reuses one that long idle races that close and loses its request. Drop them
        // sooner, as a client of any server with an idle timeout should.
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_millis(500))
            .pool_timer(TokioTimer::new())
            .build_http();
        Server {
            child,
            base,
            output,
            client,
        }
    }

    /// Everything the server printed so far, stdout and stderr.
    fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends `method path` with `headers` and `body`; `None` when no answer came.
    async fn try_send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Option<Answer> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body))).expect("request");
        let response = self.client.request(req).await.ok()?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.ok()?.to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Some(Answer { status, body })
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        self.try_send(method, path, headers, body)
            .await
            .unwrap_or_else(|| {
                panic!(
                    "{method} {path}: no answer; server said:\n{}",
                    self.output()
                )
            })
    }

    /// POSTs `body` as JSON with `token`.
    async fn post(&self, path: &str, token: &str, body: &Value) -> Answer {
        let auth = format!("Bearer {token}");
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        self.send("POST", path, &headers, body.to_string().into_bytes())
            .await
    }

    /// The server's output holds none of the tokens.
    fn assert_no_token_printed(&self) {
        let out = self.output();
        assert!(!out.contains(MARKER), "a token was printed:\n{out}");
    }
}

fn weather() -> Value {
    json!({"account": "astro-team", "name": "weather-agent"})
}

#[tokio::test]
async fn deploy_answers_the_cli_response_and_creates_the_objects() {
    let env = Env::new().await;
    let server = Server::start(&env, &[]).await;
    let answer = server.post("/api/v1/deploy", DEPLOYER, &weather()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let resp = &answer.body;
    assert_eq!(resp["status"], "success", "{resp}");
    assert_eq!(resp["k8s_namespace"], NS);
    assert!(env.get(&format!("/api/v1/namespaces/{NS}")).await.is_some());
    let deployments: Vec<String> = with_action(resp, "created")
        .into_iter()
        .filter_map(|k| k.strip_prefix("Deployment/").map(String::from))
        .collect();
    assert!(!deployments.is_empty(), "{resp}");
    for name in deployments {
        let path = format!("/apis/apps/v1/namespaces/{NS}/deployments/{name}");
        assert!(env.get(&path).await.is_some(), "{path} exists");
    }

    // The same shape and the same objects as `kubectl astro deploy` on a fresh cluster.
    let cli = Env::new().await;
    let (code, cli_resp, stderr) = cli.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let keys = |v: &Value| {
        v.as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(keys(resp), keys(&cli_resp));
    assert_eq!(actions(resp), actions(&cli_resp));
    assert_eq!(resp["service_endpoints"], cli_resp["service_endpoints"]);

    // A redeploy writes nothing.
    let again = server.post("/api/v1/deploy", DEPLOYER, &weather()).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(
        with_action(&again.body, "unchanged").len(),
        actions(&again.body).len(),
        "{}",
        again.body
    );

    // Undeploy answers the UndeployResponse of the CLI.
    let gone = server.post("/api/v1/undeploy", DEPLOYER, &weather()).await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert_eq!(gone.body["status"], "success");
    assert_eq!(gone.body["k8s_namespace"], NS);
    assert_eq!(gone.body["build_id"], resp["build_id"]);
    assert!(gone.body["undeployed_at"].is_string());

    let out = server.output();
    assert!(
        out.contains("access: POST /api/v1/deploy status=200 caller=ci account=astro-team"),
        "{out}"
    );
    server.assert_no_token_printed();
}

#[tokio::test]
async fn validate_answers_valid_or_the_problems() {
    let env = Env::new().await;
    let server = Server::start(&env, &[]).await;
    let ok = server
        .post("/api/v1/deploy/validate", VIEWER, &weather())
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        ok.body,
        json!({"valid": true, "build_id": "build-20240612-1530", "name": "weather-agent"})
    );
    let bad = json!({"account": "astro-team", "name": "weather-agent", "interfaces": ["fax"]});
    let answer = server.post("/api/v1/deploy/validate", VIEWER, &bad).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.body["valid"], false);
    let errors = answer.body["validation_errors"].to_string();
    assert!(errors.contains("interfaces"), "{errors}");
    // A body that does not read as a request is a validation problem too, naming the field.
    let typo = json!({"account": "astro-team", "name": "weather-agent", "interface": ["web"]});
    let answer = server.post("/api/v1/deploy/validate", VIEWER, &typo).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.body["validation_errors"]
            .to_string()
            .contains("interface"),
        "{}",
        answer.body
    );
    // Validating writes nothing.
    assert!(env.get(&format!("/api/v1/namespaces/{NS}")).await.is_none());
    server.assert_no_token_printed();
}

#[tokio::test]
async fn who_may_call_what() {
    let env = Env::new().await;
    let server = Server::start(&env, &[]).await;
    let body = weather().to_string().into_bytes();
    let json_type = ("Content-Type", "application/json");
    let deploy = "/api/v1/deploy";
    let unknown = format!("Bearer {UNKNOWN}");
    let basic = format!("Basic {DEPLOYER}");
    let bare = DEPLOYER.to_string();
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[json_type], "missing Authorization header"),
        (
            &[json_type, ("Authorization", &basic)],
            "malformed Authorization header",
        ),
        (
            &[json_type, ("Authorization", &bare)],
            "malformed Authorization header",
        ),
        (&[json_type, ("Authorization", &unknown)], "unknown token"),
    ];
    for (headers, details) in cases {
        let answer = server.send("POST", deploy, headers, body.clone()).await;
        assert_eq!(answer.status, 401, "{details}: {}", answer.body);
        assert_eq!(answer.body["error"], "unauthorized", "{}", answer.body);
        let got = answer.body["details"].as_str().unwrap_or("");
        assert!(got.starts_with(details), "{got}");
    }
    let forbidden =
        json!({"error": "forbidden", "details": "insufficient permissions for account astro-team"});
    for (path, token) in [
        (deploy, OTHER),
        (deploy, VIEWER),
        ("/api/v1/undeploy", VIEWER),
        ("/api/v1/deploy/validate", OTHER),
    ] {
        let answer = server.post(path, token, &weather()).await;
        assert_eq!(answer.status, 403, "{path}: {}", answer.body);
        assert_eq!(answer.body, forbidden, "{path}");
    }
    // Nothing was deployed by any of them.
    assert!(env.get(&format!("/api/v1/namespaces/{NS}")).await.is_none());
    let out = server.output();
    assert!(out.contains("status=401 caller=- account=-"), "{out}");
    assert!(
        out.contains("status=403 caller=dashboard account=astro-team"),
        "{out}"
    );
    server.assert_no_token_printed();
}

#[tokio::test]
async fn bad_requests_name_what_is_wrong() {
    let env = Env::new().await;
    let server = Server::start(&env, &[]).await;
    let auth = format!("Bearer {DEPLOYER}");
    let deploy = "/api/v1/deploy";

    let text = server
        .send(
            "POST",
            deploy,
            &[("Authorization", &auth), ("Content-Type", "text/plain")],
            weather().to_string().into_bytes(),
        )
        .await;
    assert_eq!(text.status, 415, "{}", text.body);
    assert_eq!(text.body["error"], "unsupported media type");

    let mut big = br#"{"account": "astro-team", "name": "weather-agent", "x": ""#.to_vec();
    big.resize(2 * 1024 * 1024, b'a');
    let huge = server
        .send(
            "POST",
            deploy,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            big,
        )
        .await;
    assert_eq!(huge.status, 413, "{}", huge.body);
    assert_eq!(huge.body["error"], "request too large");

    let cases = [
        (
            json!({"account": "astro-team", "name": "weather-agent", "colour": "red"}),
            "colour",
        ),
        (
            json!({"account": "astro-team", "name": "weather-agent", "interfaces": "web"}),
            "interfaces",
        ),
        (json!({"name": "weather-agent"}), "account"),
        (
            json!({"account": "Astro_Team", "name": "weather-agent"}),
            "account",
        ),
    ];
    for (body, field) in cases {
        let answer = server.post(deploy, DEPLOYER, &body).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert_eq!(answer.body["error"], "invalid request", "{body}");
        let details = answer.body["details"].as_str().unwrap_or("");
        assert!(details.contains(field), "{body}: {details}");
    }
    let not_json = server
        .send(
            "POST",
            deploy,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            b"account: astro-team".to_vec(),
        )
        .await;
    assert_eq!(not_json.status, 400, "{}", not_json.body);
    // validate answers every 400 as `valid: false`, a body that is not text included (found
    // by schemathesis: it answered an `Error`, which its schema does not allow).
    let not_text = server
        .send(
            "POST",
            "/api/v1/deploy/validate",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            vec![0xff, 0x4a, 0x6d, 0xfe],
        )
        .await;
    assert_eq!(not_text.status, 400, "{}", not_text.body);
    assert_eq!(not_text.body["valid"], false, "{}", not_text.body);
    assert_eq!(
        not_text.body["validation_errors"],
        json!(["request: the body is not UTF-8 text"])
    );

    let missing = json!({"account": "astro-team", "name": "no-such-agent"});
    let answer = server.post(deploy, DEPLOYER, &missing).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(answer.body["error"], "build not found");
    let answer = server.post("/api/v1/undeploy", DEPLOYER, &missing).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(answer.body["error"], "deployment not found");

    let route = server.send("GET", "/api/v1/nothing", &[], Vec::new()).await;
    assert_eq!(route.status, 404);
    let method = server.send("GET", deploy, &[], Vec::new()).await;
    assert_eq!(method.status, 405);

    assert_eq!(
        server.send("GET", "/healthz", &[], Vec::new()).await.status,
        200
    );
    assert_eq!(
        server.send("GET", "/readyz", &[], Vec::new()).await.status,
        200
    );
    server.assert_no_token_printed();
}

/// Two deploys of the same agent at once: the second waits for the first (its first request
/// comes after the first deploy's slow apply), and both succeed.
#[tokio::test]
async fn deploys_of_one_agent_take_turns() {
    let env = Env::new().await;
    let server = Server::start(&env, &[]).await;
    env.server.faults().add(
        Fault::delay_only(Duration::from_millis(1500))
            .verb("patch")
            .kind("Deployment")
            .times(1),
    );
    let body = weather();
    let (a, b) = tokio::join!(
        server.post("/api/v1/deploy", DEPLOYER, &body),
        server.post("/api/v1/deploy", DEPLOYER, &body),
    );
    assert_eq!((a.status, b.status), (200, 200), "{} {}", a.body, b.body);
    let log = env.server.request_log();
    let namespace = format!("/api/v1/namespaces/{NS}");
    let first_deployment = log
        .iter()
        .position(|r| r.method == "PATCH" && r.path.contains("/deployments/"))
        .expect("the Deployment was applied");
    let namespace_applies_before = log[..first_deployment]
        .iter()
        .filter(|r| r.method == "PATCH" && r.path == namespace)
        .count();
    assert_eq!(
        namespace_applies_before, 1,
        "the second deploy started while the first was applying"
    );
    let all = log
        .iter()
        .filter(|r| r.method == "PATCH" && r.path == namespace)
        .count();
    assert!(all >= 2, "both deploys applied the Namespace");
    server.assert_no_token_printed();
}

/// Deploys of different agents do not wait for each other: with the weather agent's
/// Deployment apply held for 2 s, the support agent's deploy, sent after it, answers first.
#[tokio::test]
async fn deploys_of_different_agents_run_in_parallel() {
    let env = Env::new().await;
    let server = Server::start(&env, &[]).await;
    env.server.faults().add(
        Fault::delay_only(Duration::from_secs(2))
            .verb("patch")
            .kind("Deployment")
            .namespace(NS)
            .times(1),
    );
    let support = json!({
        "account": "astro-team",
        "name": "support-agent",
        "interfaces": ["slack", "web"],
        "schedules": {"kb_sync": "*/30 * * * *"},
        "user_credentials": {
            "ANTHROPIC_API_KEY": "sk-ant-example",
            "SLACK_APP_TOKEN": "xapp-example",
            "SLACK_BOT_TOKEN": "xoxb-example"
        }
    });
    let weather_body = weather();
    let slow = async {
        let answer = server.post("/api/v1/deploy", DEPLOYER, &weather_body).await;
        (answer, std::time::Instant::now())
    };
    let fast = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let answer = server.post("/api/v1/deploy", DEPLOYER, &support).await;
        (answer, std::time::Instant::now())
    };
    let ((a, a_done), (b, b_done)) = tokio::join!(slow, fast);
    assert_eq!((a.status, b.status), (200, 200), "{} {}", a.body, b.body);
    assert!(
        b_done < a_done,
        "the support agent waited for the weather agent"
    );
    let out = server.output();
    assert!(
        !out.contains("xoxb-example"),
        "a credential was printed:\n{out}"
    );
    server.assert_no_token_printed();
}

/// Past `--lock-wait`, the second deploy of a busy agent answers 409.
#[tokio::test]
async fn a_busy_agent_answers_409_past_the_lock_wait() {
    let env = Env::new().await;
    let server = Server::start(&env, &["--lock-wait", "100ms"]).await;
    env.server.faults().add(
        Fault::delay_only(Duration::from_secs(2))
            .verb("patch")
            .kind("Deployment")
            .times(1),
    );
    let body = weather();
    let (a, b) = tokio::join!(
        server.post("/api/v1/deploy", DEPLOYER, &body),
        server.post("/api/v1/deploy", DEPLOYER, &body),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{} {}", a.body, b.body);
    let busy = if a.status == 409 { &a.body } else { &b.body };
    assert_eq!(busy["error"], "busy");
    assert!(
        busy["details"]
            .as_str()
            .unwrap_or("")
            .contains("astro-team/weather-agent"),
        "{busy}"
    );
}

/// Two servers (two replicas behind one Service) deploying one agent at once take turns
/// through its Lease: one creates everything, the other waits and finds everything
/// unchanged (the first Deployment apply is held 1.5 s, so they overlap).
#[tokio::test]
async fn two_servers_take_turns_through_the_lease() {
    let env = Env::new().await;
    let (a, b) = tokio::join!(Server::start(&env, &[]), Server::start(&env, &[]));
    env.server.faults().add(
        Fault::delay_only(Duration::from_millis(1500))
            .verb("patch")
            .kind("Deployment")
            .times(1),
    );
    let body = weather();
    let started = std::time::Instant::now();
    let (x, y) = tokio::join!(
        a.post("/api/v1/deploy", DEPLOYER, &body),
        b.post("/api/v1/deploy", DEPLOYER, &body),
    );
    let took = started.elapsed();
    assert_eq!((x.status, y.status), (200, 200), "{} {}", x.body, y.body);
    let mut kinds: Vec<(usize, usize)> = [&x.body, &y.body]
        .iter()
        .map(|r| {
            (
                with_action(r, "created").len(),
                with_action(r, "unchanged").len(),
            )
        })
        .collect();
    kinds.sort();
    let objects = actions(&x.body).len();
    assert_eq!(kinds, [(0, objects), (objects, 0)], "{} {}", x.body, y.body);
    println!("two servers, one agent: {} ms", took.as_millis());
}

/// A Lease held by another replica (renewed now, for 60 s): past `--lock-wait` the deploy
/// answers 409 `busy` naming that holder, and nothing was written to the agent's namespace.
#[tokio::test]
async fn a_lease_held_by_another_replica_answers_409() {
    let env = Env::new().await;
    let client = env.server.client().await.expect("client");
    let now = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let objects = [
        (
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "astro-system"}}),
        ),
        (
            "/apis/coordination.k8s.io/v1/namespaces/astro-system/leases",
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": NS},
                "spec": {"holderIdentity": "kubectl-astro@astro-serve-7d9f-b/1-0a0b0c0d",
                         "leaseDurationSeconds": 60, "acquireTime": now, "renewTime": now}}),
        ),
    ];
    for (path, body) in objects {
        let req = http::Request::post(path)
            .header("Content-Type", "application/json")
            .body(body.to_string().into_bytes())
            .expect("request");
        client.request::<Value>(req).await.expect("created");
    }
    let server = Server::start(&env, &["--lock-wait", "1s"]).await;
    let answer = server.post("/api/v1/deploy", DEPLOYER, &weather()).await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert_eq!(answer.body["error"], "busy");
    let details = answer.body["details"].as_str().unwrap_or("");
    assert!(
        details.contains("holder kubectl-astro@astro-serve-7d9f-b/1-0a0b0c0d"),
        "{details}"
    );
    assert!(env.get(&format!("/api/v1/namespaces/{NS}")).await.is_none());
    let undeploy = server.post("/api/v1/undeploy", DEPLOYER, &weather()).await;
    assert_eq!(
        undeploy.status, 404,
        "no namespace, no Lease needed: {}",
        undeploy.body
    );
}

/// `GET /api/v1/openapi.yaml` answers the document (the file in the repository) to any valid
/// token, 401 without one.
#[tokio::test]
async fn the_openapi_document_is_served_to_callers_with_a_token() {
    let env = Env::new().await;
    let server = Server::start(&env, &[]).await;
    let path = "/api/v1/openapi.yaml";
    let auth = format!("Bearer {VIEWER}");
    let mut req = hyper::Request::get(format!("{}{path}", server.base))
        .header("Authorization", auth.as_str())
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = server.client.request(req).await.expect("answer");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/yaml"[..])
    );
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let file = std::fs::read(support::repo_root().join("kubectl-astro/src/serve/openapi.yaml"))
        .expect("openapi.yaml");
    assert_eq!(body.as_ref(), file.as_slice());
    req = hyper::Request::get(format!("{}{path}", server.base))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = server.client.request(req).await.expect("answer");
    assert_eq!(response.status(), 401);
    server.assert_no_token_printed();
}

/// `GET /metrics` counts what happened: requests by route and status, the deploy's duration
/// and objects by action, the API server's answers and one retry (a 503 injected once).
#[tokio::test]
async fn metrics_count_requests_deploys_objects_and_api_server_retries() {
    let env = Env::new().await;
    let server = Server::start(&env, &[]).await;
    env.server.faults().add(
        Fault::status(503, "ServiceUnavailable", "try again")
            .verb("patch")
            .kind("Deployment")
            .times(1),
    );
    let answer = server.post("/api/v1/deploy", DEPLOYER, &weather()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let objects = actions(&answer.body).len();
    let denied = server
        .post("/api/v1/deploy", "no-such-token", &weather())
        .await;
    assert_eq!(denied.status, 401);
    server.send("BREW", "/healthz", &[], Vec::new()).await;
    let metrics = server.send("GET", "/metrics", &[], Vec::new()).await;
    assert_eq!(metrics.status, 200);
    let mut req = hyper::Request::get(format!("{}/metrics", server.base));
    req = req.header("Accept", "text/plain");
    let response = server
        .client
        .request(req.body(Full::new(Bytes::new())).expect("request"))
        .await
        .expect("answer");
    let text = String::from_utf8_lossy(
        &response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes(),
    )
    .into_owned();
    let api_log = env.server.request_log();
    let api_201 = api_log.iter().filter(|r| r.status == 201).count();
    let api_503 = api_log.iter().filter(|r| r.status == 503).count();
    assert_eq!(api_503, 1);
    for line in [
        r#"astro_http_requests_total{method="POST",route="/api/v1/deploy",status="200"} 1"#
            .to_string(),
        r#"astro_http_requests_total{method="POST",route="/api/v1/deploy",status="401"} 1"#
            .to_string(),
        r#"astro_http_requests_total{method="other",route="/healthz",status="405"} 1"#.to_string(),
        r#"astro_http_requests_total{method="GET",route="/metrics",status="200"} 1"#.to_string(),
        r#"astro_deploy_duration_seconds_count{outcome="success"} 1"#.to_string(),
        format!(r#"astro_deploy_objects_total{{action="created"}} {objects}"#),
        format!(r#"astro_apiserver_requests_total{{code="201"}} {api_201}"#),
        r#"astro_apiserver_requests_total{code="503"} 1"#.to_string(),
        "astro_apiserver_retries_total 1".to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
    server.assert_no_token_printed();
}

/// With `--tls-cert/--tls-key` the server answers over HTTPS (a client that trusts the
/// certificate deploys through it), plain HTTP to the same port gets no answer, and a
/// non-loopback `--listen` needs no `--insecure-listen`.
#[tokio::test]
async fn serve_over_https_with_tls_cert_and_key() {
    let env = Env::new().await;
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("certificate");
    let (cert_path, key_path) = (
        env.dir.path().join("tls.crt"),
        env.dir.path().join("tls.key"),
    );
    std::fs::write(&cert_path, cert.pem()).expect("cert written");
    std::fs::write(&key_path, signing_key.serialize_pem()).expect("key written");
    let (c, k) = (
        cert_path.display().to_string(),
        key_path.display().to_string(),
    );
    let server = Server::start(&env, &["--tls-cert", &c, "--tls-key", &k]).await;
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).expect("root added");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let req = hyper::Request::post(format!("{}/api/v1/deploy", server.base))
        .header("Authorization", format!("Bearer {DEPLOYER}"))
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(weather().to_string())))
        .expect("request");
    let response = client.request(req).await.expect("an answer over HTTPS");
    assert_eq!(response.status(), 200);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let resp: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(resp["status"], "success", "{resp}");

    // Plain HTTP to the HTTPS port: the handshake fails, no answer.
    let plain = server.base.replacen("https://", "http://", 1);
    let req = hyper::Request::get(format!("{plain}/healthz"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let answer = tokio::time::timeout(Duration::from_secs(15), server.client.request(req)).await;
    assert!(
        matches!(answer, Ok(Err(_))),
        "plain HTTP got an answer: {answer:?}"
    );
    server.assert_no_token_printed();

    // Any address may be served over HTTPS without --insecure-listen.
    let tokens = env.dir.path().join("tokens.yaml");
    let args = [
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--tokens",
        tokens.to_str().unwrap_or_default(),
        "--tls-cert",
        &c,
        "--tls-key",
        &k,
    ];
    let mut child = env.command(&args).spawn().expect("serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .ok()
        .and_then(Result::ok)
        .flatten()
        .unwrap_or_default();
    assert!(
        first.starts_with("serving the Deploy API on https://0.0.0.0:"),
        "{first}"
    );
    let _ = child.start_kill();
}

/// SIGTERM stops accepting, lets the deploy in flight finish, and exits 0.
#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish() {
    let env = Env::new().await;
    let mut server = Server::start(&env, &[]).await;
    env.server.faults().add(
        Fault::delay_only(Duration::from_millis(1500))
            .verb("patch")
            .kind("Deployment")
            .times(1),
    );
    let pid = server.child.id().expect("pid").to_string();
    let body = weather();
    let deploy = server.post("/api/v1/deploy", DEPLOYER, &body);
    let signal = async {
        // Once the deploy has reached the cluster, signal.
        for _ in 0..100 {
            if env.server.request_log().iter().any(|r| r.method == "PATCH") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let status = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill runs");
        assert!(status.success());
        tokio::time::sleep(Duration::from_millis(300)).await;
        // No new request is taken.
        server
            .try_send("GET", "/healthz", &[], Vec::new())
            .await
            .is_none()
    };
    let (answer, refused) = tokio::join!(deploy, signal);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(refused, "a new connection was accepted after SIGTERM");
    let exit = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .expect("serve exits")
        .expect("wait");
    assert_eq!(exit.code(), Some(0));
    // Let the readers take the last lines.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = server.output();
    assert!(out.contains("shutting down"), "{out}");
    assert!(
        out.contains("stopped: every request in flight finished"),
        "{out}"
    );
}

#[tokio::test]
async fn flags_and_tokens_file_are_checked_at_start() {
    let env = Env::new().await;
    let tokens = tokens_file(&env).display().to_string();
    let (code, stdout, stderr) = env
        .run(&["serve", "--tokens", &tokens, "--listen", "0.0.0.0:0"])
        .await;
    assert_eq!(code, 3, "{stdout} {stderr}");
    assert!(stderr.contains("--insecure-listen"), "{stderr}");

    let bad = env.dir.path().join("bad-tokens.yaml");
    std::fs::write(
        &bad,
        format!(
            "tokens:\n- name: ci\n  sha256: {}\n  accounts: {{astro-team: owner}}\n",
            sha(DEPLOYER)
        ),
    )
    .expect("written");
    let bad = bad.display().to_string();
    let (code, _, stderr) = env.run(&["serve", "--tokens", &bad]).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains(&bad), "names the file: {stderr}");
    assert!(
        stderr.contains("tokens[0].accounts"),
        "names the field: {stderr}"
    );

    // A certificate file that holds no certificate, a key without its certificate.
    let not_pem = env.dir.path().join("not-a-cert.pem");
    std::fs::write(&not_pem, "hello").expect("written");
    let not_pem = not_pem.display().to_string();
    let (code, _, stderr) = env
        .run(&[
            "serve",
            "--tokens",
            &tokens,
            "--tls-cert",
            &not_pem,
            "--tls-key",
            &not_pem,
        ])
        .await;
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(&format!("--tls-cert {not_pem}: no PEM certificate")),
        "{stderr}"
    );
    let (code, _, stderr) = env
        .run(&["serve", "--tokens", &tokens, "--tls-key", &not_pem])
        .await;
    assert_eq!(code, 2, "clap's usage error: {stderr}");
    assert!(stderr.contains("--tls-cert"), "{stderr}");
}

/// A cluster that does not answer: `/readyz` says 503 while `/healthz` stays 200, and a deploy
/// answers 500 `cluster unreachable` (after the engine's retries).
#[tokio::test]
async fn an_unreachable_cluster_is_not_ready_and_fails_deploys_with_500() {
    let server = test_apiserver::TestApiServer::start()
        .await
        .expect("test-apiserver starts");
    // The kubeconfig of a server, pointed at a port where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = server.base_url();
    let host = url.rsplit_once(':').map_or(url.as_str(), |(host, _)| host);
    let kubeconfig = server
        .kubeconfig_yaml()
        .replace(&url, &format!("{host}:{closed}"));
    let env = Env::with_kubeconfig(server, &kubeconfig);
    let serve = Server::start(&env, &[]).await;
    assert_eq!(
        serve.send("GET", "/healthz", &[], Vec::new()).await.status,
        200
    );
    let ready = serve.send("GET", "/readyz", &[], Vec::new()).await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.body["error"], "cluster unreachable");
    let answer = serve.post("/api/v1/deploy", DEPLOYER, &weather()).await;
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert_eq!(
        answer.body["error"], "cluster unreachable",
        "{}",
        answer.body
    );
    serve.assert_no_token_printed();
}

impl Server {
    /// GETs `path` with `token` (none when empty).
    async fn get(&self, path: &str, token: &str) -> Answer {
        let auth = format!("Bearer {token}");
        let headers: Vec<(&str, &str)> = if token.is_empty() {
            Vec::new()
        } else {
            vec![("Authorization", auth.as_str())]
        };
        self.send("GET", path, &headers, Vec::new()).await
    }
}

#[tokio::test]
async fn viewers_read_deployments_an_agents_status_and_its_history() {
    let env = Env::new().await;
    let server = Server::start(&env, &[]).await;
    let status = "/api/v1/agents/astro-team/weather-agent/deployment";
    let history = "/api/v1/agents/astro-team/weather-agent/deployment/history";
    let absent = server.get(status, VIEWER).await;
    assert_eq!(absent.status, 404, "{}", absent.body);
    assert_eq!(absent.body["error"], "deployment not found");
    let deployed = server.post("/api/v1/deploy", DEPLOYER, &weather()).await;
    assert_eq!(deployed.status, 200, "{}", deployed.body);

    // The answers are what the commands print.
    let cli = |command: &'static str| {
        let env = &env;
        async move {
            let (code, out, err) = env
                .run(&support::weather_agent(&[command], &["-o", "json"]))
                .await;
            assert_eq!(code, 0, "{err}");
            serde_json::from_str::<Value>(&out).expect("JSON")
        }
    };
    let answer = server.get(status, VIEWER).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["build_id"], "build-20240612-1530");
    assert_eq!(answer.body, cli("status").await);
    let answer = server.get(history, VIEWER).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["count"], 1);
    assert_eq!(
        answer.body["deployments"][0]["build_id"],
        "build-20240612-1530"
    );
    assert_eq!(answer.body, cli("history").await);
    let listed = server
        .get("/api/v1/deployments?account=astro-team", VIEWER)
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["count"], 1, "{}", listed.body);
    assert_eq!(listed.body["deployments"][0]["name"], "weather-agent");
    let (code, out, _) = env
        .run(&["list", "--account", "astro-team", "-o", "json"])
        .await;
    assert_eq!(code, 0);
    assert_eq!(
        listed.body,
        serde_json::from_str::<Value>(&out).expect("JSON")
    );
    // Without ?account=, the accounts the caller may view.
    let mine = server.get("/api/v1/deployments", VIEWER).await;
    assert_eq!(mine.body["count"], 1, "{}", mine.body);
    let theirs = server.get("/api/v1/deployments", OTHER).await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    assert_eq!(theirs.body, json!({"deployments": [], "count": 0}));

    // 401 without a token, 403 without a role in the account, 400 for a bad name.
    for path in [status, history, "/api/v1/deployments?account=astro-team"] {
        let answer = server.get(path, "").await;
        assert_eq!(answer.status, 401, "{path}: {}", answer.body);
        let answer = server.get(path, UNKNOWN).await;
        assert_eq!(answer.status, 401, "{path}: {}", answer.body);
        let answer = server.get(path, OTHER).await;
        assert_eq!(answer.status, 403, "{path}: {}", answer.body);
        assert_eq!(
            answer.body,
            json!({"error": "forbidden", "details": "insufficient permissions for account astro-team"})
        );
    }
    let bad = server
        .get("/api/v1/agents/astro-team/Bad_Name/deployment", VIEWER)
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        bad.body["details"].to_string().contains("name"),
        "{}",
        bad.body
    );
    let bad = server
        .get("/api/v1/deployments?account=Bad_Account", VIEWER)
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let wrong = server.send("POST", status, &[], Vec::new()).await;
    assert_eq!(wrong.status, 405, "{}", wrong.body);

    let out = server.output();
    assert!(
        out.contains(
            "access: GET /api/v1/agents/{account}/{name}/deployment status=200 caller=dashboard account=astro-team"
        ),
        "{out}"
    );
    server.assert_no_token_printed();
}

/// `POST /api/v1/deployments/{namespace}/ingestion/{ingestion}/trigger?account=`: a deployer
/// of the account runs a manual ingestion (golden case 10's agent, deployed as astro-team's)
/// and gets `kubectl astro trigger`'s answer; a viewer may not; a namespace of another account
/// or an unknown ingestion is 404.
#[tokio::test]
async fn deployers_trigger_an_ingestion_of_a_deployment_by_its_namespace() {
    let env = Env::new().await;
    let case = support::repo_root().join("tests/golden/10-ingestion-all-triggers");
    let as_ours = |file: &str| {
        let text = std::fs::read_to_string(case.join(file)).expect("case 10");
        let path = env.dir.path().join(file);
        std::fs::write(&path, text.replace("account: flags", "account: astro-team"))
            .expect("written");
        path.display().to_string()
    };
    let (request, build) = (as_ours("request.yaml"), as_ours("build.yaml"));
    let (code, out, err) = env
        .run(&["deploy", "-f", &request, "--build", &build])
        .await;
    assert_eq!(code, 0, "{out} {err}");
    let ns = "astro-astro-team-feature-flag-assistant";
    let server = Server::start(&env, &[]).await;
    let path = |ingestion: &str, account: &str| {
        format!("/api/v1/deployments/{ns}/ingestion/{ingestion}/trigger?account={account}")
    };
    let post = |path: String, token: &'static str| {
        let server = &server;
        async move {
            let auth = format!("Bearer {token}");
            server
                .send(
                    "POST",
                    &path,
                    &[("Authorization", auth.as_str())],
                    Vec::new(),
                )
                .await
        }
    };
    let answer = post(path("reindex", "astro-team"), DEPLOYER).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["status"], "triggered");
    assert_eq!(answer.body["namespace"], ns);
    let job = answer.body["job_name"].as_str().unwrap_or_default();
    assert!(
        job.starts_with("feature-flag-assistant-ingestion-reindex-"),
        "{job}"
    );
    assert!(
        env.get(&format!("/apis/batch/v1/namespaces/{ns}/jobs/{job}"))
            .await
            .is_some(),
        "the Job exists"
    );

    let answer = post(path("reindex", "astro-team"), VIEWER).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    let answer = post(path("reindex", "other-team"), OTHER).await;
    assert_eq!(
        answer.status, 404,
        "another account's namespace: {}",
        answer.body
    );
    let answer = post(path("warmup", "astro-team"), DEPLOYER).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(answer.body["error"], "ingestion not found");
    let answer = post(
        format!("/api/v1/deployments/{ns}/ingestion/reindex/trigger"),
        DEPLOYER,
    )
    .await;
    assert_eq!(answer.status, 400, "no account: {}", answer.body);
    let answer = post(path("reindex", "astro-team"), "").await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    server.assert_no_token_printed();
}

/// A raw connection to `server`, for clients that misbehave.
async fn raw(server: &Server) -> tokio::net::TcpStream {
    let addr = server.base.trim_start_matches("http://");
    tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects")
}

/// Everything `stream` receives until the server closes it, and how long that took; panics
/// after `limit`.
async fn read_until_closed(
    stream: &mut tokio::net::TcpStream,
    limit: Duration,
) -> (String, Duration) {
    let started = std::time::Instant::now();
    let mut got = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut got))
        .await
        .expect("the server closed the connection in time")
        .ok();
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn a_client_stalling_in_its_headers_is_cut_off_while_others_are_served() {
    use tokio::io::AsyncWriteExt;
    let env = Env::new().await;
    let server = Server::start(&env, &["--read-timeout", "1s"]).await;
    let mut slow = raw(&server).await;
    slow.write_all(b"POST /api/v1/deploy HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
        .await
        .expect("half a header sent");
    // Others are served meanwhile.
    for _ in 0..3 {
        let answer = server.send("GET", "/healthz", &[], Vec::new()).await;
        assert_eq!(answer.status, 200);
    }
    let (got, took) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(took >= Duration::from_millis(800), "closed after {took:?}");
    assert!(!got.contains("200"), "{got}");
    // Still serving after it.
    let answer = server.send("GET", "/healthz", &[], Vec::new()).await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn a_body_trickling_past_the_read_timeout_answers_408() {
    use tokio::io::AsyncWriteExt;
    let env = Env::new().await;
    let server = Server::start(&env, &["--read-timeout", "1s"]).await;
    let mut slow = raw(&server).await;
    let head = format!(
        "POST /api/v1/deploy HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {DEPLOYER}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"account\""
    );
    slow.write_all(head.as_bytes()).await.expect("head sent");
    let trickle = async {
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if slow.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    trickle.await;
    let (got, took) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.contains("--read-timeout"), "{got}");
    assert!(got.to_lowercase().contains("connection: close"), "{got}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(
        server
            .output()
            .contains("access: POST /api/v1/deploy status=408 caller=ci"),
        "{}",
        server.output()
    );
    server.assert_no_token_printed();
}

/// Sends SIGTERM to `server` once test-apiserver has seen a PATCH.
async fn terminate_during_the_apply(env: &Env, server: &Server) {
    for _ in 0..200 {
        if env.server.request_log().iter().any(|r| r.method == "PATCH") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = server.child.id().expect("pid").to_string();
    let status = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_interrupts_a_deploy_past_the_shutdown_grace_which_answers_its_partial_result() {
    let env = Env::new().await;
    let mut server = Server::start(&env, &["--shutdown-grace", "300ms"]).await;
    // The Deployment's apply takes 3 s: longer than the grace.
    env.server.faults().add(
        Fault::delay_only(Duration::from_secs(3))
            .verb("patch")
            .kind("Deployment")
            .times(1),
    );
    let started = std::time::Instant::now();
    let body = weather();
    let deploy = server.post("/api/v1/deploy", DEPLOYER, &body);
    let (answer, ()) = tokio::join!(deploy, terminate_during_the_apply(&env, &server));
    assert_eq!(answer.status, 207, "{}", answer.body);
    let resp = &answer.body;
    assert_eq!(resp["status"], "partial", "{resp}");
    let first = resp["errors"][0].as_str().unwrap_or_default();
    assert!(
        first.starts_with("interrupted: the server is shutting down"),
        "{resp}"
    );
    // What was applied is listed: the namespace at least.
    assert!(!actions(resp).is_empty(), "{resp}");
    let exit = tokio::time::timeout(Duration::from_secs(15), server.child.wait())
        .await
        .expect("serve exits")
        .expect("wait");
    assert_eq!(exit.code(), Some(0));
    // The delayed apply (3 s) plus the last answer, well within grace + FINISH.
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = server.output();
    assert!(out.contains("interrupting the deploys in flight"), "{out}");
    assert!(
        out.contains("stopped: the requests still in flight were interrupted and answered"),
        "{out}"
    );
    assert!(
        out.contains("access: POST /api/v1/deploy status=207"),
        "{out}"
    );
    // The next deploy converges.
    let again = Server::start(&env, &[]).await;
    let answer = again.post("/api/v1/deploy", DEPLOYER, &weather()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn a_request_past_its_deadline_is_interrupted_or_answers_504() {
    let env = Env::new().await;
    let server = Server::start(&env, &["--request-deadline", "1s"]).await;
    env.server.faults().add(
        Fault::delay_only(Duration::from_secs(3))
            .verb("patch")
            .kind("Deployment")
            .times(1),
    );
    let started = std::time::Instant::now();
    let answer = server.post("/api/v1/deploy", DEPLOYER, &weather()).await;
    assert_eq!(answer.status, 207, "{}", answer.body);
    let first = answer.body["errors"][0].as_str().unwrap_or_default();
    assert!(
        first.starts_with("interrupted: the request ran past its deadline"),
        "{}",
        answer.body
    );
    // The Deployment's apply in flight finished (3 s); nothing was sent after it.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );

    // A read past the deadline: 504 with an Error.
    env.server.faults().add(
        Fault::delay_only(Duration::from_secs(3))
            .verb("list")
            .kind("Namespace")
            .times(1),
    );
    let auth = format!("Bearer {VIEWER}");
    let answer = server
        .send(
            "GET",
            "/api/v1/deployments?account=astro-team",
            &[("Authorization", &auth)],
            Vec::new(),
        )
        .await;
    assert_eq!(answer.status, 504, "{}", answer.body);
    assert_eq!(answer.body["error"], "timeout", "{}", answer.body);
    assert!(
        answer.body["details"]
            .as_str()
            .is_some_and(|d| d.contains("--request-deadline")),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn every_answer_names_its_request_id_which_the_access_log_prints() {
    let env = Env::new().await;
    let server = Server::start(&env, &[]).await;
    let get = |id: Option<&'static str>| {
        let mut req = hyper::Request::get(format!("{}/healthz", server.base));
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        let req = req.body(Full::new(Bytes::new())).expect("request");
        server.client.request(req)
    };
    let given = get(Some("trace-42.a:b_c")).await.expect("answer");
    assert_eq!(given.headers()["x-request-id"], "trace-42.a:b_c");
    let new = get(None).await.expect("answer");
    let id = new.headers()["x-request-id"]
        .to_str()
        .expect("text")
        .to_string();
    assert_eq!(id.len(), 32, "{id}");
    // An id that could break a log line is replaced.
    let forged = get(Some("x status=200 caller=admin"))
        .await
        .expect("answer");
    let replaced = forged.headers()["x-request-id"].to_str().expect("text");
    assert_eq!(replaced.len(), 32, "{replaced}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = server.output();
    assert!(
        out.contains("access: GET /healthz status=200 caller=- account=- duration_ms="),
        "{out}"
    );
    for id in ["trace-42.a:b_c", id.as_str(), replaced] {
        assert!(out.contains(&format!(" request_id={id}\n")), "{id}: {out}");
    }
    assert!(!out.contains("caller=admin"), "{out}");
}

/// The documents of a multi-document YAML text.
fn documents(text: &str) -> Vec<Value> {
    text.split("\n---\n")
        .map(|doc| {
            astro_deploy::input::parse_value("manifests", doc)
                .unwrap_or_else(|e| panic!("a document does not parse: {e}\n{doc}"))
        })
        .collect()
}

/// `(apiGroups, resources, verbs)` of each rule of a ClusterRole, as sorted string lists.
fn rule_set(role: &Value) -> Vec<Value> {
    role["rules"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn the_printed_manifests_apply_server_side_and_grant_every_rule_of_docs_rbac() {
    let env = Env::new().await;
    // No tokens file, no cluster needed.
    let (code, text, stderr) = env
        .run(&[
            "serve",
            "--print-manifests",
            "--image",
            "registry.example.com/astro/kubectl-astro:1.2.3",
            "--replicas",
            "3",
            "--shutdown-grace",
            "25s",
        ])
        .await;
    assert_eq!(code, 0, "{stderr}");
    let docs = documents(&text);
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Service"
        ]
    );
    let deployment = &docs[4];
    assert_eq!(deployment["metadata"]["namespace"], "astro-system");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(
        container["image"],
        "registry.example.com/astro/kubectl-astro:1.2.3"
    );
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    let args: Vec<&str> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        args.windows(2).any(|w| w == ["--shutdown-grace", "25s"]),
        "{args:?}"
    );
    assert!(args.contains(&"--insecure-listen"), "{args:?}");
    // The kubelet waits for preStop, the grace, the last answers (10 s) before it kills.
    let pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .expect("preStop sleep");
    let termination = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("terminationGracePeriodSeconds");
    assert!(termination > pre_stop + 25 + 10, "{termination}");
    // The tokens Secret is mounted read-only, never printed.
    assert_eq!(container["volumeMounts"][0]["readOnly"], true);
    assert_eq!(
        pod["volumes"][0]["secret"]["secretName"],
        "kubectl-astro-serve-tokens"
    );
    assert!(!text.contains("kind: Secret"), "{text}");

    // Every rule of docs/rbac.yaml is granted as it is written there.
    let rbac = std::fs::read_to_string(support::repo_root().join("docs/rbac.yaml"))
        .expect("docs/rbac.yaml");
    let rbac = astro_deploy::input::parse_value("rbac", &rbac).expect("rbac.yaml parses");
    let granted = rule_set(&docs[2]);
    let needed = rule_set(&rbac);
    assert!(!needed.is_empty());
    for rule in &needed {
        assert!(granted.contains(rule), "{rule} is not granted: {granted:?}");
    }
    assert_eq!(docs[3]["subjects"][0]["name"], docs[1]["metadata"]["name"]);
    assert_eq!(docs[3]["roleRef"]["name"], docs[2]["metadata"]["name"]);

    // kubectl's server-side apply of the whole text is accepted, every object stored.
    let file = env.dir.path().join("serve.yaml");
    std::fs::write(&file, &text).expect("written");
    let out = tokio::process::Command::new("kubectl")
        .args(["apply", "--server-side", "-f"])
        .arg(&file)
        .env("KUBECONFIG", env.kubeconfig())
        .env("KUBECACHEDIR", env.dir.path().join("kube-cache"))
        .output()
        .await
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for path in [
        "/api/v1/namespaces/astro-system",
        "/api/v1/namespaces/astro-system/serviceaccounts/kubectl-astro-serve",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/kubectl-astro-serve",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubectl-astro-serve",
        "/apis/apps/v1/namespaces/astro-system/deployments/kubectl-astro-serve",
        "/api/v1/namespaces/astro-system/services/kubectl-astro-serve",
    ] {
        assert!(env.get(path).await.is_some(), "{path} was not stored");
    }
    let stored = env
        .get("/apis/rbac.authorization.k8s.io/v1/clusterroles/kubectl-astro-serve")
        .await
        .expect("stored");
    assert_eq!(rule_set(&stored), granted);
}

/// The manifests `--print-manifests` prints, byte for byte, as reviewed in
/// `tests/serve-manifests.expected.yaml` (`UPDATE_GOLDEN=1` rewrites it; read every changed
/// line before committing it).
#[tokio::test]
async fn the_printed_manifests_are_the_reviewed_ones() {
    let env = Env::new().await;
    let (code, text, stderr) = env
        .run(&[
            "serve",
            "--print-manifests",
            "--image",
            "registry.example.com/kubectl-astro:golden",
        ])
        .await;
    assert_eq!(code, 0, "{stderr}");
    let path = support::repo_root().join("kubectl-astro/tests/serve-manifests.expected.yaml");
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, &text).expect("written");
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    if text != expected {
        let diff = similar::TextDiff::from_lines(expected.as_str(), text.as_str())
            .unified_diff()
            .header("expected", "printed")
            .to_string();
        panic!("the manifests differ (UPDATE_GOLDEN=1 regenerates after review):\n{diff}");
    }
}

#[tokio::test]
async fn a_stop_waits_for_a_deploy_whose_client_hung_up() {
    let env = Env::new().await;
    let mut server = Server::start(&env, &["--shutdown-grace", "20s"]).await;
    env.server.faults().add(
        Fault::delay_only(Duration::from_secs(2))
            .verb("patch")
            .kind("Deployment")
            .times(1),
    );
    // The client gives up while the deploy runs; the deploy goes on in the server.
    let body = weather();
    let hung_up = tokio::time::timeout(
        Duration::from_millis(300),
        server.post("/api/v1/deploy", DEPLOYER, &body),
    );
    let ((), gave_up) = tokio::join!(terminate_during_the_apply(&env, &server), hung_up);
    assert!(gave_up.is_err(), "the deploy answered too soon");
    let exit = tokio::time::timeout(Duration::from_secs(15), server.child.wait())
        .await
        .expect("serve exits")
        .expect("wait");
    assert_eq!(exit.code(), Some(0));
    // It finished: a redeploy changes nothing.
    let again = Server::start(&env, &[]).await;
    let answer = again.post("/api/v1/deploy", DEPLOYER, &weather()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        with_action(&answer.body, "unchanged").len(),
        actions(&answer.body).len(),
        "{}",
        answer.body
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = server.output();
    assert!(
        out.contains("stopped: every request in flight finished"),
        "{out}"
    );
}
/// The spec of the weather agent's newest example build, as a value.
fn weather_spec() -> Value {
    let path = examples().join("catalog/astro-team/weather-agent/build-20240612-1530.yaml");
    let text = std::fs::read_to_string(path).expect("example record");
    let record = astro_deploy::input::parse_value("record", &text).expect("record parses");
    record["spec"].clone()
}

/// A `RegisterAgentRequest` of the weather agent's spec as YAML text.
fn register_body(build_id: &str, readme: &str) -> Value {
    let spec_content = astro_deploy::render::yaml_document(&weather_spec()).expect("YAML");
    json!({
        "build_id": build_id,
        "registry": "registry.example.test/astro-team/",
        "spec_content": spec_content,
        "readme": readme,
    })
}

const AGENT: &str = "/api/v1/agents/astro-team/weather-agent";
const REGISTER: &str = "/api/v1/agents/astro-team/weather-agent/register";
const PUBLISH: &str = "/api/v1/agents/astro-team/weather-agent/publish";

/// register → GET shows the build → publish → GET shows the version → a deploy from another
/// account with `source_account` takes it. Builds and versions never change: the same
/// request again is a no-op, a different one 409; bad input is 400 naming the field.
#[tokio::test]
async fn register_publish_and_deploy_from_another_account() {
    let env = Env::new().await;
    let server = Server::start_in_cluster(&env, &[]).await;
    let none = server.get(AGENT, VIEWER).await;
    assert_eq!(none.status, 404, "{}", none.body);
    assert_eq!(
        none.body,
        json!({"error": "agent not found",
               "details": "no build of agent 'weather-agent' in account 'astro-team'"})
    );

    let body = register_body("build-7", "# Weather\n");
    let created = server.post(REGISTER, ADMIN, &body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        created.body,
        json!({"message": "build build-7 of astro-team/weather-agent registered",
               "account": "astro-team", "name": "weather-agent", "build_id": "build-7",
               "validation_warnings": []})
    );
    let agent = server.get(AGENT, VIEWER).await;
    assert_eq!(agent.status, 200, "{}", agent.body);
    assert_eq!(agent.body["registry"], "registry.example.test/astro-team/");
    let versions = agent.body["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 1, "{}", agent.body);
    let v = &versions[0];
    assert_eq!(v["build_id"], "build-7");
    assert_eq!(v["version"], Value::Null);
    assert_eq!(v["published_at"], Value::Null);
    assert_eq!(v["readme"], "# Weather\n");
    assert_eq!(v["spec"], weather_spec());
    assert_eq!(
        v["image"],
        "registry.example.test/astro-team/weather-agent:build-7"
    );
    assert!(
        v["registered_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    // The same build again is a retry; a changed one is refused, naming the build.
    let again = server.post(REGISTER, ADMIN, &body).await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert!(
        again.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("nothing changed")),
        "{}",
        again.body
    );
    let changed = server
        .post(REGISTER, ADMIN, &register_body("build-7", "# Other\n"))
        .await;
    assert_eq!(changed.status, 409, "{}", changed.body);
    assert_eq!(changed.body["error"], "conflict");
    assert!(
        changed.body["details"]
            .as_str()
            .is_some_and(|d| d.contains("build build-7 of astro-team/weather-agent")),
        "{}",
        changed.body
    );
    assert_eq!(
        server.get(AGENT, VIEWER).await.body["versions"][0]["readme"],
        "# Weather\n"
    );

    // Bad input names the field.
    let mut no_agent = weather_spec();
    no_agent["agent"] = json!({});
    let bad_spec = json!({"build_id": "build-8", "registry": "r.example.test",
        "spec_content": no_agent.to_string()});
    let other_name = json!({"build_id": "build-8", "registry": "r.example.test",
        "spec_content": weather_spec().to_string().replace("\"weather-agent\"", "\"rain-agent\"")});
    let cases = [
        (REGISTER, bad_spec, "spec_content.agent"),
        (
            REGISTER,
            json!({"build_id": "build-8", "registry": "r.example.test",
            "spec_content": "agent: [unclosed"}),
            "spec_content",
        ),
        (REGISTER, other_name, "spec_content.name"),
        (
            REGISTER,
            json!({"build_id": "build 8", "registry": "r.example.test",
            "spec_content": weather_spec().to_string()}),
            "build_id",
        ),
        (
            REGISTER,
            json!({"build_id": "build-8", "spec_content": "{}"}),
            "registry",
        ),
        (
            PUBLISH,
            json!({"build_id": "build-7", "version": "1.0"}),
            "version",
        ),
        (
            PUBLISH,
            json!({"build_id": "build-7", "version": "1.0.0", "tag": "x"}),
            "tag",
        ),
    ];
    for (path, body, field) in cases {
        let answer = server.post(path, ADMIN, &body).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert_eq!(answer.body["error"], "invalid request", "{}", answer.body);
        let details = answer.body["details"].as_str().unwrap_or("");
        assert!(details.contains(field), "{field}: {details}");
    }
    let missing = server
        .post(
            PUBLISH,
            ADMIN,
            &json!({"build_id": "build-9", "version": "1.0.0"}),
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(missing.body["error"], "build not found");

    // Publish: GET shows the version; the same again is a no-op, another version 409.
    let publish = json!({"build_id": "build-7", "version": "1.0.0"});
    let published = server.post(PUBLISH, ADMIN, &publish).await;
    assert_eq!(published.status, 201, "{}", published.body);
    assert_eq!(
        published.body,
        json!({"message": "build build-7 of astro-team/weather-agent published as 1.0.0",
               "account": "astro-team", "name": "weather-agent", "build_id": "build-7",
               "version": "1.0.0"})
    );
    let v = server.get(AGENT, VIEWER).await.body["versions"][0].clone();
    assert_eq!(v["version"], "1.0.0");
    assert!(v["published_at"].is_string(), "{v}");
    assert_eq!(v["readme"], "# Weather\n", "publishing keeps the readme");
    let again = server.post(PUBLISH, ADMIN, &publish).await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(
        again.body["message"],
        "build build-7 of astro-team/weather-agent was already published as 1.0.0: nothing changed"
    );
    let moved = server
        .post(
            PUBLISH,
            ADMIN,
            &json!({"build_id": "build-7", "version": "2.0.0"}),
        )
        .await;
    assert_eq!(moved.status, 409, "{}", moved.body);
    assert!(
        moved.body["details"]
            .as_str()
            .is_some_and(|d| d.contains("already published as 1.0.0")),
        "{}",
        moved.body
    );

    // Another account deploys the published build.
    let cross = json!({"account": "other-team", "name": "weather-agent",
                       "source_account": "astro-team"});
    let deployed = server.post("/api/v1/deploy", OTHER, &cross).await;
    assert_eq!(deployed.status, 200, "{}", deployed.body);
    assert_eq!(deployed.body["build_id"], "build-7");
    assert_eq!(
        deployed.body["k8s_namespace"],
        "astro-other-team-weather-agent"
    );

    // `kubectl astro build list` sees what the server registered.
    let (code, out, err) = env.run(&["build", "list", "-o", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(listed[0]["build_id"], "build-7", "{listed}");
    assert_eq!(listed[0]["version"], "1.0.0", "{listed}");
    server.assert_no_token_printed();
}

/// With `--catalog DIR`, GET reads the directory (newest build first) and register and
/// publish answer 409: the directory is never written.
#[tokio::test]
async fn a_directory_catalog_is_read_but_never_written() {
    let env = Env::new().await;
    let server = Server::start(&env, &[]).await;
    let agent = server.get(AGENT, VIEWER).await;
    assert_eq!(agent.status, 200, "{}", agent.body);
    let ids: Vec<&str> = agent.body["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["build_id"].as_str())
        .collect();
    assert_eq!(ids, ["build-20240612-1530", "build-20240601-0900"]);
    assert_eq!(agent.body["registry"], "registry.astropods.com/astro-team");
    for (path, body) in [
        (REGISTER, register_body("build-7", "")),
        (
            PUBLISH,
            json!({"build_id": "build-20240612-1530", "version": "1.0.0"}),
        ),
    ] {
        let answer = server.post(path, ADMIN, &body).await;
        assert_eq!(answer.status, 409, "{path}: {}", answer.body);
        assert_eq!(answer.body["error"], "read-only catalog", "{}", answer.body);
        assert!(
            answer.body["details"]
                .as_str()
                .is_some_and(|d| d.contains("without --catalog")),
            "{}",
            answer.body
        );
    }
    assert!(
        env.get("/api/v1/namespaces/astro-system").await.is_none(),
        "nothing was written to the cluster"
    );
}

/// Issue 15's auth matrix, one row per case in the order sent: no header, malformed headers,
/// an unknown token, a token of another account, and each role trying what it may not (and
/// what it may). Every refusal is an `Error {error, details}` with the right status; no
/// token appears in any body or in anything the server printed.
#[tokio::test]
async fn the_auth_matrix() {
    let env = Env::new().await;
    let server = Server::start_in_cluster(&env, &[]).await;
    let deploy = "/api/v1/deploy";
    let register = register_body("build-1", "");
    let publish = json!({"build_id": "build-1", "version": "1.0.0"});
    let unauthorized = |details: &'static str| (401, "unauthorized", details);
    let forbidden = (
        403,
        "forbidden",
        "insufficient permissions for account astro-team",
    );
    let bearer = |t: &str| Some(format!("Bearer {t}"));
    // (case, method, path, Authorization, body, (status, error, details prefix))
    type Want = (u16, &'static str, &'static str);
    type Case<'a> = (&'a str, &'a str, &'a str, Option<String>, Value, Want);
    let cases: Vec<Case> = vec![
        (
            "no header",
            "POST",
            deploy,
            None,
            weather(),
            unauthorized("missing Authorization header"),
        ),
        (
            "no header, GET",
            "GET",
            AGENT,
            None,
            Value::Null,
            unauthorized("missing Authorization header"),
        ),
        (
            "Basic scheme",
            "POST",
            deploy,
            Some(format!("Basic {DEPLOYER}")),
            weather(),
            unauthorized("malformed Authorization header"),
        ),
        (
            "no scheme",
            "POST",
            deploy,
            Some(DEPLOYER.into()),
            weather(),
            unauthorized("malformed Authorization header"),
        ),
        (
            "two words",
            "POST",
            REGISTER,
            Some(format!("Bearer {ADMIN} {ADMIN}")),
            register.clone(),
            unauthorized("malformed Authorization header"),
        ),
        (
            "unknown token",
            "POST",
            deploy,
            bearer(UNKNOWN),
            weather(),
            unauthorized("unknown token"),
        ),
        (
            "unknown token, publish",
            "POST",
            PUBLISH,
            bearer(UNKNOWN),
            publish.clone(),
            unauthorized("unknown token"),
        ),
        (
            "wrong account, deploy",
            "POST",
            deploy,
            bearer(OTHER),
            weather(),
            forbidden,
        ),
        (
            "wrong account, read",
            "GET",
            AGENT,
            bearer(OTHER),
            Value::Null,
            forbidden,
        ),
        (
            "wrong account, register",
            "POST",
            REGISTER,
            bearer(OTHER),
            register.clone(),
            forbidden,
        ),
        (
            "viewer deploying",
            "POST",
            deploy,
            bearer(VIEWER),
            weather(),
            forbidden,
        ),
        (
            "viewer undeploying",
            "POST",
            "/api/v1/undeploy",
            bearer(VIEWER),
            weather(),
            forbidden,
        ),
        (
            "viewer registering",
            "POST",
            REGISTER,
            bearer(VIEWER),
            register.clone(),
            forbidden,
        ),
        (
            "deployer registering",
            "POST",
            REGISTER,
            bearer(DEPLOYER),
            register.clone(),
            forbidden,
        ),
        (
            "deployer publishing",
            "POST",
            PUBLISH,
            bearer(DEPLOYER),
            publish.clone(),
            forbidden,
        ),
        (
            "viewer reading, nothing yet",
            "GET",
            AGENT,
            bearer(VIEWER),
            Value::Null,
            (404, "agent not found", "no build of agent 'weather-agent'"),
        ),
        (
            "admin registering",
            "POST",
            REGISTER,
            bearer(ADMIN),
            register.clone(),
            (201, "", ""),
        ),
        (
            "viewer reading",
            "GET",
            AGENT,
            bearer(VIEWER),
            Value::Null,
            (200, "", ""),
        ),
        (
            "deployer publishing, registered",
            "POST",
            PUBLISH,
            bearer(DEPLOYER),
            publish.clone(),
            forbidden,
        ),
        (
            "admin publishing",
            "POST",
            PUBLISH,
            bearer(ADMIN),
            publish.clone(),
            (201, "", ""),
        ),
        (
            "deployer deploying",
            "POST",
            deploy,
            bearer(DEPLOYER),
            weather(),
            (200, "", ""),
        ),
        (
            "admin deploying",
            "POST",
            deploy,
            bearer(ADMIN),
            weather(),
            (200, "", ""),
        ),
    ];
    let mut bodies = String::new();
    for (case, method, path, auth, body, (status, error, details)) in cases {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth.as_str()));
        }
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let answer = server.send(method, path, &headers, bytes).await;
        bodies.push_str(&answer.body.to_string());
        assert_eq!(answer.status, status, "{case}: {}", answer.body);
        if status >= 400 {
            let mut keys: Vec<&String> = answer
                .body
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            keys.sort();
            assert_eq!(keys, ["details", "error"], "{case}: {}", answer.body);
            assert_eq!(answer.body["error"], error, "{case}");
            let got = answer.body["details"].as_str().unwrap_or("");
            assert!(got.starts_with(details), "{case}: {got}");
        }
    }
    assert!(!bodies.contains(MARKER), "a token was answered: {bodies}");
    let out = server.output();
    for line in [
        "access: POST /api/v1/deploy status=401 caller=- account=-",
        "access: POST /api/v1/agents/{account}/{name}/publish status=403 caller=ci account=astro-team",
        "access: POST /api/v1/agents/{account}/{name}/register status=201 caller=release account=astro-team",
    ] {
        assert!(out.contains(line), "no `{line}` in\n{out}");
    }
    server.assert_no_token_printed();
}

/// The tokens file is read again when it changes — here swapped through a symlink, as the
/// kubelet updates a mounted Secret: a new token works, a removed one is 401; then a file
/// that does not load keeps the tokens in force and is reported once, naming the file and
/// the field.
#[tokio::test]
async fn the_tokens_file_is_read_again_when_it_changes() {
    const ROTATED: &str = "rotated-s3cr3t-marker-6";
    let env = Env::new().await;
    let server = Server::start(&env, &[]).await;
    let path = env.dir.path().join("tokens.yaml");
    let swap = |name: &str, text: String| {
        let target = env.dir.path().join(name);
        std::fs::write(&target, text).expect("written");
        let next = env.dir.path().join("tokens.next");
        std::os::unix::fs::symlink(&target, &next).expect("symlink");
        std::fs::rename(&next, &path).expect("swapped");
    };
    let validate = |token: &'static str| {
        let server = &server;
        async move {
            server
                .post("/api/v1/deploy/validate", token, &weather())
                .await
                .status
        }
    };
    assert_eq!(validate(DEPLOYER).await, 200);
    swap(
        "v2.yaml",
        format!(
            "tokens:\n- {{name: dashboard, sha256: {}, accounts: {{astro-team: viewer}}}}\n\
             - {{name: ci, sha256: {}, accounts: {{astro-team: deployer}}}}\n",
            sha(VIEWER),
            sha(ROTATED)
        ),
    );
    let started = std::time::Instant::now();
    while validate(ROTATED).await != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the new token was not taken: {}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "new tokens in force after {} ms",
        started.elapsed().as_millis()
    );
    let removed = server
        .post("/api/v1/deploy/validate", DEPLOYER, &weather())
        .await;
    assert_eq!(removed.status, 401, "{}", removed.body);
    assert_eq!(removed.body["details"], "unknown token");
    assert_eq!(validate(VIEWER).await, 200);
    let file = path.display().to_string();
    assert!(
        server.output().contains(&format!(
            "--tokens {file}: changed: 2 token(s) now in force"
        )),
        "{}",
        server.output()
    );

    swap(
        "v3.yaml",
        format!(
            "tokens:\n- {{name: ci, sha256: {}, accounts: {{astro-team: owner}}}}\n",
            sha(DEPLOYER)
        ),
    );
    let warning = format!("warning: --tokens {file}: changed but not loaded");
    let started = std::time::Instant::now();
    while !server.output().contains(&warning) {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no warning: {}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(validate(ROTATED).await, 200, "the tokens in force stay");
    assert_eq!(
        validate(DEPLOYER).await,
        401,
        "the broken file gave nothing"
    );
    // Two more reads of the same broken file: still one line.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let out = server.output();
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with(&warning)).collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].contains("keeping the 2 token(s)"), "{}", lines[0]);
    assert!(lines[0].contains("tokens[0].accounts"), "{}", lines[0]);
    server.assert_no_token_printed();
}

// --token-review: Kubernetes identities. test-apiserver knows the server's own token (the
// first one, which its kubeconfig carries) and three ServiceAccount tokens; its TokenReview
// answers as kube-apiserver does.

/// The server's own token in test-apiserver (sorts first: the kubeconfig carries it).
const SERVER_TOKEN: &str = "0-server-s3cr3t-marker-6";
/// ServiceAccount ci/deployer: mapped by user to deployer of astro-team.
const SA_DEPLOYER: &str = "sa-deployer-s3cr3t-marker-7";
/// ServiceAccount dashboards/reader: mapped by its group to viewer of astro-team.
const SA_READER: &str = "sa-reader-s3cr3t-marker-8";
/// ServiceAccount misc/nobody: authenticated, but no entry maps it.
const SA_NOBODY: &str = "sa-nobody-s3cr3t-marker-9";
const SERVER_USER: &str = "system:serviceaccount:astro-system:kubectl-astro-serve";

/// A test-apiserver that knows the tokens above; `review` says whether the server's own
/// identity may create TokenReviews (it may do everything else either way).
async fn token_review_env(review: bool) -> Env {
    let tokens = [
        (SERVER_TOKEN, SERVER_USER),
        (SA_DEPLOYER, "system:serviceaccount:ci:deployer"),
        (SA_READER, "system:serviceaccount:dashboards:reader"),
        (SA_NOBODY, "system:serviceaccount:misc:nobody"),
    ];
    let verbs: &[&str] = if review {
        &["*"]
    } else {
        &["get", "list", "watch", "patch", "update", "delete"]
    };
    Env::start(test_apiserver::ServerOptions {
        tokens: tokens
            .iter()
            .map(|(t, u)| (t.to_string(), u.to_string()))
            .collect(),
        allow: Some(vec![test_apiserver::AllowRule::new(
            SERVER_USER,
            verbs,
            &["*"],
        )]),
        ..Default::default()
    })
    .await
}

/// The usual tokens file plus a `kubernetes` section: ci/deployer by user, the dashboards
/// namespace's ServiceAccounts by group.
fn kubernetes_tokens_file(env: &Env) -> PathBuf {
    let path = tokens_file(env);
    let mut text = std::fs::read_to_string(&path).expect("tokens file read");
    text.push_str(
        "kubernetes:\n\
         - user: system:serviceaccount:ci:deployer\n  accounts: {astro-team: deployer}\n\
         - group: system:serviceaccounts:dashboards\n  accounts: {astro-team: viewer, other-team: viewer}\n",
    );
    std::fs::write(&path, text).expect("tokens file written");
    path
}

/// `serve` against `env` with the example catalog, the tokens file with a `kubernetes`
/// section, and `extra` flags.
async fn serve_kubernetes_tokens(env: &Env, extra: &[&str]) -> Server {
    let catalog = examples().join("catalog").display().to_string();
    let mut args = vec!["--catalog", catalog.as_str()];
    args.extend_from_slice(extra);
    Server::launch_with_tokens(env, kubernetes_tokens_file(env), &args).await
}

/// The TokenReviews test-apiserver answered so far.
fn token_reviews(env: &Env) -> usize {
    env.server
        .request_log()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/apis/authentication.k8s.io/v1/tokenreviews")
        .count()
}

#[tokio::test]
async fn token_review_maps_kubernetes_users_and_groups_to_roles() {
    let env = token_review_env(true).await;
    let server = serve_kubernetes_tokens(&env, &["--token-review"]).await;
    let validate = "/api/v1/deploy/validate";

    // By group: a viewer, who validates but may not deploy.
    let answer = server.post(validate, SA_READER, &weather()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = server.post("/api/v1/deploy", SA_READER, &weather()).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({"error": "forbidden", "details": "insufficient permissions for account astro-team"})
    );
    // Two requests, one review: the answer is cached.
    assert_eq!(token_reviews(&env), 1);

    // By user: a deployer, who deploys.
    let answer = server.post("/api/v1/deploy", SA_DEPLOYER, &weather()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["status"], "success", "{}", answer.body);
    assert!(env.get(&format!("/api/v1/namespaces/{NS}")).await.is_some());

    // Authenticated, but no entry: no role anywhere.
    let answer = server.post(validate, SA_NOBODY, &weather()).await;
    assert_eq!(answer.status, 403, "{}", answer.body);

    // Not authenticated by the cluster either: 401, also cached.
    for _ in 0..2 {
        let answer = server.post(validate, UNKNOWN, &weather()).await;
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert_eq!(answer.body["details"], "unknown token", "{}", answer.body);
    }
    assert_eq!(token_reviews(&env), 4, "one review per token");

    // A token of the file is never sent for review.
    let answer = server.post(validate, VIEWER, &weather()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(token_reviews(&env), 4);

    let out = server.output();
    assert!(
        out.contains(
            "status=200 caller=kubernetes:system:serviceaccount:ci:deployer account=astro-team"
        ),
        "{out}"
    );
    assert!(
        out.contains("status=403 caller=kubernetes:system:serviceaccount:misc:nobody"),
        "{out}"
    );
    server.assert_no_token_printed();
}

#[tokio::test]
async fn without_token_review_a_kubernetes_token_is_unknown() {
    let env = token_review_env(true).await;
    let server = serve_kubernetes_tokens(&env, &[]).await;
    let answer = server.post("/api/v1/deploy", SA_DEPLOYER, &weather()).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.body["details"], "unknown token", "{}", answer.body);
    assert_eq!(token_reviews(&env), 0);
    let out = server.output();
    assert!(
        out.contains("the kubernetes section is used only with --token-review"),
        "{out}"
    );
    server.assert_no_token_printed();
}

#[tokio::test]
async fn a_token_review_that_fails_answers_500_or_503_without_the_token() {
    // The server may not create TokenReviews: its operator's to fix, 500.
    let env = token_review_env(false).await;
    let server = serve_kubernetes_tokens(&env, &["--token-review"]).await;
    let answer = server.post("/api/v1/deploy", SA_DEPLOYER, &weather()).await;
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert_eq!(
        answer.body["error"], "token review failed",
        "{}",
        answer.body
    );
    let details = answer.body["details"].as_str().unwrap_or("");
    assert!(details.contains("403"), "{details}");
    assert!(!details.contains(MARKER), "{details}");
    server.assert_no_token_printed();

    // The cluster does not answer: 503, worth trying again.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = env.server.base_url();
    let host = url.rsplit_once(':').map_or(url.as_str(), |(host, _)| host);
    let kubeconfig = env
        .server
        .kubeconfig_yaml()
        .replace(&url, &format!("{host}:{closed}"));
    let down = Env::with_kubeconfig(token_review_env(true).await.server, &kubeconfig);
    let server = serve_kubernetes_tokens(&down, &["--token-review"]).await;
    let answer = server.post("/api/v1/deploy", SA_DEPLOYER, &weather()).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    let details = answer.body["details"].as_str().unwrap_or("");
    assert!(!details.contains(MARKER), "{details}");
    server.assert_no_token_printed();
}

#[tokio::test]
async fn the_manifests_with_token_review_grant_creating_tokenreviews() {
    let env = Env::new().await;
    let (code, text, stderr) = env
        .run(&["serve", "--print-manifests", "--token-review"])
        .await;
    assert_eq!(code, 0, "{stderr}");
    let docs = documents(&text);
    let role = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .expect("a ClusterRole");
    let rule = json!({"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]});
    assert!(rule_set(role).contains(&rule), "{role}");
    assert!(text.contains("and creating TokenReviews (--token-review)"));
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(
        args.as_array()
            .is_some_and(|a| a.iter().any(|x| x == "--token-review")),
        "{args}"
    );
    // Without the flag, neither.
    let (_, plain, _) = env.run(&["serve", "--print-manifests"]).await;
    assert!(!plain.contains("tokenreviews") && !plain.contains("--token-review"));
}
