//! x509 client certificates (`k8s.io/apiserver/pkg/authentication/request/x509`): over TLS the
//! server requests (never requires) a client certificate; one signed by the server's CA
//! authenticates its CN as the user and its O values as groups, before any token, and goes through
//! the allow-list like any user. One from another CA is a 401 (not a failed handshake), as on
//! kube-apiserver.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use test_apiserver::{AllowRule, ServerOptions, TestApiServer};

async fn tls_server(tokens: &[(&str, &str)], allow: Vec<AllowRule>) -> TestApiServer {
    TestApiServer::start_with(ServerOptions {
        tls: true,
        tokens: tokens
            .iter()
            .map(|(t, u)| (t.to_string(), u.to_string()))
            .collect(),
        allow: Some(allow),
        ..ServerOptions::default()
    })
    .await
    .expect("start")
}

fn configmap(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}})).expect("configmap")
}

fn status_of(err: kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(st) => (st.code, st.message),
        other => panic!("expected an API status, got {other:?}"),
    }
}

/// CN → user, O → groups; user rules and group rules both apply to certificate users. Upstream:
/// apiserver `responsewriters/errors.go` `forbiddenMessage`; apiserver
/// `authentication/request/x509`; `filters/authentication.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_cn_is_the_user_and_o_the_groups() {
    let s = tls_server(
        &[("t", "token-user")],
        vec![
            AllowRule::new("alice", &["get", "list"], &["configmaps"]),
            AllowRule::for_group("deployers", &["*"], &["configmaps"]),
        ],
    )
    .await;

    let alice = configmaps_as(&s, "alice", &[]).await;
    alice
        .list(&ListParams::default())
        .await
        .expect("alice may list");
    let (code, message) = status_of(
        alice
            .create(&PostParams::default(), &configmap("a"))
            .await
            .expect_err("alice may not create"),
    );
    assert_eq!(code, 403);
    assert!(
        message.contains("User \"alice\" cannot create"),
        "{message}"
    );

    // The second O value is a group too.
    let bob = configmaps_as(&s, "bob", &["team-b", "deployers"]).await;
    bob.create(&PostParams::default(), &configmap("b"))
        .await
        .expect("a member of deployers may create");

    assert!(s.client_certificate("carol", &["a", "b", "c"]).is_err());
    // The request log names who sent each request.
    let users: Vec<String> = s.request_log().into_iter().map(|r| r.user).collect();
    assert_eq!(users, ["alice", "alice", "bob"], "{users:?}");
}

/// A certificate signed by another CA passes the handshake and is refused with 401,
/// even when anonymous requests are allowed.
/// Upstream: apiserver `authentication/request/x509`; `filters/authentication.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_of_another_ca_is_401() {
    let s = TestApiServer::start_with(ServerOptions {
        tls: true,
        tokens: [("t".to_string(), "token-user".to_string())].into(),
        allow_anonymous: true,
        ..ServerOptions::default()
    })
    .await
    .expect("start");
    let other = TestApiServer::start_with(ServerOptions {
        tls: true,
        ..ServerOptions::default()
    })
    .await
    .expect("other server");
    let (cert, key) = other.client_certificate("alice", &[]).expect("cert");
    let api: Api<ConfigMap> = Api::default_namespaced(
        s.client_with_certificate(&cert, &key)
            .await
            .expect("client"),
    );
    let (code, message) = status_of(
        api.list(&ListParams::default())
            .await
            .expect_err("untrusted cert"),
    );
    assert_eq!((code, message.as_str()), (401, "Unauthorized"));
    let refused = s.request_log().pop().expect("logged");
    assert_eq!((refused.status, refused.user.as_str()), (401, ""));
    // The same request without a certificate is anonymous and allowed.
    let anonymous: Api<ConfigMap> = Api::default_namespaced(
        kube::Client::try_from({
            let mut cfg = kube::Config::new(s.base_url().parse().expect("url"));
            cfg.root_cert = Some(vec![pem_body(s.ca_pem().expect("ca"))]);
            cfg
        })
        .expect("client"),
    );
    anonymous
        .list(&ListParams::default())
        .await
        .expect("anonymous allowed");
    let allowed = s.request_log().pop().expect("logged");
    assert_eq!(
        (allowed.status, allowed.user.as_str()),
        (200, "system:anonymous")
    );
}

/// Without token authentication configured (everyone else is `system:anonymous`), a
/// certificate still names its user, so an allow-list can tell the two apart.
/// Upstream: apiserver `authentication/request/x509`; `filters/authentication.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_user_without_tokens() {
    let s = tls_server(
        &[],
        vec![AllowRule::new("alice", &["list"], &["configmaps"])],
    )
    .await;
    let anonymous: Api<ConfigMap> = Api::default_namespaced(s.client().await.expect("client"));
    let (code, message) = status_of(
        anonymous
            .list(&ListParams::default())
            .await
            .expect_err("anonymous is not on the list"),
    );
    assert_eq!(code, 403);
    assert!(message.contains("User \"system:anonymous\""), "{message}");
    let alice = configmaps_as(&s, "alice", &[]).await;
    alice
        .list(&ListParams::default())
        .await
        .expect("alice may list");
}

fn pem_body(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("PEM body is base64")
}

/// ConfigMaps in the default namespace through a client holding a certificate of `s`'s CA
/// for `user` in `groups`.
async fn configmaps_as(s: &TestApiServer, user: &str, groups: &[&str]) -> Api<ConfigMap> {
    let (cert, key) = s
        .client_certificate(user, groups)
        .expect("client certificate");
    Api::default_namespaced(
        s.client_with_certificate(&cert, &key)
            .await
            .expect("client"),
    )
}
