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
