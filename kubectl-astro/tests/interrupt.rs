//! Interruption (issue 5): the plugin killed (SIGKILL) at seeded random points during apply and
//! prune, with delays on half the requests to widen the windows; SIGINT/SIGTERM handling.
//!
//! After every kill: prune never started before every object of that deploy was applied;
//! nothing without this deployment's labels was deleted; the next run converges to `success`
//! and the cluster equals, object by object, one that was never interrupted; no object was
//! created twice.
//!
//! ```sh
//! cargo nextest run -p kubectl-astro --test interrupt
//! ```

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    APPLY, Env, MERGE_PATCH, NS, State, assert_same_state, created_once, patch_as_another_client,
    state_after,
};
use test_apiserver::Fault;

const FIRST: &str = "deploy-request-web.yaml";
const SECOND: &str = "deploy-request.json";

impl Env {
    /// Starts a deploy and SIGKILLs it after `after`; returns whether it was killed (rather than
    /// done by then). Its Lease lasts 1 s: the next run waits that long for the dead holder's
    /// Lease.
    async fn deploy_killed(&self, request: &str, after: Duration) -> bool {
        let mut child = self
            .command(&Env::deploy_args(request, &["--lease-duration", "1s"]))
            .spawn()
            .expect("kubectl-astro starts");
        tokio::select! {
            _ = child.wait() => false,
            () = tokio::time::sleep(after) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                true
            }
        }
    }

    /// Starts a deploy and SIGKILLs it as soon as the log shows its first prune DELETE
    /// (prune deletes are slowed down, so the next one is in flight); returns whether it was
    /// killed.
    async fn deploy_killed_in_prune(&self, request: &str, from: usize) -> bool {
        let mut child = self
            .command(&Env::deploy_args(request, &[]))
            .spawn()
            .expect("kubectl-astro starts");
        let started = Instant::now();
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            let pruning = self.server.request_log()[from..].iter().any(is_prune);
            if pruning || started.elapsed() > Duration::from_secs(60) {
                let _ = child.start_kill();
                let _ = child.wait().await;
                return true;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// A ConfigMap without this deployment's labels, in its namespace.
    async fn decoy(&self) {
        let body = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "decoy", "namespace": NS}, "data": {"k": "v"}});
        let path = format!("/api/v1/namespaces/{NS}/configmaps/decoy?fieldManager=someone-else");
        patch_as_another_client(&self.server, &path, APPLY, &body).await;
    }
}

/// A small seeded generator (splitmix64) for kill times.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The state after FIRST then SECOND, never interrupted.
async fn reference() -> State {
    state_after(&[FIRST, SECOND]).await
}

/// Prune never started before every object of the deploy that logged it was applied or
/// verified: in the log from `from`, every object SECOND renders has a 2xx apply, or a 2xx GET
/// (an object its inventory proof showed unchanged is read, not applied), before the first
/// DELETE.
fn prune_after_apply(env: &Env, from: usize, objects: usize, what: &str) {
    let log = env.server.request_log();
    let log = &log[from.min(log.len())..];
    let Some(first_delete) = log.iter().position(is_prune) else {
        return;
    };
    // Every object SECOND renders (besides the Namespace) has a 2xx apply before it.
    let applied: std::collections::BTreeSet<&str> = log[..first_delete]
        .iter()
        .filter(|r| {
            (200..300).contains(&r.status)
                && (r.verb == "get"
                    || r.verb == "apply" && r.query.ends_with("fieldManager=kubectl-astro"))
                && r.path != format!("/api/v1/namespaces/{NS}")
        })
        .map(|r| r.path.as_str())
        .collect();
    assert!(
        applied.len() >= objects,
        "{what}: prune started after only {} applies: {log:#?}",
        applied.len()
    );
}

/// A prune DELETE (the Job's delete is its replacement: its template is immutable).
fn is_prune(r: &test_apiserver::LoggedRequest) -> bool {
    r.method == "DELETE" && !r.path.contains("/jobs/")
}

fn assert_same(got: State, want: &State, what: &str) {
    let (mut objects, inventory) = got;
    // The decoy is someone else's: it must still be there, and is not part of the comparison.
    assert!(
        objects.remove("ConfigMap/decoy").is_some(),
        "{what}: an object without our labels was deleted"
    );
    assert_same_state(&(objects, inventory), want, what);
}

/// How long a delayed deploy takes, to spread the kill points over it.
async fn delayed_duration(request_first: bool) -> Duration {
    let env = Env::new().await;
    if !request_first {
        let (code, _, _) = env.deploy(FIRST, &[]).await;
        assert_eq!(code, 0);
    }
    env.server.faults().seed(7);
    env.server
        .faults()
        .add(Fault::delay_only(Duration::from_millis(120)).probability(0.5));
    let started = Instant::now();
    let (code, resp, _) = env
        .deploy(if request_first { FIRST } else { SECOND }, &[])
        .await;
    assert_eq!(code, 0, "{resp}");
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_apply_and_prune_then_the_next_run_converges() {
    let want = reference().await;
    let span = delayed_duration(false).await;
    let mut rng = Rng(0x1d1e);
    let mut killed_in_prune = 0;
    let trials = 8;
    for trial in 0..trials {
        let env = Env::new().await;
        let (code, _, _) = env.deploy(FIRST, &[]).await;
        assert_eq!(code, 0);
        env.decoy().await;
        let ctl = env.server.faults();
        ctl.seed(trial);
        ctl.add(Fault::delay_only(Duration::from_millis(120)).probability(0.5));
        let from = env.server.request_log().len();
        let at = Duration::from_millis(rng.below(span.as_millis() as u64 + 50));
        // The last trial aims at the prune itself: slow deletes, killed after the first one.
        let aimed = trial == trials - 1;
        let what = if aimed {
            format!("trial {trial}: SECOND killed during prune")
        } else {
            format!("trial {trial}: SECOND killed after {at:?}")
        };
        let killed = if aimed {
            ctl.add(Fault::delay_only(Duration::from_millis(400)).verb("delete"));
            env.deploy_killed_in_prune(SECOND, from).await
        } else {
            env.deploy_killed(SECOND, at).await
        };
        prune_after_apply(&env, from, want.0.len(), &what);
        if killed && killed_during_prune(&env, from) {
            killed_in_prune += 1;
        }
        ctl.clear();
        let (code, resp, stderr) = env.deploy(SECOND, &[]).await;
        assert_eq!(code, 0, "{what}: does not converge: {resp} {stderr}");
        assert_same(env.state().await, &want, &what);
        created_once(&env, &what);
    }
    println!("{trials} kills during SECOND, {killed_in_prune} while pruning");
    assert!(
        killed_in_prune >= 1,
        "no run was killed while pruning: the kill-during-prune case was not tested"
    );
}

/// Whether the run logged from `from` was cut short inside its prune: a prune DELETE was
/// answered, and the inventory write that follows the prune (an apply to the Namespace) never
/// came.
fn killed_during_prune(env: &Env, from: usize) -> bool {
    let log = env.server.request_log();
    let log = &log[from.min(log.len())..];
    let Some(first) = log.iter().position(is_prune) else {
        return false;
    };
    let ns = format!("/api/v1/namespaces/{NS}");
    !log[first..]
        .iter()
        .any(|r| r.method == "PATCH" && r.path == ns)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_first_deploy_leaves_nothing_untracked() {
    let want = reference().await;
    let span = delayed_duration(true).await;
    let mut rng = Rng(0xf1e57);
    let trials = 8;
    let mut recovered = 0;
    for trial in 0..trials {
        let env = Env::new().await;
        let ctl = env.server.faults();
        ctl.seed(100 + trial);
        ctl.add(Fault::delay_only(Duration::from_millis(120)).probability(0.5));
        let at = Duration::from_millis(rng.below(span.as_millis() as u64 + 50));
        let what = format!("trial {trial}: FIRST killed after {at:?}");
        env.deploy_killed(FIRST, at).await;
        ctl.clear();
        if let Some(ns) = env.get(&format!("/api/v1/namespaces/{NS}")).await {
            if ns["metadata"]["annotations"]["astro.dev/inventory"].is_null() {
                recovered += 1;
            }
            env.decoy().await;
        }
        // A different render: whatever the killed run created and this one does not want
        // (the web chat's Service and Ingress) must be found and pruned.
        let (code, resp, stderr) = env.deploy(SECOND, &[]).await;
        assert_eq!(code, 0, "{what}: does not converge: {resp} {stderr}");
        if env
            .get(&format!("/api/v1/namespaces/{NS}/configmaps/decoy"))
            .await
            .is_none()
        {
            // The killed run had not created the namespace: no decoy could be placed before.
            env.decoy().await;
        }
        assert_same(env.state().await, &want, &what);
        created_once(&env, &what);
    }
    println!("{trials} kills during FIRST, {recovered} left a namespace without an inventory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_never_deletes_an_object_that_lost_our_labels() {
    let env = Env::new().await;
    let (code, _, _) = env.deploy(FIRST, &[]).await;
    assert_eq!(code, 0);
    // Someone takes the web chat's Ingress over and drops our label from it.
    let ing = "weather-agent-ingress-messaging";
    patch_as_another_client(
        &env.server,
        &format!("/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses/{ing}"),
        MERGE_PATCH,
        &serde_json::json!({"metadata": {"labels": {"astro.dev/agent": null}}}),
    )
    .await;
    let (code, resp, _) = env.deploy(SECOND, &[]).await;
    assert_eq!(code, 2, "{resp}");
    let err = resp["errors"].to_string();
    assert!(
        err.contains(&format!("Ingress/{ing}")) && err.contains("no longer carries"),
        "{err}"
    );
    assert!(
        env.get(&format!(
            "/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses/{ing}"
        ))
        .await
        .is_some()
    );
    // The labelled Service was pruned.
    assert!(
        env.get(&format!(
            "/api/v1/namespaces/{NS}/services/weather-agent-messaging"
        ))
        .await
        .is_none()
    );
}

/// Sends `signal` (`INT`, `TERM`) to `pid`.
fn send(signal: &str, pid: u32) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_and_sigterm_print_the_partial_result_and_exit_130() {
    for signal in ["INT", "TERM"] {
        let env = Env::new().await;
        let (code, _, _) = env.deploy(FIRST, &[]).await;
        assert_eq!(code, 0);
        env.server.clear_request_log();
        // Every request takes 300 ms: the signal lands mid-apply.
        env.server
            .faults()
            .add(Fault::delay_only(Duration::from_millis(300)));
        let child = env
            .command(&Env::deploy_args(SECOND, &[]))
            .arg("--concurrency")
            .arg("1")
            .spawn()
            .expect("kubectl-astro starts");
        let pid = child.id().expect("pid");
        // Wait until the deploy is applying objects (past the settings read and the Lease).
        let started = Instant::now();
        while env.server.request_log().len() < 3 && started.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        send(signal, pid);
        let out = child.wait_with_output().await.expect("exits");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(130),
            "SIG{signal}: {stdout}{stderr}"
        );
        assert!(stderr.contains("interrupted"), "{stderr}");
        let resp: Value = serde_json::from_str(&stdout).expect("a DeployResponse");
        assert_eq!(resp["status"], "partial", "{resp}");
        let not_applied = resp["resources"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter(|r| r["message"] == "not applied: interrupted")
                    .count()
            })
            .unwrap_or(0);
        assert!(not_applied > 0, "{resp}");
        // Nothing pruned by an interrupted deploy.
        assert!(
            !env.server.request_log().iter().any(is_prune),
            "an interrupted deploy pruned"
        );
        assert!(
            resp["errors"].as_array().is_some_and(|e| e.iter().any(|l| l
                .as_str()
                .is_some_and(|l| l.ends_with("not applied: interrupted")))),
            "{resp}"
        );
        env.server.faults().clear();
        let (code, resp, _) = env.deploy(SECOND, &[]).await;
        assert_eq!(
            code, 0,
            "SIG{signal}: the next run does not converge: {resp}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_abandons_the_requests_in_flight() {
    let env = Env::new().await;
    // Every Secret apply takes 5 s: the first signal waits for it, the second does not.
    env.server
        .faults()
        .add(Fault::delay_only(Duration::from_secs(5)).kind("Secret"));
    let child = env
        .command(&Env::deploy_args(FIRST, &[]))
        .spawn()
        .expect("kubectl-astro starts");
    let pid = child.id().expect("pid");
    // Once the Namespace apply is logged, the Secrets are in flight.
    let wait = Instant::now();
    while env.server.request_log().is_empty() && wait.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    send("INT", pid);
    tokio::time::sleep(Duration::from_millis(300)).await;
    send("INT", pid);
    let out = child.wait_with_output().await.expect("exits");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("\"interrupted\""), "{stdout}");
    assert!(
        started.elapsed() < Duration::from_millis(4_500),
        "waited for the request in flight: {:?}",
        started.elapsed()
    );
}
