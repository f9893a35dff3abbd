//! Throughput of first deploys of distinct typical agents with N concurrent callers: through
//! `kubectl astro serve` (N HTTP clients) and by the engine in this process (N tasks calling
//! `kubectl_astro::deploy`), each deploy doing what the server's route does — read the
//! request, the build from the catalog, plan, deploy.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use astro_deploy::api::{DeployRequest, DeployResponseStatus};
use astro_deploy::catalog::BuildRecord;
use astro_deploy::input::parse_document;
use astro_deploy::render::Templates;
use astro_deploy::resolve::ResolveOptions;
use kubectl_astro::{Cluster, DeployOptions, Plan};

use crate::agents::Agents;
use crate::service::Service;

/// One batch of deploys: how long it took, each deploy's latency, and what failed.
#[derive(Default)]
pub struct Batch {
    /// From the first request sent to the last answer.
    pub wall: Duration,
    /// Each deploy's latency.
    pub latencies: Vec<Duration>,
    /// The deploys that did not end in `success`, each with why.
    pub failures: Vec<String>,
}

impl Batch {
    /// Adds `other`'s deploys to these.
    pub fn extend(&mut self, other: Batch) {
        self.wall += other.wall;
        self.latencies.extend(other.latencies);
        self.failures.extend(other.failures);
    }

    /// Deploys per second over all batches.
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile of the latencies (nearest rank), in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let mut v = self.latencies.clone();
        v.sort_unstable();
        if v.is_empty() {
            return 0.0;
        }
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1].as_secs_f64() * 1e3
    }
}

/// Runs `job` for every item with `clients` tasks on the current runtime, each taking the
/// next item when its last is done.
async fn run_concurrently<T, F, Fut>(items: Vec<T>, clients: usize, job: F) -> Batch
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let items: Arc<Vec<Arc<T>>> = Arc::new(items.into_iter().map(Arc::new).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let results = Arc::new(Mutex::new(Batch::default()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let (items, next, job, results) =
            (items.clone(), next.clone(), job.clone(), results.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let began = Instant::now();
                let outcome = job(item.clone()).await;
                let took = began.elapsed();
                let mut r = results.lock().unwrap_or_else(|e| e.into_inner());
                r.latencies.push(took);
                if let Err(why) = outcome {
                    r.failures.push(why);
                }
            }
        }));
    }
    for t in tasks {
        if let Err(e) = t.await {
            let mut r = results.lock().unwrap_or_else(|e| e.into_inner());
            r.failures.push(format!("a client task failed: {e}"));
        }
    }
    let wall = started.elapsed();
    let mut batch = std::mem::take(&mut *results.lock().unwrap_or_else(|e| e.into_inner()));
    batch.wall = wall;
    batch
}

/// Posts every body (a DeployRequest as JSON) to `service` with `clients` concurrent clients.
pub async fn through_service(service: Arc<Service>, bodies: Vec<String>, clients: usize) -> Batch {
    run_concurrently(bodies, clients, move |body: Arc<String>| {
        let service = service.clone();
        async move {
            let answer = service.deploy(&body).await.map_err(|e| e.to_string())?;
            if answer.status == 200 && answer.outcome == "success" {
                Ok(())
            } else {
                Err(format!("service: {} {}", answer.status, answer.outcome))
            }
        }
    })
    .await
}

/// What the in-process engine deploys with: the cluster, the templates and the catalog.
pub struct Engine {
    /// The cluster, connected once as the server connects once.
    pub cluster: Cluster,
    /// The embedded templates, compiled once as the server compiles them once.
    pub templates: Templates,
    /// The catalog directory the server reads too.
    pub catalog: PathBuf,
}

/// Deploys every body with `clients` concurrent tasks calling the engine in this process.
pub async fn in_process(engine: Arc<Engine>, bodies: Vec<String>, clients: usize) -> Batch {
    run_concurrently(bodies, clients, move |body: Arc<String>| {
        let engine = engine.clone();
        async move { deploy_in_process(&engine, &body).await }
    })
    .await
}

/// What the server's deploy route does with a body, without HTTP: read it, find the build,
/// plan, deploy.
async fn deploy_in_process(engine: &Engine, body: &str) -> Result<(), String> {
    let request: DeployRequest =
        parse_document("request", body).map_err(|e| format!("request: {e}"))?;
    let build = build(&engine.catalog, &request).map_err(|e| format!("build: {e}"))?;
    let plan = Plan::new(
        &request,
        &build,
        &ResolveOptions::default(),
        &engine.templates,
    )
    .map_err(|e| format!("plan: {e}"))?;
    let deployed = kubectl_astro::deploy(&engine.cluster, &plan, &DeployOptions::default())
        .await
        .map_err(|e| format!("deploy: {e}"))?;
    match deployed.response.status {
        DeployResponseStatus::Success => Ok(()),
        DeployResponseStatus::Partial => Err(format!(
            "in-process: partial: {:?}",
            deployed.response.errors
        )),
    }
}

/// The agent's build record from `catalog/ACCOUNT/AGENT/` (the one file [`crate::agents`]
/// writes there).
fn build(catalog: &Path, request: &DeployRequest) -> Result<astro_deploy::catalog::Build> {
    let dir = catalog.join(&request.account).join(&request.name);
    let path = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "yaml"))
        .ok_or_else(|| anyhow::anyhow!("no build record in {}", dir.display()))?;
    Ok(BuildRecord::parse(&std::fs::read_to_string(path)?)?.into_build()?)
}

/// Both sides of the comparison, summed over their batches.
pub struct Compared {
    /// Through the service.
    pub service: Batch,
    /// By the engine in this process.
    pub engine: Batch,
    /// What failed in the warm-up waves.
    pub warm_up_failures: Vec<String>,
}

impl Compared {
    /// The functional target: every deploy of either side ended in `success` (200 from the
    /// service).
    pub fn failures(&self) -> Vec<String> {
        self.service
            .failures
            .iter()
            .chain(&self.engine.failures)
            .chain(&self.warm_up_failures)
            .map(|f| format!("throughput: {f}"))
            .collect()
    }
}

/// How the comparison runs: who deploys, with how many callers, how often.
pub struct Setup<'a> {
    /// The service under test.
    pub service: Arc<Service>,
    /// The kubeconfig the engine connects with (the service's too).
    pub kubeconfig: &'a Path,
    /// Writes the agents' catalog entries.
    pub agents: &'a Agents,
    /// Concurrent callers per side.
    pub clients: usize,
    /// Measured batches per side.
    pub batches: usize,
    /// Distinct agents per batch.
    pub batch_agents: usize,
    /// Deploys per side before the batches, not measured.
    pub warm_up: usize,
}

/// A warm-up per side (`warm_up` deploys each, not measured), then `batches` batches per
/// side, alternating which side goes first (A B B A …), every deploy a new agent.
pub fn compare(setup: &Setup, load: &tokio::runtime::Runtime) -> Result<Compared> {
    let engine = Arc::new(load.block_on(async {
        let options = kubectl_astro::ConnectOptions::default().kubeconfig(setup.kubeconfig);
        anyhow::Ok(Engine {
            cluster: kubectl_astro::connect(&options).await?,
            templates: Templates::embedded()?,
            catalog: setup.agents.catalog.clone(),
        })
    })?);
    let bodies = |prefix: &str, n: usize| {
        let names: Vec<String> = (0..n)
            .map(|i| format!("support-agent-{prefix}{i}"))
            .collect();
        setup.agents.add_all(&names)
    };
    let clients = setup.clients;
    let mut warm_up_failures = Vec::new();
    let warm = bodies("we", setup.warm_up)?;
    let warm = load.block_on(in_process(engine.clone(), warm, clients));
    warm_up_failures.extend(warm.failures);
    let warm = bodies("ws", setup.warm_up)?;
    let warm = load.block_on(through_service(setup.service.clone(), warm, clients));
    warm_up_failures.extend(warm.failures);
    let mut compared = Compared {
        service: Batch::default(),
        engine: Batch::default(),
        warm_up_failures,
    };
    for j in 0..setup.batches {
        let engine_bodies = bodies(&format!("e{j}-"), setup.batch_agents)?;
        let service_bodies = bodies(&format!("s{j}-"), setup.batch_agents)?;
        let engine_first = j % 2 == 0;
        for side in [engine_first, !engine_first] {
            if side {
                let batch = in_process(engine.clone(), engine_bodies.clone(), clients);
                compared.engine.extend(load.block_on(batch));
            } else {
                let batch = through_service(setup.service.clone(), service_bodies.clone(), clients);
                compared.service.extend(load.block_on(batch));
            }
        }
    }
    Ok(compared)
}
