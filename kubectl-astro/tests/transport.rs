//! How the plugin connects and authenticates (issue 5, item 6): a kubeconfig whose user is an
//! exec credential plugin works like kubectl's, and the token it returns is what reaches the
//! server; against a TLS test-apiserver the kubeconfig's CA data is verified (and only the
//! kubeconfig can turn that off), and a client certificate (`client-certificate-data` /
//! `client-key-data`, or the file-path forms) authenticates the deploy as its CN, which the
//! server's allow-list then admits or refuses, while a certificate of another CA is a 401.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::{Env, with_action};
use test_apiserver::{AllowRule, ServerOptions, TestApiServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_credential_plugins_supply_the_token() {
    let mut opts = ServerOptions::default();
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
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {}\n      interactiveMode: Never\n",
        server.base_url(),
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
    let (code, resp, _) = deploy_over_tls(|kc| {
        kc.lines()
            .filter(|l| !l.contains("certificate-authority-data"))
            .collect::<Vec<_>>()
            .join("\n")
    })
    .await;
    assert_eq!(code, 1, "{resp}");
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

/// The base64 lines of a PEM, which must never reach the output.
fn pem_lines(pem: &str) -> Vec<&str> {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_authenticates_the_deploy() {
    let server = client_cert_server("deployer").await;
    let (cert, key) = server
        .client_certificate("deployer", &[])
        .expect("client certificate");
    let kubeconfig = server.kubeconfig_yaml_with_client_cert(&cert, &key);
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
    let (cert, key) = server
        .client_certificate("deployer", &[])
        .expect("client certificate");
    let kubeconfig = server.kubeconfig_yaml_with_client_cert(&cert, &key);
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
    let (cert, key) = server
        .client_certificate("deployer", &[])
        .expect("client certificate");
    let kubeconfig = server.kubeconfig_yaml_with_client_cert(&cert, &key);
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
