//! `kubectl astro trigger` against test-apiserver: a manual ingestion's suspended CronJob runs
//! on demand as the Job `kubectl create job --from=cronjob/…` would make (golden case 10's
//! agent), and what cannot be triggered is named. (The real kubectl sends that Job as
//! protobuf, which test-apiserver decodes only for a few kinds, so it is not run here.)

mod support;

use serde_json::Value;
use support::Env;
use test_apiserver::ServerOptions;

const NS: &str = "astro-flags-feature-flag-assistant";
const CRON_JOB: &str = "feature-flag-assistant-ingestion-reindex";

/// Deploys golden case 10 (all four triggers, `reindex` manual).
async fn deploy_case_10(env: &Env) {
    let case = support::repo_root().join("tests/golden/10-ingestion-all-triggers");
    let (code, out, err) = env
        .run(&[
            "deploy".to_string(),
            "-f".into(),
            case.join("request.yaml").display().to_string(),
            "--build".into(),
            case.join("build.yaml").display().to_string(),
        ])
        .await;
    assert_eq!(code, 0, "{out} {err}");
}

fn trigger_args(ingestion: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["trigger", "--account", "flags", "--name"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push("feature-flag-assistant".into());
    args.push(ingestion.into());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_ingestion_runs_as_a_job_of_its_suspended_cron_job() {
    let env = Env::start(ServerOptions {
        controller: true,
        ..ServerOptions::default()
    })
    .await;
    deploy_case_10(&env).await;
    let cron_job = env
        .get(&format!(
            "/apis/batch/v1/namespaces/{NS}/cronjobs/{CRON_JOB}"
        ))
        .await
        .expect("the manual ingestion's CronJob");
    assert_eq!(cron_job["spec"]["suspend"], true);
    assert_eq!(
        env.get(&format!("/apis/batch/v1/namespaces/{NS}/jobs"))
            .await
            .and_then(|l| l["items"].as_array().map(Vec::len)),
        Some(1),
        "only the startup ingestion's Job before the trigger"
    );

    let (code, out, err) = env.run(&trigger_args("reindex", &["--wait"])).await;
    assert_eq!(code, 0, "{out} {err}");
    let resp: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    assert_eq!(resp["status"], "triggered", "{out}");
    assert_eq!(resp["namespace"], NS);
    let job_name = resp["job_name"].as_str().unwrap_or_default().to_string();
    assert!(
        job_name.starts_with(&format!("{CRON_JOB}-")) && job_name.len() <= 63,
        "{job_name}"
    );
    assert!(
        err.contains(&format!("Job/{job_name}")),
        "progress on stderr: {err}"
    );
    let job = env
        .get(&format!("/apis/batch/v1/namespaces/{NS}/jobs/{job_name}"))
        .await
        .expect("the triggered Job");
    let complete = job["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Complete" && c["status"] == "True");
    assert!(complete, "--wait returned before the Job completed: {job}");
    let owner = &job["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "CronJob");
    assert_eq!(owner["name"], CRON_JOB);
    assert_eq!(owner["uid"], cron_job["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    assert_eq!(
        job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    assert_eq!(
        job["metadata"]["labels"]["app.kubernetes.io/component"],
        "ingestion-reindex"
    );
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["image"],
        cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"]
    );

    // A redeploy leaves the Job alone: it is the CronJob's, not the deployment's.
    deploy_case_10(&env).await;
    assert!(
        env.get(&format!("/apis/batch/v1/namespaces/{NS}/jobs/{job_name}"))
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_triggered_is_named() {
    let env = Env::new().await;
    let (code, out, _) = env.run(&trigger_args("reindex", &[])).await;
    assert_eq!(code, 5, "no deployment yet: {out}");
    assert!(out.contains("deployment not found"), "{out}");
    deploy_case_10(&env).await;
    // A startup ingestion is a Job, a webhook a Deployment: neither has a CronJob.
    for ingestion in ["nope", "warmup", "events"] {
        let (code, out, _) = env.run(&trigger_args(ingestion, &[])).await;
        assert_eq!(code, 5, "{ingestion}: {out}");
        assert!(out.contains("ingestion not found"), "{out}");
        assert!(
            out.contains("nightly-sync") && out.contains("reindex"),
            "the ingestions that can be: {out}"
        );
    }
    // A scheduled ingestion can be run ahead of its time.
    let (code, out, err) = env.run(&trigger_args("nightly-sync", &[])).await;
    assert_eq!(code, 0, "{out} {err}");
    // Without the controller the Job never completes: --wait gives up, naming it.
    let (code, out, err) = env
        .run(&trigger_args("reindex", &["--wait", "--timeout", "1s"]))
        .await;
    assert_eq!(code, 1, "{out} {err}");
    assert!(out.contains("did not complete within 1s"), "{out}");
}
