//! The Astropods spec (`astropods.yml`, RFC-1) as Rust types; "§N" below is a section of that
//! spec. Unknown keys are rejected so a typo (`knowlege:`) is an error rather than a silently
//! missing store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A whole `astropods.yml` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AstroSpec {
    /// Spec identifier: `astro/v1`, `package/v1` or `blueprint/v1`.
    pub spec: String,
    /// Agent name, optionally org-scoped as `"@org/agent"`.
    pub name: String,
    /// Deprecated metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// The agent itself.
    pub agent: Agent,
    /// Model dependencies keyed by entry name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, Model>,
    /// Knowledge stores keyed by entry name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub knowledge: BTreeMap<String, Knowledge>,
    /// Integrations keyed by entry name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub integrations: BTreeMap<String, Integration>,
    /// Custom providers keyed by provider name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub providers: BTreeMap<String, CustomProvider>,
    /// Inputs injected into every container, keyed by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, Input>,
    /// Ingestion pipelines keyed by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ingestion: BTreeMap<String, Ingestion>,
    /// Local development overrides (read for the Slack adapter settings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<Dev>,
    /// A top-level `interfaces:` is ignored by the platform (it belongs under `agent:`).
    #[serde(default, skip_serializing)]
    pub interfaces: Option<serde_json::Value>,
    /// Code-era extension (sandbox toolchain); accepted and not deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<serde_json::Value>,
    /// Code-era extension (OAuth connections); accepted and not deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<serde_json::Value>,
}

/// `meta` (§2.1), deprecated in favour of the Agent Card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Deprecated description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Deprecated tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Deprecated visibility (`public` | `private`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
}

/// `agent` (§3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Pre-built image reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Build from source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildConfig>,
    /// Agent tolerates multiple replicas.
    #[serde(default)]
    pub distributed: bool,
    /// Frontend / messaging capability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interfaces: Option<Interfaces>,
    /// Health check of the agent container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Inputs injected into the agent container only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Input>,
    /// Enables the Astro AI Gateway (RFC v1.6 spelling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_gateway: Option<bool>,
    /// Enables the Astro AI Gateway (schema spelling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub astro_ai_gateway: Option<bool>,
    /// Code-era extension (agent skills); accepted and not deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<serde_json::Value>,
}

impl Agent {
    /// The effective interfaces after the defaulting rule of §3.3: with no `interfaces`
    /// block the agent is a messaging agent; with a block, unset fields are `false`.
    pub fn effective_interfaces(&self) -> EffectiveInterfaces {
        match &self.interfaces {
            None => EffectiveInterfaces {
                frontend: false,
                messaging: true,
            },
            Some(i) => EffectiveInterfaces {
                frontend: i.frontend.unwrap_or(false),
                messaging: i.messaging.unwrap_or(false),
            },
        }
    }

    /// Whether the AI gateway is on under either spelling.
    pub fn gateway_enabled(&self) -> bool {
        self.ai_gateway.unwrap_or(false) || self.astro_ai_gateway.unwrap_or(false)
    }
}

/// Interfaces after defaulting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveInterfaces {
    /// Agent serves its own web UI on port 80.
    pub frontend: bool,
    /// Agent speaks the messaging protocol (gets the sidecar).
    pub messaging: bool,
}

/// `agent.interfaces` (§3.3) as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interfaces {
    /// Agent serves its own web UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend: Option<bool>,
    /// Agent speaks the messaging protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging: Option<bool>,
}

/// BuildConfig (§3.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildConfig {
    /// Build context directory.
    #[serde(default)]
    pub context: String,
    /// Dockerfile relative to the context.
    #[serde(default)]
    pub dockerfile: String,
    /// Multi-stage target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Build arguments.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    /// Build secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<BuildSecret>,
}

/// A build-time secret mount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSecret {
    /// Secret id (`--mount=type=secret,id=<id>`).
    pub id: String,
    /// Env var the value is read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
}

/// Healthcheck (§3.2): exec `test` or HTTP `path`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// Exec form, e.g. `["CMD", "redis-cli", "ping"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    /// HTTP path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Interval, e.g. `10s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Timeout, e.g. `5s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Failures before unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

/// A model entry (§4.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Provider name (built-in or custom).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Model ids to make available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// Deprecated single model id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Self-hosted inference server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerConfig>,
    /// Inputs injected into the model container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Input>,
}

impl Model {
    /// The model ids, from `models` or the deprecated `model`.
    pub fn model_ids(&self) -> Vec<String> {
        match (&self.models, &self.model) {
            (Some(m), _) => m.clone(),
            (None, Some(m)) => vec![m.clone()],
            (None, None) => Vec::new(),
        }
    }
}

/// A knowledge entry (§4.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Knowledge {
    /// Provider name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Container definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerConfig>,
    /// Inputs injected into the knowledge container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Input>,
    /// ≤ v1.5: provision durable storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<bool>,
}

/// An integration entry (§4.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// Provider name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Container definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerConfig>,
    /// Inputs injected into the integration container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Input>,
}

/// ContainerConfig (§4.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerConfig {
    /// Image reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Build from source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildConfig>,
    /// Primary listening port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Mount path for persistent data (v1.3+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// Static, non-secret env vars.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// GPU requirements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuConfig>,
    /// ≤ v1.5: durable storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<bool>,
    /// Health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
}

/// GPUConfig.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuConfig {
    /// VRAM, e.g. `24Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vram: Option<String>,
    /// `cuda` (default) or `rocm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
}

/// An Input (§4.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Env var key.
    #[serde(default)]
    pub name: String,
    /// `string` | `boolean` | `number` | `array` | `object`.
    #[serde(default)]
    pub datatype: String,
    /// Stored securely, never logged.
    #[serde(default)]
    pub secret: bool,
    /// Prompt text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `short-text` | `long-text` | `select`.
    #[serde(
        default,
        rename = "display-as",
        skip_serializing_if = "Option::is_none"
    )]
    pub display_as: Option<String>,
    /// Choices for `select`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    /// Pre-filled value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// May be omitted at deploy time.
    #[serde(default)]
    pub optional: bool,
}

/// A custom provider (§5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomProvider {
    /// Sections that may reference it.
    #[serde(default)]
    pub scope: Vec<String>,
    /// Variables prompted for; secret ones become credentials `{PROVIDER}_{name}`.
    #[serde(default)]
    pub variables: Vec<Input>,
    /// Provider-specific configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
}

/// An ingestion pipeline (§6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ingestion {
    /// The container that runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerConfig>,
    /// When it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    /// Inputs injected into the ingestion container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Input>,
}

/// `ingestion.<n>.trigger`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// `schedule` | `startup` | `manual` | `webhook`.
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// `dev` (§7): local-runner settings; only the Slack adapter config reaches a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dev {
    /// Local start command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Interface settings, or a legacy adapter list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interfaces: Option<DevInterfaces>,
    /// Image overrides for local runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<BTreeMap<String, String>>,
    /// Local cron schedules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedules: Option<BTreeMap<String, String>>,
}

/// `dev.interfaces`: an object, or the legacy list of adapter names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DevInterfaces {
    /// Legacy form `[web, slack]`.
    Adapters(Vec<String>),
    /// Object form.
    Settings(DevInterfaceSettings),
}

/// Object form of `dev.interfaces`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevInterfaceSettings {
    /// `frontend.port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend: Option<serde_json::Value>,
    /// Messaging settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging: Option<DevMessaging>,
}

/// `dev.interfaces.messaging`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevMessaging {
    /// Adapters for local runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adapters: Vec<String>,
    /// Slack adapter settings, passed to the sidecar as `SLACK_CONFIG` JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<serde_json::Map<String, serde_json::Value>>,
    /// Sidecar log level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
}

impl AstroSpec {
    /// The Slack adapter configuration from `dev.interfaces.messaging.slack`, if any.
    pub fn slack_config(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        match self.dev.as_ref()?.interfaces.as_ref()? {
            DevInterfaces::Settings(s) => s.messaging.as_ref()?.slack.as_ref(),
            DevInterfaces::Adapters(_) => None,
        }
    }
}
