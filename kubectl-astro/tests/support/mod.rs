//! What the cluster test files share: a test-apiserver with a kubeconfig in a temp dir, and
//! running the real `kubectl-astro` binary against it. Each test binary uses a part of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use astro_deploy::kind::Kind;
use serde_json::Value;
use test_apiserver::{ServerOptions, TestApiServer};

/// Namespace of the shipped example deployment.
pub const NS: &str = "astro-astro-team-weather-agent";

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The repository's examples/ directory.
pub fn examples() -> PathBuf {
    repo_root().join("examples")
}

/// The paths of the entries of `dir`, sorted by name. A directory or an entry that cannot be
/// read is an error naming it: a corpus must fail, never silently shrink.
pub fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths = entries
        .map(|entry| {
            entry
                .map(|entry| entry.path())
                .map_err(|e| format!("cannot read an entry of {}: {e}", dir.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    paths.sort();
    Ok(paths)
}

/// Reads `path` as UTF-8 text; `None` only if it does not exist, any other failure an error
/// naming the file.
pub fn read_optional(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// `deploy --dry-run` of `request.yaml` with `build.yaml`, both in the working directory.
pub const DRY_RUN: [&str; 6] = [
    "deploy",
    "--dry-run",
    "-f",
    "request.yaml",
    "--build",
    "build.yaml",
];

/// Every golden case directory under `tests/golden`, sorted. `README.md` is the only other
/// entry allowed; anything else, or an entry that cannot be read, is an error.
pub fn golden_cases() -> Result<Vec<PathBuf>, String> {
    let mut cases = Vec::new();
    for path in sorted_entries(&repo_root().join("tests").join("golden"))? {
        let meta =
            std::fs::metadata(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if meta.is_dir() {
            cases.push(path);
        } else if !path.ends_with("README.md") {
            return Err(format!(
                "{} is neither a case directory nor README.md",
                path.display()
            ));
        }
    }
    Ok(cases)
}

/// The directory name of a golden case, which is its test name.
pub fn golden_case_name(case: &Path) -> Result<String, String> {
    case.file_name()
        .and_then(|n| n.to_str())
        .map(String::from)
        .ok_or_else(|| format!("{} has no UTF-8 name", case.display()))
}

/// The extra flags of a golden case (its `args` file, one per line).
pub fn golden_args(case: &Path) -> Result<Vec<String>, String> {
    let text = read_optional(&case.join("args"))?.unwrap_or_default();
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

/// The objects a golden case renders (its dry run with its flags, as JSON).
pub fn golden_objects(case: &Path) -> Result<Vec<Value>, String> {
    let mut args = golden_args(case)?;
    if let Some(i) = args.iter().position(|a| a == "-o") {
        args.drain(i..(i + 2).min(args.len()));
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-astro"))
        .current_dir(case)
        .args(DRY_RUN)
        .args(["-o", "json"])
        .args(&args)
        .output()
        .map_err(|e| format!("cannot run kubectl-astro: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{}: dry run failed: {}",
            case.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let list: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{}: not JSON: {e}", case.display()))?;
    match list["items"].as_array() {
        Some(items) if !items.is_empty() => Ok(items.clone()),
        _ => Err(format!("{}: no items in the List", case.display())),
    }
}

/// `<command…> --account astro-team --name weather-agent <extra…>`: a command about the
/// shipped example agent.
pub fn weather_agent(command: &[&str], extra: &[&str]) -> Vec<String> {
    let agent = ["--account", "astro-team", "--name", "weather-agent"];
    [command, &agent[..], extra]
        .concat()
        .into_iter()
        .map(String::from)
        .collect()
}

/// A running test-apiserver and a temp dir holding its kubeconfig.
pub struct Env {
    pub server: TestApiServer,
    pub dir: tempfile::TempDir,
}

impl Env {
    /// A server with `opts`; the kubeconfig carries its first token, if any.
    pub async fn start(opts: ServerOptions) -> Env {
        let server = TestApiServer::start_with(opts)
            .await
            .expect("test-apiserver starts");
        let kubeconfig = server.kubeconfig_yaml();
        Env::with_kubeconfig(server, &kubeconfig)
    }

    /// A server with default options.
    pub async fn new() -> Env {
        Self::start(ServerOptions::default()).await
    }

    /// Wraps a started server, writing `kubeconfig` as the binary's kubeconfig.
    pub fn with_kubeconfig(server: TestApiServer, kubeconfig: &str) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("kubeconfig"), kubeconfig).expect("kubeconfig written");
        Env { server, dir }
    }

    /// Path of the kubeconfig the binary uses.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// `kubectl-astro <args>` pointed at this server, output piped, killed when dropped.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubectl-astro"));
        cmd.args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Runs kubectl-astro with `args`; returns exit code, stdout, stderr. A panic fails the test.
    pub async fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> (i32, String, String) {
        let out = self
            .command(args)
            .output()
            .await
            .expect("kubectl-astro runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "panic: {stderr}");
        (out.status.code().unwrap_or(-1), stdout, stderr)
    }

    /// The arguments of `deploy` of an example request with the example catalog, plus `extra`.
    pub fn deploy_args(request: &str, extra: &[&str]) -> Vec<String> {
        let mut args = vec![
            "deploy".to_string(),
            "-f".into(),
            examples().join(request).display().to_string(),
            "--catalog".into(),
            examples().join("catalog").display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// `deploy` of an example request; returns exit code, the JSON on stdout, stderr.
    pub async fn deploy(&self, request: &str, extra: &[&str]) -> (i32, Value, String) {
        let (code, stdout, stderr) = self.run(&Self::deploy_args(request, extra)).await;
        let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
        (code, json, stderr)
    }

    /// GET `path` with the server's own client; `None` for any error (404 included).
    pub async fn get(&self, path: &str) -> Option<Value> {
        get(&self.server, path).await
    }
}

/// GET `path` with `server`'s own client; `None` for any error (404 included).
pub async fn get(server: &TestApiServer, path: &str) -> Option<Value> {
    let client = server.client().await.expect("client");
    let req = http::Request::get(path).body(Vec::new()).expect("request");
    client.request::<Value>(req).await.ok()
}

/// PATCHes `path` with `body` as `content_type` through `server`'s own client (someone other
/// than the plugin); returns the stored object.
pub async fn patch_as_another_client(
    server: &TestApiServer,
    path: &str,
    content_type: &str,
    body: &Value,
) -> Value {
    let req = http::Request::patch(path)
        .header("Content-Type", content_type)
        .body(serde_json::to_vec(body).unwrap_or_default())
        .expect("request");
    let client = server.client().await.expect("client");
    client
        .request::<Value>(req)
        .await
        .unwrap_or_else(|e| panic!("PATCH {path}: {e}"))
}

/// The path of the deployments' Leases (`kubectl_astro::lock`).
pub const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/astro-system/leases";

/// The requests of `log` that take and release a deployment's Lease (and create namespace
/// astro-system for the first one), and the others.
pub fn split_lease_requests(
    log: Vec<test_apiserver::LoggedRequest>,
) -> (
    Vec<test_apiserver::LoggedRequest>,
    Vec<test_apiserver::LoggedRequest>,
) {
    log.into_iter()
        .partition(|r| r.path.starts_with(LEASES) || r.path == "/api/v1/namespaces/astro-system")
}

/// The path of the cluster settings ConfigMap (`kubectl_astro::settings`).
pub const SETTINGS: &str = "/api/v1/namespaces/astro-system/configmaps/astro-settings";

/// The requests of `log` but the GET of the cluster settings that a deploy or a diff sends,
/// which must have been sent exactly once.
pub fn without_settings_read(
    log: Vec<test_apiserver::LoggedRequest>,
) -> Vec<test_apiserver::LoggedRequest> {
    let (settings, rest): (Vec<_>, Vec<_>) = log.into_iter().partition(|r| r.path == SETTINGS);
    let verbs: Vec<&str> = settings.iter().map(|r| r.verb.as_str()).collect();
    assert_eq!(verbs, ["get"], "one read of the settings: {settings:#?}");
    rest
}

/// Writes the cluster settings ConfigMap with `data` (and its namespace), as the cluster's
/// operator would, replacing the keys written before.
pub async fn put_settings(server: &TestApiServer, data: Value) {
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "astro-system"}});
    patch_as_another_client(
        server,
        "/api/v1/namespaces/astro-system?fieldManager=operator",
        APPLY,
        &ns,
    )
    .await;
    let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "astro-settings", "namespace": "astro-system"}, "data": data});
    patch_as_another_client(
        server,
        &format!("{SETTINGS}?fieldManager=operator"),
        APPLY,
        &cm,
    )
    .await;
}

/// Content type of a server-side apply.
pub const APPLY: &str = "application/apply-patch+yaml";
/// Content type of a JSON merge patch.
pub const MERGE_PATCH: &str = "application/merge-patch+json";

/// `(Kind/name, action)` of every resource in a DeployResponse.
pub fn actions(resp: &Value) -> Vec<(String, String)> {
    resp["resources"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    (
                        format!(
                            "{}/{}",
                            r["kind"].as_str().unwrap_or(""),
                            r["name"].as_str().unwrap_or("")
                        ),
                        r["action"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `Kind/name` of every resource with `action`.
pub fn with_action(resp: &Value, action: &str) -> Vec<String> {
    actions(resp)
        .into_iter()
        .filter(|(_, a)| a == action)
        .map(|(k, _)| k)
        .collect()
}

/// The object without what the server alone decides: managedFields, resourceVersion, uid,
/// creationTimestamp, generation, status and the allocated clusterIP(s); values equal to the
/// uid (Job selectors) become `<uid>`. Two clusters given the same deploys then compare equal.
pub fn strip_bookkeeping(mut obj: Value) -> Value {
    let uid = obj["metadata"]["uid"].as_str().unwrap_or("").to_string();
    if let Some(meta) = obj["metadata"].as_object_mut() {
        for k in [
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
        ] {
            meta.remove(k);
        }
    }
    if let Some(o) = obj.as_object_mut() {
        o.remove("status");
    }
    // Allocated by the server in request order.
    if let Some(spec) = obj["spec"].as_object_mut() {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
    if !uid.is_empty() {
        replace_str(&mut obj, &uid, "<uid>");
    }
    obj
}

fn replace_str(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) if s == from => *s = to.to_string(),
        Value::Array(items) => items.iter_mut().for_each(|i| replace_str(i, from, to)),
        Value::Object(map) => map.values_mut().for_each(|i| replace_str(i, from, to)),
        _ => {}
    }
}

/// No object created twice: a second 201 for a path needs a successful DELETE in between (a
/// Job replaced because its template is immutable, a pruned object deployed again). The log
/// keeps the real status of a write whose answer was lost, so a retried create counts too.
pub fn created_once(env: &Env, what: &str) {
    let mut alive: std::collections::BTreeMap<String, bool> = Default::default();
    for r in env.server.request_log() {
        if r.status == 201 {
            let was = alive.insert(r.path.clone(), true).unwrap_or(false);
            assert!(!was, "{what}: {} created twice", r.path);
        } else if r.method == "DELETE" && (200..300).contains(&r.status) {
            alive.insert(r.path.clone(), false);
        }
    }
}

/// Holds the next apply of the Deployment for 5 s and deploys the example with
/// `--request-timeout 1s`: that apply fails with the timeout's message after 1 s, is retried
/// once, and the deploy succeeds long before the server would have answered.
pub async fn deploy_past_one_stuck_apply(env: &Env) {
    env.server.faults().add(
        test_apiserver::Fault::delay_only(std::time::Duration::from_secs(5))
            .verb("patch")
            .kind("Deployment")
            .times(1),
    );
    let started = std::time::Instant::now();
    let (code, resp, stderr) = env
        .deploy("deploy-request.json", &["--request-timeout", "1s"])
        .await;
    let took = started.elapsed();
    assert_eq!(code, 0, "{resp} {stderr}");
    assert!(with_action(&resp, "failed").is_empty(), "{resp}");
    assert!(
        stderr.contains("no answer within 1000 ms (--request-timeout)"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("retrying in").count(), 1, "{stderr}");
    // The deadline, not the server's 5 s, decided when the stuck attempt ended.
    assert!(took < std::time::Duration::from_secs(4), "{took:?}");
}

/// A deployment as the cluster holds it: `Kind/name` → object, and the inventory's keys
/// (`Env::state`).
pub type State = (BTreeMap<String, Value>, BTreeSet<String>);

impl Env {
    /// Every object of the deployment in [`NS`]: `Kind/name` → the object as a GET returns it,
    /// without server bookkeeping, generated store passwords masked, the Namespace without its
    /// inventory annotation, its deployment records left out; plus the inventory's keys.
    pub async fn state(&self) -> State {
        let mut objects = BTreeMap::new();
        for kind in Kind::ALL.into_iter().filter(|k| k.namespaced()) {
            let list = self
                .get(&kind.collection_path(NS))
                .await
                .unwrap_or(Value::Null);
            for item in list["items"].as_array().cloned().unwrap_or_default() {
                // The deployment's history is not part of what it deployed.
                if item["metadata"]["labels"]["astro.dev/deployment-record"] == "true" {
                    continue;
                }
                let name = item["metadata"]["name"].as_str().unwrap_or("").to_string();
                // GET each object (not only the list item): what a client really reads.
                let path = kind.object_path(NS, &name);
                let obj = self.get(&path).await.expect("listed object can be read");
                let mut obj = strip_bookkeeping(obj);
                if kind == Kind::Secret && name.contains("-knowledge-") {
                    mask_generated(&mut obj, &name);
                }
                objects.insert(format!("{kind}/{name}"), obj);
            }
        }
        let mut inventory = BTreeSet::new();
        if let Some(ns) = self.get(&format!("/api/v1/namespaces/{NS}")).await {
            let text = ns["metadata"]["annotations"]["astro.dev/inventory"]
                .as_str()
                .unwrap_or("{}")
                .to_string();
            let inv: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            inventory = inv["objects"]
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            let mut ns = strip_bookkeeping(ns);
            if let Some(a) = ns["metadata"]["annotations"].as_object_mut() {
                a.remove("astro.dev/inventory");
            }
            objects.insert(format!("Namespace/{NS}"), ns);
        }
        (objects, inventory)
    }
}

/// A generated store password differs between clusters by design: check its shape (32 hex
/// characters, base64-encoded) and replace it with `<generated>`.
pub fn mask_generated(secret: &mut Value, name: &str) {
    use base64::Engine;
    if let Some(data) = secret["data"].as_object_mut() {
        for (k, v) in data.iter_mut() {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap_or(""))
                .unwrap_or_default();
            assert!(
                raw.len() == 32 && raw.iter().all(u8::is_ascii_hexdigit),
                "{name}: {k} is not a generated password"
            );
            *v = Value::String("<generated>".into());
        }
    }
}

/// The state of a fresh cluster after deploying each of `requests` in turn, all succeeding.
pub async fn state_after(requests: &[&str]) -> State {
    let env = Env::new().await;
    for request in requests {
        let (code, resp, stderr) = env.deploy(request, &[]).await;
        assert_eq!(code, 0, "{resp} {stderr}");
    }
    env.state().await
}

/// `got` equals `want`: the same objects, each equal, and the same inventory.
pub fn assert_same_state(got: &State, want: &State, what: &str) {
    let (objects, inventory) = got;
    let (want_objects, want_inventory) = want;
    assert_eq!(
        objects.keys().collect::<Vec<_>>(),
        want_objects.keys().collect::<Vec<_>>(),
        "{what}: objects lost or left over"
    );
    for (k, v) in want_objects {
        assert_eq!(
            objects.get(k),
            Some(v),
            "{what}: {k} differs from the reference run"
        );
    }
    assert_eq!(inventory, want_inventory, "{what}: inventory differs");
}

/// Checks a `partial` DeployResponse of the agent in namespace `ns`: it has errors, every
/// failed object has a message and is named in `errors` with it, and every error names a
/// failed object, the inventory write or the deployment history. Returns each failed
/// object's `Kind/name` and message, for the caller's own checks.
pub fn partial_failures(resp: &Value, ns: &str, what: &str) -> Vec<(String, String)> {
    assert_eq!(resp["status"], "partial", "{what}: {resp}");
    let errors: Vec<&str> = resp["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(!errors.is_empty(), "{what}: partial without errors: {resp}");
    let failed: Vec<(String, String)> = resp["resources"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter(|r| r["action"] == "failed")
                .map(|r| {
                    let id = format!(
                        "{}/{}",
                        r["kind"].as_str().unwrap_or(""),
                        r["name"].as_str().unwrap_or("")
                    );
                    (id, r["message"].as_str().unwrap_or("").to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    for (id, msg) in &failed {
        assert!(!msg.is_empty(), "{what}: {id} failed without a message");
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(&format!("{id}: ")) && e.contains(msg.as_str())),
            "{what}: {id} not named in errors with its message: {errors:?}"
        );
    }
    // Every error names a failed object, the inventory write, or the deployment history
    // (read, written, or an old record deleted).
    for e in &errors {
        let named = failed
            .iter()
            .any(|(id, _)| e.starts_with(&format!("{id}: ")))
            || e.starts_with(&format!("Namespace/{ns}: recording the inventory failed"))
            || e.starts_with(&format!("Namespace/{ns}: reading the deployment history: "))
            || e.starts_with("ConfigMap/astro.deployment-record.");
        assert!(named, "{what}: error names no failed object: {e}");
    }
    failed
}

/// A `kubectl-astro serve` process's output, read as it comes: stdout and stderr, line by
/// line, shared with the test.
pub type ServeOutput = std::sync::Arc<std::sync::Mutex<String>>;

/// Reads the stdout and stderr of a spawned `serve` (both piped) into a [`ServeOutput`] and
/// waits until it prints the address it listens on; returns that base URL and the output.
/// Panics with what it printed when it does not listen within `wait`.
pub async fn serve_started(
    child: &mut tokio::process::Child,
    wait: std::time::Duration,
) -> (String, ServeOutput) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let output = ServeOutput::default();
    let stderr = child.stderr.take().expect("stderr piped");
    let mut stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let seen = output.clone();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(addr) = line.strip_prefix("serving the Deploy API on ")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(addr.to_string());
            }
            let mut out = seen.lock().unwrap_or_else(|e| e.into_inner());
            out.push_str(&line);
            out.push('\n');
        }
    });
    let seen = output.clone();
    tokio::spawn(async move {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text).await;
        seen.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_str(&text);
    });
    let base = match tokio::time::timeout(wait, rx).await {
        Ok(Ok(base)) => base,
        _ => panic!(
            "serve did not start: {}",
            output.lock().unwrap_or_else(|e| e.into_inner())
        ),
    };
    (base, output)
}
