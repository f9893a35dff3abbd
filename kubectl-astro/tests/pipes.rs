//! The command line in pipes and terminals: a reader that closes early ends any command
//! quietly (no panic, no error text, the command's own exit code), a stdout that fails
//! otherwise is an error, `diff` colours only where asked to, `build list` prints a table
//! unless asked for JSON or YAML, and `deploy` reports each step on a terminal's stderr.

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;

use serde_json::Value;
use support::{Env, examples};

/// How many startup ingestions the large build has: each is a Job of about 2 KiB, so every
/// output of it is several times larger than a pipe's buffer (64 KiB on Linux).
const INGESTIONS: usize = 120;

/// Writes a request and a build with [`INGESTIONS`] startup ingestions into `dir`; returns
/// `-f request.yaml --build build.yaml` as arguments.
fn large_agent(dir: &Path) -> Vec<String> {
    let mut build = String::from(
        "account: astro-team
name: weather-agent
build_id: build-20240612-1530
image: registry.example.test/astro-team/weather-agent:build-20240612-1530
registry: registry.example.test/astro-team
registered_at: \"2024-06-12T15:30:00Z\"
spec:
  spec: package/v1
  name: weather-agent
  agent:
    build: {context: ., dockerfile: Dockerfile}
  models:
    anthropic: {provider: anthropic}
  ingestion:
",
    );
    for i in 0..INGESTIONS {
        build.push_str(&format!(
            "    warmup-{i:03}:
      container: {{image: registry.example.test/sync:1.0.0, environment: {{PART: \"{i}\"}}}}
      trigger: {{type: startup}}
"
        ));
    }
    let request = "account: astro-team
name: weather-agent
user_credentials: {ANTHROPIC_API_KEY: fake-anthropic-key}
";
    let (req, rec) = (dir.join("request.yaml"), dir.join("build.yaml"));
    std::fs::write(&req, request).expect("request written");
    std::fs::write(&rec, build).expect("build written");
    vec![
        "-f".into(),
        req.display().to_string(),
        "--build".into(),
        rec.display().to_string(),
    ]
}

/// `kubectl-astro <args>` with stdout a pipe whose reader reads `read` bytes (none: closes it
/// at once) and then closes it; returns the exit code and stderr.
fn run_into_closed_pipe(mut cmd: std::process::Command, read: usize) -> (i32, String) {
    let mut child = cmd
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl-astro starts");
    let mut stdout = child.stdout.take().expect("stdout piped");
    let mut first = vec![0; read];
    stdout.read_exact(&mut first).expect("first bytes read");
    drop(stdout);
    let out = child.wait_with_output().expect("kubectl-astro ends");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), stderr)
}

fn binary() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-astro"))
}

/// Nothing on stderr speaks of the closed pipe, and nothing panicked.
fn quiet(stderr: &str) {
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert!(!stderr.to_lowercase().contains("broken pipe"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn a_reader_closing_early_ends_a_dry_run_quietly_with_its_exit_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let agent = large_agent(dir.path());
    for output in ["yaml", "json"] {
        let mut args = vec!["deploy".to_string(), "--dry-run".into(), "-o".into()];
        args.push(output.into());
        args.extend(agent.iter().cloned());
        let whole = binary().args(&args).output().expect("kubectl-astro runs");
        assert_eq!(whole.status.code(), Some(0));
        assert!(
            whole.stdout.len() > 2 * 65536,
            "{output}: {} bytes: not larger than a pipe's buffer",
            whole.stdout.len()
        );
        // The reader takes the first bytes and goes, or goes before anything was written.
        for read in [16, 0] {
            let mut cmd = binary();
            cmd.args(&args);
            let (code, stderr) = run_into_closed_pipe(cmd, read);
            assert_eq!(code, 0, "{output}, {read} bytes read: {stderr}");
            quiet(&stderr);
        }
    }
}

#[test]
fn completion_into_a_closed_pipe_is_quiet() {
    let mut cmd = binary();
    cmd.args(["completion", "zsh"]);
    let (code, stderr) = run_into_closed_pipe(cmd, 0);
    assert_eq!(code, 0, "{stderr}");
    quiet(&stderr);
}

#[cfg(target_os = "linux")]
#[test]
fn a_stdout_that_cannot_be_written_fails_with_one_line() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full opens");
    let out = binary()
        .args([
            "deploy",
            "--dry-run",
            "-f",
            &examples().join("deploy-request.json").display().to_string(),
            "--catalog",
            &examples().join("catalog").display().to_string(),
        ])
        .stdout(full)
        .output()
        .expect("kubectl-astro runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("cannot write to standard output"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_closing_early_ends_a_diff_quietly_with_its_exit_code() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = vec!["diff".to_string()];
    args.extend(large_agent(dir.path()));
    let (code, whole, stderr) = env.run(&args).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(whole.len() > 2 * 65536, "{} bytes", whole.len());
    for read in [16, 0] {
        let mut cmd = env.command(&args);
        let mut child = cmd.spawn().expect("kubectl-astro starts");
        let mut stdout = child.stdout.take().expect("stdout piped");
        let mut first = vec![0; read];
        tokio::io::AsyncReadExt::read_exact(&mut stdout, &mut first)
            .await
            .expect("first bytes read");
        drop(stdout);
        let out = child.wait_with_output().await.expect("kubectl-astro ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Exit 1, as with the whole diff read: there are changes.
        assert_eq!(out.status.code(), Some(1), "{read} bytes read: {stderr}");
        quiet(&stderr);
    }
}

/// An ANSI colour of removed (red) or added (green) lines.
const RED: &str = "\x1b[31m-";
const GREEN: &str = "\x1b[32m+";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_colours_when_asked_or_on_a_terminal_without_no_color() {
    let env = Env::new().await;
    let (code, resp, stderr) = env.deploy("deploy-request-web.yaml", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    // Without the web chat: its Service and Ingress are removed, the agent's pod changes.
    let diff = |extra: &[&str]| {
        let mut args = Env::deploy_args("deploy-request.json", extra);
        args[0] = "diff".into();
        args
    };
    let run = |args: Vec<String>, no_color: Option<&str>| {
        let mut cmd = env.command(&args);
        match no_color {
            Some(v) => cmd.env("NO_COLOR", v),
            None => cmd.env_remove("NO_COLOR"),
        };
        async move {
            let out = cmd.output().await.expect("kubectl-astro runs");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert_eq!(out.status.code(), Some(1), "{stdout}");
            stdout
        }
    };
    let always = run(diff(&["--color", "always"]), None).await;
    assert!(always.contains(RED) && always.contains(GREEN), "{always}");
    // The flag is this run's explicit word: it wins over NO_COLOR.
    let no_color = run(diff(&["--color", "always"]), Some("1")).await;
    assert_eq!(no_color, always);
    let never = run(diff(&["--color", "never"]), None).await;
    let auto = run(diff(&[]), None).await;
    for plain in [&never, &auto] {
        assert!(!plain.contains('\x1b'), "{plain}");
        assert!(plain.contains("\n-") && plain.contains("\n+"), "{plain}");
    }
    // The same lines, only painted.
    assert_eq!(strip_ansi(&always), never);
    assert_eq!(never, auto);

    // auto on a terminal: colour, unless NO_COLOR is set and not empty.
    let on_terminal = |no_color: Option<&'static str>| {
        let mut cmd = env.command(&diff(&[]));
        match no_color {
            Some(v) => cmd.env("NO_COLOR", v),
            None => cmd.env_remove("NO_COLOR"),
        };
        terminal::run(cmd, terminal::Stream::Stdout)
    };
    let (code, text) = on_terminal(None).await;
    assert_eq!(code, 1);
    assert!(text.contains(RED) && text.contains(GREEN), "{text}");
    let (_, text) = on_terminal(Some("")).await;
    assert!(
        text.contains(RED),
        "an empty NO_COLOR counts as unset: {text}"
    );
    let (_, text) = on_terminal(Some("1")).await;
    assert!(!text.contains('\x1b'), "{text}");
}

/// `text` without ANSI colour sequences (`ESC [ digits m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('\x1b') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find('m').map_or(rest.len(), |m| m + 1);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_list_is_a_table_unless_json_or_yaml_is_asked_for() {
    let env = Env::new().await;
    let (code, out, err) = env.run(&["build", "list"]).await;
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(err.contains("No builds found"), "{err}");
    let dir = examples().join("catalog/astro-team/weather-agent");
    for f in ["build-20240601-0900.yaml", "build-20240612-1530.yaml"] {
        let file = dir.join(f).display().to_string();
        let (code, out, err) = env.run(&["build", "push", &file]).await;
        assert_eq!(code, 0, "{out}{err}");
    }
    let publish = [
        "build",
        "publish",
        "--account",
        "astro-team",
        "--name",
        "weather-agent",
        "--build-id",
        "build-20240612-1530",
        "--version",
        "1.0.0",
    ];
    let (code, out, err) = env.run(&publish).await;
    assert_eq!(code, 0, "{out}{err}");

    let (code, table, err) = env.run(&["build", "list"]).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["ACCOUNT", "NAME", "BUILD", "VERSION", "REGISTERED", "IMAGE"]
    );
    // Columns start where their header starts.
    let at = lines[0].find("VERSION").expect("VERSION column");
    assert!(lines[1][at..].starts_with("<none> "), "{table}");
    assert!(lines[2][at..].starts_with("1.0.0 "), "{table}");
    assert!(lines[2].contains("build-20240612-1530"), "{table}");

    let (code, json, err) = env.run(&["build", "list", "-o", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&json).expect("-o json is JSON");
    let records = list.as_array().expect("an array");
    assert_eq!(records.len(), 2);
    let keys: Vec<&String> = records[1].as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        [
            "account",
            "name",
            "build_id",
            "registered_at",
            "version",
            "image"
        ]
    );
    assert_eq!(records[1]["version"], "1.0.0");
    assert_eq!(records[0]["version"], Value::Null);

    let (code, yaml, err) = env.run(&["build", "list", "-o", "yaml"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(yaml.matches("- account: astro-team").count(), 2, "{yaml}");
    assert!(yaml.contains("build_id: build-20240612-1530"), "{yaml}");

    let (code, _, _) = env.run(&["build", "list", "-o", "table"]).await;
    assert_eq!(code, 2, "an unknown format is a usage error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_reports_each_step_on_a_terminal_and_nothing_into_a_pipe() {
    let env = Env::new().await;
    let args = Env::deploy_args("deploy-request-web.yaml", &[]);
    let (code, stderr) = terminal::run(env.command(&args), terminal::Stream::Stderr).await;
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stderr.lines().map(str::trim_end).collect();
    assert_eq!(
        lines,
        [
            "Namespace astro-astro-team-weather-agent: created",
            "NetworkPolicies: 3 created",
            "Secrets and ConfigMaps: 2 created",
            // 5 Services (one the redis StatefulSet's headless governing Service), 4
            // workloads, the web-chat Ingress.
            "Services, workloads, Ingresses: 10 created",
        ],
        "{stderr}"
    );
    // Into a pipe: stderr holds no progress.
    let (code, resp, stderr) = env.deploy("deploy-request.json", &[]).await;
    assert_eq!(code, 0, "{resp}");
    assert_eq!(stderr, "");
    // The next deploy on a terminal shows what prune did.
    let args = Env::deploy_args("deploy-request-web.yaml", &[]);
    let (code, _) = terminal::run(env.command(&args), terminal::Stream::Stderr).await;
    assert_eq!(code, 0);
    let args = Env::deploy_args("deploy-request.json", &[]);
    let (code, stderr) = terminal::run(env.command(&args), terminal::Stream::Stderr).await;
    assert_eq!(code, 0, "{stderr}");
    // The web chat's Service, Ingress and NetworkPolicy.
    assert!(stderr.contains("\nprune: 3 pruned"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_diff_is_coloured_on_a_terminal_only() {
    let env = Env::new().await;
    let (code, resp, stderr) = env.deploy("deploy-request-web.yaml", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    let (code, resp, plain) = env.deploy("deploy-request.json", &["--diff"]).await;
    assert_eq!(code, 0, "{resp}");
    assert!(plain.contains("\n-") && !plain.contains('\x1b'), "{plain}");
    // The same change again, on a terminal.
    let (code, resp, stderr) = env.deploy("deploy-request-web.yaml", &[]).await;
    assert_eq!(code, 0, "{resp} {stderr}");
    let args = Env::deploy_args("deploy-request.json", &["--diff"]);
    let mut cmd = env.command(&args);
    cmd.env_remove("NO_COLOR");
    let (code, text) = terminal::run(cmd, terminal::Stream::Stderr).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(RED), "{text}");
}

/// Running the binary with one of its streams on a pseudo-terminal.
mod terminal {
    use super::*;
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};

    /// Which stream is the terminal; the other stays a pipe.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub enum Stream {
        Stdout,
        Stderr,
    }

    /// Runs `cmd` with `stream` on a new pseudo-terminal; returns the exit code and what it
    /// wrote there (the terminal's output: line ends as `\r\n`).
    pub async fn run(mut cmd: tokio::process::Command, stream: Stream) -> (i32, String) {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("pty opens");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let path = name.to_str().expect("pty path").to_string();
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("pty slave opens");
        match stream {
            Stream::Stdout => cmd.stdout(slave),
            Stream::Stderr => cmd.stderr(slave),
        };
        // Read the terminal until the child is gone (the read then fails with EIO).
        let mut master = std::fs::File::from(master);
        let reader = std::thread::spawn(move || {
            let mut text = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                text.extend_from_slice(&buf[..n]);
            }
            let _ = master.flush();
            String::from_utf8_lossy(&text).replace("\r\n", "\n")
        });
        let child = cmd.spawn().expect("kubectl-astro starts");
        // The child holds the only other handle of the terminal now.
        drop(cmd);
        let out = child.wait_with_output().await.expect("kubectl-astro ends");
        let text = tokio::task::spawn_blocking(move || reader.join().unwrap_or_default())
            .await
            .unwrap_or_default();
        let other = String::from_utf8_lossy(match stream {
            Stream::Stdout => &out.stderr,
            Stream::Stderr => &out.stdout,
        })
        .into_owned();
        assert!(!other.contains("panicked") && !text.contains("panicked"));
        (out.status.code().unwrap_or(-1), text)
    }
}
