//! The server's Prometheus metrics, served at `GET /metrics` in the OpenMetrics text format
//! (which Prometheus scrapes): requests by route and status, deploy durations, objects by
//! action, and the requests to the API server and their retries.

use std::sync::Arc;
use std::time::Duration;

use astro_deploy::api::{DeployResponse, ResourceAction};
use kubectl_astro::{Event, Observer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The label of one answered request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: String,
}

/// How a deploy ended: `success`, `partial` or `error`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

/// What happened to an object.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: String,
}

/// The answer of one attempt of a request to the API server: its HTTP status, `0` when none
/// arrived.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

/// Every metric of a server.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    deploy_seconds: Family<OutcomeLabels, Histogram>,
    objects: Family<ActionLabels, Counter>,
    api_requests: Family<CodeLabels, Counter>,
    api_retries: Counter,
}

/// Deploy duration buckets, in seconds: 50 ms to about 6.5 minutes.
fn deploy_buckets() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.05, 2.0, 14,
    ))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("astro");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Requests answered, by method, route (the matched pattern) and status",
            requests.clone(),
        );
        let deploy_seconds =
            Family::<OutcomeLabels, Histogram>::new_with_constructor(deploy_buckets);
        registry.register(
            "deploy_duration_seconds",
            "Duration of the engine's deploys, by outcome (success, partial, error)",
            deploy_seconds.clone(),
        );
        let objects = Family::<ActionLabels, Counter>::default();
        registry.register(
            "deploy_objects",
            "Objects of the deploys, by action (created, configured, unchanged, pruned, failed)",
            objects.clone(),
        );
        let api_requests = Family::<CodeLabels, Counter>::default();
        registry.register(
            "apiserver_requests",
            "Attempts of requests to the Kubernetes API server, by HTTP status (0: no answer)",
            api_requests.clone(),
        );
        let api_retries = Counter::default();
        registry.register(
            "apiserver_retries",
            "Requests to the Kubernetes API server sent again after a transient failure",
            api_retries.clone(),
        );
        Metrics {
            registry,
            requests,
            deploy_seconds,
            objects,
            api_requests,
            api_retries,
        }
    }
}

impl Metrics {
    /// Counts an answered request.
    pub fn request(&self, method: &str, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status: status.to_string(),
            })
            .inc();
    }

    /// Records a deploy that took `took` and answered `response` (`None`: it failed as a
    /// whole).
    pub fn deploy(&self, took: Duration, response: Option<&DeployResponse>) {
        let outcome = match response {
            None => "error",
            Some(r) if r.errors.is_empty() => "success",
            Some(_) => "partial",
        };
        self.deploy_seconds
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .observe(took.as_secs_f64());
        for r in response.map(|r| r.resources.as_slice()).unwrap_or_default() {
            let action = match r.action {
                ResourceAction::Created => "created",
                ResourceAction::Configured => "configured",
                ResourceAction::Unchanged => "unchanged",
                ResourceAction::Pruned => "pruned",
                ResourceAction::Failed => "failed",
            };
            self.objects
                .get_or_create(&ActionLabels {
                    action: action.into(),
                })
                .inc();
        }
    }

    /// The metrics in the OpenMetrics text format.
    pub fn text(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// An [`Observer`] that counts the API server requests and retries into [`Metrics`], and
/// passes every event on to `inner` (the CLI's observer: retry lines on stderr).
pub struct Counting {
    /// Where the counts go.
    pub metrics: Arc<Metrics>,
    /// Who else hears the events.
    pub inner: Arc<dyn Observer>,
}

impl Observer for Counting {
    fn on_event(&self, event: &Event<'_>) {
        match event {
            Event::Attempted { code } => {
                self.metrics
                    .api_requests
                    .get_or_create(&CodeLabels {
                        code: code.to_string(),
                    })
                    .inc();
            }
            Event::Retrying { .. } => {
                self.metrics.api_retries.inc();
            }
            _ => {}
        }
        self.inner.on_event(event);
    }
}
