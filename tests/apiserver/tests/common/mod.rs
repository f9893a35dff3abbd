//! Shared helpers for the integration tests: a tiny HTTP client and temp dirs.
#![allow(dead_code)]

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub code: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request (Connection: close) and parses the answer.
pub async fn req(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let hostport = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(hostport).await.expect("connect");
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    s.write_all(r.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let code = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let body_text = body.to_string();
    Resp {
        code,
        headers,
        body: serde_json::from_str(&body_text).unwrap_or(Value::Null),
        text: body_text,
    }
}

pub async fn get(base: &str, path: &str) -> Resp {
    req(base, "GET", path, &[], "").await
}

pub async fn post(base: &str, path: &str, body: &Value) -> Resp {
    req(
        base,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        &body.to_string(),
    )
    .await
}

pub async fn put(base: &str, path: &str, body: &Value) -> Resp {
    req(
        base,
        "PUT",
        path,
        &[("Content-Type", "application/json")],
        &body.to_string(),
    )
    .await
}

pub async fn patch(base: &str, path: &str, ct: &str, body: &Value) -> Resp {
    req(
        base,
        "PATCH",
        path,
        &[("Content-Type", ct)],
        &body.to_string(),
    )
    .await
}

pub async fn apply(base: &str, path: &str, body: &Value) -> Resp {
    patch(base, path, "application/apply-patch+yaml", body).await
}

pub async fn delete(base: &str, path: &str, body: &str) -> Resp {
    req(
        base,
        "DELETE",
        path,
        &[("Content-Type", "application/json")],
        body,
    )
    .await
}

/// Runs kubectl with `dir/kubeconfig`, a cache and a HOME of its own in `dir` (kubectl on
/// these machines picks a bundled binary by the server's version; each run keeps its cache).
pub async fn kubectl_in(dir: &TempDir, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(dir.path().join("kubeconfig"))
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", dir.path())
        .output()
        .await
        .expect("kubectl runs")
}

/// A unique temporary directory, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "test-apiserver-{tag}-{}-{}",
            std::process::id(),
            test_apiserver::util::random_suffix(8)
        ));
        std::fs::create_dir_all(&p).expect("mkdir");
        Self(p)
    }
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A Deployment as `kubectl apply --server-side` sends it.
pub fn deployment(name: &str, replicas: i64, image: &str) -> Value {
    serde_json::json!({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":name,"namespace":"default"},
      "spec":{"replicas":replicas,"selector":{"matchLabels":{"app":name}},
        "template":{"metadata":{"labels":{"app":name}},
          "spec":{"containers":[{"name":"nginx","image":image,"ports":[{"containerPort":80}]}]}}}})
}

pub const DEPLOY: &str = "/apis/apps/v1/namespaces/default/deployments";
pub const CM: &str = "/api/v1/namespaces/default/configmaps";
