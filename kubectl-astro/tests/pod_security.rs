//! Every pod template of every golden case, checked against the Pod Security Standards as the
//! Kubernetes documentation lists them (`concepts/security/pod-security-standards`, the
//! "Baseline" and "Restricted" tables), independently of how the library decides a pod's
//! level; and each Namespace's `pod-security.kubernetes.io/enforce` label is the strictest
//! level all its pods meet.

mod support;

use serde_json::Value;

/// The levels, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// Capabilities baseline allows to be added.
const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Sysctls baseline allows.
const SAFE_SYSCTLS: [&str; 9] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
];

/// Volume types restricted allows.
const RESTRICTED_VOLUMES: [&str; 8] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// The pod spec of a workload object, if it has one.
fn pod_spec(object: &Value) -> Option<&Value> {
    let spec = match object["kind"].as_str()? {
        "Deployment" | "StatefulSet" | "Job" => &object["spec"]["template"]["spec"],
        "CronJob" => &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        "Pod" => &object["spec"],
        _ => return None,
    };
    spec.is_object().then_some(spec)
}

/// Every container of a pod: init, regular and ephemeral.
fn containers(pod: &Value) -> Vec<&Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|k| pod[*k].as_array().into_iter().flatten())
        .collect()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// What keeps `pod` from `Level::Baseline`, one line per rule broken.
fn baseline_violations(pod: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let sc = &pod["securityContext"];
    if sc["windowsOptions"]["hostProcess"] == true {
        out.push("HostProcess: pod windowsOptions.hostProcess".into());
    }
    for ns in ["hostNetwork", "hostPID", "hostIPC"] {
        if pod[ns] == true {
            out.push(format!("Host Namespaces: {ns}"));
        }
    }
    for v in pod["volumes"].as_array().into_iter().flatten() {
        if v.get("hostPath").is_some() {
            out.push(format!("HostPath Volumes: {}", v["name"]));
        }
    }
    let seccomp_ok = |sc: &Value| sc["seccompProfile"]["type"] != "Unconfined";
    if !seccomp_ok(sc) {
        out.push("Seccomp: pod Unconfined".into());
    }
    let selinux_ok = |se: &Value| {
        let t = se["type"].as_str().unwrap_or("");
        [
            "",
            "container_t",
            "container_init_t",
            "container_kvm_t",
            "container_engine_t",
        ]
        .contains(&t)
            && se.get("user").is_none()
            && se.get("role").is_none()
    };
    if !selinux_ok(&sc["seLinuxOptions"]) {
        out.push("SELinux: pod seLinuxOptions".into());
    }
    for s in sc["sysctls"].as_array().into_iter().flatten() {
        let name = s["name"].as_str().unwrap_or("");
        if !SAFE_SYSCTLS.contains(&name) {
            out.push(format!("Sysctls: {name}"));
        }
    }
    for c in containers(pod) {
        let name = c["name"].as_str().unwrap_or("?");
        let csc = &c["securityContext"];
        if csc["privileged"] == true {
            out.push(format!("Privileged Containers: {name}"));
        }
        if csc["windowsOptions"]["hostProcess"] == true {
            out.push(format!("HostProcess: {name}"));
        }
        for cap in strings(&csc["capabilities"]["add"]) {
            if !BASELINE_CAPABILITIES.contains(&cap) {
                out.push(format!("Capabilities: {name} adds {cap}"));
            }
        }
        for p in c["ports"].as_array().into_iter().flatten() {
            if p["hostPort"].as_u64().is_some_and(|h| h != 0) {
                out.push(format!("Host Ports: {name}"));
            }
        }
        let apparmor = csc["appArmorProfile"]["type"]
            .as_str()
            .unwrap_or("RuntimeDefault");
        if apparmor == "Unconfined" {
            out.push(format!("AppArmor: {name} Unconfined"));
        }
        if !selinux_ok(&csc["seLinuxOptions"]) {
            out.push(format!("SELinux: {name}"));
        }
        if csc["procMount"].as_str().is_some_and(|m| m != "Default") {
            out.push(format!("/proc Mount Type: {name}"));
        }
        if !seccomp_ok(csc) {
            out.push(format!("Seccomp: {name} Unconfined"));
        }
    }
    out
}

/// What keeps `pod` from `Level::Restricted` beyond baseline, one line per rule broken.
fn restricted_violations(pod: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let sc = &pod["securityContext"];
    for v in pod["volumes"].as_array().into_iter().flatten() {
        let allowed = v
            .as_object()
            .into_iter()
            .flat_map(|o| o.keys())
            .filter(|k| k.as_str() != "name")
            .all(|k| RESTRICTED_VOLUMES.contains(&k.as_str()));
        if !allowed {
            out.push(format!("Volume Types: {}", v["name"]));
        }
    }
    if sc["runAsUser"] == 0 {
        out.push("Running as Non-root user: pod runAsUser 0".into());
    }
    let pod_non_root = sc["runAsNonRoot"] == true;
    let pod_seccomp = matches!(
        sc["seccompProfile"]["type"].as_str(),
        Some("RuntimeDefault" | "Localhost")
    );
    for c in containers(pod) {
        let name = c["name"].as_str().unwrap_or("?");
        let csc = &c["securityContext"];
        if csc["allowPrivilegeEscalation"] != false {
            out.push(format!("Privilege Escalation: {name}"));
        }
        let non_root = match csc["runAsNonRoot"].as_bool() {
            Some(v) => v,
            None => pod_non_root,
        };
        if !non_root {
            out.push(format!("Running as Non-root: {name}"));
        }
        if csc["runAsUser"] == 0 {
            out.push(format!("Running as Non-root user: {name} runAsUser 0"));
        }
        let seccomp = match csc["seccompProfile"]["type"].as_str() {
            Some(t) => t == "RuntimeDefault" || t == "Localhost",
            None => pod_seccomp,
        };
        if !seccomp {
            out.push(format!(
                "Seccomp: {name} neither RuntimeDefault nor Localhost"
            ));
        }
        if !strings(&csc["capabilities"]["drop"]).contains(&"ALL") {
            out.push(format!("Capabilities: {name} does not drop ALL"));
        }
        for cap in strings(&csc["capabilities"]["add"]) {
            if cap != "NET_BIND_SERVICE" {
                out.push(format!("Capabilities: {name} adds {cap}"));
            }
        }
    }
    out
}

/// The strictest level `pod` meets.
fn level(pod: &Value) -> Level {
    if !baseline_violations(pod).is_empty() {
        Level::Privileged
    } else if !restricted_violations(pod).is_empty() {
        Level::Baseline
    } else {
        Level::Restricted
    }
}

/// Every golden case: no pod below baseline; each pod built or shipped by the platform (the
/// agent, its sidecar, ingestion) restricted; the Namespace's `enforce` label the strictest
/// level of all its pods, `warn` and `audit` restricted.
#[test]
fn every_pod_meets_the_level_its_namespace_enforces() {
    let cases = support::golden_cases().unwrap_or_else(|e| panic!("{e}"));
    assert!(cases.len() >= 12, "golden cases not found");
    let mut pods = 0;
    let mut seen = std::collections::BTreeSet::new();
    for case in &cases {
        let objects = support::golden_objects(case).unwrap_or_else(|e| panic!("{e}"));
        let mut weakest = Level::Restricted;
        for object in &objects {
            let Some(pod) = pod_spec(object) else {
                continue;
            };
            pods += 1;
            let what = format!(
                "{}: {}/{}",
                case.display(),
                object["kind"],
                object["metadata"]["name"]
            );
            let baseline = baseline_violations(pod);
            assert!(baseline.is_empty(), "{what} is privileged: {baseline:?}");
            let component = object["metadata"]["labels"]["app.kubernetes.io/component"]
                .as_str()
                .unwrap_or("");
            let ours = component == "agent" || component.starts_with("ingestion");
            let restricted = restricted_violations(pod);
            assert!(
                !ours || restricted.is_empty(),
                "{what} is the platform's own pod but not restricted: {restricted:?}"
            );
            seen.insert(level(pod));
            weakest = weakest.min(level(pod));
        }
        let ns = objects.iter().find(|o| o["kind"] == "Namespace");
        let Some(labels) = ns.map(|n| &n["metadata"]["labels"]) else {
            panic!("{}: no Namespace", case.display())
        };
        assert_eq!(
            labels["pod-security.kubernetes.io/enforce"],
            weakest.label(),
            "{}: enforce label",
            case.display()
        );
        for mode in ["warn", "audit"] {
            assert_eq!(
                labels[format!("pod-security.kubernetes.io/{mode}")],
                "restricted",
                "{}: {mode} label",
                case.display()
            );
        }
    }
    assert!(pods > 40, "only {pods} pod templates found");
    // The corpus exercises both levels a deploy can enforce.
    assert!(seen.contains(&Level::Restricted) && seen.contains(&Level::Baseline));
}

/// The pod of `kubectl astro serve --print-manifests` is restricted, and its Namespace
/// enforces restricted.
#[test]
fn the_servers_pod_is_restricted() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-astro"))
        .args(["serve", "--print-manifests"])
        .output()
        .expect("kubectl-astro runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let docs: Vec<Value> = text
        .split("\n---\n")
        .map(|d| astro_deploy::input::parse_value("manifests", d).expect("parses"))
        .collect();
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let pod = pod_spec(deployment).expect("a pod template");
    assert_eq!(
        level(pod),
        Level::Restricted,
        "{:?} {:?}",
        baseline_violations(pod),
        restricted_violations(pod)
    );
    let ns = docs
        .iter()
        .find(|d| d["kind"] == "Namespace")
        .expect("a Namespace");
    for mode in ["enforce", "warn", "audit"] {
        let key = format!("pod-security.kubernetes.io/{mode}");
        assert_eq!(ns["metadata"]["labels"][&key], Level::Restricted.label());
    }
}

/// The checks themselves: each rule of the two tables is caught on a pod that breaks it.
#[test]
fn the_checks_catch_each_rule() {
    let restricted = serde_json::json!({
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "securityContext": {
            "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    });
    assert_eq!(level(&restricted), Level::Restricted);
    let container = "/containers/0/securityContext";
    for (pointer, value, want) in [
        (
            format!("{container}/allowPrivilegeEscalation"),
            Value::Null,
            Level::Baseline,
        ),
        (
            "/securityContext/runAsNonRoot".into(),
            false.into(),
            Level::Baseline,
        ),
        (
            "/securityContext/seccompProfile/type".into(),
            "Unconfined".into(),
            Level::Privileged,
        ),
        (
            format!("{container}/capabilities/drop"),
            serde_json::json!([]),
            Level::Baseline,
        ),
        (
            format!("{container}/capabilities"),
            serde_json::json!({"drop": ["ALL"], "add": ["CHOWN"]}),
            Level::Baseline,
        ),
        (
            format!("{container}/capabilities"),
            serde_json::json!({"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
            Level::Privileged,
        ),
        (
            format!("{container}/privileged"),
            true.into(),
            Level::Privileged,
        ),
        (
            "/volumes/0".into(),
            serde_json::json!({"name": "h", "hostPath": {"path": "/"}}),
            Level::Privileged,
        ),
        (
            "/volumes/0".into(),
            serde_json::json!({"name": "n", "nfs": {"server": "s", "path": "/"}}),
            Level::Baseline,
        ),
    ] {
        let mut pod = restricted.clone();
        let slot = pod.pointer_mut(&pointer).map(|s| *s = value.clone());
        if slot.is_none() {
            // A field the template pod lacks: add it to the container's security context.
            let key = pointer.rsplit('/').next().unwrap_or_default().to_string();
            pod["containers"][0]["securityContext"][key] = value.clone();
        }
        assert_eq!(level(&pod), want, "{pointer} = {value}");
    }
    for ns in ["hostNetwork", "hostPID", "hostIPC"] {
        let mut pod = restricted.clone();
        pod[ns] = true.into();
        assert_eq!(level(&pod), Level::Privileged, "{ns}");
    }
    let mut pod = restricted.clone();
    pod["containers"][0]["ports"] = serde_json::json!([{"containerPort": 80, "hostPort": 80}]);
    assert_eq!(level(&pod), Level::Privileged, "hostPort");
    let mut pod = restricted;
    pod["securityContext"]["runAsUser"] = 0.into();
    assert_eq!(level(&pod), Level::Baseline, "runAsUser 0");
}

/// The checkov release the allow-list was written against (`.ci/setup` installs it).
const CHECKOV: &str = "checkov==3.3.30";

/// One row of the allow-list in docs/security.md: a check id and where it may fail.
struct Allowed {
    check: String,
    scope: String,
}

/// The rows of docs/security.md's checkov allow-list.
fn allow_list() -> Vec<Allowed> {
    let path = support::repo_root().join("docs/security.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let rows: Vec<Allowed> = text
        .lines()
        .filter(|l| l.starts_with("| CKV_"))
        .filter_map(|l| {
            let mut cells = l.split('|').map(str::trim).skip(1);
            Some(Allowed {
                check: cells.next()?.to_string(),
                scope: cells.next()?.to_string(),
            })
        })
        .collect();
    assert!(
        rows.len() >= 5,
        "allow-list not found in {}",
        path.display()
    );
    rows
}

/// Whether the object `object` is in `scope`.
fn in_scope(scope: &str, object: &Value) -> bool {
    let Some(pod) = pod_spec(object) else {
        return false;
    };
    let component = object["metadata"]["labels"]["app.kubernetes.io/component"]
        .as_str()
        .unwrap_or("");
    match scope {
        "every pod" => true,
        "baseline pods" => level(pod) == Level::Baseline,
        "third-party pods" => component != "agent" && !component.starts_with("ingestion"),
        "NET_BIND_SERVICE" => containers(pod).iter().any(|c| {
            strings(&c["securityContext"]["capabilities"]["add"]).contains(&"NET_BIND_SERVICE")
        }),
        other => panic!("unknown scope {other:?} in docs/security.md"),
    }
}

/// checkov's Kubernetes checks over every golden case and the typical agent fail only where
/// docs/security.md allows, and every allowed row still matches a failure.
#[test]
fn checkov_finds_only_the_documented_exceptions() {
    // checkov skips directories whose name starts with a dot, as tempdir's do by default.
    let dir = tempfile::Builder::new()
        .prefix("checkov-")
        .tempdir()
        .unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut objects = std::collections::BTreeMap::new();
    let mut sets = Vec::new();
    for case in support::golden_cases().unwrap_or_else(|e| panic!("{e}")) {
        let name = support::golden_case_name(&case).unwrap_or_else(|e| panic!("{e}"));
        sets.push((
            name,
            support::golden_objects(&case).unwrap_or_else(|e| panic!("{e}")),
        ));
    }
    sets.push(("typical".into(), typical_agent()));
    for (set, items) in &sets {
        let sub = dir.path().join(set);
        std::fs::create_dir_all(&sub).unwrap_or_else(|e| panic!("{e}"));
        for (i, object) in items.iter().enumerate() {
            let kind = object["kind"].as_str().unwrap_or("?");
            let ns = object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default");
            let name = object["metadata"]["name"].as_str().unwrap_or("?");
            let file = sub.join(format!("{i:03}-{kind}.json"));
            std::fs::write(&file, object.to_string()).unwrap_or_else(|e| panic!("{e}"));
            objects.insert(format!("{set}/{kind}.{ns}.{name}"), object.clone());
        }
    }
    let out = std::process::Command::new("checkov")
        .args([
            "--framework",
            "kubernetes",
            "--output",
            "json",
            "--quiet",
            "--compact",
        ])
        .arg("--skip-download") // no Prisma Cloud guidelines: CI has no internet
        .arg("--directory")
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run checkov ({e}): pip install {CHECKOV}, as .ci/setup does")
        });
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let version = report["summary"]["checkov_version"].as_str().unwrap_or("");
    assert_eq!(
        format!("checkov=={version}"),
        CHECKOV,
        "another checkov release"
    );
    assert_eq!(
        report["summary"]["parsing_errors"], 0,
        "{}",
        report["summary"]
    );
    let passed = report["summary"]["passed"].as_u64().unwrap_or(0);
    assert!(
        passed > 1000,
        "checkov ran too few checks: {}",
        report["summary"]
    );

    let allowed = allow_list();
    let mut used = vec![0usize; allowed.len()];
    let mut unexplained = Vec::new();
    let failed = report["results"]["failed_checks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for f in &failed {
        let check = f["check_id"].as_str().unwrap_or("?");
        let file = f["file_path"].as_str().unwrap_or("");
        let set = file.trim_start_matches('/').split('/').next().unwrap_or("");
        let key = format!("{set}/{}", f["resource"].as_str().unwrap_or("?"));
        let Some(object) = objects.get(&key) else {
            panic!("checkov reports {check} on {key}, which we did not render")
        };
        match allowed
            .iter()
            .position(|a| a.check == check && in_scope(&a.scope, object))
        {
            Some(row) => used[row] += 1,
            None => unexplained.push(format!("{check} ({}) on {key}", f["check_name"])),
        }
    }
    eprintln!(
        "checkov {version}: {passed} passed, {} failed, all allowed by docs/security.md",
        failed.len()
    );
    assert!(
        unexplained.is_empty(),
        "failed checks docs/security.md does not allow:\n{}",
        unexplained.join("\n")
    );
    let stale: Vec<&str> = allowed
        .iter()
        .zip(&used)
        .filter(|(_, n)| **n == 0)
        .map(|(a, _)| a.check.as_str())
        .collect();
    assert!(
        stale.is_empty(),
        "allowed but never failing (remove them): {stale:?}"
    );
}

/// The objects of the typical agent (`examples/support-agent-request.yaml`).
fn typical_agent() -> Vec<Value> {
    let examples = support::examples();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-astro"))
        .args(["deploy", "--dry-run", "-o", "json", "-f"])
        .arg(examples.join("support-agent-request.yaml"))
        .arg("--catalog")
        .arg(examples.join("catalog"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run kubectl-astro: {e}"));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "typical agent: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    list["items"].as_array().cloned().unwrap_or_default()
}
