//! Every kind the plugin deploys: apply creates, re-apply is a no-op, and a dry-run of the same
//! config returns exactly the live object (what `kubectl diff --server-side` relies on).

mod common;
use common::*;
use serde_json::{Value, json};
use test_apiserver::TestApiServer;

fn manifests() -> Vec<(&'static str, Value)> {
    let pod = json!({"serviceAccountName":"agent","containers":[{"name":"agent","image":"ghcr.io/astro/agent:1.2.3",
        "args":["--port","8080"],"env":[{"name":"MODE","value":"prod"},{"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}],
        "envFrom":[{"configMapRef":{"name":"agent"}}],
        "ports":[{"name":"http","containerPort":8080}],
        "resources":{"requests":{"cpu":"250m","memory":"256Mi"},"limits":{"cpu":1,"memory":"512Mi"}},
        "readinessProbe":{"httpGet":{"path":"/healthz","port":"http"}},
        "volumeMounts":[{"name":"data","mountPath":"/data"},{"name":"cfg","mountPath":"/etc/agent"}]}],
        "volumes":[{"name":"cfg","configMap":{"name":"agent"}},{"name":"data","emptyDir":{}}]});
    let sts_pod = json!({"containers":[{"name":"db","image":"postgres:16","volumeMounts":[{"name":"pgdata","mountPath":"/var/lib/postgresql/data"}]}]});
    let labels =
        json!({"app.kubernetes.io/name":"agent","app.kubernetes.io/managed-by":"kubectl-astro"});
    vec![
        (
            "/api/v1/namespaces/team-a/configmaps/agent",
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"agent","namespace":"team-a","labels":labels},"data":{"config.yaml":"a: 1\n"}}),
        ),
        (
            "/api/v1/namespaces/team-a/secrets/agent",
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"agent","namespace":"team-a"},"type":"Opaque","data":{"token":"c2VjcmV0"}}),
        ),
        (
            "/api/v1/namespaces/team-a/serviceaccounts/agent",
            json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"agent","namespace":"team-a","labels":labels}}),
        ),
        (
            "/api/v1/namespaces/team-a/services/agent",
            json!({"apiVersion":"v1","kind":"Service","metadata":{"name":"agent","namespace":"team-a"},"spec":{"selector":{"app.kubernetes.io/name":"agent"},"ports":[{"name":"http","port":80,"targetPort":"http"}]}}),
        ),
        (
            "/api/v1/namespaces/team-a/persistentvolumeclaims/data",
            json!({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","namespace":"team-a"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}),
        ),
        (
            "/apis/apps/v1/namespaces/team-a/deployments/agent",
            json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"agent","namespace":"team-a","labels":labels},"spec":{"replicas":2,"selector":{"matchLabels":{"app.kubernetes.io/name":"agent"}},"template":{"metadata":{"labels":labels,"annotations":{"checksum/config":"abc"}},"spec":pod}}}),
        ),
        (
            "/apis/apps/v1/namespaces/team-a/statefulsets/db",
            json!({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","namespace":"team-a"},"spec":{"serviceName":"db","selector":{"matchLabels":{"app":"db"}},"template":{"metadata":{"labels":{"app":"db"}},"spec":sts_pod},"volumeClaimTemplates":[{"metadata":{"name":"pgdata"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"5Gi"}}}}]}}),
        ),
        (
            "/apis/batch/v1/namespaces/team-a/jobs/migrate",
            json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"migrate","namespace":"team-a"},"spec":{"backoffLimit":2,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"m","image":"ghcr.io/astro/migrate:1"}]}}}}),
        ),
        (
            "/apis/batch/v1/namespaces/team-a/cronjobs/sync",
            json!({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"sync","namespace":"team-a"},"spec":{"schedule":"0 * * * *","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"s","image":"ghcr.io/astro/sync:1"}]}}}}}}),
        ),
        (
            "/apis/networking.k8s.io/v1/namespaces/team-a/ingresses/agent",
            json!({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"agent","namespace":"team-a","annotations":{"nginx.ingress.kubernetes.io/proxy-body-size":"10m"}},"spec":{"ingressClassName":"nginx","tls":[{"hosts":["agent.example.com"],"secretName":"agent-tls"}],"rules":[{"host":"agent.example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"agent","port":{"name":"http"}}}}]}}]}}),
        ),
        (
            "/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies/agent",
            json!({"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"agent","namespace":"team-a"},"spec":{"podSelector":{"matchLabels":{"app.kubernetes.io/name":"agent"}},"ingress":[{"from":[{"namespaceSelector":{}}],"ports":[{"port":8080}]}]}}),
        ),
    ]
}

/// Re-apply is a no-op and a dry-run equals the live object for every plugin kind: the defaults
/// (`pkg/apis/*/v1/defaults.go`) must be stable under re-apply.
#[tokio::test]
async fn reapply_and_dry_run_are_stable_for_all_plugin_kinds() {
    let s = TestApiServer::start().await.expect("start");
    let b = s.base_url();
    let ns = apply(
        &b,
        "/api/v1/namespaces/team-a?fieldManager=astro",
        &json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-a"}}),
    )
    .await;
    assert_eq!(ns.code, 201, "{}", ns.text);
    for (path, m) in manifests() {
        let url = format!("{path}?fieldManager=astro&force=true&fieldValidation=Strict");
        let created = apply(&b, &url, &m).await;
        assert_eq!(created.code, 201, "{path}: {}", created.text);
        let rv = s.resource_version();
        let again = apply(&b, &url, &m).await;
        assert_eq!(again.code, 200, "{path}");
        assert_eq!(
            again.body, created.body,
            "{path}: re-apply changed the object"
        );
        assert_eq!(s.resource_version(), rv, "{path}: re-apply wrote");
        let dry = apply(&b, &format!("{url}&dryRun=All"), &m).await;
        assert_eq!(dry.body, created.body, "{path}: dry-run differs from live");
        let live = get(&b, path).await;
        assert_eq!(
            live.body, created.body,
            "{path}: GET differs from the apply answer"
        );
    }
    let l = get(
        &b,
        "/apis/apps/v1/deployments?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dkubectl-astro",
    )
    .await;
    assert_eq!(l.body["items"].as_array().map(Vec::len), Some(1));
}
