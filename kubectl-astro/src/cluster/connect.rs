//! Connecting like kubectl: `--kubeconfig`, `--context`, `KUBECONFIG`, in-cluster config,
//! `--request-timeout`.

use std::path::Path;
use std::time::Duration;

use kube::config::{Config, KubeConfigOptions, Kubeconfig};

use crate::exit::Failure;

/// A kube client for the chosen kubeconfig and context.
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    timeout: Option<Duration>,
) -> Result<kube::Client, Failure> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| {
                Failure::failed(format!("--kubeconfig {}: {}", path.display(), one_line(&e)))
            })?;
            Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| {
                    Failure::failed(format!("--kubeconfig {}: {}", path.display(), one_line(&e)))
                })?
        }
        None if context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| Failure::failed(format!("kubeconfig: {}", one_line(&e))))?,
        None => Config::infer().await.map_err(|e| {
            Failure::failed(format!(
                "no cluster configuration found (KUBECONFIG, ~/.kube/config or in-cluster): {}",
                one_line(&e)
            ))
        })?,
    };
    let mut config = config;
    // One retry layer, ours (cluster::Cluster::call): it also covers resets, 500 and 502, and
    // honours Retry-After. kube's own layer would multiply the attempts.
    config.default_retry = false;
    // A plain-http cluster (a local test server) uses no TLS: give the unused TLS setup an
    // empty trust store instead of letting it load every system CA certificate, which was half
    // of a deploy's CPU (docs/performance.md). https clusters are untouched: the kubeconfig's
    // CA, or the platform verifier when it has none.
    if config.cluster_url.scheme_str() == Some("http") {
        config.root_cert = Some(Vec::new());
        config.root_cert_file = None;
    }
    if let Some(t) = timeout {
        config.connect_timeout = Some(t);
        config.read_timeout = Some(t);
        config.write_timeout = Some(t);
    }
    kube::Client::try_from(config)
        .map_err(|e| Failure::failed(format!("cannot create a client: {e}")))
}

/// The first line of a configuration error. The YAML parser appends the lines around the
/// mistake, and a kubeconfig's lines hold tokens, client keys and passwords.
fn one_line(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    match text.split_once('\n') {
        Some((first, _)) => format!(
            "{} (source lines hidden: they may hold credentials)",
            first.trim_end()
        ),
        None => text,
    }
}

/// Parses kubectl-style durations for `--request-timeout`: `30s`, `1m`, `500ms`, or seconds.
pub fn parse_timeout(s: &str) -> Result<Option<Duration>, String> {
    if s == "0" {
        return Ok(None);
    }
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration like 30s, 1m or 500ms"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(format!("'{s}' is not a duration like 30s, 1m or 500ms")),
    };
    Ok(Some(d))
}
