//! Conformance runs of the real kubectl binary (on PATH; a dispatcher that picks the bundled
//! kubectl matching /version minor 32). Each run gets its own --kubeconfig and --cache-dir, as
//! kubectl caches discovery per host (cli-runtime `config_flags.go`).

mod common;
use common::TempDir;
use serde_json::{Value, json};
use test_apiserver::TestApiServer;

struct Kubectl {
    dir: TempDir,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Kubectl {
    fn new(s: &TestApiServer) -> Self {
        let dir = TempDir::new("kubectl");
        s.write_kubeconfig(&dir.path().join("kubeconfig"))
            .expect("kubeconfig");
        Self { dir }
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write manifest");
        p.to_string_lossy().to_string()
    }

    async fn run(&self, args: &[&str]) -> Out {
        let kc = self.dir.path().join("kubeconfig");
        let cache = self.dir.path().join("cache");
        let out = tokio::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kc)
            .arg("--cache-dir")
            .arg(&cache)
            .args(args)
            .env_remove("KUBECONFIG")
            .env("HOME", self.dir.path())
            .output()
            .await
            .expect("kubectl runs");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    }
}

const MANIFEST: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: team-a
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: team-a
  labels: {app: web}
data:
  a: \"1\"
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: team-a
spec:
  selector: {app: web}
  ports:
  - port: 80
";

const NS: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n";

async fn setup() -> (TestApiServer, Kubectl, String) {
    let s = TestApiServer::start().await.expect("start");
    let k = Kubectl::new(&s);
    let ns = k.write("ns.yaml", NS);
    let o = k.run(&["apply", "--server-side", "-f", &ns]).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    let m = k.write("app.yaml", MANIFEST);
    (s, k, m)
}

/// Multi-document apply --server-side (validation via OpenAPI v3, no --validate=false) sends one
/// apply PATCH per object. Upstream: cli-runtime `query_param_verifier_v3.go`; kubectl
/// `cmd/apply/apply.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_server_side_multi_doc() {
    let (s, k, m) = setup().await;
    s.clear_request_log();
    let o = k.run(&["apply", "--server-side", "-f", &m]).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "deployment.apps/web serverside-applied\nconfigmap/cfg serverside-applied\nservice/web serverside-applied\n"
    );
    let patches: Vec<_> = s
        .request_log()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 3);
    assert_eq!(
        patches[0].path,
        "/apis/apps/v1/namespaces/team-a/deployments/web"
    );
    assert_eq!(
        patches[0].query,
        "fieldManager=kubectl&fieldValidation=Strict&force=false"
    );
    assert!(
        patches[0]
            .content_type
            .starts_with("application/apply-patch+yaml")
    );
    assert_eq!(patches[0].status, 201);
}

/// Re-applying the same manifest changes nothing (same resourceVersion).
/// Upstream: structured-merge-diff `merge.Updater`; `IgnoreManagedFieldsTimestampsTransformer`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reapply_no_change() {
    let (s, k, m) = setup().await;
    assert_eq!(k.run(&["apply", "--server-side", "-f", &m]).await.code, 0);
    let rv = s.resource_version();
    let o = k.run(&["apply", "--server-side", "-f", &m]).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(s.resource_version(), rv);
}

/// A second --field-manager changing an owned field fails with kubectl's message. Upstream:
/// structured-merge-diff `merge.Updater.Apply`; managedfields `conflict.go`; kubectl
/// `cmd/apply/apply.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_conflict_with_second_manager() {
    let (_s, k, m) = setup().await;
    assert_eq!(k.run(&["apply", "--server-side", "-f", &m]).await.code, 0);
    let m3 = k.write("app3.yaml", &MANIFEST.replace("replicas: 2", "replicas: 3"));
    let o = k
        .run(&[
            "apply",
            "--server-side",
            "--field-manager",
            "other",
            "-f",
            &m3,
        ])
        .await;
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("error: Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas\nPlease review the fields above--they currently have other managers."),
        "{}",
        o.stderr
    );
    // --force-conflicts takes over.
    // Upstream: structured-merge-diff `merge.Updater.Apply`.
    let o = k
        .run(&[
            "apply",
            "--server-side",
            "--field-manager",
            "other",
            "--force-conflicts",
            "-f",
            &m3,
        ])
        .await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = k
        .run(&[
            "get",
            "deployment",
            "web",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.spec.replicas}",
        ])
        .await;
    assert_eq!(o.stdout, "3");
}

/// Diff --server-side exits 0 when unchanged and 1 with only the real changes.
/// Upstream: kubectl `cmd/diff/diff.go`; apiserver `registry/generic/registry/dryrun.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_diff_server_side() {
    let (_s, k, m) = setup().await;
    assert_eq!(k.run(&["apply", "--server-side", "-f", &m]).await.code, 0);
    let o = k.run(&["diff", "--server-side", "-f", &m]).await;
    assert_eq!(o.code, 0, "stdout: {} stderr: {}", o.stdout, o.stderr);
    assert_eq!(o.stdout, "");
    let m3 = k.write("app3.yaml", &MANIFEST.replace("replicas: 2", "replicas: 3"));
    let o = k.run(&["diff", "--server-side", "-f", &m3]).await;
    assert_eq!(o.code, 1, "{}", o.stderr);
    let changed: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(
        changed,
        vec![
            "-  generation: 1",
            "+  generation: 2",
            "-  replicas: 2",
            "+  replicas: 3"
        ]
    );
}

/// Diff of a missing object shows the whole would-be object (LIVE empty).
/// Upstream: kubectl `cmd/diff/diff.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_diff_new_object() {
    let (_s, k, m) = setup().await;
    let o = k.run(&["diff", "--server-side", "-f", &m]).await;
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stdout.contains("+  name: web"));
}

/// Get -o json --show-managed-fields shows managedFields as kubectl prints them.
/// Upstream: managedfields `managedfields.go`; structured-merge-diff `fieldpath/serialize.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_json_managed_fields() {
    let (_s, k, m) = setup().await;
    assert_eq!(k.run(&["apply", "--server-side", "-f", &m]).await.code, 0);
    let o = k
        .run(&["get", "deployment", "web", "-n", "team-a", "-o", "json"])
        .await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).expect("json");
    assert!(
        v["metadata"].get("managedFields").is_none(),
        "kubectl hides them by default"
    );
    let o = k
        .run(&[
            "get",
            "deployment",
            "web",
            "-n",
            "team-a",
            "-o",
            "json",
            "--show-managed-fields",
        ])
        .await;
    let v: Value = serde_json::from_str(&o.stdout).expect("json");
    let mf = &v["metadata"]["managedFields"][0];
    assert_eq!(mf["manager"], json!("kubectl"));
    assert_eq!(mf["operation"], json!("Apply"));
    assert_eq!(mf["fieldsType"], json!("FieldsV1"));
    assert_eq!(
        mf["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"]
            ["f:ports"],
        json!({"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}})
    );
    let o = k
        .run(&["get", "configmaps", "-A", "-l", "app=web", "-o", "name"])
        .await;
    assert_eq!(o.stdout, "configmap/cfg\n");
}

/// Delete -f, then deleting again reports the real NotFound message. Upstream: kubectl
/// `cmd/delete/delete.go`; apimachinery `errors.NewNotFound`; apiserver `handlers/delete.go`;
/// `registry/generic/registry/store.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_delete() {
    let (_s, k, m) = setup().await;
    assert_eq!(k.run(&["apply", "--server-side", "-f", &m]).await.code, 0);
    let o = k.run(&["delete", "-f", &m]).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "deployment.apps \"web\" deleted\nconfigmap \"cfg\" deleted\nservice \"web\" deleted\n"
    );
    let o = k.run(&["delete", "-f", &m]).await;
    assert_ne!(o.code, 0);
    assert!(
        o.stderr
            .contains("Error from server (NotFound): error when deleting \"")
            && o.stderr.contains("deployments.apps \"web\" not found"),
        "{}",
        o.stderr
    );
}

/// Namespace deletion removes its content synchronously; kubectl's wait ends at once.
/// Upstream: `pkg/registry/core/namespace/storage/storage.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_namespace_deletion() {
    let (_s, k, m) = setup().await;
    assert_eq!(k.run(&["apply", "--server-side", "-f", &m]).await.code, 0);
    let o = k.run(&["delete", "namespace", "team-a"]).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "namespace \"team-a\" deleted\n");
    let o = k.run(&["get", "namespace", "team-a"]).await;
    assert_eq!(
        o.stderr.trim(),
        "Error from server (NotFound): namespaces \"team-a\" not found"
    );
    let o = k.run(&["get", "deployments", "-A", "-o", "name"]).await;
    assert_eq!(o.stdout, "");
}

/// An immutable selector change is shown by kubectl as "The Deployment ... is invalid". Upstream:
/// kubectl `cmd/util/helpers.go`; `pkg/apis/*/validation/validation.go` `Validate*Update`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_immutable_selector() {
    let (_s, k, m) = setup().await;
    assert_eq!(k.run(&["apply", "--server-side", "-f", &m]).await.code, 0);
    let changed = MANIFEST.replace("{app: web}", "{app: web2}");
    let m2 = k.write("app2.yaml", &changed);
    let o = k.run(&["apply", "--server-side", "-f", &m2]).await;
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains("The Deployment \"web\" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"),
        "{}",
        o.stderr
    );
}

/// `kubectl get` asks for a Table and prints the real columns.
/// Upstream: meta/v1 `Table`; `pkg/printers/internalversion/printers.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_prints_table_columns() {
    let (s, k, m) = setup().await;
    assert_eq!(k.run(&["apply", "--server-side", "-f", &m]).await.code, 0);
    s.clear_request_log();
    let o = k.run(&["get", "deployments", "-n", "team-a"]).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    let header: Vec<&str> = o
        .stdout
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        vec!["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    );
    assert!(
        o.stdout
            .lines()
            .nth(1)
            .unwrap_or("")
            .split_whitespace()
            .take(4)
            .eq(["web", "0/2", "0", "0"]),
        "{}",
        o.stdout
    );
    let list = s
        .request_log()
        .into_iter()
        .find(|r| r.verb == "list")
        .expect("list request");
    assert_eq!(list.query, "limit=500");
    let o = k.run(&["get", "services", "-n", "team-a"]).await;
    let header: Vec<&str> = o
        .stdout
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        vec![
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]
    );
    assert!(o.stdout.contains("80/TCP"), "{}", o.stdout);
}

/// kubectl's typed generators send protobuf bodies; namespaces, configmaps, secrets and
/// service accounts are decoded (other kinds answer 415).
/// Upstream: apiserver `handlers/create.go`; `rest.BeforeCreate`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_with_protobuf_bodies() {
    let s = TestApiServer::start().await.expect("start");
    let k = Kubectl::new(&s);
    let o = k.run(&["create", "namespace", "foo"]).await;
    assert_eq!(o.stdout, "namespace/foo created\n", "{}", o.stderr);
    let o = k
        .run(&[
            "create",
            "configmap",
            "x",
            "-n",
            "foo",
            "--from-literal=a=b",
        ])
        .await;
    assert_eq!(o.stdout, "configmap/x created\n", "{}", o.stderr);
    let o = k
        .run(&[
            "create",
            "secret",
            "generic",
            "s",
            "-n",
            "foo",
            "--from-literal=p=hello",
        ])
        .await;
    assert_eq!(o.stdout, "secret/s created\n", "{}", o.stderr);
    let o = k
        .run(&[
            "get",
            "secret",
            "s",
            "-n",
            "foo",
            "-o",
            "jsonpath={.data.p} {.type}",
        ])
        .await;
    assert_eq!(o.stdout, "aGVsbG8= Opaque");
    let o = k
        .run(&[
            "get",
            "configmap",
            "x",
            "-n",
            "foo",
            "-o",
            "jsonpath={.data.a}",
        ])
        .await;
    assert_eq!(o.stdout, "b");
    let o = k
        .run(&["create", "serviceaccount", "bot", "-n", "foo"])
        .await;
    assert_eq!(o.stdout, "serviceaccount/bot created\n", "{}", o.stderr);
}

/// kubectl caches discovery per cache dir; a fresh --cache-dir rediscovers, a reused one does not.
/// Upstream: cli-runtime `config_flags.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_discovery_cache_per_cache_dir() {
    let s = TestApiServer::start().await.expect("start");
    let k = Kubectl::new(&s);
    assert_eq!(k.run(&["get", "configmaps"]).await.code, 0);
    s.clear_request_log();
    assert_eq!(k.run(&["get", "configmaps"]).await.code, 0);
    assert!(
        !s.request_log()
            .iter()
            .any(|r| r.path == "/api" || r.path == "/apis"),
        "cached"
    );
    let fresh = Kubectl::new(&s);
    assert_eq!(fresh.run(&["get", "configmaps"]).await.code, 0);
    assert!(
        s.request_log().iter().any(|r| r.path == "/apis"),
        "fresh cache dir rediscovers"
    );
}

/// Client-side apply, then apply --server-side: kubectl migrates managedFields with a JSON patch
/// and the follow-up apply succeeds without warnings. Upstream: kubectl `cmd/apply/apply.go`
/// `migrateToSSAIfNecessary`; managedfields `fieldmanager.go`; structured-merge-diff
/// `merge.Updater.prune`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_csa_to_ssa_migration() {
    let (s, k, m) = setup().await;
    let o = k.run(&["apply", "-f", &m]).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "deployment.apps/web created\nconfigmap/cfg created\nservice/web created\n"
    );
    s.clear_request_log();
    let o = k.run(&["apply", "--server-side", "-f", &m]).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stderr, "", "no migration warnings");
    assert!(
        s.request_log()
            .iter()
            .any(|r| r.content_type.starts_with("application/json-patch+json"))
    );
    let o = k
        .run(&[
            "get",
            "deployment",
            "web",
            "-n",
            "team-a",
            "-o",
            "json",
            "--show-managed-fields",
        ])
        .await;
    let v: Value = serde_json::from_str(&o.stdout).expect("json");
    let mgrs: Vec<&str> = v["metadata"]["managedFields"]
        .as_array()
        .expect("mf")
        .iter()
        .filter_map(|e| e["manager"].as_str())
        .collect();
    assert!(!mgrs.contains(&"kubectl-client-side-apply"), "{mgrs:?}");
    assert_eq!(
        v["spec"]["template"]["spec"]["containers"][0]["name"],
        json!("nginx")
    );
}

/// `-o wide` adds the priority-1 columns.
/// Upstream: meta/v1 `Table`; `pkg/printers/internalversion/printers.go`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_wide_columns() {
    let (_s, k, m) = setup().await;
    assert_eq!(k.run(&["apply", "--server-side", "-f", &m]).await.code, 0);
    let o = k
        .run(&["get", "deployments", "-n", "team-a", "-o", "wide"])
        .await;
    let lines: Vec<Vec<&str>> = o
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        vec![
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    assert_eq!(lines[1][5..], ["nginx", "nginx:1.27", "app=web"]);
}
