//! `ServerOptions::rtt` and the binary's `--rtt`: the round trip of a cluster that is not on
//! loopback. Every answer is held one rtt; a new connection costs one more (the TCP handshake)
//! and over TLS another (the TLS handshake). Only lower bounds are checked: a loaded machine
//! makes everything slower, never faster.

use std::process::Stdio;
use std::time::{Duration, Instant};

use test_apiserver::{ServerOptions, TestApiServer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const RTT: Duration = Duration::from_millis(100);

/// One kept-alive HTTP/1.1 connection.
struct Conn {
    stream: TcpStream,
    host: String,
}

impl Conn {
    async fn open(base: &str) -> Conn {
        let host = base.trim_start_matches("http://").to_string();
        let stream = TcpStream::connect(&host).await.expect("connect");
        Conn { stream, host }
    }

    /// Sends a request and reads the answer's head (and its body, if it has a length): the
    /// status and how long the exchange took.
    async fn exchange(&mut self, method: &str, path: &str, body: &str) -> (u16, Duration) {
        let started = Instant::now();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.stream
            .write_all(request.as_bytes())
            .await
            .expect("write");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            let n = self.stream.read(&mut byte).await.expect("read");
            assert_eq!(n, 1, "the connection closed in the answer's head");
            head.push(byte[0]);
        }
        let elapsed = started.elapsed();
        let head = String::from_utf8_lossy(&head).to_string();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let length = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok());
        if let Some(length) = length {
            let mut body = vec![0u8; length];
            self.stream.read_exact(&mut body).await.expect("body");
        }
        (status, elapsed)
    }
}

fn at_least(what: &str, took: Duration, least: Duration) {
    assert!(took >= least, "{what} took {took:?}, less than {least:?}");
}

/// A get, a create, a list, a 404 and the head of a watch each wait one rtt on a kept-alive
/// connection; the connection's first request waits one more (the TCP handshake).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_and_every_connection_waits_the_round_trip() {
    let s = TestApiServer::start_with(ServerOptions {
        rtt: RTT,
        ..Default::default()
    })
    .await
    .expect("start");
    let mut c = Conn::open(&s.base_url()).await;
    let (status, took) = c.exchange("GET", "/api/v1/namespaces/default", "").await;
    assert_eq!(status, 200);
    at_least("the first request of a connection", took, 2 * RTT);

    let cm = "/api/v1/namespaces/default/configmaps";
    let exchanges = [
        ("GET", "/version".to_string(), "", 200),
        ("POST", cm.to_string(), r#"{"metadata":{"name":"a"}}"#, 201),
        ("GET", format!("{cm}/a"), "", 200),
        ("GET", cm.to_string(), "", 200),
        ("GET", format!("{cm}/missing"), "", 404),
        ("GET", format!("{cm}?watch=true&timeoutSeconds=5"), "", 200),
    ];
    for (method, path, body, expected) in exchanges {
        let (status, took) = c.exchange(method, &path, body).await;
        assert_eq!(status, expected, "{method} {path}");
        at_least(&format!("{method} {path}"), took, RTT);
    }
    // Writes take effect on arrival: the object is there although its answer was held.
    assert_eq!(
        s.request_log()
            .iter()
            .filter(|r| r.verb == "create")
            .count(),
        1
    );
}

/// Over TLS a new connection pays the TCP and the TLS handshakes' round trips, and the
/// answer's: a kube client's first request takes at least three rtts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_connection_pays_both_handshakes() {
    let s = TestApiServer::start_with(ServerOptions {
        rtt: RTT,
        tls: true,
        ..Default::default()
    })
    .await
    .expect("start");
    let client = s.client().await.expect("client");
    let started = Instant::now();
    client.apiserver_version().await.expect("version");
    at_least("the first request over TLS", started.elapsed(), 3 * RTT);
    let started = Instant::now();
    client.apiserver_version().await.expect("version");
    at_least("a request on the open connection", started.elapsed(), RTT);
}

/// The binary's `--rtt` flag: its answers wait too; a bad duration is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_takes_rtt_as_a_flag() {
    let bin = env!("CARGO_BIN_EXE_test-apiserver");
    let mut child = tokio::process::Command::new(bin)
        .args(["--rtt", "100ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .expect("base url");
    let mut c = Conn::open(line.trim()).await;
    let (status, took) = c.exchange("GET", "/version", "").await;
    assert_eq!(status, 200);
    at_least("the binary's first answer", took, 2 * RTT);
    let (_, took) = c.exchange("GET", "/healthz", "").await;
    at_least("the binary's second answer", took, RTT);
    let _ = child.kill().await;

    let out = tokio::process::Command::new(bin)
        .args(["--rtt", "fast"])
        .output()
        .await
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--rtt \"fast\""), "{err}");
}
