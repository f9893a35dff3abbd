//! The Astropods deploy API's wire types, with the seed's exact field names
//! (`POST /api/v1/deploy`, `POST /api/v1/deploy/validate`, `POST /api/v1/undeploy`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Body of `POST /deploy`: which agent to deploy and the runtime configuration it needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// Account that owns the deployment.
    pub account: String,
    /// Agent name.
    pub name: String,
    /// Source account for cross-account deploys (uses the latest published version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_account: Option<String>,
    /// Credential key-value pairs required by the agent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_credentials: BTreeMap<String, String>,
    /// Interface adapter names to enable (`slack`, `web`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<String>,
    /// Cron schedules keyed by ingestion name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schedules: BTreeMap<String, String>,
}

/// Overall outcome of a deploy: every object applied, or only some.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployResponseStatus {
    /// Every object was applied (HTTP 200).
    Success,
    /// Some objects failed (HTTP 207); `errors` names them.
    Partial,
}

/// How a service of the deployment can be reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEndpoint {
    /// Name of the Service or Ingress.
    pub name: String,
    /// `http://svc.ns.svc.cluster.local:port` or `https://host`.
    pub url: String,
    /// How it is reached: `ClusterIP` or `Ingress`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// What happened to one Kubernetes object during a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceAction {
    /// The object did not exist and was created.
    Created,
    /// The object existed and was changed.
    Configured,
    /// The object existed and already matched; nothing was written.
    Unchanged,
    /// The object belonged to an earlier render and was deleted.
    Pruned,
    /// The object could not be applied; `message` says why.
    Failed,
}

/// One entry of `DeployResponse.resources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceResult {
    /// Kubernetes kind.
    pub kind: String,
    /// metadata.name.
    pub name: String,
    /// metadata.namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// What happened to it.
    pub action: ResourceAction,
    /// Why it failed, or a warning about it (an Ingress whose TLS Secret does not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Body of a 200/207 answer to `POST /deploy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployResponse {
    /// `success` or `partial`.
    pub status: DeployResponseStatus,
    /// Agent name.
    pub name: String,
    /// Build that was deployed.
    pub build_id: String,
    /// Namespace the agent runs in.
    pub k8s_namespace: String,
    /// When the deploy finished, UTC RFC 3339.
    pub deployed_at: String,
    /// Every object of the deployment and what happened to it.
    pub resources: Vec<ResourceResult>,
    /// How the agent's services are reached.
    pub service_endpoints: Vec<ServiceEndpoint>,
    /// One line per failed object, naming it.
    pub errors: Vec<String>,
}

/// The API's error body (`{error, details}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    /// Short, stable description of the failure class.
    pub error: String,
    /// Human-readable detail naming the field or object.
    pub details: String,
}

/// Body of `POST /deploy/validate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateResponse {
    /// Whether the request would deploy.
    pub valid: bool,
    /// Build that would be deployed (valid requests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
    /// Agent name (valid requests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// One line per problem (invalid requests only), each naming its field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_errors: Option<Vec<String>>,
}

/// Body of `POST /undeploy`: which agent's deployment to delete.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndeployRequest {
    /// Account that owns the deployment.
    pub account: String,
    /// Agent name.
    pub name: String,
}

/// Body of a successful `POST /deployments/{namespace}/ingestion/{ingestion}/trigger`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerResponse {
    /// `triggered`.
    pub status: String,
    /// The Job that runs the ingestion.
    pub job_name: String,
    /// Its namespace.
    pub namespace: String,
}

/// Body of a successful `POST /undeploy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndeployResponse {
    /// `success`.
    pub status: String,
    /// Agent name.
    pub name: String,
    /// Build that was running.
    pub build_id: String,
    /// Namespace that was removed.
    pub k8s_namespace: String,
    /// When the namespace was deleted, UTC RFC 3339.
    pub undeployed_at: String,
}
