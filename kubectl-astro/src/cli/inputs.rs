//! Reading what a command needs from files, flags and the environment: the request, the
//! build record(s) and template overrides.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use astro_deploy::api::DeployRequest;
use astro_deploy::catalog::{self, Build, BuildRecord};
use astro_deploy::input::{MAX_DOCUMENT_BYTES, parse_document};

use kubectl_astro::{Cluster, catalog as cluster_catalog};

use super::args::RequestArgs;
use super::exit::Failure;

/// The request from `-f` (if any) with flags applied on top.
pub fn request(args: &RequestArgs) -> Result<DeployRequest, Failure> {
    let mut req = match &args.filename {
        Some(path) => request_file(path)?,
        None => DeployRequest::default(),
    };
    if let Some(a) = &args.account {
        req.account = a.clone();
    }
    if let Some(n) = &args.name {
        req.name = n.clone();
    }
    if let Some(s) = &args.source_account {
        req.source_account = Some(s.clone());
    }
    req.user_credentials.extend(credentials(&args.credentials)?);
    for i in &args.interfaces {
        if !req.interfaces.contains(i) {
            req.interfaces.push(i.clone());
        }
    }
    for s in &args.schedules {
        let (name, cron) = s
            .split_once('=')
            .ok_or_else(|| Failure::invalid(format!("--schedule {s}: expected NAME=CRON")))?;
        req.schedules.insert(name.to_string(), cron.to_string());
    }
    if req.account.is_empty() {
        return Err(Failure::invalid(
            "request: account: required field is missing (give -f FILE or --account)",
        ));
    }
    if req.name.is_empty() {
        return Err(Failure::invalid(
            "request: name: required field is missing (give -f FILE or --name)",
        ));
    }
    check_names(&req)?;
    Ok(req)
}

/// The `--credential KEY=VALUE` and `--credential KEY` flags as a map, the second form read
/// from the environment variable `KEY`.
pub fn credentials(flags: &[String]) -> Result<BTreeMap<String, String>, Failure> {
    let mut credentials = BTreeMap::new();
    for c in flags {
        let (key, value) = match c.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => {
                let v = std::env::var(c).map_err(|_| {
                    Failure::invalid(format!(
                        "--credential {c}: no '=' and no environment variable {c} to read the value from"
                    ))
                })?;
                (c.clone(), v)
            }
        };
        credentials.insert(key, value);
    }
    Ok(credentials)
}

/// The request of `-f FILE` (`-` for stdin), read and checked field by field.
pub fn request_file(path: &str) -> Result<DeployRequest, Failure> {
    let text = read_limited(path)?;
    Ok(parse_document::<DeployRequest>("request", &text)?)
}

/// Checks the account, agent and source account names of `req`. They become catalog paths
/// and label selectors: check them before any lookup, so `../..` never leaves the catalog
/// directory and `a,b=c` never widens a selector. `deploy`, `validate` and the server's
/// routes all check them here.
pub fn check_names(req: &DeployRequest) -> Result<(), Failure> {
    check_agent(&req.account, &req.name)?;
    if let Some(src) = &req.source_account {
        let field = |f: &str, m: String| Failure::invalid(format!("request: {f}: {m}"));
        astro_deploy::naming::check_account(src).map_err(|m| field("source_account", m))?;
    }
    Ok(())
}

/// Checks a request's `account` and `name` fields, naming the one that is invalid.
pub fn check_agent(account: &str, name: &str) -> Result<(), Failure> {
    let field = |f: &str, m: String| Failure::invalid(format!("request: {f}: {m}"));
    astro_deploy::naming::check_account(account).map_err(|m| field("account", m))?;
    astro_deploy::naming::check_agent_name(name).map_err(|m| field("name", m))
}

/// The build the request deploys, from `--build FILE` or `--catalog DIR`; `None` when
/// neither is given (the cluster catalog is then used, where there is a cluster).
pub fn local_build(args: &RequestArgs, req: &DeployRequest) -> Result<Option<Build>, Failure> {
    let record = if let Some(path) = &args.build {
        read_record(path)?
    } else if let Some(dir) = &args.catalog {
        return catalog_build(dir, req, args.build_id.as_deref()).map(Some);
    } else {
        return Ok(None);
    };
    Ok(Some(record.into_build()?))
}

/// The build `req` deploys from the catalog directory `dir` (`DIR/ACCOUNT/AGENT/*.yaml`):
/// build `build_id`, or the one the cluster catalog would choose; the names of `req` must
/// have been checked.
pub fn catalog_build(
    dir: &Path,
    req: &DeployRequest,
    build_id: Option<&str>,
) -> Result<Build, Failure> {
    let owner = req.source_account.as_deref().unwrap_or(&req.account);
    let records = read_catalog(dir, owner, &req.name)?;
    let record = catalog::select_named(
        &records,
        &req.account,
        &req.name,
        req.source_account.as_deref(),
        build_id,
    )?;
    Ok(record.clone().into_build()?)
}

/// The build a cluster command deploys: `local` (from `--build` or `--catalog`), else build
/// `build_id` or the latest from the cluster catalog, whose problems are printed as warnings.
pub async fn build_for_cluster(
    local: Option<Build>,
    cluster: &Cluster,
    req: &DeployRequest,
    build_id: Option<&str>,
) -> Result<Build, Failure> {
    if let Some(build) = local {
        return Ok(build);
    }
    let (build, problems) = cluster_catalog::named(cluster, req, build_id).await?;
    for p in problems {
        super::output::err_line(format_args!("warning: build catalog: {p}"));
    }
    Ok(build)
}

/// The build from `--build FILE` or `--catalog DIR`, which commands without a cluster need.
pub fn build(args: &RequestArgs, req: &DeployRequest) -> Result<Build, Failure> {
    local_build(args, req)?.ok_or_else(|| {
        Failure::invalid(
            "no build source: give --build FILE or --catalog DIR (the in-cluster catalog needs a cluster)",
        )
    })
}

/// Reads one build record file.
pub fn record_file(path: &Path) -> Result<BuildRecord, Failure> {
    read_record(path)
}

fn read_record(path: &Path) -> Result<BuildRecord, Failure> {
    let text = read_limited(&path.to_string_lossy())?;
    BuildRecord::parse(&text)
        .map_err(|e| Failure::from(e).with_context(&path.display().to_string()))
}

/// Every record of `<dir>/<account>/<agent>/*.yaml|yml|json`: the builds of one agent in a
/// directory catalog (none when the agent has no directory).
pub fn catalog_records(
    dir: &Path,
    account: &str,
    agent: &str,
) -> Result<Vec<BuildRecord>, Failure> {
    read_catalog(dir, account, agent)
}

/// Every record of `<dir>/<account>/<agent>/*.yaml|yml|json`.
fn read_catalog(dir: &Path, account: &str, agent: &str) -> Result<Vec<BuildRecord>, Failure> {
    let sub = dir.join(account).join(agent);
    if !dir.is_dir() {
        return Err(Failure::invalid(format!(
            "--catalog {}: not a directory",
            dir.display()
        )));
    }
    let entries = match std::fs::read_dir(&sub) {
        Ok(e) => e,
        Err(_) => return Ok(Vec::new()),
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"))
        })
        .collect();
    paths.sort();
    let mut records = Vec::new();
    for p in paths {
        let record = read_record(&p)?;
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if record.account != account || record.name != agent || record.build_id != stem {
            return Err(Failure::invalid(format!(
                "{}: record is {}/{}/{}, which does not match its path",
                p.display(),
                record.account,
                record.name,
                record.build_id
            )));
        }
        records.push(record);
    }
    Ok(records)
}

/// Template overrides from `--templates DIR`: every `*.yaml` file in it.
pub fn template_overrides(dir: Option<&Path>) -> Result<BTreeMap<String, String>, Failure> {
    let mut out = BTreeMap::new();
    let Some(dir) = dir else { return Ok(out) };
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Failure::invalid(format!("--templates {}: {e}", dir.display())))?;
    for entry in entries {
        let path = entry
            .map_err(|e| Failure::invalid(format!("--templates {}: {e}", dir.display())))?
            .path();
        if path.extension().and_then(|x| x.to_str()) != Some("yaml") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        out.insert(name, read_limited(&path.to_string_lossy())?);
    }
    Ok(out)
}

/// Reads a file (or stdin for `-`), refusing anything over the document limit.
fn read_limited(path: &str) -> Result<String, Failure> {
    let mut buf = Vec::new();
    let limit = (MAX_DOCUMENT_BYTES + 1) as u64;
    let result = if path == "-" {
        std::io::stdin().take(limit).read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut buf))
    };
    result.map_err(|e| Failure::invalid(format!("{path}: {e}")))?;
    if buf.len() > MAX_DOCUMENT_BYTES {
        return Err(Failure::invalid(format!(
            "{path}: larger than the {MAX_DOCUMENT_BYTES}-byte limit"
        )));
    }
    String::from_utf8(buf).map_err(|_| Failure::invalid(format!("{path}: not UTF-8 text")))
}
