//! The command line itself: help with examples for every subcommand, shell completions, and
//! flags that change the render without a cluster.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-astro"))
        .args(args)
        .env_remove("RUST_LOG") // stderr is asserted; a developer's RUST_LOG would add to it
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("kubectl-astro runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_subcommand_has_help_with_examples() {
    for sub in [
        "deploy",
        "diff",
        "undeploy",
        "list",
        "trigger",
        "validate",
        "build",
        "completion",
    ] {
        let (code, out, err) = run(&[sub, "--help"]);
        assert_eq!(code, 0, "{sub}: {err}");
        assert!(
            out.contains("Examples:"),
            "{sub} --help has no examples:\n{out}"
        );
    }
    let (_, out, _) = run(&["deploy", "--help"]);
    assert!(out.contains("Exit codes"), "{out}");
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = run(&["completion", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(
            out.contains("kubectl-astro") && out.contains("deploy") && out.contains("undeploy"),
            "{shell}"
        );
    }
    let (code, _, _) = run(&["completion", "tcsh"]);
    assert_eq!(code, 2, "an unknown shell is a usage error");
}

#[test]
fn no_replicas_leaves_the_agent_replica_count_to_an_autoscaler() {
    let base = [
        "deploy",
        "--dry-run",
        "-f",
        "examples/deploy-request.json",
        "--catalog",
        "examples/catalog",
        "-o",
        "json",
    ];
    let replicas = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        let list: serde_json::Value = serde_json::from_str(&out).expect("JSON list");
        list["items"]
            .as_array()
            .and_then(|items| {
                items.iter().find(|o| {
                    o["kind"] == "Deployment" && o["metadata"]["name"] == "weather-agent-agent"
                })
            })
            .map(|d| d["spec"].get("replicas").cloned())
            .expect("agent Deployment rendered")
    };
    assert_eq!(replicas(&[]), Some(serde_json::json!(1)));
    assert_eq!(replicas(&["--no-replicas"]), None);
}

#[test]
fn show_secrets_is_refused_outside_dry_run() {
    let (code, out, _) = run(&[
        "deploy",
        "-f",
        "examples/deploy-request.json",
        "--catalog",
        "examples/catalog",
        "--show-secrets",
    ]);
    assert_eq!(code, 3);
    assert!(out.contains("--show-secrets"), "{out}");
}

#[test]
fn names_are_checked_before_they_become_catalog_paths() {
    for (flag, value) in [
        ("--name", "../.."),
        ("--account", "../../etc"),
        ("--name", "a,b=c"),
    ] {
        let mut args = vec!["deploy", "--dry-run", "--catalog", "examples/catalog"];
        if flag == "--name" {
            args.extend(["--account", "astro-team"]);
        } else {
            args.extend(["--name", "weather-agent"]);
        }
        args.extend([flag, value]);
        let (code, out, _) = run(&args);
        assert_eq!(code, 3, "{flag} {value}: {out}");
        let field = flag.trim_start_matches("--");
        assert!(out.contains(&format!("request: {field}:")), "{out}");
    }
}

/// One source of certificates at a time (clap's usage error, exit 2, as for any two flags
/// that exclude each other), and issuer names Kubernetes accepts (invalid input, exit 3).
#[test]
fn tls_secret_and_an_issuer_are_refused_together() {
    let base = [
        "deploy",
        "--dry-run",
        "-f",
        "examples/deploy-request-web.yaml",
        "--catalog",
        "examples/catalog",
    ];
    let with = |extra: &[&str]| run(&[&base[..], extra].concat());
    let (code, _, err) = with(&["--tls-secret", "wildcard-tls", "--cluster-issuer", "le"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--tls-secret") && err.contains("--cluster-issuer"),
        "{err}"
    );
    let (code, _, err) = with(&["--issuer", "le", "--cluster-issuer", "le"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--issuer") && err.contains("--cluster-issuer"),
        "{err}"
    );
    let (code, out, _) = with(&["--issuer", "Let's Encrypt"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("issuer") && out.contains("DNS-1123 subdomain"),
        "{out}"
    );
    let (code, out, _) = with(&["--issuer", "le"]);
    assert_eq!(code, 0);
    assert!(out.contains("cert-manager.io/issuer: le"), "{out}");
}
