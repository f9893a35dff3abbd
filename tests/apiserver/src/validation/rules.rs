//! One test per validation rule: a valid object, one change, and the exact `field: message`
//! the real server answers (each names the upstream function in `validation.rs` or its
//! modules).

use super::*;
use serde_json::json;

/// The `field: body` lines of validating `obj` as the write pipeline does (defaults first).
fn lines(kind: &str, mut obj: Value) -> Vec<String> {
    crate::defaults::apply_defaults(kind, &mut obj);
    validate(kind, &obj)
        .into_iter()
        .map(|e| format!("{}: {}", e.field, e.body))
        .collect()
}

fn base(kind: &str) -> Value {
    let pod = json!({
        "containers": [{
            "name": "app", "image": "nginx:1.27",
            "ports": [{"name": "http", "containerPort": 8080}],
            "env": [{"name": "A", "value": "1"},
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                          "limits": {"cpu": "1", "memory": "128Mi"}},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
            "readinessProbe": {"tcpSocket": {"port": 8080}}
        }],
        "volumes": [{"name": "data", "emptyDir": {}}]
    });
    let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": pod});
    let meta = json!({"name": "web", "namespace": "ns", "labels": {"app": "web"}});
    match kind {
        "Deployment" => json!({"metadata": meta, "spec": {
            "selector": {"matchLabels": {"app": "web"}}, "template": template}}),
        "StatefulSet" => json!({"metadata": meta, "spec": {
            "selector": {"matchLabels": {"app": "web"}}, "serviceName": "web", "template": template,
            "volumeClaimTemplates": [{"metadata": {"name": "pvc"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}),
        "Job" => {
            let mut t = template.clone();
            t["spec"]["restartPolicy"] = json!("Never");
            json!({"metadata": meta, "spec": {"manualSelector": true,
                "selector": {"matchLabels": {"app": "web"}}, "template": t}})
        }
        "CronJob" => {
            let mut t = template.clone();
            t["spec"]["restartPolicy"] = json!("OnFailure");
            json!({"metadata": meta, "spec": {"schedule": "*/5 * * * *",
                "jobTemplate": {"spec": {"template": t}}}})
        }
        "Service" => json!({"metadata": meta, "spec": {"selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                      {"name": "grpc", "port": 9090, "targetPort": 9090}]}}),
        "Ingress" => json!({"metadata": meta, "spec": {"ingressClassName": "nginx",
            "rules": [{"host": "web.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}],
            "tls": [{"hosts": ["web.example.com", "*.example.com"], "secretName": "tls"}]}}),
        "NetworkPolicy" => json!({"metadata": meta, "spec": {"podSelector": {},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}},
                                  {"ipBlock": {"cidr": "10.0.0.0/8"}}],
                         "ports": [{"port": 8080}, {"port": "http"}, {"port": 3000, "endPort": 3010}]}],
            "policyTypes": ["Ingress"]}}),
        "ConfigMap" => json!({"metadata": meta, "data": {"KEY_1": "v", "a.b-c": "w"}}),
        "Secret" => json!({"metadata": meta, "type": "kubernetes.io/tls",
            "data": {"tls.crt": "eA==", "tls.key": "eA=="}}),
        "PersistentVolumeClaim" => json!({"metadata": meta, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
        _ => json!({"metadata": meta}),
    }
}

/// Validates `base(kind)` changed by the merge patch `patch`; the answer must contain `want`.
fn check(kind: &str, patch: Value, want: &str) {
    let mut obj = base(kind);
    json_patch::merge(&mut obj, &patch);
    let got = lines(kind, obj);
    assert!(got.iter().any(|l| l == want), "want {want:?}\ngot {got:#?}");
}

const C0: &str = "spec.template.spec.containers[0]";

fn container(patch: Value) -> Value {
    let mut c = base("Deployment")["spec"]["template"]["spec"]["containers"][0].clone();
    json_patch::merge(&mut c, &patch);
    json!({"spec": {"template": {"spec": {"containers": [c]}}}})
}

#[test]
fn every_base_object_is_valid() {
    for kind in [
        "Deployment",
        "StatefulSet",
        "Job",
        "CronJob",
        "Service",
        "Ingress",
        "NetworkPolicy",
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
        "Namespace",
    ] {
        assert_eq!(lines(kind, base(kind)), Vec::<String>::new(), "{kind}");
    }
}

// --- Object metadata (apimachinery `ValidateObjectMeta`, `ValidateLabels`, `ValidateAnnotations`).

#[test]
fn name_subdomain_length_253() {
    check(
        "ConfigMap",
        json!({"metadata": {"name": "a".repeat(254)}}),
        &format!(
            "metadata.name: Invalid value: \"{}\": must be no more than 253 characters",
            "a".repeat(254)
        ),
    );
}

#[test]
fn namespace_name_is_a_label_of_63() {
    let n = "a".repeat(64);
    check(
        "Namespace",
        json!({"metadata": {"name": n}}),
        &format!("metadata.name: Invalid value: \"{n}\": must be no more than 63 characters"),
    );
}

#[test]
fn service_name_is_a_dns1035_label() {
    check(
        "Service",
        json!({"metadata": {"name": "1web"}}),
        &format!("metadata.name: Invalid value: \"1web\": {DNS1035_LABEL_MSG}"),
    );
}

#[test]
fn cronjob_name_at_most_52() {
    let n = "c".repeat(53);
    check(
        "CronJob",
        json!({"metadata": {"name": n}}),
        &format!("metadata.name: Invalid value: \"{n}\": must be no more than 52 characters"),
    );
}

#[test]
fn label_key_is_a_qualified_name() {
    check(
        "ConfigMap",
        json!({"metadata": {"labels": {"Bad_Prefix/x": "v"}}}),
        &format!(
            "metadata.labels: Invalid value: \"Bad_Prefix/x\": prefix part {DNS1123_SUBDOMAIN_MSG}"
        ),
    );
    let long = "k".repeat(64);
    check(
        "ConfigMap",
        json!({"metadata": {"labels": {long.clone(): "v"}}}),
        &format!(
            "metadata.labels: Invalid value: \"{long}\": name part must be no more than 63 characters"
        ),
    );
}

#[test]
fn label_value_at_most_63_and_pattern() {
    let long = "v".repeat(64);
    check(
        "ConfigMap",
        json!({"metadata": {"labels": {"k": long.clone()}}}),
        &format!("metadata.labels: Invalid value: \"{long}\": must be no more than 63 characters"),
    );
    check(
        "ConfigMap",
        json!({"metadata": {"labels": {"k": "-v"}}}),
        &format!("metadata.labels: Invalid value: \"-v\": {LABEL_VALUE_MSG}"),
    );
}

#[test]
fn annotation_key_is_a_qualified_name() {
    check(
        "ConfigMap",
        json!({"metadata": {"annotations": {"a b": "v"}}}),
        &format!("metadata.annotations: Invalid value: \"a b\": name part {QUALIFIED_NAME_MSG}"),
    );
}

#[test]
fn annotations_total_at_most_256_kib() {
    check(
        "ConfigMap",
        json!({"metadata": {"annotations": {"a": "x".repeat(ANNOTATIONS_MAX_BYTES)}}}),
        "metadata.annotations: Too long: must have at most 262144 bytes",
    );
    // Exactly the limit is allowed.
    let mut obj = base("ConfigMap");
    obj["metadata"]["annotations"] = json!({"a": "x".repeat(ANNOTATIONS_MAX_BYTES - 1)});
    assert!(lines("ConfigMap", obj).is_empty());
}

// --- Containers (`pkg/apis/core/validation/validation.go`).

#[test]
fn container_name_is_a_label() {
    check(
        "Deployment",
        container(json!({"name": "App"})),
        &format!("{C0}.name: Invalid value: \"App\": {DNS1123_LABEL_MSG}"),
    );
}

#[test]
fn container_names_are_unique() {
    let c = base("Deployment")["spec"]["template"]["spec"]["containers"][0].clone();
    check(
        "Deployment",
        json!({"spec": {"template": {"spec": {"containers": [c.clone(), c]}}}}),
        "spec.template.spec.containers[1].name: Duplicate value: \"app\"",
    );
}

#[test]
fn container_image_required() {
    check(
        "Deployment",
        container(json!({"image": null})),
        &format!("{C0}.image: Required value"),
    );
}

#[test]
fn image_pull_policy_supported() {
    check(
        "Deployment",
        container(json!({"imagePullPolicy": "Sometimes"})),
        &format!(
            "{C0}.imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\""
        ),
    );
}

#[test]
fn container_port_name_is_an_iana_svc_name_of_15() {
    check(
        "Deployment",
        container(json!({"ports": [{"name": "a-very-long-port-name", "containerPort": 80}]})),
        &format!(
            "{C0}.ports[0].name: Invalid value: \"a-very-long-port-name\": must be no more than 15 characters"
        ),
    );
    check(
        "Deployment",
        container(json!({"ports": [{"name": "80", "containerPort": 80}]})),
        &format!(
            "{C0}.ports[0].name: Invalid value: \"80\": must contain at least one letter (a-z)"
        ),
    );
    check(
        "Deployment",
        container(json!({"ports": [{"name": "a--b", "containerPort": 80}]})),
        &format!(
            "{C0}.ports[0].name: Invalid value: \"a--b\": must not contain consecutive hyphens"
        ),
    );
}

#[test]
fn container_port_names_unique() {
    check(
        "Deployment",
        container(
            json!({"ports": [{"name": "http", "containerPort": 80}, {"name": "http", "containerPort": 81}]}),
        ),
        &format!("{C0}.ports[1].name: Duplicate value: \"http\""),
    );
}

#[test]
fn container_port_in_range() {
    check(
        "Deployment",
        container(json!({"ports": [{"containerPort": 70000}]})),
        &format!(
            "{C0}.ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"
        ),
    );
    check(
        "Deployment",
        container(json!({"ports": [{"containerPort": 80, "hostPort": -1}]})),
        &format!(
            "{C0}.ports[0].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive"
        ),
    );
}

#[test]
fn container_port_protocol_supported() {
    check(
        "Deployment",
        container(json!({"ports": [{"containerPort": 80, "protocol": "ICMP"}]})),
        &format!(
            "{C0}.ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\""
        ),
    );
}

#[test]
fn env_name_printable_ascii_without_equals() {
    check(
        "Deployment",
        container(json!({"env": [{"name": "A=B", "value": "1"}]})),
        &format!(
            "{C0}.env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='"
        ),
    );
}

#[test]
fn env_secret_key_ref_needs_a_key() {
    check(
        "Deployment",
        container(json!({"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s"}}}]})),
        &format!("{C0}.env[0].valueFrom.secretKeyRef.key: Required value"),
    );
}

#[test]
fn env_value_from_not_with_value() {
    check(
        "Deployment",
        container(
            json!({"env": [{"name": "A", "value": "x", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}),
        ),
        &format!(
            "{C0}.env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty"
        ),
    );
}

#[test]
fn volume_mount_names_a_volume() {
    check(
        "Deployment",
        container(json!({"volumeMounts": [{"name": "cache", "mountPath": "/cache"}]})),
        &format!("{C0}.volumeMounts[0].name: Not found: \"cache\""),
    );
}

#[test]
fn volume_mount_paths_unique() {
    check(
        "Deployment",
        container(
            json!({"volumeMounts": [{"name": "data", "mountPath": "/d"}, {"name": "data", "mountPath": "/d"}]}),
        ),
        &format!("{C0}.volumeMounts[1].mountPath: Invalid value: \"/d\": must be unique"),
    );
}

#[test]
fn volume_names_unique_labels() {
    check(
        "Deployment",
        json!({"spec": {"template": {"spec": {"volumes": [{"name": "data", "emptyDir": {}}, {"name": "data", "emptyDir": {}}]}}}}),
        "spec.template.spec.volumes[1].name: Duplicate value: \"data\"",
    );
}

#[test]
fn volume_has_at_most_one_source() {
    // A volume without a source is defaulted to an emptyDir (`SetDefaults_Volume`).
    check(
        "Deployment",
        json!({"spec": {"template": {"spec": {"volumes": [{"name": "data", "emptyDir": {}, "secret": {"secretName": "s"}}]}}}}),
        "spec.template.spec.volumes[0].secret: Forbidden: may not specify more than 1 volume type",
    );
}

#[test]
fn secret_volume_needs_a_secret_name() {
    check(
        "Deployment",
        json!({"spec": {"template": {"spec": {"volumes": [{"name": "data", "secret": {}}]}}}}),
        "spec.template.spec.volumes[0].secret.secretName: Required value",
    );
}

#[test]
fn requests_at_most_limits() {
    check(
        "Deployment",
        container(json!({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1500m"}}})),
        &format!(
            "{C0}.resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1500m"
        ),
    );
    check(
        "Deployment",
        container(
            json!({"resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "1000Mi"}}}),
        ),
        &format!(
            "{C0}.resources.requests: Invalid value: \"1Gi\": must be less than or equal to memory limit of 1000Mi"
        ),
    );
}

#[test]
fn extended_resources_request_equals_limit() {
    check(
        "Deployment",
        container(
            json!({"resources": {"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "2"}}}),
        ),
        &format!(
            "{C0}.resources.requests: Invalid value: \"1\": must be equal to nvidia.com/gpu limit of 2"
        ),
    );
    check(
        "Deployment",
        container(json!({"resources": {"requests": {"nvidia.com/gpu": "1"}, "limits": null}})),
        &format!(
            "{C0}.resources.limits: Required value: Limit must be set for non overcommitable resources"
        ),
    );
}

#[test]
fn quantities_not_negative() {
    check(
        "Deployment",
        container(json!({"resources": {"requests": {"cpu": "-1"}}})),
        &format!(
            "{C0}.resources.requests[cpu]: Invalid value: \"-1\": must be greater than or equal to 0"
        ),
    );
}

#[test]
fn probe_needs_one_handler() {
    check(
        "Deployment",
        container(json!({"livenessProbe": {"httpGet": null, "periodSeconds": 5}})),
        &format!("{C0}.livenessProbe: Required value: must specify a handler type"),
    );
    check(
        "Deployment",
        container(json!({"readinessProbe": {"exec": {"command": ["true"]}}})),
        &format!(
            "{C0}.readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"
        ),
    );
}

#[test]
fn probe_http_get_port() {
    // The path is defaulted to "/" (`SetDefaults_HTTPGetAction`), so only the port can be wrong.
    check(
        "Deployment",
        container(json!({"livenessProbe": {"httpGet": {"port": 0}}})),
        &format!(
            "{C0}.livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive"
        ),
    );
}

#[test]
fn probe_numbers_not_negative() {
    check(
        "Deployment",
        container(json!({"readinessProbe": {"periodSeconds": -1}})),
        &format!(
            "{C0}.readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0"
        ),
    );
}

#[test]
fn liveness_success_threshold_is_one() {
    check(
        "Deployment",
        container(json!({"livenessProbe": {"successThreshold": 2}})),
        &format!("{C0}.livenessProbe.successThreshold: Invalid value: 2: must be 1"),
    );
}

#[test]
fn service_account_name_is_a_subdomain() {
    check(
        "Deployment",
        json!({"spec": {"template": {"spec": {"serviceAccountName": "Bad"}}}}),
        &format!(
            "spec.template.spec.serviceAccountName: Invalid value: \"Bad\": {DNS1123_SUBDOMAIN_MSG}"
        ),
    );
}

// --- Workloads (`pkg/apis/apps/validation`, `pkg/apis/batch/validation`).

#[test]
fn deployment_restart_policy_always() {
    check(
        "Deployment",
        json!({"spec": {"template": {"spec": {"restartPolicy": "Never"}}}}),
        "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
    );
}

#[test]
fn selector_must_match_template_labels() {
    check(
        "Deployment",
        json!({"spec": {"selector": {"matchLabels": {"app": "other"}}}}),
        "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
    );
}

#[test]
fn selector_required_and_not_empty() {
    check(
        "Deployment",
        json!({"spec": {"selector": null}}),
        "spec.selector: Required value",
    );
    check(
        "StatefulSet",
        json!({"spec": {"selector": {"matchLabels": null}}}),
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for statefulset",
    );
}

#[test]
fn replicas_not_negative() {
    check(
        "Deployment",
        json!({"spec": {"replicas": -1}}),
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
    );
}

#[test]
fn rolling_update_not_both_zero() {
    check(
        "Deployment",
        json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}}}),
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0",
    );
}

#[test]
fn progress_deadline_above_min_ready() {
    check(
        "Deployment",
        json!({"spec": {"minReadySeconds": 700, "progressDeadlineSeconds": 600}}),
        "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds",
    );
}

#[test]
fn statefulset_pod_management_policy() {
    check(
        "StatefulSet",
        json!({"spec": {"podManagementPolicy": "Random"}}),
        "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
    );
}

#[test]
fn statefulset_leaves_the_pod_spec_to_the_pods() {
    // `ValidatePodTemplateSpecForStatefulSet` does not validate containers.
    let mut obj = base("StatefulSet");
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = json!("");
    assert_eq!(lines("StatefulSet", obj), Vec::<String>::new());
}

#[test]
fn claim_needs_access_modes_and_storage() {
    check(
        "PersistentVolumeClaim",
        json!({"spec": {"accessModes": null}}),
        "spec.accessModes: Required value: at least 1 access mode is required",
    );
    check(
        "StatefulSet",
        json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "p"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}}),
        "spec.volumeClaimTemplates[0].spec.resources[storage]: Required value",
    );
}

#[test]
fn job_restart_policy_on_failure_or_never() {
    check(
        "Job",
        json!({"spec": {"template": {"spec": {"restartPolicy": "Always"}}}}),
        "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"",
    );
}

#[test]
fn job_counts_not_negative() {
    check(
        "Job",
        json!({"spec": {"backoffLimit": -1}}),
        "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
    );
}

#[test]
fn job_template_pod_spec_is_validated() {
    check(
        "Job",
        json!({"spec": {"template": {"spec": {"containers": [{"name": "x", "image": "i", "ports": [{"name": "toolongportname16", "containerPort": 1}]}]}}}}),
        "spec.template.spec.containers[0].ports[0].name: Invalid value: \"toolongportname16\": must be no more than 15 characters",
    );
}

#[test]
fn cronjob_schedule_required() {
    check(
        "CronJob",
        json!({"spec": {"schedule": ""}}),
        "spec.schedule: Required value",
    );
}

#[test]
fn cronjob_schedule_is_standard_cron() {
    check(
        "CronJob",
        json!({"spec": {"schedule": "0 25 * * *"}}),
        "spec.schedule: Invalid value: \"0 25 * * *\": end of range (25) above maximum (23): 25",
    );
    check(
        "CronJob",
        json!({"spec": {"schedule": "every day"}}),
        "spec.schedule: Invalid value: \"every day\": expected exactly 5 fields, found 2: [every day]",
    );
}

#[test]
fn cronjob_schedule_without_tz() {
    check(
        "CronJob",
        json!({"spec": {"schedule": "CRON_TZ=UTC 0 * * * *"}}),
        "spec.schedule: Invalid value: \"CRON_TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
    );
}

#[test]
fn cronjob_concurrency_policy_supported() {
    check(
        "CronJob",
        json!({"spec": {"concurrencyPolicy": "Sometimes"}}),
        "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
    );
}

#[test]
fn cronjob_job_template_pod_spec_is_validated() {
    check(
        "CronJob",
        json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Always"}}}}}}),
        "spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"",
    );
}

// --- Services (`ValidateService`).

#[test]
fn service_port_name_required_when_several() {
    check(
        "Service",
        json!({"spec": {"ports": [{"port": 80}, {"name": "b", "port": 81}]}}),
        "spec.ports[0].name: Required value",
    );
}

#[test]
fn service_port_names_unique_labels() {
    check(
        "Service",
        json!({"spec": {"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]}}),
        "spec.ports[1].name: Duplicate value: \"a\"",
    );
    check(
        "Service",
        json!({"spec": {"ports": [{"name": "A", "port": 80}]}}),
        &format!("spec.ports[0].name: Invalid value: \"A\": {DNS1123_LABEL_MSG}"),
    );
}

#[test]
fn service_port_range() {
    check(
        "Service",
        json!({"spec": {"ports": [{"name": "a", "port": 0}]}}),
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
    );
}

#[test]
fn service_port_and_protocol_unique() {
    check(
        "Service",
        json!({"spec": {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]}}),
        "spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
    );
}

#[test]
fn service_target_port_number_or_name() {
    check(
        "Service",
        json!({"spec": {"ports": [{"name": "a", "port": 80, "targetPort": "web_port"}]}}),
        "spec.ports[0].targetPort: Invalid value: \"web_port\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
    );
}

#[test]
fn service_selector_is_labels() {
    check(
        "Service",
        json!({"spec": {"selector": {"app": "a b"}}}),
        &format!("spec.selector: Invalid value: \"a b\": {LABEL_VALUE_MSG}"),
    );
}

#[test]
fn service_ports_required() {
    check(
        "Service",
        json!({"spec": {"ports": null}}),
        "spec.ports: Required value",
    );
}

#[test]
fn external_name_service_needs_a_name() {
    check(
        "Service",
        json!({"spec": {"type": "ExternalName", "ports": null}}),
        "spec.externalName: Required value",
    );
}

// --- Ingress (`ValidateIngressSpec`).

#[test]
fn ingress_rules_or_default_backend() {
    check(
        "Ingress",
        json!({"spec": {"rules": null}}),
        "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified",
    );
}

#[test]
fn ingress_host_is_a_subdomain_or_wildcard() {
    check(
        "Ingress",
        json!({"spec": {"rules": [{"host": "Web.example.com"}]}}),
        &format!("spec.rules[0].host: Invalid value: \"Web.example.com\": {DNS1123_SUBDOMAIN_MSG}"),
    );
    let mut obj = base("Ingress");
    obj["spec"]["rules"][0]["host"] = json!("*.example.com");
    assert!(lines("Ingress", obj).is_empty());
    check(
        "Ingress",
        json!({"spec": {"rules": [{"host": "a.*.com"}]}}),
        "spec.rules[0].host: Invalid value: \"a.*.com\": a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
}

#[test]
fn ingress_host_not_an_ip() {
    check(
        "Ingress",
        json!({"spec": {"rules": [{"host": "10.0.0.1"}]}}),
        "spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address",
    );
}

fn with_path(p: Value) -> Value {
    let mut path = base("Ingress")["spec"]["rules"][0]["http"]["paths"][0].clone();
    json_patch::merge(&mut path, &p);
    json!({"spec": {"rules": [{"host": "web.example.com", "http": {"paths": [path]}}]}})
}

#[test]
fn ingress_path_type_required_and_supported() {
    check(
        "Ingress",
        with_path(json!({"pathType": null})),
        "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
    );
    check(
        "Ingress",
        with_path(json!({"pathType": "Regex"})),
        "spec.rules[0].http.paths[0].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\"",
    );
}

#[test]
fn ingress_path_absolute_and_clean() {
    check(
        "Ingress",
        with_path(json!({"path": "api"})),
        "spec.rules[0].http.paths[0].path: Invalid value: \"api\": must be an absolute path",
    );
    check(
        "Ingress",
        with_path(json!({"path": "/a//b"})),
        "spec.rules[0].http.paths[0].path: Invalid value: \"/a//b\": must not contain '//'",
    );
}

#[test]
fn ingress_backend_service_name_and_port() {
    check(
        "Ingress",
        with_path(json!({"backend": {"service": {"name": "Web"}}})),
        &format!(
            "spec.rules[0].http.paths[0].backend.service.name: Invalid value: \"Web\": {DNS1035_LABEL_MSG}"
        ),
    );
    check(
        "Ingress",
        with_path(json!({"backend": {"service": {"port": {"name": "http", "number": 80}}}})),
        "spec.rules[0].http.paths[0].backend: Invalid value: \"\": cannot set both port name & port number",
    );
    check(
        "Ingress",
        with_path(json!({"backend": {"service": {"port": {"name": null}}}})),
        "spec.rules[0].http.paths[0].backend: Required value: port name or number is required",
    );
    check(
        "Ingress",
        with_path(json!({"backend": null})),
        "spec.rules[0].http.paths[0].backend: Invalid value: \"\": resource or service backend is required",
    );
}

#[test]
fn ingress_tls_hosts_and_secret_name() {
    check(
        "Ingress",
        json!({"spec": {"tls": [{"hosts": ["Bad.example.com"], "secretName": "Bad"}]}}),
        &format!(
            "spec.tls[0].hosts[0]: Invalid value: \"Bad.example.com\": {DNS1123_SUBDOMAIN_MSG}"
        ),
    );
    check(
        "Ingress",
        json!({"spec": {"tls": [{"hosts": ["a.example.com"], "secretName": "Bad"}]}}),
        &format!("spec.tls[0].secretName: Invalid value: \"Bad\": {DNS1123_SUBDOMAIN_MSG}"),
    );
}

#[test]
fn ingress_class_name_is_a_subdomain() {
    check(
        "Ingress",
        json!({"spec": {"ingressClassName": "Nginx"}}),
        &format!("spec.ingressClassName: Invalid value: \"Nginx\": {DNS1123_SUBDOMAIN_MSG}"),
    );
}

// --- NetworkPolicy (`ValidateNetworkPolicySpec`).

fn np_rule(rule: Value) -> Value {
    json!({"spec": {"ingress": [rule]}})
}

#[test]
fn network_policy_peer_needs_one_kind() {
    check(
        "NetworkPolicy",
        np_rule(json!({"from": [{}]})),
        "spec.ingress[0].from[0]: Required value: must specify a peer",
    );
    check(
        "NetworkPolicy",
        np_rule(json!({"from": [{"podSelector": {}, "ipBlock": {"cidr": "10.0.0.0/8"}}]})),
        "spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer",
    );
}

#[test]
fn network_policy_ip_block_cidr() {
    check(
        "NetworkPolicy",
        np_rule(json!({"from": [{"ipBlock": {"cidr": "10.0.0.0"}}]})),
        "spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"10.0.0.0\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
    );
}

#[test]
fn network_policy_port_protocol_and_range() {
    check(
        "NetworkPolicy",
        np_rule(json!({"ports": [{"protocol": "ICMP", "port": 80}]})),
        "spec.ingress[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\"",
    );
    check(
        "NetworkPolicy",
        np_rule(json!({"ports": [{"port": 70000}]})),
        "spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
    );
    check(
        "NetworkPolicy",
        np_rule(json!({"ports": [{"port": "http", "endPort": 90}]})),
        "spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
    );
    check(
        "NetworkPolicy",
        np_rule(json!({"ports": [{"port": 3000, "endPort": 2000}]})),
        "spec.ingress[0].ports[0].endPort: Invalid value: 3000: must be greater than or equal to `port`",
    );
}

#[test]
fn network_policy_types_supported() {
    check(
        "NetworkPolicy",
        json!({"spec": {"policyTypes": ["Sideways"]}}),
        "spec.policyTypes[0]: Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\"",
    );
}

#[test]
fn label_selector_operators() {
    check(
        "NetworkPolicy",
        json!({"spec": {"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}}),
        "spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
    );
    check(
        "NetworkPolicy",
        json!({"spec": {"podSelector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}}}),
        "spec.podSelector.matchExpressions[0].operator: Invalid value: \"Near\": not a valid selector operator",
    );
}

// --- ConfigMap and Secret (`ValidateConfigMap`, `ValidateSecret`).

#[test]
fn config_keys_are_valid() {
    check(
        "ConfigMap",
        json!({"data": {"a b": "x"}}),
        &format!(
            "data[a b]: Invalid value: \"a b\": {}",
            pod::config_key_errs("a b")[0]
        ),
    );
    check(
        "Secret",
        json!({"data": {"..x": "eA=="}}),
        "data[..x]: Invalid value: \"..x\": must not start with '..'",
    );
}

#[test]
fn configmap_key_not_in_data_and_binary_data() {
    check(
        "ConfigMap",
        json!({"binaryData": {"KEY_1": "eA=="}}),
        "data[KEY_1]: Invalid value: \"KEY_1\": duplicate of key present in binaryData",
    );
}

#[test]
fn tls_secret_has_certificate_and_key() {
    check(
        "Secret",
        json!({"data": {"tls.key": null}}),
        "data[tls.key]: Required value",
    );
}
