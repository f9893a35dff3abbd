//! How the plugin authenticates (issue 5, item 6, partly): a kubeconfig whose user is an exec
//! credential plugin works like kubectl's, and the token it returns is what reaches the server.
//! (TLS — CA data, client certificates, insecure-skip-tls-verify — needs a TLS-serving
//! test-apiserver and is not covered yet.)

mod support;

use std::os::unix::fs::PermissionsExt;

use support::{Env, with_action};
use test_apiserver::{ServerOptions, TestApiServer};

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
