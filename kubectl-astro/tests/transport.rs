//! How the plugin connects and authenticates (issue 5, item 6): a kubeconfig whose user is an
//! exec credential plugin works like kubectl's, and the token it returns is what reaches the
//! server; against a TLS test-apiserver the kubeconfig's CA data is verified (and only the
//! kubeconfig can turn that off), and a client certificate (`client-certificate-data` /
//! `client-key-data`, or the file-path forms) authenticates the deploy as its CN, which the
//! server's allow-list then admits or refuses, while a certificate of another CA is a 401.
//! Over HTTPS the plugin negotiates HTTP/2 by ALPN, so a deploy's concurrent requests share
//! one connection, and falls back to HTTP/1.1 against a server that does not offer `h2`.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::{Env, deploy_past_one_stuck_apply, with_action};
use test_apiserver::{AllowRule, ServerOptions, TestApiServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_credential_plugins_supply_the_token() {
    exec_credential_plugin(false).await;
}

/// Over HTTPS the client stack is ours (HTTP/2 by ALPN), with kube's auth layer: the exec
/// plugin's token must reach the server there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_credential_plugins_supply_the_token_over_https() {
    exec_credential_plugin(true).await;
}

/// `certificate-authority-data` for the kubeconfig's cluster, when `server` serves TLS.
fn ca_line(server: &TestApiServer) -> String {
    use base64::Engine;
    server.ca_pem().map_or(String::new(), |pem| {
        format!(
            "    certificate-authority-data: {}\n",
            base64::engine::general_purpose::STANDARD.encode(pem)
        )
    })
}

async fn exec_credential_plugin(tls: bool) {
    let mut opts = ServerOptions {
        tls,
        ..ServerOptions::default()
    };
    opts.tokens
        .insert("token-from-exec-plugin".into(), "deployer".into());
    let server = TestApiServer::start_with(opts)
        .await
        .expect("test-apiserver starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let plugin = dir.path().join("credential-plugin.sh");
    std::fs::write(
        &plugin,
        "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"token-from-exec-plugin\"}}'\n",
    )
    .expect("plugin written");
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n{}contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {}\n      interactiveMode: Never\n",
        server.base_url(),
        ca_line(&server),
        plugin.display()
    );
    let env = Env::with_kubeconfig(server, &kubeconfig);
    let (code, resp, stderr) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert!(with_action(&resp, "failed").is_empty(), "{resp}");

    // A plugin that returns a token the server does not know is a 401, named, exit 4.
    std::fs::write(&plugin, "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"stale\"}}'\n")
        .expect("plugin rewritten");
    let (code, resp, _) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 4, "{resp}");
    assert_eq!(resp["error"], "unauthorized");
    assert!(
        !resp.to_string().contains("stale"),
        "the token must not be echoed: {resp}"
    );
    let log = env.server.request_log();
    let protocol = if tls { "HTTP/2.0" } else { "HTTP/1.1" };
    assert!(log.iter().all(|r| r.protocol == protocol), "{log:?}");
}

/// A bearer token in the kubeconfig, over HTTPS: kube's auth layer in our stack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_authenticate_over_https() {
    let server = TestApiServer::start_with(ServerOptions {
        tls: true,
        tokens: [("the-token".to_string(), "deployer".to_string())].into(),
        allow: Some(vec![AllowRule::new("deployer", &["*"], &["*"])]),
        ..ServerOptions::default()
    })
    .await
    .expect("test-apiserver starts");
    let kubeconfig = server.kubeconfig_yaml();
    assert!(kubeconfig.contains("token: the-token"), "{kubeconfig}");
    let env = Env::with_kubeconfig(server, &kubeconfig);
    let (code, resp, stderr) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    let log = env.server.request_log();
    assert!(
        log.iter()
            .all(|r| r.user == "deployer" && r.protocol == "HTTP/2.0"),
        "{log:?}"
    );
}

/// `tls-server-name` names the certificate to verify instead of the URL's host (our server's
/// certificate names `127.0.0.1` and `localhost`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_server_name_is_what_the_certificate_must_name() {
    let with_name = |name: &'static str| {
        move |kc: &str| {
            kc.replace(
                "    certificate-authority-data:",
                &format!("    tls-server-name: {name}\n    certificate-authority-data:"),
            )
        }
    };
    let (code, resp, stderr) = deploy_over_tls(with_name("localhost")).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    let (code, resp, _) = deploy_over_tls(with_name("kubernetes.invalid")).await;
    assert_eq!(code, 1, "{resp}");
    assert_eq!(resp["error"], "cluster unreachable");
    let details = resp["details"].as_str().unwrap_or("");
    assert!(details.to_lowercase().contains("certificate"), "{details}");
}

/// Runs a dry-run-free deploy against a TLS test-apiserver with `kubeconfig` edited by `edit`.
async fn deploy_over_tls(edit: impl Fn(&str) -> String) -> (i32, serde_json::Value, String) {
    let server = TestApiServer::start_with(ServerOptions {
        tls: true,
        ..ServerOptions::default()
    })
    .await
    .expect("test-apiserver starts");
    assert!(server.base_url().starts_with("https://"));
    let kubeconfig = edit(&server.kubeconfig_yaml());
    let env = Env::with_kubeconfig(server, &kubeconfig);
    env.deploy("deploy-request.json", &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_verified_against_the_kubeconfig_ca() {
    // The kubeconfig's certificate-authority-data: verified, deploy succeeds.
    let (code, resp, stderr) = deploy_over_tls(|kc| kc.to_string()).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert_eq!(resp["status"], "success");

    // Without it the self-signed server is not trusted: nothing is sent, exit 1, named.
    let (code, resp, stderr) = deploy_over_tls(|kc| {
        kc.lines()
            .filter(|l| !l.contains("certificate-authority-data"))
            .collect::<Vec<_>>()
            .join("\n")
    })
    .await;
    assert_eq!(code, 1, "{resp}");
    // An untrusted certificate is an answer, not an accident: it is not retried.
    assert!(!stderr.contains("retrying"), "{stderr}");
    assert_eq!(resp["error"], "cluster unreachable");
    let details = resp["details"].as_str().unwrap_or("");
    assert!(details.to_lowercase().contains("certificate"), "{details}");

    // Only the kubeconfig itself can turn verification off.
    let (code, resp, stderr) = deploy_over_tls(|kc| {
        kc.lines()
            .map(|l| {
                if l.contains("certificate-authority-data") {
                    "    insecure-skip-tls-verify: true".to_string()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
    .await;
    assert_eq!(code, 0, "{resp} {stderr}");
}

/// A TLS server that refuses anonymous requests (it knows one token, which no test uses) and
/// lets only `allowed` do anything.
async fn client_cert_server(allowed: &str) -> TestApiServer {
    TestApiServer::start_with(ServerOptions {
        tls: true,
        tokens: [("unused-token".to_string(), "token-user".to_string())].into(),
        allow: Some(vec![AllowRule::new(allowed, &["*"], &["*"])]),
        ..ServerOptions::default()
    })
    .await
    .expect("test-apiserver starts")
}

/// A kubeconfig that authenticates to `server` with a client certificate for `deployer`.
fn deployer_kubeconfig(server: &TestApiServer) -> String {
    let (cert, key) = server
        .client_certificate("deployer", &[])
        .expect("client certificate");
    server.kubeconfig_yaml_with_client_cert(&cert, &key)
}

/// The base64 lines of a PEM, which must never reach the output.
fn pem_lines(pem: &str) -> Vec<&str> {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_authenticates_the_deploy() {
    let server = client_cert_server("deployer").await;
    let kubeconfig = deployer_kubeconfig(&server);
    assert!(!kubeconfig.contains("token"), "{kubeconfig}");
    let env = Env::with_kubeconfig(server, &kubeconfig);
    let (code, resp, stderr) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert_eq!(resp["status"], "success");
    assert!(with_action(&resp, "failed").is_empty(), "{resp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_user_outside_the_allow_list_is_forbidden() {
    let server = client_cert_server("someone-else").await;
    let kubeconfig = deployer_kubeconfig(&server);
    let env = Env::with_kubeconfig(server, &kubeconfig);
    let (code, resp, stderr) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 4, "{resp} {stderr}");
    assert_eq!(resp["error"], "forbidden", "{resp}");
    let details = resp["details"].as_str().unwrap_or("");
    assert!(details.contains("User \"deployer\" cannot"), "{details}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_of_another_ca_is_unauthorized() {
    let server = client_cert_server("deployer").await;
    // Same CN, the one the allow-list admits, but signed by another server's CA.
    let (cert, key) = certificate_of_another_ca("deployer").await;
    let kubeconfig = server.kubeconfig_yaml_with_client_cert(&cert, &key);
    let env = Env::with_kubeconfig(server, &kubeconfig);
    let (code, stdout, stderr) = env.run(&Env::deploy_args("deploy-request.json", &[])).await;
    let resp: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_default();
    // The handshake succeeds and the server answers 401, as kube-apiserver does.
    assert_eq!(code, 4, "{stdout} {stderr}");
    assert_eq!(resp["error"], "unauthorized", "{resp}");
    let details = resp["details"].as_str().unwrap_or("");
    assert!(
        details.contains("the cluster rejected our credentials"),
        "{details}"
    );
    let b64_key = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("client-key-data: "))
        .expect("client-key-data in the kubeconfig");
    for secret in pem_lines(&key).into_iter().chain([b64_key]) {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "the client key must not be printed: {stdout} {stderr}"
        );
    }
    assert!(
        !env.server.request_log().is_empty(),
        "the request reached the server"
    );
    assert!(
        env.server.request_log().iter().all(|r| r.status == 401),
        "{:?}",
        env.server.request_log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_files_are_read_from_their_paths() {
    let server = client_cert_server("deployer").await;
    let (cert, key) = server
        .client_certificate("deployer", &[])
        .expect("client certificate");
    let files = tempfile::tempdir().expect("temp dir");
    let cert_path = files.path().join("deployer.crt");
    let key_path = files.path().join("deployer.key");
    std::fs::write(&cert_path, &cert).expect("certificate written");
    std::fs::write(&key_path, &key).expect("key written");
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let kubeconfig = server
        .kubeconfig_yaml_with_client_cert(&cert, &key)
        .lines()
        .map(|l| {
            if l.contains("client-certificate-data:") {
                format!("    client-certificate: {}", cert_path.display())
            } else if l.contains("client-key-data:") {
                format!("    client-key: {}", key_path.display())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !kubeconfig.contains("client-certificate-data") && !kubeconfig.contains("client-key-data"),
        "{kubeconfig}"
    );
    let env = Env::with_kubeconfig(server, &kubeconfig);
    let (code, resp, stderr) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert_eq!(resp["status"], "success");
}

/// The same kubeconfig works for the real kubectl (Go's TLS client), which is what a user
/// checks first: `kubectl get namespaces` as the certificate's user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_accepts_the_client_certificate_kubeconfig() {
    let server = client_cert_server("deployer").await;
    let kubeconfig = deployer_kubeconfig(&server);
    let env = Env::with_kubeconfig(server, &kubeconfig);
    let kubectl = |kubeconfig: std::path::PathBuf| {
        let cache = env.dir.path().join("kubectl-cache");
        let home = env.dir.path().to_path_buf();
        async move {
            tokio::process::Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .arg("--cache-dir")
                .arg(&cache)
                .args(["get", "namespaces", "-o", "name"])
                .env_remove("KUBECONFIG")
                .env("HOME", home)
                .output()
                .await
                .expect("kubectl runs")
        }
    };
    let out = kubectl(env.kubeconfig()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout} {stderr}");
    assert!(stdout.lines().any(|l| l == "namespace/default"), "{stdout}");

    // Another CA's certificate: kubectl sends it too (same issuer name) and gets the 401.
    let (cert, key) = certificate_of_another_ca("deployer").await;
    let foreign = env.dir.path().join("foreign-kubeconfig");
    std::fs::write(
        &foreign,
        env.server.kubeconfig_yaml_with_client_cert(&cert, &key),
    )
    .expect("kubeconfig written");
    let out = kubectl(foreign).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("You must be logged in to the server (Unauthorized)"),
        "{stderr}"
    );
}

/// An env whose TLS server (HTTP/2 on offer unless `disable_http2`) knows the deploy by its
/// client certificate, as `test-apiserver --tls --client-cert` sets it up.
async fn client_cert_env(disable_http2: bool) -> Env {
    let server = TestApiServer::start_with(ServerOptions {
        tls: true,
        disable_http2,
        ..ServerOptions::default()
    })
    .await
    .expect("test-apiserver starts");
    let kubeconfig = deployer_kubeconfig(&server);
    Env::with_kubeconfig(server, &kubeconfig)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_over_https_share_one_http2_connection() {
    let env = client_cert_env(false).await;
    let (code, resp, stderr) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert_eq!(resp["status"], "success");
    let seen = env.server.request_protocols();
    // The namespace apply, the inventory, and a stage of many concurrent applies: all of them
    // on one connection, one TLS handshake (kube's HTTP/1.1-only client opened 11).
    assert!(seen.len() > 10, "{seen:?}");
    assert!(
        seen.iter().all(|(p, c)| p == "HTTP/2.0" && *c == 1),
        "{seen:?}"
    );
    assert_eq!(env.server.connections(), 1);
    let users: Vec<String> = env
        .server
        .request_log()
        .into_iter()
        .map(|r| r.user)
        .collect();
    assert!(users.iter().all(|u| u == "deployer"), "{users:?}");

    // A redeploy (a new process) opens one connection of its own, and a diff too.
    env.server.clear_request_log();
    let (code, resp, stderr) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    let (code, _, stderr) = env
        .run(&[
            "diff",
            "-f",
            &support::examples()
                .join("deploy-request.json")
                .display()
                .to_string(),
            "--catalog",
            &support::examples().join("catalog").display().to_string(),
        ])
        .await;
    assert_eq!(code, 0, "{stderr}");
    let seen = env.server.request_protocols();
    assert!(seen.iter().all(|(p, _)| p == "HTTP/2.0"), "{seen:?}");
    let mut connections: Vec<u64> = seen.iter().map(|(_, c)| *c).collect();
    connections.dedup();
    assert_eq!(connections, [2, 3], "{seen:?}");
    assert_eq!(env.server.connections(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_without_http2_get_http1_connections() {
    let env = client_cert_env(true).await;
    let (code, resp, stderr) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert_eq!(resp["status"], "success");
    assert!(with_action(&resp, "failed").is_empty(), "{resp}");
    let seen = env.server.request_protocols();
    assert!(seen.iter().all(|(p, _)| p == "HTTP/1.1"), "{seen:?}");
    // HTTP/1.1 carries one request at a time: the concurrent applies need more connections.
    assert!(env.server.connections() > 1, "{seen:?}");
}

/// Our HTTPS stack logs kube's `HTTP` span and events under kube's target, so the levels hold
/// as README.md says: `-vv` shows the plugin's request lines but no span, `-vvv` shows the
/// span, the pool's HTTP/2 traces and rustls, and `RUST_LOG=kube_client=debug` the span alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_logs_at_each_level_as_over_http() {
    let env = client_cert_env(false).await;
    let args = Env::deploy_args("deploy-request.json", &["-vv"]);
    let (code, _, stderr) = env.run(&args).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("kubectl_astro::cluster: request done"),
        "{stderr}"
    );
    assert!(stderr.contains("http2=true"), "{stderr}");
    for absent in ["HTTP{", "TRACE", "hyper_util", "kube_client"] {
        assert!(!stderr.contains(absent), "{absent:?} at -vv:\n{stderr}");
    }

    let args = Env::deploy_args("deploy-request.json", &["-vvv"]);
    let (code, _, stderr) = env.run(&args).await;
    assert_eq!(code, 0, "{stderr}");
    for present in [
        "kube_client::client::builder: requesting",
        "HTTP{http.method=PATCH",
        "ALPN negotiated h2",
        "rustls",
    ] {
        assert!(
            stderr.contains(present),
            "no {present:?} at -vvv:\n{stderr}"
        );
    }

    let mut cmd = env.command(&Env::deploy_args("deploy-request.json", &[]));
    cmd.env("RUST_LOG", "kube_client=debug");
    let out = cmd.output().await.expect("kubectl-astro runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("HTTP{") && stderr.contains("requesting"),
        "{stderr}"
    );
    assert!(!stderr.contains("kubectl_astro"), "{stderr}");
}

/// Over HTTP/2 a lost answer resets one stream (as kube-apiserver does when a handler aborts);
/// the deploy retries that request and the connection goes on carrying the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_stream_is_retried_on_the_shared_connection() {
    let env = client_cert_env(false).await;
    env.server.faults().add(
        test_apiserver::Fault::drop_after_commit()
            .verb("patch")
            .kind("Deployment")
            .times(1),
    );
    let (code, resp, stderr) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    assert!(with_action(&resp, "failed").is_empty(), "{resp}");
    assert!(stderr.contains("retrying in"), "{stderr}");
    let log = env.server.request_log();
    assert_eq!(log.iter().filter(|r| r.dropped).count(), 1, "{log:?}");
    assert!(
        log.iter()
            .all(|r| r.protocol == "HTTP/2.0" && r.connection == 1),
        "{log:?}"
    );
    assert_eq!(env.server.connections(), 1);
}

/// A client certificate (PEM certificate, PEM key) for `user` signed by the CA of another,
/// throwaway TLS test-apiserver: same issuer name as every test server's CA, other key.
async fn certificate_of_another_ca(user: &str) -> (String, String) {
    let other = TestApiServer::start_with(ServerOptions {
        tls: true,
        ..ServerOptions::default()
    })
    .await
    .expect("second test-apiserver starts");
    other
        .client_certificate(user, &[])
        .expect("client certificate")
}

/// `--request-timeout` is each request's own deadline, not silence on the connection: over
/// HTTP/2 one stuck apply fails alone after the timeout and is retried on the same
/// connection, while the connection keeps serving the others (a connection-wide read timeout
/// tore the shared connection down and the retry opened a second one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_request_times_out_alone_on_the_shared_connection() {
    let env = client_cert_env(false).await;
    deploy_past_one_stuck_apply(&env).await;
    assert_eq!(env.server.connections(), 1);
    assert!(
        env.server
            .request_protocols()
            .iter()
            .all(|(p, c)| p == "HTTP/2.0" && *c == 1),
        "{:?}",
        env.server.request_protocols()
    );
}
