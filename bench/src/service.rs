//! A `kubectl astro serve` process for the harness: the real binary, on a free loopback port,
//! pointed at test-apiserver by a kubeconfig, at a tokens file with one deployer token and at
//! the harness's catalog; requests go through hyper's pooled client.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};

/// The bearer token the harness calls with (a deployer of every account).
const TOKEN: &str = "astro-e2e-bench-deployer";

/// A running `kubectl-astro serve`; killed when dropped.
pub struct Service {
    child: Child,
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// One answer of the service.
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body's `status` field (`success`, `partial`), or what the body was.
    pub outcome: String,
}

impl Service {
    /// Starts `kubectl_astro serve` against the cluster of `kubeconfig` with `catalog`, its
    /// tokens file in `work`; returns once it listens. Must be called inside a tokio runtime
    /// (the client's connections run on it).
    pub fn start(
        kubectl_astro: &Path,
        kubeconfig: &Path,
        catalog: &Path,
        work: &Path,
    ) -> Result<Service> {
        std::fs::create_dir_all(work)?;
        let digest: String = Sha256::digest(TOKEN.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let tokens = work.join("tokens.yaml");
        std::fs::write(
            &tokens,
            format!(
                "tokens:\n- name: bench\n  sha256: {digest}\n  accounts: {{\"*\": deployer}}\n"
            ),
        )?;
        let mut child = Command::new(kubectl_astro)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--tokens"])
            .arg(&tokens)
            .arg("--catalog")
            .arg(catalog)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {} serve", kubectl_astro.display()))?;
        let stderr = child.stderr.take().context("serve's stderr")?;
        let (tx, rx) = mpsc::channel();
        // Reads the address it listens on, then drains the access log so the server never
        // blocks on a full pipe; the thread ends with the process.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut said = String::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("serving the Deploy API on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(Ok(addr.to_string()));
                } else if tx.is_some() {
                    said.push_str(&line);
                    said.push('\n');
                }
            }
            if let Some(tx) = tx {
                let _ = tx.send(Err(said));
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(base)) => base,
            Ok(Err(said)) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("serve exited before listening: {}", said.trim())
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("serve did not listen within 60 s")
            }
        };
        Ok(Service {
            child,
            base,
            client: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// `POST /api/v1/deploy` with `body` (a DeployRequest as JSON).
    pub async fn deploy(&self, body: &str) -> Result<Answer> {
        let request = http::Request::post(format!("{}/api/v1/deploy", self.base))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header("Content-Type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))?;
        let response = self.client.request(request).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        let outcome = match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(v) => match v["status"].as_str() {
                Some(s) => s.to_string(),
                None => v.to_string(),
            },
            Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
        };
        Ok(Answer { status, outcome })
    }

    /// The process's peak resident set so far (`VmHWM` of `/proc/PID/status`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.child.id(), "VmHWM:")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `kB` field of `/proc/PID/status`.
fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
