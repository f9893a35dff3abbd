//! Protocols, as kube-apiserver serves them: over TLS the server offers `h2` and `http/1.1` by
//! ALPN and serves each connection in the protocol its client chose (HTTP/2 multiplexes every
//! request on one connection); a client that offers no ALPN, a server started with
//! `disable_http2` (`--disable-http2-serving`) and plain HTTP get HTTP/1.1. Over HTTP/2 a
//! dropped answer resets the request's stream, not the connection other requests share.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::{TempDir, kubectl_in};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use test_apiserver::{Fault, ServerOptions, TestApiServer};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

async fn tls_server(disable_http2: bool) -> TestApiServer {
    TestApiServer::start_with(ServerOptions {
        tls: true,
        disable_http2,
        ..ServerOptions::default()
    })
    .await
    .expect("test-apiserver starts")
}

/// A TLS connection to `server` that trusts its CA and offers `alpn`.
async fn connect(server: &TestApiServer, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    use base64::Engine;
    let pem = server.ca_pem().expect("a TLS server");
    let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(der)
        .expect("CA PEM is base64");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(der))
        .expect("CA certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let addr = server.base_url().trim_start_matches("https://").to_string();
    let tcp = TcpStream::connect(&addr).await.expect("TCP connect");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("server name");
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake")
}

/// An HTTP/2 connection to `server`, negotiated by ALPN.
async fn h2_client(server: &TestApiServer) -> http2::SendRequest<Full<Bytes>> {
    let tls = connect(server, &[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
        .await
        .expect("HTTP/2 handshake");
    tokio::spawn(conn);
    sender
}

fn request(method: &str, path: &str, body: &str) -> hyper::Request<Full<Bytes>> {
    hyper::Request::builder()
        .method(method)
        .uri(format!("https://127.0.0.1{path}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request")
}

/// Sends `req` on `sender`: the status, or the error's chain as text.
async fn send(
    sender: &mut http2::SendRequest<Full<Bytes>>,
    req: hyper::Request<Full<Bytes>>,
) -> Result<u16, String> {
    sender.ready().await.map_err(|e| chain(&e))?;
    let resp = sender.send_request(req).await.map_err(|e| chain(&e))?;
    let code = resp.status().as_u16();
    resp.into_body().collect().await.map_err(|e| chain(&e))?;
    Ok(code)
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_clients_that_choose_h2_share_one_connection() {
    let server = tls_server(false).await;
    let sender = h2_client(&server).await;
    let gets = (0..6).map(|_| {
        let mut sender = sender.clone();
        async move { send(&mut sender, request("GET", "/api/v1/namespaces", "")).await }
    });
    for result in futures_join(gets).await {
        assert_eq!(result, Ok(200));
    }
    assert_eq!(
        server.request_protocols(),
        vec![("HTTP/2.0".to_string(), 1); 6]
    );
    assert_eq!(server.connections(), 1);
}

/// Runs the futures concurrently and returns their outputs in order.
async fn futures_join<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_alpn_disabled_http2_and_plain_http_get_http1() {
    // kube-rs 5's own client offers no ALPN: HTTP/1.1 over TLS.
    let server = tls_server(false).await;
    let tls = connect(&server, &[]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    server
        .client()
        .await
        .expect("client")
        .apiserver_version()
        .await
        .expect("GET /version");
    assert_eq!(
        server.request_protocols(),
        vec![("HTTP/1.1".to_string(), 2)]
    );

    // --disable-http2-serving: a client offering h2 and http/1.1 gets http/1.1.
    let server = tls_server(true).await;
    let tls = connect(&server, &[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));

    // Plain HTTP: HTTP/1.1 (no h2c), kubectl included.
    let server = TestApiServer::start().await.expect("test-apiserver starts");
    let out = kubectl(&server, &["get", "namespaces", "-o", "name"]).await;
    assert!(out.status.success(), "{out:?}");
    assert!(!server.request_log().is_empty());
    assert!(
        server
            .request_log()
            .iter()
            .all(|r| r.protocol == "HTTP/1.1"),
        "{:?}",
        server.request_protocols()
    );
}

/// kubectl (Go's client) negotiates h2 with a TLS server and sends everything on one
/// connection, as it does with kube-apiserver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_speaks_http2_over_tls() {
    let server = tls_server(false).await;
    let out = kubectl(&server, &["get", "namespaces", "-o", "name"]).await;
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().any(|l| l == "namespace/default"), "{stdout}");
    let seen = server.request_protocols();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|(p, c)| p == "HTTP/2.0" && *c == 1),
        "{seen:?}"
    );
    assert_eq!(server.connections(), 1);

    // Without HTTP/2 on offer kubectl falls back to HTTP/1.1.
    let server = tls_server(true).await;
    let out = kubectl(&server, &["get", "namespaces", "-o", "name"]).await;
    assert!(out.status.success(), "{out:?}");
    let seen = server.request_protocols();
    assert!(seen.iter().all(|(p, _)| p == "HTTP/1.1"), "{seen:?}");
}

/// Over HTTP/2 both drop faults reset the request's stream (`RST_STREAM`, as Go's server does
/// for a handler that panics or aborts); the connection goes on serving the other requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_answers_reset_only_their_stream_over_http2() {
    let server = tls_server(false).await;
    server
        .faults()
        .add(Fault::drop_after_commit().verb("create").times(1));
    server
        .faults()
        .add(Fault::drop_connection().verb("get").name("never"));
    let mut sender = h2_client(&server).await;
    let path = "/api/v1/namespaces/default/configmaps";

    let err = send(
        &mut sender,
        request("POST", path, r#"{"metadata":{"name":"lost"}}"#),
    )
    .await
    .expect_err("the answer is dropped");
    // RST_STREAM with INTERNAL_ERROR, as h2 words it.
    assert!(
        err.contains("stream error received: unexpected internal error"),
        "{err}"
    );
    // The write happened; the same connection reads it back.
    assert_eq!(
        send(&mut sender, request("GET", &format!("{path}/lost"), "")).await,
        Ok(200)
    );
    let err = send(&mut sender, request("GET", &format!("{path}/never"), ""))
        .await
        .expect_err("the request is dropped");
    // RST_STREAM with INTERNAL_ERROR, as h2 words it.
    assert!(
        err.contains("stream error received: unexpected internal error"),
        "{err}"
    );
    assert_eq!(
        send(&mut sender, request("GET", "/api/v1/namespaces", "")).await,
        Ok(200)
    );

    let log = server.request_log();
    let summary: Vec<(u16, bool, u64)> = log
        .iter()
        .map(|r| (r.status, r.dropped, r.connection))
        .collect();
    assert_eq!(
        summary,
        [
            (201, true, 1),
            (200, false, 1),
            (0, true, 1),
            (200, false, 1)
        ]
    );
    assert_eq!(server.connections(), 1);
}

/// Runs kubectl against `server` with a kubeconfig of its own; over TLS it authenticates
/// with a client certificate (kubectl asks for a password when an https user has nothing).
async fn kubectl(server: &TestApiServer, args: &[&str]) -> std::process::Output {
    let dir = TempDir::new("kubectl-h2");
    let kubeconfig = dir.path().join("kubeconfig");
    let text = match server.client_certificate("alice", &[]) {
        Ok((cert, key)) => server.kubeconfig_yaml_with_client_cert(&cert, &key),
        Err(_) => server.kubeconfig_yaml(),
    };
    std::fs::write(&kubeconfig, text).expect("kubeconfig");
    kubectl_in(&dir, args).await
}
