//! The minimal RBAC of docs/rbac.yaml (issue 5): every command works with exactly those rules
//! in test-apiserver's authorizer (the plugin's identity may do nothing else), and removing
//! any one rule, or any one verb of a rule, makes a command fail with a named 403 — exit 4, or
//! a partial deploy (exit 2) naming the forbidden object.
//!
//! test-apiserver's allow-list matches users, verbs, resources (plural) and namespaces; API
//! groups are implied by the plurals, which are unique among the kinds we write.
//!
//! ```sh
//! cargo nextest run -p kubectl-astro --test rbac --no-capture
//! ```

mod support;

use serde_json::Value;
use support::{
    APPLY, Env, NS, SETTINGS, examples, patch_as_another_client, put_settings, repo_root,
    weather_agent,
};
use test_apiserver::{AllowRule, ServerOptions, TestApiServer};

/// `(verbs, resources)` of each rule of docs/rbac.yaml.
fn rules() -> Vec<(Vec<String>, Vec<String>)> {
    let text = std::fs::read_to_string(repo_root().join("docs/rbac.yaml")).expect("docs/rbac.yaml");
    let doc = astro_deploy::input::parse_value("rbac", &text).expect("rbac.yaml parses");
    assert_eq!(doc["kind"], "ClusterRole");
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    doc["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| (strings(&r["verbs"]), strings(&r["resources"])))
        .collect()
}

impl Env {
    /// A server where `deployer` may do exactly `rules`; `admin` (the test's own client) may
    /// do everything.
    async fn with_rules(rules: &[(Vec<String>, Vec<String>)]) -> Env {
        let mut opts = ServerOptions {
            controller: true,
            ..ServerOptions::default()
        };
        opts.tokens.insert("admin-token".into(), "admin".into());
        opts.tokens
            .insert("deployer-token".into(), "deployer".into());
        let mut allow = vec![AllowRule::new("admin", &["*"], &["*"])];
        for (verbs, resources) in rules {
            let v: Vec<&str> = verbs.iter().map(String::as_str).collect();
            let r: Vec<&str> = resources.iter().map(String::as_str).collect();
            allow.push(AllowRule::new("deployer", &v, &r));
        }
        opts.allow = Some(allow);
        let server = TestApiServer::start_with(opts)
            .await
            .expect("test-apiserver starts");
        let kc = server
            .kubeconfig_yaml()
            .replace("admin-token", "deployer-token");
        Env::with_kubeconfig(server, &kc)
    }

    /// A Namespace of this deployment without an inventory (the recovery path lists).
    async fn bare_namespace(&self) {
        let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": NS, "labels": {
                "app.kubernetes.io/managed-by": "kubectl-astro",
                "astro.dev/agent": "astro-team.weather-agent"}}});
        let path = format!("/api/v1/namespaces/{NS}?fieldManager=platform");
        patch_as_another_client(&self.server, &path, APPLY, &body).await;
    }
}

/// One step: what it runs and the exit code it must end with.
struct Step {
    label: &'static str,
    args: Vec<String>,
    code: i32,
}

fn steps() -> Vec<Step> {
    let ex = examples();
    let catalog = ex.join("catalog").display().to_string();
    let record = |b: &str| {
        ex.join(format!("catalog/astro-team/weather-agent/{b}.yaml"))
            .display()
            .to_string()
    };
    let req = |r: &str| ex.join(r).display().to_string();
    let case10 = |f: &str| {
        repo_root()
            .join("tests/golden/10-ingestion-all-triggers")
            .join(f)
            .display()
            .to_string()
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let deploy = |r: &str, extra: &[&str]| {
        let mut v = s(&["deploy", "-f", &req(r), "--network-policy"]);
        v.extend(s(extra));
        v
    };
    let with_catalog = |mut v: Vec<String>| {
        v.extend(s(&["--catalog", &catalog]));
        v
    };
    vec![
        Step {
            label: "build push",
            args: s(&["build", "push", &record("build-20240612-1530")]),
            code: 0,
        },
        Step {
            label: "build list",
            args: s(&["build", "list", "--account", "astro-team"]),
            code: 0,
        },
        Step {
            label: "build publish",
            args: weather_agent(
                &["build", "publish"],
                &["--build-id", "build-20240612-1530", "--version", "1.0.0"],
            ),
            code: 0,
        },
        Step {
            label: "diff (nothing deployed)",
            args: with_catalog(s(&[
                "diff",
                "-f",
                &req("deploy-request-web.yaml"),
                "--network-policy",
            ])),
            code: 1,
        },
        Step {
            label: "deploy (first, web chat on)",
            args: with_catalog(deploy("deploy-request-web.yaml", &[])),
            code: 0,
        },
        Step {
            label: "deploy (web chat off: prune, Job replaced)",
            args: with_catalog(deploy("deploy-request.json", &[])),
            code: 0,
        },
        Step {
            label: "list -A",
            args: s(&["list", "-A"]),
            code: 0,
        },
        Step {
            label: "diff (no changes)",
            args: with_catalog(s(&[
                "diff",
                "-f",
                &req("deploy-request.json"),
                "--network-policy",
            ])),
            code: 0,
        },
        Step {
            label: "deploy of the older build (prunes a Deployment, a StatefulSet, a Job)",
            args: s(&[
                "deploy",
                "-f",
                &req("deploy-request.json"),
                "--network-policy",
                "--build",
                &record("build-20240601-0900"),
            ]),
            code: 0,
        },
        Step {
            label: "deploy from the in-cluster catalog --wait",
            args: deploy("deploy-request.json", &["--wait", "--timeout", "60s"]),
            code: 0,
        },
        Step {
            label: "deploy (an agent with a manual ingestion)",
            args: s(&[
                "deploy",
                "-f",
                &case10("request.yaml"),
                "--build",
                &case10("build.yaml"),
            ]),
            code: 0,
        },
        Step {
            label: "trigger --wait",
            args: s(&[
                "trigger",
                "--account",
                "flags",
                "--name",
                "feature-flag-assistant",
                "reindex",
                "--wait",
                "--timeout",
                "60s",
            ]),
            code: 0,
        },
        Step {
            label: "status",
            args: weather_agent(&["status"], &[]),
            code: 0,
        },
        Step {
            label: "build push (an older build)",
            args: s(&["build", "push", &record("build-20240601-0900")]),
            code: 0,
        },
        Step {
            label: "deploy --build-id from the in-cluster catalog",
            args: deploy(
                "deploy-request.json",
                &["--build-id", "build-20240601-0900"],
            ),
            code: 0,
        },
        Step {
            label: "history",
            args: weather_agent(&["history"], &[]),
            code: 0,
        },
        Step {
            label: "rollback",
            args: weather_agent(&["rollback"], &["--network-policy"]),
            code: 0,
        },
        Step {
            label: "undeploy --wait",
            args: weather_agent(&["undeploy"], &["--wait"]),
            code: 0,
        },
    ]
}

/// The cluster settings the operator (the admin) wrote: every command that renders reads
/// them as the deployer.
fn cluster_settings() -> Value {
    serde_json::json!({"storage-class": "fast-ssd", "ingress-class": "nginx"})
}

/// Writes the cluster settings, runs every step, then a deploy into a namespace without an
/// inventory. Returns the first step that ended otherwise than expected: `(label, exit code,
/// stdout)`.
async fn scenario(env: &Env) -> Result<(), (String, i32, String)> {
    put_settings(&env.server, cluster_settings()).await;
    for step in steps() {
        let (code, out, err) = env.run(&step.args).await;
        if code != step.code {
            return Err((step.label.to_string(), code, format!("{out}{err}")));
        }
    }
    env.bare_namespace().await;
    let catalog = examples().join("catalog").display().to_string();
    let req = examples().join("deploy-request.json").display().to_string();
    let args: Vec<String> = [
        "deploy",
        "-f",
        &req,
        "--catalog",
        &catalog,
        "--network-policy",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, out, err) = env.run(&args).await;
    if code != 0 {
        return Err((
            "deploy into a namespace without an inventory".into(),
            code,
            format!("{out}{err}"),
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_works_with_exactly_the_documented_rules() {
    let rules = rules();
    assert_eq!(rules.len(), 7, "{rules:?}");
    let env = Env::with_rules(&rules).await;
    if let Err((step, code, out)) = scenario(&env).await {
        panic!("{step}: exit {code}\n{out}");
    }
    // The deployer read the cluster settings — once in each of the 6 deploys, 2 diffs, the
    // rollback and the last deploy — and the objects carry them.
    let log = env.server.request_log();
    let reads = log
        .iter()
        .filter(|r| r.path == SETTINGS && r.user == "deployer" && r.status == 200)
        .count();
    assert_eq!(reads, 10, "settings reads");
    let cache = env
        .get(&format!(
            "/apis/apps/v1/namespaces/{NS}/statefulsets/weather-agent-knowledge-cache"
        ))
        .await
        .expect("StatefulSet");
    assert_eq!(
        cache["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"], "fast-ssd",
        "{cache}"
    );
    // Nothing but the documented verbs was used (no watch, update, …).
    let allowed: Vec<&str> = rules
        .iter()
        .flat_map(|(v, _)| v.iter().map(String::as_str))
        .collect();
    for r in env.server.request_log() {
        let verb = if r.verb == "apply" {
            "patch"
        } else {
            r.verb.as_str()
        };
        assert!(
            verb.is_empty() || allowed.contains(&verb),
            "{r:?} uses a verb the role lacks"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_any_one_rule_fails_a_command_with_a_named_403() {
    let rules = rules();
    let mut table = Vec::new();
    for i in 0..rules.len() {
        let mut fewer = rules.clone();
        let removed = fewer.remove(i);
        let env = Env::with_rules(&fewer).await;
        let Err((step, code, out)) = scenario(&env).await else {
            panic!("every command still works without the rule {removed:?}");
        };
        assert!(
            code == 4 || code == 2,
            "without {removed:?}: {step}: exit {code}\n{out}"
        );
        assert!(
            out.contains("forbidden"),
            "without {removed:?}: {step}: the 403 is not named\n{out}"
        );
        table.push(format!(
            "| {} | {} | {step} | {code} |",
            removed.1.join(", "),
            removed.0.join(", ")
        ));
    }
    println!("| rule removed (resources) | verbs | first failing step | exit |\n|---|---|---|---|");
    for row in table {
        println!("{row}");
    }
}

/// Every verb of every rule is needed: without any one of them some command fails with a
/// named 403 (exit 4, or a partial deploy, exit 2, naming the forbidden object).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_any_one_verb_of_a_rule_fails_a_command() {
    let rules = rules();
    let mut table = Vec::new();
    let mut unneeded = Vec::new();
    for i in 0..rules.len() {
        for v in 0..rules[i].0.len() {
            let mut fewer = rules.clone();
            let verb = fewer[i].0.remove(v);
            let env = Env::with_rules(&fewer).await;
            let what = format!("{} without {verb}", rules[i].1.join(", "));
            let outcome = match scenario(&env).await {
                Ok(()) => {
                    unneeded.push(what);
                    "no command failed".to_string()
                }
                Err((step, code, out)) => {
                    assert!(code == 4 || code == 2, "{what}: {step}: exit {code}\n{out}");
                    assert!(
                        out.contains("forbidden"),
                        "{what}: {step}: the 403 is not named\n{out}"
                    );
                    format!("{step}: exit {code}")
                }
            };
            table.push(format!(
                "| {} | {verb} | {outcome} |",
                rules[i].1.join(", ")
            ));
        }
    }
    println!("| resources | verb removed | first failing step |\n|---|---|---|");
    for row in &table {
        println!("{row}");
    }
    assert!(
        unneeded.is_empty(),
        "verbs docs/rbac.yaml grants that no command needs: {unneeded:?}"
    );
}
