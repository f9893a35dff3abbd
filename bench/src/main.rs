//! End-to-end performance harness (issue 6, docs/performance.md).
//!
//! Starts test-apiserver in this process on loopback and runs, interleaved round by round, the
//! real `kubectl-astro` binary and `kubectl` on the same typical agent:
//!
//! * first deploy: `kubectl-astro deploy` vs `kubectl apply --server-side -f` of the identical
//!   rendered YAML (`kubectl-astro deploy --dry-run --show-secrets`);
//! * no-op redeploy: the same commands again;
//! * diff: `kubectl-astro diff` vs `kubectl diff --server-side -f`, of the deployed agent
//!   unchanged and with one object changed (the CronJob's schedule).
//!
//! Every kubectl run gets a fresh `--cache-dir` and its own `--kubeconfig`, as a CI job would.
//! It also measures `kubectl-astro --version` start-up, 100 agents deployed one after another
//! (slope), and the peak RSS of a typical deploy (`/usr/bin/time -f %M`).
//!
//! With `--tls` the server is `test-apiserver --tls --client-cert USER` (HTTPS with its own CA,
//! `h2` and `http/1.1` offered by ALPN; `--disable-http2-serving` for HTTP/1.1 only), and both
//! tools get the same kubeconfig: the CA and a client certificate for USER (`--client-cert`,
//! default `alice`). Every run also reports how many TCP connections (with `--tls`, TLS
//! handshakes) each tool opened, and in which protocol its requests went.
//!
//! The Deploy API server (`kubectl astro serve`, started once per test-apiserver) takes part in
//! the rounds: first deploy and no-op redeploy of a distinct copy of the typical agent per
//! round, by `POST /api/v1/deploy`. Then the throughput comparison: first deploys of distinct
//! typical agents by 16 concurrent HTTP clients of the service, against the same deploys made
//! by 16 tasks calling the engine (`kubectl_astro::deploy`) in this process, in alternating
//! batches; deploys/s, p50/p99 latency, and the server's peak RSS (`VmHWM`).
//!
//! `--rtt 2ms` makes test-apiserver hold every answer that long (a cluster not on loopback);
//! `--rtt 0,2ms,5ms` runs the rounds and the throughput once per value, each against a fresh
//! server, and ends with a table of the CLI's and the service's ratios against kubectl per rtt.
//!
//! ```text
//! cargo build --release -p kubectl-astro -p astro-bench
//! target/release/astro-e2e-bench                   # full: 7 rounds, 100 agents
//! target/release/astro-e2e-bench --rtt 0,2ms,5ms   # the same, then the sweep at 2 and 5 ms
//! target/release/astro-e2e-bench --quick           # CI: 3 rounds, 10 agents, under a minute
//! target/release/astro-e2e-bench --tls             # over HTTPS with a client certificate
//! ```

mod agents;
mod report;
mod service;
mod throughput;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use test_apiserver::TestApiServer;

use agents::Agents;
use service::Service;

/// The change the "diff, one object changed" row diffs: a new schedule for the CronJob.
/// (A rotated credential would also change the startup Job's pod template, which is
/// immutable: `kubectl diff` then fails where `kubectl-astro diff` reports a replacement.)
const CHANGE: &[&str] = &["--schedule", "kb_sync=*/15 * * * *"];

/// The cluster settings ConfigMap every deploy and diff reads once (kubectl-astro's
/// `settings` module).
const SETTINGS: &str = "/api/v1/namespaces/astro-system/configmaps/astro-settings";

/// Command-line options.
#[derive(Clone)]
struct Opts {
    rounds: usize,
    agents: usize,
    startup_runs: usize,
    kubectl_astro: PathBuf,
    kubectl: Option<PathBuf>,
    examples: PathBuf,
    check: bool,
    /// Serve HTTPS, both tools authenticating with a client certificate for this user.
    tls: Option<String>,
    /// With `tls`, offer HTTP/1.1 only by ALPN.
    disable_http2: bool,
    /// The round trips test-apiserver adds to every answer, one run of the measurements each.
    rtts: Vec<Duration>,
    /// Concurrent callers of the throughput comparison.
    clients: usize,
    /// Measured batches of the throughput comparison, per side (alternating sides).
    batches: usize,
    /// Distinct agents deployed per batch.
    batch_agents: usize,
    /// Deploys per side before the measured batches (not measured).
    warm_up: usize,
}

fn usage() -> &'static str {
    "usage: astro-e2e-bench [--quick] [--rounds N] [--agents N] [--startup-runs N] \
     [--kubectl-astro PATH] [--kubectl PATH] [--examples DIR] [--check] \
     [--tls [--client-cert USER] [--disable-http2-serving]] [--rtt LIST] [--clients N] \
     [--batches N] [--batch-agents N]\n\
     --check: exit 1 when a functional target (exit codes, every deploy through the service \
     or the in-process engine ends in 200 success, a no-op of the CLI or the service writes \
     nothing but its Lease and sends at most one request per object besides the Lease's and the \
     settings GET) is not met; \
     timings are reported, not judged\n\
     --tls: serve HTTPS; both tools authenticate with a client certificate for USER (alice)\n\
     --rtt LIST: test-apiserver holds every answer this long, e.g. 2ms, or 0,2ms,5ms for one \
     run of the rounds and the throughput per value (default 0); the other measurements run \
     at the first\n\
     --clients N: concurrent callers of the service and of the in-process engine (16); \
     --batches N, --batch-agents N: measured batches per side and agents per batch"
}

fn parse_opts() -> Result<Opts> {
    let exe_dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut o = Opts {
        rounds: 7,
        agents: 100,
        startup_runs: 30,
        kubectl_astro: exe_dir.join("kubectl-astro"),
        kubectl: None,
        examples: Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples"),
        check: false,
        tls: None,
        disable_http2: false,
        rtts: vec![Duration::ZERO],
        clients: 16,
        batches: 4,
        batch_agents: 64,
        warm_up: 16,
    };
    let mut client_cert = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--quick" => {
                o.rounds = 3;
                o.agents = 10;
                o.startup_runs = 10;
                o.batches = 2;
                o.batch_agents = 4;
                o.warm_up = 0;
            }
            "--rtt" => o.rtts = parse_rtts(&value("--rtt")?)?,
            "--clients" => o.clients = value("--clients")?.parse()?,
            "--batches" => o.batches = value("--batches")?.parse()?,
            "--batch-agents" => o.batch_agents = value("--batch-agents")?.parse()?,
            "--rounds" => o.rounds = value("--rounds")?.parse()?,
            "--agents" => o.agents = value("--agents")?.parse()?,
            "--startup-runs" => o.startup_runs = value("--startup-runs")?.parse()?,
            "--kubectl-astro" => o.kubectl_astro = value("--kubectl-astro")?.into(),
            "--kubectl" => o.kubectl = Some(value("--kubectl")?.into()),
            "--examples" => o.examples = value("--examples")?.into(),
            "--check" => o.check = true,
            "--tls" => o.tls = Some(String::new()),
            "--client-cert" => client_cert = Some(value("--client-cert")?),
            "--disable-http2-serving" => o.disable_http2 = true,
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{}", usage()),
        }
    }
    match (&mut o.tls, client_cert) {
        (Some(user), c) => *user = c.unwrap_or_else(|| "alice".into()),
        (None, Some(_)) => bail!("--client-cert needs --tls\n{}", usage()),
        (None, None) if o.disable_http2 => {
            bail!("--disable-http2-serving needs --tls\n{}", usage())
        }
        (None, None) => {}
    }
    if o.rounds == 0 || o.agents < 2 || o.startup_runs == 0 {
        bail!("--rounds and --startup-runs must be ≥ 1, --agents ≥ 2");
    }
    if o.clients == 0 || o.batches == 0 || o.batch_agents == 0 {
        bail!("--clients, --batches and --batch-agents must be ≥ 1");
    }
    if !o.kubectl_astro.is_file() {
        bail!(
            "{} not found: build it first (cargo build --release -p kubectl-astro) or pass \
             --kubectl-astro PATH",
            o.kubectl_astro.display()
        );
    }
    Ok(o)
}

/// `0,2ms,5ms`: round trips, each a duration (`0` alone needs no unit).
fn parse_rtts(list: &str) -> Result<Vec<Duration>> {
    list.split(',')
        .map(|d| {
            humantime::parse_duration(d.trim())
                .with_context(|| format!("--rtt {d:?}: not a duration like 2ms, 500us or 0"))
        })
        .collect()
}

/// One timed process run and what the server saw meanwhile.
#[derive(Clone)]
struct Run {
    wall: Duration,
    /// Requests, but those of the deployment's Lease (kubectl-astro's lock) and the GET of
    /// the cluster settings.
    requests: usize,
    /// Requests by `METHOD verb`.
    by_verb: BTreeMap<String, usize>,
    /// Whether anything but the Lease was written (the resourceVersion moved more than the
    /// Lease's writes move it).
    wrote: bool,
    code: i32,
    /// TCP connections the server accepted during the run (with TLS, handshakes).
    connections: u64,
    /// Requests that came over HTTP/2.
    http2: usize,
}

struct Bench {
    server: TestApiServer,
    work: PathBuf,
    kubeconfig: PathBuf,
    /// The kubeconfig both tools get (CA and client certificate with `--tls`).
    kubeconfig_text: String,
    opts: Opts,
    kubectl: PathBuf,
    request: PathBuf,
    catalog: PathBuf,
    seq: usize,
}

impl Bench {
    /// Starts test-apiserver on `rt`, adding `rtt` to every answer, with its kubeconfig and
    /// the tools' files in `work`.
    fn start(
        opts: &Opts,
        rt: &tokio::runtime::Runtime,
        rtt: Duration,
        work: &Path,
    ) -> Result<Bench> {
        let server = rt.block_on(TestApiServer::start_with(test_apiserver::ServerOptions {
            tls: opts.tls.is_some(),
            disable_http2: opts.disable_http2,
            rtt,
            ..Default::default()
        }))?;
        std::fs::create_dir_all(work)?;
        let kubeconfig = work.join("kubeconfig");
        let kubeconfig_text = match &opts.tls {
            Some(user) => {
                let (cert, key) = server.client_certificate(user, &[])?;
                server.kubeconfig_yaml_with_client_cert(&cert, &key)
            }
            None => server.kubeconfig_yaml(),
        };
        std::fs::write(&kubeconfig, &kubeconfig_text)?;
        Ok(Bench {
            server,
            work: work.to_path_buf(),
            kubeconfig,
            kubeconfig_text,
            kubectl: resolve_kubectl(opts.kubectl.as_deref()),
            request: opts.examples.join("support-agent-request.yaml"),
            catalog: opts.examples.join("catalog"),
            seq: 0,
            opts: opts.clone(),
        })
    }

    /// Runs `cmd`, timing it and collecting the server's log of its requests.
    fn run(&self, mut cmd: Command) -> Result<(Run, Output)> {
        cmd.stdin(Stdio::null());
        let (mut run, out) =
            self.observe(|| cmd.output().with_context(|| format!("running {cmd:?}")))?;
        run.code = out.status.code().unwrap_or(-1);
        Ok((run, out))
    }

    /// Runs `f`, timing it and collecting the server's log of the requests it caused (the
    /// run's `code` is the caller's to set).
    fn observe<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<(Run, T)> {
        self.server.clear_request_log();
        let rv = self.server.resource_version();
        let connections = self.server.connections();
        let start = Instant::now();
        let out = f()?;
        let wall = start.elapsed();
        let log = self.server.request_log();
        let is_lease =
            |r: &&test_apiserver::LoggedRequest| r.path.starts_with("/apis/coordination.k8s.io/");
        let lease_writes = log
            .iter()
            .filter(is_lease)
            .filter(|r| r.method != "GET" && (200..300).contains(&r.status))
            .count() as u64;
        let mut by_verb = BTreeMap::new();
        for r in &log {
            let dry = r.query.contains("dryRun");
            let key = format!(
                "{} {}{}",
                r.method,
                if r.verb.is_empty() { "-" } else { &r.verb },
                if dry { " (dry-run)" } else { "" }
            );
            *by_verb.entry(key).or_insert(0) += 1;
        }
        Ok((
            Run {
                wall,
                // The Lease's requests and the one GET of the cluster settings are fixed per
                // run, whatever the number of objects.
                requests: log.len()
                    - log.iter().filter(is_lease).count()
                    - log.iter().filter(|r| r.path == SETTINGS).count(),
                by_verb,
                wrote: self.server.resource_version() - rv > lease_writes,
                code: 0,
                connections: self.server.connections() - connections,
                http2: log.iter().filter(|r| r.protocol == "HTTP/2.0").count(),
            },
            out,
        ))
    }

    fn astro(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.opts.kubectl_astro);
        c.args(args);
        c
    }

    /// `kubectl-astro <sub> -f REQUEST --catalog CATALOG -n NS [--kubeconfig K]`.
    fn astro_agent(&self, sub: &str, ns: &str, cluster: bool) -> Command {
        self.astro_agent_with(sub, ns, cluster, &[])
    }

    /// [`Self::astro_agent`] with `extra` arguments (e.g. a changed credential).
    fn astro_agent_with(&self, sub: &str, ns: &str, cluster: bool, extra: &[&str]) -> Command {
        let mut c = self.astro(&[sub, "-n", ns]);
        c.args(extra);
        c.arg("-f")
            .arg(&self.request)
            .arg("--catalog")
            .arg(&self.catalog);
        if cluster {
            c.arg("--kubeconfig").arg(&self.kubeconfig);
        }
        c
    }

    /// `kubectl <args> --kubeconfig FRESH --cache-dir FRESH`.
    fn kubectl(&mut self, args: &[&str]) -> Result<Command> {
        self.seq += 1;
        let dir = self.work.join(format!("kubectl-{}", self.seq));
        std::fs::create_dir_all(&dir)?;
        let kc = dir.join("kubeconfig");
        std::fs::write(&kc, &self.kubeconfig_text)?;
        let mut c = Command::new(&self.kubectl);
        c.args(args)
            .arg("--kubeconfig")
            .arg(&kc)
            .arg("--cache-dir")
            .arg(dir.join("cache"));
        Ok(c)
    }

    /// Renders the typical agent for namespace `ns` as kubectl would be given it.
    fn render_yaml(&self, ns: &str) -> Result<(PathBuf, usize)> {
        self.render_yaml_with(ns, &[], "")
    }

    /// [`Self::render_yaml`] with `extra` arguments, written to `<ns><suffix>.yaml`.
    fn render_yaml_with(&self, ns: &str, extra: &[&str], suffix: &str) -> Result<(PathBuf, usize)> {
        let mut c = self.astro_agent_with("deploy", ns, false, extra);
        c.args(["--dry-run", "--show-secrets"]);
        let out = c.output()?;
        if !out.status.success() {
            bail!(
                "dry-run failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let path = self.work.join(format!("{ns}{suffix}.yaml"));
        std::fs::write(&path, &out.stdout)?;
        let objects = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| *l == "---")
            .count();
        Ok((path, objects))
    }
}

fn expect(what: &str, run: &Run, out: &Output, codes: &[i32]) -> Result<()> {
    if !codes.contains(&run.code) {
        bail!(
            "{what}: exit {} (expected {codes:?})\nstdout: {}\nstderr: {}",
            run.code,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Median, min and max in milliseconds.
fn stats(v: &[Duration]) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    let median = if n % 2 == 1 {
        ms[n / 2]
    } else {
        (ms[n / 2 - 1] + ms[n / 2]) / 2.0
    };
    (median, ms[0], ms[n - 1])
}

fn fmt_stats(v: &[Duration]) -> String {
    let (m, lo, hi) = stats(v);
    format!("{m:.1} ms ({lo:.1}–{hi:.1})")
}

/// Median (min–max) of counts.
fn spread(counts: impl Iterator<Item = usize>) -> String {
    let mut v: Vec<usize> = counts.collect();
    v.sort_unstable();
    match (v.first(), v.get(v.len() / 2), v.last()) {
        (Some(lo), Some(m), Some(hi)) if lo == hi => format!("{m}"),
        (Some(lo), Some(m), Some(hi)) => format!("{m} ({lo}–{hi})"),
        _ => "—".into(),
    }
}

/// Requests over HTTP/2 out of all requests, summed over the runs.
fn http2_share(runs: &[Run]) -> String {
    let h2: usize = runs.iter().map(|r| r.http2).sum();
    let all: usize = runs.iter().map(|r| r.requests).sum();
    format!("{h2}/{all}")
}

fn requests(runs: &[Run]) -> String {
    let mut counts: Vec<usize> = runs.iter().map(|r| r.requests).collect();
    counts.sort_unstable();
    counts.dedup();
    counts
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("/")
}

/// The bundled kubectl the dispatcher would pick for this server (`kubectl.1.<minor>` next
/// to `kubectl`), so the dispatcher's own /version round trip is not charged to kubectl.
fn resolve_kubectl(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file());
    let Some(kubectl) = found else {
        return PathBuf::from("kubectl");
    };
    let real = std::fs::canonicalize(&kubectl).unwrap_or(kubectl.clone());
    let minor = test_apiserver::discovery::version()
        .get("minor")
        .and_then(|m| m.as_str().map(str::to_string))
        .unwrap_or_default();
    let bundled = real.with_file_name(format!("kubectl.1.{minor}"));
    if bundled.is_file() { bundled } else { kubectl }
}

fn peak_rss_kib(mut cmd: Command) -> Result<Option<u64>> {
    let time = Path::new("/usr/bin/time");
    if !time.is_file() {
        return Ok(None);
    }
    let mut wrapped = Command::new(time);
    wrapped.arg("-f").arg("%M").arg(cmd.get_program());
    wrapped.args(cmd.get_args());
    cmd = wrapped;
    let out = cmd.stdin(Stdio::null()).output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    Ok(err.lines().last().and_then(|l| l.trim().parse().ok()))
}

fn mb(kib: u64) -> String {
    if kib == 0 {
        "n/a (no /usr/bin/time)".into()
    } else {
        format!("{:.1} MB", kib as f64 / 1024.0)
    }
}

/// Least-squares slope (ms per agent) and R² of cumulative wall time against agent count.
fn slope(times: &[Duration]) -> (f64, f64) {
    let mut cum = 0.0;
    let pts: Vec<(f64, f64)> = times
        .iter()
        .enumerate()
        .map(|(i, d)| {
            cum += d.as_secs_f64() * 1e3;
            ((i + 1) as f64, cum)
        })
        .collect();
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let syy: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    let b = sxy / sxx;
    (
        b,
        if syy > 0.0 {
            sxy * sxy / (sxx * syy)
        } else {
            1.0
        },
    )
}

/// The physical floor: the typical agent's objects, rendered in this process, applied with
/// one server-side-apply PATCH each, one after another, over one kept-alive connection —
/// no process start, no TLS set-up, no discovery. Returns the wall time of a no-op apply.
fn floor(b: &Bench, rt: &tokio::runtime::Runtime, ns: &str) -> Result<Duration> {
    use astro_deploy::{api::DeployRequest, catalog::BuildRecord, input::parse_document};
    let request: DeployRequest = parse_document("request", &std::fs::read_to_string(&b.request)?)?;
    let record = std::fs::read_to_string(
        b.catalog
            .join("astro-team/support-agent/build-20260301-1200.yaml"),
    )?;
    let build = BuildRecord::parse(&record)?.into_build()?;
    let options = astro_deploy::resolve::ResolveOptions {
        namespace: Some(ns.to_string()),
        ..Default::default()
    };
    let resolved = astro_deploy::resolve::resolve(&request, &build, &options)?;
    let templates = astro_deploy::render::Templates::embedded()?;
    let manifests = astro_deploy::render::render(&resolved, &templates)?;
    let client = rt.block_on(b.server.client())?;
    let apply = || async {
        for m in &manifests {
            let path = m.kind.object_path(&m.namespace, &m.name);
            let req = http::Request::patch(format!("{path}?fieldManager=kubectl-astro&force=true"))
                .header("Content-Type", "application/apply-patch+yaml")
                .body(serde_json::to_vec(&m.object)?)?;
            client.request_text(req).await?;
        }
        anyhow::Ok(())
    };
    rt.block_on(apply())?; // create
    let start = Instant::now();
    rt.block_on(apply())?; // no-op
    Ok(start.elapsed())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn main() -> Result<()> {
    let opts = parse_opts()?;
    // test-apiserver runs on one runtime; the service's HTTP clients and the in-process
    // engine on another, so both sides of the throughput comparison share the server alike.
    let rt = runtime()?;
    let load = runtime()?;
    let work = std::env::temp_dir().join(format!("astro-e2e-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = run_all(&opts, &rt, &load, &work);
    let _ = std::fs::remove_dir_all(&work);
    drop(load);
    drop(rt);
    let mut failures = result?;
    failures.sort();
    failures.dedup();
    for f in &failures {
        println!("NOT MET: {f}");
    }
    if opts.check && !failures.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

/// Every rtt of `--rtt`: the rounds (CLI, kubectl, service) and the throughput comparison;
/// the other measurements at the first. Returns the functional targets not met.
fn run_all(
    opts: &Opts,
    rt: &tokio::runtime::Runtime,
    load: &tokio::runtime::Runtime,
    work: &Path,
) -> Result<Vec<String>> {
    let agents = Agents::new(&opts.examples, work)?;
    let mut failures = Vec::new();
    let mut sweep = Vec::new();
    for (i, &rtt) in opts.rtts.iter().enumerate() {
        let mut b = Bench::start(opts, rt, rtt, &work.join(format!("rtt-{i}")))?;
        println!("# rtt {}\n", fmt_rtt(rtt));
        let service = {
            let _in_load = load.enter();
            Arc::new(Service::start(
                &opts.kubectl_astro,
                &b.kubeconfig,
                &agents.catalog,
                &b.work,
            )?)
        };
        let rounds = rounds(&mut b, &service, &agents, load)?;
        failures.extend(rounds.failures());
        if i == 0 {
            measure_more(&mut b, rt, &rounds)?;
        }
        let setup = throughput::Setup {
            service: service.clone(),
            kubeconfig: &b.kubeconfig,
            agents: &agents,
            clients: opts.clients,
            batches: opts.batches,
            batch_agents: opts.batch_agents,
            warm_up: opts.warm_up,
        };
        let compared = throughput::compare(&setup, load)?;
        failures.extend(compared.failures());
        let measured_rtt = measured_rtt(&b, rt)?;
        sweep.push(report::SweepRow {
            rtt,
            measured_rtt,
            first: rounds.first_ratios(),
            noop: rounds.noop_ratios(),
            diff: report::Ratios::cli_only(&rounds.diff),
            throughput: compared,
            peak_rss_kib: service.peak_rss_kib(),
        });
    }
    report::sweep(&sweep, opts.clients);
    Ok(failures)
}

/// `0 ms`, `2 ms`, `0.5 ms`.
fn fmt_rtt(rtt: Duration) -> String {
    format!("{} ms", rtt.as_secs_f64() * 1e3)
}

/// The median of 20 `GET /version` answers on a kept-alive connection: what one round trip
/// costs with this server's rtt.
fn measured_rtt(b: &Bench, rt: &tokio::runtime::Runtime) -> Result<Duration> {
    let client = rt.block_on(b.server.client())?;
    let mut took = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        rt.block_on(client.apiserver_version())?;
        took.push(started.elapsed());
    }
    took.remove(0); // the connection's set-up
    took.sort_unstable();
    Ok(took[took.len() / 2])
}

#[derive(Default)]
struct Pair {
    ours: Vec<Run>,
    kubectl: Vec<Run>,
}

impl Pair {
    fn walls(runs: &[Run]) -> Vec<Duration> {
        runs.iter().map(|r| r.wall).collect()
    }

    fn ratio(&self) -> f64 {
        stats(&Self::walls(&self.kubectl)).0 / stats(&Self::walls(&self.ours)).0
    }
}

/// The time a fixed amount of CPU work takes on this machine now: the same instructions every
/// run, so it moves only with the machine's speed (other tenants, clock). Absolute times of two
/// runs are comparable only when their references agree; ratios taken in one run always are.
fn cpu_reference() -> Duration {
    let start = Instant::now();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..50_000_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = std::hint::black_box(x);
    }
    start.elapsed()
}

/// The rounds: the CLI, kubectl and the service on the typical agent, in turns.
struct Rounds {
    first: Pair,
    noop: Pair,
    diff: Pair,
    diff_changed: Pair,
    /// First deploys and no-op redeploys through the service (`code`: the HTTP status).
    service_first: Vec<Run>,
    service_noop: Vec<Run>,
    objects: usize,
    /// The machine's speed before the rounds ([`cpu_reference`]).
    reference_before: Duration,
}

impl Rounds {
    /// (CLI, service) ratios against kubectl's first deploy.
    fn first_ratios(&self) -> report::Ratios {
        report::Ratios::of(&self.first, &self.service_first)
    }

    /// (CLI, service) ratios against kubectl's no-op redeploy.
    fn noop_ratios(&self) -> report::Ratios {
        report::Ratios::of(&self.noop, &self.service_noop)
    }

    /// The functional targets of the rounds: a no-op redeploy (CLI or service) writes
    /// nothing and sends at most one request per object.
    fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        for (who, runs) in [
            ("", &self.noop.ours),
            (" through the service", &self.service_noop),
        ] {
            for r in runs {
                if r.wrote {
                    failures.push(format!("no-op redeploy{who} wrote to the cluster"));
                }
                if r.requests > self.objects {
                    failures.push(format!(
                        "no-op redeploy{who} sent {} requests for {} objects",
                        r.requests, self.objects
                    ));
                }
            }
        }
        failures
    }
}

/// Times one deploy through the service and checks it answered 200 `success`.
fn service_deploy(
    b: &Bench,
    service: &Service,
    load: &tokio::runtime::Runtime,
    body: &str,
    what: &str,
) -> Result<Run> {
    let (mut run, answer) = b.observe(|| load.block_on(service.deploy(body)))?;
    run.code = i32::from(answer.status);
    if answer.status != 200 || answer.outcome != "success" {
        bail!("{what}: {} {}", answer.status, answer.outcome);
    }
    Ok(run)
}

fn rounds(
    b: &mut Bench,
    service: &Service,
    agents: &Agents,
    load: &tokio::runtime::Runtime,
) -> Result<Rounds> {
    let reference_before = cpu_reference();
    println!(
        "kubectl-astro: {}\nkubectl:       {}\nrounds: {}, agents: {}, start-up runs: {}\n\
         server: {}\n",
        b.opts.kubectl_astro.display(),
        b.kubectl.display(),
        b.opts.rounds,
        b.opts.agents,
        b.opts.startup_runs,
        match (&b.opts.tls, b.opts.disable_http2) {
            (None, _) => "http (HTTP/1.1)".to_string(),
            (Some(user), false) =>
                format!("https, h2 and http/1.1 by ALPN, client certificate CN={user}"),
            (Some(user), true) => {
                format!(
                    "https, http/1.1 only (--disable-http2-serving), client certificate CN={user}"
                )
            }
        }
    );

    // Warm the page cache for both binaries and the service's connections (not measured).
    let _ = b.astro(&["--version"]).output();
    let mut warm = b.kubectl(&["version", "--client"])?;
    let _ = warm.output();
    let warm = agents.add_all(&["support-agent-warm".to_string()])?;
    service_deploy(b, service, load, &warm[0], "service deploy (warm-up)")?;

    let mut first = Pair::default();
    let mut noop = Pair::default();
    let mut diff = Pair::default();
    let mut diff_changed = Pair::default();
    let mut service_first = Vec::new();
    let mut service_noop = Vec::new();
    let mut objects = 0;
    for r in 0..b.opts.rounds {
        let ours_ns = format!("ours-{r}");
        let kc_ns = format!("kubectl-{r}");
        let (yaml, n) = b.render_yaml(&kc_ns)?;
        objects = n;
        let yaml = yaml.display().to_string();
        // One object changed: the CronJob's schedule.
        let (changed, _) = b.render_yaml_with(&kc_ns, CHANGE, "-changed")?;
        let changed = changed.display().to_string();
        // The service's agent of this round: a name of its own, so a namespace of its own.
        let body = agents.add_all(&[format!("support-agent-r{r}")])?;
        // Rotate who goes first so drift in machine load hits every side alike.
        for k in 0..3 {
            let side = (r + k) % 3;
            if side == 0 {
                let (run, out) = b.run(b.astro_agent("deploy", &ours_ns, true))?;
                expect("kubectl-astro deploy (first)", &run, &out, &[0])?;
                first.ours.push(run);
                let (run, out) = b.run(b.astro_agent("deploy", &ours_ns, true))?;
                expect("kubectl-astro deploy (no-op)", &run, &out, &[0])?;
                noop.ours.push(run);
                let (run, out) = b.run(b.astro_agent("diff", &ours_ns, true))?;
                expect("kubectl-astro diff", &run, &out, &[0])?;
                diff.ours.push(run);
                let (run, out) = b.run(b.astro_agent_with("diff", &ours_ns, true, CHANGE))?;
                expect("kubectl-astro diff (changed)", &run, &out, &[1])?;
                diff_changed.ours.push(run);
            } else if side == 1 {
                let c = b.kubectl(&["apply", "--server-side", "-f", &yaml])?;
                let (run, out) = b.run(c)?;
                expect("kubectl apply --server-side (first)", &run, &out, &[0])?;
                first.kubectl.push(run);
                let c = b.kubectl(&["apply", "--server-side", "-f", &yaml])?;
                let (run, out) = b.run(c)?;
                expect("kubectl apply --server-side (no-op)", &run, &out, &[0])?;
                noop.kubectl.push(run);
                let c = b.kubectl(&["diff", "--server-side", "-f", &yaml])?;
                let (run, out) = b.run(c)?;
                expect("kubectl diff --server-side", &run, &out, &[0])?;
                diff.kubectl.push(run);
                let c = b.kubectl(&["diff", "--server-side", "-f", &changed])?;
                let (run, out) = b.run(c)?;
                expect("kubectl diff --server-side (changed)", &run, &out, &[1])?;
                diff_changed.kubectl.push(run);
            } else {
                let what = "service deploy (first)";
                service_first.push(service_deploy(b, service, load, &body[0], what)?);
                let what = "service deploy (no-op)";
                service_noop.push(service_deploy(b, service, load, &body[0], what)?);
            }
        }
    }
    Ok(Rounds {
        first,
        noop,
        diff,
        diff_changed,
        service_first,
        service_noop,
        objects,
        reference_before,
    })
}

/// The measurements beyond the rounds, and the report of both (at the first rtt).
fn measure_more(b: &mut Bench, rt: &tokio::runtime::Runtime, rounds: &Rounds) -> Result<()> {
    let Rounds {
        first,
        noop,
        diff,
        diff_changed,
        service_first,
        service_noop,
        objects,
        ..
    } = rounds;
    let objects = *objects;
    // The floor: the same PATCHes in-process, no process, no TLS set-up.
    let mut floor_runs = Vec::new();
    for r in 0..b.opts.rounds {
        floor_runs.push(floor(b, rt, &format!("floor-{r}"))?);
    }

    // Start-up.
    let mut startup = Pair::default();
    for _ in 0..b.opts.startup_runs {
        let (run, _) = b.run(b.astro(&["--version"]))?;
        startup.ours.push(run);
        let c = b.kubectl(&["version", "--client"])?;
        let (run, _) = b.run(c)?;
        startup.kubectl.push(run);
    }

    // Agents one after another, each into its own namespace; kubectl interleaved.
    let mut seq = Pair::default();
    for i in 0..b.opts.agents {
        let (run, out) = b.run(b.astro_agent("deploy", &format!("seq-ours-{i}"), true))?;
        expect("kubectl-astro deploy (sequence)", &run, &out, &[0])?;
        seq.ours.push(run);
        let (yaml, _) = b.render_yaml(&format!("seq-kubectl-{i}"))?;
        let c = b.kubectl(&["apply", "--server-side", "-f", &yaml.display().to_string()])?;
        let (run, out) = b.run(c)?;
        expect("kubectl apply (sequence)", &run, &out, &[0])?;
        seq.kubectl.push(run);
    }

    // Peak RSS of a typical first deploy, and of kubectl's apply of the same objects.
    let mut rss_ours = 0;
    let mut rss_kubectl = 0;
    for r in 0..3 {
        let c = b.astro_agent("deploy", &format!("rss-ours-{r}"), true);
        rss_ours = rss_ours.max(peak_rss_kib(c)?.unwrap_or(0));
        let (yaml, _) = b.render_yaml(&format!("rss-kubectl-{r}"))?;
        let c = b.kubectl(&["apply", "--server-side", "-f", &yaml.display().to_string()])?;
        rss_kubectl = rss_kubectl.max(peak_rss_kib(c)?.unwrap_or(0));
    }

    // Report.
    println!("typical agent: examples/support-agent-request.yaml, {objects} objects\n");
    println!(
        "| measurement | target | kubectl-astro | kubectl (same run) | kubectl/ours | requests ours / kubectl |"
    );
    println!("|---|---|---|---|---|---|");
    let row = |name: &str, target: &str, p: &Pair| {
        println!(
            "| {name} | {target} | {} | {} | {:.1}× | {} / {} |",
            fmt_stats(&Pair::walls(&p.ours)),
            fmt_stats(&Pair::walls(&p.kubectl)),
            p.ratio(),
            requests(&p.ours),
            requests(&p.kubectl),
        )
    };
    row("first deploy", "≥ 10× faster", first);
    row("no-op redeploy", "≤ 1 request/object, no write", noop);
    row("diff", "≥ 10× faster", diff);
    row("diff, one object changed", "(no target)", diff_changed);
    row(
        "start-up (`--version` / `version --client`)",
        "≤ 10 ms",
        &startup,
    );
    let (s_ours, r2_ours) = slope(&Pair::walls(&seq.ours));
    let (s_kc, r2_kc) = slope(&Pair::walls(&seq.kubectl));
    let (m_ours, _, _) = stats(&Pair::walls(&seq.ours));
    let k = (seq.ours.len() / 10).max(1);
    let (head, _, _) = stats(&Pair::walls(&seq.ours[..k]));
    let (tail, _, _) = stats(&Pair::walls(&seq.ours[seq.ours.len() - k..]));
    println!(
        "| {} agents one after another: slope | linear | {s_ours:.1} ms/agent (R² {r2_ours:.4}; first {k} median {head:.1} ms, last {k} {tail:.1} ms) | {s_kc:.1} ms/agent (R² {r2_kc:.4}) | {:.1}× | {} / {} per agent |",
        b.opts.agents,
        s_kc / s_ours,
        requests(&seq.ours),
        requests(&seq.kubectl),
    );
    println!(
        "| peak RSS, typical first deploy | ≤ 30 MB | {} | {} | {:.1}× | |",
        mb(rss_ours),
        mb(rss_kubectl),
        rss_kubectl as f64 / rss_ours.max(1) as f64
    );
    let _ = m_ours;
    println!(
        "| floor: {objects} SSA PATCHes in-process, sequential, one connection (no-op) | — | {} | | | {objects} |",
        fmt_stats(&floor_runs)
    );
    let service_row = |name: &str, runs: &[Run], p: &Pair| {
        let walls = Pair::walls(runs);
        println!(
            "| {name} through `kubectl astro serve` | — | {} | {} | {:.1}× | {} / {} |",
            fmt_stats(&walls),
            fmt_stats(&Pair::walls(&p.kubectl)),
            stats(&Pair::walls(&p.kubectl)).0 / stats(&walls).0,
            requests(runs),
            requests(&p.kubectl),
        )
    };
    service_row("first deploy", service_first, first);
    service_row("no-op redeploy", service_noop, noop);

    println!(
        "\nmachine speed: a fixed CPU workload took {:.0} ms before the measurements and {:.0} ms \
         after (compare absolute times across runs only when these agree; ratios are taken \
         within one run)",
        rounds.reference_before.as_secs_f64() * 1e3,
        cpu_reference().as_secs_f64() * 1e3
    );
    println!(
        "\nconnections opened per run (TCP; over https each a TLS handshake), median (min–max), \
         and requests sent over HTTP/2:\n"
    );
    println!(
        "| measurement | ours: connections | ours: HTTP/2 requests | kubectl: connections | kubectl: HTTP/2 requests |"
    );
    println!("|---|---|---|---|---|");
    for (name, p) in [
        ("first deploy", &first),
        ("no-op redeploy", &noop),
        ("diff", &diff),
        ("diff, one object changed", &diff_changed),
    ] {
        println!(
            "| {name} | {} | {} | {} | {} |",
            spread(p.ours.iter().map(|r| r.connections as usize)),
            http2_share(&p.ours),
            spread(p.kubectl.iter().map(|r| r.connections as usize)),
            http2_share(&p.kubectl),
        );
    }
    println!(
        "| service: first deploy | {} | — | — | — |\n| service: no-op redeploy | {} | — | — | — |",
        spread(service_first.iter().map(|r| r.connections as usize)),
        spread(service_noop.iter().map(|r| r.connections as usize)),
    );
    println!("\nrequests by method and verb (first round):");
    for (name, p) in [
        ("first deploy", &first),
        ("no-op", &noop),
        ("diff", &diff),
        ("diff, one object changed", &diff_changed),
    ] {
        println!("  {name}: ours {:?}", p.ours[0].by_verb);
        println!("  {name}: kubectl {:?}", p.kubectl[0].by_verb);
    }
    println!("  first deploy: service {:?}", service_first[0].by_verb);
    println!("  no-op: service {:?}", service_noop[0].by_verb);

    Ok(())
}
