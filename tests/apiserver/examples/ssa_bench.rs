//! Loopback SSA throughput bench: raw keep-alive HTTP/1.1 clients, no client library overhead.
//! `cargo run -p test-apiserver --example ssa_bench [--release] -- [connections] [requests]`

use std::time::Instant;
use test_apiserver::TestApiServer;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let conns = args.first().copied().unwrap_or(16);
    let total = args.get(1).copied().unwrap_or(8000);
    let s = TestApiServer::start().await?;
    let addr = s.base_url().trim_start_matches("http://").to_string();
    let per = total / conns;
    let start = Instant::now();
    let mut hs = Vec::new();
    for c in 0..conns {
        let addr = addr.clone();
        hs.push(tokio::spawn(async move {
            let stream = TcpStream::connect(&addr).await?;
            stream.set_nodelay(true)?;
            let mut rd = BufReader::new(stream);
            for i in 0..per {
                let name = format!("web-{c}-{}", i % 10);
                let body = format!(
                    r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"{name}"}},"spec":{{"replicas":{},"selector":{{"matchLabels":{{"app":"web"}}}},"template":{{"metadata":{{"labels":{{"app":"web"}}}},"spec":{{"containers":[{{"name":"nginx","image":"nginx:1.27","ports":[{{"containerPort":80}}],"env":[{{"name":"A","value":"1"}}]}}]}}}}}}}}"#,
                    (i / 10) % 3 + 1
                );
                let req = format!(
                    "PATCH /apis/apps/v1/namespaces/default/deployments/{name}?fieldManager=bench&force=true HTTP/1.1\r\nHost: x\r\nContent-Type: application/apply-patch+yaml\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                rd.get_mut().write_all(req.as_bytes()).await?;
                let mut len = 0usize;
                let mut status = String::new();
                loop {
                    let mut line = String::new();
                    rd.read_line(&mut line).await?;
                    if status.is_empty() {
                        status = line.clone();
                    }
                    if line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse()?;
                    }
                }
                let mut buf = vec![0u8; len];
                rd.read_exact(&mut buf).await?;
                anyhow::ensure!(status.contains(" 200 ") || status.contains(" 201 "), "{status}");
            }
            anyhow::Ok(())
        }));
    }
    for h in hs {
        h.await??;
    }
    let n = per * conns;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} SSA requests over {conns} connections in {secs:.2}s = {:.0} requests/s",
        n as f64 / secs
    );
    Ok(())
}
