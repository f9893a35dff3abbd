//! Secret hygiene audit (issue 5): every command path — render, validate, diff, deploy (plain,
//! with a conflict, under faults, denied), undeploy, build, and the error paths — runs with
//! credentials set to unique marker strings, once with `RUST_LOG=trace` and once with `-vvv`
//! (each test has a `_at_vvv` twin); no marker may appear raw, base64-encoded (any alignment)
//! or URL-encoded in stdout, stderr or any file written in the run's directory (also its HOME,
//! TMPDIR and cache dir). Only `--show-secrets` on a dry run may print them, and it must.
//! Logging cannot be silently off: the verbose stderr of a deploy must hold the plugin's request
//! lines and the kube client's HTTP traces.
//!
//! The markers cover every way a credential reaches the plugin: `user_credentials` in the
//! request file, `--credential KEY=VALUE`, `--credential KEY` (environment), the request on
//! stdin, the kubeconfig's bearer token (right and wrong), and the store password the first
//! deploy generates (read back from the cluster after it exists).
//!
//! ```sh
//! cargo nextest run -p kubectl-astro --test secret_audit
//! ```

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use base64::Engine;
use serde_json::Value;
use support::examples;
use test_apiserver::{AllowRule, Fault, ServerOptions, TestApiServer};

const NS: &str = "astro-astro-team-engineering-assistant";
/// The bearer token of the kubeconfig: a credential too.
const TOKEN: &str = "mkT0ken+kube/bearer=Z9";
/// A wrong bearer token (the 401 path).
const WRONG_TOKEN: &str = "mkWr0ng+kube/bearer=Y8";

/// `(key, marker)` of each user credential. `+`, `/`, `=` and a space make the URL-encoded and
/// base64 forms differ from the raw one.
const CREDS: [(&str, &str); 6] = [
    ("ANTHROPIC_API_KEY", "mkAnth+r0pic/key=A1 x"),
    ("GITHUB_TOKEN", "mkG1thub+t0ken/B2=y"),
    ("MY_JIRA_API_KEY", "mkJ1ra+api/key=C3"),
    ("POSTGRES_PASSWORD", "mkP0stgres+pw/D4=z"),
    ("SLACK_APP_TOKEN", "mkSl4ckApp+t0k/E5="),
    ("SLACK_BOT_TOKEN", "mkSl4ckB0t+t0k/F6=w"),
];
/// A rotated ANTHROPIC_API_KEY (diff and deploy of a changed Secret).
const ROTATED: &str = "mkR0tated+anth/G7=v";
/// Given with `--credential KEY=VALUE` and `--credential KEY` (environment).
const FLAG_VALUE: &str = "mkFl4g+value/H8=u";
const ENV_VALUE: &str = "mkEnv+value/I9=t";

/// The forms of `marker` that must never be printed: raw, URL-encoded (`+` as `%2B` and as
/// written by form encoding), and base64 (standard and URL-safe, each at the three byte
/// alignments it can take inside a longer encoded value).
fn forms(marker: &str) -> Vec<(String, String)> {
    let mut out = vec![("raw".to_string(), marker.to_string())];
    let url: String = marker
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    out.push(("url-encoded".into(), url.clone()));
    out.push(("url-encoded (lower hex)".into(), url.to_lowercase()));
    out.push(("form-encoded".into(), url.replace("%20", "+")));
    for (name, engine) in [
        ("base64", base64::engine::general_purpose::STANDARD),
        ("base64url", base64::engine::general_purpose::URL_SAFE),
    ] {
        for shift in 0..3usize {
            let mut bytes = vec![b'#'; shift];
            bytes.extend_from_slice(marker.as_bytes());
            let enc = engine.encode(&bytes);
            // Characters that depend on the marker alone: skip the first group touched by the
            // prefix and the last (padding) group.
            let start = if shift == 0 { 0 } else { 4 };
            let end = enc.len().saturating_sub(4);
            if end > start + 8 {
                out.push((
                    format!("{name} (offset {shift})"),
                    enc[start..end].to_string(),
                ));
            }
        }
    }
    out
}

/// How a run turns logging on: a `-v…` flag and `RUST_LOG` (unset when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Logs {
    flag: Option<&'static str>,
    rust_log: Option<&'static str>,
}

impl Logs {
    /// Every log there is, through `RUST_LOG`.
    const RUST_LOG_TRACE: Logs = Logs::new(None, Some("trace"));
    /// Every log there is, through the flag.
    const VVV: Logs = Logs::new(Some("-vvv"), None);

    const fn new(flag: Option<&'static str>, rust_log: Option<&'static str>) -> Logs {
        Logs { flag, rust_log }
    }
}

struct Audit {
    server: TestApiServer,
    logs: Logs,
    dir: tempfile::TempDir,
    /// Files we wrote as inputs (they hold markers by design).
    inputs: BTreeSet<PathBuf>,
    markers: Vec<String>,
    /// Paths exercised, for the report.
    paths: Vec<String>,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Audit {
    async fn start(opts: ServerOptions, logs: Logs) -> Audit {
        let server = TestApiServer::start_with(opts)
            .await
            .expect("test-apiserver starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut audit = Audit {
            server,
            logs,
            dir,
            inputs: BTreeSet::new(),
            markers: CREDS.iter().map(|(_, m)| m.to_string()).collect(),
            paths: Vec::new(),
        };
        audit.markers.extend(
            [TOKEN, WRONG_TOKEN, ROTATED, FLAG_VALUE, ENV_VALUE]
                .into_iter()
                .map(String::from),
        );
        let kc = audit.server.kubeconfig_yaml();
        audit.input("kubeconfig", &kc);
        audit.input("request.yaml", &request_yaml(&CREDS));
        for d in ["home", "tmp", "cache"] {
            std::fs::create_dir_all(audit.dir.path().join(d)).expect("dir");
        }
        audit
    }

    fn input(&mut self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("input written");
        self.inputs.insert(p.clone());
        p
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Runs kubectl-astro with `args` (and `stdin`), `RUST_LOG=trace` or `-vvv`, every
    /// directory it could write to inside the audit's dir; fails on any marker in the output.
    async fn run(&mut self, label: &str, args: &[&str], stdin: Option<&str>) -> Run {
        let run = self.run_raw(args, stdin).await;
        self.check(label, &run.stdout, &run.stderr);
        self.paths.push(format!("{label} (exit {})", run.code));
        run
    }

    async fn run_raw(&self, args: &[&str], stdin: Option<&str>) -> Run {
        use tokio::io::AsyncWriteExt;
        let d = self.dir.path();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubectl-astro"));
        if let Some(flag) = self.logs.flag {
            cmd.arg(flag);
        }
        match self.logs.rust_log {
            Some(filter) => cmd.env("RUST_LOG", filter),
            None => cmd.env_remove("RUST_LOG"),
        };
        cmd.args(args)
            .current_dir(d)
            .env("KUBECONFIG", d.join("kubeconfig"))
            .env("RUST_BACKTRACE", "1")
            .env("HOME", d.join("home"))
            .env("TMPDIR", d.join("tmp"))
            .env("KUBECACHEDIR", d.join("cache"))
            .env("MY_JIRA_API_KEY", ENV_VALUE)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl-astro runs");
        if let Some(mut w) = child.stdin.take() {
            if let Some(text) = stdin {
                w.write_all(text.as_bytes()).await.expect("stdin");
            }
            drop(w);
        }
        let out = child.wait_with_output().await.expect("kubectl-astro ends");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "panic: {stderr}");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout,
            stderr,
        }
    }

    fn check(&self, label: &str, stdout: &str, stderr: &str) {
        for (stream, text) in [("stdout", stdout), ("stderr", stderr)] {
            if let Some(leak) = self.leak(text) {
                panic!("{label}: {leak} on {stream}:\n{text}");
            }
        }
    }

    fn leak(&self, text: &str) -> Option<String> {
        for m in &self.markers {
            for (form, s) in forms(m) {
                if text.contains(&s) {
                    return Some(format!("credential {m:?} ({form}: {s:?})"));
                }
            }
        }
        None
    }

    /// Every file under the audit's dir that is not one of our inputs holds no marker. An
    /// entry that cannot be read fails the audit: it could hold one.
    fn check_files(&self) -> usize {
        let mut stack = vec![self.dir.path().to_path_buf()];
        let mut checked = 0;
        while let Some(dir) = stack.pop() {
            for p in support::sorted_entries(&dir).unwrap_or_else(|e| panic!("{e}")) {
                if p.is_dir() {
                    stack.push(p);
                } else if !self.inputs.contains(&p) {
                    let bytes = std::fs::read(&p)
                        .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
                    let text = String::from_utf8_lossy(&bytes);
                    if let Some(leak) = self.leak(&text) {
                        panic!("{leak} in the file {}", p.display());
                    }
                    checked += 1;
                }
            }
        }
        checked
    }

    async fn get(&self, path: &str) -> Option<Value> {
        support::get(&self.server, path).await
    }
}

fn request_yaml(creds: &[(&str, &str)]) -> String {
    let mut s = String::from(
        "account: astro-team\nname: engineering-assistant\ninterfaces: [slack, web]\nschedules:\n  docs_sync: \"0 */6 * * *\"\nuser_credentials:\n",
    );
    for (k, v) in creds {
        s.push_str(&format!("  {k}: {}\n", Value::String(v.to_string())));
    }
    s
}

fn server_opts() -> ServerOptions {
    let mut opts = ServerOptions::default();
    opts.tokens.insert(TOKEN.into(), "deployer".into());
    opts
}

/// Fails unless `stderr` (of a deploy) holds the logs of every layer: the plugin's connection
/// and request lines, the kube client's HTTP spans, and hyper's connection traces.
fn assert_logs_on(label: &str, stderr: &str) {
    for (what, needles) in [
        (
            "the plugin's connection line",
            &["kubectl_astro::connect", "connecting"][..],
        ),
        (
            "the plugin's request lines",
            &["kubectl_astro::cluster", "request done", "PATCH"],
        ),
        (
            "the plugin's stage lines",
            &["kubectl_astro::deploy", "stage start"],
        ),
        (
            "the kube client's HTTP span",
            &["kube_client", "HTTP{", "http.method=PATCH", "requesting"],
        ),
        ("hyper's connection traces", &["TRACE", "hyper_util"]),
    ] {
        assert!(
            needles.iter().all(|n| stderr.contains(n)),
            "{label}: logging is off or incomplete: no {what} ({needles:?}) on stderr:\n{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_path_prints_or_writes_a_credential() {
    every_command_path(Logs::RUST_LOG_TRACE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_path_prints_or_writes_a_credential_at_vvv() {
    every_command_path(Logs::VVV).await;
}

async fn every_command_path(logs: Logs) {
    let mut a = Audit::start(server_opts(), logs).await;
    let req = a.path("request.yaml");
    let catalog = examples().join("catalog").display().to_string();
    let base = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec![
            "-f".into(),
            req.clone(),
            "--catalog".into(),
            catalog.clone(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let cmd = |sub: &[&str], rest: Vec<String>| -> Vec<String> {
        let mut v: Vec<String> = sub.iter().map(|s| s.to_string()).collect();
        v.extend(rest);
        v
    };
    let undeploy = |extra: &[&str]| -> Vec<String> {
        let rest = extra.iter().map(|s| s.to_string()).collect();
        cmd(
            &[
                "undeploy",
                "--account",
                "astro-team",
                "--name",
                "engineering-assistant",
            ],
            rest,
        )
    };
    let flag_creds = [
        "--credential",
        "GITHUB_TOKEN=mkFl4g+value/H8=u",
        "--credential",
        "MY_JIRA_API_KEY",
    ];
    macro_rules! run {
        ($label:expr, $args:expr) => {{
            let args: Vec<String> = $args;
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            a.run($label, &refs, None).await
        }};
    }

    // --- no cluster ---------------------------------------------------------------------
    let r = run!("validate", cmd(&["validate"], base(&flag_creds)));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = run!(
        "deploy --dry-run (yaml)",
        cmd(&["deploy", "--dry-run"], base(&flag_creds))
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("<redacted sha256:"), "{}", r.stdout);
    let r = run!(
        "deploy --dry-run -o json",
        cmd(&["deploy", "--dry-run", "-o", "json"], base(&flag_creds))
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run!(
        "deploy --dry-run -f - (empty stdin)",
        vec![
            "deploy".into(),
            "--dry-run".into(),
            "-f".into(),
            "-".into(),
            "--catalog".into(),
            catalog.clone()
        ]
    );
    assert_ne!(r.code, 0);
    let piped = a
        .run(
            "deploy --dry-run -f - (request on stdin)",
            &["deploy", "--dry-run", "-f", "-", "--catalog", &catalog],
            Some(&request_yaml(&CREDS)),
        )
        .await;
    assert_eq!(piped.code, 0, "{}", piped.stderr);

    // --show-secrets on a dry run is the one place values are printed — and it does.
    for output in ["yaml", "json"] {
        let mut args = vec!["deploy", "--dry-run", "--show-secrets", "-o", output];
        let b = base(&flag_creds);
        args.extend(b.iter().map(String::as_str));
        let r = a.run_raw(&args, None).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        for m in [CREDS[0].1, FLAG_VALUE, ENV_VALUE, CREDS[5].1] {
            let shown = forms(m).iter().any(|(_, s)| r.stdout.contains(s));
            assert!(shown, "--show-secrets -o {output} does not show {m}");
        }
        assert!(a.leak(&r.stderr).is_none(), "{}", r.stderr);
        a.paths.push(format!(
            "deploy --dry-run --show-secrets -o {output} (prints them, as asked)"
        ));
    }

    // --- cluster ------------------------------------------------------------------------
    let r = run!(
        "diff before deploy (text)",
        cmd(&["diff"], base(&flag_creds))
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = run!(
        "diff before deploy (-o json)",
        cmd(&["diff", "-o", "json"], base(&flag_creds))
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = run!(
        "deploy --diff",
        cmd(&["deploy", "--diff"], base(&flag_creds))
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_logs_on("deploy --diff", &r.stderr);
    // The generated store passwords are credentials too: read them back and audit them.
    let secrets = a
        .get(&format!("/api/v1/namespaces/{NS}/secrets"))
        .await
        .unwrap_or(Value::Null);
    let mut generated = 0;
    for s in secrets["items"].as_array().cloned().unwrap_or_default() {
        let name = s["metadata"]["name"].as_str().unwrap_or("");
        if !name.contains("-knowledge-") {
            continue;
        }
        for v in s["data"].as_object().cloned().unwrap_or_default().values() {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap_or(""))
                .unwrap_or_default();
            a.markers.push(String::from_utf8_lossy(&raw).into_owned());
            generated += 1;
        }
    }
    assert!(generated > 0, "no generated store password found");
    let r = run!("deploy (unchanged)", cmd(&["deploy"], base(&flag_creds)));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let rotated = ["--credential", "ANTHROPIC_API_KEY=mkR0tated+anth/G7=v"];
    let both: Vec<&str> = flag_creds.iter().chain(rotated.iter()).copied().collect();
    let r = run!(
        "diff of a rotated credential (text)",
        cmd(&["diff"], base(&both))
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("<redacted sha256:"), "{}", r.stdout);
    let r = run!(
        "diff of a rotated credential (-o json)",
        cmd(&["diff", "-o", "json"], base(&both))
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = run!(
        "deploy of a rotated credential --diff",
        cmd(&["deploy", "--diff"], base(&both))
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // A conflict on the credentials Secret: another manager owns a value.
    let secret = "engineering-assistant-build-20260410-0800-credentials";
    let other = base64::engine::general_purpose::STANDARD.encode(CREDS[1].1);
    let body = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": secret, "namespace": NS}, "data": {"GITHUB_TOKEN": other}});
    let path =
        format!("/api/v1/namespaces/{NS}/secrets/{secret}?fieldManager=platform-team&force=true");
    support::patch_as_another_client(&a.server, &path, support::APPLY, &body).await;
    let r = run!("deploy with a conflict", cmd(&["deploy"], base(&both)));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("conflict"), "{}", r.stdout);
    let r = run!("diff with a conflict", cmd(&["diff"], base(&both)));
    assert!(r.code == 1 || r.code == 0, "{}", r.stderr);
    let r = run!(
        "deploy --force-conflicts",
        cmd(&["deploy", "--force-conflicts"], base(&both))
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // Faults: retried ones print `retrying in …` lines; answers fail the object.
    let faults = a.server.faults();
    faults.add(
        Fault::status(503, "ServiceUnavailable", "fault: unavailable")
            .verb("apply")
            .kind("Secret")
            .times(2)
            .retry_after(1),
    );
    faults.add(
        Fault::drop_connection()
            .verb("apply")
            .kind("Secret")
            .times(1),
    );
    faults.add(
        Fault::status(422, "Invalid", "fault: invalid")
            .verb("apply")
            .kind("Secret")
            .name("engineering-assistant-build-20260410-0800-messaging-credentials"),
    );
    // Rotate the Slack token too, so the messaging Secret is applied (an unchanged object
    // that its inventory proof vouches for is not sent at all).
    let slack = format!("SLACK_BOT_TOKEN={ROTATED}");
    let faulted: Vec<&str> = flag_creds
        .iter()
        .copied()
        .chain(["--credential", slack.as_str()])
        .collect();
    let r = run!("deploy under faults", cmd(&["deploy"], base(&faulted)));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("retrying in"), "{}", r.stderr);
    faults.clear();
    faults.add(
        Fault::status(500, "InternalError", "fault: internal")
            .verb("get")
            .times(1),
    );
    let r = run!(
        "diff under faults",
        cmd(&["diff", "-o", "json"], base(&flag_creds))
    );
    assert!(r.code <= 1, "{}", r.stderr);
    faults.clear();

    // The build catalog: the example build, unpublished (a published version never changes,
    // so `build publish` below gives it its first one).
    let example =
        examples().join("catalog/astro-team/engineering-assistant/build-20260410-0800.yaml");
    let text = std::fs::read_to_string(example).expect("example record");
    assert!(
        text.contains("\nversion: 1.2.0\n"),
        "the example is published"
    );
    let record = a.input(
        "build-20260410-0800.yaml",
        &text.replace("\nversion: 1.2.0\n", "\n"),
    );
    let r = run!(
        "build push",
        vec!["build".into(), "push".into(), record.display().to_string()]
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run!("build list", vec!["build".into(), "list".into()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run!(
        "build publish",
        [
            "build",
            "publish",
            "--account",
            "astro-team",
            "--name",
            "engineering-assistant",
            "--build-id",
            "build-20260410-0800",
            "--version",
            "1.2.1"
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut in_cluster: Vec<String> = vec!["deploy".into(), "-f".into(), req.clone()];
    in_cluster.extend(flag_creds.iter().map(|s| s.to_string()));
    let r = run!("deploy from the in-cluster catalog", in_cluster);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // --- error paths --------------------------------------------------------------------
    let mut missing: Vec<(&str, &str)> = CREDS.to_vec();
    missing.retain(|(k, _)| *k != "SLACK_BOT_TOKEN");
    a.input("missing.yaml", &request_yaml(&missing));
    let r = run!(
        "deploy with a missing credential",
        vec![
            "deploy".into(),
            "-f".into(),
            a.path("missing.yaml"),
            "--catalog".into(),
            catalog.clone()
        ]
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stdout.contains("SLACK_BOT_TOKEN"), "{}", r.stdout);
    let r = run!(
        "validate with a missing credential",
        vec![
            "validate".into(),
            "-f".into(),
            a.path("missing.yaml"),
            "--catalog".into(),
            catalog.clone()
        ]
    );
    assert_ne!(r.code, 0);
    let r = run!(
        "dry-run with a missing credential",
        vec![
            "deploy".into(),
            "--dry-run".into(),
            "-f".into(),
            a.path("missing.yaml"),
            "--catalog".into(),
            catalog.clone()
        ]
    );
    assert_eq!(r.code, 3);
    // Invalid requests that carry credentials: the error must name the problem, not echo
    // the document.
    let bad_inputs = [
        (
            "unknown-field.yaml",
            format!("{}bogus_field: 1\n", request_yaml(&CREDS)),
        ),
        (
            "wrong-type.yaml",
            request_yaml(&CREDS).replace(
                "user_credentials:\n",
                "user_credentials:\n  NUMBER_KEY: [1, 2]\n",
            ),
        ),
        (
            "broken-yaml.yaml",
            request_yaml(&CREDS).replace(
                &format!("  GITHUB_TOKEN: {}", Value::String(CREDS[1].1.into())),
                &format!("  GITHUB_TOKEN: \"{}\n  x: [", CREDS[1].1),
            ),
        ),
        (
            "broken-json.json",
            format!(
                "{{\"account\": \"astro-team\", \"name\": \"engineering-assistant\", \"user_credentials\": {{\"ANTHROPIC_API_KEY\": \"{}\", }}",
                CREDS[0].1
            ),
        ),
        (
            "bad-name.yaml",
            request_yaml(&CREDS).replace("name: engineering-assistant", "name: ../../etc"),
        ),
        (
            "bad-schedule.yaml",
            request_yaml(&CREDS).replace("0 */6 * * *", "not a cron"),
        ),
        (
            "bad-credential-key.yaml",
            request_yaml(&CREDS).replace("  GITHUB_TOKEN:", "  \"bad key=\":"),
        ),
        (
            "credentials-as-string.yaml",
            format!(
                "account: astro-team\nname: engineering-assistant\nuser_credentials: {}\n",
                Value::String(CREDS[0].1.into())
            ),
        ),
        (
            "credential-as-map.yaml",
            request_yaml(&CREDS).replace(
                &format!("  GITHUB_TOKEN: {}", Value::String(CREDS[1].1.into())),
                &format!(
                    "  GITHUB_TOKEN: {{ {}: 1 }}",
                    Value::String(CREDS[1].1.into())
                ),
            ),
        ),
        (
            "huge-credential.yaml",
            request_yaml(&CREDS).replace(
                &Value::String(CREDS[2].1.into()).to_string(),
                &Value::String(format!("{}{}", CREDS[2].1, "A".repeat(2 << 20))).to_string(),
            ),
        ),
    ];
    for (name, text) in &bad_inputs {
        a.input(name, text);
        for sub in [
            vec!["deploy", "--dry-run"],
            vec!["deploy"],
            vec!["validate"],
            vec!["diff"],
        ] {
            let mut args: Vec<String> = sub.iter().map(|s| s.to_string()).collect();
            args.extend([
                "-f".into(),
                a.path(name),
                "--catalog".into(),
                catalog.clone(),
            ]);
            let r = run!(&format!("{} with {name}", sub.join(" ")), args);
            assert!(r.code >= 1, "{name}: {}", r.stdout);
        }
    }
    let r = run!(
        "--credential with a bad key",
        cmd(
            &["deploy", "--dry-run"],
            base(&["--credential", "bad key=mkFl4g+value/H8=u"])
        )
    );
    assert_ne!(r.code, 0, "{}", r.stdout);
    let r = run!(
        "--credential KEY without the variable",
        cmd(
            &["deploy", "--dry-run"],
            base(&["--credential", "NOT_SET_ANYWHERE"])
        )
    );
    assert_eq!(r.code, 3);
    let r = run!(
        "--show-secrets without --dry-run",
        cmd(&["deploy", "--show-secrets"], base(&flag_creds))
    );
    assert_eq!(r.code, 3);
    let r = run!(
        "--schedule without '='",
        cmd(
            &["deploy", "--dry-run"],
            base(&["--schedule", "not-a-schedule"])
        )
    );
    assert_eq!(r.code, 3);

    let r = run!("undeploy --wait", undeploy(&["--wait"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = run!("undeploy of nothing", undeploy(&[]));
    assert_eq!(r.code, 5);

    // Unauthorized: the wrong token is not echoed either.
    let kc = a.server.kubeconfig_yaml().replace(TOKEN, WRONG_TOKEN);
    a.input("kubeconfig", &kc);
    for (label, sub) in [
        ("deploy unauthorized", vec!["deploy"]),
        ("diff unauthorized", vec!["diff"]),
    ] {
        let r = run!(label, cmd(&sub, base(&flag_creds)));
        assert_eq!(r.code, 4, "{}{}", r.stdout, r.stderr);
    }
    let r = run!("undeploy unauthorized", undeploy(&[]));
    assert_eq!(r.code, 4);
    let r = run!(
        "build list unauthorized",
        vec!["build".into(), "list".into()]
    );
    assert_eq!(r.code, 4);
    // Unreachable: the token is in the kubeconfig, the error must not show it.
    let kc = a
        .server
        .kubeconfig_yaml()
        .replace(&a.server.base_url(), "http://127.0.0.1:9");
    a.input("kubeconfig", &kc);
    let r = run!(
        "deploy to an unreachable cluster",
        cmd(&["deploy", "--request-timeout", "2s"], base(&flag_creds))
    );
    assert_eq!(r.code, 1);
    // A kubeconfig that does not parse, holding the token on a broken line.
    let kc = a
        .server
        .kubeconfig_yaml()
        .replace(&format!("token: {TOKEN}"), &format!("token: [\"{TOKEN}\""));
    a.input("kubeconfig", &kc);
    let r = run!(
        "deploy with a broken kubeconfig",
        cmd(&["deploy"], base(&flag_creds))
    );
    assert_ne!(r.code, 0);

    let files = a.check_files();
    println!(
        "audited {} command paths, {files} written files",
        a.paths.len()
    );
    for p in &a.paths {
        println!("  {p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_paths_do_not_print_credentials() {
    forbidden_paths(Logs::RUST_LOG_TRACE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_paths_do_not_print_credentials_at_vvv() {
    forbidden_paths(Logs::VVV).await;
}

async fn forbidden_paths(logs: Logs) {
    let mut opts = server_opts();
    // May do everything but write Secrets, then nothing at all in a second phase.
    opts.allow = Some(vec![
        AllowRule::new(
            "deployer",
            &["*"],
            &[
                "namespaces",
                "configmaps",
                "services",
                "deployments",
                "statefulsets",
                "jobs",
                "cronjobs",
                "ingresses",
                "networkpolicies",
            ],
        ),
        AllowRule::new("deployer", &["get", "list"], &["secrets"]),
    ]);
    let mut a = Audit::start(opts, logs).await;
    let req = a.path("request.yaml");
    let catalog = examples().join("catalog").display().to_string();
    let args = |sub: &str| -> Vec<String> {
        vec![
            sub.into(),
            "-f".into(),
            req.clone(),
            "--catalog".into(),
            catalog.clone(),
        ]
    };
    for (label, sub) in [
        ("deploy forbidden Secrets", "deploy"),
        ("diff forbidden Secrets", "diff"),
    ] {
        let v = args(sub);
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        let r = a.run(label, &refs, None).await;
        assert!(
            r.code == 2 || r.code == 4 || r.code == 1,
            "{label}: {}{}",
            r.stdout,
            r.stderr
        );
        if sub == "deploy" {
            assert!(r.stdout.contains("forbidden"), "{}", r.stdout);
        }
    }
    a.check_files();
}

/// Over TLS a fourth layer logs at `-vvv`: rustls, through the `log` bridge. The bearer token
/// travels inside the TLS stream and must not appear in its traces either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_traces_hold_no_credential() {
    let mut opts = server_opts();
    opts.tls = true;
    let mut a = Audit::start(opts, Logs::VVV).await;
    let req = a.path("request.yaml");
    let catalog = examples().join("catalog").display().to_string();
    let args = ["deploy", "-f", &req, "--catalog", &catalog];
    let r = a.run("deploy over TLS", &args, None).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_logs_on("deploy over TLS", &r.stderr);
    assert!(
        r.stderr.contains("rustls"),
        "no rustls traces:\n{}",
        r.stderr
    );
    a.check_files();
}

/// Each level logs what README.md says, and `RUST_LOG` replaces the flag's level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_verbosity_logs_what_it_says() {
    let mut a = Audit::start(server_opts(), Logs::new(None, None)).await;
    let req = a.path("request.yaml");
    let catalog = examples().join("catalog").display().to_string();
    let args = ["deploy", "-f", &req, "--catalog", &catalog];
    let connect = "INFO kubectl_astro::connect: connecting";
    let request = "DEBUG kubectl_astro::cluster: request done";
    let stage = "INFO kubectl_astro::deploy: stage start";
    let cases: [(Logs, &[&str], &[&str]); 5] = [
        (
            Logs::new(None, None),
            &[],
            &["kubectl_astro", "kube_client", "INFO", "DEBUG"],
        ),
        (
            Logs::new(Some("-v"), None),
            &[connect, stage],
            &["DEBUG", "TRACE", "kube_client", "hyper_util"],
        ),
        (
            Logs::new(Some("-vv"), None),
            &[connect, stage, request],
            &["TRACE", "HTTP{", "hyper_util", "tower"],
        ),
        (
            Logs::new(Some("-vvv"), Some("kubectl_astro=info")),
            &[connect, stage],
            &["DEBUG", "TRACE", "kube_client"],
        ),
        (
            Logs::new(None, Some("kube_client=debug")),
            &["kube_client", "HTTP{", "requesting"],
            &["kubectl_astro"],
        ),
    ];
    for (logs, present, absent) in cases {
        a.logs = logs;
        let label = format!("deploy with {logs:?}");
        let r = a.run(&label, &args, None).await;
        assert_eq!(r.code, 0, "{label}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.starts_with('{'),
            "{label}: stdout is not the JSON alone"
        );
        for p in present {
            assert!(
                r.stderr.contains(p),
                "{label}: no {p:?} on stderr:\n{}",
                r.stderr
            );
        }
        for p in absent {
            assert!(
                !r.stderr.contains(p),
                "{label}: {p:?} on stderr:\n{}",
                r.stderr
            );
        }
    }
}
