//! The deploy engine of `kubectl-astro`: everything between a rendered deployment and a live
//! cluster. The `kubectl astro` commands and the Deploy API server call the same functions.
//!
//! The data flows one way: a [`Plan`] (a `DeployRequest` resolved and rendered by the
//! `astro-deploy` library) → [`diff()`] (server-side dry-run against the live objects) or
//! [`deploy()`] (staged server-side apply, prune, inventory, wait) → a typed result — the
//! platform's `DeployResponse`, [`ObjectDiff`]s, an `UndeployResponse`, the deployments
//! [`list()`] finds, an agent's [`status()`] and [`history()`]. A deploy and an undeploy hold
//! the deployment's Lease ([`lock`]) while they write, so two of them never interleave, in one
//! process or many. Each verb lives in a module of its own; options are plain structs with
//! `Default` and builder methods; every failure is one [`Error`] whose [`kind`](Error::kind)
//! says what happened. Nothing here prints, exits or parses flags: [`Observer`] hears progress,
//! the caller decides what to show.
//!
//! # Example
//!
//! Deploy the latest build of an agent from the in-cluster catalog, as `kubectl astro deploy
//! -f request.json --wait` does:
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use astro_deploy::api::DeployRequest;
//! use astro_deploy::render::Templates;
//! use astro_deploy::resolve::ResolveOptions;
//! use kubectl_astro::{ConnectOptions, DeployOptions, Plan, catalog, connect, deploy};
//!
//! # async fn run() -> Result<(), kubectl_astro::Error> {
//! let request: DeployRequest = serde_json::from_str(
//!     r#"{"account": "astro-team", "name": "weather-agent",
//!         "user_credentials": {"ANTHROPIC_API_KEY": "sk-…"}}"#,
//! )
//! .map_err(|e| kubectl_astro::Error::InvalidInput(e.to_string()))?;
//! let cluster = connect(&ConnectOptions::default()).await?;
//! let (build, _problems) = catalog::latest(&cluster, &request).await?;
//! let plan = Plan::new(&request, &build, &ResolveOptions::default(), &Templates::embedded()?)?;
//! let options = DeployOptions::default().wait(Some(Duration::from_secs(300)));
//! let deployed = deploy(&cluster, &plan, &options).await?;
//! println!("{:?}: {} objects", deployed.response.status, deployed.response.resources.len());
//! # Ok(())
//! # }
//! ```

pub mod agent;
pub mod apply;
pub mod body;
pub mod catalog;
pub mod cluster;
pub mod connect;
pub mod deploy;
pub mod diff;
pub mod error;
pub mod events;
pub mod history;
pub mod interrupt;
pub mod inventory;
pub mod list;
pub mod lock;
pub mod passwords;
pub mod plan;
pub mod prune;
pub mod result;
pub mod settings;
pub mod status;
pub mod stored;
pub mod tls_secrets;
pub mod transport;
pub mod trigger;
pub mod undeploy;
pub mod wait;

pub use cluster::{Cluster, RetryPolicy};
pub use connect::{ConnectOptions, connect};
pub use deploy::{DeployOptions, Deployed, deploy};
pub use diff::{Change, DiffOptions, ObjectDiff, diff};
pub use error::{ApiStatus, CallError, Error, ErrorKind, StatusCause};
pub use events::{DeployStep, Event, Observer};
pub use history::{DeploymentRecord, History, HistoryOptions, history};
pub use interrupt::Interrupt;
pub use list::{ListOptions, list};
pub use lock::LockOptions;
pub use plan::Plan;
pub use settings::Settings;
pub use status::{AgentStatus, StatusOptions, status};
pub use trigger::{TriggerOptions, trigger, trigger_in};
pub use undeploy::{UndeployOptions, undeploy};

/// The default field manager of our applies, and the `app.kubernetes.io/managed-by` label
/// of what we create.
pub const FIELD_MANAGER: &str = "kubectl-astro";
