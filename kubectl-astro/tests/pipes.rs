//! The command line in pipes: a reader that closes early ends any command quietly (no panic,
//! no error text, the command's own exit code), and a stdout that fails otherwise is an
//! error.

mod support;

use std::io::Read;
use std::path::Path;
use std::process::Stdio;

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
